#!/usr/bin/env python3
"""A fuzzed environment never breaks start-up.

Runs real programs under LD_PRELOAD=libhakmem.so, each time with a random
set of HAKMEM_* variables: real names (read from src/env/env.def) and near
misses (HAKMEM_STATSX, HAKMEM_verbose, lowercase hakmem_stats), with random
values: empty, negative, huge, non-numeric, 100 KB long, binary bytes, or
valid.  Every run must exit 0 with its usual output, and stderr must hold
exactly one line per bad variable: for a real name, the name, the value and
the default; for an unknown HAKMEM_ name, the name.

    env_startup_fuzz.py LIBHAKMEM ENV_DEF ALLOCATING_PROGRAM...

The seed (default 1) is printed; FUZZ_ENV_SEED=N replays a run, =random
picks one; FUZZ_ENV_RUNS=N sets how many runs (default 240).
"""
import os
import random
import re
import subprocess
import sys
import tempfile

# Variables whose valid values change what a program prints or how it
# exits: they get bad values or the harmless one given here.
HARMLESS = {
    "HAKMEM_STRICT_ENV": b"0",  # 1 makes any warning fatal (exit 2)
    "HAKMEM_VERBOSE": b"0",  # 1 prints the configuration on stderr
    "HAKMEM_STATS_FILE": b"fuzz.%p.json",  # in the run's own directory
}


def read_env_def(path):
    """{name: (type, min, max, choices)} from env.def's HAKMEM_ENV rows."""
    row = re.compile(r'^HAKMEM_ENV\((\w+),\s*\w+,\s*(\w+),\s*[^,]+,\s*(-?\d+),\s*(-?\d+),\s*"([^"]*)"',
                     re.M)
    rows = {}
    for name, typ, lo, hi, choices in row.findall(open(path).read()):
        rows["HAKMEM_" + name] = (typ, int(lo), int(hi), choices.split("|") if choices else [])
    return rows


def bad_values(typ, rng):
    """Values the type must reject."""
    common = [b"", b"9" * (100 * 1024)]  # empty, overlong
    if typ == "PATH":
        return common
    binary = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 64)))
    return common + [b"-%d" % rng.randrange(1, 10**6),  # negative
                     b"9" * rng.randrange(20, 40),  # huge
                     rng.choice([b"abc", b"12abc", b"0x10", b"1.5", b" 1", b"1 "]),
                     b"\x01" + binary]


def good_value(name, spec, rng):
    if name in HARMLESS:
        return HARMLESS[name]
    typ, lo, hi, choices = spec
    if typ == "BOOL":
        return rng.choice([b"0", b"1", b"yes", b"off", b"TRUE"])
    if typ in ("INT", "SIZE"):
        return str(rng.choice([lo, hi, rng.randrange(lo, min(hi, 10**6) + 1)])).encode()
    if typ == "ENUM":
        return rng.choice(choices).encode()
    return b"fuzz.%p.json"


def near_miss(name, rng):
    """A misspelt name, and whether hakmem reads it (only HAKMEM_* names)."""
    tail = name[len("HAKMEM_"):]
    kind = rng.randrange(4)
    if kind == 0:
        return name + rng.choice(["X", "S", "_"]), True
    if kind == 1:
        return "HAKMEM_" + tail.lower(), True
    if kind == 2 and len(tail) > 1:
        i = rng.randrange(len(tail))
        return "HAKMEM_" + tail[:i] + tail[i + 1:], True
    return name.lower(), False


def shown(value):
    """The value as a warning quotes it: control characters as '?', at most
    160 bytes, then '...'."""
    text = bytes(b if b >= 0x20 and b != 0x7F else ord("?") for b in value[:160])
    return b'"' + text + (b"..." if len(value) > 160 else b"") + b'"'


def random_env(lib, rows, rng):
    """The environment of one run, and the warnings it must produce: (name,
    value) for a bad value, (name, None) for an unknown name."""
    env = {b"PATH": os.environb.get(b"PATH", b"/usr/bin:/bin"), b"LD_PRELOAD": lib.encode()}
    expect = []
    for name in rng.sample(sorted(rows), rng.randrange(1, len(rows) + 1)):
        spec = rows[name]
        if rng.random() < 0.3:
            miss, read = near_miss(name, rng)
            if miss in rows or miss.encode() in env:
                continue
            env[miss.encode()] = good_value(name, spec, rng)
            if read:
                expect.append((miss.encode(), None))
        elif rng.random() < 0.5 or name in HARMLESS:
            value = rng.choice(bad_values(spec[0], rng))
            env[name.encode()] = value
            expect.append((name.encode(), value))
        else:
            env[name.encode()] = good_value(name, spec, rng)
    return env, expect


def check(proc, expected_stdout, expect):
    if proc.returncode == 0 and proc.stdout == expected_stdout == b"" and proc.stderr == b"":
        return []  # /bin/true may never allocate: hakmem then never reads its variables
    problems = []
    if proc.returncode != 0:
        problems.append("exit status %d" % proc.returncode)
    if expected_stdout is not None and proc.stdout != expected_stdout:
        problems.append("stdout %r, expected %r" % (proc.stdout[-200:], expected_stdout))
    lines = [l for l in proc.stderr.split(b"\n") if l]
    if len(lines) != len(expect):
        problems.append("%d stderr lines for %d bad variables" % (len(lines), len(expect)))
    for name, value in expect:
        if value is None:
            want = b"hakmem: unknown variable " + name + b";"
            hits = [l for l in lines if l.startswith(want)]
        else:
            want = b"hakmem: " + name + b"=" + shown(value) + b" is not "
            hits = [l for l in lines if l.startswith(want) and b"; using the default " in l]
        if len(hits) != 1:
            problems.append("not one warning for %s (value %r)" % (name.decode(), (value or b"")[:40]))
    return problems


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    lib, env_def = os.path.abspath(sys.argv[1]), sys.argv[2]
    allocating = [os.path.abspath(sys.argv[3])] + sys.argv[4:]  # run from a temporary directory
    rows = read_env_def(env_def)
    seed = os.environ.get("FUZZ_ENV_SEED", "1")
    seed = random.SystemRandom().randrange(1 << 32) if seed == "random" else int(seed)
    runs = int(os.environ.get("FUZZ_ENV_RUNS", "240"))
    print("env_startup_fuzz: %d variables in env.def, %d runs, seed %d (FUZZ_ENV_SEED=%d replays)"
          % (len(rows), runs, seed, seed), flush=True)
    programs = [
        (["/bin/true"], b""),
        (["python3", "-c", "import json; print(json.dumps(sorted({'b': 2, 'a': [1] * 3})))"],
         b'["a", "b"]\n'),
        (allocating, None),  # it checks its own work and exits non-zero on a fault
    ]
    rng = random.Random(seed)
    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        for i in range(runs):
            program, expected_stdout = programs[i % len(programs)]
            env, expect = random_env(lib, rows, rng)
            proc = subprocess.run(program, env=env, cwd=workdir, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=120)
            problems = check(proc, expected_stdout, expect)
            if problems:
                failures += 1
            if problems and failures <= 5:
                print("FAILED run %d (%s):" % (i, program[0]))
                for p in problems:
                    print("   ", p)
                for k, v in sorted(env.items()):
                    if k.upper().startswith(b"HAKMEM_"):
                        print("    %s=%r" % (k.decode(), v[:60]))
                print("    stderr:", proc.stderr.decode(errors="replace")[:2000])
    print("env_startup_fuzz: %d runs, %d failed, seed %d" % (runs, failures, seed))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
