#!/usr/bin/env python3
# Writes the hand-made dumps of tests/hakstat/dumps/ and the fuzzing seeds
# tests/hakstat/corpus/seed-*.json from src/stats/counters.def,
# src/size_classes.def and src/env/env.def: self-consistent (tiers sum their
# classes, totals sum the tiers, the histogram sums to the allocations),
# deterministic (fixed seeds), shaped as docs/STATS.md says.  Run it after
# counters.def changes, then rewrite the golden outputs and review them:
#   python3 tests/hakstat/make_dumps.py
#   HAKSTAT_UPDATE_GOLDEN=1 ctest --test-dir build -R hakstat.golden
import json
import os
import random
import re

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


DEFS = read("src/stats/counters.def")
CLASS_KEYS = re.findall(r'^HAK_CLASS_COUNTER\(\w+, "(\w+)"', DEFS, re.M)
COUNTERS = re.findall(r'^HAK_COUNTER\(\w+, "(\w+)", "(\w+)"', DEFS, re.M)
CLASSES = [(int(i), int(s), t.lower()) for i, s, t in re.findall(
    r"HAK_SIZE_CLASS\(\s*(\d+),\s*(\d+),\s*(\w+)\)", read("src/size_classes.def"))]
ENV = []
for name, typ, default in re.findall(
        r'^HAKMEM_ENV\((\w+), \w+, (\w+), ("[^"]*"|\d+)', read("src/env/env.def"), re.M):
    if typ == "ENUM":
        choices = re.search(r"HAKMEM_ENV\(%s,[^\n]*?\"([^\"]+)\",\s*$" % name,
                            read("src/env/env.def"), re.M)
        default = choices.group(1).split("|")[int(default)] if choices else default
    ENV.append(("HAKMEM_" + name, json.loads(default) if default.startswith('"') else
                default if typ == "ENUM" else int(default)))
TIERS = ("tiny", "mid", "pool")
LOCK_KEYS = [k for k in CLASS_KEYS if k.startswith("lock_")]


def make_class(r, i, size, tier, scale, remote, locks):
    weight = {"tiny": 1.0, "mid": 0.08, "pool": 0.004}[tier] * r.random() ** 2
    alloc = 0 if r.random() < 0.3 else int(scale * weight)
    if alloc == 0:
        return None, 0
    lo = CLASSES[i - 1][1] if i > 0 else 0
    avg = lo + (size - lo) * r.uniform(0.5, 1.0)
    freed = alloc - r.randint(0, max(1, alloc // 50))
    refill = max(1, int(alloc * r.uniform(0.001, 0.03)))
    slabs = max(1, alloc * size // (65536 if size <= 8192 else 2 << 20) // 4)
    e = {"class": i, "size": size, "tier": tier, "alloc": alloc, "free": freed,
         "free_remote": int(freed * remote * r.random() * 2), "bytes_requested": int(alloc * avg),
         "refill": refill, "slabs_new": slabs, "slabs_released": slabs // 2}
    for k in LOCK_KEYS:
        on = locks and tier != "tiny"
        e[k] = 0 if not on else (refill if k.endswith(("acquire", "release")) else
                                 refill // 20 if k.endswith("contended") else refill * 300)
    for k in CLASS_KEYS:
        e.setdefault(k, 0)
    e = {k: e[k] for k in ["class", "size", "tier"] + CLASS_KEYS}
    return e, avg


def make(seed, program, pid, scale, env=None, hist=True, remote=0.05, start=1763875931123,
         elapsed=2333, extra=None, warnings=0):
    env = dict({"HAKMEM_STATS": 1}, **({"HAKMEM_SIZE_HIST": 1} if hist else {}), **(env or {}))
    r = random.Random(seed)
    locks = env.get("HAKMEM_SHARED_POOL_LOCK_STATS") == 1
    d = {"schema": "hakmem.stats/1", "pid": pid, "program": program, "reason": "exit",
         "start_unix_ms": start, "end_unix_ms": start + elapsed, "elapsed_ms": elapsed}
    d["config"] = [{"name": n, "value": env.get(n, v),
                    "source": "environment" if n in env else "default"} for n, v in ENV]
    d["env_warnings"] = warnings
    d["process"] = {"rss_bytes": r.randint(8, 40) << 20, "rss_peak_bytes": r.randint(40, 90) << 20}
    tiers = {t: dict({k: 0 for k in CLASS_KEYS}, bytes_allocated=0, slabs_in_use=0) for t in TIERS}
    classes, buckets = [], {}
    for i, size, tier in CLASSES:
        e, avg = make_class(r, i, size, tier, scale, remote, locks)
        if e is None:
            continue
        classes.append(e)
        for k in CLASS_KEYS:
            tiers[tier][k] += e[k]
        tiers[tier]["bytes_allocated"] += e["alloc"] * size
        tiers[tier]["slabs_in_use"] += e["slabs_new"] - e["slabs_released"]
        b = 1
        while b < avg:
            b *= 2
        buckets[b] = buckets.get(b, 0) + e["alloc"]
    groups = {}
    for g, k in COUNTERS:
        groups.setdefault(g, {})[k] = r.randint(0, int(scale * 0.001) + 5)
    la = r.randint(10, 200)
    groups["large"].update({"alloc": la, "free": la - r.randint(0, 3),
                            "bytes_requested": la * 3000000, "bytes_allocated": la * 3002368,
                            "cache_hits": la // 3})
    buckets[1 << 21] = buckets.get(1 << 21, 0) + la // 2
    buckets[1 << 22] = buckets.get(1 << 22, 0) + la - la // 2
    groups["threads"]["started"] = r.randint(1, 8)
    groups["threads"]["exited"] = groups["threads"]["started"] - 1
    for t in TIERS:
        tiers[t].update(groups.pop(t, {}))
    tiers["large"] = groups.pop("large")
    d["threads"] = dict(groups.pop("threads"), live=1)
    os_ = groups.pop("os")
    os_["mapped_bytes"] = r.randint(10, 60) << 20
    os_["mapped_peak_bytes"] = os_["mapped_bytes"] + (r.randint(1, 30) << 20)
    d["os"] = os_
    d["totals"] = {k: sum(tiers[t][k] for t in tiers)
                   for k in ("alloc", "free", "bytes_requested", "bytes_allocated")}
    d["tiers"] = tiers
    d.update(groups)  # realloc, mf2, segments, ...: top-level objects
    d["classes"] = classes
    d["histogram"] = {"enabled": hist, "buckets": [{"max": m, "count": c}
                                                   for m, c in sorted(buckets.items())] if hist else []}
    if extra:
        extra(d)
    return d


def future_fields(d):
    """Fields a later schema may add: hakstat must ignore them."""
    d["tiers"]["mid"]["page_stats"] = {"pages_live": 12, "nested": {"deeper": 3}}
    d["sites"] = [{"site": "0x1234", "alloc": 5, "frames": ["main", "foo"]}]
    d["future_field"] = {"nested": [1, 2, 3], "text": "ignored"}


def write(path, d, compact=False):
    with open(os.path.join(ROOT, path), "w") as f:
        f.write(json.dumps(d, separators=(",", ":")) if compact else json.dumps(d, indent=1) + "\n")


def write_bad(idle):
    """Each a dump with one thing wrong (tests/hakstat/CMakeLists.txt says what)."""
    bad = "tests/hakstat/bad/"
    text = json.dumps(idle, indent=1) + "\n"
    raw = {"empty.json": "", "blank.json": "  \n\n", "truncated.json": text[:len(text) // 2],
           "invalid.json": '{"schema": "hakmem.stats/1",\n "pid": 12,\n "program": sqlite3\n}\n',
           "two-values.json": text + text, "array.json": "[1, 2, 3]\n", "number.json": "42\n"}
    for name, content in raw.items():
        with open(os.path.join(ROOT, bad + name), "w") as f:
            f.write(content)
    extra_class = {"class": 40, "size": 2304, "tier": "mid", "free_remote": 0, "alloc": 1,
                   "free": 1, "bytes_requested": 2000, "refill": 1, "slabs_new": 1,
                   "slabs_released": 0}
    extra_class.update({k: 0 for k in CLASS_KEYS if k not in extra_class})
    mutations = {
        "schema2.json": lambda d: d.update(schema="hakmem.stats/2"),
        "no-schema.json": lambda d: d.pop("schema"),
        "schema-number.json": lambda d: d.update(schema=1),
        "totals-string.json": lambda d: d.update(totals="x"),
        "no-totals-alloc.json": lambda d: d["totals"].pop("alloc"),
        "no-tiers.json": lambda d: d.pop("tiers"),
        "tiny-drains-string.json": lambda d: d["tiers"]["tiny"].update(drains="5"),
        "negative.json": lambda d: d["os"].update(mmap_calls=-1),
        "fraction.json": lambda d: d["totals"].update(free=1.5),
        "huge.json": lambda d: d["totals"].update(free=1e300),
        "wrapped.json": lambda d: d["tiers"]["tiny"].update(slabs_in_use=2 ** 64 - 8),
        "program-null.json": lambda d: d.update(program=None),
        "classes-object.json": lambda d: d.update(classes={}),
        "class-bad-tier.json": lambda d: d["classes"].append(dict(extra_class, tier="huge")),
        "class-missing-size.json": lambda d: d["classes"].append(
            {k: v for k, v in extra_class.items() if k != "size"}),
        "bucket-not-pow2.json": lambda d: d["histogram"]["buckets"].append({"max": 48, "count": 1}),
        "histogram-enabled-string.json": lambda d: d["histogram"].update(enabled="yes"),
        "config-bad-source.json": lambda d: d["config"][0].update(source="file"),
        "config-value-array.json": lambda d: d["config"][0].update(value=[1]),
    }
    for name, mutate in mutations.items():
        d = json.loads(text)
        mutate(d)
        write(bad + name, d)


def main():
    dumps = "tests/hakstat/dumps/"
    write(dumps + "sqlite.json", make(1, "sqlite3", 41230, 2_000_000))
    write(dumps + "sqlite-standalone.json",
          make(2, "sqlite3", 41388, 2_000_000, env={"HAKMEM_TINY_USE_SUPERSLAB": 0},
               start=1763875940000, elapsed=2710))
    write(dumps + "fork-parent.json", make(3, "python3", 5001, 300_000, remote=0.2, elapsed=900))
    write(dumps + "fork-child.json",
          make(4, "python3", 5002, 40_000, remote=0.0, start=1763875931300, elapsed=400))
    write(dumps + "fork-exec.json", make(5, "sh", 5003, 2_000, start=1763875931500, elapsed=20))
    write(dumps + "mf2.json",
          make(6, "bench_mid_mt", 777, 500_000,
               env={"HAKMEM_PURGE_DELAY_MS": 0, "HAKMEM_SHARED_POOL_LOCK_STATS": 1},
               remote=0.4, extra=future_fields, warnings=2))
    write(dumps + "nohist.json", make(7, "ls", 99, 3_000, hist=False))
    write(dumps + "idle.json", make(8, "true", 1, 0))
    write_bad(make(8, "true", 1, 0))
    corpus = "tests/hakstat/corpus/"
    write(corpus + "seed-small.json", make(9, "small", 2, 150, extra=future_fields), True)
    write(corpus + "seed-idle.json", make(8, "true", 1, 0), True)
    write(corpus + "seed-nohist.json", make(10, "nohist", 3, 100, hist=False), True)


main()
