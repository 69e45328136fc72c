#!/usr/bin/env bash
# git_workload.sh GIT
# Run by run_git.sh through compare_preload.sh, in an empty directory: builds
# a repository with fixed names and dates (many files over several commits,
# a branch and a merge, renames and deletions, an annotated tag), packs it
# with gc and prints its hashes, digests of log -p, blame, grep and archive,
# and what fsck says.  All of it depends only on the content and the dates,
# so the output must be the same with and without hakmem.  The git commands
# that git starts (pack-objects, repack, index-pack...) inherit LD_PRELOAD.
set -euo pipefail
git=${1:-git}

# Nothing from the user's or the system's configuration, the calling
# repository or the clock.
while IFS= read -r var; do
  unset "$var"
done < <(env | sed -n 's/^\(GIT_[A-Za-z_]*\)=.*/\1/p')
export HOME=$PWD XDG_CONFIG_HOME=$PWD/.config GIT_CONFIG_NOSYSTEM=1 TZ=UTC LC_ALL=C
export GIT_AUTHOR_NAME='hakmem test' GIT_AUTHOR_EMAIL=test@hakmem.invalid
export GIT_COMMITTER_NAME='hakmem test' GIT_COMMITTER_EMAIL=test@hakmem.invalid

at() { # at N: the author and committer date of step N
  export GIT_AUTHOR_DATE="@$((1700000000 + $1 * 3600)) +0000"
  export GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
}
digest() { "$git" hash-object --stdin; }

"$git" init -q -b main repo
cd repo
# gc only when asked and never in the background (it would outlive the run).
"$git" config gc.auto 0
"$git" config gc.autoDetach false
"$git" config maintenance.auto false
"$git" config core.fsync none # the repository is thrown away: no waiting for the disk

# write_files STEP: rewrites a third of the files of every directory, adds
# new ones, and grows one large file per directory, so that gc finds deltas.
write_files() {
  mkdir -p dir0{0..7}
  awk -v step="$1" 'BEGIN {
    for (d = 0; d < 8; d++) {
      dir = sprintf("dir%02d", d)
      for (f = 0; f < 20 + step * 3; f++) {
        if ((f + d + step) % 3 != 0 && step > 0 && f < 20 + (step - 1) * 3)
          continue
        file = sprintf("%s/file%03d.txt", dir, f)
        for (l = 0; l < 10 + (f * 7 + d) % 60; l++)
          printf "step %d dir %d file %d line %d: %s\n", step, d, f, l, substr("lorem ipsum dolor sit amet consectetur adipiscing elit sed do", 1 + (l * 5) % 40) > file
        close(file)
      }
      big = dir "/big.log"
      for (l = 0; l < 800; l++)
        printf "%s line %05d value %d\n", dir, l, (l * 31 + d * step) % 1000 >> big
      close(big)
    }
  }'
}

for step in 0 1 2 3 4 5; do
  at "$step"
  if [ "$step" -eq 3 ]; then
    "$git" mv dir01 renamed01
    "$git" rm -q -r dir02
  fi
  write_files "$step"
  "$git" add -A
  "$git" commit -q -m "step $step"
  if [ "$step" -eq 2 ]; then
    "$git" checkout -q -b side
    at 20
    printf 'side branch file %d\n' $(seq 1 2000) >side.txt
    "$git" add side.txt
    "$git" commit -q -m "side branch"
    "$git" checkout -q main
  fi
done
at 30
"$git" merge -q --no-ff -m "merge side" side
"$git" tag -a -m "release one" v1

"$git" gc -q --prune=now

echo "HEAD: $("$git" rev-parse HEAD)"
echo "tree: $("$git" rev-parse 'HEAD^{tree}')"
echo "tag:  $("$git" rev-parse v1)"
"$git" log --format='%H %T %P %ad %s' --date=raw --all
echo "files at HEAD: $("$git" ls-files | wc -l)"
echo "objects in pack: $("$git" count-objects -v | sed -n 's/^in-pack: //p')"
echo "log -p:   $("$git" log -p --stat --all | digest)"
echo "blame:    $("$git" blame -s dir00/big.log | digest)"
echo "grep:     $("$git" grep -c 'line 00' HEAD~2 | digest)"
echo "archive:  $("$git" archive --format=tar v1 | digest)"
echo "diff:     $("$git" diff --stat HEAD~4 HEAD | tail -n 1)"
# What fsck finds goes to stdout or stderr, both compared, and fails the
# script through its exit status.
fsck=$("$git" fsck --full --strict --no-dangling)
echo "fsck: ${fsck:-clean}"
