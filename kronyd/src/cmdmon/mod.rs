//! The command and monitoring server (chronyd's `cmdmon.c`): what chronyc
//! asks over UDP port 323 or the Unix socket, answered from the engine.
//!
//! Sans-IO: the event loop reads a datagram and calls
//! [`CommandServer::handle`] with the bytes, where they came from and the
//! current raw clock reading; it sends [`Handled::reply`] back to the
//! sender, logs [`Handled::logs`] and performs [`Handled::action`] (what
//! only the daemon can do: files, DNS, exiting). After a command the loop
//! drains the engine's outputs as after any other input.
//!
//! Rules (reference §4 "Server rules"), in chronyd's order:
//! 1. UDP from an address that is neither 127.0.0.1/::1 nor `cmdallow`ed:
//!    dropped.
//! 2. Length outside 28..=860, not a request, reserved bytes set: dropped.
//! 3. Counted in the client log ("Command packets received"); over UDP
//!    from another host than localhost, `cmdratelimit` may drop it.
//! 4. Version 5: BADPKTVERSION (older: dropped); unknown or obsolete
//!    command: INVALID; shorter than the command's padded length:
//!    BADPKTLENGTH.
//! 5. The Unix socket may do everything, UDP only the `opencommands`
//!    (others: UNAUTH, "501 Not authorised").
//! 6. No reply is ever longer than its request.

mod add_source;
mod control;
mod reports;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use krony_config::{AccessTarget, Config, OpenCommand, SourceKind, SourceOptions};
use krony_engine::Engine;
use krony_engine::UnixTime;
use krony_engine::access::{AccessAction, AccessTable, Subnet, is_cmd_localhost};
use krony_engine::clientlog::{ClientLog, ClientLogConfig, Limit, RateLimitConfig, Service};
use krony_engine::discipline::LogLevel;
use krony_engine::engine::LogMessage;
use krony_wire::cmdmon::{
    CommandCode, MAX_REQUEST_LEN, MIN_REQUEST_LEN, PKT_TYPE_REQUEST, Reply, ReplyBody,
    RequestHeader, RequestMsg, Status,
};
use rand::RngCore;

/// Why the command server could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmdmonError {
    /// A `cmdallow`/`cmddeny` host name did not resolve.
    #[error("Could not resolve address of {0}")]
    UnresolvedHost(String),
    /// A `cmdallow`/`cmddeny` prefix does not fit its address.
    #[error("Bad subnet in cmdallow/cmddeny: {0}")]
    BadSubnet(String),
    /// `cmdratelimit` together with `noclientlog`.
    #[error("Rate limiting cannot be enabled with noclientlog")]
    RateLimitWithoutLog,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The Unix domain socket: full access.
    Unix,
    /// A UDP socket, from this address: monitoring only.
    Udp(SocketAddr),
}

/// Something the daemon must do for a command (the reply is already made).
#[derive(Debug, Clone, PartialEq)]
pub enum DaemonAction {
    /// `shutdown`: exit as on SIGTERM.
    Shutdown,
    /// `dump`: write the measurement histories to `dumpdir`.
    Dump,
    /// `cyclelogs`: reopen the log files.
    CycleLogs,
    /// `rekey`: read the key file again.
    Rekey,
    /// `reload sources`: read `sourcedir` again, add and remove sources.
    ReloadSources,
    /// `refresh`: resolve the sources' names again.
    Refresh,
    /// `onoffline`: set each source online if it has a route, else offline
    /// (chrony's `SRC_MAYBE_ONLINE`), with
    /// [`Engine::source_command`](krony_engine::Engine::source_command).
    OnOffline,
    /// `add server|pool|peer NAME`: resolve the name and add the source(s)
    /// with [`Engine::add_source`](krony_engine::Engine::add_source), as
    /// chronyd does for an unresolved source (it answered 200 already).
    AddSource(PendingSource),
}

/// A source added by name, waiting for its addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingSource {
    /// server, pool or peer.
    pub kind: SourceKind,
    /// The host name.
    pub name: String,
    /// The options (`options.family` says which addresses to use, and
    /// `options.maxsources` how many for a pool).
    pub options: SourceOptions,
}

/// The outcome of one datagram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handled {
    /// The datagram to send back to the sender, if any.
    pub reply: Option<Vec<u8>>,
    /// What the daemon must do.
    pub action: Option<DaemonAction>,
    /// Lines to log (chronyd's texts).
    pub logs: Vec<LogMessage>,
}

impl Handled {
    fn log(&mut self, level: LogLevel, text: impl Into<String>) {
        self.logs.push(LogMessage {
            level,
            text: text.into(),
        });
    }
}

/// The request codes each `opencommands` word opens (chrony's conf.c: the
/// reports that list sources also open N_SOURCES).
fn open_codes(c: OpenCommand) -> &'static [CommandCode] {
    use CommandCode as C;
    match c {
        OpenCommand::Activity => &[C::ACTIVITY],
        OpenCommand::AuthData => &[C::N_SOURCES, C::AUTH_DATA],
        OpenCommand::Clients => &[C::CLIENT_ACCESSES_BY_INDEX3],
        OpenCommand::Manual => &[C::MANUAL_LIST],
        OpenCommand::NtpData => &[C::N_SOURCES, C::NTP_DATA],
        OpenCommand::RtcData => &[C::RTCREPORT],
        OpenCommand::SelectData => &[C::N_SOURCES, C::SELECT_DATA],
        OpenCommand::ServerStats => &[C::SERVER_STATS],
        OpenCommand::Smoothing => &[C::SMOOTHING],
        OpenCommand::SourceName => &[C::NTP_SOURCE_NAME],
        OpenCommand::Sources => &[C::N_SOURCES, C::SOURCE_DATA],
        OpenCommand::SourceStats => &[C::N_SOURCES, C::SOURCESTATS],
        OpenCommand::Tracking => &[C::TRACKING],
    }
}

/// An access table from `allow`/`deny`-style rules.
fn access_table<F>(
    rules: &[krony_config::AccessRule],
    resolve: &mut F,
) -> Result<AccessTable, CmdmonError>
where
    F: FnMut(&str) -> Option<IpAddr>,
{
    let mut table = AccessTable::new();
    for rule in rules {
        let subnet = match &rule.target {
            AccessTarget::Any => Subnet::ANY,
            AccessTarget::Subnet { addr, prefix } => {
                Subnet::new(Some(*addr), i32::from(*prefix))
                    .map_err(|_| CmdmonError::BadSubnet(format!("{addr}/{prefix}")))?
            }
            AccessTarget::Host(name) => Subnet::host(
                resolve(name).ok_or_else(|| CmdmonError::UnresolvedHost(name.clone()))?,
            ),
        };
        table.apply(AccessAction::new(rule.allow, rule.all), &subnet);
    }
    Ok(table)
}

/// The command server. See the [module documentation](self).
#[derive(Debug)]
pub struct CommandServer {
    /// `cmdallow`/`cmddeny`.
    cmd_access: AccessTable,
    /// Request codes UDP clients may use.
    open: Vec<CommandCode>,
    /// `manual`, or chronyc `manual on`: `settime` is accepted.
    manual_enabled: bool,
    /// The client log settings, for the log kept here when the engine has
    /// no NTP server (`port 0`): chronyd logs command clients regardless.
    log_config: ClientLogConfig,
    /// That log, made at the first request.
    own_log: Option<ClientLog>,
    /// `allow`/`deny` while the engine has no NTP server.
    own_ntp_access: AccessTable,
    /// Key types and lengths (bits) by key ID, for `authdata`.
    key_info: BTreeMap<u32, (u16, u16)>,
    /// Sources added by name and not resolved yet, for `activity`.
    unresolved: u32,
    /// The `rtcfile`, for `writertc`.
    rtc_file: Option<std::path::PathBuf>,
    /// NTS state of NTS sources, for `authdata`.
    nts_auth: BTreeMap<krony_engine::select::SourceId, crate::nts::client::AuthReport>,
}

impl CommandServer {
    /// A server for the configuration; `cmdallow`/`cmddeny` host names
    /// (and `allow`/`deny` ones, used only without an NTP server) are
    /// resolved with `resolve`.
    ///
    /// # Errors
    /// [`CmdmonError`] for an unresolved host, a bad subnet, or
    /// `cmdratelimit` with `noclientlog`.
    pub fn new<F>(config: &Config, mut resolve: F) -> Result<Self, CmdmonError>
    where
        F: FnMut(&str) -> Option<IpAddr>,
    {
        let cmd_access = access_table(&config.cmd_access, &mut resolve)?;
        let own_ntp_access = access_table(&config.ntp_access, &mut resolve)?;
        let mut open = Vec::new();
        for c in &config.open_commands {
            for code in open_codes(*c) {
                if !open.contains(code) {
                    open.push(*code);
                }
            }
        }
        if config.no_client_log && config.cmd_ratelimit.is_some() {
            return Err(CmdmonError::RateLimitWithoutLog);
        }
        let log_config = ClientLogConfig {
            enabled: !config.no_client_log,
            limit_bytes: u64::from(config.client_log_limit),
            ntp: None,
            nts: None,
            cmd: config.cmd_ratelimit.map(|r| RateLimitConfig {
                interval: i32::from(r.interval),
                burst: i32::from(r.burst),
                leak: i32::from(r.leak),
                kod: 0,
            }),
        };
        Ok(CommandServer {
            cmd_access,
            open,
            manual_enabled: config.manual,
            log_config,
            own_log: None,
            own_ntp_access,
            key_info: BTreeMap::new(),
            unresolved: 0,
            rtc_file: config.rtc_file.as_ref().map(std::path::PathBuf::from),
            nts_auth: BTreeMap::new(),
        })
    }

    /// Tells `authdata` the type and length (bits) of symmetric keys; the
    /// daemon calls it after reading the key file and on `rekey` (type
    /// codes: chrony's hash IDs 1 MD5, 2 SHA1, 3 SHA256, 4 SHA384, 5 SHA512,
    /// 6 to 9 SHA3-224 to SHA3-512, 10 TIGER, 11 WHIRLPOOL; CMACs 13 AES128,
    /// 14 AES256).
    pub fn set_key_info(&mut self, info: BTreeMap<u32, (u16, u16)>) {
        self.key_info = info;
    }

    /// Tells `authdata` the NTS state of the NTS sources.
    pub fn set_nts_auth(
        &mut self,
        reports: BTreeMap<krony_engine::select::SourceId, crate::nts::client::AuthReport>,
    ) {
        self.nts_auth = reports;
    }

    /// Tells `activity` how many sources wait for their name to resolve
    /// (the engine only holds resolved ones).
    pub fn set_unresolved_sources(&mut self, n: u32) {
        self.unresolved = n;
    }

    /// Whether `cmdaccheck` would allow `ip` (the table alone, as chrony).
    pub fn cmd_allowed(&self, ip: IpAddr) -> bool {
        self.cmd_access.is_allowed(ip)
    }

    /// Handles one datagram received at raw time `now`. Never panics on
    /// any input; the reply, if any, is never longer than `bytes`.
    pub fn handle<R: RngCore + ?Sized>(
        &mut self,
        engine: &mut Engine,
        now: UnixTime,
        bytes: &[u8],
        origin: Origin,
        rng: &mut R,
    ) -> Handled {
        let mut out = Handled::default();
        let (remote, full_access) = match origin {
            Origin::Unix => (None, true),
            Origin::Udp(from) => {
                let ip = from.ip();
                if !is_cmd_localhost(ip) && !self.cmd_access.is_allowed(ip) {
                    return out;
                }
                (Some(ip), false)
            }
        };
        if !(MIN_REQUEST_LEN..=MAX_REQUEST_LEN).contains(&bytes.len()) {
            return out;
        }
        let Ok(header) = RequestHeader::parse(bytes) else {
            return out;
        };
        if header.pkt_type != PKT_TYPE_REQUEST || header.res1 != 0 || header.res2 != 0 {
            return out;
        }
        if !self.log_access(engine, now, remote, rng) {
            return out;
        }
        let reply = match RequestMsg::parse(bytes) {
            Err(rejection) => rejection.reply(),
            Ok(msg) => Some(self.dispatch(engine, now, &msg, full_access, &mut out)),
        };
        // The padding rule: a reply longer than its request is not sent.
        out.reply = reply
            .and_then(|r| r.to_bytes().ok())
            .filter(|r| r.len() <= bytes.len());
        out
    }

    /// Counts the request in the client log and applies `cmdratelimit`;
    /// false to drop it.
    fn log_access<R: RngCore + ?Sized>(
        &mut self,
        engine: &mut Engine,
        now: UnixTime,
        remote: Option<IpAddr>,
        rng: &mut R,
    ) -> bool {
        let cooked = engine.cook(now);
        let Some(log) = self.client_log(engine, rng) else {
            return true;
        };
        let (_, limit) = log.check_access(Service::Cmd, remote, cooked, rng);
        limit == Limit::Pass
    }

    /// The client log: the NTP server's, or this server's own.
    fn client_log<'a, R: RngCore + ?Sized>(
        &'a mut self,
        engine: &'a mut Engine,
        rng: &mut R,
    ) -> Option<&'a mut ClientLog> {
        if engine.server().is_some() {
            return engine.server_mut().map(|s| s.client_log_mut());
        }
        if self.own_log.is_none() {
            self.own_log = ClientLog::new(&self.log_config, rng).ok();
        }
        self.own_log.as_mut()
    }

    /// The `allow`/`deny` table in force.
    fn ntp_access_mut<'a>(&'a mut self, engine: &'a mut Engine) -> &'a mut AccessTable {
        match engine.server_mut() {
            Some(s) => s.access_mut(),
            None => &mut self.own_ntp_access,
        }
    }

    /// Runs a parsed request and makes its reply.
    fn dispatch(
        &mut self,
        engine: &mut Engine,
        now: UnixTime,
        msg: &RequestMsg,
        full_access: bool,
        out: &mut Handled,
    ) -> Reply {
        let req = &msg.request;
        let command = req.command();
        let (status, body) = if req.is_read_only() {
            if full_access || self.open.contains(&command) {
                self.report(engine, now, req)
            } else {
                (Status::UNAUTH, ReplyBody::Null)
            }
        } else if full_access {
            self.control(engine, now, req, out)
        } else {
            (Status::UNAUTH, ReplyBody::Null)
        };
        let body = if status == Status::SUCCESS {
            body
        } else {
            ReplyBody::Null
        };
        Reply {
            command,
            status,
            sequence: msg.sequence,
            body,
        }
    }
}
