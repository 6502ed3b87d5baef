//! Reading command arguments the way chronyc does: C `sscanf`/`atoi`
//! number prefixes, whitespace normalisation, masks and subnets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use krony_wire::cmdmon::{CmdAddr, MaskAddress, Subnet};

use crate::names::{self, Family};

/// Collapses whitespace runs to one space, trims, and empties comment
/// lines (first non-blank character one of `!;#%`).
pub fn normalize_line(line: &str) -> String {
    let words: Vec<&str> = line.split_ascii_whitespace().collect();
    match words.first() {
        Some(w) if w.starts_with(['!', ';', '#', '%']) => String::new(),
        _ => words.join(" "),
    }
}

/// The first word and the rest (without leading whitespace).
pub fn split_word(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    match line.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&line[..i], line[i..].trim_start()),
        None => (line, ""),
    }
}

/// The longest prefix of `s` (after leading whitespace) that is an
/// integer, as `sscanf("%d")` reads it; `None` if there is none.
pub fn c_int(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let sign_len = usize::from(t.starts_with(['+', '-']));
    let digits = t[sign_len..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(t.len() - sign_len);
    if digits == 0 {
        return None;
    }
    // sscanf saturates out-of-range values; clamp likewise.
    let v: i64 = t[..sign_len + digits]
        .parse()
        .unwrap_or(if t.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
    Some(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

/// `sscanf("%u")` for 32-bit values (a minus sign wraps, as in C).
pub fn c_uint(s: &str) -> Option<u32> {
    let t = s.trim_start();
    let sign_len = usize::from(t.starts_with(['+', '-']));
    let digits = t[sign_len..]
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(t.len() - sign_len);
    if digits == 0 {
        return None;
    }
    let v: u64 = t[sign_len..sign_len + digits].parse().unwrap_or(u64::MAX);
    let v = u32::try_from(v).unwrap_or(u32::MAX);
    Some(if t.starts_with('-') {
        v.wrapping_neg()
    } else {
        v
    })
}

/// `atoi`: the integer prefix, or 0.
pub fn atoi(s: &str) -> i32 {
    c_int(s).unwrap_or(0)
}

/// The longest prefix of `s` (after leading whitespace) that is a real
/// number, as `sscanf("%lf")` reads it.
pub fn c_double(s: &str) -> Option<f64> {
    let t = s.trim_start();
    let end = t.find(|c: char| c.is_ascii_whitespace()).unwrap_or(t.len());
    let word = &t[..end];
    (1..=word.len())
        .rev()
        .filter(|&n| word.is_char_boundary(n))
        .find_map(|n| word[..n].parse::<f64>().ok())
}

/// An address for a source: `ID#N`, a numeric address, or a name that
/// resolves.
pub fn source_address(word: &str, family: Family) -> Option<CmdAddr> {
    names::parse_id(word).or_else(|| names::resolve_one(word, family).map(CmdAddr::from))
}

/// A mask with `bits` leading ones for the family of `addr` (all ones
/// for a negative or too large count; none for a source ID).
pub fn bits_to_mask(bits: i64, addr: &CmdAddr) -> CmdAddr {
    match addr {
        CmdAddr::Inet4(_) => {
            let b = if (0..=32).contains(&bits) { bits } else { 32 };
            let m = if b == 0 { 0 } else { u32::MAX << (32 - b) };
            CmdAddr::Inet4(Ipv4Addr::from(m))
        }
        CmdAddr::Inet6(_) => {
            let b = if (0..=128).contains(&bits) { bits } else { 128 };
            let m = if b == 0 { 0 } else { u128::MAX << (128 - b) };
            CmdAddr::Inet6(Ipv6Addr::from(m))
        }
        _ => CmdAddr::Unspec,
    }
}

/// `[[mask/]address]` or `address/bits` of `online`, `offline`, `burst`;
/// an error message if it does not parse.
pub fn mask_address(s: &str, family: Family) -> Result<MaskAddress, &'static str> {
    if s.is_empty() {
        return Ok(MaskAddress::default());
    }
    const BAD: &str = "Invalid syntax for mask/address";
    if let Some((p, q)) = s.split_once('/') {
        let mask = names::parse_ip(p).map(CmdAddr::from).ok_or(BAD)?;
        if let Some(address) = names::parse_ip(q).map(CmdAddr::from) {
            let same = matches!(
                (mask, address),
                (CmdAddr::Inet4(_), CmdAddr::Inet4(_)) | (CmdAddr::Inet6(_), CmdAddr::Inet6(_))
            );
            return if same {
                Ok(MaskAddress { mask, address })
            } else {
                Err(BAD)
            };
        }
        let bits = c_uint(q).ok_or(BAD)?;
        return Ok(MaskAddress {
            mask: bits_to_mask(i64::from(bits), &mask),
            address: mask,
        });
    }
    let address = source_address(s, family).ok_or("Could not get address for hostname")?;
    Ok(MaskAddress {
        mask: bits_to_mask(-1, &address),
        address,
    })
}

/// `[all] [subnet]` of `allow`, `deny`, `cmdallow`, `cmddeny`: whether
/// `all` was given, and the subnet (`None` if it does not parse).
pub fn allow_deny(s: &str, family: Family) -> Option<(bool, Subnet)> {
    let (first, rest) = split_word(s);
    let (all, net, rest) = if first == "all" {
        let (net, rest) = split_word(rest);
        (true, net, rest)
    } else {
        (false, first, rest)
    };
    if !rest.is_empty() {
        return None;
    }
    if net.is_empty() {
        return Some((all, Subnet::default()));
    }
    let (addr, bits) = match net.split_once('/') {
        Some((a, b)) => {
            // The whole suffix must be a non-negative number.
            let v: i32 = b.parse().ok().filter(|v| *v >= 0)?;
            (a, Some(v))
        }
        None => (net, None),
    };
    let full = |ip: &IpAddr| if ip.is_ipv6() { 128 } else { 32 };
    if let Some(ip) = names::parse_ip(addr) {
        let subnet_bits = bits.unwrap_or(full(&ip));
        return Some((
            all,
            Subnet {
                ip: CmdAddr::from(ip),
                subnet_bits,
            },
        ));
    }
    match short_ipv4(addr) {
        Some(Some((ip, n))) => {
            let subnet_bits = bits.unwrap_or(8 * n);
            return Some((
                all,
                Subnet {
                    ip: CmdAddr::Inet4(ip),
                    subnet_bits,
                },
            ));
        }
        // Numbers, but one above 255.
        Some(None) => return None,
        None => {}
    }
    if bits.is_none() {
        let ip = names::resolve_one(addr, family)?;
        let subnet_bits = full(&ip);
        return Some((
            all,
            Subnet {
                ip: CmdAddr::from(ip),
                subnet_bits,
            },
        ));
    }
    None
}

/// chrony's shortened IPv4 network: 1 to 3 decimal numbers separated by
/// dots (`10`, `192.168`, `192.168.1`), with the count of numbers.
/// `None` if `s` is not of that form, `Some(None)` if a number is above
/// 255.
fn short_ipv4(s: &str) -> Option<Option<(Ipv4Addr, i32)>> {
    let parts: Vec<&str> = s.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() > 3 || !parts.iter().all(numeric) {
        return None;
    }
    let mut octets = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        match p.parse() {
            Ok(o) => octets[i] = o,
            Err(_) => return Some(None),
        }
    }
    Some(Some((Ipv4Addr::from(octets), parts.len() as i32)))
}

/// A reference ID from up to 4 characters (`GPS`, `PPS`), as chrony
/// reads it for `selectopts` and `offset`.
pub fn parse_refid(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 4 {
        return None;
    }
    Some(
        b.iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | u32::from(c) << (24 - 8 * i)),
    )
}

/// A source given by address or, for reference clocks, refid (host names
/// are not accepted, so that they cannot be mistaken for refids).
pub fn address_or_refid(s: &str) -> Option<(CmdAddr, u32)> {
    if let Some(a) = names::parse_id(s).or_else(|| names::parse_ip(s).map(CmdAddr::from)) {
        return Some((a, 0));
    }
    parse_refid(s).map(|id| (CmdAddr::Unspec, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_words() {
        assert_eq!(normalize_line("  sources \t -v  "), "sources -v");
        assert_eq!(normalize_line("# comment"), "");
        assert_eq!(normalize_line("  ;x"), "");
        assert_eq!(split_word("add server x"), ("add", "server x"));
        assert_eq!(split_word("tracking"), ("tracking", ""));
    }

    #[test]
    fn c_numbers() {
        assert_eq!(c_int("42abc"), Some(42));
        assert_eq!(c_int(" -7"), Some(-7));
        assert_eq!(c_int("x"), None);
        assert_eq!(c_int("99999999999"), Some(i32::MAX));
        assert_eq!(c_uint("-1"), Some(u32::MAX));
        assert_eq!(atoi("abc"), 0);
        assert_eq!(c_double("1.5e3x"), Some(1500.0));
        assert_eq!(c_double("-.5"), Some(-0.5));
        assert_eq!(c_double("x1"), None);
    }

    #[test]
    fn masks() {
        let m = mask_address("192.168.1.0/24", Family::Any).expect("valid");
        assert_eq!(m.mask, CmdAddr::Inet4(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(m.address, CmdAddr::Inet4(Ipv4Addr::new(192, 168, 1, 0)));
        let m = mask_address("255.255.0.0/10.1.0.0", Family::Any).expect("valid");
        assert_eq!(m.mask, CmdAddr::Inet4(Ipv4Addr::new(255, 255, 0, 0)));
        let m = mask_address("10.0.0.1", Family::Any).expect("valid");
        assert_eq!(m.mask, CmdAddr::Inet4(Ipv4Addr::BROADCAST));
        let m = mask_address("ID#0000000003", Family::Any).expect("valid");
        assert_eq!((m.mask, m.address), (CmdAddr::Unspec, CmdAddr::Id(3)));
        assert!(mask_address("1.2.3.4/::1", Family::Any).is_err());
        let v6 = mask_address("2001:db8::/33", Family::Any).expect("valid");
        let want: Ipv6Addr = "ffff:ffff:8000::".parse().expect("literal");
        assert_eq!(v6.mask, CmdAddr::Inet6(want));
    }

    #[test]
    fn subnets() {
        let (all, s) = allow_deny("all 10/8", Family::Any).expect("valid");
        assert!(all);
        assert_eq!(s.ip, CmdAddr::Inet4(Ipv4Addr::new(10, 0, 0, 0)));
        assert_eq!(s.subnet_bits, 8);
        let (_, s) = allow_deny("192.168", Family::Any).expect("valid");
        assert_eq!(s.subnet_bits, 16);
        let (_, s) = allow_deny("::1", Family::Any).expect("valid");
        assert_eq!(s.subnet_bits, 128);
        let (all, s) = allow_deny("", Family::Any).expect("valid");
        assert_eq!((all, s), (false, Subnet::default()));
        assert_eq!(allow_deny("10/x", Family::Any), None);
        assert_eq!(allow_deny("10 20", Family::Any), None);
        assert_eq!(allow_deny("256", Family::Any), None);
    }

    #[test]
    fn refids() {
        assert_eq!(parse_refid("GPS"), Some(0x4750_5300));
        assert_eq!(parse_refid("ABCDE"), None);
        assert_eq!(
            address_or_refid("PPS"),
            Some((CmdAddr::Unspec, 0x5050_5300))
        );
        assert_eq!(
            address_or_refid("127.0.0.1"),
            Some((CmdAddr::Inet4(Ipv4Addr::LOCALHOST), 0))
        );
    }
}
