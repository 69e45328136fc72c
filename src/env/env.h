/*
 * The HAKMEM_* environment layer.
 *
 * env.def is the one list of variables.  Every variable is read once, by
 * hak_env_init(), before the allocator serves its first block; afterwards the
 * tiers read plain fields of `hak_env`, never the environment.  Nothing here
 * allocates: it runs inside the first malloc.
 */
#ifndef HAK_ENV_H
#define HAK_ENV_H

#include <stdbool.h>
#include <stdint.h>

typedef enum hak_env_type {
    HAK_ENV_BOOL,  /* 0/1 (also true/false, yes/no, on/off) */
    HAK_ENV_INT,   /* decimal integer within [min, max] */
    HAK_ENV_SIZE,  /* bytes, optional K/M/G suffix (powers of 1024), within [min, max] */
    HAK_ENV_ENUM,  /* one of a fixed list of words; the value is the word's index */
    HAK_ENV_PATH,  /* a file path; the value is the string */
} hak_env_type;

/* HAK_ENV_<NAME> for every HAKMEM_<NAME> in env.def, in table order. */
typedef enum hak_env_id {
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc) HAK_ENV_##name,
#include "env.def"
#undef HAKMEM_ENV
    HAK_ENV_COUNT
} hak_env_id;

/* The effective value of every variable, one field per row of env.def.
 * Numbers (bool, int, size, enum index) are int64_t; paths are strings. */
typedef struct hak_env_values {
#define HAK_ENV_FIELD_BOOL(field) int64_t field;
#define HAK_ENV_FIELD_INT(field) int64_t field;
#define HAK_ENV_FIELD_SIZE(field) int64_t field;
#define HAK_ENV_FIELD_ENUM(field) int64_t field;
#define HAK_ENV_FIELD_PATH(field) const char *field;
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc) HAK_ENV_FIELD_##type(field)
#include "env.def"
#undef HAKMEM_ENV
#undef HAK_ENV_FIELD_BOOL
#undef HAK_ENV_FIELD_INT
#undef HAK_ENV_FIELD_SIZE
#undef HAK_ENV_FIELD_ENUM
#undef HAK_ENV_FIELD_PATH
} hak_env_values;

extern hak_env_values hak_env;

/* Reads every variable from the process environment, validates it, warns on
 * stderr (one line each) about malformed values and unknown HAKMEM_* names,
 * exits with status 2 if HAKMEM_STRICT_ENV=1 and anything was wrong, and
 * prints the effective configuration if HAKMEM_VERBOSE=1.  Idempotent. */
void hak_env_init(void);

/* As hak_env_init, over an explicit NULL-terminated "NAME=value" array
 * (tests use it to exercise the parser without touching the real
 * environment).  Returns the number of warnings issued. */
int hak_env_load(char *const *envp);

/* Number of warnings hak_env_init/hak_env_load issued (the stats dump reports it). */
uint64_t hak_env_warnings(void);

/* true if the variable's value came from the environment (and was valid),
 * false if it is the default. */
bool hak_env_from_environment(hak_env_id id);

/* Name ("HAKMEM_..."), for printouts and the stats dump. */
const char *hak_env_name(hak_env_id id);

hak_env_type hak_env_type_of(hak_env_id id);
/* Appends the effective value as text (as the configuration printout shows
 * it): the number, the enum's word, or the path. */
struct hak_buf;
void hak_env_append_value(struct hak_buf *b, hak_env_id id);

/* Writes the effective configuration, one "NAME=value (default|environment)"
 * line per variable, to fd with write(2). */
void hak_env_write_config(int fd);

#endif /* HAK_ENV_H */
