//! The AEAD algorithms of NTS (RFC 8915 §5.1, IANA "AEAD Algorithms"):
//! AEAD_AES_SIV_CMAC_256 (15, the one every implementation has) and
//! AEAD_AES_128_GCM_SIV (30), through RustCrypto's `aes-siv` and
//! `aes-gcm-siv`.

use aes_gcm_siv::aead::{Aead as _, KeyInit, Payload};
use aes_gcm_siv::{Aes128GcmSiv, Nonce};
use aes_siv::siv::Aes128Siv;

/// An AEAD algorithm NTS can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aead {
    /// AEAD_AES_SIV_CMAC_256 (RFC 5297), IANA id 15.
    AesSivCmac256,
    /// AEAD_AES_128_GCM_SIV (RFC 8452), IANA id 30.
    Aes128GcmSiv,
}

impl Aead {
    /// The IANA identifier.
    pub fn id(self) -> u16 {
        match self {
            Aead::AesSivCmac256 => 15,
            Aead::Aes128GcmSiv => 30,
        }
    }

    /// The algorithm with this IANA identifier, if supported.
    pub fn from_id(id: u16) -> Option<Self> {
        match id {
            15 => Some(Aead::AesSivCmac256),
            30 => Some(Aead::Aes128GcmSiv),
            _ => None,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Aead::AesSivCmac256 => 32,
            Aead::Aes128GcmSiv => 16,
        }
    }

    /// The nonce length used when sending (SIV takes any; GCM-SIV 12).
    pub fn nonce_len(self) -> usize {
        match self {
            Aead::AesSivCmac256 => 16,
            Aead::Aes128GcmSiv => 12,
        }
    }

    /// Encrypts `plaintext` with `aad` and `nonce` as associated data; the
    /// output carries the 16-byte tag (first for SIV, last for GCM-SIV, as
    /// each RFC defines it). `None` for a key or nonce of the wrong length.
    pub fn encrypt(
        self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Option<Vec<u8>> {
        match self {
            Aead::AesSivCmac256 => {
                // RFC 5297 §3: the nonce is the last associated-data string.
                let mut siv = Aes128Siv::new_from_slice(key).ok()?;
                siv.encrypt([aad, nonce], plaintext).ok()
            }
            Aead::Aes128GcmSiv => {
                let cipher = Aes128GcmSiv::new_from_slice(key).ok()?;
                if nonce.len() != 12 {
                    return None;
                }
                let payload = Payload {
                    msg: plaintext,
                    aad,
                };
                cipher.encrypt(Nonce::from_slice(nonce), payload).ok()
            }
        }
    }

    /// Decrypts and authenticates; `None` when the tag does not match.
    pub fn decrypt(
        self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Option<Vec<u8>> {
        match self {
            Aead::AesSivCmac256 => {
                let mut siv = Aes128Siv::new_from_slice(key).ok()?;
                siv.decrypt([aad, nonce], ciphertext).ok()
            }
            Aead::Aes128GcmSiv => {
                let cipher = Aes128GcmSiv::new_from_slice(key).ok()?;
                if nonce.len() != 12 {
                    return None;
                }
                let payload = Payload {
                    msg: ciphertext,
                    aad,
                };
                cipher.decrypt(Nonce::from_slice(nonce), payload).ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 5297 appendix A.2 (nonce-based: two associated-data strings,
    /// then the nonce as the last string, as NTS passes it).
    #[test]
    fn rfc5297_a2_vector() {
        let key = hex("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f");
        let ad1 =
            hex("00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100");
        let ad2 = hex("102030405060708090a0");
        let nonce = hex("09f911029d74e35bd84156c5635688c0");
        let pt = hex(
            "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553",
        );
        let expected = hex(
            "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d",
        );
        let mut siv = Aes128Siv::new_from_slice(&key).expect("key");
        let ct = siv
            .encrypt([&ad1[..], &ad2[..], &nonce[..]], &pt)
            .expect("encrypt");
        assert_eq!(ct, expected);
    }

    /// RFC 5297 appendix A.1 (deterministic: one associated-data string,
    /// no nonce), through the same SIV construction NTS uses.
    #[test]
    fn rfc5297_a1_vector() {
        let key = hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        let ad = hex("101112131415161718191a1b1c1d1e1f2021222324252627");
        let pt = hex("112233445566778899aabbccddee");
        let expected = hex("85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c");
        let mut siv = Aes128Siv::new_from_slice(&key).expect("key");
        assert_eq!(siv.encrypt([&ad[..]], &pt).expect("encrypt"), expected);
        assert_eq!(siv.decrypt([&ad[..]], &expected).expect("decrypt"), pt);
    }

    #[test]
    fn nts_use_round_trips_and_rejects_forgeries() {
        for aead in [Aead::AesSivCmac256, Aead::Aes128GcmSiv] {
            let key = vec![7u8; aead.key_len()];
            let nonce = vec![9u8; aead.nonce_len()];
            let ct = aead
                .encrypt(&key, &nonce, b"header", b"cookies")
                .expect("encrypt");
            assert_eq!(ct.len(), 16 + 7);
            assert_eq!(
                aead.decrypt(&key, &nonce, b"header", &ct).as_deref(),
                Some(&b"cookies"[..])
            );
            assert_eq!(aead.decrypt(&key, &nonce, b"headeR", &ct), None);
            let mut bad = ct.clone();
            bad[0] ^= 1;
            assert_eq!(aead.decrypt(&key, &nonce, b"header", &bad), None);
            assert_eq!(aead.encrypt(&key[1..], &nonce, b"", b""), None);
            assert_eq!(Aead::from_id(aead.id()), Some(aead));
        }
        assert_eq!(Aead::from_id(1), None);
    }
}
