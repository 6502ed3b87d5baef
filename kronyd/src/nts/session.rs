//! One NTS-KE connection: TLS (rustls) over a non-blocking TCP socket,
//! driven by the event loop's `poll(2)` readiness (chrony's
//! `nts_ke_session.c`). The caller queues one request or response message
//! and reads the peer's message from [`TlsSession::received`].

use std::io::{self, Read, Write};

use krony_wire::UnixTime;
use krony_wire::nts_ke::ALPN;

use crate::sys::poll::Interest;
use crate::sys::tcp::TcpConn;

/// Largest NTS-KE message accepted (chrony's limit).
pub const MAX_MESSAGE_LEN: usize = 16384;

/// Why a session ended badly; the texts are chrony's log messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The TCP connection failed.
    #[error("Could not connect to {label} : {reason}")]
    Connect {
        /// Peer label.
        label: String,
        /// OS error.
        reason: String,
    },
    /// The TLS handshake failed (e.g. an untrusted certificate).
    #[error("TLS handshake with {label} failed : {reason}")]
    Handshake {
        /// Peer label.
        label: String,
        /// rustls error.
        reason: String,
    },
    /// The peer did not agree on ALPN "ntske/1".
    #[error("NTS-KE not supported by {label}")]
    Alpn {
        /// Peer label.
        label: String,
    },
    /// Reading failed after the handshake.
    #[error("Could not receive NTS-KE message from {label} : {reason}")]
    Receive {
        /// Peer label.
        label: String,
        /// Error.
        reason: String,
    },
    /// Writing failed.
    #[error("Could not send NTS-KE message to {label} : {reason}")]
    Send {
        /// Peer label.
        label: String,
        /// Error.
        reason: String,
    },
    /// No complete exchange before the deadline.
    #[error("NTS-KE session with {label} timed out")]
    Timeout {
        /// Peer label.
        label: String,
    },
}

/// A TLS stream over a non-blocking socket.
#[derive(Debug)]
pub struct TlsSession {
    sock: TcpConn,
    conn: rustls::Connection,
    /// The client's TCP connection is still being established.
    connecting: bool,
    /// What the peer sent (plaintext).
    rx: Vec<u8>,
    /// TLS records waiting for room in the socket.
    out: Vec<u8>,
    /// The peer closed its side (TCP EOF or TLS close_notify).
    peer_closed: bool,
    /// Closed our side after sending (close_notify queued).
    closing: bool,
    /// The ALPN check was done after the handshake.
    alpn_checked: bool,
    /// Who the peer is, for log messages.
    pub label: String,
    /// When the session gives up (raw clock).
    pub deadline: UnixTime,
}

impl TlsSession {
    /// A session over `sock`; `connecting` for a client whose connect(2)
    /// is in progress.
    pub fn new(
        sock: TcpConn,
        conn: rustls::Connection,
        connecting: bool,
        label: String,
        deadline: UnixTime,
    ) -> Self {
        TlsSession {
            sock,
            conn,
            connecting,
            rx: Vec::new(),
            out: Vec::new(),
            peer_closed: false,
            closing: false,
            alpn_checked: false,
            label,
            deadline,
        }
    }

    /// The socket, to poll.
    pub fn socket(&self) -> &TcpConn {
        &self.sock
    }

    /// The TLS connection (for the key exporter once the handshake is done).
    pub fn tls(&self) -> &rustls::Connection {
        &self.conn
    }

    /// What to wait for.
    pub fn interest(&self) -> Interest {
        if self.connecting || !self.out.is_empty() || self.conn.wants_write() {
            Interest::READABLE_WRITABLE
        } else {
            Interest::READABLE
        }
    }

    /// Queues `msg` (sent once the handshake is done).
    ///
    /// # Errors
    /// [`SessionError::Send`] if rustls refuses it.
    pub fn send(&mut self, msg: &[u8]) -> Result<(), SessionError> {
        self.conn
            .writer()
            .write_all(msg)
            .map_err(|e| self.send_error(&e))
    }

    /// Sends close_notify after the queued data.
    pub fn close(&mut self) {
        if !self.closing {
            self.closing = true;
            self.conn.send_close_notify();
        }
    }

    /// The plaintext received so far.
    pub fn received(&self) -> &[u8] {
        &self.rx
    }

    /// Whether the peer closed the connection.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Whether everything queued was written.
    pub fn flushed(&self) -> bool {
        self.out.is_empty() && !self.conn.wants_write()
    }

    /// Whether the handshake is complete.
    pub fn handshake_done(&self) -> bool {
        !self.connecting && !self.conn.is_handshaking()
    }

    fn send_error(&self, e: &io::Error) -> SessionError {
        SessionError::Send {
            label: self.label.clone(),
            reason: e.to_string(),
        }
    }

    /// Does whatever I/O is possible now.
    ///
    /// # Errors
    /// A [`SessionError`] that ends the session.
    pub fn handle_ready(&mut self) -> Result<(), SessionError> {
        if self.connecting {
            if let Ok(Some(e)) | Err(e) = self.sock.take_error() {
                return Err(SessionError::Connect {
                    label: self.label.clone(),
                    reason: e.to_string(),
                });
            }
            self.connecting = false;
        }
        // A few rounds: reading may produce handshake data to write.
        for _ in 0..4 {
            let wrote = self.write_tls()?;
            let read = self.read_tls()?;
            if !wrote && !read {
                break;
            }
        }
        self.check_alpn()
    }

    /// Sends what rustls has queued, its records joined so that a flight
    /// leaves in as few segments as the socket takes.
    fn write_tls(&mut self) -> Result<bool, SessionError> {
        while self.conn.wants_write() {
            // OK to ignore: writing into a Vec cannot fail.
            let _ = self.conn.write_tls(&mut self.out);
        }
        let mut any = false;
        while !self.out.is_empty() {
            match self.sock.write(&self.out) {
                Ok(0) => break,
                Ok(n) => {
                    self.out.drain(..n);
                    any = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.send_error(&e)),
            }
        }
        Ok(any)
    }

    fn read_tls(&mut self) -> Result<bool, SessionError> {
        if self.peer_closed {
            return Ok(false);
        }
        let got = match self.conn.read_tls(&mut self.sock) {
            Ok(0) => {
                self.peer_closed = true;
                return Ok(true);
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(false),
            Err(e) => return Err(self.receive_error(e.to_string())),
        };
        if let Err(e) = self.conn.process_new_packets() {
            // Tell the peer why (an alert), if the socket takes it.
            let _ = self.write_tls();
            return Err(self.receive_error(e.to_string()));
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => {
                    self.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    if self.rx.len() + n > MAX_MESSAGE_LEN {
                        return Err(self.receive_error("Message is too long".into()));
                    }
                    self.rx.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(self.receive_error(e.to_string())),
            }
        }
        Ok(got > 0)
    }

    fn receive_error(&self, reason: String) -> SessionError {
        if self.conn.is_handshaking() {
            SessionError::Handshake {
                label: self.label.clone(),
                reason,
            }
        } else {
            SessionError::Receive {
                label: self.label.clone(),
                reason,
            }
        }
    }

    fn check_alpn(&mut self) -> Result<(), SessionError> {
        if self.alpn_checked || !self.handshake_done() {
            return Ok(());
        }
        self.alpn_checked = true;
        if self.conn.alpn_protocol() != Some(ALPN) {
            return Err(SessionError::Alpn {
                label: self.label.clone(),
            });
        }
        Ok(())
    }

    /// The error to report when the deadline passed.
    pub fn timeout_error(&self) -> SessionError {
        SessionError::Timeout {
            label: self.label.clone(),
        }
    }
}
