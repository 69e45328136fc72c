#!/usr/bin/env bash
# run_cxx.sh LIBHAKMEM CXX_WORKLOAD
# The C++ workload (cxx_workload.cpp: containers, strings, shared_ptr,
# std::thread, exceptions), built without hakmem, run with and without it
# preloaded; the outputs must be identical.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: $0 LIBHAKMEM CXX_WORKLOAD}
exe=${2:?usage: $0 LIBHAKMEM CXX_WORKLOAD}
exec "$here/compare_preload.sh" "$lib" cxx "$exe"
