//! The read-only requests: reports from the engine in wire form, and the
//! access checks.

use std::net::IpAddr;

use krony_engine::clientlog::ClientLogError;
use krony_engine::clock::LeapStatus;
use krony_engine::select::SourceId;
use krony_engine::smooth::SmoothingReport;
use krony_engine::source::{AuthMode, TimestampKind};
use krony_engine::{Engine, UnixTime};
use krony_wire::cmdmon::{
    Activity, AuthData, ClientAccesses, ClientAccessesQuery, CmdAddr, MAX_CLIENT_ACCESSES,
    MAX_MANUAL_LIST_SAMPLES, ManualList, ManualSample, Name, NtpData, NtpDataVersion, ReplyBody,
    Request, Rtc, SelectData, ServerStatsVersion, Smoothing, SourceData, Sourcestats, Status,
    Timespec, Tracking,
};

use super::CommandServer;

/// A report's outcome.
type Answer = (Status, ReplyBody);

fn ok(body: ReplyBody) -> Answer {
    (Status::SUCCESS, body)
}

fn fail(status: Status) -> Answer {
    (status, ReplyBody::Null)
}

/// The cmdmon leap code (0 normal, 1 insert, 2 delete, 3 unsynchronised).
fn leap_code(l: LeapStatus) -> u8 {
    match l {
        LeapStatus::Normal => 0,
        LeapStatus::InsertSecond => 1,
        LeapStatus::DeleteSecond => 2,
        LeapStatus::Unsynchronised => 3,
    }
}

/// Whole seconds for a u32 field: negative and NaN give 0, huge saturate
/// (C's conversion as chronyd does it, without its undefined cases).
fn secs_u32(x: f64) -> u32 {
    x as u32
}

/// The SMOOTHING reply.
fn smoothing(r: &SmoothingReport) -> ReplyBody {
    let flag = |on: bool, bit: u32| if on { bit } else { 0 };
    ReplyBody::Smoothing(Smoothing {
        flags: flag(r.active, Smoothing::FLAG_ACTIVE) | flag(r.leap_only, Smoothing::FLAG_LEAPONLY),
        offset: r.offset,
        freq_ppm: r.freq_ppm,
        wander_ppm: r.wander_ppm,
        last_update_ago: r.last_update_ago,
        remaining_time: r.remaining_time,
    })
}

/// The id of the source at `index` (chronyc walks 0..N_SOURCES).
fn source_at(engine: &Engine, index: i64) -> Option<SourceId> {
    let i = usize::try_from(index).ok()?;
    engine.report_ids().get(i).copied()
}

/// The source with this IP address (chronyd looks sources up by address
/// alone, whatever the port).
pub(super) fn source_by_ip(engine: &Engine, addr: &CmdAddr) -> Option<SourceId> {
    if let CmdAddr::Id(n) = addr {
        // chronyc's ID#N: a source whose name is not resolved yet.
        let id = SourceId(*n);
        return engine.is_unresolved(id).then_some(id);
    }
    let ip = addr.ip()?;
    engine
        .source_ids()
        .into_iter()
        .find(|id| engine.source(*id).is_some_and(|s| s.remote().ip() == ip))
}

impl CommandServer {
    /// Answers a read-only request.
    pub(super) fn report(&mut self, engine: &mut Engine, now: UnixTime, req: &Request) -> Answer {
        use Request as R;
        match req {
            R::NSources => ok(ReplyBody::NSources(
                u32::try_from(engine.report_ids().len()).unwrap_or(u32::MAX),
            )),
            R::SourceData(i) => source_data(engine, now, i64::from(*i)),
            R::Tracking => ok(tracking(engine, now)),
            R::Sourcestats(i) => sourcestats(engine, now, i64::from(*i)),
            R::SelectData(i) => select_data(engine, i64::from(*i)),
            R::NtpData(addr, v) => ntp_data(engine, addr, *v),
            R::Activity => {
                let a = engine.activity();
                let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
                ok(ReplyBody::Activity(Activity {
                    online: n(a.online),
                    offline: n(a.offline),
                    burst_online: n(a.burst_online),
                    burst_offline: n(a.burst_offline),
                    unresolved: n(a.unresolved.saturating_add(self.unresolved)),
                }))
            }
            R::ServerStats(v) => ok(self.server_stats(engine, *v)),
            R::ClientAccessesByIndex(q) => self.clients(engine, now, q),
            R::AuthData(addr) => self.auth_data(engine, addr),
            R::NtpSourceName(addr) => source_name(engine, now, addr),
            R::ManualList => ok(manual_list(engine)),
            // Without an RTC driver chronyd's RTC_GetReport fails.
            R::RtcReport => match engine.rtc_report() {
                Some(r) => ok(ReplyBody::Rtc(Rtc {
                    ref_time: Timespec::from_unix(UnixTime::from_secs_nanos(r.ref_time, 0)),
                    n_samples: r.n_samples,
                    n_runs: r.n_runs,
                    span_seconds: r.span_seconds,
                    rtc_seconds_fast: r.seconds_fast,
                    rtc_gain_rate_ppm: r.gain_rate_ppm,
                })),
                None => fail(Status::NORTC),
            },
            // Without smoothtime chronyd answers "505 Facility not enabled".
            R::Smoothing => match engine.smoothing(now) {
                Some(r) => ok(smoothing(&r)),
                None => fail(Status::NOTENABLED),
            },
            R::AcCheck(addr) => {
                let allowed = addr.ip().is_some_and(|ip| self.ntp_allowed(engine, ip));
                fail(access_status(allowed))
            }
            R::CmdAcCheck(addr) => {
                let allowed = addr.ip().is_some_and(|ip| self.cmd_allowed(ip));
                fail(access_status(allowed))
            }
            _ => fail(Status::INVALID),
        }
    }

    /// Whether `allow`/`deny` let `ip` use the NTP server.
    fn ntp_allowed(&self, engine: &Engine, ip: IpAddr) -> bool {
        match engine.server() {
            Some(s) => s.access().is_allowed(ip),
            None => self.own_ntp_access.is_allowed(ip),
        }
    }

    fn server_stats(&self, engine: &Engine, v: ServerStatsVersion) -> ReplyBody {
        let s = engine
            .serverstats()
            .or_else(|| self.own_log.as_ref().map(|l| l.server_stats()))
            .unwrap_or_default();
        ReplyBody::ServerStats(s, v)
    }

    fn clients(&mut self, engine: &mut Engine, now: UnixTime, q: &ClientAccessesQuery) -> Answer {
        let n = q.n_clients.min(MAX_CLIENT_ACCESSES as u32);
        let reset = q.reset != 0;
        let page: Result<ClientAccesses, ClientLogError> = if engine.server().is_some() {
            engine.clients(now, q.first_index, n, q.min_hits, reset)
        } else {
            let cooked = engine.cook(now);
            match self.own_log.as_mut() {
                Some(log) => {
                    log.client_accesses_by_index(q.first_index, n, q.min_hits, reset, cooked)
                }
                None => Err(ClientLogError::Inactive),
            }
        };
        match page {
            Ok(p) => ok(ReplyBody::ClientAccesses(p)),
            Err(_) => fail(Status::INACTIVE),
        }
    }

    fn auth_data(&self, engine: &Engine, addr: &CmdAddr) -> Answer {
        let id = source_by_ip(engine, addr);
        let Some(src) = id.and_then(|id| engine.source(id)) else {
            return fail(Status::NOSUCHSOURCE);
        };
        // chronyd reports "never" for the NTS-KE age of non-NTS sources.
        let mut a = AuthData {
            last_ke_ago: u32::MAX,
            ..AuthData::default()
        };
        match src.params().auth {
            AuthMode::None => {}
            AuthMode::Symmetric { key_id } => {
                a.mode = 1;
                a.key_id = key_id;
                if let Some((ty, len)) = self.key_info.get(&key_id) {
                    a.key_type = *ty;
                    a.key_length = *len;
                }
            }
            AuthMode::Nts => {
                a.mode = 2;
                if let Some(r) = id.and_then(|id| self.nts_auth.get(&id)) {
                    a.key_id = r.context_id;
                    a.key_type = r.key_type;
                    a.key_length = r.key_bits;
                    a.ke_attempts = r.ke_attempts;
                    a.last_ke_ago = r.last_ke_ago.unwrap_or(u32::MAX);
                    a.cookies = r.cookies;
                    a.cookie_length = r.cookie_len;
                    a.nak = u16::from(r.nak);
                }
            }
        }
        ok(ReplyBody::AuthData(a))
    }
}

fn access_status(allowed: bool) -> Status {
    if allowed {
        Status::ACCESSALLOWED
    } else {
        Status::ACCESSDENIED
    }
}

fn tracking(engine: &mut Engine, now: UnixTime) -> ReplyBody {
    let t = engine.tracking(now);
    ReplyBody::Tracking(Tracking {
        ref_id: t.ref_id,
        ip_addr: t.ref_ip.map_or(CmdAddr::Unspec, CmdAddr::from),
        stratum: u16::from(t.stratum),
        leap_status: u16::from(leap_code(t.leap)),
        ref_time: Timespec::from_unix(t.ref_time),
        current_correction: t.current_correction,
        last_offset: t.last_offset,
        rms_offset: t.rms_offset,
        freq_ppm: t.frequency_ppm,
        resid_freq_ppm: t.residual_freq_ppm,
        skew_ppm: t.skew_ppm,
        root_delay: t.root_delay,
        root_dispersion: t.root_dispersion,
        last_update_interval: t.update_interval,
    })
}

/// The address of a sourcestats or selectdata reply: none for a refclock
/// (chronyc then prints its refid), as chronyd sends.
fn report_addr(engine: &Engine, id: SourceId, addr: std::net::SocketAddr) -> CmdAddr {
    if engine.refclock(id).is_some() {
        CmdAddr::Unspec
    } else if engine.is_unresolved(id) {
        CmdAddr::Id(id.0)
    } else {
        CmdAddr::from(addr.ip())
    }
}

fn source_data(engine: &Engine, now: UnixTime, index: i64) -> Answer {
    let Some(id) = source_at(engine, index) else {
        return fail(Status::NOSUCHSOURCE);
    };
    let Some(row) = engine.sources(now).into_iter().find(|r| r.id == id) else {
        return fail(Status::NOSUCHSOURCE);
    };
    // RPY_SD_MD_CLIENT, RPY_SD_MD_PEER, RPY_SD_MD_REF.
    let mode = match row.association {
        _ if row.refclock => 2,
        krony_engine::source::Association::Client => 0,
        krony_engine::source::Association::SymmetricActive => 1,
    };
    ok(ReplyBody::SourceData(SourceData {
        ip_addr: if engine.is_unresolved(id) {
            CmdAddr::Id(id.0)
        } else {
            CmdAddr::from(row.addr.ip())
        },
        poll: i16::from(row.poll),
        stratum: u16::from(row.stratum),
        state: row.state.wire_value(),
        mode,
        flags: 0,
        reachability: u16::from(row.reach),
        // chronyd sends all ones when the source has no sample yet.
        since_sample: row.last.latest_meas_ago.map_or(u32::MAX, secs_u32),
        orig_latest_meas: row.last.orig_latest_meas,
        latest_meas: row.last.latest_meas,
        latest_meas_err: row.last.latest_meas_err,
    }))
}

fn sourcestats(engine: &Engine, now: UnixTime, index: i64) -> Answer {
    let Some(id) = source_at(engine, index) else {
        return fail(Status::NOSUCHSOURCE);
    };
    let (Some(row), Some(ref_id)) = (
        engine.sourcestats(now).into_iter().find(|r| r.id == id),
        engine.report_ref_id(id),
    ) else {
        return fail(Status::NOSUCHSOURCE);
    };
    let s = row.stats;
    ok(ReplyBody::Sourcestats(Sourcestats {
        ref_id,
        ip_addr: report_addr(engine, id, row.addr),
        n_samples: u32::try_from(s.n_samples).unwrap_or(u32::MAX),
        n_runs: u32::try_from(s.n_runs).unwrap_or(u32::MAX),
        span_seconds: s.span_seconds,
        sd: s.std_dev,
        resid_freq_ppm: s.resid_freq_ppm,
        skew_ppm: s.skew_ppm,
        est_offset: s.est_offset,
        est_offset_err: s.est_offset_err,
    }))
}

fn select_data(engine: &Engine, index: i64) -> Answer {
    let Some(id) = source_at(engine, index) else {
        return fail(Status::NOSUCHSOURCE);
    };
    let (Some(row), Some(ref_id), Some(leap)) = (
        engine.selectdata().into_iter().find(|r| r.id == id),
        engine.report_ref_id(id),
        engine.report_leap(id),
    ) else {
        return fail(Status::NOSUCHSOURCE);
    };
    let opts = |o: krony_engine::select::SelectOptions| u16::try_from(o.bits()).unwrap_or(0);
    ok(ReplyBody::SelectData(SelectData {
        ref_id,
        ip_addr: report_addr(engine, id, row.addr),
        state_char: u8::try_from(row.state.as_char()).unwrap_or(b'?'),
        authentication: u8::from(row.authenticated),
        leap: leap_code(leap),
        conf_options: opts(row.configured),
        eff_options: opts(row.effective),
        last_sample_ago: secs_u32(row.last_sample_ago),
        score: row.score,
        lo_limit: row.lo,
        hi_limit: row.hi,
    }))
}

fn tss_char(k: TimestampKind) -> u8 {
    match k {
        TimestampKind::Daemon => b'D',
        TimestampKind::Kernel => b'K',
        TimestampKind::Hardware => b'H',
    }
}

fn ntp_data(engine: &Engine, addr: &CmdAddr, v: NtpDataVersion) -> Answer {
    let Some(r) = source_by_ip(engine, addr).and_then(|id| engine.ntpdata(id)) else {
        return fail(Status::NOSUCHSOURCE);
    };
    let mut flags = r.tests.bits() & NtpData::FLAGS_TESTS;
    if r.interleaved {
        flags |= NtpData::FLAG_INTERLEAVED;
    }
    if r.authenticated {
        flags |= NtpData::FLAG_AUTHENTICATED;
    }
    let c = r.counters;
    let data = NtpData {
        remote_addr: CmdAddr::from(r.remote_addr),
        local_addr: r.local_addr.map_or(CmdAddr::Unspec, CmdAddr::from),
        remote_port: r.remote_port,
        leap: r.leap.bits(),
        version: r.version,
        mode: r.mode.bits(),
        stratum: r.stratum,
        poll: r.poll,
        precision: r.precision,
        root_delay: r.root_delay,
        root_dispersion: r.root_dispersion,
        ref_id: r.ref_id.0,
        ref_time: Timespec::from_unix(r.ref_time),
        offset: r.offset,
        peer_delay: r.peer_delay,
        peer_dispersion: r.peer_dispersion,
        response_time: r.response_time,
        jitter_asymmetry: r.jitter_asymmetry,
        flags,
        tx_tss_char: tss_char(r.tx_kind),
        rx_tss_char: tss_char(r.rx_kind),
        total_tx_count: c.total_tx,
        total_rx_count: c.total_rx,
        total_valid_count: c.total_valid,
        total_good_count: c.total_good,
        total_kernel_tx_ts: c.total_kernel_tx,
        total_kernel_rx_ts: c.total_kernel_rx,
        total_hw_tx_ts: c.total_hw_tx,
        total_hw_rx_ts: c.total_hw_rx,
    };
    ok(ReplyBody::NtpData(Box::new(data), v))
}

fn source_name(engine: &Engine, now: UnixTime, addr: &CmdAddr) -> Answer {
    let Some(id) = source_by_ip(engine, addr) else {
        return fail(Status::NOSUCHSOURCE);
    };
    match engine.sources(now).into_iter().find(|r| r.id == id) {
        Some(row) => ok(ReplyBody::NtpSourceName(Name::from_field(
            row.name.as_bytes(),
        ))),
        None => fail(Status::NOSUCHSOURCE),
    }
}

fn manual_list(engine: &Engine) -> ReplyBody {
    let samples = engine
        .manual_samples()
        .iter()
        .take(MAX_MANUAL_LIST_SAMPLES)
        .map(|s| ManualSample {
            when: Timespec::from_unix(s.when),
            slewed_offset: s.slewed_offset,
            orig_offset: s.orig_offset,
            residual: s.residual,
        })
        .collect();
    ReplyBody::ManualList(ManualList { samples })
}
