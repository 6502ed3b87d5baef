//! Control messages (`cmsghdr` chains) parsed from, and built into, plain byte
//! buffers, so no pointer walking (CMSG_NXTHDR) is needed and all of it is
//! testable with crafted bytes.
//!
//! Layout (the kernel's, `include/linux/socket.h`): a header of
//! `cmsg_len: size_t, cmsg_level: int, cmsg_type: int`, then the data; each
//! message starts at a multiple of `sizeof(size_t)` (CMSG_ALIGN).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use krony_wire::UnixTime;

const WORD: usize = std::mem::size_of::<usize>();
/// `CMSG_ALIGN(sizeof(struct cmsghdr))`.
const HDR_LEN: usize = align(WORD + 8);

/// Rounds up to the control-message alignment (CMSG_ALIGN).
const fn align(n: usize) -> usize {
    (n + WORD - 1) & !(WORD - 1)
}

/// CMSG_SPACE: the room one control message with `data_len` bytes of data takes.
pub(crate) const fn space(data_len: usize) -> usize {
    HDR_LEN + align(data_len)
}

/// `SCM_TSTAMP_SND` (linux/errqueue.h): the timestamp was taken when the packet
/// left the network stack (software TX timestamp).
const SCM_TSTAMP_SND: u32 = 0;
/// `SO_EE_ORIGIN_TIMESTAMPING` (linux/errqueue.h).
const SO_EE_ORIGIN_TIMESTAMPING: u8 = 4;
/// Bytes of `struct sock_extended_err`.
const EXT_ERR_LEN: usize = 16;
/// Bytes of `struct in_pktinfo` and `struct in6_pktinfo`.
const IN_PKTINFO_LEN: usize = 12;
const IN6_PKTINFO_LEN: usize = 20;

/// The local end of a received packet (IP_PKTINFO / IPV6_PKTINFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAddr {
    /// The packet's destination address, i.e. our address it arrived on.
    pub addr: IpAddr,
    /// The interface it arrived on (0 if unknown).
    pub if_index: u32,
}

/// What a received control-message chain said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ControlInfo {
    /// From IP_PKTINFO or IPV6_PKTINFO.
    pub local: Option<LocalAddr>,
    /// Software timestamp (SCM_TIMESTAMPING `ts[0]`, SCM_TIMESTAMPNS or SCM_TIMESTAMP).
    pub kernel_ts: Option<UnixTime>,
    /// Raw hardware timestamp (SCM_TIMESTAMPING `ts[2]`).
    pub hw_ts: Option<UnixTime>,
    /// From IP_RECVERR / IPV6_RECVERR on the error queue.
    pub ext_err: Option<ExtendedError>,
}

/// The fields of `struct sock_extended_err` krony looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExtendedError {
    pub errno: u32,
    pub origin: u8,
    pub info: u32,
    pub data: u32,
}

impl ExtendedError {
    /// Whether this reports a software transmit timestamp (and not e.g. an ICMP error).
    pub(crate) fn is_tx_timestamp(&self) -> bool {
        self.errno == libc::ENOMSG as u32
            && self.info == SCM_TSTAMP_SND
            && self.origin == SO_EE_ORIGIN_TIMESTAMPING
    }
}

/// Reads a native-endian signed integer of 4 or 8 bytes.
fn read_int(b: &[u8], offset: usize, size: usize) -> Option<i64> {
    let bytes = b.get(offset..offset.checked_add(size)?)?;
    match size {
        4 => Some(i64::from(i32::from_ne_bytes(bytes.try_into().ok()?))),
        8 => Some(i64::from_ne_bytes(bytes.try_into().ok()?)),
        _ => None,
    }
}

fn read_u32(b: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        b.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

/// Decodes a `struct timespec` (time_t seconds, long nanoseconds); None when it
/// is zero (no timestamp) or the nanoseconds are out of range.
pub(crate) fn decode_timespec(b: &[u8]) -> Option<UnixTime> {
    let sec_len = std::mem::size_of::<libc::time_t>();
    let secs = read_int(b, 0, sec_len)?;
    let nanos = read_int(b, sec_len, std::mem::size_of::<libc::c_long>())?;
    if (secs == 0 && nanos == 0) || !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    Some(UnixTime::from_secs_nanos(secs, nanos))
}

/// Decodes a `struct timeval` (SCM_TIMESTAMP); None when zero or invalid.
fn decode_timeval(b: &[u8]) -> Option<UnixTime> {
    let sec_len = std::mem::size_of::<libc::time_t>();
    let secs = read_int(b, 0, sec_len)?;
    let micros = read_int(b, sec_len, std::mem::size_of::<libc::suseconds_t>())?;
    if (secs == 0 && micros == 0) || !(0..1_000_000).contains(&micros) {
        return None;
    }
    Some(UnixTime::from_secs_nanos(secs, micros * 1000))
}

/// Iterates over the (level, type, data) of a control-message chain, stopping
/// at the first malformed header.
fn messages(buf: &[u8]) -> impl Iterator<Item = (i32, i32, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let hdr = buf.get(pos..pos.checked_add(HDR_LEN)?)?;
        let len = usize::try_from(read_int(hdr, 0, WORD)?).ok()?;
        let level = i32::try_from(read_int(hdr, WORD, 4)?).ok()?;
        let kind = i32::try_from(read_int(hdr, WORD + 4, 4)?).ok()?;
        if len < HDR_LEN {
            return None;
        }
        let data = buf.get(pos + HDR_LEN..pos.checked_add(len)?)?;
        pos = pos.checked_add(align(len))?;
        Some((level, kind, data))
    })
}

/// Parses what recvmsg put in the control buffer (its first `msg_controllen` bytes).
pub(crate) fn parse(buf: &[u8]) -> ControlInfo {
    let mut info = ControlInfo::default();
    let ts_len = std::mem::size_of::<libc::timespec>();
    for (level, kind, data) in messages(buf) {
        match (level, kind) {
            (libc::IPPROTO_IP, libc::IP_PKTINFO) if data.len() >= IN_PKTINFO_LEN => {
                // in_pktinfo: ifindex, spec_dst, addr (the header's destination).
                let ip = Ipv4Addr::new(data[8], data[9], data[10], data[11]);
                let if_index = read_u32(data, 0).unwrap_or(0);
                info.local = Some(LocalAddr {
                    addr: IpAddr::V4(ip),
                    if_index,
                });
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if data.len() >= IN6_PKTINFO_LEN => {
                let octets: [u8; 16] = data[..16].try_into().unwrap_or([0; 16]);
                info.local = Some(LocalAddr {
                    addr: IpAddr::V6(Ipv6Addr::from(octets)),
                    if_index: read_u32(data, 16).unwrap_or(0),
                });
            }
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPING) if data.len() >= 3 * ts_len => {
                info.kernel_ts = decode_timespec(&data[..ts_len]);
                info.hw_ts = decode_timespec(&data[2 * ts_len..3 * ts_len]);
            }
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) if info.kernel_ts.is_none() => {
                info.kernel_ts = decode_timespec(data);
            }
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMP) if info.kernel_ts.is_none() => {
                info.kernel_ts = decode_timeval(data);
            }
            (libc::SOL_IP, libc::IP_RECVERR) | (libc::SOL_IPV6, libc::IPV6_RECVERR)
                if data.len() >= EXT_ERR_LEN =>
            {
                info.ext_err = Some(ExtendedError {
                    errno: read_u32(data, 0).unwrap_or(0),
                    origin: data[4],
                    info: read_u32(data, 8).unwrap_or(0),
                    data: read_u32(data, 12).unwrap_or(0),
                });
            }
            _ => {}
        }
    }
    info
}

/// Builds a control-message chain for sendmsg.
pub(crate) struct Builder<'a> {
    buf: &'a mut [u8],
    used: usize,
}

impl<'a> Builder<'a> {
    /// Builds into `buf` (which must be aligned for cmsghdr, see `Aligned`).
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Builder { buf, used: 0 }
    }

    /// Appends one message; false if it does not fit.
    pub(crate) fn push(&mut self, level: i32, kind: i32, data: &[u8]) -> bool {
        let total = space(data.len());
        let Some(room) = self.buf.get_mut(self.used..self.used + total) else {
            return false;
        };
        room.fill(0);
        room[..WORD].copy_from_slice(&(HDR_LEN + data.len()).to_ne_bytes());
        room[WORD..WORD + 4].copy_from_slice(&level.to_ne_bytes());
        room[WORD + 4..WORD + 8].copy_from_slice(&kind.to_ne_bytes());
        room[HDR_LEN..HDR_LEN + data.len()].copy_from_slice(data);
        self.used += total;
        true
    }

    /// Appends IP_PKTINFO / IPV6_PKTINFO choosing the source address (and the
    /// interface, when known) of an outgoing packet.
    pub(crate) fn push_source(&mut self, local: &LocalAddr) -> bool {
        match local.addr {
            IpAddr::V4(ip) => {
                let mut d = [0u8; IN_PKTINFO_LEN];
                d[..4].copy_from_slice(&local.if_index.to_ne_bytes());
                d[4..8].copy_from_slice(&ip.octets());
                self.push(libc::IPPROTO_IP, libc::IP_PKTINFO, &d)
            }
            IpAddr::V6(ip) => {
                let mut d = [0u8; IN6_PKTINFO_LEN];
                d[..16].copy_from_slice(&ip.octets());
                d[16..].copy_from_slice(&local.if_index.to_ne_bytes());
                self.push(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &d)
            }
        }
    }

    /// The number of bytes used (msg_controllen).
    pub(crate) fn len(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::Aligned;

    fn timespec_bytes(secs: i64, nanos: i64) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(secs as libc::time_t).to_ne_bytes());
        v.extend_from_slice(&(nanos as libc::c_long).to_ne_bytes());
        v.resize(std::mem::size_of::<libc::timespec>(), 0);
        v
    }

    #[test]
    fn sizes_match_the_c_library() {
        assert_eq!(HDR_LEN, std::mem::size_of::<libc::cmsghdr>());
        for n in [0usize, 1, 4, 12, 20, 48] {
            // SAFETY: CMSG_SPACE/CMSG_LEN only compute sizes.
            let (s, _) = unsafe { (libc::CMSG_SPACE(n as u32), libc::CMSG_LEN(n as u32)) };
            assert_eq!(space(n), s as usize, "CMSG_SPACE({n})");
        }
        assert_eq!(IN_PKTINFO_LEN, std::mem::size_of::<libc::in_pktinfo>());
        assert_eq!(IN6_PKTINFO_LEN, std::mem::size_of::<libc::in6_pktinfo>());
        assert_eq!(EXT_ERR_LEN, std::mem::size_of::<libc::sock_extended_err>());
    }

    #[test]
    fn parses_pktinfo_and_timestamping() {
        let mut buf = Aligned::<256>::zeroed();
        let mut b = Builder::new(&mut buf.0);
        assert!(b.push_source(&LocalAddr {
            addr: IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)),
            if_index: 7,
        }));
        // The kernel's in_pktinfo on receive: ifindex, spec_dst, then the header
        // destination, which is what we report.
        let mut pkt = [0u8; 12];
        pkt[..4].copy_from_slice(&3u32.to_ne_bytes());
        pkt[8..].copy_from_slice(&[127, 0, 0, 1]);
        let mut ts = timespec_bytes(1_700_000_000, 123_456_789);
        ts.extend(timespec_bytes(0, 0));
        ts.extend(timespec_bytes(5, 6));
        assert!(b.push(libc::IPPROTO_IP, libc::IP_PKTINFO, &pkt));
        assert!(b.push(libc::SOL_SOCKET, libc::SCM_TIMESTAMPING, &ts));
        let used = b.len();
        let info = parse(&buf.0[..used]);
        assert_eq!(
            info.local,
            Some(LocalAddr {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                if_index: 3
            })
        );
        assert_eq!(
            info.kernel_ts,
            Some(UnixTime::from_secs_nanos(1_700_000_000, 123_456_789))
        );
        assert_eq!(info.hw_ts, Some(UnixTime::from_secs_nanos(5, 6)));
        assert_eq!(info.ext_err, None);
    }

    #[test]
    fn parses_timestampns_timeval_and_extended_error() {
        let mut buf = Aligned::<256>::zeroed();
        let mut b = Builder::new(&mut buf.0);
        let mut tv = Vec::new();
        tv.extend_from_slice(&(10 as libc::time_t).to_ne_bytes());
        tv.extend_from_slice(&(250_000 as libc::suseconds_t).to_ne_bytes());
        assert!(b.push(libc::SOL_SOCKET, libc::SCM_TIMESTAMP, &tv));
        let mut err = [0u8; 16];
        err[..4].copy_from_slice(&(libc::ENOMSG as u32).to_ne_bytes());
        err[4] = SO_EE_ORIGIN_TIMESTAMPING;
        err[12..].copy_from_slice(&42u32.to_ne_bytes());
        assert!(b.push(libc::SOL_IP, libc::IP_RECVERR, &err));
        let used = b.len();
        let info = parse(&buf.0[..used]);
        assert_eq!(
            info.kernel_ts,
            Some(UnixTime::from_secs_nanos(10, 250_000_000))
        );
        let e = info.ext_err.expect("extended error");
        assert!(e.is_tx_timestamp());
        assert_eq!(e.data, 42);

        let ns = timespec_bytes(11, 5);
        let mut buf2 = Aligned::<64>::zeroed();
        let mut b2 = Builder::new(&mut buf2.0);
        assert!(b2.push(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &ns));
        let used = b2.len();
        assert_eq!(
            parse(&buf2.0[..used]).kernel_ts,
            Some(UnixTime::from_secs_nanos(11, 5))
        );
    }

    #[test]
    fn malformed_chains_stop_parsing_without_panic() {
        let mut buf = [0u8; 64];
        // A header claiming more bytes than the buffer holds.
        buf[..WORD].copy_from_slice(&1000usize.to_ne_bytes());
        assert_eq!(parse(&buf), ControlInfo::default());
        // A header claiming fewer bytes than a header.
        buf[..WORD].copy_from_slice(&3usize.to_ne_bytes());
        assert_eq!(parse(&buf), ControlInfo::default());
        assert_eq!(parse(&buf[..5]), ControlInfo::default());
        // Invalid nanoseconds are no timestamp.
        assert_eq!(decode_timespec(&timespec_bytes(1, 1_000_000_000)), None);
        assert_eq!(decode_timespec(&timespec_bytes(0, 0)), None);
    }

    #[test]
    fn builder_refuses_overflow() {
        let mut buf = Aligned::<32>::zeroed();
        let mut b = Builder::new(&mut buf.0);
        assert!(!b.push(libc::SOL_SOCKET, libc::SO_TIMESTAMPING, &[0; 20]));
        assert!(b.push(libc::SOL_SOCKET, libc::SO_TIMESTAMPING, &[0; 4]));
        assert_eq!(b.len(), space(4));
    }
}
