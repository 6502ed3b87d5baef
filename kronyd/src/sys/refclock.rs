//! The system calls of the reference clock drivers: opening a device,
//! `ioctl` on PPS and PTP hardware clock devices with byte buffers, and
//! ntpd's System V shared memory segment. The layouts of what the buffers
//! hold are decoded in safe code (`crate::refclock`).
//!
//! Devices are opened with `open(2)` itself (not `open64`, which std uses):
//! clknetsim intercepts `open` to simulate `/dev/ptp*` and `/dev/pps0`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::ptr::NonNull;

use super::{SysError, check};

/// Opens a device for reading and writing (close-on-exec).
///
/// # Errors
/// [`SysError`] if the path has a NUL byte or `open` fails.
pub fn open_device(path: &Path) -> Result<OwnedFd, SysError> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| SysError::InvalidArgument(path.display().to_string()))?;
    // SAFETY: c is a NUL-terminated path; open takes no pointer beyond it.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR) };
    let fd = check(fd, || format!("open({})", path.display()))?;
    // SAFETY: fd was just returned by open and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: plain fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_GETFD) };
    if flags >= 0 {
        // SAFETY: as above; failure only leaves the descriptor inheritable.
        unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    }
    Ok(owned)
}

/// The size encoded in an ioctl request number (Linux `_IOC_SIZE`).
const fn ioc_size(request: u64) -> usize {
    ((request >> 16) & 0x3fff) as usize
}

/// `ioctl(fd, request, buf)` where `request` passes a pointer to a struct
/// of `_IOC_SIZE(request)` bytes, which `buf` holds (read and/or written
/// by the kernel according to the request).
///
/// # Errors
/// [`SysError::InvalidArgument`] if `buf` is shorter than the request's
/// size; [`SysError::Os`] if the call fails.
pub fn ioctl_buf(
    fd: BorrowedFd<'_>,
    request: u64,
    name: &str,
    buf: &mut super::Aligned<1280>,
) -> Result<(), SysError> {
    if ioc_size(request) > buf.0.len() {
        return Err(SysError::InvalidArgument(format!(
            "{name}: buffer too small"
        )));
    }
    // SAFETY: buf is 8-byte aligned, writable and at least as long as the
    // struct the request makes the kernel (or clknetsim) read or write.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::Ioctl, buf.0.as_mut_ptr()) };
    check(ret, || format!("ioctl({name})")).map(|_| ())
}

/// ntpd's shared memory segment (`struct shmTime`, 96 bytes on 64-bit
/// Linux), attached for the daemon's lifetime.
#[derive(Debug)]
pub struct ShmSegment {
    ptr: NonNull<u8>,
}

/// Size of `struct shmTime` on LP64.
pub const SHM_TIME_SIZE: usize = 96;

impl ShmSegment {
    /// `shmget(key, size, IPC_CREAT | perm)` and `shmat`.
    ///
    /// # Errors
    /// [`SysError`] with chronyd's names of the calls.
    pub fn attach(key: i32, perm: u32) -> Result<Self, SysError> {
        let flags = libc::IPC_CREAT | (perm & 0o777) as libc::c_int;
        // SAFETY: shmget takes no pointers.
        let id = unsafe { libc::shmget(key, SHM_TIME_SIZE, flags) };
        let id = check(id, || "shmget()".into())?;
        // SAFETY: attaching a segment the kernel (or clknetsim) gave us, at
        // an address it chooses.
        let p = unsafe { libc::shmat(id, std::ptr::null(), 0) };
        if p as isize == -1 {
            return Err(SysError::last("shmat()"));
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| SysError::last("shmat()"))?;
        Ok(ShmSegment { ptr })
    }

    /// Copies the segment (the writer may change it meanwhile, which the
    /// `count` field of mode 1 detects).
    pub fn read(&self) -> [u8; SHM_TIME_SIZE] {
        let mut out = [0u8; SHM_TIME_SIZE];
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: the segment is at least SHM_TIME_SIZE bytes and stays
            // attached while self lives; volatile because another process
            // writes it.
            *b = unsafe { std::ptr::read_volatile(self.ptr.as_ptr().add(i)) };
        }
        out
    }

    /// Writes a 32-bit field at byte `offset` (aligned, within the struct).
    pub fn write_i32(&self, offset: usize, value: i32) {
        if offset % 4 != 0 || offset + 4 > SHM_TIME_SIZE {
            return;
        }
        // SAFETY: in bounds and 4-byte aligned (the segment is page
        // aligned); volatile because another process reads it.
        unsafe { std::ptr::write_volatile(self.ptr.as_ptr().add(offset).cast::<i32>(), value) };
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: the address came from shmat and is detached once.
        unsafe { libc::shmdt(self.ptr.as_ptr().cast()) };
    }
}

/// Reads from a device descriptor (PHC external timestamp events).
///
/// # Errors
/// [`SysError`] if `read` fails.
pub fn read_device(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, SysError> {
    // SAFETY: buf is writable for its length.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(SysError::last("read()"));
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_sizes() {
        // PPS_FETCH, PTP_SYS_OFFSET, PTP_SYS_OFFSET_EXTENDED.
        assert_eq!(ioc_size(0xc008_70a4), 8);
        assert_eq!(ioc_size(0x4340_3d05), 832);
        assert_eq!(ioc_size(0xc4c0_3d09), 1216);
    }

    #[test]
    fn missing_device_is_an_error() {
        let e = open_device(Path::new("/nonexistent/ptp9")).unwrap_err();
        assert!(e.to_string().contains("open(/nonexistent/ptp9)"), "{e}");
    }
}
