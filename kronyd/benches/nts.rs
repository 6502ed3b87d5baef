//! What NTS costs per packet and per NTS-KE session, printed by criterion
//! (no timing is asserted):
//!
//! - `client_protect`: a client adds unique identifier, cookie, placeholders
//!   and authenticator to a 48-byte request (AES-SIV-CMAC-256);
//! - `server_check_and_respond`: the server opens the cookie, checks the
//!   authenticator, makes one new cookie and authenticates the response;
//! - `client_verify`: the client checks the response and stores the cookie;
//! - `tls_handshake_and_export`: an NTS-KE TLS 1.3 handshake (ECDSA P-256
//!   certificate, in memory, both sides) with the RFC 8915 key export.
//!
//! kronyd is a binary crate: the NTS modules are compiled into the bench
//! from their files.

// The modules' unit tests are compiled here too but not run (no harness).
#![allow(clippy::unwrap_used, dead_code, unused_imports)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;

// At the crate root, so that their `super::` paths resolve as in kronyd.
#[path = "../src/nts/aead.rs"]
mod aead;
#[path = "../src/nts/certtime.rs"]
mod certtime;
#[path = "../src/nts/cookies.rs"]
mod cookies;
#[path = "../src/nts/ke_client.rs"]
mod ke_client;
#[path = "../src/nts/keys.rs"]
mod keys;
#[path = "../src/nts/server_auth.rs"]
mod server_auth;
#[path = "../src/nts/tls.rs"]
mod tls;

use aead::Aead;
use cookies::{Context, CookieJar};
use keys::ServerKeys;

fn header(first: u8) -> Vec<u8> {
    let mut h = vec![0u8; 48];
    h[0] = first;
    h[40..48].copy_from_slice(&[9; 8]);
    h
}

fn ntp_packets(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let keys = ServerKeys::generate(&mut rng);
    let ctx = Context {
        aead: Aead::AesSivCmac256,
        c2s: vec![1; 32],
        s2c: vec![2; 32],
    };
    let cookies: Vec<Vec<u8>> = (0..8)
        .map(|_| keys.make_cookie(&ctx, &mut rng).unwrap())
        .collect();
    let mut jar = CookieJar::default();
    jar.install(ctx.clone(), cookies.clone());
    c.bench_function("client_protect", |b| {
        b.iter(|| {
            jar.install(ctx.clone(), cookies.clone());
            black_box(jar.protect_request(&header(0x23), &mut rng).unwrap())
        })
    });
    jar.install(ctx.clone(), cookies.clone());
    let request = jar.protect_request(&header(0x23), &mut rng).unwrap();
    eprintln!("NTS request: {} bytes", request.len());
    c.bench_function("server_check_and_respond", |b| {
        b.iter(|| {
            let (_, x) = server_auth::check_request(&request, &keys, &mut rng).unwrap();
            black_box(server_auth::protect_response(&header(0x24), &x, &mut rng).unwrap())
        })
    });
    let (_, x) = server_auth::check_request(&request, &keys, &mut rng).unwrap();
    let response = server_auth::protect_response(&header(0x24), &x, &mut rng).unwrap();
    c.bench_function("client_verify", |b| {
        b.iter(|| {
            let mut j = jar.clone();
            black_box(j.check_response(&response))
        })
    });
}

fn handshake(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("krony-nts-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let server =
        tls::server_config(&[cert.display().to_string()], &[key.display().to_string()]).unwrap();
    let mut tls = tls::ClientTls::new(vec![(0, cert.clone())], false);
    let client = tls.config(0).unwrap();
    c.bench_function("tls_handshake_and_export", |b| {
        b.iter(|| black_box(one_handshake(&client, &server)))
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a handshake between two in-memory connections and exports keys.
fn one_handshake(
    client: &Arc<rustls::ClientConfig>,
    server: &Arc<rustls::ServerConfig>,
) -> Vec<u8> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut c =
        rustls::Connection::Client(rustls::ClientConnection::new(client.clone(), name).unwrap());
    let mut s = rustls::Connection::Server(rustls::ServerConnection::new(server.clone()).unwrap());
    while c.is_handshaking() || s.is_handshaking() {
        let mut buf = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets().unwrap();
        }
        let mut buf = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().unwrap();
        }
    }
    tls::export_keys(&c, Aead::AesSivCmac256).unwrap().0
}

criterion_group!(benches, ntp_packets, handshake);
criterion_main!(benches);
