//! What every step shares: the time window, input limits, prices and the
//! one cost formula, the input formats, and how numbers and text are shown.

pub mod cost;
pub mod format;
pub mod limits;
pub mod memory;
pub mod metric;
pub mod named;
pub mod numbers;
pub mod paths;
pub mod redact;
pub mod terminal;
pub mod url;
pub mod window;
