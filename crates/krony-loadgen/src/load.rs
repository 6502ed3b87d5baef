//! Sending the load: `sockets` UDP sockets on 127.0.0.1 (one thread each),
//! each keeping at most `window / sockets` requests outstanding, until
//! `requests` were sent; a request not answered within `timeout` counts as
//! lost and frees its place in the window.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::packet::{check_answer, request, request_id, split_id};

/// What to send.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Requests in all.
    pub requests: u64,
    /// Client sockets (and threads).
    pub sockets: u16,
    /// Requests outstanding at most, over all sockets.
    pub window: u32,
    /// How long an answer may take before the request counts as lost.
    pub timeout: Duration,
}

/// What came back.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadResult {
    /// Requests sent.
    pub sent: u64,
    /// Valid answers to our requests.
    pub answered: u64,
    /// Answers that failed the checks, or answered no outstanding request.
    pub invalid: u64,
    /// Requests without an answer within the timeout.
    pub lost: u64,
    /// From the first request to the last answer or loss.
    pub wall: Duration,
}

impl LoadResult {
    /// Valid answers per second of wall time.
    pub fn answered_per_sec(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.answered as f64 / secs
        } else {
            0.0
        }
    }

    fn add(&mut self, other: &LoadResult) {
        self.sent += other.sent;
        self.answered += other.answered;
        self.invalid += other.invalid;
        self.lost += other.lost;
    }
}

/// Sends the load to `target` and waits for the answers.
///
/// # Errors
/// An I/O error of a client socket (creating it or sending).
pub fn run(target: SocketAddr, cfg: &LoadConfig) -> std::io::Result<LoadResult> {
    let sockets = cfg.sockets.max(1);
    let window = (cfg.window / u32::from(sockets)).max(1);
    let start = Instant::now();
    let results: Vec<std::io::Result<LoadResult>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..sockets)
            .map(|i| {
                // Spread the requests evenly, the first sockets take the rest.
                let share = cfg.requests / u64::from(sockets)
                    + u64::from(u64::from(i) < cfg.requests % u64::from(sockets));
                scope.spawn(move || one_socket(target, i, share, window, cfg.timeout))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("load thread panicked")))
            })
            .collect()
    });
    let mut total = LoadResult::default();
    for r in results {
        total.add(&r?);
    }
    total.wall = start.elapsed();
    Ok(total)
}

/// One socket's share: keeps `window` requests outstanding.
fn one_socket(
    target: SocketAddr,
    index: u16,
    requests: u64,
    window: u32,
    timeout: Duration,
) -> std::io::Result<LoadResult> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(target)?;
    sock.set_read_timeout(Some(Duration::from_millis(10)))?;
    let mut out = LoadResult::default();
    // Sequence number -> when it was sent.
    let mut pending: HashMap<u32, Instant> = HashMap::new();
    let mut next: u32 = 0;
    let mut buf = [0u8; 1024];
    while u64::from(next) < requests || !pending.is_empty() {
        while u64::from(next) < requests && pending.len() < window as usize {
            sock.send(&request(request_id(index, next)))?;
            pending.insert(next, Instant::now());
            next += 1;
            out.sent += 1;
        }
        match sock.recv(&mut buf) {
            Ok(len) => match check_answer(&buf[..len]).ok().and_then(split_id) {
                Some((s, seq)) if s == index && pending.remove(&seq).is_some() => {
                    out.answered += 1;
                }
                _ => out.invalid += 1,
            },
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // ECONNREFUSED from an earlier datagram: nothing listens (yet).
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        let before = pending.len();
        pending.retain(|_, sent| now.duration_since(*sent) < timeout);
        out.lost += (before - pending.len()) as u64;
    }
    Ok(out)
}
