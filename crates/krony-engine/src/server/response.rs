//! Building a response packet (the server half of chrony's
//! `transmit_packet`): header fields from the reference, timestamps with
//! random fuzz below the clock precision, and the flag bit that lets us
//! recognise interleaved requests later.

use krony_wire::UnixTime;
use krony_wire::ntp::{
    ExtensionField, KissCode, LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId,
};
use rand::RngCore;

use super::request::{MONO_ROOT_BODY_LEN, MONO_ROOT_MAGIC};
use crate::clock::LeapStatus;
use crate::discipline::{MAX_STRATUM, ServerParams};

/// Stratum sent for "unspecified or invalid" (RFC 5905 §7.3), also the
/// stratum of a kiss-o'-death.
const INVALID_STRATUM: u8 = 0;

/// Draws of the fuzz before giving up on avoiding an equal timestamp. With
/// at least two random bits (precision -30 or coarser) a fair generator
/// practically never needs more than a few.
const MAX_FUZZ_DRAWS: usize = 16;

/// The experimental monotonic-root field's values kept by the server: the
/// offset of its monotonic timescale from the cooked clock and the epoch
/// that changes whenever that timescale jumps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct MonoRoot {
    pub offset: f64,
    pub epoch: u32,
}

/// What goes into one response.
#[derive(Debug, Clone)]
pub(super) struct Draft<'a> {
    pub mode: Mode,
    pub version: u8,
    pub poll: i8,
    pub precision: i8,
    pub kod: Option<KissCode>,
    pub params: &'a ServerParams,
    /// The origin timestamp: the client's transmit timestamp, or in the
    /// interleaved mode its receive timestamp of our previous response.
    pub origin: NtpTimestamp,
    /// Our (cooked) receive time of the request.
    pub rx: UnixTime,
    /// The transmit time to send: now, or the previous response's TX time
    /// in the interleaved mode.
    pub tx: UnixTime,
    /// A receive timestamp of ours the new one must not repeat (the
    /// request's origin when it may be interleaved).
    pub prev_rx: Option<NtpTimestamp>,
    /// Echo the monotonic-root field with these values.
    pub mono_root: Option<MonoRoot>,
}

/// The NTP timestamp of a time; the Unix epoch stands for "unknown" and
/// becomes the zero timestamp, as in chrony.
fn ntp(t: UnixTime) -> NtpTimestamp {
    if t == UnixTime::EPOCH {
        NtpTimestamp::ZERO
    } else {
        NtpTimestamp::from_unix(t)
    }
}

/// Random bits below the clock precision: `precision + 32` low bits of the
/// 64-bit timestamp (RFC 5905 §6 leaves them unspecified; random bits keep
/// a client from learning more than the precision and make equal
/// timestamps unlikely).
pub(super) fn fuzz<R: RngCore + ?Sized>(precision: i8, rng: &mut R) -> u64 {
    let bits = (i32::from(precision) + 32).clamp(0, 64);
    let mask = match bits {
        64 => u64::MAX,
        // OK: bits < 64 here.
        b => (1u64 << b) - 1,
    };
    rng.next_u64() & mask
}

/// `t` with fuzz, adjusted by `finish` (the flag bit), redrawn while it
/// equals one of `avoid`. A zero timestamp stays zero.
fn fuzzed<R: RngCore + ?Sized>(
    t: UnixTime,
    precision: i8,
    rng: &mut R,
    finish: impl Fn(u64) -> u64,
    avoid: &[Option<NtpTimestamp>],
) -> NtpTimestamp {
    let base = ntp(t);
    if base.is_zero() {
        return base;
    }
    let clashes = |v: u64| avoid.iter().flatten().any(|a| a.0 == v);
    let mut value = finish(base.0 ^ fuzz(precision, rng));
    for _ in 1..MAX_FUZZ_DRAWS {
        if !clashes(value) {
            break;
        }
        value = finish(base.0 ^ fuzz(precision, rng));
    }
    if clashes(value) {
        // A generator stuck on one value: move the second-lowest bit, which
        // is below the precision and not the flag bit.
        value ^= 2;
    }
    NtpTimestamp(value)
}

/// Our transmit timestamp of a response: `tx` with fuzz and the flag bit
/// clear, never equal to the response's receive or origin timestamp (so
/// the client can tell the interleaved mode apart).
pub(super) fn transmit_stamp<R: RngCore + ?Sized>(
    tx: UnixTime,
    precision: i8,
    rng: &mut R,
    receive: NtpTimestamp,
    origin: NtpTimestamp,
) -> NtpTimestamp {
    fuzzed(
        tx,
        precision,
        rng,
        |v| v & !1,
        &[Some(receive), Some(origin)],
    )
}

/// Seconds in chrony's unsigned 4.28 format, rounded up, saturating.
pub(crate) fn ntp32_f28(secs: f64) -> u32 {
    const SCALE: f64 = (1u32 << 28) as f64;
    if secs >= f64::from(u32::MAX) / SCALE {
        u32::MAX
    } else if secs > 0.0 {
        // OK: 0 < secs * 2^28 < 2^32 here.
        (secs * SCALE).ceil() as u32
    } else {
        0
    }
}

fn leap_indicator(leap: LeapStatus) -> LeapIndicator {
    match leap {
        LeapStatus::Normal => LeapIndicator::NoWarning,
        LeapStatus::InsertSecond => LeapIndicator::Insert,
        LeapStatus::DeleteSecond => LeapIndicator::Delete,
        LeapStatus::Unsynchronised => LeapIndicator::Unsynchronized,
    }
}

/// The response packet. Its receive timestamp has the lowest bit set and
/// its transmit timestamp the lowest bit clear: a later request whose
/// origin has the bit set echoes one of our receive timestamps, so only
/// those requests need a look-up in the interleaved store.
pub(super) fn build<R: RngCore + ?Sized>(d: &Draft<'_>, rng: &mut R) -> NtpRepr {
    let p = d.params;
    let (leap, stratum, refid) = match d.kod {
        Some(code) => (
            LeapIndicator::Unsynchronized,
            INVALID_STRATUM,
            code.to_refid(),
        ),
        None => (
            leap_indicator(p.leap),
            // Stratum 16 and above are sent as 0 (RFC 5905 §7.3).
            if p.stratum < MAX_STRATUM {
                p.stratum
            } else {
                INVALID_STRATUM
            },
            RefId(p.ref_id),
        ),
    };
    let receive_ts = fuzzed(
        d.rx,
        d.precision,
        rng,
        |v| v | 1,
        &[Some(d.origin), d.prev_rx],
    );
    let transmit_ts = transmit_stamp(d.tx, d.precision, rng, receive_ts, d.origin);
    let extensions = d
        .mono_root
        .map(|m| vec![mono_root_field(d, m, rng)])
        .unwrap_or_default();
    NtpRepr {
        leap,
        version: d.version,
        mode: d.mode,
        stratum,
        poll: d.poll,
        precision: d.precision,
        root_delay: NtpShort::from_secs(p.root_delay),
        root_dispersion: NtpShort::from_secs(p.root_dispersion),
        reference_id: refid,
        reference_ts: ntp(p.ref_time),
        origin_ts: d.origin,
        receive_ts,
        transmit_ts,
        extensions,
        mac: None,
    }
}

/// A broadcast packet (mode 5) as chronyd's `broadcast` sends it: the
/// reference's header fields, `poll` (log2 of the interval), zero origin
/// and receive timestamps, and the transmit time `tx` with fuzz below the
/// precision (no flag bit: broadcasts are never answered).
pub fn broadcast<R: RngCore + ?Sized>(
    params: &ServerParams,
    precision: i8,
    poll: i8,
    tx: UnixTime,
    rng: &mut R,
) -> NtpRepr {
    let stratum = if params.stratum < MAX_STRATUM {
        params.stratum
    } else {
        INVALID_STRATUM
    };
    NtpRepr {
        leap: leap_indicator(params.leap),
        version: 4,
        mode: Mode::Broadcast,
        stratum,
        poll,
        precision,
        root_delay: NtpShort::from_secs(params.root_delay),
        root_dispersion: NtpShort::from_secs(params.root_dispersion),
        reference_id: RefId(params.ref_id),
        reference_ts: ntp(params.ref_time),
        origin_ts: NtpTimestamp::ZERO,
        receive_ts: NtpTimestamp::ZERO,
        transmit_ts: fuzzed(tx, precision, rng, |v| v, &[]),
        extensions: Vec::new(),
        mac: None,
    }
}

/// chrony's experimental field (type 0xF323): our root delay and
/// dispersion with 28 fraction bits, the receive time on a timescale that
/// follows the clock's frequency but not its corrections, and that
/// timescale's epoch.
fn mono_root_field<R: RngCore + ?Sized>(d: &Draft<'_>, m: MonoRoot, rng: &mut R) -> ExtensionField {
    let mono_rx = fuzzed(d.rx.add_secs(m.offset), d.precision, rng, |v| v, &[]);
    let mut body = Vec::with_capacity(MONO_ROOT_BODY_LEN);
    body.extend_from_slice(&MONO_ROOT_MAGIC.to_be_bytes());
    body.extend_from_slice(&ntp32_f28(d.params.root_delay).to_be_bytes());
    body.extend_from_slice(&ntp32_f28(d.params.root_dispersion).to_be_bytes());
    body.extend_from_slice(&mono_rx.0.to_be_bytes());
    body.extend_from_slice(&m.epoch.to_be_bytes());
    ExtensionField {
        field_type: ExtensionField::EXP_MONO_ROOT,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A generator that always returns the same value.
    struct Stuck(u64);

    impl RngCore for Stuck {
        fn next_u32(&mut self) -> u32 {
            self.0 as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            dst.fill(self.0 as u8);
        }
    }

    #[test]
    fn fuzz_stays_below_precision() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = 0u64;
        for _ in 0..200 {
            let f = fuzz(-20, &mut rng);
            assert!(f < 1 << 12);
            seen |= f;
        }
        assert_eq!(seen, 0xfff, "every fuzz bit gets used");
        assert_eq!(fuzz(-32, &mut rng), 0);
        assert_eq!(fuzz(32, &mut Stuck(u64::MAX)), u64::MAX);
    }

    #[test]
    fn fuzzed_avoids_equal_timestamps_even_with_a_stuck_rng() {
        let t = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let plain = NtpTimestamp::from_unix(t);
        let v = fuzzed(t, -20, &mut Stuck(0), |v| v | 1, &[]);
        assert_eq!(v.0, plain.0 | 1);
        let w = fuzzed(t, -20, &mut Stuck(0), |v| v | 1, &[Some(v)]);
        assert_ne!(w, v);
        assert_eq!(w.0 & 1, 1);
        assert!(w.diff_secs(v).abs() < 1e-6);
        assert_eq!(
            fuzzed(UnixTime::EPOCH, -20, &mut Stuck(7), |v| v | 1, &[]),
            NtpTimestamp::ZERO
        );
    }

    #[test]
    fn broadcast_has_zero_origin_and_receive() {
        let params = ServerParams {
            synchronised: true,
            leap: LeapStatus::Normal,
            stratum: 3,
            ref_id: 0x7f00_0001,
            ref_time: UnixTime::from_secs_nanos(1_700_000_000, 0),
            root_delay: 0.001,
            root_dispersion: 0.002,
        };
        let tx = UnixTime::from_secs_nanos(1_700_000_010, 500);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let b = broadcast(&params, -20, 6, tx, &mut rng);
        assert_eq!(
            (b.mode, b.version, b.stratum, b.poll),
            (Mode::Broadcast, 4, 3, 6)
        );
        assert_eq!(
            (b.origin_ts, b.receive_ts),
            (NtpTimestamp::ZERO, NtpTimestamp::ZERO)
        );
        assert!(b.transmit_ts.diff_secs(NtpTimestamp::from_unix(tx)).abs() < 1e-6);
        assert_eq!(b.reference_id, RefId(0x7f00_0001));
        let unsync = ServerParams {
            stratum: 16,
            leap: LeapStatus::Unsynchronised,
            ..params
        };
        let b = broadcast(&unsync, -20, 6, tx, &mut rng);
        assert_eq!((b.stratum, b.leap), (0, LeapIndicator::Unsynchronized));
    }

    #[test]
    fn f28_rounds_up_and_saturates() {
        assert_eq!(ntp32_f28(1.0), 1 << 28);
        assert_eq!(ntp32_f28(1e-12), 1);
        assert_eq!(ntp32_f28(-1.0), 0);
        assert_eq!(ntp32_f28(100.0), u32::MAX);
        assert_eq!(ntp32_f28(f64::NAN), 0);
    }
}
