//! NTS Key Establishment records (RFC 8915 §4), the messages exchanged over
//! TLS on TCP port 4460 before NTS-protected NTP starts.
//!
//! A record is a 16-bit word (critical bit + 15-bit type), a 16-bit body
//! length and the body. A message is a sequence of records ending with End
//! of Message.
//!
//! - [`Record`]: a checked view over the bytes of one record;
//! - [`RecordRepr`]: a record as plain values, with [`RecordRepr::parse`],
//!   [`RecordRepr::buffer_len`] and [`RecordRepr::emit`];
//! - [`parse_message`]: a whole message from a stream buffer, or `None`
//!   while it is still incomplete; [`emit_message`] writes one.
//!
//! ```
//! use krony_wire::nts_ke::{RecordBody, RecordRepr, emit_message, parse_message};
//! let request = [
//!     RecordRepr::critical(RecordBody::NextProtocols(vec![0])),
//!     RecordRepr::critical(RecordBody::AeadAlgorithms(vec![15])),
//!     RecordRepr::critical(RecordBody::EndOfMessage),
//! ];
//! let bytes = emit_message(&request)?;
//! let (records, used) = parse_message(&bytes)?.expect("complete");
//! assert_eq!(records, request);
//! assert_eq!(used, bytes.len());
//! # Ok::<(), krony_wire::Error>(())
//! ```

use crate::Error;

/// The TCP port of NTS-KE (RFC 8915 §4).
pub const PORT: u16 = 4460;
/// The TLS ALPN protocol name of NTS-KE (RFC 8915 §4).
pub const ALPN: &[u8] = b"ntske/1";
/// The label of the TLS 1.3 key exporter (RFC 8915 §5.1).
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-network-time-security";
/// Next Protocol ID of NTPv4 (RFC 8915 §7.7).
pub const NEXT_PROTOCOL_NTPV4: u16 = 0;
/// Record header length: type word and body length.
pub const RECORD_HEADER_LEN: usize = 4;
/// The critical bit of the type word.
const CRITICAL: u16 = 0x8000;

/// Record types (RFC 8915 §7.6).
pub mod record_type {
    /// End of Message.
    pub const END_OF_MESSAGE: u16 = 0;
    /// NTS Next Protocol Negotiation.
    pub const NEXT_PROTOCOL: u16 = 1;
    /// Error.
    pub const ERROR: u16 = 2;
    /// Warning.
    pub const WARNING: u16 = 3;
    /// AEAD Algorithm Negotiation.
    pub const AEAD_ALGORITHM: u16 = 4;
    /// New Cookie for NTPv4.
    pub const NEW_COOKIE: u16 = 5;
    /// NTPv4 Server Negotiation.
    pub const NTPV4_SERVER: u16 = 6;
    /// NTPv4 Port Negotiation.
    pub const NTPV4_PORT: u16 = 7;
}

/// Error codes (RFC 8915 §7.8).
pub mod error_code {
    /// Unrecognized Critical Record.
    pub const UNRECOGNIZED_CRITICAL_RECORD: u16 = 0;
    /// Bad Request.
    pub const BAD_REQUEST: u16 = 1;
    /// Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: u16 = 2;
}

/// A checked view over the bytes of one record.
#[derive(Debug, Clone, Copy)]
pub struct Record<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Record<T> {
    /// Wraps `buffer` after checking that it holds the header and the whole
    /// body it announces (it may hold more: [`Record::total_len`] tells).
    ///
    /// # Errors
    /// [`Error::Truncated`] when the header or the body is incomplete.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let r = Record { buffer };
        let have = r.buffer.as_ref().len();
        if have < RECORD_HEADER_LEN {
            return Err(Error::Truncated {
                needed: RECORD_HEADER_LEN,
                have,
            });
        }
        if have < r.total_len() {
            return Err(Error::Truncated {
                needed: r.total_len(),
                have,
            });
        }
        Ok(r)
    }

    fn word(&self, at: usize) -> u16 {
        let b = self.buffer.as_ref();
        // OK: new_checked ensured the header is there.
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    /// Whether the critical bit is set.
    pub fn critical(&self) -> bool {
        self.word(0) & CRITICAL != 0
    }

    /// The record type without the critical bit.
    pub fn record_type(&self) -> u16 {
        self.word(0) & !CRITICAL
    }

    /// The body length.
    pub fn body_len(&self) -> usize {
        usize::from(self.word(2))
    }

    /// Header plus body.
    pub fn total_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[RECORD_HEADER_LEN..self.total_len()]
    }
}

/// The body of a record, by type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordBody {
    /// End of Message (empty body).
    EndOfMessage,
    /// Next Protocol Negotiation: protocol IDs.
    NextProtocols(Vec<u16>),
    /// Error code.
    Error(u16),
    /// Warning code.
    Warning(u16),
    /// AEAD Algorithm Negotiation: algorithm IDs (IANA AEAD registry).
    AeadAlgorithms(Vec<u16>),
    /// New Cookie for NTPv4 (opaque).
    NewCookie(Vec<u8>),
    /// NTPv4 Server Negotiation: an ASCII host name or address.
    Server(Vec<u8>),
    /// NTPv4 Port Negotiation.
    Port(u16),
    /// Any other record type, kept as it was.
    Unknown {
        /// The record type (15 bits).
        record_type: u16,
        /// The body.
        body: Vec<u8>,
    },
}

/// One record as plain values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordRepr {
    /// The critical bit.
    pub critical: bool,
    /// Type and value.
    pub body: RecordBody,
}

fn words(body: &[u8], what: &'static str) -> Result<Vec<u16>, Error> {
    if body.len() % 2 != 0 {
        return Err(Error::BadLength {
            len: body.len(),
            what,
        });
    }
    Ok(body
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

fn one_word(body: &[u8], what: &'static str) -> Result<u16, Error> {
    match body {
        [a, b] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(Error::BadLength {
            len: body.len(),
            what,
        }),
    }
}

impl RecordRepr {
    /// A record with the critical bit set.
    pub fn critical(body: RecordBody) -> Self {
        RecordRepr {
            critical: true,
            body,
        }
    }

    /// A record without the critical bit.
    pub fn non_critical(body: RecordBody) -> Self {
        RecordRepr {
            critical: false,
            body,
        }
    }

    /// Reads a record from a checked view.
    ///
    /// # Errors
    /// [`Error::BadLength`] when a known type has a body of the wrong length
    /// (End of Message with a body, an odd-length list, an error, warning or
    /// port that is not 2 bytes).
    pub fn parse<T: AsRef<[u8]>>(record: &Record<T>) -> Result<Self, Error> {
        use record_type as t;
        let b = record.body();
        let body = match record.record_type() {
            t::END_OF_MESSAGE if b.is_empty() => RecordBody::EndOfMessage,
            t::END_OF_MESSAGE => {
                return Err(Error::BadLength {
                    len: b.len(),
                    what: "End of Message with a body",
                });
            }
            t::NEXT_PROTOCOL => RecordBody::NextProtocols(words(b, "odd next protocol list")?),
            t::ERROR => RecordBody::Error(one_word(b, "error record not 2 bytes")?),
            t::WARNING => RecordBody::Warning(one_word(b, "warning record not 2 bytes")?),
            t::AEAD_ALGORITHM => RecordBody::AeadAlgorithms(words(b, "odd AEAD list")?),
            t::NEW_COOKIE => RecordBody::NewCookie(b.to_vec()),
            t::NTPV4_SERVER => RecordBody::Server(b.to_vec()),
            t::NTPV4_PORT => RecordBody::Port(one_word(b, "port record not 2 bytes")?),
            other => RecordBody::Unknown {
                record_type: other,
                body: b.to_vec(),
            },
        };
        Ok(RecordRepr {
            critical: record.critical(),
            body,
        })
    }

    /// Parses the record at the start of `bytes`, returning it and its length.
    ///
    /// # Errors
    /// As [`Record::new_checked`] and [`RecordRepr::parse`].
    pub fn parse_bytes(bytes: &[u8]) -> Result<(Self, usize), Error> {
        let view = Record::new_checked(bytes)?;
        Ok((Self::parse(&view)?, view.total_len()))
    }

    fn type_and_body(&self) -> (u16, Vec<u8>) {
        use record_type as t;
        let list = |l: &[u16]| l.iter().flat_map(|w| w.to_be_bytes()).collect();
        match &self.body {
            RecordBody::EndOfMessage => (t::END_OF_MESSAGE, Vec::new()),
            RecordBody::NextProtocols(l) => (t::NEXT_PROTOCOL, list(l)),
            RecordBody::Error(c) => (t::ERROR, c.to_be_bytes().to_vec()),
            RecordBody::Warning(c) => (t::WARNING, c.to_be_bytes().to_vec()),
            RecordBody::AeadAlgorithms(l) => (t::AEAD_ALGORITHM, list(l)),
            RecordBody::NewCookie(c) => (t::NEW_COOKIE, c.clone()),
            RecordBody::Server(s) => (t::NTPV4_SERVER, s.clone()),
            RecordBody::Port(p) => (t::NTPV4_PORT, p.to_be_bytes().to_vec()),
            RecordBody::Unknown { record_type, body } => (*record_type & !CRITICAL, body.clone()),
        }
    }

    /// Length on the wire.
    pub fn buffer_len(&self) -> usize {
        RECORD_HEADER_LEN + self.type_and_body().1.len()
    }

    /// Writes the record at the start of `out`.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `out` is shorter than
    /// [`buffer_len`](Self::buffer_len); [`Error::BadLength`] for a body
    /// longer than 65535 bytes.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, Error> {
        let (ty, body) = self.type_and_body();
        let len = u16::try_from(body.len()).map_err(|_| Error::BadLength {
            len: body.len(),
            what: "NTS-KE record body longer than 65535 bytes",
        })?;
        let total = RECORD_HEADER_LEN + body.len();
        let have = out.len();
        let dst = out.get_mut(..total).ok_or(Error::BufferTooSmall {
            needed: total,
            have,
        })?;
        let word = if self.critical { ty | CRITICAL } else { ty };
        dst[..2].copy_from_slice(&word.to_be_bytes());
        dst[2..4].copy_from_slice(&len.to_be_bytes());
        dst[4..].copy_from_slice(&body);
        Ok(total)
    }
}

/// Parses a whole message (records up to and including End of Message) at
/// the start of `bytes`. Returns `Ok(None)` while the message is incomplete
/// (read more from the stream), else the records and the bytes used.
///
/// # Errors
/// As [`RecordRepr::parse`] for a malformed record.
pub fn parse_message(bytes: &[u8]) -> Result<Option<(Vec<RecordRepr>, usize)>, Error> {
    let mut records = Vec::new();
    let mut at = 0;
    loop {
        let Some(rest) = bytes.get(at..) else {
            return Ok(None);
        };
        let view = match Record::new_checked(rest) {
            Ok(v) => v,
            Err(Error::Truncated { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let repr = RecordRepr::parse(&view)?;
        at += view.total_len();
        let end = repr.body == RecordBody::EndOfMessage;
        records.push(repr);
        if end {
            return Ok(Some((records, at)));
        }
    }
}

/// Writes `records` one after the other.
///
/// # Errors
/// As [`RecordRepr::emit`].
pub fn emit_message(records: &[RecordRepr]) -> Result<Vec<u8>, Error> {
    let mut out = vec![0; records.iter().map(RecordRepr::buffer_len).sum()];
    let mut at = 0;
    for r in records {
        at += r.emit(out.get_mut(at..).unwrap_or_default())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client request as chronyd 4.3 sends it: next protocol NTPv4 and
    /// AES-SIV-CMAC-256, both critical, then End of Message.
    const CHRONY_REQUEST: [u8; 16] = [
        0x80, 0x01, 0x00, 0x02, 0x00, 0x00, // next protocol [0]
        0x80, 0x04, 0x00, 0x02, 0x00, 0x0f, // AEAD [15]
        0x80, 0x00, 0x00, 0x00, // end of message
    ];

    #[test]
    fn deconstruct_a_request() {
        let (records, used) = parse_message(&CHRONY_REQUEST)
            .expect("valid")
            .expect("complete");
        assert_eq!(used, 16);
        assert_eq!(
            records,
            vec![
                RecordRepr::critical(RecordBody::NextProtocols(vec![0])),
                RecordRepr::critical(RecordBody::AeadAlgorithms(vec![15])),
                RecordRepr::critical(RecordBody::EndOfMessage),
            ]
        );
        assert_eq!(emit_message(&records).expect("emit"), CHRONY_REQUEST);
    }

    #[test]
    fn incomplete_messages_ask_for_more() {
        for n in 0..CHRONY_REQUEST.len() {
            assert_eq!(parse_message(&CHRONY_REQUEST[..n]), Ok(None), "{n}");
        }
    }

    #[test]
    fn construct_a_response() {
        let records = [
            RecordRepr::non_critical(RecordBody::Server(b"ntp.example".to_vec())),
            RecordRepr::non_critical(RecordBody::Port(1123)),
            RecordRepr::non_critical(RecordBody::NewCookie(vec![9; 3])),
            RecordRepr::critical(RecordBody::Error(error_code::BAD_REQUEST)),
            RecordRepr::non_critical(RecordBody::Warning(7)),
            RecordRepr::critical(RecordBody::Unknown {
                record_type: 1024,
                body: vec![],
            }),
        ];
        let bytes = emit_message(&records).expect("emit");
        assert_eq!(&bytes[..4], &[0x00, 0x06, 0x00, 0x0b]);
        assert_eq!(&bytes[15..21], &[0x00, 0x07, 0x00, 0x02, 0x04, 0x63]);
        assert_eq!(&bytes[bytes.len() - 4..], &[0x84, 0x00, 0x00, 0x00]);
        let mut at = 0;
        for r in &records {
            let (p, n) = RecordRepr::parse_bytes(&bytes[at..]).expect("parse");
            assert_eq!(&p, r);
            at += n;
        }
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let bad = [
            &[0x80, 0x00, 0x00, 0x01, 0x00][..],
            &[0x80, 0x01, 0x00, 0x01, 0x00],
            &[0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00],
            &[0x00, 0x07, 0x00, 0x00],
        ];
        for b in bad {
            assert!(RecordRepr::parse_bytes(b).is_err(), "{b:?}");
            assert!(parse_message(b).is_err(), "{b:?}");
        }
        let mut out = [0u8; 3];
        assert!(
            RecordRepr::critical(RecordBody::EndOfMessage)
                .emit(&mut out)
                .is_err()
        );
    }
}
