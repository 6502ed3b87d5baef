//! The requests the load generator sends and the checks on the answers.
//!
//! Each request carries a transmit timestamp that encodes which socket sent
//! it and its sequence number on that socket, so that an answer (whose
//! origin timestamp echoes it) is matched without a lookup table.

use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId};

/// Marks our transmit timestamps (top bit), so that a zero one is never sent.
const TAG: u64 = 1 << 63;

/// The transmit timestamp of request `seq` of socket `socket`.
pub fn request_id(socket: u16, seq: u32) -> u64 {
    TAG | (u64::from(socket) << 32) | u64::from(seq)
}

/// Socket and sequence number of an id made by [`request_id`].
pub fn split_id(id: u64) -> Option<(u16, u32)> {
    if id & TAG == 0 {
        return None;
    }
    let socket = u16::try_from((id >> 32) & 0x7FFF).ok()?;
    Some((socket, (id & 0xFFFF_FFFF) as u32))
}

/// A client-mode (NTPv4) request with transmit timestamp `id`.
pub fn request(id: u64) -> Vec<u8> {
    let repr = NtpRepr {
        leap: LeapIndicator::NoWarning,
        version: 4,
        mode: Mode::Client,
        stratum: 0,
        poll: 0,
        precision: 32,
        root_delay: NtpShort(0),
        root_dispersion: NtpShort(0),
        reference_id: RefId::UNSYNC,
        reference_ts: NtpTimestamp::ZERO,
        origin_ts: NtpTimestamp::ZERO,
        receive_ts: NtpTimestamp::ZERO,
        transmit_ts: NtpTimestamp(id),
        extensions: vec![],
        mac: None,
    };
    // A plain 48-byte header always encodes.
    repr.to_vec().unwrap_or_default()
}

/// Why an answer is not a valid server response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not an NTP packet.
    #[error("not an NTP packet")]
    Malformed,
    /// Not in server mode, or not version 4.
    #[error("wrong mode or version")]
    Mode,
    /// Unsynchronised, stratum 0 (a KoD) or 16.
    #[error("unsynchronised or kiss-o'-death")]
    Unsynchronised,
    /// Its receive or transmit timestamp is missing, or transmit precedes
    /// receive.
    #[error("bad timestamps")]
    Timestamps,
}

/// Checks an answer: returns the id of the request it answers.
///
/// # Errors
/// [`Invalid`] when the packet is not a synchronised server's answer.
pub fn check_answer(bytes: &[u8]) -> Result<u64, Invalid> {
    let p = NtpRepr::parse_bytes(bytes).map_err(|_| Invalid::Malformed)?;
    if p.mode != Mode::Server || p.version != 4 {
        return Err(Invalid::Mode);
    }
    if p.leap == LeapIndicator::Unsynchronized || !(1..16).contains(&p.stratum) {
        return Err(Invalid::Unsynchronised);
    }
    let rx = p.receive_ts;
    let tx = p.transmit_ts;
    if rx.is_zero() || tx.is_zero() || tx.diff_secs(rx) < 0.0 {
        return Err(Invalid::Timestamps);
    }
    Ok(p.origin_ts.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_untagged_ids_are_refused() {
        let id = request_id(7, 123_456);
        assert_eq!(split_id(id), Some((7, 123_456)));
        assert_eq!(split_id(123), None);
        let bytes = request(id);
        assert_eq!(bytes.len(), 48);
        let p = NtpRepr::parse_bytes(&bytes).expect("parses");
        assert_eq!(p.mode, Mode::Client);
        assert_eq!(p.transmit_ts.0, id);
    }

    fn answer(leap: LeapIndicator, stratum: u8, rx: u64, tx: u64) -> Vec<u8> {
        let mut p = NtpRepr::parse_bytes(&request(1)).expect("parses");
        p.mode = Mode::Server;
        p.leap = leap;
        p.stratum = stratum;
        p.origin_ts = NtpTimestamp(request_id(1, 9));
        p.receive_ts = NtpTimestamp(rx);
        p.transmit_ts = NtpTimestamp(tx);
        p.to_vec().expect("encodes")
    }

    #[test]
    fn answers_are_checked() {
        let t = 0xEA00_0000_0000_0000;
        let ok = answer(LeapIndicator::NoWarning, 1, t, t + 10);
        assert_eq!(check_answer(&ok), Ok(request_id(1, 9)));
        let kod = answer(LeapIndicator::Unsynchronized, 0, t, t);
        assert_eq!(check_answer(&kod), Err(Invalid::Unsynchronised));
        let backwards = answer(LeapIndicator::NoWarning, 2, t + 10, t);
        assert_eq!(check_answer(&backwards), Err(Invalid::Timestamps));
        assert_eq!(check_answer(&request(5)), Err(Invalid::Mode));
        assert_eq!(check_answer(&[1, 2, 3]), Err(Invalid::Malformed));
    }
}
