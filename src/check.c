#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "env/env.h"
#include "fmt.h"
#include "large.h"
#include "mid/shared_pool.h"
#include "slab/slab.h"

bool hak_check_enabled;
static uintptr_t secret;

void hak_check_init(void)
{
    hak_check_enabled = hak_env.check;
    /* 16 random bytes the kernel gives every process: no system call.  They
     * need not be aligned (UBSan found one at an odd address): copied. */
    const void *random = (const void *)getauxval(AT_RANDOM);
    uintptr_t r = (uintptr_t)&secret;
    if (random != NULL)
        memcpy(&r, random, sizeof r);
    secret = r | 1;
}

static uintptr_t mark_of(const void *p) { return (uintptr_t)p ^ secret; }

static __attribute__((noreturn)) void report(const char *what, const void *p, size_t size,
                                             const char *tier)
{
    char line[256];
    hak_buf b = HAK_BUF_INIT(line);
    hak_buf_str(&b, "hakmem: ");
    hak_buf_str(&b, what);
    hak_buf_str(&b, " ");
    hak_buf_hex(&b, (uintptr_t)p);
    if (size != 0) {
        hak_buf_str(&b, " (a block of ");
        hak_buf_u64(&b, size);
        hak_buf_str(&b, " B in the ");
        hak_buf_str(&b, tier);
        hak_buf_str(&b, " tier)");
    }
    hak_buf_str(&b, "; HAKMEM_CHECK=1 aborts\n");
    hak_buf_flush(&b, STDERR_FILENO);
    abort();
}

/* A block of `size` bytes in [start, start + capacity * size). */
static void check_block(void *p, char *start, size_t size, size_t capacity, const char *tier)
{
    char *c = p;
    if (c < start || c >= start + capacity * size || (size_t)(c - start) % size != 0)
        report("free of a pointer into the middle of a block:", p, size, tier);
    uintptr_t *word = p;
    if (word[1] == mark_of(p))
        report("double free of", p, size, tier);
    word[1] = mark_of(p);
}

/* A run's start; a free unit's means its run was freed and went back to
 * its chunk (a run still in a thread cache carries the mark). */
static void check_run(run_chunk *k, void *p)
{
    switch (runs_check_free(k, p)) {
    case RUNS_MISUSE_NONE:
        break;
    case RUNS_MISUSE_FREED:
        report("double free (or a stale pointer; its pages are free) of", p, 0, NULL);
    case RUNS_MISUSE_INTERIOR:
        report("free of a pointer into the middle of a block:", p, 0, NULL);
    }
    size_t size = runs_block_size(k, p);
    check_block(p, p, size, 1, "pool");
}

void hak_check_free(hak_reg_entry e, void *p)
{
    switch (hak_reg_kind(e)) {
    case HAK_KIND_SLAB: {
        hak_slab *s = hak_reg_meta(e);
        if (s->where == SLAB_NO_CLASS) /* freed already, and its slab emptied since */
            report("double free (or a stale pointer; its slab is empty) of", p, 0, NULL);
        check_block(p, s->start, s->block_size, s->capacity,
                    s->class_idx < HAK_TINY_CLASSES ? "tiny" : "mid (MF2)");
        break;
    }
    case HAK_KIND_SPOOL: {
        spool_slab *s = hak_reg_meta(e);
        check_block(p, s->start, s->block_size, s->capacity,
                    hak_class_tier[s->class_idx] == HAK_TIER_MID ? "mid" : "pool");
        break;
    }
    case HAK_KIND_RUNS:
        check_run(hak_reg_meta(e), p);
        break;
    case HAK_KIND_LARGE:
        if (large_header_of(hak_reg_meta(e), p) == NULL)
            report("free of a pointer into the middle of a large block:", p, 0, NULL);
        break;
    }
}
