//! The daemon's part of NTS: keeping the NTS clients in step with the
//! engine's sources, the NTS-KE sockets in the poll set, their timers, and
//! saving cookies and server keys at exit.

use krony_engine::clock::Clock;

use super::event_loop::Daemon;
use crate::nts::NtsRef;
use crate::sys::clock::monotonic_now;
use crate::sys::poll::PollSet;

/// Seconds since the Unix epoch of a daemon clock reading.
fn real_secs(t: krony_engine::UnixTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

impl Daemon {
    /// New NTS sources get a client; readiness goes to the engine; NTS-KE
    /// starts where cookies are missing.
    pub(super) fn sync_nts(&mut self) {
        let Some(nts) = self.net.nts.as_mut() else {
            return;
        };
        let real = real_secs(self.clock.now());
        let sources = &self.sources;
        nts.sync(&mut self.engine, monotonic_now(), real, &|id| {
            sources.spec_of(id)
        });
    }

    /// The NTS clients' `authdata` figures, for the command server to
    /// answer with (taken when a request comes, not every loop round).
    pub(super) fn nts_auth_reports(
        &self,
    ) -> std::collections::BTreeMap<krony_engine::select::SourceId, crate::nts::client::AuthReport>
    {
        self.net
            .nts
            .as_ref()
            .map(|nts| nts.auth_reports(monotonic_now()))
            .unwrap_or_default()
    }

    /// Adds the NTS sockets to the poll set, handing each one's reference
    /// to `added` in the order added.
    pub(super) fn poll_nts(&self, set: &mut PollSet, mut added: impl FnMut(NtsRef)) {
        if let Some(nts) = &self.net.nts {
            for (r, fd, interest) in nts.sockets() {
                set.add(&fd, interest);
                added(r);
            }
        }
    }

    /// I/O on an NTS socket.
    pub(super) fn handle_nts(&mut self, r: NtsRef) {
        let now = self.clock.now();
        if let Some(nts) = self.net.nts.as_mut() {
            nts.handle(r, &mut self.engine, now, monotonic_now());
        }
        self.drain(now);
    }

    /// Nanoseconds until the next NTS deadline.
    pub(super) fn nts_timeout(&self) -> Option<u64> {
        let d = self.net.nts.as_ref()?.deadline()?;
        Some(super::net::timeout_ns(monotonic_now(), d))
    }

    /// Fires the NTS deadlines that are due.
    pub(super) fn fire_nts_timers(&mut self) {
        let mono = monotonic_now();
        let now = self.clock.now();
        if let Some(nts) = self.net.nts.as_mut() {
            if nts.deadline().is_some_and(|d| d <= mono) {
                nts.handle_timeouts(&mut self.engine, now, mono);
            }
        }
    }

    /// At exit: cookies to `ntsdumpdir`, server keys too.
    pub(super) fn save_nts(&mut self) {
        let real = real_secs(self.clock.now());
        if let Some(nts) = &self.net.nts {
            nts.save_all(monotonic_now(), real);
            if let Some(s) = &nts.server {
                s.save_keys(monotonic_now());
            }
        }
    }
}
