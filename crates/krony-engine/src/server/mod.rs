//! The NTP server: answers client (and unknown symmetric-active) requests,
//! with chrony's access control, rate limiting, kiss-o'-death and
//! interleaved mode.
//!
//! Sans-IO like quinn's `Endpoint::handle`: a datagram with its receive
//! timestamp goes in, at most one datagram comes out; the current time and
//! the random generator are passed in.
//!
//! # Use
//! - [`Server::new`] with a [`ServerConfig`] (see
//!   [`ServerConfig::from_config`]).
//! - For every datagram received on the server socket that is not a
//!   response from one of our sources (chrony hands every client-mode
//!   packet, and anything not from a known source address and port, to the
//!   server): [`Server::handle_request`] with the reference's
//!   [`ServerParams`], then send the [`Response`] at once, if any: read
//!   the clock once more right before the send system call and give the
//!   time to [`Server::stamp_response`], which moves a basic response's
//!   transmit timestamp there (as chronyd reads the clock for it only once
//!   the request has been processed).
//! - When the kernel or the NIC reports the transmit timestamp of a
//!   response that [asked for one](Response::wants_tx_timestamp):
//!   [`Server::handle_tx_timestamp`] with the bytes sent. Interleaved
//!   clients then get that more accurate time in our next answer.
//! - After every clock correction: [`Server::handle_clock_change`].
//! - `allow`/`deny` at run time and `accheck`: [`Server::access_mut`];
//!   `clients`, `serverstats`, NTS-KE and command rate limiting:
//!   [`Server::client_log_mut`] (the log is shared by all services).
//!
//! Requests with a symmetric-key MAC are checked, and answered with the
//! same key, through the caller's [`SymmetricKeys`].
//!
//! # Not (yet) supported
//! MS-SNTP requests (which chrony passes to Samba's ntp_signd) are not
//! answered, as chrony does without `ntpsigndsocket`. NTS requests are
//! answered when the driver vouches for them ([`NtsCheck`]). Neither `smoothtime` nor the network-correction
//! field of NTP over PTP (`ptpport`) is applied to responses.

mod auth;
mod config;
pub(crate) mod request;
pub(crate) mod response;

pub use auth::SymmetricKeys;
pub use config::{MIN_PRECISION, ServerConfig, precision_log2};
pub use response::broadcast as broadcast_packet;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use krony_wire::UnixTime;
use krony_wire::ntp::{KissCode, Mode, NtpRepr, NtpTimestamp, Packet};
use rand::RngCore;

use crate::access::AccessTable;
use crate::clientlog::{
    ClientIndex, ClientLog, ClientLogError, Limit, ServerStats, Service, StoredTx, TimestampSource,
};
use crate::discipline::{ChangeKind, ClockChange, ServerParams};
use request::{AuthMode, Request};
use response::{Draft, MonoRoot};

/// Basic responses remembered for [`Server::stamp_response`]. The daemon
/// sends each response right after its request is handled, so one would
/// do; a few more tolerate a caller that never restamps.
const MAX_UNSENT: usize = 8;

/// A later transmit timestamp more than this after the one built into the
/// response is not plausible (chrony's MAX_TX_DELAY for its own packets).
const MAX_STAMP_DELAY: f64 = 1.0;

/// Errors of the server's set-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// A host name in an `allow`/`deny` rule could not be resolved.
    #[error("Could not resolve address of {0}")]
    UnresolvedHost(String),
    /// A prefix length that does not fit its address.
    #[error("Bad subnet in {0}")]
    BadSubnet(String),
    /// The client log refused the configuration (rate limiting with
    /// `noclientlog`).
    #[error(transparent)]
    ClientLog(#[from] ClientLogError),
}

/// The driver's verdict on an NTS-protected request (RFC 8915 §5.7): the
/// NTS server keys stay with the driver, which decrypts the cookie and
/// checks the authenticator before the engine answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NtsCheck {
    /// Not checked (no NTS server, or not an NTS request): an NTS request
    /// is then dropped.
    #[default]
    NotChecked,
    /// Cookie and authenticator are valid: answer; the driver appends the
    /// NTS fields to the response.
    Valid,
    /// The cookie could not be decrypted or the authenticator failed:
    /// answer with an NTS NAK (kiss code NTSN).
    Nak,
}

/// A request as received.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The datagram.
    pub bytes: &'a [u8],
    /// Who sent it (the response goes back there).
    pub remote: SocketAddr,
    /// The local address it was sent to, if known (the response should
    /// leave from it).
    pub local: Option<IpAddr>,
    /// The cooked receive time.
    pub rx_time: UnixTime,
    /// How the receive time was taken.
    pub rx_source: TimestampSource,
    /// The driver's verdict if it is an NTS request.
    pub nts: NtsCheck,
}

/// What kind of answer a [`Response`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseKind {
    /// A basic-mode response: the transmit timestamp is the time passed to
    /// [`Server::handle_request`].
    Basic,
    /// An interleaved response: the transmit timestamp is the TX time of
    /// our previous response to this client.
    Interleaved,
    /// A kiss-o'-death (RATE when rate limited with `kod`).
    Kod(KissCode),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The packet, never longer than the request.
    pub bytes: Vec<u8>,
    /// Destination: the request's sender.
    pub to: SocketAddr,
    /// Source address: the request's destination, if known.
    pub local: Option<IpAddr>,
    /// What the packet is.
    pub kind: ResponseKind,
    /// Whether its TX time is kept for a later interleaved response, so a
    /// kernel or hardware transmit timestamp should be requested and passed
    /// to [`Server::handle_tx_timestamp`] (chrony asks for one only then).
    pub wants_tx_timestamp: bool,
}

/// Why requests went unanswered, and what was sent: krony's own counters,
/// beyond chrony's `serverstats` (which counts only requests that passed
/// the access check, and only rate-limit drops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ServerCounters {
    /// Datagrams that are not NTP packets we can read (length, version,
    /// extension field layout).
    pub malformed: u64,
    /// Requests from addresses the `allow`/`deny` rules deny.
    pub denied: u64,
    /// Packets of a mode we do not answer.
    pub bad_mode: u64,
    /// Requests dropped by rate limiting.
    pub rate_limited: u64,
    /// Requests whose authentication failed or is not supported.
    pub auth_failed: u64,
    /// Responses not sent because they would have been longer than the
    /// request.
    pub too_long: u64,
    /// Responses sent (all kinds).
    pub responses: u64,
    /// Kiss-o'-death responses sent.
    pub kod_responses: u64,
    /// Interleaved responses sent.
    pub interleaved_responses: u64,
}

/// The NTP responder: access table, client log and the state of the
/// monotonic-root extension field.
#[derive(Debug, Clone)]
pub struct Server {
    access: AccessTable,
    log: ClientLog,
    precision: i8,
    mono: MonoRoot,
    counters: ServerCounters,
    /// Basic responses whose transmit timestamp may still be moved to the
    /// time they are really sent.
    unsent: VecDeque<Unsent>,
}

/// A basic response not sent yet, as built.
#[derive(Debug, Clone, Copy)]
struct Unsent {
    receive: NtpTimestamp,
    origin: NtpTimestamp,
    transmit: NtpTimestamp,
    /// The transmit time it was built with.
    tx: UnixTime,
    /// Whether that time is kept for an interleaved follow-up.
    kept: bool,
    /// Random bits for the new transmit timestamp, drawn in advance (as
    /// chronyd does) so that no work is left between reading the clock and
    /// sending.
    fuzz: u64,
}

/// The per-request inputs of a response.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    mode: Mode,
    kod: Option<KissCode>,
    now: UnixTime,
    params: &'a ServerParams,
    keys: Option<&'a dyn SymmetricKeys>,
}

/// The request's origin names one of our receive timestamps and may ask
/// for an interleaved response: what was found for it.
#[derive(Debug, Clone, Copy)]
struct XleaveCandidate {
    /// Our receive timestamp the client echoed.
    prev_rx: NtpTimestamp,
    /// The TX time kept for it, if held and not used yet.
    stored: Option<StoredTx>,
}

impl Server {
    /// A server for `config`; `rng` seeds the client log's hash and the
    /// monotonic-root epoch.
    ///
    /// # Errors
    /// [`ServerError::ClientLog`] if rate limiting is configured together
    /// with `noclientlog`.
    pub fn new<R: RngCore + ?Sized>(
        config: ServerConfig,
        rng: &mut R,
    ) -> Result<Self, ServerError> {
        let log = ClientLog::new(&config.client_log, rng)?;
        Ok(Server {
            access: config.access,
            log,
            precision: config.precision.max(MIN_PRECISION),
            mono: MonoRoot {
                offset: 0.0,
                epoch: rng.next_u32(),
            },
            counters: ServerCounters::default(),
            unsent: VecDeque::new(),
        })
    }

    /// Answers one request, or returns `None` to stay silent.
    ///
    /// `now` is the cooked time at which the response is built: the
    /// transmit timestamp of a basic response, and the TX time kept for a
    /// later interleaved one, until [`stamp_response`](Self::stamp_response)
    /// moves them to the time the response is sent. `params` are the reference's values for now
    /// ([`Reference::server_params`](crate::discipline::Reference::server_params)).
    /// `keys` check and sign requests with a symmetric-key MAC (`None`: no
    /// `keyfile`, such requests are ignored).
    ///
    /// Requests are ignored, as chrony ignores them, when malformed, from a
    /// denied address, of a mode other than client (3), symmetric active (1)
    /// or NTPv1 from a port other than 123, rate limited (unless the limit
    /// answers with a KoD RATE), failing authentication (or using NTS or
    /// MS-SNTP), or when the response would be longer than the request.
    pub fn handle_request<R: RngCore + ?Sized>(
        &mut self,
        rx: &Received<'_>,
        now: UnixTime,
        params: &ServerParams,
        keys: Option<&dyn SymmetricKeys>,
        rng: &mut R,
    ) -> Option<Response> {
        let Ok(req) = request::parse(rx.bytes) else {
            self.counters.malformed += 1;
            return None;
        };
        if !self.access.is_allowed(rx.remote.ip()) {
            self.counters.denied += 1;
            return None;
        }
        let Some(mode) = request::response_mode(req.repr.mode, req.repr.version, rx.remote.port())
        else {
            self.counters.bad_mode += 1;
            return None;
        };
        let (index, limit) =
            self.log
                .check_access(Service::Ntp, Some(rx.remote.ip()), rx.rx_time, rng);
        if limit == Limit::Drop {
            self.counters.rate_limited += 1;
            return None;
        }
        let (authenticated, nak) = self.check_auth(&req, rx, keys)?;
        // A rate-limiting KoD would conflict with the NTS NAK: no answer.
        if nak && limit == Limit::Kod {
            return None;
        }
        let kod = if nak {
            Some(KissCode::Ntsn)
        } else {
            (limit == Limit::Kod).then_some(KissCode::Rate)
        };
        let candidate = self.xleave_candidate(&req.repr, index, kod.is_some());
        let tx_source = match candidate.and_then(|c| c.stored) {
            Some(s) => s.source,
            None => TimestampSource::Daemon,
        };
        self.log.update_ntp_stats(
            authenticated && kod.is_none(),
            Some(rx.rx_source),
            Some(tx_source),
        );
        if req.auth == AuthMode::MsSntp {
            // chrony hands these to ntp_signd, which is not configured.
            self.counters.auth_failed += 1;
            return None;
        }
        let ctx = Ctx {
            mode,
            kod,
            now,
            params,
            keys,
        };
        self.respond(rx, &req, &ctx, candidate, rng)
            .inspect(|r| self.count_response(r))
    }

    /// Whether the request is authenticated (`Some(false)`: it needs no
    /// check) and whether it gets an NTS NAK, or `None` to drop it.
    fn check_auth(
        &mut self,
        req: &Request,
        rx: &Received<'_>,
        keys: Option<&dyn SymmetricKeys>,
    ) -> Option<(bool, bool)> {
        match (req.auth, rx.nts) {
            (AuthMode::None | AuthMode::MsSntp, _) => Some((false, false)),
            (AuthMode::Symmetric, _) if auth::check_request(req, rx.bytes, keys) => {
                Some((true, false))
            }
            (AuthMode::Nts, NtsCheck::Valid) => Some((true, false)),
            (AuthMode::Nts, NtsCheck::Nak) => {
                self.counters.auth_failed += 1;
                Some((false, true))
            }
            // Without NTS server keys an NTS request fails, with no NAK,
            // as in chrony; the extended MS-SNTP form is not supported.
            (AuthMode::Symmetric | AuthMode::Nts | AuthMode::MsSntpExt, _) => {
                self.counters.auth_failed += 1;
                None
            }
        }
    }

    /// Looks up an interleaved request (chrony's test: no KoD, the client is
    /// logged, NTPv4, the origin has our receive flag bit, and receive and
    /// transmit timestamps differ, which a basic-mode client does not
    /// send). A found entry is disabled at once, so it serves one response.
    fn xleave_candidate(
        &mut self,
        repr: &NtpRepr,
        index: Option<ClientIndex>,
        kod: bool,
    ) -> Option<XleaveCandidate> {
        let eligible = !kod
            && index.is_some()
            && repr.version == 4
            && repr.origin_ts.0 & 1 == 1
            && repr.receive_ts != repr.transmit_ts;
        if !eligible {
            return None;
        }
        let prev_rx = repr.origin_ts;
        let stored = self.log.ntp_tx_timestamp(prev_rx.0);
        if stored.is_some() {
            self.log.disable_ntp_timestamps(prev_rx.0);
        }
        Some(XleaveCandidate { prev_rx, stored })
    }

    /// Builds and checks the response, and keeps its timestamps for an
    /// interleaved follow-up when the request may be one.
    fn respond<R: RngCore + ?Sized>(
        &mut self,
        rx: &Received<'_>,
        req: &Request,
        ctx: &Ctx<'_>,
        candidate: Option<XleaveCandidate>,
        rng: &mut R,
    ) -> Option<Response> {
        let Ctx {
            mode,
            kod,
            now,
            params,
            keys,
        } = *ctx;
        // The interleaved mode needs a TX time of the previous response.
        let prev_tx = candidate.and_then(|c| c.stored).and_then(|s| s.tx);
        let draft = Draft {
            mode,
            version: req.repr.version,
            // Suggest a longer polling interval to clients polling faster
            // than the rate limit allows.
            poll: req.repr.poll.max(clamp_i8(self.log.ntp_min_poll())),
            precision: self.precision,
            kod,
            params,
            origin: match prev_tx {
                Some(_) => req.repr.receive_ts,
                None => req.repr.transmit_ts,
            },
            rx: rx.rx_time,
            tx: prev_tx.unwrap_or(now),
            prev_rx: candidate.map(|c| c.prev_rx),
            mono_root: req.mono_root.then_some(self.mono),
        };
        let repr = response::build(&draft, rng);
        let mut bytes = repr.to_vec().ok()?;
        // A symmetric-key request is answered with the same key.
        if let (AuthMode::Symmetric, Some(mac)) = (req.auth, &req.repr.mac) {
            if !auth::sign_response(&mut bytes, repr.version, mac.key_id, keys) {
                self.counters.auth_failed += 1;
                return None;
            }
        }
        // Never answer with more than was sent to us: no amplification.
        if bytes.len() > req.len {
            self.counters.too_long += 1;
            return None;
        }
        if candidate.is_some() {
            self.log
                .save_ntp_timestamps(repr.receive_ts.0, Some(now), TimestampSource::Daemon);
        }
        let kind = match (kod, prev_tx) {
            (Some(code), _) => ResponseKind::Kod(code),
            (None, Some(_)) => ResponseKind::Interleaved,
            (None, None) => ResponseKind::Basic,
        };
        // A MAC covers the transmit timestamp: a signed response keeps it.
        if kind == ResponseKind::Basic && req.auth == AuthMode::None {
            self.remember_unsent(&repr, now, candidate.is_some(), rng);
        }
        Some(Response {
            bytes,
            to: rx.remote,
            local: rx.local,
            kind,
            wants_tx_timestamp: candidate.is_some(),
        })
    }

    /// Keeps what [`stamp_response`](Self::stamp_response) needs of a
    /// basic response, forgetting the oldest beyond [`MAX_UNSENT`].
    fn remember_unsent<R: RngCore + ?Sized>(
        &mut self,
        repr: &NtpRepr,
        tx: UnixTime,
        kept: bool,
        rng: &mut R,
    ) {
        if self.unsent.len() >= MAX_UNSENT {
            self.unsent.pop_front();
        }
        self.unsent.push_back(Unsent {
            receive: repr.receive_ts,
            origin: repr.origin_ts,
            transmit: repr.transmit_ts,
            tx,
            kept,
            fuzz: response::fuzz(self.precision, rng),
        });
    }

    fn count_response(&mut self, r: &Response) {
        self.counters.responses += 1;
        match r.kind {
            ResponseKind::Kod(_) => self.counters.kod_responses += 1,
            ResponseKind::Interleaved => self.counters.interleaved_responses += 1,
            ResponseKind::Basic => {}
        }
    }

    /// Moves the transmit timestamp of a basic response, as built by
    /// [`handle_request`](Self::handle_request), to `tx`: the cooked (and
    /// smoothed) time read right before the response is sent. The time
    /// spent between building and sending would otherwise count as network
    /// delay, on our side of the exchange only, and move the client's
    /// offset by half of it. A TX time kept for the interleaved mode is
    /// moved too. Returns whether `bytes` changed: interleaved, KoD and
    /// signed responses keep their timestamps, and so do responses built
    /// before a clock correction, or when `tx` is earlier than, or more
    /// than a second after, the time they were built with.
    pub fn stamp_response<R: RngCore + ?Sized>(
        &mut self,
        bytes: &mut [u8],
        tx: UnixTime,
        rng: &mut R,
    ) -> bool {
        let Ok(mut packet) = Packet::new_checked(bytes) else {
            return false;
        };
        let (receive, transmit) = (packet.receive_timestamp(), packet.transmit_timestamp());
        let Some(i) = self
            .unsent
            .iter()
            .position(|u| u.receive == receive && u.transmit == transmit)
        else {
            return false;
        };
        let Some(u) = self.unsent.remove(i) else {
            return false;
        };
        if !(0.0..=MAX_STAMP_DELAY).contains(&tx.diff_secs(u.tx)) {
            return false;
        }
        let mut stamp = NtpTimestamp((NtpTimestamp::from_unix(tx).0 ^ u.fuzz) & !1);
        if stamp == u.receive || stamp == u.origin {
            stamp = response::transmit_stamp(tx, self.precision, rng, u.receive, u.origin);
        }
        packet.set_transmit_timestamp(stamp);
        if u.kept {
            self.log
                .update_ntp_tx_timestamp(u.receive.0, Some(tx), TimestampSource::Daemon);
        }
        true
    }

    /// Takes a better transmit time (kernel or hardware) of a response
    /// already sent, given as the bytes sent, and keeps it for the next
    /// interleaved response to that client. Returns whether it was kept:
    /// only responses whose receive timestamp is still held and unused are
    /// updated.
    ///
    /// A clock correction made between receiving the request and sending
    /// the response is removed from `tx`, so that the client measures a
    /// consistent delay. As in chrony, the new time replaces the daemon's
    /// even if it is earlier or much later (it is kept only if within 2 s
    /// of the receive time).
    pub fn handle_tx_timestamp(
        &mut self,
        sent: &[u8],
        tx: UnixTime,
        source: TimestampSource,
    ) -> bool {
        let Ok(repr) = NtpRepr::parse_bytes(sent) else {
            return false;
        };
        if !matches!(repr.mode, Mode::Server | Mode::SymmetricPassive) {
            return false;
        }
        let rx = repr.receive_ts.0;
        if self.log.ntp_tx_timestamp(rx).is_none() {
            return false;
        }
        let tx = self.log.undo_ntp_tx_slew(rx, tx);
        self.log.update_ntp_tx_timestamp(rx, Some(tx), source);
        true
    }

    /// Follows a correction of the clock: the interleaved store learns the
    /// offset (an unknown step empties it), and the monotonic timescale of
    /// the experimental extension field absorbs slews and restarts with a
    /// new random epoch after a step.
    pub fn handle_clock_change<R: RngCore + ?Sized>(&mut self, change: &ClockChange, rng: &mut R) {
        self.log
            .clock_changed(change.doffset, change.kind == ChangeKind::UnknownStep);
        // Their receive timestamps are on the old time scale.
        self.unsent.clear();
        match change.kind {
            ChangeKind::Adjust => self.mono.offset += change.doffset,
            ChangeKind::Step | ChangeKind::UnknownStep => {
                self.mono = MonoRoot {
                    offset: 0.0,
                    epoch: rng.next_u32(),
                };
            }
        }
    }

    /// The `allow`/`deny` table (for `accheck`).
    pub fn access(&self) -> &AccessTable {
        &self.access
    }

    /// The `allow`/`deny` table, to change at run time (cmdmon ALLOW,
    /// DENY, ...).
    pub fn access_mut(&mut self) -> &mut AccessTable {
        &mut self.access
    }

    /// The client log.
    pub fn client_log(&self) -> &ClientLog {
        &self.log
    }

    /// The client log, for the `clients` report and for NTS-KE and command
    /// requests, which it also logs and limits.
    pub fn client_log_mut(&mut self) -> &mut ClientLog {
        &mut self.log
    }

    /// chronyc `serverstats`.
    pub fn server_stats(&self) -> ServerStats {
        self.log.server_stats()
    }

    /// krony's own counters.
    pub fn counters(&self) -> ServerCounters {
        self.counters
    }

    /// The precision advertised in responses (log2 s).
    pub fn precision(&self) -> i8 {
        self.precision
    }
}

fn clamp_i8(v: i32) -> i8 {
    // OK: clamped into the i8 range first.
    v.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

#[cfg(test)]
pub(crate) mod tests;
