#!/usr/bin/env bash
# run_prof.sh MODE LIBHAKMEM PROF_SITES HAKSTAT: runs prof_sites MODE with
# libhakmem.so preloaded and sampling on, then checks the dump(s) with jq
# and `hakstat top`.  Tolerances are 4-5 standard deviations of the sampling
# error at the rate used (32 KiB: about 4600 samples at the heavy site and
# 1500 at the light one), so a failure means a real bias.
set -euo pipefail
mode=$1 lib=$2 prog=$3 hakstat=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }

# jq over one dump: the sum of FIELD over the stacks whose innermost frame is SYM.
site_sum() { # file sym field
    jq --arg sym "$2" --arg f "$3" \
        '[.sites.stacks[] | select(.frames[0].sym == $sym) | .[$f]] | add // 0' "$1"
}

# A/B within TOL (a fraction) of WANT.
check_ratio() { # what a b want tol
    awk -v a="$2" -v b="$3" -v want="$4" -v tol="$5" -v what="$1" 'BEGIN {
        if (b <= 0) { print "FAIL: " what ": the second site has nothing"; exit 1 }
        r = a / b
        printf "%s: %.3f (want %.2f +- %d%%)\n", what, r, want, tol * 100
        if (r < want * (1 - tol) || r > want * (1 + tol)) { print "FAIL: " what " out of tolerance"; exit 1 }
    }'
}

run() { # extra env... -- args
    env HAKMEM_PROF_SAMPLE=32768 HAKMEM_STRICT_ENV=1 HAKMEM_STATS_FILE="$work/d.%p.json" \
        "$@" LD_PRELOAD="$lib" "$prog" "$mode"
}

case $mode in
ratio | threads)
    run
    dump=$(ls d.*.json)
    jq -e '.sites.sample_bytes == 32768 and .sites.unrecorded == 0' "$dump" >/dev/null ||
        fail "sites header: $(jq -c '.sites | del(.stacks)' "$dump")"
    heavy=$(site_sum "$dump" site_heavy allocated_bytes)
    light=$(site_sum "$dump" site_light allocated_bytes)
    heavy_live=$(site_sum "$dump" site_heavy live_bytes)
    light_live=$(site_sum "$dump" site_light live_bytes)
    echo "allocated: heavy $heavy, light $light; live: heavy $heavy_live, light $light_live"
    check_ratio "allocated heavy/light" "$heavy" "$light" 3 0.15
    check_ratio "live light/heavy" "$light_live" "$heavy_live" 2 0.20
    # Unbiased: the estimates match what the program really allocated.
    check_ratio "heavy estimate/real" "$heavy" $((3 * (48 << 20))) 1 0.10
    check_ratio "light estimate/real" "$light" $((48 << 20)) 1 0.10
    # hakstat names them, heaviest first, by allocated and by live bytes.
    "$hakstat" top "$dump" -n 5
    top=$("$hakstat" top "$dump" --json -n 2)
    [[ $(jq -r '[.[].frames[0].sym] | join(",")' <<<"$top") == "site_heavy,site_light" ]] ||
        fail "top by allocated: $(jq -c '[.[].frames[0].sym]' <<<"$top")"
    top=$("$hakstat" top "$dump" --by live --json -n 2)
    [[ $(jq -r '[.[].frames[0].sym] | join(",")' <<<"$top") == "site_light,site_heavy" ]] ||
        fail "top by live: $(jq -c '[.[].frames[0].sym]' <<<"$top")"
    "$hakstat" top "$dump" --folded | grep -q 'site_heavy [0-9]' || fail "no folded line for site_heavy"
    jq -e '.sites.depth == 16 and ([.sites.stacks[].frames | length] | max) <= 16' "$dump" >/dev/null ||
        fail "default depth: $(jq -c '[.sites.depth, ([.sites.stacks[].frames | length] | max)]' "$dump")"
    # HAKMEM_PROF_DEPTH cuts the stacks after hakmem's own frames are gone:
    # three frames, the innermost still the allocating function.
    [[ $mode == ratio ]] || { echo "ok: $mode"; exit 0; }
    rm -f d.*.json
    run HAKMEM_PROF_DEPTH=3
    jq -e '.sites.depth == 3 and ([.sites.stacks[].frames | length] | max) == 3 and
           any(.sites.stacks[]; .frames[0].sym == "site_heavy" and .frames[1].sym == "allocate")' \
        d.*.json >/dev/null || fail "depth 3: $(jq -c '[.sites.stacks[].frames | map(.sym)]' d.*.json)"
    ;;
off)
    env HAKMEM_STATS=1 HAKMEM_STATS_FILE="$work/d.%p.json" LD_PRELOAD="$lib" "$prog" ratio
    jq -e 'has("sites") | not' d.*.json >/dev/null || fail "sampling off, yet the dump has sites"
    ;;
fork)
    run
    # The parent's dump and one per child, each complete, each with its sites.
    [[ $(ls d.*.json | wc -l) -eq 21 ]] || fail "$(ls d.*.json | wc -l) dumps, not 21"
    for d in d.*.json; do
        jq -e '.sites.samples > 0 and (.sites.stacks | length) > 0' "$d" >/dev/null ||
            fail "$d: no samples"
    done
    children=$(jq -s '[.[] | select(.sites.stacks | any(.frames | any(.sym == "run_fork")))] | length' d.*.json)
    ((children >= 10)) || fail "only $children dumps name the children's site (run_fork)"
    ;;
signal)
    run HAKMEM_STATS_SIGNAL=USR1
    for i in $(seq 0 9); do
        jq -e '.reason == "signal" and .sites.samples > 0' snap.$i.json >/dev/null ||
            fail "snapshot $i: $(jq -c '{reason, s: .sites.samples}' snap.$i.json)"
    done
    # Counts only grow from one snapshot to the next.
    jq -s -e '[.[].sites.samples] | . == sort' $(printf 'snap.%d.json ' $(seq 0 9)) >/dev/null ||
        fail "samples went down between snapshots"
    "$hakstat" top snap.9.json -n 3
    ;;
*)
    fail "unknown mode $mode"
    ;;
esac
echo "ok: $mode"
