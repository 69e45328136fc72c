#!/usr/bin/env python3
"""report.py CSV ENV OUT.md OUT.svg CSV_NAME [--scaling CSV ENV OUT.svg CSV_NAME]:
docs/BENCHMARKS.md from one bench/compare run and, with --scaling, one
thread sweep (bench/compare --threads).

Medians per workload and allocator, each allocator's ratio to glibc and to
the best of the other peers, peak RSS, the fragmentation workload's RSS,
instruction counts, the targets of issue 6 checked against hakmem, and a
gnuplot chart of the ratios.  From a sweep: ops/s per allocator and thread
count, ratios to the best peer, scaling efficiency, peak RSS at the most
threads, the targets of issue 10, and a chart of ops/s against threads.
CSV "-" leaves the workload part out.  Hand-written notes between the
<!-- notes --> markers of an existing OUT.md are kept.
"""
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys

PEERS = ["mimalloc", "jemalloc", "tcmalloc"]
ORDER = ["glibc", "hakmem", "hakmem-stats", "mimalloc", "jemalloc", "tcmalloc"]
WORKLOADS = {
    "larson_1t": ("Larson server simulation, 1 thread (blocks of 8-1000 B pass to a successor thread each round)", "M ops/s"),
    "larson_2t": ("Larson server simulation, 2 threads", "M ops/s"),
    "tiny_4k": ("random tiny sizes 16-1024 B, 1 thread, 4096-block working set", "M ops/s"),
    "tiny_32k": ("random tiny sizes 16-1024 B, 1 thread, 32768-block working set", "M ops/s"),
    "mid_large_2t": ("mid-large, 2 threads, 8-34 KiB, 2048 slots per thread (seeds/002)", "M ops/s"),
    "prodcons_tiny": ("producer-consumer, 16-1024 B: one thread allocates, the other frees", "M ops/s"),
    "prodcons_mid": ("producer-consumer, 1-32 KiB, 256 blocks in flight", "M ops/s"),
    "realloc": ("realloc chains 16 B to 1 MiB, 64 chains, contents checked", "M ops/s"),
    "churn": ("thread churn: 2 at a time, each allocates 64 blocks", "threads/s"),
    "frag": ("fragmentation: 512 MiB mixed, free 90%, 256 MiB more", "M ops/s"),
    "python": ("Python standard-library workload (tests/programs/workload.py)", "s"),
    "sqlite": ("sqlite3 CLI, 300,000 rows (tests/programs/workload.sql)", "s"),
    "redis": ("redis-server on 127.0.0.1, redis-benchmark (not preloaded): 20,000 requests each of SET, GET, LPUSH, LPOP, HSET, 256 B (bench/redis_bench.sh)", "s"),
}
MT_TARGET = ["larson_2t", "mid_large_2t", "prodcons_tiny", "prodcons_mid"]


def load(path):
    runs, cg = {}, {}
    failures = []
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (row["workload"], row["allocator"])
            if row["status"] != "ok":
                failures.append((row["kind"], row["workload"], row["allocator"], row["rep"]))
                continue
            if row["kind"] == "callgrind":
                cg[key] = float(row["instr_per_pair"])
            else:
                runs.setdefault(key, []).append(row)
    return runs, cg, failures


def med(rows, field):
    vals = [float(r[field]) for r in rows if r.get(field) not in (None, "")]
    return statistics.median(vals) if vals else None


def spread(rows, field):
    vals = [float(r[field]) for r in rows if r.get(field) not in (None, "")]
    if len(vals) < 2 or statistics.median(vals) == 0:
        return None
    return (max(vals) - min(vals)) / statistics.median(vals)


def fmt_speed(w, v):
    unit = WORKLOADS.get(w, ("", "ops/s"))[1]
    if v is None:
        return "-"
    if unit == "s":
        return f"{1 / v:.2f} s"
    if unit == "threads/s":
        return f"{v:,.0f}"
    return f"{v / 1e6:.2f}"


def fmt_ratio(r, bold_below=None):
    if r is None:
        return "-"
    s = f"{r:.2f}"
    return f"**{s}**" if bold_below is not None and r < bold_below else s


def mib(kb):
    return "-" if kb is None else f"{kb / 1024:.0f}"


def machine_table(p, env):
    p("| Machine | |\n|---|---|")
    for k in ["cores", "cpu", "memory", "kernel", "os", "compiler", "hakmem", "load"]:
        if k in env:
            p(f"| {k} | {env[k]} |")
    for k, v in env.items():
        if k.startswith("pkg."):
            p(f"| {k[4:]} | {v} |")
    p("")


def read_env(path):
    return dict(line.rstrip("\n").split("=", 1) for line in open(path) if "=" in line)


def workload_report(p, csv_path, env_path, out_svg, csv_name):
    runs, cg, failures = load(csv_path)
    env = read_env(env_path)
    workloads = [w for w in WORKLOADS if any(k[0] == w for k in runs)]
    allocs = [a for a in ORDER if any(k[1] == a for k in list(runs) + list(cg))]
    speed = {k: med(v, "ops_per_sec") for k, v in runs.items()}
    reps = max((int(r["rep"]) for v in runs.values() for r in v), default=0)

    def ratio_glibc(w, a):
        g, x = speed.get((w, "glibc")), speed.get((w, a))
        return x / g if g and x else None

    def best_peer(w, a):
        vals = [(speed.get((w, p)), p) for p in PEERS if p != a and speed.get((w, p))]
        return max(vals) if vals else (None, None)

    def ratio_peer(w, a):
        b, _ = best_peer(w, a)
        x = speed.get((w, a))
        return x / b if b and x else None

    p(f"One run of `{env.get('command', 'bench/compare')}` on {env.get('date', '?')}: "
      f"{reps} repetition{'s' if reps != 1 else ''}, every workload under every allocator in each "
      "repetition (the starting allocator rotates), medians below. Each allocator is chosen by "
      "`LD_PRELOAD`; the workloads (`bench/*.c`) link nothing but libc. Every block a workload "
      "frees is checked against a pattern derived from its address and size (first 64 bytes, one "
      "word per 4 KiB, last word); a mismatch fails the run. Raw data: "
      f"[`{csv_name}`](../{csv_name}).\n")
    machine_table(p, env)
    p("![Throughput relative to glibc](benchmarks.svg)\n")

    p("## Throughput (median; higher is better, except seconds)\n")
    spreads = [spread(v, "ops_per_sec") for v in runs.values()]
    spreads = sorted(x for x in spreads if x is not None)
    if spreads and statistics.median(spreads) > 0.25:
        p(f"**Noisy run**: the median spread between repetitions is {statistics.median(spreads) * 100:.0f}% "
          f"(load average {env.get('load', '?')}). Differences smaller than that are not evidence; "
          "the instruction counts below do not depend on noise.\n")
    p("Million ops/s unless the workload says otherwise; in brackets the spread of the "
      "repetitions, (max - min) / median, where above 10%.\n")
    p("| workload | " + " | ".join(allocs) + " |")
    p("|---" * (len(allocs) + 1) + "|")
    for w in workloads:
        cells = []
        for a in allocs:
            rows = runs.get((w, a), [])
            s = fmt_speed(w, speed.get((w, a)))
            sp = spread(rows, "ops_per_sec")
            if sp is not None and sp > 0.10:
                s += f" ({sp * 100:.0f}%)"
            cells.append(s)
        p(f"| {w} ({WORKLOADS[w][1]}) | " + " | ".join(cells) + " |")
    p("")
    for w in workloads:
        p(f"- `{w}`: {WORKLOADS[w][0]}")
    p("")

    p("## Ratio to glibc (speed; > 1 is faster than glibc)\n")
    p("| workload | " + " | ".join(a for a in allocs if a != "glibc") + " |")
    p("|---" * len(allocs) + "|")
    for w in workloads:
        p(f"| {w} | " + " | ".join(fmt_ratio(ratio_glibc(w, a)) for a in allocs if a != "glibc") + " |")
    p("")

    p("## Ratio to the best peer (speed; < 1 in bold: slower than the best of the others)\n")
    p("The best of mimalloc, jemalloc and tcmalloc, leaving out the allocator itself.\n")
    shown = [a for a in allocs if a != "glibc"]
    p("| workload | best peer | " + " | ".join(shown) + " |")
    p("|---" * (len(shown) + 2) + "|")
    for w in workloads:
        _, bp = best_peer(w, "hakmem")
        p(f"| {w} | {bp or '-'} | " + " | ".join(fmt_ratio(ratio_peer(w, a), 1.0) for a in shown) + " |")
    p("")

    p("## Peak RSS (MiB, median; lower is better)\n")
    p("| workload | " + " | ".join(allocs) + " |")
    p("|---" * (len(allocs) + 1) + "|")
    for w in workloads:
        p(f"| {w} | " + " | ".join(mib(med(runs.get((w, a), []), "peak_rss_kb")) for a in allocs) + " |")
    p("")

    if any(k[0] == "frag" for k in runs):
        p("## Fragmentation and memory returned to the OS (MiB, median)\n")
        p("`frag` allocates a mix (by bytes a third each of 16 B-1 KiB, 1-32 KiB and 32 KiB-1 MiB), "
          "frees 90% of the blocks at random, waits 0.5 s and allocates a little (some allocators "
          "purge only as the program allocates), reads the RSS (*after free*), then allocates a mix "
          "of half as many bytes with sizes 1.5 times larger and reads it again (*final*). The "
          "first mix is 512 MiB rather than the 1 GiB the issue suggests: at 1 GiB one run takes "
          "7-12 s on this VM (page faults and TLB misses), too long for 5 allocators x 5 "
          "repetitions; `build/bench/frag -g 1024` runs the full size.\n")
        p("| allocator | peak RSS | after free | final | peak / lowest peer | after free / lowest peer |")
        p("|---|---|---|---|---|---|")
        low_peak = min((med(runs[("frag", q)], "peak_rss_kb") for q in PEERS if ("frag", q) in runs), default=None)
        low_freed = min((med(runs[("frag", q)], "freed_rss_kb") for q in PEERS if ("frag", q) in runs), default=None)
        for a in allocs:
            rows = runs.get(("frag", a))
            if not rows:
                continue
            pk, fd, fn = med(rows, "peak_rss_kb"), med(rows, "freed_rss_kb"), med(rows, "final_rss_kb")
            p(f"| {a} | {mib(pk)} | {mib(fd)} | {mib(fn)} | "
              f"{fmt_ratio(pk / low_peak if low_peak else None)} | {fmt_ratio(fd / low_freed if low_freed else None)} |")
        p("\nLive bytes: 512 MiB at the peak, about 51 MiB after the free, about 307 MiB at the end.\n")

    if cg:
        p("## Instructions per malloc+free pair (callgrind)\n")
        p("`bench/pairs -z SIZE -n N` on one thread: (instructions for N = 100000 pairs - for 0 pairs) "
          "/ N, both after the same 1000-pair warm-up, so start-up, exit and first refills cancel; "
          "includes the loop, about 5 instructions. Deterministic: one run each.\n")
        sizes = sorted({int(k[0].split("_")[1]) for k in cg})
        cg_allocs = [a for a in allocs if any((f"pairs_{z}", a) in cg for z in sizes)]
        p("| size | " + " | ".join(cg_allocs) + " |")
        p("|---" * (len(cg_allocs) + 1) + "|")
        for z in sizes:
            label = f"{z // 1024} KiB" if z >= 1024 and z % 1024 == 0 and z > 1024 else f"{z} B"
            p(f"| {label} | " + " | ".join(
                f"{cg[(f'pairs_{z}', a)]:.1f}" if (f"pairs_{z}", a) in cg else "-" for a in cg_allocs) + " |")
        p("")

    if "hakmem" in allocs:
        p("## hakmem against the targets of issue 6\n")
        for w in workloads:
            r = ratio_peer(w, "hakmem")
            _, bp = best_peer(w, "hakmem")
            if r is not None:
                mark = "met" if r >= 1.0 else f"**missed by {(1 - r) * 100:.0f}%**"
                p(f"- `{w}`: {r:.2f}x the best peer ({bp}): {mark}")
        for w in MT_TARGET:
            r = ratio_glibc(w, "hakmem")
            if r is not None:
                p(f"- `{w}` at least 2x glibc: {r:.2f}x, {'met' if r >= 2 else '**missed**'}")
        if ("frag", "hakmem") in runs:
            h = runs[("frag", "hakmem")]
            for field, name in (("peak_rss_kb", "peak RSS"), ("freed_rss_kb", "RSS after freeing")):
                lows = [(med(runs[("frag", q)], field), q) for q in PEERS if ("frag", q) in runs]
                if lows:
                    lo, q = min(lows)
                    r = med(h, field) / lo
                    p(f"- `frag` {name} within 10% of the lowest peer ({q}): {r:.2f}x, "
                      f"{'met' if r <= 1.10 else '**missed**'}")
        for z in (16, 64, 256, 1024):
            if (f"pairs_{z}", "hakmem") in cg and (f"pairs_{z}", "mimalloc") in cg:
                h, m = cg[(f"pairs_{z}", "hakmem")], cg[(f"pairs_{z}", "mimalloc")]
                p(f"- instructions per pair at {z} B at or below mimalloc's: {h:.1f} vs {m:.1f}, "
                  f"{'met' if h <= m else '**missed**'}")
        if "hakmem-stats" in allocs:
            for w in workloads:
                h, s = speed.get((w, "hakmem")), speed.get((w, "hakmem-stats"))
                if h and s:
                    p(f"- `HAKMEM_STATS=1` cost on `{w}`: {(1 - s / h) * 100:+.1f}% (target < 3%)")
        p("")

    if failures:
        p("## Failed runs\n")
        for kind, w, a, rep in failures:
            p(f"- {kind} `{w}` under {a}, repetition {rep}")
        p("")
    digests = {}
    for (w, a), rows in runs.items():
        for r in rows:
            if r.get("output"):
                digests.setdefault(w, {}).setdefault(r["output"], set()).add(a)
    for w, d in digests.items():
        if len(d) > 1:
            p(f"- **`{w}` printed different output under different allocators**: {d}\n")
    chart_ratios(out_svg, workloads, allocs, ratio_glibc, reps)


def chart_ratios(out_svg, workloads, allocs, ratio_glibc, reps):
    gp = shutil.which("gnuplot")
    if not gp:
        print("report.py: gnuplot not installed; no chart", file=sys.stderr)
        return
    others = [a for a in allocs if a != "glibc"]
    dat = out_svg + ".dat"
    with open(dat, "w") as f:
        for w in workloads:
            f.write(w + " " + " ".join(f"{ratio_glibc(w, a) or 0:.4f}" for a in others) + "\n")
    cols = " , ".join(f"'{dat}' using {i + 2}:xtic(1) title '{a}'" for i, a in enumerate(others))
    script = f"""
set terminal svg size 1150,500 dynamic noenhanced font 'sans,11' background '#ffffff'
set output '{out_svg}'
set title 'Throughput relative to glibc (median of {reps}; higher is better; log scale)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.0625:64]
set ytics ('1/16' 0.0625, '1/8' 0.125, '1/4' 0.25, '1/2' 0.5, '1' 1, '2' 2, '4' 4, '8' 8, '16' 16, '32' 32, '64' 64)
set grid ytics
set key top left horizontal
set xtics nomirror font 'sans,10'
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb '#000000'
plot {cols}
"""
    subprocess.run([gp], input=script, text=True, check=True)
    os.remove(dat)


# ---------------------------------------------------------------- thread sweep

SCALING = {
    "small": ("small blocks: `tiny_random -t T -n 4096`, random 16-1024 B, each thread on its own 4096 blocks", 0.85),
    "larson": ("Larson: `larson -t T`, 8-1000 B, 5000 blocks and 50,000 ops per thread and round; each round's blocks pass to the next round's threads", None),
    "mid": ("mid: `mid_large_mt -t T -n 2048`, 8-34 KiB, each thread on its own 2048 slots", 0.75),
}


def scaling_load(path):
    """{(workload, allocator): {threads: [rows]}} from a sweep's CSV."""
    data, failures = {}, []
    with open(path) as f:
        for row in csv.DictReader(f):
            m = re.fullmatch(r"scale_(\w+)_t(\d+)", row["workload"])
            if not m:
                continue
            if row["status"] != "ok":
                failures.append((row["workload"], row["allocator"], row["rep"]))
                continue
            data.setdefault((m.group(1), row["allocator"]), {}).setdefault(int(m.group(2)), []).append(row)
    return data, failures


def scaling_report(p, csv_path, env_path, out_svg, csv_name):
    data, failures = scaling_load(csv_path)
    env = read_env(env_path)
    cores = int(env.get("cores", "0") or 0)
    loads = [w for w in SCALING if any(k[0] == w for k in data)]
    allocs = [a for a in ORDER if any(k[1] == a for k in data)]
    threads = sorted({t for v in data.values() for t in v})
    reps = max((int(r["rep"]) for v in data.values() for rows in v.values() for r in rows), default=0)
    top = threads[-1] if threads else 0

    def ops(w, a, t):
        return med(data.get((w, a), {}).get(t, []), "ops_per_sec")

    def rss(w, a, t):
        return med(data.get((w, a), {}).get(t, []), "peak_rss_kb")

    def best_peer(w, a, t):
        vals = [(ops(w, q, t), q) for q in PEERS if q != a and ops(w, q, t)]
        return max(vals) if vals else (None, None)

    def eff(w, a, t, width):
        one, x = ops(w, a, 1), ops(w, a, t)
        return x / (width * one) if one and x else None

    p("## Scaling with threads\n")
    p(f"One run of `{env.get('command', 'bench/compare --threads')}` on {env.get('date', '?')}: "
      f"{reps} repetition{'s' if reps != 1 else ''}, each workload at each thread count under every "
      "allocator in turn (the starting allocator rotates), medians below. Weak scaling: every thread "
      "does the same work, so a perfect allocator on enough cores does T times the ops of one thread. "
      f"Raw data: [`{csv_name}`](../{csv_name}).\n")
    if cores and top > cores:
        p(f"**This machine has {cores} cores**: above {cores} threads the runs are oversubscribed, so "
          f"ops/s cannot grow past about {cores}x one thread's and the efficiency ops(T) / (T x ops(1)) is "
          f"bounded by {cores}/T. In brackets, the efficiency against the cores there are: "
          f"ops(T) / (min(T, {cores}) x ops(1)).\n")
    machine_table(p, env)
    p(f"![ops/s against threads]({os.path.basename(out_svg)})\n")
    for w in loads:
        p(f"### {w}\n\n{SCALING[w][0]}. Million ops/s; hakmem's ratio to the best of mimalloc, "
          "jemalloc and tcmalloc (below 1 in bold); efficiency ops(T) / (T x ops(1)).\n")
        p("| threads | " + " | ".join(allocs) + " | hakmem / best peer | hakmem efficiency | best peer's efficiency |")
        p("|---" * (len(allocs) + 4) + "|")
        for t in threads:
            cells = [fmt_speed("", ops(w, a, t)) for a in allocs]
            b, bp = best_peer(w, "hakmem", t)
            h = ops(w, "hakmem", t)

            def eff_cell(a):
                e = eff(w, a, t, t)
                if e is None:
                    return "-"
                if cores and t > cores:
                    return f"{e:.2f} ({eff(w, a, t, cores):.2f})"
                return f"{e:.2f}"
            p(f"| {t} | " + " | ".join(cells) +
              f" | {fmt_ratio(h / b if h and b else None, 1.0)} ({bp or '-'}) | {eff_cell('hakmem')} | "
              f"{eff_cell(bp) if bp else '-'} |")
        p("")
    if loads:
        p(f"### Peak RSS at {top} threads (MiB, median)\n")
        p("| workload | " + " | ".join(allocs) + " | hakmem / lowest peer |")
        p("|---" * (len(allocs) + 2) + "|")
        for w in loads:
            lows = [(rss(w, q, top), q) for q in PEERS if rss(w, q, top)]
            h = rss(w, "hakmem", top)
            lo, q = min(lows) if lows else (None, None)
            p(f"| {w} | " + " | ".join(mib(rss(w, a, top)) for a in allocs) +
              f" | {fmt_ratio(h / lo if h and lo else None)} ({q or '-'}) |")
        p("")
    if "hakmem" in allocs and loads:
        p("### hakmem against the targets of issue 10\n")
        for w in loads:
            behind = []
            for t in threads:
                b, bp = best_peer(w, "hakmem", t)
                h = ops(w, "hakmem", t)
                if h and b and h < b:
                    behind.append(f"{t} threads {h / b:.2f}x ({bp})")
            p(f"- `{w}` at least the best peer at every thread count: "
              + ("met" if not behind else "**missed** at " + ", ".join(behind)))
        if "mid" in loads:
            b, bp = best_peer("mid", "hakmem", top)
            h = ops("mid", "hakmem", top)
            if h and b:
                p(f"- `mid` at {top} threads at least 2x the best peer: {h / b:.2f}x ({bp}), "
                  f"{'met' if h >= 2 * b else '**missed**'}")
        for w in loads:
            target = SCALING[w][1]
            e = eff(w, "hakmem", top, top)
            if target is None or e is None:
                continue
            line = f"- `{w}` efficiency at {top} threads at least {target}: {e:.2f}, {'met' if e >= target else '**missed**'}"
            if cores and top > cores:
                ec = eff(w, "hakmem", top, cores)
                line += (f" (bounded by {cores}/{top} = {cores / top:.2f} here; against {cores} cores "
                         f"{ec:.2f}, {'met' if ec >= target else '**missed**'})")
            p(line)
        for w in loads:
            lows = [(rss(w, q, top), q) for q in PEERS if rss(w, q, top)]
            h = rss(w, "hakmem", top)
            if lows and h:
                lo, q = min(lows)
                p(f"- `{w}` peak RSS at {top} threads within 10% of the lowest peer ({q}): {h / lo:.2f}x, "
                  f"{'met' if h <= 1.10 * lo else '**missed**'}")
        p("")
    if failures:
        p("### Failed runs\n")
        for w, a, rep in failures:
            p(f"- `{w}` under {a}, repetition {rep}")
        p("")
    chart_scaling(out_svg, loads, allocs, threads, ops, reps)


def chart_scaling(out_svg, loads, allocs, threads, ops, reps):
    gp = shutil.which("gnuplot")
    if not gp or not loads:
        if not gp:
            print("report.py: gnuplot not installed; no chart", file=sys.stderr)
        return
    dats, plots = [], []
    for i, w in enumerate(loads):
        dat = f"{out_svg}.{w}.dat"
        dats.append(dat)
        with open(dat, "w") as f:
            for t in threads:
                f.write(f"{t} " + " ".join(f"{(ops(w, a, t) or float('nan')) / 1e6:.4f}" for a in allocs) + "\n")
        cols = " , ".join(f"'{dat}' using 1:{j + 2} with linespoints lw 2 pt 7 title '{a}'"
                          for j, a in enumerate(allocs))
        plots.append(f"set title '{w} (M ops/s, median of {reps})'\n"
                     f"set key {'bottom left' if i == 0 else 'off'}\nplot {cols}\n")
    script = f"""
set terminal svg size {400 * len(loads)},420 dynamic noenhanced font 'sans,11' background '#ffffff'
set output '{out_svg}'
set multiplot layout 1,{len(loads)}
set logscale x 2
set xtics ({', '.join(f"'{t}' {t}" for t in threads)})
set xrange [{threads[0] / 1.2}:{threads[-1] * 1.2}]
set yrange [0:*]
set xlabel 'threads'
set grid
set datafile missing 'nan'
{''.join(plots)}
unset multiplot
"""
    subprocess.run([gp], input=script, text=True, check=True)
    for d in dats:
        os.remove(d)


def main():
    args = sys.argv[1:]
    scaling = None
    if "--scaling" in args:
        i = args.index("--scaling")
        scaling, args = args[i + 1:i + 5], args[:i] + args[i + 5:]
        if len(scaling) != 4:
            sys.exit("report.py: --scaling needs CSV ENV OUT.svg CSV_NAME")
    csv_path, env_path, out_md, out_svg, csv_name = args[:5]
    out = []
    p = out.append
    p("# Benchmarks: hakmem beside glibc, mimalloc, jemalloc and tcmalloc\n")
    sources = ([csv_name] if csv_path != "-" else []) + ([scaling[3]] if scaling else [])
    p(f"<!-- Generated by bench/compare (bench/report.py) from {' and '.join(sources)}; the tables are "
      "regenerated on every run, only the notes section is kept. -->\n")
    if csv_path != "-":
        workload_report(p, csv_path, env_path, out_svg, csv_name)
    if scaling:
        scaling_report(p, *scaling)

    notes = "<!-- notes -->\n## Notes\n\n(Hand-written analysis goes here; bench/compare keeps it.)\n<!-- /notes -->"
    if os.path.exists(out_md):
        m = re.search(r"<!-- notes -->.*?<!-- /notes -->", open(out_md).read(), re.S)
        if m:
            notes = m.group(0)
    p(notes)
    p("")
    with open(out_md, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
