/*
 * libFuzzer harness: arbitrary bytes through the dump loader and everything
 * hakstat computes from a dump (summary, JSON, a sum, a diff, the sites of
 * top).  Inputs that once crashed it live in tests/hakstat/corpus/, which a
 * ctest feeds to the hakstat binary.
 */
#include "summary.h"
#include "top.h"

#include <sanitizer/lsan_interface.h>
#include <stdint.h>
#include <stdio.h>

static FILE *sink(void)
{
    static FILE *null;
    if (null == NULL)
        null = fopen("/dev/null", "w");
    return null;
}

/* libjq 1.6 leaks a value that follows another without a separator inside
 * an object or array ({"a" "b"}): its parser returns the error without
 * freeing it.  Leaks are looked for only where the text parses. */
static bool parses(const uint8_t *data, size_t size)
{
    jv_parser *p = jv_parser_new(0);
    jv_parser_set_buf(p, (const char *)data, (int)size, 0);
    jv v = jv_parser_next(p);
    jv next = jv_is_valid(v) ? jv_parser_next(p) : jv_invalid();
    bool ok = jv_is_valid(v) && !jv_is_valid(next) && !jv_invalid_has_msg(jv_copy(next));
    jv_free(v);
    jv_free(next);
    jv_parser_free(p);
    return ok;
}

static void exercise_top(const hs_dump *d)
{
    for (int by = 0; by < HS_BY_ORDERS; by++) {
        hs_top_print(sink(), d, (hs_site_by)by, 0);
        hs_json_print(sink(), hs_top_json(d, (hs_site_by)by, 3));
        hs_top_folded(sink(), d, (hs_site_by)by, 0);
    }
}

static void exercise(const hs_dump *d)
{
    hs_dump twice = {0};
    hs_dump_add(&twice, d);
    hs_dump_add(&twice, d);
    hs_summary_print(sink(), &twice);
    hs_json_print(sink(), hs_summary_json(&twice));
    hs_diff_print(sink(), d, &twice);
    hs_json_print(sink(), hs_diff_json(d, &twice));
    exercise_top(&twice);
    hs_dump_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_dump d;
    char err[HS_ERR_MAX];
    if (size > (1u << 20))
        return 0;
    __lsan_disable();
    bool check_leaks = parses(data, size);
    __lsan_enable();
    if (!check_leaks)
        __lsan_disable();
    if (hs_dump_parse((const char *)data, size, &d, err) == 0) {
        exercise(&d);
        hs_dump_free(&d);
    }
    if (!check_leaks)
        __lsan_enable();
    return 0;
}
