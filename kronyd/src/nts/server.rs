//! The NTS-KE server in the event loop (chrony's `nts_ke_server.c`, with
//! `ntsprocesses` helpers replaced by the one loop): listeners on
//! `ntsport`, connections accepted while under `maxntsconnections` and
//! allowed by `ntsratelimit`, one request and response per connection, and
//! the cookie keys rotated every `ntsrotate` seconds and kept in
//! `ntsdumpdir/ntskeys`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::Arc;

use krony_config::Config;
use krony_engine::Engine;
use krony_engine::clientlog::{Limit, Service};
use krony_wire::UnixTime;
use krony_wire::nts_ke::parse_message;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::NtsRef;
use super::aead::Aead;
use super::cookies::Context;
use super::dump::write_private;
use super::ke_server::{Decision, Negotiation, decide, response};
use super::keys::ServerKeys;
use super::session::TlsSession;
use super::tls::{export_keys, server_config};
use crate::logging::{Severity, log_event};
use crate::sys::poll::Interest;
use crate::sys::tcp;

/// chrony's SERVER_TIMEOUT: a client has this long for its exchange.
const SESSION_TIMEOUT_NS: i64 = 2_000_000_000;
const KEYS_FILE: &str = "ntskeys";

#[derive(Debug)]
struct Conn {
    session: TlsSession,
    /// The response was queued; close once it is written.
    answered: bool,
}

/// The NTS-KE server.
#[derive(Debug)]
pub struct NtsServer {
    listeners: Vec<TcpListener>,
    conns: Vec<Option<Conn>>,
    tls: Arc<rustls::ServerConfig>,
    keys: ServerKeys,
    negotiation: Negotiation,
    max_conns: usize,
    rotate_secs: u32,
    /// Monotonic time of the last key rotation.
    last_rotation: UnixTime,
    dumpdir: Option<PathBuf>,
    rng: StdRng,
}

impl NtsServer {
    /// Sets up the server from `ntsservercert`/`ntsserverkey` and opens the
    /// listeners on `ntsport` (on the `bindaddress` addresses); `None`
    /// without server keys. `ntp_port` is the NTP server port.
    ///
    /// # Errors
    /// chrony-like messages for unreadable certificates or keys.
    pub fn start(
        config: &Config,
        aeads: &[Aead],
        mono_now: UnixTime,
    ) -> Result<Option<Self>, String> {
        if config.nts_server_keys.is_empty() && config.nts_server_certs.is_empty() {
            return Ok(None);
        }
        let tls = server_config(&config.nts_server_certs, &config.nts_server_keys)?;
        if config.nts_processes > 1 {
            log_event(
                Severity::Debug,
                "ntsprocesses: NTS-KE is served by the main loop",
            );
        }
        let mut rng = StdRng::from_os_rng();
        let dumpdir = config.nts_dumpdir.as_ref().map(PathBuf::from);
        let mut server = NtsServer {
            listeners: Vec::new(),
            conns: Vec::new(),
            tls,
            keys: ServerKeys::generate(&mut rng),
            negotiation: Negotiation {
                ntp_server: config.nts_ntp_server.clone(),
                ntp_port: (config.port != krony_wire::ntp::PORT && config.port != 0)
                    .then_some(config.port),
                aeads: aeads.to_vec(),
            },
            max_conns: config.max_nts_connections as usize,
            rotate_secs: config.nts_rotate,
            last_rotation: mono_now,
            dumpdir,
            rng,
        };
        server.load_keys(mono_now);
        server.open_listeners(config);
        Ok(Some(server))
    }

    fn open_listeners(&mut self, config: &Config) {
        let v4 = config.bind_address.v4.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let v6 = config.bind_address.v6.unwrap_or(Ipv6Addr::UNSPECIFIED);
        for ip in [IpAddr::V4(v4), IpAddr::V6(v6)] {
            let local = SocketAddr::new(ip, config.nts_port);
            match tcp::listen(local, 16) {
                Ok(l) => self.listeners.push(l),
                Err(e) => log_event(
                    if ip.is_ipv6() {
                        Severity::Debug
                    } else {
                        Severity::Error
                    },
                    format!("Could not open NTS-KE socket on {local} : {e}"),
                ),
            }
        }
    }

    /// The cookie keys.
    pub fn keys(&self) -> &ServerKeys {
        &self.keys
    }

    /// Sockets to poll: the listeners, then the sessions.
    pub fn sockets(&self) -> Vec<(NtsRef, BorrowedFd<'_>, Interest)> {
        let listeners = self
            .listeners
            .iter()
            .enumerate()
            .map(|(i, l)| (NtsRef::Listener(i), l.as_fd(), Interest::READABLE));
        let sessions = self.conns.iter().enumerate().filter_map(|(i, c)| {
            let c = c.as_ref()?;
            Some((
                NtsRef::ServerSession(i),
                c.session.socket().as_fd(),
                c.session.interest(),
            ))
        });
        listeners.chain(sessions).collect()
    }

    /// The next session deadline or key rotation.
    pub fn deadline(&self) -> Option<UnixTime> {
        let sessions = self.conns.iter().flatten().map(|c| c.session.deadline);
        let rotation = (self.rotate_secs > 0).then(|| {
            UnixTime::from_nanos(
                self.last_rotation.as_nanos() + i64::from(self.rotate_secs) * 1_000_000_000,
            )
        });
        sessions.chain(rotation).min()
    }

    /// Accepts one waiting connection on listener `i` (one per readiness,
    /// as chronyd: clknetsim allows `accept` only when a connection waits;
    /// the loop comes back for the others).
    pub fn accept(&mut self, i: usize, engine: &mut Engine, now: UnixTime, mono_now: UnixTime) {
        let Some(listener) = self.listeners.get(i) else {
            return;
        };
        let (sock, peer) = match tcp::accept(listener) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                log_event(
                    Severity::Debug,
                    format!("Could not accept NTS-KE connection : {e}"),
                );
                return;
            }
        };
        let active = self.conns.iter().flatten().count();
        let limit = engine.server_mut().map(|s| {
            let allowed = s.access().is_allowed(peer.ip());
            let (_, limit) = s.client_log_mut().check_access(
                Service::NtsKe,
                Some(peer.ip()),
                now,
                &mut rand::rng(),
            );
            (allowed, limit)
        });
        match limit {
            Some((true, Limit::Pass | Limit::Kod)) if active < self.max_conns => {}
            _ => {
                log_event(
                    Severity::Debug,
                    format!("Rejected NTS-KE connection from {peer}"),
                );
                return;
            }
        }
        let Ok(conn) = rustls::ServerConnection::new(self.tls.clone()) else {
            return;
        };
        let session = TlsSession::new(
            sock,
            rustls::Connection::Server(conn),
            false,
            peer.to_string(),
            UnixTime::from_nanos(mono_now.as_nanos() + SESSION_TIMEOUT_NS),
        );
        let c = Some(Conn {
            session,
            answered: false,
        });
        match self.conns.iter().position(Option::is_none) {
            Some(slot) => self.conns[slot] = c,
            None => self.conns.push(c),
        }
    }

    /// I/O on session `i`.
    pub fn handle_session(&mut self, i: usize, mono_now: UnixTime) {
        let Some(Some(c)) = self.conns.get_mut(i) else {
            return;
        };
        if let Err(e) = c.session.handle_ready() {
            // Client-side failures are the client's business (chrony logs
            // them at debug level on the server).
            log_event(Severity::Debug, e);
            self.conns[i] = None;
            return;
        }
        if c.answered {
            if c.session.flushed() || c.session.peer_closed() {
                self.conns[i] = None;
            }
            return;
        }
        let records = match parse_message(c.session.received()) {
            Ok(Some((r, _))) => r,
            Ok(None) if !c.session.peer_closed() => return,
            _ => {
                self.conns[i] = None;
                return;
            }
        };
        let decision = decide(&records, &self.negotiation);
        let ctx = match decision {
            Decision::Accept(aead) => export_keys(c.session.tls(), aead)
                .ok()
                .map(|(c2s, s2c)| Context { aead, c2s, s2c }),
            Decision::Error(_) => None,
        };
        let msg = response(
            &decision,
            ctx.as_ref(),
            &self.keys,
            &self.negotiation,
            &mut self.rng,
        );
        let sent = msg
            .map_err(|e| e.to_string())
            .and_then(|m| c.session.send(&m).map_err(|e| e.to_string()));
        if sent.is_err() {
            self.conns[i] = None;
            return;
        }
        c.session.close();
        c.answered = true;
        let _ = c.session.handle_ready();
        c.session.deadline = UnixTime::from_nanos(mono_now.as_nanos() + SESSION_TIMEOUT_NS);
        if c.session.flushed() {
            self.conns[i] = None;
        }
    }

    /// Drops sessions past their deadline and rotates the keys when due.
    pub fn handle_timeouts(&mut self, mono_now: UnixTime) {
        for c in &mut self.conns {
            if c.as_ref().is_some_and(|c| mono_now >= c.session.deadline) {
                *c = None;
            }
        }
        let period = i64::from(self.rotate_secs) * 1_000_000_000;
        if self.rotate_secs > 0 && mono_now.as_nanos() - self.last_rotation.as_nanos() >= period {
            self.keys.rotate(&mut self.rng);
            self.last_rotation = mono_now;
            self.save_keys(mono_now);
        }
    }

    fn keys_path(&self) -> Option<PathBuf> {
        self.dumpdir.as_ref().map(|d| d.join(KEYS_FILE))
    }

    /// Saves the keys (not when rotation is disabled: then they are
    /// managed outside, as in chrony).
    pub fn save_keys(&self, mono_now: UnixTime) {
        if self.rotate_secs == 0 {
            return;
        }
        let Some(path) = self.keys_path() else {
            log_event(Severity::Warn, "No ntsdumpdir to save server keys");
            return;
        };
        let age = (mono_now.as_nanos() - self.last_rotation.as_nanos()) as f64 / 1e9;
        if write_private(&path, &self.keys.to_text(age)).is_err() {
            log_event(Severity::Error, "Could not save server NTS keys");
        }
    }

    fn load_keys(&mut self, mono_now: UnixTime) {
        let Some(path) = self.keys_path() else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            self.save_keys(mono_now);
            return;
        };
        match ServerKeys::from_text(&text) {
            Some((keys, age)) => {
                self.keys = keys;
                self.last_rotation =
                    UnixTime::from_nanos(mono_now.as_nanos() - (age.max(0.0) * 1e9) as i64);
                log_event(Severity::Info, "Loaded server NTS keys");
            }
            None => log_event(Severity::Error, "Could not load server NTS keys"),
        }
    }
}
