#!/usr/bin/env bash
# redis-server on 127.0.0.1 under whatever allocator the caller preloaded,
# driven by redis-benchmark (not preloaded: only the server's allocator is
# measured) for a fixed number of requests.  bench/compare times the whole
# run, so runs per second stand for requests per second.
set -euo pipefail
requests=${1:-200000}
dir=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
client() { env -u LD_PRELOAD "$@"; }

for attempt in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        client redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    client redis-cli -p "$port" ping >/dev/null 2>&1 && break
    kill "$pid" 2>/dev/null || true
    pid=
    [ "$attempt" = 5 ] && { echo "redis-server did not start: $(tail -3 "$dir/log")" >&2; exit 1; }
done
client redis-benchmark -p "$port" -n "$requests" -q -t set,get,lpush,lpop,hset -d 256 >/dev/null
client redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$pid" || true
pid=
echo "redis: $requests requests each of set, get, lpush, lpop, hset (256 B values)"
