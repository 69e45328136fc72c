/*
 * The statistics tell the truth: exact counts for known allocations (some
 * freed by another thread), a histogram whose total is the allocation
 * count, dumps that jq accepts, complete snapshots while threads allocate
 * and signals arrive, one dump per process across fork, and zeros when
 * counting is off.  ctest runs it with HAKMEM_STATS=1 HAKMEM_SIZE_HIST=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hakmem.h"
#include "itest.h"

static char *self;

static unsigned long long stat_of(const char *path)
{
    unsigned long long v = 0;
    if (hak_stats_get(path, &v) != 0)
        fail_msg("hak_stats_get(\"%s\") found nothing", path);
    return v;
}

/* The figure if the document has it, else 0 (a class with no activity yet
 * is not listed). */
static unsigned long long stat_or_zero(const char *path)
{
    unsigned long long v = 0;
    return hak_stats_get(path, &v) == 0 ? v : 0;
}

// ------------------------------------------------------------ exact counts

#define TINY_SIZE 200  /* class 208 (index 12): nothing else here uses it */
#define TINY_CLASS "12"
#define MID_SIZE 5000  /* class 5120 (index 49), histogram bucket 8192 */
#define MID_CLASS "49"
#define N_TINY 1000
#define N_REMOTE 400
#define N_MID 300

static void *blocks[N_TINY];
static pthread_barrier_t go;

static void *remote_freer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&go); /* the counters' "before" is read by now */
    for (int i = 0; i < N_REMOTE; i++)
        free(blocks[i]);
    return NULL;
}

static void test_counts_are_exact(void **state)
{
    (void)state;
    pthread_t t;
    pthread_barrier_init(&go, NULL, 2);
    assert_int_equal(pthread_create(&t, NULL, remote_freer, NULL), 0); /* before "before" */
    unsigned long long alloc0 = stat_or_zero("classes." TINY_CLASS ".alloc");
    unsigned long long free0 = stat_or_zero("classes." TINY_CLASS ".free");
    unsigned long long remote0 = stat_or_zero("classes." TINY_CLASS ".free_remote");
    unsigned long long bytes0 = stat_or_zero("classes." TINY_CLASS ".bytes_requested");
    unsigned long long mid0 = stat_or_zero("classes." MID_CLASS ".alloc");
    unsigned long long bucket0 = stat_or_zero("histogram.buckets.8192.count");
    unsigned long long large0 = stat_of("tiers.large.alloc");

    for (int i = 0; i < N_TINY; i++)
        blocks[i] = malloc(TINY_SIZE);
    void *mid[N_MID];
    for (int i = 0; i < N_MID; i++)
        mid[i] = malloc(MID_SIZE);
    void *large[3];
    for (int i = 0; i < 3; i++)
        large[i] = malloc(3 * MiB);
    pthread_barrier_wait(&go);
    pthread_join(t, NULL);
    for (int i = N_REMOTE; i < N_TINY; i++)
        free(blocks[i]);

    assert_int_equal(stat_of("classes." TINY_CLASS ".alloc") - alloc0, N_TINY);
    assert_int_equal(stat_of("classes." TINY_CLASS ".free") - free0, N_TINY);
    assert_int_equal(stat_of("classes." TINY_CLASS ".free_remote") - remote0, N_REMOTE);
    assert_int_equal(stat_of("classes." TINY_CLASS ".bytes_requested") - bytes0,
                     (unsigned long long)N_TINY * TINY_SIZE);
    assert_int_equal(stat_of("classes." TINY_CLASS ".size"), 208);
    assert_int_equal(stat_of("classes." MID_CLASS ".alloc") - mid0, N_MID);
    assert_int_equal(stat_of("histogram.buckets.8192.count") - bucket0, N_MID);
    assert_int_equal(stat_of("tiers.large.alloc") - large0, 3);
    for (int i = 0; i < N_MID; i++)
        free(mid[i]);
    for (int i = 0; i < 3; i++)
        free(large[i]);
}

/* Run chunks in use (made - released): the pool's page runs. */
static unsigned long long run_chunks_in_use(void)
{
    return stat_of("tiers.pool.run_chunks_new") - stat_of("tiers.pool.run_chunks_released");
}

/* The page runs' counters: a chunk in use while a block above 64 KiB lives,
 * a realloc that shrinks it where it is counted once, and, with no such
 * block left in the process, a forced purge gives back every chunk, the
 * spares too (run_purged_bytes is checked by integration.purge). */
static void test_page_run_counters(void **state)
{
    (void)state;
    unsigned long long resized0 = stat_of("tiers.pool.runs_resized_in_place");
    char *p = malloc(1 * MiB);
    assert_non_null(p);
    memset(p, 0x2B, 1 * MiB);
    assert_true(run_chunks_in_use() >= 1);
    assert_ptr_equal(realloc(p, 100 * KiB), p);
    assert_int_equal(stat_of("tiers.pool.runs_resized_in_place") - resized0, 1);
    free(p);
    hak_purge();
    assert_int_equal(run_chunks_in_use(), 0);
}

/* Every allocation lands in exactly one histogram bucket and one tier. */
static void test_totals_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < ITEST_N_TIER_SIZES; i++)
        free(malloc(itest_tier_sizes[i]));
    unsigned long long alloc = stat_of("totals.alloc");
    unsigned long long tiers = stat_of("tiers.tiny.alloc") + stat_of("tiers.mid.alloc") +
                               stat_of("tiers.pool.alloc") + stat_of("tiers.large.alloc");
    assert_int_equal(alloc, tiers);
    unsigned long long hist = 0;
    for (int b = 0; b < 64; b++) {
        char path[64];
        snprintf(path, sizeof path, "histogram.buckets.%llu.count", 1ull << b);
        hist += stat_or_zero(path);
    }
    assert_int_equal(hist, alloc);
    assert_true(stat_of("totals.bytes_allocated") >= stat_of("totals.bytes_requested"));
    assert_int_equal(stat_of("histogram.enabled"), 1);
}

// ------------------------------------------------------------ the document

static int run_jq(const char *filter, const char *file)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "jq -e '%s' '%s' >/dev/null 2>&1", filter, file);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_dump_is_valid_json(void **state)
{
    (void)state;
    char path[] = "/tmp/hakmem-stats-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(hak_stats_dump(fd), 0);
    close(fd);
    assert_int_equal(run_jq(".", path), 0);
    assert_int_equal(run_jq(".schema == \"hakmem.stats/1\" and .reason == \"api\"", path), 0);
    assert_int_equal(run_jq(".totals.alloc > 0 and (.classes | length) > 0", path), 0);
    assert_int_equal(run_jq("[.config[] | select(.name == \"HAKMEM_STATS\")][0].source == "
                            "\"environment\"",
                            path),
                     0);
    unlink(path);
}

// ------------------------------------------------------------ child programs

static pid_t spawn_self(const char *mode, char *const envp[])
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {self, (char *)mode, NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static volatile int stop_threads;
static int threads_running;

static void *churn(void *arg)
{
    uint64_t rng = (uint64_t)(uintptr_t)arg;
    void *keep[64] = {0};
    for (unsigned n = 0; !stop_threads; n++) {
        unsigned k = (unsigned)(itest_rand(&rng) % 64);
        free(keep[k]);
        keep[k] = malloc(itest_rand_size(&rng, 64 * KiB));
        if (n == 1000)
            __atomic_fetch_add(&threads_running, 1, __ATOMIC_RELEASE);
    }
    for (int k = 0; k < 64; k++)
        free(keep[k]);
    return NULL;
}

static bool path_exists(const char *path) { return access(path, F_OK) == 0; }

static void touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
}

/* Mode "signal-child": allocates from three threads until the parent, which
 * sends HAKMEM_STATS_SIGNAL meanwhile, says stop.  It says when all three
 * run (FILE.ready) and the parent says stop (FILE.stop): a machine loaded
 * enough to start it late must not end it before the snapshots are taken. */
static int signal_child(void)
{
    char ready[300], stop[300];
    snprintf(ready, sizeof ready, "%s.ready", getenv("HAKMEM_STATS_FILE"));
    snprintf(stop, sizeof stop, "%s.stop", getenv("HAKMEM_STATS_FILE"));
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
    while (__atomic_load_n(&threads_running, __ATOMIC_ACQUIRE) < 3)
        itest_sleep_ms(1);
    touch(ready);
    while (!path_exists(stop))
        itest_sleep_ms(5);
    stop_threads = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    return 0;
}

static bool file_is_complete_json(const char *path)
{
    return run_jq(".schema == \"hakmem.stats/1\"", path) == 0;
}

/* Snapshots by signal while threads allocate: every version of the file a
 * reader can open is a whole document (the writer renames a finished one
 * into place). */
static void test_signal_snapshots_are_whole(void **state)
{
    (void)state;
    char dir[] = "/tmp/hakmem-sig-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file_env[256], file[256];
    snprintf(file_env, sizeof file_env, "HAKMEM_STATS_FILE=%s/snap.json", dir);
    snprintf(file, sizeof file, "%s/snap.json", dir);
    char *envp[] = {"HAKMEM_STATS_SIGNAL=USR2", file_env, NULL};
    pid_t pid = spawn_self("signal-child", envp);
    char ready[300], stop[300];
    snprintf(ready, sizeof ready, "%s.ready", file);
    snprintf(stop, sizeof stop, "%s.stop", file);
    for (int waited = 0; !path_exists(ready); waited++) {
        assert_true(waited < 60000); /* a minute: the child is stuck */
        itest_sleep_ms(1);
    }
    int seen = 0;
    for (int i = 0; i < 40; i++) {
        kill(pid, SIGUSR2);
        itest_sleep_ms(20);
        if (access(file, R_OK) == 0) {
            assert_true(file_is_complete_json(file));
            seen++;
        }
    }
    touch(stop);
    assert_int_equal(wait_exit(pid), 0);
    assert_true(seen > 10);
    assert_int_equal(run_jq(".reason == \"signal\" and .threads.started >= 4", file), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Mode "fork-child": allocates, forks a child that allocates a known
 * number of blocks, and both exit normally. */
static int fork_child(void)
{
    for (int i = 0; i < 5000; i++)
        free(malloc(100));
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 7; i++)
            free(malloc(MID_SIZE));
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* HAKMEM_STATS_FILE with %p: the parent and its forked child write one
 * dump each, and the child's counts start from zero at the fork. */
static void test_dump_per_process_at_exit(void **state)
{
    (void)state;
    char dir[] = "/tmp/hakmem-exit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file_env[256];
    snprintf(file_env, sizeof file_env, "HAKMEM_STATS_FILE=%s/d.%%p.json", dir);
    char *envp[] = {"HAKMEM_STATS=1", file_env, NULL};
    pid_t pid = spawn_self("fork-child", envp);
    assert_int_equal(wait_exit(pid), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; test $(ls d.*.json | wc -l) -eq 2; test -f d.%d.json; "
             "jq -e '.reason == \"exit\" and .pid == %d and .totals.alloc >= 5000' d.%d.json; "
             "child=$(ls d.*.json | grep -v d.%d.json); "
             "jq -e '.totals.alloc < 100 and ([.classes[] | select(.size == 5120)][0].alloc == 7)' "
             "$child",
             dir, pid, pid, pid, pid);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Mode "lock-child": threads on one shared-pool class with the thread
 * caches off, so every malloc and free takes a lock of the class, and all
 * of them on the same lock: the pool gives its shards (16, or a power of
 * two below) to threads in turn at their first refill, so 15 threads that
 * take one between two hammering threads put both on the same shard.  With
 * a shard to each pair of 32 threads, a CPU hog beside the test on 2 cores
 * left one run in 40 without a single contended acquisition.  Prints the
 * lock figures for the parent. */
#define HAMMER_THREADS 8
#define HAMMER_ROUNDS 100000
#define SHARDS_AROUND 16

static pthread_barrier_t hammer_start;
static sem_t hammer_ready;

static void *hammer(void *arg)
{
    (void)arg;
    void *keep[16] = {malloc(MID_SIZE)}; /* takes this thread's shard */
    sem_post(&hammer_ready);
    pthread_barrier_wait(&hammer_start);
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        free(keep[i % 16]);
        keep[i % 16] = malloc(MID_SIZE);
    }
    for (int k = 0; k < 16; k++)
        free(keep[k]);
    return NULL;
}

static void *take_a_shard(void *arg)
{
    (void)arg;
    free(malloc(MID_SIZE));
    return NULL;
}

static int lock_child(void)
{
    pthread_t t[HAMMER_THREADS];
    sem_init(&hammer_ready, 0, 0);
    pthread_barrier_init(&hammer_start, NULL, HAMMER_THREADS);
    for (int i = 0; i < HAMMER_THREADS; i++) {
        pthread_create(&t[i], NULL, hammer, NULL);
        sem_wait(&hammer_ready);
        for (int k = 1; k < SHARDS_AROUND; k++) {
            pthread_t filler;
            pthread_create(&filler, NULL, take_a_shard, NULL);
            pthread_join(filler, NULL);
        }
    }
    for (int i = 0; i < HAMMER_THREADS; i++)
        pthread_join(t[i], NULL);
    printf("%llu %llu %llu %llu %llu\n", stat_or_zero("tiers.mid.lock_acquire"),
           stat_or_zero("tiers.mid.lock_acquire_contended"),
           stat_or_zero("tiers.mid.lock_acquire_wait_ns"), stat_or_zero("tiers.mid.lock_release"),
           stat_or_zero("tiers.mid.lock_release_contended"));
    return 0;
}

/* Runs lock-child with the given lock-stats switch; its five figures. */
static void lock_figures(const char *lock_stats, unsigned long long f[5])
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "env -i HAKMEM_STATS=1 HAKMEM_STATS_FILE=/dev/null HAKMEM_MF2_ENABLE=0 "
             "HAKMEM_PURGE_DELAY_MS=0 HAKMEM_SHARED_POOL_LOCK_STATS=%s '%s' lock-child",
             lock_stats, self);
    FILE *out = popen(cmd, "r");
    assert_non_null(out);
    assert_int_equal(fscanf(out, "%llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3], &f[4]),
                     5);
    assert_int_equal(pclose(out), 0);
}

/* HAKMEM_SHARED_POOL_LOCK_STATS: acquisitions on both paths, contention
 * and waiting when the lock is fought over; nothing of it when off. */
static void test_lock_statistics(void **state)
{
    (void)state;
    unsigned long long on[5], off[5];
    lock_figures("1", on);
    print_message("lock stats: %llu acquisitions (%llu contended, %llu ns waiting), %llu releases "
                  "(%llu contended)\n",
                  on[0], on[1], on[2], on[3], on[4]);
    assert_true(on[0] >= HAMMER_THREADS * HAMMER_ROUNDS);
    assert_true(on[3] >= HAMMER_THREADS * HAMMER_ROUNDS);
    assert_true(on[1] > 0 && on[1] <= on[0]);
    assert_true(on[2] > 0);
    assert_true(on[4] <= on[3]);
    lock_figures("0", off);
    assert_true(off[0] >= HAMMER_THREADS * HAMMER_ROUNDS); /* acquisitions are counted with stats on */
    assert_int_equal(off[1], 0);
    assert_int_equal(off[2], 0);
    assert_int_equal(off[4], 0);
}

/* Mode "internal-locks-child": touches each of hakmem's other locks (the
 * heap list and metadata by starting threads, the span cache by their
 * SuperSlabs, the abandoned-segment list by leaving a block behind at exit,
 * the large cache by a 4 MiB block); prints each lock's acquisitions, then
 * its contended acquisitions. */
static const char *const internal_locks[][2] = {
    {"threads.lock_acquire", "threads.lock_contended"},
    {"os.meta_lock_acquire", "os.meta_lock_contended"},
    {"os.lock_acquire", "os.lock_contended"},
    {"segments.lock_acquire", "segments.lock_contended"},
    {"tiers.large.lock_acquire", "tiers.large.lock_contended"},
};
#define INTERNAL_LOCKS (sizeof internal_locks / sizeof internal_locks[0])

static void *leave_a_block(void *arg)
{
    (void)arg;
    *(char *volatile *)arg = malloc(32); /* its segment outlives the thread */
    return NULL;
}

static int internal_locks_child(void)
{
    static char *left[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, leave_a_block, &left[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    free(malloc((size_t)4 << 20));
    for (size_t i = 0; i < INTERNAL_LOCKS; i++)
        printf("%llu %llu ", stat_or_zero(internal_locks[i][0]), stat_or_zero(internal_locks[i][1]));
    printf("\n");
    for (int i = 0; i < 4; i++)
        free(left[i]);
    return 0;
}

/* Every internal lock is counted with stats on; its contention only with
 * HAKMEM_SHARED_POOL_LOCK_STATS=1. */
static void test_internal_lock_counts(void **state)
{
    (void)state;
    for (int lock_stats = 0; lock_stats <= 1; lock_stats++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "env -i HAKMEM_STATS=1 HAKMEM_STATS_FILE=/dev/null "
                 "HAKMEM_SHARED_POOL_LOCK_STATS=%d '%s' internal-locks-child",
                 lock_stats, self);
        FILE *out = popen(cmd, "r");
        assert_non_null(out);
        for (size_t i = 0; i < INTERNAL_LOCKS; i++) {
            unsigned long long acquired, contended;
            assert_int_equal(fscanf(out, "%llu %llu", &acquired, &contended), 2);
            print_message("%s %llu (%llu contended), lock stats %d\n", internal_locks[i][0],
                          acquired, contended, lock_stats);
            assert_true(acquired > 0);
            assert_true(contended <= acquired);
            if (!lock_stats)
                assert_int_equal(contended, 0);
        }
        assert_int_equal(pclose(out), 0);
    }
}

/* Mode "scrub-child": allocates, then wipes its environment strings as
 * programs that set their process title do (redis), and exits. */
extern char **environ;

static int scrub_child(void)
{
    free(malloc(100));
    for (char **e = environ; *e != NULL; e++)
        memset(*e, 0, strlen(*e));
    return 0;
}

/* The dump path was copied at start-up: rewriting the environment later
 * does not send the dump elsewhere. */
static void test_dump_path_survives_environment_rewrite(void **state)
{
    (void)state;
    char dir[] = "/tmp/hakmem-scrub-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file_env[256];
    snprintf(file_env, sizeof file_env, "HAKMEM_STATS_FILE=%s/d.%%p.json", dir);
    char *envp[] = {"HAKMEM_STATS=1", file_env, NULL};
    pid_t pid = spawn_self("scrub-child", envp);
    assert_int_equal(wait_exit(pid), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "jq -e '.pid == %d' '%s/d.%d.json' >/dev/null && rm -rf '%s'",
             pid, dir, pid, dir);
    assert_int_equal(system(cmd), 0);
}

static char fifo_text[1 << 20];

static void *read_fifo(void *path)
{
    int fd = open(path, O_RDONLY);
    size_t len = 0;
    ssize_t r;
    while (fd >= 0 && len + 1 < sizeof fifo_text &&
           (r = read(fd, fifo_text + len, sizeof fifo_text - 1 - len)) > 0)
        len += (size_t)r;
    fifo_text[len] = '\0';
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* A dump to something that is not a regular file (a FIFO here; /dev/null
 * in practice) is written into it, never renamed over it. */
static void test_dump_to_a_special_file_keeps_it(void **state)
{
    (void)state;
    char dir[] = "/tmp/hakmem-fifo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char fifo[256], file_env[300];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(file_env, sizeof file_env, "HAKMEM_STATS_FILE=%s", fifo);
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, read_fifo, fifo), 0);
    char *envp[] = {"HAKMEM_STATS=1", file_env, NULL};
    assert_int_equal(wait_exit(spawn_self("scrub-child", envp)), 0);
    pthread_join(reader, NULL);
    struct stat st;
    assert_int_equal(stat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_non_null(strstr(fifo_text, "\"schema\":\"hakmem.stats/1\""));
    unlink(fifo);
    rmdir(dir);
}

/* Mode "off-child": without HAKMEM_STATS nothing is counted. */
static int off_child(void)
{
    for (int i = 0; i < 1000; i++)
        free(malloc(64));
    unsigned long long v = 1;
    return hak_stats_get("totals.alloc", &v) == 0 && v == 0 ? 0 : 1;
}

static void test_counting_off_counts_nothing(void **state)
{
    (void)state;
    char *envp[] = {NULL};
    assert_int_equal(wait_exit(spawn_self("off-child", envp)), 0);
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc > 1 && strcmp(argv[1], "signal-child") == 0)
        return signal_child();
    if (argc > 1 && strcmp(argv[1], "fork-child") == 0)
        return fork_child();
    if (argc > 1 && strcmp(argv[1], "off-child") == 0)
        return off_child();
    if (argc > 1 && strcmp(argv[1], "internal-locks-child") == 0)
        return internal_locks_child();
    if (argc > 1 && strcmp(argv[1], "lock-child") == 0)
        return lock_child();
    if (argc > 1 && strcmp(argv[1], "scrub-child") == 0)
        return scrub_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_are_exact),
        cmocka_unit_test(test_totals_agree),
        cmocka_unit_test(test_page_run_counters),
        cmocka_unit_test(test_dump_is_valid_json),
        cmocka_unit_test(test_signal_snapshots_are_whole),
        cmocka_unit_test(test_dump_per_process_at_exit),
        cmocka_unit_test(test_counting_off_counts_nothing),
        cmocka_unit_test(test_lock_statistics),
        cmocka_unit_test(test_internal_lock_counts),
        cmocka_unit_test(test_dump_path_survives_environment_rewrite),
        cmocka_unit_test(test_dump_to_a_special_file_keeps_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
