#!/usr/bin/env bash
# run_redis.sh LIBHAKMEM HAKSTAT [REDIS_SERVER [REDIS_CLI [REDIS_BENCHMARK]]]
#
# redis-server under hakmem (LD_PRELOAD), on 127.0.0.1 and a free port,
# with no persistence (--save '' --appendonly no).  Passes only if
#   - hakmem really is loaded in the server (its HAKMEM_* lines on stderr),
#   - every key written with known content (redis_data.awk: strings of every
#     tier's sizes, overwrites, APPEND chains, lists, hashes, sorted sets)
#     reads back exactly after redis-benchmark has loaded the server with
#     SET/GET/LPUSH/LPOP/... of 64-byte, 20 KB and 200 KB values, the deleted
#     keys are gone and no other key is: nothing lost, nothing corrupted,
#   - a SIGUSR2 (HAKMEM_STATS_SIGNAL) while it runs writes a stats snapshot
#     that hakstat summarises (exit 0) and whose --json jq parses,
#   - the server is up throughout (the same process answers) and ends with
#     exit status 0 after SHUTDOWN NOSAVE.
# The clients run without hakmem.  Every step has a time limit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lib=${1:?usage: $0 LIBHAKMEM HAKSTAT [REDIS_SERVER [REDIS_CLI [REDIS_BENCHMARK]]]}
hakstat=${2:?usage: $0 LIBHAKMEM HAKSTAT [REDIS_SERVER [REDIS_CLI [REDIS_BENCHMARK]]]}
server=${3:-redis-server}
cli=${4:-redis-cli}
bench=${5:-redis-benchmark}
unset LD_PRELOAD

for f in "$lib" "$hakstat"; do
  if [ ! -f "$f" ]; then
    echo "redis: no file at $f" >&2
    exit 1
  fi
done
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-redis.XXXXXX")
mkdir "$work/data" "$work/stats"
# What nobody reads goes here rather than to /dev/null, so that nothing this
# test prints can reach another program even where /dev/null is not the
# device (it has been seen replaced by a plain file on shared machines).
quiet=$work/ignored
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>"$quiet"; then
    kill -9 "$pid" 2>"$quiet"
    wait "$pid" 2>"$quiet"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# problem MESSAGE: a failure after which the other checks still tell
# something; the test fails at the end.  fail MESSAGE: one that ends it now.
problems=0
problem() {
  echo "redis: FAIL: $*" >&2
  problems=$((problems + 1))
}
fail() {
  echo "redis: FAIL: $*" >&2
  if [ -n "$pid" ] && ! kill -0 "$pid" 2>"$quiet"; then
    wait "$pid"
    local rc=$?
    pid=
    if [ "$rc" -gt 128 ]; then
      echo "redis: redis-server was killed by signal $((rc - 128)) ($(kill -l $((rc - 128))))" >&2
    else
      echo "redis: redis-server exited with status $rc" >&2
    fi
  fi
  if [ -s "$work/server.log" ]; then
    echo "--- redis-server's log (last 40 lines):" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  if [ -s "$work/server.err" ]; then
    echo "--- redis-server's stderr, without hakmem's configuration lines:" >&2
    grep -v '^hakmem: HAKMEM_' "$work/server.err" | tail -n 40 >&2
  fi
  echo "redis: FAILED"
  exit 1
}

# rcli ARGS...: redis-cli at our server, bounded.
rcli() { timeout -k 5 60 "$cli" -h 127.0.0.1 -p "$port" "$@"; }

# server_is_ours: the process answering on $port is the one started here.
server_is_ours() {
  local answer
  answer=$(rcli info server 2>"$quiet" | tr -d '\r' | sed -n 's/^process_id://p')
  [ "$answer" = "$pid" ]
}

# ------------------------------------------------------------ start

# start_server PORT: starts it and waits until it answers; 0 when up,
# 1 when the port was taken (try another), 2 for any other failure.
start_server() {
  port=$1
  : >"$work/server.log"
  (cd "$work/data" && exec env LD_PRELOAD="$lib" HAKMEM_VERBOSE=1 HAKMEM_STATS_SIGNAL=USR2 \
    HAKMEM_STATS_FILE="$work/stats/hakmem.%p.json" \
    "$server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize no \
    --dir "$work/data" --logfile '' --loglevel notice \
    >"$work/server.log" 2>"$work/server.err") &
  pid=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>"$quiet"; then
      wait "$pid"
      local rc=$?
      pid=
      grep -q -i 'address already in use' "$work/server.log" && return 1
      echo "redis: redis-server exited at start-up with status $rc" >&2
      return 2
    fi
    grep -q 'Ready to accept connections' "$work/server.log" && server_is_ours && return 0
    sleep 0.1
  done
  echo "redis: redis-server did not answer on 127.0.0.1:$port within 10 s" >&2
  return 2
}

port=
for _ in $(seq 1 20); do
  candidate=$((20000 + (RANDOM * 32768 + RANDOM + $$) % 40000))
  # Skip a port something already listens on; start_server sees a race.
  if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>"$quiet"; then
    continue
  fi
  start_server "$candidate"
  case $? in
  0) break ;;
  1) port= ;;
  *) fail "redis-server did not start" ;;
  esac
done
[ -n "$port" ] || fail "no free port found in 20 tries"
echo "redis: redis-server $($server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'), pid $pid, 127.0.0.1:$port"

grep -q '^hakmem: HAKMEM_' "$work/server.err" ||
  fail "no HAKMEM_* configuration on redis-server's stderr: LD_PRELOAD=$lib did not take effect"

# ------------------------------------------------------------ write

awk -v mode=write -f "$here/redis_data.awk" >"$work/write.resp" || fail "redis_data.awk write"
awk -v mode=delete -f "$here/redis_data.awk" >"$work/delete.resp" || fail "redis_data.awk delete"
awk -v mode=read -f "$here/redis_data.awk" >"$work/read.cmds" || fail "redis_data.awk read"
awk -v mode=expect -f "$here/redis_data.awk" >"$work/expect.out" || fail "redis_data.awk expect"
keys=$(awk -v mode=count -f "$here/redis_data.awk") || fail "redis_data.awk count"
writes=$(grep -c '^\*' "$work/write.resp")

# pipe FILE: sends the commands with redis-cli --pipe; every one must succeed.
pipe() {
  rcli --pipe <"$1" >"$work/pipe.out" 2>&1 || fail "redis-cli --pipe <$(basename "$1"): $(tail -n 3 "$work/pipe.out")"
  grep -q "errors: 0, replies: $2\$" "$work/pipe.out" ||
    fail "redis-cli --pipe <$(basename "$1"): expected no errors and $2 replies: $(tail -n 1 "$work/pipe.out")"
}
pipe "$work/write.resp" "$writes"
echo "redis: wrote $writes commands ($(wc -c <"$work/write.resp") bytes) of known content"

# ------------------------------------------------------------ load

# bench LABEL ARGS...: a bounded redis-benchmark run; any error fails (it
# stops at the first error reply, with a non-zero status).
bench() {
  local label=$1
  shift
  timeout -k 5 60 "$bench" -h 127.0.0.1 -p "$port" -q --csv "$@" >"$work/bench.out" 2>&1 ||
    fail "redis-benchmark ($label) failed: $(tail -n 5 "$work/bench.out")"
  if grep -q -i 'error' "$work/bench.out"; then
    fail "redis-benchmark ($label) saw errors: $(grep -i -m 5 'error' "$work/bench.out")"
  fi
  echo "redis: redis-benchmark $label: $(grep -c '^"[A-Z]' "$work/bench.out") tests, $(
    awk -F'","' 'NR > 1 { sub(/^"/, "", $1); printf "%s%s %.0f/s", sep, $1, $2; sep = ", " }' "$work/bench.out")"
}
bench "-d 64" -n 20000 -r 10000 -c 16 -P 8 -d 64 -t set,get,incr,lpush,lpop,rpush,sadd,hset,zadd,lrange_100,mset
bench "-d 20000" -n 1000 -r 500 -c 8 -d 20000 -t set,get,lpush,lpop,rpush
bench "-d 200000" -n 100 -r 50 -c 4 -d 200000 -t set,get,lpush,lpop
server_is_ours || fail "after redis-benchmark, redis-server (pid $pid) no longer answers on port $port"

pipe "$work/delete.resp" "$(grep -c '^\*' "$work/delete.resp")"

# ------------------------------------------------------------ snapshot

# check_snapshot: the SIGUSR2 snapshot exists and hakstat and jq read it.
check_snapshot() {
  local snapshot="$work/stats/hakmem.$pid.json"
  for _ in $(seq 1 50); do
    [ -s "$snapshot" ] && break
    sleep 0.1
  done
  if [ ! -s "$snapshot" ]; then
    problem "no stats snapshot at $snapshot 5 s after SIGUSR2; files in $work/stats: [$(
      find "$work/stats" -mindepth 1 -printf '%P ')], in redis-server's directory: [$(
      find "$work/data" -mindepth 1 -printf '%P ')]"
    return
  fi
  if ! timeout 60 "$hakstat" "$snapshot" >"$work/hakstat.out" 2>&1; then
    problem "hakstat $snapshot exited with $?: $(head -n 5 "$work/hakstat.out")"
    return
  fi
  if ! timeout 60 "$hakstat" --json "$snapshot" >"$work/hakstat.json" 2>"$work/hakstat.err"; then
    problem "hakstat --json exited with $?: $(head -n 5 "$work/hakstat.err")"
    return
  fi
  if ! jq -e 'type == "object"' "$work/hakstat.json" >"$quiet" 2>&1; then
    problem "jq cannot parse hakstat --json's output"
    return
  fi
  if ! jq -e --argjson pid "$pid" '.reason == "signal" and .pid == $pid' "$snapshot" >"$quiet" 2>&1; then
    problem "the snapshot is not redis-server's, written on the signal: $(jq -c '{reason, pid, program}' "$snapshot" 2>&1)"
    return
  fi
  echo "redis: SIGUSR2 snapshot read by hakstat ($(wc -l <"$work/hakstat.out") lines; --json parsed by jq)"
}
kill -USR2 "$pid" || fail "could not send SIGUSR2 to redis-server"
check_snapshot
server_is_ours || fail "after SIGUSR2, redis-server (pid $pid) no longer answers on port $port"

# ------------------------------------------------------------ read back

rcli --raw <"$work/read.cmds" >"$work/read.out" 2>"$work/read.err" || fail "reading back: redis-cli: $(head -n 3 "$work/read.err")"
if ! cmp -s "$work/expect.out" "$work/read.out"; then
  # A value starts with the name of what it belongs to (redis_data.awk).
  echo "redis: lines read back that differ from those written (the first 10):" >&2
  awk 'NR == FNR { want[FNR] = $0; next }
       want[FNR] != $0 {
         printf "  line %d: expected %d bytes \"%.40s\", read %d bytes \"%.40s\"\n",
           FNR, length(want[FNR]), want[FNR], length($0), $0
         if (++n == 10) exit
       }' "$work/expect.out" "$work/read.out" >&2
  cmp "$work/expect.out" "$work/read.out" >&2
  fail "the keys read back differ from what was written"
fi
live=$(rcli --scan --pattern 'hk:*' | wc -l)
[ "$live" -eq "$keys" ] || fail "$live keys hk:* in the server, expected $keys"
echo "redis: read back every key: $keys keys, $(wc -c <"$work/read.out") bytes, all as written"

# ------------------------------------------------------------ shut down

rcli shutdown nosave >"$work/shutdown.out" 2>&1
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>"$quiet" || break
  sleep 0.1
done
kill -0 "$pid" 2>"$quiet" && fail "redis-server still running 10 s after SHUTDOWN NOSAVE"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] || fail "redis-server exited with status $rc after SHUTDOWN NOSAVE"
grep -q 'ready to exit, bye bye' "$work/server.log" || fail "redis-server did not log a clean shutdown"
echo "redis: server up throughout, exit status 0 after SHUTDOWN NOSAVE"
[ "$problems" -eq 0 ] || fail "$problems of the checks above failed"
echo "redis: ok"
