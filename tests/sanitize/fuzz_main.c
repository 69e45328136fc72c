/*
 * main() for a libFuzzer harness built without libFuzzer (gcc has none):
 * replays every file named (a corpus; a directory means its files), then
 * runs a bounded number of generated inputs, each a mutation of a corpus
 * file or fresh random bytes, from a seed that is printed so a failure can
 * be replayed.  Under AddressSanitizer a bad access stops it with a report.
 *
 *   fuzz_X [--runs N] [--seed S] [--max-len L] [CORPUS...]
 *
 * The harness's own stderr (hakmem's warnings) goes to /dev/null; the
 * sanitizers report on the original stderr.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    uint8_t *data;
    size_t size;
} input;

static input *corpus;
static size_t corpus_len, corpus_cap;

static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    input in = {NULL, 0};
    size_t cap = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (in.size == cap && (in.data = realloc(in.data, cap = cap * 2 + 64)) == NULL)
            exit(2);
        in.data[in.size++] = (uint8_t)c;
    }
    fclose(f);
    if (corpus_len == corpus_cap &&
        (corpus = realloc(corpus, (corpus_cap = corpus_cap * 2 + 16) * sizeof *corpus)) == NULL)
        exit(2);
    corpus[corpus_len++] = in;
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            add_path(full);
        }
        if (d != NULL)
            closedir(d);
        return;
    }
    add_file(path);
}

/* A corpus file changed by a few random edits, or random bytes. */
static size_t generate(uint8_t *buf, size_t max, uint64_t *rng)
{
    size_t n = 0;
    if (corpus_len > 0 && next_random(rng) % 8 != 0) {
        input *in = &corpus[next_random(rng) % corpus_len];
        n = in->size < max ? in->size : max;
        memcpy(buf, in->data, n);
    } else {
        n = (size_t)(next_random(rng) % (max + 1));
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)next_random(rng);
        return n;
    }
    for (int edits = 1 + (int)(next_random(rng) % 8); edits > 0; edits--) {
        size_t at = n > 0 ? (size_t)(next_random(rng) % n) : 0;
        switch (next_random(rng) % 5) {
        case 0: /* flip a byte */
            if (n > 0)
                buf[at] ^= (uint8_t)(1u << (next_random(rng) % 8));
            break;
        case 1: /* a random byte in */
            if (n < max) {
                memmove(buf + at + 1, buf + at, n - at);
                buf[at] = (uint8_t)next_random(rng);
                n++;
            }
            break;
        case 2: /* a span out */
            if (n > 0) {
                size_t len = 1 + (size_t)(next_random(rng) % (n - at));
                memmove(buf + at, buf + at + len, n - at - len);
                n -= len;
            }
            break;
        case 3: /* a span repeated */
            if (n > 0) {
                size_t len = 1 + (size_t)(next_random(rng) % (n - at));
                if (len > max - n)
                    len = max - n;
                memmove(buf + at + len, buf + at, n - at);
                n += len;
            }
            break;
        case 4: /* a digit or a boundary value */
            if (n > 0)
                buf[at] = (uint8_t) "0123456789-+=\n\0\xff"[next_random(rng) % 16];
            break;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    long runs = 10000;
    uint64_t seed = 1;
    size_t max_len = 4096;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--runs") == 0)
            runs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(argv[i + 1], NULL, 0);
        else if (strcmp(argv[i], "--max-len") == 0)
            max_len = strtoull(argv[i + 1], NULL, 0);
        else
            break;
    }
    for (; i < argc; i++)
        add_path(argv[i]);
    printf("%s: %zu corpus inputs, %ld generated, seed %llu (--seed to replay)\n", argv[0],
           corpus_len, runs, (unsigned long long)seed);
    fflush(stdout);

    int report_fd = dup(STDERR_FILENO);
    __sanitizer_set_report_fd((void *)(intptr_t)report_fd);
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDERR_FILENO);

    for (size_t k = 0; k < corpus_len; k++)
        LLVMFuzzerTestOneInput(corpus[k].data, corpus[k].size);
    uint8_t *buf = malloc(max_len + 1);
    uint64_t rng = seed;
    for (long r = 0; r < runs; r++)
        LLVMFuzzerTestOneInput(buf, generate(buf, max_len, &rng));
    free(buf);
    for (size_t k = 0; k < corpus_len; k++)
        free(corpus[k].data);
    free(corpus);
    printf("%s: done, no finding\n", argv[0]);
    return 0;
}
