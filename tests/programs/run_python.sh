#!/usr/bin/env bash
# run_python.sh LIBHAKMEM [PYTHON]
# The standard-library workload (workload.py) with and without hakmem
# preloaded; the outputs must be identical.  -I (isolated mode) keeps the
# user's site packages and PYTHON* variables out of both runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: $0 LIBHAKMEM [PYTHON]}
python=${2:-python3}
exec "$here/compare_preload.sh" "$lib" python "$python" -I "$here/workload.py"
