//! `-F LEVEL`: the seccomp system call filter, as chronyd's
//! (`sys_linux.c`). Level 1 allows only the calls kronyd and the libraries
//! it uses make (sockets of chosen domains, chosen socket options, fcntl
//! commands and ioctls); level 2 allows everything but process creation,
//! `execve` and `ptrace`. A positive level kills the process on a blocked
//! call, a negative one sends it SIGSYS (for debugging).
//!
//! The filter is built with `seccompiler` and installed once, for every
//! thread, through libc's `prctl` and `syscall`.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Why the filter could not be installed (chronyd's fatal messages).
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// Not 1, 2, -1 or -2.
    #[error("Unsupported filter level")]
    UnsupportedLevel,
    /// The rules could not be compiled (e.g. an unsupported architecture).
    #[error("Failed to add seccomp rules")]
    Rules(#[source] seccompiler::Error),
    /// The kernel refused the program.
    #[error("Failed to load seccomp rules")]
    Load(#[source] seccompiler::Error),
}

/// Calls allowed at level 1 without looking at their arguments.
const ALLOWED: &[libc::c_long] = &[
    // Clock.
    libc::SYS_adjtimex,
    libc::SYS_clock_adjtime,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    // Process and threads (the resolver thread, std's runtime).
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_getpid,
    libc::SYS_gettid,
    libc::SYS_getrlimit,
    libc::SYS_prlimit64,
    libc::SYS_getuid,
    libc::SYS_geteuid,
    libc::SYS_getgid,
    libc::SYS_getegid,
    libc::SYS_membarrier,
    libc::SYS_rseq,
    libc::SYS_rt_sigaction,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_set_tid_address,
    libc::SYS_set_robust_list,
    libc::SYS_sched_yield,
    libc::SYS_sched_getaffinity,
    libc::SYS_tgkill,
    libc::SYS_wait4,
    libc::SYS_futex,
    // Memory.
    libc::SYS_brk,
    libc::SYS_madvise,
    libc::SYS_mmap,
    libc::SYS_mprotect,
    libc::SYS_mremap,
    libc::SYS_munmap,
    libc::SYS_shmdt,
    libc::SYS_shmat,
    libc::SYS_shmget,
    // Files.
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_fchown,
    libc::SYS_fchownat,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_getdents64,
    libc::SYS_lseek,
    libc::SYS_readlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_unlinkat,
    libc::SYS_mkdirat,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_ftruncate,
    libc::SYS_flock,
    libc::SYS_openat,
    libc::SYS_close,
    libc::SYS_read,
    libc::SYS_pread64,
    libc::SYS_readv,
    libc::SYS_write,
    libc::SYS_writev,
    libc::SYS_pipe2,
    libc::SYS_dup,
    libc::SYS_dup3,
    // Sockets.
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_bind,
    libc::SYS_connect,
    libc::SYS_listen,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_getsockopt,
    libc::SYS_recvfrom,
    libc::SYS_recvmmsg,
    libc::SYS_recvmsg,
    libc::SYS_sendmmsg,
    libc::SYS_sendmsg,
    libc::SYS_sendto,
    libc::SYS_shutdown,
    // Waiting.
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_restart_syscall,
    // Miscellaneous.
    libc::SYS_getrandom,
    libc::SYS_sysinfo,
    libc::SYS_uname,
];

/// Legacy calls of x86_64 (aarch64 has only the `*at` forms).
#[cfg(target_arch = "x86_64")]
const ALLOWED_LEGACY: &[libc::c_long] = &[
    libc::SYS_time,
    libc::SYS_access,
    libc::SYS_chmod,
    libc::SYS_chown,
    libc::SYS_lstat,
    libc::SYS_stat,
    libc::SYS_getdents,
    libc::SYS_readlink,
    libc::SYS_rename,
    libc::SYS_unlink,
    libc::SYS_mkdir,
    libc::SYS_open,
    libc::SYS_pipe,
    libc::SYS_poll,
    libc::SYS_select,
];
#[cfg(not(target_arch = "x86_64"))]
const ALLOWED_LEGACY: &[libc::c_long] = &[];

/// Calls blocked at level 2.
const DENIED: &[libc::c_long] = &[
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_ptrace,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_fork,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_vfork,
];

/// Socket domains that may be opened (netlink for the interface list).
const SOCKET_DOMAINS: &[libc::c_int] = &[
    libc::AF_NETLINK,
    libc::AF_UNIX,
    libc::AF_INET,
    libc::AF_INET6,
];

/// Socket options that may be set.
const SOCKET_OPTIONS: &[(libc::c_int, libc::c_int)] = &[
    (libc::SOL_IP, libc::IP_PKTINFO),
    (libc::SOL_IP, libc::IP_FREEBIND),
    (libc::SOL_IP, libc::IP_TOS),
    (libc::SOL_IPV6, libc::IPV6_V6ONLY),
    (libc::SOL_IPV6, libc::IPV6_RECVPKTINFO),
    (libc::SOL_IPV6, libc::IPV6_TCLASS),
    (libc::SOL_SOCKET, libc::SO_BINDTODEVICE),
    (libc::SOL_SOCKET, libc::SO_BROADCAST),
    (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMPNS),
    (libc::SOL_SOCKET, libc::SO_SELECT_ERR_QUEUE),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMPING),
    (libc::SOL_SOCKET, libc::SO_RCVBUF),
    (libc::SOL_SOCKET, libc::SO_SNDBUF),
    (libc::SOL_SOCKET, libc::SO_PASSCRED),
    // glibc's DNS resolver (the resolver thread's getaddrinfo).
    (libc::SOL_IP, libc::IP_RECVERR),
    (libc::SOL_IPV6, libc::IPV6_RECVERR),
];

/// fcntl commands that may be used.
const FCNTLS: &[libc::c_int] = &[libc::F_GETFD, libc::F_SETFD, libc::F_GETFL, libc::F_SETFL];

/// ioctl requests that may be made: terminal queries of libc, the RTC,
/// PHC and PPS devices, interface and timestamping set-up.
const IOCTLS: &[u64] = &[
    0x541b,      // FIONREAD
    0x5401,      // TCGETS
    0x5413,      // TIOCGWINSZ
    0x4010_3d02, // PTP_EXTTS_REQUEST
    0x4340_3d05, // PTP_SYS_OFFSET
    0x4060_3d07, // PTP_PIN_SETFUNC
    0xc4c0_3d09, // PTP_SYS_OFFSET_EXTENDED
    0xc040_3d08, // PTP_SYS_OFFSET_PRECISE
    0xc008_70a4, // PPS_FETCH
    0x8024_7009, // RTC_RD_TIME
    0x4024_700a, // RTC_SET_TIME
    0x7003,      // RTC_UIE_ON
    0x7004,      // RTC_UIE_OFF
    0x8946,      // SIOCETHTOOL
    0x8933,      // SIOCGIFINDEX
];

fn rule(conds: &[(u8, u64)]) -> Result<SeccompRule, seccompiler::BackendError> {
    let conds = conds
        .iter()
        .map(|&(arg, value)| {
            SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
        })
        .collect::<Result<Vec<_>, _>>()?;
    SeccompRule::new(conds)
}

/// The rules of level 1: calls allowed, some only with given arguments.
fn allow_rules() -> Result<BTreeMap<i64, Vec<SeccompRule>>, seccompiler::BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for &nr in ALLOWED.iter().chain(ALLOWED_LEGACY) {
        rules.insert(nr, Vec::new());
    }
    // The u32 casts keep the bit patterns the kernel compares (32-bit
    // arguments).
    let socket = SOCKET_DOMAINS
        .iter()
        .map(|&d| rule(&[(0, u64::from(d as u32))]))
        .collect::<Result<_, _>>()?;
    rules.insert(libc::SYS_socket, socket);
    let setsockopt = SOCKET_OPTIONS
        .iter()
        .map(|&(l, o)| rule(&[(1, u64::from(l as u32)), (2, u64::from(o as u32))]))
        .collect::<Result<_, _>>()?;
    rules.insert(libc::SYS_setsockopt, setsockopt);
    let fcntl = FCNTLS
        .iter()
        .map(|&c| rule(&[(1, u64::from(c as u32))]))
        .collect::<Result<_, _>>()?;
    rules.insert(libc::SYS_fcntl, fcntl);
    let ioctl = IOCTLS
        .iter()
        .map(|&r| rule(&[(1, r)]))
        .collect::<Result<_, _>>()?;
    rules.insert(libc::SYS_ioctl, ioctl);
    // std names its threads with prctl(PR_SET_NAME).
    let prctl = vec![rule(&[(0, libc::PR_SET_NAME as u64)])?];
    rules.insert(libc::SYS_prctl, prctl);
    Ok(rules)
}

/// Compiles the filter of `level` (1, 2, or negated for SIGSYS).
///
/// # Errors
/// [`FilterError`] for another level or rules the architecture lacks.
pub fn compile(level: i32) -> Result<BpfProgram, FilterError> {
    let deny = if level > 0 {
        SeccompAction::KillProcess
    } else {
        SeccompAction::Trap
    };
    let rules_error = |e: seccompiler::BackendError| FilterError::Rules(e.into());
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(rules_error)?;
    let filter = match level.unsigned_abs() {
        1 => SeccompFilter::new(
            allow_rules().map_err(rules_error)?,
            deny,
            SeccompAction::Allow,
            arch,
        ),
        2 => SeccompFilter::new(
            DENIED.iter().map(|&nr| (nr, Vec::new())).collect(),
            SeccompAction::Allow,
            deny,
            arch,
        ),
        _ => return Err(FilterError::UnsupportedLevel),
    }
    .map_err(rules_error)?;
    filter.try_into().map_err(rules_error)
}

/// Installs the filter of `level` in every thread of the process.
///
/// # Errors
/// [`FilterError`] as for [`compile`], or when the kernel refuses it.
pub fn enable(level: i32) -> Result<(), FilterError> {
    let program = compile(level)?;
    seccompiler::apply_filter_all_threads(&program).map_err(FilterError::Load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        for level in [1, 2, -1, -2] {
            let p = compile(level).expect("compiles");
            assert!(!p.is_empty());
        }
        assert!(matches!(compile(3), Err(FilterError::UnsupportedLevel)));
        assert_eq!(
            FilterError::UnsupportedLevel.to_string(),
            "Unsupported filter level"
        );
    }

    #[test]
    fn rtc_ioctls_match_the_driver() {
        // The numbers sys::rtc uses (its own constants).
        for r in [0x8024_7009u64, 0x4024_700a, 0x7003, 0x7004] {
            assert!(IOCTLS.contains(&r));
        }
    }
}
