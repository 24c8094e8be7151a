/* testlib.h -- helpers shared by the Check suites (unit tests: they see the
 * VM layer's internals).
 *
 * Randomized tests take their seed from VMGC_TEST_SEED or the clock, and
 * print it, so a failure can be replayed.  Suites that depend on the barrier
 * backend run each test once per backend (Check loop tests, _i = backend).
 */
#ifndef VMGC_TESTLIB_H
#define VMGC_TESTLIB_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"

static const char *const test_backends[2] = {"uffd", "mprotect"};

static inline uint64_t test_seed(const char *test_name)
{
    const char *env = getenv("VMGC_TEST_SEED");
    uint64_t seed = env && *env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
    fprintf(stderr, "%s: seed %llu (replay with VMGC_TEST_SEED=%llu)\n", test_name,
            (unsigned long long)seed, (unsigned long long)seed);
    return seed;
}

/* xorshift64*: small, fast, and the same everywhere. */
static inline uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Whether this process's page tables map addr (/proc/self/pagemap bit 63,
 * readable without privilege): a page counts in RSS once per mapping of it. */
static inline int test_page_mapped(const void *addr)
{
    FILE *f = fopen("/proc/self/pagemap", "rb");
    ck_assert_ptr_nonnull(f);
    uint64_t entry = 0;
    long pagesize = sysconf(_SC_PAGESIZE);
    ck_assert_int_eq(fseek(f, (long)((uintptr_t)addr / (uintptr_t)pagesize * 8), SEEK_SET), 0);
    ck_assert_uint_eq(fread(&entry, sizeof entry, 1, f), 1);
    fclose(f);
    return (int)(entry >> 63);
}

static inline struct arena *test_arena(int backend, size_t reserve)
{
    struct arena_config cfg = {.reserve_bytes = reserve, .barrier = test_backends[backend]};
    struct arena *a = NULL;
    vmgc_status st = arena_create(&a, &cfg);
    ck_assert_msg(st == VMGC_OK, "arena_create(%s): %s", test_backends[backend], vmgc_last_error());
    ck_assert_str_eq(arena_backend_name(a), test_backends[backend]);
    return a;
}

/* Set sig to SIG_IGN with a raw rt_sigaction system call, behind the C
 * library and libvmgc's interposed sigaction (src/sigchain.c): what a
 * runtime that makes its own system calls would do. */
static inline int test_raw_ignore(int sig)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } k = {(void *)SIG_IGN, 0, NULL, 0};
    return (int)syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof k.mask);
}

/* A Check test name##_t that calls name(backend) for a loop test over
 * test_backends (tcase_add_loop_test(tc, name##_t, 0, 2)). */
#define BOTH(name)                                                                         \
    START_TEST(name##_t) { name(_i); }                                                     \
    END_TEST

/* Dead stack slots keep addresses that a conservative scan takes for roots;
 * a test that needs only its registered roots to count overwrites them. */
static __attribute__((noinline, unused)) void test_scrub_stack(void)
{
    volatile char buf[32768];
    for (size_t i = 0; i < sizeof buf; i += 64)
        buf[i] = 0;
    __asm__ volatile("" ::"r"(buf) : "memory");
}

/* Run fn(arg) in a child process with its stderr captured into out (cap
 * bytes, NUL-terminated); returns the child's wait status. */
static inline int test_child_stderr(void (*fn)(int), int arg, char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], STDERR_FILENO);
        fn(arg);
        _exit(0);
    }
    close(fd[1]);
    ssize_t n = 0, r;
    while (n + 1 < (ssize_t)cap && (r = read(fd[0], out + n, cap - 1 - (size_t)n)) > 0)
        n += r;
    out[n > 0 ? n : 0] = '\0';
    close(fd[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    return status;
}

/* Run a suite; the exit status is what Automake's test driver reads. */
static inline int test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

#endif
