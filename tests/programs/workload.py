"""A Python standard-library workload with deterministic output.

run_python.sh runs it with and without hakmem preloaded and compares the
outputs byte for byte.  Everything printed is independent of hash
randomisation, addresses and timing: results are sorted or hashed.
"""
import bisect
import collections
import concurrent.futures
import gc
import hashlib
import heapq
import json
import multiprocessing
import random
import re
import sys
import zlib


def digest(obj):
    return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]


def section(name, value):
    print(f"{name}: {value}")


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
         "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho",
         "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"]


def make_text(rng, n_words):
    return " ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(n_words))


def dicts_and_strings(rng):
    d = {}
    for i in range(200_000):
        key = f"k{i * 7919 % 200_003:06d}-{WORDS[i % len(WORDS)]}"
        d[key] = [i, str(i) * (i % 5), key.upper()]
    for i in range(0, 200_000, 3):
        d.pop(f"k{i * 7919 % 200_003:06d}-{WORDS[i % len(WORDS)]}", None)
    section("dict size", len(d))
    section("dict digest", digest(sorted(d.items())[:2000]))
    text = make_text(rng, 300_000)
    counts = collections.Counter(text.split())
    section("distinct words", len(counts))
    section("top words", sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5])
    joined = "|".join(sorted(counts)).replace("a", "A").swapcase()
    section("string digest", hashlib.sha256(joined.encode()).hexdigest()[:16])
    parts = [text[i:i + 997] for i in range(0, len(text), 997)]
    section("slices", (len(parts), sum(map(len, parts))))
    return text


def json_roundtrip(rng):
    doc = {
        f"user{i}": {
            "id": i,
            "name": rng.choice(WORDS) * (1 + i % 4),
            "tags": [rng.choice(WORDS) for _ in range(i % 9)],
            "score": round(rng.random() * 1000, 3),
            "nested": {"a": list(range(i % 30)), "b": {"c": str(i)}},
        }
        for i in range(40_000)
    }
    s = json.dumps(doc, sort_keys=True)
    back = json.loads(s)
    assert back == doc
    s2 = json.dumps(back, sort_keys=True, indent=1)
    section("json bytes", (len(s), len(s2)))
    section("json digest", hashlib.sha256(s.encode()).hexdigest()[:16])


def regexes(text):
    pat = re.compile(r"\b([a-z]+)(\d)(\d?)\b")
    found = pat.findall(text)
    section("regex matches", len(found))
    section("regex digest", digest(found[:5000]))
    sub = re.sub(r"(sigma|tau)(\d+)", lambda m: m.group(1).upper() + "#" + m.group(2)[::-1], text)
    section("regex sub digest", hashlib.sha256(sub.encode()).hexdigest()[:16])
    split = re.split(r"[aeiou]{2,}", text)
    section("regex split", len(split))


def sorting(rng):
    rows = [(rng.randrange(1000), rng.random(), rng.choice(WORDS)) for _ in range(300_000)]
    by_key = sorted(rows, key=lambda r: (r[2], -r[0], r[1]))
    section("sorted head", [(a, round(b, 6), c) for a, b, c in by_key[:3]])
    heap = []
    for r in rows[:100_000]:
        heapq.heappush(heap, (r[1], r[0]))
    smallest = [heapq.heappop(heap) for _ in range(5)]
    section("heap smallest", [(round(a, 6), b) for a, b in smallest])
    keys = sorted(r[0] for r in rows)
    section("bisect", [bisect.bisect_left(keys, k) for k in (0, 250, 500, 999, 1000)])


def big_buffers(rng):
    blob = bytearray()
    for i in range(2000):
        blob += bytes([i % 251]) * (i * 37 % 20_000)
    section("bytearray", len(blob))
    packed = zlib.compress(bytes(blob), 6)
    section("zlib", (len(packed), zlib.crc32(zlib.decompress(packed))))
    big = [None] * 1
    for i in range(2_000_000):
        big.append(i)
    section("list growth", (len(big), sum(big[1:])))
    del big, blob, packed
    gc.collect()


class Node:
    __slots__ = ("value", "children")

    def __init__(self, value):
        self.value = value
        self.children = []


def object_graph(rng):
    nodes = [Node(0)]
    for i in range(1, 200_000):
        parent = nodes[rng.randrange(len(nodes))]
        node = Node(i)
        parent.children.append(node)
        nodes.append(node)
    depth_sum = 0
    stack = [(nodes[0], 0)]
    while stack:
        node, depth = stack.pop()
        depth_sum += depth
        stack.extend((c, depth + 1) for c in node.children)
    section("tree", (len(nodes), depth_sum))
    cycles = []
    for i in range(50_000):
        a, b = {"i": i}, {"j": i}
        a["b"], b["a"] = b, a
        cycles.append(a)
    del cycles
    section("gc", gc.collect() >= 0)


def thread_task(seed):
    rng = random.Random(seed)
    d = collections.defaultdict(list)
    for i in range(20_000):
        d[rng.choice(WORDS)].append("x" * rng.randrange(1, 300))
    s = json.dumps({k: len(v) for k, v in sorted(d.items())})
    return seed, hashlib.sha256(s.encode()).hexdigest()[:12], sum(map(len, d.values()))


def process_task(seed):
    rng = random.Random(seed)
    return seed, digest(sorted(rng.random() for _ in range(50_000))[:10])


def threads_and_processes():
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(thread_task, range(32)))
    section("threads", digest(results))
    # fork() while the thread pool's threads have just run
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        futs = [ex.submit(thread_task, s) for s in range(100, 108)]
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pex:
            presults = list(pex.map(process_task, range(6)))
        tresults = [f.result() for f in futs]
    section("processes", digest(presults))
    section("threads during fork", digest(tresults))


def main():
    rng = random.Random(20240601)
    text = dicts_and_strings(rng)
    json_roundtrip(rng)
    regexes(text)
    sorting(rng)
    big_buffers(rng)
    object_graph(rng)
    threads_and_processes()
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
