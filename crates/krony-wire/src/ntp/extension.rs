//! What follows the 48-byte NTP header: extension fields (RFC 7822) and a
//! legacy MAC (RFC 5905 §7.3, key ID + digest).
//!
//! # Telling them apart
//! Neither carries a marker, so the layout is decided by lengths, following
//! RFC 7822 §3 and §7.5 and chrony's `parse_packet`:
//! - The total packet length is a multiple of 4.
//! - NTPv1–3 have no extension fields: everything after the header is a MAC.
//! - NTPv4: a trailer of exactly 4 zero bytes is a crypto-NAK (a MAC with key
//!   ID 0 and no digest, RFC 5905 §7.4). Otherwise, walking from the header:
//!   when 20 to 24 bytes remain, they are a MAC (key ID + 16-byte MD5 or
//!   20-byte SHA-1/truncated digest: the largest MAC NTPv4 allows, RFC 7822
//!   §7.5); when more remain, an extension field starts there, of at least
//!   16 bytes (RFC 7822 §3), and anything shorter is an error.
//!
//! It follows that in NTPv4 the last extension field must be at least 28
//! bytes long when no MAC follows it (RFC 7822 §3), and MACs longer than 24
//! bytes cannot be sent (chrony truncates long digests to 20 bytes in NTPv4,
//! or uses NTPv3 for such keys); [`emit_trailer`] refuses layouts that would
//! parse differently.

use crate::Error;

/// Size of an extension field header: type and length, 16 bits each.
pub const EXTENSION_HEADER_LEN: usize = 4;
/// Smallest extension field, header included (RFC 7822 §3).
pub const EXTENSION_MIN_LEN: usize = 16;
/// Smallest last extension field when no MAC follows (RFC 7822 §3): longer
/// than the largest NTPv4 MAC, so it cannot be taken for one.
pub const EXTENSION_MIN_LAST_LEN: usize = 28;
/// Smallest MAC with a digest: key ID + 128-bit MD5/AES-CMAC digest.
pub const MAC_MIN_LEN: usize = 4 + 16;
/// Largest MAC in an NTPv4 packet: key ID + 160-bit digest (RFC 7822 §7.5).
pub const MAC_MAX_V4_LEN: usize = 4 + 20;

/// One extension field (RFC 7822 §3 / RFC 5905 §7.5).
///
/// `body` is everything after the 4-byte header. Parsed fields keep their
/// zero padding, since the wire does not say where the value ends; when
/// emitting, a body whose length is not a multiple of 4 is padded with
/// zeros.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ExtensionField {
    /// The field type (for example 0x0104 NTS Unique Identifier).
    pub field_type: u16,
    /// The value and any padding.
    pub body: Vec<u8>,
}

impl ExtensionField {
    /// NTS Unique Identifier (RFC 8915 §5.3).
    pub const NTS_UNIQUE_IDENTIFIER: u16 = 0x0104;
    /// NTS Cookie (RFC 8915 §5.4).
    pub const NTS_COOKIE: u16 = 0x0204;
    /// NTS Cookie Placeholder (RFC 8915 §5.5).
    pub const NTS_COOKIE_PLACEHOLDER: u16 = 0x0304;
    /// NTS Authenticator and Encrypted Extension Fields (RFC 8915 §5.6).
    pub const NTS_AUTH_AND_EEF: u16 = 0x0404;
    /// Network Correction, PTP transparent-clock corrections for NTP over
    /// PTP (chrony's `extfield 10A`, chrony 4.9+; body: 64-bit correction and
    /// 16 reserved bytes).
    pub const NET_CORRECTION: u16 = 0x010A;
    /// The experimental Network Correction of chrony 4.5 to 4.8, which chrony
    /// accepts as an alias of [`NET_CORRECTION`](Self::NET_CORRECTION).
    pub const EXP_NET_CORRECTION: u16 = 0xF324;
    /// chrony's experimental field with high-resolution root delay and
    /// dispersion and a monotonic receive timestamp (`extfield F323`).
    pub const EXP_MONO_ROOT: u16 = 0xF323;

    /// Length on the wire: header plus body padded to 4 bytes.
    pub fn wire_len(&self) -> usize {
        EXTENSION_HEADER_LEN + padded(self.body.len())
    }
}

/// A legacy symmetric-key MAC (RFC 5905 §7.3, §9.2): key ID and digest.
///
/// The digest is not checked here; a key ID of 0 with an empty digest is a
/// crypto-NAK.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Mac {
    /// The key identifier.
    pub key_id: u32,
    /// The message digest: 16 bytes (MD5, AES-128-CMAC), 20 (SHA-1, or a
    /// longer digest truncated for NTPv4), 32 (SHA-256), 64 (SHA-512), ...
    pub digest: Vec<u8>,
}

impl Mac {
    /// The crypto-NAK of RFC 5905 §7.4: key ID 0 and no digest.
    pub fn crypto_nak() -> Self {
        Mac {
            key_id: 0,
            digest: Vec::new(),
        }
    }

    /// Whether this is a crypto-NAK.
    pub fn is_crypto_nak(&self) -> bool {
        self.key_id == 0 && self.digest.is_empty()
    }

    /// Length on the wire: key ID plus digest.
    pub fn wire_len(&self) -> usize {
        4 + self.digest.len()
    }
}

/// Rounds up to a multiple of 4.
fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn parse_mac(bytes: &[u8]) -> Result<Mac, Error> {
    let (id, digest) = bytes.split_first_chunk::<4>().ok_or(Error::Truncated {
        needed: 4,
        have: bytes.len(),
    })?;
    Ok(Mac {
        key_id: u32::from_be_bytes(*id),
        digest: digest.to_vec(),
    })
}

/// Splits what follows the header (`trailer`) into extension fields and a MAC
/// by the rules in the [module documentation](self).
///
/// # Errors
/// [`Error::BadLength`] when the lengths fit no valid layout.
pub fn parse_trailer(
    version: u8,
    trailer: &[u8],
) -> Result<(Vec<ExtensionField>, Option<Mac>), Error> {
    let bad = |what| Error::BadLength {
        len: trailer.len(),
        what,
    };
    if trailer.len() % 4 != 0 {
        return Err(bad("NTP packet length is not a multiple of 4"));
    }
    if trailer.is_empty() {
        return Ok((Vec::new(), None));
    }
    if version <= 3 {
        return Ok((Vec::new(), Some(parse_mac(trailer)?)));
    }
    if trailer.len() == 4 {
        let mac = parse_mac(trailer)?;
        return match mac.key_id {
            0 => Ok((Vec::new(), Some(mac))),
            _ => Err(bad("4-byte NTPv4 trailer that is not a crypto-NAK")),
        };
    }
    let mut fields = Vec::new();
    let mut rest = trailer;
    while !rest.is_empty() {
        if (MAC_MIN_LEN..=MAC_MAX_V4_LEN).contains(&rest.len()) {
            return Ok((fields, Some(parse_mac(rest)?)));
        }
        let (field, len) = parse_field(rest)?;
        fields.push(field);
        rest = rest.get(len..).unwrap_or_default();
    }
    Ok((fields, None))
}

/// Parses the extension field at the start of `rest`, returning it and its
/// length; `rest` is longer than the largest NTPv4 MAC.
fn parse_field(rest: &[u8]) -> Result<(ExtensionField, usize), Error> {
    let bad = |len, what| Error::BadLength { len, what };
    if rest.len() <= MAC_MAX_V4_LEN {
        return Err(bad(
            rest.len(),
            "NTPv4 trailer too short for an extension field or MAC",
        ));
    }
    // OK to default: rest has more than 24 bytes here.
    let field_type = be_u16(rest, 0).unwrap_or_default();
    let len = usize::from(be_u16(rest, 2).unwrap_or_default());
    if len < EXTENSION_MIN_LEN {
        return Err(bad(len, "extension field shorter than 16 bytes"));
    }
    if len % 4 != 0 {
        return Err(bad(len, "extension field length not a multiple of 4"));
    }
    let body = rest
        .get(EXTENSION_HEADER_LEN..len)
        .ok_or(bad(len, "extension field longer than the packet"))?;
    let field = ExtensionField {
        field_type,
        body: body.to_vec(),
    };
    Ok((field, len))
}

/// Checks that `fields` and `mac` can be emitted for `version` and would be
/// parsed back as the same layout, and returns their length on the wire.
///
/// # Errors
/// [`Error::InvalidField`] for extension fields before NTPv4;
/// [`Error::BadLength`] for fields or MACs whose lengths the rules in the
/// [module documentation](self) forbid.
pub fn trailer_len(
    version: u8,
    fields: &[ExtensionField],
    mac: Option<&Mac>,
) -> Result<usize, Error> {
    let mac_len = mac.map_or(0, Mac::wire_len);
    if let Some(mac) = mac {
        check_mac(version, mac, fields.is_empty())?;
    }
    if fields.is_empty() {
        return Ok(mac_len);
    }
    if version <= 3 {
        return Err(Error::InvalidField {
            field: "extension fields before NTPv4, count",
            value: fields.len() as u64,
        });
    }
    let mut total = mac_len;
    for field in fields {
        let len = field.wire_len();
        if len < EXTENSION_MIN_LEN || len > usize::from(u16::MAX) {
            return Err(Error::BadLength {
                len,
                what: "extension field outside 16..=65532 bytes",
            });
        }
        total += len;
    }
    let last = fields.last().map_or(0, ExtensionField::wire_len);
    if mac.is_none() && last < EXTENSION_MIN_LAST_LEN {
        return Err(Error::BadLength {
            len: last,
            what: "last extension field without MAC shorter than 28 bytes",
        });
    }
    Ok(total)
}

fn check_mac(version: u8, mac: &Mac, no_fields: bool) -> Result<(), Error> {
    let len = mac.wire_len();
    let bad = |what| Err(Error::BadLength { len, what });
    if mac.digest.len() % 4 != 0 {
        return bad("MAC digest length not a multiple of 4");
    }
    if version <= 3 || (mac.is_crypto_nak() && no_fields) {
        return Ok(());
    }
    if mac.digest.is_empty() {
        return bad("NTPv4 crypto-NAK needs key ID 0 and no extension fields");
    }
    if !(MAC_MIN_LEN..=MAC_MAX_V4_LEN).contains(&len) {
        return bad("NTPv4 MAC must be 20 or 24 bytes");
    }
    Ok(())
}

/// Writes `fields` then `mac` into `out`, which must be exactly
/// [`trailer_len`] bytes long (the caller checked the layout with it).
pub(crate) fn write_trailer(out: &mut [u8], fields: &[ExtensionField], mac: Option<&Mac>) {
    let mut at = 0;
    for field in fields {
        let len = field.wire_len();
        let Some(dst) = out.get_mut(at..at + len) else {
            return;
        };
        dst.fill(0);
        dst[..2].copy_from_slice(&field.field_type.to_be_bytes());
        // OK to truncate: trailer_len checked len <= u16::MAX.
        dst[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        dst[EXTENSION_HEADER_LEN..EXTENSION_HEADER_LEN + field.body.len()]
            .copy_from_slice(&field.body);
        at += len;
    }
    if let Some(mac) = mac {
        if let Some(dst) = out.get_mut(at..at + mac.wire_len()) {
            dst[..4].copy_from_slice(&mac.key_id.to_be_bytes());
            dst[4..].copy_from_slice(&mac.digest);
        }
    }
}

/// Checks the layout, then writes it into `out` (exactly its length).
///
/// # Errors
/// As [`trailer_len`], and [`Error::BufferTooSmall`] if `out` has another
/// length than the layout needs.
pub fn emit_trailer(
    version: u8,
    fields: &[ExtensionField],
    mac: Option<&Mac>,
    out: &mut [u8],
) -> Result<(), Error> {
    let len = trailer_len(version, fields, mac)?;
    if out.len() != len {
        return Err(Error::BufferTooSmall {
            needed: len,
            have: out.len(),
        });
    }
    write_trailer(out, fields, mac);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(field_type: u16, body_len: usize) -> ExtensionField {
        ExtensionField {
            field_type,
            body: (0..body_len).map(|i| i as u8).collect(),
        }
    }

    fn mac(key_id: u32, digest_len: usize) -> Mac {
        Mac {
            key_id,
            digest: vec![0xAB; digest_len],
        }
    }

    fn round_trip(version: u8, fields: &[ExtensionField], mac: Option<&Mac>) -> Vec<u8> {
        let len = trailer_len(version, fields, mac).expect("valid layout");
        let mut out = vec![0; len];
        emit_trailer(version, fields, mac, &mut out).expect("emit");
        let (f2, m2) = parse_trailer(version, &out).expect("parse");
        assert_eq!(f2, fields);
        assert_eq!(m2.as_ref(), mac);
        out
    }

    #[test]
    fn v4_layouts_round_trip() {
        round_trip(4, &[], None);
        round_trip(4, &[], Some(&mac(1, 16)));
        round_trip(4, &[], Some(&mac(1, 20)));
        round_trip(4, &[], Some(&Mac::crypto_nak()));
        round_trip(4, &[field(0x0104, 24)], None);
        round_trip(4, &[field(0x0104, 12), field(0x0204, 24)], None);
        round_trip(4, &[field(0x0104, 12)], Some(&mac(7, 16)));
        round_trip(
            4,
            &[field(0x0104, 12), field(0xF323, 12)],
            Some(&mac(7, 20)),
        );
    }

    #[test]
    fn v3_trailer_is_all_mac() {
        for digest in [16, 20, 32, 64, 68] {
            let out = round_trip(3, &[], Some(&mac(0x0102_0304, digest)));
            assert_eq!(out.len(), 4 + digest);
        }
    }

    #[test]
    fn emit_pads_bodies() {
        let f = ExtensionField {
            field_type: 0x1234,
            body: vec![1; 25],
        };
        let mut out = vec![0; 32];
        emit_trailer(4, &[f], None, &mut out).expect("emit");
        assert_eq!(&out[..4], &[0x12, 0x34, 0x00, 0x20]);
        assert_eq!(&out[29..], &[0, 0, 0]);
        let (fields, _) = parse_trailer(4, &out).expect("parse");
        assert_eq!(fields[0].body.len(), 28);
    }

    #[test]
    fn emit_refuses_ambiguous_layouts() {
        let too_short = [field(1, 8)];
        assert!(trailer_len(4, &too_short, Some(&mac(1, 16))).is_err());
        // A lone 16- or 24-byte field would be read as (part of) a MAC.
        assert!(trailer_len(4, &[field(1, 12)], None).is_err());
        assert!(trailer_len(4, &[field(1, 20)], None).is_err());
        assert!(trailer_len(4, &[field(1, 24)], None).is_ok());
        // Long MACs are for NTPv3 only.
        assert!(trailer_len(4, &[], Some(&mac(1, 32))).is_err());
        assert!(trailer_len(3, &[], Some(&mac(1, 32))).is_ok());
        assert!(trailer_len(3, &[field(1, 24)], None).is_err());
        assert!(trailer_len(4, &[], Some(&mac(1, 17))).is_err());
        assert!(trailer_len(4, &[field(1, 24)], Some(&Mac::crypto_nak())).is_err());
        assert!(trailer_len(4, &[], Some(&mac(5, 0))).is_err());
        let huge = ExtensionField {
            field_type: 1,
            body: vec![0; 65532],
        };
        assert!(trailer_len(4, &[huge], None).is_err());
        let mut out = [0u8; 3];
        assert!(matches!(
            emit_trailer(4, &[], Some(&mac(1, 16)), &mut out),
            Err(Error::BufferTooSmall {
                needed: 20,
                have: 3
            })
        ));
    }

    #[test]
    fn parse_rejects_bad_trailers() {
        // Not a multiple of 4.
        assert!(parse_trailer(4, &[0; 21]).is_err());
        // 4 bytes that are not a crypto-NAK.
        assert!(parse_trailer(4, &[0, 0, 0, 1]).is_err());
        // Too short for a field, too short for a MAC.
        assert!(parse_trailer(4, &[0; 16]).is_err());
        // A field whose length is not a multiple of 4, too small, too long.
        let mut t = vec![0u8; 32];
        t[3] = 18;
        assert!(parse_trailer(4, &t).is_err());
        t[3] = 12;
        assert!(parse_trailer(4, &t).is_err());
        t[3] = 36;
        assert!(parse_trailer(4, &t).is_err());
        // A 36-byte MAC in NTPv4 (key ID 1): the key ID reads as a field of
        // length 1, as chrony would read it.
        let mut long_mac = vec![0u8; 36];
        long_mac[3] = 1;
        assert!(parse_trailer(4, &long_mac).is_err());
        assert!(parse_trailer(3, &long_mac).is_ok());
        // A 16-byte field followed by 12 bytes: neither a field nor a MAC.
        let mut t = vec![0u8; 28];
        t[3] = 16;
        assert!(parse_trailer(4, &t).is_err());
        // The same field followed by a 20-byte MAC.
        let mut t = vec![0u8; 36];
        t[3] = 16;
        t[19] = 9;
        let (fields, mac) = parse_trailer(4, &t).expect("field + MAC");
        assert_eq!(fields.len(), 1);
        assert_eq!(mac.map(|m| m.key_id), Some(9));
    }
}
