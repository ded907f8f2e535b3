//! Least squares lines and where two of them cross.

/// `y = intercept + slope · x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub intercept: f64,
    pub slope: f64,
}

impl Line {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// A group of y values sharing one x, given by its size and mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupMean {
    pub x: f64,
    pub n: f64,
    pub mean: f64,
}

/// Ordinary least squares over every y of the groups, from the groups' sizes
/// and means (which is all the fit depends on). `None` when fewer than two
/// distinct x carry data.
pub fn fit_groups(groups: &[GroupMean]) -> Option<Line> {
    let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for g in groups.iter().filter(|g| g.n > 0.0) {
        n += g.n;
        sx += g.x * g.n;
        sy += g.mean * g.n;
    }
    if n == 0.0 {
        return None;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for g in groups.iter().filter(|g| g.n > 0.0) {
        let dx = g.x - mx;
        sxx += dx * dx * g.n;
        sxy += dx * (g.mean - my) * g.n;
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some(Line {
        intercept: my - slope * mx,
        slope,
    })
}

/// Where `other` becomes cheaper than `baseline`: the x above which
/// `other(x) < baseline(x)`. `None` when it never does (the baseline does
/// not grow faster).
pub fn break_even(baseline: Line, other: Line) -> Option<f64> {
    let gap = baseline.slope - other.slope;
    if gap <= 0.0 {
        return None;
    }
    Some((other.intercept - baseline.intercept) / gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_known_line() {
        // y = 1 + 2x, each group's values spread around the line: the fit over
        // every value recovers it from the means.
        let groups: Vec<GroupMean> = [(0.0, 2.0), (10.0, 3.0), (20.0, 1.0)]
            .iter()
            .map(|&(x, n)| GroupMean {
                x,
                n,
                mean: 1.0 + 2.0 * x,
            })
            .collect();
        let line = fit_groups(&groups).unwrap();
        assert!((line.slope - 2.0).abs() < 1e-12 && (line.intercept - 1.0).abs() < 1e-12);
        let one_x = GroupMean {
            x: 5.0,
            n: 2.0,
            mean: 1.5,
        };
        assert!(fit_groups(&[one_x]).is_none());
        let empty = GroupMean {
            x: 9.0,
            n: 0.0,
            mean: f64::NAN,
        };
        assert!(fit_groups(&[one_x, empty]).is_none());
    }

    #[test]
    fn the_fit_from_means_equals_least_squares_over_every_value() {
        // numpy.polyfit([0,0,0,10,10,30], [1,2,4,20,23,70], 1)
        let ys = [
            (0.0, vec![1.0, 2.0, 4.0]),
            (10.0, vec![20.0, 23.0]),
            (30.0, vec![70.0]),
        ];
        let groups: Vec<GroupMean> = ys
            .iter()
            .map(|(x, v)| GroupMean {
                x: *x,
                n: v.len() as f64,
                mean: v.iter().sum::<f64>() / v.len() as f64,
            })
            .collect();
        let line = fit_groups(&groups).unwrap();
        assert!(
            (line.slope - 2.239_024_390_243_902).abs() < 1e-9,
            "{line:?}"
        );
        assert!(
            (line.intercept - 1.341_463_414_634_146).abs() < 1e-9,
            "{line:?}"
        );
    }

    #[test]
    fn break_even_of_the_published_run() {
        // Direct: 0.0016 $/M per ms of fetch; proxy: flat ~$2.05 per million.
        let direct = Line {
            intercept: 0.2,
            slope: 0.0016,
        };
        let proxy = Line {
            intercept: 2.05,
            slope: 0.0,
        };
        let x = break_even(direct, proxy).unwrap();
        assert!((x - 1156.25).abs() < 1e-9);
        assert!(proxy.at(x + 1.0) < direct.at(x + 1.0));
        assert_eq!(break_even(proxy, direct), None);
    }
}
