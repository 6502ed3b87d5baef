//! The system edge: sockets with kernel timestamps, `poll(2)`, the system clock,
//! privileges, the pidfile, signals and supervisor notification.
//!
//! This is the only place in krony where `unsafe` is allowed (design.md,
//! principle 5). Each unsafe block is a single libc call (or the zeroing of a
//! plain C struct) with a `// SAFETY:` comment; everything around it, such as
//! encoding socket addresses and parsing control messages, is safe Rust over
//! byte slices, so that it can be unit-tested.
//!
//! Everything goes through the libc functions that clknetsim intercepts
//! (design.md, "clknetsim compatibility"): `socket(domain, SOCK_DGRAM, 0)` with
//! the flags set by `fcntl`, `recvmsg` with one iovec, `poll`, `clock_gettime`,
//! `adjtimex`. No raw system calls.
//!
//! # How the event loop uses it
//! 1. Start: `QuitSignals::install()`, `PidFile::create()` (after forking, if
//!    daemonising), then the clock: `SystemClock::new(rtcsync, precision)`, or
//!    `VirtualClock::system(precision)` with `-x`.
//! 2. Sockets: `UdpSocket::open` per server socket (bindaddress, port) and per
//!    server (client sockets: wildcard address, port 0, `remote`, `client_only`);
//!    `unix::bind` for the command socket. Then `privileges::drop_root` (`-u`),
//!    `lock_memory` (`-m`), `set_fifo_scheduler` (`-P`), and
//!    `notify::notify_systemd(READY)` / `notify_fd` (`-N`).
//! 3. Each round: build a `PollSet` (UDP sockets with
//!    `Interest::READABLE_ERRQUEUE` when their `timestamp_mode()` is
//!    `Timestamping`, else `READABLE`; the command socket with `READABLE`; quit
//!    signals are not polled, they interrupt the wait), `wait(engine deadline in ns)`, then for each ready socket
//!    drain `recv` until `None` (RX timestamp: `rx_timestamp`, else read the
//!    clock) and, when `errqueue` is reported, drain `recv_errqueue` and match
//!    the looped-back packet with `frame::find_udp_payload`.
//! 4. Apply the engine's `ClockAction`s with `Clock::apply`; on a quit signal
//!    write the driftfile, send `STOPPING`, drop the `PidFile`.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod clock;
mod cmsg;
pub mod dirs;
mod fd;
pub mod frame;
pub mod host;
pub mod hwts;
pub mod notify;
pub mod pidfile;
pub mod poll;
pub mod privileges;
pub mod process;
pub mod refclock;
pub mod rtc;
pub mod scfilter;
pub mod signals;
mod sockaddr;
pub mod socket;
pub mod tcp;
pub mod timex;
pub mod unix;
pub mod virtual_clock;

use std::io;
use std::path::PathBuf;

/// What can go wrong at the system edge.
#[derive(Debug, thiserror::Error)]
pub enum SysError {
    /// A system call failed; `op` names it and what it was for.
    #[error("{op} failed : {source}")]
    Os {
        /// The call and its purpose, e.g. "bind(127.0.0.1:123)".
        op: String,
        /// The error the call returned.
        source: io::Error,
    },
    /// An argument that cannot be passed to the system (e.g. a path with a NUL).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `-u USER` names no user (chronyd's message).
    #[error("Could not get user/group ID of {0}")]
    NoSuchUser(String),
    /// The pidfile is locked by a running instance (chronyd's message, renamed).
    #[error("Another kronyd may already be running (pid={pid}), check {}", path.display())]
    AlreadyRunning {
        /// The pid read from the pidfile (0 if it could not be read).
        pid: i32,
        /// The pidfile.
        path: PathBuf,
    },
}

impl SysError {
    /// The last OS error, attributed to `op`.
    pub(crate) fn last(op: impl Into<String>) -> Self {
        SysError::Os {
            op: op.into(),
            source: io::Error::last_os_error(),
        }
    }

    /// The OS error behind this error, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            SysError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// Maps the C convention (-1 and errno) of a libc call's return value to a result.
pub(crate) fn check(
    ret: libc::c_int,
    op: impl FnOnce() -> String,
) -> Result<libc::c_int, SysError> {
    if ret < 0 {
        Err(SysError::last(op()))
    } else {
        Ok(ret)
    }
}

/// A byte buffer aligned for C structs (`cmsghdr`, `sockaddr_*`, `timespec`), so
/// that the kernel may write such structs into it; we read them back as bytes.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub(crate) struct Aligned<const N: usize>(pub [u8; N]);

impl<const N: usize> Aligned<N> {
    /// A zeroed buffer.
    pub(crate) const fn zeroed() -> Self {
        Aligned([0; N])
    }
}

/// The running kernel's version (major, minor, patch), from `uname`.
///
/// # Errors
/// [`SysError`] if `uname` fails or the release string does not start with a version.
pub fn kernel_version() -> Result<(u32, u32, u32), SysError> {
    // SAFETY: utsname is a plain C struct of byte arrays; all zeroes is valid.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uts is a valid, writable utsname.
    check(unsafe { libc::uname(&mut uts) }, || "uname()".into())?;
    let release: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    parse_kernel_release(&String::from_utf8_lossy(&release)).ok_or_else(|| {
        SysError::InvalidArgument(format!(
            "could not parse kernel version {}",
            String::from_utf8_lossy(&release)
        ))
    })
}

/// Parses "6.1.0-18-amd64" into (6, 1, 0); the patch level is optional, as
/// chrony accepts "major.minor".
pub fn parse_kernel_release(release: &str) -> Option<(u32, u32, u32)> {
    let mut parts = release.split(['.', '-', '+', '_']);
    let num = |s: Option<&str>| -> Option<u32> {
        let s = s?;
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let major = num(parts.next())?;
    let minor = num(parts.next())?;
    let patch = num(parts.next()).unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_release_parsing() {
        assert_eq!(parse_kernel_release("6.1.0-18-amd64"), Some((6, 1, 0)));
        assert_eq!(parse_kernel_release("4.19"), Some((4, 19, 0)));
        assert_eq!(
            parse_kernel_release("5.15.90.1-microsoft"),
            Some((5, 15, 90))
        );
        assert_eq!(parse_kernel_release("x.y"), None);
        assert_eq!(parse_kernel_release("5"), None);
    }

    #[test]
    fn running_kernel_version_is_readable() {
        let (major, _, _) = kernel_version().expect("uname");
        assert!(major >= 3);
    }
}
