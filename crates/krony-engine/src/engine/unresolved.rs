//! Sources registered before their name resolved (chronyd's `ID#`
//! sources): they keep their place in the reports, in the order of the
//! configuration, and do not poll until the driver gives them an address.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use krony_config::{SourceKind as ConfigKind, SourceOptions};

use super::{Engine, EngineError};
use crate::UnixTime;
use crate::select::SourceId;

/// The placeholder address of unresolved source `id`: in the discard-only
/// prefix 100::/64 (RFC 6666), which no packet comes from.
pub fn placeholder_addr(id: SourceId) -> SocketAddr {
    let ip = Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, (id.0 >> 16) as u16, id.0 as u16);
    SocketAddr::new(IpAddr::V6(ip), 0)
}

impl Engine {
    /// Registers a source whose name is not resolved yet, with an id from
    /// [`reserve_source_id`](Self::reserve_source_id); it stays silent until
    /// [`resolve_source`](Self::resolve_source).
    ///
    /// # Errors
    /// [`EngineError::SourceExists`] if the id is taken.
    pub fn add_unresolved_source(
        &mut self,
        id: SourceId,
        now: UnixTime,
        kind: ConfigKind,
        options: &SourceOptions,
        name: &str,
    ) -> Result<SourceId, EngineError> {
        let addr = placeholder_addr(id);
        self.insert_source(id, now, addr, kind, options, name, true)
    }

    /// Whether source `id` is still waiting for its address.
    pub fn is_unresolved(&self, id: SourceId) -> bool {
        self.sources.get(&id).is_some_and(|s| s.unresolved)
    }

    /// Gives an unresolved source its address; it starts polling.
    ///
    /// # Errors
    /// [`EngineError::UnknownSource`], or [`EngineError::SourceExists`] if
    /// another source has the address.
    pub fn resolve_source(
        &mut self,
        now: UnixTime,
        id: SourceId,
        addr: SocketAddr,
    ) -> Result<(), EngineError> {
        if self.source_by_addr(addr).is_some_and(|other| other != id) {
            return Err(EngineError::SourceExists(addr));
        }
        let cooked = self.cook(now);
        let slot = self
            .sources
            .get_mut(&id)
            .ok_or(EngineError::UnknownSource)?;
        slot.source.change_address(cooked, addr);
        slot.unresolved = false;
        slot.source.start(cooked);
        self.drain_source(now, id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;

    #[test]
    fn an_unresolved_source_waits_then_polls_at_its_address() {
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = Engine::new(EngineConfig::default(), now, 1).expect("engine");
        let id = e.reserve_source_id();
        let literal: SocketAddr = "192.0.2.2:123".parse().expect("addr");
        e.add_source(
            now,
            literal,
            ConfigKind::Server,
            &SourceOptions::default(),
            "192.0.2.2",
        )
        .expect("added");
        e.add_unresolved_source(
            id,
            now,
            ConfigKind::Server,
            &SourceOptions::default(),
            "a.example",
        )
        .expect("added");
        assert!(e.is_unresolved(id));
        // Listed first (configuration order), counted as unresolved.
        assert_eq!(e.source_ids()[0], id);
        let a = e.activity();
        assert_eq!((a.online, a.unresolved), (1, 1));
        assert_eq!(e.source(id).map(|s| s.poll_timeout()), Some(None));
        let addr: SocketAddr = "192.0.2.1:123".parse().expect("addr");
        e.resolve_source(now, id, addr).expect("resolved");
        assert!(!e.is_unresolved(id));
        assert_eq!(e.source(id).map(|s| s.remote()), Some(addr));
        assert!(e.source(id).and_then(|s| s.poll_timeout()).is_some());
        assert_eq!(e.activity().online, 2);
        assert!(e.resolve_source(now, id, literal).is_err());
    }
}
