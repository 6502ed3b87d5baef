//! Wire formats spoken by krony: NTP packets (RFC 5905, RFC 7822) with NTS
//! fields (RFC 8915), NTS-KE records, and chrony's command and monitoring
//! protocol (cmdmon, version 6).
//!
//! Everything here is pure: bytes in, typed values out, and back. Parsers never
//! panic on malformed input; they return [`Error`]. After a length check has
//! succeeded, no accessor of a checked view panics.
#![forbid(unsafe_code)]

pub mod cmdmon;
mod error;
pub mod ntp;
pub mod nts_ke;
pub mod time;

pub use error::Error;
pub use time::UnixTime;
