"""tracecost against the anchors, interleaved: DuckDB, Python Polars, scipy and the zcat floors.

Run through bench/run.sh, which builds tracecost, makes the virtual environment
and passes the paths. Writes bench/RESULTS.md and bench/scale.png; nothing in
them is typed by hand.

What each anchor does (the same work as the tracecost job beside it, or less):
- ingest: DuckDB's read_json of every object into one Parquet file; Python Polars the
  same; zcat the decompression alone, on one thread and as two processes (the floor
  of two cores, each decompressing half the objects).
- point estimates: DuckDB ingests, then one SQL query builds the requests (roles,
  de-duplication, ids, approach, delay, cost) and their mean, median, p95, p99, std,
  min and max per approach, delay and metric. tracecost `run --resamples 0` also
  compares the approaches, fits the break-even and reads the claims.
- every interval: DuckDB ingests and builds the requests, then scipy_intervals.py
  computes the report's intervals the way a Python user would (scipy.stats.bootstrap,
  BCa, 10,000 resamples): every group's mean and median of every metric, each approach
  against the baseline (difference and ratio of means and medians), the break-even
  from numpy least squares refits. tracecost `run` does all of that and more (the
  analysis again without cold starts and outliers, the other billing rule, segments).
"""
import argparse
import csv
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def measure(cmd, env=None):
    """Runs a command; returns wall s, CPU s (user+sys of it and its children), peak RSS MB.

    The previous job's unwritten files are flushed first, untimed: with ext4's ordered data, a job
    that syncs its files (the mirror does, for durability) would otherwise wait for the writeback of
    the hundreds of MB the job before it left in the page cache."""
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(map(str, cmd))}\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def add(*runs):
    """Jobs run one after the other: walls and CPU add up, the peak is the highest."""
    return sum(r[0] for r in runs), sum(r[1] for r in runs), max(r[2] for r in runs)


def archive(tracecost, work, scale, seed=1):
    out = work / f"archive-x{scale}"
    if not (out / "truth" / "archive.json").exists():
        subprocess.run([tracecost, "simulate", "--out", out, "--scale", str(scale), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
    files = sorted((out / "logpush").glob("*/*.log.gz"))
    raw = sum(len(subprocess.run(["zcat", f], capture_output=True, check=True).stdout) for f in files[:50])
    return out, files, raw * len(files) / max(1, min(50, len(files)))


def bench_pipeline(work):
    pipeline = work / "bench.toml"
    pipeline.write_text((ROOT / "pipelines" / "proxy-fetch.toml").read_text()
                        .replace('name = "proxy-fetch"', 'name = "bench"')
                        .replace('run_manifest = "../data/sample/run-manifest.csv"', ""))
    return pipeline


class Jobs:
    """Every timed job, each in fresh folders under work/runs."""

    def __init__(self, a, work, pipeline, logpush, files):
        self.a, self.work, self.pipeline, self.logpush = a, work, pipeline, logpush
        self.counter = 0
        self.last = {}  # job -> its output folder, for the same-answers check
        halves = [files[0::2], files[1::2]]
        self.halves = []
        for i, half in enumerate(halves):
            listing = work / f"half-{i}.txt"
            listing.write_text("\n".join(map(str, half)) + "\n")
            self.halves.append(listing)

    def fresh(self, name):
        self.counter += 1
        return self.work / "runs" / f"{name}-{self.counter}"

    def tc(self, step, *extra, lake=None):
        return [self.a.tracecost, step, "--pipeline", self.pipeline, "--lake", lake or self.fresh("lake"),
                "--quiet", *extra]

    def mirror(self):
        return measure(self.tc("mirror", "--source", self.logpush))

    def run(self, *extra, name="run"):
        out = self.fresh("report")
        self.last[name] = out
        return measure(self.tc("run", "--source", self.logpush, "--out", out, "--no-charts", *extra))

    def run_point(self):
        return self.run("--resamples", "0", name="run-point")

    def duckdb_ingest(self):
        return measure([self.a.python, HERE / "duckdb_ingest.py", self.logpush, self.fresh("duck").with_suffix(".parquet")])

    def duckdb_query(self, requests=None):
        parquet = self.fresh("duck").with_suffix(".parquet")
        ingest = measure([self.a.python, HERE / "duckdb_ingest.py", self.logpush, parquet])
        query = [self.a.python, HERE / "duckdb_query.py", parquet, parquet.with_suffix(".csv")]
        return ingest, measure(query + ([requests] if requests else []))

    def duckdb_run(self):
        return add(*self.duckdb_query())

    def duckdb_scipy(self):
        requests = self.fresh("requests").with_suffix(".parquet")
        out = self.fresh("scipy")
        self.last["scipy"] = out
        ingest, query = self.duckdb_query(requests)
        return add(ingest, query, measure([self.a.python, HERE / "scipy_intervals.py", requests, out]))

    def polars_ingest(self):
        return measure([self.a.python, HERE / "polars_ingest.py", self.logpush, self.fresh("polars").with_suffix(".parquet")])

    def zcat(self):
        return measure(["sh", "-c", f"cat {self.logpush}/*/*.log.gz | zcat > /dev/null"])

    def zcat2(self):
        a, b = self.halves
        return measure(["sh", "-c", f"xargs cat < {a} | zcat > /dev/null & xargs cat < {b} | zcat > /dev/null & wait"])


def same_answers(tracecost_out, scipy_out):
    """How the anchor's figures compare with tracecost's: means and medians equal (the same
    requests), interval ends apart by a share of the interval's width (resampling noise)."""
    def rows(path, key):
        return {tuple(r[k] for k in key): r for r in csv.DictReader(open(path))}
    key = ("approach", "delay_ms", "metric")
    t, s = rows(tracecost_out / "summary.csv", key), rows(scipy_out / "summary.csv", key)
    both = sorted(set(t) & set(s))
    # tracecost's CSVs hold 6 decimals.
    equal = sum(all(abs(float(t[k][c]) - float(s[k][c])) <= 1e-6 * max(1.0, abs(float(t[k][c])))
                    for c in ("n", "mean", "median")) for k in both)
    apart = []
    for k in both:
        lo, hi = float(t[k]["mean_ci_low"]), float(t[k]["mean_ci_high"])
        slo, shi = float(s[k]["mean_ci_low"]), float(s[k]["mean_ci_high"])
        if hi > lo:
            apart.append(max(abs(lo - slo), abs(hi - shi)) / (hi - lo))
    bkey = ("approach", "baseline")
    tb, sb = rows(tracecost_out / "breakeven.csv", bkey), rows(scipy_out / "breakeven.csv", bkey)
    be = [f"`{k[0]}` {float(tb[k]['breakeven_delay_ms']):,.1f} ms ({float(tb[k]['ci_low']):,.1f}-"
          f"{float(tb[k]['ci_high']):,.1f}) against {float(sb[k]['breakeven_delay_ms']):,.1f} ms "
          f"({float(sb[k]['ci_low']):,.1f}-{float(sb[k]['ci_high']):,.1f})" for k in sorted(set(tb) & set(sb))]
    return (f"Same answers: {equal} of {len(both)} group x metric rows have the same n, mean and median in "
            f"tracecost's `summary.csv` and the anchor's ({len(t)} and {len(s)} rows); the ends of the 95% "
            f"intervals of the means are apart by a median {100 * statistics.median(apart):.1f}% of the "
            f"interval's width (max {100 * max(apart):.1f}%: two bootstraps' own noise); break-even, tracecost "
            f"against the anchor: {'; '.join(be)}.")


STEPS = ("mirror", "transform", "report")


def scale_chart(points, path, target_mb):
    """Against the archive's size: the whole run's wall and CPU time, each step's wall time and each
    step's peak RSS, every time beside the line that grows in proportion from the 1x point: a point
    above its line grew faster than the archive."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    gb = [p["ndjson_mb"] / 1000 for p in points]
    fig, (whole, steps, memory) = plt.subplots(1, 3, figsize=(16, 4.8), dpi=120)

    def proportional(ax, ys, label, marker):
        (line,) = ax.plot(gb, ys, marker=marker, label=label)
        ax.plot([0, gb[-1]], [0, ys[0] / gb[0] * gb[-1]], linestyle=":", color=line.get_color(),
                label=f"{label} in proportion to 1x ({ys[0] / gb[0]:.0f} s per GB)")

    for key, label, marker in (("wall", "wall time", "o"), ("cpu", "CPU time (user + system)", "s")):
        proportional(whole, [p[key] for p in points], label, marker)
    whole.set(xlabel="archive (GB of NDJSON)", ylabel="seconds", title="the whole run (--no-charts): time")
    for step, marker in zip(STEPS, "o^s"):
        proportional(steps, [p["steps"][step][0] for p in points], f"{step} wall", marker)
    steps.set(xlabel="archive (GB of NDJSON)", ylabel="seconds", title="each step: wall time")
    for step, marker in zip(STEPS, "o^s"):
        memory.plot(gb, [p["steps"][step][2] for p in points], marker=marker, label=f"{step} peak RSS")
    memory.axhline(target_mb, color="grey", linestyle="--", label=f"target at 1x and 4x: {target_mb} MB")
    memory.set(xlabel="archive (GB of NDJSON)", ylabel="MB", title="each step: peak memory")
    memory.set_ylim(0, max(target_mb * 1.3, max(p["rss"] for p in points) * 1.1))
    for ax, value in ((whole, lambda p: p["wall"]), (steps, lambda p: p["steps"]["report"][0]),
                      (memory, lambda p: p["rss"])):
        ax.set_xlim(left=0)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.1)  # room for the labels above the last points
        ax.grid(alpha=0.3)
        for p, x in zip(points, gb):
            ax.annotate(f"{p['scale']}x", (x, value(p)), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8, color="dimgrey")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracecost", required=True)
    ap.add_argument("--python", required=True, help="interpreter with duckdb, polars, scipy, matplotlib")
    ap.add_argument("--scale", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--anchor-rounds", type=int, default=1,
                    help="rounds that also run DuckDB + scipy (minutes each; the first ones)")
    ap.add_argument("--curve", default="1,4,16", help="archive multiples of the scale curve")
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--chart", default=str(HERE / "scale.png"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    tc = a.tracecost
    pipeline = bench_pipeline(work)
    sim, files, raw_bytes = archive(tc, work, a.scale)
    events = int(json.loads((sim / "truth" / "archive.json").read_text())["events"])
    j = Jobs(a, work, pipeline, sim / "logpush", files)

    jobs = {
        "ingest": [("tracecost mirror", j.mirror), ("DuckDB read_json -> Parquet", j.duckdb_ingest),
                   ("Python Polars read_ndjson -> Parquet", j.polars_ingest),
                   ("zcat (1 thread, floor)", j.zcat), ("zcat (2 processes, floor of 2 cores)", j.zcat2)],
        "point estimates": [("tracecost run --no-charts --resamples 0", j.run_point),
                            ("DuckDB ingest + SQL query", j.duckdb_run)],
        "every interval": [("tracecost run --no-charts", j.run),
                           ("DuckDB + scipy BCa (same intervals)", j.duckdb_scipy)],
    }
    anchor = "DuckDB + scipy BCa (same intervals)"
    steps = {}

    def tracecost_steps():
        """The run's three steps one by one, to show where its time goes."""
        lake, out = j.fresh("lake"), j.fresh("report")
        for step, extra in [("mirror", ["--source", j.logpush]), ("transform", []),
                            ("report", ["--out", out, "--no-charts"])]:
            steps.setdefault(step, []).append(measure(j.tc(step, *extra, lake=lake)))

    # One untimed round first, as hyperfine's --warmup (the first timed job ran 20-70% slower
    # than its median without it); the scipy anchor, minutes long, is not warmed up.
    for entries in jobs.values():
        for name, fn in entries:
            if name != anchor:
                fn()
    shutil.rmtree(work / "runs", ignore_errors=True)
    results, answers = {}, None
    for r in range(a.rounds):
        for entries in jobs.values():
            for name, fn in entries:  # interleaved: A B C D, A B C D, ...
                if name == anchor and r >= a.anchor_rounds:
                    continue
                results.setdefault(name, []).append(fn())
                print(f"round {r + 1}: {name}: {results[name][-1][0]:.2f} s", flush=True)
                if name == anchor:
                    answers = same_answers(j.last["run"], j.last["scipy"])
        tracecost_steps()
        shutil.rmtree(work / "runs", ignore_errors=True)

    # Memory per step at 4x; the second mirror; the scale curve of the whole run.
    sim4, files4, raw4 = archive(tc, work, a.scale * 4, seed=2)
    lake4, out4 = j.fresh("lake4"), j.fresh("report4")
    steps4 = {step: measure(j.tc(step, *extra, lake=lake4)) for step, extra in
              [("mirror", ["--source", sim4 / "logpush"]), ("transform", []),
               ("report", ["--out", out4, "--no-charts"])]}
    lake = j.fresh("lake")
    measure(j.tc("mirror", "--source", j.logpush, lake=lake))
    second = [measure(j.tc("mirror", "--source", j.logpush, lake=lake)) for _ in range(5)]
    shutil.rmtree(work / "runs", ignore_errors=True)
    curve = []
    for mult in [int(x) for x in a.curve.split(",")]:
        s_dir, s_files, s_raw = (sim, files, raw_bytes) if mult == 1 else \
            (sim4, files4, raw4) if mult == 4 else archive(tc, work, a.scale * mult, seed=mult)
        lake_c = j.fresh("lake-curve")
        by_step = {step: measure(j.tc(step, *extra, lake=lake_c)) for step, extra in
                   [("mirror", ["--source", s_dir / "logpush"]), ("transform", []),
                    ("report", ["--out", j.fresh("curve"), "--no-charts"])]}
        wall, cpu_s, rss = add(*by_step.values())
        curve.append({"scale": mult, "objects": len(s_files), "ndjson_mb": s_raw / 1e6,
                      "gz_mb": sum(f.stat().st_size for f in s_files) / 1e6, "wall": wall, "cpu": cpu_s, "rss": rss,
                      "steps": by_step})
        print(f"curve {mult}x: {wall:.1f} s, {rss:.0f} MB", flush=True)
        shutil.rmtree(work / "runs", ignore_errors=True)
        if mult not in (1, 4):
            shutil.rmtree(s_dir, ignore_errors=True)  # generated on the fly, deleted after
    Path(a.chart).with_suffix(".json").write_text(json.dumps(curve, indent=1) + "\n")
    scale_chart(curve, a.chart, 300)

    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in results.items()}
    lines = []
    w = lines.append
    w("# tracecost benchmark results\n")
    w(f"Generated by `bench/run.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
      "do not edit by hand.\n")
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem = int(next(l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines()
                   if l.startswith("MemTotal"))) / 1e6
    ver = lambda *c: subprocess.run(c, capture_output=True, text=True).stdout.strip().splitlines()[0]
    w(f"- Machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GB, {platform.platform()}")
    anchors = ver(a.python, "-c", "import duckdb, polars, scipy, numpy, sys; print('DuckDB', duckdb.__version__, "
                  "'/ Polars', polars.__version__, '/ scipy', scipy.__version__, '/ numpy', numpy.__version__, "
                  "'/ Python', sys.version.split()[0])")
    w(f"- {ver(tc, '--version')}; {ver('rustc', '--version')}; {anchors}")
    w(f"- Archive: `tracecost simulate --scale {a.scale} --seed 1`: {events:,} events, {len(files):,} objects, "
      f"{sum(f.stat().st_size for f in files) / 1e6:.0f} MB gzipped, ~{raw_bytes / 1e6:.0f} MB of NDJSON")
    w(f"- {a.rounds} rounds, jobs interleaved within each round; medians (the DuckDB + scipy anchor: "
      f"{min(a.anchor_rounds, a.rounds)} round, minutes long). CPU = user + system time of the process and its "
      "children. Dirty pages are flushed (`sync`) before each job, untimed; one untimed warm-up round first.")
    w("- What each anchor computes is in `bench/bench.py`'s header: never more than the tracecost job "
      "beside it.\n")
    base = {"ingest": "tracecost mirror", "point estimates": "tracecost run --no-charts --resamples 0",
            "every interval": "tracecost run --no-charts"}
    for group, entries in jobs.items():
        w(f"## {group.capitalize()}\n")
        w("| job | wall (s) | CPU (s) | peak RSS (MB) | MB/s of NDJSON | wall / tracecost |")
        w("|---|---:|---:|---:|---:|---:|")
        for name, _ in entries:
            wall, cpu_s, rss = med[name]
            w(f"| {name} | {wall:.2f} | {cpu_s:.2f} | {rss:.0f} | {raw_bytes / 1e6 / wall:.0f} | "
              f"{wall / med[base[group]][0]:.2f} |")
        w("")
        if group == "every interval" and answers:
            w(answers + "\n")
    w("## The whole run, step by step\n")
    w("The same archive, each step on its own (medians of the same rounds):\n")
    w("| step | wall (s) | CPU (s) | peak RSS (MB) |")
    w("|---|---:|---:|---:|")
    for step, runs in steps.items():
        wall, cpu_s, rss = (statistics.median(x[i] for x in runs) for i in range(3))
        w(f"| tracecost {step} | {wall:.2f} | {cpu_s:.2f} | {rss:.0f} |")
    w("")
    w(f"Each step's peak RSS on this archive and on the 4x one ({len(files4):,} objects), to show what grows:\n")
    w("| step | 1x (MB) | 4x (MB) | 4x wall (s) |")
    w("|---|---:|---:|---:|")
    for step, m in steps4.items():
        w(f"| tracecost {step} | {statistics.median(x[2] for x in steps[step]):.0f} | {m[2]:.0f} | {m[0]:.2f} |")
    w("")
    w("## Scale curve\n")
    made = ", ".join(f"{p['scale']}x" for p in curve if p["scale"] not in (1, 4))
    w(f"The whole run (every interval, no charts) once per archive size, its steps one after another on a fresh "
      f"lake; {made or 'no'} archive made for the curve and deleted after. Time per GB of NDJSON stays level when "
      "a step grows in proportion to the archive.\n")
    w("| archive | objects | gzipped (MB) | NDJSON (MB) | wall (s) | CPU (s) | peak RSS (MB) | wall per GB (s) |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in curve:
        w(f"| {p['scale']}x | {p['objects']:,} | {p['gz_mb']:,.0f} | {p['ndjson_mb']:,.0f} | {p['wall']:.1f} | "
          f"{p['cpu']:.1f} | {p['rss']:.0f} | {p['wall'] / (p['ndjson_mb'] / 1000):.1f} |")
    w("")
    w("Step by step (wall s / CPU s / peak RSS MB; wall per GB of NDJSON):\n")
    w("| archive | " + " | ".join(STEPS) + " | " + " | ".join(f"{s} per GB" for s in STEPS) + " |")
    w("|---|" + "---:|" * (2 * len(STEPS)))
    for p in curve:
        gb = p["ndjson_mb"] / 1000
        w(f"| {p['scale']}x | " + " | ".join(f"{p['steps'][s][0]:.1f} / {p['steps'][s][1]:.1f} / {p['steps'][s][2]:.0f}"
                                           for s in STEPS) +
          " | " + " | ".join(f"{p['steps'][s][0] / gb:.1f}" for s in STEPS) + " |")
    w("")
    w(f"![Scale curve]({Path(a.chart).name})\n")

    duck_i, zcat2 = med["DuckDB read_json -> Parquet"][0], med["zcat (2 processes, floor of 2 cores)"][0]
    mirror = med["tracecost mirror"][0]
    point, duck_run = med[base["point estimates"]][0], med["DuckDB ingest + SQL query"][0]
    full, scipy_run = med[base["every interval"]][0], med[anchor][0]
    peaks1 = {name: med[name][2] for name in base.values()}
    peaks1.update({f"tracecost {step}": statistics.median(x[2] for x in runs) for step, runs in steps.items()})
    peak1 = max(peaks1, key=peaks1.get)
    peak4 = max(steps4, key=lambda step: steps4[step][2])
    rss1, rss4 = peaks1[peak1], steps4[peak4][2]
    second_s = statistics.median(x[0] for x in second)
    targets = [
        ("whole run, every interval, at least 20x faster than DuckDB + scipy (same intervals)",
         f"{scipy_run / full:.1f}x", scipy_run / full >= 20),
        ("point-estimate run at least 2x faster than DuckDB ingest + query", f"{duck_run / point:.2f}x",
         duck_run / point >= 2),
        ("mirror at least 6x DuckDB's ingest throughput", f"{duck_i / mirror:.2f}x", duck_i / mirror >= 6),
        ("mirror at least 70% of the two-process zcat floor's throughput", f"{100 * zcat2 / mirror:.0f}%",
         zcat2 / mirror >= 0.7),
        ("peak RSS at most 300 MB at 1x (highest of every tracecost job)", f"{rss1:.0f} MB ({peak1})", rss1 <= 300),
        (f"peak RSS at most 300 MB at 4x ({len(files4):,} objects; highest step)",
         f"{rss4:.0f} MB (tracecost {peak4})", rss4 <= 300),
        ("second mirror of the unchanged archive under 0.5 s", f"{second_s:.3f} s", second_s < 0.5),
    ]
    w("## Targets\n")
    w("| target | measured | met |")
    w("|---|---:|---|")
    for t, m, ok in targets:
        w(f"| {t} | {m} | {'yes' if ok else '**no**'} |")
    w("")
    extra = HERE / "NOTES.md"
    if extra.exists():
        w(extra.read_text())
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(Path(a.out).read_text())


if __name__ == "__main__":
    main()
