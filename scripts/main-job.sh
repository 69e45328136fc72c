#!/usr/bin/env bash
# The main job of the README: installs what is missing, builds a Release
# hakmem, and runs a real workload (the sqlite3 CLI building and querying a
# database of a few hundred thousand rows, tests/programs/workload.sql) once
# under hakmem (LD_PRELOAD, HAKMEM_VERBOSE=1) and once without it, printing
# what ran, how long each run took, and whether the outputs agree; then once
# more under `hakstat run`, which ends with the summary of hakmem's counters.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2

lib=$root/build/lib/libhakmem.so
workload=$root/tests/programs/workload.sql
work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-main-job.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run LABEL [ENV...]: the workload on a new database in $work/LABEL.
run() {
  local label=$1
  shift
  mkdir -p "$work/$label"
  local start end
  start=$(date +%s.%N)
  (cd "$work/$label" && env "$@" sqlite3 -batch work.db ".read $workload" \
    >"$work/$label.out" 2>"$work/$label.err")
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

echo
echo "== workload: sqlite3 $(sqlite3 --version | cut -d' ' -f1), $workload"
echo "   (20,000 customers and 300,000 orders from recursive CTEs, three indexes,"
echo "    aggregates, joins, window functions, updates, deletes, VACUUM, a self-join)"

echo
echo "== with hakmem: LD_PRELOAD=$lib HAKMEM_VERBOSE=1"
hak_secs=$(run hakmem LD_PRELOAD="$lib" HAKMEM_VERBOSE=1)
echo "-- hakmem configuration (stderr of the run):"
grep 'HAKMEM_' "$work/hakmem.err" || echo "   (none printed: was the library preloaded?)"
echo "-- time: ${hak_secs} s, $(wc -l <"$work/hakmem.out") lines of output"

echo
echo "== without hakmem (the C library's malloc)"
plain_secs=$(run plain)
echo "-- time: ${plain_secs} s, $(wc -l <"$work/plain.out") lines of output"

echo
echo "== result"
echo "   with hakmem:    ${hak_secs} s"
echo "   without hakmem: ${plain_secs} s"
if cmp -s "$work/plain.out" "$work/hakmem.out"; then
  echo "   outputs: identical"
  head -n 3 "$work/hakmem.out" | sed 's/^/   | /'
else
  echo "   outputs: DIFFER"
  diff -u --label without-hakmem --label with-hakmem "$work/plain.out" "$work/hakmem.out" | head -n 40
  exit 1
fi

echo
echo "== what the workload asked of the allocator: hakstat run (counting on)"
(cd "$work" && rm -rf stats && mkdir stats && cd stats &&
  "$root/build/bin/hakstat" run -- sqlite3 -batch work.db ".read $workload" >/dev/null)
