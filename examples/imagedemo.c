/* imagedemo -- save a heap to an image while it keeps running, and start a
 * new process from the image.  The README's checkpoint example.
 *
 *   imagedemo save FILE N   build a list of N numbered nodes and a greeting, save them
 *   imagedemo load FILE     restore them and print what came back
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmgc.h>

struct node {
    struct node *next;
    long number;
};

/* The same types in the saving and the restoring program, by name. */
static const vmgc_type_desc types[] = {
    {.name = "node", .layout = VMGC_LAYOUT_BITMAP, .bitmap = 1}, /* word 0 (next) is a pointer */
    {.name = "text", .layout = VMGC_LAYOUT_NO_POINTERS},
};

static void *globals[2]; /* the list, the greeting: a named root */

static vmgc_config config(void)
{
    vmgc_config c;
    vmgc_config_init(&c);
    c.fixed_base = (void *)0x200000000000; /* an image is restored at the address it was saved at */
    return c;
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static int fail(const char *what)
{
    fprintf(stderr, "imagedemo: %s: %s\n", what, vmgc_last_error());
    return 1;
}

static int save(const char *file, long n)
{
    vmgc_config c = config();
    vmgc_heap *heap;
    vmgc_thread *me;
    vmgc_type node, text;
    if (vmgc_heap_create(&heap, &c) != VMGC_OK)
        return fail("creating the heap");
    vmgc_thread_attach(heap, &me);
    vmgc_type_register(heap, &types[0], &node);
    vmgc_type_register(heap, &types[1], &text);
    vmgc_root_add_named(heap, "globals", globals, 2);
    for (long i = 0; i < n; i++) {
        struct node *x = vmgc_alloc(me, node, sizeof *x);
        x->next = globals[0];
        x->number = i;
        globals[0] = x;
    }
    globals[1] = vmgc_alloc(me, text, 64);
    strcpy(globals[1], "hello from the saving process");

    vmgc_checkpoint *ck;
    if (vmgc_checkpoint_start(heap, file, &ck) != VMGC_OK) /* returns after a flip's pause */
        return fail("starting the checkpoint");
    /* the program goes on while the image is written; this change is not in it */
    strcpy(globals[1], "changed after the checkpoint");
    vmgc_checkpoint_result r;
    if (vmgc_checkpoint_wait(ck, &r) != VMGC_OK)
        return fail("saving");
    printf("saved %s: %.1f MiB, pause %.3f ms, written in %.0f ms\n", file,
           r.image_bytes / 1048576.0, r.pause_ns / 1e6, r.write_ns / 1e6);
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
    return 0;
}

static int load(const char *file)
{
    vmgc_config c = config();
    vmgc_heap *heap;
    vmgc_thread *me;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (vmgc_heap_restore(&heap, &c, file, types, 2, 0) != VMGC_OK)
        return fail("restoring");
    vmgc_thread_attach(heap, &me);
    if (vmgc_root_restore(heap, "globals", globals, 2) != VMGC_OK)
        return fail("taking the roots back");
    printf("restored in %.2f ms: \"%s\"\n", ms_since(&t0), (char *)globals[1]);
    long count = 0, sum = 0;
    for (struct node *x = globals[0]; x; x = x->next)
        count++, sum += x->number;
    printf("%ld nodes, numbers summing to %ld (all read after %.0f ms)\n", count, sum,
           ms_since(&t0));
    vmgc_collect(heap, 1); /* a restored heap is a heap like any other */
    vmgc_thread_detach(me);
    vmgc_heap_destroy(heap);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "save") == 0)
        return save(argv[2], atol(argv[3]));
    if (argc == 3 && strcmp(argv[1], "load") == 0)
        return load(argv[2]);
    fprintf(stderr, "usage: imagedemo save FILE N | imagedemo load FILE\n");
    return 2;
}
