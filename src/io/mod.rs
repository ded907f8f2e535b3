//! Writing files: the one atomic writer and the formats built on it.

pub mod atomic;
pub mod csv;
pub mod parquet;
pub mod s3;
