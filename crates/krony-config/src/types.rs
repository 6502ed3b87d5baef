//! Typed values of the directives that take more than one plain value.

use std::net::IpAddr;

/// `makestep THRESHOLD LIMIT`: step the clock when the offset exceeds `threshold` seconds,
/// during the first `limit` updates (a negative limit means always).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MakeStep {
    /// Offset threshold in seconds.
    pub threshold: f64,
    /// Number of clock updates during which stepping is allowed; negative: unlimited.
    pub limit: i32,
}

/// `maxchange OFFSET START IGNORE`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxChange {
    /// Maximum accepted offset in seconds.
    pub offset: f64,
    /// Number of clock updates before the check starts.
    pub start: i32,
    /// Number of too-large offsets ignored before exiting (negative: never exit).
    pub ignore: i32,
}

/// `local [stratum N] [distance D] [orphan] [activate A] [waitsynced S] [waitunsynced U]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Local {
    /// Stratum served when the local reference is active (1..15, default 10).
    pub stratum: u8,
    /// Root distance that activates the local reference, seconds (default 1.0).
    pub distance: f64,
    /// Orphan mode (RFC 5905 §3 "orphan mode" in ntpd's sense, chrony's variant).
    pub orphan: bool,
    /// Minimum root distance (seconds) reached once before activation (0: disabled).
    pub activate: f64,
    /// Seconds to wait after synchronisation before activating (default 0).
    pub waitsynced: f64,
    /// Seconds to wait after start when never synchronised (default 0; 300 with orphan).
    pub waitunsynced: f64,
}

impl Local {
    /// The defaults chrony applies to a bare `local` line.
    pub fn new(orphan: bool) -> Self {
        Local {
            stratum: 10,
            distance: 1.0,
            orphan,
            activate: 0.0,
            waitsynced: 0.0,
            waitunsynced: if orphan { 300.0 } else { 0.0 },
        }
    }
}

impl Default for Local {
    fn default() -> Self {
        Local::new(false)
    }
}

/// The address part of an allow/deny rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessTarget {
    /// No address: all IPv4 and IPv6 addresses.
    Any,
    /// An address with a prefix length (a bare address has the full length).
    Subnet {
        /// Network address as written (host bits are kept).
        addr: IpAddr,
        /// Prefix length in bits.
        prefix: u8,
    },
    /// A host name, resolved by the daemon.
    Host(String),
}

/// One `allow`/`deny` (or `cmdallow`/`cmddeny`) line. Rules apply in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// True for allow, false for deny.
    pub allow: bool,
    /// `all`: override previous rules for more specific subnets.
    pub all: bool,
    /// The addresses concerned.
    pub target: AccessTarget,
}

/// Source selection policy for authenticated sources (`authselectmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthSelectMode {
    /// Unauthenticated sources are never selected.
    Require,
    /// Unauthenticated sources are not selected if any authenticated one exists.
    Prefer,
    /// Mix, with authenticated sources required and trusted (chrony's default).
    #[default]
    Mix,
    /// Authentication does not influence selection.
    Ignore,
}

/// Leap second handling (`leapsecmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeapSecMode {
    /// Let the kernel insert/delete the second (default).
    #[default]
    System,
    /// Step the clock at the leap second.
    Step,
    /// Slew the clock over the leap second.
    Slew,
    /// Ignore leap seconds.
    Ignore,
}

/// `driftfile FILE [interval SECONDS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftFile {
    /// Path of the drift file.
    pub path: String,
    /// Minimum interval between updates of the file, seconds (default 3600).
    pub interval: i32,
}

/// `fallbackdrift MIN MAX` (log2 seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackDrift {
    /// Minimum interval, log2 seconds.
    pub min: i32,
    /// Maximum interval, log2 seconds.
    pub max: i32,
}

/// `broadcast INTERVAL ADDRESS [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// Interval between broadcasts, seconds.
    pub interval: i32,
    /// Broadcast address.
    pub addr: IpAddr,
    /// Destination port (default 123).
    pub port: u16,
}

/// `initstepslew THRESHOLD [HOST]...` (deprecated in favour of `makestep`).
#[derive(Debug, Clone, PartialEq)]
pub struct InitStepSlew {
    /// Offsets above this (seconds) are stepped, below slewed.
    pub threshold: f64,
    /// Servers to measure.
    pub hosts: Vec<String>,
}

/// `mailonchange ADDRESS THRESHOLD`.
#[derive(Debug, Clone, PartialEq)]
pub struct MailOnChange {
    /// Mail recipient.
    pub address: String,
    /// Clock changes above this (seconds) are mailed.
    pub threshold: f64,
}

/// `smoothtime MAXFREQ MAXWANDER [leaponly]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothTime {
    /// Maximum frequency offset of the smoothed time, ppm.
    pub max_freq: f64,
    /// Maximum wander, ppm per second.
    pub max_wander: f64,
    /// Smooth only leap seconds.
    pub leap_only: bool,
}

/// The compensation model of `tempcomp`.
#[derive(Debug, Clone, PartialEq)]
pub enum TempCompModel {
    /// `T0 K0 K1 K2`: quadratic in (T - T0).
    Coefficients {
        /// Reference temperature.
        t0: f64,
        /// Constant term, ppm.
        k0: f64,
        /// Linear term.
        k1: f64,
        /// Quadratic term.
        k2: f64,
    },
    /// A file of (temperature, compensation) points.
    Points(String),
}

/// `tempcomp FILE INTERVAL (T0 K0 K1 K2 | POINTS-FILE)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TempComp {
    /// Sensor file.
    pub sensor: String,
    /// Update interval, seconds.
    pub interval: f64,
    /// Compensation model.
    pub model: TempCompModel,
}

/// `hwtimestamp` receive filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxFilter {
    /// Any filter the interface supports (default).
    #[default]
    Any,
    /// No filtering.
    None,
    /// NTP packets only.
    Ntp,
    /// PTP packets only.
    Ptp,
    /// All packets.
    All,
}

/// `hwtimestamp INTERFACE|* [options]`.
#[derive(Debug, Clone, PartialEq)]
pub struct HwTimestamp {
    /// Interface name or `*` for all.
    pub interface: String,
    /// Minimum poll of the PHC reading, log2 seconds (default 0).
    pub minpoll: i8,
    /// Maximum poll (default minpoll + 1).
    pub maxpoll: i8,
    /// Minimum samples (default 2).
    pub minsamples: u32,
    /// Maximum samples (default 16).
    pub maxsamples: u32,
    /// Assumed precision, seconds (default 1e-7).
    pub precision: f64,
    /// Transmit timestamp compensation, seconds.
    pub txcomp: f64,
    /// Receive timestamp compensation, seconds.
    pub rxcomp: f64,
    /// Disable precise cross timestamping.
    pub nocrossts: bool,
    /// Receive filter.
    pub rxfilter: RxFilter,
}

impl HwTimestamp {
    /// The defaults for an interface.
    pub fn new(interface: String) -> Self {
        HwTimestamp {
            interface,
            minpoll: 0,
            maxpoll: 1,
            minsamples: 2,
            maxsamples: 16,
            precision: 100e-9,
            txcomp: 0.0,
            rxcomp: 0.0,
            nocrossts: false,
            rxfilter: RxFilter::Any,
        }
    }
}

/// A rate limit (`ratelimit`, `ntsratelimit`, `cmdratelimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Minimum interval between responses, log2 seconds.
    pub interval: i8,
    /// Responses allowed in a burst.
    pub burst: i8,
    /// Leak rate, log2 of 1/rate.
    pub leak: i8,
    /// KoD RATE rate, log2 of 1/rate (0 disables; `ratelimit` only).
    pub kod: i8,
}

/// Which rate limit a directive sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitKind {
    /// `ratelimit` (NTP responses).
    Ntp,
    /// `ntsratelimit` (NTS-KE connections).
    Nts,
    /// `cmdratelimit` (command responses).
    Cmd,
}

impl RateLimitKind {
    /// The directive name.
    pub fn name(self) -> &'static str {
        match self {
            RateLimitKind::Ntp => "ratelimit",
            RateLimitKind::Nts => "ntsratelimit",
            RateLimitKind::Cmd => "cmdratelimit",
        }
    }

    /// chrony's defaults: interval 3 (NTP), 6 (NTS-KE) or -4 (commands); burst 8, leak 2.
    pub fn defaults(self) -> RateLimit {
        let interval = match self {
            RateLimitKind::Ntp => 3,
            RateLimitKind::Nts => 6,
            RateLimitKind::Cmd => -4,
        };
        RateLimit {
            interval,
            burst: 8,
            leak: 2,
            kod: 0,
        }
    }
}

/// Which statistics logs are enabled (`log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogKinds {
    /// `rawmeasurements` (implies measurements, includes invalid ones).
    pub raw_measurements: bool,
    /// `measurements`.
    pub measurements: bool,
    /// `selection`.
    pub selection: bool,
    /// `statistics`.
    pub statistics: bool,
    /// `tracking`.
    pub tracking: bool,
    /// `rtc`.
    pub rtc: bool,
    /// `refclocks`.
    pub refclocks: bool,
    /// `tempcomp`.
    pub tempcomp: bool,
}

impl LogKinds {
    /// Names in the order printed.
    pub(crate) const NAMES: [&'static str; 8] = [
        "rawmeasurements",
        "measurements",
        "selection",
        "statistics",
        "tracking",
        "rtc",
        "refclocks",
        "tempcomp",
    ];

    pub(crate) fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "rawmeasurements" => &mut self.raw_measurements,
            "measurements" => &mut self.measurements,
            "selection" => &mut self.selection,
            "statistics" => &mut self.statistics,
            "tracking" => &mut self.tracking,
            "rtc" => &mut self.rtc,
            "refclocks" => &mut self.refclocks,
            "tempcomp" => &mut self.tempcomp,
            _ => return None,
        })
    }

    pub(crate) fn flags(&self) -> [bool; 8] {
        [
            self.raw_measurements,
            self.measurements,
            self.selection,
            self.statistics,
            self.tracking,
            self.rtc,
            self.refclocks,
            self.tempcomp,
        ]
    }

    /// Adds the logs enabled in `other`.
    pub fn merge(&mut self, other: &LogKinds) {
        self.raw_measurements |= other.raw_measurements;
        self.measurements |= other.measurements;
        self.selection |= other.selection;
        self.statistics |= other.statistics;
        self.tracking |= other.tracking;
        self.rtc |= other.rtc;
        self.refclocks |= other.refclocks;
        self.tempcomp |= other.tempcomp;
    }
}

/// A command that may be opened to remote clients (`opencommands`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenCommand {
    /// `activity`
    Activity,
    /// `authdata`
    AuthData,
    /// `clients`
    Clients,
    /// `manual` (manual list)
    Manual,
    /// `ntpdata`
    NtpData,
    /// `rtcdata`
    RtcData,
    /// `selectdata`
    SelectData,
    /// `serverstats`
    ServerStats,
    /// `smoothing`
    Smoothing,
    /// `sourcename`
    SourceName,
    /// `sources`
    Sources,
    /// `sourcestats`
    SourceStats,
    /// `tracking`
    Tracking,
}

impl OpenCommand {
    /// All commands with their names.
    pub const ALL: [(OpenCommand, &'static str); 13] = [
        (OpenCommand::Activity, "activity"),
        (OpenCommand::AuthData, "authdata"),
        (OpenCommand::Clients, "clients"),
        (OpenCommand::Manual, "manual"),
        (OpenCommand::NtpData, "ntpdata"),
        (OpenCommand::RtcData, "rtcdata"),
        (OpenCommand::SelectData, "selectdata"),
        (OpenCommand::ServerStats, "serverstats"),
        (OpenCommand::Smoothing, "smoothing"),
        (OpenCommand::SourceName, "sourcename"),
        (OpenCommand::Sources, "sources"),
        (OpenCommand::SourceStats, "sourcestats"),
        (OpenCommand::Tracking, "tracking"),
    ];

    /// chrony's default set of open commands.
    pub const DEFAULT: [OpenCommand; 8] = [
        OpenCommand::Activity,
        OpenCommand::Manual,
        OpenCommand::RtcData,
        OpenCommand::Smoothing,
        OpenCommand::SourceName,
        OpenCommand::Sources,
        OpenCommand::SourceStats,
        OpenCommand::Tracking,
    ];

    /// The command's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }
}

/// `ntstrustedcerts [SET] PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCerts {
    /// Certificate set ID (default 0).
    pub set: u32,
    /// File or directory of PEM certificates.
    pub path: String,
}

/// A path setting that has a built-in default and can be disabled with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PathOrDisabled {
    /// The daemon's built-in default.
    #[default]
    Default,
    /// Disabled (the value `/`).
    Disabled,
    /// A configured path.
    Path(String),
}

/// Addresses to bind one kind of socket to (one per family, last directive wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BindAddresses {
    /// IPv4 address.
    pub v4: Option<std::net::Ipv4Addr>,
    /// IPv6 address.
    pub v6: Option<std::net::Ipv6Addr>,
}

impl BindAddresses {
    /// Records `addr` in the slot of its family.
    pub fn set(&mut self, addr: IpAddr) {
        match addr {
            IpAddr::V4(a) => self.v4 = Some(a),
            IpAddr::V6(a) => self.v6 = Some(a),
        }
    }
}
