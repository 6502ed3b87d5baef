//! `refclock DRIVER PARAMETER[:option]... [option]...`

use std::fmt;

use crate::error::{ParseError, Reason};
use crate::lexer::{Args, fmt_float, parse_int};
use crate::source::{INT_MAX, SelectOptions};

/// A reference clock driver with its parameter and driver options (after `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefclockDriver {
    /// Kernel PPS API device (`/dev/pps0`).
    Pps {
        /// PPS device path.
        device: String,
        /// `:clear`: use clear (falling edge) events.
        clear: bool,
    },
    /// Unix datagram socket that chronyd creates (e.g. for gpsd).
    Sock {
        /// Socket path.
        path: String,
    },
    /// ntpd SHM (type 28) segment, key 0x4e545030 + unit.
    Shm {
        /// Unit number.
        unit: u32,
        /// `:perm=MODE`: octal permissions of a created segment (default 0600).
        perm: Option<u32>,
    },
    /// PTP hardware clock, by device path or interface name.
    Phc {
        /// Device path or interface name.
        device: String,
        /// `:nocrossts`: disable precise cross timestamping.
        nocrossts: bool,
        /// `:extpps`: timestamp an external PPS signal.
        extpps: bool,
        /// `:pin=N`: pin index for PPS (default 0; -1 disables pin configuration).
        pin: Option<i32>,
        /// `:channel=N`: channel index for PPS (default 0).
        channel: Option<u32>,
        /// `:clear`: timestamp clear events.
        clear: bool,
    },
    /// The real-time clock device.
    Rtc {
        /// RTC device path.
        device: String,
        /// `:utc`: the RTC keeps UTC rather than local time.
        utc: bool,
    },
}

/// Refclock options, with chrony's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockOptions {
    /// Poll interval of the median filter, log2 seconds (default 4).
    pub poll: i8,
    /// Driver polling interval, log2 seconds (default 0).
    pub dpoll: i8,
    /// Reference ID, up to four characters (`None`: derived from the driver name).
    pub refid: Option<String>,
    /// Lock this PPS refclock to the refclock with this refid.
    pub lock: Option<String>,
    /// PPS rate in Hz (default 1).
    pub rate: u32,
    /// Maximum age of locked samples in pulses (default 2).
    pub maxlockage: u32,
    /// Pulse width in seconds (0: not filtered).
    pub width: f64,
    /// Treat the refclock as a PPS source.
    pub pps: bool,
    /// Offset applied to samples, seconds.
    pub offset: f64,
    /// NTP delay of the source, seconds (default 1e-9).
    pub delay: f64,
    /// Stratum of the refclock (0..15).
    pub stratum: u8,
    /// Precision in seconds (`None`: the system clock's precision).
    pub precision: Option<f64>,
    /// Maximum dispersion of filtered samples, seconds (0.0: no limit).
    pub maxdispersion: f64,
    /// Median filter length in samples (default 64).
    pub filter: u32,
    /// Selection options.
    pub select: SelectOptions,
    /// The refclock keeps TAI; correct by the TAI-UTC offset.
    pub tai: bool,
    /// Unsynchronised but stable local reference (bypasses selection).
    pub local: bool,
    /// Minimum samples kept (`None`: the `minsamples` directive).
    pub minsamples: Option<u32>,
    /// Maximum samples kept (`None`: the `maxsamples` directive).
    pub maxsamples: Option<u32>,
    /// Polls the refclock may stay selected while unreachable (default 100000).
    pub maxunreach: u32,
}

impl Default for RefclockOptions {
    fn default() -> Self {
        RefclockOptions {
            poll: 4,
            dpoll: 0,
            refid: None,
            lock: None,
            rate: 1,
            maxlockage: 2,
            width: 0.0,
            pps: false,
            offset: 0.0,
            delay: 1e-9,
            stratum: 0,
            precision: None,
            maxdispersion: 0.0,
            filter: 64,
            select: SelectOptions::default(),
            tai: false,
            local: false,
            minsamples: None,
            maxsamples: None,
            maxunreach: 100_000,
        }
    }
}

/// A `refclock` directive.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockSpec {
    /// Driver and its parameter.
    pub driver: RefclockDriver,
    /// Generic options.
    pub options: RefclockOptions,
}

const DIRECTIVE: &str = "refclock";

/// Parses the arguments of a `refclock` line.
pub(crate) fn parse_refclock(args: &[&str]) -> Result<RefclockSpec, ParseError> {
    let mut a = Args::new(DIRECTIVE, args);
    let name = a.require("driver")?;
    let param = a.require("driver parameter")?;
    let driver = parse_driver(&a, name, param)?;
    let mut o = RefclockOptions::default();
    while let Some(word) = a.next_word() {
        parse_option(&mut a, &mut o, word)?;
    }
    Ok(RefclockSpec { driver, options: o })
}

fn parse_driver(a: &Args<'_>, name: &str, param: &str) -> Result<RefclockDriver, ParseError> {
    let mut parts = param.split(':');
    let base = parts.next().unwrap_or_default().to_string();
    let opts: Vec<&str> = parts.collect();
    let mut driver = match name.to_ascii_uppercase().as_str() {
        "PPS" => RefclockDriver::Pps {
            device: base,
            clear: false,
        },
        "SOCK" => RefclockDriver::Sock { path: base },
        "SHM" => {
            let unit = parse_int(DIRECTIVE, "SHM unit", &base, 0, INT_MAX)?;
            RefclockDriver::Shm {
                unit: u32::try_from(unit).unwrap_or(0),
                perm: None,
            }
        }
        "PHC" => RefclockDriver::Phc {
            device: base,
            nocrossts: false,
            extpps: false,
            pin: None,
            channel: None,
            clear: false,
        },
        "RTC" => RefclockDriver::Rtc {
            device: base,
            utc: false,
        },
        _ => {
            return Err(a.invalid(
                "driver",
                name,
                Reason::Expected("PPS, SOCK, SHM, PHC or RTC"),
            ));
        }
    };
    for opt in opts {
        set_driver_option(&mut driver, opt).map_err(|r| a.invalid("driver option", opt, r))?;
    }
    Ok(driver)
}

fn set_driver_option(driver: &mut RefclockDriver, opt: &str) -> Result<(), Reason> {
    let (key, value) = match opt.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    let int = |min: i64, max: i64| -> Result<i64, Reason> {
        let v: i64 = value
            .ok_or(Reason::Expected("a value"))?
            .parse()
            .map_err(|_| Reason::NotAnInteger)?;
        if v < min || v > max {
            return Err(Reason::OutOfRange { min, max });
        }
        Ok(v)
    };
    let flag = |f: &mut bool| -> Result<(), Reason> {
        if value.is_some() {
            return Err(Reason::Expected("no value"));
        }
        *f = true;
        Ok(())
    };
    match (driver, key) {
        (RefclockDriver::Pps { clear, .. }, "clear") => flag(clear),
        (RefclockDriver::Shm { perm, .. }, "perm") => {
            let v = value.ok_or(Reason::Expected("a value"))?;
            let p = u32::from_str_radix(v, 8).map_err(|_| Reason::Expected("an octal mode"))?;
            if p > 0o777 {
                return Err(Reason::Expected("an octal mode up to 0777"));
            }
            *perm = Some(p);
            Ok(())
        }
        (RefclockDriver::Phc { nocrossts, .. }, "nocrossts") => flag(nocrossts),
        (RefclockDriver::Phc { extpps, .. }, "extpps") => flag(extpps),
        (RefclockDriver::Phc { clear, .. }, "clear") => flag(clear),
        (RefclockDriver::Phc { pin, .. }, "pin") => {
            *pin = Some(i32::try_from(int(-1, INT_MAX)?).unwrap_or(0));
            Ok(())
        }
        (RefclockDriver::Phc { channel, .. }, "channel") => {
            *channel = Some(u32::try_from(int(0, INT_MAX)?).unwrap_or(0));
            Ok(())
        }
        (RefclockDriver::Rtc { utc, .. }, "utc") => flag(utc),
        _ => Err(Reason::Expected("an option supported by the driver")),
    }
}

fn refid(a: &mut Args<'_>, what: &'static str) -> Result<String, ParseError> {
    let w = a.require(what)?;
    // The reference ID is 32 bits (RFC 5905 §7.3): at most four characters.
    if w.len() > 4 {
        return Err(a.invalid(what, w, Reason::Expected("at most 4 characters")));
    }
    Ok(w.to_string())
}

fn uint(a: &mut Args<'_>, what: &'static str, min: i64) -> Result<u32, ParseError> {
    Ok(u32::try_from(a.int(what, min, INT_MAX)?).unwrap_or(0))
}

fn poll(a: &mut Args<'_>, what: &'static str) -> Result<i8, ParseError> {
    Ok(i8::try_from(a.int(what, -32, 32)?).unwrap_or(0))
}

fn parse_option(a: &mut Args<'_>, o: &mut RefclockOptions, word: &str) -> Result<(), ParseError> {
    match word.to_ascii_lowercase().as_str() {
        "refid" => o.refid = Some(refid(a, "refid")?),
        "lock" => o.lock = Some(refid(a, "lock")?),
        "poll" => o.poll = poll(a, "poll")?,
        "dpoll" => o.dpoll = poll(a, "dpoll")?,
        "filter" => o.filter = uint(a, "filter", 0)?,
        "local" => o.local = true,
        "rate" => o.rate = uint(a, "rate", 1)?,
        "minsamples" => o.minsamples = Some(uint(a, "minsamples", 0)?),
        "maxsamples" => o.maxsamples = Some(uint(a, "maxsamples", 0)?),
        "maxlockage" => o.maxlockage = uint(a, "maxlockage", 0)?,
        "maxunreach" => o.maxunreach = uint(a, "maxunreach", 0)?,
        "offset" => o.offset = a.float("offset")?,
        "delay" => o.delay = a.float("delay")?,
        "pps" => o.pps = true,
        "precision" => o.precision = Some(a.float("precision")?),
        "maxdispersion" => o.maxdispersion = a.float("maxdispersion")?,
        // RFC 5905 §7.3: 16 is "unsynchronised", so a refclock can claim at most 15.
        "stratum" => o.stratum = u8::try_from(a.int("stratum", 0, 15)?).unwrap_or(0),
        "tai" => o.tai = true,
        "width" => o.width = a.float("width")?,
        other => {
            if !o.select.set(other) {
                return Err(a.invalid_option(word));
            }
        }
    }
    Ok(())
}

impl fmt::Display for RefclockDriver {
    /// Prints `DRIVER PARAMETER[:option]...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = |on: bool, name: &str| {
            if on {
                format!(":{name}")
            } else {
                String::new()
            }
        };
        match self {
            RefclockDriver::Pps { device, clear } => {
                write!(f, "PPS {device}{}", flag(*clear, "clear"))
            }
            RefclockDriver::Sock { path } => write!(f, "SOCK {path}"),
            RefclockDriver::Shm { unit, perm } => {
                write!(f, "SHM {unit}")?;
                match perm {
                    Some(p) => write!(f, ":perm={p:04o}"),
                    None => Ok(()),
                }
            }
            RefclockDriver::Phc {
                device,
                nocrossts,
                extpps,
                pin,
                channel,
                clear,
            } => {
                write!(
                    f,
                    "PHC {device}{}{}",
                    flag(*nocrossts, "nocrossts"),
                    flag(*extpps, "extpps")
                )?;
                if let Some(p) = pin {
                    write!(f, ":pin={p}")?;
                }
                if let Some(c) = channel {
                    write!(f, ":channel={c}")?;
                }
                f.write_str(&flag(*clear, "clear"))
            }
            RefclockDriver::Rtc { device, utc } => write!(f, "RTC {device}{}", flag(*utc, "utc")),
        }
    }
}

impl fmt::Display for RefclockSpec {
    /// Prints the directive with the options that differ from the defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let d = RefclockOptions::default();
        let mut s = format!("refclock {}", self.driver);
        let mut push = |name: &str, v: String| {
            s.push(' ');
            s.push_str(name);
            s.push(' ');
            s.push_str(&v);
        };
        let ints: [(&str, i64, i64); 7] = [
            ("poll", o.poll.into(), d.poll.into()),
            ("dpoll", o.dpoll.into(), d.dpoll.into()),
            ("rate", o.rate.into(), d.rate.into()),
            ("maxlockage", o.maxlockage.into(), d.maxlockage.into()),
            ("stratum", o.stratum.into(), d.stratum.into()),
            ("filter", o.filter.into(), d.filter.into()),
            ("maxunreach", o.maxunreach.into(), d.maxunreach.into()),
        ];
        for (name, v, def) in ints {
            if v != def {
                push(name, v.to_string());
            }
        }
        for (name, v) in [("refid", &o.refid), ("lock", &o.lock)] {
            if let Some(v) = v {
                push(name, v.clone());
            }
        }
        for (name, v) in [("minsamples", o.minsamples), ("maxsamples", o.maxsamples)] {
            if let Some(v) = v {
                push(name, v.to_string());
            }
        }
        let floats = [
            ("width", o.width, d.width),
            ("offset", o.offset, d.offset),
            ("delay", o.delay, d.delay),
            ("maxdispersion", o.maxdispersion, d.maxdispersion),
        ];
        for (name, v, def) in floats {
            if v != def {
                push(name, fmt_float(v));
            }
        }
        if let Some(p) = o.precision {
            push("precision", fmt_float(p));
        }
        for (on, name) in [(o.pps, "pps"), (o.tai, "tai"), (o.local, "local")] {
            if on {
                s.push(' ');
                s.push_str(name);
            }
        }
        o.select.write(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<RefclockSpec, ParseError> {
        let w: Vec<&str> = line.split_whitespace().collect();
        parse_refclock(&w)
    }

    #[test]
    fn phc_with_driver_options() {
        let r = parse("PHC /dev/ptp2:extpps:pin=1 width 0.2 poll 2").unwrap();
        assert_eq!(
            r.driver,
            RefclockDriver::Phc {
                device: "/dev/ptp2".into(),
                nocrossts: false,
                extpps: true,
                pin: Some(1),
                channel: None,
                clear: false
            }
        );
        assert_eq!((r.options.width, r.options.poll), (0.2, 2));
        assert_eq!(
            r.to_string(),
            "refclock PHC /dev/ptp2:extpps:pin=1 poll 2 width 0.2"
        );
    }

    #[test]
    fn shm_perm_is_octal() {
        let r = parse("SHM 1:perm=0644 refid GPS2").unwrap();
        assert_eq!(
            r.driver,
            RefclockDriver::Shm {
                unit: 1,
                perm: Some(0o644)
            }
        );
        assert_eq!(r.to_string(), "refclock SHM 1:perm=0644 refid GPS2");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse(""),
            Err(ParseError::MissingArgument { what: "driver", .. })
        ));
        assert!(matches!(
            parse("PPS"),
            Err(ParseError::MissingArgument { .. })
        ));
        assert!(matches!(
            parse("FOO 0"),
            Err(ParseError::InvalidValue { what: "driver", .. })
        ));
        assert!(matches!(
            parse("PPS /dev/pps0:utc"),
            Err(ParseError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse("SOCK /s refid TOOLONG"),
            Err(ParseError::InvalidValue { .. })
        ));
        assert!(matches!(
            parse("SOCK /s iburst"),
            Err(ParseError::InvalidOption { .. })
        ));
        assert!(matches!(
            parse("SOCK /s stratum 16"),
            Err(ParseError::InvalidValue { .. })
        ));
    }
}
