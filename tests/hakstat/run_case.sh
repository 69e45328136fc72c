#!/bin/bash
# `hakstat run` on real programs, one case a call:
#   run_case.sh HAKSTAT CASE
# Needs libhakmem.so where hakstat finds it (../lib from build/bin) and a
# library that writes dumps (HAKMEM_STATS=1).
set -u
hakstat=$1 case=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python=/usr/bin/python3

fail() {
    echo "$case: $*"
    echo "--- stdout:"; cat "$tmp/out" 2>/dev/null
    echo "--- stderr:"; cat "$tmp/err" 2>/dev/null
    exit 1
}

case $case in
python)
    # CMD's output stays on stdout, the summary goes to stderr, the status is CMD's.
    "$hakstat" run -- "$python" -c 'print(sum(range(1000)))' >"$tmp/out" 2>"$tmp/err" ||
        fail "exit status $?"
    [ "$(cat "$tmp/out")" = 499500 ] || fail "stdout is not CMD's"
    grep -q '^hakmem stats: python3 (pid [0-9]*)$' "$tmp/err" || fail "no summary"
    grep -q '^  allocations  *[1-9]' "$tmp/err" || fail "no allocations counted"
    ;;
json)
    "$hakstat" run --json -o "$tmp/summary.json" -- "$python" -c 'pass' >"$tmp/out" 2>"$tmp/err" ||
        fail "exit status $?"
    [ -s "$tmp/summary.json" ] || fail "no summary"
    jq -e '.run.processes == 1 and .totals.alloc > 0 and (.histogram | length) > 0' \
        "$tmp/summary.json" >/dev/null || fail "summary JSON: $(cat "$tmp/summary.json")"
    ;;
children)
    # A fork and a subprocess: python3, its forked child and /bin/echo, one sum.
    "$hakstat" run --json -o "$tmp/summary.json" -- "$python" -c '
import os, subprocess
pid = os.fork()
if pid:
    os.waitpid(pid, 0)
    subprocess.run(["/bin/echo", "x"], check=True)' >"$tmp/out" 2>"$tmp/err" || fail "exit status $?"
    [ -s "$tmp/summary.json" ] || fail "no summary"
    jq -e '.run.processes == 3 and .programs == ["python3", "echo"]' "$tmp/summary.json" \
        >/dev/null || fail "not 3 processes: $(jq -c '{programs, run}' "$tmp/summary.json")"
    ;;
exit_code)
    "$hakstat" run -- "$python" -c 'import sys; sys.exit(3)' >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc = 3 ] || fail "exit status $rc, wanted 3"
    grep -q '^hakmem stats: python3' "$tmp/err" || fail "no summary"
    # dash ends with _exit() and writes no dump; its status still comes through.
    "$hakstat" run -- sh -c 'exit 3' >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc = 3 ] || fail "sh: exit status $rc, wanted 3"
    ;;
signal)
    "$hakstat" run -- sh -c 'kill -TERM $$' >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc = 143 ] || fail "exit status $rc, wanted 143 (128 + SIGTERM)"
    ;;
not_found)
    "$hakstat" run -- /nonexistent/program >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc = 127 ] || fail "exit status $rc, wanted 127"
    grep -q '^hakstat run: /nonexistent/program: No such file or directory$' "$tmp/err" ||
        fail "message"
    ;;
keeps_preload)
    # An LD_PRELOAD already set stays, after libhakmem.so.
    libm=$(ldconfig -p | awk '/libm\.so\.6 .*x86-64|libm\.so\.6 \(libc6\)/ {print $NF; exit}')
    [ -n "$libm" ] || libm=$(ldconfig -p | awk '/libm\.so\.6/ {print $NF; exit}')
    LD_PRELOAD=$libm "$hakstat" run -- sh -c 'echo "$LD_PRELOAD"' >"$tmp/out" 2>"$tmp/err" ||
        fail "exit status $?"
    grep -q "libhakmem\.so:$libm\$" "$tmp/out" || fail "LD_PRELOAD is $(cat "$tmp/out")"
    ;;
no_library)
    HAKMEM_LIB=/nonexistent/libhakmem.so "$hakstat" run -- true >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ $rc = 2 ] || fail "exit status $rc, wanted 2"
    ;;
*)
    echo "unknown case $case"
    exit 2
    ;;
esac
