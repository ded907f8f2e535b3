//! Step 3: statistics, charts and exports.

pub mod format;
