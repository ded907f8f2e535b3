//! tracecost: Cloudflare Workers trace events → Parquet lake → per-request
//! costs → report.
//!
//! Data flows one way, and so do the imports (`tests/layers.rs` checks it):
//!
//! ```text
//! cli (clap)                      the command line
//!  └─ settings                    pipeline file + flags → one options struct per step
//!      └─ mirror, transform,      the steps; each takes its own options and
//!         report, simulate,       never imports another step
//!         explore
//!          └─ lake                layout, manifest, run manifest, derived files
//!              └─ io              the atomic writer, Parquet, CSV
//!                  └─ core        window, limits, prices and cost, formats, numbers
//!                      └─ stats   pure statistics, no I/O
//! ```

pub mod cli;
pub mod core;
pub mod drive;
pub mod explore;
pub mod io;
pub mod lake;
pub mod mirror;
pub mod publish;
pub mod report;
pub mod settings;
pub mod simulate;
pub mod stats;
pub mod transform;
