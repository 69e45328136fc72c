#!/usr/bin/env bash
# compare_preload.sh [--compare-files] LIBHAKMEM NAME COMMAND [ARGS...]
#
# Runs COMMAND twice, each time in a fresh empty directory: once as it is,
# once with LD_PRELOAD=LIBHAKMEM (and HAKMEM_VERBOSE=1).  Passes only if
#   - both runs exit 0 (a crash or an error under hakmem fails the test),
#   - hakmem really was loaded in the second run (its start-up configuration,
#     HAKMEM_* lines, is on that run's stderr),
#   - stdout is byte-for-byte the same, and so is stderr once hakmem's own
#     lines are taken out,
#   - with --compare-files, the two directories hold the same files when the
#     runs end, each byte-for-byte the same (cmp): for programs whose output
#     is files, such as a compiler's objects.
# On failure it prints what differed, with a diff.
set -uo pipefail

compare_files=0
if [ "${1:-}" = --compare-files ]; then
  compare_files=1
  shift
fi
if [ $# -lt 3 ]; then
  echo "usage: $0 [--compare-files] LIBHAKMEM NAME COMMAND [ARGS...]" >&2
  exit 2
fi
lib=$1 name=$2
shift 2
limit=${HAK_PROGRAM_TIMEOUT:-240}

if [ ! -f "$lib" ]; then
  echo "$name: no library at $lib" >&2
  exit 1
fi
# Absolute: the runs happen in other directories.
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/plain" "$work/hakmem"

# run LABEL [ENV...]: runs the command in $work/LABEL; sets rc and secs.
run() {
  local label=$1
  shift
  local start end
  start=$(date +%s.%N)
  # Only the program itself gets the environment given (LD_PRELOAD
  # included), not the timeout wrapper.
  (cd "$work/$label" && env -u LD_PRELOAD timeout -k 10 "$limit" env "$@" "${cmd[@]}" \
    >"$work/$label.out" 2>"$work/$label.err")
  rc=$?
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
}

describe_status() {
  local rc=$1
  if [ "$rc" -eq 124 ]; then
    echo "timed out after ${limit}s"
  elif [ "$rc" -gt 128 ]; then
    echo "killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
  else
    echo "exit status $rc"
  fi
}

cmd=("$@")
failed=0

run plain HAKMEM_VERBOSE=0
plain_rc=$rc plain_secs=$secs
run hakmem "LD_PRELOAD=$lib" HAKMEM_VERBOSE=1
hak_rc=$rc hak_secs=$secs

echo "$name: without hakmem: $(describe_status "$plain_rc"), ${plain_secs}s, $(wc -l <"$work/plain.out") lines of output"
echo "$name: with hakmem:    $(describe_status "$hak_rc"), ${hak_secs}s, $(wc -l <"$work/hakmem.out") lines of output"

if [ "$plain_rc" -ne 0 ]; then
  echo "$name: FAIL: the program fails even without hakmem; stderr:" >&2
  tail -n 30 "$work/plain.err" >&2
  failed=1
fi
if [ "$hak_rc" -ne 0 ]; then
  echo "$name: FAIL: under hakmem the program ended with $(describe_status "$hak_rc"); stderr:" >&2
  tail -n 30 "$work/hakmem.err" >&2
  failed=1
fi
if ! grep -q 'HAKMEM_' "$work/hakmem.err"; then
  echo "$name: FAIL: no HAKMEM_* configuration on stderr: LD_PRELOAD=$lib did not take effect" >&2
  head -n 10 "$work/hakmem.err" >&2
  failed=1
fi
if ! cmp -s "$work/plain.out" "$work/hakmem.out"; then
  echo "$name: FAIL: stdout differs between the runs without and with hakmem:" >&2
  diff -u --label without-hakmem --label with-hakmem "$work/plain.out" "$work/hakmem.out" |
    head -n 60 >&2
  failed=1
fi
# hakmem's own start-up lines (HAKMEM_VERBOSE) are the only stderr allowed
# to differ.
grep -v -e 'HAKMEM_' -e '^hakmem' "$work/hakmem.err" >"$work/hakmem.err.program"
if ! cmp -s "$work/plain.err" "$work/hakmem.err.program"; then
  echo "$name: FAIL: stderr differs (apart from hakmem's own lines):" >&2
  diff -u --label without-hakmem --label with-hakmem "$work/plain.err" "$work/hakmem.err.program" |
    head -n 60 >&2
  failed=1
fi

# same_files: compares what the two runs left in their directories.
same_files() {
  (cd "$work/plain" && find . -type f -printf '%P\n' | LC_ALL=C sort) >"$work/plain.files"
  (cd "$work/hakmem" && find . -type f -printf '%P\n' | LC_ALL=C sort) >"$work/hakmem.files"
  if ! cmp -s "$work/plain.files" "$work/hakmem.files"; then
    echo "$name: FAIL: the runs left different files:" >&2
    diff -u --label without-hakmem --label with-hakmem "$work/plain.files" "$work/hakmem.files" |
      head -n 60 >&2
    return 1
  fi
  local f differ=0
  while IFS= read -r f; do
    if ! cmp "$work/plain/$f" "$work/hakmem/$f" >"$work/cmp.out" 2>&1; then
      echo "$name: FAIL: $f differs between the runs: $(sed 's/^.* differ: //' "$work/cmp.out")" >&2
      differ=1
    fi
  done <"$work/plain.files"
  [ "$differ" -eq 0 ] || return 1
  echo "$name: $(wc -l <"$work/plain.files") files left by the program, all identical"
}
if [ "$compare_files" -eq 1 ] && [ "$plain_rc" -eq 0 ] && [ "$hak_rc" -eq 0 ]; then
  same_files || failed=1
fi

if [ "$failed" -ne 0 ]; then
  echo "$name: FAILED"
  exit 1
fi
echo "$name: ok (outputs identical, $(wc -c <"$work/plain.out") bytes)"
