//! One configuration line parsed into a typed [`Directive`].

use std::net::{IpAddr, Ipv4Addr};

use crate::error::{ParseError, Reason, WarningKind};
use crate::lexer::Args;
use crate::refclock::{RefclockSpec, parse_refclock};
use crate::settings::{
    FLAG_SETTINGS, FLOAT_SETTINGS, FlagSetting, FloatSetting, INT_SETTINGS, IntSetting,
    STRING_SETTINGS, StringSetting,
};
use crate::source::{INT_MAX, SourceKind, SourceSpec, parse_source_line};
use crate::types::*;

/// Which socket a `bind*address` directive concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindScope {
    /// `bindaddress`: the NTP server socket.
    Ntp,
    /// `bindacqaddress`: the NTP client sockets.
    Acq,
    /// `bindcmdaddress`: the command socket.
    Cmd,
}

/// One parsed configuration line.
#[derive(Debug, Clone, PartialEq)]
pub enum Directive {
    /// `server`, `pool`, `peer`.
    Source(SourceSpec),
    /// `refclock`.
    Refclock(RefclockSpec),
    /// A directive with one integer.
    Int(IntSetting, i64),
    /// A directive with one number.
    Float(FloatSetting, f64),
    /// A directive with one word.
    String(StringSetting, String),
    /// A directive without arguments.
    Flag(FlagSetting),
    /// `allow`/`deny` (`cmd` false) or `cmdallow`/`cmddeny` (`cmd` true).
    Access {
        /// Command access rather than NTP access.
        cmd: bool,
        /// The rule.
        rule: AccessRule,
    },
    /// `authselectmode`.
    AuthSelectMode(AuthSelectMode),
    /// `bindaddress`, `bindacqaddress`, `bindcmdaddress` with an IP address.
    BindAddress(BindScope, IpAddr),
    /// `bindcmdaddress /path` (`/` alone disables the Unix socket).
    BindCmdPath(PathOrDisabled),
    /// `broadcast`.
    Broadcast(Broadcast),
    /// `confdir DIR...` (expanded by the loader).
    ConfDir(Vec<String>),
    /// `driftfile`.
    DriftFile(DriftFile),
    /// `fallbackdrift`.
    FallbackDrift(FallbackDrift),
    /// `hwtimestamp`.
    HwTimestamp(HwTimestamp),
    /// `include PATTERN` (expanded by the loader).
    Include(String),
    /// `initstepslew`.
    InitStepSlew(InitStepSlew),
    /// `leapsecmode`.
    LeapSecMode(LeapSecMode),
    /// `local`.
    Local(Local),
    /// `log`.
    Log(LogKinds),
    /// `mailonchange`.
    MailOnChange(MailOnChange),
    /// `makestep`.
    MakeStep(MakeStep),
    /// `maxchange`.
    MaxChange(MaxChange),
    /// `ntsaeads ID...`.
    NtsAeads(Vec<u32>),
    /// `ntsservercert FILE` (may be repeated).
    NtsServerCert(String),
    /// `ntsserverkey FILE` (may be repeated).
    NtsServerKey(String),
    /// `ntstrustedcerts [SET] PATH` (may be repeated).
    NtsTrustedCerts(TrustedCerts),
    /// `opencommands CMD...`.
    OpenCommands(Vec<OpenCommand>),
    /// `pidfile` (`/` disables).
    PidFile(PathOrDisabled),
    /// `ratelimit`, `ntsratelimit`, `cmdratelimit`: only the options given are set.
    RateLimit {
        /// Which limit.
        kind: RateLimitKind,
        /// `interval`, if given.
        interval: Option<i8>,
        /// `burst`, if given.
        burst: Option<i8>,
        /// `leak`, if given.
        leak: Option<i8>,
        /// `kod`, if given (only `ratelimit`).
        kod: Option<i8>,
    },
    /// `smoothtime`.
    SmoothTime(SmoothTime),
    /// `sourcedir DIR...`.
    SourceDir(Vec<String>),
    /// `tempcomp`.
    TempComp(TempComp),
    /// A directive chrony only warns about (`commandkey`, ...) or ignores (`dumponexit`).
    Obsolete(&'static str),
}

/// A parsed line together with non-fatal remarks about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// The canonical directive name.
    pub name: &'static str,
    /// The directive.
    pub directive: Directive,
    /// Options accepted but without effect.
    pub warnings: Vec<WarningKind>,
}

/// Directives that chrony accepts and ignores (with a warning, except `dumponexit`).
pub const OBSOLETE: [&str; 5] = [
    "commandkey",
    "dumponexit",
    "generatecommandkey",
    "linux_freq_scale",
    "linux_hz",
];

/// Parses one directive: `name` is the first word of the line, `args` the rest.
///
/// # Errors
/// An unknown directive or a malformed argument list.
pub fn parse_directive(name: &str, args: &[&str]) -> Result<ParsedLine, ParseError> {
    let lower = name.to_ascii_lowercase();
    let lower = if lower == "ntscachedir" {
        "ntsdumpdir".to_string()
    } else {
        lower
    };
    if let Some(kind) = SourceKind::from_name(&lower) {
        let (spec, warnings) = parse_source_line(kind, args)?;
        return Ok(ParsedLine {
            name: kind.name(),
            directive: Directive::Source(spec),
            warnings,
        });
    }
    if let Some(parsed) = parse_table_setting(&lower, args)? {
        return Ok(parsed);
    }
    if let Some(&obsolete) = OBSOLETE.iter().find(|o| **o == lower) {
        return Ok(plain(obsolete, Directive::Obsolete(obsolete)));
    }
    let Some(&canonical) = SPECIAL.iter().find(|s| **s == lower) else {
        return Err(ParseError::UnknownDirective(name.to_string()));
    };
    let mut a = Args::new(canonical, args);
    let d = parse_special(canonical, &mut a)?;
    a.finish()?;
    Ok(plain(canonical, d))
}

fn plain(name: &'static str, directive: Directive) -> ParsedLine {
    ParsedLine {
        name,
        directive,
        warnings: Vec::new(),
    }
}

/// Directives with their own grammar (handled by `parse_special`).
pub const SPECIAL: [&str; 34] = [
    "allow",
    "authselectmode",
    "bindacqaddress",
    "bindaddress",
    "bindcmdaddress",
    "broadcast",
    "cmdallow",
    "cmddeny",
    "cmdratelimit",
    "confdir",
    "deny",
    "driftfile",
    "fallbackdrift",
    "hwtimestamp",
    "include",
    "initstepslew",
    "leapsecmode",
    "local",
    "log",
    "mailonchange",
    "makestep",
    "maxchange",
    "ntsaeads",
    "ntsratelimit",
    "ntsservercert",
    "ntsserverkey",
    "ntstrustedcerts",
    "opencommands",
    "pidfile",
    "ratelimit",
    "refclock",
    "smoothtime",
    "sourcedir",
    "tempcomp",
];

fn parse_table_setting(lower: &str, args: &[&str]) -> Result<Option<ParsedLine>, ParseError> {
    let d = if let Some(&(s, name, min, max)) = INT_SETTINGS.iter().find(|e| e.1 == lower) {
        let mut a = Args::new(name, args);
        let v = a.int("value", min, max)?;
        a.finish()?;
        plain(name, Directive::Int(s, v))
    } else if let Some(&(s, name)) = FLOAT_SETTINGS.iter().find(|e| e.1 == lower) {
        let mut a = Args::new(name, args);
        let v = a.float("value")?;
        a.finish()?;
        plain(name, Directive::Float(s, v))
    } else if let Some(&(s, name)) = STRING_SETTINGS.iter().find(|e| e.1 == lower) {
        let mut a = Args::new(name, args);
        let v = a.require("argument")?.to_string();
        a.finish()?;
        plain(name, Directive::String(s, v))
    } else if let Some(&(s, name)) = FLAG_SETTINGS.iter().find(|e| e.1 == lower) {
        Args::new(name, args).finish()?;
        plain(name, Directive::Flag(s))
    } else {
        return Ok(None);
    };
    Ok(Some(d))
}

fn parse_special(name: &'static str, a: &mut Args<'_>) -> Result<Directive, ParseError> {
    Ok(match name {
        "allow" | "deny" | "cmdallow" | "cmddeny" => Directive::Access {
            cmd: name.starts_with("cmd"),
            rule: parse_access(a, name.ends_with("allow"))?,
        },
        "authselectmode" => Directive::AuthSelectMode(parse_authselectmode(a)?),
        "bindaddress" => Directive::BindAddress(BindScope::Ntp, ip(a, "address")?),
        "bindacqaddress" => Directive::BindAddress(BindScope::Acq, ip(a, "address")?),
        "bindcmdaddress" => parse_bindcmdaddress(a)?,
        "broadcast" => Directive::Broadcast(parse_broadcast(a)?),
        "confdir" => Directive::ConfDir(dirs(a)?),
        "sourcedir" => Directive::SourceDir(dirs(a)?),
        "driftfile" => Directive::DriftFile(parse_driftfile(a)?),
        "fallbackdrift" => Directive::FallbackDrift(FallbackDrift {
            min: int32(a, "min-interval")?,
            max: int32(a, "max-interval")?,
        }),
        "hwtimestamp" => Directive::HwTimestamp(crate::directive_more::parse_hwtimestamp(a)?),
        "include" => Directive::Include(a.require("pattern")?.to_string()),
        "initstepslew" => Directive::InitStepSlew(InitStepSlew {
            threshold: a.float("threshold")?,
            hosts: std::iter::from_fn(|| a.next_word())
                .map(str::to_string)
                .collect(),
        }),
        "leapsecmode" => Directive::LeapSecMode(parse_leapsecmode(a)?),
        "local" => Directive::Local(crate::directive_more::parse_local(a)?),
        "log" => Directive::Log(parse_log(a)?),
        "mailonchange" => Directive::MailOnChange(MailOnChange {
            address: a.require("address")?.to_string(),
            threshold: a.float("threshold")?,
        }),
        "makestep" => Directive::MakeStep(MakeStep {
            threshold: a.float("threshold")?,
            limit: int32(a, "limit")?,
        }),
        "maxchange" => Directive::MaxChange(MaxChange {
            offset: a.float("offset")?,
            start: int32(a, "start")?,
            ignore: int32(a, "ignore")?,
        }),
        "ntsaeads" => Directive::NtsAeads(parse_aeads(a)?),
        "ntsservercert" => Directive::NtsServerCert(a.require("file")?.to_string()),
        "ntsserverkey" => Directive::NtsServerKey(a.require("file")?.to_string()),
        "ntstrustedcerts" => Directive::NtsTrustedCerts(parse_trustedcerts(a)?),
        "opencommands" => Directive::OpenCommands(parse_opencommands(a)?),
        "pidfile" => Directive::PidFile(path_or_disabled(a.require("file")?)),
        "ratelimit" => crate::directive_more::parse_ratelimit(a, RateLimitKind::Ntp)?,
        "ntsratelimit" => crate::directive_more::parse_ratelimit(a, RateLimitKind::Nts)?,
        "cmdratelimit" => crate::directive_more::parse_ratelimit(a, RateLimitKind::Cmd)?,
        "refclock" => {
            let rest: Vec<&str> = std::iter::from_fn(|| a.next_word()).collect();
            Directive::Refclock(parse_refclock(&rest)?)
        }
        "smoothtime" => Directive::SmoothTime(crate::directive_more::parse_smoothtime(a)?),
        "tempcomp" => Directive::TempComp(crate::directive_more::parse_tempcomp(a)?),
        _ => return Err(ParseError::UnknownDirective(name.to_string())),
    })
}

pub(crate) fn int32(a: &mut Args<'_>, what: &'static str) -> Result<i32, ParseError> {
    let v = a.int(what, i32::MIN.into(), INT_MAX)?;
    Ok(i32::try_from(v).unwrap_or(0))
}

fn ip(a: &mut Args<'_>, what: &'static str) -> Result<IpAddr, ParseError> {
    let w = a.require(what)?;
    w.parse()
        .map_err(|_| a.invalid(what, w, Reason::Expected("an IP address")))
}

fn path_or_disabled(w: &str) -> PathOrDisabled {
    if w == "/" {
        PathOrDisabled::Disabled
    } else {
        PathOrDisabled::Path(w.to_string())
    }
}

/// chrony accepts at most 10 directories in one `confdir`/`sourcedir` (`MAX_CONF_DIRS`).
pub const MAX_CONF_DIRS: usize = 10;

fn dirs(a: &mut Args<'_>) -> Result<Vec<String>, ParseError> {
    let first = a.require("directory")?;
    let mut v = vec![first.to_string()];
    v.extend(std::iter::from_fn(|| a.next_word()).map(str::to_string));
    if v.len() > MAX_CONF_DIRS {
        let extra = v.get(MAX_CONF_DIRS).cloned().unwrap_or_default();
        return Err(ParseError::TooManyArguments {
            directive: a.directive(),
            extra,
        });
    }
    Ok(v)
}

fn parse_bindcmdaddress(a: &mut Args<'_>) -> Result<Directive, ParseError> {
    let w = a.require("address")?;
    if w.starts_with('/') {
        return Ok(Directive::BindCmdPath(path_or_disabled(w)));
    }
    let addr = w.parse().map_err(|_| {
        a.invalid(
            "address",
            w,
            Reason::Expected("an IP address or a socket path"),
        )
    })?;
    Ok(Directive::BindAddress(BindScope::Cmd, addr))
}

fn parse_access(a: &mut Args<'_>, allow: bool) -> Result<AccessRule, ParseError> {
    let all = a.peek() == Some("all");
    if all {
        a.next_word();
    }
    let target = match a.next_word() {
        None => AccessTarget::Any,
        Some(w) => parse_subnet(w).map_err(|r| a.invalid("subnet", w, r))?,
    };
    Ok(AccessRule { allow, all, target })
}

/// Parses `ADDR`, `ADDR/BITS`, a shortened IPv4 network (`192.168`, `10/8`) or a host name.
fn parse_subnet(w: &str) -> Result<AccessTarget, Reason> {
    let (net, bits) = match w.split_once('/') {
        Some((n, b)) => {
            let bits: u8 = b.parse().map_err(|_| Reason::Expected("a prefix length"))?;
            (n, Some(bits))
        }
        None => (w, None),
    };
    let subnet = |addr: IpAddr, full: u8, default: u8| -> Result<AccessTarget, Reason> {
        let prefix = bits.unwrap_or(default);
        if prefix > full {
            return Err(Reason::OutOfRange {
                min: 0,
                max: full.into(),
            });
        }
        Ok(AccessTarget::Subnet { addr, prefix })
    };
    if let Ok(addr) = net.parse::<IpAddr>() {
        let full = if addr.is_ipv4() { 32 } else { 128 };
        return subnet(addr, full, full);
    }
    // Shortened IPv4 notation: 1 to 3 decimal octets, the rest zero, prefix 8 per octet.
    let octets: Vec<&str> = net.split('.').collect();
    if octets.len() <= 3
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()))
    {
        let mut addr = [0u8; 4];
        for (slot, o) in addr.iter_mut().zip(&octets) {
            *slot = o
                .parse()
                .map_err(|_| Reason::Expected("octets from 0 to 255"))?;
        }
        let default = u8::try_from(octets.len() * 8).unwrap_or(32);
        return subnet(IpAddr::V4(Ipv4Addr::from(addr)), 32, default);
    }
    let hostname_like = net
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && net.bytes().any(|b| b.is_ascii_alphabetic());
    if bits.is_none() && hostname_like {
        return Ok(AccessTarget::Host(net.to_string()));
    }
    Err(Reason::Expected("an address, a subnet or a host name"))
}

fn parse_authselectmode(a: &mut Args<'_>) -> Result<AuthSelectMode, ParseError> {
    let w = a.require("mode")?;
    Ok(match w.to_ascii_lowercase().as_str() {
        "require" => AuthSelectMode::Require,
        "prefer" => AuthSelectMode::Prefer,
        "mix" => AuthSelectMode::Mix,
        "ignore" => AuthSelectMode::Ignore,
        _ => {
            return Err(a.invalid(
                "mode",
                w,
                Reason::Expected("require, prefer, mix or ignore"),
            ));
        }
    })
}

fn parse_leapsecmode(a: &mut Args<'_>) -> Result<LeapSecMode, ParseError> {
    let w = a.require("mode")?;
    Ok(match w.to_ascii_lowercase().as_str() {
        "system" => LeapSecMode::System,
        "step" => LeapSecMode::Step,
        "slew" => LeapSecMode::Slew,
        "ignore" => LeapSecMode::Ignore,
        _ => return Err(a.invalid("mode", w, Reason::Expected("system, step, slew or ignore"))),
    })
}

fn parse_broadcast(a: &mut Args<'_>) -> Result<Broadcast, ParseError> {
    let interval = int32(a, "interval")?;
    let addr = ip(a, "address")?;
    let port = match a.peek() {
        Some(_) => u16::try_from(a.int("port", 0, 65535)?).unwrap_or(123),
        None => 123,
    };
    Ok(Broadcast {
        interval,
        addr,
        port,
    })
}

fn parse_driftfile(a: &mut Args<'_>) -> Result<DriftFile, ParseError> {
    let path = a.require("file")?.to_string();
    let mut interval = 3600;
    if let Some(w) = a.next_word() {
        if !w.eq_ignore_ascii_case("interval") {
            return Err(a.invalid_option(w));
        }
        interval = int32(a, "interval")?;
    }
    Ok(DriftFile { path, interval })
}

fn parse_log(a: &mut Args<'_>) -> Result<LogKinds, ParseError> {
    let mut kinds = LogKinds::default();
    while let Some(w) = a.next_word() {
        match kinds.flag_mut(&w.to_ascii_lowercase()) {
            Some(flag) => *flag = true,
            None => return Err(a.invalid("log kind", w, Reason::Expected(LOG_KINDS_HELP))),
        }
    }
    Ok(kinds)
}

const LOG_KINDS_HELP: &str =
    "rawmeasurements, measurements, selection, statistics, tracking, rtc, refclocks or tempcomp";

fn parse_aeads(a: &mut Args<'_>) -> Result<Vec<u32>, ParseError> {
    let mut ids = Vec::new();
    while a.peek().is_some() {
        ids.push(u32::try_from(a.int("AEAD ID", 0, INT_MAX)?).unwrap_or(0));
    }
    Ok(ids)
}

fn parse_trustedcerts(a: &mut Args<'_>) -> Result<TrustedCerts, ParseError> {
    if a.remaining() == 2 {
        let set = u32::try_from(a.int("set ID", 0, u32::MAX.into())?).unwrap_or(0);
        return Ok(TrustedCerts {
            set,
            path: a.require("path")?.to_string(),
        });
    }
    Ok(TrustedCerts {
        set: 0,
        path: a.require("path")?.to_string(),
    })
}

fn parse_opencommands(a: &mut Args<'_>) -> Result<Vec<OpenCommand>, ParseError> {
    let mut cmds = Vec::new();
    while let Some(w) = a.next_word() {
        let lower = w.to_ascii_lowercase();
        let Some(&(cmd, _)) = OpenCommand::ALL.iter().find(|(_, n)| *n == lower) else {
            return Err(a.invalid("command", w, Reason::Expected("a monitoring command name")));
        };
        if !cmds.contains(&cmd) {
            cmds.push(cmd);
        }
    }
    Ok(cmds)
}
