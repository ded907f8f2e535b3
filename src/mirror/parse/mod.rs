//! From bytes to rows: gzip members, capped lines, Logpush lines and tail
//! events, each into one lake record.

pub mod gz;
pub mod lines;
pub mod logpush;
pub mod record;
pub mod tail;
pub mod whole;
