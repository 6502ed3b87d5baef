//! Requests: the typed command, parsing with chronyd's acceptance rules,
//! and emitting with the anti-amplification padding.

use super::codes::{CommandCode as C, ReplyCode, Status};
use super::cursor::{Reader, Writer};
use super::header::{
    PKT_TYPE_REQUEST, PROTO_VERSION, PROTO_VERSION_MISMATCH_COMPAT_SERVER, REQUEST_HEADER_LEN,
    RequestHeader,
};
use super::lengths::{MAX_REQUEST_LEN, MIN_REQUEST_LEN, padded_length, unpadded_request_length};
use super::reply::{Reply, ReplyBody};
use super::request_body::*;
use super::types::{CmdAddr, Timespec};
use crate::Error;

/// A command with its typed body: one variant per command chronyd accepts.
///
/// Obsolete commands (LOGON, the old ADD_SERVER forms, ...) have no variant:
/// parsing them yields [`Rejection::Answer`] with [`Status::INVALID`].
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// ONLINE: set matching sources online.
    Online(MaskAddress),
    /// OFFLINE: set matching sources offline.
    Offline(MaskAddress),
    /// BURST.
    Burst(Burst),
    /// MODIFY_MINPOLL.
    ModifyMinpoll(SourceInt),
    /// MODIFY_MAXPOLL.
    ModifyMaxpoll(SourceInt),
    /// DUMP: save measurement histories.
    Dump,
    /// MODIFY_MAXDELAY.
    ModifyMaxdelay(SourceFloat),
    /// MODIFY_MAXDELAYRATIO.
    ModifyMaxdelayratio(SourceFloat),
    /// MODIFY_MAXUPDATESKEW, ppm.
    ModifyMaxupdateskew(f64),
    /// SETTIME: a manual time sample (`settime`).
    Settime(Timespec),
    /// MANUAL: 0 off, 1 on, 2 reset.
    Manual(i32),
    /// N_SOURCES.
    NSources,
    /// SOURCE_DATA: the source with this index.
    SourceData(i32),
    /// REKEY.
    Rekey,
    /// ALLOW (NTP access).
    Allow(Subnet),
    /// ALLOWALL.
    AllowAll(Subnet),
    /// DENY.
    Deny(Subnet),
    /// DENYALL.
    DenyAll(Subnet),
    /// CMDALLOW (command access).
    CmdAllow(Subnet),
    /// CMDALLOWALL.
    CmdAllowAll(Subnet),
    /// CMDDENY.
    CmdDeny(Subnet),
    /// CMDDENYALL.
    CmdDenyAll(Subnet),
    /// ACCHECK: would NTP access be allowed from this address?
    AcCheck(CmdAddr),
    /// CMDACCHECK: would command access be allowed?
    CmdAcCheck(CmdAddr),
    /// DEL_SOURCE.
    DelSource(CmdAddr),
    /// WRITERTC.
    WriteRtc,
    /// DFREQ: change the frequency by this many ppm.
    Dfreq(f64),
    /// TRACKING.
    Tracking,
    /// SOURCESTATS: the source with this index.
    Sourcestats(u32),
    /// RTCREPORT.
    RtcReport,
    /// TRIMRTC.
    TrimRtc,
    /// CYCLELOGS.
    CycleLogs,
    /// MANUAL_LIST.
    ManualList,
    /// MANUAL_DELETE: the sample with this index.
    ManualDelete(i32),
    /// MAKESTEP: step the clock now.
    MakeStep,
    /// ACTIVITY.
    Activity,
    /// MODIFY_MINSTRATUM.
    ModifyMinstratum(SourceInt),
    /// MODIFY_POLLTARGET.
    ModifyPolltarget(SourceInt),
    /// MODIFY_MAXDELAYDEVRATIO.
    ModifyMaxdelaydevratio(SourceFloat),
    /// RESELECT.
    Reselect,
    /// RESELECTDISTANCE, seconds.
    ReselectDistance(f64),
    /// MODIFY_MAKESTEP.
    ModifyMakestep(ModifyMakestep),
    /// SMOOTHING.
    Smoothing,
    /// SMOOTHTIME: 0 reset, 1 activate.
    SmoothTime(i32),
    /// REFRESH.
    Refresh,
    /// SERVER_STATS, with the reply layout the client's padding asks for.
    ServerStats(ServerStatsVersion),
    /// LOCAL2 (`ext: None`) or LOCAL3.
    Local(Local),
    /// NTP_DATA for a source, with the reply layout the client expects.
    NtpData(CmdAddr, NtpDataVersion),
    /// SHUTDOWN.
    Shutdown,
    /// ONOFFLINE.
    OnOffline,
    /// ADD_SOURCE.
    AddSource(Box<AddSource>),
    /// NTP_SOURCE_NAME.
    NtpSourceName(CmdAddr),
    /// RESET_SOURCES.
    ResetSources,
    /// AUTH_DATA.
    AuthData(CmdAddr),
    /// CLIENT_ACCESSES_BY_INDEX3.
    ClientAccessesByIndex(ClientAccessesQuery),
    /// SELECT_DATA: the source with this index.
    SelectData(u32),
    /// RELOAD_SOURCES.
    ReloadSources,
    /// DOFFSET2: slew the clock by this many seconds.
    Doffset(f64),
    /// MODIFY_SELECTOPTS.
    ModifySelectOpts(ModifySelectOpts),
    /// MODIFY_OFFSET.
    ModifyOffset(ModifyOffset),
}

impl Request {
    /// The command code on the wire.
    pub fn command(&self) -> C {
        use Request::*;
        match self {
            Online(_) => C::ONLINE,
            Offline(_) => C::OFFLINE,
            Burst(_) => C::BURST,
            ModifyMinpoll(_) => C::MODIFY_MINPOLL,
            ModifyMaxpoll(_) => C::MODIFY_MAXPOLL,
            Dump => C::DUMP,
            ModifyMaxdelay(_) => C::MODIFY_MAXDELAY,
            ModifyMaxdelayratio(_) => C::MODIFY_MAXDELAYRATIO,
            ModifyMaxupdateskew(_) => C::MODIFY_MAXUPDATESKEW,
            Settime(_) => C::SETTIME,
            Manual(_) => C::MANUAL,
            NSources => C::N_SOURCES,
            SourceData(_) => C::SOURCE_DATA,
            Rekey => C::REKEY,
            Allow(_) => C::ALLOW,
            AllowAll(_) => C::ALLOWALL,
            Deny(_) => C::DENY,
            DenyAll(_) => C::DENYALL,
            CmdAllow(_) => C::CMDALLOW,
            CmdAllowAll(_) => C::CMDALLOWALL,
            CmdDeny(_) => C::CMDDENY,
            CmdDenyAll(_) => C::CMDDENYALL,
            AcCheck(_) => C::ACCHECK,
            CmdAcCheck(_) => C::CMDACCHECK,
            DelSource(_) => C::DEL_SOURCE,
            WriteRtc => C::WRITERTC,
            Dfreq(_) => C::DFREQ,
            Tracking => C::TRACKING,
            Sourcestats(_) => C::SOURCESTATS,
            RtcReport => C::RTCREPORT,
            TrimRtc => C::TRIMRTC,
            CycleLogs => C::CYCLELOGS,
            ManualList => C::MANUAL_LIST,
            ManualDelete(_) => C::MANUAL_DELETE,
            MakeStep => C::MAKESTEP,
            Activity => C::ACTIVITY,
            ModifyMinstratum(_) => C::MODIFY_MINSTRATUM,
            ModifyPolltarget(_) => C::MODIFY_POLLTARGET,
            ModifyMaxdelaydevratio(_) => C::MODIFY_MAXDELAYDEVRATIO,
            Reselect => C::RESELECT,
            ReselectDistance(_) => C::RESELECTDISTANCE,
            ModifyMakestep(_) => C::MODIFY_MAKESTEP,
            Smoothing => C::SMOOTHING,
            SmoothTime(_) => C::SMOOTHTIME,
            Refresh => C::REFRESH,
            ServerStats(_) => C::SERVER_STATS,
            Local(l) if l.ext.is_some() => C::LOCAL3,
            Local(_) => C::LOCAL2,
            NtpData(..) => C::NTP_DATA,
            Shutdown => C::SHUTDOWN,
            OnOffline => C::ONOFFLINE,
            AddSource(_) => C::ADD_SOURCE,
            NtpSourceName(_) => C::NTP_SOURCE_NAME,
            ResetSources => C::RESET_SOURCES,
            AuthData(_) => C::AUTH_DATA,
            ClientAccessesByIndex(_) => C::CLIENT_ACCESSES_BY_INDEX3,
            SelectData(_) => C::SELECT_DATA,
            ReloadSources => C::RELOAD_SOURCES,
            Doffset(_) => C::DOFFSET2,
            ModifySelectOpts(_) => C::MODIFY_SELECTOPTS,
            ModifyOffset(_) => C::MODIFY_OFFSET,
        }
    }

    /// The reply code a successful answer to this request carries; for
    /// SERVER_STATS and NTP_DATA it depends on the client's version.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            Request::ServerStats(ServerStatsVersion::V2) => ReplyCode::SERVER_STATS2,
            Request::ServerStats(ServerStatsVersion::V3) => ReplyCode::SERVER_STATS3,
            Request::ServerStats(ServerStatsVersion::V4) => ReplyCode::SERVER_STATS4,
            Request::NtpData(_, NtpDataVersion::V1) => ReplyCode::NTP_DATA,
            Request::NtpData(_, NtpDataVersion::V2) => ReplyCode::NTP_DATA2,
            r => super::lengths::reply_code(r.command()).unwrap_or(ReplyCode::NULL),
        }
    }

    /// Total length of this request on the wire, padding included.
    pub fn length(&self) -> usize {
        let unpadded = unpadded_request_length(self.command()).unwrap_or(REQUEST_HEADER_LEN);
        padded_length(unpadded, self.reply_code())
    }

    /// Whether the command only reads state (chronyd answers it over UDP
    /// if it is in `opencommands`; all others need the Unix socket).
    pub fn is_read_only(&self) -> bool {
        use Request::*;
        matches!(
            self,
            AcCheck(_)
                | Activity
                | AuthData(_)
                | ClientAccessesByIndex(_)
                | CmdAcCheck(_)
                | ManualList
                | NtpData(..)
                | NtpSourceName(_)
                | NSources
                | RtcReport
                | SelectData(_)
                | ServerStats(_)
                | Smoothing
                | Sourcestats(_)
                | SourceData(_)
                | Tracking
        )
    }

    /// Parses a request packet (header and body). Shorthand for
    /// [`RequestMsg::parse`].
    ///
    /// # Errors
    /// A [`Rejection`] saying whether to drop the packet or which error
    /// status to answer with.
    pub fn parse(buf: &[u8]) -> Result<RequestMsg, Rejection> {
        RequestMsg::parse(buf)
    }

    /// Parses the body of a command whose length has been checked.
    fn parse_body(cmd: C, data: &[u8], total_len: usize) -> Result<Request, Error> {
        let r = &mut Reader::new(data);
        if let Some(req) = parse_source_control(cmd, r)? {
            return Ok(req);
        }
        if let Some(req) = parse_access_and_clock(cmd, r)? {
            return Ok(req);
        }
        parse_reports(cmd, r, total_len)
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        use Request::*;
        match self {
            Online(m) | Offline(m) => m.write(w),
            Burst(b) => b.write(w),
            ModifyMinpoll(s) | ModifyMaxpoll(s) | ModifyMinstratum(s) | ModifyPolltarget(s) => {
                s.write(w)
            }
            ModifyMaxdelay(s) | ModifyMaxdelayratio(s) | ModifyMaxdelaydevratio(s) => s.write(w),
            ModifyMaxupdateskew(v) | Dfreq(v) | ReselectDistance(v) | Doffset(v) => w.float(*v),
            Settime(t) => w.timespec(t),
            Manual(v) | SourceData(v) | ManualDelete(v) | SmoothTime(v) => w.i32(*v),
            Sourcestats(v) | SelectData(v) => w.u32(*v),
            Allow(s) | AllowAll(s) | Deny(s) | DenyAll(s) | CmdAllow(s) | CmdAllowAll(s)
            | CmdDeny(s) | CmdDenyAll(s) => s.write(w),
            AcCheck(a)
            | CmdAcCheck(a)
            | DelSource(a)
            | NtpData(a, _)
            | NtpSourceName(a)
            | AuthData(a) => w.addr(a),
            ModifyMakestep(m) => {
                w.i32(m.limit)?;
                w.float(m.threshold)
            }
            Local(l) => l.write(w),
            AddSource(a) => a.write(w),
            ClientAccessesByIndex(q) => {
                for v in [q.first_index, q.n_clients, q.min_hits, q.reset] {
                    w.u32(v)?;
                }
                Ok(())
            }
            ModifySelectOpts(m) => {
                w.addr(&m.address)?;
                w.u32(m.ref_id)?;
                w.u32(m.mask.0)?;
                w.u32(m.options.0)
            }
            ModifyOffset(m) => {
                w.addr(&m.address)?;
                w.u32(m.ref_id)?;
                w.float(m.offset)
            }
            // DUMP carries an unused i32, written as zero by the padding.
            Dump | NSources | Rekey | WriteRtc | Tracking | RtcReport | TrimRtc | CycleLogs
            | ManualList | MakeStep | Activity | Reselect | Smoothing | Refresh
            | ServerStats(_) | Shutdown | OnOffline | ResetSources | ReloadSources => Ok(()),
        }
    }
}

/// Source control commands; `None` if `cmd` is not one of them.
fn parse_source_control(cmd: C, r: &mut Reader<'_>) -> Result<Option<Request>, Error> {
    use Request::*;
    Ok(Some(match cmd {
        C::ONLINE => Online(MaskAddress::read(r)?),
        C::OFFLINE => Offline(MaskAddress::read(r)?),
        C::BURST => Burst(super::request_body::Burst::read(r)?),
        C::MODIFY_MINPOLL => ModifyMinpoll(SourceInt::read(r)?),
        C::MODIFY_MAXPOLL => ModifyMaxpoll(SourceInt::read(r)?),
        C::MODIFY_MAXDELAY => ModifyMaxdelay(SourceFloat::read(r)?),
        C::MODIFY_MAXDELAYRATIO => ModifyMaxdelayratio(SourceFloat::read(r)?),
        C::MODIFY_MAXDELAYDEVRATIO => ModifyMaxdelaydevratio(SourceFloat::read(r)?),
        C::MODIFY_MINSTRATUM => ModifyMinstratum(SourceInt::read(r)?),
        C::MODIFY_POLLTARGET => ModifyPolltarget(SourceInt::read(r)?),
        C::DEL_SOURCE => DelSource(r.addr()?),
        C::ADD_SOURCE => AddSource(Box::new(super::request_body::AddSource::read(r)?)),
        C::MODIFY_SELECTOPTS => ModifySelectOpts(super::request_body::ModifySelectOpts {
            address: r.addr()?,
            ref_id: r.u32()?,
            mask: AddSourceFlags(r.u32()?),
            options: AddSourceFlags(r.u32()?),
        }),
        C::MODIFY_OFFSET => ModifyOffset(super::request_body::ModifyOffset {
            address: r.addr()?,
            ref_id: r.u32()?,
            offset: r.float()?,
        }),
        C::ONOFFLINE => OnOffline,
        C::REFRESH => Refresh,
        C::RELOAD_SOURCES => ReloadSources,
        C::RESET_SOURCES => ResetSources,
        C::RESELECT => Reselect,
        C::RESELECTDISTANCE => ReselectDistance(r.float()?),
        _ => return Ok(None),
    }))
}

/// Access control, clock and daemon commands; `None` if not one of them.
fn parse_access_and_clock(cmd: C, r: &mut Reader<'_>) -> Result<Option<Request>, Error> {
    use Request::*;
    Ok(Some(match cmd {
        C::ALLOW => Allow(Subnet::read(r)?),
        C::ALLOWALL => AllowAll(Subnet::read(r)?),
        C::DENY => Deny(Subnet::read(r)?),
        C::DENYALL => DenyAll(Subnet::read(r)?),
        C::CMDALLOW => CmdAllow(Subnet::read(r)?),
        C::CMDALLOWALL => CmdAllowAll(Subnet::read(r)?),
        C::CMDDENY => CmdDeny(Subnet::read(r)?),
        C::CMDDENYALL => CmdDenyAll(Subnet::read(r)?),
        C::ACCHECK => AcCheck(r.addr()?),
        C::CMDACCHECK => CmdAcCheck(r.addr()?),
        C::DUMP => Dump,
        C::MODIFY_MAXUPDATESKEW => ModifyMaxupdateskew(r.float()?),
        C::MODIFY_MAKESTEP => ModifyMakestep(super::request_body::ModifyMakestep {
            limit: r.i32()?,
            threshold: r.float()?,
        }),
        C::SETTIME => Settime(r.timespec()?),
        C::MANUAL => Manual(r.i32()?),
        C::MANUAL_DELETE => ManualDelete(r.i32()?),
        C::REKEY => Rekey,
        C::WRITERTC => WriteRtc,
        C::TRIMRTC => TrimRtc,
        C::DFREQ => Dfreq(r.float()?),
        C::DOFFSET2 => Doffset(r.float()?),
        C::CYCLELOGS => CycleLogs,
        C::MAKESTEP => MakeStep,
        C::SMOOTHTIME => SmoothTime(r.i32()?),
        C::LOCAL2 => Local(super::request_body::Local::read(r, false)?),
        C::LOCAL3 => Local(super::request_body::Local::read(r, true)?),
        C::SHUTDOWN => Shutdown,
        _ => return Ok(None),
    }))
}

/// Report commands; anything else is an error (callers check the code).
fn parse_reports(cmd: C, r: &mut Reader<'_>, total_len: usize) -> Result<Request, Error> {
    use Request::*;
    Ok(match cmd {
        C::N_SOURCES => NSources,
        C::SOURCE_DATA => SourceData(r.i32()?),
        C::TRACKING => Tracking,
        C::SOURCESTATS => Sourcestats(r.u32()?),
        C::RTCREPORT => RtcReport,
        C::MANUAL_LIST => ManualList,
        C::ACTIVITY => Activity,
        C::SMOOTHING => Smoothing,
        C::SERVER_STATS => ServerStats(server_stats_version(total_len)),
        C::NTP_DATA => NtpData(r.addr()?, ntp_data_version(total_len)),
        C::NTP_SOURCE_NAME => NtpSourceName(r.addr()?),
        C::AUTH_DATA => AuthData(r.addr()?),
        C::CLIENT_ACCESSES_BY_INDEX3 => ClientAccessesByIndex(ClientAccessesQuery {
            first_index: r.u32()?,
            n_clients: r.u32()?,
            min_hits: r.u32()?,
            reset: r.u32()?,
        }),
        C::SELECT_DATA => SelectData(r.u32()?),
        other => {
            return Err(Error::InvalidField {
                field: "command",
                value: u64::from(other.0),
            });
        }
    })
}

/// The newest SERVER_STATS layout a request of `len` bytes has room for.
fn server_stats_version(len: usize) -> ServerStatsVersion {
    let fits = |v| len >= Request::ServerStats(v).length();
    if fits(ServerStatsVersion::V4) {
        ServerStatsVersion::V4
    } else if fits(ServerStatsVersion::V3) {
        ServerStatsVersion::V3
    } else {
        ServerStatsVersion::V2
    }
}

/// The newest NTP_DATA layout a request of `len` bytes has room for.
fn ntp_data_version(len: usize) -> NtpDataVersion {
    if len >= Request::NtpData(CmdAddr::Unspec, NtpDataVersion::V2).length() {
        NtpDataVersion::V2
    } else {
        NtpDataVersion::V1
    }
}

/// The shortest request a server accepts for `cmd`: its padded length, or
/// for the versioned reports that of the oldest layout still served.
fn min_request_length(cmd: C) -> Option<usize> {
    match cmd {
        C::SERVER_STATS => Some(Request::ServerStats(ServerStatsVersion::V2).length()),
        C::NTP_DATA => Some(Request::NtpData(CmdAddr::Unspec, NtpDataVersion::V1).length()),
        _ => super::lengths::request_length(cmd),
    }
}

/// A request packet: the command plus the header fields a server echoes.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestMsg {
    /// The client's sequence number.
    pub sequence: u32,
    /// The resend counter.
    pub attempt: u16,
    /// The command.
    pub request: Request,
}

/// Why a request was not accepted, and what a server should do about it
/// (chronyd's rules, reference §4 "Server rules").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Drop silently: wrong length for any request, not a request, reserved
    /// bytes set, or a protocol version too old to be answered.
    #[error("dropped: {0}")]
    Drop(Error),
    /// Answer with an error status: a version mismatch (BADPKTVERSION), an
    /// unknown or obsolete command (INVALID) or a request shorter than its
    /// command needs (BADPKTLENGTH).
    #[error("answered with {status:?}: {reason}")]
    Answer {
        /// The request's header, for the echoed command and sequence.
        header: RequestHeader,
        /// The status to answer with.
        status: Status,
        /// What was wrong.
        reason: Error,
    },
}

impl Rejection {
    /// The error reply to send, if any (`None`: drop). It is 28 bytes,
    /// never longer than the rejected request.
    pub fn reply(&self) -> Option<Reply> {
        match self {
            Rejection::Drop(_) => None,
            Rejection::Answer { header, status, .. } => Some(Reply {
                command: header.command,
                status: *status,
                sequence: header.sequence,
                body: ReplyBody::Null,
            }),
        }
    }
}

impl RequestMsg {
    /// A request with attempt 0.
    pub fn new(request: Request, sequence: u32) -> Self {
        RequestMsg {
            sequence,
            attempt: 0,
            request,
        }
    }

    /// Parses a request packet, applying chronyd's checks in chronyd's
    /// order: total length (28..=860), packet type and reserved bytes,
    /// version, command, then the command's padded length.
    ///
    /// # Errors
    /// A [`Rejection`]: drop the packet, or answer with its status.
    pub fn parse(buf: &[u8]) -> Result<RequestMsg, Rejection> {
        let len = buf.len();
        if !(MIN_REQUEST_LEN..=MAX_REQUEST_LEN).contains(&len) {
            return Err(Rejection::Drop(Error::BadLength {
                len,
                what: "cmdmon request must be 28 to 860 bytes",
            }));
        }
        let header = RequestHeader::parse(buf).map_err(Rejection::Drop)?;
        if header.pkt_type != PKT_TYPE_REQUEST || header.res1 != 0 || header.res2 != 0 {
            let value = u64::from(header.pkt_type) << 16
                | u64::from(header.res1) << 8
                | u64::from(header.res2);
            return Err(Rejection::Drop(Error::InvalidField {
                field: "pkt_type/res",
                value,
            }));
        }
        let answer = |status, reason| Rejection::Answer {
            header,
            status,
            reason,
        };
        if header.version != PROTO_VERSION {
            let reason = Error::UnsupportedVersion(header.version);
            return Err(if header.version >= PROTO_VERSION_MISMATCH_COMPAT_SERVER {
                answer(Status::BADPKTVERSION, reason)
            } else {
                Rejection::Drop(reason)
            });
        }
        let cmd = header.command;
        let Some(min_len) = min_request_length(cmd) else {
            let reason = Error::InvalidField {
                field: "command",
                value: u64::from(cmd.0),
            };
            return Err(answer(Status::INVALID, reason));
        };
        if len < min_len {
            let reason = Error::BadLength {
                len,
                what: "shorter than the command's padded length",
            };
            return Err(answer(Status::BADPKTLENGTH, reason));
        }
        let data = buf.get(REQUEST_HEADER_LEN..).unwrap_or_default();
        let request = Request::parse_body(cmd, data, len)
            .map_err(|reason| answer(Status::BADPKTLENGTH, reason))?;
        Ok(RequestMsg {
            sequence: header.sequence,
            attempt: header.attempt,
            request,
        })
    }

    /// Writes the request, zero-padded to [`Request::length`], at the start
    /// of `buf` and returns that length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if `buf` is shorter than the request.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = self.request.length();
        let have = buf.len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len, have })?;
        out.fill(0);
        let mut header = RequestHeader::new(self.request.command(), self.sequence);
        header.attempt = self.attempt;
        header.emit(out)?;
        let body = out.get_mut(REQUEST_HEADER_LEN..).unwrap_or_default();
        self.request.emit_body(&mut Writer::new(body))?;
        Ok(len)
    }

    /// The request as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.request.length()];
        // OK to ignore: the buffer has exactly the length emit needs, and
        // every body fits in its command's unpadded length.
        let _ = self.emit(&mut buf);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn packet(cmd: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        RequestHeader::new(C(cmd), 0x0102_0304)
            .emit(&mut b)
            .expect("fits");
        b
    }

    fn status_of(r: Result<RequestMsg, Rejection>) -> Option<Status> {
        match r {
            Err(Rejection::Answer { status, .. }) => Some(status),
            Err(Rejection::Drop(_)) => None,
            Ok(m) => panic!("accepted {m:?}"),
        }
    }

    #[test]
    fn source_data_golden() {
        let bytes = RequestMsg::new(Request::SourceData(3), 0xAABB_CCDD).to_bytes();
        assert_eq!(bytes.len(), 76);
        assert_eq!(
            &bytes[..12],
            &[6, 1, 0, 0, 0, 15, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD]
        );
        assert_eq!(&bytes[20..24], &[0, 0, 0, 3]);
        assert!(bytes[24..].iter().all(|&b| b == 0));
        let msg = RequestMsg::parse(&bytes).expect("valid");
        assert_eq!(msg.request, Request::SourceData(3));
    }

    #[test]
    fn drops_what_chronyd_drops() {
        assert_eq!(status_of(RequestMsg::parse(&packet(33, 27))), None);
        assert_eq!(status_of(RequestMsg::parse(&packet(33, 861))), None);
        let mut reply_type = packet(33, 104);
        reply_type[1] = 2;
        assert_eq!(status_of(RequestMsg::parse(&reply_type)), None);
        let mut res = packet(33, 104);
        res[3] = 1;
        assert_eq!(status_of(RequestMsg::parse(&res)), None);
        let mut v4 = packet(33, 104);
        v4[0] = 4;
        assert_eq!(status_of(RequestMsg::parse(&v4)), None);
    }

    #[test]
    fn answers_what_chronyd_answers() {
        let mut v5 = packet(33, 104);
        v5[0] = 5;
        assert_eq!(
            status_of(RequestMsg::parse(&v5)),
            Some(Status::BADPKTVERSION)
        );
        for obsolete in [
            0u16, 10, 12, 27, 28, 32, 38, 39, 40, 55, 58, 59, 60, 61, 75, 999,
        ] {
            assert_eq!(
                status_of(RequestMsg::parse(&packet(obsolete, 100))),
                Some(Status::INVALID)
            );
        }
        assert_eq!(
            status_of(RequestMsg::parse(&packet(33, 103))),
            Some(Status::BADPKTLENGTH)
        );
        let rej = RequestMsg::parse(&packet(999, 28)).expect_err("invalid");
        let reply = rej.reply().expect("answered");
        assert_eq!(
            (reply.command, reply.sequence, reply.status),
            (C(999), 0x0102_0304, Status::INVALID)
        );
        assert_eq!(reply.length(), 28);
    }

    #[test]
    fn versioned_reports_follow_the_padding() {
        let parse = |cmd, len| RequestMsg::parse(&packet(cmd, len)).map(|m| m.request);
        assert_eq!(
            parse(54, 196),
            Ok(Request::ServerStats(ServerStatsVersion::V4))
        );
        assert_eq!(
            parse(54, 195),
            Ok(Request::ServerStats(ServerStatsVersion::V3))
        );
        assert_eq!(
            parse(54, 72),
            Ok(Request::ServerStats(ServerStatsVersion::V3))
        );
        assert_eq!(
            parse(54, 60),
            Ok(Request::ServerStats(ServerStatsVersion::V2))
        );
        assert_eq!(
            status_of(parse(54, 59).map(|r| RequestMsg::new(r, 0))),
            Some(Status::BADPKTLENGTH)
        );
        assert_eq!(
            parse(57, 172),
            Ok(Request::NtpData(CmdAddr::Unspec, NtpDataVersion::V2))
        );
        assert_eq!(
            parse(57, 152),
            Ok(Request::NtpData(CmdAddr::Unspec, NtpDataVersion::V1))
        );
        assert_eq!(Request::ServerStats(ServerStatsVersion::V3).length(), 72);
        assert_eq!(
            Request::NtpData(CmdAddr::Unspec, NtpDataVersion::V1).length(),
            152
        );
    }

    #[test]
    fn local2_and_local3() {
        let l2 = Local {
            on_off: 1,
            stratum: 5,
            distance: 1.0,
            orphan: 1,
            ext: None,
        };
        let b2 = RequestMsg::new(Request::Local(l2), 1).to_bytes();
        assert_eq!((b2.len(), b2[5]), (36, 56));
        assert_eq!(
            RequestMsg::parse(&b2).map(|m| m.request),
            Ok(Request::Local(l2))
        );
        let ext = Some(LocalExt {
            activate: 0.5,
            wait_synced: 0.0,
            wait_unsynced: 300.0,
        });
        let l3 = Local { ext, ..l2 };
        let b3 = RequestMsg::new(Request::Local(l3), 1).to_bytes();
        assert_eq!((b3.len(), b3[5]), (48, 74));
        assert_eq!(
            RequestMsg::parse(&b3).map(|m| m.request),
            Ok(Request::Local(l3))
        );
    }

    #[test]
    fn longer_requests_are_fine() {
        let mut b = RequestMsg::new(
            Request::Allow(Subnet {
                ip: CmdAddr::from(Ipv4Addr::new(10, 0, 0, 0)),
                subnet_bits: 8,
            }),
            9,
        )
        .to_bytes();
        assert_eq!(b.len(), 44);
        b.resize(860, 0xEE);
        let m = RequestMsg::parse(&b).expect("valid");
        assert!(matches!(
            m.request,
            Request::Allow(Subnet { subnet_bits: 8, .. })
        ));
        assert!(!m.request.is_read_only());
        assert!(Request::Tracking.is_read_only());
    }
}
