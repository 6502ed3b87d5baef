//! Compound field types of cmdmon: `IPAddr`, `Timespec` and fixed-size names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::UnixTime;

/// Length of an `IPAddr` on the wire: a 16-byte address union, a u16 family
/// and a u16 of padding.
pub const IPADDR_LEN: usize = 20;
/// Length of a `Timespec` on the wire.
pub const TIMESPEC_LEN: usize = 12;
/// Length of the name fields (ADD_SOURCE request, NTP_SOURCE_NAME reply).
pub const NAME_LEN: usize = 256;

/// Family codes of `IPAddr` (addressing.h).
mod family {
    pub const UNSPEC: u16 = 0;
    pub const INET4: u16 = 1;
    pub const INET6: u16 = 2;
    pub const ID: u16 = 3;
}

/// An address as cmdmon carries it (`IPAddr`, 20 bytes).
///
/// Besides IPv4 and IPv6 it can hold nothing (`Unspec`, e.g. "all sources"
/// in BURST, or no address in ALLOW) or an `Id`: chronyd's number for a
/// source whose name is not resolved yet. Like chronyd, the parser maps an
/// unknown family to `Unspec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CmdAddr {
    /// No address.
    #[default]
    Unspec,
    /// An IPv4 address (big-endian u32 at offset 0).
    Inet4(Ipv4Addr),
    /// An IPv6 address (16 bytes at offset 0).
    Inet6(Ipv6Addr),
    /// A source identifier (big-endian u32 at offset 0).
    Id(u32),
}

impl CmdAddr {
    /// Decodes the 20 bytes of an `IPAddr`.
    pub fn from_bytes(b: &[u8; IPADDR_LEN]) -> CmdAddr {
        let fam = u16::from_be_bytes([b[16], b[17]]);
        let word = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        match fam {
            family::INET4 => CmdAddr::Inet4(Ipv4Addr::from(word)),
            family::INET6 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&b[..16]);
                CmdAddr::Inet6(Ipv6Addr::from(a))
            }
            family::ID => CmdAddr::Id(word),
            _ => CmdAddr::Unspec,
        }
    }

    /// Encodes as the 20 bytes of an `IPAddr`; unused bytes are zero.
    pub fn to_bytes(&self) -> [u8; IPADDR_LEN] {
        let mut b = [0u8; IPADDR_LEN];
        let fam = match self {
            CmdAddr::Unspec => family::UNSPEC,
            CmdAddr::Inet4(a) => {
                b[..4].copy_from_slice(&a.octets());
                family::INET4
            }
            CmdAddr::Inet6(a) => {
                b[..16].copy_from_slice(&a.octets());
                family::INET6
            }
            CmdAddr::Id(id) => {
                b[..4].copy_from_slice(&id.to_be_bytes());
                family::ID
            }
        };
        b[16..18].copy_from_slice(&fam.to_be_bytes());
        b
    }

    /// The IP address, if this is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            CmdAddr::Inet4(a) => Some(IpAddr::V4(a)),
            CmdAddr::Inet6(a) => Some(IpAddr::V6(a)),
            CmdAddr::Unspec | CmdAddr::Id(_) => None,
        }
    }
}

impl From<IpAddr> for CmdAddr {
    fn from(ip: IpAddr) -> CmdAddr {
        match ip {
            IpAddr::V4(a) => CmdAddr::Inet4(a),
            IpAddr::V6(a) => CmdAddr::Inet6(a),
        }
    }
}

impl From<Ipv4Addr> for CmdAddr {
    fn from(a: Ipv4Addr) -> CmdAddr {
        CmdAddr::Inet4(a)
    }
}

impl From<Ipv6Addr> for CmdAddr {
    fn from(a: Ipv6Addr) -> CmdAddr {
        CmdAddr::Inet6(a)
    }
}

/// A point in time as cmdmon carries it (`Timespec`, 12 bytes), kept raw so
/// that parsing and emitting is lossless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Timespec {
    /// High 32 bits of the seconds; [`Timespec::NO_HIGH_SEC`] from a sender
    /// with a 32-bit `time_t`.
    pub sec_high: u32,
    /// Low 32 bits of the seconds.
    pub sec_low: u32,
    /// Nanoseconds; chrony clamps values above 999 999 999 when reading.
    pub nsec: u32,
}

impl Timespec {
    /// The `sec_high` of a sender without 64-bit seconds (`TV_NOHIGHSEC`).
    pub const NO_HIGH_SEC: u32 = 0x7fff_ffff;

    /// The wire form of `t` (as chronyd with a 64-bit `time_t` sends it).
    pub fn from_unix(t: UnixTime) -> Timespec {
        // `as u64` keeps the two's complement of times before 1970, which
        // is what chronyd's (uint64_t)tv_sec cast sends.
        let secs = t.secs() as u64;
        Timespec {
            sec_high: (secs >> 32) as u32,
            sec_low: secs as u32,
            nsec: t.subsec_nanos(),
        }
    }

    /// The time this stands for, read the way chronyd reads it.
    pub fn to_unix(&self) -> UnixTime {
        let high = if self.sec_high == Self::NO_HIGH_SEC {
            0
        } else {
            self.sec_high
        };
        let secs = ((u64::from(high) << 32) | u64::from(self.sec_low)) as i64;
        UnixTime::from_secs_nanos(secs, i64::from(self.nsec.min(999_999_999)))
    }
}

/// A NUL-terminated name in a fixed 256-byte field (a host name in
/// ADD_SOURCE, a source name in the NTP_SOURCE_NAME reply).
///
/// Holds the bytes before the first NUL; 256 bytes means the field was not
/// terminated, which chronyd rejects with `STT_INVALIDNAME`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Name(Vec<u8>);

impl Name {
    /// From bytes; `None` if longer than the field or containing a NUL.
    pub fn new(bytes: &[u8]) -> Option<Name> {
        (bytes.len() <= NAME_LEN && !bytes.contains(&0)).then(|| Name(bytes.to_vec()))
    }

    /// Reads the field: the bytes up to the first NUL.
    pub fn from_field(field: &[u8]) -> Name {
        let field = &field[..field.len().min(NAME_LEN)];
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        Name(field[..end].to_vec())
    }

    /// The field's 256 bytes, zero padded.
    pub fn to_field(&self) -> [u8; NAME_LEN] {
        let mut f = [0u8; NAME_LEN];
        let n = self.0.len().min(NAME_LEN);
        f[..n].copy_from_slice(&self.0[..n]);
        f
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Whether the name leaves room for its terminating NUL, as chronyd
    /// requires of names it accepts.
    pub fn is_terminated(&self) -> bool {
        self.0.len() < NAME_LEN
    }
}

impl From<&str> for Name {
    /// Truncates to 256 bytes and at the first NUL.
    fn from(s: &str) -> Name {
        Name::from_field(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipaddr_golden_bytes() {
        let a = CmdAddr::from(Ipv4Addr::new(192, 0, 2, 1));
        let b = a.to_bytes();
        assert_eq!(&b[..4], &[192, 0, 2, 1]);
        assert_eq!(&b[4..16], &[0; 12]);
        assert_eq!(&b[16..], &[0, 1, 0, 0]);
        assert_eq!(CmdAddr::from_bytes(&b), a);

        let id = CmdAddr::Id(0x0102_0304).to_bytes();
        assert_eq!(&id[..4], &[1, 2, 3, 4]);
        assert_eq!(&id[16..18], &[0, 3]);

        let v6: Ipv6Addr = "2001:db8::1".parse().expect("literal");
        let b6 = CmdAddr::from(v6).to_bytes();
        assert_eq!(&b6[..16], &v6.octets());
        assert_eq!(&b6[16..18], &[0, 2]);
        assert_eq!(CmdAddr::from_bytes(&b6).ip(), Some(IpAddr::V6(v6)));
    }

    #[test]
    fn unknown_family_reads_as_unspec() {
        let mut b = [0xAAu8; IPADDR_LEN];
        b[16] = 0;
        b[17] = 9;
        assert_eq!(CmdAddr::from_bytes(&b), CmdAddr::Unspec);
        assert_eq!(CmdAddr::Unspec.to_bytes(), [0; IPADDR_LEN]);
    }

    #[test]
    fn timespec_high_seconds() {
        let t = UnixTime::from_secs_nanos(0x1_2345_6789, 5);
        let ts = Timespec::from_unix(t);
        assert_eq!((ts.sec_high, ts.sec_low, ts.nsec), (1, 0x2345_6789, 5));
        assert_eq!(ts.to_unix(), t);

        let old = Timespec {
            sec_high: Timespec::NO_HIGH_SEC,
            sec_low: 1000,
            nsec: 2_000_000_000,
        };
        assert_eq!(old.to_unix(), UnixTime::from_secs_nanos(1000, 999_999_999));
    }

    #[test]
    fn timespec_before_epoch_round_trips() {
        let t = UnixTime::from_secs_nanos(-10, 250);
        assert_eq!(Timespec::from_unix(t).to_unix(), t);
    }

    #[test]
    fn names_stop_at_nul() {
        let mut field = [0u8; NAME_LEN];
        field[..4].copy_from_slice(b"ntp1");
        field[5] = b'x';
        let n = Name::from_field(&field);
        assert_eq!(n.as_str(), Some("ntp1"));
        assert_eq!(n.to_field()[..5], *b"ntp1\0");
        let full = Name::from_field(&[b'a'; NAME_LEN]);
        assert!(!full.is_terminated());
        assert_eq!(full.to_field(), [b'a'; NAME_LEN]);
        assert_eq!(Name::new(b"a\0b"), None);
    }
}
