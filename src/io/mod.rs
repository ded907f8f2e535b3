//! Writing files.

pub mod csv;
