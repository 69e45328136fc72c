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
        # A generator of its own per counter: a counter added to counters.def
        # changes no other figure, so the golden outputs stay as they were.
        count = random.Random("%d:%s.%s" % (seed, g, k))
        groups.setdefault(g, {})[k] = count.randint(0, int(scale * 0.001) + 5)
    la = r.randint(10, 200)
    groups["large"].update({"alloc": la, "free": la - r.randint(0, 3),
                            "bytes_requested": la * 3000000, "bytes_allocated": la * 3002368,
                            "cache_hits": la // 3})
    buckets[1 << 21] = buckets.get(1 << 21, 0) + la // 2
    buckets[1 << 22] = buckets.get(1 << 22, 0) + la - la // 2
    groups["threads"]["started"] = r.randint(1, 8)
    groups["threads"]["exited"] = groups["threads"]["started"] - 1
    # A level derived from two counters stays true: run chunks in use.
    groups["pool"]["run_chunks_released"] = groups["pool"]["run_chunks_new"] * 3 // 4
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
    d["heap_profiles"] = [{"site": "0x1234", "alloc": 5, "frames": ["main", "foo"]}]
    d["future_field"] = {"nested": [1, 2, 3], "text": "ignored"}


# Allocation sites (the "sites" section, HAKMEM_PROF_SAMPLE): sqlite3 stacks
# as hakmem's unwinder would record them, innermost first.  A frame is
# (object, symbol, offset in the symbol), (object, None, offset in the object)
# for a stripped object, or (None, None, address) outside any object.
SHELL = "/usr/bin/sqlite3"
LIBSQLITE = "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
TOKENIZER = "/opt/sqlite-ext/libtokenize.so"
SYMBOLS = {  # symbol: (object, start offset in it)
    "sqlite3MemMalloc": (LIBSQLITE, 0x1f2a0), "sqlite3MemRealloc": (LIBSQLITE, 0x1f3b0),
    "sqlite3Malloc": (LIBSQLITE, 0x1f6d0), "sqlite3Realloc": (LIBSQLITE, 0x1f9d0),
    "sqlite3DbMallocRawNN": (LIBSQLITE, 0x20aa0), "sqlite3StrAccumEnlarge": (LIBSQLITE, 0x25dd0),
    "sqlite3_str_vappendf": (LIBSQLITE, 0x261d0), "sqlite3_mprintf": (LIBSQLITE, 0x279e0),
    "pcache1Alloc": (LIBSQLITE, 0x3a960), "pcache1FetchStage2": (LIBSQLITE, 0x3b330),
    "getPageNormal": (LIBSQLITE, 0x41b20), "getAndInitPage": (LIBSQLITE, 0x4f080),
    "sqlite3BtreeInsert": (LIBSQLITE, 0x5a070), "sqlite3VdbeCreate": (LIBSQLITE, 0x6c2c0),
    "sqlite3GetVdbe": (LIBSQLITE, 0x6c570), "sqlite3VdbeSorterInit": (LIBSQLITE, 0x7b940),
    "sqlite3VdbeExec": (LIBSQLITE, 0x88190), "sqlite3_step": (LIBSQLITE, 0x93990),
    "sqlite3Prepare": (LIBSQLITE, 0xa1df0), "sqlite3LockAndPrepare": (LIBSQLITE, 0xa22e0),
    "sqlite3_prepare_v2": (LIBSQLITE, 0xa24d0), "shell_callback": (SHELL, 0x18870),
    "shell_exec": (SHELL, 0x1c150), "one_input_line": (SHELL, 0x2a870),
    "process_input": (SHELL, 0x2b020), "main": (SHELL, 0x9110),
    "__strdup": (LIBC, 0x9a3b0), "__libc_start_call_main": (LIBC, 0x27150),
}
OUTER = [("sqlite3_step", 0xc5), ("shell_exec", 0x1a3), ("process_input", 0x1c4),
         ("main", 0xc62), ("__libc_start_call_main", 0x7a)]
STACKS = {
    "pagecache": [("sqlite3MemMalloc", 0x14), ("sqlite3Malloc", 0x4e), ("pcache1Alloc", 0x62),
                  ("pcache1FetchStage2", 0x1a8), ("getPageNormal", 0x117),
                  ("getAndInitPage", 0x61), ("sqlite3BtreeInsert", 0x389),
                  ("sqlite3VdbeExec", 0x5f42)] + OUTER,
    "prepare": [("sqlite3MemMalloc", 0x14), ("sqlite3Malloc", 0x4e),
                ("sqlite3DbMallocRawNN", 0x73), ("sqlite3VdbeCreate", 0x28),
                ("sqlite3GetVdbe", 0x31), ("sqlite3Prepare", 0x18e),
                ("sqlite3LockAndPrepare", 0x97), ("sqlite3_prepare_v2", 0x31)] + OUTER[1:],
    "mprintf": [("sqlite3MemRealloc", 0x1b), ("sqlite3Realloc", 0x70),
                ("sqlite3StrAccumEnlarge", 0x9d), ("sqlite3_str_vappendf", 0xb42),
                ("sqlite3_mprintf", 0x56), ("shell_callback", 0x2f0)] + OUTER,
    "readline": [("__strdup", 0x1a), ("one_input_line", 0x87), ("process_input", 0x9e),
                 ("main", 0xc62), ("__libc_start_call_main", 0x7a)],
    # A tokenizer extension without symbols, called through a trampoline
    # that is in no object; at a different address in every process.
    "tokenizer": [(TOKENIZER, None, 0x2d31), (TOKENIZER, None, 0x1f80), (None, None, "trampoline"),
                  ("sqlite3VdbeExec", 0x4317)] + OUTER,
    "sorter": [("sqlite3MemMalloc", 0x14), ("sqlite3Malloc", 0x4e),
               ("sqlite3VdbeSorterInit", 0x1d4), ("sqlite3VdbeExec", 0x6a0b)] + OUTER,
}
SAMPLE_BYTES = 524288


def frame(spec, bases):
    """A frame of the dump from its spec and the load bases of a process."""
    if len(spec) == 2:
        obj, start = SYMBOLS[spec[0]]
        off = start + spec[1]
        return {"addr": hex(bases[obj] + off), "obj": obj, "obj_offset": hex(off),
                "sym": spec[0], "sym_offset": spec[1]}
    obj, _, off = spec
    if obj is None:
        return {"addr": hex(bases[off]), "obj": "", "obj_offset": hex(bases[off]), "sym": None}
    return {"addr": hex(bases[obj] + off), "obj": obj, "obj_offset": hex(off), "sym": None}


def with_sites(d, bases, sites, unrecorded=0, sample_bytes=SAMPLE_BYTES):
    """Adds a sites section: sites is [(stack, share of the bytes allocated,
    share of its samples still live, mean requested size)]; the estimates
    add up to the dump's bytes allocated, as an unbiased sampler's would."""
    stacks = []
    for name, share, live, size in sites:
        samples = max(1, round(d["totals"]["bytes_allocated"] * share / sample_bytes))
        samples_live = round(samples * live)
        stacks.append({"samples": samples, "samples_live": samples_live,
                       "requested_bytes": samples * size,
                       "allocated_bytes": samples * sample_bytes,
                       "live_bytes": samples_live * sample_bytes,
                       "frames": [frame(f, bases) for f in STACKS[name]]})
    d["sites"] = {"sample_bytes": sample_bytes, "depth": 16,
                  "samples": sum(s["samples"] for s in stacks) + unrecorded,
                  "samples_live": sum(s["samples_live"] for s in stacks),
                  "unrecorded": unrecorded, "stacks": stacks}
    return d


def bases(seed):
    """Load bases of one process (address-space randomisation)."""
    r = random.Random(seed)
    lib = 0x7f0000000000 + (r.randrange(1 << 28) << 12)
    return {SHELL: 0x550000000000 + (r.randrange(1 << 28) << 12), LIBC: lib,
            LIBSQLITE: lib + 0x400000, TOKENIZER: lib + 0x800000, "trampoline": lib + 0xa01a40}


def ignored_site_fields(d):
    """Fields the sites section may grow: hakstat must ignore them."""
    d["sites"]["stacks"][0]["thread"] = "worker"
    d["sites"]["stacks"][0]["frames"][0]["build_id"] = "3f9a0c"
    d["sites"]["interval_ms"] = 10


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


def write_bad_sites(sampled):
    """Each a dump with sites with one thing wrong in them."""
    bad = "tests/hakstat/bad/"
    text = json.dumps(sampled, indent=1) + "\n"
    frame0 = lambda d: d["sites"]["stacks"][0]["frames"][0]
    stack0 = lambda d: d["sites"]["stacks"][0]
    mutations = {
        "sites-array.json": lambda d: d.update(sites=[]),
        "sites-no-sample-bytes.json": lambda d: d["sites"].pop("sample_bytes"),
        "sites-stacks-object.json": lambda d: d["sites"].update(stacks={}),
        "site-number.json": lambda d: d["sites"]["stacks"].append(7),
        "site-samples-string.json": lambda d: stack0(d).update(samples="12"),
        "site-live-negative.json": lambda d: stack0(d).update(live_bytes=-524288),
        "site-no-frames.json": lambda d: stack0(d).pop("frames"),
        "site-frames-too-many.json": lambda d: stack0(d).update(frames=stack0(d)["frames"] * 30),
        "frame-string.json": lambda d: stack0(d)["frames"].insert(0, "sqlite3Malloc"),
        "frame-addr-number.json": lambda d: frame0(d).update(addr=int(frame0(d)["addr"], 16)),
        "frame-addr-not-hex.json": lambda d: frame0(d).update(addr="sqlite3MemMalloc+0x14"),
        "frame-offset-too-wide.json": lambda d: frame0(d).update(obj_offset="0x1" + "0" * 16),
        "frame-obj-null.json": lambda d: frame0(d).update(obj=None),
        "frame-no-sym.json": lambda d: frame0(d).pop("sym"),
        "frame-sym-number.json": lambda d: frame0(d).update(sym=5),
        "frame-no-sym-offset.json": lambda d: frame0(d).pop("sym_offset"),
    }
    for name, mutate in mutations.items():
        d = json.loads(text)
        mutate(d)
        write(bad + name, d)


PROF = {"HAKMEM_PROF_SAMPLE": SAMPLE_BYTES}


def write_sites(dumps):
    """sqlite3 sampled: two processes (A and B, to merge), a later snapshot
    of A (to diff: its page cache grew), and a run that sampled nothing."""
    a_sites = [("pagecache", 0.38, 0.30, 4360), ("prepare", 0.27, 0.01, 310),
               ("mprintf", 0.18, 0.0, 190), ("tokenizer", 0.12, 0.10, 950),
               ("readline", 0.05, 0.02, 42)]
    a = make(12, "sqlite3", 6101, 300_000, env=PROF, start=1763876000000, elapsed=4100)
    write(dumps + "sites-a.json", with_sites(a, bases(6101), a_sites))
    b = make(13, "sqlite3", 6102, 200_000, env=PROF, start=1763876001000, elapsed=3500)
    write(dumps + "sites-b.json",
          with_sites(b, bases(6102), [("pagecache", 0.45, 0.25, 4360), ("prepare", 0.30, 0.02, 330),
                                      ("tokenizer", 0.15, 0.05, 900), ("readline", 0.10, 0.0, 40)],
                     unrecorded=3))
    later = make(12, "sqlite3", 6101, 450_000, env=PROF, start=1763876000000, elapsed=9800,
                 extra=lambda d: d.update(reason="signal"))
    later_sites = [("pagecache", 0.45, 0.50, 4360), ("prepare", 0.25, 0.01, 310),
                   ("mprintf", 0.12, 0.0, 190), ("tokenizer", 0.09, 0.10, 950),
                   ("readline", 0.03, 0.02, 42), ("sorter", 0.06, 0.2, 65536)]
    with_sites(later, bases(6101), later_sites)
    ignored_site_fields(later)
    write(dumps + "sites-a-later.json", later)
    # `true` allocates less than a sampling interval: sampling on, no sample.
    write(dumps + "sites-idle.json",
          with_sites(make(8, "true", 1, 0, env={"HAKMEM_PROF_SAMPLE": 1 << 30}), bases(1), [],
                     sample_bytes=1 << 30))
    write_bad_sites(with_sites(make(8, "true", 1, 0, env=PROF), bases(1),
                               [("prepare", 0.5, 0.0, 300), ("tokenizer", 0.5, 0.0, 900)]))


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
    write_sites(dumps)
    corpus = "tests/hakstat/corpus/"
    write(corpus + "seed-small.json", make(9, "small", 2, 150, extra=future_fields), True)
    write(corpus + "seed-idle.json", make(8, "true", 1, 0), True)
    write(corpus + "seed-nohist.json", make(10, "nohist", 3, 100, hist=False), True)
    write(corpus + "seed-sites.json",
          with_sites(make(11, "small", 4, 150, env=PROF), bases(11),
                     [("pagecache", 0.6, 0.5, 4360), ("tokenizer", 0.4, 0.1, 900)], 1), True)


main()
