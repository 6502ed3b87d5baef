//! TCP sockets for NTS-KE, opened as clknetsim expects (design.md):
//! `socket(domain, SOCK_STREAM, 0)` with O_NONBLOCK and FD_CLOEXEC set by
//! fcntl, `accept` (not `accept4`) then fcntl; data moves with `send` and
//! `recv` ([`TcpConn`]), which clknetsim intercepts (it does not intercept
//! `write`, which `std::net::TcpStream` uses).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use super::sockaddr::{RawAddr, family_of};
use super::{SysError, check, fd};

/// A connected non-blocking TCP socket.
#[derive(Debug)]
pub struct TcpConn(TcpStream);

impl TcpConn {
    /// The pending socket error (SO_ERROR): a connection that failed.
    ///
    /// # Errors
    /// When getsockopt fails.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }
}

impl AsFd for TcpConn {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl io::Read for TcpConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for writes of buf.len() bytes.
        let n = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

impl io::Write for TcpConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for reads of buf.len() bytes.
        let n = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Starts a non-blocking connection to `remote`; it completes when the
/// socket becomes writable (then check `take_error`).
///
/// # Errors
/// When the socket cannot be created or the connection fails at once.
pub fn connect(remote: SocketAddr) -> Result<TcpConn, SysError> {
    let owned = fd::socket(family_of(&remote.ip()), libc::SOCK_STREAM)?;
    fd::connect(owned.as_fd(), &RawAddr::from_ip(&remote)).map_err(|source| SysError::Os {
        op: format!("connect({remote})"),
        source,
    })?;
    Ok(TcpConn(TcpStream::from(owned)))
}

/// A non-blocking listening socket on `local` (SO_REUSEADDR; IPv6 only
/// for an IPv6 address, as chrony's sockets are).
///
/// # Errors
/// When the socket cannot be created, bound or put into listening state.
pub fn listen(local: SocketAddr, backlog: i32) -> Result<TcpListener, SysError> {
    let owned = fd::socket(family_of(&local.ip()), libc::SOCK_STREAM)?;
    fd::set_int_option(owned.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if local.is_ipv6() {
        fd::set_int_option(owned.as_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    fd::bind(owned.as_fd(), &RawAddr::from_ip(&local)).map_err(|source| SysError::Os {
        op: format!("bind({local})"),
        source,
    })?;
    // SAFETY: listen() takes no pointers; the descriptor is live.
    let ret = unsafe { libc::listen(owned.as_raw_fd(), backlog) };
    check(ret, || format!("listen({local})"))?;
    Ok(TcpListener::from(owned))
}

/// Accepts a waiting connection, non-blocking and close-on-exec;
/// `Ok(None)` when none is waiting.
///
/// # Errors
/// Other accept(2) errors (e.g. EMFILE).
pub fn accept(listener: &TcpListener) -> io::Result<Option<(TcpConn, SocketAddr)>> {
    let mut addr = RawAddr::empty();
    let mut len = addr.socklen();
    // SAFETY: addr.buf is writable for len bytes and aligned for sockaddr.
    let ret = unsafe {
        libc::accept(
            listener.as_raw_fd(),
            addr.buf.0.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if ret < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: ret was just returned by accept() and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(ret) };
    fd::set_nonblock_cloexec(owned.as_fd()).map_err(io::Error::other)?;
    addr.len = (len as usize).min(addr.buf.0.len());
    let peer = addr
        .ip_addr()
        .ok_or_else(|| io::Error::other("accepted a connection from a non-IP address"))?;
    Ok(Some((TcpConn(TcpStream::from(owned)), peer)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn loopback_connection_exchanges_bytes() {
        let l = listen("127.0.0.1:0".parse().expect("addr"), 4).expect("listen");
        let addr = l.local_addr().expect("addr");
        let mut c = connect(addr).expect("connect");
        let mut accepted = None;
        for _ in 0..200 {
            if let Some(a) = accept(&l).expect("accept") {
                accepted = Some(a);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let (mut s, peer) = accepted.expect("a connection");
        assert_eq!(peer.ip(), addr.ip());
        c.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        for _ in 0..200 {
            match s.read(&mut buf) {
                Ok(4) => break,
                _ => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        assert_eq!(&buf, b"ping");
        assert!(accept(&l).expect("accept").is_none());
    }
}
