//! Packet lengths (chrony's pktlength.c rules, protocol version 6).
//!
//! A request is zero-padded so that it is at least as long as the reply to
//! it: total request length = max(end of request data, end of reply data).
//! A server never sends a reply longer than the request that asked for it,
//! so cmdmon cannot amplify traffic.

use super::codes::{CommandCode, ReplyCode};
use super::header::{REPLY_HEADER_LEN, REQUEST_HEADER_LEN};

/// The largest request chronyd accepts (`sizeof(CMD_Request)`): the
/// longest request data plus the longest padding.
pub const MAX_REQUEST_LEN: usize = 860;
/// The longest reply (CLIENT_ACCESSES_BY_INDEX3).
pub const MAX_REPLY_LEN: usize = 520;
/// The shortest packet a server looks at: a reply header must fit in it,
/// since even an error reply must not be longer than the request.
pub const MIN_REQUEST_LEN: usize = REPLY_HEADER_LEN;

/// Unpadded request length (header + data) and the reply the command gets
/// when it succeeds, for every command chronyd ≥ 4.6 accepts, plus LOCAL2.
/// SERVER_STATS and NTP_DATA are listed with their newest reply; older
/// clients pad them for older replies (see [`super::ServerStatsVersion`]).
fn request_info(command: CommandCode) -> Option<(usize, ReplyCode)> {
    let h = REQUEST_HEADER_LEN;
    let null = ReplyCode::NULL;
    let info = match command {
        // IPAddr mask + IPAddr address.
        CommandCode::ONLINE | CommandCode::OFFLINE => (h + 40, null),
        CommandCode::BURST => (h + 48, null),
        // IPAddr + one 32-bit value.
        CommandCode::MODIFY_MINPOLL
        | CommandCode::MODIFY_MAXPOLL
        | CommandCode::MODIFY_MAXDELAY
        | CommandCode::MODIFY_MAXDELAYRATIO
        | CommandCode::MODIFY_MAXDELAYDEVRATIO
        | CommandCode::MODIFY_MINSTRATUM
        | CommandCode::MODIFY_POLLTARGET
        | CommandCode::ALLOW
        | CommandCode::ALLOWALL
        | CommandCode::DENY
        | CommandCode::DENYALL
        | CommandCode::CMDALLOW
        | CommandCode::CMDALLOWALL
        | CommandCode::CMDDENY
        | CommandCode::CMDDENYALL => (h + 24, null),
        // One 32-bit value.
        CommandCode::DUMP
        | CommandCode::MODIFY_MAXUPDATESKEW
        | CommandCode::MANUAL
        | CommandCode::DFREQ
        | CommandCode::MANUAL_DELETE
        | CommandCode::RESELECTDISTANCE
        | CommandCode::SMOOTHTIME
        | CommandCode::DOFFSET2 => (h + 4, null),
        CommandCode::MODIFY_MAKESTEP => (h + 8, null),
        CommandCode::SETTIME => (h + 12, ReplyCode::MANUAL_TIMESTAMP2),
        // No data.
        CommandCode::REKEY
        | CommandCode::WRITERTC
        | CommandCode::TRIMRTC
        | CommandCode::CYCLELOGS
        | CommandCode::MAKESTEP
        | CommandCode::RESELECT
        | CommandCode::REFRESH
        | CommandCode::SHUTDOWN
        | CommandCode::ONOFFLINE
        | CommandCode::RESET_SOURCES
        | CommandCode::RELOAD_SOURCES => (h, null),
        // One IPAddr.
        CommandCode::ACCHECK | CommandCode::CMDACCHECK | CommandCode::DEL_SOURCE => (h + 20, null),
        CommandCode::N_SOURCES => (h, ReplyCode::N_SOURCES),
        CommandCode::SOURCE_DATA => (h + 4, ReplyCode::SOURCE_DATA),
        CommandCode::TRACKING => (h, ReplyCode::TRACKING),
        CommandCode::SOURCESTATS => (h + 4, ReplyCode::SOURCESTATS),
        CommandCode::RTCREPORT => (h, ReplyCode::RTC),
        CommandCode::MANUAL_LIST => (h, ReplyCode::MANUAL_LIST2),
        CommandCode::ACTIVITY => (h, ReplyCode::ACTIVITY),
        CommandCode::SMOOTHING => (h, ReplyCode::SMOOTHING),
        CommandCode::SERVER_STATS => (h, ReplyCode::SERVER_STATS4),
        CommandCode::LOCAL2 => (h + 16, null),
        CommandCode::NTP_DATA => (h + 20, ReplyCode::NTP_DATA2),
        CommandCode::ADD_SOURCE => (h + 352, null),
        CommandCode::NTP_SOURCE_NAME => (h + 20, ReplyCode::NTP_SOURCE_NAME),
        CommandCode::AUTH_DATA => (h + 20, ReplyCode::AUTH_DATA),
        CommandCode::CLIENT_ACCESSES_BY_INDEX3 => (h + 16, ReplyCode::CLIENT_ACCESSES_BY_INDEX3),
        CommandCode::SELECT_DATA => (h + 4, ReplyCode::SELECT_DATA),
        CommandCode::MODIFY_SELECTOPTS => (h + 32, null),
        CommandCode::MODIFY_OFFSET => (h + 28, null),
        CommandCode::LOCAL3 => (h + 28, null),
        _ => return None,
    };
    Some(info)
}

/// The length of a reply with this code: header plus data, no padding.
/// `None` for unknown and obsolete reply codes.
pub fn reply_length(reply: ReplyCode) -> Option<usize> {
    let data = match reply {
        ReplyCode::NULL => 0,
        ReplyCode::N_SOURCES => 4,
        ReplyCode::SOURCE_DATA => 48,
        ReplyCode::TRACKING => 76,
        ReplyCode::SOURCESTATS => 56,
        ReplyCode::RTC => 28,
        ReplyCode::ACTIVITY => 20,
        ReplyCode::SMOOTHING => 24,
        ReplyCode::NTP_DATA => 124,
        ReplyCode::MANUAL_TIMESTAMP2 => 12,
        ReplyCode::MANUAL_LIST2 => 388,
        ReplyCode::NTP_SOURCE_NAME => 256,
        ReplyCode::AUTH_DATA => 24,
        ReplyCode::CLIENT_ACCESSES_BY_INDEX3 => 492,
        ReplyCode::SERVER_STATS2 => 32,
        ReplyCode::SELECT_DATA => 48,
        ReplyCode::SERVER_STATS3 => 44,
        ReplyCode::SERVER_STATS4 => 168,
        ReplyCode::NTP_DATA2 => 144,
        _ => return None,
    };
    Some(REPLY_HEADER_LEN + data)
}

/// The reply code a successful request with this command gets from a
/// current chronyd. `None` for unknown and obsolete commands.
pub fn reply_code(command: CommandCode) -> Option<ReplyCode> {
    request_info(command).map(|(_, r)| r)
}

/// The length of the request data end (header + data, before padding).
pub fn unpadded_request_length(command: CommandCode) -> Option<usize> {
    request_info(command).map(|(len, _)| len)
}

/// Total length of a request padded for the given reply.
pub(crate) fn padded_length(unpadded: usize, reply: ReplyCode) -> usize {
    unpadded.max(reply_length(reply).unwrap_or(REPLY_HEADER_LEN))
}

/// The total length of a version-6 request with this command, padding
/// included, as a current chronyc sends it and chronyd requires at least.
/// `None` for unknown and obsolete commands.
///
/// ```
/// use krony_wire::cmdmon::{request_length, CommandCode};
/// assert_eq!(request_length(CommandCode::TRACKING), Some(104));
/// assert_eq!(request_length(CommandCode::LOGON), None);
/// ```
pub fn request_length(command: CommandCode) -> Option<usize> {
    request_info(command).map(|(len, reply)| padded_length(len, reply))
}

/// The length of the reply a successful request with this command gets.
pub fn expected_reply_length(command: CommandCode) -> Option<usize> {
    reply_code(command).and_then(reply_length)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Total request lengths of chrony 4.8 (pktlength.c, checked by compiling
    /// it), indexed by command code; 0 = not accepted. The one deviation:
    /// LOCAL2 (56), which 4.8 no longer takes, has chrony 4.3's length.
    const CHRONY_4_8: [usize; 75] = [
        0, 60, 60, 68, 44, 44, 28, 44, 44, 28, // 0-9
        0, 40, 0, 28, 32, 76, 28, 44, 44, 44, // 10-19
        44, 44, 44, 44, 44, 40, 40, 0, 0, 40, // 20-29
        28, 28, 0, 104, 84, 56, 28, 28, 0, 0, // 30-39
        0, 416, 28, 28, 48, 44, 44, 44, 28, 28, // 40-49
        28, 52, 28, 28, 196, 0, 36, 172, 0, 0, // 50-59
        0, 0, 28, 28, 372, 284, 28, 52, 520, 76, // 60-69
        28, 28, 52, 48, 48, // 70-74
    ];

    #[test]
    fn request_lengths_match_chrony() {
        for (code, &want) in CHRONY_4_8.iter().enumerate() {
            let cmd = CommandCode(code as u16);
            let got = request_length(cmd).unwrap_or(0);
            assert_eq!(got, want, "{cmd:?}");
        }
        assert_eq!(request_length(CommandCode(75)), None);
    }

    #[test]
    fn no_reply_is_longer_than_its_request() {
        for code in 0..=u16::MAX {
            let cmd = CommandCode(code);
            if let (Some(req), Some(rpy)) = (request_length(cmd), expected_reply_length(cmd)) {
                assert!(rpy <= req, "{cmd:?}");
                assert!(req <= MAX_REQUEST_LEN);
                assert!(rpy <= MAX_REPLY_LEN);
            }
        }
    }

    #[test]
    fn reply_lengths_match_chrony() {
        let want = [
            (1, 28),
            (2, 32),
            (3, 76),
            (5, 104),
            (6, 84),
            (7, 56),
            (12, 48),
            (13, 52),
            (16, 152),
            (17, 40),
            (18, 416),
            (19, 284),
            (20, 52),
            (21, 520),
            (22, 60),
            (23, 76),
            (24, 72),
            (25, 196),
            (26, 172),
        ];
        for (code, len) in want {
            assert_eq!(reply_length(ReplyCode(code)), Some(len), "{code}");
        }
        assert_eq!(reply_length(ReplyCode::MANUAL_LIST), None);
    }
}
