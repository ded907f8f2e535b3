//! One-sample descriptive statistics.

pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (n − 1 in the denominator); 0 for one value.
pub fn std(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Quantile `q` in [0, 1] of sorted data, by linear interpolation between
/// closest ranks: numpy's default (`method="linear"`, Hyndman-Fan type 7).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

pub fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

pub fn median(x: &[f64]) -> f64 {
    quantile_sorted(&sorted(x), 0.5)
}

/// Median that reorders `x` in place: O(n), for the bootstrap's inner loop.
pub fn median_in_place(x: &mut [f64]) -> f64 {
    let n = x.len();
    if n == 0 {
        return f64::NAN;
    }
    let (_, &mut upper, _) = x.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = x[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// The descriptive columns of summary.csv.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Describe {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

pub fn describe(x: &[f64]) -> Describe {
    let s = sorted(x);
    Describe {
        n: x.len(),
        mean: mean(x),
        median: quantile_sorted(&s, 0.5),
        p95: quantile_sorted(&s, 0.95),
        p99: quantile_sorted(&s, 0.99),
        std: std(x),
        min: s.first().copied().unwrap_or(f64::NAN),
        max: s.last().copied().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 95, 100])
        let s = [1.0, 2.0, 3.0, 4.0, 10.0];
        let want = [1.0, 2.0, 3.0, 7.6, 8.8, 10.0];
        for (q, w) in [0.0, 0.25, 0.5, 0.9, 0.95, 1.0].iter().zip(want) {
            assert!((quantile_sorted(&s, *q) - w).abs() < 1e-12, "{q}");
        }
        assert_eq!(quantile_sorted(&[5.0], 0.99), 5.0);
    }

    #[test]
    fn median_in_place_equals_sorted_median() {
        let mut r = super::super::rng::Rng::new(3);
        for n in 1..40 {
            let x: Vec<f64> = (0..n).map(|_| r.below(10) as f64).collect();
            let mut y = x.clone();
            assert_eq!(median_in_place(&mut y), median(&x), "{x:?}");
        }
    }

    #[test]
    fn std_is_the_sample_standard_deviation() {
        assert!(
            (std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) - 2.138_089_935_299_395).abs() < 1e-12
        );
        assert_eq!(std(&[3.0]), 0.0);
    }
}

/// The `q` quantile (0 < q ≤ 1) by nearest rank of values given as
/// value → count; `None` when there are none.
pub fn nearest_rank(counts: &std::collections::BTreeMap<i64, u64>, q: f64) -> Option<i64> {
    let n = counts.values().fold(0u64, |a, c| a.saturating_add(*c));
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0u64;
    counts.iter().find_map(|(value, count)| {
        seen = seen.saturating_add(*count);
        (seen >= rank).then_some(*value)
    })
}

#[cfg(test)]
mod rank_tests {
    use std::collections::BTreeMap;

    #[test]
    fn nearest_rank_of_counts_is_numpys_inverted_cdf() {
        // numpy.percentile([1, 2, 2, 9], [50, 95, 100], method="inverted_cdf") = [2, 9, 9]
        let counts = BTreeMap::from([(1, 1), (2, 2), (9, 1)]);
        let got: Vec<Option<i64>> = [0.5, 0.95, 1.0]
            .iter()
            .map(|q| super::nearest_rank(&counts, *q))
            .collect();
        assert_eq!(got, [Some(2), Some(9), Some(9)]);
        assert_eq!(super::nearest_rank(&BTreeMap::new(), 0.5), None);
    }
}

/// Pearson's correlation of paired samples; `None` when fewer than two
/// pairs, the lengths differ, or either side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then_some(r)
}

#[cfg(test)]
mod pearson_tests {
    #[test]
    fn pearson_matches_numpy() {
        // statistics.correlation([0, 100, 500, 1000], [120, 210, 640, 1090]) (Python 3.11)
        let r =
            super::pearson(&[0.0, 100.0, 500.0, 1000.0], &[120.0, 210.0, 640.0, 1090.0]).unwrap();
        assert!((r - 0.999_136_684_831_416_6).abs() < 1e-12, "{r}");
        assert_eq!(super::pearson(&[1.0, 1.0], &[2.0, 3.0]), None);
        assert_eq!(super::pearson(&[1.0], &[2.0]), None);
    }
}
