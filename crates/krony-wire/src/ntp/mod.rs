//! NTP packets (RFC 5905) with extension fields (RFC 7822) and legacy MACs.
//!
//! - [`Packet`]: a checked view over the bytes of a packet, with getters and
//!   (on mutable buffers) setters for the 48-byte header;
//! - [`NtpRepr`]: the packet as plain values, with [`NtpRepr::parse`],
//!   [`NtpRepr::buffer_len`] and [`NtpRepr::emit`];
//! - [`NtpTimestamp`] (32.32, era-ambiguous; converted to
//!   [`UnixTime`](crate::UnixTime) relative to a pivot) and [`NtpShort`]
//!   (16.16 root delay and dispersion);
//! - [`RefId`] (with the IPv6 MD5 rule) and [`KissCode`];
//! - [`ExtensionField`] and [`Mac`], told apart by the length rules of
//!   RFC 7822 described in [`extension`].
//!
//! ```
//! use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId};
//! use krony_wire::UnixTime;
//! let now = UnixTime::from_secs_nanos(1_795_598_154, 0);
//! let request = NtpRepr {
//!     leap: LeapIndicator::Unsynchronized,
//!     version: 4,
//!     mode: Mode::Client,
//!     stratum: 0,
//!     poll: 6,
//!     precision: -20,
//!     root_delay: NtpShort::ZERO,
//!     root_dispersion: NtpShort::ZERO,
//!     reference_id: RefId::UNSYNC,
//!     reference_ts: NtpTimestamp::ZERO,
//!     origin_ts: NtpTimestamp::ZERO,
//!     receive_ts: NtpTimestamp::ZERO,
//!     transmit_ts: NtpTimestamp::from_unix(now),
//!     extensions: vec![],
//!     mac: None,
//! };
//! let bytes = request.to_vec()?;
//! assert_eq!(bytes.len(), 48);
//! assert_eq!(NtpRepr::parse_bytes(&bytes)?, request);
//! # Ok::<(), krony_wire::Error>(())
//! ```

pub mod extension;
mod kod;
pub mod nts;
mod packet;
pub mod ptp;
mod refid;
mod short;
mod timestamp;

pub use extension::{ExtensionField, Mac};
pub use kod::KissCode;
pub use packet::{HEADER_LEN, LeapIndicator, MIN_VERSION, Mode, NtpRepr, Packet, VERSION};
pub use refid::RefId;
pub use short::{NTP_SHORT_MAX_SECS, NtpShort};
pub use timestamp::{NTP_UNIX_OFFSET_SECS, NtpTimestamp};

/// The NTP UDP port (RFC 5905 §7.2).
pub const PORT: u16 = 123;
