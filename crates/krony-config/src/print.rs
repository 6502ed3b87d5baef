//! Printing directives back as canonical chrony.conf lines.
//!
//! The form is the one `chronyd -p` prints (one normalised directive per line), with the
//! directive name in lower case and options in a fixed order; values that equal chrony's
//! defaults are left out of option lists.

use std::fmt;
use std::net::IpAddr;

use crate::directive::{BindScope, Directive};
use crate::lexer::fmt_float;
use crate::settings::{flag_name, float_name, int_name, string_name};
use crate::types::*;

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Directive::Source(s) => write!(f, "{s}"),
            Directive::Refclock(r) => write!(f, "{r}"),
            Directive::Int(s, v) => write!(f, "{} {v}", int_name(*s)),
            Directive::Float(s, v) => write!(f, "{} {}", float_name(*s), fmt_float(*v)),
            Directive::String(s, v) => write!(f, "{} {v}", string_name(*s)),
            Directive::Flag(s) => f.write_str(flag_name(*s)),
            Directive::Access { cmd, rule } => write_access(f, *cmd, rule),
            Directive::AuthSelectMode(m) => write!(f, "authselectmode {}", authselect_name(*m)),
            Directive::BindAddress(scope, addr) => {
                let name = match scope {
                    BindScope::Ntp => "bindaddress",
                    BindScope::Acq => "bindacqaddress",
                    BindScope::Cmd => "bindcmdaddress",
                };
                write!(f, "{name} {addr}")
            }
            Directive::BindCmdPath(p) => write!(f, "bindcmdaddress {}", path_word(p)),
            Directive::PidFile(p) => write!(f, "pidfile {}", path_word(p)),
            Directive::Broadcast(b) => write!(f, "broadcast {} {} {}", b.interval, b.addr, b.port),
            Directive::ConfDir(d) => write!(f, "confdir {}", d.join(" ")),
            Directive::SourceDir(d) => write!(f, "sourcedir {}", d.join(" ")),
            Directive::Include(p) => write!(f, "include {p}"),
            Directive::Obsolete(name) => f.write_str(name),
            other => write_compound(f, other),
        }
    }
}

/// The directives with several arguments or options.
fn write_compound(f: &mut fmt::Formatter<'_>, d: &Directive) -> fmt::Result {
    match d {
        Directive::DriftFile(d) => {
            write!(f, "driftfile {}", d.path)?;
            if d.interval != 3600 {
                write!(f, " interval {}", d.interval)?;
            }
            Ok(())
        }
        Directive::FallbackDrift(d) => write!(f, "fallbackdrift {} {}", d.min, d.max),
        Directive::HwTimestamp(h) => write_hwtimestamp(f, h),
        Directive::InitStepSlew(i) => {
            write!(f, "initstepslew {}", fmt_float(i.threshold))?;
            i.hosts.iter().try_for_each(|h| write!(f, " {h}"))
        }
        Directive::LeapSecMode(m) => write!(f, "leapsecmode {}", leapsec_name(*m)),
        Directive::Local(l) => write_local(f, l),
        Directive::Log(k) => {
            f.write_str("log")?;
            for (on, name) in k.flags().iter().zip(LogKinds::NAMES) {
                if *on {
                    write!(f, " {name}")?;
                }
            }
            Ok(())
        }
        Directive::MailOnChange(m) => {
            write!(f, "mailonchange {} {}", m.address, fmt_float(m.threshold))
        }
        Directive::MakeStep(m) => write!(f, "makestep {} {}", fmt_float(m.threshold), m.limit),
        Directive::MaxChange(m) => {
            write!(
                f,
                "maxchange {} {} {}",
                fmt_float(m.offset),
                m.start,
                m.ignore
            )
        }
        Directive::NtsAeads(ids) => {
            f.write_str("ntsaeads")?;
            ids.iter().try_for_each(|i| write!(f, " {i}"))
        }
        Directive::NtsServerCert(p) => write!(f, "ntsservercert {p}"),
        Directive::NtsServerKey(p) => write!(f, "ntsserverkey {p}"),
        Directive::NtsTrustedCerts(t) => write!(f, "ntstrustedcerts {} {}", t.set, t.path),
        Directive::OpenCommands(cmds) => {
            f.write_str("opencommands")?;
            cmds.iter().try_for_each(|c| write!(f, " {}", c.name()))
        }
        Directive::RateLimit {
            kind,
            interval,
            burst,
            leak,
            kod,
        } => {
            f.write_str(kind.name())?;
            for (name, v) in [
                ("interval", interval),
                ("burst", burst),
                ("leak", leak),
                ("kod", kod),
            ] {
                if let Some(v) = v {
                    write!(f, " {name} {v}")?;
                }
            }
            Ok(())
        }
        Directive::SmoothTime(s) => {
            write!(
                f,
                "smoothtime {} {}",
                fmt_float(s.max_freq),
                fmt_float(s.max_wander)
            )?;
            if s.leap_only {
                f.write_str(" leaponly")?;
            }
            Ok(())
        }
        Directive::TempComp(t) => write_tempcomp(f, t),
        // The other directives are printed by `Display::fmt` itself.
        _ => Ok(()),
    }
}

fn path_word(p: &PathOrDisabled) -> &str {
    match p {
        PathOrDisabled::Default | PathOrDisabled::Disabled => "/",
        PathOrDisabled::Path(p) => p,
    }
}

fn authselect_name(m: AuthSelectMode) -> &'static str {
    match m {
        AuthSelectMode::Require => "require",
        AuthSelectMode::Prefer => "prefer",
        AuthSelectMode::Mix => "mix",
        AuthSelectMode::Ignore => "ignore",
    }
}

fn leapsec_name(m: LeapSecMode) -> &'static str {
    match m {
        LeapSecMode::System => "system",
        LeapSecMode::Step => "step",
        LeapSecMode::Slew => "slew",
        LeapSecMode::Ignore => "ignore",
    }
}

fn write_access(f: &mut fmt::Formatter<'_>, cmd: bool, rule: &AccessRule) -> fmt::Result {
    let name = match (cmd, rule.allow) {
        (false, true) => "allow",
        (false, false) => "deny",
        (true, true) => "cmdallow",
        (true, false) => "cmddeny",
    };
    f.write_str(name)?;
    if rule.all {
        f.write_str(" all")?;
    }
    match &rule.target {
        AccessTarget::Any => Ok(()),
        AccessTarget::Host(h) => write!(f, " {h}"),
        AccessTarget::Subnet { addr, prefix } => {
            let full = match addr {
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            };
            if *prefix == full {
                write!(f, " {addr}")
            } else {
                write!(f, " {addr}/{prefix}")
            }
        }
    }
}

fn write_hwtimestamp(f: &mut fmt::Formatter<'_>, h: &HwTimestamp) -> fmt::Result {
    let d = HwTimestamp::new(String::new());
    write!(f, "hwtimestamp {}", h.interface)?;
    if h.minpoll != d.minpoll {
        write!(f, " minpoll {}", h.minpoll)?;
    }
    if h.maxpoll != h.minpoll.saturating_add(1) {
        write!(f, " maxpoll {}", h.maxpoll)?;
    }
    if h.minsamples != d.minsamples {
        write!(f, " minsamples {}", h.minsamples)?;
    }
    if h.maxsamples != d.maxsamples {
        write!(f, " maxsamples {}", h.maxsamples)?;
    }
    for (name, v, def) in [
        ("precision", h.precision, d.precision),
        ("txcomp", h.txcomp, d.txcomp),
        ("rxcomp", h.rxcomp, d.rxcomp),
    ] {
        if v != def {
            write!(f, " {name} {}", fmt_float(v))?;
        }
    }
    if h.nocrossts {
        f.write_str(" nocrossts")?;
    }
    let filter = match h.rxfilter {
        RxFilter::Any => return Ok(()),
        RxFilter::None => "none",
        RxFilter::Ntp => "ntp",
        RxFilter::Ptp => "ptp",
        RxFilter::All => "all",
    };
    write!(f, " rxfilter {filter}")
}

fn write_local(f: &mut fmt::Formatter<'_>, l: &Local) -> fmt::Result {
    let d = Local::new(l.orphan);
    // The stratum is printed even when it is the default: it is what `local` is about.
    write!(f, "local stratum {}", l.stratum)?;
    if l.orphan {
        f.write_str(" orphan")?;
    }
    for (name, v, def) in [
        ("distance", l.distance, d.distance),
        ("activate", l.activate, d.activate),
        ("waitsynced", l.waitsynced, d.waitsynced),
        ("waitunsynced", l.waitunsynced, d.waitunsynced),
    ] {
        if v != def {
            write!(f, " {name} {}", fmt_float(v))?;
        }
    }
    Ok(())
}

fn write_tempcomp(f: &mut fmt::Formatter<'_>, t: &TempComp) -> fmt::Result {
    write!(f, "tempcomp {} {}", t.sensor, fmt_float(t.interval))?;
    match &t.model {
        TempCompModel::Points(p) => write!(f, " {p}"),
        TempCompModel::Coefficients { t0, k0, k1, k2 } => write!(
            f,
            " {} {} {} {}",
            fmt_float(*t0),
            fmt_float(*k0),
            fmt_float(*k1),
            fmt_float(*k2)
        ),
    }
}
