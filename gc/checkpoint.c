/* checkpoint.c -- saving a running heap: a checkpoint rides on a full
 * collection and writes each to-space page as the collection finishes it.
 * Design: doc/design/checkpoint.md.
 *
 * checkpoint_save runs wherever a page turns black: in collector threads,
 * pacing mutators and traps (in a signal handler): no locks, no
 * allocation; pwrite and arithmetic only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "image.h"
#include "internal.h"
#include "lock.h"
#include "meta.h"
#include "sys.h"

#define CKPT_SIG 0x434b5054u /* "CKPT" */
#define BATCH_PAGES 64 /* 256 KiB a write */

/* .sol.batch: a collector thread's pages, copied here and written 64 at a
 * time: a 4 KiB pwrite cost 4 us a page here, a 256 KiB one 0.8. */
struct ck_batch {
    char *buf;                       /* BATCH_PAGES pages */
    struct image_index_entry ent[BATCH_PAGES];
    unsigned n;
};

enum ck_stage { CK_WAITING = 0, CK_FLIPPED, CK_SCANNED, CK_FINISHED };

struct vmgc_checkpoint {
    uint32_t sig;
    struct vmgc_heap *h;
    int fd;
    char *path, *tmp;
    struct image_index_entry *index; /* by slot */
    size_t capacity;                 /* entries */
    uint64_t slots;                  /* pages appended.  Synchronization: atomic. */
    int write_errno;                 /* first failure to write a page.  Synchronization: atomic. */
    uint64_t live_bytes;             /* Synchronization: atomic. */
    uint64_t estimate;               /* bytes expected, before the scan ends */
    /* named roots as of the pause, serialized (image.h records) */
    char *roots;
    size_t roots_bytes, roots_cap;
    uint64_t nroots;
    uint64_t pause_ns, saved_at, flip_ns;
    int stage;                       /* enum ck_stage.  Synchronization: atomic; waits on
                                        h->done_cond under trigger_lock. */
    uint64_t meta_written;           /* Synchronization: atomic. */
    struct ck_batch batch[1 + GC_MAX_COLLECTORS]; /* the main copier's, the helpers' */
    pthread_t thread;
    int thread_started;
    vmgc_status status;
    char message[1024];
    vmgc_checkpoint_result result;
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the save, page by page (async-signal-safe) ---- */

static void note_write_error(struct vmgc_checkpoint *ck, int err)
{
    int zero = 0;
    __atomic_compare_exchange_n(&ck->write_errno, &zero, err, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
}

/* .sol.save-at-black: a to-space page about to turn black holds exactly
 * what it held at the flip, pointers forwarded: copies were made from
 * from-space, which no mutator writes after the flip, and a grey page is
 * protected until now.  So it is written here, before it is exposed. */
static void fill_entry(struct image_index_entry *e, const char *src, size_t page, uint8_t space,
                       size_t i, size_t npages, uint64_t live)
{
    e->page = (uint32_t)(page + i);
    e->kind = space == PK_SMALL ? IMAGE_SMALL : i == 0 ? IMAGE_LARGE_HEAD : IMAGE_LARGE_BODY;
    e->info = space == PK_SMALL ? (uint32_t)live : i == 0 ? (uint32_t)npages : 0;
    e->sum = image_hash(src, VM_PAGE_SIZE, page + i);
}

/* Write n pages from buf at the next free slots, with their entries. */
static void append(struct vmgc_checkpoint *ck, const char *buf, struct image_index_entry *ent,
                   size_t n)
{
    uint64_t slot = __atomic_fetch_add(&ck->slots, n, __ATOMIC_ACQ_REL);
    if (slot + n > ck->capacity) {
        note_write_error(ck, E2BIG);
        return;
    }
    int err = image_write_at(ck->fd, buf, n << VM_PAGE_SHIFT,
                             IMAGE_DATA_OFFSET + (slot << VM_PAGE_SHIFT));
    if (err) {
        note_write_error(ck, err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ent[i].slot = (uint32_t)(slot + i);
        ck->index[slot + i] = ent[i];
    }
}

static void batch_flush(struct vmgc_checkpoint *ck, struct ck_batch *b)
{
    if (b->n && !__atomic_load_n(&ck->write_errno, __ATOMIC_ACQUIRE))
        append(ck, b->buf, b->ent, b->n);
    b->n = 0;
}

/* .sol.save-at-black: a to-space page about to turn black holds exactly
 * what it held at the flip, pointers forwarded: copies were made from
 * from-space, which no mutator writes after the flip, and a grey page is
 * protected until now.  So it is saved here, before it is exposed: copied
 * into the collector thread's batch, or written at once (traps, pacing
 * mutators, large objects). */
void checkpoint_save(struct vmgc_heap *h, struct copier *c, size_t page, size_t npages)
{
    struct vmgc_checkpoint *ck = __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE);
    if (!ck || __atomic_load_n(&ck->write_errno, __ATOMIC_ACQUIRE))
        return;
    struct page_desc *d = &h->arena->pt.desc[page];
    uint8_t space = __atomic_load_n(&d->space, __ATOMIC_RELAXED);
    if (space != PK_SMALL && space != PK_LARGE_HEAD)
        return; /* root block pages: their slots are roots, not objects */
    const char *src = h->arena->vm.alias + (page << VM_PAGE_SHIFT);
    uint64_t live;
    if (space == PK_SMALL)
        live = __atomic_load_n(&d->gc_word[1], __ATOMIC_ACQUIRE);
    else
        live = VMGC_HEADER_BYTES + hdr_size(hdr_load(src + VMGC_HEADER_BYTES));
    __atomic_fetch_add(&ck->live_bytes, live, __ATOMIC_RELAXED);
    struct ck_batch *b = c ? c->ck_batch : NULL;
    if (b && npages == 1) {
        char *dst = b->buf + ((size_t)b->n << VM_PAGE_SHIFT);
        memcpy(dst, src, VM_PAGE_SIZE);
        fill_entry(&b->ent[b->n], dst, page, space, 0, 1, live);
        if (++b->n == BATCH_PAGES)
            batch_flush(ck, b);
        return;
    }
    /* on the stack: at most a trap's frame more (async-signal-safe path) */
    struct image_index_entry ent[16];
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < 16 ? npages - done : 16;
        for (size_t i = 0; i < n; i++)
            fill_entry(&ent[i], src + ((done + i) << VM_PAGE_SHIFT), page, space, done + i,
                       npages, live);
        append(ck, src + (done << VM_PAGE_SHIFT), ent, n);
        done += n;
    }
}

/* ---- the cycle's part ---- */

static struct copier *batch_owner(struct vmgc_heap *h, unsigned k)
{
    return k == 0 ? &h->main_copier : &h->helper_copier[k];
}

/* The collector's copiers get their batches while no drain runs (cycle_lock
 * held, before the flip). */
void checkpoint_cycle_begin(struct vmgc_heap *h)
{
    struct vmgc_checkpoint *ck = __atomic_exchange_n(&h->ck_pending, NULL, __ATOMIC_ACQ_REL);
    if (!ck)
        return;
    for (unsigned k = 0; k <= h->nhelpers && k <= GC_MAX_COLLECTORS; k++)
        if (ck->batch[k].buf)
            batch_owner(h, k)->ck_batch = &ck->batch[k];
    __atomic_store_n(&h->ck_active, ck, __ATOMIC_RELEASE);
}

/* roots_lock held, world running: room for the named roots' records. */
void checkpoint_prepare_roots(struct vmgc_heap *h)
{
    struct vmgc_checkpoint *ck = __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE);
    if (!ck)
        return;
    size_t bytes = 0;
    for (struct root_range *r = h->roots; r; r = r->next)
        if (r->name)
            bytes += sizeof(struct image_root_rec) + ((strlen(r->name) + 7) & ~(size_t)7) +
                     r->count * 8;
    ck->roots = meta_calloc(bytes ? bytes : 1, 1);
    ck->roots_cap = ck->roots ? bytes : 0;
    if (!ck->roots)
        note_write_error(ck, ENOMEM);
}

/* In the flip, world stopped, after the precise roots were forwarded. */
void checkpoint_record_roots(struct vmgc_heap *h)
{
    struct vmgc_checkpoint *ck = __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE);
    if (!ck || !ck->roots)
        return;
    size_t at = 0;
    for (struct root_range *r = h->roots; r; r = r->next) {
        if (!r->name)
            continue;
        size_t len = strlen(r->name);
        struct image_root_rec rec = {.name_len = (uint32_t)len, .count = r->count};
        memcpy(ck->roots + at, &rec, sizeof rec);
        at += sizeof rec;
        memcpy(ck->roots + at, r->name, len);
        at += (len + 7) & ~(size_t)7;
        memcpy(ck->roots + at, r->slots, r->count * 8);
        at += r->count * 8;
        ck->nroots++;
    }
    ck->roots_bytes = at;
    ck->saved_at = realtime_ns();
}

/* After the flip: the caller of vmgc_checkpoint_start may go on. */
void checkpoint_flipped(struct vmgc_heap *h)
{
    struct vmgc_checkpoint *ck = __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE);
    if (!ck)
        return;
    ck->pause_ns = __atomic_load_n(&h->st_last_pause, __ATOMIC_RELAXED);
    ck->flip_ns = gc_now_ns();
    lock_take(&h->trigger_lock);
    __atomic_store_n(&ck->stage, CK_FLIPPED, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&h->done_cond);
    pthread_mutex_unlock(&h->trigger_lock);
}

/* Every to-space page is black, so saved: the finisher takes over. */
void checkpoint_cycle_end(struct vmgc_heap *h)
{
    struct vmgc_checkpoint *ck = __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE);
    if (!ck)
        return;
    /* the drain is closed: the helpers are idle, their batches ours */
    for (unsigned k = 0; k <= h->nhelpers && k <= GC_MAX_COLLECTORS; k++) {
        struct copier *c = batch_owner(h, k);
        if (c->ck_batch)
            batch_flush(ck, c->ck_batch);
        c->ck_batch = NULL;
    }
    __atomic_store_n(&h->ck_active, NULL, __ATOMIC_RELEASE);
    __atomic_fetch_add(&h->st_checkpoints, 1, __ATOMIC_RELAXED);
    lock_take(&h->trigger_lock);
    __atomic_store_n(&ck->stage, CK_SCANNED, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&h->done_cond);
    pthread_mutex_unlock(&h->trigger_lock);
}

/* ---- finishing the file (the checkpoint's own thread) ---- */

static int by_page(const void *a, const void *b)
{
    const struct image_index_entry *x = a, *y = b;
    return x->page < y->page ? -1 : x->page > y->page;
}

static vmgc_status fail(struct vmgc_checkpoint *ck, const char *step, int err)
{
    return error_set(VMGC_ESYSTEM, "checkpoint to %s: %s failed: %s%s", ck->path, step,
                     strerror(err),
                     err == ENOSPC ? " (the disk is full; the previous image, if any, is "
                                     "unchanged)"
                                   : "");
}

static vmgc_status write_section(struct vmgc_checkpoint *ck, const char *name, const void *buf,
                                 size_t len, uint64_t *off, uint64_t *at, uint64_t *sum)
{
    *at = *off;
    *sum = image_hash(buf, len, 0x5ec);
    int err = image_write_at(ck->fd, buf, len, *off);
    if (err)
        return fail(ck, name, err);
    *off += len;
    __atomic_fetch_add(&ck->meta_written, len, __ATOMIC_RELAXED);
    return VMGC_OK;
}

/* The type table as image records. */
static char *types_section(struct vmgc_heap *h, size_t *len, uint64_t *ntypes)
{
    lock_take(&h->types_lock);
    size_t bytes = 0;
    for (uint32_t i = 1; i < h->ntypes; i++)
        bytes += sizeof(struct image_type_rec) + ((strlen(h->types[i].name) + 7) & ~(size_t)7);
    char *buf = meta_calloc(bytes ? bytes : 1, 1);
    size_t at = 0;
    for (uint32_t i = 1; buf && i < h->ntypes; i++) {
        const struct gc_type *t = &h->types[i];
        size_t nl = strlen(t->name);
        int bits = t->layout == VMGC_LAYOUT_BITMAP || t->layout == VMGC_LAYOUT_VECTOR;
        struct image_type_rec rec = {.id = i,
                                     .layout = (uint32_t)t->layout |
                                               (uint32_t)t->weakness << IMAGE_WEAKNESS_SHIFT,
                                     .bitmap = bits ? t->bitmap : 0, .name_len = (uint32_t)nl,
                                     .fixed_bytes = (uint32_t)t->fixed_bytes};
        memcpy(buf + at, &rec, sizeof rec);
        at += sizeof rec;
        memcpy(buf + at, t->name, nl);
        at += (nl + 7) & ~(size_t)7;
    }
    *ntypes = h->ntypes - 1;
    pthread_mutex_unlock(&h->types_lock);
    *len = at;
    return buf;
}

static vmgc_status sync_dir(struct vmgc_checkpoint *ck)
{
    size_t len = strlen(ck->path);
    char *dir = meta_calloc(len + 2, 1);
    if (!dir)
        return VMGC_ENOMEM;
    memcpy(dir, ck->path, len);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    else
        strcpy(dir, ".");
    int fd = sys.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    meta_free(dir);
    if (fd < 0)
        return fail(ck, "opening its directory to sync the rename", errno);
    int r = sys.fdatasync(fd), err = errno;
    sys.close(fd);
    return r == 0 ? VMGC_OK : fail(ck, "syncing its directory (fsync)", err);
}

static vmgc_status finish_file(struct vmgc_checkpoint *ck)
{
    struct vmgc_heap *h = ck->h;
    int werr = __atomic_load_n(&ck->write_errno, __ATOMIC_ACQUIRE);
    if (werr == E2BIG)
        return error_set(VMGC_ENOMEM, "checkpoint to %s: more pages to save than the index "
                                      "has room for (%zu)",
                         ck->path, ck->capacity);
    if (werr == ENOMEM)
        return error_set(VMGC_ENOMEM, "checkpoint to %s: no memory for the named roots", ck->path);
    if (werr)
        return fail(ck, "writing heap pages to the temporary file", werr);
    uint64_t npages = __atomic_load_n(&ck->slots, __ATOMIC_ACQUIRE);
    qsort(ck->index, npages, sizeof *ck->index, by_page);
    struct image_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memcpy(hdr.magic, IMAGE_MAGIC, 8);
    hdr.version = IMAGE_VERSION;
    hdr.header_bytes = sizeof hdr;
    strncpy(hdr.arch, IMAGE_ARCH, sizeof hdr.arch - 1);
    hdr.page_size = VM_PAGE_SIZE;
    hdr.pointer_bytes = sizeof(void *);
    hdr.byte_order = 0x01020304u;
    hdr.object_header = VMGC_HEADER_BYTES << 16 | VMGC_SIZE_SHIFT << 8 | VMGC_TYPE_SHIFT;
    hdr.heap_base = (uint64_t)(uintptr_t)h->arena->vm.base;
    hdr.reserve_bytes = h->arena->vm.size;
    hdr.npages = npages;
    hdr.data_offset = IMAGE_DATA_OFFSET;
    hdr.live_bytes = __atomic_load_n(&ck->live_bytes, __ATOMIC_RELAXED);
    hdr.saved_at = ck->saved_at;
    hdr.pause_ns = ck->pause_ns;
    uint64_t off = IMAGE_DATA_OFFSET + (npages << VM_PAGE_SHIFT);
    hdr.index_bytes = npages * sizeof *ck->index;
    vmgc_status st = write_section(ck, "writing the page index", ck->index, hdr.index_bytes, &off,
                                   &hdr.index_offset, &hdr.index_sum);
    if (st != VMGC_OK)
        return st;
    size_t tlen;
    char *types = types_section(h, &tlen, &hdr.ntypes);
    if (!types)
        return error_set(VMGC_ENOMEM, "checkpoint to %s: no memory for the type table", ck->path);
    hdr.types_bytes = tlen;
    st = write_section(ck, "writing the type table", types, tlen, &off, &hdr.types_offset,
                       &hdr.types_sum);
    meta_free(types);
    if (st != VMGC_OK)
        return st;
    hdr.nroots = ck->nroots;
    hdr.roots_bytes = ck->roots_bytes;
    st = write_section(ck, "writing the named roots", ck->roots ? ck->roots : "", ck->roots_bytes,
                       &off, &hdr.roots_offset, &hdr.roots_sum);
    if (st != VMGC_OK)
        return st;
    hdr.header_sum = image_header_sum(&hdr);
    int err = image_write_at(ck->fd, &hdr, sizeof hdr, 0);
    if (err)
        return fail(ck, "writing the header", err);
    /* .sol.durable: data and header on disk before the name moves; the
     * directory after, so the rename itself survives a crash */
    if (sys.fdatasync(ck->fd) != 0)
        return fail(ck, "syncing the temporary file (fdatasync)", errno);
    if (sys.rename(ck->tmp, ck->path) != 0)
        return fail(ck, "renaming the temporary file into place", errno);
    st = sync_dir(ck);
    if (st != VMGC_OK)
        return st;
    ck->result.image_bytes = off;
    ck->result.checksum = hdr.header_sum;
    ck->result.live_bytes = hdr.live_bytes;
    ck->result.pages = npages;
    ck->result.pause_ns = ck->pause_ns;
    ck->result.write_ns = gc_now_ns() - ck->flip_ns;
    return VMGC_OK;
}

static void *finisher_main(void *arg)
{
    struct vmgc_checkpoint *ck = arg;
    struct vmgc_heap *h = ck->h;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the program's signals go to its threads */
    /* .sol.overlap-writeback: while the cycle appends pages, start their
     * writeback every 20 ms, so the final fdatasync waits for the tail only
     * and the save takes the longer of the cycle and the disk, not both
     * (100 MiB here: 0.55 s -> see checkpoint.md "Figures").  A failure
     * here is only lost overlap: fdatasync reports errors. */
    lock_take(&h->trigger_lock);
    while (__atomic_load_n(&ck->stage, __ATOMIC_ACQUIRE) < CK_SCANNED) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&h->done_cond, &h->trigger_lock, &until);
        pthread_mutex_unlock(&h->trigger_lock);
        (void)sys.sync_file_range(ck->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        lock_take(&h->trigger_lock);
    }
    pthread_mutex_unlock(&h->trigger_lock);
    uint64_t scanned = gc_now_ns();
    vmgc_status st = finish_file(ck);
    ck->result.sync_ns = gc_now_ns() - scanned;
    if (st != VMGC_OK) {
        snprintf(ck->message, sizeof ck->message, "%s", vmgc_last_error());
        unlink(ck->tmp); /* a failed save leaves nothing behind */
    }
    sys.close(ck->fd);
    ck->fd = -1;
    ck->status = st;
    lock_take(&h->trigger_lock);
    __atomic_store_n(&ck->stage, CK_FINISHED, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&h->done_cond);
    pthread_mutex_unlock(&h->trigger_lock);
    return NULL;
}

/* ---- the API ---- */

static void ck_free(struct vmgc_checkpoint *ck)
{
    if (ck->fd >= 0)
        sys.close(ck->fd);
    ck->sig = 0;
    meta_free(ck->index);
    for (unsigned k = 0; k <= GC_MAX_COLLECTORS; k++)
        meta_free(ck->batch[k].buf);
    meta_free(ck->roots);
    meta_free(ck->path);
    meta_free(ck->tmp);
    meta_free(ck);
}

static struct vmgc_checkpoint *ck_new(struct vmgc_heap *h, const char *path)
{
    struct vmgc_checkpoint *ck = meta_calloc(1, sizeof *ck);
    if (!ck)
        return NULL;
    ck->fd = -1;
    ck->h = h;
    size_t len = strlen(path);
    ck->path = meta_calloc(len + 1, 1);
    ck->tmp = meta_calloc(len + 32, 1);
    /* .sol.index-bound: a cycle's to-space is at most the pages the pool
     * can hand out; the index is touched only where written */
    ck->capacity = h->arena->pt.pages;
    ck->index = meta_calloc(ck->capacity, sizeof *ck->index);
    for (unsigned k = 0; k <= h->nhelpers && k <= GC_MAX_COLLECTORS; k++)
        if (!(ck->batch[k].buf = meta_calloc(BATCH_PAGES, VM_PAGE_SIZE)))
            break;
    if (!ck->path || !ck->tmp || !ck->index || !ck->batch[0].buf) {
        ck_free(ck);
        return NULL;
    }
    memcpy(ck->path, path, len);
    snprintf(ck->tmp, len + 32, "%s.tmp.%d", path, (int)getpid());
    ck->sig = CKPT_SIG;
    return ck;
}

/* .sol.stale-tmp: a saver killed mid-write leaves path.tmp.<pid>; the
 * next checkpoint to the same path removes those whose process is gone. */
static void remove_stale_tmp(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
    char dir[4096];
    if (dlen >= sizeof dir - 1)
        return;
    if (slash)
        memcpy(dir, path, dlen ? dlen : 1), dir[dlen ? dlen : 1] = '\0';
    else
        strcpy(dir, ".");
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0)
            continue;
        char *end;
        long pid = strtol(n + blen + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char full[4096 + 256];
        snprintf(full, sizeof full, "%s/%s", dir, n);
        unlink(full);
    }
    closedir(d);
}

VMGC_API vmgc_status vmgc_checkpoint_start(vmgc_heap *h, const char *path, vmgc_checkpoint **out)
{
    if (!out)
        return error_set(VMGC_EINVAL, "vmgc_checkpoint_start: checkpoint is NULL");
    *out = NULL;
    if (!h || h->sig != HEAP_SIG)
        return error_set(VMGC_EINVAL, "vmgc_checkpoint_start: not a live heap");
    if (!path || !*path)
        return error_set(VMGC_EINVAL, "vmgc_checkpoint_start: give a file path");
    fork_settle(h);
    remove_stale_tmp(path);
    struct vmgc_checkpoint *ck = ck_new(h, path);
    if (!ck)
        return error_set(VMGC_ENOMEM, "vmgc_checkpoint_start: no memory for the checkpoint");
    ck->fd = sys.open(ck->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (ck->fd < 0) {
        int err = errno;
        vmgc_status st = error_set(VMGC_ESYSTEM,
                                   "vmgc_checkpoint_start: cannot create the temporary file %s: "
                                   "%s; the image is written there first, so its directory must "
                                   "be writable",
                                   ck->tmp, strerror(err));
        ck_free(ck);
        return st;
    }
    ck->estimate = __atomic_load_n(&h->st_live_after, __ATOMIC_RELAXED);
    struct vmgc_thread *self = threads_self(h);
    lock_take(&h->trigger_lock);
    if (__atomic_load_n(&h->ck_pending, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&h->ck_active, __ATOMIC_ACQUIRE) || h->ck_unfinished) {
        pthread_mutex_unlock(&h->trigger_lock);
        unlink(ck->tmp);
        ck_free(ck);
        return error_set(VMGC_ESTATE, "vmgc_checkpoint_start: a checkpoint of this heap is in "
                                      "progress; wait for it (vmgc_checkpoint_wait) first");
    }
    int err = sys.pthread_create(&ck->thread, NULL, finisher_main, ck);
    if (err) {
        pthread_mutex_unlock(&h->trigger_lock);
        unlink(ck->tmp);
        ck_free(ck);
        return error_set(VMGC_ESYSTEM, "vmgc_checkpoint_start: cannot start its thread: %s",
                         strerror(err));
    }
    ck->thread_started = 1;
    h->ck_unfinished = ck;
    __atomic_store_n(&h->ck_pending, ck, __ATOMIC_RELEASE);
    if (h->config.no_background) {
        pthread_mutex_unlock(&h->trigger_lock);
        collector_cycle(h);
        *out = ck;
        return VMGC_OK;
    }
    /* .sol.ride: the next cycle to start takes it; one running now does not */
    uint64_t target = collector_next_cycle(h);
    if (h->cycles_requested < target)
        h->cycles_requested = target;
    pthread_cond_signal(&h->trigger_cond);
    pthread_mutex_unlock(&h->trigger_lock);
    if (self)
        vmgc_blocking_enter(self);
    lock_take(&h->trigger_lock);
    while (__atomic_load_n(&ck->stage, __ATOMIC_ACQUIRE) < CK_FLIPPED)
        pthread_cond_wait(&h->done_cond, &h->trigger_lock);
    pthread_mutex_unlock(&h->trigger_lock);
    if (self)
        vmgc_blocking_leave(self);
    *out = ck;
    return VMGC_OK;
}

static int ck_bad(const vmgc_checkpoint *ck)
{
    return !ck || ck->sig != CKPT_SIG;
}

VMGC_API int vmgc_checkpoint_poll(vmgc_checkpoint *ck, uint64_t *written, uint64_t *total)
{
    if (ck_bad(ck)) {
        error_set(VMGC_EINVAL, "vmgc_checkpoint_poll: not a checkpoint in progress");
        return 1;
    }
    int stage = __atomic_load_n(&ck->stage, __ATOMIC_ACQUIRE);
    uint64_t data = __atomic_load_n(&ck->slots, __ATOMIC_ACQUIRE) << VM_PAGE_SHIFT;
    uint64_t w = IMAGE_DATA_OFFSET + data + __atomic_load_n(&ck->meta_written, __ATOMIC_RELAXED);
    uint64_t t = stage >= CK_SCANNED
                     ? IMAGE_DATA_OFFSET + data + (data >> VM_PAGE_SHIFT) * sizeof *ck->index +
                           ck->roots_bytes
                     : IMAGE_DATA_OFFSET + ck->estimate;
    if (stage == CK_FINISHED && ck->status == VMGC_OK)
        w = t = ck->result.image_bytes;
    if (written)
        *written = w;
    if (total)
        *total = t > w ? t : w;
    return stage == CK_FINISHED;
}

VMGC_API vmgc_status vmgc_checkpoint_wait(vmgc_checkpoint *ck, vmgc_checkpoint_result *result)
{
    if (ck_bad(ck))
        return error_set(VMGC_EINVAL, "vmgc_checkpoint_wait: not a checkpoint in progress (each "
                                      "is waited for once)");
    struct vmgc_heap *h = ck->h;
    struct vmgc_thread *self = threads_self(h);
    if (self)
        vmgc_blocking_enter(self);
    pthread_join(ck->thread, NULL);
    if (self)
        vmgc_blocking_leave(self);
    lock_take(&h->trigger_lock);
    if (h->ck_unfinished == ck)
        h->ck_unfinished = NULL;
    pthread_mutex_unlock(&h->trigger_lock);
    vmgc_status st = ck->status;
    if (st == VMGC_OK && result)
        *result = ck->result;
    if (st != VMGC_OK)
        error_restore(st, ck->message);
    ck_free(ck);
    return st;
}

/* Heap destruction with a checkpoint never waited for: finish it. */
void checkpoint_heap_destroy(struct vmgc_heap *h)
{
    struct vmgc_checkpoint *ck = h->ck_unfinished;
    if (ck)
        (void)vmgc_checkpoint_wait(ck, NULL);
}
