//! Host names resolved without blocking the event loop: a thread calls
//! `getaddrinfo` (through std's `ToSocketAddrs`, which clknetsim intercepts
//! like chrony's own resolver thread) and hands each answer back through a
//! channel, writing a byte to a pipe the loop polls to wake it.
//!
//! Addresses written as such (`192.0.2.1`, `2001:db8::1`) never reach the
//! thread: [`parse_literal`] takes them at once, so a configuration without
//! host names starts no thread at all.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use crate::sys::SysError;
use crate::sys::process::wake_pipe;

/// Which address families an answer may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv4 and IPv6.
    #[default]
    Any,
    /// IPv4 only (`-4`, the `ipv4` source option).
    V4,
    /// IPv6 only (`-6`, `ipv6`).
    V6,
}

impl Family {
    /// Whether `ip` is of this family.
    pub fn accepts(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    /// The narrower of two restrictions; `None` when they exclude each other.
    pub fn and(self, other: Family) -> Option<Family> {
        match (self, other) {
            (Family::Any, f) | (f, Family::Any) => Some(f),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }
}

/// A name to resolve; `tag` comes back with the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The caller's reference for the answer.
    pub tag: u64,
    /// The host name.
    pub name: String,
    /// The port the addresses get.
    pub port: u16,
    /// The families wanted.
    pub family: Family,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The request's tag.
    pub tag: u64,
    /// The addresses, without duplicates, in the resolver's order; an error
    /// text when the name could not be resolved.
    pub result: Result<Vec<SocketAddr>, String>,
}

/// An address written as such, with no lookup.
pub fn parse_literal(name: &str) -> Option<IpAddr> {
    name.parse().ok()
}

/// Resolves `name` now (blocking): the resolver thread's work, also usable
/// before the loop runs.
///
/// # Errors
/// The resolver's error text, or "No addresses" when none is of `family`.
pub fn resolve_blocking(name: &str, port: u16, family: Family) -> Result<Vec<SocketAddr>, String> {
    if let Some(ip) = parse_literal(name) {
        return if family.accepts(&ip) {
            Ok(vec![SocketAddr::new(ip, port)])
        } else {
            Err("No addresses".into())
        };
    }
    let found = (name, port).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in found {
        if family.accepts(&a.ip()) && !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err("No addresses".into());
    }
    Ok(out)
}

/// The resolver thread and the loop's end of its channels.
#[derive(Debug)]
pub struct Resolver {
    requests: Sender<Request>,
    responses: Receiver<Response>,
    wake: File,
    /// Requests sent and not answered yet.
    outstanding: usize,
}

impl Resolver {
    /// Starts the thread.
    ///
    /// # Errors
    /// [`SysError`] if the wake-up pipe or the thread cannot be created.
    pub fn start() -> Result<Resolver, SysError> {
        let (wake, mut wake_writer) = wake_pipe()?;
        let (requests, req_rx) = mpsc::channel::<Request>();
        let (resp_tx, responses) = mpsc::channel::<Response>();
        thread::Builder::new()
            .name("resolver".into())
            .spawn(move || {
                // Ends when the loop drops its sender.
                while let Ok(req) = req_rx.recv() {
                    let result = resolve_blocking(&req.name, req.port, req.family);
                    if resp_tx
                        .send(Response {
                            tag: req.tag,
                            result,
                        })
                        .is_err()
                    {
                        break;
                    }
                    // A full pipe already holds a wake-up byte.
                    let _ = wake_writer.write(&[1]);
                }
            })
            .map_err(|source| SysError::Os {
                op: "starting the resolver thread".into(),
                source,
            })?;
        Ok(Resolver {
            requests,
            responses,
            wake,
            outstanding: 0,
        })
    }

    /// Queues a request.
    pub fn submit(&mut self, req: Request) {
        // The thread lives as long as the sender; a send cannot fail
        // unless it panicked, and then the name stays unresolved.
        if self.requests.send(req).is_ok() {
            self.outstanding += 1;
        }
    }

    /// Whether answers are still due: poll the pipe only then, as chronyd
    /// watches its resolver's pipe only while a lookup runs. (clknetsim
    /// reports every descriptor it does not simulate as readable, so an
    /// idle pipe in the poll set would spin the loop in simulated time.)
    pub fn busy(&self) -> bool {
        self.outstanding > 0
    }

    /// The answers received so far (call when the wake-up pipe is readable).
    pub fn drain(&mut self) -> Vec<Response> {
        let mut buf = [0u8; 64];
        loop {
            match self.wake.read(&mut buf) {
                Ok(n) if n > 0 => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                _ => break,
            }
        }
        let got: Vec<Response> = self.responses.try_iter().collect();
        self.outstanding = self.outstanding.saturating_sub(got.len());
        got
    }
}

impl AsFd for Resolver {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::poll::{Interest, PollSet};

    #[test]
    fn literals_need_no_lookup() {
        assert_eq!(
            resolve_blocking("192.0.2.1", 123, Family::Any),
            Ok(vec!["192.0.2.1:123".parse().expect("addr")])
        );
        assert!(resolve_blocking("192.0.2.1", 123, Family::V6).is_err());
        assert_eq!(parse_literal("ntp.example"), None);
        assert_eq!(
            parse_literal("::1"),
            Some(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
        );
    }

    #[test]
    fn families_combine() {
        assert_eq!(Family::Any.and(Family::V4), Some(Family::V4));
        assert_eq!(Family::V6.and(Family::V6), Some(Family::V6));
        assert_eq!(Family::V4.and(Family::V6), None);
    }

    #[test]
    fn thread_answers_through_the_pipe() {
        let mut r = Resolver::start().expect("resolver");
        assert!(!r.busy());
        r.submit(Request {
            tag: 7,
            name: "localhost".into(),
            port: 123,
            family: Family::V4,
        });
        r.submit(Request {
            tag: 8,
            name: "name.invalid".into(),
            port: 123,
            family: Family::Any,
        });
        let mut got = Vec::new();
        for _ in 0..100 {
            let mut set = PollSet::new();
            set.add(&r, Interest::READABLE);
            set.wait(Some(100_000_000)).expect("poll");
            got.extend(r.drain());
            if got.len() == 2 {
                break;
            }
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(!r.busy(), "every answer taken");
        assert_eq!(got[0].tag, 7);
        let addrs = got[0].result.as_ref().expect("localhost resolves");
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 123)
        );
        assert_eq!(got[1].tag, 8);
        assert!(got[1].result.is_err());
    }
}
