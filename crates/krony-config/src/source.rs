//! The NTP source grammar: `server|pool|peer HOST [option]...`.
//!
//! The same grammar is used by the configuration file, by `sourcedir` files and by
//! `kronyc add server|pool|peer ...`, so [`parse_source_line`] is public.

use std::fmt;

use crate::error::{ParseError, Reason, WarningKind};
use crate::lexer::{Args, fmt_float};

/// How the source is associated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// `server`: client/server mode (RFC 5905 mode 3).
    Server,
    /// `pool`: a name resolving to several servers.
    Pool,
    /// `peer`: symmetric active mode (RFC 5905 mode 1).
    Peer,
}

impl SourceKind {
    /// The directive name (`server`, `pool`, `peer`).
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Server => "server",
            SourceKind::Pool => "pool",
            SourceKind::Peer => "peer",
        }
    }

    /// Parses a directive name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        [SourceKind::Server, SourceKind::Pool, SourceKind::Peer]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// Address family restriction of a source (`ipv4`/`ipv6` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// Either family.
    #[default]
    Any,
    /// Only IPv4 addresses.
    Ipv4,
    /// Only IPv6 addresses.
    Ipv6,
}

/// Selection options shared by NTP sources and refclocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SelectOptions {
    /// `noselect`: never select the source.
    pub noselect: bool,
    /// `prefer`: prefer the source over sources without it.
    pub prefer: bool,
    /// `trust`: assume its time is always true.
    pub trust: bool,
    /// `require`: at least one such source must be selectable.
    pub require: bool,
}

impl SelectOptions {
    /// Sets the flag named `word`; returns false if `word` is not a selection option.
    pub(crate) fn set(&mut self, word: &str) -> bool {
        let flag = match word.to_ascii_lowercase().as_str() {
            "noselect" => &mut self.noselect,
            "prefer" => &mut self.prefer,
            "trust" => &mut self.trust,
            "require" => &mut self.require,
            _ => return false,
        };
        *flag = true;
        true
    }

    pub(crate) fn write(&self, out: &mut String) {
        for (on, name) in [
            (self.noselect, "noselect"),
            (self.prefer, "prefer"),
            (self.trust, "trust"),
            (self.require, "require"),
        ] {
            if on {
                out.push(' ');
                out.push_str(name);
            }
        }
    }
}

/// NTPv4 extension fields enabled with `extfield TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtFields {
    /// Type 0x010A (alias 0xF324): network correction for NTP over PTP.
    pub net_correction: bool,
    /// Type 0xF323: experimental monotonic root timestamp (NTPv5 proposal).
    pub exp_mono_root: bool,
}

/// Options of a `server`/`pool`/`peer` line, with chrony's defaults (`srcparams.h`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOptions {
    /// Minimum poll interval, log2 seconds (default 6). chrony clamps to -7..24.
    pub minpoll: i8,
    /// Maximum poll interval, log2 seconds (default 10). chrony clamps to -7..24.
    pub maxpoll: i8,
    /// Target number of measurements for the regression (default 8).
    pub polltarget: i32,
    /// Start with a burst of requests.
    pub iburst: bool,
    /// Send a burst when a good measurement cannot be obtained.
    pub burst: bool,
    /// Smallest poll at which an extra packet is sent before the measurement (`None`: never).
    pub presend: Option<i8>,
    /// Symmetric key ID for MAC authentication (1..2^32-1).
    pub key: Option<u32>,
    /// NTS authentication.
    pub nts: bool,
    /// Set of trusted certificates for NTS (default 0).
    pub certset: u32,
    /// NTS-KE port (default 4460).
    pub ntsport: u16,
    /// Maximum round-trip delay in seconds (default 3.0).
    pub maxdelay: f64,
    /// Maximum ratio of delay to the minimum delay (0.0 disables the test).
    pub maxdelayratio: f64,
    /// Maximum ratio of the delay increase to the standard deviation (default 10.0).
    pub maxdelaydevratio: f64,
    /// Maximum delay as a quantile of the delay (0.0 disables; sensible 0.05..0.95).
    pub maxdelayquant: f64,
    /// Fixed minimum round-trip delay in seconds (0.0: use the measured minimum).
    pub mindelay: f64,
    /// Jitter asymmetry (-0.5..0.5); `None` estimates it automatically.
    pub asymmetry: Option<f64>,
    /// Correction added to measured offsets, seconds.
    pub offset: f64,
    /// Minimum samples kept (`None`: the `minsamples` directive).
    pub minsamples: Option<u32>,
    /// Maximum samples kept (`None`: the `maxsamples` directive).
    pub maxsamples: Option<u32>,
    /// Polls a source may stay selected while unreachable (default 100000).
    pub maxunreach: u32,
    /// Median filter length in polls (0: disabled).
    pub filter: u32,
    /// Selection options.
    pub select: SelectOptions,
    /// Minimum stratum assumed for the source (0..16).
    pub minstratum: u8,
    /// Start offline.
    pub offline: bool,
    /// Go offline automatically when sending fails.
    pub auto_offline: bool,
    /// Interleaved mode.
    pub xleave: bool,
    /// Server UDP port (default 123).
    pub port: u16,
    /// NTP version of requests (`None`: chosen automatically).
    pub version: Option<u8>,
    /// Copy the server's reference ID and stratum.
    pub copy: bool,
    /// Enabled extension fields.
    pub extfields: ExtFields,
    /// Address family restriction.
    pub family: Family,
    /// Desired number of sources from a pool (default 4; chrony caps it at 16).
    pub maxsources: u32,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            minpoll: 6,
            maxpoll: 10,
            polltarget: 8,
            iburst: false,
            burst: false,
            presend: None,
            key: None,
            nts: false,
            certset: 0,
            ntsport: 4460,
            maxdelay: 3.0,
            maxdelayratio: 0.0,
            maxdelaydevratio: 10.0,
            maxdelayquant: 0.0,
            mindelay: 0.0,
            asymmetry: None,
            offset: 0.0,
            minsamples: None,
            maxsamples: None,
            maxunreach: 100_000,
            filter: 0,
            select: SelectOptions::default(),
            minstratum: 0,
            offline: false,
            auto_offline: false,
            xleave: false,
            port: 123,
            version: None,
            copy: false,
            extfields: ExtFields::default(),
            family: Family::Any,
            maxsources: 4,
        }
    }
}

/// One NTP source: `server|pool|peer HOST [options]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    /// Association type.
    pub kind: SourceKind,
    /// Host name or address, as written.
    pub host: String,
    /// Options with defaults applied.
    pub options: SourceOptions,
}

/// The largest value of a C `int`, the limit of chrony's unbounded integer options.
pub(crate) const INT_MAX: i64 = i32::MAX as i64;

/// Parses the arguments of a source line (the words after `server`, `pool` or `peer`).
///
/// Options that chrony accepts but ignores for this kind (e.g. `iburst` in `peer`,
/// `maxsources` outside `pool`) are returned as warnings.
///
/// # Errors
/// A missing host name, an unknown option, or a bad or out-of-range value.
///
/// # Example
/// ```
/// use krony_config::{parse_source_line, SourceKind};
/// let (src, warnings) = parse_source_line(SourceKind::Server, &["ntp.example", "iburst"]).unwrap();
/// assert!(src.options.iburst && warnings.is_empty());
/// assert_eq!(src.options.minpoll, 6);
/// ```
pub fn parse_source_line(
    kind: SourceKind,
    args: &[&str],
) -> Result<(SourceSpec, Vec<WarningKind>), ParseError> {
    let mut a = Args::new(kind.name(), args);
    let host = a.require("hostname")?.to_string();
    let mut o = SourceOptions::default();
    let mut warnings = Vec::new();
    while let Some(word) = a.next_word() {
        let opt = word.to_ascii_lowercase();
        if let Some(name) = ignored_option(kind, &opt) {
            warnings.push(WarningKind::OptionIgnored(name));
        }
        parse_source_option(&mut a, &mut o, word, &opt)?;
    }
    Ok((
        SourceSpec {
            kind,
            host,
            options: o,
        },
        warnings,
    ))
}

/// Options chrony accepts for every kind but which have no effect for `kind`.
fn ignored_option(kind: SourceKind, opt: &str) -> Option<&'static str> {
    const PEER_IGNORED: [&str; 5] = ["iburst", "burst", "nts", "presend", "copy"];
    match kind {
        SourceKind::Peer => PEER_IGNORED
            .into_iter()
            .find(|o| *o == opt)
            .or((opt == "maxsources").then_some("maxsources")),
        SourceKind::Server => (opt == "maxsources").then_some("maxsources"),
        SourceKind::Pool => None,
    }
}

fn small(a: &mut Args<'_>, what: &'static str, min: i64, max: i64) -> Result<i8, ParseError> {
    let v = a.int(what, min, max)?;
    // OK: callers pass bounds within i8.
    Ok(i8::try_from(v).unwrap_or_default())
}

fn unsigned(a: &mut Args<'_>, what: &'static str, min: i64, max: i64) -> Result<u32, ParseError> {
    let v = a.int(what, min, max)?;
    Ok(u32::try_from(v).unwrap_or_default())
}

fn parse_source_option(
    a: &mut Args<'_>,
    o: &mut SourceOptions,
    word: &str,
    opt: &str,
) -> Result<(), ParseError> {
    match opt {
        "auto_offline" => o.auto_offline = true,
        "burst" => o.burst = true,
        "copy" => o.copy = true,
        "iburst" => o.iburst = true,
        "offline" => o.offline = true,
        "nts" => o.nts = true,
        "xleave" => o.xleave = true,
        "ipv4" => o.family = Family::Ipv4,
        "ipv6" => o.family = Family::Ipv6,
        "certset" => o.certset = unsigned(a, "certset", 0, u32::MAX.into())?,
        "key" => o.key = Some(unsigned(a, "key", 1, u32::MAX.into())?),
        "asymmetry" => o.asymmetry = Some(a.float("asymmetry")?),
        "extfield" => parse_extfield(a, o)?,
        "filter" => o.filter = unsigned(a, "filter", 0, INT_MAX)?,
        "maxdelay" => o.maxdelay = a.float("maxdelay")?,
        "maxdelayratio" => o.maxdelayratio = a.float("maxdelayratio")?,
        "maxdelaydevratio" => o.maxdelaydevratio = a.float("maxdelaydevratio")?,
        "maxdelayquant" => o.maxdelayquant = a.float("maxdelayquant")?,
        "maxpoll" => o.maxpoll = small(a, "maxpoll", -32, 32)?,
        "maxsamples" => o.maxsamples = Some(unsigned(a, "maxsamples", 0, INT_MAX)?),
        "maxsources" => o.maxsources = unsigned(a, "maxsources", 1, INT_MAX)?,
        "maxunreach" => o.maxunreach = unsigned(a, "maxunreach", 0, INT_MAX)?,
        "mindelay" => o.mindelay = a.float("mindelay")?,
        "minpoll" => o.minpoll = small(a, "minpoll", -32, 32)?,
        "minsamples" => o.minsamples = Some(unsigned(a, "minsamples", 0, INT_MAX)?),
        // RFC 5905 §7.3: stratum 16 means unsynchronised, the largest meaningful value.
        "minstratum" => o.minstratum = small(a, "minstratum", 0, 16)?.unsigned_abs(),
        "ntsport" => o.ntsport = unsigned(a, "ntsport", 0, 65535)?.try_into().unwrap_or(0),
        "offset" => o.offset = a.float("offset")?,
        "port" => o.port = unsigned(a, "port", 0, 65535)?.try_into().unwrap_or(0),
        "polltarget" => o.polltarget = a.int("polltarget", 1, INT_MAX)?.try_into().unwrap_or(8),
        "presend" => o.presend = Some(small(a, "presend", -32, 32)?),
        // RFC 5905 uses version 4; versions 1..3 are accepted for old servers.
        "version" => o.version = Some(small(a, "version", 1, 4)?.unsigned_abs()),
        _ => {
            if !o.select.set(opt) {
                return Err(a.invalid_option(word));
            }
        }
    }
    Ok(())
}

fn parse_extfield(a: &mut Args<'_>, o: &mut SourceOptions) -> Result<(), ParseError> {
    let w = a.require("extfield")?;
    let invalid = |a: &Args<'_>, r| a.invalid("extfield", w, r);
    let hex = w
        .strip_prefix("0x")
        .or_else(|| w.strip_prefix("0X"))
        .unwrap_or(w);
    let t = u32::from_str_radix(hex, 16)
        .map_err(|_| invalid(a, Reason::Expected("a hexadecimal type")))?;
    match t {
        0x010A | 0xF324 => o.extfields.net_correction = true,
        0xF323 => o.extfields.exp_mono_root = true,
        _ => return Err(invalid(a, Reason::Expected("10A or F323"))),
    }
    Ok(())
}

impl fmt::Display for SourceSpec {
    /// Prints the line in canonical form: only options that differ from the defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = format!("{} {}", self.kind.name(), self.host);
        write_options(&self.options, &mut s);
        f.write_str(&s)
    }
}

fn push_opt(s: &mut String, name: &str, value: impl fmt::Display) {
    s.push(' ');
    s.push_str(name);
    s.push(' ');
    s.push_str(&value.to_string());
}

fn write_options(o: &SourceOptions, s: &mut String) {
    let d = SourceOptions::default();
    for (on, name) in [
        (o.iburst, "iburst"),
        (o.burst, "burst"),
        (o.offline, "offline"),
        (o.auto_offline, "auto_offline"),
        (o.nts, "nts"),
        (o.xleave, "xleave"),
        (o.copy, "copy"),
        (o.family == Family::Ipv4, "ipv4"),
        (o.family == Family::Ipv6, "ipv6"),
    ] {
        if on {
            s.push(' ');
            s.push_str(name);
        }
    }
    let ints: [(&str, i64, i64); 10] = [
        ("minpoll", o.minpoll.into(), d.minpoll.into()),
        ("maxpoll", o.maxpoll.into(), d.maxpoll.into()),
        ("polltarget", o.polltarget.into(), d.polltarget.into()),
        ("certset", o.certset.into(), d.certset.into()),
        ("ntsport", o.ntsport.into(), d.ntsport.into()),
        ("maxunreach", o.maxunreach.into(), d.maxunreach.into()),
        ("filter", o.filter.into(), d.filter.into()),
        ("minstratum", o.minstratum.into(), d.minstratum.into()),
        ("port", o.port.into(), d.port.into()),
        ("maxsources", o.maxsources.into(), d.maxsources.into()),
    ];
    for (name, v, def) in ints {
        if v != def {
            push_opt(s, name, v);
        }
    }
    let opts: [(&str, Option<i64>); 5] = [
        ("presend", o.presend.map(i64::from)),
        ("key", o.key.map(i64::from)),
        ("minsamples", o.minsamples.map(i64::from)),
        ("maxsamples", o.maxsamples.map(i64::from)),
        ("version", o.version.map(i64::from)),
    ];
    for (name, v) in opts {
        if let Some(v) = v {
            push_opt(s, name, v);
        }
    }
    let floats = [
        ("maxdelay", o.maxdelay, d.maxdelay),
        ("maxdelayratio", o.maxdelayratio, d.maxdelayratio),
        ("maxdelaydevratio", o.maxdelaydevratio, d.maxdelaydevratio),
        ("maxdelayquant", o.maxdelayquant, d.maxdelayquant),
        ("mindelay", o.mindelay, d.mindelay),
        ("offset", o.offset, d.offset),
    ];
    for (name, v, def) in floats {
        if v != def {
            push_opt(s, name, fmt_float(v));
        }
    }
    if let Some(v) = o.asymmetry {
        push_opt(s, "asymmetry", fmt_float(v));
    }
    if o.extfields.net_correction {
        s.push_str(" extfield 10A");
    }
    if o.extfields.exp_mono_root {
        s.push_str(" extfield F323");
    }
    o.select.write(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: SourceKind, line: &str) -> Result<SourceSpec, ParseError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        parse_source_line(kind, &words).map(|(s, _)| s)
    }

    #[test]
    fn defaults() {
        let s = parse(SourceKind::Server, "a.example").unwrap();
        assert_eq!(s.host, "a.example");
        assert_eq!(s.options, SourceOptions::default());
        assert_eq!(s.to_string(), "server a.example");
    }

    #[test]
    fn options_case_insensitive() {
        let s = parse(SourceKind::Pool, "p IBurst MinPoll 4 maxsources 2 Prefer").unwrap();
        assert!(s.options.iburst && s.options.select.prefer);
        assert_eq!((s.options.minpoll, s.options.maxsources), (4, 2));
        assert_eq!(s.to_string(), "pool p iburst minpoll 4 maxsources 2 prefer");
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(SourceKind::Server, ""),
            Err(ParseError::MissingArgument {
                directive: "server",
                what: "hostname"
            })
        );
        assert!(matches!(
            parse(SourceKind::Server, "a minpoll"),
            Err(ParseError::MissingArgument {
                what: "minpoll",
                ..
            })
        ));
        assert!(matches!(
            parse(SourceKind::Server, "a bogus"),
            Err(ParseError::InvalidOption { .. })
        ));
        assert!(matches!(
            parse(SourceKind::Server, "a key 0"),
            Err(ParseError::InvalidValue { what: "key", .. })
        ));
        assert!(parse(SourceKind::Server, "a extfield 1234").is_err());
        assert!(parse(SourceKind::Server, "a version 5").is_err());
    }

    #[test]
    fn extfield_aliases() {
        let s = parse(SourceKind::Server, "a extfield F324 extfield f323").unwrap();
        assert!(s.options.extfields.net_correction && s.options.extfields.exp_mono_root);
    }

    #[test]
    fn peer_ignored_options_warn() {
        let (_, w) = parse_source_line(SourceKind::Peer, &["a", "iburst", "key", "3"]).unwrap();
        assert_eq!(w, vec![WarningKind::OptionIgnored("iburst")]);
        let (_, w) = parse_source_line(SourceKind::Server, &["a", "maxsources", "3"]).unwrap();
        assert_eq!(w, vec![WarningKind::OptionIgnored("maxsources")]);
    }
}
