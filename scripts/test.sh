#!/usr/bin/env bash
# The test command of the README: installs what is missing, configures and
# builds a Release build in build/, runs every test (unit, integration,
# stress, programs) and exits with ctest's status.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
cd build
status=0
ctest --output-on-failure -j2 || status=$?
exit "$status"
