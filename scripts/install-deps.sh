#!/usr/bin/env bash
# Installs, with apt-get, whatever hakmem needs to build, test and run its
# workloads that is not installed yet.  Works as root or through sudo; does
# nothing (and needs neither) when everything is already there.
set -euo pipefail

packages=(
  build-essential # gcc, g++, make, libc headers
  cmake
  pkg-config
  libcmocka-dev   # unit and integration tests
  jq libjq-dev    # hakstat
  libunwind-dev
  python3         # tests/programs: Python workload
  sqlite3         # tests/programs and the main job: sqlite3 workload
  redis-server    # tests/programs: redis under load
  redis-tools     # tests/programs: redis-benchmark, redis-cli
  git             # tests/programs: git building a repository
  valgrind
  procps          # ps, free: used when looking at a run
  clang libclang-rt-dev # scripts/soak.sh: libFuzzer for the env and hakstat fuzzers
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
