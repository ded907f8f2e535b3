//! The bootstrap of statistics built from the means and medians of
//! independent groups (the report's requests, one group per approach and
//! delay).
//!
//! Each group is resampled once: replicate `b` holds the mean of every column
//! over the same resample of rows (so a statistic that combines two columns
//! of one group, like H1's wall clock and CPU, keeps their correlation), and
//! the median of each column drawn straight from its bootstrap distribution:
//! the k-th smallest of n uniform draws is Beta(k, n + 1 − k) distributed, so
//! a median costs O(1) per replicate instead of O(n). Every interval of the
//! report is then read off these replicates, and the cost is one pass of
//! `n × resamples` draws per group instead of one per statistic.
//!
//! The jackknife that BCa needs leaves out one of at most
//! [`JACKKNIFE_GROUPS`] blocks of rows at a time, as [`super::bootstrap`] does.

use rayon::prelude::*;

use super::bootstrap::{intervals, Config, Estimate, Method, JACKKNIFE_GROUPS};
use super::rng::{IndexRng, Rng};
use super::univariate::median_in_place;

/// Replicates drawn from one random stream; fixed, so that the result does
/// not depend on the number of threads.
const CHUNK: usize = 250;

/// Columns whose means one pass of index draws accumulates: a row of 8 on a
/// cache line of its own, so a draw loads one line; from 9 to 16 columns
/// (the report's 9 metrics), a row of 16 on two lines, one pass instead of
/// two. Wider tables are cut into batches that replay the same draws.
const LANES: usize = 8;
const WIDE: usize = 16;

/// One row of up to `L` columns, aligned on a cache line.
#[repr(align(64))]
struct Row<const L: usize>([f64; L]);

/// Row indices drawn ahead of their loads (a multiple of 2, small enough for the stack).
const DRAWS: usize = 64;

/// Independent running sums per resample: an addition waits for the previous
/// one on its accumulator only.
const ACCUMULATORS: usize = 4;

/// A statistic of every column: on the data, on each replicate, and without
/// each jackknife block.
#[derive(Debug, Clone)]
struct Values {
    observed: Vec<f64>,
    /// `[replicate * columns + column]`
    replicates: Vec<f64>,
    /// `[block * columns + column]`
    left_out: Vec<f64>,
}

/// One group's columns (same rows) resampled `cfg.resamples` times.
#[derive(Debug, Clone)]
pub struct Resampled {
    n: usize,
    columns: usize,
    mean: Values,
    median: Values,
    blocks: usize,
}

impl Resampled {
    /// `columns` must all have the same, non-zero length.
    pub fn new(columns: &[&[f64]], cfg: &Config, stream: u64) -> Self {
        let n = columns.first().map_or(0, |c| c.len());
        assert!(n > 0, "a resampled group needs at least one row");
        assert!(
            u32::try_from(n).is_ok(),
            "row indices are drawn as 32-bit numbers"
        );
        assert!(
            columns.iter().all(|c| c.len() == n),
            "columns of one group must have the same rows"
        );
        let width = columns.len();
        let mean: Vec<f64> = columns
            .iter()
            .map(|c| c.iter().sum::<f64>() / n as f64)
            .collect();
        let median: Vec<f64> = columns
            .iter()
            .map(|c| median_in_place(&mut c.to_vec()))
            .collect();

        let (rep_mean, rep_median, (blocks, jack_mean, jack_median)) = if cfg.point_estimates() {
            (Vec::new(), Vec::new(), (0, Vec::new(), Vec::new()))
        } else {
            let sorted: Vec<Vec<f64>> = columns
                .iter()
                .map(|c| {
                    let mut s = c.to_vec();
                    s.sort_by(f64::total_cmp);
                    s
                })
                .collect();
            let jack = match cfg.method {
                Method::Bca => jackknife(columns, &sorted),
                Method::Percentile => (0, Vec::new(), Vec::new()),
            };
            let rep_median = replicate_medians(&sorted, cfg, stream);
            // So that the peak holds the sorted copies or the rows, never both.
            drop(sorted);
            (replicate_means(columns, cfg, stream), rep_median, jack)
        };
        Resampled {
            n,
            columns: width,
            mean: Values {
                observed: mean,
                replicates: rep_mean,
                left_out: jack_mean,
            },
            median: Values {
                observed: median,
                replicates: rep_median,
                left_out: jack_median,
            },
            blocks,
        }
    }

    pub fn n(&self) -> usize {
        self.n
    }

    fn resamples(&self) -> usize {
        self.mean.replicates.len() / self.columns
    }
}

/// `[replicate * columns + column]`: the mean of every column over each
/// resample of rows, [`LANES`] or [`WIDE`] columns per pass over the same draws.
fn replicate_means(columns: &[&[f64]], cfg: &Config, stream: u64) -> Vec<f64> {
    let width = columns.len();
    let mut rep_mean = vec![0.0; cfg.resamples * width];
    let mut first = 0;
    while first < width {
        let left = width - first;
        first += match left {
            ..=LANES => pass::<LANES>(columns, first, &mut rep_mean, cfg, stream),
            _ => pass::<WIDE>(columns, first, &mut rep_mean, cfg, stream),
        };
    }
    rep_mean
}

/// The means of up to `L` columns from `first` on, into `rep_mean`; returns
/// how many columns it took.
fn pass<const L: usize>(
    columns: &[&[f64]],
    first: usize,
    rep_mean: &mut [f64],
    cfg: &Config,
    stream: u64,
) -> usize {
    let (n, width) = (columns[0].len(), columns.len());
    let lanes = L.min(width - first);
    let rows: Vec<Row<L>> = (0..n)
        .map(|i| {
            Row(std::array::from_fn(|k| {
                if k < lanes {
                    columns[first + k][i]
                } else {
                    0.0
                }
            }))
        })
        .collect();
    let sums = replicate_sums(&rows, cfg.resamples, cfg.seed, stream);
    for (b, s) in sums.iter().enumerate() {
        for k in 0..lanes {
            rep_mean[b * width + first + k] = s[k] / n as f64;
        }
    }
    lanes
}

/// `[replicate * columns + column]`: the median of every sorted column,
/// at the positions the replicate's median draw picks.
fn replicate_medians(sorted: &[Vec<f64>], cfg: &Config, stream: u64) -> Vec<f64> {
    let width = sorted.len();
    let draws = median_positions(sorted[0].len(), cfg.resamples, cfg.seed, stream);
    let mut rep_median = vec![0.0; cfg.resamples * width];
    for (b, (lo, hi)) in draws.iter().enumerate() {
        for (c, s) in sorted.iter().enumerate() {
            rep_median[b * width + c] = (s[*lo] + s[*hi]) / 2.0;
        }
    }
    rep_median
}

/// Rows taking more than this outgrow a core's cache: each random row load
/// would wait on memory, so they are summed by [`blocked_sums`] instead.
const LARGE: usize = 4 << 20;

/// A block of rows that stays in a core's cache while a batch of resamples
/// adds up its draws (a power of two rows, at most 2¹⁶, for `u16` offsets).
const BLOCK_BYTES: usize = 512 << 10;

/// Resamples drawn before their rows are loaded by [`blocked_sums`]: each
/// block of rows is loaded once per batch. Their draws take 2 bytes each in
/// every busy thread, so a batch is cut to [`BUCKET_BYTES`] a thread.
const MAX_BATCH: usize = 32;
const BUCKET_BYTES: usize = 16 << 20;

const _: () = assert!(DRAWS.is_multiple_of(ACCUMULATORS));

/// Per replicate, the column sums of one resample of rows (n draws with
/// replacement). Rows are contiguous so one draw touches one cache line.
fn replicate_sums<const L: usize>(
    rows: &[Row<L>],
    resamples: usize,
    seed: u64,
    stream: u64,
) -> Vec<[f64; L]> {
    let chunks = resamples.div_ceil(CHUNK);
    let large = std::mem::size_of_val(rows) > LARGE;
    let per_chunk: Vec<Vec<[f64; L]>> = (0..chunks)
        .into_par_iter()
        .map_init(Vec::new, |buckets, c| {
            let mut rng = IndexRng::new(&mut Rng::derive(seed, stream, c as u64));
            let count = CHUNK.min(resamples - c * CHUNK);
            if large {
                blocked_sums(rows, &mut rng, count, buckets)
            } else {
                (0..count).map(|_| resample_sums(rows, &mut rng)).collect()
            }
        })
        .collect();
    per_chunk.into_iter().flatten().collect()
}

/// The next `m` row indices of a resample, drawn in pairs (an odd `m` draws
/// one too many): the one order of draws of both kernels.
#[inline(always)]
fn draw(rng: &mut IndexRng, n: u32, batch: &mut [u32; DRAWS], m: usize) {
    for pair in batch[..m.next_multiple_of(2)].chunks_exact_mut(2) {
        (pair[0], pair[1]) = rng.two_below(n);
    }
}

/// One resample's column sums, with the vector instructions the CPU has.
/// Each lane adds the same values in the same order whatever the width, so
/// every CPU gives the same bits.
fn resample_sums<const L: usize>(rows: &[Row<L>], rng: &mut IndexRng) -> [f64; L] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { resample_sums_avx2(rows, rng) };
    }
    sums_kernel(rows, rng)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resample_sums_avx2<const L: usize>(rows: &[Row<L>], rng: &mut IndexRng) -> [f64; L] {
    sums_kernel(rows, rng)
}

#[inline(always)]
fn sums_kernel<const L: usize>(rows: &[Row<L>], rng: &mut IndexRng) -> [f64; L] {
    let n = rows.len();
    let mut batch = [0u32; DRAWS];
    // Indices are drawn a batch ahead so that the row loads of a batch
    // overlap.
    let mut acc = [[0.0; L]; ACCUMULATORS];
    let mut left = n;
    while left > 0 {
        let m = left.min(DRAWS);
        draw(rng, n as u32, &mut batch, m);
        add_rows(&mut acc, rows, &batch[..m]);
        left -= m;
    }
    total(&acc)
}

/// Adds the rows at `picked` to the accumulators, draw `i` to accumulator
/// `i % ACCUMULATORS` (a batch of [`DRAWS`] starts again at the first).
#[inline(always)]
fn add_rows<const L: usize, I: Offset>(
    acc: &mut [[f64; L]; ACCUMULATORS],
    rows: &[Row<L>],
    picked: &[I],
) {
    let mut groups = picked.chunks_exact(ACCUMULATORS);
    for group in &mut groups {
        for (a, i) in acc.iter_mut().zip(group) {
            let r = &rows[i.at()].0;
            for k in 0..L {
                a[k] += r[k];
            }
        }
    }
    for (a, i) in acc.iter_mut().zip(groups.remainder()) {
        let r = &rows[i.at()].0;
        for k in 0..L {
            a[k] += r[k];
        }
    }
}

/// A row's position in a slice of rows: `u32` over a group, `u16` inside a block.
trait Offset: Copy {
    fn at(self) -> usize;
}

impl Offset for u32 {
    #[inline(always)]
    fn at(self) -> usize {
        self as usize
    }
}

impl Offset for u16 {
    #[inline(always)]
    fn at(self) -> usize {
        usize::from(self)
    }
}

#[inline(always)]
fn total<const L: usize>(acc: &[[f64; L]; ACCUMULATORS]) -> [f64; L] {
    std::array::from_fn(|k| acc.iter().map(|a| a[k]).sum())
}

/// `count` resamples' column sums from the same draws as [`resample_sums`]
/// would make, for rows too large for a core's cache: a batch of up to
/// [`MAX_BATCH`] resamples is drawn first, each index into the bucket of its block of rows
/// ([`BLOCK_BYTES`]); then each block is loaded into the cache once and every
/// resample of the batch adds its draws from it. Only the order of the
/// additions differs (block by block), so the bits may differ in the last
/// places.
fn blocked_sums<const L: usize>(
    rows: &[Row<L>],
    rng: &mut IndexRng,
    count: usize,
    buckets: &mut Vec<Vec<u16>>,
) -> Vec<[f64; L]> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { blocked_sums_avx2(rows, rng, count, buckets) };
    }
    blocked_kernel(rows, rng, count, buckets)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn blocked_sums_avx2<const L: usize>(
    rows: &[Row<L>],
    rng: &mut IndexRng,
    count: usize,
    buckets: &mut Vec<Vec<u16>>,
) -> Vec<[f64; L]> {
    blocked_kernel(rows, rng, count, buckets)
}

#[inline(always)]
fn blocked_kernel<const L: usize>(
    rows: &[Row<L>],
    rng: &mut IndexRng,
    count: usize,
    buckets: &mut Vec<Vec<u16>>,
) -> Vec<[f64; L]> {
    let block_rows = BLOCK_BYTES / std::mem::size_of::<Row<L>>();
    const {
        let rows = BLOCK_BYTES / std::mem::size_of::<Row<L>>();
        assert!(rows.is_power_of_two() && rows <= 1 << 16);
    };
    let (n, shift) = (rows.len(), block_rows.trailing_zeros());
    let blocks = n.div_ceil(block_rows);
    let batch_size = (BUCKET_BYTES / (2 * n)).clamp(1, MAX_BATCH);
    // Kept from chunk to chunk of the same rows (`map_init`), each sized for
    // a batch's draws in its block and a few standard deviations more.
    buckets.resize_with(blocks, Vec::new);
    for (b, bucket) in buckets.iter_mut().enumerate() {
        bucket.clear();
        let expected = batch_size * (n - b * block_rows).min(block_rows);
        bucket.reserve(expected + 4 * expected.isqrt() + DRAWS);
    }
    let mut sums = Vec::with_capacity(count);
    let mut batch = [0u32; DRAWS];
    for first in (0..count).step_by(batch_size) {
        let size = batch_size.min(count - first);
        buckets.iter_mut().for_each(Vec::clear);
        // `ends[r * blocks + b]`: where resample r's draws in block b end.
        let mut ends = Vec::with_capacity(size * blocks);
        for _ in 0..size {
            let mut left = n;
            while left > 0 {
                let m = left.min(DRAWS);
                draw(rng, n as u32, &mut batch, m);
                for &i in &batch[..m] {
                    // The remainder is below `block_rows`, at most 2¹⁶.
                    buckets[(i >> shift) as usize].push((i & (block_rows as u32 - 1)) as u16);
                }
                left -= m;
            }
            ends.extend(buckets.iter().map(Vec::len));
        }
        let mut acc = vec![[0.0; L]; size];
        for (b, bucket) in buckets.iter().enumerate() {
            let block = &rows[b * block_rows..((b + 1) * block_rows).min(n)];
            let mut from = 0;
            for (r, sum) in acc.iter_mut().enumerate() {
                let to = ends[r * blocks + b];
                let mut part = [[0.0; L]; ACCUMULATORS];
                add_rows(&mut part, block, &bucket[from..to]);
                let part = total(&part);
                for k in 0..L {
                    sum[k] += part[k];
                }
                from = to;
            }
        }
        sums.extend(acc);
    }
    sums
}

/// Per replicate, the two sorted positions whose average is the median of a
/// resample of n values (the same position twice when n is odd), drawn from
/// the order statistics of n uniforms: the k-th smallest is Beta(k, n + 1 − k),
/// and the next one lies above it by (1 − U₍ₖ₎)·Beta(1, n − k).
fn median_positions(n: usize, resamples: usize, seed: u64, stream: u64) -> Vec<(usize, usize)> {
    let k = n.div_ceil(2).max(1);
    let even = n.is_multiple_of(2);
    let position = |u: f64| ((u * n as f64) as usize).min(n - 1);
    let mut rng = Rng::derive(seed, stream ^ 0x6d65_6469_616e, 0);
    (0..resamples)
        .map(|_| {
            let u = rng.beta(k as f64, (n + 1 - k) as f64);
            let lo = position(u);
            if even {
                let next = u + (1.0 - u) * (1.0 - libm::pow(rng.uniform(), 1.0 / (n - k) as f64));
                (lo, position(next))
            } else {
                (lo, lo)
            }
        })
        .collect()
}

/// Leave-block-out means and medians of every column.
fn jackknife(columns: &[&[f64]], sorted: &[Vec<f64>]) -> (usize, Vec<f64>, Vec<f64>) {
    let n = columns[0].len();
    let width = columns.len();
    let blocks = n.min(JACKKNIFE_GROUPS);
    let mut jack_mean = vec![0.0; blocks * width];
    let mut jack_median = vec![0.0; blocks * width];
    for (c, column) in columns.iter().enumerate() {
        let total: f64 = column.iter().sum();
        // Sorted position of each row (ties broken by row, as a stable sort does).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| column[*a].total_cmp(&column[*b]));
        let mut position = vec![0usize; n];
        for (p, row) in order.iter().enumerate() {
            position[*row] = p;
        }
        let mut left_out: Vec<usize> = Vec::new();
        for j in 0..blocks {
            let (start, end) = (j * n / blocks, (j + 1) * n / blocks);
            let removed: f64 = column[start..end].iter().sum();
            let rest = n - (end - start);
            jack_mean[j * width + c] = if rest == 0 {
                f64::NAN
            } else {
                (total - removed) / rest as f64
            };
            left_out.clear();
            left_out.extend(position[start..end].iter().copied());
            left_out.sort_unstable();
            let at = |rank: usize| {
                // The rank-th smallest value that was not left out.
                let mut p = rank;
                for q in &left_out {
                    if *q <= p {
                        p += 1;
                    } else {
                        break;
                    }
                }
                sorted[c][p]
            };
            jack_median[j * width + c] = if rest == 0 {
                f64::NAN
            } else {
                (at((rest - 1) / 2) + at(rest / 2)) / 2.0
            };
        }
    }
    (blocks, jack_mean, jack_median)
}

#[derive(Debug, Clone, Copy)]
enum At {
    Observed,
    Replicate(usize),
    /// Group `.0` without its block `.1`, every other group whole.
    LeftOut(usize, usize),
}

/// The means and medians of some groups as seen by one replicate (or by the
/// data itself, or by one jackknife value).
pub struct View<'a> {
    groups: &'a [&'a Resampled],
    at: At,
}

impl<'a> View<'a> {
    /// The statistic as computed on the data.
    pub fn observed(groups: &'a [&'a Resampled]) -> Self {
        View {
            groups,
            at: At::Observed,
        }
    }

    pub fn mean(&self, group: usize, column: usize) -> f64 {
        self.pick(group, column, |g| &g.mean)
    }

    pub fn median(&self, group: usize, column: usize) -> f64 {
        self.pick(group, column, |g| &g.median)
    }

    fn pick(&self, group: usize, column: usize, values: fn(&Resampled) -> &Values) -> f64 {
        let g = self.groups[group];
        let v = values(g);
        match self.at {
            At::Observed => v.observed[column],
            At::Replicate(b) => v.replicates[b * g.columns + column],
            At::LeftOut(i, j) if i == group => v.left_out[j * g.columns + column],
            At::LeftOut(..) => v.observed[column],
        }
    }
}

/// The statistic on every replicate, in replicate order.
pub fn replicates<const K: usize, F>(groups: &[&Resampled], stat: F) -> Vec<[f64; K]>
where
    F: Fn(&View) -> [f64; K],
{
    let resamples = groups.iter().map(|g| g.resamples()).min().unwrap_or(0);
    (0..resamples)
        .map(|b| {
            stat(&View {
                groups,
                at: At::Replicate(b),
            })
        })
        .collect()
}

/// Each component of a statistic of the groups' means and medians with its
/// bootstrap interval (the groups resampled independently, as scipy does
/// with several samples).
pub fn estimate<const K: usize, F>(cfg: &Config, groups: &[&Resampled], stat: F) -> [Estimate; K]
where
    F: Fn(&View) -> [f64; K],
{
    let observed = stat(&View {
        groups,
        at: At::Observed,
    });
    let reps = replicates(groups, &stat);
    let jack: Option<Vec<Vec<[f64; K]>>> = match cfg.method {
        Method::Bca => Some(
            groups
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    (0..g.blocks)
                        .map(|j| {
                            stat(&View {
                                groups,
                                at: At::LeftOut(i, j),
                            })
                        })
                        .collect()
                })
                .collect(),
        ),
        Method::Percentile => None,
    };
    intervals(cfg, observed, &reps, jack.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::bootstrap;
    use crate::stats::univariate::{mean, sorted};

    fn cfg(resamples: usize) -> Config {
        Config {
            resamples,
            ..Config::default()
        }
    }

    #[test]
    fn medians_have_the_distribution_of_medians_of_real_resamples() {
        // The exact bootstrap distribution of the median position, against
        // frequencies from drawing the resamples one value at a time.
        let mut r = Rng::new(21);
        for n in [1usize, 2, 5, 8] {
            let draws = 200_000;
            let mut fast = std::collections::BTreeMap::new();
            for (lo, hi) in median_positions(n, draws, 3, 4) {
                *fast.entry((lo, hi)).or_insert(0u32) += 1;
            }
            let mut slow = std::collections::BTreeMap::new();
            let mut buf = vec![0usize; n];
            for _ in 0..draws {
                for v in buf.iter_mut() {
                    *v = r.below(n);
                }
                buf.sort_unstable();
                *slow.entry((buf[(n - 1) / 2], buf[n / 2])).or_insert(0u32) += 1;
            }
            for key in fast.keys().chain(slow.keys()) {
                let (f, s) = (
                    *fast.get(key).unwrap_or(&0) as f64 / draws as f64,
                    *slow.get(key).unwrap_or(&0) as f64 / draws as f64,
                );
                // Five standard errors of a frequency estimated from 200,000 draws.
                let se = (s.max(f).max(1e-6) * (1.0 - s.min(f)) / draws as f64).sqrt();
                assert!((f - s).abs() < 5.0 * se + 1e-5, "n={n} {key:?}: {f} vs {s}");
            }
        }
    }

    /// One resample's column sums as the contract of [`resample_sums`]
    /// states it, one draw at a time: indices drawn in pairs, a batch of
    /// [`DRAWS`] at a time (an odd batch draws one index too many), draw `i`
    /// added to accumulator `i % ACCUMULATORS`, the accumulators summed last.
    fn plain_sums<const L: usize>(rows: &[Row<L>], rng: &mut IndexRng) -> [f64; L] {
        let n = rows.len();
        let mut drawn = Vec::new();
        let mut left = n;
        while left > 0 {
            let batch = left.min(DRAWS);
            let mut pairs = Vec::new();
            for _ in 0..batch.div_ceil(2) {
                let (i, j) = rng.two_below(n as u32);
                pairs.extend([i, j]);
            }
            drawn.extend_from_slice(&pairs[..batch]);
            left -= batch;
        }
        let mut acc = [[0.0; L]; ACCUMULATORS];
        for (i, &row) in drawn.iter().enumerate() {
            for (a, v) in acc[i % ACCUMULATORS].iter_mut().zip(&rows[row as usize].0) {
                *a += v;
            }
        }
        std::array::from_fn(|k| acc.iter().map(|a| a[k]).sum())
    }

    /// The vector kernel, as dispatched on this CPU, gives the bits of the
    /// plain loop, for sizes on and around the batch and accumulator edges.
    #[test]
    fn the_dispatched_kernel_gives_the_bits_of_the_plain_loop() {
        kernel_gives_the_bits_of_the_plain_loop::<LANES>();
        kernel_gives_the_bits_of_the_plain_loop::<WIDE>();
    }

    fn kernel_gives_the_bits_of_the_plain_loop<const L: usize>() {
        let mut r = Rng::new(30);
        for n in [1usize, 2, 3, 5, 63, 64, 65, 129, 1_001] {
            let rows: Vec<Row<L>> = (0..n)
                .map(|_| Row(std::array::from_fn(|_| (r.normal() * 0.7).exp() * 123.456)))
                .collect();
            let mut plain = IndexRng::new(&mut Rng::new(31));
            let mut dispatched = plain.clone();
            for _ in 0..20 {
                let want = plain_sums(&rows, &mut plain);
                let got = resample_sums(&rows, &mut dispatched);
                assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "n = {n}");
            }
        }
    }

    /// The blocked kernel makes the same draws as the plain one and adds the
    /// same rows: with small integers every order of additions is exact, so
    /// the bits are the same; with real values the sums agree to rounding.
    #[test]
    fn blocked_sums_add_the_rows_of_the_same_draws() {
        blocked_sums_match::<LANES>();
        blocked_sums_match::<WIDE>();
    }

    fn blocked_sums_match<const L: usize>() {
        let block_rows = BLOCK_BYTES / std::mem::size_of::<Row<L>>();
        let mut r = Rng::new(32);
        for n in [
            1usize,
            7,
            block_rows - 1,
            block_rows,
            block_rows + 1,
            2 * block_rows + 65,
        ] {
            let whole: Vec<Row<L>> = (0..n)
                .map(|_| Row(std::array::from_fn(|_| r.below(1_000) as f64)))
                .collect();
            let real: Vec<Row<L>> = (0..n)
                .map(|_| Row(std::array::from_fn(|_| (r.normal() * 0.7).exp() * 123.456)))
                .collect();
            for rows in [&whole, &real] {
                // A whole batch and one more.
                let mut plain = IndexRng::new(&mut Rng::new(33));
                let mut blocked = plain.clone();
                let got = blocked_sums(rows, &mut blocked, MAX_BATCH + 1, &mut Vec::new());
                assert_eq!(got.len(), MAX_BATCH + 1);
                for (b, got) in got.iter().enumerate() {
                    let want = resample_sums(rows, &mut plain);
                    for k in 0..L {
                        if std::ptr::eq(rows, &whole) {
                            assert_eq!(got[k].to_bits(), want[k].to_bits(), "n={n} b={b} k={k}");
                        } else {
                            let scale = want[k].abs().max(1.0);
                            assert!((got[k] - want[k]).abs() <= 1e-12 * scale, "n={n} b={b}");
                        }
                    }
                }
                assert_eq!(
                    plain.next_u64(),
                    blocked.next_u64(),
                    "n={n}: the same draws"
                );
            }
        }
    }

    /// Rows past [`LARGE`] go through the blocked kernel, chunk by chunk
    /// with the buckets handed on: the same sums as the plain kernel from
    /// each chunk's stream (small integers: exact in any order).
    #[test]
    fn large_groups_are_summed_from_the_same_draws() {
        let n = LARGE / std::mem::size_of::<Row<LANES>>() + 1;
        let rows: Vec<Row<LANES>> = (0..n)
            .map(|i| Row(std::array::from_fn(|k| ((i * 31 + k) % 97) as f64)))
            .collect();
        let resamples = 2 * CHUNK + 7;
        let got = replicate_sums(&rows, resamples, 5, 6);
        let mut want = Vec::new();
        for c in 0..resamples.div_ceil(CHUNK) {
            let mut rng = IndexRng::new(&mut Rng::derive(5, 6, c as u64));
            let count = CHUNK.min(resamples - c * CHUNK);
            want.extend((0..count).map(|_| resample_sums(&rows, &mut rng)));
        }
        assert_eq!(got.len(), want.len());
        for (b, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.map(f64::to_bits), w.map(f64::to_bits), "replicate {b}");
        }
    }

    #[test]
    fn no_resample_gives_the_values_without_any_interval() {
        let x: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
        let g = Resampled::new(&[&x], &cfg(0), 1);
        let [m, median] = estimate(&cfg(0), &[&g], |v| [v.mean(0, 0), v.median(0, 0)]);
        assert_eq!((m.value, median.value), (mean(&x), 3.0));
        for e in [m, median] {
            assert!(e.ci.low.is_nan() && e.ci.high.is_nan(), "{e:?}");
        }
    }

    #[test]
    fn means_of_every_column_come_from_the_same_rows() {
        // Column 1 is column 0 doubled: every replicate mean keeps that.
        let x: Vec<f64> = (0..101).map(|i| ((i * 37) % 23) as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
        // 18 columns: a pass of 16, then one of 2.
        let cols: Vec<&[f64]> = std::iter::repeat_n(x.as_slice(), 17)
            .chain([y.as_slice()])
            .collect();
        let g = Resampled::new(&cols, &cfg(600), 1);
        for rep in replicates(&[&g], |v| [v.mean(0, 0), v.mean(0, 16), v.mean(0, 17)]) {
            assert!((rep[2] - 2.0 * rep[0]).abs() < 1e-9, "{rep:?}");
            assert_eq!(
                rep[0], rep[1],
                "a second batch of columns replays the draws"
            );
        }
    }

    #[test]
    fn intervals_agree_with_resampling_one_statistic_at_a_time() {
        let mut r = Rng::new(8);
        let a: Vec<f64> = (0..300).map(|_| (r.normal() * 0.5).exp() * 40.0).collect();
        let b: Vec<f64> = (0..200).map(|_| (r.normal() * 0.4).exp() * 55.0).collect();
        let c = cfg(4_000);
        let (ga, gb) = (Resampled::new(&[&a], &c, 1), Resampled::new(&[&b], &c, 2));
        let fast = estimate(&c, &[&ga, &gb], |v| {
            [
                v.mean(0, 0),
                v.median(0, 0),
                v.mean(1, 0) / v.mean(0, 0),
                v.median(1, 0) - v.median(0, 0),
            ]
        });
        let slow = bootstrap::estimate(&c, &[&a, &b], 5, |s| {
            let (ma, mb) = (mean(&s[0]), mean(&s[1]));
            let (da, db) = (median_in_place(&mut s[0]), median_in_place(&mut s[1]));
            [ma, da, mb / ma, db - da]
        });
        for (f, s) in fast.iter().zip(&slow) {
            assert!((f.value - s.value).abs() < 1e-9, "{f:?} {s:?}");
            let width = s.ci.high - s.ci.low;
            assert!(
                (f.ci.low - s.ci.low).abs() < 0.1 * width
                    && (f.ci.high - s.ci.high).abs() < 0.1 * width,
                "{f:?} {s:?}"
            );
        }
    }

    #[test]
    fn jackknife_medians_equal_medians_of_what_is_left() {
        let mut r = Rng::new(2);
        for n in [1usize, 2, 3, 10, 201, 450] {
            let x: Vec<f64> = (0..n).map(|_| r.below(30) as f64).collect();
            let (blocks, jm, jd) = jackknife(&[&x], &[sorted(&x)]);
            assert_eq!(blocks, n.min(JACKKNIFE_GROUPS));
            for j in 0..blocks {
                let (start, end) = (j * n / blocks, (j + 1) * n / blocks);
                let rest: Vec<f64> = x[..start].iter().chain(&x[end..]).copied().collect();
                if rest.is_empty() {
                    assert!(jm[j].is_nan() && jd[j].is_nan());
                    continue;
                }
                assert!((jm[j] - mean(&rest)).abs() < 1e-9);
                assert_eq!(jd[j], median_in_place(&mut rest.clone()), "n={n} block {j}");
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_intervals_whatever_the_threads() {
        let x: Vec<f64> = (0..700).map(|i| ((i * 7919) % 331) as f64).collect();
        let c = cfg(2_000);
        let stat = |v: &View| [v.mean(0, 0), v.median(0, 0)];
        let a = estimate(&c, &[&Resampled::new(&[&x], &c, 4)], stat);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| estimate(&c, &[&Resampled::new(&[&x], &c, 4)], stat));
        assert_eq!(a, b);
        assert_ne!(a, estimate(&c, &[&Resampled::new(&[&x], &c, 5)], stat));
    }
}
