//! The server's cookie keys (chrony's server keys in `nts_ke_server.c`):
//! four slots, the low two bits of a key ID naming its slot; cookies are
//! made with the current key, the next one is ready in advance, and the
//! two before are still accepted. Keys rotate every `ntsrotate` seconds and
//! are saved in `ntsdumpdir/ntskeys` (chrony's "NKS1" layout).
//!
//! A cookie is: key ID (4 bytes), nonce (16), then AES-SIV-CMAC-256 of the
//! client's C2S and S2C keys (tag first). The AEAD of the NTP exchange is
//! told by the key length.

use rand::RngCore;

use super::aead::Aead;
use super::cookies::{Context, from_hex, to_hex};

const SLOTS: usize = 4;
const INDEX_BITS: u32 = 2;
/// Keys made in advance of use.
const FUTURE_KEYS: usize = 1;
const COOKIE_NONCE_LEN: usize = 16;
const KEY_ALGORITHM: Aead = Aead::AesSivCmac256;
const IDENTIFIER: &str = "NKS1";

#[derive(Clone, PartialEq, Eq)]
struct ServerKey {
    id: u32,
    key: Vec<u8>,
}

/// The cookie keys.
#[derive(Clone)]
pub struct ServerKeys {
    keys: [ServerKey; SLOTS],
    current: usize,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys")
            .field("current", &self.current)
            .finish()
    }
}

fn new_key(index: usize, rng: &mut dyn RngCore) -> ServerKey {
    let mut key = vec![0u8; KEY_ALGORITHM.key_len()];
    rng.fill_bytes(&mut key);
    let id = (rng.next_u32() & (u32::MAX << INDEX_BITS)) | index as u32;
    ServerKey { id, key }
}

impl ServerKeys {
    /// Fresh random keys.
    pub fn generate(rng: &mut dyn RngCore) -> Self {
        let keys = std::array::from_fn(|i| new_key(i, rng));
        ServerKeys {
            keys,
            current: SLOTS - 1,
        }
    }

    /// Makes the next key current and a new one ready after it.
    pub fn rotate(&mut self, rng: &mut dyn RngCore) {
        self.current = (self.current + 1) % SLOTS;
        let future = (self.current + FUTURE_KEYS) % SLOTS;
        self.keys[future] = new_key(future, rng);
    }

    /// A cookie holding `ctx`'s keys.
    pub fn make_cookie(&self, ctx: &Context, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
        let key = &self.keys[self.current];
        let mut nonce = [0u8; COOKIE_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut plain = ctx.c2s.clone();
        plain.extend_from_slice(&ctx.s2c);
        let ct = KEY_ALGORITHM.encrypt(&key.key, &nonce, &[], &plain)?;
        let mut cookie = key.id.to_be_bytes().to_vec();
        cookie.extend_from_slice(&nonce);
        cookie.extend_from_slice(&ct);
        Some(cookie)
    }

    /// The keys in a cookie made with one of our keys; `None` for an
    /// unknown key or a forged or damaged cookie.
    pub fn open_cookie(&self, cookie: &[u8]) -> Option<Context> {
        let (id, rest) = cookie.split_first_chunk::<4>()?;
        let id = u32::from_be_bytes(*id);
        let key = &self.keys[(id as usize) % SLOTS];
        if key.id != id || rest.len() <= COOKIE_NONCE_LEN {
            return None;
        }
        let (nonce, ct) = rest.split_at(COOKIE_NONCE_LEN);
        let plain = KEY_ALGORITHM.decrypt(&key.key, nonce, &[], ct)?;
        let half = plain.len() / 2;
        let aead = match half {
            16 => Aead::Aes128GcmSiv,
            32 => Aead::AesSivCmac256,
            _ => return None,
        };
        Some(Context {
            aead,
            c2s: plain[..half].to_vec(),
            s2c: plain[half..].to_vec(),
        })
    }

    /// The `ntskeys` text; `age` is the current key's age in seconds.
    pub fn to_text(&self, age: f64) -> String {
        let mut s = format!("{IDENTIFIER}\n{age:.1}\n");
        for i in 0..SLOTS {
            let k = &self.keys[(self.current + i + 1 + FUTURE_KEYS) % SLOTS];
            s.push_str(&format!(
                "{:08X} {} {}\n",
                k.id,
                to_hex(&k.key),
                KEY_ALGORITHM.id()
            ));
        }
        s
    }

    /// Keys from an `ntskeys` text and the current key's age; `None` if
    /// malformed.
    pub fn from_text(text: &str) -> Option<(Self, f64)> {
        let mut lines = text.lines();
        if lines.next()? != IDENTIFIER {
            return None;
        }
        let age: f64 = lines.next()?.trim().parse().ok()?;
        let mut loaded = Vec::new();
        for line in lines.take(SLOTS) {
            let w: Vec<&str> = line.split_whitespace().collect();
            let [id, key, alg] = w.as_slice() else {
                return None;
            };
            let id = u32::from_str_radix(id, 16).ok()?;
            let key = from_hex(key)?;
            if alg.parse::<u16>().ok()? != KEY_ALGORITHM.id()
                || key.len() != KEY_ALGORITHM.key_len()
            {
                return None;
            }
            loaded.push(ServerKey { id, key });
        }
        if loaded.len() != SLOTS {
            return None;
        }
        let mut keys = ServerKeys::generate(&mut rand::rng());
        let mut last = 0;
        for k in loaded {
            last = (k.id as usize) % SLOTS;
            keys.keys[last] = k;
        }
        // The file lists the oldest first and the future key last.
        keys.current = (last + SLOTS - FUTURE_KEYS) % SLOTS;
        Some((keys, age))
    }
}

#[cfg(test)]
mod tests {
    use super::super::cookies::test_context;
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn cookies_open_until_their_key_rotates_out() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut keys = ServerKeys::generate(&mut rng);
        let cookie = keys.make_cookie(&test_context(), &mut rng).expect("cookie");
        assert_eq!(cookie.len(), 4 + 16 + 16 + 64);
        assert_eq!(keys.open_cookie(&cookie), Some(test_context()));
        let mut bad = cookie.clone();
        bad[30] ^= 1;
        assert_eq!(keys.open_cookie(&bad), None);
        assert_eq!(keys.open_cookie(&cookie[..10]), None);
        for _ in 0..2 {
            keys.rotate(&mut rng);
            assert_eq!(keys.open_cookie(&cookie), Some(test_context()));
        }
        keys.rotate(&mut rng);
        keys.rotate(&mut rng);
        assert_eq!(keys.open_cookie(&cookie), None);
    }

    #[test]
    fn keys_file_round_trips() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut keys = ServerKeys::generate(&mut rng);
        keys.rotate(&mut rng);
        let cookie = keys.make_cookie(&test_context(), &mut rng).expect("cookie");
        let text = keys.to_text(12.0);
        assert!(text.starts_with("NKS1\n12.0\n"));
        let (back, age) = ServerKeys::from_text(&text).expect("load");
        assert_eq!(age, 12.0);
        assert_eq!(back.current, keys.current);
        assert_eq!(back.open_cookie(&cookie), Some(test_context()));
        assert!(ServerKeys::from_text("NKS1\n1.0\n").is_none());
    }
}
