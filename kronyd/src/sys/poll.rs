//! A thin safe wrapper over `poll(2)`, the only way kronyd waits (clknetsim
//! advances simulated time inside poll; no epoll).

use std::os::fd::{AsFd, AsRawFd};

use super::SysError;

/// What to wait for on a descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interest {
    /// Data to read (POLLIN).
    pub readable: bool,
    /// Messages on the error queue, i.e. transmit timestamps (POLLPRI, which
    /// SO_SELECT_ERR_QUEUE makes the kernel report, and which clknetsim maps
    /// to select's exception set).
    pub errqueue: bool,
    /// Room to write (POLLOUT): a stream connecting or with data queued.
    pub writable: bool,
}

impl Interest {
    /// Readable only.
    pub const READABLE: Interest = Interest {
        readable: true,
        errqueue: false,
        writable: false,
    };
    /// Readable and error queue.
    pub const READABLE_ERRQUEUE: Interest = Interest {
        readable: true,
        errqueue: true,
        writable: false,
    };
    /// Readable and writable.
    pub const READABLE_WRITABLE: Interest = Interest {
        readable: true,
        errqueue: false,
        writable: true,
    };
}

/// What poll reported for one descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness {
    /// POLLIN: recv will not block.
    pub readable: bool,
    /// POLLPRI or POLLERR: the error queue has messages (or a pending error).
    pub errqueue: bool,
    /// POLLHUP or POLLNVAL: the descriptor is closed or invalid.
    pub hangup: bool,
    /// POLLOUT: a write will not block.
    pub writable: bool,
}

impl Readiness {
    fn from_revents(revents: libc::c_short) -> Self {
        Readiness {
            readable: revents & libc::POLLIN != 0,
            errqueue: revents & (libc::POLLPRI | libc::POLLERR) != 0,
            hangup: revents & (libc::POLLHUP | libc::POLLNVAL) != 0,
            writable: revents & libc::POLLOUT != 0,
        }
    }

    /// Whether anything was reported.
    pub fn any(&self) -> bool {
        self.readable || self.errqueue || self.hangup || self.writable
    }
}

/// A set of descriptors to wait on. It does not own them: the loop rebuilds
/// it each time round (as chronyd rebuilds its fd sets), so a descriptor
/// closed meanwhile is simply not added again.
#[derive(Debug, Default)]
pub struct PollSet {
    fds: Vec<libc::pollfd>,
    /// The last wait ended with EINTR (not a timeout).
    interrupted: bool,
}

impl PollSet {
    /// An empty set.
    pub fn new() -> Self {
        PollSet::default()
    }

    /// Removes every descriptor.
    pub fn clear(&mut self) {
        self.fds.clear();
    }

    /// Adds a descriptor; returns its index for [`ready`](Self::ready).
    pub fn add(&mut self, fd: &impl AsFd, interest: Interest) -> usize {
        let mut events = 0;
        if interest.readable {
            events |= libc::POLLIN;
        }
        if interest.errqueue {
            events |= libc::POLLPRI;
        }
        if interest.writable {
            events |= libc::POLLOUT;
        }
        self.fds.push(libc::pollfd {
            fd: fd.as_fd().as_raw_fd(),
            events,
            revents: 0,
        });
        self.fds.len() - 1
    }

    /// The number of descriptors.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// Waits until a descriptor is ready or `timeout_ns` passed (None: forever).
    /// Returns the number of ready descriptors; 0 on timeout or when a signal
    /// interrupted the wait (EINTR), so the loop re-checks its deadlines.
    ///
    /// # Errors
    /// [`SysError`] if poll fails otherwise (EINVAL, ENOMEM).
    pub fn wait(&mut self, timeout_ns: Option<u64>) -> Result<usize, SysError> {
        for p in &mut self.fds {
            p.revents = 0;
        }
        self.interrupted = false;
        let timeout = timeout_ms(timeout_ns);
        // SAFETY: fds points to len initialised pollfd structs, alive and
        // exclusively borrowed for the call.
        let n = unsafe {
            libc::poll(
                self.fds.as_mut_ptr(),
                self.fds.len() as libc::nfds_t,
                timeout,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                self.interrupted = true;
                return Ok(0);
            }
            return Err(SysError::Os {
                op: "poll()".into(),
                source: err,
            });
        }
        // OK because n >= 0 here.
        Ok(n as usize)
    }

    /// Whether the last [`wait`](Self::wait) was interrupted (EINTR) rather
    /// than timed out: its timeout did not necessarily pass, which the time
    /// jump check must know (chronyd's only counts `select() == 0` as one).
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// What the last [`wait`](Self::wait) reported for the descriptor at `index`
    /// (nothing for an index that was not added).
    pub fn ready(&self, index: usize) -> Readiness {
        self.fds
            .get(index)
            .map_or_else(Readiness::default, |p| Readiness::from_revents(p.revents))
    }
}

/// poll's timeout in milliseconds from nanoseconds, rounded up so the loop
/// never wakes before its deadline and spins; -1 (forever) for None; clamped to
/// `c_int::MAX` ms (~24.8 days).
pub fn timeout_ms(timeout_ns: Option<u64>) -> libc::c_int {
    match timeout_ns {
        None => -1,
        Some(ns) => {
            let ms = ns.div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};

    #[test]
    fn timeout_rounds_up_and_clamps() {
        assert_eq!(timeout_ms(None), -1);
        assert_eq!(timeout_ms(Some(0)), 0);
        assert_eq!(timeout_ms(Some(1)), 1);
        assert_eq!(timeout_ms(Some(999_999)), 1);
        assert_eq!(timeout_ms(Some(1_000_000)), 1);
        assert_eq!(timeout_ms(Some(1_000_001)), 2);
        assert_eq!(timeout_ms(Some(u64::MAX)), libc::c_int::MAX);
    }

    #[test]
    fn wakes_on_readable_and_times_out_otherwise() {
        let (a, b) = UnixDatagram::pair().expect("pair");
        let mut set = PollSet::new();
        let ia = set.add(&a, Interest::READABLE);
        let start = Instant::now();
        assert_eq!(set.wait(Some(30_000_000)).expect("poll"), 0);
        assert!(start.elapsed() >= Duration::from_millis(29));
        assert!(!set.ready(ia).any());

        b.send(b"x").expect("send");
        assert_eq!(set.wait(Some(5_000_000_000)).expect("poll"), 1);
        assert!(set.ready(ia).readable);
        assert!(!set.ready(ia).errqueue);
        assert_eq!(set.ready(99), Readiness::default());
    }

    #[test]
    fn reports_hangup() {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("pair");
        drop(b);
        let mut set = PollSet::new();
        let i = set.add(&a, Interest::READABLE);
        assert_eq!(set.wait(Some(1_000_000_000)).expect("poll"), 1);
        assert!(set.ready(i).hangup);
        assert_eq!(set.len(), 1);
        set.clear();
        assert!(set.is_empty());
    }
}
