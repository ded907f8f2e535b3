//! Bootstrap confidence intervals, percentile and BCa, for statistics of one
//! or several independent samples (each resampled within itself).
//!
//! Replicates are drawn in fixed chunks, each from its own random stream
//! derived from (seed, stream, chunk): the result does not depend on the
//! number of threads. BCa follows scipy.stats.bootstrap, jackknife and all.

use rayon::prelude::*;
use serde::Deserialize;

use super::normal;
pub use super::rng::stream_id;
use super::rng::Rng;
use super::univariate::quantile_sorted;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Percentile,
    Bca,
}

#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// 0: point estimates only, every interval [`Interval::NONE`].
    pub resamples: usize,
    pub confidence: f64,
    pub seed: u64,
    pub method: Method,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            resamples: 10_000,
            confidence: 0.95,
            seed: 1,
            method: Method::Bca,
        }
    }
}

impl Config {
    /// No resampling: estimates without intervals (`--resamples 0`).
    pub fn point_estimates(&self) -> bool {
        self.resamples == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// No interval: nothing was resampled, or too little to resample.
    pub const NONE: Interval = Interval {
        low: f64::NAN,
        high: f64::NAN,
    };

    pub fn point(x: f64) -> Self {
        Interval { low: x, high: x }
    }

    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// A statistic and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub ci: Interval,
}

const CHUNK: usize = 250;

/// Bootstrap replicates of a K-valued statistic. `stat` receives one
/// resample of every sample and may reorder them.
pub fn replicates<const K: usize, F>(
    samples: &[&[f64]],
    resamples: usize,
    seed: u64,
    stream: u64,
    stat: &F,
) -> Vec<[f64; K]>
where
    F: Fn(&mut [Vec<f64>]) -> [f64; K] + Sync,
{
    let chunks = resamples.div_ceil(CHUNK);
    let per_chunk: Vec<Vec<[f64; K]>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut rng = Rng::derive(seed, stream, c as u64);
            let mut bufs: Vec<Vec<f64>> = samples.iter().map(|s| vec![0.0; s.len()]).collect();
            let count = CHUNK.min(resamples - c * CHUNK);
            (0..count)
                .map(|_| {
                    for (buf, sample) in bufs.iter_mut().zip(samples) {
                        for v in buf.iter_mut() {
                            *v = sample[rng.below(sample.len())];
                        }
                    }
                    stat(&mut bufs)
                })
                .collect()
        })
        .collect();
    per_chunk.into_iter().flatten().collect()
}

/// Jackknife groups per sample at most. Up to this size the jackknife leaves
/// out one value at a time, exactly as scipy does; a larger sample is cut
/// into this many contiguous blocks, each left out in turn (the delete-a-group
/// jackknife), which keeps the cost linear in the sample size.
pub const JACKKNIFE_GROUPS: usize = 200;

/// Leave-one-out (or leave-block-out) values, sample by sample, as scipy's
/// multi-sample jackknife. Statistics must not depend on the order of values
/// within a sample, which lets the other samples' buffers be reused.
fn jackknife<const K: usize, F>(samples: &[&[f64]], stat: &F) -> Vec<Vec<[f64; K]>>
where
    F: Fn(&mut [Vec<f64>]) -> [f64; K],
{
    let mut bufs: Vec<Vec<f64>> = samples.iter().map(|s| s.to_vec()).collect();
    let mut out = Vec::with_capacity(samples.len());
    for (j, sample) in samples.iter().enumerate() {
        let n = sample.len();
        let groups = n.min(JACKKNIFE_GROUPS);
        let mut values = Vec::with_capacity(groups);
        for g in 0..groups {
            let (start, end) = (g * n / groups, (g + 1) * n / groups);
            bufs[j].clear();
            bufs[j].extend_from_slice(&sample[..start]);
            bufs[j].extend_from_slice(&sample[end..]);
            values.push(stat(&mut bufs));
        }
        bufs[j].clear();
        bufs[j].extend_from_slice(sample);
        out.push(values);
    }
    out
}

/// The acceleration of BCa from the jackknife values of each sample.
fn acceleration(jack: &[Vec<f64>]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for values in jack {
        let n = values.len() as f64;
        if values.is_empty() {
            continue;
        }
        let dot = values.iter().sum::<f64>() / n;
        let u: Vec<f64> = values.iter().map(|t| (n - 1.0) * (dot - t)).collect();
        num += u.iter().map(|u| u.powi(3)).sum::<f64>() / n.powi(3);
        den += u.iter().map(|u| u.powi(2)).sum::<f64>() / n.powi(2);
    }
    if den == 0.0 {
        0.0
    } else {
        num / 6.0 / den.powf(1.5)
    }
}

/// Percentile interval of replicates (non-finite replicates ignored).
pub fn percentile_interval(reps: &[f64], confidence: f64) -> Interval {
    let mut sorted: Vec<f64> = reps.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    Interval {
        low: quantile_sorted(&sorted, alpha),
        high: quantile_sorted(&sorted, 1.0 - alpha),
    }
}

/// BCa interval (scipy.stats.bootstrap's `method="BCa"`).
pub fn bca_interval(reps: &[f64], observed: f64, jack: &[Vec<f64>], confidence: f64) -> Interval {
    let mut sorted: Vec<f64> = reps.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    // Replicates equal to the estimate count half, as in scipy (its
    // percentileofscore of kind "mean"): medians of tied data often equal it.
    let below = sorted.partition_point(|v| *v < observed);
    let at_or_below = sorted.partition_point(|v| *v <= observed);
    let z0 = normal::ppf((below + at_or_below) as f64 / (2 * sorted.len()) as f64);
    let a = acceleration(jack);
    let z_alpha = normal::ppf((1.0 - confidence) / 2.0);
    let adjusted = |z: f64| {
        let num = z0 + z;
        normal::cdf(z0 + num / (1.0 - a * num))
    };
    let (a1, a2) = (adjusted(z_alpha), adjusted(-z_alpha));
    if !(a1.is_finite() && a2.is_finite()) {
        // Every replicate on one side of the estimate: BCa is undefined, fall back.
        return percentile_interval(reps, confidence);
    }
    let ci = Interval {
        low: quantile_sorted(&sorted, a1),
        high: quantile_sorted(&sorted, a2),
    };
    if ci.contains(observed) {
        ci
    } else {
        // BCa can push the interval off its own estimate when few distinct values
        // exist; the percentile interval does not do that.
        percentile_interval(reps, confidence)
    }
}

/// Each component of a statistic with its bootstrap interval.
pub fn estimate<const K: usize, F>(
    cfg: &Config,
    samples: &[&[f64]],
    stream: u64,
    stat: F,
) -> [Estimate; K]
where
    F: Fn(&mut [Vec<f64>]) -> [f64; K] + Sync,
{
    estimate_with(cfg, samples, &stat, || {
        replicates(samples, cfg.resamples, cfg.seed, stream, &stat)
    })
}

fn estimate_with<const K: usize, F, R>(
    cfg: &Config,
    samples: &[&[f64]],
    stat: &F,
    make_replicates: R,
) -> [Estimate; K]
where
    F: Fn(&mut [Vec<f64>]) -> [f64; K] + Sync,
    R: FnOnce() -> Vec<[f64; K]>,
{
    let mut copies: Vec<Vec<f64>> = samples.iter().map(|s| s.to_vec()).collect();
    let observed = stat(&mut copies);
    if cfg.point_estimates() {
        return observed.map(|value| Estimate {
            value,
            ci: Interval::NONE,
        });
    }
    let degenerate = samples.iter().all(|s| s.iter().all(|v| *v == s[0]));
    if degenerate || samples.iter().any(|s| s.is_empty()) {
        return observed.map(|value| Estimate {
            value,
            ci: Interval::point(value),
        });
    }
    let reps = make_replicates();
    let jack = match cfg.method {
        Method::Bca => Some(jackknife(samples, stat)),
        Method::Percentile => None,
    };
    intervals(cfg, observed, &reps, jack.as_deref())
}

/// Intervals of each component from its replicates and, for BCa, its
/// jackknife values (per sample, per left-out value or block).
pub(crate) fn intervals<const K: usize>(
    cfg: &Config,
    observed: [f64; K],
    reps: &[[f64; K]],
    jack: Option<&[Vec<[f64; K]>]>,
) -> [Estimate; K] {
    std::array::from_fn(|k| {
        let value = observed[k];
        if reps.is_empty() {
            return Estimate {
                value,
                ci: Interval::NONE,
            };
        }
        let component: Vec<f64> = reps.iter().map(|r| r[k]).collect();
        let all_same = component.iter().all(|v| *v == component[0]);
        let ci = if all_same || !value.is_finite() {
            Interval::point(value)
        } else {
            match jack {
                Some(jack) => {
                    let jack_k: Vec<Vec<f64>> = jack
                        .iter()
                        .map(|vs| vs.iter().map(|v| v[k]).collect())
                        .collect();
                    bca_interval(&component, value, &jack_k, cfg.confidence)
                }
                None => percentile_interval(&component, cfg.confidence),
            }
        };
        Estimate { value, ci }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::univariate::{mean, median_in_place};

    fn mean_median(s: &mut [Vec<f64>]) -> [f64; 2] {
        [mean(&s[0]), median_in_place(&mut s[0])]
    }

    #[test]
    fn replicates_tied_with_the_estimate_count_half_as_in_scipy() {
        // A bootstrap distribution symmetric about the estimate, a third of it
        // on the estimate, and no acceleration: z0 is 0 and BCa is the
        // percentile interval. Counting the ties as above (or below) the
        // estimate would shift both ends.
        let reps: Vec<f64> = (0..300)
            .flat_map(|k| {
                [
                    1.0 - (k + 1) as f64 / 300.0,
                    1.0,
                    1.0 + (k + 1) as f64 / 300.0,
                ]
            })
            .collect();
        let jack = vec![vec![1.0; 12]];
        let ci = bca_interval(&reps, 1.0, &jack, 0.9);
        let p = percentile_interval(&reps, 0.9);
        assert!(
            (ci.low - p.low).abs() < 1e-9 && (ci.high - p.high).abs() < 1e-9,
            "{ci:?} vs {p:?}"
        );
    }

    #[test]
    fn same_seed_gives_the_same_interval_whatever_the_threads() {
        let x: Vec<f64> = (0..30)
            .map(|i| ((i * 37) % 11) as f64 + 0.5 * i as f64)
            .collect();
        let cfg = Config {
            resamples: 2_000,
            ..Config::default()
        };
        let a = estimate(&cfg, &[&x], 9, mean_median);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| estimate(&cfg, &[&x], 9, mean_median));
        assert_eq!(a, b);
        let c = estimate(&Config { seed: 2, ..cfg }, &[&x], 9, mean_median);
        assert_ne!(a, c);
    }

    #[test]
    fn intervals_contain_their_estimate_and_constant_data_gives_a_point() {
        let mut r = Rng::new(5);
        for method in [Method::Bca, Method::Percentile] {
            let cfg = Config {
                resamples: 1_000,
                method,
                ..Config::default()
            };
            for _ in 0..20 {
                let x: Vec<f64> = (0..25).map(|_| (r.normal() * 0.6).exp() * 100.0).collect();
                for e in estimate(&cfg, &[&x], 1, mean_median) {
                    assert!(e.ci.contains(e.value), "{e:?}");
                }
            }
            let flat = [3.0; 10];
            let [m, _] = estimate(&cfg, &[&flat], 1, mean_median);
            assert_eq!(m.ci, Interval::point(3.0));
        }
    }

    #[test]
    fn large_samples_use_a_block_jackknife_of_bounded_size() {
        let x: Vec<f64> = (0..5_000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let jack = jackknife(&[&x], &|s: &mut [Vec<f64>]| [mean(&s[0])]);
        assert_eq!(jack[0].len(), JACKKNIFE_GROUPS);
        let small = [1.0, 2.0, 4.0];
        let jack = jackknife(&[&small], &|s: &mut [Vec<f64>]| [mean(&s[0])]);
        assert_eq!(
            jack[0],
            vec![[3.0], [2.5], [1.5]],
            "leave-one-out below the bound"
        );
    }

    #[test]
    fn bca_of_a_symmetric_statistic_is_close_to_percentile() {
        let mut r = Rng::new(11);
        let x: Vec<f64> = (0..200).map(|_| r.normal()).collect();
        let bca = estimate(
            &Config {
                resamples: 4_000,
                ..Config::default()
            },
            &[&x],
            3,
            |s| [mean(&s[0])],
        )[0];
        let pct = estimate(
            &Config {
                resamples: 4_000,
                method: Method::Percentile,
                ..Config::default()
            },
            &[&x],
            3,
            |s| [mean(&s[0])],
        )[0];
        assert!(
            (bca.ci.low - pct.ci.low).abs() < 0.02 && (bca.ci.high - pct.ci.high).abs() < 0.02,
            "{bca:?} {pct:?}"
        );
    }
}
