//! The PHC driver: a PTP hardware clock (`/dev/ptpN`) compared with the
//! system clock through `PTP_SYS_OFFSET_PRECISE` (cross timestamps, unless
//! `:nocrossts`), `PTP_SYS_OFFSET_EXTENDED` or `PTP_SYS_OFFSET`, tried in
//! that order as chronyd does, the first that works being kept. Each poll
//! gives up to 25 readings (system time before, PHC time, system time
//! after); those with a delay near the shortest are averaged.
//!
//! With `:extpps` the PHC timestamps an external pulse on a pin: the
//! events are read from the device and turned into system time with the
//! PHC-to-system relation of the latest polls.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::sys::Aligned;
use crate::sys::refclock::{ioctl_buf, open_device, read_device};

const PTP_SYS_OFFSET: u64 = 0x4340_3d05;
const PTP_SYS_OFFSET_EXTENDED: u64 = 0xc4c0_3d09;
const PTP_SYS_OFFSET_PRECISE: u64 = 0xc040_3d08;
const PTP_EXTTS_REQUEST: u64 = 0x4010_3d02;
const PTP_PIN_SETFUNC: u64 = 0x4060_3d07;
/// `PTP_MAX_SAMPLES`, and chronyd's `PHC_READINGS`.
const READINGS: usize = 25;
/// `PTP_ENABLE_FEATURE`, `PTP_RISING_EDGE`, `PTP_FALLING_EDGE`.
const EXTTS_ENABLE: u32 = 1 << 0;
const EXTTS_RISING: u32 = 1 << 1;
const EXTTS_FALLING: u32 = 1 << 2;
/// `PTP_PF_EXTTS`.
const PIN_EXTTS: u32 = 1;
/// `struct ptp_extts_event` size.
const EXTTS_EVENT_LEN: usize = 32;

/// Which ioctl works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    Precise,
    Extended,
    Basic,
}

/// One reading: system time before, PHC time, system time after (ns).
pub type Reading = [i64; 3];

/// An open PHC.
#[derive(Debug)]
pub struct PhcDevice {
    fd: OwnedFd,
    nocrossts: bool,
    mode: Mode,
    /// `:extpps` channel, when enabled.
    pub extpps_channel: Option<u32>,
    /// (PHC ns, system ns) of the last two polls, newest last.
    relation: Vec<(i64, i64)>,
}

fn time_at(b: &[u8], at: usize) -> i64 {
    let mut s = [0u8; 8];
    s.copy_from_slice(&b[at..at + 8]);
    let mut n = [0u8; 4];
    n.copy_from_slice(&b[at + 8..at + 12]);
    i64::from_ne_bytes(s)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(u32::from_ne_bytes(n)))
}

impl PhcDevice {
    /// Opens the device; with `extpps` enables external timestamping on
    /// `pin` (unless -1) and `channel`, rising edge or (`clear`) falling.
    ///
    /// # Errors
    /// chronyd's fatal messages.
    pub fn open(
        path: &str,
        nocrossts: bool,
        extpps: Option<(i32, u32, bool)>,
    ) -> Result<Self, String> {
        let fd = open_device(Path::new(path)).map_err(|_| "Could not open PHC".to_string())?;
        let mut dev = PhcDevice {
            fd,
            nocrossts,
            mode: Mode::Unknown,
            extpps_channel: None,
            relation: Vec::new(),
        };
        if let Some((pin, channel, clear)) = extpps {
            dev.enable_extts(pin, channel, clear)
                .map_err(|_| "Could not enable external PHC timestamping".to_string())?;
            dev.extpps_channel = Some(channel);
        }
        Ok(dev)
    }

    fn enable_extts(
        &self,
        pin: i32,
        channel: u32,
        clear: bool,
    ) -> Result<(), crate::sys::SysError> {
        if pin >= 0 {
            let mut b = Aligned::<1280>::zeroed();
            b.0[64..68].copy_from_slice(&pin.to_ne_bytes());
            b.0[68..72].copy_from_slice(&PIN_EXTTS.to_ne_bytes());
            b.0[72..76].copy_from_slice(&channel.to_ne_bytes());
            ioctl_buf(self.fd.as_fd(), PTP_PIN_SETFUNC, "PTP_PIN_SETFUNC", &mut b)?;
        }
        let edge = if clear { EXTTS_FALLING } else { EXTTS_RISING };
        let mut b = Aligned::<1280>::zeroed();
        b.0[0..4].copy_from_slice(&channel.to_ne_bytes());
        b.0[4..8].copy_from_slice(&(EXTTS_ENABLE | edge).to_ne_bytes());
        ioctl_buf(
            self.fd.as_fd(),
            PTP_EXTTS_REQUEST,
            "PTP_EXTTS_REQUEST",
            &mut b,
        )
    }

    /// The descriptor to poll for external timestamps.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Readings of the PHC against the system clock; empty if every ioctl
    /// failed.
    pub fn readings(&mut self) -> Vec<Reading> {
        let order = match self.mode {
            Mode::Unknown if self.nocrossts => vec![Mode::Extended, Mode::Basic],
            Mode::Unknown => vec![Mode::Precise, Mode::Extended, Mode::Basic],
            m => vec![m],
        };
        for m in order {
            let r = self.read_with(m);
            if !r.is_empty() {
                self.mode = m;
                return r;
            }
        }
        Vec::new()
    }

    fn read_with(&self, mode: Mode) -> Vec<Reading> {
        let mut b = Aligned::<1280>::zeroed();
        let n = READINGS as u32;
        match mode {
            Mode::Precise => {
                if ioctl_buf(
                    self.fd(),
                    PTP_SYS_OFFSET_PRECISE,
                    "PTP_SYS_OFFSET_PRECISE",
                    &mut b,
                )
                .is_err()
                {
                    return Vec::new();
                }
                let sys = time_at(&b.0, 16);
                vec![[sys, time_at(&b.0, 0), sys]]
            }
            Mode::Extended => {
                b.0[0..4].copy_from_slice(&n.to_ne_bytes());
                if ioctl_buf(
                    self.fd(),
                    PTP_SYS_OFFSET_EXTENDED,
                    "PTP_SYS_OFFSET_EXTENDED",
                    &mut b,
                )
                .is_err()
                {
                    return Vec::new();
                }
                let got =
                    (u32::from_ne_bytes([b.0[0], b.0[1], b.0[2], b.0[3]]) as usize).min(READINGS);
                (0..got)
                    .map(|i| {
                        let at = 16 + i * 48;
                        [
                            time_at(&b.0, at),
                            time_at(&b.0, at + 16),
                            time_at(&b.0, at + 32),
                        ]
                    })
                    .collect()
            }
            Mode::Basic | Mode::Unknown => {
                b.0[0..4].copy_from_slice(&n.to_ne_bytes());
                if ioctl_buf(self.fd(), PTP_SYS_OFFSET, "PTP_SYS_OFFSET", &mut b).is_err() {
                    return Vec::new();
                }
                let got =
                    (u32::from_ne_bytes([b.0[0], b.0[1], b.0[2], b.0[3]]) as usize).min(READINGS);
                (0..got)
                    .map(|i| {
                        let at = 16 + i * 32;
                        [
                            time_at(&b.0, at),
                            time_at(&b.0, at + 16),
                            time_at(&b.0, at + 32),
                        ]
                    })
                    .collect()
            }
        }
    }

    /// Remembers a processed reading (for `:extpps`).
    pub fn remember(&mut self, phc: i64, sys: i64) {
        self.relation.push((phc, sys));
        if self.relation.len() > 2 {
            self.relation.remove(0);
        }
    }

    /// Reads one external timestamp event: (channel, PHC ns).
    pub fn read_event(&self) -> Option<(u32, i64)> {
        let mut buf = [0u8; EXTTS_EVENT_LEN];
        let n = read_device(self.fd(), &mut buf).ok()?;
        if n < EXTTS_EVENT_LEN {
            return None;
        }
        let channel = u32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        Some((channel, time_at(&buf, 0)))
    }

    /// The system time (ns) of a PHC time, from the last polls' relation.
    pub fn phc_to_sys(&self, phc: i64) -> Option<i64> {
        match self.relation.as_slice() {
            [(p, s)] => Some(s + (phc - p)),
            [(p0, s0), (p1, s1)] if p1 != p0 => {
                let rate = (s1 - s0) as f64 / (p1 - p0) as f64;
                Some(s1 + ((phc - p1) as f64 * rate) as i64)
            }
            [.., (p, s)] => Some(s + (phc - p)),
            [] => None,
        }
    }
}

/// Combines readings into one (PHC ns, system ns, error s), as chronyd's
/// `HCL_ProcessReadings` does with the readings whose delay is in a narrow
/// band above the shortest (here the band of this poll's delays between
/// its 10th and 20th percentiles, at least `precision` wide).
pub fn process_readings(readings: &[Reading], precision: f64) -> Option<(i64, i64, f64)> {
    let first = readings.first()?;
    let mut delays: Vec<f64> = Vec::with_capacity(readings.len());
    for r in readings {
        let d = (r[2] - r[0]) as f64 * 1e-9;
        if d < 0.0 {
            return None;
        }
        delays.push(d);
    }
    let mut sorted = delays.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p) as usize];
    let low = sorted[0];
    let high = q(0.2).max(low + precision);
    let (mut n, mut delay_sum, mut hw_sum, mut local_sum) = (0u32, 0.0, 0.0, 0.0);
    for (r, d) in readings.iter().zip(&delays) {
        if *d < low || *d > high {
            continue;
        }
        delay_sum += d;
        hw_sum += (r[1] - first[1]) as f64 * 1e-9;
        local_sum += (r[0] - first[0]) as f64 * 1e-9 + d / 2.0;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let n = f64::from(n);
    let phc = first[1] + (hw_sum / n * 1e9) as i64;
    let sys = first[0] + (local_sum / n * 1e9) as i64;
    Some((phc, sys, (delay_sum / n / 2.0).max(precision)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_with_short_delays_are_averaged() {
        // PHC = system + 1 ms; delays of 1 us, one of 50 us (asymmetric).
        let mk = |t: i64, d: i64, skew: i64| [t, t + d / 2 + 1_000_000 + skew, t + d];
        let mut r: Vec<Reading> = (0..10)
            .map(|i| mk(1_000_000_000 + i * 10_000, 1000, 0))
            .collect();
        r.push(mk(1_000_200_000, 50_000, 20_000));
        let (phc, sys, err) = process_readings(&r, 1e-9).expect("combined");
        assert_eq!(phc - sys, 1_000_000);
        assert!((err - 0.5e-6).abs() < 1e-9, "{err}");
        assert!(process_readings(&[[10, 5, 5]], 1e-9).is_none());
        assert!(process_readings(&[], 1e-9).is_none());
    }
}
