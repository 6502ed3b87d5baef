//! Directives that take exactly one plain value (an integer, a number, a string) or none.
//!
//! They are described by tables so the parser, the printer and the configuration stay in
//! step; the ranges are those chrony's parser enforces (`conf.c`).

use crate::source::INT_MAX;

/// A directive taking one integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the directive of the same name
pub enum IntSetting {
    AcquisitionPort,
    ClientLogLimit,
    CmdPort,
    Dscp,
    LogBanner,
    MaxNtsConnections,
    MaxSamples,
    MaxStratum,
    MaxTxBuffers,
    MinSamples,
    MinSources,
    MinStratum,
    NoCertTimeCheck,
    NtsPort,
    NtsProcesses,
    NtsRefresh,
    NtsRotate,
    Port,
    PtpDomain,
    PtpPort,
    Refresh,
    SchedPriority,
}

/// (setting, directive name, minimum, maximum)
pub const INT_SETTINGS: [(IntSetting, &str, i64, i64); 22] = [
    (IntSetting::AcquisitionPort, "acquisitionport", 0, 65535),
    (
        IntSetting::ClientLogLimit,
        "clientloglimit",
        0,
        u32::MAX as i64,
    ),
    (IntSetting::CmdPort, "cmdport", 0, 65535),
    // The DSCP field is 6 bits (RFC 2474 §3).
    (IntSetting::Dscp, "dscp", 0, 63),
    (IntSetting::LogBanner, "logbanner", 0, INT_MAX),
    (
        IntSetting::MaxNtsConnections,
        "maxntsconnections",
        1,
        INT_MAX,
    ),
    (IntSetting::MaxSamples, "maxsamples", 0, INT_MAX),
    (IntSetting::MaxStratum, "maxstratum", 0, INT_MAX),
    (IntSetting::MaxTxBuffers, "maxtxbuffers", 0, 1_048_576),
    (IntSetting::MinSamples, "minsamples", 0, INT_MAX),
    (IntSetting::MinSources, "minsources", 1, INT_MAX),
    (IntSetting::MinStratum, "minstratum", 0, INT_MAX),
    (IntSetting::NoCertTimeCheck, "nocerttimecheck", 0, INT_MAX),
    (IntSetting::NtsPort, "ntsport", 0, 65535),
    (IntSetting::NtsProcesses, "ntsprocesses", 0, 1000),
    (IntSetting::NtsRefresh, "ntsrefresh", 0, INT_MAX),
    (IntSetting::NtsRotate, "ntsrotate", 0, INT_MAX),
    (IntSetting::Port, "port", 0, 65535),
    // PTP domain numbers are one octet (IEEE 1588).
    (IntSetting::PtpDomain, "ptpdomain", 0, 255),
    (IntSetting::PtpPort, "ptpport", 0, 65535),
    (IntSetting::Refresh, "refresh", 0, INT_MAX),
    (IntSetting::SchedPriority, "sched_priority", 0, 100),
];

/// A directive taking one floating-point number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the directive of the same name
pub enum FloatSetting {
    ClockPrecision,
    CombineLimit,
    CorrTimeRatio,
    HwTsTimeout,
    LogChange,
    MaxClockError,
    MaxDistance,
    MaxDrift,
    MaxJitter,
    MaxSlewRate,
    MaxUpdateSkew,
    ReselectDist,
    RtcAutotrim,
    StratumWeight,
}

/// (setting, directive name)
pub const FLOAT_SETTINGS: [(FloatSetting, &str); 14] = [
    (FloatSetting::ClockPrecision, "clockprecision"),
    (FloatSetting::CombineLimit, "combinelimit"),
    (FloatSetting::CorrTimeRatio, "corrtimeratio"),
    (FloatSetting::HwTsTimeout, "hwtstimeout"),
    (FloatSetting::LogChange, "logchange"),
    (FloatSetting::MaxClockError, "maxclockerror"),
    (FloatSetting::MaxDistance, "maxdistance"),
    (FloatSetting::MaxDrift, "maxdrift"),
    (FloatSetting::MaxJitter, "maxjitter"),
    (FloatSetting::MaxSlewRate, "maxslewrate"),
    (FloatSetting::MaxUpdateSkew, "maxupdateskew"),
    (FloatSetting::ReselectDist, "reselectdist"),
    (FloatSetting::RtcAutotrim, "rtcautotrim"),
    (FloatSetting::StratumWeight, "stratumweight"),
];

/// A directive taking one word (a path, a name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the directive of the same name
pub enum StringSetting {
    BindAcqDevice,
    BindCmdDevice,
    BindDevice,
    DumpDir,
    HwClockFile,
    KeyFile,
    LeapSecList,
    LeapSecTz,
    LogDir,
    NtpSigndSocket,
    NtsDumpDir,
    NtsNtpServer,
    RtcDevice,
    RtcFile,
    User,
}

/// (setting, directive name). `ntscachedir` is an alias of `ntsdumpdir` (see `lookup`).
pub const STRING_SETTINGS: [(StringSetting, &str); 15] = [
    (StringSetting::BindAcqDevice, "bindacqdevice"),
    (StringSetting::BindCmdDevice, "bindcmddevice"),
    (StringSetting::BindDevice, "binddevice"),
    (StringSetting::DumpDir, "dumpdir"),
    (StringSetting::HwClockFile, "hwclockfile"),
    (StringSetting::KeyFile, "keyfile"),
    (StringSetting::LeapSecList, "leapseclist"),
    (StringSetting::LeapSecTz, "leapsectz"),
    (StringSetting::LogDir, "logdir"),
    (StringSetting::NtpSigndSocket, "ntpsigndsocket"),
    (StringSetting::NtsDumpDir, "ntsdumpdir"),
    (StringSetting::NtsNtpServer, "ntsntpserver"),
    (StringSetting::RtcDevice, "rtcdevice"),
    (StringSetting::RtcFile, "rtcfile"),
    (StringSetting::User, "user"),
];

/// A directive without arguments that switches something on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the directive of the same name
pub enum FlagSetting {
    LockAll,
    Manual,
    NoClientLog,
    NoSystemCert,
    RtcOnUtc,
    RtcSync,
}

/// (setting, directive name)
pub const FLAG_SETTINGS: [(FlagSetting, &str); 6] = [
    (FlagSetting::LockAll, "lock_all"),
    (FlagSetting::Manual, "manual"),
    (FlagSetting::NoClientLog, "noclientlog"),
    (FlagSetting::NoSystemCert, "nosystemcert"),
    (FlagSetting::RtcOnUtc, "rtconutc"),
    (FlagSetting::RtcSync, "rtcsync"),
];

/// The directive name of a setting (the reverse of the tables).
pub fn int_name(s: IntSetting) -> &'static str {
    INT_SETTINGS.iter().find(|e| e.0 == s).map_or("", |e| e.1)
}

/// The directive name of a float setting.
pub fn float_name(s: FloatSetting) -> &'static str {
    FLOAT_SETTINGS.iter().find(|e| e.0 == s).map_or("", |e| e.1)
}

/// The directive name of a string setting.
pub fn string_name(s: StringSetting) -> &'static str {
    STRING_SETTINGS
        .iter()
        .find(|e| e.0 == s)
        .map_or("", |e| e.1)
}

/// The directive name of a flag setting.
pub fn flag_name(s: FlagSetting) -> &'static str {
    FLAG_SETTINGS.iter().find(|e| e.0 == s).map_or("", |e| e.1)
}
