#!/usr/bin/env bash
# smoke.sh LIBHAKMEM BENCHDIR
# Runs every workload once, briefly, with LIBHAKMEM preloaded.  A workload
# exits non-zero when a block it frees does not hold what it wrote, or when
# an allocation fails; that, or a missing result line, fails the test.
set -uo pipefail
lib=${1:?usage: $0 LIBHAKMEM BENCHDIR}
dir=${2:?usage: $0 LIBHAKMEM BENCHDIR}
status=0
run() {
    local out
    if ! out=$(LD_PRELOAD=$lib "$dir/$1" "${@:2}" 2>&1); then
        echo "FAIL: $* (exit status $?)"; echo "$out"; status=1
    elif ! grep -q "^bench=$1 .*ops_per_sec=" <<<"$out"; then
        echo "FAIL: $*: no result line"; echo "$out"; status=1
    else
        echo "ok: $*: $(grep "^bench=" <<<"$out")"
    fi
}
run larson -t 1 -s 0.3 -r 20000
run larson -t 2 -s 0.3 -r 20000
run tiny_random -n 4096 -s 0.3
run tiny_random -n 32768 -s 0.3
run tiny_random -t 3 -n 1024 -s 0.3
run mid_large_mt -t 2 -n 2048 -s 0.5
run prodcons -m 16 -M 1024 -s 0.3
run prodcons -m 1025 -M 32768 -q 256 -s 0.3
run realloc_chain -s 0.5
run churn -s 0.3
run frag -g 64 -w 0.3
run pairs -z 16 -n 100000
run pairs -z 16384 -n 100000
exit $status
