#!/usr/bin/env bash
# run_sqlite.sh LIBHAKMEM [SQLITE3]
# The sqlite3 CLI builds a database of a few hundred thousand rows and
# queries it (workload.sql), with and without hakmem preloaded; the outputs
# must be identical.  Each run starts from an empty directory, so from a new
# database file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: $0 LIBHAKMEM [SQLITE3]}
sqlite=${2:-sqlite3}
exec "$here/compare_preload.sh" "$lib" sqlite3 "$sqlite" -batch work.db ".read $here/workload.sql"
