//! Token buckets, request-rate estimates and the random leak, with chrony's
//! fixed-point arithmetic (the numbers decide which packets are answered, so
//! they follow chrony's integer steps exactly).

use rand::RngCore;

use super::RateLimitConfig;
use super::table::INVALID_RATE;
use crate::UnixTime;

/// Fractional bits of the fixed-point times kept in records (1/16 s).
pub(super) const TS_FRAC: i32 = 4;
/// Rates are log2 values scaled by this factor (quarter steps).
pub(super) const RATE_SCALE: i32 = 4;
/// The slowest rate kept: one request per 2^14 s.
const MIN_RATE: i32 = -14 * RATE_SCALE;

/// Shortest configurable limit interval (log2 s): 2^-19 s.
pub(super) const MIN_LIMIT_INTERVAL: i32 = -15 - TS_FRAC;
/// Longest configurable limit interval (log2 s): 4096 s.
const MAX_LIMIT_INTERVAL: i32 = 12;
const MIN_LIMIT_BURST: i32 = 1;
const MAX_LIMIT_BURST: i32 = 255;
const MIN_LEAK_RATE: i32 = 1;
const MAX_LEAK_RATE: i32 = 4;
const MIN_KOD_RATE: i32 = 0;
const MAX_KOD_RATE: i32 = 4;

const NANOS_PER_SEC: u32 = 1_000_000_000;

/// A time as chrony stores it in records: seconds (mod 2^28) in the high
/// bits and sixteenths of a second in the low four, shifted by a random
/// offset below 1/16 s so that bucket refills are not aligned to seconds.
pub(super) fn fixed_ts(now: UnixTime, offset_ns: u32) -> u32 {
    // Truncation to 32 bits is intended: the values are compared by
    // wrapping difference.
    let mut secs = now.secs() as u32;
    let mut nanos = now.subsec_nanos() + offset_ns;
    if nanos >= NANOS_PER_SEC {
        nanos -= NANOS_PER_SEC;
        secs = secs.wrapping_add(1);
    }
    // OK: nanos < 1e9, so the sixteenths are below 16.
    let frac = (u64::from(nanos) << TS_FRAC) / u64::from(NANOS_PER_SEC);
    (secs << TS_FRAC) | frac as u32
}

/// Rate limiting parameters of one service, derived from its directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bucket {
    /// Bucket capacity.
    pub max_tokens: u16,
    /// Tokens a response costs; 0 = rate limiting disabled.
    pub tokens_per_hit: u16,
    /// Right shift of time before it becomes tokens (negative: left shift,
    /// coarse limiting for intervals below 1/16 s).
    pub shift: i32,
    /// Log2 of the leak: one in 2^leak limited responses is sent anyway.
    pub leak: u32,
    /// Log2 of the KoD rate: one in 2^kod dropped responses becomes a KoD
    /// RATE; 0 = never.
    pub kod: u32,
    /// The limit interval (log2 s), also the minimum poll in responses.
    pub interval: i32,
}

impl Bucket {
    /// No rate limiting.
    pub const DISABLED: Bucket = Bucket {
        max_tokens: 0,
        tokens_per_hit: 0,
        shift: 0,
        leak: 0,
        kod: 0,
        interval: MIN_LIMIT_INTERVAL,
    };

    /// Parameters for a configured limit, clamped to chrony's ranges.
    ///
    /// The bucket holds `burst` responses; one response costs the tokens
    /// that accumulate in one limit interval. Both are scaled down so the
    /// capacity fits 16 bits.
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let interval = cfg.interval.clamp(MIN_LIMIT_INTERVAL, MAX_LIMIT_INTERVAL);
        let mut burst = cfg.burst.clamp(MIN_LIMIT_BURST, MAX_LIMIT_BURST);
        let shift;
        if interval >= -TS_FRAC {
            let mut s = 0;
            while s < interval + TS_FRAC && burst << (TS_FRAC + interval - s) >= 1 << 16 {
                s += 1;
            }
            shift = s;
        } else {
            // Finer than the timestamps: one token per 1/16 s tick, and the
            // bucket must hold at least the responses allowed in one tick.
            shift = interval + TS_FRAC;
            burst = burst.max(1 << -shift);
        }
        let per_hit = 1i32 << (TS_FRAC + interval - shift);
        // OK: the loop above (or the coarse branch, burst <= 2^15) keeps the
        // product below 2^16.
        let max_tokens = u16::try_from(per_hit * burst).unwrap_or(u16::MAX);
        Bucket {
            max_tokens,
            tokens_per_hit: u16::try_from(per_hit).unwrap_or(u16::MAX),
            shift,
            leak: cfg.leak.clamp(MIN_LEAK_RATE, MAX_LEAK_RATE).unsigned_abs(),
            kod: cfg.kod.clamp(MIN_KOD_RATE, MAX_KOD_RATE).unsigned_abs(),
            interval,
        }
    }

    pub fn enabled(&self) -> bool {
        self.tokens_per_hit != 0
    }

    /// The bucket level after `elapsed = now - prev` (a non-negative
    /// wrapping difference of fixed-point times).
    pub fn refill(&self, tokens: u16, now: u32, prev: u32) -> u16 {
        let elapsed = now.wrapping_sub(prev);
        let added: u64 = if self.shift >= 0 {
            u64::from((now >> self.shift).wrapping_sub(prev >> self.shift))
        } else if elapsed > u32::from(self.max_tokens) {
            u64::from(self.max_tokens)
        } else {
            u64::from(elapsed) << -self.shift
        };
        let level = (u64::from(tokens) + added).min(u64::from(self.max_tokens));
        // OK: bounded by max_tokens.
        level as u16
    }
}

/// The scaled log2 of an interval between requests given in 1/16 s,
/// rounded, between 2^-5 s (for 0) and 2^14 s.
pub(super) fn scaled_log2_interval(interval: u32) -> i32 {
    if interval == 0 {
        return -RATE_SCALE * (TS_FRAC + 1);
    }
    // Multiplying by 1.5 before truncating log2 rounds up from 4/3 of a
    // power of two; interval < 2^31, so this cannot overflow.
    let mut x = interval + (interval >> 1);
    let mut l = -RATE_SCALE * TS_FRAC;
    while l < -MIN_RATE && x > 1 {
        x >>= 1;
        l += RATE_SCALE;
    }
    l
}

/// Updates a rate estimate (scaled log2 requests per second) with a new
/// interval: a rate that rises is followed one quarter-step per request, a
/// rate that falls is followed at once by halving the difference (at most
/// 2.5 steps above the new value).
pub(super) fn update_rate(rate: &mut i8, interval_log2: i32) {
    let target = -interval_log2;
    let current = i32::from(*rate);
    let new = if *rate == INVALID_RATE {
        target
    } else if current < target {
        current + 1
    } else if current > target {
        if current > RATE_SCALE * 5 / 2 + target {
            RATE_SCALE * 5 / 2 + target
        } else {
            // Integer division truncates toward zero, as in C.
            (current + target - 1) / 2
        }
    } else {
        current
    };
    // OK: target is within -56..=20 and the results stay near it.
    *rate = i8::try_from(new).unwrap_or(INVALID_RATE);
}

/// The rounded log2 interval reported for a rate (chronyc "Int"), 127 if
/// never measured.
pub(super) fn reported_interval(rate: i8) -> i8 {
    if rate == INVALID_RATE {
        return 127;
    }
    let r = i32::from(rate);
    let r = r + if r > 0 {
        RATE_SCALE / 2
    } else {
        -RATE_SCALE / 2
    };
    // OK: |r / RATE_SCALE| <= 33.
    (r / -RATE_SCALE) as i8
}

/// A pool of random bits consumed a few at a time, so that one 32-bit draw
/// serves several leak decisions (as chrony does).
#[derive(Debug, Clone, Default)]
pub(super) struct RandomBits {
    pool: u32,
    left: u32,
}

impl RandomBits {
    /// True with probability 1/2^`bits` (`bits` in 1..=4).
    pub fn one_in_pow2<R: RngCore + ?Sized>(&mut self, bits: u32, rng: &mut R) -> bool {
        if self.left < bits {
            self.pool = rng.next_u32();
            self.left = u32::BITS;
        }
        let hit = self.pool & ((1 << bits) - 1) == 0;
        self.pool >>= bits;
        self.left -= bits;
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(interval: i32, burst: i32) -> RateLimitConfig {
        RateLimitConfig {
            interval,
            burst,
            leak: 2,
            kod: 0,
        }
    }

    #[test]
    fn bucket_parameters() {
        // ratelimit defaults: 8 s interval = 128 ticks per response.
        let b = Bucket::new(&cfg(3, 8));
        assert_eq!((b.tokens_per_hit, b.max_tokens, b.shift), (128, 1024, 0));
        // 4096 s × 255 does not fit 16 bits: time is scaled down by 2^8.
        let b = Bucket::new(&cfg(12, 255));
        assert_eq!((b.tokens_per_hit, b.max_tokens, b.shift), (256, 65280, 8));
        // cmdratelimit default -4: one tick per response.
        let b = Bucket::new(&cfg(-4, 8));
        assert_eq!((b.tokens_per_hit, b.max_tokens, b.shift), (1, 8, 0));
        // Coarse: 2^-6 s, 4 responses per tick at least.
        let b = Bucket::new(&cfg(-6, 1));
        assert_eq!((b.tokens_per_hit, b.max_tokens, b.shift), (1, 4, -2));
        // Out-of-range values are clamped.
        let b = Bucket::new(&RateLimitConfig {
            interval: 40,
            burst: 0,
            leak: 9,
            kod: -3,
        });
        assert_eq!((b.interval, b.leak, b.kod, b.max_tokens), (12, 4, 0, 32768));
    }

    #[test]
    fn refill_caps_at_capacity() {
        let b = Bucket::new(&cfg(3, 8));
        assert_eq!(b.refill(0, 1000 + 64, 1000), 64);
        assert_eq!(b.refill(1000, 1000 + 64, 1000), 1024);
        let coarse = Bucket::new(&cfg(-6, 1));
        assert_eq!(coarse.refill(0, 11, 10), 4);
        assert_eq!(coarse.refill(0, 10, 10), 0);
    }

    #[test]
    fn interval_to_log2() {
        assert_eq!(scaled_log2_interval(0), -20);
        assert_eq!(scaled_log2_interval(1), -16);
        // 8 s = 128 ticks -> log2 3.
        assert_eq!(scaled_log2_interval(128), 12);
        // 10 s rounds to 8, 11 s to 16 (the boundary is 8 × 4/3 s).
        assert_eq!(scaled_log2_interval(10 * 16), 12);
        assert_eq!(scaled_log2_interval(11 * 16), 16);
        assert_eq!(scaled_log2_interval(u32::MAX >> 1), 56);
    }

    #[test]
    fn rate_average_and_report() {
        let mut r = INVALID_RATE;
        update_rate(&mut r, 12);
        assert_eq!(r, -12);
        assert_eq!(reported_interval(r), 3);
        // Faster requests raise the rate one quarter-step at a time.
        update_rate(&mut r, 0);
        assert_eq!(r, -11);
        // Slower ones lower it at once (capped 2.5 steps above).
        update_rate(&mut r, 40);
        assert_eq!(r, -30);
        update_rate(&mut r, 44);
        assert_eq!(r, -34);
        // A smaller fall halves the difference.
        update_rate(&mut r, 40);
        assert_eq!(r, -37);
        assert_eq!(reported_interval(INVALID_RATE), 127);
        assert_eq!(reported_interval(20), -5);
        assert_eq!(reported_interval(0), 0);
    }

    #[test]
    fn fixed_point_times() {
        let t = UnixTime::from_secs_nanos(100, 500_000_000);
        assert_eq!(fixed_ts(t, 0), 100 * 16 + 8);
        assert_eq!(fixed_ts(t, 600_000_000), 101 * 16 + 1);
        // Seconds wrap modulo 2^28.
        let t = UnixTime::from_secs_nanos(1 << 28, 0);
        assert_eq!(fixed_ts(t, 0), 0);
    }
}
