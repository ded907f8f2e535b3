//! Step 2: from trace events in the lake to per-request metrics.

pub mod scan;
