//! xoshiro256** seeded through SplitMix64: small, fast, and the same stream
//! on every platform and version, which byte-identical reports rely on.

#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        Rng {
            s: [
                splitmix(&mut state),
                splitmix(&mut state),
                splitmix(&mut state),
                splitmix(&mut state),
            ],
        }
    }

    /// An independent stream for a (seed, stream, chunk) triple.
    pub fn derive(seed: u64, stream: u64, chunk: u64) -> Self {
        let mut state = seed
            ^ stream.wrapping_mul(0xa076_1d64_78bd_642f)
            ^ chunk.wrapping_mul(0xe703_7ed1_a0b4_28db);
        Rng::new(splitmix(&mut state))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (Lemire's multiply-shift with rejection: unbiased).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let mut m = (self.next_u64() as u128) * (n as u128);
        // The rejection threshold is below n: only then is the division worth
        // doing (the bootstrap draws billions of indices).
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Gamma(shape, 1) for shape ≥ 1 (Marsaglia and Tsang, 2000).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        debug_assert!(shape >= 1.0);
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v;
            }
        }
    }

    /// Beta(a, b) for a, b ≥ 1, as the share of one Gamma in the sum of two.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        x / (x + self.gamma(b))
    }
}

/// wyrand (Wang Yi): one multiplication per 64-bit output and no chain of
/// dependent steps, for the bootstrap's index draws, which are most of the
/// report's work (a resample of n requests is n draws). Seeded from a
/// [`Rng`] stream, so it inherits that stream's independence.
#[derive(Debug, Clone)]
pub struct IndexRng(u64);

impl IndexRng {
    pub fn new(seed: &mut Rng) -> Self {
        IndexRng(seed.next_u64())
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// Two independent uniform draws in `0..n` (n < 2³²) from one output.
    #[inline]
    pub fn two_below(&mut self, n: u32) -> (u32, u32) {
        let r = self.next_u64();
        (self.below(r as u32, n), self.below((r >> 32) as u32, n))
    }

    /// Lemire's multiply-shift on a 32-bit draw `x`, with rejection: unbiased.
    #[inline]
    fn below(&mut self, x: u32, n: u32) -> u32 {
        let mut m = u64::from(x) * u64::from(n);
        if (m as u32) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u32) < threshold {
                m = u64::from(self.next_u64() as u32) * u64::from(n);
            }
        }
        (m >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generators_give_the_published_reference_streams_and_streams_differ() {
        // Vigna's reference code: xoshiro256** from the state {1, 2, 3, 4},
        // and SplitMix64 from 1234567.
        let mut x = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| x.next_u64()).collect();
        assert_eq!(got, [11520, 0, 1509978240, 1215971899390074240]);
        let mut state = 1_234_567;
        let got: Vec<u64> = (0..3).map(|_| splitmix(&mut state)).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
        assert_ne!(
            Rng::derive(7, 1, 0).next_u64(),
            Rng::derive(7, 2, 0).next_u64()
        );
        assert_ne!(
            Rng::derive(7, 1, 0).next_u64(),
            Rng::derive(7, 1, 1).next_u64()
        );
    }

    #[test]
    fn below_draws_what_the_plain_rejection_method_draws() {
        let (mut fast, mut plain) = (Rng::new(9), Rng::new(9));
        for n in [1usize, 2, 3, 7, 30, 1000, 9_601, usize::MAX / 3] {
            for _ in 0..1000 {
                let threshold = (n as u64).wrapping_neg() % n as u64;
                let want = loop {
                    let m = (plain.next_u64() as u128) * (n as u128);
                    if (m as u64) >= threshold {
                        break (m >> 64) as usize;
                    }
                };
                assert_eq!(fast.below(n), want);
            }
        }
    }

    #[test]
    fn paired_draws_are_uniform_and_unbiased() {
        let mut r = IndexRng::new(&mut Rng::new(12));
        let mut counts = [0u32; 7];
        for _ in 0..35_000 {
            let (i, j) = r.two_below(7);
            counts[i as usize] += 1;
            counts[j as usize] += 1;
        }
        // Pairs are independent: the second draw does not follow the first.
        let mut same = 0;
        for _ in 0..70_000 {
            let (i, j) = r.two_below(2);
            same += u32::from(i == j);
        }
        assert!((34_000..36_000).contains(&same), "{same}");
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn beta_has_its_mean_and_variance() {
        let mut r = Rng::new(13);
        for (a, b) in [(1.0, 1.0), (3.0, 8.0), (500.0, 501.0)] {
            let xs: Vec<f64> = (0..100_000).map(|_| r.beta(a, b)).collect();
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64;
            let (want_m, want_v) = (a / (a + b), a * b / ((a + b).powi(2) * (a + b + 1.0)));
            assert!(
                (m - want_m).abs() < 4.0 * (want_v / 1e5).sqrt(),
                "{a},{b}: {m}"
            );
            assert!((v / want_v - 1.0).abs() < 0.03, "{a},{b}: {v} vs {want_v}");
        }
    }

    #[test]
    fn below_is_uniform_enough() {
        let mut r = Rng::new(1);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[r.below(7)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
        let m: f64 = (0..100_000).map(|_| r.normal()).sum::<f64>() / 100_000.0;
        assert!(m.abs() < 0.02);
    }
}
