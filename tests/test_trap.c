/* test_trap.c -- signal hygiene: chaining, default action, errno
 * (src/trap.c), with both backends. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prot.h"
#include "testlib.h"

#define PG VM_PAGE_SIZE

static sigjmp_buf jump;
static void *volatile user_addr;
static volatile int user_sig, user_calls;

static void user_siginfo(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    user_sig = sig;
    user_addr = si->si_addr;
    user_calls++;
    siglongjmp(jump, 1);
}

static void user_plain(int sig)
{
    user_sig = sig;
    user_calls++;
    siglongjmp(jump, 1);
}

static void install(int sig, int siginfo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (siginfo) {
        sa.sa_sigaction = user_siginfo;
        sa.sa_flags = SA_SIGINFO;
    } else {
        sa.sa_handler = user_plain;
    }
    ck_assert_int_eq(sigaction(sig, &sa, NULL), 0);
}

static char *none_page(void)
{
    char *p = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

/* A page past the end of an empty file: touching it raises SIGBUS. */
static char *bus_page(void)
{
    int fd = memfd_create("empty", 0);
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    close(fd);
    return p;
}

static int heap_cb_calls;
static int heap_cb(void *ctx, void *page)
{
    (void)ctx, (void)page;
    heap_cb_calls++;
    errno = EIO; /* the trap path must restore the program's errno */
    return 0;
}

START_TEST(chain_segv_to_siginfo_handler)
{
    install(SIGSEGV, 1);
    struct arena *a = test_arena(_i, 64 * PG);
    char *outside = none_page();
    user_calls = 0;
    if (sigsetjmp(jump, 1) == 0) {
        (void)*(volatile char *)outside;
        ck_abort_msg("no fault");
    }
    ck_assert_int_eq(user_calls, 1);
    ck_assert_int_eq(user_sig, SIGSEGV);
    ck_assert_ptr_eq(user_addr, outside);
    arena_destroy(a);
}
END_TEST

START_TEST(chain_bus_to_plain_handler)
{
    install(SIGBUS, 0);
    struct arena *a = test_arena(_i, 64 * PG);
    char *outside = bus_page();
    user_calls = 0;
    if (sigsetjmp(jump, 1) == 0) {
        (void)*(volatile char *)outside;
        ck_abort_msg("no fault");
    }
    ck_assert_int_eq(user_calls, 1);
    ck_assert_int_eq(user_sig, SIGBUS);
    arena_destroy(a);
}
END_TEST

START_TEST(heap_traps_do_not_reach_the_program_handler)
{
    install(SIGSEGV, 1);
    install(SIGBUS, 1);
    struct arena *a = test_arena(_i, 64 * PG);
    arena_set_trap_fn(a, heap_cb, NULL);
    void *p;
    int zero;
    ck_assert_int_eq(arena_alloc_pages(a, 1, 0, &p, &zero), VMGC_OK);
    memset(p, 7, PG);
    ck_assert_int_eq(prot_protect(a, p, PG), VMGC_OK);
    user_calls = 0;
    heap_cb_calls = 0;
    errno = 1234;
    ck_assert_int_eq(*(volatile char *)p, 7);
    ck_assert_int_eq(errno, 1234);
    ck_assert_int_eq(heap_cb_calls, 1);
    ck_assert_int_eq(user_calls, 0);
    arena_destroy(a);
}
END_TEST

START_TEST(sent_signal_is_chained)
{
    install(SIGSEGV, 1);
    struct arena *a = test_arena(_i, 64 * PG);
    user_calls = 0;
    if (sigsetjmp(jump, 1) == 0)
        kill(getpid(), SIGSEGV);
    ck_assert_int_eq(user_calls, 1);
    arena_destroy(a);
}
END_TEST

/* No handler before ours: a fault outside the heap gets the default
 * action (the test expects the process to die of SIGSEGV). */
START_TEST(default_action_outside_heap)
{
    struct arena *a = test_arena(_i, 64 * PG);
    (void)a;
    char *outside = none_page();
    (void)*(volatile char *)outside;
}
END_TEST

START_TEST(default_action_for_sigbus)
{
    struct arena *a = test_arena(_i, 64 * PG);
    (void)a;
    char *outside = bus_page();
    (void)*(volatile char *)outside;
}
END_TEST

START_TEST(ignored_sigsegv_still_kills)
{
    signal(SIGSEGV, SIG_IGN);
    struct arena *a = test_arena(_i, 64 * PG);
    (void)a;
    char *outside = none_page();
    (void)*(volatile char *)outside;
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trap");
    TCase *tc = tcase_create("both-backends");
    tcase_add_loop_test(tc, chain_segv_to_siginfo_handler, 0, 2);
    tcase_add_loop_test(tc, chain_bus_to_plain_handler, 0, 2);
    tcase_add_loop_test(tc, heap_traps_do_not_reach_the_program_handler, 0, 2);
    tcase_add_loop_test(tc, sent_signal_is_chained, 0, 2);
    tcase_add_loop_test_raise_signal(tc, default_action_outside_heap, SIGSEGV, 0, 2);
    tcase_add_loop_test_raise_signal(tc, default_action_for_sigbus, SIGBUS, 0, 2);
    tcase_add_loop_test_raise_signal(tc, ignored_sigsegv_still_kills, SIGSEGV, 0, 2);
    suite_add_tcase(s, tc);
    return test_run(s);
}
