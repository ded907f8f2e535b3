//! Robust location and spread: the median, the median absolute deviation
//! (MAD) and Iglewicz and Hoaglin's modified z-score, which the report uses
//! to flag requests far out in a group's upper tail. One outlier moves
//! neither the median nor the MAD much, so it cannot hide itself the way it
//! inflates a mean and a standard deviation.

use super::univariate::median;

/// 0.6745 is the 0.75 quantile of the standard normal: with it the modified
/// z-score of normal data is on the scale of an ordinary z-score.
pub const MODIFIED_Z: f64 = 0.6745;

/// The median absolute deviation from the median, unscaled; NaN for no values.
pub fn mad(x: &[f64]) -> f64 {
    let m = median(x);
    let deviations: Vec<f64> = x.iter().map(|v| (v - m).abs()).collect();
    median(&deviations)
}

/// The modified z-score of `x` in data of median `median` and MAD `mad`:
/// 0.6745 (x − median) / MAD; `None` when the MAD is 0 or not finite (over
/// half the values equal: no spread to measure a distance with).
pub fn modified_z(x: f64, median: f64, mad: f64) -> Option<f64> {
    (mad.is_finite() && mad > 0.0).then(|| MODIFIED_Z * (x - median) / mad)
}

/// Per value, whether its modified z-score exceeds `k`: the upper tail only
/// (a request faster or cheaper than usual is no cause for suspicion).
/// Nothing is flagged when the MAD is 0, nor a value that is not finite.
pub fn upper_outliers(x: &[f64], k: f64) -> Vec<bool> {
    let finite: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    let (m, d) = (median(&finite), mad(&finite));
    x.iter()
        .map(|&v| modified_z(v, m, d).is_some_and(|z| z > k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mad_of_a_known_sample() {
        // median 3, deviations 2 1 0 1 7 -> median 1
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 10.0]), 1.0);
        assert_eq!(mad(&[5.0]), 0.0);
        assert!(mad(&[]).is_nan());
    }

    #[test]
    fn a_far_value_is_flagged_and_a_low_one_is_not() {
        let x = [10.0, 11.0, 12.0, 13.0, 14.0, 100.0, -80.0];
        let flags = upper_outliers(&x, 3.5);
        assert_eq!(flags, [false, false, false, false, false, true, false]);
        // z of 100: 0.6745 * (100 - 12) / 2 = 29.7
        let z = modified_z(100.0, 12.0, mad(&x)).unwrap();
        assert!((z - 0.6745 * 88.0 / 2.0).abs() < 1e-12, "{z}");
    }

    #[test]
    fn no_spread_flags_nothing() {
        assert_eq!(
            upper_outliers(&[7.0, 7.0, 7.0, 9_999.0], 3.5),
            [false; 4],
            "MAD 0"
        );
        assert_eq!(modified_z(1.0, 0.0, 0.0), None);
        assert_eq!(upper_outliers(&[], 3.5), Vec::<bool>::new());
        assert_eq!(
            upper_outliers(&[f64::NAN, 1.0, 2.0], 0.1),
            [false, false, true]
        );
    }

    proptest! {
        #[test]
        fn shifting_and_scaling_move_median_and_mad_alike(
            x in proptest::collection::vec(-1e6f64..1e6, 1..60),
            shift in -1e3f64..1e3,
            scale in 0.01f64..100.0,
        ) {
            let y: Vec<f64> = x.iter().map(|v| v * scale + shift).collect();
            let tol = 1e-6 * (1.0 + median(&x).abs() * scale + shift.abs() + mad(&x) * scale);
            prop_assert!((median(&y) - (median(&x) * scale + shift)).abs() <= tol);
            prop_assert!((mad(&y) - mad(&x) * scale).abs() <= tol);
            prop_assert_eq!(upper_outliers(&x, 3.5), upper_outliers(&y, 3.5));
        }

        #[test]
        fn at_most_half_the_values_are_flagged_and_never_one_below_the_median(
            x in proptest::collection::vec(-1e6f64..1e6, 0..60),
            k in 0.0f64..10.0,
        ) {
            let flags = upper_outliers(&x, k);
            let m = median(&x);
            prop_assert!(flags.iter().filter(|f| **f).count() * 2 <= x.len());
            for (v, f) in x.iter().zip(&flags) {
                prop_assert!(!*f || *v > m);
            }
        }

        #[test]
        fn a_value_far_enough_above_is_always_flagged(
            x in proptest::collection::vec(-1e3f64..1e3, 3..60),
        ) {
            let (low, high) = x.iter().fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
            let range = high - low;
            prop_assume!(range > 1e-9);
            let mut y = x.clone();
            // With the far value added, the median stays within x and at most
            // one deviation exceeds x's range, so the MAD is at most the range:
            // the far value's z-score is at least 0.6745 * 10.
            y.push(high + 10.0 * range);
            prop_assume!(mad(&y) > 0.0);
            prop_assert!(*upper_outliers(&y, 3.5).last().unwrap());
        }
    }
}
