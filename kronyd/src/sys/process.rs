//! Becoming a daemon, as chronyd's `go_daemon` (main.c): fork, the parent
//! waits on a pipe for the child's verdict on its start-up (a fatal error
//! message, or the end of the pipe when all went well), the child starts a
//! new session, forks again so that it can never reacquire a terminal, moves
//! to `/` and points its standard descriptors at `/dev/null`.
//!
//! Call before any thread is started: `fork` copies only the calling thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{SysError, check, fd};

/// What the first child sends before ending the pipe when it fails: the
/// fatal message, NUL-terminated (`Logger::notify_parent`).
fn parent_message(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// `pipe(2)`: the read end, then the write end (both close-on-exec).
fn pipe() -> Result<(File, File), SysError> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    check(ret, || "pipe()".into())?;
    // SAFETY: pipe2 just returned these two descriptors; nothing else owns them.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((File::from(r), File::from(w)))
}

/// `fork(2)`; `Ok(0)` in the child.
fn fork() -> Result<libc::pid_t, SysError> {
    // SAFETY: fork takes no arguments. kronyd is single-threaded when it
    // calls this (the resolver thread starts later), so the child inherits a
    // consistent address space.
    let pid = unsafe { libc::fork() };
    check(pid, || "fork()".into())
}

/// Turns the process into a daemon and returns, in the daemon, the pipe to
/// the waiting original process: write a fatal message (NUL-terminated) to
/// it to make that process print the message and exit 1, or drop it to make
/// it exit 0. The original process never returns from this function.
///
/// # Errors
/// [`SysError`] if the pipe, a fork, `setsid` or `/dev/null` fails (before
/// the first fork the caller is still attached to its terminal and can
/// report it).
pub fn daemonize() -> Result<File, SysError> {
    let (reader, writer) = pipe()?;
    if fork()? > 0 {
        drop(writer);
        wait_for_child(reader);
    }
    drop(reader);
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::setsid() }, || "setsid()".into())?;
    if fork()? > 0 {
        // SAFETY: _exit takes a status; the intermediate child must not run
        // atexit handlers or flush buffers the daemon owns too.
        unsafe { libc::_exit(0) };
    }
    std::env::set_current_dir("/").map_err(|source| SysError::Os {
        op: "chdir(/)".into(),
        source,
    })?;
    redirect_stdio()?;
    Ok(writer)
}

/// The original process: waits for the daemon's verdict, then exits.
fn wait_for_child(mut reader: File) -> ! {
    let mut bytes = Vec::new();
    // A read error is treated as the end of the pipe: the child is gone.
    let _ = reader.read_to_end(&mut bytes);
    match parent_message(&bytes) {
        Some(msg) => {
            let _ = writeln!(io::stderr(), "Fatal error : {msg}");
            std::process::exit(1);
        }
        None => std::process::exit(0),
    }
}

/// Points descriptors 0, 1 and 2 at `/dev/null`.
fn redirect_stdio() -> Result<(), SysError> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|source| SysError::Os {
            op: "Could not open /dev/null".into(),
            source,
        })?;
    for target in 0..3 {
        // SAFETY: dup2 takes two descriptor numbers; null is open, and
        // replacing 0..2 is the point (nothing in kronyd owns them as objects).
        check(unsafe { libc::dup2(null.as_raw_fd(), target) }, || {
            format!("dup2(/dev/null, {target})")
        })?;
    }
    Ok(())
}

/// Makes a descriptor non-blocking and close-on-exec (e.g. the read end of a
/// wake-up pipe, drained until it would block).
///
/// # Errors
/// [`SysError`] if fcntl fails.
pub fn set_nonblocking(f: BorrowedFd<'_>) -> Result<(), SysError> {
    fd::set_nonblock_cloexec(f)
}

/// A pipe whose read end is non-blocking: a thread writes a byte to wake the
/// loop, which polls the read end.
///
/// # Errors
/// [`SysError`] if the pipe cannot be created.
pub fn wake_pipe() -> Result<(File, File), SysError> {
    let (reader, writer) = pipe()?;
    set_nonblocking(reader.as_fd())?;
    Ok((reader, writer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_messages() {
        assert_eq!(parent_message(b""), None);
        assert_eq!(parent_message(b"\0"), None);
        assert_eq!(
            parent_message(b"Could not open x\0"),
            Some("Could not open x".into())
        );
        assert_eq!(parent_message(b"a\0b"), Some("a".into()));
    }

    #[test]
    fn wake_pipe_reads_do_not_block() {
        let (mut r, mut w) = wake_pipe().expect("pipe");
        let mut buf = [0u8; 8];
        assert_eq!(
            r.read(&mut buf).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        w.write_all(b"x").expect("write");
        assert_eq!(r.read(&mut buf).expect("read"), 1);
    }
}
