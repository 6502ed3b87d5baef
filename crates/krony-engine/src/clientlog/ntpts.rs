//! The server's store of RX/TX timestamps for clients using the NTP
//! interleaved mode (chrony's "NTP timestamps held" in serverstats).
//!
//! A client in interleaved mode sends back our previous receive timestamp as
//! its origin timestamp; we answer with the transmit timestamp of the
//! response we sent for that receive timestamp (which is only known
//! accurately after sending). Entries are kept in one ring ordered by RX
//! timestamp, shared by all clients; when full, the oldest is dropped.

use std::collections::VecDeque;

use super::{ClientLog, TimestampSource};
use crate::UnixTime;

/// How far a timestamp may lie ahead of a new one before it is taken for a
/// leftover from before a backward step and dropped: one second in NTP
/// 32.32 units.
const FUTURE_LIMIT: u64 = 1 << 32;

/// A new timestamp older than the newest ones is inserted in order only if
/// at most this many entries must move; otherwise it replaces its older
/// neighbour.
const INSERT_LIMIT: usize = 64;

/// Seconds from the NTP era 0 epoch (1900) to the Unix epoch (RFC 5905
/// section 6 / RFC 868).
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

/// The TX timestamp kept for an RX timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTx {
    /// When the response was sent; `None` if not known (yet) or too far
    /// from the RX timestamp to be trusted.
    pub tx: Option<UnixTime>,
    /// How that time was captured.
    pub source: TimestampSource,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Our receive timestamp as sent to the client (NTP 32.32).
    rx: u64,
    /// Already used for an interleaved response, or seen twice.
    disabled: bool,
    tx: StoredTx,
    /// Clock-correction epoch in which `rx` was taken.
    slew_epoch: u16,
}

/// The timestamp ring.
#[derive(Debug, Clone)]
pub(super) struct NtpTimestampMap {
    entries: VecDeque<Entry>,
    max_size: usize,
    slew_epoch: u16,
    slew_offset: f64,
}

/// Converts an NTP timestamp to Unix time, taking the era nearest `pivot`.
fn ntp_to_unix(ntp: u64, pivot: UnixTime) -> UnixTime {
    let era_len = 1i64 << 32;
    let ntp_secs = (ntp >> 32) as i64;
    let pivot_ntp = pivot.secs().saturating_add(NTP_UNIX_OFFSET);
    let era = (pivot_ntp - ntp_secs + era_len / 2).div_euclid(era_len);
    let secs = ntp_secs + era * era_len - NTP_UNIX_OFFSET;
    // OK: the fraction times 1e9 fits in u64 and the result is below 1e9.
    let nanos = ((ntp & 0xffff_ffff) * 1_000_000_000) >> 32;
    UnixTime::from_secs_nanos(secs, nanos as i64)
}

impl NtpTimestampMap {
    pub fn new(max_size: usize) -> Self {
        NtpTimestampMap {
            entries: VecDeque::new(),
            max_size: max_size.max(1),
            slew_epoch: 0,
            slew_offset: 0.0,
        }
    }

    /// Capacity of the ring (the same as the most client records).
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Number of timestamps held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whole seconds between the oldest and newest RX timestamp.
    pub fn span_secs(&self) -> u64 {
        match (self.entries.front(), self.entries.back()) {
            (Some(a), Some(b)) if self.entries.len() > 1 => b.rx.wrapping_sub(a.rx) >> 32,
            _ => 0,
        }
    }

    /// Position of `rx`: `Ok(i)` if held, else `Err(i)` with the index of
    /// the first newer entry. Entries compare by wrapping difference so that
    /// an NTP era boundary inside the ring is harmless.
    fn find(&self, rx: u64) -> Result<usize, usize> {
        let key = |e: &Entry| e.rx.wrapping_sub(rx) as i64;
        let i = self.entries.partition_point(|e| key(e) < 0);
        match self.entries.get(i) {
            Some(e) if e.rx == rx => Ok(i),
            _ => Err(i),
        }
    }

    /// Makes room at the end: drops the oldest entry when full, returning
    /// the index adjusted for the removal.
    fn make_room(&mut self, index: usize) -> usize {
        if self.entries.len() < self.max_size {
            return index;
        }
        self.entries.pop_front();
        index.saturating_sub(1)
    }

    /// Saves the RX timestamp of a response (and its TX time if known).
    ///
    /// An RX timestamp that is already held is disabled instead, so that a
    /// duplicate can never produce a wrong TX timestamp. A zero RX
    /// timestamp is ignored.
    pub fn save(&mut self, rx: u64, tx: Option<UnixTime>, source: TimestampSource) {
        if rx == 0 {
            return;
        }
        let entry = Entry {
            rx,
            disabled: false,
            tx: checked_tx(rx, tx, source),
            slew_epoch: self.slew_epoch,
        };
        let index = match self.find(rx) {
            Ok(i) => {
                self.entries[i].disabled = true;
                return;
            }
            Err(i) => i,
        };
        if index == self.entries.len() {
            self.make_room(index);
            self.entries.push_back(entry);
            return;
        }
        // After a backward step, entries far in the future are leftovers.
        while self.entries.len() > index
            && self
                .entries
                .back()
                .is_some_and(|e| e.rx.wrapping_sub(rx) > FUTURE_LIMIT)
        {
            self.entries.pop_back();
        }
        if index + INSERT_LIMIT >= self.entries.len() {
            let index = self.make_room(index);
            self.entries.insert(index, entry);
        } else {
            // Too old to insert cheaply: replace the closest older entry
            // (or the oldest), which keeps the order.
            let index = index.saturating_sub(1);
            self.entries[index] = entry;
        }
    }

    /// The TX timestamp for `rx`, if held and not disabled.
    pub fn get(&self, rx: u64) -> Option<StoredTx> {
        let i = self.find(rx).ok()?;
        let e = &self.entries[i];
        (!e.disabled).then_some(e.tx)
    }

    /// Replaces the TX timestamp of `rx` (e.g. with a later kernel or
    /// hardware timestamp of the same response).
    pub fn update_tx(&mut self, rx: u64, tx: Option<UnixTime>, source: TimestampSource) {
        if let Ok(i) = self.find(rx) {
            let old = self.entries[i].tx;
            self.entries[i].tx = match checked_tx(rx, tx, source) {
                valid @ StoredTx { tx: Some(_), .. } => valid,
                // Keep the old source when the new time is unusable.
                StoredTx { tx: None, .. } => StoredTx { tx: None, ..old },
            };
        }
    }

    /// Disables `rx` after an interleaved response used it; returns whether
    /// it was held.
    pub fn disable(&mut self, rx: u64) -> bool {
        match self.find(rx) {
            Ok(i) => {
                self.entries[i].disabled = true;
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the clock correction made since `rx` was taken from a TX
    /// time measured after it, so the client sees a consistent delay.
    pub fn undo_tx_slew(&self, rx: u64, tx: UnixTime) -> UnixTime {
        match self.find(rx) {
            Ok(i) if self.entries[i].slew_epoch.wrapping_add(1) == self.slew_epoch => {
                tx.add_secs(self.slew_offset)
            }
            _ => tx,
        }
    }

    /// Notes a clock correction of `offset` seconds; an unknown step makes
    /// every held timestamp useless.
    pub fn clock_changed(&mut self, offset: f64, unknown_step: bool) {
        if unknown_step {
            self.entries.clear();
        }
        self.slew_epoch = self.slew_epoch.wrapping_add(1);
        self.slew_offset = offset;
    }
}

/// The interleaved-mode store as seen by the NTP responder. With
/// `noclientlog` nothing is stored and nothing is found.
impl ClientLog {
    /// Saves our RX timestamp of a response (as sent in it, NTP 32.32) and,
    /// if known, the response's TX time, for a later interleaved response.
    pub fn save_ntp_timestamps(&mut self, rx: u64, tx: Option<UnixTime>, source: TimestampSource) {
        if let Some(m) = &mut self.timestamps {
            m.save(rx, tx, source);
        }
    }

    /// The TX timestamp kept for `rx` (the origin timestamp of an
    /// interleaved request), unless unknown or already used.
    pub fn ntp_tx_timestamp(&self, rx: u64) -> Option<StoredTx> {
        self.timestamps.as_ref()?.get(rx)
    }

    /// Replaces the TX time kept for `rx` with a better one (e.g. a kernel
    /// timestamp that arrived after the response was sent).
    pub fn update_ntp_tx_timestamp(
        &mut self,
        rx: u64,
        tx: Option<UnixTime>,
        source: TimestampSource,
    ) {
        if let Some(m) = &mut self.timestamps {
            m.update_tx(rx, tx, source);
        }
    }

    /// Marks `rx` as used by an interleaved response so it cannot serve
    /// another one, and counts the response ("Interleaved NTP packets").
    pub fn disable_ntp_timestamps(&mut self, rx: u64) {
        if let Some(m) = &mut self.timestamps {
            m.disable(rx);
            self.stats.ntp_interleaved_hits += 1;
        }
    }

    /// Removes from `tx` the clock correction made between the capture of
    /// `rx` and `tx`, if exactly one correction happened in between.
    pub fn undo_ntp_tx_slew(&self, rx: u64, tx: UnixTime) -> UnixTime {
        self.timestamps
            .as_ref()
            .map_or(tx, |m| m.undo_tx_slew(rx, tx))
    }

    /// Tells the store that the clock was corrected by `offset` seconds; an
    /// unknown step discards every timestamp.
    pub fn clock_changed(&mut self, offset: f64, unknown_step: bool) {
        if let Some(m) = &mut self.timestamps {
            m.clock_changed(offset, unknown_step);
        }
    }
}

/// The TX time if it lies within [-2 s, +2 s) of the RX timestamp, as chrony
/// requires to store it.
fn checked_tx(rx: u64, tx: Option<UnixTime>, source: TimestampSource) -> StoredTx {
    let tx = tx.filter(|&t| {
        let diff = t.as_nanos() - ntp_to_unix(rx, t).as_nanos();
        (-2_000_000_000..2_000_000_000).contains(&diff)
    });
    StoredTx { tx, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: TimestampSource = TimestampSource::Daemon;

    /// NTP timestamp of Unix second `s` plus `frac`/2^32.
    fn ntp(s: i64, frac: u32) -> u64 {
        (((s + NTP_UNIX_OFFSET) as u64 & 0xffff_ffff) << 32) | u64::from(frac)
    }

    fn unix(s: i64, ns: i64) -> UnixTime {
        UnixTime::from_secs_nanos(s, ns)
    }

    #[test]
    fn era_conversion() {
        let t = unix(1_700_000_000, 500_000_000);
        assert_eq!(ntp_to_unix(ntp(1_700_000_000, 1 << 31), t), t);
        // After the 2036 era rollover.
        let t = unix(2_100_000_000, 0);
        assert_eq!(ntp_to_unix(ntp(2_100_000_000, 0), t), t);
    }

    #[test]
    fn save_get_disable() {
        let mut m = NtpTimestampMap::new(8);
        let rx = ntp(1000, 0);
        m.save(rx, Some(unix(1000, 20_000)), D);
        assert_eq!(m.get(rx).and_then(|s| s.tx), Some(unix(1000, 20_000)));
        assert!(m.get(ntp(1000, 1)).is_none());
        assert!(m.disable(rx));
        assert!(m.get(rx).is_none());
        // A second save of a held RX timestamp disables it.
        let rx2 = ntp(1001, 0);
        m.save(rx2, None, D);
        assert_eq!(
            m.get(rx2),
            Some(StoredTx {
                tx: None,
                source: D
            })
        );
        m.save(rx2, Some(unix(1001, 5)), D);
        assert!(m.get(rx2).is_none());
        // TX times more than 2 s away are not kept.
        let rx3 = ntp(1002, 0);
        m.save(rx3, Some(unix(1004, 0)), D);
        assert_eq!(m.get(rx3).and_then(|s| s.tx), None);
        m.update_tx(rx3, Some(unix(1003, 999_999_999)), TimestampSource::Kernel);
        let s = m.get(rx3).expect("held");
        assert_eq!(
            (s.tx, s.source),
            (Some(unix(1003, 999_999_999)), TimestampSource::Kernel)
        );
    }

    #[test]
    fn ring_drops_oldest_and_keeps_order() {
        let mut m = NtpTimestampMap::new(4);
        for s in [10, 12, 14, 16, 18] {
            m.save(ntp(s, 0), None, D);
        }
        assert_eq!(m.len(), 4);
        assert!(m.get(ntp(10, 0)).is_none());
        assert_eq!(m.span_secs(), 6);
        // Slightly out of order: inserted before 18, dropping the oldest.
        m.save(ntp(17, 3 << 30), None, D);
        let rxs: Vec<u64> = m.entries.iter().map(|e| e.rx).collect();
        assert_eq!(rxs, [ntp(14, 0), ntp(16, 0), ntp(17, 3 << 30), ntp(18, 0)]);
        // More than 1 s back: newer entries beyond 1 s are dropped.
        m.save(ntp(15, 0), None, D);
        let rxs: Vec<u64> = m.entries.iter().map(|e| e.rx).collect();
        assert_eq!(rxs, [ntp(14, 0), ntp(15, 0), ntp(16, 0)]);
    }

    #[test]
    fn far_back_timestamp_replaces_older_neighbour() {
        let mut m = NtpTimestampMap::new(256);
        // 100 entries 1/128 s apart, all within one second of the newest.
        for i in 0..100u32 {
            m.save(ntp(1000, i << 25), None, D);
        }
        // Would need 90 moves: replaces entry 9 (the closest older).
        m.save(ntp(1000, (10 << 25) - 1), None, D);
        assert_eq!(m.len(), 100);
        assert!(m.get(ntp(1000, 9 << 25)).is_none());
        assert!(m.get(ntp(1000, (10 << 25) - 1)).is_some());
        // Within 64 of the end: inserted.
        m.save(ntp(1000, (90 << 25) + 1), None, D);
        assert_eq!(m.len(), 101);
    }

    #[test]
    fn backward_step_trims_future_entries() {
        let mut m = NtpTimestampMap::new(16);
        for s in [100, 101, 102, 103] {
            m.save(ntp(s, 0), None, D);
        }
        m.save(ntp(50, 0), None, D);
        assert_eq!(m.len(), 1);
        assert!(m.get(ntp(50, 0)).is_some());
    }

    #[test]
    fn slew_undo_and_unknown_step() {
        let mut m = NtpTimestampMap::new(16);
        let rx = ntp(500, 0);
        m.save(rx, None, D);
        m.clock_changed(0.25, false);
        assert_eq!(m.undo_tx_slew(rx, unix(500, 0)), unix(500, 250_000_000));
        m.clock_changed(0.5, false);
        assert_eq!(m.undo_tx_slew(rx, unix(500, 0)), unix(500, 0));
        m.clock_changed(0.0, true);
        assert_eq!(m.len(), 0);
    }
}
