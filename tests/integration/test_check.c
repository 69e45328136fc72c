/*
 * HAKMEM_CHECK=1: a double free or a free of an interior pointer, in every
 * tier, is reported on stderr and aborts the process; correct programs run
 * with it on without a false report (integration.threads.check and
 * programs.python.check run whole workloads so).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

static char *self;

/* The misuse, in a child re-executed with HAKMEM_CHECK=1. */
static int misuse(const char *what, size_t n)
{
    char *volatile p = malloc(n);
    char *volatile q = malloc(n);
    if (strcmp(what, "zero") == 0) { /* no misuse: a freed block handed out by malloc(0) */
        for (int i = 0; i < 1000; i++) {
            free(p);
            p = malloc(0);
        }
        free(p);
        free(q);
        return 0;
    }
    if (strcmp(what, "double") == 0) {
        free(p);
        free(q);
        free(p);
    } else if (strcmp(what, "purged") == 0) { /* freed, its pages released, freed again */
        free(p);
        hak_purge();
        free(p);
    } else if (strcmp(what, "page") == 0) { /* a page boundary inside the block */
        free(p + 8192);
    } else {
        free(p + 16);
    }
    return 0; /* not reached when the check works */
}

/* Runs `self misuse WHAT N` with HAKMEM_CHECK=1; its stderr and status. */
static int run_child(const char *what, size_t n, char *err, size_t cap)
{
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        char size[32];
        snprintf(size, sizeof size, "%zu", n);
        char *argv[] = {self, "misuse", (char *)what, size, NULL};
        char *envp[] = {"HAKMEM_CHECK=1", NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    close(pipefd[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(pipefd[0], err + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    err[len] = '\0';
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void expect_abort(const char *what, size_t n, const char *message)
{
    char err[1024];
    int status = run_child(what, n, err, sizeof err);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("%s free of a %zu-byte block: not aborted (status %d)", what, n, status);
    if (strstr(err, message) == NULL || strstr(err, "HAKMEM_CHECK=1") == NULL)
        fail_msg("%s free of a %zu-byte block: stderr was \"%s\"", what, n, err);
}

/* Tiny, mid (MF2), mid, pool slabs, pool page runs (above 64 KiB). */
static const size_t tier_sizes[] = {48, 1000, 5000, 30000, 50000, 100000, 1000000};

static void test_double_free_aborts_in_every_tier(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tier_sizes / sizeof tier_sizes[0]; i++)
        expect_abort("double", tier_sizes[i], "double free");
}

/* The purge releases the pages of free pool blocks (and with them what was
 * written there): the freed mark must survive it. */
static void test_double_free_after_a_purge_aborts(void **state)
{
    (void)state;
    expect_abort("purged", 100000, "double free");
}

static void test_interior_pointer_aborts_in_every_tier(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof tier_sizes / sizeof tier_sizes[0]; i++)
        expect_abort("interior", tier_sizes[i], "into the middle of a block");
    expect_abort("interior", 3 * MiB, "into the middle of a large block");
    /* A page run's blocks start at page boundaries: one inside is no start. */
    expect_abort("page", 100000, "into the middle of a block");
}

/* malloc(0) adds nothing to the tracked byte count: it must still clear the
 * freed mark of the block it reuses (git merge aborted on such a block). */
static void test_malloc_zero_reusing_a_freed_block_is_no_double_free(void **state)
{
    (void)state;
    char err[1024];
    int status = run_child("zero", 16, err, sizeof err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("malloc(0) after free: status %d, stderr \"%s\"", status, err);
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc == 4 && strcmp(argv[1], "misuse") == 0)
        return misuse(argv[2], (size_t)strtoull(argv[3], NULL, 10));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_free_aborts_in_every_tier),
        cmocka_unit_test(test_double_free_after_a_purge_aborts),
        cmocka_unit_test(test_interior_pointer_aborts_in_every_tier),
        cmocka_unit_test(test_malloc_zero_reusing_a_freed_block_is_no_double_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
