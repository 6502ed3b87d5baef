//! The per-source parameters, clamped as chrony clamps them when it creates
//! a source (`NCR_CreateInstance`) or a command modifies one.

use krony_config::SourceOptions;
use krony_wire::ntp::VERSION;

use super::types::Association;
use crate::select::SelectOptions;

/// The shortest poll interval, log2 s (1/128 s).
pub const MIN_POLL: i8 = -7;
/// The longest poll interval, log2 s (about 6 months).
pub const MAX_POLL: i8 = 24;
/// chrony's default `minpoll` (64 s).
pub const DEFAULT_MINPOLL: i8 = 6;
/// chrony's default `maxpoll` (1024 s).
pub const DEFAULT_MAXPOLL: i8 = 10;
/// The largest stratum of a synchronised server (RFC 5905 §7.3: 16 means
/// unsynchronised).
pub const MAX_STRATUM: u8 = 16;

/// Limits of the delay options (chrony's `MAX_MAXDELAY`, ...).
const MAX_MAXDELAY: f64 = 1.0e3;
const MAX_MAXDELAYRATIO: f64 = 1.0e6;
const MAX_MAXDELAYDEVRATIO: f64 = 1.0e6;

/// How responses are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// No authentication: responses must carry no MAC and no NTS fields.
    None,
    /// A symmetric key (`key ID`): the engine appends the MAC to requests
    /// and verifies the MAC of responses.
    Symmetric {
        /// The key ID.
        key_id: u32,
    },
    /// NTS (RFC 8915): the driver does NTS-KE, adds the NTS fields to
    /// requests and verifies responses; the source polls only while the
    /// driver says it is ready ([`NtpSource::set_nts_ready`](super::NtpSource::set_nts_ready)).
    Nts,
}

/// The parameters of one source, clamped to chrony's ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceParams {
    /// `minpoll`, -7 to 24.
    pub minpoll: i8,
    /// `maxpoll`, `minpoll` to 24.
    pub maxpoll: i8,
    /// `polltarget`, at least 1.
    pub poll_target: i32,
    /// `presend`: the smallest poll at which a warm-up exchange precedes each
    /// measurement; `None` disables it (always for peers).
    pub presend_minpoll: Option<i8>,
    /// `maxdelay`, 0 to 1000 s.
    pub max_delay: f64,
    /// `maxdelayratio`, 0 to 1e6 (below 1 disables the test).
    pub max_delay_ratio: f64,
    /// `maxdelaydevratio`, 0 to 1e6.
    pub max_delay_dev_ratio: f64,
    /// `maxdelayquant`: test C accepts delays up to this quantile of the
    /// delays seen instead (0.05 to 0.95); `None` when not set.
    pub max_delay_quant: Option<f64>,
    /// `offset`: added to each measured offset, seconds.
    pub offset_correction: f64,
    /// `minstratum`, 0 to 15.
    pub min_stratum: u8,
    /// `copy` (client mode only): take the server's reference ID and stratum.
    pub copy: bool,
    /// `iburst`: start with a burst when going online.
    pub auto_iburst: bool,
    /// `burst`: a burst on each poll while the poll is above `minpoll`.
    pub auto_burst: bool,
    /// `auto_offline`: go offline when a request cannot be sent.
    pub auto_offline: bool,
    /// `xleave`: interleaved mode.
    pub interleaved: bool,
    /// `extfield F323`: chrony's experimental monotonic-root field.
    pub mono_root: bool,
    /// The version of our packets, 1 to 4.
    pub version: u8,
    /// Authentication.
    pub auth: AuthMode,
    /// `maxunreach`.
    pub max_unreach: u32,
    /// `filter`: median filter length in polls, 0 = none.
    pub filter_length: usize,
    /// Selection options (not used here; carried for the engine).
    pub select: SelectOptions,
    /// A krony extension, off by default: go offline on a KoD DENY or RSTR
    /// as RFC 5905 §7.4 asks. chrony does not react to them (they only fail
    /// test 6).
    pub stop_on_deny: bool,
}

impl SourceParams {
    /// Parameters from a configuration line, clamped as chrony does.
    pub fn from_options(o: &SourceOptions, assoc: Association) -> Self {
        let client = assoc == Association::Client;
        let minpoll = clamp_poll(o.minpoll, DEFAULT_MINPOLL);
        let mut maxpoll = clamp_poll(o.maxpoll, DEFAULT_MAXPOLL);
        if maxpoll < minpoll {
            maxpoll = minpoll;
        }
        let auth = if o.nts {
            AuthMode::Nts
        } else if let Some(key_id) = o.key {
            AuthMode::Symmetric { key_id }
        } else {
            AuthMode::None
        };
        // chrony suggests NTPv3 only for keys whose MAC would be truncated
        // in NTPv4 (digests over 20 bytes); the key store is not known here,
        // so version 4 is used unless configured.
        let version = o.version.map_or(VERSION, |v| v.clamp(1, VERSION));
        SourceParams {
            minpoll,
            maxpoll,
            poll_target: o.polltarget.max(1),
            presend_minpoll: o.presend.filter(|p| client && *p <= MAX_POLL),
            max_delay: clamp_f(o.maxdelay, MAX_MAXDELAY),
            max_delay_ratio: clamp_f(o.maxdelayratio, MAX_MAXDELAYRATIO),
            max_delay_dev_ratio: clamp_f(o.maxdelaydevratio, MAX_MAXDELAYDEVRATIO),
            max_delay_quant: (o.maxdelayquant > 0.0).then(|| o.maxdelayquant.clamp(0.05, 0.95)),
            offset_correction: o.offset,
            min_stratum: o.minstratum.min(MAX_STRATUM - 1),
            copy: o.copy && client,
            auto_iburst: o.iburst,
            auto_burst: o.burst,
            auto_offline: o.auto_offline,
            interleaved: o.xleave,
            mono_root: o.extfields.exp_mono_root,
            version,
            auth,
            max_unreach: o.maxunreach,
            filter_length: o.filter as usize,
            select: SelectOptions {
                noselect: o.select.noselect,
                prefer: o.select.prefer,
                trust: o.select.trust,
                require: o.select.require,
            },
            stop_on_deny: false,
        }
    }
}

impl Default for SourceParams {
    /// The parameters of `server HOST` with no options.
    fn default() -> Self {
        SourceParams::from_options(&SourceOptions::default(), Association::Client)
    }
}

/// A poll below -7 becomes `default`, one above 24 becomes 24.
fn clamp_poll(poll: i8, default: i8) -> i8 {
    if poll < MIN_POLL {
        default
    } else {
        poll.min(MAX_POLL)
    }
}

/// `x` limited to `0..=max`; NaN becomes 0 (chrony's CLAMP gives the lower
/// bound for NaN too).
pub(super) fn clamp_f(x: f64, max: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, max) }
}

/// The clamp used by the `maxdelay` command.
pub(super) fn clamp_max_delay(x: f64) -> f64 {
    clamp_f(x, MAX_MAXDELAY)
}

/// The clamp used by the `maxdelayratio` command.
pub(super) fn clamp_max_delay_ratio(x: f64) -> f64 {
    clamp_f(x, MAX_MAXDELAYRATIO)
}

/// The clamp used by the `maxdelaydevratio` command.
pub(super) fn clamp_max_delay_dev_ratio(x: f64) -> f64 {
    clamp_f(x, MAX_MAXDELAYDEVRATIO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_clamped_like_chrony() {
        let o = SourceOptions {
            minpoll: -10,
            maxpoll: 3,
            minstratum: 16,
            maxdelay: 5000.0,
            polltarget: 0,
            presend: Some(9),
            copy: true,
            ..SourceOptions::default()
        };
        let p = SourceParams::from_options(&o, Association::SymmetricActive);
        // minpoll below -7 falls back to the default 6, and maxpoll follows it.
        assert_eq!((p.minpoll, p.maxpoll), (6, 6));
        assert_eq!(p.min_stratum, 15);
        assert_eq!(p.max_delay, 1000.0);
        assert_eq!(p.poll_target, 1);
        // presend and copy only apply to client mode.
        assert_eq!(p.presend_minpoll, None);
        assert!(!p.copy);
        let c = SourceParams::from_options(&o, Association::Client);
        assert_eq!(c.presend_minpoll, Some(9));
        assert!(c.copy);
    }

    #[test]
    fn version_and_auth() {
        let o = SourceOptions {
            version: Some(7),
            key: Some(10),
            ..SourceOptions::default()
        };
        let p = SourceParams::from_options(&o, Association::Client);
        assert_eq!(p.version, 4);
        assert_eq!(p.auth, AuthMode::Symmetric { key_id: 10 });
        assert_eq!(SourceParams::default().auth, AuthMode::None);
    }
}
