//! Symmetric-key authentication of requests and responses (RFC 5905
//! §7.3 MAC, with chrony's truncation rules). The keys stay with the
//! caller, behind [`SymmetricKeys`].

use krony_wire::ntp::HEADER_LEN;

use super::request::{MAX_PACKET_LEN, Request};

/// Shortest MAC accepted: key ID and a 128-bit digest (MD5, AES-128-CMAC).
const MIN_MAC_LEN: usize = 4 + 16;
/// Longest MAC in an NTPv4 packet whose digest is not truncated further
/// (RFC 7822 §7.5: key ID + 160 bits); longer digests are cut to this so
/// that extension fields parse deterministically.
const MAX_V4_MAC_LEN: usize = 4 + 20;
/// Longest MAC at all: key ID + 512-bit digest.
const MAX_MAC_LEN: usize = 4 + 64;

/// The `keyfile` keys, held by the caller (the engine keeps no secrets).
///
/// Implementations compute chrony's keyed digest (MD5/SHA-x of key and
/// data, or AES-CMAC) for the key.
pub trait SymmetricKeys {
    /// The digest of `data` with key `key_id`, truncated to at most
    /// `max_len` bytes, or `None` for an unknown key.
    fn digest(&self, key_id: u32, data: &[u8], max_len: usize) -> Option<Vec<u8>>;
}

/// Whether the request's MAC is valid: the digest recomputed with the key,
/// truncated as the sender had to (20 bytes when an NTPv4 MAC is that
/// short, else 64), must have exactly the received length and bytes.
pub(super) fn check_request(req: &Request, bytes: &[u8], keys: Option<&dyn SymmetricKeys>) -> bool {
    let (Some(keys), Some(mac)) = (keys, &req.repr.mac) else {
        return false;
    };
    let mac_len = mac.wire_len();
    if mac_len < MIN_MAC_LEN {
        return false;
    }
    let trunc = if req.repr.version == 4 && mac_len <= MAX_V4_MAC_LEN {
        MAX_V4_MAC_LEN
    } else {
        MAX_MAC_LEN
    };
    let Some(data) = bytes.get(..req.len - mac_len) else {
        return false;
    };
    keys.digest(mac.key_id, data, trunc - 4)
        .is_some_and(|d| constant_time_eq(&d, &mac.digest))
}

/// Appends a MAC with `key_id` to the response `bytes`; `false` if the key
/// is unknown or its digest too short to be a MAC.
pub(super) fn sign_response(
    bytes: &mut Vec<u8>,
    version: u8,
    key_id: u32,
    keys: Option<&dyn SymmetricKeys>,
) -> bool {
    let Some(keys) = keys else {
        return false;
    };
    if bytes.len() < HEADER_LEN || bytes.len() + MIN_MAC_LEN > MAX_PACKET_LEN {
        return false;
    }
    let limit = if version == 4 {
        MAX_V4_MAC_LEN
    } else {
        MAX_MAC_LEN
    };
    let max_len = (limit - 4).min(MAX_PACKET_LEN - bytes.len() - 4);
    match keys.digest(key_id, bytes, max_len) {
        Some(d) if d.len() >= MIN_MAC_LEN - 4 && d.len() <= max_len => {
            bytes.extend_from_slice(&key_id.to_be_bytes());
            bytes.extend_from_slice(&d);
            true
        }
        _ => false,
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell an attacker how much of a forged digest was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use md5::{Digest, Md5};

    /// chrony's MD5 keys: MD5(key || data).
    pub struct Md5Keys(pub u32, pub &'static [u8]);

    impl SymmetricKeys for Md5Keys {
        fn digest(&self, key_id: u32, data: &[u8], max_len: usize) -> Option<Vec<u8>> {
            (key_id == self.0).then(|| {
                let mut h = Md5::new();
                h.update(self.1);
                h.update(data);
                let mut d = h.finalize().to_vec();
                d.truncate(max_len);
                d
            })
        }
    }

    #[test]
    fn equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
