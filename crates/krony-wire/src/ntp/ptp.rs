//! NTP over PTP (chrony's `ptpport`): an NTP message carried in a PTPv2
//! Delay_Req message, so that NICs and switches that timestamp or correct
//! PTP event messages treat it as PTP.
//!
//! Layout as chrony 4.3 sends it (48-byte prefix, then the NTP message):
//!
//! ```text
//!  0  messageType (1 = Delay_Req)      1  versionPTP (2)
//!  2  messageLength (prefix + NTP)     4  domainNumber (123)
//!  5  minorSdoId (0)                   6  flagField (0x0400, unicast)
//!  8  correctionField (8, 2^-16 ns)   16  messageTypeSpecific (4)
//! 20  sourcePortIdentity (10)         30  sequenceId (0)
//! 32  controlField, 33 logMessageInterval
//! 34  originTimestamp (10, zero)
//! 44  TLV type (0x2023)               46  TLV length (NTP message length)
//! 48  the NTP message
//! ```
//!
//! Received messages are accepted as chrony does: Delay_Req or Sync, PTP
//! version 2 (or 2.1 with minorSdoId 0), the lengths consistent with the
//! datagram, the NTP domain, only the unicast flag, the NTP TLV.

use crate::Error;

/// Bytes before the NTP message.
pub const PTP_PREFIX_LEN: usize = 48;
/// The domain chrony uses for NTP messages.
pub const PTP_DOMAIN_NTP: u8 = 123;
/// The TLV type chrony 4.3 gives the NTP message.
pub const PTP_TLV_NTP: u16 = 0x2023;

const TYPE_SYNC: u8 = 0;
const TYPE_DELAY_REQ: u8 = 1;
const VERSION_2: u8 = 2;
const VERSION_2_1: u8 = 2 | 1 << 4;
const FLAG_UNICAST: u16 = 1 << (2 + 8);

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const VERSION: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const DOMAIN: usize = 4;
    pub const MIN_SDOID: usize = 5;
    pub const FLAGS: Range<usize> = 6..8;
    pub const CORRECTION: Range<usize> = 8..16;
    pub const TLV_TYPE: Range<usize> = 44..46;
    pub const TLV_LENGTH: Range<usize> = 46..48;
}

fn be16(b: &[u8], r: core::ops::Range<usize>) -> u16 {
    match b.get(r) {
        Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}

/// `ntp` wrapped in a PTP Delay_Req message of `domain`.
///
/// # Errors
/// [`Error::BadLength`] if the wrapped message would not fit the 16-bit
/// length fields.
pub fn wrap(ntp: &[u8], domain: u8) -> Result<Vec<u8>, Error> {
    let total = PTP_PREFIX_LEN + ntp.len();
    let (Ok(total16), Ok(ntp16)) = (u16::try_from(total), u16::try_from(ntp.len())) else {
        return Err(Error::BadLength {
            len: ntp.len(),
            what: "NTP message too long for a PTP message",
        });
    };
    let mut out = vec![0u8; total];
    out[field::TYPE] = TYPE_DELAY_REQ;
    out[field::VERSION] = VERSION_2;
    out[field::LENGTH].copy_from_slice(&total16.to_be_bytes());
    out[field::DOMAIN] = domain;
    out[field::FLAGS].copy_from_slice(&FLAG_UNICAST.to_be_bytes());
    out[field::TLV_TYPE].copy_from_slice(&PTP_TLV_NTP.to_be_bytes());
    out[field::TLV_LENGTH].copy_from_slice(&ntp16.to_be_bytes());
    out[PTP_PREFIX_LEN..].copy_from_slice(ntp);
    Ok(out)
}

/// An NTP message found in a PTP message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unwrapped<'a> {
    /// The NTP message.
    pub ntp: &'a [u8],
    /// The correctionField (residence time added by transparent clocks),
    /// seconds.
    pub correction: f64,
}

/// The NTP message inside a PTP message of `domain`.
///
/// # Errors
/// [`Error::Truncated`] if there is nothing after the prefix,
/// [`Error::InvalidField`] if the PTP header or TLV is not chrony's.
pub fn unwrap(msg: &[u8], domain: u8) -> Result<Unwrapped<'_>, Error> {
    if msg.len() <= PTP_PREFIX_LEN {
        return Err(Error::Truncated {
            needed: PTP_PREFIX_LEN + 1,
            have: msg.len(),
        });
    }
    let bad = |field, value: u64| Err(Error::InvalidField { field, value });
    let kind = msg[field::TYPE];
    let version = msg[field::VERSION];
    if kind != TYPE_DELAY_REQ && kind != TYPE_SYNC {
        return bad("PTP messageType", kind.into());
    }
    if version != VERSION_2 && (version != VERSION_2_1 || msg[field::MIN_SDOID] != 0) {
        return bad("PTP version", version.into());
    }
    if usize::from(be16(msg, field::LENGTH)) != msg.len() {
        return bad("PTP messageLength", be16(msg, field::LENGTH).into());
    }
    if msg[field::DOMAIN] != domain {
        return bad("PTP domainNumber", msg[field::DOMAIN].into());
    }
    if be16(msg, field::FLAGS) != FLAG_UNICAST {
        return bad("PTP flagField", be16(msg, field::FLAGS).into());
    }
    if be16(msg, field::TLV_TYPE) != PTP_TLV_NTP {
        return bad("PTP TLV type", be16(msg, field::TLV_TYPE).into());
    }
    if usize::from(be16(msg, field::TLV_LENGTH)) != msg.len() - PTP_PREFIX_LEN {
        return bad("PTP TLV length", be16(msg, field::TLV_LENGTH).into());
    }
    let mut corr = [0u8; 8];
    corr.copy_from_slice(&msg[field::CORRECTION]);
    // Scaled nanoseconds: 2^-16 ns units, signed.
    let correction = i64::from_be_bytes(corr) as f64 / (65536.0 * 1e9);
    Ok(Unwrapped {
        ntp: &msg[PTP_PREFIX_LEN..],
        correction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Delay_Req as chronyd 4.3 sent it (captured on loopback) around a
    /// 48-byte client request.
    const CHRONYD_REQUEST: &str = "010200607b000400000000000000000000000000000000000000000000000000\
        0000000000000000000000002023003023000020000000000000000000000000\
        0000000000000000000000000000000000000000000000007a69a5073dc434b1";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn wraps_as_chronyd_does() {
        let captured = hex(CHRONYD_REQUEST);
        let inner = unwrap(&captured, PTP_DOMAIN_NTP).expect("valid");
        assert_eq!(inner.ntp.len(), 48);
        assert_eq!(inner.ntp[0], 0x23);
        assert_eq!(inner.correction, 0.0);
        assert_eq!(wrap(inner.ntp, PTP_DOMAIN_NTP).expect("fits"), captured);
    }

    #[test]
    fn rejects_what_chronyd_rejects() {
        let good = wrap(&[0x23; 48], PTP_DOMAIN_NTP).expect("fits");
        assert!(unwrap(&good, PTP_DOMAIN_NTP).is_ok());
        assert!(unwrap(&good, 0).is_err(), "other domain");
        assert!(
            unwrap(&good[..48], PTP_DOMAIN_NTP).is_err(),
            "no NTP message"
        );
        assert!(
            unwrap(&good[..60], PTP_DOMAIN_NTP).is_err(),
            "length mismatch"
        );
        for (at, value) in [(0, 2), (1, 1), (6, 0), (44, 0)] {
            let mut bad = good.clone();
            bad[at] = value;
            assert!(unwrap(&bad, PTP_DOMAIN_NTP).is_err(), "byte {at} = {value}");
        }
        let mut sync = good.clone();
        sync[0] = 0;
        sync[1] = VERSION_2_1;
        assert!(unwrap(&sync, PTP_DOMAIN_NTP).is_ok(), "Sync, PTP 2.1");
        let mut corr = good;
        corr[8..16].copy_from_slice(&(1i64 << 16).to_be_bytes());
        let u = unwrap(&corr, PTP_DOMAIN_NTP).expect("valid");
        assert!((u.correction - 1e-9).abs() < 1e-15);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for len in 0..120 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = unwrap(&junk, PTP_DOMAIN_NTP);
        }
        assert!(wrap(&vec![0; 70_000], PTP_DOMAIN_NTP).is_err());
    }
}
