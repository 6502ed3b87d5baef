//! Quit signals as chronyd takes them: the handler only records the signal in
//! an atomic set, and the `poll(2)` it interrupts returns EINTR, after which
//! the loop reads the set. As chronyd: SIGINT, SIGTERM, SIGQUIT and SIGHUP end
//! the daemon cleanly; SIGPIPE is ignored.
//!
//! There is no self-pipe on purpose: clknetsim, which runs chronyd (and
//! kronyd) in simulated time, reports every descriptor it does not simulate as
//! always readable, so a polled pipe would make the loop spin without ever
//! advancing the simulated clock, and it ends a simulation by raising SIGTERM
//! from inside poll, which this design turns into a clean exit. The price is
//! chronyd's: a signal landing between the loop's last look at the set and
//! its entry into poll waits for the next wake-up.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::{SysError, check};

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

/// The signals received and not yet taken, one bit per signal number.
static PENDING: AtomicU32 = AtomicU32::new(0);

/// Whether the handlers are installed (once per process).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The bit of `signum` in [`PENDING`] (signal numbers are below 32 for the
/// ones handled here).
fn bit(signum: libc::c_int) -> u32 {
    u32::try_from(signum)
        .ok()
        .and_then(|n| 1u32.checked_shl(n))
        .unwrap_or(0)
}

/// The signal handler: async-signal-safe (one atomic read-modify-write).
extern "C" fn on_signal(signum: libc::c_int) {
    PENDING.fetch_or(bit(signum), Ordering::SeqCst);
}

/// Installs `handler` (or SIG_IGN) for `signum`, with SA_RESTART as chronyd
/// (poll is never restarted, whatever the flag: it always returns EINTR).
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

/// The installed quit-signal handlers; [`drain`](Self::drain) after each
/// wait.
#[derive(Debug)]
pub struct QuitSignals {
    _private: (),
}

impl QuitSignals {
    /// Installs the handlers for [`Signal::QUIT_SIGNALS`] (and SIG_IGN for
    /// SIGPIPE). Once per process.
    ///
    /// # Errors
    /// [`SysError`] if a handler cannot be set up, or if the handlers were
    /// installed already.
    pub fn install() -> Result<QuitSignals, SysError> {
        if INSTALLED
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(SysError::InvalidArgument(
                "signal handlers already installed".into(),
            ));
        }
        for s in Signal::QUIT_SIGNALS {
            set_action(s.number(), on_signal as *const () as libc::sighandler_t)?;
        }
        set_action(libc::SIGPIPE, libc::SIG_IGN)?;
        Ok(QuitSignals { _private: () })
    }

    /// The signals received since the last call, each once, in
    /// [`Signal::QUIT_SIGNALS`] order.
    pub fn drain(&self) -> Vec<Signal> {
        let got = PENDING.swap(0, Ordering::SeqCst);
        Signal::QUIT_SIGNALS
            .into_iter()
            .filter(|s| got & bit(s.number()) != 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::poll::{Interest, PollSet};
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};

    #[test]
    fn signal_numbers() {
        assert_eq!(Signal::from_number(libc::SIGTERM), Some(Signal::Terminate));
        assert_eq!(Signal::from_number(libc::SIGHUP), Some(Signal::Hangup));
        assert_eq!(Signal::from_number(libc::SIGUSR1), None);
        for s in Signal::QUIT_SIGNALS {
            assert_eq!(Signal::from_number(s.number()), Some(s));
        }
        assert_eq!(bit(-1), 0);
        assert_eq!(bit(40), 0);
    }

    /// The only test that installs the handlers (once per process).
    #[test]
    fn signals_are_recorded_and_interrupt_poll() {
        let signals = QuitSignals::install().expect("install");
        assert!(QuitSignals::install().is_err(), "second install refused");
        assert!(signals.drain().is_empty());
        // SAFETY: raising a signal whose handler is installed just runs it.
        unsafe {
            libc::raise(libc::SIGHUP);
            libc::raise(libc::SIGTERM);
            libc::raise(libc::SIGTERM);
        }
        assert_eq!(signals.drain(), vec![Signal::Terminate, Signal::Hangup]);
        assert!(signals.drain().is_empty());

        // A signal to the polling thread ends its wait early (EINTR), with
        // nothing readable, and is then in the set.
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let (a, _b) = UnixDatagram::pair().expect("pair");
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: `me` is the test thread, alive: it joins us below.
            unsafe { libc::pthread_kill(me, libc::SIGINT) };
        });
        let mut set = PollSet::new();
        set.add(&a, Interest::READABLE);
        let start = Instant::now();
        assert_eq!(set.wait(Some(10_000_000_000)).expect("poll"), 0);
        assert!(start.elapsed() < Duration::from_secs(5));
        sender.join().expect("join");
        assert_eq!(signals.drain(), vec![Signal::Interrupt]);

        // SIGPIPE is ignored: raising it does not kill the test process.
        // SAFETY: as above; SIGPIPE's action is SIG_IGN now.
        unsafe { libc::raise(libc::SIGPIPE) };
        assert!(signals.drain().is_empty());
    }
}
