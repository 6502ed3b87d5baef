//! Parsers of the directives with option lists: `hwtimestamp`, `local`, the rate limits,
//! `smoothtime` and `tempcomp`.

use crate::directive::Directive;
use crate::error::{ParseError, Reason};
use crate::lexer::Args;
use crate::source::INT_MAX;
use crate::types::*;

fn small(a: &mut Args<'_>, what: &'static str, min: i64, max: i64) -> Result<i8, ParseError> {
    // OK: callers pass bounds within i8.
    Ok(i8::try_from(a.int(what, min, max)?).unwrap_or(0))
}

pub(crate) fn parse_hwtimestamp(a: &mut Args<'_>) -> Result<HwTimestamp, ParseError> {
    let mut h = HwTimestamp::new(a.require("interface")?.to_string());
    let mut maxpoll = None;
    while let Some(w) = a.next_word() {
        match w.to_ascii_lowercase().as_str() {
            "maxsamples" => {
                h.maxsamples = u32::try_from(a.int("maxsamples", 0, INT_MAX)?).unwrap_or(0)
            }
            "minsamples" => {
                h.minsamples = u32::try_from(a.int("minsamples", 0, INT_MAX)?).unwrap_or(0)
            }
            "minpoll" => h.minpoll = small(a, "minpoll", -32, 32)?,
            "maxpoll" => maxpoll = Some(small(a, "maxpoll", -32, 32)?),
            "precision" => h.precision = a.float("precision")?,
            "rxcomp" => h.rxcomp = a.float("rxcomp")?,
            "txcomp" => h.txcomp = a.float("txcomp")?,
            "nocrossts" => h.nocrossts = true,
            "rxfilter" => {
                let v = a.require("rxfilter")?;
                h.rxfilter = match v.to_ascii_lowercase().as_str() {
                    "none" => RxFilter::None,
                    "ntp" => RxFilter::Ntp,
                    "ptp" => RxFilter::Ptp,
                    "all" => RxFilter::All,
                    _ => {
                        return Err(a.invalid(
                            "rxfilter",
                            v,
                            Reason::Expected("none, ntp, ptp or all"),
                        ));
                    }
                };
            }
            _ => return Err(a.invalid_option(w)),
        }
    }
    // chrony: without maxpoll, the maximum is one above the minimum.
    h.maxpoll = maxpoll.unwrap_or(h.minpoll.saturating_add(1));
    Ok(h)
}

pub(crate) fn parse_local(a: &mut Args<'_>) -> Result<Local, ParseError> {
    let mut l = Local::new(false);
    let mut waitunsynced = None;
    while let Some(w) = a.next_word() {
        match w.to_ascii_lowercase().as_str() {
            // RFC 5905 §7.3: 16 means unsynchronised; a local reference serves 1..15.
            "stratum" => l.stratum = u8::try_from(a.int("stratum", 1, 15)?).unwrap_or(10),
            "orphan" => l.orphan = true,
            "distance" => l.distance = a.float("distance")?,
            "activate" => l.activate = a.float("activate")?,
            "waitsynced" => l.waitsynced = a.float("waitsynced")?,
            "waitunsynced" => waitunsynced = Some(a.float("waitunsynced")?),
            _ => return Err(a.invalid_option(w)),
        }
    }
    // chrony treats a negative waitunsynced as "not given": 300 s in orphan mode, else 0.
    l.waitunsynced = match waitunsynced {
        Some(v) if v >= 0.0 => v,
        _ if l.orphan => 300.0,
        _ => 0.0,
    };
    Ok(l)
}

pub(crate) fn parse_ratelimit(
    a: &mut Args<'_>,
    kind: RateLimitKind,
) -> Result<Directive, ParseError> {
    let (mut interval, mut burst, mut leak, mut kod) = (None, None, None, None);
    while let Some(w) = a.next_word() {
        let lower = w.to_ascii_lowercase();
        let (slot, what) = match lower.as_str() {
            "interval" => (&mut interval, "interval"),
            "burst" => (&mut burst, "burst"),
            "leak" => (&mut leak, "leak"),
            "kod" if kind == RateLimitKind::Ntp => (&mut kod, "kod"),
            _ => return Err(a.invalid_option(w)),
        };
        // chrony's parser accepts -32..32 and the server clamps to the documented ranges
        // (interval -19..12, burst 1..255, leak 1..4, kod 0..4).
        *slot = Some(small(a, what, -32, 32)?);
    }
    Ok(Directive::RateLimit {
        kind,
        interval,
        burst,
        leak,
        kod,
    })
}

pub(crate) fn parse_smoothtime(a: &mut Args<'_>) -> Result<SmoothTime, ParseError> {
    let max_freq = a.float("max-freq")?;
    let max_wander = a.float("max-wander")?;
    let leap_only = match a.next_word() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("leaponly") => true,
        Some(w) => return Err(a.invalid_option(w)),
    };
    Ok(SmoothTime {
        max_freq,
        max_wander,
        leap_only,
    })
}

pub(crate) fn parse_tempcomp(a: &mut Args<'_>) -> Result<TempComp, ParseError> {
    let sensor = a.require("sensor file")?.to_string();
    let interval = a.float("interval")?;
    let model = if a.remaining() == 1 {
        TempCompModel::Points(a.require("points file")?.to_string())
    } else {
        TempCompModel::Coefficients {
            t0: a.float("T0")?,
            k0: a.float("k0")?,
            k1: a.float("k1")?,
            k2: a.float("k2")?,
        }
    };
    Ok(TempComp {
        sensor,
        interval,
        model,
    })
}

#[cfg(test)]
mod tests {
    use crate::directive::{Directive, parse_directive};
    use crate::types::*;

    fn d(line: &str) -> Directive {
        let w: Vec<&str> = line.split_whitespace().collect();
        parse_directive(w[0], &w[1..]).unwrap().directive
    }

    #[test]
    fn local_defaults() {
        assert_eq!(d("local"), Directive::Local(Local::new(false)));
        let Directive::Local(l) = d("local orphan stratum 5") else {
            panic!()
        };
        assert_eq!((l.stratum, l.waitunsynced, l.orphan), (5, 300.0, true));
    }

    #[test]
    fn hwtimestamp_maxpoll_follows_minpoll() {
        let Directive::HwTimestamp(h) = d("hwtimestamp eth0 minpoll -2 rxfilter ntp") else {
            panic!()
        };
        assert_eq!((h.minpoll, h.maxpoll, h.rxfilter), (-2, -1, RxFilter::Ntp));
    }

    #[test]
    fn tempcomp_forms() {
        let Directive::TempComp(t) = d("tempcomp /s 30 /p") else {
            panic!()
        };
        assert_eq!(t.model, TempCompModel::Points("/p".into()));
        let Directive::TempComp(t) = d("tempcomp /s 30 26000 0.0 0.000183 0.0") else {
            panic!()
        };
        assert!(matches!(t.model, TempCompModel::Coefficients { k1, .. } if k1 == 0.000183));
    }

    #[test]
    fn kod_only_in_ratelimit() {
        assert!(matches!(
            d("ratelimit kod 2"),
            Directive::RateLimit { kod: Some(2), .. }
        ));
        let w = ["kod", "1"];
        assert!(parse_directive("cmdratelimit", &w).is_err());
    }
}
