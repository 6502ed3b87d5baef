//! A minimal NTP client for the end-to-end tests: client-mode requests
//! from a socket bound to a chosen loopback address (so that `allow`,
//! `deny` and the client log can tell test clients apart), answers matched
//! to requests by their origin timestamp.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use krony_wire::ntp::{KissCode, LeapIndicator, Mode, NtpRepr};

/// What came back for the requests sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Answers {
    /// Server-mode answers with a valid time (stratum 1-15).
    pub normal: u64,
    /// KoD RATE answers (stratum 0, refid "RATE").
    pub kod_rate: u64,
    /// Anything else that matched one of our requests.
    pub other: u64,
}

impl Answers {
    /// All answers.
    pub fn total(&self) -> u64 {
        self.normal + self.kod_rate + self.other
    }
}

/// A client socket bound to `ip` (any port) sending to `server`.
pub struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    sent: HashSet<u64>,
    next: u64,
}

impl Client {
    pub fn new(ip: &str, server: SocketAddr) -> Client {
        let ip: IpAddr = ip.parse().unwrap();
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        Client {
            sock,
            server,
            sent: HashSet::new(),
            next: 1,
        }
    }

    /// Sends one client-mode request with a unique transmit timestamp.
    pub fn send(&mut self) {
        let tx = 0x1234_5678_0000_0000 + self.next;
        self.next += 1;
        self.sock
            .send_to(&krony_loadgen::packet::request(tx), self.server)
            .unwrap();
        self.sent.insert(tx);
    }

    /// Sends `n` requests, `chunk` at a time with a short pause between
    /// chunks so that no socket buffer overflows.
    pub fn send_many(&mut self, n: usize, chunk: usize) {
        for i in 0..n {
            self.send();
            if (i + 1) % chunk == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Reads answers until every request got one or nothing came for
    /// `quiet`; each request is answered at most once.
    pub fn collect(&mut self, quiet: Duration) -> Answers {
        let mut answers = Answers::default();
        let mut last = Instant::now();
        let mut buf = [0u8; 1024];
        while last.elapsed() < quiet && !self.sent.is_empty() {
            let Ok((len, from)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let Ok(p) = NtpRepr::parse_bytes(&buf[..len]) else {
                continue;
            };
            if from != self.server || !self.sent.remove(&p.origin_ts.0) {
                continue;
            }
            last = Instant::now();
            let kod = p.stratum == 0 && KissCode::from(p.reference_id) == KissCode::Rate;
            if kod && p.leap == LeapIndicator::Unsynchronized {
                answers.kod_rate += 1;
            } else if p.mode == Mode::Server && (1..16).contains(&p.stratum) {
                answers.normal += 1;
            } else {
                answers.other += 1;
            }
        }
        answers
    }
}
