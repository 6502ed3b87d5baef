//! The packet a kernel loops back to the error queue with its transmit
//! timestamp: the whole frame (Ethernet, IPv4/IPv6 and UDP headers, then our
//! data). This module finds our UDP payload and the address it was sent to, so
//! that the transmit timestamp can be matched to the packet (chrony does the
//! same; the kernel gives no better way without SOF_TIMESTAMPING_OPT_ID).
//! Pure code over bytes; malformed frames give `None`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;

/// The UDP datagram found in a looped-back frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopedPacket {
    /// Where the packet was sent (destination address and port).
    pub remote: SocketAddr,
    /// Where the UDP payload is in the frame.
    pub payload: Range<usize>,
}

/// Ethernet: two MAC addresses, then the EtherType (IEEE 802.3).
const MACS_LEN: usize = 12;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
/// IEEE 802.1Q VLAN tag: TPID 0x8100 and a 2-byte tag.
const ETHERTYPE_VLAN: [u8; 2] = [0x81, 0x00];
const UDP_HEADER_LEN: usize = 8;
/// IP protocol number of UDP (RFC 768).
const PROTO_UDP: u8 = 17;

/// Finds the UDP payload in a looped-back frame: an Ethernet frame (with
/// optional VLAN tags), or a bare IPv4/IPv6 packet (e.g. from a tunnel).
pub fn find_udp_payload(frame: &[u8]) -> Option<LoopedPacket> {
    from_ethernet(frame).or_else(|| from_ip(frame, 0))
}

fn from_ethernet(frame: &[u8]) -> Option<LoopedPacket> {
    let mut pos = MACS_LEN;
    while frame.get(pos..pos + 2)? == ETHERTYPE_VLAN {
        pos += 4;
    }
    let ethertype = frame.get(pos..pos + 2)?;
    let version = frame.get(pos + 2)? >> 4;
    match (ethertype, version) {
        (t, 4) if t == ETHERTYPE_IPV4 => from_ip(frame, pos + 2),
        (t, 6) if t == ETHERTYPE_IPV6 => from_ip(frame, pos + 2),
        _ => None,
    }
}

/// Parses IPv4/IPv6 + UDP headers starting at `start`.
fn from_ip(frame: &[u8], start: usize) -> Option<LoopedPacket> {
    let ip = frame.get(start..)?;
    let (dst, udp_at) = match ip.first()? >> 4 {
        4 => ipv4_header(ip)?,
        6 => ipv6_headers(ip)?,
        _ => return None,
    };
    let udp = ip.get(udp_at..udp_at + UDP_HEADER_LEN)?;
    let port = u16::from_be_bytes([udp[2], udp[3]]);
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let begin = start + udp_at + UDP_HEADER_LEN;
    // The UDP length bounds the payload when it is sane (it may be 0 for jumbograms).
    let end = if udp_len >= UDP_HEADER_LEN {
        (start + udp_at + udp_len).min(frame.len())
    } else {
        frame.len()
    };
    Some(LoopedPacket {
        remote: SocketAddr::new(dst, port),
        payload: begin..end.max(begin),
    })
}

/// IPv4 (RFC 791): IHL in 32-bit words, protocol at 9, destination at 16..20.
fn ipv4_header(ip: &[u8]) -> Option<(IpAddr, usize)> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl + UDP_HEADER_LEN || ip[9] != PROTO_UDP {
        return None;
    }
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    Some((IpAddr::V4(dst), ihl))
}

/// IPv6 (RFC 8200): next header at 6, destination at 24..40, then extension
/// headers (Hop-by-Hop, Routing, Destination Options, Mobility: 8*(len+1)
/// bytes; Fragment: 8 bytes, first fragment only; AH: 4*(len+2) bytes).
fn ipv6_headers(ip: &[u8]) -> Option<(IpAddr, usize)> {
    const FIXED: usize = 40;
    let octets: [u8; 16] = ip.get(24..FIXED)?.try_into().ok()?;
    let mut next = *ip.get(6)?;
    let mut pos = FIXED;
    while next != PROTO_UDP {
        let ext = ip.get(pos..pos + 8)?;
        let len = match next {
            44 if u16::from_be_bytes([ext[2], ext[3]]) >> 3 != 0 => return None,
            44 => 8,
            0 | 43 | 60 | 135 => 8 * (usize::from(ext[1]) + 1),
            51 => 4 * (usize::from(ext[1]) + 2),
            _ => return None,
        };
        next = ext[0];
        pos += len;
    }
    ip.get(pos..pos + UDP_HEADER_LEN)?;
    Some((IpAddr::V6(Ipv6Addr::from(octets)), pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x30, 0x39];
        u.extend_from_slice(&dst_port.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    fn ipv4(dst: [u8; 4], body: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, PROTO_UDP, 0, 0, 127, 0, 0, 1];
        h.extend_from_slice(&dst);
        h.extend_from_slice(body);
        h
    }

    fn ethernet(ethertype: [u8; 2], vlans: usize, body: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; MACS_LEN];
        for _ in 0..vlans {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        f.extend_from_slice(&ethertype);
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn ipv4_in_ethernet_with_and_without_vlan() {
        let payload = [0x23u8; 48];
        for vlans in 0..3 {
            let f = ethernet(
                ETHERTYPE_IPV4,
                vlans,
                &ipv4([192, 0, 2, 1], &udp(123, &payload)),
            );
            let p = find_udp_payload(&f).expect("parsed");
            assert_eq!(p.remote, "192.0.2.1:123".parse().expect("addr"));
            assert_eq!(&f[p.payload], &payload[..]);
        }
    }

    #[test]
    fn bare_ipv4_and_trailing_padding() {
        let mut pkt = ipv4([10, 0, 0, 2], &udp(4123, b"abc"));
        pkt.extend_from_slice(&[0, 0, 0]); // Ethernet minimum-size padding
        let p = find_udp_payload(&pkt).expect("parsed");
        assert_eq!(&pkt[p.payload], b"abc");
    }

    #[test]
    fn ipv6_with_extension_headers() {
        let dst: Ipv6Addr = "2001:db8::5".parse().expect("ip");
        let mut ip = vec![0x60, 0, 0, 0, 0, 0, 0 /* next: hop-by-hop */, 64];
        ip.extend_from_slice(&[0; 16]);
        ip.extend_from_slice(&dst.octets());
        ip.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]); // hop-by-hop -> dest opts
        ip.extend_from_slice(&[PROTO_UDP, 1, 0, 0, 0, 0, 0, 0]); // dest opts, 16 bytes
        ip.extend_from_slice(&[0; 8]);
        ip.extend_from_slice(&udp(123, b"ntp"));
        let f = ethernet(ETHERTYPE_IPV6, 0, &ip);
        let p = find_udp_payload(&f).expect("parsed");
        assert_eq!(p.remote, SocketAddr::new(IpAddr::V6(dst), 123));
        assert_eq!(&f[p.payload], b"ntp");
    }

    #[test]
    fn rejects_non_udp_and_truncated_frames() {
        let mut tcp = ipv4([1, 2, 3, 4], &udp(1, b"x"));
        tcp[9] = 6;
        assert_eq!(find_udp_payload(&ethernet(ETHERTYPE_IPV4, 0, &tcp)), None);
        let good = ethernet(ETHERTYPE_IPV4, 0, &ipv4([1, 2, 3, 4], &udp(1, b"x")));
        for cut in 0..(14 + 20 + 8) {
            assert_eq!(find_udp_payload(&good[..cut]), None, "cut {cut}");
        }
        // A non-first IPv6 fragment carries no UDP header.
        let mut ip = vec![0x60, 0, 0, 0, 0, 0, 44, 64];
        ip.extend_from_slice(&[0; 32]);
        ip.extend_from_slice(&[PROTO_UDP, 0, 0, 8, 0, 0, 0, 0]);
        ip.extend_from_slice(&udp(1, b"x"));
        assert_eq!(find_udp_payload(&ethernet(ETHERTYPE_IPV6, 0, &ip)), None);
    }
}
