//! Telling a service supervisor that kronyd is ready, as chronyd does
//! (main.c `notify_system_manager`): `READY=1` (and `STOPPING=1` at exit) as a
//! datagram to `$NOTIFY_SOCKET` (systemd, sd_notify(3)), and `-N FD`: a
//! newline written to the descriptor FD, which is then closed (s6-style).
//!
//! chronyd accepts only a path in NOTIFY_SOCKET; kronyd also accepts an
//! abstract socket name written `@name`, as sd_notify does.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::RawFd;

use super::{SysError, unix};

/// The environment variable systemd sets for Type=notify services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// Sent once initialised.
pub const READY: &str = "READY=1";
/// Sent when exiting.
pub const STOPPING: &str = "STOPPING=1";

/// Sends `message` to the socket named by `$NOTIFY_SOCKET`; `Ok(false)` when
/// the variable is not set (not started by systemd).
///
/// # Errors
/// [`SysError`] "Could not send notification to $NOTIFY_SOCKET" if the
/// socket is unusable (chronyd exits then).
pub fn notify_systemd(message: &str) -> Result<bool, SysError> {
    match std::env::var_os(NOTIFY_SOCKET) {
        None => Ok(false),
        Some(name) => notify_socket(&name, message).map(|()| true),
    }
}

/// Sends `message` to the notification socket `name` (a path, or `@name`).
///
/// # Errors
/// [`SysError`] if the name is unusable or the datagram cannot be sent.
pub fn notify_socket(name: &OsStr, message: &str) -> Result<(), SysError> {
    let failed = |source: Option<SysError>| SysError::Os {
        op: "Could not send notification to $NOTIFY_SOCKET".into(),
        source: match source {
            Some(SysError::Os { source, .. }) => source,
            Some(other) => std::io::Error::other(other.to_string()),
            None => std::io::Error::other("short write"),
        },
    };
    let sock = unix::unbound().map_err(|e| failed(Some(e)))?;
    unix::connect(&sock, name.as_bytes()).map_err(|e| failed(Some(e)))?;
    let sent = sock.send(message.as_bytes()).map_err(|source| {
        failed(Some(SysError::Os {
            op: String::new(),
            source,
        }))
    })?;
    if sent != message.len() {
        return Err(failed(None));
    }
    Ok(())
}

/// `-N FD`: writes a newline to `fd` and closes it.
///
/// # Errors
/// [`SysError`] "Could not send notification requested by -N option" if the
/// write fails (e.g. FD is not open).
pub fn notify_fd(fd: RawFd) -> Result<(), SysError> {
    // SAFETY: write reads one byte from a static buffer; an invalid fd only
    // makes it fail with EBADF.
    let n = unsafe { libc::write(fd, b"\n".as_ptr().cast(), 1) };
    if n != 1 {
        return Err(SysError::last(
            "Could not send notification requested by -N option",
        ));
    }
    // SAFETY: the descriptor was handed to kronyd by its supervisor for this
    // one message; no object in kronyd owns it, so closing it cannot close a
    // descriptor still in use.
    unsafe { libc::close(fd) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::IntoRawFd;
    use std::os::unix::net::{UnixDatagram, UnixStream};

    #[test]
    fn ready_reaches_a_path_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let supervisor = UnixDatagram::bind(&path).expect("bind");
        notify_socket(path.as_os_str(), READY).expect("notify");
        notify_socket(path.as_os_str(), STOPPING).expect("notify");
        let mut buf = [0u8; 32];
        let n = supervisor.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1");
        let n = supervisor.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn missing_socket_is_an_error_with_chronyds_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = notify_socket(dir.path().join("none").as_os_str(), READY).expect_err("no socket");
        assert!(
            e.to_string()
                .starts_with("Could not send notification to $NOTIFY_SOCKET")
        );
    }

    #[test]
    fn notify_fd_writes_a_newline_and_closes() {
        let (ours, mut theirs) = UnixStream::pair().expect("pair");
        let fd = ours.into_raw_fd();
        notify_fd(fd).expect("notify");
        let mut got = Vec::new();
        // EOF proves the descriptor was closed.
        theirs.read_to_end(&mut got).expect("read");
        assert_eq!(got, b"\n");
        assert!(notify_fd(-1).is_err());
    }
}
