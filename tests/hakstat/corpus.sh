#!/bin/bash
# Every file of the fuzzing corpus (seeds and inputs that once crashed the
# loader) through the hakstat binary, summary and top: each must be read (0)
# or refused with one line on stderr (2); a crash or anything else fails.
#   corpus.sh HAKSTAT DIR
set -u
hakstat=$1 dir=$2
failed=0
count=0
for f in "$dir"/*; do
    count=$((count + 1))
    "$hakstat" "$f" >/dev/null 2>"${TMPDIR:-/tmp}/hakstat-corpus.$$"
    rc=$?
    lines=$(wc -l <"${TMPDIR:-/tmp}/hakstat-corpus.$$")
    if [ "$rc" != 0 ] && { [ "$rc" != 2 ] || [ "$lines" != 1 ]; }; then
        echo "$f: exit status $rc, $lines lines on stderr"
        failed=1
    fi
    for args in --json "top" "top --json --by live" "top --folded --by count"; do
        # shellcheck disable=SC2086 # args is several words
        "$hakstat" $args "$f" >/dev/null 2>&1
        rc=$?
        if [ "$rc" != 0 ] && [ "$rc" != 2 ]; then
            echo "$f: $args: exit status $rc"
            failed=1
        fi
    done
done
rm -f "${TMPDIR:-/tmp}/hakstat-corpus.$$"
echo "$count inputs"
[ "$count" -gt 0 ] && exit $failed
exit 1
