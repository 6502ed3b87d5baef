//! TLS for NTS-KE: rustls with the ring provider, TLS 1.3 only, ALPN
//! "ntske/1" (RFC 8915 §3), certificates from PEM files, and the key
//! exporter of RFC 8915 §5.1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use krony_wire::nts_ke::{ALPN, EXPORTER_LABEL, NEXT_PROTOCOL_NTPV4};
use rustls::crypto::CryptoProvider;
use std::sync::atomic::AtomicBool;

use rustls::client::WebPkiServerVerifier;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::aead::Aead;
use super::certtime::TimeCheckVerifier;

/// Where Debian (and most distributions) keep the system's trusted CAs.
const SYSTEM_CA_FILES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The PEM certificates of a file, or of every file in a directory.
///
/// # Errors
/// A message naming the file that could not be read.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("Could not read {} : {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    let mut certs = Vec::new();
    for f in files {
        let iter = CertificateDer::pem_file_iter(&f)
            .map_err(|e| format!("Could not load certificate {} : {e}", f.display()))?;
        for c in iter {
            certs.push(c.map_err(|e| format!("Could not load certificate {} : {e}", f.display()))?);
        }
    }
    Ok(certs)
}

/// Client configurations per certificate set (`certset`), built on first
/// use: set N trusts the `ntstrustedcerts N` files, and set 0 also the
/// system's CAs unless `nosystemcert`.
#[derive(Debug, Default)]
pub struct ClientTls {
    trusted: Vec<(u32, PathBuf)>,
    system: bool,
    built: BTreeMap<u32, Arc<ClientConfig>>,
    /// Whether certificate times are checked (`nocerttimecheck` turns the
    /// checks off until the clock is synchronised).
    pub time_checks: Arc<AtomicBool>,
}

impl ClientTls {
    /// From the `ntstrustedcerts` lines and `nosystemcert`.
    pub fn new(trusted: Vec<(u32, PathBuf)>, system: bool) -> Self {
        ClientTls {
            trusted,
            system,
            built: BTreeMap::new(),
            time_checks: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The configuration of `set`.
    ///
    /// # Errors
    /// A message when a certificate file cannot be read or TLS 1.3 cannot
    /// be set up.
    pub fn config(&mut self, set: u32) -> Result<Arc<ClientConfig>, String> {
        if let Some(c) = self.built.get(&set) {
            return Ok(c.clone());
        }
        let mut roots = RootCertStore::empty();
        for (s, path) in &self.trusted {
            if *s == set {
                for c in load_certs(path)? {
                    roots
                        .add(c)
                        .map_err(|e| format!("Bad certificate in {} : {e}", path.display()))?;
                }
            }
        }
        if set == 0 && self.system {
            if let Some(f) = SYSTEM_CA_FILES.iter().map(Path::new).find(|p| p.exists()) {
                // Some system bundles hold certificates webpki cannot use;
                // they are skipped, as other TLS libraries skip them.
                let certs = load_certs(f).unwrap_or_default();
                roots.add_parsable_certificates(certs);
            }
        }
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| format!("Could not set TLS credentials : {e}"))?;
        let roots = Arc::new(roots);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider()).build();
        let mut config = match webpki {
            Ok(v) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TimeCheckVerifier::new(
                    v,
                    self.time_checks.clone(),
                )))
                .with_no_client_auth(),
            // No trusted certificate at all: every handshake fails.
            Err(_) => builder.with_root_certificates(roots).with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        let config = Arc::new(config);
        self.built.insert(set, config.clone());
        Ok(config)
    }
}

/// The server's certificates: with several `ntsservercert`/`ntsserverkey`
/// pairs, the first whose certificate is valid for the name the client
/// asks for (SNI), else the first.
#[derive(Debug)]
struct CertPairs(Vec<Arc<CertifiedKey>>);

impl ResolvesServerCert for CertPairs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let wanted = hello
            .server_name()
            .and_then(|n| ServerName::try_from(n.to_string()).ok());
        let matches = |ck: &&Arc<CertifiedKey>| {
            let (Some(name), Some(der)) = (&wanted, ck.cert.first()) else {
                return false;
            };
            webpki::EndEntityCert::try_from(der)
                .is_ok_and(|ee| ee.verify_is_valid_for_subject_name(name).is_ok())
        };
        self.0.iter().find(matches).or(self.0.first()).cloned()
    }
}

/// The server configuration from the `ntsservercert`/`ntsserverkey` pairs.
///
/// # Errors
/// chrony-like messages when a file cannot be read or a key does not fit
/// its certificate.
pub fn server_config(certs: &[String], keys: &[String]) -> Result<Arc<ServerConfig>, String> {
    if certs.is_empty() || certs.len() != keys.len() {
        return Err("Missing NTS server certificate or key".into());
    }
    let provider = provider();
    let mut pairs = Vec::new();
    for (cert, key) in certs.iter().zip(keys) {
        let chain = load_certs(Path::new(cert))?;
        if chain.is_empty() {
            return Err(format!("Could not load certificate {cert}"));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("Could not load key {key} : {e}"))?;
        let ck = CertifiedKey::from_der(chain, key, &provider)
            .map_err(|e| format!("Could not set TLS credentials : {e}"))?;
        pairs.push(Arc::new(ck));
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("Could not set TLS credentials : {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CertPairs(pairs)));
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.max_early_data_size = 0;
    Ok(Arc::new(config))
}

/// The client-to-server and server-to-client keys (RFC 8915 §5.1):
/// exported with the label "EXPORTER-network-time-security" and the
/// context protocol ID (NTPv4 = 0), AEAD ID, and 0 (C2S) or 1 (S2C).
///
/// # Errors
/// When the handshake is not complete.
pub fn export_keys(
    conn: &rustls::Connection,
    aead: Aead,
) -> Result<(Vec<u8>, Vec<u8>), rustls::Error> {
    let mut context = [0u8; 5];
    context[..2].copy_from_slice(&NEXT_PROTOCOL_NTPV4.to_be_bytes());
    context[2..4].copy_from_slice(&aead.id().to_be_bytes());
    let c2s =
        conn.export_keying_material(vec![0; aead.key_len()], EXPORTER_LABEL, Some(&context))?;
    context[4] = 1;
    let s2c =
        conn.export_keying_material(vec![0; aead.key_len()], EXPORTER_LABEL, Some(&context))?;
    Ok((c2s, s2c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `name`, written to `dir`.
    fn cert(dir: &Path, name: &str) -> (String, String) {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("cert");
        let c = dir.join(format!("{name}.crt"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, ck.cert.pem()).expect("write");
        std::fs::write(&k, ck.key_pair.serialize_pem()).expect("write");
        (c.display().to_string(), k.display().to_string())
    }

    /// C2S and S2C keys.
    type KeyPair = (Vec<u8>, Vec<u8>);

    /// Moves what `from` has to send to `to`.
    fn pass(
        from: &mut rustls::Connection,
        to: &mut rustls::Connection,
    ) -> Result<(), rustls::Error> {
        let mut buf = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut buf).expect("write");
        }
        if !buf.is_empty() {
            to.read_tls(&mut buf.as_slice()).expect("read");
            to.process_new_packets()?;
        }
        Ok(())
    }

    /// Runs a handshake in memory; the keys both sides export.
    fn handshake(
        client: Arc<ClientConfig>,
        server: Arc<ServerConfig>,
        name: &str,
    ) -> Result<(KeyPair, KeyPair), rustls::Error> {
        let sni = ServerName::try_from(name.to_string()).expect("name");
        let mut c = rustls::Connection::Client(rustls::ClientConnection::new(client, sni)?);
        let mut s = rustls::Connection::Server(rustls::ServerConnection::new(server)?);
        for _ in 0..10 {
            pass(&mut c, &mut s)?;
            pass(&mut s, &mut c)?;
        }
        assert_eq!(c.alpn_protocol(), Some(ALPN));
        Ok((
            export_keys(&c, Aead::AesSivCmac256)?,
            export_keys(&s, Aead::AesSivCmac256)?,
        ))
    }

    #[test]
    fn the_pair_for_the_requested_name_is_served() {
        let dir = tempfile::tempdir().expect("dir");
        let (ca, ka) = cert(dir.path(), "a.test");
        let (cb, kb) = cert(dir.path(), "b.test");
        let server = server_config(&[ca.clone(), cb.clone()], &[ka, kb]).expect("server");
        let mut tls = ClientTls::new(vec![(0, ca.into()), (0, cb.into())], false);
        let client = tls.config(0).expect("client");
        for name in ["a.test", "b.test"] {
            let (ck, sk) = handshake(client.clone(), server.clone(), name).expect(name);
            assert_eq!(ck, sk, "both sides export the same keys");
            assert_eq!(ck.0.len(), 32);
            assert_ne!(ck.0, ck.1, "C2S and S2C differ");
        }
        // A name no certificate has fails verification.
        assert!(handshake(client, server, "c.test").is_err());
        // Another certificate set trusts nothing here.
        let untrusted = tls.config(1).expect("client");
        let (c2, k2) = cert(dir.path(), "a2.test");
        let other = server_config(&[c2], &[k2]).expect("server");
        assert!(handshake(untrusted, other, "a2.test").is_err());
    }

    #[test]
    fn expired_certificates_pass_only_without_time_checks() {
        let dir = tempfile::tempdir().expect("dir");
        let mut params =
            rcgen::CertificateParams::new(vec!["old.test".to_string()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let (c, k) = (dir.path().join("old.crt"), dir.path().join("old.key"));
        std::fs::write(&c, cert.pem()).expect("write");
        std::fs::write(&k, key.serialize_pem()).expect("write");
        let server =
            server_config(&[c.display().to_string()], &[k.display().to_string()]).expect("server");
        let mut tls = ClientTls::new(vec![(0, c)], false);
        let client = tls.config(0).expect("client");
        assert!(handshake(client.clone(), server.clone(), "old.test").is_err());
        tls.time_checks
            .store(false, std::sync::atomic::Ordering::Relaxed);
        assert!(handshake(client.clone(), server.clone(), "old.test").is_ok());
        // The name is still checked.
        assert!(handshake(client, server, "other.test").is_err());
    }
}
