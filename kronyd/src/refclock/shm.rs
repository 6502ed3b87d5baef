//! ntpd's SHM refclock segment (`struct shmTime`, key 0x4e545030 + unit):
//! a GPS daemon writes the reference ("clock") time and the system
//! ("receive") time of a sample and sets `valid`; we read it once per
//! driver poll and clear `valid`.
//!
//! Layout on 64-bit Linux (96 bytes): mode i32 @0, count i32 @4,
//! clockTimeStampSec i64 @8, clockTimeStampUSec i32 @16,
//! receiveTimeStampSec i64 @24, receiveTimeStampUSec i32 @32, leap i32 @36,
//! precision i32 @40, nsamples i32 @44, valid i32 @48,
//! clockTimeStampNSec u32 @52, receiveTimeStampNSec u32 @56, 8 spare ints.

/// The key of unit 0 ("NTP0").
pub const SHM_KEY: i32 = 0x4e54_5030;

/// Offset of `count`.
pub const COUNT_OFFSET: usize = 4;

/// Offset of `valid`.
pub const VALID_OFFSET: usize = 48;

/// The fields of a segment that matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmTime {
    /// 0: use when valid; 1: also require an unchanged count.
    pub mode: i32,
    /// Incremented by the writer around updates (mode 1).
    pub count: i32,
    /// Reference time (seconds, nanoseconds).
    pub clock: (i64, i64),
    /// System time of the sample (seconds, nanoseconds).
    pub receive: (i64, i64),
    /// Leap status (0 normal, 1 insert, 2 delete, 3 unsynchronised).
    pub leap: i32,
    /// Whether the writer marked the sample valid.
    pub valid: bool,
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut x = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        x.copy_from_slice(s);
    }
    i32::from_ne_bytes(x)
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        x.copy_from_slice(s);
    }
    i64::from_ne_bytes(x)
}

impl ShmTime {
    /// Decodes a copy of the segment. The nanosecond fields are used only
    /// when they agree with the microsecond ones (older writers leave them
    /// zero), as chronyd does.
    pub fn parse(b: &[u8]) -> Self {
        let clock_us = i64::from(i32_at(b, 16));
        let recv_us = i64::from(i32_at(b, 32));
        let clock_ns = i64::from(i32_at(b, 52) as u32);
        let recv_ns = i64::from(i32_at(b, 56) as u32);
        let use_ns = clock_ns / 1000 == clock_us && recv_ns / 1000 == recv_us;
        let (c, r) = if use_ns {
            (clock_ns, recv_ns)
        } else {
            (clock_us * 1000, recv_us * 1000)
        };
        ShmTime {
            mode: i32_at(b, 0),
            count: i32_at(b, COUNT_OFFSET),
            clock: (i64_at(b, 8), c),
            receive: (i64_at(b, 24), r),
            leap: i32_at(b, 36),
            valid: i32_at(b, VALID_OFFSET) != 0,
        }
    }

    /// Whether the copy can be used: mode 0 or 1, valid, and in mode 1
    /// the count unchanged since (`count_after`).
    pub fn usable(&self, count_after: i32) -> bool {
        matches!(self.mode, 0 | 1) && self.valid && !(self.mode == 1 && self.count != count_after)
    }
}

/// Nanoseconds since the epoch of (seconds, nanoseconds), normalised.
pub fn nanos(t: (i64, i64)) -> i64 {
    t.0.saturating_mul(1_000_000_000).saturating_add(t.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(mode: i32, count: i32, valid: i32, ns: bool) -> [u8; 96] {
        let mut b = [0u8; 96];
        b[0..4].copy_from_slice(&mode.to_ne_bytes());
        b[4..8].copy_from_slice(&count.to_ne_bytes());
        b[8..16].copy_from_slice(&1_700_000_001i64.to_ne_bytes());
        b[16..20].copy_from_slice(&5i32.to_ne_bytes());
        b[24..32].copy_from_slice(&1_700_000_000i64.to_ne_bytes());
        b[32..36].copy_from_slice(&999_999i32.to_ne_bytes());
        b[36..40].copy_from_slice(&2i32.to_ne_bytes());
        b[48..52].copy_from_slice(&valid.to_ne_bytes());
        if ns {
            b[52..56].copy_from_slice(&5_123u32.to_ne_bytes());
            b[56..60].copy_from_slice(&999_999_456u32.to_ne_bytes());
        }
        b
    }

    #[test]
    fn decodes_and_checks() {
        let t = ShmTime::parse(&segment(1, 7, 1, true));
        assert_eq!(t.clock, (1_700_000_001, 5_123));
        assert_eq!(t.receive, (1_700_000_000, 999_999_456));
        assert_eq!(t.leap, 2);
        assert!(t.usable(7));
        assert!(!t.usable(8));
        let t = ShmTime::parse(&segment(0, 7, 1, false));
        assert_eq!(t.clock, (1_700_000_001, 5_000));
        assert!(t.usable(9));
        assert!(!ShmTime::parse(&segment(0, 0, 0, false)).usable(0));
        assert!(!ShmTime::parse(&segment(2, 0, 1, false)).usable(0));
        assert_eq!(nanos((1, 5)), 1_000_000_005);
    }
}
