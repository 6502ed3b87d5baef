//! The PPS driver: the Linux PPS API (`/dev/ppsN`) through its ioctls,
//! as `time_pps_*` of `timepps.h` issue them. Each driver poll fetches the
//! latest assert (or `:clear`) timestamp; a new sequence number makes it a
//! pulse for the engine.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::sys::Aligned;
use crate::sys::refclock::{ioctl_buf, open_device};

const PPS_GETPARAMS: u64 = 0x8008_70a1;
const PPS_SETPARAMS: u64 = 0x4008_70a2;
const PPS_GETCAP: u64 = 0x8008_70a3;
const PPS_FETCH: u64 = 0xc008_70a4;
const PPS_CAPTUREASSERT: i32 = 0x01;
const PPS_CAPTURECLEAR: i32 = 0x02;
/// `pps_ktime.flags`: the time is not valid (no timeout).
const PPS_TIME_INVALID: u32 = 1;
/// `PPS_API_VERS_1`.
const PPS_API_VERS: i32 = 1;

/// An open PPS device.
#[derive(Debug)]
pub struct PpsDevice {
    fd: OwnedFd,
    clear: bool,
    last_seq: u32,
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    i32::from_ne_bytes(x)
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_ne_bytes(x)
}

impl PpsDevice {
    /// Opens the device and selects the assert (or clear) edge.
    ///
    /// # Errors
    /// chronyd's fatal messages.
    pub fn open(path: &str, clear: bool) -> Result<Self, String> {
        let fd = open_device(Path::new(path))
            .map_err(|e| format!("Could not open {path} : {}", super::os_text(&e)))?;
        let err = |what: &str, e: crate::sys::SysError| {
            format!("{what}() failed on {path} : {}", super::os_text(&e))
        };
        let mut buf = Aligned::<1280>::zeroed();
        // timepps.h's time_pps_create checks the device with PPS_GETCAP and
        // reports EOPNOTSUPP when it is not a PPS device.
        ioctl_buf(fd.as_fd(), PPS_GETCAP, "PPS_GETCAP", &mut buf).map_err(|_| {
            let e = std::io::Error::from_raw_os_error(libc::EOPNOTSUPP);
            format!(
                "time_pps_create() failed on {path} : {}",
                crate::files::os_error_text(&e)
            )
        })?;
        let caps = i32_at(&buf.0, 0);
        let mut params = Aligned::<1280>::zeroed();
        ioctl_buf(fd.as_fd(), PPS_GETPARAMS, "PPS_GETPARAMS", &mut params)
            .map_err(|e| err("time_pps_getparams", e))?;
        let mut mode = i32_at(&params.0, 4);
        let (want, other, name) = if clear {
            (PPS_CAPTURECLEAR, PPS_CAPTUREASSERT, "CAPTURECLEAR")
        } else {
            (PPS_CAPTUREASSERT, PPS_CAPTURECLEAR, "CAPTUREASSERT")
        };
        if caps & want == 0 {
            return Err(format!("{name} not supported on {path}"));
        }
        mode = (mode | want) & !other;
        params.0[0..4].copy_from_slice(&PPS_API_VERS.to_ne_bytes());
        params.0[4..8].copy_from_slice(&mode.to_ne_bytes());
        ioctl_buf(fd.as_fd(), PPS_SETPARAMS, "PPS_SETPARAMS", &mut params)
            .map_err(|e| err("time_pps_setparams", e))?;
        Ok(PpsDevice {
            fd,
            clear,
            last_seq: 0,
        })
    }

    /// The latest edge's time (seconds, nanoseconds) if it is new.
    ///
    /// # Errors
    /// chronyd's message when the fetch fails.
    pub fn fetch(&mut self) -> Result<Option<(i64, i64)>, String> {
        let mut buf = Aligned::<1280>::zeroed();
        // pps_fdata: info (48 bytes), then the timeout: zero, and valid, so
        // that the kernel does not wait.
        buf.0[60..64].copy_from_slice(&(!PPS_TIME_INVALID).to_ne_bytes());
        ioctl_buf(self.fd.as_fd(), PPS_FETCH, "PPS_FETCH", &mut buf)
            .map_err(|e| format!("time_pps_fetch() failed : {}", super::os_text(&e)))?;
        let (seq, ts) = parse_fetch(&buf.0, self.clear);
        if seq == self.last_seq || ts == (0, 0) {
            return Ok(None);
        }
        self.last_seq = seq;
        Ok(Some(ts))
    }
}

/// The sequence number and time (seconds, nanoseconds) of the assert or
/// (`clear`) clear edge in a `struct pps_fdata`: `pps_kinfo` holds the
/// assert and clear sequence numbers (u32 @0, @4), then `pps_ktime`s
/// (i64 seconds, i32 nanoseconds, u32 flags) for assert @8 and clear @24.
fn parse_fetch(b: &[u8], clear: bool) -> (u32, (i64, i64)) {
    let (seq, at) = if clear {
        (i32_at(b, 4) as u32, 24)
    } else {
        (i32_at(b, 0) as u32, 8)
    };
    (seq, (i64_at(b, at), i64::from(i32_at(b, at + 8))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_layout() {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&7u32.to_ne_bytes());
        b[4..8].copy_from_slice(&3u32.to_ne_bytes());
        b[8..16].copy_from_slice(&1_700_000_000i64.to_ne_bytes());
        b[16..20].copy_from_slice(&123i32.to_ne_bytes());
        b[24..32].copy_from_slice(&1_700_000_001i64.to_ne_bytes());
        b[32..36].copy_from_slice(&456i32.to_ne_bytes());
        assert_eq!(parse_fetch(&b, false), (7, (1_700_000_000, 123)));
        assert_eq!(parse_fetch(&b, true), (3, (1_700_000_001, 456)));
    }
}
