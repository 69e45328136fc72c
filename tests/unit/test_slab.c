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

#define SIZE 48 /* any tiny class */

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
    /* Every unit of the SuperSlab points at its own slab descriptor. */
    for (uint32_t i = 0; i < g->slab_count; i++)
        assert_ptr_equal(hak_reg_meta(hak_reg_lookup((char *)g + i * SLAB_SIZE + 100)),
                         &g->slabs[i]);
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
    while (s->free != NULL || s->local_free != NULL || s->carved < s->capacity) {
        blocks[mine] = hak_malloc(SIZE);
        assert_ptr_equal(slab_of(blocks[mine]), s);
        mine++;
    }
    assert_ptr_equal(hak_tls_heap->slab_cur[s->class_idx], s);
    free_remotely(blocks, mine);
    assert_non_null(__atomic_load_n(&s->remote, __ATOMIC_ACQUIRE));
    for (size_t i = 0; i < mine; i++) {
        blocks[i] = hak_malloc(SIZE);
        assert_ptr_equal(slab_of(blocks[i]), s);
    }
    assert_int_equal(s->used, mine);
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
    assert_int_equal(__atomic_load_n(&parked->full, __ATOMIC_ACQUIRE), 1);
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

typedef struct leaked {
    void *blocks[1000];
    slab_segment *segment;
} leaked;

static void *allocate_and_exit(void *arg)
{
    leaked *l = arg;
    for (int i = 0; i < 1000; i++)
        l->blocks[i] = hak_malloc(SIZE);
    l->segment = slab_of(l->blocks[0])->segment;
    return NULL;
}

static void *adopt(void *arg)
{
    slab_segment **out = arg;
    void *p = hak_malloc(SIZE);
    *out = slab_of(p)->segment;
    hak_free(p);
    return NULL;
}

/* A thread exits with live blocks: its slabs lose their owner, frees of
 * those blocks still work, and the next thread adopts the segment instead
 * of mapping a new one. */
static void test_exited_thread_slabs_are_adopted(void **state)
{
    (void)state;
    leaked l;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, allocate_and_exit, &l), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    hak_slab *s = slab_of(l.blocks[0]);
    assert_null(__atomic_load_n(&s->owner, __ATOMIC_ACQUIRE));
    assert_null(l.segment->owner);
    for (int i = 0; i < 500; i++)
        hak_free(l.blocks[i]); /* ownerless: remote frees */
    slab_segment *adopted;
    assert_int_equal(pthread_create(&t, NULL, adopt, &adopted), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_ptr_equal(adopted, l.segment);
    for (int i = 500; i < 1000; i++)
        hak_free(l.blocks[i]);
}

/* Run as `test_slab standalone` under HAKMEM_TINY_USE_SUPERSLAB=0: each
 * slab must be a 64 KiB segment of its own. */
static int standalone_check(void)
{
    enum { N = 5000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = hak_malloc(SIZE);
    slab_segment *g = slab_of(p[0])->segment;
    int ok = hak_env.tiny_use_superslab == 0 && g->slab_count == 1 &&
             (uintptr_t)g % SLAB_SIZE == 0 && slab_of(p[N - 1])->segment != g &&
             hak_reg_lookup((char *)g + SLAB_SIZE) != hak_reg_lookup(g);
    for (int i = 0; i < N; i++)
        hak_free(p[i]);
    return ok ? 0 : 1;
}

static char *self_path;

static void test_standalone_slabs(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {self_path, "standalone", NULL};
        char *envp[] = {"HAKMEM_TINY_USE_SUPERSLAB=0", NULL};
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "standalone") == 0)
        return standalone_check();
    self_path = argv[0];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_superslab_carving),
        cmocka_unit_test(test_remote_frees_to_current_slab_are_drained),
        cmocka_unit_test(test_parked_full_slab_is_revived),
        cmocka_unit_test(test_exited_thread_slabs_are_adopted),
        cmocka_unit_test(test_standalone_slabs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
