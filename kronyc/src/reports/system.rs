//! Reports about the daemon as a whole: `tracking`, `smoothing`,
//! `rtcdata`, `activity`, `serverstats` and `waitsync`.

use std::io::Write;
use std::time::Duration;

use krony_wire::cmdmon::{
    Activity, CmdAddr, ReplyBody, ReplyCode, Request, Rtc, ServerStats, ServerStatsVersion,
    Smoothing, Tracking,
};
use serde::Serialize;

use super::{
    json_addr, json_leap, json_refid, label_or_refid, show, timespec_parts, timespec_unix_s,
};
use crate::client::Client;
use crate::report::{Field, Rec};

/// The reference ID chrony uses in local mode (127.127.1.1).
pub const LOCAL_REFID: u32 = 0x7F7F_0101;

/// The `tracking` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrackingReport {
    /// The reply as received.
    #[serde(skip)]
    pub raw: Tracking,
    /// Reference ID, 8 hexadecimal digits.
    pub ref_id: String,
    /// The name shown in parentheses (host name, address or refid text).
    pub ref_name: String,
    /// Address of the selected source; `null` if none.
    pub address: Option<String>,
    /// Stratum.
    pub stratum: u16,
    /// Time of the last clock update, Unix seconds.
    pub ref_time_unix_s: f64,
    /// Correction still to be applied: positive means the system clock is
    /// behind ("slow"), negative ahead ("fast").
    pub system_time_correction_s: f64,
    /// Offset at the last update.
    pub last_offset_s: f64,
    /// Long-term average of the offset.
    pub rms_offset_s: f64,
    /// Frequency error of the system clock: positive means it runs fast
    /// without correction.
    pub freq_ppm: f64,
    /// Residual frequency of the selected source.
    pub resid_freq_ppm: f64,
    /// Error bound of the frequency.
    pub skew_ppm: f64,
    /// Root delay.
    pub root_delay_s: f64,
    /// Root dispersion.
    pub root_dispersion_s: f64,
    /// Interval between the last two updates.
    pub update_interval_s: f64,
    /// `normal`, `insert_second`, `delete_second`, `not_synchronised`.
    pub leap_status: &'static str,
}

impl TrackingReport {
    /// The report from a reply and the name to show.
    pub fn new(raw: Tracking, ref_name: String) -> TrackingReport {
        TrackingReport {
            ref_id: json_refid(raw.ref_id),
            ref_name,
            address: json_addr(&raw.ip_addr),
            stratum: raw.stratum,
            ref_time_unix_s: timespec_unix_s(&raw.ref_time),
            system_time_correction_s: raw.current_correction,
            last_offset_s: raw.last_offset,
            rms_offset_s: raw.rms_offset,
            freq_ppm: raw.freq_ppm,
            resid_freq_ppm: raw.resid_freq_ppm,
            skew_ppm: raw.skew_ppm,
            root_delay_s: raw.root_delay,
            root_dispersion_s: raw.root_dispersion,
            update_interval_s: raw.last_update_interval,
            leap_status: json_leap(u32::from(raw.leap_status)),
            raw,
        }
    }

    /// The report as chronyc prints it.
    pub fn rec(&self) -> Rec {
        let r = &self.raw;
        let (secs, nsec) = timespec_parts(&r.ref_time);
        Rec::new()
            .t("Reference ID    : ")
            .f(Field::RefId(r.ref_id))
            .t(" (")
            .f(Field::str(self.ref_name.clone()))
            .t(")\nStratum         : ")
            .f(Field::Uint(u64::from(r.stratum), 0))
            .t("\nRef time (UTC)  : ")
            .f(Field::Date(secs, nsec))
            .t("\nSystem time     : ")
            .f(Field::AbsOffset(r.current_correction, 9))
            .t(" of NTP time\nLast offset     : ")
            .f(Field::fp(r.last_offset, 0, 9))
            .t(" seconds\nRMS offset      : ")
            .f(Field::f(r.rms_offset, 0, 9))
            .t(" seconds\nFrequency       : ")
            .f(Field::AbsFreq(r.freq_ppm, 3))
            .t("\nResidual freq   : ")
            .f(Field::fp(r.resid_freq_ppm, 0, 3))
            .t(" ppm\nSkew            : ")
            .f(Field::f(r.skew_ppm, 0, 3))
            .t(" ppm\nRoot delay      : ")
            .f(Field::f(r.root_delay, 0, 9))
            .t(" seconds\nRoot dispersion : ")
            .f(Field::f(r.root_dispersion, 0, 9))
            .t(" seconds\nUpdate interval : ")
            .f(Field::f(r.last_update_interval, 0, 1))
            .t(" seconds\nLeap status     : ")
            .f(Field::Leap(u32::from(r.leap_status), false))
            .t("\n")
    }
}

/// Asks for the tracking data.
fn tracking<W: Write>(c: &mut Client<W>) -> Option<Tracking> {
    match c
        .request(&Request::Tracking, &[ReplyCode::TRACKING], false)
        .ok()?
        .body
    {
        ReplyBody::Tracking(t) => Some(t),
        _ => None,
    }
}

/// `tracking`.
pub fn cmd_tracking<W: Write>(c: &mut Client<W>) -> bool {
    let Some(t) = tracking(c) else {
        return false;
    };
    let name = label_or_refid(c, &t.ip_addr, t.ref_id, usize::MAX);
    let rep = TrackingReport::new(t, name);
    show(c, &rep.rec(), &rep);
    true
}

/// The `smoothing` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SmoothingReport {
    /// The reply as received.
    #[serde(skip)]
    pub raw: Smoothing,
    /// Smoothing is active.
    pub active: bool,
    /// Only leap seconds are smoothed.
    pub leap_only: bool,
    /// Offset being smoothed out.
    pub offset_s: f64,
    /// Frequency offset.
    pub freq_ppm: f64,
    /// Wander, ppm per second.
    pub wander_ppm_per_s: f64,
    /// Seconds since the last update.
    pub last_update_ago_s: f64,
    /// Seconds until the offset is smoothed out.
    pub remaining_time_s: f64,
}

impl SmoothingReport {
    /// The report from a reply.
    pub fn new(raw: Smoothing) -> SmoothingReport {
        SmoothingReport {
            active: raw.flags & Smoothing::FLAG_ACTIVE != 0,
            leap_only: raw.flags & Smoothing::FLAG_LEAPONLY != 0,
            offset_s: raw.offset,
            freq_ppm: raw.freq_ppm,
            wander_ppm_per_s: raw.wander_ppm,
            last_update_ago_s: raw.last_update_ago,
            remaining_time_s: raw.remaining_time,
            raw,
        }
    }

    /// The report as chronyc prints it.
    pub fn rec(&self) -> Rec {
        let r = &self.raw;
        let leap = if self.leap_only {
            "(leap second only)"
        } else {
            ""
        };
        Rec::new()
            .t("Active         : ")
            .f(Field::Bool(self.active))
            .t(" ")
            .f(Field::str(leap))
            .t("\nOffset         : ")
            .f(Field::fp(r.offset, 0, 9))
            .t(" seconds\nFrequency      : ")
            .f(Field::fp(r.freq_ppm, 0, 6))
            .t(" ppm\nWander         : ")
            .f(Field::fp(r.wander_ppm, 0, 6))
            .t(" ppm per second\nLast update    : ")
            .f(Field::f(r.last_update_ago, 0, 1))
            .t(" seconds ago\nRemaining time : ")
            .f(Field::f(r.remaining_time, 0, 1))
            .t(" seconds\n")
    }
}

/// The `rtcdata` report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RtcReport {
    /// The reply as received.
    #[serde(skip)]
    pub raw: Rtc,
    /// Time of the last RTC measurement, Unix seconds.
    pub ref_time_unix_s: f64,
    /// Samples.
    pub samples: u16,
    /// Runs.
    pub runs: u16,
    /// Span of the samples.
    pub span_s: u32,
    /// How far the RTC is ahead.
    pub rtc_fast_by_s: f64,
    /// How fast it gains.
    pub rtc_gain_rate_ppm: f64,
}

impl RtcReport {
    /// The report from a reply.
    pub fn new(raw: Rtc) -> RtcReport {
        RtcReport {
            ref_time_unix_s: timespec_unix_s(&raw.ref_time),
            samples: raw.n_samples,
            runs: raw.n_runs,
            span_s: raw.span_seconds,
            rtc_fast_by_s: raw.rtc_seconds_fast,
            rtc_gain_rate_ppm: raw.rtc_gain_rate_ppm,
            raw,
        }
    }

    /// The report as chronyc prints it.
    pub fn rec(&self) -> Rec {
        let r = &self.raw;
        let (secs, nsec) = timespec_parts(&r.ref_time);
        Rec::new()
            .t("RTC ref time (UTC) : ")
            .f(Field::Date(secs, nsec))
            .t("\nNumber of samples  : ")
            .f(Field::Uint(u64::from(r.n_samples), 0))
            .t("\nNumber of runs     : ")
            .f(Field::Uint(u64::from(r.n_runs), 0))
            .t("\nSample span period : ")
            .f(Field::Interval(r.span_seconds))
            .t("\nRTC is fast by     : ")
            .f(Field::f(r.rtc_seconds_fast, 12, 6))
            .t(" seconds\nRTC gains time at  : ")
            .f(Field::f(r.rtc_gain_rate_ppm, 9, 3))
            .t(" ppm\n")
    }
}

/// The `activity` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ActivityReport {
    /// Sources online.
    pub online: i32,
    /// Sources offline.
    pub offline: i32,
    /// Sources doing a burst, then back online.
    pub burst_online: i32,
    /// Sources doing a burst, then back offline.
    pub burst_offline: i32,
    /// Sources whose name is not resolved yet.
    pub unresolved: i32,
}

impl From<Activity> for ActivityReport {
    fn from(a: Activity) -> Self {
        ActivityReport {
            online: a.online,
            offline: a.offline,
            burst_online: a.burst_online,
            burst_offline: a.burst_offline,
            unresolved: a.unresolved,
        }
    }
}

impl ActivityReport {
    /// The report as chronyc prints it (after its `200 OK` line), the
    /// counts as C's `%lu` of the 32-bit value.
    pub fn rec(&self) -> Rec {
        let u = |v: i32| Field::Uint(u64::from(v as u32), 0);
        Rec::new()
            .f(u(self.online))
            .t(" sources online\n")
            .f(u(self.offline))
            .t(" sources offline\n")
            .f(u(self.burst_online))
            .t(" sources doing burst (return to online)\n")
            .f(u(self.burst_offline))
            .t(" sources doing burst (return to offline)\n")
            .f(u(self.unresolved))
            .t(" sources with unknown address\n")
    }
}

/// The labels of `serverstats`, in print order, with each counter's
/// index in [`ServerStats::to_array`] (wire order).
const SERVER_STATS_LINES: [(&str, usize); 17] = [
    ("NTP packets received       : ", 0),
    ("NTP packets dropped        : ", 3),
    ("Command packets received   : ", 2),
    ("Command packets dropped    : ", 5),
    ("Client log records dropped : ", 6),
    ("NTS-KE connections accepted: ", 1),
    ("NTS-KE connections dropped : ", 4),
    ("Authenticated NTP packets  : ", 7),
    ("Interleaved NTP packets    : ", 8),
    ("NTP timestamps held        : ", 9),
    ("NTP timestamp span         : ", 10),
    ("NTP daemon RX timestamps   : ", 11),
    ("NTP daemon TX timestamps   : ", 12),
    ("NTP kernel RX timestamps   : ", 13),
    ("NTP kernel TX timestamps   : ", 14),
    ("NTP hardware RX timestamps : ", 15),
    ("NTP hardware TX timestamps : ", 16),
];

/// The `serverstats` report; the counters a layout lacks are `null`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerStatsReport {
    /// The reply as received.
    #[serde(skip)]
    pub raw: ServerStats,
    /// Which layout the daemon sent.
    #[serde(skip)]
    pub version: ServerStatsVersion,
    /// NTP packets received.
    pub ntp_packets_received: u64,
    /// NTP packets dropped (rate limiting).
    pub ntp_packets_dropped: u64,
    /// Command packets received.
    pub command_packets_received: u64,
    /// Command packets dropped.
    pub command_packets_dropped: u64,
    /// Client log records dropped.
    pub client_log_records_dropped: u64,
    /// NTS-KE connections accepted.
    pub nts_ke_connections_accepted: u64,
    /// NTS-KE connections dropped.
    pub nts_ke_connections_dropped: u64,
    /// Authenticated NTP packets.
    pub authenticated_ntp_packets: u64,
    /// Interleaved NTP packets (chrony ≥ 4.2).
    pub interleaved_ntp_packets: Option<u64>,
    /// NTP timestamps held (chrony ≥ 4.2).
    pub ntp_timestamps_held: Option<u64>,
    /// Span of the timestamps held, seconds (chrony ≥ 4.2).
    pub ntp_timestamp_span_s: Option<u64>,
    /// Daemon RX timestamps (chrony ≥ 4.4).
    pub ntp_daemon_rx_timestamps: Option<u64>,
    /// Daemon TX timestamps (chrony ≥ 4.4).
    pub ntp_daemon_tx_timestamps: Option<u64>,
    /// Kernel RX timestamps (chrony ≥ 4.4).
    pub ntp_kernel_rx_timestamps: Option<u64>,
    /// Kernel TX timestamps (chrony ≥ 4.4).
    pub ntp_kernel_tx_timestamps: Option<u64>,
    /// Hardware RX timestamps (chrony ≥ 4.4).
    pub ntp_hw_rx_timestamps: Option<u64>,
    /// Hardware TX timestamps (chrony ≥ 4.4).
    pub ntp_hw_tx_timestamps: Option<u64>,
}

/// How many lines each layout prints.
fn server_stats_lines(v: ServerStatsVersion) -> usize {
    match v {
        ServerStatsVersion::V2 => 8,
        ServerStatsVersion::V3 => 11,
        ServerStatsVersion::V4 => 17,
    }
}

impl ServerStatsReport {
    /// The report from a reply.
    pub fn new(raw: ServerStats, version: ServerStatsVersion) -> ServerStatsReport {
        let v3 = version != ServerStatsVersion::V2;
        let v4 = version == ServerStatsVersion::V4;
        let a = raw.to_array();
        ServerStatsReport {
            ntp_packets_received: a[0],
            ntp_packets_dropped: a[3],
            command_packets_received: a[2],
            command_packets_dropped: a[5],
            client_log_records_dropped: a[6],
            nts_ke_connections_accepted: a[1],
            nts_ke_connections_dropped: a[4],
            authenticated_ntp_packets: a[7],
            interleaved_ntp_packets: v3.then_some(a[8]),
            ntp_timestamps_held: v3.then_some(a[9]),
            ntp_timestamp_span_s: v3.then_some(a[10]),
            ntp_daemon_rx_timestamps: v4.then_some(a[11]),
            ntp_daemon_tx_timestamps: v4.then_some(a[12]),
            ntp_kernel_rx_timestamps: v4.then_some(a[13]),
            ntp_kernel_tx_timestamps: v4.then_some(a[14]),
            ntp_hw_rx_timestamps: v4.then_some(a[15]),
            ntp_hw_tx_timestamps: v4.then_some(a[16]),
            raw,
            version,
        }
    }

    /// The report as the chronyc matching the daemon's layout prints it.
    pub fn rec(&self) -> Rec {
        let a = self.raw.to_array();
        let mut rec = Rec::new();
        for (label, i) in SERVER_STATS_LINES
            .iter()
            .take(server_stats_lines(self.version))
        {
            rec = rec.t(label).f(Field::Uint(a[*i], 0)).t("\n");
        }
        rec
    }
}

/// Runs a report command whose reply is one record.
fn simple_report<W: Write>(c: &mut Client<W>, req: Request, expected: &[ReplyCode]) -> bool {
    let Ok(reply) = c.request(&req, expected, false) else {
        return false;
    };
    match reply.body {
        ReplyBody::Smoothing(s) => {
            let r = SmoothingReport::new(s);
            show(c, &r.rec(), &r);
        }
        ReplyBody::Rtc(s) => {
            let r = RtcReport::new(s);
            show(c, &r.rec(), &r);
        }
        ReplyBody::Activity(a) => {
            let r = ActivityReport::from(a);
            if !c.set.csv && !c.set.json {
                c.print("200 OK\n");
            }
            show(c, &r.rec(), &r);
        }
        ReplyBody::ServerStats(s, v) => {
            let r = ServerStatsReport::new(s, v);
            show(c, &r.rec(), &r);
        }
        _ => return false,
    }
    true
}

/// `smoothing`.
pub fn cmd_smoothing<W: Write>(c: &mut Client<W>) -> bool {
    simple_report(c, Request::Smoothing, &[ReplyCode::SMOOTHING])
}

/// `rtcdata`.
pub fn cmd_rtcdata<W: Write>(c: &mut Client<W>) -> bool {
    simple_report(c, Request::RtcReport, &[ReplyCode::RTC])
}

/// `activity`.
pub fn cmd_activity<W: Write>(c: &mut Client<W>) -> bool {
    simple_report(c, Request::Activity, &[ReplyCode::ACTIVITY])
}

/// `serverstats`: asks for the newest layout and accepts the older ones
/// that chronyd 4.0–4.3 answer with.
pub fn cmd_serverstats<W: Write>(c: &mut Client<W>) -> bool {
    let expected = [
        ReplyCode::SERVER_STATS4,
        ReplyCode::SERVER_STATS3,
        ReplyCode::SERVER_STATS2,
    ];
    simple_report(c, Request::ServerStats(ServerStatsVersion::V4), &expected)
}

/// One `waitsync` line.
pub fn waitsync_rec(try_no: u32, ref_id: u32, correction: f64, skew_ppm: f64) -> Rec {
    Rec::new()
        .t("try: ")
        .f(Field::Int(i64::from(try_no), 0))
        .t(", refid: ")
        .f(Field::RefId(ref_id))
        .t(", correction: ")
        .f(Field::f(correction, 0, 9))
        .t(", skew: ")
        .f(Field::f(skew_ppm, 0, 3))
        .t("\n")
}

/// The arguments of `waitsync`: max tries (0 = no limit), max correction
/// and max skew (0 = no limit), interval in seconds (at least 0.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaitSyncArgs {
    /// Most tracking requests.
    pub max_tries: u32,
    /// Largest acceptable |correction|, seconds.
    pub max_correction: f64,
    /// Largest acceptable skew, ppm.
    pub max_skew_ppm: f64,
    /// Pause between tries, seconds.
    pub interval: f64,
}

impl WaitSyncArgs {
    /// Parses the words like chronyc's `sscanf("%d %lf %lf %lf")`: values
    /// are read until the first one that does not parse.
    pub fn parse(args: &str) -> WaitSyncArgs {
        let mut a = WaitSyncArgs {
            max_tries: 0,
            max_correction: 0.0,
            max_skew_ppm: 0.0,
            interval: 10.0,
        };
        let mut words = args.split_whitespace();
        if let Some(n) = words.next().and_then(crate::commands::c_int) {
            a.max_tries = u32::try_from(n).unwrap_or(0);
            let mut rest = [&mut a.max_correction, &mut a.max_skew_ppm, &mut a.interval];
            for slot in rest.iter_mut() {
                match words.next().and_then(crate::commands::c_double) {
                    Some(v) => **slot = v,
                    None => break,
                }
            }
        }
        a.interval = a.interval.max(0.1);
        a
    }
}

/// `waitsync`: polls tracking until synchronised within the limits.
pub fn cmd_waitsync<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let a = WaitSyncArgs::parse(args);
    let csv = c.set.csv;
    for i in 1u32.. {
        if let Some(t) = tracking(c) {
            let correction = t.current_correction.abs();
            c.print(&waitsync_rec(i, t.ref_id, correction, t.skew_ppm).render(csv));
            let synced = t.ip_addr != CmdAddr::Unspec || (t.ref_id != 0 && t.ref_id != LOCAL_REFID);
            if synced
                && (a.max_correction == 0.0 || correction <= a.max_correction)
                && (a.max_skew_ppm == 0.0 || t.skew_ppm <= a.max_skew_ppm)
            {
                return true;
            }
        }
        let _ = c.out.flush();
        if (a.max_tries != 0 && i >= a.max_tries) || c.transport.quitting() {
            break;
        }
        c.transport.sleep(Duration::from_secs_f64(a.interval));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waitsync_args() {
        let a = WaitSyncArgs::parse("60 0.01 5 0.05");
        assert_eq!(a.max_tries, 60);
        assert_eq!(a.max_correction, 0.01);
        assert_eq!(a.max_skew_ppm, 5.0);
        assert_eq!(a.interval, 0.1);
        let d = WaitSyncArgs::parse("");
        assert_eq!((d.max_tries, d.interval), (0, 10.0));
        let p = WaitSyncArgs::parse("3 x 7");
        assert_eq!(
            (p.max_tries, p.max_correction, p.max_skew_ppm),
            (3, 0.0, 0.0)
        );
    }

    #[test]
    fn waitsync_line() {
        assert_eq!(
            waitsync_rec(2, 0x7F7F_0101, 0.000_012_345, 1.25).render(false),
            "try: 2, refid: 7F7F0101, correction: 0.000012345, skew: 1.250\n"
        );
    }
}
