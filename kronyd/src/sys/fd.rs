//! Thin safe wrappers over the descriptor and socket calls, one unsafe call
//! each. Higher layers (`socket`, `unix`) never touch raw pointers.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::sockaddr::RawAddr;
use super::{SysError, check};

/// Opens a socket as clknetsim requires: the plain type (no SOCK_NONBLOCK or
/// SOCK_CLOEXEC, which clknetsim rejects), then O_NONBLOCK and FD_CLOEXEC by fcntl.
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> Result<OwnedFd, SysError> {
    // SAFETY: socket() takes no pointers.
    let fd = check(unsafe { libc::socket(domain, ty, 0) }, || {
        format!("socket({domain}, {ty})")
    })?;
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_nonblock_cloexec(owned.as_fd())?;
    Ok(owned)
}

/// fcntl(2) with an int argument (or none, for the F_GET* commands).
fn fcntl(fd: BorrowedFd<'_>, cmd: libc::c_int, arg: libc::c_int) -> Result<libc::c_int, SysError> {
    // SAFETY: the commands used here (F_GETFL, F_SETFL, F_GETFD, F_SETFD) take
    // an int or nothing, never a pointer; fd is a live descriptor.
    let ret = unsafe { libc::fcntl(fd.as_raw_fd(), cmd, arg) };
    check(ret, || format!("fcntl({cmd})"))
}

/// Makes a descriptor non-blocking and close-on-exec.
pub(crate) fn set_nonblock_cloexec(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    let fl = fcntl(fd, libc::F_GETFL, 0)?;
    fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK)?;
    let fd_flags = fcntl(fd, libc::F_GETFD, 0)?;
    fcntl(fd, libc::F_SETFD, fd_flags | libc::FD_CLOEXEC)?;
    Ok(())
}

/// setsockopt with an int value.
pub(crate) fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> Result<(), SysError> {
    set_bytes_option(fd, level, name, &value.to_ne_bytes())
}

/// setsockopt with a byte-string value (e.g. SO_BINDTODEVICE's interface name).
pub(crate) fn set_bytes_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> Result<(), SysError> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| SysError::InvalidArgument("socket option too long".into()))?;
    // SAFETY: value points to len readable bytes for the duration of the call.
    let ret = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) };
    check(ret, || format!("setsockopt({level}, {name})")).map(drop)
}

/// getsockopt of an int value.
pub(crate) fn get_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> Result<libc::c_int, SysError> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for writes of the sizes given.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    check(ret, || format!("getsockopt({level}, {name})"))?;
    Ok(value)
}

/// bind(2).
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: addr.buf holds addr.len initialised bytes of a sockaddr, aligned.
    let ret = unsafe { libc::bind(fd.as_raw_fd(), addr.buf.0.as_ptr().cast(), addr.socklen()) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// connect(2); EINPROGRESS (a non-blocking stream socket) is success.
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: as in bind.
    let ret = unsafe { libc::connect(fd.as_raw_fd(), addr.buf.0.as_ptr().cast(), addr.socklen()) };
    let err = io::Error::last_os_error();
    if ret < 0 && err.raw_os_error() != Some(libc::EINPROGRESS) {
        Err(err)
    } else {
        Ok(())
    }
}

/// getsockname(2).
pub(crate) fn local_name(fd: BorrowedFd<'_>) -> Result<RawAddr, SysError> {
    let mut addr = RawAddr::empty();
    let mut len = addr.socklen();
    // SAFETY: addr.buf is writable for len bytes and aligned for sockaddr.
    let ret =
        unsafe { libc::getsockname(fd.as_raw_fd(), addr.buf.0.as_mut_ptr().cast(), &mut len) };
    check(ret, || "getsockname()".into())?;
    addr.len = (len as usize).min(addr.buf.0.len());
    Ok(addr)
}

/// What recvmsg returned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RecvResult {
    /// Bytes of data received (at most the buffer's length).
    pub len: usize,
    /// Bytes of the sender's address written (recvmmsg only: recvmsg sets
    /// the name's length itself).
    pub name_len: usize,
    /// Bytes of control messages written.
    pub control_len: usize,
    /// msg_flags (MSG_TRUNC, MSG_CTRUNC, MSG_ERRQUEUE).
    pub flags: libc::c_int,
}

/// recvmsg(2) with one iovec (clknetsim supports only one). `Ok(None)` when
/// nothing is waiting (EAGAIN) or the call was interrupted.
pub(crate) fn recvmsg(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    name: &mut RawAddr,
    control: &mut [u8],
    flags: libc::c_int,
) -> io::Result<Option<RecvResult>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct; all zeroes (null pointers, zero
    // lengths) is a valid value, and we set every field we use below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.buf.0.as_mut_ptr().cast();
    msg.msg_namelen = name.buf.0.len() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // SAFETY: every pointer in msg refers to a live buffer of the stated
    // length (buf via iov, name.buf, control), all outliving the call.
    let ret = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(err),
        };
    }
    name.len = (msg.msg_namelen as usize).min(name.buf.0.len());
    Ok(Some(RecvResult {
        // OK because ret >= 0 here.
        len: (ret as usize).min(buf.len()),
        name_len: name.len,
        control_len: (msg.msg_controllen as usize).min(control.len()),
        flags: msg.msg_flags,
    }))
}

/// Most messages one [`recvmmsg`] call reads (chronyd reads 16).
pub(crate) const MAX_MMSG: usize = 16;

/// One message of [`recvmmsg`]: where its data, its sender's address and
/// its control messages go.
pub(crate) struct MsgSlot<'a> {
    /// The data buffer (one iovec).
    pub buf: &'a mut [u8],
    /// The sender's address.
    pub name: &'a mut RawAddr,
    /// Room for control messages.
    pub control: &'a mut [u8],
}

/// recvmmsg(2): up to [`MAX_MMSG`] datagrams in one call, one iovec each,
/// as chronyd reads its sockets; the slots beyond [`MAX_MMSG`] are not
/// used. Returns how many were read (0 when nothing is waiting, EAGAIN, or
/// the call was interrupted); `results[i]` then describes slot `i`. The
/// headers live on the stack: a call allocates nothing (it runs once per
/// wake-up of a busy server).
// msg_controllen is size_t on glibc but socklen_t on musl (the cast is
// needed there).
#[allow(clippy::unnecessary_cast)]
pub(crate) fn recvmmsg<'a>(
    fd: BorrowedFd<'_>,
    slots: impl IntoIterator<Item = MsgSlot<'a>>,
    results: &mut [RecvResult; MAX_MMSG],
) -> io::Result<usize> {
    // SAFETY: iovec and mmsghdr are plain C structs; all zeroes (null
    // pointers, zero lengths) is a valid value of each.
    let mut iovs: [libc::iovec; MAX_MMSG] = unsafe { std::mem::zeroed() };
    // SAFETY: as above; every field used is set below.
    let mut msgs: [libc::mmsghdr; MAX_MMSG] = unsafe { std::mem::zeroed() };
    // The lengths offered, which bound what the kernel reports.
    let mut room = [(0usize, 0usize, 0usize); MAX_MMSG];
    let mut n = 0;
    for (((s, iov), m), room) in slots
        .into_iter()
        .zip(&mut iovs)
        .zip(&mut msgs)
        .zip(&mut room)
    {
        iov.iov_base = s.buf.as_mut_ptr().cast();
        iov.iov_len = s.buf.len();
        m.msg_hdr.msg_name = s.name.buf.0.as_mut_ptr().cast();
        m.msg_hdr.msg_namelen = s.name.buf.0.len() as libc::socklen_t;
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
        m.msg_hdr.msg_control = s.control.as_mut_ptr().cast();
        m.msg_hdr.msg_controllen = s.control.len() as _;
        *room = (s.buf.len(), s.name.buf.0.len(), s.control.len());
        n += 1;
    }
    if n == 0 {
        return Ok(0);
    }
    // OK because n <= MAX_MMSG.
    let vlen = n as libc::c_uint;
    // SAFETY: the first vlen headers point at live buffers of the stated
    // lengths (the slots' buffers, names and controls, borrowed for 'a, and
    // iovs, which stays in place until the call returns); a null timeout is
    // allowed.
    let ret = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            vlen,
            0,
            std::ptr::null_mut(),
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        return match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
            _ => Err(err),
        };
    }
    // OK because ret >= 0 here.
    let got = (ret as usize).min(n);
    for ((m, (buf, name, control)), r) in msgs[..got].iter().zip(room).zip(results) {
        *r = RecvResult {
            len: (m.msg_len as usize).min(buf),
            name_len: (m.msg_hdr.msg_namelen as usize).min(name),
            control_len: (m.msg_hdr.msg_controllen as usize).min(control),
            flags: m.msg_hdr.msg_flags,
        };
    }
    Ok(got)
}

/// sendmsg(2) with one iovec, an optional destination and control messages.
pub(crate) fn sendmsg(
    fd: BorrowedFd<'_>,
    data: &[u8],
    to: Option<&RawAddr>,
    control: &mut [u8],
) -> io::Result<usize> {
    let mut iov = libc::iovec {
        // sendmsg does not write through iov_base; the cast to *mut is what the
        // C declaration wants.
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: as in recvmsg, all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    if let Some(to) = to {
        msg.msg_name = to.buf.0.as_ptr().cast_mut().cast();
        msg.msg_namelen = to.socklen();
    }
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
    }
    // SAFETY: every pointer in msg refers to a live buffer of the stated length.
    let ret = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, 0) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        // OK because ret >= 0.
        Ok(ret as usize)
    }
}
