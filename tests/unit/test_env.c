/*
 * Unit tests of the HAKMEM_* environment layer (src/env): parsing of every
 * type, the warnings and their text, unknown names, strict mode and the
 * configuration printout, all through hak_env_load() over explicit arrays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env/env.h"

// ------------------------------------------------------------- helpers

/* The rows of env.def, so that the generic tests follow the table. */
typedef struct test_row {
    hak_env_id id;
    const char *name;
    hak_env_type type;
    size_t offset;
    const char *choices;
} test_row;

static const test_row rows[] = {
#define HAKMEM_ENV(name, field, type, def, min, max, choices, doc)                                 \
    {HAK_ENV_##name, "HAKMEM_" #name, HAK_ENV_##type, offsetof(hak_env_values, field), choices},
#include "env/env.def"
#undef HAKMEM_ENV
};

/* The values the last load() produced.  The running allocator is this
 * test's malloc and reads hak_env, so load() puts its configuration back at
 * once; nothing between the two allocates. */
static hak_env_values got;

static int load(char *const *envp)
{
    hak_env_values keep = hak_env;
    int warnings = hak_env_load(envp);
    got = hak_env;
    hak_env = keep;
    return warnings;
}

static int load1(char *entry) { return load((char *[]){entry, NULL}); }

/* Everything written to fd 2 between capture_start() and capture_end(). */
static char captured[16384];
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_start(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    assert_non_null(capture_file);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

static const char *capture_end(void)
{
    ssize_t n;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    lseek(fileno(capture_file), 0, SEEK_SET);
    n = read(fileno(capture_file), captured, sizeof(captured) - 1);
    captured[n > 0 ? n : 0] = '\0';
    fclose(capture_file);
    return captured;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* stderr of load1(entry), which must be exactly one line. */
static const char *warning_of(char *entry)
{
    const char *text;
    capture_start();
    int warnings = load1(entry);
    text = capture_end();
    assert_int_equal(warnings, 1);
    assert_int_equal(count_lines(text), 1);
    return text;
}

/* Runs hak_env_load(envp) in a child with stderr captured; returns the exit status. */
static int exit_status_of(char *const *envp)
{
    int status;
    capture_start();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hak_env_load(envp);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    capture_end();
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static hak_env_values defaults(void)
{
    assert_int_equal(load((char *[]){NULL}), 0);
    return got;
}

static bool same_field(const test_row *r, const hak_env_values *a, const hak_env_values *b)
{
    size_t size = r->type == HAK_ENV_PATH ? sizeof(const char *) : sizeof(int64_t);
    return memcmp((const char *)a + r->offset, (const char *)b + r->offset, size) == 0;
}

// ------------------------------------------------------------- defaults

static void test_empty_environment_gives_defaults(void **state)
{
    (void)state;
    assert_int_equal(load((char *[]){NULL}), 0);
    assert_int_equal(load(NULL), 0);
    assert_int_equal(hak_env_warnings(), 0);
    assert_int_equal(got.tiny_use_superslab, 1);
    assert_int_equal(got.purge_delay_ms, 250);
    assert_int_equal(got.large_cache, 64 << 20);
    assert_int_equal(got.strict_env, 0);
    assert_int_equal(got.verbose, 0);
    for (size_t i = 0; i < HAK_ENV_COUNT; i++)
        assert_false(hak_env_from_environment((hak_env_id)i));
}

static void test_load_resets_to_defaults(void **state)
{
    (void)state;
    load1("HAKMEM_PURGE_DELAY_MS=7");
    assert_int_equal(got.purge_delay_ms, 7);
    assert_true(hak_env_from_environment(HAK_ENV_PURGE_DELAY_MS));
    load((char *[]){NULL});
    assert_int_equal(got.purge_delay_ms, 250);
    assert_false(hak_env_from_environment(HAK_ENV_PURGE_DELAY_MS));
}

// ------------------------------------------------------------- bool

static void test_bool_words(void **state)
{
    static char *const yes[] = {"1", "true", "TRUE", "True", "yes", "YES", "on", "On"};
    static char *const no[] = {"0", "false", "FALSE", "no", "No", "off", "OFF"};
    char entry[64];
    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        snprintf(entry, sizeof(entry), "HAKMEM_VERBOSE=%s", yes[i]);
        capture_start();
        int warnings = load1(entry);
        capture_end();
        assert_int_equal(warnings, 0);
        assert_int_equal(got.verbose, 1);
        assert_true(hak_env_from_environment(HAK_ENV_VERBOSE));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        snprintf(entry, sizeof(entry), "HAKMEM_TINY_USE_SUPERSLAB=%s", no[i]);
        assert_int_equal(load1(entry), 0);
        assert_int_equal(got.tiny_use_superslab, 0);
        assert_true(hak_env_from_environment(HAK_ENV_TINY_USE_SUPERSLAB));
    }
}

static void test_bool_malformed_uses_default(void **state)
{
    static char *const bad[] = {"maybe", "-1", "2", "", "10", "01", "yes ", " 1", "tru", "onn", "0x1"};
    char entry[64];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(entry, sizeof(entry), "HAKMEM_TINY_USE_SUPERSLAB=%s", bad[i]);
        capture_start();
        int warnings = load1(entry);
        capture_end();
        assert_int_equal(warnings, 1);
        assert_int_equal(hak_env_warnings(), 1);
        assert_int_equal(got.tiny_use_superslab, 1);
        assert_false(hak_env_from_environment(HAK_ENV_TINY_USE_SUPERSLAB));
    }
}

static void test_bool_warning_text(void **state)
{
    (void)state;
    assert_string_equal(warning_of("HAKMEM_TINY_USE_SUPERSLAB=maybe"),
                        "hakmem: HAKMEM_TINY_USE_SUPERSLAB=\"maybe\" is not a boolean (0/1, "
                        "true/false, yes/no, on/off); using the default 1\n");
}

// ------------------------------------------------------------- int

static void test_int_valid(void **state)
{
    (void)state;
    assert_int_equal(load1("HAKMEM_PURGE_DELAY_MS=0"), 0);
    assert_int_equal(got.purge_delay_ms, 0);
    assert_int_equal(load1("HAKMEM_PURGE_DELAY_MS=3600000"), 0);
    assert_int_equal(got.purge_delay_ms, 3600000);
    assert_int_equal(load1("HAKMEM_PURGE_DELAY_MS=007"), 0);
    assert_int_equal(got.purge_delay_ms, 7);
    assert_int_equal(load1("HAKMEM_PURGE_DELAY_MS=-0"), 0);
    assert_int_equal(got.purge_delay_ms, 0);
    assert_true(hak_env_from_environment(HAK_ENV_PURGE_DELAY_MS));
}

static void test_int_malformed_uses_default(void **state)
{
    static char *const bad[] = {"12x", "", "-", "-1", "3600001", "99999999999999999999",
                                "9223372036854775808", "+5", " 5", "5 ", "1.5", "1e3", "0x10", "1K"};
    char entry[64];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(entry, sizeof(entry), "HAKMEM_PURGE_DELAY_MS=%s", bad[i]);
        capture_start();
        int warnings = load1(entry);
        capture_end();
        assert_int_equal(warnings, 1);
        assert_int_equal(got.purge_delay_ms, 250);
        assert_false(hak_env_from_environment(HAK_ENV_PURGE_DELAY_MS));
    }
}

static void test_int_warning_text(void **state)
{
    (void)state;
    assert_string_equal(warning_of("HAKMEM_PURGE_DELAY_MS=12x"),
                        "hakmem: HAKMEM_PURGE_DELAY_MS=\"12x\" is not an integer in [0, 3600000]; "
                        "using the default 250\n");
    assert_string_equal(warning_of("HAKMEM_PURGE_DELAY_MS="),
                        "hakmem: HAKMEM_PURGE_DELAY_MS=\"\" is not an integer in [0, 3600000]; "
                        "using the default 250\n");
}

// ------------------------------------------------------------- size

static void expect_size(char *entry, int64_t bytes)
{
    assert_int_equal(load1(entry), 0);
    assert_int_equal(got.large_cache, bytes);
    assert_true(hak_env_from_environment(HAK_ENV_LARGE_CACHE));
}

static void test_size_valid(void **state)
{
    (void)state;
    expect_size("HAKMEM_LARGE_CACHE=0", 0);
    expect_size("HAKMEM_LARGE_CACHE=4097", 4097);
    expect_size("HAKMEM_LARGE_CACHE=1K", 1024);
    expect_size("HAKMEM_LARGE_CACHE=1k", 1024);
    expect_size("HAKMEM_LARGE_CACHE=3KB", 3072);
    expect_size("HAKMEM_LARGE_CACHE=3kib", 3072);
    expect_size("HAKMEM_LARGE_CACHE=64M", 64 << 20);
    expect_size("HAKMEM_LARGE_CACHE=64MiB", 64 << 20);
    expect_size("HAKMEM_LARGE_CACHE=2G", INT64_C(2) << 30);
    expect_size("HAKMEM_LARGE_CACHE=1048576K", INT64_C(1) << 30);
    expect_size("HAKMEM_LARGE_CACHE=1024G", INT64_C(1) << 40);
    expect_size("HAKMEM_LARGE_CACHE=1099511627776", INT64_C(1) << 40);
}

static void test_size_malformed_uses_default(void **state)
{
    static char *const bad[] = {"99999999999G", "18446744073709551616", "9223372036854775807",
                                "9007199254740992K", "1025G", "1099511627777", "1T", "1KK", "1Ki",
                                "1 K", "K", "", "-1", "-1K", "1.5G", "12x", "0x100"};
    char entry[64];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(entry, sizeof(entry), "HAKMEM_LARGE_CACHE=%s", bad[i]);
        capture_start();
        int warnings = load1(entry);
        capture_end();
        assert_int_equal(warnings, 1);
        assert_int_equal(got.large_cache, 64 << 20);
        assert_false(hak_env_from_environment(HAK_ENV_LARGE_CACHE));
    }
}

static void test_size_warning_text(void **state)
{
    (void)state;
    assert_string_equal(warning_of("HAKMEM_LARGE_CACHE=99999999999G"),
                        "hakmem: HAKMEM_LARGE_CACHE=\"99999999999G\" is not a size in [0, "
                        "1099511627776] bytes (optional suffix K, M or G); using the default "
                        "67108864\n");
}

// ------------------------------------------------------------- every row

/* No ENUM or PATH row exists yet; these loops cover them once one does. */

static void test_every_row_rejects_empty_value(void **state)
{
    hak_env_values def = defaults();
    char entry[128];
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(entry, sizeof(entry), "%s=", rows[i].name);
        const char *text = warning_of(entry);
        assert_non_null(strstr(text, rows[i].name));
        assert_non_null(strstr(text, "using the default"));
        assert_true(same_field(&rows[i], &got, &def));
        assert_false(hak_env_from_environment(rows[i].id));
    }
}

static void test_every_enum_row_takes_its_words(void **state)
{
    char entry[256];
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].type != HAK_ENV_ENUM)
            continue;
        const char *word = rows[i].choices;
        for (int64_t index = 0; *word != '\0'; index++) {
            int n = (int)strcspn(word, "|");
            snprintf(entry, sizeof(entry), "%s=%.*s", rows[i].name, n, word);
            assert_int_equal(load1(entry), 0);
            assert_int_equal(*(const int64_t *)((const char *)&got + rows[i].offset), index);
            word += n + (word[n] == '|');
        }
        snprintf(entry, sizeof(entry), "%s=no-such-word", rows[i].name);
        assert_non_null(strstr(warning_of(entry), "is not one of"));
    }
}

/* A path is copied: programs rewrite their environment's memory (process
 * titles), and the value must outlive that.  Too long a path is malformed. */
static void test_every_path_row_is_copied(void **state)
{
    static char entry[8192];
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].type != HAK_ENV_PATH)
            continue;
        snprintf(entry, sizeof(entry), "%s=/tmp/hakmem test", rows[i].name);
        assert_int_equal(load1(entry), 0);
        const char *path = *(const char *const *)((const char *)&got + rows[i].offset);
        assert_ptr_not_equal(path, entry + strlen(rows[i].name) + 1);
        memset(entry, 'x', strlen(entry)); /* the program rewrites its environment */
        assert_string_equal(path, "/tmp/hakmem test");

        int n = snprintf(entry, sizeof(entry), "%s=/", rows[i].name);
        memset(entry + n, 'a', 5000);
        entry[n + 5000] = '\0';
        assert_non_null(strstr(warning_of(entry), "shorter than 4096 bytes"));
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(sizeof(rows) / sizeof(rows[0]), HAK_ENV_COUNT);
    for (size_t i = 0; i < HAK_ENV_COUNT; i++)
        assert_string_equal(hak_env_name(rows[i].id), rows[i].name);
    assert_string_equal(hak_env_name(HAK_ENV_VERBOSE), "HAKMEM_VERBOSE");
}

// ------------------------------------------------------------- warnings

static void test_warnings_are_counted(void **state)
{
    (void)state;
    capture_start();
    int warnings = load((char *[]){"HAKMEM_PURGE_DELAY_MS=12x", "HAKMEM_LARGE_CACHE=1T",
                                   "HAKMEM_VERBOS=1", "HAKMEM_TINY_USE_SUPERSLAB=0", NULL});
    const char *text = capture_end();
    assert_int_equal(warnings, 3);
    assert_int_equal(hak_env_warnings(), 3);
    assert_int_equal(count_lines(text), 3);
    assert_int_equal(got.tiny_use_superslab, 0);
    assert_int_equal(load((char *[]){NULL}), 0);
    assert_int_equal(hak_env_warnings(), 0);
}

static void test_warning_is_one_line_whatever_the_value(void **state)
{
    char entry[1024];
    (void)state;
    assert_non_null(strstr(warning_of("HAKMEM_PURGE_DELAY_MS=1\n2\r3"), "\"1?2?3\""));
    memset(entry, '7', sizeof(entry) - 1);
    entry[sizeof(entry) - 1] = '\0';
    memcpy(entry, "HAKMEM_PURGE_DELAY_MS=", 22);
    assert_non_null(strstr(warning_of(entry), "...\" is not an integer"));
    memset(entry, 'X', sizeof(entry) - 1);
    memcpy(entry, "HAKMEM_", 7);
    assert_non_null(strstr(warning_of(entry), "hakmem: unknown variable HAKMEM_XXX"));
}

static void test_unknown_name_suggests_nearest(void **state)
{
    (void)state;
    assert_string_equal(warning_of("HAKMEM_VERBOS=1"),
                        "hakmem: unknown variable HAKMEM_VERBOS; did you mean HAKMEM_VERBOSE?\n");
    assert_int_equal(got.verbose, 0);
    assert_string_equal(warning_of("HAKMEM_verbose=1"),
                        "hakmem: unknown variable HAKMEM_verbose; did you mean HAKMEM_VERBOSE?\n");
    assert_string_equal(warning_of("HAKMEM_PURGE_DELAY=5"),
                        "hakmem: unknown variable HAKMEM_PURGE_DELAY; did you mean "
                        "HAKMEM_PURGE_DELAY_MS?\n");
    /* The issue's own example. */
    assert_string_equal(warning_of("HAKMEM_MF2_ENABLED=1"),
                        "hakmem: unknown variable HAKMEM_MF2_ENABLED; did you mean "
                        "HAKMEM_MF2_ENABLE?\n");
    assert_string_equal(warning_of("HAKMEM_TINY_USE_SUPERSLABS"),
                        "hakmem: unknown variable HAKMEM_TINY_USE_SUPERSLABS; did you mean "
                        "HAKMEM_TINY_USE_SUPERSLAB?\n");
    assert_int_equal(got.purge_delay_ms, 250);
}

static void test_unknown_name_far_from_all(void **state)
{
    (void)state;
    assert_string_equal(warning_of("HAKMEM_QUANTUM_FLUX=1"),
                        "hakmem: unknown variable HAKMEM_QUANTUM_FLUX; no known HAKMEM_* variable "
                        "is close to it\n");
    assert_null(strstr(warning_of("HAKMEM_=1"), "did you mean"));
}

static void test_other_variables_are_ignored(void **state)
{
    (void)state;
    capture_start();
    int warnings = load((char *[]){"PATH=/bin", "HAKMEMX=1", "HAKMEM=1", "hakmem_verbose=1",
                                   "MY_HAKMEM_VERBOSE=1", "HAKMEM", "", "=", NULL});
    const char *text = capture_end();
    assert_int_equal(warnings, 0);
    assert_string_equal(text, "");
    assert_int_equal(got.verbose, 0);
}

// ------------------------------------------------------------- strict mode

static void test_strict_makes_problems_fatal(void **state)
{
    (void)state;
    assert_int_equal(exit_status_of((char *[]){"HAKMEM_STRICT_ENV=1", "HAKMEM_PURGE_DELAY_MS=12x",
                                               NULL}),
                     2);
    assert_non_null(strstr(captured, "HAKMEM_PURGE_DELAY_MS=\"12x\""));
    assert_non_null(strstr(captured, "HAKMEM_STRICT_ENV=1 makes the 1 problem above fatal"));
    assert_int_equal(count_lines(captured), 2);

    /* STRICT_ENV acts after the whole environment is read: its place does not matter. */
    assert_int_equal(exit_status_of((char *[]){"HAKMEM_VERBOS=1", "HAKMEM_LARGE_CACHE=1T",
                                               "HAKMEM_STRICT_ENV=yes", NULL}),
                     2);
    assert_non_null(strstr(captured, "did you mean HAKMEM_VERBOSE?"));
    assert_non_null(strstr(captured, "makes the 2 problems above fatal; exiting with status 2\n"));
    assert_int_equal(count_lines(captured), 3);
}

static void test_strict_without_problems_runs_on(void **state)
{
    (void)state;
    assert_int_equal(exit_status_of((char *[]){"HAKMEM_STRICT_ENV=1", "HAKMEM_PURGE_DELAY_MS=12",
                                               NULL}),
                     0);
    assert_string_equal(captured, "");
    /* A malformed STRICT_ENV falls back to its default, 0: a warning, not an exit. */
    assert_int_equal(exit_status_of((char *[]){"HAKMEM_STRICT_ENV=maybe", NULL}), 0);
    assert_int_equal(count_lines(captured), 1);
}

// ------------------------------------------------------------- printout

/* Checks one line per variable, in table order, "hakmem: NAME=value (source)". */
static void expect_config(const char *text)
{
    for (size_t i = 0; i < HAK_ENV_COUNT; i++) {
        const char *end = strchr(text, '\n');
        const char *source = hak_env_from_environment(rows[i].id) ? " (environment)" : " (default)";
        size_t name_len = strlen(rows[i].name);
        assert_non_null(end);
        assert_memory_equal(text, "hakmem: ", 8);
        assert_memory_equal(text + 8, rows[i].name, name_len);
        assert_int_equal(text[8 + name_len], '=');
        assert_true((size_t)(end - text) > strlen(source));
        assert_memory_equal(end - strlen(source), source, strlen(source));
        text = end + 1;
    }
    assert_string_equal(text, "");
}

static void test_write_config_format(void **state)
{
    hak_env_values keep = hak_env;
    (void)state;
    load((char *[]){"HAKMEM_PURGE_DELAY_MS=7", "HAKMEM_LARGE_CACHE=1M", NULL});
    capture_start();
    hak_env = got; /* no allocation until hak_env is put back */
    hak_env_write_config(STDERR_FILENO);
    hak_env = keep;
    const char *text = capture_end();
    expect_config(text);
    assert_non_null(strstr(text, "hakmem: HAKMEM_PURGE_DELAY_MS=7 (environment)\n"));
    assert_non_null(strstr(text, "hakmem: HAKMEM_LARGE_CACHE=1048576 (environment)\n"));
    assert_non_null(strstr(text, "hakmem: HAKMEM_TINY_USE_SUPERSLAB=1 (default)\n"));
}

static void test_verbose_prints_config_at_load(void **state)
{
    (void)state;
    capture_start();
    int warnings = load((char *[]){"HAKMEM_VERBOSE=on", "HAKMEM_TINY_USE_SUPERSLAB=no", NULL});
    const char *text = capture_end();
    assert_int_equal(warnings, 0);
    expect_config(text);
    assert_non_null(strstr(text, "hakmem: HAKMEM_VERBOSE=1 (environment)\n"));
    assert_non_null(strstr(text, "hakmem: HAKMEM_TINY_USE_SUPERSLAB=0 (environment)\n"));
    assert_non_null(strstr(text, "hakmem: HAKMEM_LARGE_CACHE=67108864 (default)\n"));
}

// ------------------------------------------------------------- init

/* hak_env_init reads the real environment once.  The allocator under test
 * may have called it already, so the child only checks that a second call
 * adds nothing. */
static void test_init_is_idempotent(void **state)
{
    int status;
    (void)state;
    capture_start();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("HAKMEM_PURGE_DELAY_MS", "12x", 1);
        hak_env_init();
        off_t after_first = lseek(STDERR_FILENO, 0, SEEK_CUR);
        uint64_t warnings = hak_env_warnings();
        hak_env_init();
        _exit(lseek(STDERR_FILENO, 0, SEEK_CUR) == after_first && hak_env_warnings() == warnings ? 0
                                                                                               : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    capture_end();
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_environment_gives_defaults),
        cmocka_unit_test(test_load_resets_to_defaults),
        cmocka_unit_test(test_bool_words),
        cmocka_unit_test(test_bool_malformed_uses_default),
        cmocka_unit_test(test_bool_warning_text),
        cmocka_unit_test(test_int_valid),
        cmocka_unit_test(test_int_malformed_uses_default),
        cmocka_unit_test(test_int_warning_text),
        cmocka_unit_test(test_size_valid),
        cmocka_unit_test(test_size_malformed_uses_default),
        cmocka_unit_test(test_size_warning_text),
        cmocka_unit_test(test_every_row_rejects_empty_value),
        cmocka_unit_test(test_every_enum_row_takes_its_words),
        cmocka_unit_test(test_every_path_row_is_copied),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_warnings_are_counted),
        cmocka_unit_test(test_warning_is_one_line_whatever_the_value),
        cmocka_unit_test(test_unknown_name_suggests_nearest),
        cmocka_unit_test(test_unknown_name_far_from_all),
        cmocka_unit_test(test_other_variables_are_ignored),
        cmocka_unit_test(test_strict_makes_problems_fatal),
        cmocka_unit_test(test_strict_without_problems_runs_on),
        cmocka_unit_test(test_write_config_format),
        cmocka_unit_test(test_verbose_prints_config_at_load),
        cmocka_unit_test(test_init_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
