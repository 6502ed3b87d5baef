//! The sans-IO timekeeping engine: events in, actions out, time passed in.
//!
//! Nothing in this crate reads a clock, touches a socket or a file: every input
//! carries the current time, and every effect on the outside world (a packet to
//! send, a clock adjustment, a wake-up) is returned to the caller. The same code
//! therefore runs in `kronyd` against the real system and in `krony-sim` against
//! simulated clocks and networks.
#![forbid(unsafe_code)]

pub mod access;
pub mod cfmt;
pub mod clientlog;
pub mod clock;
pub mod discipline;
pub mod engine;
pub mod hwclock;
pub mod refclock;
pub mod rtc;
pub mod select;
pub mod server;
pub mod smooth;
pub mod source;
pub mod stats;
pub mod tempcomp;

pub use engine::{
    Engine, EngineConfig, EngineError, EngineEvent, Incoming, RxSocket, SourceCommand, Transmit,
};
pub use krony_wire::UnixTime;
