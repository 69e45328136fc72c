#!/usr/bin/env bash
# test_misses.sh BUILDDIR
# bench/misses on a short run of bench/pairs under hakmem and glibc: each
# allocator's row counts every malloc the workload made, and the code it
# charges to each allocator is the allocator's (tens of instructions per
# malloc; a misclassified library shows none).  A workload that fails makes
# the tool fail.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILDDIR}
status=0
fail() { echo "FAIL: $*"; status=1; }

out=$("$here/misses" --build-dir "$build" --allocators "hakmem glibc" --top 3 -- pairs -z 64 -n 20000) ||
    fail "bench/misses exited $?"
echo "$out"
for a in hakmem glibc; do
    row=$(awk -v a="$a" '$1 == a && $2 ~ /^[0-9,]+$/' <<<"$out")
    [ -n "$row" ] || { fail "no row for $a"; continue; }
    read -r _ mallocs _ instr d1 _ <<<"$row"
    mallocs=${mallocs//,/}
    [ "$mallocs" -ge 21000 ] || fail "$a: $mallocs mallocs recorded, the workload made at least 21,000"
    awk -v i="$instr" 'BEGIN{exit !(i >= 10 && i <= 400)}' ||
        fail "$a: $instr allocator instructions per malloc (want 10-400: the allocator's code was missed)"
    awk -v d="$d1" 'BEGIN{exit !(d >= 0 && d < 1)}' || fail "$a: $d1 misses per malloc in a hot loop"
done
grep -q "misses/malloc" <<<"$out" || fail "--top listed no instruction"

if "$here/misses" --build-dir "$build" --allocators hakmem -- pairs -z 0 -n -5 >/dev/null 2>&1; then
    fail "a workload that fails (bad arguments) did not make bench/misses fail"
fi
[ "$status" = 0 ] && echo "ok: bench/misses"
exit "$status"
