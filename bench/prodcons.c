/* prodcons: producer-consumer, every block freed by a thread that did not
 * allocate it.
 *
 * One thread allocates blocks of random sizes in [m, M], fills them and
 * passes them through a bounded single-producer single-consumer ring to a
 * second thread, which checks and frees them.  The allocator must hand the
 * frees back to the producer's memory (remote frees) and reuse them, or its
 * footprint grows without bound.  An op is one block passed (a malloc on one
 * thread and a free on the other).
 */
#include <pthread.h>
#include <sched.h>

#include "bench.h"

typedef struct {
    void *p;
    size_t size;
} pc_item;

static struct {
    pc_item *slots;
    size_t cap;
    _Alignas(64) atomic_size_t head; /* written by the producer */
    _Alignas(64) atomic_size_t tail; /* written by the consumer */
    _Alignas(64) atomic_int stop;
} ring;

static uint64_t pc_seed;
static size_t pc_lo, pc_hi;

static void pc_wait(unsigned *spins)
{
    if (++*spins > 64) {
        sched_yield();
        *spins = 0;
    }
}

static void *pc_producer(void *arg)
{
    (void)arg;
    uint64_t s = pc_seed;
    size_t head = 0, tail = 0;
    for (;;) {
        int stop = atomic_load_explicit(&ring.stop, memory_order_relaxed);
        pc_item it = {NULL, 0};
        if (!stop) {
            it.size = bench_size(&s, pc_lo, pc_hi);
            it.p = bench_alloc_filled(it.size);
        }
        unsigned spins = 0;
        while (head - tail == ring.cap) {
            tail = atomic_load_explicit(&ring.tail, memory_order_acquire);
            if (head - tail == ring.cap)
                pc_wait(&spins);
        }
        ring.slots[head % ring.cap] = it;
        atomic_store_explicit(&ring.head, ++head, memory_order_release);
        if (stop)
            return NULL;
    }
}

static void *pc_consumer(void *arg)
{
    uint64_t *count = arg;
    size_t head = 0, tail = 0;
    for (;;) {
        unsigned spins = 0;
        while (tail == head) {
            head = atomic_load_explicit(&ring.head, memory_order_acquire);
            if (tail == head)
                pc_wait(&spins);
        }
        pc_item it = ring.slots[tail % ring.cap];
        atomic_store_explicit(&ring.tail, ++tail, memory_order_release);
        if (!it.p)
            return NULL;
        bench_free_checked(it.p, it.size);
        ++*count;
    }
}

int main(int argc, char **argv)
{
    double seconds = 2, lo = 16, hi = 1024, cap = 4096, seed = 1;
    const bench_opt opts[] = {
        {'s', "seconds to run", &seconds},
        {'m', "smallest block (bytes, >= 8)", &lo},
        {'M', "largest block (bytes)", &hi},
        {'q', "blocks in flight (ring capacity)", &cap},
        {'S', "random seed", &seed},
    };
    bench_parse(argc, argv, "Producer-consumer: one thread allocates, another frees.", opts,
                sizeof opts / sizeof opts[0]);
    if (lo < 8 || hi < lo || cap < 1)
        bench_usage(argv[0], "bad parameters", opts, sizeof opts / sizeof opts[0]);
    pc_lo = (size_t)lo;
    pc_hi = (size_t)hi;
    pc_seed = bench_seed((uint64_t)seed, 0);
    ring.cap = (size_t)cap;
    ring.slots = bench_malloc(ring.cap * sizeof *ring.slots);

    uint64_t count = 0;
    pthread_t prod, cons;
    double start = bench_now();
    if (pthread_create(&cons, NULL, pc_consumer, &count) != 0 ||
        pthread_create(&prod, NULL, pc_producer, NULL) != 0) {
        fprintf(stderr, "error: pthread_create failed\n");
        return 1;
    }
    bench_sleep(seconds);
    atomic_store(&ring.stop, 1);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    double elapsed = bench_now() - start;
    free(ring.slots);
    char line[256];
    snprintf(line, sizeof line, "min=%g max=%g ops=%llu seconds=%.3f ops_per_sec=%.0f", lo, hi,
             (unsigned long long)count, elapsed, (double)count / elapsed);
    bench_report("prodcons", line);
    printf("prodcons: %g-%g B allocated on one thread and freed on another, %.2f M blocks/s\n", lo, hi,
           (double)count / elapsed / 1e6);
    return 0;
}
