#!/usr/bin/env bash
# run_git.sh LIBHAKMEM [GIT]
# git builds, packs and checks a repository with fixed dates
# (git_workload.sh) with and without hakmem preloaded: the commit hashes
# and everything else printed must be identical, and git fsck clean.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: $0 LIBHAKMEM [GIT]}
git=${2:-git}
exec "$here/compare_preload.sh" "$lib" git bash "$here/git_workload.sh" "$git"
