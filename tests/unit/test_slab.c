/* The tiny tier: SuperSlab carving, remote-free drain (the current slab
 * included: seed 000), parked full slabs revived by remote frees, and
 * adoption of an exited thread's slabs.  Real threads throughout. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "env/env.h"
#include "hakmem.h"
#include "registry.h"
#include "slab/slab.h"

/* A tiny class that pthread_create does not allocate from (288-320 B here).
 * The slab engine's own tests run in a child without the stash
 * (HAKMEM_PURGE_DELAY_MS=0: test_slab_engine_without_stash), so that the
 * owner's frees go to their slabs. */
#define SIZE 448

static hak_slab *slab_of(void *p)
{
    hak_reg_entry e = hak_reg_lookup(p);
    assert_int_equal(hak_reg_kind(e), HAK_KIND_SLAB);
    return hak_reg_meta(e);
}

typedef struct batch {
    void **blocks;
    size_t n;
} batch;

static void *free_batch(void *arg)
{
    batch *b = arg;
    for (size_t i = 0; i < b->n; i++)
        hak_free(b->blocks[i]);
    return NULL;
}

/* Frees the blocks from another thread: every free is a remote free. */
static void free_remotely(void **blocks, size_t n)
{
    batch b = {blocks, n};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_batch, &b), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_superslab_carving(void **state)
{
    (void)state;
    void *p = hak_malloc(SIZE);
    hak_slab *s = slab_of(p);
    slab_segment *g = s->segment;
    assert_int_equal((uintptr_t)g % HAK_CHUNK_SIZE, 0); /* SuperSlabs are 2 MiB aligned */
    assert_int_equal(g->slab_count, SUPERSLAB_SLABS);
    assert_int_equal(s->block_size, SIZE);
    assert_ptr_equal(s->owner, hak_tls_heap);
    /* Blocks lie inside their slab, after the header, at block-size steps. */
    char *base = (char *)g + (size_t)(s - g->slabs) * SLAB_SIZE;
    assert_true((char *)p >= s->start && (char *)p < base + SLAB_SIZE);
    assert_int_equal(((char *)p - s->start) % SIZE, 0);
    assert_int_equal((uintptr_t)s->start % 4096, 0);
    /* Only part of the slab is carved at first: pages are touched on demand. */
    assert_true(s->carved < s->capacity);
    /* Every unit of the SuperSlab points at its slab's descriptor: its own,
     * or for a unit that continues a multi-unit (MF2) slab, the first's. */
    for (uint32_t i = 0, head = 0; i < g->slab_count; i++) {
        if ((g->cont_mask >> i & 1) == 0)
            head = i;
        assert_ptr_equal(hak_reg_meta(hak_reg_lookup((char *)g + i * SLAB_SIZE + 100)),
                         &g->slabs[head]);
    }
    hak_free(p);
}

/* Fill exactly the current slab, free all of it from another thread, and
 * allocate the same count again: the owner must get its own blocks back
 * from the current slab, not a new slab. */
static void test_remote_frees_to_current_slab_are_drained(void **state)
{
    (void)state;
    void *first = hak_malloc(SIZE);
    hak_slab *s = slab_of(first);
    size_t n = s->capacity;
    void **blocks = calloc(n, sizeof(void *));
    blocks[0] = first;
    size_t mine = 1;
    while (s->free != NULL || s->carved < s->capacity) {
        blocks[mine] = hak_malloc(SIZE);
        assert_ptr_equal(slab_of(blocks[mine]), s);
        mine++;
    }
    assert_ptr_equal(hak_tls_heap->slab_cur[s->class_idx], s);
    uint32_t others = s->used - (uint32_t)mine; /* the test harness's blocks of the class */
    free_remotely(blocks, mine);
    assert_non_null(__atomic_load_n(&s->remote, __ATOMIC_ACQUIRE));
    for (size_t i = 0; i < mine; i++) {
        blocks[i] = hak_malloc(SIZE);
        assert_ptr_equal(slab_of(blocks[i]), s);
    }
    assert_int_equal(s->used, others + mine);
    for (size_t i = 0; i < mine; i++)
        hak_free(blocks[i]);
    free(blocks);
}

/* A slab the owner found full and parked is revived by remote frees. */
static void test_parked_full_slab_is_revived(void **state)
{
    (void)state;
    void *first = hak_malloc(SIZE);
    hak_slab *parked = slab_of(first);
    size_t cap = parked->capacity;
    void **blocks = calloc(3 * cap, sizeof(void *));
    size_t n = 0;
    blocks[n++] = first;
    /* Fill `parked` and move on to a second slab. */
    while (slab_of(blocks[n - 1]) == parked)
        blocks[n++] = hak_malloc(SIZE);
    hak_slab *second = slab_of(blocks[n - 1]);
    assert_ptr_not_equal(second, parked);
    assert_int_equal(parked->where, SLAB_FULL);
    assert_int_equal(__atomic_load_n(&parked->remote, __ATOMIC_ACQUIRE), SLAB_PARKED);
    /* Another thread frees every block of the parked slab. */
    size_t in_parked = n - 1;
    free_remotely(blocks, in_parked);
    assert_int_equal(__atomic_load_n(&parked->notify, __ATOMIC_ACQUIRE), SLAB_NOTIFY_QUEUED);
    /* Exhaust the second slab; the next blocks come from the revived slab. */
    size_t before = n;
    while (slab_of(blocks[n - 1]) == second)
        blocks[n++] = hak_malloc(SIZE);
    assert_ptr_equal(slab_of(blocks[n - 1]), parked);
    for (size_t i = in_parked; i < n; i++)
        hak_free(blocks[i]);
    (void)before;
    free(blocks);
}

/* Allocates blocks of `size` until the current slab is full and the owner
 * moves on: the blocks of the parked slab, and one of the next, end up in
 * `blocks`.  Returns the count; *parked is the parked slab. */
static size_t fill_and_park(size_t size, void **blocks, hak_slab **parked)
{
    size_t n = 0;
    blocks[n++] = hak_malloc(size);
    *parked = slab_of(blocks[0]);
    while (slab_of(blocks[n - 1]) == *parked)
        blocks[n++] = hak_malloc(size);
    assert_int_equal((*parked)->where, SLAB_FULL);
    return n;
}

static size_t times_pending(hak_slab *s)
{
    size_t k = 0;
    for (hak_slab *p = __atomic_load_n(&hak_tls_heap->slab_pending, __ATOMIC_ACQUIRE); p != NULL;
         p = p->pending_next)
        k += p == s;
    return k;
}

/* The handshake: the first remote free into a parked slab claims the
 * notification, publishes its block with SLAB_PARKED cleared and queues the
 * slab once; a later one only publishes. */
static void test_parked_slab_handshake(void **state)
{
    (void)state;
    void **blocks = calloc(SLAB_SIZE / SIZE + 2, sizeof(void *));
    hak_slab *parked;
    size_t n = fill_and_park(SIZE, blocks, &parked);
    assert_int_equal(__atomic_load_n(&parked->remote, __ATOMIC_ACQUIRE), SLAB_PARKED);
    assert_int_equal(__atomic_load_n(&parked->notify, __ATOMIC_ACQUIRE), SLAB_NOTIFY_IDLE);
    assert_int_equal(times_pending(parked), 0);

    free_remotely(&blocks[0], 1);
    assert_int_equal(__atomic_load_n(&parked->notify, __ATOMIC_ACQUIRE), SLAB_NOTIFY_QUEUED);
    assert_int_equal(__atomic_load_n(&parked->remote, __ATOMIC_ACQUIRE), (uintptr_t)blocks[0]);
    assert_null(((slab_block *)blocks[0])->next);
    assert_int_equal(times_pending(parked), 1);

    free_remotely(&blocks[1], 1);
    assert_int_equal(__atomic_load_n(&parked->remote, __ATOMIC_ACQUIRE), (uintptr_t)blocks[1]);
    assert_ptr_equal(((slab_block *)blocks[1])->next, blocks[0]);
    assert_int_equal(times_pending(parked), 1);
    assert_int_equal(parked->where, SLAB_FULL); /* until its owner takes it */

    for (size_t i = 2; i < n; i++)
        hak_free(blocks[i]);
    free(blocks);
}

/* The rest of a claimant's work (queue_on_owner), done late. */
static void *finish_queueing(void *arg)
{
    hak_slab *s = arg;
    hak_heap *h = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
    hak_slab *head = __atomic_load_n(&h->slab_pending, __ATOMIC_RELAXED);
    do {
        s->pending_next = head;
    } while (!__atomic_compare_exchange_n(&h->slab_pending, &head, s, true, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
    __atomic_store_n(&s->notify, SLAB_NOTIFY_QUEUED, __ATOMIC_RELEASE);
    return NULL;
}

/* A remote free claimed a parked slab and published its block, which the
 * owner drained, but has not queued the slab yet: the owner must not give
 * the slab back while it is PUSHING, nor while it is QUEUED, and must leave
 * no released slab on its pending stack, whichever comes first. */
static void test_empty_slab_waits_for_its_notification(void **state)
{
    (void)state;
    void **blocks = calloc(SLAB_SIZE / SIZE + 2, sizeof(void *));
    hak_slab *parked;
    size_t n = fill_and_park(SIZE, blocks, &parked);
    assert_ptr_equal(slab_of(blocks[n - 1])->segment, parked->segment); /* keeps it mapped */
    uint8_t idle = SLAB_NOTIFY_IDLE;
    assert_true(__atomic_compare_exchange_n(&parked->notify, &idle, SLAB_NOTIFY_PUSHING, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    __atomic_fetch_and(&parked->remote, ~SLAB_PARKED, __ATOMIC_RELAXED);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, finish_queueing, parked), 0);
    for (size_t i = 0; i < n - 1; i++)
        hak_free(blocks[i]); /* the last one empties it */
    assert_int_equal(pthread_join(t, NULL), 0);
    /* Retired: given back, or kept as its class's spare (slab.c). */
    assert_true(parked->where == SLAB_NO_CLASS || parked->where == SLAB_SPARE);
    assert_int_equal(__atomic_load_n(&parked->notify, __ATOMIC_ACQUIRE), SLAB_NOTIFY_IDLE);
    assert_int_equal(times_pending(parked), 0);
    hak_free(blocks[n - 1]);
    free(blocks);
}

/* Blocks a thread leaves live: fewer than a slab holds, the first slab of
 * a segment (after the header) too. */
#define LEAKED 32

typedef struct leaked {
    void *blocks[LEAKED];
    slab_segment *segment;
} leaked;

static void *allocate_and_exit(void *arg)
{
    leaked *l = arg;
    for (int i = 0; i < LEAKED; i++)
        l->blocks[i] = hak_malloc(SIZE);
    l->segment = slab_of(l->blocks[0])->segment;
    return NULL;
}

typedef struct adopter {
    size_t size;
    void *block;
    hak_heap *heap;
} adopter;

/* Allocates one block and exits, leaving it live. */
static void *allocate_one(void *arg)
{
    adopter *a = arg;
    a->block = hak_malloc(a->size);
    a->heap = hak_tls_heap;
    return NULL;
}

static void *free_batch_with_heap(void *arg)
{
    hak_free(hak_malloc(1)); /* a heap of its own, as any allocating thread has */
    return free_batch(arg);
}

/* A thread exits with live blocks: its slabs and its segment lose their
 * owner and wait, orphaned, for threads that need them. */
static void test_exited_thread_slabs_are_adopted(void **state)
{
    (void)state;
    leaked l;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, allocate_and_exit, &l), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    hak_slab *s = slab_of(l.blocks[0]);
    assert_null(__atomic_load_n(&s->owner, __ATOMIC_ACQUIRE));
    assert_int_equal(s->where, SLAB_ORPHAN);
    assert_null(__atomic_load_n(&l.segment->owner, __ATOMIC_ACQUIRE));

    /* A thread needing the class takes the orphaned slab, not a new one. */
    adopter a = {SIZE, NULL, NULL};
    assert_int_equal(pthread_create(&t, NULL, allocate_one, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_ptr_equal(slab_of(a.block), s);
    /* It exited too: orphaned again, with its block and the leaked ones. */
    assert_null(__atomic_load_n(&s->owner, __ATOMIC_ACQUIRE));
    assert_int_equal(s->used, LEAKED + 1);

    /* A thread that frees into an orphaned slab takes it over: its frees
     * are owner frees from then on, and the last one gives the slab back. */
    batch b = {l.blocks, LEAKED / 2};
    assert_int_equal(pthread_create(&t, NULL, free_batch_with_heap, &b), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(s->used, LEAKED / 2 + 1);
    hak_free(a.block);
    assert_ptr_equal(__atomic_load_n(&s->owner, __ATOMIC_ACQUIRE), hak_tls_heap);
    for (int i = LEAKED / 2; i < LEAKED; i++)
        hak_free(l.blocks[i]);
    assert_int_equal(s->where, SLAB_NO_CLASS);

    /* A thread needing a new slab cuts it from the orphaned segment. */
    adopter c = {512, NULL, NULL};
    assert_int_equal(pthread_create(&t, NULL, allocate_one, &c), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_ptr_equal(slab_of(c.block)->segment, l.segment);
    hak_free(c.block);
}

/* A class whose live blocks fill its slabs exactly has its free blocks
 * spread thin: an owner's free into a parked slab must not make it worth a
 * refill at once, or each refill would yield one block (tiny_random of 64 B
 * blocks refilled on 87% of its allocations).  A parked slab stays parked
 * until enough of it is free (slab_unpark_worth). */
#define FULL_SIZE 288 /* another class */
#define FULL_SLABS 4

static void test_parked_slab_waits_for_enough_free(void **state)
{
    (void)state;
    static void *blocks[FULL_SLABS * SLAB_SIZE / FULL_SIZE];
    size_t n = 0;
    hak_slab *cur = NULL;
    /* Allocate until FULL_SLABS slabs are full and the last one exhausted. */
    for (unsigned slabs = 0; slabs < FULL_SLABS || cur->used < cur->capacity;) {
        blocks[n++] = hak_malloc(FULL_SIZE);
        if (slab_of(blocks[n - 1]) != cur) {
            cur = slab_of(blocks[n - 1]);
            slabs++;
        }
    }
    hak_slab *parked = slab_of(blocks[0]);
    assert_int_equal(parked->where, SLAB_FULL);
    size_t worth = slab_unpark_worth(parked), freed = 0;
    for (size_t i = 0; i < n && freed < worth; i++) {
        if (slab_of(blocks[i]) != parked)
            continue;
        assert_int_equal(parked->where, SLAB_FULL);
        hak_free(blocks[i]);
        blocks[i] = NULL;
        freed++;
    }
    assert_int_equal(freed, worth);
    assert_int_equal(parked->where, SLAB_AVAIL);
    assert_int_equal(__atomic_load_n(&parked->remote, __ATOMIC_ACQUIRE), 0);

    /* Random replacement over the full slabs: refills (the current slab
     * changing) stay rare. */
    unsigned cls = parked->class_idx;
    hak_slab *last = hak_tls_heap->slab_cur[cls];
    uint64_t rng = 88172645463325252ull;
    size_t ops = 200000, switches = 0;
    for (size_t i = 0; i < ops; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t k = (size_t)(rng % n);
        hak_free(blocks[k]);
        blocks[k] = hak_malloc(FULL_SIZE);
        switches += hak_tls_heap->slab_cur[cls] != last;
        last = hak_tls_heap->slab_cur[cls];
    }
    print_message("%zu slab switches in %zu replacements\n", switches, ops);
    assert_true(switches * 32 < ops);
    for (size_t i = 0; i < n; i++)
        hak_free(blocks[i]);
}

/* A small class's frees into its slabs other than the current one go to
 * the class's stash, which becomes the current slab once it holds a few:
 * the block freed last goes out next, whatever its slab. */
#define STASH_SIZE 48

static void test_small_class_frees_go_out_last_first(void **state)
{
    (void)state;
    static void *blocks[2 * SLAB_SIZE / STASH_SIZE];
    hak_slab *first;
    size_t n = fill_and_park(STASH_SIZE, blocks, &first);
    unsigned cls = first->class_idx;
    hak_slab *cur = hak_tls_heap->slab_cur[cls];
    assert_ptr_not_equal(cur, first);
    assert_true(first->stashes);
    /* Freed into a slab that is not current: stashed, still counted used
     * in their slab.  24: past the 16 that make the stash current, within
     * the 32 any stash holds. */
    uint32_t used = first->used;
    void *last = NULL;
    for (size_t i = 0; i < 2 * 24 && slab_of(blocks[i]) == first; i += 2) {
        hak_free(blocks[i]);
        last = blocks[i];
        blocks[i] = NULL;
    }
    assert_int_equal(first->used, used);
    assert_int_equal(hak_tls_heap->slab_cur[cls]->where, SLAB_STASH);
    void *again = hak_malloc(STASH_SIZE);
    assert_ptr_equal(again, last);
    hak_free(again);
    for (size_t i = 0; i < n; i++)
        hak_free(blocks[i]);
}

/* A class above 256 B stashes the owner's frees too, but one switch's worth
 * only (stash_own_limit): held there, each pins its slab (Larson's peak at
 * 16 threads: 81 -> 89 MiB with a slab's worth).  The 16th makes the stash
 * current; the frees after it go to their slab. */
static void test_big_class_stashes_a_switch_worth(void **state)
{
    (void)state;
    static void *blocks[2 * SLAB_SIZE / SIZE + 2];
    hak_slab *first;
    size_t n = fill_and_park(SIZE, blocks, &first);
    unsigned cls = first->class_idx;
    assert_true(first->stashes);
    assert_ptr_not_equal(hak_tls_heap->slab_cur[cls], first);
    uint32_t used = first->used;
    void *sixteenth = NULL;
    size_t freed = 0;
    for (size_t i = 0; i < n && freed < STASH_SWITCH + 4; i++) {
        if (slab_of(blocks[i]) != first)
            continue;
        hak_free(blocks[i]);
        if (++freed == STASH_SWITCH)
            sixteenth = blocks[i];
        blocks[i] = NULL;
    }
    assert_int_equal(freed, STASH_SWITCH + 4);
    assert_int_equal(first->used, used - 4); /* 16 stashed, 4 back in their slab */
    assert_int_equal(hak_tls_heap->slab_cur[cls]->where, SLAB_STASH);
    void *again = hak_malloc(SIZE);
    assert_ptr_equal(again, sixteenth);
    hak_free(again);
    for (size_t i = 0; i < n; i++)
        hak_free(blocks[i]);
}

/* Runs this program again with `argv1` and the environment `env`; its exit
 * status must be 0. */
static char *self_path;

static void run_self(char *argv1, char *env)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {self_path, argv1, NULL};
        char *envp[] = {env, NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Run as `test_slab standalone` under HAKMEM_TINY_USE_SUPERSLAB=0: slabs
 * must come in 64 KiB segments of two. */
static int standalone_check(void)
{
    enum { N = 5000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = hak_malloc(SIZE);
    slab_segment *g = slab_of(p[0])->segment;
    int ok = hak_env.tiny_use_superslab == 0 && g->slab_count == STANDALONE_SLABS &&
             (uintptr_t)g % (STANDALONE_SLABS * SLAB_SIZE) == 0 && slab_of(p[N - 1])->segment != g &&
             hak_reg_lookup((char *)g + SLAB_SIZE) != hak_reg_lookup(g);
    for (int i = 0; i < N; i++)
        hak_free(p[i]);
    return ok ? 0 : 1;
}

static void test_standalone_slabs(void **state)
{
    (void)state;
    run_self("standalone", "HAKMEM_TINY_USE_SUPERSLAB=0");
}

/* The slab engine under the stash: carving, remote frees, parking and its
 * handshake, unparking, adoption. */
static int slab_engine_tests(void)
{
    if (hak_purge_delay_ms() != 0)
        return 1; /* the owner's frees would be stashed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_superslab_carving),
        cmocka_unit_test(test_remote_frees_to_current_slab_are_drained),
        cmocka_unit_test(test_parked_full_slab_is_revived),
        cmocka_unit_test(test_parked_slab_handshake),
        cmocka_unit_test(test_empty_slab_waits_for_its_notification),
        cmocka_unit_test(test_exited_thread_slabs_are_adopted),
        cmocka_unit_test(test_parked_slab_waits_for_enough_free),
    };
    return cmocka_run_group_tests_name("slab engine, no stash", tests, NULL, NULL);
}

static void test_slab_engine_without_stash(void **state)
{
    (void)state;
    run_self("unstashed", "HAKMEM_PURGE_DELAY_MS=0");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "standalone") == 0)
        return standalone_check();
    if (argc > 1 && strcmp(argv[1], "unstashed") == 0)
        return slab_engine_tests();
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slab_engine_without_stash),
        cmocka_unit_test(test_small_class_frees_go_out_last_first),
        cmocka_unit_test(test_big_class_stashes_a_switch_worth),
        cmocka_unit_test(test_standalone_slabs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
