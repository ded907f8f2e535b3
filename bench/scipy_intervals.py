"""Anchor: the report's intervals computed the way a Python user would, from the
requests duckdb_query.py wrote. For each approach and delay (a group):

- every metric's mean and median with scipy.stats.bootstrap (BCa, 10,000 resamples,
  95%), all metrics of a group in one call (the same resample of rows for every metric,
  as tracecost does);
- each approach against the baseline at each delay, for the compared metrics
  (do_wall_ms, span_ms, cost_usd_per_million): difference and ratio of means and of
  medians, each a two-sample BCa bootstrap;
- the break-even of each approach against the baseline: cost fitted against delay by
  numpy least squares (weighted by requests, the same line as through every request)
  on 10,000 resamples of every group's requests, and its percentile interval.

Groups and pairs are spread over one process per core. Writes summary.csv,
comparisons.csv and breakeven.csv into OUT_DIR.

    scipy_intervals.py REQUESTS.parquet OUT_DIR [--resamples 10000] [--baseline direct]
"""
import argparse
import csv
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy import stats

METRICS = ["do_wall_ms", "do_cpu_ms", "worker_cpu_ms", "worker_wall_ms", "do_invocations",
           "worker_invocations", "span_ms", "cost_usd_per_million", "cost_other_billing_usd_per_million"]
COMPARED = ["do_wall_ms", "span_ms", "cost_usd_per_million"]
COST = "cost_usd_per_million"
# Resamples per batch: the resampled rows of a group's nine metrics are
# 9 x batch x n doubles (~70 MB at n = 10,000), not 9 x 10,000 x n (7 GB).
BATCH = 100
ARGS = None


def load(path):
    t = pq.read_table(path).to_pydict()
    groups = {}
    for i, (a, d) in enumerate(zip(t["approach"], t["delay_ms"])):
        groups.setdefault((a, int(d)), []).append(i)
    return {k: np.array([[float(t[m][i]) for i in rows] for m in METRICS]) for k, rows in groups.items()}


def boot(data, statistic, seed):
    r = stats.bootstrap(data, statistic, n_resamples=ARGS.resamples, batch=BATCH, vectorized=True,
                        axis=-1, method="BCa", confidence_level=0.95, rng=np.random.default_rng(seed))
    return r.confidence_interval.low, r.confidence_interval.high


def mean(x, axis=-1):
    return np.mean(x, axis=axis)


def median(x, axis=-1):
    return np.median(x, axis=axis)


def summary(task):
    (approach, delay), x, seed = task
    rows = []
    if x.shape[1] < 2:
        return rows
    m_lo, m_hi = boot((x,), mean, seed)
    d_lo, d_hi = boot((x,), median, seed + 1)
    for i, metric in enumerate(METRICS):
        rows.append([approach, delay, metric, x.shape[1], np.mean(x[i]), m_lo[i], m_hi[i],
                     np.median(x[i]), d_lo[i], d_hi[i]])
    return rows


def comparison(task):
    (approach, baseline, delay), b, o, seed = task
    idx = [METRICS.index(m) for m in COMPARED]
    b, o = b[idx], o[idx]
    if min(b.shape[1], o.shape[1]) < 2:
        return []
    statistics = {
        "diff": lambda b, o, axis=-1: np.mean(o, axis=axis) - np.mean(b, axis=axis),
        "ratio": lambda b, o, axis=-1: np.mean(o, axis=axis) / np.mean(b, axis=axis),
        "median_diff": lambda b, o, axis=-1: np.median(o, axis=axis) - np.median(b, axis=axis),
        "median_ratio": lambda b, o, axis=-1: np.median(o, axis=axis) / np.median(b, axis=axis),
    }
    out = {}
    for k, (name, f) in enumerate(statistics.items()):
        out[name] = (f(b, o), *boot((b, o), f, seed + k))
    return [[delay, approach, baseline, metric] + [v for name in statistics for v in
                                                   (out[name][0][i], out[name][1][i], out[name][2][i])]
            for i, metric in enumerate(COMPARED)]


def resampled_means(task):
    key, cost, seed = task
    rng = np.random.default_rng(seed)
    means = np.empty(ARGS.resamples)
    for start in range(0, ARGS.resamples, BATCH):
        k = min(BATCH, ARGS.resamples - start)
        means[start:start + k] = cost[rng.integers(0, len(cost), size=(k, len(cost)))].mean(axis=1)
    return key, means


def fit(delays, means, weights):
    """Least squares lines of cost against delay, one per column of `means` (groups x replicates)."""
    w = np.sqrt(weights)[:, None]
    design = np.column_stack([np.ones(len(delays)), delays]) * w
    coef, *_ = np.linalg.lstsq(design, means * w, rcond=None)
    return coef[0], coef[1]


def breakeven(groups, replicates, baseline):
    rows = []
    for approach in sorted({a for a, _ in groups} - {baseline}):
        lines = []
        for a in (baseline, approach):
            keys = sorted(k for k in groups if k[0] == a)
            delays = np.array([k[1] for k in keys], dtype=float)
            n = np.array([groups[k].shape[1] for k in keys], dtype=float)
            point = np.array([[groups[k][METRICS.index(COST)].mean()] for k in keys])
            reps = np.array([replicates[k] for k in keys])
            lines.append((fit(delays, point, n), fit(delays, reps, n)))
        ((bi, bs), (bri, brs)), ((oi, os_), (ori, ors)) = lines
        x = (oi[0] - bi[0]) / (bs[0] - os_[0])
        reps = (ori - bri) / (brs - ors)
        reps = reps[np.isfinite(reps) & (brs > ors)]
        lo, hi = np.percentile(reps, [2.5, 97.5])
        rows.append([approach, baseline, x, lo, hi])
    return rows


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("requests")
    ap.add_argument("out")
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--baseline", default="direct")
    ARGS = ap.parse_args()
    out = Path(ARGS.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = load(ARGS.requests)
    keys = sorted(groups)
    pairs = [((a, ARGS.baseline, d), groups[(ARGS.baseline, d)], groups[(a, d)], 1000 + 10 * i)
             for i, (a, d) in enumerate(keys) if a != ARGS.baseline and (ARGS.baseline, d) in groups]
    with ProcessPoolExecutor(os.cpu_count(), initializer=init, initargs=(ARGS,)) as pool:
        summaries = pool.map(summary, [(k, groups[k], 10 * i) for i, k in enumerate(keys)])
        comparisons = pool.map(comparison, pairs)
        replicates = dict(pool.map(resampled_means, [(k, groups[k][METRICS.index(COST)], 5000 + i)
                                                     for i, k in enumerate(keys)]))
        write(out / "summary.csv", ["approach", "delay_ms", "metric", "n", "mean", "mean_ci_low", "mean_ci_high",
                                    "median", "median_ci_low", "median_ci_high"],
              [r for rows in summaries for r in rows])
        stats_names = ["diff", "ratio", "median_diff", "median_ratio"]
        write(out / "comparisons.csv", ["delay_ms", "approach", "baseline", "metric"] +
              [f"{s}{suffix}" for s in stats_names for suffix in ("", "_ci_low", "_ci_high")],
              [r for rows in comparisons for r in rows])
    write(out / "breakeven.csv", ["approach", "baseline", "breakeven_delay_ms", "ci_low", "ci_high"],
          breakeven(groups, replicates, ARGS.baseline))


def init(args):
    global ARGS
    ARGS = args


if __name__ == "__main__":
    main()
