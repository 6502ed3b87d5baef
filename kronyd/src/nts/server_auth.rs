//! NTS for the NTP server (chrony's `nts_ntp_server.c`): the check of an
//! NTS request (cookie, authenticator, placeholders) before the engine
//! answers, and the NTS fields appended to the engine's response.

use krony_engine::server::NtsCheck;
use krony_wire::ntp::nts::{
    Authenticator, NtsFields, cookie, emit_plaintext_fields, parse_plaintext_fields,
    unique_identifier,
};
use krony_wire::ntp::{ExtensionField, HEADER_LEN, Mode, NtpRepr};
use rand::RngCore;

use super::cookies::Context;
use super::ke_client::MAX_COOKIES;
use super::keys::ServerKeys;

/// What the response to a checked request needs.
#[derive(Debug, Clone)]
pub struct ServerExchange {
    /// The request's unique identifier, echoed.
    uid: Vec<u8>,
    /// The keys from the cookie (`None`: a NAK is sent).
    context: Option<Context>,
    /// New cookies for the client.
    cookies: Vec<Vec<u8>>,
    /// The request's length: the response is padded to it.
    request_len: usize,
}

/// Checks a client request with NTS fields. `None` when it is not an NTS
/// request worth an answer (missing fields: dropped, as chrony does).
pub fn check_request(
    bytes: &[u8],
    keys: &ServerKeys,
    rng: &mut dyn RngCore,
) -> Option<(NtsCheck, ServerExchange)> {
    let (repr, f) = NtsFields::parse(bytes).ok()?;
    if repr.mode != Mode::Client || f.auth_not_last || f.cookies.len() != 1 {
        return None;
    }
    let uid = f.unique_id?;
    let auth = f.authenticator?;
    let cookie_len = f.cookies[0].len();
    if f.placeholders.iter().any(|&l| l != cookie_len) {
        return None;
    }
    let mut exchange = ServerExchange {
        uid,
        context: None,
        cookies: Vec::new(),
        request_len: bytes.len(),
    };
    let Some(ctx) = keys.open_cookie(&f.cookies[0]) else {
        return Some((NtsCheck::Nak, exchange));
    };
    let aad = bytes.get(..f.aad_len)?;
    let Some(plain) = ctx
        .aead
        .decrypt(&ctx.c2s, &auth.nonce, aad, &auth.ciphertext)
    else {
        return Some((NtsCheck::Nak, exchange));
    };
    let inner = parse_plaintext_fields(&plain).ok()?;
    let mut wanted = 1 + f.placeholders.len();
    for e in &inner {
        if e.field_type == ExtensionField::NTS_COOKIE_PLACEHOLDER {
            if e.body.len() != cookie_len {
                return None;
            }
            wanted += 1;
        }
    }
    for _ in 0..wanted.min(MAX_COOKIES) {
        exchange.cookies.push(keys.make_cookie(&ctx, rng)?);
    }
    exchange.context = Some(ctx);
    Some((NtsCheck::Valid, exchange))
}

/// Appends the NTS fields to the engine's response: the unique identifier,
/// then (unless a NAK) the authenticator with the new cookies encrypted,
/// padded so the response is as long as the request.
pub fn protect_response(
    response: &[u8],
    x: &ServerExchange,
    rng: &mut dyn RngCore,
) -> Option<Vec<u8>> {
    let mut repr = NtpRepr::parse_bytes(response.get(..HEADER_LEN)?).ok()?;
    if repr.mode != Mode::Server {
        return None;
    }
    repr.extensions.push(unique_identifier(&x.uid));
    let Some(ctx) = &x.context else {
        return repr.to_vec().ok();
    };
    let aad = repr.to_vec().ok()?;
    let plain = emit_plaintext_fields(&x.cookies.iter().map(|c| cookie(c)).collect::<Vec<_>>());
    let mut nonce = vec![0u8; ctx.aead.nonce_len()];
    rng.fill_bytes(&mut nonce);
    let ciphertext = ctx.aead.encrypt(&ctx.s2c, &nonce, &aad, &plain)?;
    // The field's header is 4 bytes: pad its body to fill up to the request.
    let min_body = x.request_len.saturating_sub(aad.len() + 4);
    repr.extensions.push(
        Authenticator { nonce, ciphertext }
            .to_field(min_body)
            .ok()?,
    );
    repr.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::super::aead::Aead;
    use super::super::cookies::{CookieJar, ResponseCheck};
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn header(first: u8) -> Vec<u8> {
        let mut h = vec![0u8; 48];
        h[0] = first;
        h[40..48].copy_from_slice(&[9; 8]);
        h
    }

    #[test]
    fn client_and_server_agree() {
        let mut rng = StdRng::seed_from_u64(5);
        let keys = ServerKeys::generate(&mut rng);
        let ctx = Context {
            aead: Aead::AesSivCmac256,
            c2s: vec![1; 32],
            s2c: vec![2; 32],
        };
        let cookies = (0..8)
            .map(|_| keys.make_cookie(&ctx, &mut rng).expect("cookie"))
            .collect();
        let mut jar = CookieJar::default();
        jar.install(ctx, cookies);
        jar.cookies.truncate(4);
        let req = jar
            .protect_request(&header(0x23), &mut rng)
            .expect("request");
        let (check, x) = check_request(&req, &keys, &mut rng).expect("NTS request");
        assert_eq!(check, NtsCheck::Valid);
        assert_eq!(x.cookies.len(), 5);
        let resp = protect_response(&header(0x24), &x, &mut rng).expect("response");
        assert_eq!(resp.len(), req.len());
        assert_eq!(jar.check_response(&resp), ResponseCheck::Valid);
        assert_eq!(jar.cookies.len(), 8);
        // A cookie from another server: NAK with the UID only.
        let other = ServerKeys::generate(&mut rng);
        let req = jar
            .protect_request(&header(0x23), &mut rng)
            .expect("request");
        let (check, x) = check_request(&req, &other, &mut rng).expect("NTS request");
        assert_eq!(check, NtsCheck::Nak);
        let mut nak = header(0x24);
        nak[1] = 0;
        nak[12..16].copy_from_slice(b"NTSN");
        let nak = protect_response(&nak, &x, &mut rng).expect("nak");
        assert_eq!(nak.len(), 48 + 36);
        assert_eq!(jar.check_response(&nak), ResponseCheck::Nak);
        // Tampering with the request fails the authenticator.
        let mut bad = jar
            .protect_request(&header(0x23), &mut rng)
            .expect("request");
        bad[47] ^= 1;
        assert_eq!(
            check_request(&bad, &keys, &mut rng).map(|r| r.0),
            Some(NtsCheck::Nak)
        );
        assert!(check_request(&header(0x23), &keys, &mut rng).is_none());
    }
}
