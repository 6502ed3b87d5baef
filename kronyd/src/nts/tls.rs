//! TLS for NTS-KE: rustls with the ring provider, TLS 1.3 only, ALPN
//! "ntske/1" (RFC 8915 §3), certificates from PEM files, and the key
//! exporter of RFC 8915 §5.1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use krony_wire::nts_ke::{ALPN, EXPORTER_LABEL, NEXT_PROTOCOL_NTPV4};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::aead::Aead;

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
}

impl ClientTls {
    /// From the `ntstrustedcerts` lines and `nosystemcert`.
    pub fn new(trusted: Vec<(u32, PathBuf)>, system: bool) -> Self {
        ClientTls {
            trusted,
            system,
            built: BTreeMap::new(),
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
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| format!("Could not set TLS credentials : {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN.to_vec()];
        let config = Arc::new(config);
        self.built.insert(set, config.clone());
        Ok(config)
    }
}

/// The server configuration from `ntsservercert`/`ntsserverkey` pairs
/// (the first pair is served; see ARCHITECTURE.md).
///
/// # Errors
/// chrony-like messages when a file cannot be read or the key does not
/// fit the certificate.
pub fn server_config(certs: &[String], keys: &[String]) -> Result<Arc<ServerConfig>, String> {
    let (Some(cert), Some(key)) = (certs.first(), keys.first()) else {
        return Err("Missing NTS server certificate or key".into());
    };
    let chain = load_certs(Path::new(cert))?;
    if chain.is_empty() {
        return Err(format!("Could not load certificate {cert}"));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("Could not load key {key} : {e}"))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| format!("Could not set TLS credentials : {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("Could not set TLS credentials : {e}"))?;
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
