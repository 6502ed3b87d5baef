//! A crafted data set at edge values and a fake daemon's answers from
//! it, the way chronyd 4.3 (or, with `new_layouts`, chrony >= 4.6)
//! answers.

use std::net::{Ipv4Addr, Ipv6Addr};

use krony_wire::cmdmon::*;

pub fn v4(a: u8, b: u8, c: u8, d: u8) -> CmdAddr {
    CmdAddr::Inet4(Ipv4Addr::new(a, b, c, d))
}

pub fn v6(s: &str) -> CmdAddr {
    CmdAddr::Inet6(s.parse::<Ipv6Addr>().expect("literal"))
}

pub fn ts(sec: u64, nsec: u32) -> Timespec {
    Timespec {
        sec_high: (sec >> 32) as u32,
        sec_low: sec as u32,
        nsec,
    }
}

/// One source: (address, mode, state, stratum, poll, reach, since,
/// offsets, error).
pub fn sources() -> Vec<SourceData> {
    let s =
        |ip_addr, mode, state, stratum, poll, reach, since, o: f64, m: f64, e: f64| SourceData {
            ip_addr,
            poll,
            stratum,
            state,
            mode,
            flags: 0,
            reachability: reach,
            since_sample: since,
            orig_latest_meas: m,
            latest_meas: o,
            latest_meas_err: e,
        };
    vec![
        s(
            v4(192, 0, 2, 1),
            0,
            0,
            1,
            6,
            0o377,
            12,
            -479e-9,
            -621e-9,
            134e-9,
        ),
        s(v6("2001:db8::1"), 1, 1, 2, -3, 0, u32::MAX, 0.0, -0.0, 0.0),
        s(
            v4(0x47, 0x50, 0x53, 0),
            2,
            4,
            0,
            4,
            0o17,
            1199,
            9.9994e-6,
            9.9996e-6,
            0.0099,
        ),
        s(
            v4(198, 51, 100, 7),
            0,
            2,
            3,
            10,
            0o1,
            1200,
            1.5,
            15.25,
            999.4,
        ),
        s(
            v4(203, 0, 113, 9),
            0,
            3,
            15,
            24,
            0o177,
            36_000,
            1000.0,
            -99_999.0,
            6e6,
        ),
        s(
            v4(203, 0, 113, 10),
            0,
            5,
            16,
            -7,
            0o376,
            345_600,
            1e7,
            -3e9,
            4e9,
        ),
        s(
            CmdAddr::Id(3),
            0,
            6,
            0,
            6,
            0,
            1000 * 86_400,
            -0.4e-9,
            0.6e-9,
            1e-12,
        ),
        s(
            v6("::ffff:192.0.2.9"),
            7,
            1,
            4,
            0,
            0o2,
            86_400 * 999,
            -2e-3,
            2e-3,
            99e-6,
        ),
    ]
}

fn sourcestats(i: usize, d: &SourceData) -> Sourcestats {
    let refclock = d.mode == 2;
    let spans = [0, 1199, 1200, 36_000, 345_600, 86_400 * 1000, u32::MAX, 5];
    Sourcestats {
        ref_id: if refclock {
            0x4750_5300
        } else {
            0x0A00_0001 + i as u32
        },
        ip_addr: if refclock { CmdAddr::Unspec } else { d.ip_addr },
        n_samples: [0, 64, 6, 3, 10, 12, 1, 999][i],
        n_runs: [0, 33, 4, 2, 5, 6, 1, 1000][i],
        span_seconds: spans[i],
        sd: [4.0, 1e-9, 2e-5, 0.02, 30.0, 1e5, 0.0, 3e-3][i],
        resid_freq_ppm: [
            0.0, -0.0, 123_456.0, -99_999.4, 1.0005, -1e-4, 5e5, -12.3456,
        ][i],
        skew_ppm: [2000.0, 0.001, 99_999.6, 0.5, 1e6, 0.0, 3.2, 42.0][i],
        est_offset: d.latest_meas,
        est_offset_err: d.latest_meas_err,
    }
}

fn selectdata(i: usize, d: &SourceData) -> SelectData {
    let refclock = d.mode == 2;
    SelectData {
        ref_id: if refclock {
            0x4750_5300
        } else {
            0x0A00_0001 + i as u32
        },
        ip_addr: if refclock { CmdAddr::Unspec } else { d.ip_addr },
        state_char: b"*NxsM+~W"[i],
        authentication: (i % 2) as u8,
        leap: (i % 5) as u8,
        conf_options: (i * 3 % 16) as u16,
        eff_options: (i * 5 % 16) as u16,
        last_sample_ago: d.since_sample,
        score: [1.0, 0.05, 12.345, 99.95, 100.0, 1e5, 0.0, 3.0][i],
        lo_limit: -d.latest_meas_err,
        hi_limit: d.latest_meas_err * 2.0,
    }
}

fn tracking(synced: bool) -> Tracking {
    if !synced {
        return Tracking {
            leap_status: 3,
            ..Tracking::default()
        };
    }
    Tracking {
        ref_id: 0xC0A8_7B01,
        ip_addr: v4(192, 168, 123, 1),
        stratum: 3,
        leap_status: 1,
        ref_time: ts(1_700_000_000, 123_456_789),
        current_correction: -0.0,
        last_offset: -0.000_000_123,
        rms_offset: 0.000_045,
        freq_ppm: -12.5,
        resid_freq_ppm: 0.001,
        skew_ppm: 0.05,
        root_delay: 0.012,
        root_dispersion: 0.0034,
        last_update_interval: 64.2,
    }
}

fn ntp_data(addr: CmdAddr, v: NtpDataVersion) -> NtpData {
    let ipv6 = matches!(addr, CmdAddr::Inet6(_));
    NtpData {
        remote_addr: addr,
        local_addr: if ipv6 { v6("::1") } else { v4(127, 0, 0, 1) },
        remote_port: 123,
        leap: if ipv6 { 3 } else { 0 },
        version: 4,
        mode: if ipv6 { 1 } else { 4 },
        stratum: if ipv6 { 2 } else { 1 },
        poll: if ipv6 { -3 } else { 10 },
        precision: -20,
        root_delay: 0.000_5,
        root_dispersion: 1.5,
        ref_id: 0x4750_5300,
        ref_time: ts(0x1_0000_0000, 5),
        offset: -0.0,
        peer_delay: 0.000_123,
        peer_dispersion: 0.000_001,
        response_time: 0.000_010,
        jitter_asymmetry: -0.5,
        flags: if ipv6 { 0x3fe | 0x4000 } else { 0x3ff | 0x8000 },
        tx_tss_char: b'D',
        rx_tss_char: if ipv6 { b'H' } else { b'K' },
        total_tx_count: 10,
        total_rx_count: 9,
        total_valid_count: 8,
        total_good_count: u32::MAX,
        total_kernel_tx_ts: if v == NtpDataVersion::V2 { 7 } else { 0 },
        total_kernel_rx_ts: if v == NtpDataVersion::V2 { 6 } else { 0 },
        total_hw_tx_ts: 0,
        total_hw_rx_ts: if v == NtpDataVersion::V2 { 1 } else { 0 },
    }
}

pub fn clients() -> Vec<ClientAccess> {
    (0..11u32)
        .map(|i| ClientAccess {
            ip: if i == 10 {
                v6("2001:db8:ffff:ffff:ffff:ffff:ffff:1")
            } else {
                v4(10, 0, 0, 1 + i as u8)
            },
            ntp_hits: i * 1000,
            nke_hits: i,
            cmd_hits: 1_000_000 * i,
            ntp_drops: i * 7,
            nke_drops: 0,
            cmd_drops: 99_999 + i,
            ntp_interval: [-3, 0, 5, 127, 10, -7, 2, 3, 4, 6, 127][i as usize],
            nke_interval: 127,
            cmd_interval: [127, 1, -1, 2, 3, 4, 5, 6, 7, 8, 9][i as usize],
            ntp_timeout_interval: if i % 2 == 0 { 127 } else { 8 },
            last_ntp_hit_ago: [0, 5, 1199, 1200, 36_000, u32::MAX, 345_600, 9, 10, 11, 12]
                [i as usize],
            last_nke_hit_ago: u32::MAX,
            last_cmd_hit_ago: i * 100_000,
        })
        .collect()
}

/// What the fake daemon serves.
#[derive(Clone, Copy)]
pub struct Dataset {
    /// Sources, clients and a synchronised clock, or none of them.
    pub full: bool,
    /// Answer with the layouts of chrony ≥ 4.6 instead of 4.3's.
    pub new_layouts: bool,
}

fn body(set: Dataset, req: &Request) -> ReplyBody {
    let srcs = if set.full { sources() } else { Vec::new() };
    let at = |i: i64| srcs.get(usize::try_from(i).unwrap_or(usize::MAX)).copied();
    let ntp_v = if set.new_layouts {
        NtpDataVersion::V2
    } else {
        NtpDataVersion::V1
    };
    match req {
        Request::NSources => ReplyBody::NSources(srcs.len() as u32),
        Request::SourceData(i) => at(i64::from(*i)).map_or(ReplyBody::Null, ReplyBody::SourceData),
        Request::Sourcestats(i) => at(i64::from(*i)).map_or(ReplyBody::Null, |d| {
            ReplyBody::Sourcestats(sourcestats(*i as usize, &d))
        }),
        Request::SelectData(i) => at(i64::from(*i)).map_or(ReplyBody::Null, |d| {
            ReplyBody::SelectData(selectdata(*i as usize, &d))
        }),
        Request::Tracking => ReplyBody::Tracking(tracking(set.full)),
        Request::NtpData(a, _) => ReplyBody::NtpData(Box::new(ntp_data(*a, ntp_v)), ntp_v),
        Request::AuthData(a) => ReplyBody::AuthData(match a {
            CmdAddr::Inet6(_) => AuthData {
                mode: 2,
                key_type: 13,
                key_length: 256,
                ke_attempts: 3,
                last_ke_ago: 86_400 * 3,
                cookies: 8,
                cookie_length: 100,
                nak: 1,
                ..AuthData::default()
            },
            CmdAddr::Id(_) => AuthData::default(),
            _ => AuthData {
                mode: 1,
                key_type: 2,
                key_id: 65_535,
                key_length: 160,
                last_ke_ago: u32::MAX,
                ..AuthData::default()
            },
        }),
        Request::ServerStats(_) => {
            let s = ServerStats {
                ntp_hits: u64::from(u32::MAX),
                nke_hits: 1,
                cmd_hits: 2,
                ntp_drops: 3,
                nke_drops: 4,
                cmd_drops: 5,
                log_drops: 6,
                ntp_auth_hits: 7,
                ntp_interleaved_hits: 8,
                ntp_timestamps: 9,
                ntp_span_seconds: 10,
                ntp_daemon_rx_timestamps: 11,
                ntp_daemon_tx_timestamps: 12,
                ntp_kernel_rx_timestamps: 13,
                ntp_kernel_tx_timestamps: 14,
                ntp_hw_rx_timestamps: 1 << 40,
                ntp_hw_tx_timestamps: 16,
            };
            let v = if set.new_layouts {
                ServerStatsVersion::V4
            } else {
                ServerStatsVersion::V3
            };
            ReplyBody::ServerStats(s, v)
        }
        Request::ClientAccessesByIndex(q) => {
            let all = if set.full { clients() } else { Vec::new() };
            let first = q.first_index as usize;
            let page: Vec<ClientAccess> = all.iter().skip(first).take(8).copied().collect();
            ReplyBody::ClientAccesses(ClientAccesses {
                n_indices: all.len() as u32,
                next_index: (first + page.len()) as u32,
                clients: page,
            })
        }
        Request::Smoothing => ReplyBody::Smoothing(Smoothing {
            flags: 3,
            offset: -0.000_123,
            freq_ppm: 0.5,
            wander_ppm: -0.0,
            last_update_ago: 12.25,
            remaining_time: 300.0,
        }),
        Request::RtcReport => ReplyBody::Rtc(Rtc {
            ref_time: ts(1_600_000_000, 0),
            n_samples: 10,
            n_runs: 4,
            span_seconds: 400_000,
            rtc_seconds_fast: -1.234_567,
            rtc_gain_rate_ppm: 12.5,
        }),
        Request::Activity => ReplyBody::Activity(Activity {
            online: 5,
            offline: 1,
            burst_online: 0,
            burst_offline: 2,
            unresolved: -1,
        }),
        Request::ManualList => ReplyBody::ManualList(ManualList {
            samples: vec![
                ManualSample {
                    when: ts(951_782_400, 0),
                    slewed_offset: 0.125,
                    orig_offset: -1.5,
                    residual: 0.0,
                },
                ManualSample {
                    when: ts(4_102_444_800, 999),
                    slewed_offset: -123_456.78,
                    orig_offset: 1e-3,
                    residual: -0.005,
                },
            ],
        }),
        Request::NtpSourceName(a) => ReplyBody::NtpSourceName(Name::from(match a {
            CmdAddr::Inet6(_) => "a-rather-long-source-name.example.org",
            CmdAddr::Id(_) => "pool.example.org",
            _ if *a == v4(192, 0, 2, 1) => "bad\tname",
            _ => "ntp.example.net",
        })),
        _ => ReplyBody::Null,
    }
}

/// The fake daemon's answer to raw request bytes.
pub fn answer(set: Dataset, bytes: &[u8]) -> Option<Vec<u8>> {
    let msg = RequestMsg::parse(bytes).ok()?;
    let body = body(set, &msg.request);
    let status = match (&body, &msg.request) {
        (ReplyBody::Null, Request::SourceData(_) | Request::Sourcestats(_)) => Status::NOSUCHSOURCE,
        _ => Status::SUCCESS,
    };
    Reply {
        command: msg.request.command(),
        status,
        sequence: msg.sequence,
        body,
    }
    .to_bytes()
    .ok()
}
