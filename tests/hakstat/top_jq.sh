#!/bin/bash
# `hakstat top` against jq: the sites of sites-a.json and sites-b.json merged
# by jq straight from the dumps (the same stack: frames alike by object and
# offset, by address where the object is unknown) must be what top reports,
# in --json and in --folded.  Run in tests/hakstat/dumps:
#   top_jq.sh HAKSTAT
set -u
hakstat=$1
dumps=(sites-a.json sites-b.json)
status=0

fail() {
    echo "$*"
    status=1
}

# [{allocated, live, samples, frames}] per distinct stack, heaviest first.
want=$(jq -s -c '
    [.[].sites.stacks[]
     | {key: [.frames[] | if .obj != "" then [.obj, .obj_offset] else .addr end],
        allocated_bytes, live_bytes, samples, frames: (.frames | length)}]
    | group_by(.key)
    | map({allocated: (map(.allocated_bytes) | add), live: (map(.live_bytes) | add),
           samples: (map(.samples) | add), frames: .[0].frames})
    | sort_by(-.allocated)' "${dumps[@]}")
got=$("$hakstat" top --json -n 0 "${dumps[@]}" |
    jq -c 'map({allocated: .allocated_bytes, live: .live_bytes, samples, frames: (.frames | length)})')
[ "$got" = "$want" ] || fail "top --json -n 0 differs from jq's merge:
  top: $got
  jq:  $want"
[ "$(jq 'length' <<<"$want")" -ge 5 ] || fail "too few stacks to prove anything: $want"

# Shares add up to 100%; every frame has a name and the dump's fields.
"$hakstat" top --json -n 0 "${dumps[@]}" | jq -e '
    (map(.share_pct) | add | . > 99.9 and . < 100.1)
    and all(.[].frames[]; (.name | length > 0) and (.addr | test("^0x[0-9a-f]+$"))
                          and (.obj_offset | test("^0x[0-9a-f]+$"))
                          and (if .sym == null then has("sym_offset") | not
                               else .sym_offset >= 0 end))' >/dev/null ||
    fail "top --json: shares or frames wrong"

# --by live: heaviest first, none at 0, -n respected.
"$hakstat" top --json --by live -n 3 "${dumps[@]}" | jq -e '
    length == 3 and . == sort_by(-.live_bytes) and all(.[]; .live_bytes > 0)' >/dev/null ||
    fail "top --json --by live -n 3: not the 3 sites holding most"

# --folded: every site (no -n), one "outer;...;inner VALUE" line each, the
# values adding up to the bytes allocated of all sites.
folded=$("$hakstat" top --folded "${dumps[@]}")
bad_lines=$(grep -Evc '^[^ ;]+(;[^ ;]+)* [0-9]+$' <<<"$folded")
[ "$bad_lines" = 0 ] || fail "--folded: $bad_lines lines not in the folded format"
[ "$(wc -l <<<"$folded")" = "$(jq 'length' <<<"$want")" ] || fail "--folded: not one line a site"
sum_folded=$(awk '{ s += $NF } END { printf "%.0f", s }' <<<"$folded")
sum_jq=$(jq 'map(.allocated) | add' <<<"$want")
[ "$sum_folded" = "$sum_jq" ] || fail "--folded values add up to $sum_folded, not $sum_jq"
# Outermost first: every line starts where the process does.
grep -qv '^__libc_start_call_main;main;' <<<"$folded" && fail "--folded: not outermost first"
exit $status
