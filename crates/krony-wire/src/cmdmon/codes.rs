//! Command, reply and status codes (candm.h). Newtypes over the raw u16, so
//! unknown values survive a round trip.

use core::fmt;

/// Declares a u16 newtype with named constants and a `name()` lookup.
macro_rules! codes {
    ($(#[$meta:meta])* $ty:ident { $($(#[$cmeta:meta])* $name:ident = $val:expr,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $ty(pub u16);

        impl $ty {
            $($(#[$cmeta])* pub const $name: $ty = $ty($val);)*

            /// The constant's name in candm.h (without its prefix), if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($ty), n),
                    None => write!(f, "{}({})", stringify!($ty), self.0),
                }
            }
        }
    };
}

codes! {
    /// A request's command code (`REQ_*`). Codes not listed here, and the
    /// obsolete ones marked below, are answered with [`Status::INVALID`].
    CommandCode {
        /// Obsolete: no-op in chrony ≤ 4.3, unsupported since.
        NULL = 0,
        ONLINE = 1,
        OFFLINE = 2,
        BURST = 3,
        MODIFY_MINPOLL = 4,
        MODIFY_MAXPOLL = 5,
        DUMP = 6,
        MODIFY_MAXDELAY = 7,
        MODIFY_MAXDELAYRATIO = 8,
        MODIFY_MAXUPDATESKEW = 9,
        /// Obsolete (authentication was removed).
        LOGON = 10,
        SETTIME = 11,
        /// Obsolete (replaced by LOCAL2).
        LOCAL = 12,
        MANUAL = 13,
        N_SOURCES = 14,
        SOURCE_DATA = 15,
        REKEY = 16,
        ALLOW = 17,
        ALLOWALL = 18,
        DENY = 19,
        DENYALL = 20,
        CMDALLOW = 21,
        CMDALLOWALL = 22,
        CMDDENY = 23,
        CMDDENYALL = 24,
        ACCHECK = 25,
        CMDACCHECK = 26,
        /// Obsolete (replaced by ADD_SOURCE).
        ADD_SERVER = 27,
        /// Obsolete (replaced by ADD_SOURCE).
        ADD_PEER = 28,
        DEL_SOURCE = 29,
        WRITERTC = 30,
        DFREQ = 31,
        /// Obsolete (replaced by DOFFSET2).
        DOFFSET = 32,
        TRACKING = 33,
        SOURCESTATS = 34,
        RTCREPORT = 35,
        TRIMRTC = 36,
        CYCLELOGS = 37,
        /// Obsolete.
        SUBNETS_ACCESSED = 38,
        /// Obsolete.
        CLIENT_ACCESSES = 39,
        /// Obsolete.
        CLIENT_ACCESSES_BY_INDEX = 40,
        MANUAL_LIST = 41,
        MANUAL_DELETE = 42,
        MAKESTEP = 43,
        ACTIVITY = 44,
        MODIFY_MINSTRATUM = 45,
        MODIFY_POLLTARGET = 46,
        MODIFY_MAXDELAYDEVRATIO = 47,
        RESELECT = 48,
        RESELECTDISTANCE = 49,
        MODIFY_MAKESTEP = 50,
        SMOOTHING = 51,
        SMOOTHTIME = 52,
        REFRESH = 53,
        SERVER_STATS = 54,
        /// Obsolete.
        CLIENT_ACCESSES_BY_INDEX2 = 55,
        /// Sent by chronyc ≤ 4.5; chrony ≥ 4.6 sends LOCAL3.
        LOCAL2 = 56,
        NTP_DATA = 57,
        /// Obsolete.
        ADD_SERVER2 = 58,
        /// Obsolete.
        ADD_PEER2 = 59,
        /// Obsolete.
        ADD_SERVER3 = 60,
        /// Obsolete.
        ADD_PEER3 = 61,
        SHUTDOWN = 62,
        ONOFFLINE = 63,
        ADD_SOURCE = 64,
        NTP_SOURCE_NAME = 65,
        RESET_SOURCES = 66,
        AUTH_DATA = 67,
        CLIENT_ACCESSES_BY_INDEX3 = 68,
        SELECT_DATA = 69,
        RELOAD_SOURCES = 70,
        DOFFSET2 = 71,
        MODIFY_SELECTOPTS = 72,
        MODIFY_OFFSET = 73,
        LOCAL3 = 74,
    }
}

codes! {
    /// A reply's format code (`RPY_*`).
    ReplyCode {
        NULL = 1,
        N_SOURCES = 2,
        SOURCE_DATA = 3,
        /// Obsolete.
        MANUAL_TIMESTAMP = 4,
        TRACKING = 5,
        SOURCESTATS = 6,
        RTC = 7,
        /// Obsolete.
        SUBNETS_ACCESSED = 8,
        /// Obsolete.
        CLIENT_ACCESSES = 9,
        /// Obsolete.
        CLIENT_ACCESSES_BY_INDEX = 10,
        /// Obsolete.
        MANUAL_LIST = 11,
        ACTIVITY = 12,
        SMOOTHING = 13,
        /// Obsolete.
        SERVER_STATS = 14,
        /// Obsolete.
        CLIENT_ACCESSES_BY_INDEX2 = 15,
        /// The NTP_DATA reply of chrony ≤ 4.5 (152 bytes).
        NTP_DATA = 16,
        MANUAL_TIMESTAMP2 = 17,
        MANUAL_LIST2 = 18,
        NTP_SOURCE_NAME = 19,
        AUTH_DATA = 20,
        CLIENT_ACCESSES_BY_INDEX3 = 21,
        /// The SERVER_STATS reply of chrony 4.0–4.1 (60 bytes).
        SERVER_STATS2 = 22,
        SELECT_DATA = 23,
        /// The SERVER_STATS reply of chrony 4.2–4.3 (72 bytes).
        SERVER_STATS3 = 24,
        /// The SERVER_STATS reply of chrony ≥ 4.4 (196 bytes).
        SERVER_STATS4 = 25,
        /// The NTP_DATA reply of chrony ≥ 4.6 (172 bytes).
        NTP_DATA2 = 26,
    }
}

codes! {
    /// The status of a reply (`STT_*`).
    Status {
        SUCCESS = 0,
        FAILED = 1,
        UNAUTH = 2,
        INVALID = 3,
        NOSUCHSOURCE = 4,
        INVALIDTS = 5,
        NOTENABLED = 6,
        BADSUBNET = 7,
        ACCESSALLOWED = 8,
        ACCESSDENIED = 9,
        /// Deprecated.
        NOHOSTACCESS = 10,
        SOURCEALREADYKNOWN = 11,
        TOOMANYSOURCES = 12,
        NORTC = 13,
        BADRTCFILE = 14,
        INACTIVE = 15,
        BADSAMPLE = 16,
        INVALIDAF = 17,
        BADPKTVERSION = 18,
        BADPKTLENGTH = 19,
        INVALIDNAME = 21,
    }
}

impl Status {
    /// The line chronyc prints for this status, e.g. `"200 OK"`.
    pub fn message(self) -> &'static str {
        match self {
            Status::SUCCESS => "200 OK",
            Status::ACCESSALLOWED => "208 Access allowed",
            Status::ACCESSDENIED => "209 Access denied",
            Status::FAILED => "500 Failure",
            Status::UNAUTH => "501 Not authorised",
            Status::INVALID => "502 Invalid command",
            Status::NOSUCHSOURCE => "503 No such source",
            Status::INVALIDTS => "504 Duplicate or stale logon detected",
            Status::NOTENABLED => "505 Facility not enabled in daemon",
            Status::BADSUBNET => "507 Bad subnet",
            Status::NOHOSTACCESS => "510 No command access from this host",
            Status::SOURCEALREADYKNOWN => "511 Source already present",
            Status::TOOMANYSOURCES => "512 Too many sources present",
            Status::NORTC => "513 RTC driver not running",
            Status::BADRTCFILE => "514 Can't write RTC parameters",
            Status::INVALIDAF => "515 Invalid address family",
            Status::BADSAMPLE => "516 Sample index out of range",
            Status::BADPKTVERSION => "517 Protocol version mismatch",
            Status::BADPKTLENGTH => "518 Packet length mismatch",
            Status::INACTIVE => "519 Client logging is not active in the daemon",
            Status::INVALIDNAME => "521 Invalid name",
            _ => "520 Got unexpected error from daemon",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_debug() {
        assert_eq!(CommandCode::TRACKING.name(), Some("TRACKING"));
        assert_eq!(format!("{:?}", CommandCode(200)), "CommandCode(200)");
        assert_eq!(
            format!("{:?}", ReplyCode::NTP_DATA2),
            "ReplyCode::NTP_DATA2"
        );
        assert_eq!(Status(20).name(), None);
    }

    #[test]
    fn status_messages() {
        assert_eq!(Status::SUCCESS.message(), "200 OK");
        assert_eq!(Status::UNAUTH.message(), "501 Not authorised");
        assert_eq!(Status(99).message(), "520 Got unexpected error from daemon");
    }
}
