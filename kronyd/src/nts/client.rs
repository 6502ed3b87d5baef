//! One NTS source's client side (chrony's `NNC_Instance`): when to run
//! NTS-KE and with whom, the session in progress, the cookie jar, the
//! `authdata` report and the `ntsdumpdir` file.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use krony_wire::UnixTime;
use krony_wire::nts_ke::parse_message;
use rustls::pki_types::ServerName;

use super::aead::Aead;
use super::cookies::{Context, CookieJar, ResponseCheck};
use super::ke_client::{self, KeResponse};
use super::session::{SessionError, TlsSession};
use super::tls::export_keys;
use crate::logging::{Severity, log_event};
use crate::sys::tcp;

/// chrony's CLIENT_TIMEOUT: an NTS-KE session must end within this.
const SESSION_TIMEOUT_NS: i64 = 16_000_000_000;
/// Retry after a session could not even start (chrony's 2 s).
const RETRY_START_NS: i64 = 2_000_000_000;
/// log2 of the retry interval's base after a connection failure and after a
/// TLS failure, and the cap (chrony's NKE_RETRY_FACTOR2_* and
/// NKE_MAX_RETRY_INTERVAL2).
const RETRY_FACTOR_CONNECT: u32 = 4;
const RETRY_FACTOR_TLS: u32 = 10;
const MAX_RETRY_INTERVAL2: u32 = 19;

/// The `authdata` values of an NTS source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthReport {
    /// Key ID column: the number of the NTS-KE context.
    pub context_id: u32,
    /// AEAD ID (0 without keys).
    pub key_type: u16,
    /// Key length in bits.
    pub key_bits: u16,
    /// NTS-KE attempts since the last good response.
    pub ke_attempts: u16,
    /// Seconds since the last NTS-KE success (`None`: never).
    pub last_ke_ago: Option<u32>,
    /// Cookies held.
    pub cookies: u16,
    /// Length of the next cookie.
    pub cookie_len: u16,
    /// A NAK was received.
    pub nak: bool,
}

/// What happened after I/O on the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Still running.
    Pending,
    /// New keys and cookies; the NTP address the server negotiated.
    Done(Option<String>, Option<u16>),
    /// The session failed (already logged).
    Failed,
}

/// NTS state of one source.
#[derive(Debug)]
pub struct NtsClient {
    /// The name for certificate verification (and the dump file).
    pub name: String,
    /// The NTS-KE server.
    pub ke_addr: SocketAddr,
    /// `certset`.
    pub cert_set: u32,
    /// Keys, cookies, request in flight.
    pub jar: CookieJar,
    /// The NTS-KE session in progress.
    pub session: Option<TlsSession>,
    /// The AEADs offered (`ntsaeads`, filtered to those supported).
    pub aeads: Vec<Aead>,
    attempts: u32,
    retry_factor: u32,
    next_attempt: Option<UnixTime>,
    /// Monotonic time of the last NTS-KE success.
    pub last_success: Option<UnixTime>,
    context_id: u32,
}

impl NtsClient {
    /// A client for the NTS-KE server at `ke_addr`, certificates checked
    /// against `name`.
    pub fn new(name: String, ke_addr: SocketAddr, cert_set: u32, aeads: Vec<Aead>) -> Self {
        NtsClient {
            name,
            ke_addr,
            cert_set,
            jar: CookieJar::default(),
            session: None,
            aeads,
            attempts: 0,
            retry_factor: RETRY_FACTOR_CONNECT,
            next_attempt: None,
            last_success: None,
            context_id: 0,
        }
    }

    /// Whether the cookies must go (chrony's `check_cookies`): a NAK came
    /// without a valid response, or the keys are older than `refresh`
    /// seconds.
    fn cookies_unusable(&self, mono_now: UnixTime, refresh: u32) -> bool {
        let stale = self.last_success.is_some_and(|t| {
            refresh > 0 && mono_now.as_nanos() - t.as_nanos() > i64::from(refresh) * 1_000_000_000
        });
        !self.jar.cookies.is_empty() && ((self.jar.nak && !self.jar.ok_response) || stale)
    }

    /// Whether a request can be protected now: keys and a usable cookie.
    /// Unusable cookies are kept until a request is due
    /// ([`request_missed`](Self::request_missed)), as chrony drops them only
    /// when it prepares a request.
    pub fn ready(&self, mono_now: UnixTime, refresh: u32) -> bool {
        self.jar.context.is_some()
            && !self.jar.cookies.is_empty()
            && !self.cookies_unusable(mono_now, refresh)
    }

    /// A request was due but the client was not [`ready`](Self::ready):
    /// unusable cookies are dropped now, so that NTS-KE starts
    /// ([`wants_session`](Self::wants_session)).
    pub fn request_missed(&mut self, mono_now: UnixTime, refresh: u32) {
        if self.cookies_unusable(mono_now, refresh) {
            log_event(
                Severity::Debug,
                format!("Dropped cookies for {}", self.name),
            );
            self.jar.drop_cookies();
        }
    }

    /// Whether a new session should start now.
    pub fn wants_session(&self, mono_now: UnixTime) -> bool {
        self.session.is_none()
            && self.jar.cookies.is_empty()
            && self.next_attempt.is_none_or(|t| mono_now >= t)
    }

    /// When the client next needs the loop: the session deadline or the
    /// next attempt (only while it has no cookies).
    pub fn deadline(&self) -> Option<UnixTime> {
        match &self.session {
            Some(s) => Some(s.deadline),
            None if self.jar.cookies.is_empty() => self.next_attempt,
            None => None,
        }
    }

    /// Starts an NTS-KE session (connect, queue the request).
    pub fn start_session(&mut self, mono_now: UnixTime, config: Arc<rustls::ClientConfig>) {
        self.attempts += 1;
        let label = format!("{}:{}", self.name, self.ke_addr.port());
        match self.open_session(mono_now, config, &label) {
            Ok(s) => {
                self.session = Some(s);
                self.schedule_retry(mono_now);
            }
            Err(e) => {
                log_event(Severity::Error, e);
                self.next_attempt =
                    Some(UnixTime::from_nanos(mono_now.as_nanos() + RETRY_START_NS));
            }
        }
    }

    fn open_session(
        &self,
        mono_now: UnixTime,
        config: Arc<rustls::ClientConfig>,
        label: &str,
    ) -> Result<TlsSession, String> {
        let server_name = ServerName::try_from(self.name.clone())
            .map_err(|e| format!("Could not set TLS session : {e}"))?;
        let conn = rustls::ClientConnection::new(config, server_name)
            .map_err(|e| format!("Could not create TLS session : {e}"))?;
        let sock = tcp::connect(self.ke_addr)
            .map_err(|e| format!("Could not connect to {label} : {e}"))?;
        let mut s = TlsSession::new(
            sock,
            rustls::Connection::Client(conn),
            true,
            label.to_string(),
            UnixTime::from_nanos(mono_now.as_nanos() + SESSION_TIMEOUT_NS),
        );
        let req = ke_client::request(&self.aeads).map_err(|e| e.to_string())?;
        s.send(&req).map_err(|e| e.to_string())?;
        Ok(s)
    }

    /// chrony's `update_next_nke_attempt`: exponential backoff by attempts.
    fn schedule_retry(&mut self, mono_now: UnixTime) {
        let exp = (self.retry_factor + self.attempts)
            .saturating_sub(1)
            .min(MAX_RETRY_INTERVAL2);
        let delay = (1i64 << exp) * 1_000_000_000;
        self.next_attempt = Some(UnixTime::from_nanos(mono_now.as_nanos() + delay));
    }

    /// Drives the session after poll readiness or at its deadline.
    pub fn handle_session(&mut self, mono_now: UnixTime, timed_out: bool) -> SessionOutcome {
        let Some(s) = self.session.as_mut() else {
            return SessionOutcome::Pending;
        };
        let result = if timed_out && mono_now >= s.deadline {
            Err(s.timeout_error())
        } else {
            s.handle_ready().map(|()| s.handshake_done())
        };
        match result {
            Err(e) => self.fail(mono_now, &e),
            Ok(_) => self.try_finish(mono_now),
        }
    }

    fn fail(&mut self, mono_now: UnixTime, e: &SessionError) -> SessionOutcome {
        self.retry_factor = match e {
            SessionError::Connect { .. } | SessionError::Timeout { .. } => RETRY_FACTOR_CONNECT,
            _ => RETRY_FACTOR_TLS,
        };
        log_event(Severity::Error, e);
        self.session = None;
        self.schedule_retry(mono_now);
        SessionOutcome::Failed
    }

    /// Takes the response once a whole message (or the end of the stream)
    /// arrived.
    fn try_finish(&mut self, mono_now: UnixTime) -> SessionOutcome {
        let Some(s) = self.session.as_mut() else {
            return SessionOutcome::Pending;
        };
        let parsed = parse_message(s.received());
        let records = match parsed {
            Ok(Some((records, _))) => records,
            Ok(None) if !s.peer_closed() => return SessionOutcome::Pending,
            Ok(None) | Err(_) => return self.invalid_response(mono_now, "Malformed message"),
        };
        let response = match ke_client::process_response(&records, &self.aeads) {
            Ok(r) => r,
            Err(e) => return self.invalid_response(mono_now, &e.to_string()),
        };
        let keys = export_keys(s.tls(), response.aead);
        let took = mono_now.as_nanos() - (s.deadline.as_nanos() - SESSION_TIMEOUT_NS);
        log_event(
            Severity::Debug,
            format!(
                "NTS-KE session with {} completed in {:.3} ms",
                s.label,
                took as f64 / 1e6
            ),
        );
        s.close();
        let _ = s.handle_ready();
        self.session = None;
        match keys {
            Ok((c2s, s2c)) => self.install(mono_now, response, c2s, s2c),
            Err(e) => self.invalid_response(mono_now, &format!("Could not export key : {e}")),
        }
    }

    fn install(
        &mut self,
        mono_now: UnixTime,
        r: KeResponse,
        c2s: Vec<u8>,
        s2c: Vec<u8>,
    ) -> SessionOutcome {
        let context = Context {
            aead: r.aead,
            c2s,
            s2c,
        };
        log_event(
            Severity::Debug,
            format!("Got {} NTS cookies from {}", r.cookies.len(), self.name),
        );
        self.jar.install(context, r.cookies);
        self.context_id += 1;
        self.last_success = Some(mono_now);
        SessionOutcome::Done(r.server, r.port)
    }

    fn invalid_response(&mut self, mono_now: UnixTime, why: &str) -> SessionOutcome {
        log_event(Severity::Debug, format!("NTS-KE response: {why}"));
        log_event(
            Severity::Error,
            format!("Received invalid NTS-KE response from {}", self.name),
        );
        self.session = None;
        self.retry_factor = RETRY_FACTOR_TLS;
        self.schedule_retry(mono_now);
        SessionOutcome::Failed
    }

    /// Checks a response; a valid one means the server and we agree, so a
    /// new session may start as soon as the cookies run out.
    pub fn check_response(&mut self, bytes: &[u8]) -> ResponseCheck {
        let r = self.jar.check_response(bytes);
        match r {
            ResponseCheck::Valid => {
                self.attempts = 0;
                self.next_attempt = None;
            }
            ResponseCheck::Nak => log_event(Severity::Debug, "NTS NAK"),
            ResponseCheck::Invalid => {}
        }
        r
    }

    /// The `authdata` values.
    pub fn report(&self, mono_now: UnixTime) -> AuthReport {
        let ctx = self.jar.context.as_ref();
        AuthReport {
            context_id: self.context_id,
            key_type: ctx.map_or(0, |c| c.aead.id()),
            key_bits: ctx.map_or(0, |c| (c.s2c.len() * 8) as u16),
            ke_attempts: u16::try_from(self.attempts).unwrap_or(u16::MAX),
            last_ke_ago: self.last_success.filter(|_| ctx.is_some()).map(|t| {
                u32::try_from((mono_now.as_nanos() - t.as_nanos()) / 1_000_000_000).unwrap_or(0)
            }),
            cookies: self.jar.cookies.len() as u16,
            cookie_len: self.jar.cookie_len() as u16,
            nak: self.jar.nak,
        }
    }

    /// Restores a dump (see [`super::dump`]); the context counts as
    /// obtained `age_secs` ago.
    pub fn restore(&mut self, mono_now: UnixTime, d: super::dump::ClientDump) {
        self.context_id = d.context_id;
        self.last_success = Some(UnixTime::from_nanos(
            mono_now.as_nanos() - (d.age_secs.max(0.0) * 1e9) as i64,
        ));
        self.jar.install(d.context, d.cookies);
    }

    /// The dump of this client, if it has cookies.
    pub fn dump(
        &self,
        mono_now: UnixTime,
        ntp_addr: SocketAddr,
    ) -> Option<super::dump::ClientDump> {
        let context = self.jar.context.clone()?;
        if self.jar.cookies.is_empty() {
            return None;
        }
        let age = self
            .last_success
            .map_or(0.0, |t| (mono_now.as_nanos() - t.as_nanos()) as f64 / 1e9);
        Some(super::dump::ClientDump {
            name: self.name.clone(),
            age_secs: age,
            ntp_addr,
            context_id: self.context_id,
            context,
            cookies: self.jar.cookies.iter().cloned().collect(),
        })
    }

    /// The dump file's path for this client.
    pub fn dump_path(&self, dir: &Path) -> std::path::PathBuf {
        dir.join(format!("{}.nts", self.ke_addr.ip()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nts::cookies::test_context;

    fn client_with_cookies(now: UnixTime) -> NtsClient {
        let mut c = NtsClient::new(
            "ntp.example".into(),
            "127.0.0.1:4460".parse().expect("addr"),
            0,
            vec![Aead::AesSivCmac256],
        );
        c.jar.install(test_context(), vec![vec![7; 64]; 8]);
        c.last_success = Some(now);
        c
    }

    #[test]
    fn nak_drops_the_cookies_only_when_a_request_is_due() {
        let now = UnixTime::from_secs_nanos(1000, 0);
        let mut c = client_with_cookies(now);
        assert!(c.ready(now, 0));
        c.jar.ok_response = false;
        c.jar.nak = true;
        // Not ready, but no NTS-KE until a poll finds it so.
        assert!(!c.ready(now, 0));
        assert!(!c.wants_session(now));
        assert_eq!(c.deadline(), None);
        c.request_missed(now, 0);
        assert!(c.jar.cookies.is_empty());
        assert!(c.wants_session(now));
    }

    #[test]
    fn a_missed_request_keeps_usable_cookies() {
        let now = UnixTime::from_secs_nanos(1000, 0);
        let mut c = client_with_cookies(now);
        // A NAK followed by a valid response: the cookies are good.
        c.jar.nak = true;
        assert!(c.ready(now, 0));
        c.request_missed(now, 0);
        assert_eq!(c.jar.cookies.len(), 8);
        // Keys older than ntsrefresh go at the next due request.
        let later = UnixTime::from_secs_nanos(1000 + 3601, 0);
        assert!(!c.ready(later, 3600));
        assert!(!c.wants_session(later));
        c.request_missed(later, 3600);
        assert!(c.wants_session(later));
    }
}
