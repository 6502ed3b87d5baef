//! The key types of a `keyfile` and their MACs: chrony's keyed hashes
//! (the digest of the key followed by the packet, RFC 5905 §7.3) and
//! AES-CMAC (RFC 4493, as in RFC 8573).

use cmac::digest::KeyInit;
use cmac::{Cmac, Mac as _};
use sha2::Digest;

/// A key's type: the word after the ID in a keyfile line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `MD5`, the default.
    Md5,
    /// `SHA1`.
    Sha1,
    /// `SHA256`.
    Sha256,
    /// `SHA384`.
    Sha384,
    /// `SHA512`.
    Sha512,
    /// `SHA3-224`.
    Sha3_224,
    /// `SHA3-256`.
    Sha3_256,
    /// `SHA3-384`.
    Sha3_384,
    /// `SHA3-512`.
    Sha3_512,
    /// `TIGER` (the 192-bit Tiger of 1996).
    Tiger,
    /// `WHIRLPOOL`.
    Whirlpool,
    /// `AES128`: AES-128-CMAC, the key must have 128 bits.
    Aes128,
    /// `AES256`: AES-256-CMAC, the key must have 256 bits.
    Aes256,
}

/// Every type, with its keyfile name and chrony's number for it (the
/// `Type` column of `authdata`: the hash IDs 1 to 11, the ciphers 13, 14).
const TYPES: [(KeyType, &str, u16); 13] = [
    (KeyType::Md5, "MD5", 1),
    (KeyType::Sha1, "SHA1", 2),
    (KeyType::Sha256, "SHA256", 3),
    (KeyType::Sha384, "SHA384", 4),
    (KeyType::Sha512, "SHA512", 5),
    (KeyType::Sha3_224, "SHA3-224", 6),
    (KeyType::Sha3_256, "SHA3-256", 7),
    (KeyType::Sha3_384, "SHA3-384", 8),
    (KeyType::Sha3_512, "SHA3-512", 9),
    (KeyType::Tiger, "TIGER", 10),
    (KeyType::Whirlpool, "WHIRLPOOL", 11),
    (KeyType::Aes128, "AES128", 13),
    (KeyType::Aes256, "AES256", 14),
];

impl KeyType {
    /// The type named `name` (case-sensitive, as chrony compares).
    pub fn from_name(name: &[u8]) -> Option<Self> {
        TYPES
            .iter()
            .find(|(_, n, _)| n.as_bytes() == name)
            .map(|(t, _, _)| *t)
    }

    /// The keyfile name, e.g. `SHA3-256`.
    pub fn name(self) -> &'static str {
        TYPES
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or("", |(_, n, _)| n)
    }

    /// chrony's number for the type, reported by `authdata`.
    pub fn code(self) -> u16 {
        TYPES
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or(0, |(_, _, c)| *c)
    }

    /// For a cipher, the key length it needs in bytes; `None` for a hash.
    pub fn cipher_key_len(self) -> Option<usize> {
        match self {
            KeyType::Aes128 => Some(16),
            KeyType::Aes256 => Some(32),
            _ => None,
        }
    }

    /// The length of the full digest (before any truncation) in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            KeyType::Md5 | KeyType::Aes128 | KeyType::Aes256 => 16,
            KeyType::Sha1 => 20,
            KeyType::Tiger => 24,
            KeyType::Sha3_224 => 28,
            KeyType::Sha256 | KeyType::Sha3_256 => 32,
            KeyType::Sha384 | KeyType::Sha3_384 => 48,
            KeyType::Sha512 | KeyType::Sha3_512 | KeyType::Whirlpool => 64,
        }
    }

    /// The MAC of `data` with `secret`: hash(secret || data) for a hash,
    /// CMAC(secret, data) for a cipher. `None` only for a cipher key of the
    /// wrong length (the keyfile parser refuses those).
    pub fn mac(self, secret: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        match self {
            KeyType::Md5 => Some(keyed::<md5::Md5>(secret, data)),
            KeyType::Sha1 => Some(keyed::<sha1::Sha1>(secret, data)),
            KeyType::Sha256 => Some(keyed::<sha2::Sha256>(secret, data)),
            KeyType::Sha384 => Some(keyed::<sha2::Sha384>(secret, data)),
            KeyType::Sha512 => Some(keyed::<sha2::Sha512>(secret, data)),
            KeyType::Sha3_224 => Some(keyed::<sha3::Sha3_224>(secret, data)),
            KeyType::Sha3_256 => Some(keyed::<sha3::Sha3_256>(secret, data)),
            KeyType::Sha3_384 => Some(keyed::<sha3::Sha3_384>(secret, data)),
            KeyType::Sha3_512 => Some(keyed::<sha3::Sha3_512>(secret, data)),
            KeyType::Tiger => Some(keyed::<tiger::Tiger>(secret, data)),
            KeyType::Whirlpool => Some(keyed::<whirlpool::Whirlpool>(secret, data)),
            KeyType::Aes128 => cmac_aes128(secret, data),
            KeyType::Aes256 => cmac_aes256(secret, data),
        }
    }
}

/// The legacy NTP MAC: a plain digest of the key then the data (not an
/// HMAC; RFC 5905 §7.3 and what every NTP implementation computes).
fn keyed<D: Digest>(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = D::new();
    h.update(secret);
    h.update(data);
    h.finalize().to_vec()
}

/// AES-128-CMAC; `None` for a key that is not 128 bits.
fn cmac_aes128(secret: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut m = <Cmac<aes::Aes128> as KeyInit>::new_from_slice(secret).ok()?;
    m.update(data);
    Some(m.finalize().into_bytes().to_vec())
}

/// AES-256-CMAC; `None` for a key that is not 256 bits.
fn cmac_aes256(secret: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut m = <Cmac<aes::Aes256> as KeyInit>::new_from_slice(secret).ok()?;
    m.update(data);
    Some(m.finalize().into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn names_codes_and_lengths() {
        for (t, name, code) in TYPES {
            assert_eq!(KeyType::from_name(name.as_bytes()), Some(t));
            assert_eq!(t.name(), name);
            assert_eq!(t.code(), code);
            let mac = t.mac(&[7; 32][..t.cipher_key_len().unwrap_or(5)], b"x");
            assert_eq!(mac.map(|m| m.len()), Some(t.digest_len()), "{name}");
        }
        assert_eq!(KeyType::from_name(b"md5"), None);
        assert_eq!(KeyType::from_name(b"SHA3_256"), None);
        assert_eq!(KeyType::Aes128.mac(&[0; 15], b"x"), None);
    }

    /// Vectors computed with Python's hashlib: `h(b"key" + b"data").hexdigest()`.
    #[test]
    fn keyed_hashes_match_hashlib() {
        let cases = [
            (KeyType::Md5, "3f13977a2262dae86874aee1610c7e6d"),
            (KeyType::Sha1, "18cd09d4f5389bbebf50df12209de3ae63de3eaf"),
            (
                KeyType::Sha256,
                "6b450ccb176c1a99a8f7bf460e92e0e4a4432237c2b8c6a277973c6dfd3bdd6c",
            ),
            (
                KeyType::Sha384,
                "2134e4b272d57453f78755009e850a974953948982ea641d7393046e89a81f15\
                 38f68907bd62bb8d4fec5696538ef732",
            ),
            (
                KeyType::Sha512,
                "c9c51469ea7c65fa98d456df10120b9826e0efa5b0fb9842a0386d4d8579a48c\
                 066de151a6b0a93bad89104cb3cdaf47b8dab083a7193531981a8811363644e2",
            ),
            (
                KeyType::Sha3_224,
                "359e42bee404eb097f4e379dfdb43d3b77b355c9274515474a4d26a0",
            ),
            (
                KeyType::Sha3_256,
                "4ce862c9eef3fb5f32aa20dbd4890b3f2e7a7710b94fec3486496c0b93193c28",
            ),
            (
                KeyType::Sha3_384,
                "e1f9f5986e9e939552af1a9248053d2bec384e37a617e35b9da7b6bf9e71dd7c\
                 3438b0d64ffa205a5a520ca2295ee75c",
            ),
            (
                KeyType::Sha3_512,
                "37c0f7f032bab5e0cc9bcb58b12a6502305c861516dd3bd0b6d891ff97dc98d5\
                 227414f6b84dab356e120ac46b1bf2b7b3ac4850e0a5a07cb0d090fbe75f1e0a",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(hex(&t.mac(b"key", b"data").expect("mac")), want, "{t:?}");
        }
    }

    /// RFC 4493 §4, example 2 (AES-128, one 16-byte block) and NIST
    /// SP 800-38B D.3 example 10 (AES-256, 16 bytes).
    #[test]
    fn cmac_vectors() {
        let msg = unhex("6bc1bee22e409f96e93d7e117393172a");
        let k128 = unhex("2b7e151628aed2a6abf7158809cf4f3c");
        assert_eq!(
            hex(&KeyType::Aes128.mac(&k128, &msg).expect("mac")),
            "070a16b46b4d4144f79bdd9dd04a287c"
        );
        let k256 = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        assert_eq!(
            hex(&KeyType::Aes256.mac(&k256, &msg).expect("mac")),
            "28a7023f452e8f82bd4bf28d8c37c35c"
        );
    }

    /// The published empty-message digests of Tiger (Anderson and Biham,
    /// 1996) and Whirlpool (ISO/IEC 10118-3): no key, no data.
    #[test]
    fn tiger_and_whirlpool_vectors() {
        assert_eq!(
            hex(&KeyType::Tiger.mac(b"", b"").expect("mac")),
            "3293ac630c13f0245f92bbb1766e16167a4e58492dde73f3"
        );
        assert_eq!(
            hex(&KeyType::Whirlpool.mac(b"", b"").expect("mac")),
            "19fa61d75522a4669b44e39c1d2e1726c530232130d407f89afee0964997f7a7\
             3e83be698b288febcf88e3e03c4f0757ea8964e59b63d93708b138cc42a66eb3"
        );
    }
}
