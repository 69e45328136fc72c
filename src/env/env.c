/*
 * The HAKMEM_* environment layer: one table, built from env.def, drives
 * parsing, validation, the warnings and the configuration printout.
 *
 * This runs inside the first malloc, so nothing here allocates: no stdio, no
 * getenv, no locale.  Values are parsed straight out of `environ` and every
 * line is built in a stack buffer and written with write(2).
 */
#include "env.h"

#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "fmt.h"

extern char **environ;

#define ENV_PREFIX "HAKMEM_"
#define ENV_PREFIX_LEN (sizeof(ENV_PREFIX) - 1)
/* Longest name the edit distance looks at; longer names are compared by
 * their first ENV_NAME_MAX characters. */
#define ENV_NAME_MAX 64
/* Longest value or name quoted in a warning, so a line always fits. */
#define ENV_SHOW_MAX 160
#define ENV_LINE_MAX 512

// ------------------------------------------------------------- the table

typedef struct env_row {
    const char *name; /* "HAKMEM_..." */
    hak_env_type type;
    int64_t min, max;    /* INT, SIZE */
    const char *choices; /* ENUM: "word|word|..." */
    size_t offset;       /* of the field in hak_env_values */
} env_row;

static const env_row env_rows[HAK_ENV_COUNT] = {
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc)                                 \
    {ENV_PREFIX #name, HAK_ENV_##type, (min), (max), (choices), offsetof(hak_env_values, field)},
#include "env.def"
#undef HAKMEM_ENV
};

/* The default column is a number or, for PATH, a string: either initialises
 * its field as it is.  hak_env starts at the defaults so that code running
 * before hak_env_init (the bootstrap) sees sane values. */
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc) .field = (def),
static const hak_env_values env_defaults = {
#include "env.def"
};
hak_env_values hak_env = {
#include "env.def"
};
#undef HAKMEM_ENV

static bool env_from_environment[HAK_ENV_COUNT];
static uint64_t env_warning_count;
static bool env_initialized;

static const void *env_slot(const hak_env_values *values, const env_row *r)
{
    return (const char *)values + r->offset;
}

// ------------------------------------------------------------- parsing

/* ASCII only: the locale functions may allocate and are not set up yet. */
static char env_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* s equals the n characters at word, ignoring case. */
static bool env_span_eq(const char *s, const char *word, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || env_lower(s[i]) != env_lower(word[i]))
            return false;
    return s[n] == '\0';
}

static bool env_word_eq(const char *s, const char *word)
{
    return env_span_eq(s, word, strlen(word));
}

/* Decimal digits at *s (at least one), advancing *s past them. */
static bool env_parse_digits(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *s = p;
    *out = v;
    return true;
}

static bool env_in_range(const env_row *r, int64_t v, int64_t *out)
{
    if (v < r->min || v > r->max)
        return false;
    *out = v;
    return true;
}

static bool env_parse_bool(const char *s, int64_t *out)
{
    static const char *const words[2][4] = {{"0", "false", "no", "off"},
                                            {"1", "true", "yes", "on"}};
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < 4; i++) {
            if (env_word_eq(s, words[v][i])) {
                *out = v;
                return true;
            }
        }
    }
    return false;
}

static bool env_parse_int(const env_row *r, const char *s, int64_t *out)
{
    bool negative = *s == '-';
    uint64_t magnitude;
    s += negative;
    if (!env_parse_digits(&s, &magnitude) || *s != '\0' || magnitude > (uint64_t)INT64_MAX)
        return false;
    return env_in_range(r, negative ? -(int64_t)magnitude : (int64_t)magnitude, out);
}

/* "", or K, M, G followed by nothing, "B" or "iB"; any case. */
static bool env_parse_unit(const char *s, uint64_t *unit)
{
    static const char letters[] = "kmg";
    *unit = 1;
    if (*s == '\0')
        return true;
    for (const char *l = letters; *l != '\0'; l++) {
        *unit <<= 10;
        if (env_lower(*s) == *l)
            return s[1] == '\0' || env_word_eq(s + 1, "b") || env_word_eq(s + 1, "ib");
    }
    return false;
}

static bool env_parse_size(const env_row *r, const char *s, int64_t *out)
{
    uint64_t count, unit;
    if (!env_parse_digits(&s, &count) || !env_parse_unit(s, &unit) ||
        count > (uint64_t)INT64_MAX / unit)
        return false;
    return env_in_range(r, (int64_t)(count * unit), out);
}

static bool env_parse_enum(const env_row *r, const char *s, int64_t *out)
{
    const char *word = r->choices;
    for (int64_t i = 0; *word != '\0'; i++) {
        size_t n = strcspn(word, "|");
        if (env_span_eq(s, word, n)) {
            *out = i;
            return true;
        }
        word += n + (word[n] == '|');
    }
    return false;
}

static bool env_parse_number(const env_row *r, const char *s, int64_t *out)
{
    switch (r->type) {
    case HAK_ENV_BOOL:
        return env_parse_bool(s, out);
    case HAK_ENV_INT:
        return env_parse_int(r, s, out);
    case HAK_ENV_SIZE:
        return env_parse_size(r, s, out);
    case HAK_ENV_ENUM:
        return env_parse_enum(r, s, out);
    case HAK_ENV_PATH:
        break;
    }
    return false;
}

/* Stores the parsed value in hak_env; false (and hak_env untouched) if s is malformed. */
/* Path values are copied: programs rewrite their environment's memory to
 * change their process title (redis, nginx, postgres do), which would turn
 * a path pointing into it into something else.  Untouched .bss pages cost
 * nothing until a path is set. */
#define ENV_PATH_MAX 4096
static char env_paths[HAK_ENV_COUNT][ENV_PATH_MAX];

static bool env_store(const env_row *r, const char *s)
{
    void *slot = (char *)&hak_env + r->offset;
    int64_t v;
    if (r->type == HAK_ENV_PATH) {
        size_t len = strlen(s);
        if (len == 0 || len >= ENV_PATH_MAX)
            return false;
        char *copy = env_paths[r - env_rows];
        memcpy(copy, s, len + 1);
        *(const char **)slot = copy;
        return true;
    }
    if (!env_parse_number(r, s, &v))
        return false;
    *(int64_t *)slot = v;
    return true;
}

// ------------------------------------------------------------- printing

/* n characters of s, at most ENV_SHOW_MAX, control characters as '?': a
 * warning is one line, whatever the environment holds. */
static void env_buf_text(hak_buf *b, const char *s, size_t n)
{
    size_t shown = n < ENV_SHOW_MAX ? n : ENV_SHOW_MAX;
    for (size_t i = 0; i < shown; i++)
        hak_buf_char(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
    if (shown < n)
        hak_buf_str(b, "...");
}

static void env_buf_quoted(hak_buf *b, const char *s)
{
    hak_buf_char(b, '"');
    env_buf_text(b, s, strlen(s));
    hak_buf_char(b, '"');
}

static void env_buf_choice(hak_buf *b, const char *choices, int64_t index)
{
    const char *word = choices;
    for (int64_t i = 0; i < index && *word != '\0'; i++) {
        word += strcspn(word, "|");
        word += *word == '|';
    }
    hak_buf_mem(b, word, strcspn(word, "|"));
}

/* The value in a slot as the printouts show it: sizes in bytes, enums as their word. */
static void env_buf_value(hak_buf *b, const env_row *r, const void *slot)
{
    if (r->type == HAK_ENV_PATH) {
        const char *path = *(const char *const *)slot;
        env_buf_text(b, path, strlen(path));
    } else if (r->type == HAK_ENV_ENUM) {
        env_buf_choice(b, r->choices, *(const int64_t *)slot);
    } else {
        hak_buf_i64(b, *(const int64_t *)slot);
    }
}

static void env_buf_range(hak_buf *b, const env_row *r)
{
    hak_buf_char(b, '[');
    hak_buf_i64(b, r->min);
    hak_buf_str(b, ", ");
    hak_buf_i64(b, r->max);
    hak_buf_char(b, ']');
}

/* What a value of the row's type must look like, after "is not ". */
static void env_buf_expected(hak_buf *b, const env_row *r)
{
    switch (r->type) {
    case HAK_ENV_BOOL:
        hak_buf_str(b, "a boolean (0/1, true/false, yes/no, on/off)");
        break;
    case HAK_ENV_INT:
        hak_buf_str(b, "an integer in ");
        env_buf_range(b, r);
        break;
    case HAK_ENV_SIZE:
        hak_buf_str(b, "a size in ");
        env_buf_range(b, r);
        hak_buf_str(b, " bytes (optional suffix K, M or G)");
        break;
    case HAK_ENV_ENUM:
        hak_buf_str(b, "one of ");
        hak_buf_str(b, r->choices);
        break;
    case HAK_ENV_PATH:
        hak_buf_str(b, "a non-empty path shorter than 4096 bytes");
        break;
    }
}

/* Ends the line, even one that filled the buffer, and writes it. */
static void env_flush_line(hak_buf *b, int fd)
{
    if (b->len == b->cap)
        b->len--;
    hak_buf_char(b, '\n');
    hak_buf_flush(b, fd);
}

// ------------------------------------------------------------- warnings

static void env_warn_malformed(const env_row *r, const char *value)
{
    char line[ENV_LINE_MAX];
    hak_buf b = HAK_BUF_INIT(line);
    hak_buf_str(&b, "hakmem: ");
    hak_buf_str(&b, r->name);
    hak_buf_char(&b, '=');
    env_buf_quoted(&b, value);
    hak_buf_str(&b, " is not ");
    env_buf_expected(&b, r);
    hak_buf_str(&b, "; using the default ");
    if (r->type == HAK_ENV_PATH)
        env_buf_quoted(&b, *(const char *const *)env_slot(&env_defaults, r));
    else
        env_buf_value(&b, r, env_slot(&env_defaults, r));
    env_flush_line(&b, STDERR_FILENO);
    env_warning_count++;
}

/* Levenshtein distance over the first ENV_NAME_MAX characters, ignoring
 * case (HAKMEM_verbose is a near miss too).  Two rows of the matrix suffice. */
static size_t env_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t rows[2][ENV_NAME_MAX + 1];
    na = na < ENV_NAME_MAX ? na : ENV_NAME_MAX;
    nb = nb < ENV_NAME_MAX ? nb : ENV_NAME_MAX;
    for (size_t j = 0; j <= nb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= na; i++) {
        const size_t *prev = rows[(i - 1) & 1];
        size_t *cur = rows[i & 1];
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t best = prev[j - 1] + (env_lower(a[i - 1]) != env_lower(b[j - 1]));
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
    }
    return rows[na & 1][nb];
}

/* The known name closest to an unknown one, or NULL if none is close enough
 * to be a likely typo: at most 2 edits, or a third of the name after HAKMEM_. */
static const env_row *env_nearest(const char *name, size_t len)
{
    size_t limit = (len - ENV_PREFIX_LEN) / 3 > 2 ? (len - ENV_PREFIX_LEN) / 3 : 2;
    const env_row *best = NULL;
    size_t best_distance = limit + 1;
    for (size_t i = 0; i < HAK_ENV_COUNT; i++) {
        size_t d = env_distance(name, len, env_rows[i].name, strlen(env_rows[i].name));
        if (d < best_distance) {
            best = &env_rows[i];
            best_distance = d;
        }
    }
    return best;
}

static void env_warn_unknown(const char *name, size_t len)
{
    const env_row *near = env_nearest(name, len);
    char line[ENV_LINE_MAX];
    hak_buf b = HAK_BUF_INIT(line);
    hak_buf_str(&b, "hakmem: unknown variable ");
    env_buf_text(&b, name, len);
    if (near != NULL) {
        hak_buf_str(&b, "; did you mean ");
        hak_buf_str(&b, near->name);
        hak_buf_char(&b, '?');
    } else {
        hak_buf_str(&b, "; no known HAKMEM_* variable is close to it");
    }
    env_flush_line(&b, STDERR_FILENO);
    env_warning_count++;
}

static void env_exit_strict(void)
{
    char line[ENV_LINE_MAX];
    hak_buf b = HAK_BUF_INIT(line);
    hak_buf_str(&b, "hakmem: HAKMEM_STRICT_ENV=1 makes the ");
    hak_buf_u64(&b, env_warning_count);
    hak_buf_str(&b, env_warning_count == 1 ? " problem above fatal" : " problems above fatal");
    hak_buf_str(&b, "; exiting with status 2");
    env_flush_line(&b, STDERR_FILENO);
    _exit(2);
}

// ------------------------------------------------------------- loading

static const env_row *env_find(const char *name, size_t len)
{
    for (size_t i = 0; i < HAK_ENV_COUNT; i++)
        if (strncmp(env_rows[i].name, name, len) == 0 && env_rows[i].name[len] == '\0')
            return &env_rows[i];
    return NULL;
}

/* One "HAKMEM_NAME=value" entry.  When a name occurs twice, the last valid
 * value wins. */
static void env_read_entry(const char *entry)
{
    size_t len = strcspn(entry, "=");
    const char *value = entry[len] == '=' ? entry + len + 1 : entry + len;
    const env_row *r = env_find(entry, len);
    if (r == NULL)
        env_warn_unknown(entry, len);
    else if (env_store(r, value))
        env_from_environment[r - env_rows] = true;
    else
        env_warn_malformed(r, value);
}

/* STRICT_ENV and VERBOSE act only after the whole environment is read, so
 * their position in it does not matter. */
int hak_env_load(char *const *envp)
{
    hak_env = env_defaults;
    memset(env_from_environment, 0, sizeof(env_from_environment));
    env_warning_count = 0;
    for (; envp != NULL && *envp != NULL; envp++)
        if (strncmp(*envp, ENV_PREFIX, ENV_PREFIX_LEN) == 0)
            env_read_entry(*envp);
    if (hak_env.strict_env && env_warning_count > 0)
        env_exit_strict();
    if (hak_env.verbose)
        hak_env_write_config(STDERR_FILENO);
    return (int)env_warning_count;
}

/* The caller (the allocator's one-time initialisation) serialises the first call. */
void hak_env_init(void)
{
    if (env_initialized)
        return;
    env_initialized = true;
    hak_env_load(environ);
}

// ------------------------------------------------------------- queries

uint64_t hak_env_warnings(void) { return env_warning_count; }

bool hak_env_from_environment(hak_env_id id)
{
    return (unsigned)id < HAK_ENV_COUNT && env_from_environment[id];
}

const char *hak_env_name(hak_env_id id)
{
    return (unsigned)id < HAK_ENV_COUNT ? env_rows[id].name : "HAKMEM_?";
}

void hak_env_write_config(int fd)
{
    for (size_t i = 0; i < HAK_ENV_COUNT; i++) {
        const env_row *r = &env_rows[i];
        char line[ENV_LINE_MAX];
        hak_buf b = HAK_BUF_INIT(line);
        hak_buf_str(&b, "hakmem: ");
        hak_buf_str(&b, r->name);
        hak_buf_char(&b, '=');
        env_buf_value(&b, r, env_slot(&hak_env, r));
        hak_buf_str(&b, env_from_environment[i] ? " (environment)" : " (default)");
        env_flush_line(&b, fd);
    }
}

hak_env_type hak_env_type_of(hak_env_id id) { return env_rows[id].type; }

void hak_env_append_value(hak_buf *b, hak_env_id id)
{
    env_buf_value(b, &env_rows[id], env_slot(&hak_env, &env_rows[id]));
}
