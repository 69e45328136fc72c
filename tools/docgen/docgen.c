#define _GNU_SOURCE
#include "docgen.h"

#include <stdlib.h>
#include <string.h>

/* The whole of a file, NUL-terminated, or NULL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (cap - *len < 4096)
            text = realloc(text, cap = cap * 2 + 4096);
        size_t n = fread(text + *len, 1, cap - *len - 1, f);
        *len += n;
        if (n == 0)
            break;
    }
    text[*len] = '\0';
    fclose(f);
    return text;
}

static int check(const docgen *g, const char *path, const char *expected, size_t expected_len)
{
    size_t len;
    char *actual = read_file(path, &len);
    bool same = actual != NULL && len == expected_len && memcmp(actual, expected, len) == 0;
    free(actual);
    if (!same)
        fprintf(stderr,
                "%s is out of date with %s; regenerate it with\n"
                "  cmake --build <build directory> --target %s\n",
                path, g->table, g->target);
    return same ? 0 : 1;
}

static int write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(text, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (!ok)
        perror(path);
    return ok ? 0 : 1;
}

int docgen_main(const docgen *g, int argc, char **argv)
{
    char *text;
    size_t len;
    if (argc > 3 || (argc == 3 && strcmp(argv[1], "--check") != 0)) {
        fprintf(stderr, "usage: %s [[--check] FILE]\n", argv[0]);
        return 2;
    }
    if (!g->table_is_valid())
        return 1;
    FILE *mem = open_memstream(&text, &len);
    g->put_document(mem);
    fclose(mem);
    int status = argc == 3   ? check(g, argv[2], text, len)
                 : argc == 2 ? write_file(argv[1], text, len)
                             : (fwrite(text, 1, len, stdout) == len ? 0 : 1);
    free(text);
    return status;
}
