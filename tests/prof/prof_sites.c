/*
 * Allocation sites with known byte shares, for the profiler's tests
 * (run_prof.sh checks what the dump and `hakstat top` make of them).
 *
 *   ratio    site_heavy allocates 3 times the bytes of site_light (4 KiB
 *            blocks against 64 B ones: by bytes, not by count) and frees
 *            5/6 of them, so live bytes are 1:2 the other way.
 *   threads  the same from 4 threads, blocks freed by other threads.
 *   resident the same, the threads staying until the process exits.
 *   fork     threads allocate while the main thread forks; each child
 *            allocates at both sites and exits.
 *   signal   threads allocate while SIGUSR1 (HAKMEM_STATS_SIGNAL) asks for
 *            snapshots, kept as snap.0.json ... snap.9.json.
 *
 * Built without hakmem and run with it preloaded, as a user would (the
 * ThreadSanitizer build maps its malloc and free onto hak_*: hak_direct.h).
 * Its functions are not static: exported, dladdr can name every frame.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


#define LIGHT_BYTES ((size_t)48 << 20)
#define HEAVY_SIZE 4096
#define LIGHT_SIZE 64

typedef struct blocks {
    void **heavy, **light;
    size_t n_heavy, n_light;
} blocks;

void *fill(void *p, size_t n)
{
    if (p == NULL) {
        fprintf(stderr, "prof_sites: out of memory\n");
        exit(1);
    }
    memset(p, 0x5a, n < 64 ? n : 64);
    return p;
}

__attribute__((noinline)) void *site_heavy(void) { return fill(malloc(HEAVY_SIZE), HEAVY_SIZE); }
__attribute__((noinline)) void *site_light(void) { return fill(malloc(LIGHT_SIZE), LIGHT_SIZE); }

/* `share` of the bytes: the light site gets LIGHT_BYTES * share, the heavy
 * site three times that, interleaved so neither owns a phase of the run. */
void allocate(blocks *b, double share)
{
    b->n_light = (size_t)(LIGHT_BYTES * share) / LIGHT_SIZE;
    b->n_heavy = (size_t)(3 * LIGHT_BYTES * share) / HEAVY_SIZE;
    b->light = calloc(b->n_light, sizeof(void *));
    b->heavy = calloc(b->n_heavy, sizeof(void *));
    size_t per_heavy = b->n_light / b->n_heavy;
    for (size_t h = 0, l = 0; h < b->n_heavy; h++) {
        b->heavy[h] = site_heavy();
        for (size_t k = 0; k < per_heavy && l < b->n_light; k++)
            b->light[l++] = site_light();
    }
    for (size_t l = per_heavy * b->n_heavy; l < b->n_light; l++)
        b->light[l] = site_light();
}

/* Five of every six heavy blocks go: heavy live = 3/6 of light's bytes. */
void free_most_heavy(blocks *b)
{
    for (size_t h = 0; h < b->n_heavy; h++) {
        if (h % 6 != 0) {
            free(b->heavy[h]);
            b->heavy[h] = NULL;
        }
    }
}

// ------------------------------------------------------------ threads

#define THREADS 4

static blocks thread_blocks[THREADS];

void *thread_allocate(void *arg)
{
    allocate(&thread_blocks[(size_t)arg], 1.0 / THREADS);
    return NULL;
}

/* Each thread frees the heavy blocks of the next one: remote frees. */
void *thread_free(void *arg)
{
    free_most_heavy(&thread_blocks[((size_t)arg + 1) % THREADS]);
    return NULL;
}

void run_threads(void *(*fn)(void *))
{
    pthread_t t[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, fn, (void *)i);
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
}

/* As threads, but the threads stay (blocked) until the process exits: the
 * ThreadSanitizer run, where libunwind's per-thread cache, freed by a
 * thread-exit destructor that runs after TSan has let go of the thread,
 * would crash TSan itself. */
static pthread_barrier_t phase;

void *resident_thread(void *arg)
{
    thread_allocate(arg);
    pthread_barrier_wait(&phase);
    thread_free(arg);
    pthread_barrier_wait(&phase);
    for (;;)
        pause();
}

void run_resident(void)
{
    pthread_barrier_init(&phase, NULL, THREADS + 1);
    pthread_t t[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, resident_thread, (void *)i);
    pthread_barrier_wait(&phase);
    pthread_barrier_wait(&phase);
}

// ------------------------------------------------------------ fork, signal

static volatile int stop;

void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        void *a = site_heavy(), *b = site_light();
        free(a);
        free(b);
    }
    return NULL;
}

int run_fork(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            blocks b;
            allocate(&b, 0.05);
            free_most_heavy(&b);
            exit(0); /* not _exit: the child writes its dump at exit */
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "prof_sites: child %d failed (status %d)\n", round, status);
            return 1;
        }
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("forked 20 children\n");
    return 0;
}

/* raise() runs the handler on this thread before it returns, so the
 * snapshot (HAKMEM_STATS_FILE=d.%p.json) is complete: it is kept as
 * snap.N.json. */
int run_signal(void)
{
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    char dump[64], keep[64];
    snprintf(dump, sizeof(dump), "d.%d.json", (int)getpid());
    for (int i = 0; i < 10; i++) {
        usleep(20000);
        raise(SIGUSR1);
        snprintf(keep, sizeof(keep), "snap.%d.json", i);
        if (rename(dump, keep) != 0) {
            perror("prof_sites: snapshot");
            return 1;
        }
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("10 snapshots asked for\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ratio";
    if (strcmp(mode, "ratio") == 0) {
        blocks b;
        allocate(&b, 1.0);
        free_most_heavy(&b);
    } else if (strcmp(mode, "threads") == 0) {
        run_threads(thread_allocate);
        run_threads(thread_free);
    } else if (strcmp(mode, "resident") == 0) {
        run_resident();
    } else if (strcmp(mode, "fork") == 0) {
        return run_fork();
    } else if (strcmp(mode, "signal") == 0) {
        return run_signal();
    } else {
        fprintf(stderr, "usage: prof_sites ratio|threads|resident|fork|signal\n");
        return 2;
    }
    printf("%s: done\n", mode); /* the blocks still held stay live in the dump */
    return 0;
}
