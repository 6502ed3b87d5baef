//! chrony's command and monitoring protocol, version 6 (reference §4).
//!
//! chronyc talks to chronyd over UDP port 323 or a Unix datagram socket.
//! A request is a 20-byte [`RequestHeader`] plus command data, zero-padded
//! so that it is never shorter than its reply; a reply is a 28-byte
//! [`ReplyHeader`] plus report data. All integers are big-endian; real
//! numbers travel in a 32-bit [`Float`] format.
//!
//! - [`RequestMsg::parse`] applies chronyd's acceptance rules and yields a
//!   typed [`Request`] or a [`Rejection`] telling a server whether to drop
//!   the packet or which status to answer with.
//! - [`Reply::parse`]/[`Reply::emit`] handle every reply a current chronyd
//!   sends, plus the older SERVER_STATS and NTP_DATA layouts that chronyc
//!   4.3 (Debian 12) expects; which one a client wants is told by how far it
//!   padded its request (see [`ServerStatsVersion`], [`NtpDataVersion`]).
//!
//! ```
//! use krony_wire::cmdmon::{Request, RequestMsg};
//! let bytes = RequestMsg::new(Request::Tracking, 42).to_bytes();
//! assert_eq!(bytes.len(), 104); // padded to the TRACKING reply's length
//! let msg = RequestMsg::parse(&bytes).expect("valid");
//! assert_eq!((msg.request, msg.sequence), (Request::Tracking, 42));
//! ```

mod codes;
mod cursor;
mod float;
mod header;
mod lengths;
mod reply;
mod reply_body;
mod reply_versioned;
mod request;
mod request_body;
mod types;

pub use codes::{CommandCode, ReplyCode, Status};
pub use float::Float;
pub use header::{
    PKT_TYPE_REPLY, PKT_TYPE_REQUEST, PROTO_VERSION, PROTO_VERSION_MISMATCH_COMPAT_SERVER,
    REPLY_HEADER_LEN, REQUEST_HEADER_LEN, ReplyHeader, RequestHeader,
};
pub use lengths::{
    MAX_REPLY_LEN, MAX_REQUEST_LEN, MIN_REQUEST_LEN, expected_reply_length, reply_code,
    reply_length, request_length, unpadded_request_length,
};
pub use reply::{Reply, ReplyBody};
pub use reply_body::{
    Activity, AuthData, ClientAccess, ClientAccesses, MAX_CLIENT_ACCESSES, MAX_MANUAL_LIST_SAMPLES,
    ManualList, ManualSample, ManualTimestamp, Rtc, SelectData, Smoothing, SourceData, Sourcestats,
    Tracking,
};
pub use reply_versioned::{NtpData, ServerStats};
pub use request::{Rejection, Request, RequestMsg};
pub use request_body::{
    AddSource, AddSourceFlags, Burst, ClientAccessesQuery, Local, LocalExt, MaskAddress,
    ModifyMakestep, ModifyOffset, ModifySelectOpts, NtpDataVersion, ServerStatsVersion,
    SourceFloat, SourceInt, SourceKind, Subnet,
};
pub use types::{CmdAddr, IPADDR_LEN, NAME_LEN, Name, TIMESPEC_LEN, Timespec};
