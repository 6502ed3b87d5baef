//! Replies: header plus a typed body per reply code.

use super::codes::{CommandCode, ReplyCode, Status};
use super::cursor::{Reader, Writer};
use super::header::{PKT_TYPE_REPLY, PROTO_VERSION, REPLY_HEADER_LEN, ReplyHeader};
use super::lengths::reply_length;
use super::reply_body::*;
use super::reply_versioned::{NtpData, ServerStats};
use super::request_body::{NtpDataVersion, ServerStatsVersion};
use super::types::{NAME_LEN, Name};
use crate::Error;

/// The typed data of a reply; the variant (and version) sets the reply code.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    /// NULL: no data (every error status, and all write commands).
    Null,
    /// N_SOURCES: the number of sources.
    NSources(u32),
    /// SOURCE_DATA.
    SourceData(SourceData),
    /// MANUAL_TIMESTAMP2.
    ManualTimestamp(ManualTimestamp),
    /// TRACKING.
    Tracking(Tracking),
    /// SOURCESTATS.
    Sourcestats(Sourcestats),
    /// RTC.
    Rtc(Rtc),
    /// CLIENT_ACCESSES_BY_INDEX3.
    ClientAccesses(ClientAccesses),
    /// SERVER_STATS2, 3 or 4.
    ServerStats(ServerStats, ServerStatsVersion),
    /// MANUAL_LIST2.
    ManualList(ManualList),
    /// ACTIVITY.
    Activity(Activity),
    /// SMOOTHING.
    Smoothing(Smoothing),
    /// NTP_DATA or NTP_DATA2.
    NtpData(Box<NtpData>, NtpDataVersion),
    /// NTP_SOURCE_NAME.
    NtpSourceName(Name),
    /// AUTH_DATA.
    AuthData(AuthData),
    /// SELECT_DATA.
    SelectData(SelectData),
}

impl ReplyBody {
    /// The reply code on the wire.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            ReplyBody::Null => ReplyCode::NULL,
            ReplyBody::NSources(_) => ReplyCode::N_SOURCES,
            ReplyBody::SourceData(_) => ReplyCode::SOURCE_DATA,
            ReplyBody::ManualTimestamp(_) => ReplyCode::MANUAL_TIMESTAMP2,
            ReplyBody::Tracking(_) => ReplyCode::TRACKING,
            ReplyBody::Sourcestats(_) => ReplyCode::SOURCESTATS,
            ReplyBody::Rtc(_) => ReplyCode::RTC,
            ReplyBody::ClientAccesses(_) => ReplyCode::CLIENT_ACCESSES_BY_INDEX3,
            ReplyBody::ServerStats(_, ServerStatsVersion::V2) => ReplyCode::SERVER_STATS2,
            ReplyBody::ServerStats(_, ServerStatsVersion::V3) => ReplyCode::SERVER_STATS3,
            ReplyBody::ServerStats(_, ServerStatsVersion::V4) => ReplyCode::SERVER_STATS4,
            ReplyBody::ManualList(_) => ReplyCode::MANUAL_LIST2,
            ReplyBody::Activity(_) => ReplyCode::ACTIVITY,
            ReplyBody::Smoothing(_) => ReplyCode::SMOOTHING,
            ReplyBody::NtpData(_, NtpDataVersion::V1) => ReplyCode::NTP_DATA,
            ReplyBody::NtpData(_, NtpDataVersion::V2) => ReplyCode::NTP_DATA2,
            ReplyBody::NtpSourceName(_) => ReplyCode::NTP_SOURCE_NAME,
            ReplyBody::AuthData(_) => ReplyCode::AUTH_DATA,
            ReplyBody::SelectData(_) => ReplyCode::SELECT_DATA,
        }
    }

    /// Total length of a reply with this body.
    pub fn length(&self) -> usize {
        // OK: every reply code a body can have is in the length table.
        reply_length(self.reply_code()).unwrap_or(REPLY_HEADER_LEN)
    }

    fn read(code: ReplyCode, r: &mut Reader<'_>) -> Result<ReplyBody, Error> {
        use ReplyBody as B;
        Ok(match code {
            ReplyCode::NULL => B::Null,
            ReplyCode::N_SOURCES => B::NSources(r.u32()?),
            ReplyCode::SOURCE_DATA => B::SourceData(SourceData::read(r)?),
            ReplyCode::MANUAL_TIMESTAMP2 => B::ManualTimestamp(ManualTimestamp {
                offset: r.float()?,
                dfreq_ppm: r.float()?,
                new_afreq_ppm: r.float()?,
            }),
            ReplyCode::TRACKING => B::Tracking(Tracking::read(r)?),
            ReplyCode::SOURCESTATS => B::Sourcestats(Sourcestats::read(r)?),
            ReplyCode::RTC => B::Rtc(Rtc {
                ref_time: r.timespec()?,
                n_samples: r.u16()?,
                n_runs: r.u16()?,
                span_seconds: r.u32()?,
                rtc_seconds_fast: r.float()?,
                rtc_gain_rate_ppm: r.float()?,
            }),
            ReplyCode::CLIENT_ACCESSES_BY_INDEX3 => B::ClientAccesses(ClientAccesses::read(r)?),
            ReplyCode::SERVER_STATS2 => server_stats(r, ServerStatsVersion::V2)?,
            ReplyCode::SERVER_STATS3 => server_stats(r, ServerStatsVersion::V3)?,
            ReplyCode::SERVER_STATS4 => server_stats(r, ServerStatsVersion::V4)?,
            ReplyCode::MANUAL_LIST2 => B::ManualList(ManualList::read(r)?),
            ReplyCode::ACTIVITY => B::Activity(Activity {
                online: r.i32()?,
                offline: r.i32()?,
                burst_online: r.i32()?,
                burst_offline: r.i32()?,
                unresolved: r.i32()?,
            }),
            ReplyCode::SMOOTHING => B::Smoothing(Smoothing {
                flags: r.u32()?,
                offset: r.float()?,
                freq_ppm: r.float()?,
                wander_ppm: r.float()?,
                last_update_ago: r.float()?,
                remaining_time: r.float()?,
            }),
            ReplyCode::NTP_DATA => ntp_data(r, NtpDataVersion::V1)?,
            ReplyCode::NTP_DATA2 => ntp_data(r, NtpDataVersion::V2)?,
            ReplyCode::NTP_SOURCE_NAME => B::NtpSourceName(Name::from_field(r.take(NAME_LEN)?)),
            ReplyCode::AUTH_DATA => B::AuthData(read_auth_data(r)?),
            ReplyCode::SELECT_DATA => B::SelectData(read_select_data(r)?),
            other => {
                return Err(Error::InvalidField {
                    field: "reply",
                    value: u64::from(other.0),
                });
            }
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        use ReplyBody as B;
        match self {
            B::Null => Ok(()),
            B::NSources(n) => w.u32(*n),
            B::SourceData(d) => d.write(w),
            B::ManualTimestamp(m) => {
                for v in [m.offset, m.dfreq_ppm, m.new_afreq_ppm] {
                    w.float(v)?;
                }
                Ok(())
            }
            B::Tracking(t) => t.write(w),
            B::Sourcestats(s) => s.write(w),
            B::Rtc(rtc) => {
                w.timespec(&rtc.ref_time)?;
                w.u16(rtc.n_samples)?;
                w.u16(rtc.n_runs)?;
                w.u32(rtc.span_seconds)?;
                w.float(rtc.rtc_seconds_fast)?;
                w.float(rtc.rtc_gain_rate_ppm)
            }
            B::ClientAccesses(c) => c.write(w),
            B::ServerStats(s, v) => s.write(w, *v),
            B::ManualList(m) => m.write(w),
            B::Activity(a) => {
                for v in [
                    a.online,
                    a.offline,
                    a.burst_online,
                    a.burst_offline,
                    a.unresolved,
                ] {
                    w.i32(v)?;
                }
                Ok(())
            }
            B::Smoothing(s) => {
                w.u32(s.flags)?;
                for v in [
                    s.offset,
                    s.freq_ppm,
                    s.wander_ppm,
                    s.last_update_ago,
                    s.remaining_time,
                ] {
                    w.float(v)?;
                }
                Ok(())
            }
            B::NtpData(d, v) => d.write(w, *v),
            B::NtpSourceName(n) => w.put(&n.to_field()),
            B::AuthData(a) => write_auth_data(a, w),
            B::SelectData(s) => write_select_data(s, w),
        }
    }
}

fn server_stats(r: &mut Reader<'_>, v: ServerStatsVersion) -> Result<ReplyBody, Error> {
    Ok(ReplyBody::ServerStats(ServerStats::read(r, v)?, v))
}

fn ntp_data(r: &mut Reader<'_>, v: NtpDataVersion) -> Result<ReplyBody, Error> {
    Ok(ReplyBody::NtpData(Box::new(NtpData::read(r, v)?), v))
}

fn read_auth_data(r: &mut Reader<'_>) -> Result<AuthData, Error> {
    let a = AuthData {
        mode: r.u16()?,
        key_type: r.u16()?,
        key_id: r.u32()?,
        key_length: r.u16()?,
        ke_attempts: r.u16()?,
        last_ke_ago: r.u32()?,
        cookies: r.u16()?,
        cookie_length: r.u16()?,
        nak: r.u16()?,
    };
    r.skip(2)?;
    Ok(a)
}

fn write_auth_data(a: &AuthData, w: &mut Writer<'_>) -> Result<(), Error> {
    w.u16(a.mode)?;
    w.u16(a.key_type)?;
    w.u32(a.key_id)?;
    w.u16(a.key_length)?;
    w.u16(a.ke_attempts)?;
    w.u32(a.last_ke_ago)?;
    for v in [a.cookies, a.cookie_length, a.nak, 0] {
        w.u16(v)?;
    }
    Ok(())
}

fn read_select_data(r: &mut Reader<'_>) -> Result<SelectData, Error> {
    let ref_id = r.u32()?;
    let ip_addr = r.addr()?;
    let state_char = r.u8()?;
    let authentication = r.u8()?;
    let leap = r.u8()?;
    r.skip(1)?;
    Ok(SelectData {
        ref_id,
        ip_addr,
        state_char,
        authentication,
        leap,
        conf_options: r.u16()?,
        eff_options: r.u16()?,
        last_sample_ago: r.u32()?,
        score: r.float()?,
        lo_limit: r.float()?,
        hi_limit: r.float()?,
    })
}

fn write_select_data(s: &SelectData, w: &mut Writer<'_>) -> Result<(), Error> {
    w.u32(s.ref_id)?;
    w.addr(&s.ip_addr)?;
    for b in [s.state_char, s.authentication, s.leap, 0] {
        w.u8(b)?;
    }
    w.u16(s.conf_options)?;
    w.u16(s.eff_options)?;
    w.u32(s.last_sample_ago)?;
    for v in [s.score, s.lo_limit, s.hi_limit] {
        w.float(v)?;
    }
    Ok(())
}

/// A reply packet.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The request's command, echoed.
    pub command: CommandCode,
    /// The outcome.
    pub status: Status,
    /// The request's sequence number, echoed.
    pub sequence: u32,
    /// The data; [`ReplyBody::Null`] with any error status.
    pub body: ReplyBody,
}

impl Reply {
    /// Total length on the wire (chronyd sends no padding in replies).
    pub fn length(&self) -> usize {
        self.body.length()
    }

    /// Parses a version-6 reply. The caller checks that `command` and
    /// `sequence` match its request.
    ///
    /// # Errors
    /// [`Error::Truncated`] if shorter than its reply code needs,
    /// [`Error::UnsupportedVersion`] unless version 6,
    /// [`Error::InvalidField`] for a wrong packet type, reserved bytes set,
    /// an unknown reply code or a count beyond its array.
    pub fn parse(buf: &[u8]) -> Result<Reply, Error> {
        let h = ReplyHeader::parse(buf)?;
        if h.version != PROTO_VERSION {
            return Err(Error::UnsupportedVersion(h.version));
        }
        if h.pkt_type != PKT_TYPE_REPLY || h.res1 != 0 || h.res2 != 0 {
            let value = u64::from(h.pkt_type) << 16 | u64::from(h.res1) << 8 | u64::from(h.res2);
            return Err(Error::InvalidField {
                field: "pkt_type/res",
                value,
            });
        }
        let needed = reply_length(h.reply).ok_or(Error::InvalidField {
            field: "reply",
            value: u64::from(h.reply.0),
        })?;
        if buf.len() < needed {
            return Err(Error::Truncated {
                needed,
                have: buf.len(),
            });
        }
        let data = buf.get(REPLY_HEADER_LEN..needed).unwrap_or_default();
        let body = ReplyBody::read(h.reply, &mut Reader::new(data))?;
        Ok(Reply {
            command: h.command,
            status: h.status,
            sequence: h.sequence,
            body,
        })
    }

    /// Writes the reply at the start of `buf` and returns its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`], or [`Error::InvalidField`] if a list body
    /// holds more entries than its array.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = self.length();
        let have = buf.len();
        let out = buf
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len, have })?;
        out.fill(0);
        let header = ReplyHeader::new(
            self.command,
            self.body.reply_code(),
            self.status,
            self.sequence,
        );
        header.emit(out)?;
        let data = out.get_mut(REPLY_HEADER_LEN..).unwrap_or_default();
        self.body.write(&mut Writer::new(data))?;
        Ok(len)
    }

    /// The reply as bytes.
    ///
    /// # Errors
    /// As [`Reply::emit`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; self.length()];
        self.emit(&mut buf)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdmon::types::CmdAddr;
    use std::net::Ipv4Addr;

    #[test]
    fn tracking_golden_offsets() {
        let t = Tracking {
            ref_id: 0x7F7F_0101,
            ip_addr: CmdAddr::from(Ipv4Addr::LOCALHOST),
            stratum: 3,
            leap_status: 1,
            freq_ppm: -1.0,
            last_update_interval: 64.2,
            ..Tracking::default()
        };
        let r = Reply {
            command: CommandCode::TRACKING,
            status: Status::SUCCESS,
            sequence: 5,
            body: ReplyBody::Tracking(t),
        };
        let b = r.to_bytes().expect("fits");
        assert_eq!(b.len(), 104);
        assert_eq!(&b[..10], &[6, 2, 0, 0, 0, 33, 0, 5, 0, 0]);
        assert_eq!(&b[28..32], &[0x7F, 0x7F, 1, 1]);
        assert_eq!(&b[32..36], &[127, 0, 0, 1]);
        assert_eq!(&b[52..56], &[0, 3, 0, 1]);
        assert_eq!(&b[80..84], &0x0300_0000u32.to_be_bytes());
        assert_eq!(&b[100..104], &0x1080_6666u32.to_be_bytes());
        // 64.2 is not exact in a Float: compare the re-emitted bytes.
        let parsed = Reply::parse(&b).expect("valid");
        assert_eq!(parsed.to_bytes(), Ok(b.clone()));
        assert_eq!(parsed.command, r.command);
        assert!(matches!(
            Reply::parse(&b[..103]),
            Err(Error::Truncated { needed: 104, .. })
        ));
    }

    #[test]
    fn reserved_words_are_ff_and_lengths_match() {
        let v4 = ReplyBody::ServerStats(
            ServerStats {
                ntp_hits: 1 << 40,
                ..ServerStats::default()
            },
            ServerStatsVersion::V4,
        );
        let r = Reply {
            command: CommandCode::SERVER_STATS,
            status: Status::SUCCESS,
            sequence: 0,
            body: v4,
        };
        let b = r.to_bytes().expect("fits");
        assert_eq!(b.len(), 196);
        assert_eq!(&b[28..36], &(1u64 << 40).to_be_bytes());
        assert!(b[164..196].iter().all(|&x| x == 0xff));
        for (v, len) in [(NtpDataVersion::V1, 152), (NtpDataVersion::V2, 172)] {
            let body = ReplyBody::NtpData(Box::default(), v);
            let r = Reply {
                command: CommandCode::NTP_DATA,
                status: Status::SUCCESS,
                sequence: 0,
                body,
            };
            let b = r.to_bytes().expect("fits");
            assert_eq!(b.len(), len);
            assert_eq!(&b[len - 4..], &[0xff; 4]);
            assert_eq!(Reply::parse(&b), Ok(r));
        }
    }

    #[test]
    fn rejects_bad_replies() {
        let ok = Reply {
            command: CommandCode::N_SOURCES,
            status: Status::SUCCESS,
            sequence: 1,
            body: ReplyBody::NSources(2),
        };
        let b = ok.to_bytes().expect("fits");
        let mut bad = b.clone();
        bad[0] = 5;
        assert_eq!(Reply::parse(&bad), Err(Error::UnsupportedVersion(5)));
        let mut bad = b.clone();
        bad[1] = 1;
        assert!(Reply::parse(&bad).is_err());
        let mut bad = b.clone();
        bad[7] = 4; // obsolete MANUAL_TIMESTAMP
        assert!(Reply::parse(&bad).is_err());
        let mut list = vec![0u8; 520];
        ReplyHeader::new(
            CommandCode::CLIENT_ACCESSES_BY_INDEX3,
            ReplyCode::CLIENT_ACCESSES_BY_INDEX3,
            Status::SUCCESS,
            0,
        )
        .emit(&mut list)
        .expect("fits");
        list[39] = 9; // n_clients = 9 > 8
        assert!(matches!(
            Reply::parse(&list),
            Err(Error::InvalidField {
                field: "n_clients",
                ..
            })
        ));
        let too_many = ReplyBody::ClientAccesses(ClientAccesses {
            clients: vec![ClientAccess::default(); 9],
            ..Default::default()
        });
        let r = Reply {
            body: too_many,
            ..ok
        };
        assert!(r.to_bytes().is_err());
    }
}
