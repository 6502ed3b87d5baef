//! The daemon's part of symmetric-key authentication: the `keyfile` is
//! read at start and on `rekey`, and the keys handed to the engine's
//! server (requests with a MAC get a signed response), to the NTP sockets
//! (requests of sources with a `key` are signed, their responses checked)
//! and to `authdata`.

use krony_config::SourceSpec;
use krony_engine::Engine;

use super::event_loop::Daemon;
use super::net::Net;
use crate::cmdmon::CommandServer;
use crate::keys::KeyStore;
use crate::logging::log_event;

/// Reads the keyfile (`None`: no keys), logging chrony's messages.
pub(super) fn load_keys(file: Option<&str>) -> KeyStore {
    let (keys, messages) = KeyStore::load(file.map(std::path::Path::new));
    for m in messages {
        log_event(m.severity, m.text);
    }
    keys
}

/// The sources' options as chrony sets them up with their keys (NTPv3
/// for digests longer than NTPv4 allows), logging a missing or short key.
pub(super) fn prepare_sources(keys: &KeyStore, mut specs: Vec<SourceSpec>) -> Vec<SourceSpec> {
    for spec in &mut specs {
        prepare_source(keys, spec);
    }
    specs
}

/// As [`prepare_sources`] for one source (also one added by chronyc).
pub(super) fn prepare_source(keys: &KeyStore, spec: &mut SourceSpec) {
    if let Some(w) = keys.prepare_source(&mut spec.options) {
        log_event(crate::logging::Severity::Warn, w);
    }
}

/// Gives `keys` to everything that uses them.
pub(super) fn install_keys(
    keys: &KeyStore,
    engine: &mut Engine,
    net: &mut Net,
    cmdmon: Option<&mut CommandServer>,
) {
    engine.set_symmetric_keys(Some(Box::new(keys.clone())));
    if let Some(server) = cmdmon {
        server.set_key_info(keys.key_info());
    }
    net.set_keys(keys.clone());
}

impl Daemon {
    /// `rekey`: reads the keyfile again.
    pub(super) fn rekey(&mut self) {
        let (keys, messages) = self.net.keys().reload();
        for m in messages {
            log_event(m.severity, m.text);
        }
        install_keys(&keys, &mut self.engine, &mut self.net, self.cmdmon.as_mut());
    }
}
