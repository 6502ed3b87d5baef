//! The client's NTS state for NTP (chrony's `nts_ntp_client.c`): the keys
//! from NTS-KE, the cookie jar, the protection of requests and the checks
//! of responses (RFC 8915 §5.7), and the `ntsdumpdir` file that keeps
//! cookies across restarts.

use std::collections::VecDeque;

use krony_wire::ntp::nts::{
    Authenticator, MIN_UNIQUE_ID_LEN, NtsFields, cookie, cookie_placeholder,
    parse_plaintext_fields, unique_identifier,
};
use krony_wire::ntp::{ExtensionField, HEADER_LEN, KissCode, Mode, NtpRepr};
use rand::RngCore;

use super::aead::Aead;
use super::ke_client::{MAX_COOKIE_LEN, MAX_COOKIES};

/// The authenticator of a request must reach past the largest NTPv4 MAC,
/// so the packet cannot be taken for one with a MAC (chrony's rule).
const REQUEST_MIN_AUTH_BODY: usize = 24;
/// Cookies asked for in one request are limited to this many bytes.
const MAX_TOTAL_COOKIE_LEN: usize = 8 * 108;

/// Keys exported from an NTS-KE session.
#[derive(Clone, PartialEq, Eq)]
pub struct Context {
    /// The negotiated algorithm.
    pub aead: Aead,
    /// Client-to-server key.
    pub c2s: Vec<u8>,
    /// Server-to-client key.
    pub s2c: Vec<u8>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of debug output.
        f.debug_struct("Context").field("aead", &self.aead).finish()
    }
}

/// What a response to our last request turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseCheck {
    /// Authentic; its cookies were stored.
    Valid,
    /// An NTS NAK with our unique identifier: the cookies are no good.
    Nak,
    /// Anything else (not ours, forged, or a second response).
    Invalid,
}

/// Keys, cookies and the request in flight.
#[derive(Debug, Clone, Default)]
pub struct CookieJar {
    /// The keys, once NTS-KE succeeded (or a dump was loaded).
    pub context: Option<Context>,
    /// Cookies, oldest first.
    pub cookies: VecDeque<Vec<u8>>,
    /// The unique identifier of the request in flight.
    uid: Option<[u8; MIN_UNIQUE_ID_LEN]>,
    /// A valid response to the request in flight arrived.
    pub ok_response: bool,
    /// An NTS NAK arrived (and no valid response).
    pub nak: bool,
}

impl CookieJar {
    /// Replaces keys and cookies with those of a new NTS-KE session.
    pub fn install(&mut self, context: Context, cookies: Vec<Vec<u8>>) {
        self.context = Some(context);
        self.cookies = cookies.into_iter().take(MAX_COOKIES).collect();
        self.nak = false;
        self.ok_response = true;
        self.uid = None;
    }

    /// Forgets the cookies (NAK, refresh).
    pub fn drop_cookies(&mut self) {
        self.cookies.clear();
    }

    /// Length of the next cookie to be used (0: none).
    pub fn cookie_len(&self) -> usize {
        self.cookies.front().map_or(0, Vec::len)
    }

    /// Adds the NTS fields to a request header (`bytes`: the 48-byte NTPv4
    /// client packet): a new unique identifier, one cookie, placeholders to
    /// get back to 8 cookies, and the authenticator. `None` without keys or
    /// cookies.
    pub fn protect_request(&mut self, bytes: &[u8], rng: &mut dyn RngCore) -> Option<Vec<u8>> {
        let ctx = self.context.clone()?;
        let mut repr = NtpRepr::parse_bytes(bytes.get(..HEADER_LEN)?).ok()?;
        if repr.mode != Mode::Client || repr.version != 4 {
            return None;
        }
        let cookie_value = self.cookies.pop_front()?;
        let mut uid = [0u8; MIN_UNIQUE_ID_LEN];
        rng.fill_bytes(&mut uid);
        let wanted = (MAX_COOKIES - self.cookies.len())
            .min(MAX_TOTAL_COOKIE_LEN / (cookie_value.len() + 4))
            .max(1);
        repr.extensions.push(unique_identifier(&uid));
        repr.extensions.push(cookie(&cookie_value));
        for _ in 1..wanted {
            repr.extensions.push(cookie_placeholder(cookie_value.len()));
        }
        let aad = repr.to_vec().ok()?;
        let mut nonce = vec![0u8; ctx.aead.nonce_len()];
        rng.fill_bytes(&mut nonce);
        let ciphertext = ctx.aead.encrypt(&ctx.c2s, &nonce, &aad, &[])?;
        let auth = Authenticator { nonce, ciphertext }
            .to_field(REQUEST_MIN_AUTH_BODY)
            .ok()?;
        repr.extensions.push(auth);
        let out = repr.to_vec().ok()?;
        self.uid = Some(uid);
        self.ok_response = false;
        self.nak = false;
        Some(out)
    }

    /// Checks a server packet against the request in flight; an authentic
    /// one refills the cookie jar (at most one response per request).
    pub fn check_response(&mut self, bytes: &[u8]) -> ResponseCheck {
        let (Some(uid), Some(ctx)) = (self.uid, self.context.clone()) else {
            return ResponseCheck::Invalid;
        };
        if self.ok_response {
            return ResponseCheck::Invalid;
        }
        let Ok((repr, fields)) = NtsFields::parse(bytes) else {
            return ResponseCheck::Invalid;
        };
        if repr.mode != Mode::Server || fields.unique_id.as_deref() != Some(&uid[..]) {
            return ResponseCheck::Invalid;
        }
        let Some(auth) = fields
            .authenticator
            .as_ref()
            .filter(|_| !fields.auth_not_last)
        else {
            if repr.stratum == 0 && repr.kiss_code() == Some(KissCode::Ntsn) {
                self.nak = true;
                return ResponseCheck::Nak;
            }
            return ResponseCheck::Invalid;
        };
        let Some(aad) = bytes.get(..fields.aad_len) else {
            return ResponseCheck::Invalid;
        };
        let Some(plain) = ctx
            .aead
            .decrypt(&ctx.s2c, &auth.nonce, aad, &auth.ciphertext)
        else {
            return ResponseCheck::Invalid;
        };
        let Ok(inner) = parse_plaintext_fields(&plain) else {
            return ResponseCheck::Invalid;
        };
        let new: Vec<&ExtensionField> = inner
            .iter()
            .filter(|f| {
                f.field_type == ExtensionField::NTS_COOKIE && f.body.len() <= MAX_COOKIE_LEN
            })
            .collect();
        if new.is_empty() {
            return ResponseCheck::Invalid;
        }
        for f in new {
            if self.cookies.len() < MAX_COOKIES {
                self.cookies.push_back(f.body.clone());
            }
        }
        self.ok_response = true;
        ResponseCheck::Valid
    }
}

/// Hex digits, as chrony writes them in its dump files.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Bytes from hex digits (either case); `None` if malformed.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// A fixed context for the unit tests of cookies and server keys.
#[cfg(test)]
pub(crate) fn test_context() -> Context {
    Context {
        aead: Aead::AesSivCmac256,
        c2s: vec![1; 32],
        s2c: vec![2; 32],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn client_header() -> Vec<u8> {
        let mut h = vec![0u8; 48];
        h[0] = 0x23;
        h[40..48].copy_from_slice(&[9; 8]);
        h
    }

    /// What a server does: check the request with C2S, answer with the
    /// UID and an authenticator over encrypted cookies with S2C.
    fn respond(request: &[u8], cookies: usize, tamper: bool) -> Vec<u8> {
        let (req, f) = NtsFields::parse(request).expect("request");
        let auth = f.authenticator.expect("auth");
        let c = test_context();
        c.aead
            .decrypt(&c.c2s, &auth.nonce, &request[..f.aad_len], &auth.ciphertext)
            .expect("request authentic");
        let mut resp = req.clone();
        resp.mode = Mode::Server;
        resp.extensions = vec![unique_identifier(f.unique_id.as_deref().expect("uid"))];
        let aad = resp.to_vec().expect("emit");
        let plain = krony_wire::ntp::nts::emit_plaintext_fields(
            &(0..cookies)
                .map(|i| cookie(&[i as u8; 100]))
                .collect::<Vec<_>>(),
        );
        let mut ct = c.aead.encrypt(&c.s2c, &[5; 16], &aad, &plain).expect("enc");
        if tamper {
            ct[3] ^= 1;
        }
        let a = Authenticator {
            nonce: vec![5; 16],
            ciphertext: ct,
        };
        resp.extensions.push(a.to_field(0).expect("field"));
        resp.to_vec().expect("emit")
    }

    #[test]
    fn request_response_cycle_keeps_eight_cookies() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut jar = CookieJar::default();
        jar.install(test_context(), (0..8).map(|i| vec![i; 100]).collect());
        let req = jar
            .protect_request(&client_header(), &mut rng)
            .expect("req");
        assert_eq!(jar.cookies.len(), 7);
        let (_, f) = NtsFields::parse(&req).expect("parse");
        assert_eq!(f.cookies, vec![vec![0; 100]]);
        assert_eq!(f.placeholders.len(), 0, "one cookie used, one asked for");
        assert_eq!(
            jar.check_response(&respond(&req, 1, true)),
            ResponseCheck::Invalid
        );
        assert_eq!(
            jar.check_response(&respond(&req, 1, false)),
            ResponseCheck::Valid
        );
        assert_eq!(jar.cookies.len(), 8);
        // A second response to the same request is refused.
        assert_eq!(
            jar.check_response(&respond(&req, 1, false)),
            ResponseCheck::Invalid
        );
        // With fewer cookies, placeholders ask for the rest.
        jar.cookies.truncate(3);
        let req = jar
            .protect_request(&client_header(), &mut rng)
            .expect("req");
        let (_, f) = NtsFields::parse(&req).expect("parse");
        assert_eq!(f.placeholders.len(), 5);
        assert_eq!(
            jar.check_response(&respond(&req, 6, false)),
            ResponseCheck::Valid
        );
        assert_eq!(jar.cookies.len(), 8);
    }

    #[test]
    fn wrong_uid_and_nak() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut jar = CookieJar::default();
        jar.install(test_context(), vec![vec![7; 100]; 8]);
        let req = jar
            .protect_request(&client_header(), &mut rng)
            .expect("req");
        let mut other = CookieJar::default();
        other.install(test_context(), vec![vec![7; 100]; 8]);
        let req2 = other
            .protect_request(&client_header(), &mut rng)
            .expect("req");
        assert_eq!(
            jar.check_response(&respond(&req2, 1, false)),
            ResponseCheck::Invalid
        );
        // A NAK: KoD NTSN with our UID and no authenticator.
        let (r, f) = NtsFields::parse(&req).expect("parse");
        let mut nak = r.clone();
        nak.mode = Mode::Server;
        nak.stratum = 0;
        nak.reference_id = krony_wire::ntp::RefId::from_ascii(b"NTSN");
        nak.extensions = vec![unique_identifier(f.unique_id.as_deref().expect("uid"))];
        nak.extensions[0].body.resize(32, 0);
        assert_eq!(
            jar.check_response(&nak.to_vec().expect("emit")),
            ResponseCheck::Nak
        );
        assert!(jar.nak);
        // An unauthenticated plain response.
        let mut plain = r;
        plain.mode = Mode::Server;
        plain.extensions.clear();
        assert_eq!(
            jar.check_response(&plain.to_vec().expect("emit")),
            ResponseCheck::Invalid
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(to_hex(&[0, 0xAB, 0x1f]), "00AB1F");
        assert_eq!(from_hex("00ab1F"), Some(vec![0, 0xAB, 0x1F]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }
}
