//! Randomness: one policy for the statistics and the simulator.
//!
//! - **Generator**: xoshiro256** (Blackman and Vigna) seeded through
//!   SplitMix64, as its authors recommend; [`IndexRng`] (wyrand) only for the
//!   bootstrap's index draws, seeded from a xoshiro stream. Both are written
//!   here (`rand`'s `StdRng` and `rand_distr` promise no stable stream across
//!   versions); the tests check xoshiro256** and SplitMix64 against their
//!   authors' reference streams.
//! - **Streams**: every use draws from its own stream, [`Rng::derive`]`(seed,
//!   stream, chunk)`: `stream` is the [`stream_id`] of the use's name (so
//!   adding a use moves no other use's numbers) and `chunk` numbers the
//!   fixed-size pieces of work drawn in parallel (so the number of threads
//!   changes nothing). [`Rng::named`] is chunk 0.
//! - **Distributions** are methods of [`Rng`], each a pure function of the
//!   stream, computed with `libm`'s elementary functions: std's `ln`, `exp`
//!   and `cos` are the platform's and may differ in the last bit.
//! - **Promise**: the same seed gives the same numbers, and so the same
//!   bytes, on every platform and forever. A change that moves any stream
//!   breaks it: the tests pin each distribution's first values, and the
//!   committed sample (`data/sample`) must then be regenerated and the change
//!   noted.

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

/// A stable stream id for a named use (the names joined), so that adding a
/// use does not change the random numbers of another. XXH3 is a frozen
/// algorithm: the id never changes.
pub fn stream_id(parts: &[&str]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(parts.join("\u{1f}").as_bytes())
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

    /// The stream of the use named `parts` (chunk 0).
    pub fn named(seed: u64, parts: &[&str]) -> Self {
        Rng::derive(seed, stream_id(parts), 0)
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

    /// The upper half of one output (xoshiro256**'s bits are all good).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..n` (Lemire's multiply-shift with rejection: unbiased).
    pub fn below(&mut self, n: usize) -> usize {
        self.below_u64(n as u64) as usize
    }

    #[inline]
    fn below_u64(&mut self, n: u64) -> u64 {
        let mut m = (self.next_u64() as u128) * (n as u128);
        // The rejection threshold is below n: only then is the division worth
        // doing (the bootstrap draws billions of indices).
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in `range` (not empty), as [`Rng::below`] its length.
    pub fn range(&mut self, range: std::ops::Range<i64>) -> i64 {
        assert!(range.start < range.end, "empty range {range:?}");
        let span = range.end.wrapping_sub(range.start) as u64;
        range.start.wrapping_add(self.below_u64(span) as i64)
    }

    /// Uniform in `[0, 1)`: the top 53 bits of one output, as Vigna advises.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p` (one [`Rng::uniform`] below `p`).
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal (Box-Muller, the cosine branch only: one normal per two uniforms).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * libm::log(u1)).sqrt() * libm::cos(std::f64::consts::TAU * u2)
    }

    /// Log-normal: `exp(mu + sigma · Z)`, Z standard normal; its median is `exp(mu)`.
    pub fn lognormal(&mut self, mu: f64, sigma: f64) -> f64 {
        libm::exp(mu + sigma * self.normal())
    }

    /// Exponential with the given mean, by inversion: `-mean · ln(1 - U)`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(1.0 - self.uniform())
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
            let x2 = x * x;
            if u < 1.0 - 0.0331 * x2 * x2 || libm::log(u) < 0.5 * x2 + d * (1.0 - v + libm::log(v))
            {
                return d * v;
            }
        }
    }

    /// Beta(a, b) for a, b ≥ 1, as the share of one Gamma in the sum of two.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        x / (x + self.gamma(b))
    }

    /// Binomial(n, p): how many of n uniforms fall below p, halving them
    /// (Devroye 1986, X.4): the i-th smallest of n uniforms is
    /// Beta(i, n + 1 − i); those above it are uniform over (it, 1), those
    /// below over (0, it), so each Beta draw leaves half as many to count.
    /// Exact in distribution; O(log n) draws. A `p` below 0 or NaN counts as
    /// 0, one above 1 as 1.
    pub fn binomial(&mut self, mut n: u64, mut p: f64) -> u64 {
        /// Below this many uniforms, counting them costs less than a Beta draw.
        const DIRECT: u64 = 16;
        let mut below = 0;
        loop {
            if n == 0 || p <= 0.0 || p.is_nan() {
                return below;
            }
            if p >= 1.0 {
                return below + n;
            }
            if n <= DIRECT {
                return below + (0..n).filter(|_| self.uniform() < p).count() as u64;
            }
            let i = n.div_ceil(2);
            let y = self.beta(i as f64, (n - i + 1) as f64);
            if y < p {
                below += i;
                (n, p) = (n - i, (p - y) / (1.0 - y));
            } else {
                (n, p) = (i - 1, p / y);
            }
        }
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
    fn the_generators_give_the_published_reference_streams() {
        // Vigna's reference code: xoshiro256** from the state {1, 2, 3, 4},
        // and SplitMix64 from 1234567, which seeds xoshiro's state.
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
        assert_eq!(Rng::new(1_234_567).s[..3], got);
    }

    /// The promise: these values never change. A change here moves every
    /// stream, the bootstrap's and the simulator's (regenerate `data/sample`).
    #[test]
    fn every_stream_and_distribution_gives_its_pinned_values() {
        let mut r = Rng::named(7, &["pinned"]);
        assert_eq!(stream_id(&["pinned"]), 9533026164162203418);
        assert_eq!(
            [(1, 0), (1, 1), (2, 0)]
                .map(|(stream, chunk)| Rng::derive(7, stream, chunk).next_u64()),
            [
                2738741184190588931,
                16428576421648735627,
                7171375228955713082
            ]
        );
        assert_eq!(r.next_u64(), 14406785790614768629);
        assert_eq!(r.next_u32(), 3422902927);
        assert_eq!(r.below(1000), 529);
        assert_eq!(r.range(-50..50), -12);
        assert_eq!(r.uniform(), 0.29202759396378686);
        let coins: Vec<bool> = (0..8).map(|_| r.chance(0.5)).collect();
        assert_eq!(coins, [false, false, false, true, true, false, true, true]);
        assert_eq!(r.normal(), 0.28105956345139027);
        assert_eq!(r.lognormal(libm::log(12.0), 0.3), 9.304549533248615);
        assert_eq!(r.exponential(10.0), 0.0951176324100045);
        assert_eq!(r.gamma(2.5), 1.0537844646353778);
        assert_eq!(r.beta(3.0, 8.0), 0.18228684979336782);
        assert_eq!(r.binomial(1_000_000, 0.3), 299_891);
        let mut index = IndexRng::new(&mut Rng::new(12));
        assert_eq!(index.next_u64(), 14250965668187898198);
        assert_eq!(index.two_below(7), (1, 4));
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

    /// Binomial(n, p)'s probabilities by the recurrence of its terms.
    fn binomial_pmf(n: u64, p: f64) -> Vec<f64> {
        let mut pmf = vec![(1.0 - p).powi(n as i32)];
        for k in 1..=n {
            let prev = pmf[k as usize - 1];
            pmf.push(prev * (n - k + 1) as f64 / k as f64 * p / (1.0 - p));
        }
        pmf
    }

    #[test]
    fn binomial_has_its_probabilities() {
        let mut r = Rng::new(14);
        // Below and above the direct count, one halving and several.
        for (n, p) in [(3u64, 0.4), (17, 0.5), (40, 0.3), (40, 0.97), (90, 0.05)] {
            let draws = 200_000;
            let mut seen = vec![0u32; n as usize + 1];
            for _ in 0..draws {
                seen[r.binomial(n, p) as usize] += 1;
            }
            for (k, want) in binomial_pmf(n, p).iter().enumerate() {
                let got = f64::from(seen[k]) / draws as f64;
                // Five standard errors of a frequency from 200,000 draws.
                let se = (want.max(1e-6) * (1.0 - want) / draws as f64).sqrt();
                assert!(
                    (got - want).abs() < 5.0 * se + 1e-5,
                    "n={n} p={p} k={k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn binomial_has_its_mean_and_variance_and_its_ends() {
        let mut r = Rng::new(15);
        for (n, p) in [(150_000u64, 1.0 / 37.0), (1 << 32, 0.5), (5_000, 0.999)] {
            let (m, v) = moments(20_000, || r.binomial(n, p) as f64);
            let (want_m, want_v) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!(
                (m - want_m).abs() < 5.0 * (want_v / 2e4).sqrt(),
                "{n},{p}: {m}"
            );
            assert!((v / want_v - 1.0).abs() < 0.06, "{n},{p}: {v} vs {want_v}");
        }
        for (n, p, want) in [
            (0, 0.5, 0),
            (9, 0.0, 0),
            (9, 1.0, 9),
            (9, -1.0, 0),
            (9, 2.0, 9),
        ] {
            assert_eq!(r.binomial(n, p), want, "{n},{p}");
        }
        assert_eq!(r.binomial(9, f64::NAN), 0);
        assert!(r.binomial(u64::MAX, 0.5) > 0);
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

    /// Mean and variance of `n` draws.
    fn moments(n: usize, mut draw: impl FnMut() -> f64) -> (f64, f64) {
        let xs: Vec<f64> = (0..n).map(|_| draw()).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        (
            m,
            xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64,
        )
    }

    #[test]
    fn normal_lognormal_and_exponential_have_their_moments() {
        let n = 200_000;
        let mut r = Rng::new(14);
        let (m, v) = moments(n, || r.normal());
        assert!(m.abs() < 5.0 / (n as f64).sqrt(), "{m}");
        assert!((v - 1.0).abs() < 0.015, "{v}");
        for (mu, sigma) in [(12f64.ln(), 0.3), (80f64.ln(), 0.5), (0.0, 1.0)] {
            let (want_m, want_v) = (
                (mu + sigma * sigma / 2.0).exp(),
                ((sigma * sigma).exp() - 1.0) * (2.0 * mu + sigma * sigma).exp(),
            );
            let (m, v) = moments(n, || r.lognormal(mu, sigma));
            assert!(
                (m - want_m).abs() < 5.0 * (want_v / n as f64).sqrt(),
                "{mu},{sigma}: {m}"
            );
            assert!(
                (v / want_v - 1.0).abs() < 0.1,
                "{mu},{sigma}: {v} vs {want_v}"
            );
            // exp(mu) is the median.
            let below = (0..n).filter(|_| r.lognormal(mu, sigma) < mu.exp()).count();
            assert!((below as f64 / n as f64 - 0.5).abs() < 0.006, "{below}");
        }
        for mean in [1.0, 10_000.0] {
            let (m, v) = moments(n, || r.exponential(mean));
            assert!((m / mean - 1.0).abs() < 0.012, "{mean}: {m}");
            assert!((v / (mean * mean) - 1.0).abs() < 0.03, "{mean}: {v}");
            // Memoryless: P(X > mean) = 1/e.
            let above = (0..n).filter(|_| r.exponential(mean) > mean).count();
            let want = (-1.0f64).exp();
            assert!((above as f64 / n as f64 - want).abs() < 0.006, "{above}");
        }
    }

    #[test]
    fn range_and_chance_are_uniform_and_stay_in_bounds() {
        let mut r = Rng::new(15);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            let x = r.range(-3..4);
            assert!((-3..4).contains(&x), "{x}");
            counts[(x + 3) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(r.range(5..6), 5);
        for _ in 0..1000 {
            let x = r.range(i64::MIN..i64::MAX);
            assert!(x < i64::MAX);
        }
        let mut above = 0;
        for _ in 0..10_000 {
            above += u32::from(r.range(60_000..300_000) >= 180_000);
        }
        assert!((4_800..5_200).contains(&above), "{above}");
        for p in [0.0, 0.01, 0.3, 1.0] {
            let hits = (0..100_000).filter(|_| r.chance(p)).count() as f64 / 1e5;
            assert!(
                (hits - p).abs() <= 5.0 * (p * (1.0 - p) / 1e5).sqrt(),
                "{p}: {hits}"
            );
        }
        let high_bits = (0..64_000).filter(|_| r.next_u32() >= 1 << 31).count();
        assert!((31_500..32_500).contains(&high_bits), "{high_bits}");
    }
}
