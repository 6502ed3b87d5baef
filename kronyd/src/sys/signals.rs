//! Signals through a self-pipe: the handler only writes the signal number to a
//! non-blocking pipe; the loop polls the pipe's read end and acts on what it
//! reads, outside the handler. As chronyd: SIGINT, SIGTERM, SIGQUIT and SIGHUP
//! end the daemon cleanly; SIGPIPE is ignored.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use super::{SysError, check, fd};

/// A signal kronyd handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGQUIT.
    Quit,
    /// SIGHUP.
    Hangup,
}

impl Signal {
    /// The signals chronyd exits on.
    pub const QUIT_SIGNALS: [Signal; 4] = [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Quit,
        Signal::Hangup,
    ];

    /// Its number.
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Quit => libc::SIGQUIT,
            Signal::Hangup => libc::SIGHUP,
        }
    }

    /// The signal with this number, if kronyd handles it.
    pub fn from_number(n: libc::c_int) -> Option<Signal> {
        Signal::QUIT_SIGNALS.into_iter().find(|s| s.number() == n)
    }
}

/// The pipe's write end, for the handler (-1 until installed).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The signal handler: async-signal-safe (an atomic load and write(2)), and
/// errno is preserved for the code it interrupted.
extern "C" fn on_signal(signum: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // OK: signal numbers are below 65.
    let byte = signum as u8;
    // SAFETY: __errno_location returns this thread's errno; write reads one
    // byte from a live local. A full pipe makes write fail (non-blocking),
    // which loses nothing: a byte is already waiting for the loop.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, (&raw const byte).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// Installs `handler` (or SIG_IGN) for `signum`, with SA_RESTART as chronyd.
fn set_action(signum: libc::c_int, handler: libc::sighandler_t) -> Result<(), SysError> {
    // SAFETY: sigaction is a plain C struct; all zeroes is a valid (empty)
    // value that we complete below.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: sa.sa_mask is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: sa is initialised; the old action is not requested (null).
    let ret = unsafe { libc::sigaction(signum, &sa, std::ptr::null_mut()) };
    check(ret, || format!("sigaction({signum})")).map(drop)
}

/// The read end of the self-pipe; poll it for readability.
#[derive(Debug)]
pub struct SignalPipe {
    read: OwnedFd,
}

impl SignalPipe {
    /// Creates the pipe and installs the handlers for [`Signal::QUIT_SIGNALS`]
    /// (and SIG_IGN for SIGPIPE). Once per process.
    ///
    /// # Errors
    /// [`SysError`] if the pipe or a handler cannot be set up, or if the
    /// handlers were installed already.
    pub fn install() -> Result<SignalPipe, SysError> {
        let mut fds = [-1 as libc::c_int; 2];
        // SAFETY: fds has room for the two descriptors pipe writes.
        check(unsafe { libc::pipe(fds.as_mut_ptr()) }, || "pipe()".into())?;
        // SAFETY: pipe just returned these two descriptors; nothing else owns them.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        fd::set_nonblock_cloexec(read.as_fd())?;
        fd::set_nonblock_cloexec(write.as_fd())?;
        let raw_write = write.as_raw_fd();
        if WRITE_FD
            .compare_exchange(-1, raw_write, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(SysError::InvalidArgument(
                "signal handlers already installed".into(),
            ));
        }
        // The write end lives as long as the process: the handler may run at
        // any time after this.
        let _ = write.into_raw_fd();
        for s in Signal::QUIT_SIGNALS {
            set_action(s.number(), on_signal as *const () as libc::sighandler_t)?;
        }
        set_action(libc::SIGPIPE, libc::SIG_IGN)?;
        Ok(SignalPipe { read })
    }

    /// The signals received since the last call (in order, duplicates kept).
    pub fn drain(&self) -> Vec<Signal> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: buf is writable for its length.
            let n =
                unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                // EAGAIN (empty), or EINTR: whatever is left wakes poll again.
                break;
            }
            // OK because 0 < n <= buf.len().
            let got = &buf[..n as usize];
            out.extend(
                got.iter()
                    .filter_map(|&b| Signal::from_number(libc::c_int::from(b))),
            );
        }
        out
    }
}

impl AsFd for SignalPipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::poll::{Interest, PollSet};

    #[test]
    fn signal_numbers() {
        assert_eq!(Signal::from_number(libc::SIGTERM), Some(Signal::Terminate));
        assert_eq!(Signal::from_number(libc::SIGHUP), Some(Signal::Hangup));
        assert_eq!(Signal::from_number(libc::SIGUSR1), None);
        for s in Signal::QUIT_SIGNALS {
            assert_eq!(Signal::from_number(s.number()), Some(s));
        }
    }

    /// The only test that installs the handlers (once per process).
    #[test]
    fn signals_arrive_through_the_pipe_and_wake_poll() {
        let pipe = SignalPipe::install().expect("install");
        assert!(SignalPipe::install().is_err(), "second install refused");
        assert!(pipe.drain().is_empty());
        // SAFETY: raising a signal whose handler is installed just runs it.
        unsafe {
            libc::raise(libc::SIGTERM);
            libc::raise(libc::SIGHUP);
        }
        let mut set = PollSet::new();
        let i = set.add(&pipe, Interest::READABLE);
        assert_eq!(set.wait(Some(1_000_000_000)).expect("poll"), 1);
        assert!(set.ready(i).readable);
        assert_eq!(pipe.drain(), vec![Signal::Terminate, Signal::Hangup]);
        assert!(pipe.drain().is_empty());
        // SIGPIPE is ignored: raising it does not kill the test process.
        // SAFETY: as above; SIGPIPE's action is SIG_IGN now.
        unsafe { libc::raise(libc::SIGPIPE) };
        assert!(pipe.drain().is_empty());
    }
}
