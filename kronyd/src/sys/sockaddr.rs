//! Socket addresses to and from the kernel's `sockaddr_in`, `sockaddr_in6` and
//! `sockaddr_un` layouts, encoded and decoded as bytes (no unsafe here).
//!
//! Layouts (Linux): every sockaddr starts with a native-endian `sa_family_t`
//! (u16). `sockaddr_in`: port (big-endian u16) at 2, address at 4..8, 8 bytes
//! of zero padding (16 bytes). `sockaddr_in6`: port at 2, flow info (big-endian)
//! at 4..8, address at 8..24, scope id (native u32) at 24..28 (28 bytes).
//! `sockaddr_un`: path at 2.., at most 108 bytes with its NUL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{Aligned, SysError};

/// Size of `sockaddr_storage`, the largest socket address.
pub(crate) const STORAGE_LEN: usize = 128;
const SOCKADDR_IN_LEN: usize = 16;
const SOCKADDR_IN6_LEN: usize = 28;
/// Size of `sun_path` in `sockaddr_un` on Linux.
pub(crate) const SUN_PATH_LEN: usize = 108;
const FAMILY_LEN: usize = 2;

/// A socket address in the kernel's layout, with its length.
#[derive(Clone, Copy)]
pub(crate) struct RawAddr {
    pub(crate) buf: Aligned<STORAGE_LEN>,
    pub(crate) len: usize,
}

impl RawAddr {
    /// An empty buffer for the kernel to fill (recvmsg's msg_name).
    pub(crate) const fn empty() -> Self {
        RawAddr {
            buf: Aligned::zeroed(),
            len: STORAGE_LEN,
        }
    }

    /// The encoding of an IP socket address.
    pub(crate) fn from_ip(addr: &SocketAddr) -> Self {
        let mut raw = RawAddr::empty();
        let b = &mut raw.buf.0;
        match addr {
            SocketAddr::V4(a) => {
                b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
                b[2..4].copy_from_slice(&a.port().to_be_bytes());
                b[4..8].copy_from_slice(&a.ip().octets());
                raw.len = SOCKADDR_IN_LEN;
            }
            SocketAddr::V6(a) => {
                b[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
                b[2..4].copy_from_slice(&a.port().to_be_bytes());
                b[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
                b[8..24].copy_from_slice(&a.ip().octets());
                b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
                raw.len = SOCKADDR_IN6_LEN;
            }
        }
        raw
    }

    /// The encoding of a Unix socket address: a path, or an abstract name
    /// (Linux: a leading NUL, no terminating NUL) when `abstract_name` is set.
    ///
    /// # Errors
    /// [`SysError::InvalidArgument`] if the name is empty, too long or (for a
    /// path) contains a NUL byte.
    pub(crate) fn from_unix(name: &[u8], abstract_name: bool) -> Result<Self, SysError> {
        let room = SUN_PATH_LEN - 1;
        if name.is_empty() || name.len() > room || (!abstract_name && name.contains(&0)) {
            return Err(SysError::InvalidArgument(format!(
                "unusable Unix socket name {:?}",
                String::from_utf8_lossy(name)
            )));
        }
        let mut raw = RawAddr::empty();
        let b = &mut raw.buf.0;
        b[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        let start = FAMILY_LEN + usize::from(abstract_name);
        b[start..start + name.len()].copy_from_slice(name);
        // A path gets its terminating NUL (already zero) counted in the length,
        // as chrony and the C library do; an abstract name is exactly its bytes.
        raw.len = start + name.len() + usize::from(!abstract_name);
        Ok(raw)
    }

    /// The kernel's length type for this address.
    pub(crate) fn socklen(&self) -> libc::socklen_t {
        // OK because len <= STORAGE_LEN (128).
        self.len as libc::socklen_t
    }

    /// Decodes an IP socket address the kernel wrote; None for other families
    /// or a short buffer.
    pub(crate) fn ip_addr(&self) -> Option<SocketAddr> {
        decode_ip(self.buf.0.get(..self.len.min(STORAGE_LEN))?)
    }
}

/// Decodes an IPv4 or IPv6 socket address from the kernel's layout.
pub(crate) fn decode_ip(b: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    if family == libc::AF_INET && b.len() >= 8 {
        let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
        Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
    } else if family == libc::AF_INET6 && b.len() >= SOCKADDR_IN6_LEN {
        let flowinfo = u32::from_be_bytes(b[4..8].try_into().ok()?);
        let octets: [u8; 16] = b[8..24].try_into().ok()?;
        let scope = u32::from_ne_bytes(b[24..28].try_into().ok()?);
        let ip = Ipv6Addr::from(octets);
        Some(SocketAddr::V6(SocketAddrV6::new(ip, port, flowinfo, scope)))
    } else {
        None
    }
}

/// The address family (AF_INET or AF_INET6) of an IP address.
pub(crate) fn family_of(ip: &IpAddr) -> libc::c_int {
    match ip {
        IpAddr::V4(_) => libc::AF_INET,
        IpAddr::V6(_) => libc::AF_INET6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_round_trip_and_layout() {
        let a: SocketAddr = "192.0.2.7:123".parse().expect("addr");
        let raw = RawAddr::from_ip(&a);
        assert_eq!(raw.len, 16);
        assert_eq!(&raw.buf.0[2..8], &[0, 123, 192, 0, 2, 7]);
        assert_eq!(raw.ip_addr(), Some(a));
        assert_eq!(raw.len, std::mem::size_of::<libc::sockaddr_in>());
    }

    #[test]
    fn ipv6_round_trip_and_layout() {
        let a = SocketAddr::V6(SocketAddrV6::new(
            "2001:db8::1".parse().expect("ip"),
            4460,
            0x12345,
            3,
        ));
        let raw = RawAddr::from_ip(&a);
        assert_eq!(raw.len, std::mem::size_of::<libc::sockaddr_in6>());
        assert_eq!(&raw.buf.0[2..4], &4460u16.to_be_bytes());
        assert_eq!(raw.buf.0[8], 0x20);
        assert_eq!(raw.ip_addr(), Some(a));
    }

    #[test]
    fn decode_rejects_other_families_and_short_input() {
        assert_eq!(decode_ip(&[]), None);
        let mut unix = [0u8; 16];
        unix[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        assert_eq!(decode_ip(&unix), None);
        let v6 = RawAddr::from_ip(&"[::1]:1".parse().expect("addr"));
        assert_eq!(decode_ip(&v6.buf.0[..20]), None);
    }

    #[test]
    fn unix_path_and_abstract_names() {
        let p = RawAddr::from_unix(b"/run/krony/kronyd.sock", false).expect("path");
        assert_eq!(p.len, 2 + 22 + 1);
        assert_eq!(&p.buf.0[2..6], b"/run");
        let a = RawAddr::from_unix(b"krony", true).expect("abstract");
        assert_eq!(a.len, 2 + 1 + 5);
        assert_eq!(a.buf.0[2], 0);
        assert_eq!(&a.buf.0[3..8], b"krony");
        assert!(RawAddr::from_unix(b"", false).is_err());
        assert!(RawAddr::from_unix(b"a\0b", false).is_err());
        assert!(RawAddr::from_unix(&[b'x'; 108], false).is_err());
        assert!(RawAddr::from_unix(&[b'x'; 107], false).is_ok());
    }
}
