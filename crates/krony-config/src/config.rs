//! The typed configuration: every directive's effective value, with chrony's defaults.

use crate::directive::{BindScope, Directive};
use crate::refclock::RefclockSpec;
use crate::settings::{FlagSetting, FloatSetting, IntSetting, StringSetting};
use crate::source::SourceSpec;
use crate::types::*;

/// The effective configuration after all lines were applied in order.
///
/// Scalar directives follow chrony's rule "the last one wins"; list directives (sources,
/// refclocks, allow/deny, ...) accumulate in file order. Defaults are chrony's (`conf.c`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    // --- Time sources
    /// `server`, `pool`, `peer` lines, in order.
    pub sources: Vec<SourceSpec>,
    /// `refclock` lines, in order.
    pub refclocks: Vec<RefclockSpec>,
    /// `initstepslew` (deprecated).
    pub initstepslew: Option<InitStepSlew>,
    /// `manual`: allow `settime`.
    pub manual: bool,
    /// `acquisitionport` (`None`: a random port per request).
    pub acquisition_port: Option<u16>,
    /// `bindacqaddress`.
    pub bind_acq_address: BindAddresses,
    /// `bindacqdevice`.
    pub bind_acq_device: Option<String>,
    /// `dscp` (0..63, default 0).
    pub dscp: u8,
    /// `dumpdir`.
    pub dumpdir: Option<String>,
    /// `maxsamples` (0: no limit).
    pub maxsamples: u32,
    /// `minsamples` (default 6).
    pub minsamples: u32,
    /// `ntsaeads` (default 30 15).
    pub nts_aeads: Vec<u32>,
    /// `ntsdumpdir` / `ntscachedir`.
    pub nts_dumpdir: Option<String>,
    /// `ntsrefresh`, seconds (default 2419200).
    pub nts_refresh: u32,
    /// `ntstrustedcerts` lines.
    pub nts_trusted_certs: Vec<TrustedCerts>,
    /// `nosystemcert`.
    pub no_system_cert: bool,
    /// `nocerttimecheck` (clock updates, default 0).
    pub no_cert_time_check: u32,
    /// `refresh`, seconds (default 1209600; 0 disables).
    pub refresh: u32,
    /// `sourcedir` lines (each a list of directories).
    pub sourcedirs: Vec<Vec<String>>,
    // --- Source selection
    /// `authselectmode`.
    pub authselect_mode: AuthSelectMode,
    /// `combinelimit` (default 3).
    pub combine_limit: f64,
    /// `maxdistance`, seconds (default 3).
    pub max_distance: f64,
    /// `maxjitter`, seconds (default 1).
    pub max_jitter: f64,
    /// `maxstratum` (default 15).
    pub max_stratum: u32,
    /// `minstratum` (default 0).
    pub min_stratum: u32,
    /// `minsources` (default 1).
    pub min_sources: u32,
    /// `reselectdist`, seconds (default 1e-4).
    pub reselect_dist: f64,
    /// `stratumweight`, seconds (default 1e-3).
    pub stratum_weight: f64,
    // --- System clock
    /// `clockprecision`, seconds (`None`: measured).
    pub clock_precision: Option<f64>,
    /// `corrtimeratio` (default 3).
    pub corr_time_ratio: f64,
    /// `driftfile`.
    pub driftfile: Option<DriftFile>,
    /// `fallbackdrift`.
    pub fallback_drift: Option<FallbackDrift>,
    /// `leapsecmode`.
    pub leapsec_mode: LeapSecMode,
    /// `leapsectz`.
    pub leapsec_tz: Option<String>,
    /// `leapseclist`.
    pub leapsec_list: Option<String>,
    /// `makestep`.
    pub makestep: Option<MakeStep>,
    /// `maxchange`.
    pub maxchange: Option<MaxChange>,
    /// `maxclockerror`, ppm (default 1).
    pub max_clock_error: f64,
    /// `maxdrift`, ppm (default 100000).
    pub max_drift: f64,
    /// `maxupdateskew`, ppm (default 1000).
    pub max_update_skew: f64,
    /// `maxslewrate`, ppm (default 1e6/12).
    pub max_slew_rate: f64,
    /// `tempcomp`.
    pub tempcomp: Option<TempComp>,
    // --- NTP server
    /// `allow`/`deny` rules in order.
    pub ntp_access: Vec<AccessRule>,
    /// `bindaddress`.
    pub bind_address: BindAddresses,
    /// `binddevice`.
    pub bind_device: Option<String>,
    /// `broadcast` lines.
    pub broadcasts: Vec<Broadcast>,
    /// `clientloglimit`, bytes (default 524288).
    pub client_log_limit: u32,
    /// `noclientlog`.
    pub no_client_log: bool,
    /// `local`.
    pub local: Option<Local>,
    /// `ntpsigndsocket`.
    pub ntp_signd_socket: Option<String>,
    /// `ntsport` (server, default 4460).
    pub nts_port: u16,
    /// `ntsservercert` lines.
    pub nts_server_certs: Vec<String>,
    /// `ntsserverkey` lines.
    pub nts_server_keys: Vec<String>,
    /// `ntsprocesses` (default 1).
    pub nts_processes: u32,
    /// `maxntsconnections` (default 100).
    pub max_nts_connections: u32,
    /// `ntsntpserver`.
    pub nts_ntp_server: Option<String>,
    /// `ntsrotate`, seconds (default 604800).
    pub nts_rotate: u32,
    /// `port` (default 123; 0: no server).
    pub port: u16,
    /// `ratelimit` (`None`: disabled).
    pub ratelimit: Option<RateLimit>,
    /// `ntsratelimit` (`None`: disabled).
    pub nts_ratelimit: Option<RateLimit>,
    /// `smoothtime`.
    pub smoothtime: Option<SmoothTime>,
    // --- Command access
    /// `bindcmdaddress` with IP addresses (default loopback).
    pub bind_cmd_address: BindAddresses,
    /// `bindcmdaddress /path`.
    pub bind_cmd_path: PathOrDisabled,
    /// `bindcmddevice`.
    pub bind_cmd_device: Option<String>,
    /// `cmdallow`/`cmddeny` rules in order.
    pub cmd_access: Vec<AccessRule>,
    /// `cmdport` (default 323).
    pub cmd_port: u16,
    /// `cmdratelimit` (`None`: disabled).
    pub cmd_ratelimit: Option<RateLimit>,
    /// `opencommands`.
    pub open_commands: Vec<OpenCommand>,
    // --- RTC
    /// `hwclockfile`.
    pub hwclock_file: Option<String>,
    /// `rtcautotrim`, seconds (0: disabled).
    pub rtc_autotrim: f64,
    /// `rtcdevice` (`None`: `/dev/rtc`).
    pub rtc_device: Option<String>,
    /// `rtcfile`.
    pub rtc_file: Option<String>,
    /// `rtconutc`.
    pub rtc_on_utc: bool,
    /// `rtcsync`.
    pub rtc_sync: bool,
    // --- Logging
    /// `log`.
    pub log: LogKinds,
    /// `logbanner` (default 32).
    pub log_banner: u32,
    /// `logchange`, seconds (default 1).
    pub log_change: f64,
    /// `logdir`.
    pub logdir: Option<String>,
    /// `mailonchange`.
    pub mail_on_change: Option<MailOnChange>,
    // --- Miscellaneous
    /// `hwtimestamp` lines.
    pub hwtimestamps: Vec<HwTimestamp>,
    /// `hwtstimeout`, seconds (default 0.001).
    pub hwts_timeout: f64,
    /// `maxtxbuffers` (default 0).
    pub max_tx_buffers: u32,
    /// `keyfile`.
    pub keyfile: Option<String>,
    /// `lock_all`.
    pub lock_all: bool,
    /// `pidfile`.
    pub pidfile: PathOrDisabled,
    /// `ptpport` (0: disabled).
    pub ptp_port: u16,
    /// `ptpdomain` (default 123).
    pub ptp_domain: u8,
    /// `sched_priority` (0: disabled).
    pub sched_priority: u32,
    /// `user`.
    pub user: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sources: Vec::new(),
            refclocks: Vec::new(),
            initstepslew: None,
            manual: false,
            acquisition_port: None,
            bind_acq_address: BindAddresses::default(),
            bind_acq_device: None,
            dscp: 0,
            dumpdir: None,
            maxsamples: 0,
            minsamples: 6,
            nts_aeads: vec![30, 15],
            nts_dumpdir: None,
            nts_refresh: 2_419_200,
            nts_trusted_certs: Vec::new(),
            no_system_cert: false,
            no_cert_time_check: 0,
            refresh: 1_209_600,
            sourcedirs: Vec::new(),
            authselect_mode: AuthSelectMode::Mix,
            combine_limit: 3.0,
            max_distance: 3.0,
            max_jitter: 1.0,
            max_stratum: 15,
            min_stratum: 0,
            min_sources: 1,
            reselect_dist: 1e-4,
            stratum_weight: 1e-3,
            clock_precision: None,
            corr_time_ratio: 3.0,
            driftfile: None,
            fallback_drift: None,
            leapsec_mode: LeapSecMode::System,
            leapsec_tz: None,
            leapsec_list: None,
            makestep: None,
            maxchange: None,
            max_clock_error: 1.0,
            max_drift: 100_000.0,
            max_update_skew: 1000.0,
            max_slew_rate: 1e6 / 12.0,
            tempcomp: None,
            ntp_access: Vec::new(),
            bind_address: BindAddresses::default(),
            bind_device: None,
            broadcasts: Vec::new(),
            client_log_limit: 524_288,
            no_client_log: false,
            local: None,
            ntp_signd_socket: None,
            nts_port: 4460,
            nts_server_certs: Vec::new(),
            nts_server_keys: Vec::new(),
            nts_processes: 1,
            max_nts_connections: 100,
            nts_ntp_server: None,
            nts_rotate: 604_800,
            port: 123,
            ratelimit: None,
            nts_ratelimit: None,
            smoothtime: None,
            bind_cmd_address: BindAddresses::default(),
            bind_cmd_path: PathOrDisabled::Default,
            bind_cmd_device: None,
            cmd_access: Vec::new(),
            cmd_port: 323,
            cmd_ratelimit: None,
            open_commands: OpenCommand::DEFAULT.to_vec(),
            hwclock_file: None,
            rtc_autotrim: 0.0,
            rtc_device: None,
            rtc_file: None,
            rtc_on_utc: false,
            rtc_sync: false,
            log: LogKinds::default(),
            log_banner: 32,
            log_change: 1.0,
            logdir: None,
            mail_on_change: None,
            hwtimestamps: Vec::new(),
            hwts_timeout: 0.001,
            max_tx_buffers: 0,
            keyfile: None,
            lock_all: false,
            pidfile: PathOrDisabled::Default,
            ptp_port: 0,
            ptp_domain: 123,
            sched_priority: 0,
            user: None,
        }
    }
}

/// Narrows a range-checked value; the fallback is never used because the parser's tables
/// bound every value to the field's type.
fn narrow<T: TryFrom<i64>>(v: i64, fallback: T) -> T {
    T::try_from(v).unwrap_or(fallback)
}

impl Config {
    /// Applies one directive. `include`/`confdir` are handled by the loader and ignored here.
    pub fn apply(&mut self, d: &Directive) {
        match d {
            Directive::Source(s) => self.sources.push(s.clone()),
            Directive::Refclock(r) => self.refclocks.push(r.clone()),
            Directive::Int(s, v) => self.apply_int(*s, *v),
            Directive::Float(s, v) => self.apply_float(*s, *v),
            Directive::String(s, v) => self.apply_string(*s, v.clone()),
            Directive::Flag(s) => self.apply_flag(*s),
            Directive::Access { cmd: false, rule } => self.ntp_access.push(rule.clone()),
            Directive::Access { cmd: true, rule } => self.cmd_access.push(rule.clone()),
            Directive::AuthSelectMode(m) => self.authselect_mode = *m,
            Directive::BindAddress(BindScope::Ntp, a) => self.bind_address.set(*a),
            Directive::BindAddress(BindScope::Acq, a) => self.bind_acq_address.set(*a),
            Directive::BindAddress(BindScope::Cmd, a) => self.bind_cmd_address.set(*a),
            Directive::BindCmdPath(p) => self.bind_cmd_path = p.clone(),
            Directive::Broadcast(b) => self.broadcasts.push(b.clone()),
            Directive::ConfDir(_) | Directive::Include(_) | Directive::Obsolete(_) => {}
            Directive::DriftFile(d) => self.driftfile = Some(d.clone()),
            Directive::FallbackDrift(d) => self.fallback_drift = Some(*d),
            Directive::HwTimestamp(h) => self.hwtimestamps.push(h.clone()),
            Directive::InitStepSlew(i) => self.initstepslew = Some(i.clone()),
            Directive::LeapSecMode(m) => self.leapsec_mode = *m,
            Directive::Local(l) => self.local = Some(*l),
            Directive::Log(k) => self.log.merge(k),
            Directive::MailOnChange(m) => self.mail_on_change = Some(m.clone()),
            Directive::MakeStep(m) => self.makestep = Some(*m),
            Directive::MaxChange(m) => self.maxchange = Some(*m),
            Directive::NtsAeads(ids) => self.nts_aeads = ids.clone(),
            Directive::NtsServerCert(p) => self.nts_server_certs.push(p.clone()),
            Directive::NtsServerKey(p) => self.nts_server_keys.push(p.clone()),
            Directive::NtsTrustedCerts(t) => self.nts_trusted_certs.push(t.clone()),
            Directive::OpenCommands(c) => self.open_commands = c.clone(),
            Directive::PidFile(p) => self.pidfile = p.clone(),
            Directive::RateLimit {
                kind,
                interval,
                burst,
                leak,
                kod,
            } => {
                let slot = match kind {
                    RateLimitKind::Ntp => &mut self.ratelimit,
                    RateLimitKind::Nts => &mut self.nts_ratelimit,
                    RateLimitKind::Cmd => &mut self.cmd_ratelimit,
                };
                // chrony keeps options of an earlier line that a later line does not repeat.
                let mut r = slot.unwrap_or_else(|| kind.defaults());
                r.interval = interval.unwrap_or(r.interval);
                r.burst = burst.unwrap_or(r.burst);
                r.leak = leak.unwrap_or(r.leak);
                r.kod = kod.unwrap_or(r.kod);
                *slot = Some(r);
            }
            Directive::SmoothTime(s) => self.smoothtime = Some(*s),
            Directive::SourceDir(d) => self.sourcedirs.push(d.clone()),
            Directive::TempComp(t) => self.tempcomp = Some(t.clone()),
        }
    }

    fn apply_int(&mut self, s: IntSetting, v: i64) {
        match s {
            IntSetting::AcquisitionPort => self.acquisition_port = Some(narrow(v, 0)),
            IntSetting::ClientLogLimit => self.client_log_limit = narrow(v, 0),
            IntSetting::CmdPort => self.cmd_port = narrow(v, 0),
            IntSetting::Dscp => self.dscp = narrow(v, 0),
            IntSetting::LogBanner => self.log_banner = narrow(v, 0),
            IntSetting::MaxNtsConnections => self.max_nts_connections = narrow(v, 0),
            IntSetting::MaxSamples => self.maxsamples = narrow(v, 0),
            IntSetting::MaxStratum => self.max_stratum = narrow(v, 0),
            IntSetting::MaxTxBuffers => self.max_tx_buffers = narrow(v, 0),
            IntSetting::MinSamples => self.minsamples = narrow(v, 0),
            IntSetting::MinSources => self.min_sources = narrow(v, 0),
            IntSetting::MinStratum => self.min_stratum = narrow(v, 0),
            IntSetting::NoCertTimeCheck => self.no_cert_time_check = narrow(v, 0),
            IntSetting::NtsPort => self.nts_port = narrow(v, 0),
            IntSetting::NtsProcesses => self.nts_processes = narrow(v, 0),
            IntSetting::NtsRefresh => self.nts_refresh = narrow(v, 0),
            IntSetting::NtsRotate => self.nts_rotate = narrow(v, 0),
            IntSetting::Port => self.port = narrow(v, 0),
            IntSetting::PtpDomain => self.ptp_domain = narrow(v, 0),
            IntSetting::PtpPort => self.ptp_port = narrow(v, 0),
            IntSetting::Refresh => self.refresh = narrow(v, 0),
            IntSetting::SchedPriority => self.sched_priority = narrow(v, 0),
        }
    }

    fn apply_float(&mut self, s: FloatSetting, v: f64) {
        let slot = match s {
            FloatSetting::ClockPrecision => {
                self.clock_precision = Some(v);
                return;
            }
            FloatSetting::CombineLimit => &mut self.combine_limit,
            FloatSetting::CorrTimeRatio => &mut self.corr_time_ratio,
            FloatSetting::HwTsTimeout => &mut self.hwts_timeout,
            FloatSetting::LogChange => &mut self.log_change,
            FloatSetting::MaxClockError => &mut self.max_clock_error,
            FloatSetting::MaxDistance => &mut self.max_distance,
            FloatSetting::MaxDrift => &mut self.max_drift,
            FloatSetting::MaxJitter => &mut self.max_jitter,
            FloatSetting::MaxSlewRate => &mut self.max_slew_rate,
            FloatSetting::MaxUpdateSkew => &mut self.max_update_skew,
            FloatSetting::ReselectDist => &mut self.reselect_dist,
            FloatSetting::RtcAutotrim => &mut self.rtc_autotrim,
            FloatSetting::StratumWeight => &mut self.stratum_weight,
        };
        *slot = v;
    }

    pub(crate) fn string_slot(&mut self, s: StringSetting) -> &mut Option<String> {
        match s {
            StringSetting::BindAcqDevice => &mut self.bind_acq_device,
            StringSetting::BindCmdDevice => &mut self.bind_cmd_device,
            StringSetting::BindDevice => &mut self.bind_device,
            StringSetting::DumpDir => &mut self.dumpdir,
            StringSetting::HwClockFile => &mut self.hwclock_file,
            StringSetting::KeyFile => &mut self.keyfile,
            StringSetting::LeapSecList => &mut self.leapsec_list,
            StringSetting::LeapSecTz => &mut self.leapsec_tz,
            StringSetting::LogDir => &mut self.logdir,
            StringSetting::NtpSigndSocket => &mut self.ntp_signd_socket,
            StringSetting::NtsDumpDir => &mut self.nts_dumpdir,
            StringSetting::NtsNtpServer => &mut self.nts_ntp_server,
            StringSetting::RtcDevice => &mut self.rtc_device,
            StringSetting::RtcFile => &mut self.rtc_file,
            StringSetting::User => &mut self.user,
        }
    }

    fn apply_string(&mut self, s: StringSetting, v: String) {
        *self.string_slot(s) = Some(v);
    }

    pub(crate) fn flag_slot(&mut self, s: FlagSetting) -> &mut bool {
        match s {
            FlagSetting::LockAll => &mut self.lock_all,
            FlagSetting::Manual => &mut self.manual,
            FlagSetting::NoClientLog => &mut self.no_client_log,
            FlagSetting::NoSystemCert => &mut self.no_system_cert,
            FlagSetting::RtcOnUtc => &mut self.rtc_on_utc,
            FlagSetting::RtcSync => &mut self.rtc_sync,
        }
    }

    fn apply_flag(&mut self, s: FlagSetting) {
        *self.flag_slot(s) = true;
    }
}
