//! Symmetric keys (`keyfile`) and the MACs of NTP packets (RFC 5905 §7.3,
//! §9.2), as chrony's `keys.c` and `ntp_auth.c` do them.
//!
//! The engine holds no secrets: the daemon loads the keyfile into a
//! [`KeyStore`] at start and on `rekey`, gives a copy to the engine's
//! server (which checks requests and signs responses through
//! [`SymmetricKeys`]), signs the requests of sources with a `key` option
//! ([`KeyStore::sign`]) and checks their responses ([`KeyStore::verify`]).
//!
//! The MAC is the digest of the key followed by the packet (a cipher key:
//! the AES-CMAC of the packet), after the packet as the key ID (4 bytes,
//! network order) and the digest. In NTPv4 packets digests longer than
//! 160 bits are truncated to 160 bits (RFC 7822 §7.5, so that extension
//! fields parse deterministically); sources with such keys therefore send
//! NTPv3 unless told otherwise, as chrony's do.

mod keyfile;
mod mac;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use krony_config::SourceOptions;
use krony_engine::server::SymmetricKeys;
use krony_wire::ntp::{HEADER_LEN, NtpRepr};

pub use keyfile::Key;
#[cfg(test)]
use mac::KeyType;

use crate::logging::Severity;

/// Keys shorter than 80 bits are not considered secure (chrony warns).
const MIN_SECURE_KEY_LEN: usize = 10;
/// Shortest MAC: key ID and a 128-bit digest (MD5, AES-CMAC).
const MIN_MAC_LEN: usize = 4 + 16;
/// Longest MAC in an NTPv4 packet (RFC 7822 §7.5): key ID and 160 bits.
const MAX_V4_MAC_LEN: usize = 4 + 20;
/// Longest MAC at all: key ID and a 512-bit digest.
const MAX_MAC_LEN: usize = 4 + 64;
/// chrony's largest NTP packet: header, 1024 bytes of extension fields and
/// the longest MAC.
const MAX_PACKET_LEN: usize = HEADER_LEN + 1024 + MAX_MAC_LEN;
/// Group and owner may have any access to the keyfile, others only
/// execute (chrony warns about more).
const KEYFILE_PERMISSIONS: u32 = 0o771;

/// A message for the daemon's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMessage {
    /// How serious.
    pub severity: Severity,
    /// chrony's text.
    pub text: String,
}

impl KeyMessage {
    fn warn(text: String) -> Self {
        KeyMessage {
            severity: Severity::Warn,
            text,
        }
    }
}

/// The keys of the keyfile, cheap to clone (the engine's server and the
/// daemon share them).
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    file: Option<PathBuf>,
    keys: Arc<BTreeMap<u32, Key>>,
}

impl KeyStore {
    /// Reads `file` (the `keyfile` directive; `None`: no keys). A file that
    /// cannot be read gives no keys and a warning; bad lines are skipped
    /// with a warning each; of keys with the same ID the first is used.
    pub fn load(file: Option<&Path>) -> (KeyStore, Vec<KeyMessage>) {
        let Some(path) = file else {
            return (KeyStore::default(), Vec::new());
        };
        let mut messages = Vec::new();
        messages.extend(permissions_warning(path));
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(_) => {
                messages.push(KeyMessage::warn(format!(
                    "Could not open keyfile {}",
                    path.display()
                )));
                let store = KeyStore {
                    file: Some(path.to_path_buf()),
                    keys: Arc::default(),
                };
                return (store, messages);
            }
        };
        let (list, errors) = keyfile::parse(&text, &path.display().to_string());
        messages.extend(errors.iter().map(|e| KeyMessage::warn(e.to_string())));
        let mut keys = BTreeMap::new();
        let mut duplicates = Vec::new();
        for key in list {
            match keys.entry(key.id) {
                Entry::Occupied(_) => duplicates.push(key.id),
                Entry::Vacant(v) => {
                    v.insert(key);
                }
            }
        }
        messages.push(KeyMessage {
            severity: Severity::Info,
            text: format!("Loaded {} symmetric keys", keys.len()),
        });
        duplicates.dedup();
        for id in duplicates {
            messages.push(KeyMessage::warn(format!("Detected duplicate key {id}")));
        }
        let store = KeyStore {
            file: Some(path.to_path_buf()),
            keys: Arc::new(keys),
        };
        (store, messages)
    }

    /// Reads the same file again (`rekey`).
    pub fn reload(&self) -> (KeyStore, Vec<KeyMessage>) {
        KeyStore::load(self.file.as_deref())
    }

    /// A store of `keys`, not from a file.
    #[cfg(test)]
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Self {
        let mut map = BTreeMap::new();
        for k in keys {
            map.entry(k.id).or_insert(k);
        }
        KeyStore {
            file: None,
            keys: Arc::new(map),
        }
    }

    /// The key with ID `id`.
    pub fn get(&self, id: u32) -> Option<&Key> {
        self.keys.get(&id)
    }

    /// How many keys there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Type code and length in bits of every key, for `authdata`.
    pub fn key_info(&self) -> BTreeMap<u32, (u16, u16)> {
        self.keys
            .values()
            .map(|k| {
                let bits = u16::try_from(k.bits()).unwrap_or(u16::MAX);
                (k.id, (k.kind.code(), bits))
            })
            .collect()
    }

    /// What chrony logs when a source is given key `id`: nothing, or that
    /// the key is missing or too short (under 80 bits).
    pub fn source_key_warning(&self, id: u32) -> Option<String> {
        match self.get(id) {
            None => Some(format!("Key {id} is missing")),
            Some(k) if k.bits() < 8 * MIN_SECURE_KEY_LEN => Some(format!("Key {id} is too short")),
            Some(_) => None,
        }
    }

    /// Prepares a source's options as chrony does when it creates the
    /// source: without a configured `version`, `xleave` or extension
    /// fields, a key whose MAC would be truncated in NTPv4 (a digest over
    /// 160 bits) makes it send NTPv3. Returns the warning to log about the
    /// key, if any.
    pub fn prepare_source(&self, o: &mut SourceOptions) -> Option<String> {
        let id = o.key.filter(|_| !o.nts)?;
        let plain_v4 = o.version.is_none()
            && !o.xleave
            && !o.extfields.net_correction
            && !o.extfields.exp_mono_root;
        if plain_v4
            && self
                .get(id)
                .is_some_and(|k| 4 + k.kind.digest_len() > MAX_V4_MAC_LEN)
        {
            o.version = Some(3);
        }
        self.source_key_warning(id)
    }

    /// `packet` with a MAC of key `key_id` appended, truncated as its
    /// version requires; `None` if the key is unknown or the packet too
    /// long or too short (the packet is then not sent, as with chrony).
    pub fn sign(&self, packet: &[u8], key_id: u32) -> Option<Vec<u8>> {
        let first = *packet.first()?;
        if packet.len() < HEADER_LEN || packet.len() + MIN_MAC_LEN > MAX_PACKET_LEN {
            return None;
        }
        let version = (first >> 3) & 0x7;
        let limit = if version == 4 {
            MAX_V4_MAC_LEN
        } else {
            MAX_MAC_LEN
        };
        let max_len = (limit - 4).min(MAX_PACKET_LEN - packet.len() - 4);
        let digest = self.get(key_id)?.mac(packet, max_len)?;
        if digest.len() < MIN_MAC_LEN - 4 {
            return None;
        }
        let mut out = Vec::with_capacity(packet.len() + 4 + digest.len());
        out.extend_from_slice(packet);
        out.extend_from_slice(&key_id.to_be_bytes());
        out.extend_from_slice(&digest);
        Some(out)
    }

    /// Whether `packet` (parsed as `repr`) carries a MAC that verifies with
    /// the key it names. The digest, truncated as the sender had to (160
    /// bits when an NTPv4 MAC is that short, else 512), must match in
    /// length and bytes.
    pub fn verify(&self, packet: &[u8], repr: &NtpRepr) -> bool {
        let Some(mac) = &repr.mac else {
            return false;
        };
        let mac_len = mac.wire_len();
        if mac_len < MIN_MAC_LEN {
            return false;
        }
        let trunc = if repr.version == 4 && mac_len <= MAX_V4_MAC_LEN {
            MAX_V4_MAC_LEN
        } else {
            MAX_MAC_LEN
        };
        let Some(data) = packet
            .len()
            .checked_sub(mac_len)
            .and_then(|n| packet.get(..n))
        else {
            return false;
        };
        self.get(mac.key_id)
            .and_then(|k| k.mac(data, trunc - 4))
            .is_some_and(|d| constant_time_eq(&d, &mac.digest))
    }
}

impl SymmetricKeys for KeyStore {
    fn digest(&self, key_id: u32, data: &[u8], max_len: usize) -> Option<Vec<u8>> {
        self.get(key_id)?.mac(data, max_len)
    }
}

/// chrony's warning for a keyfile others may read or write.
fn permissions_warning(path: &Path) -> Option<KeyMessage> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let extra = meta.permissions().mode() & 0o777 & !KEYFILE_PERMISSIONS;
    let what = match extra {
        0 => return None,
        e if e & 0o004 != 0 => "World-readable",
        e if e & 0o002 != 0 => "World-writable",
        _ => "Wrong",
    };
    Some(KeyMessage::warn(format!(
        "{what} permissions on {}",
        path.display()
    )))
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a forged digest was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
