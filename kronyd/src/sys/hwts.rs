//! Hardware timestamping of network interfaces (chrony's
//! `ntp_io_linux.c`, `add_interface`): what an interface can do
//! (`SIOCETHTOOL` with `ETHTOOL_GET_TS_INFO`), switching its timestamping
//! on (`SIOCSHWTSTAMP`, or checking with `SIOCGHWTSTAMP` that it already
//! is), its index (`SIOCGIFINDEX`), the names of all interfaces
//! (`getifaddrs`), and its PTP hardware clock (`/dev/ptpN`) read against
//! the system clock (`PTP_SYS_OFFSET_PRECISE`, `_EXTENDED` or plain).
//!
//! Every ioctl goes through libc on a `socket(AF_INET, SOCK_DGRAM, 0)`,
//! which clknetsim intercepts and answers with its simulated NICs.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

use krony_wire::UnixTime;

use super::{SysError, fd};

/// `ETHTOOL_GET_TS_INFO` (linux/ethtool.h).
const ETHTOOL_GET_TS_INFO: u32 = 0x41;
/// `HWTSTAMP_TX_ON` (linux/net_tstamp.h).
pub const HWTSTAMP_TX_ON: i32 = 1;
/// `HWTSTAMP_FILTER_NONE`.
pub const FILTER_NONE: i32 = 0;
/// `HWTSTAMP_FILTER_ALL`.
pub const FILTER_ALL: i32 = 1;
/// `HWTSTAMP_FILTER_PTP_V2_L4_EVENT`.
pub const FILTER_PTP_V2_L4_EVENT: i32 = 6;
/// `HWTSTAMP_FILTER_PTP_V2_EVENT`.
pub const FILTER_PTP_V2_EVENT: i32 = 12;
/// `HWTSTAMP_FILTER_NTP_ALL`.
pub const FILTER_NTP_ALL: i32 = 15;

/// `struct ethtool_ts_info`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct EthtoolTsInfo {
    cmd: u32,
    so_timestamping: u32,
    phc_index: i32,
    tx_types: u32,
    tx_reserved: [u32; 3],
    rx_filters: u32,
    rx_reserved: [u32; 3],
}

/// `ETHTOOL_GSET` (linux/ethtool.h).
const ETHTOOL_GSET: u32 = 0x1;

/// `struct ethtool_cmd` (the legacy link settings).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

/// `struct hwtstamp_config`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct HwTstampConfig {
    flags: i32,
    tx_type: i32,
    rx_filter: i32,
}

/// The union of `struct ifreq` that these requests use.
#[repr(C)]
union IfrIfru {
    data: *mut libc::c_void,
    ifindex: libc::c_int,
    _size: [u8; 24],
}

/// `struct ifreq` (40 bytes on 64-bit Linux: 16 for the name, 24 for the
/// union).
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    ifru: IfrIfru,
}

/// What an interface's driver says about its timestamping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsInfo {
    /// SOF_TIMESTAMPING_* capabilities.
    pub so_timestamping: u32,
    /// Index of its PTP hardware clock (`/dev/ptpN`), negative if none.
    pub phc_index: i32,
    /// Bit set of the HWTSTAMP_FILTER_* receive filters it supports.
    pub rx_filters: u32,
}

/// A socket for interface ioctls.
#[derive(Debug)]
pub struct IfControl {
    fd: OwnedFd,
}

impl IfControl {
    /// Opens the UDP socket the ioctls are made on.
    ///
    /// # Errors
    /// The socket call's error.
    pub fn new() -> Result<Self, SysError> {
        // An IPv6 socket where IPv4 is not available (chronyd -6 under
        // clknetsim refuses AF_INET sockets).
        let fd = fd::socket(libc::AF_INET, libc::SOCK_DGRAM)
            .or_else(|_| fd::socket(libc::AF_INET6, libc::SOCK_DGRAM))?;
        Ok(IfControl { fd })
    }

    fn request(name: &str, data: *mut libc::c_void) -> Result<IfReq, SysError> {
        let bytes = name.as_bytes();
        if bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
            return Err(SysError::InvalidArgument(format!("interface name {name}")));
        }
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            ifru: IfrIfru { _size: [0; 24] },
        };
        req.ifru.data = data;
        for (d, s) in req.name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        Ok(req)
    }

    fn ioctl(&self, request: libc::c_ulong, req: &mut IfReq, op: &str) -> Result<(), SysError> {
        // SAFETY: `req` is a valid, initialised ifreq whose data pointer (if
        // the request uses one) points to a live struct of the type the
        // request expects; the kernel (or clknetsim) writes within them.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), request as _, req as *mut IfReq) };
        if r < 0 {
            return Err(SysError::Os {
                op: format!("ioctl({op})"),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// The interface's index.
    ///
    /// # Errors
    /// `ioctl(SIOCGIFINDEX)`'s error (e.g. no such device).
    pub fn index(&self, name: &str) -> Result<u32, SysError> {
        let mut req = Self::request(name, std::ptr::null_mut())?;
        self.ioctl(libc::SIOCGIFINDEX, &mut req, "SIOCGIFINDEX")?;
        // SAFETY: the union is plain old data, fully initialised above, and
        // SIOCGIFINDEX stored ifr_ifindex in it.
        let index = unsafe { req.ifru.ifindex };
        u32::try_from(index).map_err(|_| SysError::InvalidArgument(format!("index {index}")))
    }

    /// The interface's timestamping capabilities.
    ///
    /// # Errors
    /// `ioctl(SIOCETHTOOL)`'s error.
    pub fn ts_info(&self, name: &str) -> Result<TsInfo, SysError> {
        let mut info = EthtoolTsInfo {
            cmd: ETHTOOL_GET_TS_INFO,
            ..EthtoolTsInfo::default()
        };
        let mut req = Self::request(name, (&raw mut info).cast())?;
        self.ioctl(libc::SIOCETHTOOL, &mut req, "SIOCETHTOOL")?;
        Ok(TsInfo {
            so_timestamping: info.so_timestamping,
            phc_index: info.phc_index,
            rx_filters: info.rx_filters,
        })
    }

    /// The interface's link speed in Mb/s (`ETHTOOL_GSET`); 0 when the
    /// driver does not know it.
    ///
    /// # Errors
    /// `ioctl(SIOCETHTOOL)`'s error.
    pub fn link_speed(&self, name: &str) -> Result<u32, SysError> {
        let mut cmd = EthtoolCmd {
            cmd: ETHTOOL_GSET,
            ..EthtoolCmd::default()
        };
        let mut req = Self::request(name, (&raw mut cmd).cast())?;
        self.ioctl(libc::SIOCETHTOOL, &mut req, "SIOCETHTOOL")?;
        let speed = u32::from(cmd.speed) | u32::from(cmd.speed_hi) << 16;
        // SPEED_UNKNOWN is all ones.
        Ok(if speed == u32::MAX { 0 } else { speed })
    }

    /// Switches hardware timestamping on: TX on and `rx_filter`.
    ///
    /// # Errors
    /// `ioctl(SIOCSHWTSTAMP)`'s error.
    pub fn set_hwtstamp(&self, name: &str, rx_filter: i32) -> Result<(), SysError> {
        let mut cfg = HwTstampConfig {
            flags: 0,
            tx_type: HWTSTAMP_TX_ON,
            rx_filter,
        };
        let mut req = Self::request(name, (&raw mut cfg).cast())?;
        self.ioctl(libc::SIOCSHWTSTAMP, &mut req, "SIOCSHWTSTAMP")
    }

    /// The current configuration: (tx_type, rx_filter).
    ///
    /// # Errors
    /// `ioctl(SIOCGHWTSTAMP)`'s error.
    pub fn get_hwtstamp(&self, name: &str) -> Result<(i32, i32), SysError> {
        let mut cfg = HwTstampConfig::default();
        let mut req = Self::request(name, (&raw mut cfg).cast())?;
        self.ioctl(libc::SIOCGHWTSTAMP, &mut req, "SIOCGHWTSTAMP")?;
        Ok((cfg.tx_type, cfg.rx_filter))
    }
}

/// The names of the interfaces `getifaddrs` lists, in its order (an
/// interface with several addresses appears several times, as chronyd sees
/// it).
///
/// # Errors
/// `getifaddrs`'s error.
pub fn interface_names() -> Result<Vec<String>, SysError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head to a valid pointer.
    if unsafe { libc::getifaddrs(&raw mut head) } != 0 {
        return Err(SysError::Os {
            op: "getifaddrs()".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    let mut names = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive
        // until freeifaddrs below.
        let node = unsafe { &*cur };
        if !node.ifa_name.is_null() {
            // SAFETY: ifa_name is a NUL-terminated string owned by the list.
            let name = unsafe { CStr::from_ptr(node.ifa_name) };
            names.push(name.to_string_lossy().into_owned());
        }
        cur = node.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(names)
}

/// One reading of a PTP hardware clock between two readings of the
/// system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhcReading {
    /// System clock before.
    pub sys_before: UnixTime,
    /// The PHC.
    pub phc: UnixTime,
    /// System clock after.
    pub sys_after: UnixTime,
}

/// Samples per `PTP_SYS_OFFSET` request (chrony asks for 10 readings).
pub const PHC_READINGS: usize = 10;

/// `struct ptp_clock_time`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct PtpClockTime {
    sec: i64,
    nsec: u32,
    reserved: u32,
}

/// `PTP_MAX_SAMPLES` (linux/ptp_clock.h).
const PTP_MAX_SAMPLES: usize = 25;

/// `struct ptp_sys_offset`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct PtpSysOffset {
    n_samples: u32,
    rsv: [u32; 3],
    ts: [PtpClockTime; 2 * PTP_MAX_SAMPLES + 1],
}

/// `PTP_SYS_OFFSET` = _IOW('=', 5, struct ptp_sys_offset).
const PTP_SYS_OFFSET: libc::c_ulong = (1 << 30)
    | ((std::mem::size_of::<PtpSysOffset>() as libc::c_ulong) << 16)
    | ((b'=' as libc::c_ulong) << 8)
    | 5;

/// An open PTP hardware clock.
#[derive(Debug)]
pub struct Phc {
    fd: OwnedFd,
    mode: ReadMode,
}

impl Phc {
    /// Opens `/dev/ptpINDEX` read-only, with libc's `open` (which
    /// clknetsim intercepts to simulate the NIC's clock; Rust's `File`
    /// calls `open64`).
    ///
    /// # Errors
    /// The open error.
    pub fn open(index: i32) -> Result<Self, SysError> {
        let path = format!("/dev/ptp{index}");
        let c = std::ffi::CString::new(path.clone())
            .map_err(|_| SysError::InvalidArgument(path.clone()))?;
        // SAFETY: `c` is a NUL-terminated path; no mode is needed without
        // O_CREAT.
        let raw = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(SysError::Os {
                op: format!("open({path})"),
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `raw` is a descriptor open() just returned, owned by nobody else.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        Ok(Phc {
            fd,
            mode: ReadMode::Precise,
        })
    }

    /// PHC readings as chronyd takes them: one cross timestamp
    /// (`PTP_SYS_OFFSET_PRECISE`, unless `nocrossts`), else `n` readings
    /// each between two system readings (`PTP_SYS_OFFSET_EXTENDED`), else
    /// `n` interleaved readings (`PTP_SYS_OFFSET`). A method that fails is
    /// not tried again.
    ///
    /// # Errors
    /// The last method's error.
    pub fn readings(&mut self, n: usize, nocrossts: bool) -> Result<Vec<PhcReading>, SysError> {
        let n = n.clamp(1, PTP_MAX_SAMPLES);
        if self.mode == ReadMode::Precise && !nocrossts {
            match self.precise() {
                Ok(r) => return Ok(vec![r]),
                Err(_) => self.mode = ReadMode::Extended,
            }
        }
        if self.mode != ReadMode::Plain {
            match self.extended(n) {
                Ok(r) => return Ok(r),
                Err(_) => self.mode = ReadMode::Plain,
            }
        }
        self.plain(n)
    }

    fn ioctl<T>(&self, request: libc::c_ulong, arg: &mut T, op: &str) -> Result<(), SysError> {
        // SAFETY: `arg` is the struct type `request` expects, alive and
        // writable for the call; the kernel fills in at most its size.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), request as _, arg as *mut T) };
        if r < 0 {
            return Err(SysError::Os {
                op: format!("ioctl({op})"),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    fn precise(&self) -> Result<PhcReading, SysError> {
        let mut req = PtpSysOffsetPrecise {
            device: PtpClockTime::default(),
            sys_realtime: PtpClockTime::default(),
            sys_monoraw: PtpClockTime::default(),
            rsv: [0; 4],
        };
        self.ioctl(PTP_SYS_OFFSET_PRECISE, &mut req, "PTP_SYS_OFFSET_PRECISE")?;
        let sys = time(&req.sys_realtime);
        Ok(PhcReading {
            sys_before: sys,
            phc: time(&req.device),
            sys_after: sys,
        })
    }

    fn extended(&self, n: usize) -> Result<Vec<PhcReading>, SysError> {
        let mut req = PtpSysOffsetExtended {
            n_samples: n as u32,
            rsv: [0; 3],
            ts: [[PtpClockTime::default(); 3]; PTP_MAX_SAMPLES],
        };
        self.ioctl(PTP_SYS_OFFSET_EXTENDED, &mut req, "PTP_SYS_OFFSET_EXTENDED")?;
        Ok(req.ts[..n]
            .iter()
            .map(|r| PhcReading {
                sys_before: time(&r[0]),
                phc: time(&r[1]),
                sys_after: time(&r[2]),
            })
            .collect())
    }

    fn plain(&self, n: usize) -> Result<Vec<PhcReading>, SysError> {
        let mut req = PtpSysOffset {
            n_samples: n as u32,
            rsv: [0; 3],
            ts: [PtpClockTime::default(); 2 * PTP_MAX_SAMPLES + 1],
        };
        self.ioctl(PTP_SYS_OFFSET, &mut req, "PTP_SYS_OFFSET")?;
        Ok((0..n)
            .map(|i| PhcReading {
                sys_before: time(&req.ts[2 * i]),
                phc: time(&req.ts[2 * i + 1]),
                sys_after: time(&req.ts[2 * i + 2]),
            })
            .collect())
    }
}

fn time(c: &PtpClockTime) -> UnixTime {
    UnixTime::from_secs_nanos(c.sec, i64::from(c.nsec))
}

/// How the PHC is read (the best method that worked so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadMode {
    Precise,
    Extended,
    Plain,
}

/// `struct ptp_sys_offset_precise`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct PtpSysOffsetPrecise {
    device: PtpClockTime,
    sys_realtime: PtpClockTime,
    sys_monoraw: PtpClockTime,
    rsv: [u32; 4],
}

/// `struct ptp_sys_offset_extended`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct PtpSysOffsetExtended {
    n_samples: u32,
    rsv: [u32; 3],
    ts: [[PtpClockTime; 3]; PTP_MAX_SAMPLES],
}

/// `PTP_SYS_OFFSET_PRECISE` = _IOWR('=', 8, struct ptp_sys_offset_precise).
const PTP_SYS_OFFSET_PRECISE: libc::c_ulong = (3 << 30)
    | ((std::mem::size_of::<PtpSysOffsetPrecise>() as libc::c_ulong) << 16)
    | ((b'=' as libc::c_ulong) << 8)
    | 8;

/// `PTP_SYS_OFFSET_EXTENDED` = _IOWR('=', 9, struct ptp_sys_offset_extended).
const PTP_SYS_OFFSET_EXTENDED: libc::c_ulong = (3 << 30)
    | ((std::mem::size_of::<PtpSysOffsetExtended>() as libc::c_ulong) << 16)
    | ((b'=' as libc::c_ulong) << 8)
    | 9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<EthtoolTsInfo>(), 44);
        assert_eq!(std::mem::size_of::<EthtoolCmd>(), 44);
        assert_eq!(std::mem::size_of::<HwTstampConfig>(), 12);
        assert_eq!(std::mem::size_of::<IfReq>(), 40);
        assert_eq!(std::mem::size_of::<PtpSysOffset>(), 832);
        assert_eq!(std::mem::size_of::<PtpSysOffsetPrecise>(), 64);
        assert_eq!(std::mem::size_of::<PtpSysOffsetExtended>(), 1216);
        // The values of linux/ptp_clock.h's macros.
        assert_eq!(PTP_SYS_OFFSET, 0x4340_3d05);
        assert_eq!(PTP_SYS_OFFSET_PRECISE, 0xc040_3d08);
        assert_eq!(PTP_SYS_OFFSET_EXTENDED, 0xc4c0_3d09);
    }

    #[test]
    fn loopback_has_no_hardware_timestamping() {
        let ctl = IfControl::new().expect("socket");
        assert!(ctl.index("lo").is_ok_and(|i| i >= 1));
        assert!(ctl.index("no-such-if0").is_err());
        assert!(ctl.index("a-name-much-too-long-for-linux").is_err());
        let info = ctl.ts_info("lo").expect("ethtool");
        // Loopback has no link settings.
        assert!(ctl.link_speed("lo").is_err());
        let hw = libc::SOF_TIMESTAMPING_RAW_HARDWARE | libc::SOF_TIMESTAMPING_TX_HARDWARE;
        assert_eq!(info.so_timestamping & hw, 0);
        assert!(
            interface_names()
                .expect("getifaddrs")
                .iter()
                .any(|n| n == "lo")
        );
    }
}
