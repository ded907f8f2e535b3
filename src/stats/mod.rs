//! Pure statistics: no I/O, no data frames. Quantiles follow numpy's default
//! (linear interpolation); bootstrap intervals follow scipy.stats.bootstrap.

pub mod bootstrap;
pub mod normal;
pub mod regression;
pub mod resampled;
pub mod rng;
pub mod robust;
pub mod univariate;
