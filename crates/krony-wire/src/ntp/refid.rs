//! The reference ID (RFC 5905 §7.3): a 32-bit code naming a server's
//! reference clock.
//!
//! Its meaning depends on the stratum: at stratum 0 it is a kiss code
//! ([`super::KissCode`]), at stratum 1 four ASCII characters naming the clock
//! ("GPS", "PPS", "LOCL", ...), above that an address of the upstream server
//! (IPv4) or the first 32 bits of its MD5 hash (IPv6).

use core::fmt;
use std::net::{IpAddr, Ipv6Addr};

use md5::{Digest, Md5};

/// A reference ID, held as the big-endian 32-bit value of the wire.
///
/// ```
/// use krony_wire::ntp::RefId;
/// assert_eq!(RefId::from_ascii(b"GPS").to_string(), "47505300");
/// assert_eq!(RefId::from_ascii(b"GPS").ascii(), "GPS");
/// assert_eq!(RefId::from_ip("192.0.2.1".parse().unwrap()), RefId(0xC000_0201));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RefId(pub u32);

impl RefId {
    /// Unsynchronised: what a server with no reference sends (chrony's
    /// `NTP_REFID_UNSYNC`).
    pub const UNSYNC: RefId = RefId(0);
    /// The local reference, 127.127.1.1, used by chrony's `local` directive.
    pub const LOCAL: RefId = RefId(0x7F7F_0101);
    /// 127.127.1.255, used by chrony while smoothing time (`smoothtime`).
    pub const SMOOTH: RefId = RefId(0x7F7F_01FF);

    /// From up to four ASCII bytes, left-aligned and zero-padded as RFC 5905
    /// §7.3 says. Bytes past the fourth are ignored.
    pub fn from_ascii(code: &[u8]) -> Self {
        let mut bytes = [0u8; 4];
        for (dst, src) in bytes.iter_mut().zip(code) {
            *dst = *src;
        }
        RefId(u32::from_be_bytes(bytes))
    }

    /// The reference ID of an upstream server's address (RFC 5905 §7.3): an
    /// IPv4 address as is; for IPv6 the first four bytes of the MD5 digest of
    /// the 16 address bytes, as chrony computes it. IPv4-mapped IPv6
    /// addresses are hashed like any other IPv6 address.
    pub fn from_ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(v4) => RefId(u32::from(v4)),
            IpAddr::V6(v6) => Self::from_ipv6(v6),
        }
    }

    fn from_ipv6(addr: Ipv6Addr) -> Self {
        let digest = Md5::digest(addr.octets());
        let mut first = [0u8; 4];
        first.copy_from_slice(&digest[..4]);
        RefId(u32::from_be_bytes(first))
    }

    /// The four bytes in wire order.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// The printable ASCII characters of the ID, others skipped, like the
    /// text chronyc shows for stratum-1 sources ("GPS", "PPS").
    pub fn ascii(self) -> String {
        self.to_bytes()
            .iter()
            .filter(|b| b.is_ascii_graphic() || **b == b' ')
            .map(|b| char::from(*b))
            .collect()
    }
}

impl fmt::Display for RefId {
    /// Eight upper-case hex digits, as chronyc prints reference IDs (`%08X`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

impl fmt::Debug for RefId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefId({:08X})", self.0)
    }
}

impl From<u32> for RefId {
    fn from(v: u32) -> Self {
        RefId(v)
    }
}

impl From<RefId> for u32 {
    fn from(r: RefId) -> Self {
        r.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn ipv4_is_the_address() {
        assert_eq!(RefId::from_ip(ip("127.127.1.1")), RefId::LOCAL);
        assert_eq!(RefId::from_ip(ip("192.168.123.1")).to_string(), "C0A87B01");
    }

    #[test]
    fn ipv6_is_md5_prefix() {
        // python3 -c "import hashlib,ipaddress;
        //   print(hashlib.md5(ipaddress.IPv6Address('2001:db8::1').packed).hexdigest()[:8])"
        // -> 39ab9b37; '::1' -> cf404dc8; 'fe80::1' -> 89e5301f
        assert_eq!(RefId::from_ip(ip("2001:db8::1")), RefId(0x39AB_9B37));
        assert_eq!(RefId::from_ip(ip("::1")), RefId(0xCF40_4DC8));
        assert_eq!(RefId::from_ip(ip("fe80::1")), RefId(0x89E5_301F));
    }

    #[test]
    fn display_is_eight_upper_hex_digits() {
        assert_eq!(RefId(0).to_string(), "00000000");
        assert_eq!(RefId(0xabc).to_string(), "00000ABC");
        assert_eq!(format!("{:?}", RefId::LOCAL), "RefId(7F7F0101)");
    }

    #[test]
    fn ascii_codes() {
        assert_eq!(RefId::from_ascii(b"PPS").0, 0x5050_5300);
        assert_eq!(RefId::from_ascii(b"LOCL").ascii(), "LOCL");
        assert_eq!(RefId::from_ascii(b"TOOLONG").ascii(), "TOOL");
        assert_eq!(RefId::LOCAL.ascii(), "");
        assert_eq!(RefId::UNSYNC.ascii(), "");
    }
}
