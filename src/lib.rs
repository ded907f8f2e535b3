//! tracecost: Cloudflare Workers trace events → Parquet lake → per-request
//! costs → report. One module per step; data flows one way.

pub mod cli;
pub mod config;
pub mod cost;
pub mod io;
pub mod limits;
pub mod memory;
pub mod mirror;
pub mod numbers;
pub mod report;
pub mod simulate;
pub mod stats;
pub mod terminal;
pub mod transform;
