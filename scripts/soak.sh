#!/usr/bin/env bash
# The long soak (the fast tier is scripts/test.sh): installs what is missing,
# builds a Release tree and the three sanitizer trees with the soak tests
# registered (-DHAKMEM_SOAK=ON), runs them, and prints a summary.  About
# 25-40 minutes on 2 cores.
#
#   stress at 32 and 64 threads for minutes; the fuzzed-environment
#   start-up test, 1000 runs from a random seed (printed); the real programs
#   three times over; TSan over thread churn and 16 threads for 2 minutes;
#   UBSan over the unit and stress tests; the env and hakstat fuzzers for 5
#   minutes each (libFuzzer when clang is there).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1

declare -a summary
status=0

# step NAME COMMAND...: runs it, records its status and duration.
step() {
  local name=$1 start=$SECONDS rc
  shift
  echo "=== soak: $name"
  "$@"
  rc=$?
  summary+=("$(printf '%-34s %-6s %5d s' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - start)))")
  [ $rc -eq 0 ] || status=1
}

configure_build() { # DIR [cmake options...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHAKMEM_SOAK=ON "$@" >/dev/null &&
    cmake --build "$dir" -j2
}

in_dir() { (cd "$1" && shift && "$@"); }

step "build: release" configure_build build-soak -DCMAKE_BUILD_TYPE=Release
step "soak tests (label soak)" in_dir build-soak ctest --output-on-failure -L soak
step "env start-up fuzz, 1000 runs" env FUZZ_ENV_RUNS=1000 FUZZ_ENV_SEED=random \
  python3 tests/integration/env_startup_fuzz.py build-soak/lib/libhakmem.so src/env/env.def \
  build-soak/bench/mid_large_mt -t 2 -s 0.1
step "programs, 3 times" in_dir build-soak \
  ctest --output-on-failure -R '^programs\.' --repeat until-fail:3

step "build: thread sanitizer" configure_build build-tsan -DHAKMEM_SANITIZE=thread
step "tsan: every test" in_dir build-tsan ctest --output-on-failure
step "build: undefined sanitizer" configure_build build-ubsan -DHAKMEM_SANITIZE=undefined
step "ubsan: every test" in_dir build-ubsan ctest --output-on-failure

asan_cc=()
if command -v clang >/dev/null; then asan_cc=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++); fi
step "build: address sanitizer" configure_build build-asan -DHAKMEM_SANITIZE=address "${asan_cc[@]}"
step "asan: fuzzers" in_dir build-asan ctest --output-on-failure

echo
echo "=== soak summary"
printf '%s\n' "${summary[@]}"
exit "$status"
