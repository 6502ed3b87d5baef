//! The bounded hash table of client records.
//!
//! Like chrony's, the table is an array of slots of [`SLOT_SIZE`] records;
//! an address lives in the slot chosen by a seeded hash. When its slot is
//! full the table doubles (while the memory limit allows), otherwise the
//! least recently seen record of that slot is replaced. Records are never
//! removed otherwise, so the filled records of a slot are contiguous and the
//! record indices seen by the `clients` report are stable between growths.

use std::net::IpAddr;

/// The services that share a record (the order is chrony's).
pub(super) const SERVICES: usize = 3;

/// Log2 of the records per slot.
const SLOT_BITS: u32 = 3;
/// Records per slot.
pub(super) const SLOT_SIZE: usize = 1 << SLOT_BITS;
/// Hard limit on slots: 2^24 records in all (chrony.conf(5) clientloglimit:
/// "16777216 addresses").
const MAX_SLOTS: u64 = 1 << (24 - SLOT_BITS);

/// Bytes accounted per client record (chrony's C record: address 20 B,
/// 3 × (last hit 4 + hits 4 + drops 2 + tokens 2 + rate 1) + 2 B, aligned).
pub(super) const RECORD_BYTES: u64 = 64;
/// Bytes accounted per interleaved-mode timestamp entry (RX 8 B, flags,
/// source, slew epoch, TX offset 4 B).
pub(super) const TIMESTAMP_BYTES: u64 = 16;

/// A last-hit time that was never set.
pub(super) const INVALID_TS: u32 = 0;
/// A rate that was never measured.
pub(super) const INVALID_RATE: i8 = -128;

/// Per-client state: counters, rate estimates and token buckets.
#[derive(Debug, Clone)]
pub(super) struct Record {
    /// The client; `None` marks an empty record.
    pub ip: Option<IpAddr>,
    /// Time of the last request per service (fixed point, see `fixed_ts`).
    pub last_hit: [u32; SERVICES],
    pub hits: [u32; SERVICES],
    /// Dropped responses; 16 bits and wrapping, as in chrony.
    pub drops: [u16; SERVICES],
    pub tokens: [u16; SERVICES],
    /// Request rate per service as a scaled log2 (see `rate`).
    pub rate: [i8; SERVICES],
    /// NTP request rate measured after requests that got no response.
    pub ntp_timeout_rate: i8,
    /// Bit per service: the last request was dropped.
    pub drop_flags: u8,
}

impl Record {
    const EMPTY: Record = Record {
        ip: None,
        last_hit: [INVALID_TS; SERVICES],
        hits: [0; SERVICES],
        drops: [0; SERVICES],
        tokens: [0; SERVICES],
        rate: [INVALID_RATE; SERVICES],
        ntp_timeout_rate: INVALID_RATE,
        drop_flags: 0,
    };

    /// A fresh record for `ip` with full token buckets.
    pub fn new(ip: IpAddr, full_tokens: [u16; SERVICES]) -> Self {
        Record {
            ip: Some(ip),
            tokens: full_tokens,
            ..Record::EMPTY
        }
    }

    /// The latest of the per-service last hits.
    fn last_hit_any(&self) -> u32 {
        let mut latest = self.last_hit[0];
        for &t in &self.last_hit[1..] {
            if compare_ts(latest, t) == std::cmp::Ordering::Less {
                latest = t;
            }
        }
        latest
    }

    fn total_hits(&self) -> u32 {
        self.hits.iter().fold(0u32, |a, &h| a.wrapping_add(h))
    }
}

/// Orders two fixed-point times that may wrap around 2^32; an unset time is
/// older than any set one when it is the second argument (chrony's quirk,
/// kept so that eviction picks the same record).
pub(super) fn compare_ts(x: u32, y: u32) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if x == y {
        Ordering::Equal
    } else if y == INVALID_TS || (x.wrapping_sub(y) as i32) > 0 {
        Ordering::Greater
    } else {
        Ordering::Less
    }
}

/// Slots that fit in `limit_bytes`, counting the timestamp map and the two
/// copies that exist while the table doubles (chrony's formula).
pub(super) fn max_slots_for(limit_bytes: u64) -> u64 {
    let per_slot = (RECORD_BYTES + TIMESTAMP_BYTES) * SLOT_SIZE as u64 * 3 / 2;
    (limit_bytes / per_slot).clamp(1, MAX_SLOTS)
}

/// The largest number of records the table can reach: slots only double, so
/// this is a power of two.
pub(super) fn max_records_for(limit_bytes: u64) -> u64 {
    let max_slots = max_slots_for(limit_bytes);
    // OK: max_slots >= 1, so ilog2 is defined.
    (1u64 << max_slots.ilog2()) * SLOT_SIZE as u64
}

/// Where a lookup found or put a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placed {
    pub index: usize,
    /// An older client's record was replaced to make room.
    pub evicted: bool,
}

/// The hash table.
#[derive(Debug, Clone)]
pub(super) struct RecordTable {
    records: Vec<Record>,
    slots: usize,
    max_slots: usize,
    seed: u32,
}

impl RecordTable {
    /// A table of one slot that may grow to `max_slots` (a non-zero seed
    /// randomises which addresses collide).
    pub fn new(max_slots: usize, seed: u32) -> Self {
        RecordTable {
            records: vec![Record::EMPTY; SLOT_SIZE],
            slots: 1,
            max_slots: max_slots.max(1),
            seed,
        }
    }

    /// Number of record indices (filled or not).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Record> {
        self.records.get_mut(index).filter(|r| r.ip.is_some())
    }

    /// 32-bit FNV-1a over the address bytes, starting from the seed.
    fn hash(&self, ip: IpAddr) -> u32 {
        let mut h = self.seed;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
            }
        };
        match ip {
            IpAddr::V4(a) => feed(&a.octets()),
            IpAddr::V6(a) => feed(&a.octets()),
        }
        h
    }

    fn first_of_slot(&self, ip: IpAddr) -> usize {
        // OK: u32 -> usize is lossless on the platforms krony supports.
        (self.hash(ip) as usize % self.slots) * SLOT_SIZE
    }

    /// Finds the record of `ip`, or makes one (growing the table or
    /// replacing the least recently seen record of the slot).
    pub fn find_or_insert(&mut self, ip: IpAddr, full_tokens: [u16; SERVICES]) -> Placed {
        loop {
            let first = self.first_of_slot(ip);
            let slot = &self.records[first..first + SLOT_SIZE];
            if let Some(i) = slot.iter().position(|r| r.ip == Some(ip)) {
                return Placed {
                    index: first + i,
                    evicted: false,
                };
            }
            if let Some(i) = slot.iter().position(|r| r.ip.is_none()) {
                self.records[first + i] = Record::new(ip, full_tokens);
                return Placed {
                    index: first + i,
                    evicted: false,
                };
            }
            if self.grow() {
                continue;
            }
            let index = first + oldest_in_slot(&self.records[first..first + SLOT_SIZE]);
            self.records[index] = Record::new(ip, full_tokens);
            return Placed {
                index,
                evicted: true,
            };
        }
    }

    /// Doubles the number of slots if the limit allows, re-placing every
    /// record in its old index order.
    fn grow(&mut self) -> bool {
        if 2 * self.slots > self.max_slots {
            return false;
        }
        self.slots *= 2;
        let old = std::mem::replace(
            &mut self.records,
            vec![Record::EMPTY; self.slots * SLOT_SIZE],
        );
        for record in old {
            let Some(ip) = record.ip else { continue };
            let first = self.first_of_slot(ip);
            // Records of one old slot spread over two new slots, so a free
            // place always exists; the check only guards the invariant.
            if let Some(i) = self.records[first..first + SLOT_SIZE]
                .iter()
                .position(|r| r.ip.is_none())
            {
                self.records[first + i] = record;
            }
        }
        true
    }
}

/// The record of a full slot to replace: the least recently seen, and among
/// equally old ones the one with fewer hits.
fn oldest_in_slot(slot: &[Record]) -> usize {
    use std::cmp::Ordering;
    let mut best = 0;
    let mut best_hit = slot[0].last_hit_any();
    for (i, r) in slot.iter().enumerate().skip(1) {
        let hit = r.last_hit_any();
        let older = compare_ts(best_hit, hit) == Ordering::Greater;
        let fewer = best_hit == hit && slot[best].total_hits() > r.total_hits();
        if older || fewer {
            best = i;
            best_hit = hit;
        }
    }
    best
}
