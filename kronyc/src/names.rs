//! Addresses and names as chronyc shows them: address strings, reference
//! ID text, forward and reverse name resolution through the C library
//! (`getaddrinfo`/`getnameinfo`, as chronyc, so `/etc/hosts` and NSS apply).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use krony_wire::cmdmon::CmdAddr;
use md5::{Digest, Md5};

/// Which address families names resolve to (`-4`, `-6`, `dns -46`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    /// Both.
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl Family {
    fn admits(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// An address as chronyc prints it: dotted quad, RFC 5952-style IPv6 (as
/// glibc's `inet_ntop`), `ID#0000000001` for an unresolved source, and
/// `[UNSPEC]` for none.
pub fn addr_string(a: &CmdAddr) -> String {
    match a {
        CmdAddr::Unspec => "[UNSPEC]".to_string(),
        CmdAddr::Inet4(v4) => v4.to_string(),
        CmdAddr::Inet6(v6) => ipv6_string(v6),
        CmdAddr::Id(id) => format!("ID#{id:010}"),
    }
}

/// glibc's `inet_ntop(AF_INET6)`: the first longest run of two or more
/// zero groups becomes `::`; an address whose first 96 bits are zero
/// (except `::` and `::1`-like ones with a longer run) or an IPv4-mapped
/// one ends in dotted-quad form.
pub fn ipv6_string(a: &Ipv6Addr) -> String {
    let w = a.segments();
    // The first longest run of zero groups, if at least 2 long.
    // (start, length) of zero runs.
    type Run = Option<(usize, usize)>;
    let (mut best, mut cur): (Run, Run) = (None, None);
    for (i, &g) in w.iter().enumerate() {
        if g == 0 {
            cur = Some(cur.map_or((i, 1), |(s, l)| (s, l + 1)));
            if let Some(c) = cur {
                if best.is_none_or(|b| c.1 > b.1) {
                    best = Some(c);
                }
            }
        } else {
            cur = None;
        }
    }
    let best = best.filter(|b| b.1 >= 2);
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((s, l)) = best {
            if i == s {
                if i == 0 {
                    out.push(':');
                }
                out.push(':');
                i += l;
                continue;
            }
        }
        // An embedded IPv4 address (glibc's rule: the run starts at 0 and
        // is 6 groups long, or 5 followed by ffff).
        if i == 6 {
            if let Some((0, l)) = best {
                if l == 6 || (l == 5 && w[5] == 0xffff) {
                    let o = a.octets();
                    out.push_str(&Ipv4Addr::new(o[12], o[13], o[14], o[15]).to_string());
                    break;
                }
            }
        }
        out.push_str(&format!("{:x}", w[i]));
        if i < 7 {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// The printable characters of a reference ID (chrony's `RefidToString`).
pub fn refid_string(id: u32) -> String {
    id.to_be_bytes()
        .iter()
        .filter(|c| (0x20..0x7f).contains(*c))
        .map(|&c| char::from(c))
        .collect()
}

/// The reference ID chrony derives from an address: the IPv4 address, or
/// the first 32 bits of the MD5 digest of the IPv6 address (RFC 5905
/// section 7.3 says "first four octets of the MD5 hash").
pub fn addr_refid(a: &CmdAddr) -> u32 {
    match a {
        CmdAddr::Inet4(v4) => u32::from(*v4),
        CmdAddr::Inet6(v6) => {
            let d = Md5::digest(v6.octets());
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        }
        _ => 0,
    }
}

/// Parses a numeric address (`inet_pton`).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Parses `ID#N`, the name chronyc gives an unresolved source.
pub fn parse_id(s: &str) -> Option<CmdAddr> {
    let digits = s.strip_prefix("ID#")?;
    // Like sscanf("%u"): leading digits are enough.
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok().map(CmdAddr::Id)
}

/// Resolves a name to its addresses (at most 16) in `family`. A numeric
/// address of the other family fails, as in chronyc.
pub fn resolve(name: &str, family: Family) -> Vec<IpAddr> {
    if let Some(ip) = parse_ip(name) {
        return if family.admits(&ip) { vec![ip] } else { vec![] };
    }
    let hints = dns_lookup::AddrInfoHints {
        flags: 0,
        address: match family {
            Family::Any => libc::AF_UNSPEC,
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        },
        socktype: libc::SOCK_DGRAM,
        protocol: 0,
    };
    let Ok(iter) = dns_lookup::getaddrinfo(Some(name), None, Some(hints)) else {
        return vec![];
    };
    iter.filter_map(Result::ok)
        .filter_map(|ai| match ai.sockaddr {
            // An address that would lose its scope ID is no use.
            SocketAddr::V6(s) if s.scope_id() != 0 => None,
            s => Some(s.ip()),
        })
        .filter(|ip| family.admits(ip))
        .take(16)
        .collect()
}

/// Resolves a name to one address.
pub fn resolve_one(name: &str, family: Family) -> Option<IpAddr> {
    resolve(name, family).into_iter().next()
}

/// The host name of an address (`getnameinfo`), or its numeric form.
pub fn reverse(a: &CmdAddr) -> String {
    if let Some(ip) = a.ip() {
        if let Ok((host, _)) = dns_lookup::getnameinfo(&SocketAddr::new(ip, 0), 0) {
            return host;
        }
    }
    addr_string(a)
}

/// Shortens a name to `max` characters, marking the cut with `>` in the
/// last column (chronyc's `sources` name column).
pub fn truncate(name: &str, max: usize) -> String {
    if max > 0 && name.chars().count() > max {
        let mut s: String = name.chars().take(max - 1).collect();
        s.push('>');
        s
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().expect("literal")
    }

    #[test]
    fn ipv6_like_inet_ntop() {
        for (input, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0:0:1::1", "2001:0:0:1::1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::192.0.2.1", "::192.0.2.1"),
            ("fe80::", "fe80::"),
        ] {
            assert_eq!(ipv6_string(&v6(input)), want, "{input}");
        }
    }

    #[test]
    fn address_strings() {
        assert_eq!(addr_string(&CmdAddr::Unspec), "[UNSPEC]");
        assert_eq!(addr_string(&CmdAddr::Id(7)), "ID#0000000007");
        assert_eq!(
            addr_string(&CmdAddr::Inet4(Ipv4Addr::new(192, 0, 2, 1))),
            "192.0.2.1"
        );
        assert_eq!(parse_id("ID#0000000007"), Some(CmdAddr::Id(7)));
        assert_eq!(parse_id("ID#x"), None);
    }

    #[test]
    fn refids() {
        assert_eq!(refid_string(0x4750_5300), "GPS");
        assert_eq!(refid_string(0x7F7F_0101), "");
        assert_eq!(
            addr_refid(&CmdAddr::Inet4(Ipv4Addr::new(192, 168, 123, 1))),
            0xC0A8_7B01
        );
        // md5(::1) = cf404dc8..., computed with Python's hashlib.
        assert_eq!(
            addr_refid(&CmdAddr::Inet6(Ipv6Addr::LOCALHOST)),
            0xCF40_4DC8
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("abcdef", 4), "abc>");
        assert_eq!(truncate("abcd", 4), "abcd");
        assert_eq!(truncate("abcdef", 0), "abcdef");
    }

    #[test]
    fn numeric_resolution_respects_family() {
        assert_eq!(
            resolve_one("127.0.0.1", Family::Any),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(resolve_one("127.0.0.1", Family::V6), None);
        assert_eq!(
            resolve_one("::1", Family::V6),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
    }
}
