//! Typed reply bodies (the data after the 28-byte reply header).

use super::cursor::{Reader, Writer};
use super::types::{CmdAddr, Timespec};
use crate::Error;

/// Most clients in one CLIENT_ACCESSES_BY_INDEX3 reply.
pub const MAX_CLIENT_ACCESSES: usize = 8;
/// Most samples in a MANUAL_LIST2 reply.
pub const MAX_MANUAL_LIST_SAMPLES: usize = 16;

/// SOURCE_DATA: one row of `chronyc sources`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SourceData {
    /// The source's address; for a reference clock, family IPv4 holding
    /// its refid.
    pub ip_addr: CmdAddr,
    /// log2 of the polling interval.
    pub poll: i16,
    /// Stratum.
    pub stratum: u16,
    /// 0 selected, 1 nonselectable, 2 falseticker, 3 jittery,
    /// 4 unselected (combined), 5 selectable.
    pub state: u16,
    /// 0 client (server source), 1 peer, 2 reference clock.
    pub mode: u16,
    /// Unused, 0.
    pub flags: u16,
    /// Reach register.
    pub reachability: u16,
    /// Seconds since the last sample.
    pub since_sample: u32,
    /// Offset of the last sample as measured, seconds.
    pub orig_latest_meas: f64,
    /// The same, adjusted for later clock corrections.
    pub latest_meas: f64,
    /// Its error bound.
    pub latest_meas_err: f64,
}

impl SourceData {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(SourceData {
            ip_addr: r.addr()?,
            poll: r.i16()?,
            stratum: r.u16()?,
            state: r.u16()?,
            mode: r.u16()?,
            flags: r.u16()?,
            reachability: r.u16()?,
            since_sample: r.u32()?,
            orig_latest_meas: r.float()?,
            latest_meas: r.float()?,
            latest_meas_err: r.float()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.addr(&self.ip_addr)?;
        w.i16(self.poll)?;
        for v in [
            self.stratum,
            self.state,
            self.mode,
            self.flags,
            self.reachability,
        ] {
            w.u16(v)?;
        }
        w.u32(self.since_sample)?;
        w.float(self.orig_latest_meas)?;
        w.float(self.latest_meas)?;
        w.float(self.latest_meas_err)
    }
}

/// TRACKING: `chronyc tracking`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Tracking {
    /// Reference ID.
    pub ref_id: u32,
    /// Address of the selected source (`Unspec` if none).
    pub ip_addr: CmdAddr,
    /// Stratum.
    pub stratum: u16,
    /// 0 normal, 1 insert second, 2 delete second, 3 not synchronised.
    pub leap_status: u16,
    /// Time of the last update.
    pub ref_time: Timespec,
    /// Remaining correction (system time minus NTP time), seconds.
    pub current_correction: f64,
    /// Last offset, seconds.
    pub last_offset: f64,
    /// RMS offset, seconds.
    pub rms_offset: f64,
    /// Frequency, ppm (positive: the clock runs fast without correction).
    pub freq_ppm: f64,
    /// Residual frequency, ppm.
    pub resid_freq_ppm: f64,
    /// Skew, ppm.
    pub skew_ppm: f64,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion, seconds.
    pub root_dispersion: f64,
    /// Update interval, seconds.
    pub last_update_interval: f64,
}

impl Tracking {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Tracking {
            ref_id: r.u32()?,
            ip_addr: r.addr()?,
            stratum: r.u16()?,
            leap_status: r.u16()?,
            ref_time: r.timespec()?,
            current_correction: r.float()?,
            last_offset: r.float()?,
            rms_offset: r.float()?,
            freq_ppm: r.float()?,
            resid_freq_ppm: r.float()?,
            skew_ppm: r.float()?,
            root_delay: r.float()?,
            root_dispersion: r.float()?,
            last_update_interval: r.float()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u32(self.ref_id)?;
        w.addr(&self.ip_addr)?;
        w.u16(self.stratum)?;
        w.u16(self.leap_status)?;
        w.timespec(&self.ref_time)?;
        for v in [
            self.current_correction,
            self.last_offset,
            self.rms_offset,
            self.freq_ppm,
            self.resid_freq_ppm,
            self.skew_ppm,
            self.root_delay,
            self.root_dispersion,
            self.last_update_interval,
        ] {
            w.float(v)?;
        }
        Ok(())
    }
}

/// SOURCESTATS: one row of `chronyc sourcestats`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Sourcestats {
    /// Reference ID of the source.
    pub ref_id: u32,
    /// Its address.
    pub ip_addr: CmdAddr,
    /// Samples kept.
    pub n_samples: u32,
    /// Runs of residuals with the same sign.
    pub n_runs: u32,
    /// Time spanned by the samples, seconds.
    pub span_seconds: u32,
    /// Standard deviation, seconds.
    pub sd: f64,
    /// Residual frequency, ppm.
    pub resid_freq_ppm: f64,
    /// Skew, ppm.
    pub skew_ppm: f64,
    /// Estimated offset, seconds.
    pub est_offset: f64,
    /// Its error, seconds.
    pub est_offset_err: f64,
}

impl Sourcestats {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(Sourcestats {
            ref_id: r.u32()?,
            ip_addr: r.addr()?,
            n_samples: r.u32()?,
            n_runs: r.u32()?,
            span_seconds: r.u32()?,
            sd: r.float()?,
            resid_freq_ppm: r.float()?,
            skew_ppm: r.float()?,
            est_offset: r.float()?,
            est_offset_err: r.float()?,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.u32(self.ref_id)?;
        w.addr(&self.ip_addr)?;
        for v in [self.n_samples, self.n_runs, self.span_seconds] {
            w.u32(v)?;
        }
        for v in [
            self.sd,
            self.resid_freq_ppm,
            self.skew_ppm,
            self.est_offset,
            self.est_offset_err,
        ] {
            w.float(v)?;
        }
        Ok(())
    }
}

/// RTC: `chronyc rtcdata`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Rtc {
    /// Time of the last RTC measurement.
    pub ref_time: Timespec,
    /// Samples.
    pub n_samples: u16,
    /// Runs.
    pub n_runs: u16,
    /// Span, seconds.
    pub span_seconds: u32,
    /// How fast the RTC is, seconds.
    pub rtc_seconds_fast: f64,
    /// Its gain rate, ppm.
    pub rtc_gain_rate_ppm: f64,
}

/// MANUAL_TIMESTAMP2: the answer to SETTIME.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ManualTimestamp {
    /// Offset of the sample, seconds.
    pub offset: f64,
    /// Frequency change, ppm.
    pub dfreq_ppm: f64,
    /// New absolute frequency, ppm.
    pub new_afreq_ppm: f64,
}

/// One client of CLIENT_ACCESSES_BY_INDEX3 (60 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClientAccess {
    /// The client's address.
    pub ip: CmdAddr,
    /// NTP requests.
    pub ntp_hits: u32,
    /// NTS-KE connections.
    pub nke_hits: u32,
    /// Command requests.
    pub cmd_hits: u32,
    /// NTP requests dropped by rate limiting (chronyd keeps a 16-bit
    /// counter).
    pub ntp_drops: u32,
    /// NTS-KE connections dropped.
    pub nke_drops: u32,
    /// Command requests dropped.
    pub cmd_drops: u32,
    /// log2 of the mean NTP interval; 127 if unknown.
    pub ntp_interval: i8,
    /// log2 of the mean NTS-KE interval.
    pub nke_interval: i8,
    /// log2 of the mean command interval.
    pub cmd_interval: i8,
    /// log2 of the NTP timeout interval (chronyc's "IntL").
    pub ntp_timeout_interval: i8,
    /// Seconds since the last NTP request; `u32::MAX` if never.
    pub last_ntp_hit_ago: u32,
    /// Seconds since the last NTS-KE connection.
    pub last_nke_hit_ago: u32,
    /// Seconds since the last command.
    pub last_cmd_hit_ago: u32,
}

impl ClientAccess {
    fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        Ok(ClientAccess {
            ip: r.addr()?,
            ntp_hits: r.u32()?,
            nke_hits: r.u32()?,
            cmd_hits: r.u32()?,
            ntp_drops: r.u32()?,
            nke_drops: r.u32()?,
            cmd_drops: r.u32()?,
            ntp_interval: r.i8()?,
            nke_interval: r.i8()?,
            cmd_interval: r.i8()?,
            ntp_timeout_interval: r.i8()?,
            last_ntp_hit_ago: r.u32()?,
            last_nke_hit_ago: r.u32()?,
            last_cmd_hit_ago: r.u32()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.addr(&self.ip)?;
        for v in [
            self.ntp_hits,
            self.nke_hits,
            self.cmd_hits,
            self.ntp_drops,
            self.nke_drops,
            self.cmd_drops,
        ] {
            w.u32(v)?;
        }
        for v in [
            self.ntp_interval,
            self.nke_interval,
            self.cmd_interval,
            self.ntp_timeout_interval,
        ] {
            w.i8(v)?;
        }
        for v in [
            self.last_ntp_hit_ago,
            self.last_nke_hit_ago,
            self.last_cmd_hit_ago,
        ] {
            w.u32(v)?;
        }
        Ok(())
    }
}

/// CLIENT_ACCESSES_BY_INDEX3: a page of the client log.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientAccesses {
    /// Size of the server's table.
    pub n_indices: u32,
    /// The index after the last one processed.
    pub next_index: u32,
    /// The clients, at most [`MAX_CLIENT_ACCESSES`].
    pub clients: Vec<ClientAccess>,
}

impl ClientAccesses {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let n_indices = r.u32()?;
        let next_index = r.u32()?;
        let n = r.u32()?;
        let count = usize::try_from(n)
            .ok()
            .filter(|&c| c <= MAX_CLIENT_ACCESSES)
            .ok_or(Error::InvalidField {
                field: "n_clients",
                value: u64::from(n),
            })?;
        let clients = (0..count)
            .map(|_| ClientAccess::read(r))
            .collect::<Result<_, _>>()?;
        Ok(ClientAccesses {
            n_indices,
            next_index,
            clients,
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let n = self.clients.len();
        if n > MAX_CLIENT_ACCESSES {
            return Err(Error::InvalidField {
                field: "n_clients",
                value: n as u64,
            });
        }
        w.u32(self.n_indices)?;
        w.u32(self.next_index)?;
        w.u32(n as u32)?;
        for c in &self.clients {
            c.write(w)?;
        }
        w.fill(0, (MAX_CLIENT_ACCESSES - n) * 60)
    }
}

/// One sample of MANUAL_LIST2 (24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ManualSample {
    /// When it was taken.
    pub when: Timespec,
    /// Offset after later slews, seconds.
    pub slewed_offset: f64,
    /// Offset as measured, seconds.
    pub orig_offset: f64,
    /// Residual of the fit, seconds.
    pub residual: f64,
}

/// MANUAL_LIST2: the manual samples (the body always has room for 16).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ManualList {
    /// At most [`MAX_MANUAL_LIST_SAMPLES`].
    pub samples: Vec<ManualSample>,
}

impl ManualList {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let n = r.u32()?;
        let count = usize::try_from(n)
            .ok()
            .filter(|&c| c <= MAX_MANUAL_LIST_SAMPLES)
            .ok_or(Error::InvalidField {
                field: "n_samples",
                value: u64::from(n),
            })?;
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            samples.push(ManualSample {
                when: r.timespec()?,
                slewed_offset: r.float()?,
                orig_offset: r.float()?,
                residual: r.float()?,
            });
        }
        Ok(ManualList { samples })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let n = self.samples.len();
        if n > MAX_MANUAL_LIST_SAMPLES {
            return Err(Error::InvalidField {
                field: "n_samples",
                value: n as u64,
            });
        }
        w.u32(n as u32)?;
        for s in &self.samples {
            w.timespec(&s.when)?;
            w.float(s.slewed_offset)?;
            w.float(s.orig_offset)?;
            w.float(s.residual)?;
        }
        w.fill(0, (MAX_MANUAL_LIST_SAMPLES - n) * 24)
    }
}

/// ACTIVITY: source counts by state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Activity {
    /// Online.
    pub online: i32,
    /// Offline.
    pub offline: i32,
    /// Doing a burst, then back online.
    pub burst_online: i32,
    /// Doing a burst, then back offline.
    pub burst_offline: i32,
    /// Name not resolved yet.
    pub unresolved: i32,
}

/// SMOOTHING: `chronyc smoothing`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Smoothing {
    /// Bit 0 active, bit 1 leap only.
    pub flags: u32,
    /// Offset, seconds.
    pub offset: f64,
    /// Frequency, ppm.
    pub freq_ppm: f64,
    /// Wander, ppm per second.
    pub wander_ppm: f64,
    /// Seconds since the last update.
    pub last_update_ago: f64,
    /// Remaining time, seconds.
    pub remaining_time: f64,
}

impl Smoothing {
    /// Flag: smoothing is active.
    pub const FLAG_ACTIVE: u32 = 0x1;
    /// Flag: only leap seconds are smoothed.
    pub const FLAG_LEAPONLY: u32 = 0x2;
}

/// AUTH_DATA: `chronyc authdata` for one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AuthData {
    /// 0 none, 1 symmetric key, 2 NTS.
    pub mode: u16,
    /// Key type (hash or cipher).
    pub key_type: u16,
    /// Key ID.
    pub key_id: u32,
    /// Key length, bits.
    pub key_length: u16,
    /// NTS-KE attempts.
    pub ke_attempts: u16,
    /// Seconds since the last NTS-KE.
    pub last_ke_ago: u32,
    /// Cookies held.
    pub cookies: u16,
    /// Cookie length.
    pub cookie_length: u16,
    /// NAK received.
    pub nak: u16,
}

/// SELECT_DATA: one row of `chronyc selectdata`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SelectData {
    /// Reference ID.
    pub ref_id: u32,
    /// Address.
    pub ip_addr: CmdAddr,
    /// The state letter chronyc prints (`*`, `+`, `N`, ...).
    pub state_char: u8,
    /// Non-zero if authenticated.
    pub authentication: u8,
    /// Leap status.
    pub leap: u8,
    /// Configured options (1 noselect, 2 prefer, 4 trust, 8 require).
    pub conf_options: u16,
    /// Effective options, same bits.
    pub eff_options: u16,
    /// Seconds since the last sample.
    pub last_sample_ago: u32,
    /// Selection score.
    pub score: f64,
    /// Low end of the interval, seconds.
    pub lo_limit: f64,
    /// High end of the interval, seconds.
    pub hi_limit: f64,
}

impl SelectData {
    /// Option bit: noselect.
    pub const OPTION_NOSELECT: u16 = 0x1;
    /// Option bit: prefer.
    pub const OPTION_PREFER: u16 = 0x2;
    /// Option bit: trust.
    pub const OPTION_TRUST: u16 = 0x4;
    /// Option bit: require.
    pub const OPTION_REQUIRE: u16 = 0x8;
}
