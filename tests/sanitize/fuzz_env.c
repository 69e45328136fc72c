/*
 * Fuzz harness of the HAKMEM_* parser (src/env/env.c): the input is a list
 * of environment entries, one a line, given to hak_env_load.  A line that
 * does not start with HAKMEM_ gets it put in front, so mutations make near
 * misses of real names; "@" and a byte k stand for the k-th real variable's
 * name (every name reachable without a dictionary).  After each load every
 * value must lie within what env.def allows for it, and the configuration
 * printout must run.  HAKMEM_STRICT_ENV is left out: it would exit.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env/env.h"

#define PREFIX "HAKMEM_"
enum { MAX_ENTRIES = 256, MAX_ENTRY = 1 << 17 };

static char *entries[MAX_ENTRIES + 1];

/* The line as an environment entry, in a fresh heap block (so ASan sees any
 * read past its end); NULL if it is to be left out. */
static char *make_entry(const char *line, size_t len)
{
    const char *name = NULL;
    if (len >= 2 && line[0] == '@') {
        name = hak_env_name((hak_env_id)((unsigned char)line[1] % HAK_ENV_COUNT));
        line += 2;
        len -= 2;
    } else if (len < strlen(PREFIX) || memcmp(line, PREFIX, strlen(PREFIX)) != 0) {
        name = PREFIX;
    }
    size_t head = name != NULL ? strlen(name) : 0;
    char *e = malloc(head + len + 1);
    if (e == NULL)
        abort();
    memcpy(e, name, head);
    memcpy(e + head, line, len);
    e[head + len] = '\0'; /* an embedded NUL ends the entry there, as in a real environment */
    if (strncmp(e, "HAKMEM_STRICT_ENV=", 18) == 0 || strcmp(e, "HAKMEM_STRICT_ENV") == 0) {
        free(e);
        return NULL;
    }
    return e;
}

static size_t choices_count(const char *choices)
{
    size_t n = 1;
    for (; *choices != '\0'; choices++)
        n += *choices == '|';
    return n;
}

/* Every value as env.def allows it, whatever the input was. */
static void check_values(void)
{
#define CHECK_BOOL(f, min, max, choices) (hak_env.f == 0 || hak_env.f == 1)
#define CHECK_INT(f, min, max, choices) (hak_env.f >= (min) && hak_env.f <= (max))
#define CHECK_SIZE(f, min, max, choices) CHECK_INT(f, min, max, choices)
#define CHECK_ENUM(f, min, max, choices)                                                           \
    (hak_env.f >= 0 && (size_t)hak_env.f < choices_count(choices))
#define CHECK_PATH(f, min, max, choices)                                                           \
    (hak_env.f != NULL && hak_env.f[0] != '\0' && strlen(hak_env.f) < 4096)
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc)                                 \
    if (!CHECK_##type(field, min, max, choices))                                                   \
        abort();
#include "env/env.def"
#undef HAKMEM_ENV
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int null_fd = -1;
    if (null_fd < 0)
        null_fd = open("/dev/null", O_WRONLY);
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end && n < MAX_ENTRIES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl != NULL ? nl : end) - p);
        if (len <= MAX_ENTRY && (entries[n] = make_entry(p, len)) != NULL)
            n++;
        p += len + 1;
    }
    entries[n] = NULL;
    int warnings = hak_env_load(entries);
    if (warnings < 0 || (uint64_t)warnings != hak_env_warnings())
        abort();
    check_values();
    hak_env_write_config(null_fd);
    for (size_t i = 0; i < n; i++)
        free(entries[i]);
    return 0;
}
