#!/usr/bin/env bash
# run_gcc.sh LIBHAKMEM [CC]
# gcc compiles real C files (hakmem's own two largest sources) and a large
# generated one with and without hakmem preloaded (gcc_workload.sh): the
# object files and the linked program must be byte-identical.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: $0 LIBHAKMEM [CC]}
cc=${2:-gcc}
root=$(cd "$here/../.." && pwd)
src=$root/src

# The largest sources, by name on a tie, so that the choice needs no upkeep
# as files come and go.
mapfile -t sources < <(find "$src" -name '*.c' -printf '%s %p\n' | LC_ALL=C sort -k1,1nr -k2,2 |
  head -n 2 | cut -d' ' -f2-)
if [ ${#sources[@]} -eq 0 ]; then
  echo "gcc: no C sources under $src" >&2
  exit 1
fi
exec "$here/compare_preload.sh" --compare-files "$lib" gcc \
  bash "$here/gcc_workload.sh" "$cc" -D_GNU_SOURCE -I"$root/include" -I"$src" "${sources[@]}"
