//! Process privileges, as chronyd handles them (main.c, sys_linux.c,
//! sys_posix.c): `-u USER` (drop root after the sockets are bound, keeping
//! only the capabilities still needed), `-m` (lock memory), `-P` (SCHED_FIFO).
//!
//! Capabilities are set with the C library's `capset` (glibc and musl export
//! it; the libc crate does not declare it), not a raw system call.

use std::ffi::{CStr, CString};

use super::{SysError, check};

/// A user to run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

/// Looks a user up in the password database (getpwnam_r).
///
/// # Errors
/// [`SysError::NoSuchUser`] (chronyd's message "Could not get user/group ID of
/// USER") if there is no such user or the lookup fails.
pub fn lookup_user(name: &str) -> Result<User, SysError> {
    let missing = || SysError::NoSuchUser(name.to_string());
    let cname = CString::new(name).map_err(|_| missing())?;
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: passwd is a plain C struct; all zeroes (null pointers) is valid
    // and getpwnam_r overwrites it.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: cname is NUL-terminated; pw, buf (buf.len() bytes) and result
    // are valid for writes for the duration of the call.
    let ret = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if ret != 0 || result.is_null() {
        return Err(missing());
    }
    Ok(User {
        name: name.to_string(),
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

/// The effective uid of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() }
}

/// The real uid of this process (chronyd refuses to start when it is not 0,
/// unless -U or -x ... is given; the caller decides).
pub fn real_uid() -> u32 {
    // SAFETY: getuid takes no arguments and cannot fail.
    unsafe { libc::getuid() }
}

/// A Linux capability kronyd may keep (linux/capability.h numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// CAP_NET_BIND_SERVICE (10): bind ports below 1024 (a server port
    /// re-opened after dropping root).
    NetBindService,
    /// CAP_NET_RAW (13): SO_BINDTODEVICE on kernels before 5.7.
    NetRaw,
    /// CAP_SYS_TIME (25): adjust the clock.
    SysTime,
}

impl Capability {
    fn number(self) -> u32 {
        match self {
            Capability::NetBindService => 10,
            Capability::NetRaw => 13,
            Capability::SysTime => 25,
        }
    }
}

/// The capabilities chronyd keeps after dropping root: NET_BIND_SERVICE when
/// the NTP port is privileged, NET_RAW when binding to a device on a kernel
/// before 5.7, SYS_TIME when it controls the clock.
pub fn capabilities_to_keep(
    ntp_port: u16,
    binds_device: bool,
    kernel: (u32, u32, u32),
    clock_control: bool,
) -> Vec<Capability> {
    let mut caps = Vec::new();
    if (1..1024).contains(&ntp_port) {
        caps.push(Capability::NetBindService);
    }
    if binds_device && kernel < (5, 7, 0) {
        caps.push(Capability::NetRaw);
    }
    if clock_control {
        caps.push(Capability::SysTime);
    }
    caps
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two 32-bit words.
const CAP_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

// SAFETY: glibc and musl export capset(2) with this signature (the libc crate
// does not declare it); it reads a header and two data structs.
unsafe extern "C" {
    fn capset(header: *mut CapHeader, data: *const CapData) -> libc::c_int;
    #[cfg(test)]
    fn capget(header: *mut CapHeader, data: *mut CapData) -> libc::c_int;
}

/// The capset data that makes `caps` effective and permitted, and nothing else.
fn cap_data(caps: &[Capability]) -> [CapData; 2] {
    let mut data = [CapData::default(); 2];
    for cap in caps {
        let n = cap.number();
        let word = &mut data[(n / 32) as usize];
        word.effective |= 1 << (n % 32);
        word.permitted |= 1 << (n % 32);
    }
    data
}

/// Drops root to `user` keeping only `caps`: PR_SET_KEEPCAPS, drop the
/// supplementary groups, setgid, setuid, then capset. Call after binding the
/// sockets and opening the files that need root.
///
/// # Errors
/// [`SysError`] naming the call that failed; the caller must exit then, as
/// chronyd does (running half-privileged is worse than not running).
pub fn drop_root(user: &User, caps: &[Capability]) -> Result<(), SysError> {
    // SAFETY: prctl(PR_SET_KEEPCAPS, 1) takes integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong) };
    check(ret, || "prctl(PR_SET_KEEPCAPS)".into())?;
    // SAFETY: a zero-length list with a null pointer is valid for setgroups.
    let ret = unsafe { libc::setgroups(0, std::ptr::null()) };
    check(ret, || "setgroups()".into())?;
    // SAFETY: setgid takes an integer.
    let ret = unsafe { libc::setgid(user.gid) };
    check(ret, || format!("setgid({})", user.gid))?;
    // SAFETY: setuid takes an integer.
    let ret = unsafe { libc::setuid(user.uid) };
    check(ret, || format!("setuid({})", user.uid))?;
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = cap_data(caps);
    // SAFETY: header is a valid header and data holds the two structs
    // version 3 requires.
    let ret = unsafe { capset(&mut header, data.as_ptr()) };
    check(ret, || "capset()".into()).map(drop)
}

/// Locks the process into RAM (`-m`, `lock_all`): lifts RLIMIT_MEMLOCK, then
/// mlockall(MCL_CURRENT | MCL_FUTURE), as chronyd.
///
/// # Errors
/// [`SysError`] if either call fails (chronyd logs it and carries on).
pub fn lock_memory() -> Result<(), SysError> {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: unlimited is a valid rlimit read by the call.
    let ret = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    check(ret, || "setrlimit(RLIMIT_MEMLOCK)".into())?;
    // SAFETY: mlockall takes flags only.
    let ret = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    check(ret, || "mlockall()".into()).map(drop)
}

/// The SCHED_FIFO priority for `-P PRIORITY` / `sched_priority`: 1..=99,
/// clamped into the system's range.
///
/// # Errors
/// [`SysError::InvalidArgument`] "Bad scheduler priority" outside 1..=99.
pub fn fifo_priority(priority: i32, min: i32, max: i32) -> Result<i32, SysError> {
    if !(1..=99).contains(&priority) {
        return Err(SysError::InvalidArgument(format!(
            "Bad scheduler priority: {priority}"
        )));
    }
    Ok(priority.clamp(min, max))
}

/// Switches the process to SCHED_FIFO at `priority` (`-P`).
///
/// # Errors
/// [`SysError`] for a bad priority or if the kernel refuses (chronyd logs
/// "pthread_setschedparam() failed" and carries on).
pub fn set_fifo_scheduler(priority: i32) -> Result<i32, SysError> {
    // SAFETY: these take a policy number only.
    let (min, max) = unsafe {
        (
            libc::sched_get_priority_min(libc::SCHED_FIFO),
            libc::sched_get_priority_max(libc::SCHED_FIFO),
        )
    };
    let prio = fifo_priority(priority, min, max)?;
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: param is a valid sched_param read by the call; pid 0 is us.
    let ret = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    check(ret, || "sched_setscheduler(SCHED_FIFO)".into())?;
    Ok(prio)
}

/// The name of the user with `uid`, for messages (None if unknown).
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16384];
    // SAFETY: as in lookup_user.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: pw, buf and result are valid for writes during the call.
    let ret = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
    if ret != 0 || result.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points to a NUL-terminated string inside buf,
    // which is still alive here.
    let name = unsafe { CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_missing_users_are_reported_like_chronyd() {
        let root = lookup_user("root").expect("root");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(user_name(0).as_deref(), Some("root"));
        let e = lookup_user("no-such-krony-user").expect_err("missing");
        assert_eq!(
            e.to_string(),
            "Could not get user/group ID of no-such-krony-user"
        );
        assert!(lookup_user("bad\0name").is_err());
        assert!(lookup_user("").is_err());
    }

    #[test]
    fn our_own_uid_has_a_name() {
        let me = effective_uid();
        if let Some(name) = user_name(me) {
            assert_eq!(lookup_user(&name).expect("self").uid, me);
        }
        let _ = real_uid();
    }

    #[test]
    fn capabilities_kept_follow_chronyd() {
        use Capability::*;
        assert_eq!(
            capabilities_to_keep(123, false, (6, 1, 0), true),
            vec![NetBindService, SysTime]
        );
        assert_eq!(
            capabilities_to_keep(0, false, (6, 1, 0), true),
            vec![SysTime]
        );
        assert_eq!(
            capabilities_to_keep(11123, true, (5, 6, 9), false),
            vec![NetRaw]
        );
        assert_eq!(capabilities_to_keep(11123, true, (5, 7, 0), false), vec![]);
    }

    #[test]
    fn capability_bits() {
        let d = cap_data(&[Capability::SysTime, Capability::NetBindService]);
        let bits = (1 << 25) | (1 << 10);
        assert_eq!(
            d[0],
            CapData {
                effective: bits,
                permitted: bits,
                inheritable: 0
            }
        );
        assert_eq!(d[1], CapData::default());
        assert_eq!(cap_data(&[]), [CapData::default(); 2]);
        assert_eq!(std::mem::size_of::<CapHeader>(), 8);
        assert_eq!(std::mem::size_of::<CapData>(), 12);
    }

    /// Drops root in a forked child (never in the test process) and checks
    /// its ids and capabilities. Runs only as root.
    #[test]
    fn drop_root_in_a_child_keeps_only_the_given_capability() {
        if effective_uid() != 0 {
            eprintln!("not root; skipped");
            return;
        }
        let Ok(nobody) = lookup_user("nobody") else {
            eprintln!("no user nobody; skipped");
            return;
        };
        // SAFETY: the child only makes system calls and exits with _exit; it
        // does not return into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            let code = match drop_root(&nobody, &[Capability::SysTime]) {
                Err(_) => 10,
                Ok(()) => {
                    let mut header = CapHeader {
                        version: CAP_VERSION_3,
                        pid: 0,
                    };
                    let mut data = [CapData::default(); 2];
                    // SAFETY: valid header and room for two data structs.
                    let ret = unsafe { capget(&mut header, data.as_mut_ptr()) };
                    let ids_ok = real_uid() == nobody.uid && effective_uid() == nobody.uid;
                    if ret != 0 {
                        11
                    } else if !ids_ok {
                        12
                    } else if data[0].effective != 1 << 25 || data[0].permitted != 1 << 25 {
                        13
                    } else {
                        0
                    }
                }
            };
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: pid is our child; status is writable.
        let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(waited, pid);
        assert!(libc::WIFEXITED(status), "child status {status}");
        assert_eq!(libc::WEXITSTATUS(status), 0, "child check failed");
        assert_eq!(effective_uid(), 0, "the test process keeps root");
    }

    #[test]
    fn scheduler_priorities() {
        assert_eq!(fifo_priority(50, 1, 99).expect("ok"), 50);
        assert_eq!(fifo_priority(99, 1, 50).expect("ok"), 50);
        assert!(fifo_priority(0, 1, 99).is_err());
        let e = fifo_priority(100, 1, 99).expect_err("bad");
        assert!(e.to_string().contains("Bad scheduler priority: 100"));
    }
}
