//! ADD_SOURCE: chronyc's `add server|pool|peer` back into a source line's
//! options, added at once for an address, handed to the daemon for a name.

use std::net::{IpAddr, SocketAddr};

use krony_config::{ExtFields, Family, SelectOptions, SourceKind, SourceOptions};
use krony_engine::{Engine, EngineError, UnixTime};
use krony_wire::cmdmon::{AddSource, AddSourceFlags as F, SourceKind as WireKind, Status};

use super::PendingSource;

/// chronyc's `presend` default, meaning "never" (chrony's
/// `SRC_DEFAULT_PRESEND_MINPOLL`).
const PRESEND_NEVER: i32 = 100;

/// chronyc's `asymmetry` default, meaning "estimate it".
const ASYMMETRY_ESTIMATE: f64 = 1.0;

/// `maxunreach` when the request leaves it zero: chronyc before 4.6 sends
/// a reserved zero there.
const DEFAULT_MAX_UNREACH: u32 = 100_000;

/// What an ADD_SOURCE asks for, checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Wanted {
    pub kind: SourceKind,
    pub name: String,
    pub options: SourceOptions,
}

/// Converts the request; `Err` carries the status chronyd answers with.
pub(super) fn parse(a: &AddSource) -> Result<Wanted, Status> {
    let kind = match a.kind {
        WireKind::SERVER => SourceKind::Server,
        WireKind::PEER => SourceKind::Peer,
        WireKind::POOL => SourceKind::Pool,
        _ => return Err(Status::INVALID),
    };
    // chronyd needs the name NUL-terminated within its 256 bytes.
    if !a.name.is_terminated() {
        return Err(Status::INVALIDNAME);
    }
    let name = a.name.as_str().ok_or(Status::INVALIDNAME)?.to_string();
    let port = u16::try_from(a.port).map_err(|_| Status::INVALID)?;
    let options = options(a, port);
    Ok(Wanted {
        kind,
        name,
        options,
    })
}

/// A poll exponent or stratum in its narrower type, saturated.
fn narrow_i8(v: i32) -> i8 {
    v.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

fn options(a: &AddSource, port: u16) -> SourceOptions {
    let f = a.flags;
    let count = |v: i32| u32::try_from(v).ok();
    SourceOptions {
        minpoll: narrow_i8(a.minpoll),
        maxpoll: narrow_i8(a.maxpoll),
        polltarget: i32::try_from(a.poll_target).unwrap_or(i32::MAX),
        iburst: f.contains(F::IBURST),
        burst: f.contains(F::BURST),
        presend: (a.presend_minpoll < PRESEND_NEVER).then(|| narrow_i8(a.presend_minpoll)),
        key: (a.authkey != 0).then_some(a.authkey),
        nts: f.contains(F::NTS),
        certset: a.cert_set,
        ntsport: u16::try_from(a.nts_port).unwrap_or(u16::MAX),
        maxdelay: a.max_delay,
        maxdelayratio: a.max_delay_ratio,
        maxdelaydevratio: a.max_delay_dev_ratio,
        maxdelayquant: a.max_delay_quant,
        mindelay: a.min_delay,
        asymmetry: (a.asymmetry != ASYMMETRY_ESTIMATE).then_some(a.asymmetry),
        offset: a.offset,
        minsamples: count(a.min_samples),
        maxsamples: count(a.max_samples),
        maxunreach: count(a.max_unreach)
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_MAX_UNREACH),
        filter: count(a.filter_length).unwrap_or(0),
        select: SelectOptions {
            noselect: f.contains(F::NOSELECT),
            prefer: f.contains(F::PREFER),
            trust: f.contains(F::TRUST),
            require: f.contains(F::REQUIRE),
        },
        minstratum: u8::try_from(a.min_stratum).unwrap_or(u8::MAX),
        offline: !f.contains(F::ONLINE),
        auto_offline: f.contains(F::AUTOOFFLINE),
        xleave: f.contains(F::INTERLEAVED),
        port,
        version: u8::try_from(a.version).ok().filter(|&v| v != 0),
        copy: f.contains(F::COPY),
        extfields: ExtFields {
            net_correction: f.contains(F::EF_NET_CORRECTION),
            exp_mono_root: f.contains(F::EF_EXP_MONO_ROOT),
        },
        family: if f.contains(F::IPV4) {
            Family::Ipv4
        } else if f.contains(F::IPV6) {
            Family::Ipv6
        } else {
            Family::Any
        },
        maxsources: a.max_sources,
    }
}

/// Adds the source: at once for an IP address (chronyd's
/// `NSR_AddSourceByName` with an address), or returns the name for the
/// daemon to resolve. `Err` is the status to answer with.
pub(super) fn add(
    engine: &mut Engine,
    now: UnixTime,
    w: Wanted,
) -> Result<Option<PendingSource>, Status> {
    let Ok(ip) = w.name.parse::<IpAddr>() else {
        // A name must at least be printable and have no spaces.
        if w.name.is_empty() || !w.name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Status::INVALIDNAME);
        }
        return Ok(Some(PendingSource {
            kind: w.kind,
            name: w.name,
            options: w.options,
        }));
    };
    let family_ok = match w.options.family {
        Family::Any => true,
        Family::Ipv4 => ip.is_ipv4(),
        Family::Ipv6 => ip.is_ipv6(),
    };
    if !family_ok {
        return Err(Status::INVALIDAF);
    }
    let known = engine
        .source_ids()
        .into_iter()
        .any(|id| engine.source(id).is_some_and(|s| s.remote().ip() == ip));
    if known {
        return Err(Status::SOURCEALREADYKNOWN);
    }
    // An address given as a pool is a single source for chronyd.
    let kind = match w.kind {
        SourceKind::Pool => SourceKind::Server,
        k => k,
    };
    let addr = SocketAddr::new(ip, w.options.port);
    match engine.add_source(now, addr, kind, &w.options, &w.name) {
        Ok(_) => {
            // chronyd logs additions by command at info level.
            crate::logging::log_event(
                crate::logging::Severity::Info,
                format!("Added source {}", crate::files::dump::ip_text(&ip)),
            );
            Ok(None)
        }
        Err(EngineError::SourceExists(_)) => Err(Status::SOURCEALREADYKNOWN),
        Err(_) => Err(Status::FAILED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krony_wire::cmdmon::{AddSourceFlags, Name};

    /// What chronyc 4.3 sends for `add server 192.0.2.1` (its defaults).
    pub(crate) fn chronyc_defaults(name: &str) -> AddSource {
        AddSource {
            kind: WireKind::SERVER,
            name: Name::from(name),
            port: 123,
            minpoll: 6,
            maxpoll: 10,
            presend_minpoll: 100,
            min_stratum: 0,
            poll_target: 8,
            version: 0,
            max_sources: 4,
            min_samples: -1,
            max_samples: -1,
            authkey: 0,
            nts_port: 4460,
            max_delay: 3.0,
            max_delay_ratio: 0.0,
            max_delay_dev_ratio: 10.0,
            min_delay: 0.0,
            asymmetry: 1.0,
            offset: 0.0,
            flags: AddSourceFlags(AddSourceFlags::ONLINE),
            filter_length: 0,
            cert_set: 0,
            max_delay_quant: 0.0,
            max_unreach: 0,
        }
    }

    #[test]
    fn chronyc_defaults_are_the_config_defaults() {
        let w = parse(&chronyc_defaults("192.0.2.1")).expect("valid");
        assert_eq!(w.kind, SourceKind::Server);
        assert_eq!(w.options, SourceOptions::default());
    }

    #[test]
    fn every_option_comes_through() {
        let mut a = chronyc_defaults("ntp.example");
        a.kind = WireKind::POOL;
        a.flags = AddSourceFlags(
            AddSourceFlags::IBURST
                | AddSourceFlags::PREFER
                | AddSourceFlags::INTERLEAVED
                | AddSourceFlags::IPV6
                | AddSourceFlags::AUTOOFFLINE,
        );
        a.presend_minpoll = 9;
        a.authkey = 7;
        a.min_samples = 4;
        a.asymmetry = 0.25;
        a.version = 3;
        a.max_unreach = 5;
        let w = parse(&a).expect("valid");
        let o = &w.options;
        assert_eq!(w.kind, SourceKind::Pool);
        assert!(o.iburst && o.select.prefer && o.xleave && o.offline && o.auto_offline);
        assert_eq!(o.family, Family::Ipv6);
        assert_eq!(
            (
                o.presend,
                o.key,
                o.minsamples,
                o.asymmetry,
                o.version,
                o.maxunreach
            ),
            (Some(9), Some(7), Some(4), Some(0.25), Some(3), 5)
        );
    }

    #[test]
    fn bad_requests() {
        let mut a = chronyc_defaults("x");
        a.kind = WireKind(9);
        assert_eq!(parse(&a), Err(Status::INVALID));
        let mut a = chronyc_defaults("x");
        a.name = Name::from_field(&[b'a'; 256]);
        assert_eq!(parse(&a), Err(Status::INVALIDNAME));
        let mut a = chronyc_defaults("x");
        a.port = 70_000;
        assert_eq!(parse(&a), Err(Status::INVALID));
    }
}
