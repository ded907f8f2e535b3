"""Two tracecost binaries step by step on one archive, interleaved: is any step slower?

    python3 bench/compare.py OLD_BINARY NEW_BINARY [--scale 320] [--rounds 5]

The archive is simulated by NEW_BINARY (so both read the same bytes). Each round runs
mirror, transform and report (no charts) of one binary, then of the other, alternating
which goes first. Prints the median wall and CPU time of each step and new/old ratios.
"""
import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import HERE, ROOT, archive, measure  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--scale", type=int, default=320)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default=str(HERE / "work"))
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    pipeline = work / "bench.toml"
    pipeline.write_text((ROOT / "pipelines" / "proxy-fetch.toml").read_text()
                        .replace('name = "proxy-fetch"', 'name = "bench"')
                        .replace('run_manifest = "../data/sample/run-manifest.csv"', ""))
    sim, _, _ = archive(a.new, work, a.scale)
    runs = work / "compare-runs"
    times = {}

    def steps(label, binary, r):
        lake, out = runs / f"{label}-{r}-lake", runs / f"{label}-{r}-out"
        common = ["--pipeline", pipeline, "--lake", lake, "--quiet"]
        for step, extra in [("mirror", ["--source", sim / "logpush"]), ("transform", []),
                            ("report", ["--out", out, "--no-charts"])]:
            times.setdefault((label, step), []).append(measure([binary, step, *common, *extra]))

    steps("old", a.old, "warmup")
    steps("new", a.new, "warmup")
    times.clear()
    for r in range(a.rounds):
        order = [("old", a.old), ("new", a.new)]
        for label, binary in order if r % 2 == 0 else order[::-1]:
            steps(label, binary, r)
        shutil.rmtree(runs, ignore_errors=True)
        print(f"round {r + 1} done", flush=True)
    print(f"\n{a.rounds} rounds, archive x{a.scale}\n")
    print("| step | old wall s | new wall s | new/old | old CPU s | new CPU s | old RSS MB | new RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for step in ("mirror", "transform", "report"):
        o, n = times[("old", step)], times[("new", step)]
        med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
        print(f"| {step} | {med(o, 0):.2f} | {med(n, 0):.2f} | {med(n, 0) / med(o, 0):.2f} | "
              f"{med(o, 1):.2f} | {med(n, 1):.2f} | {med(o, 2):.0f} | {med(n, 2):.0f} |")


if __name__ == "__main__":
    main()
