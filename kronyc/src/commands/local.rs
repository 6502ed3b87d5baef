//! Commands handled in the client (`dns`, `timeout`, `retries`,
//! `keygen`), `settime` with its date parser, and the `local` options.

use std::io::Write;

use krony_wire::cmdmon::{Local, LocalExt, ReplyBody, ReplyCode, Request, Timespec};
use rand::TryRngCore;

use super::parse::{atoi, c_double, c_int, c_uint, split_word};
use crate::client::Client;
use crate::names::Family;

/// `dns -n|+n|-4|-6|-46`.
pub fn cmd_dns<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    match args {
        "-46" => c.set.family = Family::Any,
        "-4" => c.set.family = Family::V4,
        "-6" => c.set.family = Family::V6,
        "-n" => c.set.no_dns = true,
        "+n" => c.set.no_dns = false,
        _ => {
            eprintln!("Unrecognized dns command");
            return false;
        }
    }
    true
}

/// `timeout MS`: the initial reply timeout, at least 100 ms.
pub fn cmd_timeout<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let t = atoi(args);
    if t < 100 {
        eprintln!("Timeout {t} is too short");
        return false;
    }
    c.transport.timeout_ms = t.unsigned_abs();
    true
}

/// `retries N`: resends, 0 to 30.
pub fn cmd_retries<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let r = atoi(args);
    if !(0..=30).contains(&r) {
        eprintln!("Invalid maximum number of retries");
        return false;
    }
    c.transport.max_retries = r.unsigned_abs();
    true
}

/// Hash functions chrony (built with Nettle, as Debian's) accepts in key
/// files.
const HASHES: &[&str] = &[
    "MD5", "SHA1", "SHA256", "SHA384", "SHA512", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512",
];

/// The key length of a CMAC cipher, in bytes.
fn cmac_length(name: &str) -> Option<usize> {
    match name {
        "AES128" => Some(16),
        "AES256" => Some(32),
        _ => None,
    }
}

/// A key-file line `ID TYPE HEX:...` with `key` as the key bytes (taken
/// from the front; the line uses as many as the type needs). `Err` with
/// chronyc's message for bad arguments.
pub fn keygen_line(args: &str, key: &[u8]) -> Result<String, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let bad = || "Invalid syntax for keygen command".to_string();
    if words.len() > 3 {
        return Err(bad());
    }
    let id = match words.first() {
        Some(w) => c_uint(w).ok_or_else(bad)?,
        None => 1,
    };
    let kind = words.get(1).copied().unwrap_or("SHA1");
    let bits = match words.get(2) {
        Some(w) => c_uint(w).ok_or_else(bad)?,
        None => 160,
    };
    let upper = kind.to_ascii_uppercase();
    let length = if HASHES.contains(&upper.as_str()) {
        (bits as usize).div_ceil(8)
    } else if let Some(n) = cmac_length(&upper) {
        n
    } else {
        return Err(format!("Unknown hash function or cipher {kind}"));
    };
    // chrony keeps keys between 10 and 512 bytes.
    let length = length.clamp(10, 512).min(key.len());
    let hex: String = key[..length].iter().map(|b| format!("{b:02X}")).collect();
    Ok(format!("{id} {kind} HEX:{hex}\n"))
}

/// `keygen [ID [TYPE [BITS]]]`: prints a random key for a key file.
pub fn cmd_keygen<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let mut key = [0u8; 512];
    if rand::rngs::OsRng.try_fill_bytes(&mut key).is_err() {
        eprintln!("Could not get random bytes");
        return false;
    }
    match keygen_line(args, &key) {
        Ok(line) => {
            c.print(&line);
            true
        }
        Err(msg) => {
            eprintln!("{msg}");
            false
        }
    }
}

/// The options of `local` (`off`, or the directive's options). The
/// LOCAL3 fields are always filled; callers drop them for LOCAL2.
pub fn parse_local(args: &str) -> Option<Local> {
    if args == "off" {
        return Some(Local {
            on_off: 0,
            stratum: 0,
            distance: 0.0,
            orphan: 0,
            ext: Some(LocalExt::default()),
        });
    }
    let mut l = Local {
        on_off: 1,
        stratum: 10,
        distance: 1.0,
        orphan: 0,
        ext: None,
    };
    let mut e = LocalExt::default();
    let mut unsynced = None;
    let mut rest = args;
    while !rest.is_empty() {
        let (opt, after) = split_word(rest);
        let (value, next) = split_word(after);
        rest = next;
        match opt.to_ascii_lowercase().as_str() {
            "stratum" => l.stratum = c_int(value).filter(|s| (1..16).contains(s))?,
            "orphan" => {
                l.orphan = 1;
                rest = after;
            }
            "distance" => l.distance = c_double(value)?,
            "activate" => e.activate = c_double(value)?,
            "waitsynced" => e.wait_synced = c_double(value)?,
            "waitunsynced" => unsynced = Some(c_double(value)?),
            _ => return None,
        }
    }
    // A negative or absent value means the default: 300 s in orphan mode.
    e.wait_unsynced = match unsynced {
        Some(v) if v >= 0.0 => v,
        _ if l.orphan != 0 => 300.0,
        _ => 0.0,
    };
    l.ext = Some(e);
    Some(l)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `HH:MM[:SS]` as seconds of the day.
fn parse_clock(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let num = |p: &str, max: i64| p.parse::<i64>().ok().filter(|v| (0..=max).contains(v));
    let h = num(parts[0], 23)?;
    let m = num(parts[1], 59)?;
    let sec = match parts.get(2) {
        Some(p) => num(p, 60)?,
        None => 0,
    };
    Some(h * 3600 + m * 60 + sec)
}

/// Parses the date forms `settime` documents, in UTC: `HH:MM[:SS]`
/// (today), `Mon DD[,] YYYY HH:MM[:SS]`, `DD Mon YYYY HH:MM[:SS]` and
/// `YYYY-MM-DD HH:MM[:SS]`, and `now` (the current second, as chronyc's
/// getdate grammar takes it). `now` gives today's date.
pub fn parse_date(s: &str, now: i64) -> Option<i64> {
    let words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let month = |w: &str| {
        MONTHS
            .iter()
            .position(|m| w.len() >= 3 && m.starts_with(&w[..3]))
            .map(|i| i as u32 + 1)
    };
    let num = |w: &str| w.parse::<i64>().ok();
    let (date, clock) = match words.as_slice() {
        [t] if t == "now" => return Some(now),
        [t] => (None, t),
        [a, b, y, t] if month(a).is_some() => {
            (Some((num(y)?, month(a)?, u32::try_from(num(b)?).ok()?)), t)
        }
        [a, b, y, t] if month(b).is_some() => {
            (Some((num(y)?, month(b)?, u32::try_from(num(a)?).ok()?)), t)
        }
        [d, t] => {
            let mut it = d.split('-');
            let y = num(it.next()?)?;
            let m = u32::try_from(num(it.next()?)?).ok()?;
            let dd = u32::try_from(num(it.next()?)?).ok()?;
            (Some((y, m, dd)), t)
        }
        _ => return None,
    };
    let secs = parse_clock(clock)?;
    let days = match date {
        None => now.div_euclid(86_400),
        Some((y, m, d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => {
            days_from_civil(y, m, d)
        }
        Some(_) => return None,
    };
    Some(days * 86_400 + secs)
}

/// `settime TIME`: a manual time sample.
pub fn cmd_settime<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let Some(t) = parse_date(args, now) else {
        c.print("510 - Could not parse date string\n");
        return false;
    };
    let ts = Timespec {
        sec_high: ((t as u64) >> 32) as u32,
        sec_low: t as u32,
        nsec: 0,
    };
    let Ok(reply) = c.request(&Request::Settime(ts), &[ReplyCode::MANUAL_TIMESTAMP2], true) else {
        return false;
    };
    let ReplyBody::ManualTimestamp(m) = reply.body else {
        return false;
    };
    c.print(&format!(
        "Clock was {:.2} seconds fast.  Frequency change = {:.2}ppm, new frequency = {:.2}ppm\n",
        m.offset, m.dfreq_ppm, m.new_afreq_ppm
    ));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_lines() {
        let key: Vec<u8> = (0..=255).cycle().take(512).map(|x: u32| x as u8).collect();
        assert_eq!(
            keygen_line("", &key).as_deref(),
            Ok("1 SHA1 HEX:000102030405060708090A0B0C0D0E0F10111213\n")
        );
        assert_eq!(
            keygen_line("5 AES128", &key).as_deref(),
            Ok("5 AES128 HEX:000102030405060708090A0B0C0D0E0F\n")
        );
        // Short keys are lengthened to 10 bytes.
        let l = keygen_line("2 MD5 8", &key).expect("valid");
        assert_eq!(l, "2 MD5 HEX:00010203040506070809\n");
        assert!(keygen_line("1 FOO", &key).is_err());
        assert!(keygen_line("x", &key).is_err());
        assert!(keygen_line("1 2 3 4", &key).is_err());
    }

    #[test]
    fn local_options() {
        let l = parse_local("stratum 3 orphan distance 0.5").expect("valid");
        assert_eq!((l.on_off, l.stratum, l.orphan, l.distance), (1, 3, 1, 0.5));
        assert_eq!(l.ext.map(|e| e.wait_unsynced), Some(300.0));
        let d = parse_local("").expect("valid");
        assert_eq!((d.stratum, d.distance), (10, 1.0));
        assert_eq!(parse_local("off").map(|l| l.on_off), Some(0));
        assert!(parse_local("stratum 16").is_none());
        assert!(parse_local("bogus").is_none());
    }

    #[test]
    fn dates() {
        let now = 1_700_000_000; // 2023-11-14 22:13:20
        assert_eq!(parse_date("16:30", now), Some(1_699_979_400));
        assert_eq!(parse_date("16:30:05", now), Some(1_699_979_405));
        assert_eq!(
            parse_date("Nov 21, 2015 16:30:05", now),
            Some(1_448_123_405)
        );
        assert_eq!(parse_date("21 Nov 2015 16:30:05", now), Some(1_448_123_405));
        assert_eq!(parse_date("2015-11-21 16:30:05", now), Some(1_448_123_405));
        assert_eq!(parse_date("tomorrow", now), None);
        assert_eq!(parse_date("now", now), Some(now));
        assert_eq!(parse_date(" NOW ", now), Some(now));
        assert_eq!(parse_date("now 16:30", now), None);
        assert_eq!(parse_date("25:00", now), None);
    }
}
