//! The request (20 bytes) and reply (28 bytes) headers.
//!
//! Request: `version | pkt_type | res1 | res2 | command u16 @4 | attempt u16
//! @6 | sequence u32 @8 | pad1 u32 @12 | pad2 u32 @16`, data from 20.
//! Reply: `version | pkt_type | res1 | res2 | command u16 @4 | reply u16 @6 |
//! status u16 @8 | 3 × u16 pad @10 | sequence u32 @16 | 2 × u32 pad @20`,
//! data from 28. All integers big-endian.

use super::codes::{CommandCode, ReplyCode, Status};
use super::cursor::{Reader, Writer};
use crate::Error;

/// Length of the request header.
pub const REQUEST_HEADER_LEN: usize = 20;
/// Length of the reply header.
pub const REPLY_HEADER_LEN: usize = 28;
/// The protocol version krony speaks (`PROTO_VERSION_NUMBER`).
pub const PROTO_VERSION: u8 = 6;
/// The oldest request version a server still answers, with
/// [`Status::BADPKTVERSION`], so the client can report the mismatch.
pub const PROTO_VERSION_MISMATCH_COMPAT_SERVER: u8 = 5;
/// `pkt_type` of a request.
pub const PKT_TYPE_REQUEST: u8 = 1;
/// `pkt_type` of a reply.
pub const PKT_TYPE_REPLY: u8 = 2;

/// A request header as it is on the wire, every field kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestHeader {
    /// Protocol version, 6.
    pub version: u8,
    /// 1 for a request.
    pub pkt_type: u8,
    /// Must be zero.
    pub res1: u8,
    /// Must be zero.
    pub res2: u8,
    /// What is asked.
    pub command: CommandCode,
    /// How many times the client has resent (chronyc always sends 0 and a
    /// new sequence number per attempt).
    pub attempt: u16,
    /// The client's random sequence number, echoed in the reply.
    pub sequence: u32,
    /// Unused.
    pub pad1: u32,
    /// Unused.
    pub pad2: u32,
}

impl RequestHeader {
    /// A version-6 request header for `command`.
    pub fn new(command: CommandCode, sequence: u32) -> Self {
        RequestHeader {
            version: PROTO_VERSION,
            pkt_type: PKT_TYPE_REQUEST,
            res1: 0,
            res2: 0,
            command,
            attempt: 0,
            sequence,
            pad1: 0,
            pad2: 0,
        }
    }

    /// Reads the first 20 bytes; checks only the length.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is shorter than 20 bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(buf);
        Ok(RequestHeader {
            version: r.u8()?,
            pkt_type: r.u8()?,
            res1: r.u8()?,
            res2: r.u8()?,
            command: CommandCode(r.u16()?),
            attempt: r.u16()?,
            sequence: r.u32()?,
            pad1: r.u32()?,
            pad2: r.u32()?,
        })
    }

    /// Writes the 20 bytes at the start of `buf`.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if `buf` is shorter than 20 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u8(self.version)?;
        w.u8(self.pkt_type)?;
        w.u8(self.res1)?;
        w.u8(self.res2)?;
        w.u16(self.command.0)?;
        w.u16(self.attempt)?;
        w.u32(self.sequence)?;
        w.u32(self.pad1)?;
        w.u32(self.pad2)
    }
}

/// A reply header as it is on the wire, every field kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplyHeader {
    /// Protocol version, 6.
    pub version: u8,
    /// 2 for a reply.
    pub pkt_type: u8,
    /// Zero.
    pub res1: u8,
    /// Zero.
    pub res2: u8,
    /// The request's command, echoed.
    pub command: CommandCode,
    /// The format of the data that follows.
    pub reply: ReplyCode,
    /// The outcome.
    pub status: Status,
    /// Unused (three u16 at 10, 12, 14).
    pub pad: [u16; 3],
    /// The request's sequence number, echoed.
    pub sequence: u32,
    /// Unused (two u32 at 20, 24).
    pub pad2: [u32; 2],
}

impl ReplyHeader {
    /// A version-6 reply header.
    pub fn new(command: CommandCode, reply: ReplyCode, status: Status, sequence: u32) -> Self {
        ReplyHeader {
            version: PROTO_VERSION,
            pkt_type: PKT_TYPE_REPLY,
            res1: 0,
            res2: 0,
            command,
            reply,
            status,
            pad: [0; 3],
            sequence,
            pad2: [0; 2],
        }
    }

    /// Reads the first 28 bytes; checks only the length.
    ///
    /// # Errors
    /// [`Error::Truncated`] if `buf` is shorter than 28 bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(buf);
        Ok(ReplyHeader {
            version: r.u8()?,
            pkt_type: r.u8()?,
            res1: r.u8()?,
            res2: r.u8()?,
            command: CommandCode(r.u16()?),
            reply: ReplyCode(r.u16()?),
            status: Status(r.u16()?),
            pad: [r.u16()?, r.u16()?, r.u16()?],
            sequence: r.u32()?,
            pad2: [r.u32()?, r.u32()?],
        })
    }

    /// Writes the 28 bytes at the start of `buf`.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] if `buf` is shorter than 28 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), Error> {
        let mut w = Writer::new(buf);
        w.u8(self.version)?;
        w.u8(self.pkt_type)?;
        w.u8(self.res1)?;
        w.u8(self.res2)?;
        w.u16(self.command.0)?;
        w.u16(self.reply.0)?;
        w.u16(self.status.0)?;
        for p in self.pad {
            w.u16(p)?;
        }
        w.u32(self.sequence)?;
        for p in self.pad2 {
            w.u32(p)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_golden() {
        let h = RequestHeader::new(CommandCode::TRACKING, 0xDEAD_BEEF);
        let mut b = [0u8; REQUEST_HEADER_LEN];
        h.emit(&mut b).expect("fits");
        assert_eq!(
            b,
            [
                6, 1, 0, 0, 0, 33, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(RequestHeader::parse(&b), Ok(h));
        assert!(RequestHeader::parse(&b[..19]).is_err());
    }

    #[test]
    fn reply_header_golden() {
        let h = ReplyHeader::new(
            CommandCode::TRACKING,
            ReplyCode::TRACKING,
            Status::NOSUCHSOURCE,
            7,
        );
        let mut b = [0u8; REPLY_HEADER_LEN];
        h.emit(&mut b).expect("fits");
        let mut want = [0u8; REPLY_HEADER_LEN];
        want[..10].copy_from_slice(&[6, 2, 0, 0, 0, 33, 0, 5, 0, 4]);
        want[19] = 7;
        assert_eq!(b, want);
        assert_eq!(ReplyHeader::parse(&b), Ok(h));
        assert!(h.emit(&mut [0u8; 27]).is_err());
    }
}
