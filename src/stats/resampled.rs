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

use std::borrow::Cow;

use rayon::prelude::*;

use super::bootstrap::{intervals, Config, Estimate, Method, JACKKNIFE_GROUPS};
use super::rng::{IndexRng, Rng};
use super::univariate::median_in_place;

/// Replicates drawn from one random stream; fixed, so that the result does
/// not depend on the number of threads.
const CHUNK: usize = 250;

/// Columns whose means one pass of index draws accumulates: a row of 8 on a
/// cache line of its own, so a draw loads one line; from 9 to 16 columns,
/// a row of 16 on two lines, one pass instead of two. Wider tables are cut
/// into batches that replay the same draws.
const LANES: usize = 8;
const WIDE: usize = 16;

/// Up to [`MIXED_REAL`] real columns and [`MIXED_WHOLE`] whole ones (the
/// report's 9 metrics: cost twice, 7 counters) share one cache line: a
/// whole number takes 4 bytes in a row instead of 8.
const MIXED_REAL: usize = 2;
const MIXED_WHOLE: usize = 8;

/// One group's column: whole numbers are summed as integers, exactly, so
/// they give the bits of summing them as `f64` wherever that is exact too.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    Whole(&'a [i32]),
    Real(&'a [f64]),
}

impl<'a> Column<'a> {
    pub fn len(&self) -> usize {
        match self {
            Column::Whole(w) => w.len(),
            Column::Real(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn at(&self, i: usize) -> f64 {
        match self {
            Column::Whole(w) => f64::from(w[i]),
            Column::Real(r) => r[i],
        }
    }

    /// As `f64`s: borrowed when they are held so, else a copy.
    pub fn as_f64(&self) -> Cow<'a, [f64]> {
        match *self {
            Column::Whole(w) => Cow::Owned(w.iter().map(|&v| f64::from(v)).collect()),
            Column::Real(r) => Cow::Borrowed(r),
        }
    }

    /// The values when whole and no sum of `draws` of them reaches 2⁵³:
    /// every partial sum is exact as an `i64` and as an `f64` alike.
    fn summed_exactly(&self, draws: usize) -> Option<&'a [i32]> {
        let Column::Whole(w) = *self else { return None };
        let largest = w
            .iter()
            .map(|v| u64::from(v.unsigned_abs()))
            .max()
            .unwrap_or(0);
        let exact = largest
            .checked_mul(draws as u64)
            .is_some_and(|m| m < 1 << 53);
        exact.then_some(w)
    }
}

/// One row of `R` real and `W` whole columns, aligned on a cache line.
#[repr(C, align(64))]
struct Row<const R: usize, const W: usize> {
    real: [f64; R],
    whole: [i32; W],
}

/// A resample's column sums over rows of `R` real and `W` whole columns.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sums<const R: usize, const W: usize> {
    real: [f64; R],
    whole: [i64; W],
}

impl<const R: usize, const W: usize> Sums<R, W> {
    const ZERO: Self = Sums {
        real: [0.0; R],
        whole: [0; W],
    };

    #[inline(always)]
    fn add(&mut self, row: &Row<R, W>) {
        for k in 0..R {
            self.real[k] += row.real[k];
        }
        for k in 0..W {
            self.whole[k] += i64::from(row.whole[k]);
        }
    }

    #[inline(always)]
    fn add_sums(&mut self, other: &Self) {
        for k in 0..R {
            self.real[k] += other.real[k];
        }
        for k in 0..W {
            self.whole[k] += other.whole[k];
        }
    }
}

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
    pub fn new(columns: &[Column], cfg: &Config, stream: u64) -> Self {
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
            .map(|c| (0..n).map(|i| c.at(i)).sum::<f64>() / n as f64)
            .collect();
        let median: Vec<f64> = columns
            .iter()
            .map(|c| median_in_place(&mut c.as_f64().into_owned()))
            .collect();

        let (rep_mean, rep_median, (blocks, jack_mean, jack_median)) = if cfg.point_estimates() {
            (Vec::new(), Vec::new(), (0, Vec::new(), Vec::new()))
        } else {
            let sorted: Vec<Vec<f64>> = columns
                .iter()
                .map(|c| {
                    let mut s = c.as_f64().into_owned();
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
/// resample of rows: in one pass of rows of [`MIXED_REAL`] real and
/// [`MIXED_WHOLE`] whole columns when they fit, else [`LANES`] or [`WIDE`]
/// columns as `f64` per pass over the same draws.
fn replicate_means(columns: &[Column], cfg: &Config, stream: u64) -> Vec<f64> {
    let width = columns.len();
    let n = columns[0].len();
    let mut rep_mean = vec![0.0; cfg.resamples * width];
    let whole: Vec<(usize, &[i32])> = (columns.iter().enumerate())
        .filter_map(|(c, column)| Some((c, column.summed_exactly(n)?)))
        .collect();
    let real: Vec<usize> = (0..width)
        .filter(|c| !whole.iter().any(|(w, _)| w == c))
        .collect();
    if !whole.is_empty() && whole.len() <= MIXED_WHOLE && real.len() <= MIXED_REAL {
        pass::<MIXED_REAL, MIXED_WHOLE>(columns, &real, &whole, &mut rep_mean, cfg, stream);
        return rep_mean;
    }
    let mut first = 0;
    while first < width {
        let lanes = (width - first).min(WIDE);
        let batch: Vec<usize> = (first..first + lanes).collect();
        match lanes {
            ..=LANES => pass::<LANES, 0>(columns, &batch, &[], &mut rep_mean, cfg, stream),
            _ => pass::<WIDE, 0>(columns, &batch, &[], &mut rep_mean, cfg, stream),
        }
        first += lanes;
    }
    rep_mean
}

/// The means of columns `real` (as `f64`) and `whole` (column, values: as
/// integers), into `rep_mean`.
fn pass<const R: usize, const W: usize>(
    columns: &[Column],
    real: &[usize],
    whole: &[(usize, &[i32])],
    rep_mean: &mut [f64],
    cfg: &Config,
    stream: u64,
) {
    let (n, width) = (columns[0].len(), columns.len());
    let rows: Vec<Row<R, W>> = (0..n)
        .map(|i| Row {
            real: std::array::from_fn(|k| real.get(k).map_or(0.0, |&c| columns[c].at(i))),
            whole: std::array::from_fn(|k| whole.get(k).map_or(0, |(_, w)| w[i])),
        })
        .collect();
    let sums = replicate_sums(&rows, cfg.resamples, cfg.seed, stream);
    for (b, s) in sums.iter().enumerate() {
        let at = &mut rep_mean[b * width..(b + 1) * width];
        for (k, &c) in real.iter().enumerate() {
            at[c] = s.real[k] / n as f64;
        }
        for (k, &(c, _)) in whole.iter().enumerate() {
            // Exact: below 2⁵³ (`Column::summed_exactly`).
            at[c] = s.whole[k] as f64 / n as f64;
        }
    }
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

/// Groups of more rows than this outgrow a core's cache (1 MiB of one-line
/// rows): each random row load would wait on memory, so they are summed by
/// [`blocked_sums`] instead. Counted in rows, as [`BLOCK_ROWS`] is, so that
/// every batch of columns of a group makes the same draws.
const LARGE_ROWS: usize = 16_384;

/// A block of rows that stays in a core's cache while a chunk of resamples
/// adds up its draws from it: 512 KiB of one-line rows (1 MiB of two-line
/// ones). Counted in rows, so that the draws do not depend on how wide a row is.
const BLOCK_ROWS: usize = 8192;

const _: () = assert!(DRAWS.is_multiple_of(ACCUMULATORS));

/// Per replicate, the column sums of one resample of rows (n draws with
/// replacement). Rows are contiguous so one draw touches one cache line.
fn replicate_sums<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    resamples: usize,
    seed: u64,
    stream: u64,
) -> Vec<Sums<R, W>> {
    let chunks = resamples.div_ceil(CHUNK);
    let large = rows.len() > LARGE_ROWS;
    let per_chunk: Vec<Vec<Sums<R, W>>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut base = Rng::derive(seed, stream, c as u64);
            let mut rng = IndexRng::new(&mut base);
            let count = CHUNK.min(resamples - c * CHUNK);
            if large {
                blocked_sums(rows, BLOCK_ROWS, &mut base, &mut rng, count)
            } else {
                (0..count).map(|_| resample_sums(rows, &mut rng)).collect()
            }
        })
        .collect();
    per_chunk.into_iter().flatten().collect()
}

/// The next `m` row indices of a resample, drawn in pairs (an odd `m` draws
/// one too many), as both kernels draw them.
#[inline(always)]
fn draw(rng: &mut IndexRng, n: u32, batch: &mut [u32; DRAWS], m: usize) {
    for pair in batch[..m.next_multiple_of(2)].chunks_exact_mut(2) {
        (pair[0], pair[1]) = rng.two_below(n);
    }
}

/// One resample's column sums, with the vector instructions the CPU has.
/// Each lane adds the same values in the same order whatever the width, so
/// every CPU gives the same bits.
fn resample_sums<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    rng: &mut IndexRng,
) -> Sums<R, W> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { resample_sums_avx2(rows, rng) };
    }
    sums_kernel(rows, rng, rows.len())
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resample_sums_avx2<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    rng: &mut IndexRng,
) -> Sums<R, W> {
    sums_kernel(rows, rng, rows.len())
}

/// The column sums of `draws` rows drawn uniformly from `rows`.
#[inline(always)]
fn sums_kernel<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    rng: &mut IndexRng,
    draws: usize,
) -> Sums<R, W> {
    let n = rows.len() as u32;
    let mut batch = [0u32; DRAWS];
    // Indices are drawn a batch ahead so that the row loads of a batch
    // overlap.
    let mut acc = [Sums::ZERO; ACCUMULATORS];
    let mut left = draws;
    while left > 0 {
        let m = left.min(DRAWS);
        draw(rng, n, &mut batch, m);
        add_rows(&mut acc, rows, &batch[..m]);
        left -= m;
    }
    total(&acc)
}

/// Adds the rows at `picked` to the accumulators, draw `i` to accumulator
/// `i % ACCUMULATORS` (a batch of [`DRAWS`] starts again at the first).
#[inline(always)]
fn add_rows<const R: usize, const W: usize>(
    acc: &mut [Sums<R, W>; ACCUMULATORS],
    rows: &[Row<R, W>],
    picked: &[u32],
) {
    let mut groups = picked.chunks_exact(ACCUMULATORS);
    for group in &mut groups {
        for (a, i) in acc.iter_mut().zip(group) {
            a.add(&rows[*i as usize]);
        }
    }
    for (a, i) in acc.iter_mut().zip(groups.remainder()) {
        a.add(&rows[*i as usize]);
    }
}

#[inline(always)]
fn total<const R: usize, const W: usize>(acc: &[Sums<R, W>; ACCUMULATORS]) -> Sums<R, W> {
    Sums {
        real: std::array::from_fn(|k| acc.iter().map(|a| a.real[k]).sum()),
        whole: std::array::from_fn(|k| acc.iter().map(|a| a.whole[k]).sum()),
    }
}

/// `count` resamples' column sums, for rows too large for a core's cache,
/// `block_rows` at a time. A resample of n rows is n
/// uniform draws; how many fall in each block is multinomial, so each
/// resample first draws its count per block ([`block_counts`]), then each
/// block, loaded into the cache once, gives every resample its count of
/// uniform draws from the block. The same distribution as [`resample_sums`]
/// from other random numbers.
fn blocked_sums<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    block_rows: usize,
    base: &mut Rng,
    rng: &mut IndexRng,
    count: usize,
) -> Vec<Sums<R, W>> {
    let blocks = rows.len().div_ceil(block_rows);
    let mut counts = vec![0u32; count * blocks];
    for per_block in counts.chunks_exact_mut(blocks) {
        block_counts(rows.len(), block_rows, base, per_block);
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { blocked_kernel_avx2(rows, block_rows, &counts, rng) };
    }
    blocked_kernel(rows, block_rows, &counts, rng)
}

/// How many of n uniform draws over `n` rows fall in each block of
/// `block_rows`: each block's count is Binomial given the blocks before it.
fn block_counts(n: usize, block_rows: usize, base: &mut Rng, counts: &mut [u32]) {
    let (mut draws, mut rows) = (n as u64, n as u64);
    for (b, c) in counts.iter_mut().enumerate() {
        let len = block_rows.min(n - b * block_rows) as u64;
        let k = base.binomial(draws, len as f64 / rows as f64);
        *c = k as u32;
        (draws, rows) = (draws - k, rows - len);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn blocked_kernel_avx2<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    block_rows: usize,
    counts: &[u32],
    rng: &mut IndexRng,
) -> Vec<Sums<R, W>> {
    blocked_kernel(rows, block_rows, counts, rng)
}

/// `counts[r * blocks + b]`: resample r's draws from block b.
#[inline(always)]
fn blocked_kernel<const R: usize, const W: usize>(
    rows: &[Row<R, W>],
    block_rows: usize,
    counts: &[u32],
    rng: &mut IndexRng,
) -> Vec<Sums<R, W>> {
    let blocks = rows.len().div_ceil(block_rows);
    let mut sums = vec![Sums::ZERO; counts.len() / blocks];
    for (b, block) in rows.chunks(block_rows).enumerate() {
        for (sum, per_block) in sums.iter_mut().zip(counts.chunks_exact(blocks)) {
            let part = sums_kernel(block, rng, per_block[b] as usize);
            sum.add_sums(&part);
        }
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
fn jackknife(columns: &[Column], sorted: &[Vec<f64>]) -> (usize, Vec<f64>, Vec<f64>) {
    let n = columns[0].len();
    let width = columns.len();
    let blocks = n.min(JACKKNIFE_GROUPS);
    let mut jack_mean = vec![0.0; blocks * width];
    let mut jack_median = vec![0.0; blocks * width];
    for (c, column) in columns.iter().enumerate() {
        // One column as `f64` at a time.
        let column = column.as_f64();
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
    fn plain_sums<const R: usize, const W: usize>(
        rows: &[Row<R, W>],
        rng: &mut IndexRng,
    ) -> Sums<R, W> {
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
        let (mut real, mut whole) = ([[0.0; R]; ACCUMULATORS], [[0i64; W]; ACCUMULATORS]);
        for (i, &row) in drawn.iter().enumerate() {
            let row = &rows[row as usize];
            for (a, v) in real[i % ACCUMULATORS].iter_mut().zip(&row.real) {
                *a += v;
            }
            for (a, v) in whole[i % ACCUMULATORS].iter_mut().zip(&row.whole) {
                *a += i64::from(*v);
            }
        }
        Sums {
            real: std::array::from_fn(|k| real.iter().map(|a| a[k]).sum()),
            whole: std::array::from_fn(|k| whole.iter().map(|a| a[k]).sum()),
        }
    }

    fn real_row<const L: usize>(real: [f64; L]) -> Row<L, 0> {
        Row { real, whole: [] }
    }

    /// The vector kernel, as dispatched on this CPU, gives the bits of the
    /// plain loop, for sizes on and around the batch and accumulator edges.
    #[test]
    fn the_dispatched_kernel_gives_the_bits_of_the_plain_loop() {
        kernel_gives_the_bits_of_the_plain_loop::<LANES, 0>();
        kernel_gives_the_bits_of_the_plain_loop::<WIDE, 0>();
        kernel_gives_the_bits_of_the_plain_loop::<MIXED_REAL, MIXED_WHOLE>();
    }

    fn kernel_gives_the_bits_of_the_plain_loop<const R: usize, const W: usize>() {
        let mut r = Rng::new(30);
        for n in [1usize, 2, 3, 5, 63, 64, 65, 129, 1_001] {
            let rows: Vec<Row<R, W>> = (0..n)
                .map(|_| Row {
                    real: std::array::from_fn(|_| (r.normal() * 0.7).exp() * 123.456),
                    whole: std::array::from_fn(|_| r.range(-1 << 31..1 << 31) as i32),
                })
                .collect();
            let mut plain = IndexRng::new(&mut Rng::new(31));
            let mut dispatched = plain.clone();
            for _ in 0..20 {
                let want = plain_sums(&rows, &mut plain);
                let got = resample_sums(&rows, &mut dispatched);
                assert_eq!(
                    got.real.map(f64::to_bits),
                    want.real.map(f64::to_bits),
                    "n = {n}"
                );
                assert_eq!(got.whole, want.whole, "n = {n}");
            }
        }
    }

    /// The blocked kernel draws n rows a resample, as many from each block as
    /// uniform draws would put there: per resample, a column of ones sums to n
    /// exactly, a block's indicator has the mean and variance of
    /// Binomial(n, block / n), and the mean of the row numbers those of a
    /// mean of n uniform draws.
    #[test]
    fn blocked_sums_draw_n_rows_spread_as_uniform_draws() {
        let block_rows = BLOCK_ROWS;
        let n = 2 * block_rows + 1_000;
        let rows: Vec<Row<LANES, 0>> = (0..n)
            .map(|i| {
                let (first, last) = (i < block_rows, i >= 2 * block_rows);
                real_row([
                    1.0,
                    f64::from(u8::from(first)),
                    f64::from(u8::from(last)),
                    i as f64,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                ])
            })
            .collect();
        let count = 600;
        let mut base = Rng::new(33);
        let mut rng = IndexRng::new(&mut base);
        let sums = blocked_sums(&rows, BLOCK_ROWS, &mut base, &mut rng, count);
        assert_eq!(sums.len(), count);
        assert!(
            sums.iter().all(|s| s.real[0] == n as f64),
            "n draws in every resample"
        );
        let nf = n as f64;
        let moments_of = |k: usize| {
            let xs: Vec<f64> = sums.iter().map(|s| s.real[k]).collect();
            let m = mean(&xs);
            (
                m,
                xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (count - 1) as f64,
            )
        };
        for (k, len) in [(1, block_rows), (2, 1_000)] {
            let p = len as f64 / nf;
            let (m, v) = moments_of(k);
            let want_v = nf * p * (1.0 - p);
            assert!(
                (m - nf * p).abs() < 5.0 * (want_v / count as f64).sqrt(),
                "block {k}: {m}"
            );
            assert!((v / want_v - 1.0).abs() < 0.3, "block {k}: {v} vs {want_v}");
        }
        // Row numbers: mean (n - 1) / 2, variance (n² - 1) / 12 a draw.
        let (m, v) = moments_of(3);
        let want_v = nf * (nf * nf - 1.0) / 12.0;
        assert!((m - nf * (nf - 1.0) / 2.0).abs() < 5.0 * (want_v / count as f64).sqrt());
        assert!((v / want_v - 1.0).abs() < 0.3, "{v} vs {want_v}");
    }

    /// Over 5 rows in blocks of 2 (the last one short), the rows' counts in
    /// a resample have their multinomial probabilities, 5! / (c₀!···c₄!) / 5⁵.
    #[test]
    fn blocked_sums_draw_the_multinomial_counts_of_a_resample() {
        let n = 5;
        let rows: Vec<Row<LANES, 0>> = (0..n)
            .map(|i| real_row(std::array::from_fn(|k| f64::from(u8::from(k == i)))))
            .collect();
        let draws = 200_000;
        let mut base = Rng::new(34);
        let mut rng = IndexRng::new(&mut base);
        let mut seen = std::collections::BTreeMap::new();
        for s in blocked_sums(&rows, 2, &mut base, &mut rng, draws) {
            let counts: [u8; 5] = std::array::from_fn(|k| s.real[k] as u8);
            *seen.entry(counts).or_insert(0u32) += 1;
        }
        let factorial = [1.0, 1.0, 2.0, 6.0, 24.0, 120.0];
        let mut cells = 0;
        for code in 0..6usize.pow(5) {
            let c: [u8; 5] = std::array::from_fn(|k| (code / 6usize.pow(k as u32) % 6) as u8);
            if c.iter().sum::<u8>() != 5 {
                continue;
            }
            cells += 1;
            let ways: f64 = c.iter().map(|&k| factorial[k as usize]).product();
            let want = 120.0 / ways / 5f64.powi(5);
            let got = f64::from(seen.get(&c).copied().unwrap_or(0)) / draws as f64;
            let se = (want * (1.0 - want) / draws as f64).sqrt();
            assert!((got - want).abs() < 5.0 * se, "{c:?}: {got} vs {want}");
        }
        assert_eq!(cells, 126);
        assert!(seen.keys().all(|c| c.iter().sum::<u8>() == 5));
    }

    /// Groups past [`LARGE_ROWS`] go through the blocked kernel; its
    /// replicates do not depend on the threads.
    #[test]
    fn large_groups_give_the_same_replicates_whatever_the_threads() {
        let n = LARGE_ROWS + 1;
        let rows: Vec<Row<LANES, 0>> = (0..n)
            .map(|i| real_row(std::array::from_fn(|k| ((i * 31 + k) % 97) as f64)))
            .collect();
        let resamples = 2 * CHUNK + 7;
        let got = replicate_sums(&rows, resamples, 5, 6);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(got, pool.install(|| replicate_sums(&rows, resamples, 5, 6)));
    }

    #[test]
    fn no_resample_gives_the_values_without_any_interval() {
        let x: Vec<f64> = (0..50).map(|i| (i % 7) as f64).collect();
        let g = Resampled::new(&[Column::Real(&x)], &cfg(0), 1);
        let [m, median] = estimate(&cfg(0), &[&g], |v| [v.mean(0, 0), v.median(0, 0)]);
        assert_eq!((m.value, median.value), (mean(&x), 3.0));
        for e in [m, median] {
            assert!(e.ci.low.is_nan() && e.ci.high.is_nan(), "{e:?}");
        }
    }

    #[test]
    fn means_of_every_column_come_from_the_same_rows() {
        // Column 1 is column 0 doubled: every replicate mean keeps that;
        // small groups and large ones (the blocked kernel).
        for n in [101, LARGE_ROWS + 5] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 23) as f64).collect();
            let y: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
            // 18 columns: a pass of 16 (two-line rows), then one of 2 (one line).
            let cols: Vec<Column> = std::iter::repeat_n(Column::Real(&x), 17)
                .chain([Column::Real(&y)])
                .collect();
            let g = Resampled::new(&cols, &cfg(600), 1);
            for rep in replicates(&[&g], |v| [v.mean(0, 0), v.mean(0, 16), v.mean(0, 17)]) {
                assert!((rep[2] - 2.0 * rep[0]).abs() < 1e-9, "{rep:?}");
                assert_eq!(
                    rep[0], rep[1],
                    "n={n}: a second batch of columns replays the draws"
                );
            }
        }
    }

    /// Whole columns held as integers (the report's counters) give the
    /// bits they give as `f64`s: the same draws, and sums exact either way;
    /// small groups and large ones (the blocked kernel), values up to the
    /// ends of `i32`.
    #[test]
    fn whole_columns_give_the_bits_of_the_same_values_as_reals() {
        let mut r = Rng::new(40);
        let large = LARGE_ROWS + 3;
        for (n, top) in [
            (1usize, 1_000),
            (777, 100_000),
            (9_400, 1_000),
            (large, 5_000),
            (300, i32::MAX),
        ] {
            let real: Vec<Vec<f64>> = (0..2)
                .map(|_| (0..n).map(|_| (r.normal() * 0.7).exp() * 12.3).collect())
                .collect();
            let whole: Vec<Vec<i32>> = (0..7)
                .map(|_| {
                    (0..n)
                        .map(|_| r.range(-i64::from(top)..i64::from(top)) as i32)
                        .collect()
                })
                .collect();
            let as_real: Vec<Vec<f64>> = whole
                .iter()
                .map(|w| w.iter().map(|&v| f64::from(v)).collect())
                .collect();
            // The report's order: counters first, costs last.
            let held: Vec<Column> = (whole.iter().map(|w| Column::Whole(w)))
                .chain(real.iter().map(|c| Column::Real(c)))
                .collect();
            let plain: Vec<Column> = (as_real.iter().chain(&real))
                .map(|c| Column::Real(c))
                .collect();
            assert_eq!(
                held.iter()
                    .filter(|c| c.summed_exactly(n).is_some())
                    .count(),
                7
            );
            let c = cfg(300);
            let bits = |columns: &[Column]| -> Vec<u64> {
                replicate_means(columns, &c, 9)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            assert_eq!(bits(&held), bits(&plain), "n={n} top={top}");
            let (a, b) = (Resampled::new(&held, &c, 9), Resampled::new(&plain, &c, 9));
            let stat = |v: &View| [v.mean(0, 0), v.median(0, 3), v.mean(0, 8)];
            assert_eq!(
                estimate(&c, &[&a], stat),
                estimate(&c, &[&b], stat),
                "n={n}"
            );
        }
    }

    #[test]
    fn a_whole_column_sums_exactly_below_two_to_the_53() {
        let w = [3, -7, 2];
        assert!(Column::Whole(&w).summed_exactly(1 << 50).is_some());
        assert!(Column::Whole(&w).summed_exactly(1 << 51).is_none());
        assert!(Column::Whole(&[i32::MIN])
            .summed_exactly((1 << 22) - 1)
            .is_some());
        assert!(Column::Whole(&[i32::MIN]).summed_exactly(1 << 22).is_none());
        assert!(Column::Real(&[1.0]).summed_exactly(1).is_none());
    }

    #[test]
    fn intervals_agree_with_resampling_one_statistic_at_a_time() {
        let mut r = Rng::new(8);
        let a: Vec<f64> = (0..300).map(|_| (r.normal() * 0.5).exp() * 40.0).collect();
        let b: Vec<f64> = (0..200).map(|_| (r.normal() * 0.4).exp() * 55.0).collect();
        let c = cfg(4_000);
        let (ga, gb) = (
            Resampled::new(&[Column::Real(&a)], &c, 1),
            Resampled::new(&[Column::Real(&b)], &c, 2),
        );
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
            let (blocks, jm, jd) = jackknife(&[Column::Real(&x)], &[sorted(&x)]);
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
        let a = estimate(&c, &[&Resampled::new(&[Column::Real(&x)], &c, 4)], stat);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let b = pool.install(|| estimate(&c, &[&Resampled::new(&[Column::Real(&x)], &c, 4)], stat));
        assert_eq!(a, b);
        assert_ne!(
            a,
            estimate(&c, &[&Resampled::new(&[Column::Real(&x)], &c, 5)], stat)
        );
    }
}
