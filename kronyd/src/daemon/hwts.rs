//! `hwtimestamp`: switching on hardware timestamping of network interfaces
//! at start-up, as chronyd's `NIO_Linux_Initialise` does.
//!
//! Named interfaces come first, and one that cannot timestamp in hardware
//! is fatal ("Could not enable HW timestamping on IF"). Then the first
//! `hwtimestamp *` tries every interface `getifaddrs` lists and quietly
//! skips those that cannot (their reasons go to the debug log). Each
//! enabled interface logs "Enabled HW timestamping on IF" ("(TX only) " when
//! no receive filter could be set) and gets its PTP hardware clock opened.
//! Without any, sockets keep kernel (software) timestamps.

use krony_config::{HwTimestamp, RxFilter};
use krony_engine::UnixTime;
use krony_engine::hwclock::{FreeRunning, HwClock, HwClockConfig, PhcReading};

use crate::logging::{Severity, log_event};
use crate::sys::SysError;
use crate::sys::hwts::{
    FILTER_ALL, FILTER_NONE, FILTER_NTP_ALL, FILTER_PTP_V2_EVENT, FILTER_PTP_V2_L4_EVENT,
    HWTSTAMP_TX_ON, IfControl, PHC_READINGS, Phc, TsInfo,
};

/// SOF_TIMESTAMPING_* capabilities an interface needs.
const NEEDED: u32 = libc::SOF_TIMESTAMPING_RX_HARDWARE
    | libc::SOF_TIMESTAMPING_TX_HARDWARE
    | libc::SOF_TIMESTAMPING_RAW_HARDWARE;

/// A converted timestamp further than this from the kernel's software one
/// is not believed (chrony's MAX_TS_DELAY), seconds.
const MAX_TS_DELAY: f64 = 1.0;
/// The link speed assumed until the driver tells, Mb/s (chrony starts
/// with 1 Gb/s).
const DEFAULT_LINK_SPEED: u32 = 1000;
/// Bytes of Ethernet, IPv4 and UDP headers before the NTP message, and the
/// same for IPv6 (no VLAN tags or IP options).
const L2_UDP4_NTP_START: usize = 42;
const L2_UDP6_NTP_START: usize = 62;
/// The frame check sequence at the end of the frame.
const FCS_LEN: usize = 4;

/// An interface with hardware timestamping on.
#[derive(Debug)]
pub struct HwInterface {
    /// Its name.
    pub name: String,
    /// Its index (IP_PKTINFO tells which interface a packet came through).
    pub if_index: u32,
    /// Its PTP hardware clock.
    pub phc: Phc,
    /// The `hwtimestamp` options it was enabled with.
    pub conf: HwTimestamp,
    /// Whether receive timestamps were enabled too (a filter other than none).
    pub rx: bool,
    /// The PHC's tracking against the system clock.
    pub clock: HwClock,
    /// The link speed, Mb/s (0: unknown, no RX correction), read after
    /// every PHC sample as chronyd does.
    pub link_speed: u32,
    /// The socket for its ioctls.
    ctl: IfControl,
}

/// What a received packet's timestamp conversion needs.
#[derive(Debug, Clone, Copy)]
pub struct RxInfo {
    /// Length of the NTP message (UDP payload).
    pub len: usize,
    /// Whether it came over IPv4.
    pub ipv4: bool,
}

impl HwInterface {
    /// Reads the PHC if the tracking wants a new sample at system time
    /// `now`, and adds it (on `free`'s free-running scale).
    fn poll_phc(&mut self, now: UnixTime, free: &FreeRunning) {
        if !self.clock.needs_sample(now) {
            return;
        }
        log_event(Severity::Debug, format!("Polling PHC on {}", self.name));
        let readings: Vec<PhcReading> = match self.phc.readings(PHC_READINGS, self.conf.nocrossts) {
            Ok(r) => r
                .iter()
                .map(|r| PhcReading {
                    sys_before: free.to_free(r.sys_before),
                    phc: r.phc,
                    sys_after: free.to_free(r.sys_after),
                })
                .collect(),
            Err(e) => {
                log_event(Severity::Debug, e);
                return;
            }
        };
        let Some(c) = self.clock.process_readings(&readings) else {
            return;
        };
        log_event(
            Severity::Debug,
            format!(
                "Combined {} readings lo={:e} hi={:e}",
                c.readings, c.window.0, c.window.1
            ),
        );
        self.clock.accumulate(c.hw, c.local, c.err);
        self.update_link_speed();
        log_event(
            Severity::Debug,
            format!(
                "HW clock samples={} freq={:e} err={:e}",
                self.clock.samples(),
                self.clock.frequency().map_or(0.0, |f| f - 1.0),
                c.err
            ),
        );
    }

    /// Reads the link speed (the RX timestamp correction depends on it).
    fn update_link_speed(&mut self) {
        match self.ctl.link_speed(&self.name) {
            Ok(speed) if speed != self.link_speed => {
                self.link_speed = speed;
                log_event(
                    Severity::Debug,
                    format!("Updated speed of {} to {speed} Mb/s", self.name),
                );
            }
            Ok(_) => {}
            Err(e) => log_event(Severity::Debug, e),
        }
    }

    /// The system time of a hardware timestamp `hw` taken when `kernel`
    /// (the software timestamp, system time) was: RX timestamps (`rx`) are
    /// moved from the start of the frame to its end at the link speed, then
    /// `rxcomp` is subtracted, or `txcomp` added to TX ones. `None` while
    /// the PHC is not tracked, or for an implausible result.
    pub fn convert(
        &mut self,
        hw: UnixTime,
        kernel: UnixTime,
        rx: Option<RxInfo>,
        free: &FreeRunning,
    ) -> Option<UnixTime> {
        self.poll_phc(kernel, free);
        let (hw, comp) = match rx {
            Some(RxInfo { len, ipv4 }) if self.link_speed > 0 => {
                let start = if ipv4 {
                    L2_UDP4_NTP_START
                } else {
                    L2_UDP6_NTP_START
                };
                let l2 = (start + len + FCS_LEN) as f64;
                let duration = l2 * 8.0 / (f64::from(self.link_speed) * 1e6);
                (hw.add_secs(duration), -self.conf.rxcomp)
            }
            Some(_) => (hw, -self.conf.rxcomp),
            None => (hw, self.conf.txcomp),
        };
        let (ts, _err) = self.clock.cook(hw)?;
        let ts = free.to_sys(ts);
        let ts = ts.add_secs(comp);
        let delay = kernel.diff_secs(ts);
        if delay.abs() > MAX_TS_DELAY {
            log_event(
                Severity::Debug,
                format!("Unacceptable timestamp delay {delay:.9}"),
            );
            return None;
        }
        Some(ts)
    }
}

/// Enables hardware timestamping as the `hwtimestamp` lines ask.
///
/// # Errors
/// chronyd's fatal "Could not enable HW timestamping on IF" for a named
/// interface that cannot do it.
pub fn enable_all(lines: &[HwTimestamp]) -> Result<Vec<HwInterface>, String> {
    let mut out: Vec<HwInterface> = Vec::new();
    if lines.is_empty() {
        return Ok(out);
    }
    let ctl = IfControl::new().map_err(|e| e.to_string())?;
    for conf in lines.iter().filter(|c| c.interface != "*") {
        if out.iter().any(|i| i.name == conf.interface) {
            continue;
        }
        match enable(&ctl, conf, &conf.interface) {
            Some(iface) => out.push(iface),
            None => {
                return Err(format!(
                    "Could not enable HW timestamping on {}",
                    conf.interface
                ));
            }
        }
    }
    if let Some(all) = lines.iter().find(|c| c.interface == "*") {
        let names = crate::sys::hwts::interface_names().unwrap_or_else(|e| {
            log_event(Severity::Debug, format!("{e}"));
            Vec::new()
        });
        for name in names {
            if out.iter().any(|i| i.name == name) {
                continue;
            }
            if let Some(iface) = enable(&ctl, all, &name) {
                out.push(iface);
            }
        }
    }
    Ok(out)
}

/// chrony's choice of receive filter for the `rxfilter` option and what
/// the interface supports.
pub fn rx_filter(wanted: RxFilter, supported: u32) -> i32 {
    let has = |f: i32| supported & (1u32 << f) != 0;
    match wanted {
        RxFilter::Any if has(FILTER_NTP_ALL) => FILTER_NTP_ALL,
        RxFilter::Any if has(FILTER_ALL) => FILTER_ALL,
        RxFilter::Any | RxFilter::None => FILTER_NONE,
        RxFilter::Ntp => FILTER_NTP_ALL,
        RxFilter::Ptp if has(FILTER_PTP_V2_L4_EVENT) => FILTER_PTP_V2_L4_EVENT,
        RxFilter::Ptp if has(FILTER_PTP_V2_EVENT) => FILTER_PTP_V2_EVENT,
        RxFilter::Ptp => FILTER_NONE,
        RxFilter::All => FILTER_ALL,
    }
}

/// Tries one interface; why it failed goes to the debug log.
fn enable(ctl: &IfControl, conf: &HwTimestamp, name: &str) -> Option<HwInterface> {
    let debug = |m: String| log_event(Severity::Debug, m);
    let if_index = ctl.index(name).map_err(|e| debug(e.to_string())).ok()?;
    let info: TsInfo = ctl.ts_info(name).map_err(|e| debug(e.to_string())).ok()?;
    if info.so_timestamping & NEEDED != NEEDED {
        debug(format!("HW timestamping not supported on {name}"));
        return None;
    }
    if info.phc_index < 0 {
        debug(format!("PHC missing on {name}"));
        return None;
    }
    let filter = rx_filter(conf.rxfilter, info.rx_filters);
    if let Err(e) = ctl.set_hwtstamp(name, filter) {
        let severity = match &e {
            SysError::Os { source, .. } if source.raw_os_error() == Some(libc::EPERM) => {
                Severity::Error
            }
            _ => Severity::Debug,
        };
        log_event(severity, e.to_string());
        // It may allow reading the configuration only, and be set already.
        if ctl.get_hwtstamp(name).ok() != Some((HWTSTAMP_TX_ON, filter)) {
            return None;
        }
    }
    let phc = match Phc::open(info.phc_index) {
        Ok(p) => p,
        Err(e) => {
            log_event(
                Severity::Error,
                format!("Could not open PHC of {name} : {e}"),
            );
            return None;
        }
    };
    let tx_only = if filter == FILTER_NONE {
        "(TX only) "
    } else {
        ""
    };
    log_event(
        Severity::Info,
        format!("Enabled HW timestamping {tx_only}on {name}"),
    );
    Some(HwInterface {
        name: name.to_string(),
        if_index,
        phc,
        conf: conf.clone(),
        rx: filter != FILTER_NONE,
        clock: HwClock::new(HwClockConfig::from_directive(conf)),
        link_speed: DEFAULT_LINK_SPEED,
        ctl: IfControl::new().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_filter_follows_chrony() {
        let ntp_and_all = (1 << FILTER_NTP_ALL) | (1 << FILTER_ALL);
        assert_eq!(rx_filter(RxFilter::Any, ntp_and_all), FILTER_NTP_ALL);
        assert_eq!(rx_filter(RxFilter::Any, 1 << FILTER_ALL), FILTER_ALL);
        assert_eq!(rx_filter(RxFilter::Any, 0), FILTER_NONE);
        assert_eq!(rx_filter(RxFilter::None, ntp_and_all), FILTER_NONE);
        assert_eq!(rx_filter(RxFilter::Ntp, 0), FILTER_NTP_ALL);
        assert_eq!(rx_filter(RxFilter::All, 0), FILTER_ALL);
        let ptp = (1 << FILTER_PTP_V2_EVENT) | (1 << FILTER_PTP_V2_L4_EVENT);
        assert_eq!(rx_filter(RxFilter::Ptp, ptp), FILTER_PTP_V2_L4_EVENT);
        assert_eq!(
            rx_filter(RxFilter::Ptp, 1 << FILTER_PTP_V2_EVENT),
            FILTER_PTP_V2_EVENT
        );
        assert_eq!(rx_filter(RxFilter::Ptp, 0), FILTER_NONE);
    }

    #[test]
    fn loopback_cannot_and_is_fatal_only_when_named() {
        let lo = HwTimestamp::new("lo".into());
        let err = enable_all(std::slice::from_ref(&lo)).expect_err("lo has no PHC");
        assert_eq!(err, "Could not enable HW timestamping on lo");
        let all = HwTimestamp::new("*".into());
        assert!(enable_all(&[all]).expect("quiet").is_empty());
    }
}
