//! The client and peer side of chrony's experimental extension field 0xF323
//! (`extfield F323`): requests carry the field; a response's copy gives the
//! server's root delay and dispersion with 28 fraction bits and its receive
//! time on a timescale that follows the server's frequency but not its
//! offset corrections. The difference between two responses' monotonic and
//! ordinary receive times is the offset the server corrected in between,
//! and the older samples are moved by it before the next one is accumulated
//! (chrony's `mono_doffset`), so that a correction at the root does not
//! look like a change of our offset to be followed slowly.

use krony_wire::ntp::{ExtensionField, NtpRepr, NtpTimestamp};

use crate::UnixTime;
use crate::server::request::{MONO_ROOT_BODY_LEN, MONO_ROOT_MAGIC};
use crate::server::response::ntp32_f28;

/// Larger corrections are ignored (chrony's `MAX_MONO_DOFFSET`).
pub(super) const MAX_MONO_DOFFSET: f64 = 16.0;

/// chrony's largest 32-bit NTP value in seconds (`MAX_NTP_INT32`), which the
/// all-ones value stands for.
const MAX_NTP_INT32: f64 = 4_294_967_295.0 / 65_536.0;

/// Our own monotonic timescale, sent in symmetric packets: its offset from
/// the cooked clock (the slews accumulated) and its random epoch, renewed
/// on every step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MonoScale {
    /// Seconds to add to a cooked time.
    pub offset: f64,
    /// Changes whenever the timescale jumps.
    pub epoch: u32,
}

/// The values of a received field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct MonoRootField {
    pub root_delay: f64,
    pub root_dispersion: f64,
    pub mono_rx: NtpTimestamp,
    pub epoch: u32,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A 32-bit value with 28 fraction bits, in seconds.
fn f28_to_secs(v: u32) -> f64 {
    if v == u32::MAX {
        MAX_NTP_INT32
    } else {
        f64::from(v) / f64::from(1u32 << 28)
    }
}

/// The field in `p`, if one has the right length and magic number.
pub(super) fn find(p: &NtpRepr) -> Option<MonoRootField> {
    p.extensions.iter().find_map(|f| {
        let b = &f.body;
        if f.field_type != ExtensionField::EXP_MONO_ROOT
            || b.len() != MONO_ROOT_BODY_LEN
            || be32(b, 0)? != MONO_ROOT_MAGIC
        {
            return None;
        }
        let hi = u64::from(be32(b, 12)?);
        let lo = u64::from(be32(b, 16)?);
        Some(MonoRootField {
            root_delay: f28_to_secs(be32(b, 4)?),
            root_dispersion: f28_to_secs(be32(b, 8)?),
            mono_rx: NtpTimestamp((hi << 32) | lo),
            epoch: be32(b, 20)?,
        })
    })
}

/// The field of a request: a client sends only the magic number; a peer
/// also its root values and the monotonic time of `rx` (our receive time
/// of the peer's last packet), `fuzz` below our precision.
pub(super) fn request_field(
    peer: Option<(f64, f64, Option<UnixTime>, MonoScale)>,
    fuzz: u64,
) -> ExtensionField {
    let mut body = Vec::with_capacity(MONO_ROOT_BODY_LEN);
    body.extend_from_slice(&MONO_ROOT_MAGIC.to_be_bytes());
    match peer {
        Some((delay, dispersion, rx, mono)) => {
            body.extend_from_slice(&ntp32_f28(delay).to_be_bytes());
            body.extend_from_slice(&ntp32_f28(dispersion).to_be_bytes());
            let ts = rx
                .filter(|t| *t != UnixTime::EPOCH)
                .map_or(NtpTimestamp::ZERO, |t| {
                    NtpTimestamp(NtpTimestamp::from_unix(t.add_secs(mono.offset)).0 ^ fuzz)
                });
            body.extend_from_slice(&ts.0.to_be_bytes());
            body.extend_from_slice(&mono.epoch.to_be_bytes());
        }
        None => body.resize(MONO_ROOT_BODY_LEN, 0),
    }
    ExtensionField {
        field_type: ExtensionField::EXP_MONO_ROOT,
        body,
    }
}

/// The state kept from the last valid response (chrony's
/// `remote_mono_epoch`, `remote_ntp_monorx` and accumulated `mono_doffset`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct MonoState {
    pub epoch: u32,
    pub mono_rx: NtpTimestamp,
    /// Corrections of the server not yet applied to the statistics.
    pub doffset: f64,
}

impl MonoState {
    /// The server's correction between the last valid response and this
    /// one (`receive_ts` its ordinary receive timestamp, `last_rx` the
    /// previous one); 0 without two monotonic times of the same epoch.
    pub fn doffset(
        &self,
        field: Option<&MonoRootField>,
        receive_ts: NtpTimestamp,
        last_rx: NtpTimestamp,
    ) -> f64 {
        let Some(f) = field else { return 0.0 };
        if f.epoch != self.epoch || f.mono_rx.is_zero() || self.mono_rx.is_zero() {
            return 0.0;
        }
        let d = ntp_diff(f.mono_rx, self.mono_rx) - ntp_diff(receive_ts, last_rx);
        if d.abs() > MAX_MONO_DOFFSET { 0.0 } else { d }
    }

    /// Takes the field of a valid response (its timestamps became the last
    /// ones) with the correction measured from it.
    pub fn update(&mut self, field: Option<&MonoRootField>, doffset: f64) {
        match field {
            Some(f) if !f.mono_rx.is_zero() => {
                self.epoch = f.epoch;
                self.mono_rx = f.mono_rx;
                self.doffset += doffset;
            }
            _ => *self = MonoState::default(),
        }
    }

    /// The correction to apply to the statistics before the next sample,
    /// if any; the accumulator is emptied either way.
    pub fn take(&mut self) -> Option<f64> {
        let d = std::mem::take(&mut self.doffset);
        (d != 0.0 && d.abs() <= MAX_MONO_DOFFSET).then_some(d)
    }
}

/// `a - b` in seconds, across era boundaries (`UTI_DiffNtp64ToDouble`).
fn ntp_diff(a: NtpTimestamp, b: NtpTimestamp) -> f64 {
    // OK to wrap: the difference of two nearby times read as signed.
    let d = a.0.wrapping_sub(b.0) as i64;
    d as f64 / 4_294_967_296.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_field(delay: f64, mono_rx: NtpTimestamp, epoch: u32) -> NtpRepr {
        let mut bytes = [0u8; 48];
        bytes[0] = 0x24;
        let mut p = NtpRepr::parse_bytes(&bytes).expect("header");
        let mut f = request_field(None, 0);
        f.body[4..8].copy_from_slice(&ntp32_f28(delay).to_be_bytes());
        f.body[12..20].copy_from_slice(&mono_rx.0.to_be_bytes());
        f.body[20..24].copy_from_slice(&epoch.to_be_bytes());
        p.extensions.push(f);
        p
    }

    #[test]
    fn fields_parse_with_magic_and_length_only() {
        let ts = NtpTimestamp::from_parts(100, 1 << 31);
        let p = response_field(0.001, ts, 7);
        let f = find(&p).expect("field");
        assert!((f.root_delay - 0.001).abs() < 1e-8, "28 fraction bits");
        assert_eq!((f.mono_rx, f.epoch), (ts, 7));
        let mut bad = p.clone();
        bad.extensions[0].body[0] ^= 1;
        assert_eq!(find(&bad), None);
        let mut short = p;
        short.extensions[0].body.truncate(20);
        assert_eq!(find(&short), None);
        assert_eq!(f28_to_secs(u32::MAX), MAX_NTP_INT32);
    }

    #[test]
    fn a_correction_at_the_server_is_measured_and_accumulated() {
        let mut st = MonoState::default();
        let rx1 = NtpTimestamp::from_parts(1000, 0);
        let f1 = MonoRootField {
            root_delay: 0.0,
            root_dispersion: 0.0,
            mono_rx: NtpTimestamp::from_parts(500, 0),
            epoch: 3,
        };
        // First response: nothing to compare with.
        assert_eq!(st.doffset(Some(&f1), rx1, NtpTimestamp::ZERO), 0.0);
        st.update(Some(&f1), 0.0);
        // 64 s later on the monotonic scale, but the server's clock was
        // corrected back by 0.1 s: its receive time advanced 63.9 s.
        let rx2 = NtpTimestamp::from_unix(rx1.to_unix(UnixTime::EPOCH).add_secs(63.9));
        let f2 = MonoRootField {
            mono_rx: NtpTimestamp::from_parts(564, 0),
            ..f1
        };
        let d = st.doffset(Some(&f2), rx2, rx1);
        assert!((d - 0.1).abs() < 1e-6, "{d}");
        st.update(Some(&f2), d);
        // Another epoch (the server stepped) gives nothing.
        let f3 = MonoRootField { epoch: 4, ..f2 };
        assert_eq!(st.doffset(Some(&f3), rx2, rx1), 0.0);
        assert!((st.take().expect("correction") - 0.1).abs() < 1e-6);
        assert_eq!(st.take(), None, "applied once");
        // A response without the field forgets the scale.
        st.update(None, 0.0);
        assert_eq!(st, MonoState::default());
    }
}
