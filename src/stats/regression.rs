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

/// Ordinary least squares over groups of y values sharing one x each.
/// `None` when fewer than two distinct x carry data.
pub fn fit_groups(groups: &[(f64, &[f64])]) -> Option<Line> {
    let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for (x, ys) in groups {
        n += ys.len() as f64;
        sx += x * ys.len() as f64;
        sy += ys.iter().sum::<f64>();
    }
    if n == 0.0 {
        return None;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, ys) in groups {
        let dx = x - mx;
        sxx += dx * dx * ys.len() as f64;
        sxy += dx * ys.iter().map(|y| y - my).sum::<f64>();
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
        let ys: Vec<Vec<f64>> = [0.0, 10.0, 20.0]
            .iter()
            .map(|x| vec![1.0 + 2.0 * x - 1.0, 1.0 + 2.0 * x + 1.0])
            .collect();
        let groups: Vec<(f64, &[f64])> = [0.0, 10.0, 20.0]
            .iter()
            .zip(&ys)
            .map(|(x, y)| (*x, y.as_slice()))
            .collect();
        let line = fit_groups(&groups).unwrap();
        assert!((line.slope - 2.0).abs() < 1e-12 && (line.intercept - 1.0).abs() < 1e-12);
        assert!(fit_groups(&[(5.0, &[1.0, 2.0])]).is_none());
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
