//! Settings of the discipline, with chrony's defaults (`conf.c`).

/// How the clock follows a leap second (`leapsecmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeapMode {
    /// The kernel inserts or deletes the second ([`crate::clock::ClockAction::SetLeap`]).
    #[default]
    System,
    /// The engine steps the clock by one second at midnight.
    Step,
    /// The engine slews the second out (at `maxslewrate`, about 12 s per second).
    Slew,
    /// Nothing is done; the sources will find the clock one second off.
    Ignore,
}

/// `makestep THRESHOLD LIMIT`: step when the offset exceeds `threshold`
/// seconds, in the first `limit` updates (a negative limit: in any update).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MakeStep {
    /// Offset in seconds above which the clock is stepped.
    pub threshold: f64,
    /// Number of updates in which stepping is allowed; negative = always.
    pub limit: i32,
}

/// `maxchange OFFSET START IGNORE`: after `start` updates, an offset larger
/// than `offset` is ignored `ignore` times (negative: always), then ends the
/// daemon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxChange {
    /// Largest accepted offset in seconds.
    pub offset: f64,
    /// Updates to let through before checking.
    pub start: i32,
    /// Violations to ignore before exiting; negative = never exit.
    pub ignore: i32,
}

/// `local [stratum N] [distance D] [orphan] [activate A] [waitsynced S]
/// [waitunsynced U]`: serve time from the local clock when unsynchronised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalConfig {
    /// Stratum served (clamped to 1..=15).
    pub stratum: u8,
    /// Root distance above which the local reference replaces a real one.
    pub distance: f64,
    /// Orphan mode (RFC 5905 §A.5.5.1 style): tell selection our stratum.
    pub orphan: bool,
    /// Root distance a real reference must once get below before local mode
    /// may activate (0 = no condition).
    pub activate: f64,
    /// Seconds since the last update before a synchronised clock may switch to
    /// local mode.
    pub wait_synced: f64,
    /// Seconds of being unsynchronised before local mode activates.
    pub wait_unsynced: f64,
}

impl LocalConfig {
    /// chrony's defaults for `local stratum N` alone (`orphan` changes the
    /// `waitunsynced` default to 300 s; set it here when `orphan` is given
    /// without it).
    pub fn new(stratum: u8) -> Self {
        LocalConfig {
            stratum,
            distance: 1.0,
            orphan: false,
            activate: 0.0,
            wait_synced: 0.0,
            wait_unsynced: 0.0,
        }
    }
}

/// Operating mode of the reference (chrony's `REF_Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RefMode {
    /// Normal continuous discipline.
    #[default]
    Normal,
    /// `initstepslew THRESHOLD`: correct the first offset (step if at least
    /// the threshold), then end the mode.
    InitStepSlew { threshold: f64 },
    /// `-q`: step once to the first estimate, then end.
    UpdateOnce,
    /// `-Q`: print the first estimate, then end.
    PrintOnce,
    /// A special mode ended; updates are ignored.
    Ignore,
}

/// Settings of [`super::LocalClock`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalClockConfig {
    /// `maxdrift`: largest frequency error (ppm) the estimate may take.
    pub max_drift_ppm: f64,
    /// `maxslewrate`: largest extra frequency (ppm) used to slew an offset.
    pub max_slew_rate_ppm: f64,
    /// The largest correction the clock accepts
    /// ([`crate::clock::Clock::max_frequency_ppm`]).
    pub clock_max_frequency_ppm: f64,
    /// How long a frequency change may take to become effective (a kernel
    /// tick or more, in seconds); it turns frequency changes into dispersion.
    pub max_freq_change_delay: f64,
    /// No control of the clock (chronyd's `-x` and `-Q`, its null driver):
    /// offsets are only accounted for in the corrected time, never slewed
    /// out, and steps fail ("Could not step system clock"). The frequency
    /// is still set (a virtual clock applies it).
    pub no_control: bool,
}

impl Default for LocalClockConfig {
    fn default() -> Self {
        LocalClockConfig {
            max_drift_ppm: 100_000.0,
            max_slew_rate_ppm: 1e6 / 12.0,
            clock_max_frequency_ppm: 500_000.0,
            // One tick at the slowest rate Linux updates the frequency (100 Hz).
            max_freq_change_delay: 0.01,
            no_control: false,
        }
    }
}

/// Settings of [`super::Reference`].
#[derive(Debug, Clone, PartialEq)]
pub struct DisciplineConfig {
    /// The model of the disciplined clock.
    pub clock: LocalClockConfig,
    /// `corrtimeratio`: how many update intervals correcting an offset of one
    /// standard deviation may take.
    pub correction_time_ratio: f64,
    /// `maxupdateskew` (ppm): larger measured skews do not update the frequency.
    pub max_update_skew_ppm: f64,
    /// `maxclockerror` (ppm): the clock's assumed frequency instability, added
    /// to the root dispersion growth.
    pub max_clock_error_ppm: f64,
    /// `makestep`; `None` never steps.
    pub make_step: Option<MakeStep>,
    /// chronyd `-R`: a `makestep` with a positive limit is ignored.
    pub restarted: bool,
    /// `maxchange`; `None` accepts any offset.
    pub max_change: Option<MaxChange>,
    /// `logchange` (seconds): offsets above it are logged as "System clock
    /// wrong by".
    pub log_change_threshold: f64,
    /// `mailonchange` threshold (seconds): offsets above it are reported
    /// with [`super::DisciplineEvent::MailChange`]; `None` when off.
    pub mail_change_threshold: Option<f64>,
    /// `leapsecmode`.
    pub leap_mode: LeapMode,
    /// `local`; `None` disables local reference mode.
    pub local: Option<LocalConfig>,
    /// `driftfile ... interval` in seconds; `None` when there is no driftfile.
    pub driftfile_interval: Option<f64>,
    /// `log tracking`: emit a [`super::TrackingLogLine`] per update.
    pub log_tracking: bool,
    /// Seed for the up-to-one-second fuzz chrony adds to the served reference
    /// time (so it cannot be used to guess receive timestamps); `None` disables
    /// the fuzz (deterministic tests).
    pub ref_time_fuzz_seed: Option<u64>,
    /// Special start-up mode (`initstepslew`, `-q`, `-Q`).
    pub mode: RefMode,
    /// `fallbackdrift MIN MAX` (log2 seconds); `None` disables it.
    pub fallback_drift: Option<(i32, i32)>,
}

impl Default for DisciplineConfig {
    fn default() -> Self {
        DisciplineConfig {
            clock: LocalClockConfig::default(),
            correction_time_ratio: 3.0,
            max_update_skew_ppm: 1000.0,
            max_clock_error_ppm: 1.0,
            make_step: None,
            restarted: false,
            max_change: None,
            log_change_threshold: 1.0,
            mail_change_threshold: None,
            leap_mode: LeapMode::System,
            local: None,
            driftfile_interval: None,
            log_tracking: false,
            ref_time_fuzz_seed: None,
            mode: RefMode::Normal,
            fallback_drift: None,
        }
    }
}
