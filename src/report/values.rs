//! One metric's values in a group of requests, held in half the memory when
//! they are whole numbers: the transform's metrics but cost are integers
//! (ms, invocations), and the report holds every complete request's.

use std::borrow::Cow;

use crate::stats::resampled::Column;

/// `Whole` while every value pushed is an `i32` exactly (bit for bit as
/// `f64`, so -0.0 is not one); the first other value makes them all `Real`.
/// Equal when held alike: the same values pushed in the same order are.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Whole(Vec<i32>),
    Real(Vec<f64>),
}

impl Default for Values {
    fn default() -> Self {
        Values::Whole(Vec::new())
    }
}

/// The values of a metric a group does not have.
pub static NONE: Values = Values::Whole(Vec::new());

fn whole(v: f64) -> Option<i32> {
    let i = v as i32;
    ((i as f64).to_bits() == v.to_bits()).then_some(i)
}

impl Values {
    pub fn push(&mut self, v: f64) {
        match self {
            Values::Whole(w) => match whole(v) {
                Some(i) => w.push(i),
                None => {
                    let mut real: Vec<f64> = Vec::with_capacity(w.capacity().max(w.len() + 1));
                    real.extend(w.iter().map(|&i| f64::from(i)));
                    real.push(v);
                    *self = Values::Real(real);
                }
            },
            Values::Real(r) => r.push(v),
        }
    }

    pub fn len(&self) -> usize {
        self.column().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i`, which must exist.
    pub fn at(&self, i: usize) -> f64 {
        self.column().at(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (whole, real) = match self {
            Values::Whole(w) => (Some(w.iter().map(|&i| f64::from(i))), None),
            Values::Real(r) => (None, Some(r.iter().copied())),
        };
        whole
            .into_iter()
            .flatten()
            .chain(real.into_iter().flatten())
    }

    /// As `f64`s: borrowed when they are held so, else a copy.
    pub fn as_f64(&self) -> Cow<'_, [f64]> {
        self.column().as_f64()
    }

    /// As the statistics read them, borrowed.
    pub fn column(&self) -> Column<'_> {
        match self {
            Values::Whole(w) => Column::Whole(w),
            Values::Real(r) => Column::Real(r),
        }
    }

    /// Keeps the values whose flag in `keep` (one per value, in order) is
    /// true, and hands the room of the others back.
    pub fn retain_where(&mut self, keep: impl Iterator<Item = bool>) {
        match self {
            Values::Whole(w) => retain_where(w, keep),
            Values::Real(r) => retain_where(r, keep),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match self {
            Values::Whole(w) => w.shrink_to_fit(),
            Values::Real(r) => r.shrink_to_fit(),
        }
    }
}

impl FromIterator<f64> for Values {
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Self {
        let mut values = Values::default();
        iter.into_iter().for_each(|v| values.push(v));
        values
    }
}

impl From<Vec<f64>> for Values {
    fn from(values: Vec<f64>) -> Self {
        values.into_iter().collect()
    }
}

/// Keeps the items whose flag in `keep` (one per item, in order) is true,
/// and hands the room of the others back.
pub fn retain_where<T>(items: &mut Vec<T>, keep: impl Iterator<Item = bool>) {
    let mut keep = keep;
    items.retain(|_| keep.next().expect("a flag per item"));
    debug_assert!(keep.next().is_none(), "a flag per item");
    items.shrink_to_fit();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(v: &Values) -> Vec<u64> {
        v.iter().map(f64::to_bits).collect()
    }

    #[test]
    fn values_come_back_bit_for_bit_whole_or_not() {
        let cases: [&[f64]; 5] = [
            &[1.0, -3.0, 0.0, 2_147_483_647.0, -2_147_483_648.0],
            &[1.0, 2.5, 3.0],
            &[1.0, 0.0, -0.0],
            &[4.0, 2_147_483_648.0],
            &[7.0, f64::NAN, 1e300],
        ];
        for (k, case) in cases.iter().enumerate() {
            let v: Values = case.iter().copied().collect();
            let expect: Vec<u64> = case.iter().map(|x| x.to_bits()).collect();
            assert_eq!(bits(&v), expect, "case {k}");
            assert_eq!(
                v.as_f64().iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                expect
            );
            assert_eq!(
                (0..v.len()).map(|i| v.at(i).to_bits()).collect::<Vec<_>>(),
                expect
            );
            assert_eq!(matches!(v, Values::Whole(_)), k == 0, "case {k}: {v:?}");
        }
    }

    #[test]
    fn retaining_keeps_the_flagged_values_in_order() {
        for mut v in [
            Values::from_iter([1.0, 2.0, 3.0, 4.0]),
            Values::from_iter([1.5, 2.0, 3.0, 4.0]),
        ] {
            let first = v.at(0);
            v.retain_where([true, false, false, true].into_iter());
            assert_eq!(v.iter().collect::<Vec<_>>(), [first, 4.0]);
        }
    }
}
