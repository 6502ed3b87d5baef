//! Turning a [`Config`] back into directives (and so into chrony.conf text).

use std::net::IpAddr;

use crate::config::Config;
use crate::directive::{BindScope, Directive};
use crate::settings::{
    FLAG_SETTINGS, FLOAT_SETTINGS, FloatSetting, INT_SETTINGS, IntSetting, STRING_SETTINGS,
};
use crate::types::*;

impl Config {
    fn int_value(&self, s: IntSetting) -> Option<i64> {
        Some(match s {
            IntSetting::AcquisitionPort => return self.acquisition_port.map(i64::from),
            IntSetting::ClientLogLimit => self.client_log_limit.into(),
            IntSetting::CmdPort => self.cmd_port.into(),
            IntSetting::Dscp => self.dscp.into(),
            IntSetting::LogBanner => self.log_banner.into(),
            IntSetting::MaxNtsConnections => self.max_nts_connections.into(),
            IntSetting::MaxSamples => self.maxsamples.into(),
            IntSetting::MaxStratum => self.max_stratum.into(),
            IntSetting::MaxTxBuffers => self.max_tx_buffers.into(),
            IntSetting::MinSamples => self.minsamples.into(),
            IntSetting::MinSources => self.min_sources.into(),
            IntSetting::MinStratum => self.min_stratum.into(),
            IntSetting::NoCertTimeCheck => self.no_cert_time_check.into(),
            IntSetting::NtsPort => self.nts_port.into(),
            IntSetting::NtsProcesses => self.nts_processes.into(),
            IntSetting::NtsRefresh => self.nts_refresh.into(),
            IntSetting::NtsRotate => self.nts_rotate.into(),
            IntSetting::Port => self.port.into(),
            IntSetting::PtpDomain => self.ptp_domain.into(),
            IntSetting::PtpPort => self.ptp_port.into(),
            IntSetting::Refresh => self.refresh.into(),
            IntSetting::SchedPriority => self.sched_priority.into(),
        })
    }

    fn float_value(&self, s: FloatSetting) -> Option<f64> {
        Some(match s {
            FloatSetting::ClockPrecision => return self.clock_precision,
            FloatSetting::CombineLimit => self.combine_limit,
            FloatSetting::CorrTimeRatio => self.corr_time_ratio,
            FloatSetting::HwTsTimeout => self.hwts_timeout,
            FloatSetting::LogChange => self.log_change,
            FloatSetting::MaxClockError => self.max_clock_error,
            FloatSetting::MaxDistance => self.max_distance,
            FloatSetting::MaxDrift => self.max_drift,
            FloatSetting::MaxJitter => self.max_jitter,
            FloatSetting::MaxSlewRate => self.max_slew_rate,
            FloatSetting::MaxUpdateSkew => self.max_update_skew,
            FloatSetting::ReselectDist => self.reselect_dist,
            FloatSetting::RtcAutotrim => self.rtc_autotrim,
            FloatSetting::StratumWeight => self.stratum_weight,
        })
    }

    /// The directives that reproduce this configuration when applied to the defaults.
    ///
    /// Settings equal to chrony's defaults are left out; lists keep their order.
    pub fn to_directives(&self) -> Vec<Directive> {
        let def = Config::default();
        let mut out: Vec<Directive> = Vec::new();
        out.extend(self.sources.iter().cloned().map(Directive::Source));
        out.extend(self.refclocks.iter().cloned().map(Directive::Refclock));
        out.extend(self.sourcedirs.iter().cloned().map(Directive::SourceDir));
        self.push_scalars(&def, &mut out);
        self.push_structs(&def, &mut out);
        self.push_lists(&def, &mut out);
        out
    }

    fn push_scalars(&self, def: &Config, out: &mut Vec<Directive>) {
        for (s, ..) in INT_SETTINGS {
            match self.int_value(s) {
                Some(v) if Some(v) != def.int_value(s) => out.push(Directive::Int(s, v)),
                _ => {}
            }
        }
        for (s, _) in FLOAT_SETTINGS {
            match self.float_value(s) {
                Some(v) if Some(v) != def.float_value(s) => out.push(Directive::Float(s, v)),
                _ => {}
            }
        }
        // The slot accessors need `&mut`; a scratch copy keeps this method `&self`.
        let mut scratch = self.clone();
        for (s, _) in STRING_SETTINGS {
            if let Some(v) = scratch.string_slot(s).clone() {
                out.push(Directive::String(s, v));
            }
        }
        for (s, _) in FLAG_SETTINGS {
            if *scratch.flag_slot(s) {
                out.push(Directive::Flag(s));
            }
        }
    }

    fn push_structs(&self, def: &Config, out: &mut Vec<Directive>) {
        if self.authselect_mode != def.authselect_mode {
            out.push(Directive::AuthSelectMode(self.authselect_mode));
        }
        if self.leapsec_mode != def.leapsec_mode {
            out.push(Directive::LeapSecMode(self.leapsec_mode));
        }
        let opt = [
            self.initstepslew.clone().map(Directive::InitStepSlew),
            self.driftfile.clone().map(Directive::DriftFile),
            self.fallback_drift.map(Directive::FallbackDrift),
            self.makestep.map(Directive::MakeStep),
            self.maxchange.map(Directive::MaxChange),
            self.tempcomp.clone().map(Directive::TempComp),
            self.local.map(Directive::Local),
            self.smoothtime.map(Directive::SmoothTime),
            self.mail_on_change.clone().map(Directive::MailOnChange),
        ];
        out.extend(opt.into_iter().flatten());
        if self.log != def.log {
            out.push(Directive::Log(self.log));
        }
        for (scope, b) in [
            (BindScope::Ntp, &self.bind_address),
            (BindScope::Acq, &self.bind_acq_address),
            (BindScope::Cmd, &self.bind_cmd_address),
        ] {
            if let Some(a) = b.v4 {
                out.push(Directive::BindAddress(scope, IpAddr::V4(a)));
            }
            if let Some(a) = b.v6 {
                out.push(Directive::BindAddress(scope, IpAddr::V6(a)));
            }
        }
        if self.bind_cmd_path != PathOrDisabled::Default {
            out.push(Directive::BindCmdPath(self.bind_cmd_path.clone()));
        }
        if self.pidfile != PathOrDisabled::Default {
            out.push(Directive::PidFile(self.pidfile.clone()));
        }
        for (kind, r) in [
            (RateLimitKind::Ntp, self.ratelimit),
            (RateLimitKind::Nts, self.nts_ratelimit),
            (RateLimitKind::Cmd, self.cmd_ratelimit),
        ] {
            if let Some(r) = r {
                let d = kind.defaults();
                let diff = |v: i8, dv: i8| (v != dv).then_some(v);
                out.push(Directive::RateLimit {
                    kind,
                    interval: diff(r.interval, d.interval),
                    burst: diff(r.burst, d.burst),
                    leak: diff(r.leak, d.leak),
                    kod: diff(r.kod, d.kod),
                });
            }
        }
    }

    fn push_lists(&self, def: &Config, out: &mut Vec<Directive>) {
        for rule in &self.ntp_access {
            out.push(Directive::Access {
                cmd: false,
                rule: rule.clone(),
            });
        }
        for rule in &self.cmd_access {
            out.push(Directive::Access {
                cmd: true,
                rule: rule.clone(),
            });
        }
        out.extend(self.broadcasts.iter().cloned().map(Directive::Broadcast));
        out.extend(
            self.hwtimestamps
                .iter()
                .cloned()
                .map(Directive::HwTimestamp),
        );
        out.extend(
            self.nts_server_certs
                .iter()
                .cloned()
                .map(Directive::NtsServerCert),
        );
        out.extend(
            self.nts_server_keys
                .iter()
                .cloned()
                .map(Directive::NtsServerKey),
        );
        out.extend(
            self.nts_trusted_certs
                .iter()
                .cloned()
                .map(Directive::NtsTrustedCerts),
        );
        if self.nts_aeads != def.nts_aeads {
            out.push(Directive::NtsAeads(self.nts_aeads.clone()));
        }
        if self.open_commands != def.open_commands {
            out.push(Directive::OpenCommands(self.open_commands.clone()));
        }
    }

    /// The configuration as chrony.conf text, one canonical directive per line.
    ///
    /// Parsing the text gives back an equal `Config`.
    pub fn to_conf_string(&self) -> String {
        self.to_directives()
            .iter()
            .map(|d| format!("{d}\n"))
            .collect()
    }
}
