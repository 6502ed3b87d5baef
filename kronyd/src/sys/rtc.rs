//! The Linux real-time clock device (`/dev/rtc`): update interrupts
//! (`RTC_UIE_ON`/`RTC_UIE_OFF`, then `read` of the interrupt flags), reading
//! and setting its time (`RTC_RD_TIME`, `RTC_SET_TIME`), and converting its
//! broken-down time from and to Unix time, on UTC or the local time zone.
//!
//! The device is opened with libc's `open` (not std's `open64`), which
//! clknetsim intercepts to simulate an RTC.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{SysError, check};

/// `_IO('p', 0x03)`: enable update (once a second) interrupts.
const RTC_UIE_ON: libc::c_ulong = 0x7003;
/// `_IO('p', 0x04)`: disable them.
const RTC_UIE_OFF: libc::c_ulong = 0x7004;
/// `_IOR('p', 0x09, struct rtc_time)`.
const RTC_RD_TIME: libc::c_ulong = 0x8024_7009;
/// `_IOW('p', 0x0a, struct rtc_time)`.
const RTC_SET_TIME: libc::c_ulong = 0x4024_700a;
/// The update-interrupt flag in the word `read` returns.
const RTC_UF: libc::c_ulong = 0x10;

/// The kernel's `struct rtc_time` (the fields of `struct tm` it has).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtcTime {
    /// Seconds 0-60.
    pub sec: i32,
    /// Minutes 0-59.
    pub min: i32,
    /// Hours 0-23.
    pub hour: i32,
    /// Day of the month 1-31.
    pub mday: i32,
    /// Month 0-11.
    pub mon: i32,
    /// Years since 1900.
    pub year: i32,
    /// Day of the week (unused by the kernel).
    pub wday: i32,
    /// Day of the year (unused by the kernel).
    pub yday: i32,
    /// DST flag (unused by the kernel).
    pub isdst: i32,
}

/// An open RTC device.
#[derive(Debug)]
pub struct RtcDevice {
    fd: OwnedFd,
}

impl RtcDevice {
    /// Opens the device, read-write for tracking or read-only for `-s`.
    ///
    /// # Errors
    /// [`SysError::Os`] with the open error (chrony's "Could not open RTC
    /// device ..." is made by the caller).
    pub fn open(path: &str, write: bool) -> Result<Self, SysError> {
        let c = CString::new(path).map_err(|_| SysError::InvalidArgument(path.into()))?;
        let flags = if write { libc::O_RDWR } else { libc::O_RDONLY };
        // SAFETY: c is a NUL-terminated path valid for the call; no mode is
        // needed without O_CREAT.
        let fd = check(unsafe { libc::open(c.as_ptr(), flags) }, || {
            format!("open({path})")
        })?;
        // SAFETY: fd was just returned by open() and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        set_cloexec(fd.as_fd());
        Ok(RtcDevice { fd })
    }

    /// Turns the update interrupts on or off.
    ///
    /// # Errors
    /// [`SysError::Os`] if the driver refuses.
    pub fn set_update_interrupts(&self, on: bool) -> Result<(), SysError> {
        let request = if on { RTC_UIE_ON } else { RTC_UIE_OFF };
        // SAFETY: these requests take no argument (0 is passed as chrony does).
        let ret = unsafe { libc::ioctl(self.fd.as_raw_fd(), request, 0) };
        check(ret, || "ioctl(RTC_UIE)".into()).map(drop)
    }

    /// Reads the interrupt word after the descriptor polled readable:
    /// whether it reports an update interrupt.
    ///
    /// # Errors
    /// [`SysError::Os`] if the read fails.
    pub fn read_update_interrupt(&self) -> Result<bool, SysError> {
        let mut data: libc::c_ulong = 0;
        let size = std::mem::size_of::<libc::c_ulong>();
        // SAFETY: data is a writable c_ulong of `size` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut data).cast(), size) };
        if n < 0 {
            return Err(SysError::last("read(rtc)"));
        }
        Ok(data & RTC_UF == RTC_UF)
    }

    /// The RTC's current time.
    ///
    /// # Errors
    /// [`SysError::Os`] if the driver refuses.
    pub fn read_time(&self) -> Result<RtcTime, SysError> {
        let mut t = RtcTime::default();
        // SAFETY: RTC_RD_TIME writes one struct rtc_time, which RtcTime
        // mirrors (#[repr(C)], nine ints).
        let ret = unsafe { libc::ioctl(self.fd.as_raw_fd(), RTC_RD_TIME, &raw mut t) };
        check(ret, || "ioctl(RTC_RD_TIME)".into())?;
        Ok(t)
    }

    /// Sets the RTC's time.
    ///
    /// # Errors
    /// [`SysError::Os`] if the driver refuses.
    pub fn set_time(&self, t: &RtcTime) -> Result<(), SysError> {
        // SAFETY: RTC_SET_TIME reads one struct rtc_time from the pointer.
        let ret = unsafe { libc::ioctl(self.fd.as_raw_fd(), RTC_SET_TIME, std::ptr::from_ref(t)) };
        check(ret, || "ioctl(RTC_SET_TIME)".into()).map(drop)
    }
}

impl AsFd for RtcDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn set_cloexec(fd: BorrowedFd<'_>) {
    // SAFETY: F_GETFD/F_SETFD take an int; fd is live. Failure only leaves
    // the descriptor inheritable, as chrony ignores it too.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

fn to_tm(t: &RtcTime) -> libc::tm {
    // SAFETY: tm is a plain C struct; all zeroes (and a null tm_zone) is
    // valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_sec = t.sec;
    tm.tm_min = t.min;
    tm.tm_hour = t.hour;
    tm.tm_mday = t.mday;
    tm.tm_mon = t.mon;
    tm.tm_year = t.year;
    tm
}

fn mktime_no_dst(mut tm: libc::tm) -> i64 {
    tm.tm_isdst = 0;
    // SAFETY: tm is a valid, writable struct tm.
    unsafe { libc::mktime(&mut tm) }
}

fn broken_down(t: i64, utc: bool) -> Option<libc::tm> {
    let t = libc::time_t::try_from(t).ok()?;
    // SAFETY: tm is a plain C struct; all zeroes is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: t and tm are valid for the call; the *_r variants keep no
    // state between calls.
    let r = unsafe {
        if utc {
            libc::gmtime_r(&t, &mut tm)
        } else {
            libc::localtime_r(&t, &mut tm)
        }
    };
    (!r.is_null()).then_some(tm)
}

/// The Unix time of an RTC reading kept on UTC or on local time. For local
/// time, `mktime` is used with DST off and corrected by how far a
/// round-trip through `localtime` moves it (chrony's method: `tm_isdst`
/// handling differs between C libraries).
pub fn rtc_to_unix(t: &RtcTime, utc: bool) -> Option<i64> {
    let tm = to_tm(t);
    if utc {
        let mut tm = tm;
        // SAFETY: tm is a valid, writable struct tm.
        let r = unsafe { libc::timegm(&mut tm) };
        return (r != -1).then_some(r);
    }
    let t1 = mktime_no_dst(tm);
    let back = broken_down(t1, false)?;
    let t2 = mktime_no_dst(back);
    Some(t1 - (t2 - t1))
}

/// The RTC form of Unix time `t`, on UTC or local time.
pub fn unix_to_rtc(t: i64, utc: bool) -> Option<RtcTime> {
    let tm = broken_down(t, utc)?;
    Some(RtcTime {
        sec: tm.tm_sec,
        min: tm.tm_min,
        hour: tm.tm_hour,
        mday: tm.tm_mday,
        mon: tm.tm_mon,
        year: tm.tm_year,
        wday: tm.tm_wday,
        yday: tm.tm_yday,
        isdst: tm.tm_isdst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtc_time_matches_the_kernel_struct() {
        assert_eq!(std::mem::size_of::<RtcTime>(), 36);
        assert_eq!(RTC_RD_TIME >> 16 & 0x3fff, 36);
    }

    #[test]
    fn utc_round_trip() {
        // 2010-01-01 02:43:10 UTC.
        let t = 1_262_313_790;
        let r = unix_to_rtc(t, true).expect("gmtime");
        assert_eq!(
            (r.year, r.mon, r.mday, r.hour, r.min, r.sec),
            (110, 0, 1, 2, 43, 10)
        );
        assert_eq!(rtc_to_unix(&r, true), Some(t));
    }

    #[test]
    fn local_round_trip() {
        for t in [1_262_313_790, 1_277_900_000] {
            let r = unix_to_rtc(t, false).expect("localtime");
            assert_eq!(rtc_to_unix(&r, false), Some(t));
        }
    }

    #[test]
    fn missing_device() {
        let e = RtcDevice::open("/nonexistent/rtc", true).expect_err("no device");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
