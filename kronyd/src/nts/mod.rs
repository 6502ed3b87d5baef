//! Network Time Security (RFC 8915), client and server, in the daemon's
//! one `poll(2)` loop.
//!
//! The engine stays free of I/O and keys: an NTS source asks nothing but
//! whether the driver is ready ([`Engine::set_source_nts_ready`]); the
//! driver adds the NTS fields to its requests and verifies its responses
//! (reported as `mac_verified`, the seam symmetric keys use); NTS requests
//! to the server are checked here first and the verdict passed with the
//! packet ([`NtsCheck`](krony_engine::server::NtsCheck)), and the NTS fields
//! are appended to the engine's response.
//!
//! - [`aead`]: AES-SIV-CMAC-256 and AES-128-GCM-SIV;
//! - [`tls`]: rustls configurations and the key exporter;
//! - [`session`]: one TLS connection over a non-blocking socket;
//! - [`ke_client`], [`ke_server`]: the NTS-KE messages of each side;
//! - [`cookies`], [`client`], [`dump`]: a source's keys, cookies, NTS-KE
//!   schedule and `ntsdumpdir` file;
//! - [`keys`], [`server_auth`], [`server`]: the server's cookie keys, NTP
//!   request checks, and the NTS-KE listener.

pub mod aead;
pub mod certtime;
pub mod client;
pub mod cookies;
pub mod dump;
pub mod ke_client;
pub mod ke_server;
pub mod keys;
pub mod server;
pub mod server_auth;
pub mod session;
pub mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use krony_config::{Config, SourceSpec};
use krony_engine::Engine;
use krony_engine::select::SourceId;
use krony_engine::source::AuthMode;
use krony_wire::UnixTime;
use rand::SeedableRng;
use rand::rngs::StdRng;

use self::aead::Aead;
use self::client::{AuthReport, NtsClient, SessionOutcome};
use self::cookies::ResponseCheck;
use self::dump::ClientDump;
use self::server::NtsServer;
use self::server_auth::ServerExchange;
use self::tls::ClientTls;
use crate::logging::{Severity, log_event};
use crate::sys::poll::Interest;

/// The AEADs of `ntsaeads` that krony supports, in order; others are
/// reported once and skipped.
pub fn supported_aeads(ids: &[u32]) -> Vec<Aead> {
    let mut out = Vec::new();
    for id in ids {
        match u16::try_from(*id).ok().and_then(Aead::from_id) {
            Some(a) if !out.contains(&a) => out.push(a),
            Some(_) => {}
            None => log_event(
                Severity::Warn,
                format!("Unsupported AEAD algorithm {id} in ntsaeads"),
            ),
        }
    }
    if out.is_empty() {
        out.push(Aead::AesSivCmac256);
    }
    out
}

/// The address of the NTP server an NTS-KE server negotiated: an address
/// literal, the NTS-KE server itself (no record, or its own name), or a
/// name looked up now (blocking, once per NTS-KE session).
fn negotiated_ip(client: &NtsClient, server: Option<&str>) -> Option<std::net::IpAddr> {
    let ke_ip = client.ke_addr.ip();
    let Some(name) = server else {
        return Some(ke_ip);
    };
    if name.eq_ignore_ascii_case(&client.name) {
        return Some(ke_ip);
    }
    let family = if ke_ip.is_ipv4() {
        crate::resolver::Family::V4
    } else {
        crate::resolver::Family::V6
    };
    match crate::resolver::resolve_blocking(name, 0, family) {
        Ok(addrs) if !addrs.is_empty() => addrs.first().map(SocketAddr::ip),
        _ => {
            log_event(
                Severity::Error,
                format!("Could not resolve NTP server {name} from {}", client.name),
            );
            None
        }
    }
}

/// A source's NTS client and the NTP address it belongs to.
#[derive(Debug)]
struct Entry {
    client: NtsClient,
    ntp_addr: SocketAddr,
}

/// Which NTS socket a poll-set entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NtsRef {
    /// A source's NTS-KE session.
    Client(SourceId),
    /// A server listener.
    Listener(usize),
    /// A server session.
    ServerSession(usize),
}

/// All NTS state of the daemon.
#[derive(Debug)]
pub struct Nts {
    clients: BTreeMap<SourceId, Entry>,
    tls: ClientTls,
    aeads: Vec<Aead>,
    refresh: u32,
    dumpdir: Option<PathBuf>,
    /// `nocerttimecheck`: certificate times are not checked before the
    /// clock is synchronised.
    no_cert_time_check: bool,
    /// The NTS-KE server and its cookie keys (`ntsserverkey` given).
    pub server: Option<NtsServer>,
    /// The NTS request being answered (its sender and what the response
    /// needs).
    pending: Option<(SocketAddr, ServerExchange)>,
    rng: StdRng,
}

impl Nts {
    /// The client settings of `config`; the server starts separately.
    pub fn new(config: &Config) -> Self {
        let trusted = config
            .nts_trusted_certs
            .iter()
            .map(|t| (t.set, PathBuf::from(&t.path)))
            .collect();
        Nts {
            clients: BTreeMap::new(),
            tls: ClientTls::new(trusted, !config.no_system_cert),
            aeads: supported_aeads(&config.nts_aeads),
            refresh: config.nts_refresh,
            no_cert_time_check: config.no_cert_time_check > 0,
            dumpdir: config.nts_dumpdir.as_ref().map(PathBuf::from),
            server: None,
            pending: None,
            rng: StdRng::from_os_rng(),
        }
    }

    /// Creates clients for new NTS sources, drops those of removed ones,
    /// tells the engine which can poll, and starts NTS-KE where needed.
    /// `spec_of` gives a source's configuration line, if known.
    pub fn sync(
        &mut self,
        engine: &mut Engine,
        mono_now: UnixTime,
        real_now: f64,
        spec_of: &dyn Fn(SourceId) -> Option<SourceSpec>,
    ) {
        let gone: Vec<SourceId> = self
            .clients
            .iter()
            .filter(|(id, e)| engine.source(**id).is_none_or(|s| s.remote() != e.ntp_addr))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(e) = self.clients.remove(&id) {
                self.save(&e, mono_now, real_now);
            }
        }
        for id in engine.source_ids() {
            let Some(src) = engine.source(id) else {
                continue;
            };
            // A name not resolved yet has a placeholder address.
            if src.params().auth != AuthMode::Nts
                || self.clients.contains_key(&id)
                || engine.is_unresolved(id)
            {
                continue;
            }
            let remote = src.remote();
            let spec = spec_of(id);
            let (name, port, set) = match &spec {
                Some(s) => (s.host.clone(), s.options.ntsport, s.options.certset),
                None => (remote.ip().to_string(), krony_wire::nts_ke::PORT, 0),
            };
            let mut client = NtsClient::new(
                name,
                SocketAddr::new(remote.ip(), port),
                set,
                self.aeads.clone(),
            );
            self.load(&mut client, mono_now, real_now);
            self.clients.insert(
                id,
                Entry {
                    client,
                    ntp_addr: remote,
                },
            );
        }
        let check = !self.no_cert_time_check || engine.reference().is_synchronised();
        self.tls
            .time_checks
            .store(check, std::sync::atomic::Ordering::Relaxed);
        self.update(engine, mono_now);
    }

    /// Readiness to the engine, and new NTS-KE sessions.
    fn update(&mut self, engine: &mut Engine, mono_now: UnixTime) {
        for (id, e) in &mut self.clients {
            if engine.take_source_nts_missed(*id) {
                e.client.request_missed(mono_now, self.refresh);
            }
            let ready = e.client.ready(mono_now, self.refresh);
            engine.set_source_nts_ready(*id, ready);
            if e.client.wants_session(mono_now) {
                match self.tls.config(e.client.cert_set) {
                    Ok(cfg) => e.client.start_session(mono_now, cfg),
                    Err(err) => log_event(Severity::Error, err),
                }
            }
        }
    }

    fn load(&self, client: &mut NtsClient, mono_now: UnixTime, real_now: f64) {
        let Some(dir) = &self.dumpdir else { return };
        let path = client.dump_path(dir);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return;
        };
        // As chrony: the file is used once.
        let _ = std::fs::remove_file(&path);
        match ClientDump::from_text(&text, &client.name, real_now) {
            Some(d) => {
                log_event(
                    Severity::Debug,
                    format!(
                        "Loaded {} cookies for {}",
                        d.cookies.len(),
                        client.ke_addr.ip()
                    ),
                );
                client.restore(mono_now, d);
            }
            None => log_event(
                Severity::Debug,
                format!("Could not load cookies for {}", client.ke_addr.ip()),
            ),
        }
    }

    fn save(&self, e: &Entry, mono_now: UnixTime, real_now: f64) {
        let Some(dir) = &self.dumpdir else { return };
        let Some(d) = e.client.dump(mono_now, e.ntp_addr) else {
            return;
        };
        let path = e.client.dump_path(dir);
        if let Err(err) = dump::write_private(&path, &d.to_text(real_now)) {
            log_event(
                Severity::Debug,
                format!(
                    "Could not save cookies for {} : {err}",
                    e.client.ke_addr.ip()
                ),
            );
        }
    }

    /// Saves every client's cookies (exit, `dump`).
    pub fn save_all(&self, mono_now: UnixTime, real_now: f64) {
        for e in self.clients.values() {
            self.save(e, mono_now, real_now);
        }
    }

    /// The sockets to poll.
    pub fn sockets(&self) -> Vec<(NtsRef, BorrowedFd<'_>, Interest)> {
        let mut out: Vec<(NtsRef, BorrowedFd<'_>, Interest)> = self
            .clients
            .iter()
            .filter_map(|(id, e)| {
                let s = e.client.session.as_ref()?;
                Some((NtsRef::Client(*id), s.socket().as_fd(), s.interest()))
            })
            .collect();
        if let Some(server) = &self.server {
            out.extend(server.sockets());
        }
        out
    }

    /// The next deadline on the monotonic clock.
    pub fn deadline(&self) -> Option<UnixTime> {
        let clients = self.clients.values().filter_map(|e| e.client.deadline());
        let server = self.server.as_ref().and_then(NtsServer::deadline);
        clients.chain(server).min()
    }

    /// I/O on a socket (`timed_out`: called for a deadline, not readiness).
    pub fn handle(&mut self, r: NtsRef, engine: &mut Engine, now: UnixTime, mono_now: UnixTime) {
        match r {
            NtsRef::Client(id) => self.handle_client(id, engine, now, mono_now, false),
            NtsRef::Listener(i) => {
                if let Some(s) = &mut self.server {
                    s.accept(i, engine, now, mono_now);
                }
            }
            NtsRef::ServerSession(i) => {
                if let Some(s) = &mut self.server {
                    s.handle_session(i, mono_now);
                }
            }
        }
    }

    /// Fires the deadlines that are due.
    pub fn handle_timeouts(&mut self, engine: &mut Engine, now: UnixTime, mono_now: UnixTime) {
        let due: Vec<SourceId> = self
            .clients
            .iter()
            .filter(|(_, e)| {
                e.client
                    .session
                    .as_ref()
                    .is_some_and(|s| mono_now >= s.deadline)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.handle_client(id, engine, now, mono_now, true);
        }
        if let Some(s) = &mut self.server {
            s.handle_timeouts(mono_now);
        }
        self.update(engine, mono_now);
    }

    fn handle_client(
        &mut self,
        id: SourceId,
        engine: &mut Engine,
        now: UnixTime,
        mono_now: UnixTime,
        timed_out: bool,
    ) {
        let Some(e) = self.clients.get_mut(&id) else {
            return;
        };
        if let SessionOutcome::Done(server, port) = e.client.handle_session(mono_now, timed_out) {
            let Some(ip) = negotiated_ip(&e.client, server.as_deref()) else {
                // As chrony: the session counts as failed; cookies dropped.
                e.client.jar.drop_cookies();
                self.update(engine, mono_now);
                return;
            };
            let addr = SocketAddr::new(ip, port.unwrap_or(e.ntp_addr.port()));
            if addr != e.ntp_addr {
                match engine.change_source_address(now, id, addr) {
                    Ok(()) => e.ntp_addr = addr,
                    Err(err) => log_event(
                        Severity::Error,
                        format!(
                            "Could not change {} to negotiated address {} : {err}",
                            e.ntp_addr.ip(),
                            ip
                        ),
                    ),
                }
            }
        }
        self.update(engine, mono_now);
    }

    /// Whether `id` is an NTS source.
    pub fn is_client(&self, id: SourceId) -> bool {
        self.clients.contains_key(&id)
    }

    /// Adds the NTS fields to a source's request; `None` if it cannot be
    /// protected (then it must not be sent).
    pub fn protect_request(&mut self, id: SourceId, bytes: &[u8]) -> Option<Vec<u8>> {
        let e = self.clients.get_mut(&id)?;
        e.client.jar.protect_request(bytes, &mut self.rng)
    }

    /// Checks a response from NTS source `id`; true if authentic.
    pub fn check_response(
        &mut self,
        id: SourceId,
        bytes: &[u8],
        engine: &mut Engine,
        mono_now: UnixTime,
    ) -> bool {
        let Some(e) = self.clients.get_mut(&id) else {
            return false;
        };
        let ok = e.client.check_response(bytes) == ResponseCheck::Valid;
        self.update(engine, mono_now);
        ok
    }

    /// `authdata` values per source.
    pub fn auth_reports(&self, mono_now: UnixTime) -> BTreeMap<SourceId, AuthReport> {
        self.clients
            .iter()
            .map(|(id, e)| (*id, e.client.report(mono_now)))
            .collect()
    }

    /// Forgets the NTS request checked last (a packet without NTS fields
    /// is being handled).
    pub fn clear_pending(&mut self) {
        self.pending = None;
    }

    /// Checks an NTS request to the server; the verdict goes to the engine,
    /// and what the response needs is kept for [`Nts::protect_response`].
    pub fn check_request(
        &mut self,
        bytes: &[u8],
        from: SocketAddr,
    ) -> krony_engine::server::NtsCheck {
        self.pending = None;
        let Some(server) = &self.server else {
            return krony_engine::server::NtsCheck::NotChecked;
        };
        match server_auth::check_request(bytes, server.keys(), &mut self.rng) {
            Some((check, x)) => {
                self.pending = Some((from, x));
                check
            }
            None => krony_engine::server::NtsCheck::NotChecked,
        }
    }

    /// Adds the NTS fields to the engine's response to the request checked
    /// last, if `to` sent it; `Ok(None)` for other responses.
    pub fn protect_response(
        &mut self,
        bytes: &[u8],
        to: SocketAddr,
    ) -> Result<Option<Vec<u8>>, ()> {
        match self.pending.take() {
            Some((from, x)) if from == to => {
                server_auth::protect_response(bytes, &x, &mut self.rng)
                    .map(Some)
                    .ok_or(())
            }
            other => {
                self.pending = other;
                Ok(None)
            }
        }
    }
}
