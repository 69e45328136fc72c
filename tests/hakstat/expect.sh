#!/bin/bash
# Runs a command and checks what it did:
#   expect.sh RC OUT ERR [--jq] -- CMD [ARGS...]
# RC   the exit status wanted
# OUT  a file stdout must equal byte for byte, or - for any
# ERR  an extended regular expression stderr must match as its only line,
#      or - for any stderr
# --jq stdout must be JSON that `jq -e .` accepts
# With HAKSTAT_UPDATE_GOLDEN=1, OUT is written from stdout instead of compared.
set -u
want_rc=$1 out=$2 err=$3
shift 3
jq_check=0
if [ "$1" = "--jq" ]; then jq_check=1; shift; fi
[ "$1" = "--" ] && shift

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$@" >"$tmp/out" 2>"$tmp/err"
rc=$?
status=0
if [ "$rc" != "$want_rc" ]; then
    echo "exit status $rc, wanted $want_rc"
    status=1
fi
if [ "$out" != "-" ]; then
    if [ "${HAKSTAT_UPDATE_GOLDEN:-0}" = 1 ]; then
        cp "$tmp/out" "$out"
    elif ! diff -u "$out" "$tmp/out"; then
        echo "stdout differs from $out (HAKSTAT_UPDATE_GOLDEN=1 rewrites it)"
        status=1
    fi
fi
if [ "$err" != "-" ]; then
    if [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -Eq -- "$err" "$tmp/err"; then
        echo "stderr is not one line matching: $err"
        status=1
    fi
fi
if [ "$jq_check" = 1 ] && ! jq -e . <"$tmp/out" >/dev/null; then
    echo "stdout is not JSON that jq -e . accepts"
    status=1
fi
if [ "$status" != 0 ]; then
    echo "--- command: $*"
    echo "--- stderr:"
    cat "$tmp/err"
fi
exit $status
