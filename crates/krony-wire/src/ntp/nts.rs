//! NTS extension fields of NTP packets (RFC 8915 §5): Unique Identifier,
//! NTS Cookie, Cookie Placeholder, and the NTS Authenticator and Encrypted
//! Extension Fields, on top of the generic [`ExtensionField`].
//!
//! The cryptography stays with the caller: [`NtsFields::parse`] finds the
//! fields and the associated data the authenticator covers, and
//! [`Authenticator`] reads and writes the authenticator's body.

use super::extension::{EXTENSION_HEADER_LEN, EXTENSION_MIN_LEN, ExtensionField};
use super::packet::{HEADER_LEN, NtpRepr};
use crate::Error;

/// Smallest Unique Identifier body (RFC 8915 §5.3: at least 32 octets).
pub const MIN_UNIQUE_ID_LEN: usize = 32;
/// Smallest nonce sent unpadded (RFC 8915 §5.6: the field must have room
/// for at least 16 octets of nonce).
pub const MIN_UNPADDED_NONCE_LEN: usize = 16;
/// Nonce and ciphertext lengths: 16 bits each.
const AUTH_HEADER_LEN: usize = 4;

/// Rounds up to a multiple of 4.
fn padded(len: usize) -> usize {
    len.div_ceil(4) * 4
}

/// A Unique Identifier field.
pub fn unique_identifier(id: &[u8]) -> ExtensionField {
    ExtensionField {
        field_type: ExtensionField::NTS_UNIQUE_IDENTIFIER,
        body: id.to_vec(),
    }
}

/// An NTS Cookie field.
pub fn cookie(cookie: &[u8]) -> ExtensionField {
    ExtensionField {
        field_type: ExtensionField::NTS_COOKIE,
        body: cookie.to_vec(),
    }
}

/// A Cookie Placeholder of `len` zero bytes (the length of the cookie
/// asked for, RFC 8915 §5.5).
pub fn cookie_placeholder(len: usize) -> ExtensionField {
    ExtensionField {
        field_type: ExtensionField::NTS_COOKIE_PLACEHOLDER,
        body: vec![0; len],
    }
}

/// The body of an NTS Authenticator and Encrypted Extension Fields field
/// (RFC 8915 §5.6): nonce length, ciphertext length, the nonce and the
/// ciphertext, each padded to 4 bytes, then optional zero padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authenticator {
    /// The AEAD nonce.
    pub nonce: Vec<u8>,
    /// The AEAD output: tag (SIV) and the encrypted extension fields.
    pub ciphertext: Vec<u8>,
}

impl Authenticator {
    /// Reads the body of the field (with its padding).
    ///
    /// # Errors
    /// [`Error::BadLength`] when the lengths do not fit the body, or the
    /// field lacks the padding that a nonce shorter than 16 bytes needs
    /// (RFC 8915 §5.6).
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let bad = |what| Error::BadLength {
            len: body.len(),
            what,
        };
        let [n0, n1, c0, c1, rest @ ..] = body else {
            return Err(bad("NTS authenticator shorter than its header"));
        };
        let nonce_len = usize::from(u16::from_be_bytes([*n0, *n1]));
        let ct_len = usize::from(u16::from_be_bytes([*c0, *c1]));
        if padded(nonce_len) + padded(ct_len) > rest.len() {
            return Err(bad("NTS authenticator lengths exceed the field"));
        }
        if padded(nonce_len.max(MIN_UNPADDED_NONCE_LEN)) + padded(ct_len) > rest.len() {
            return Err(bad("NTS authenticator without the nonce padding"));
        }
        let ct_at = padded(nonce_len);
        Ok(Authenticator {
            nonce: rest[..nonce_len].to_vec(),
            ciphertext: rest[ct_at..ct_at + ct_len].to_vec(),
        })
    }

    /// The field's body, zero padded to at least `min_body_len` bytes (a
    /// server pads its response to the request's length, RFC 8915 §5.7).
    ///
    /// # Errors
    /// [`Error::BadLength`] when nonce or ciphertext is longer than 65535
    /// bytes.
    pub fn to_body(&self, min_body_len: usize) -> Result<Vec<u8>, Error> {
        let n = u16::try_from(self.nonce.len()).map_err(|_| Error::BadLength {
            len: self.nonce.len(),
            what: "NTS nonce longer than 65535 bytes",
        })?;
        let c = u16::try_from(self.ciphertext.len()).map_err(|_| Error::BadLength {
            len: self.ciphertext.len(),
            what: "NTS ciphertext longer than 65535 bytes",
        })?;
        let nonce_room = padded(self.nonce.len().max(MIN_UNPADDED_NONCE_LEN));
        let len = (AUTH_HEADER_LEN + nonce_room + padded(self.ciphertext.len()))
            .max(padded(min_body_len));
        let mut body = vec![0; len];
        body[..2].copy_from_slice(&n.to_be_bytes());
        body[2..4].copy_from_slice(&c.to_be_bytes());
        body[4..4 + self.nonce.len()].copy_from_slice(&self.nonce);
        let ct_at = AUTH_HEADER_LEN + padded(self.nonce.len());
        body[ct_at..ct_at + self.ciphertext.len()].copy_from_slice(&self.ciphertext);
        Ok(body)
    }

    /// The whole extension field.
    ///
    /// # Errors
    /// As [`to_body`](Self::to_body).
    pub fn to_field(&self, min_body_len: usize) -> Result<ExtensionField, Error> {
        Ok(ExtensionField {
            field_type: ExtensionField::NTS_AUTH_AND_EEF,
            body: self.to_body(min_body_len)?,
        })
    }
}

/// The NTS fields of a packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NtsFields {
    /// The Unique Identifier (the first one, if several).
    pub unique_id: Option<Vec<u8>>,
    /// Cookies in the clear, in order.
    pub cookies: Vec<Vec<u8>>,
    /// Body lengths of the Cookie Placeholders.
    pub placeholders: Vec<usize>,
    /// The authenticator, if it is the last field.
    pub authenticator: Option<Authenticator>,
    /// Bytes of the packet covered as associated data: everything before
    /// the authenticator field.
    pub aad_len: usize,
    /// Whether an authenticator field was found before the last field
    /// (RFC 8915 §5.6: nothing unauthenticated may follow it).
    pub auth_not_last: bool,
}

impl NtsFields {
    /// Finds the NTS fields of a parsed packet (`repr` as parsed from the
    /// same bytes, so that offsets are those of the wire).
    ///
    /// # Errors
    /// As [`Authenticator::parse`] for a malformed authenticator.
    pub fn from_repr(repr: &NtpRepr) -> Result<Self, Error> {
        let mut out = NtsFields::default();
        let mut at = HEADER_LEN;
        let n = repr.extensions.len();
        for (i, f) in repr.extensions.iter().enumerate() {
            match f.field_type {
                ExtensionField::NTS_UNIQUE_IDENTIFIER if out.unique_id.is_none() => {
                    out.unique_id = Some(f.body.clone());
                }
                ExtensionField::NTS_COOKIE => out.cookies.push(f.body.clone()),
                ExtensionField::NTS_COOKIE_PLACEHOLDER => out.placeholders.push(f.body.len()),
                ExtensionField::NTS_AUTH_AND_EEF if i + 1 == n => {
                    out.authenticator = Some(Authenticator::parse(&f.body)?);
                    out.aad_len = at;
                }
                ExtensionField::NTS_AUTH_AND_EEF => out.auth_not_last = true,
                _ => {}
            }
            at += f.wire_len();
        }
        Ok(out)
    }

    /// Parses the packet, then its NTS fields.
    ///
    /// # Errors
    /// As [`NtpRepr::parse_bytes`] and [`NtsFields::from_repr`].
    pub fn parse(packet: &[u8]) -> Result<(NtpRepr, Self), Error> {
        let repr = NtpRepr::parse_bytes(packet)?;
        let fields = Self::from_repr(&repr)?;
        Ok((repr, fields))
    }
}

/// Parses the plaintext of encrypted extension fields: fields back to back,
/// each at least 16 bytes and a multiple of 4 long (no MAC can follow).
///
/// # Errors
/// [`Error::BadLength`] for a field that breaks these rules.
pub fn parse_plaintext_fields(mut bytes: &[u8]) -> Result<Vec<ExtensionField>, Error> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let [t0, t1, l0, l1, ..] = bytes else {
            return Err(Error::BadLength {
                len: bytes.len(),
                what: "truncated encrypted extension field",
            });
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        if len < EXTENSION_MIN_LEN || len % 4 != 0 || len > bytes.len() {
            return Err(Error::BadLength {
                len,
                what: "bad encrypted extension field length",
            });
        }
        out.push(ExtensionField {
            field_type: u16::from_be_bytes([*t0, *t1]),
            body: bytes[EXTENSION_HEADER_LEN..len].to_vec(),
        });
        bytes = &bytes[len..];
    }
    Ok(out)
}

/// Writes fields back to back (the plaintext of encrypted fields).
pub fn emit_plaintext_fields(fields: &[ExtensionField]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        let len = f.wire_len();
        out.extend_from_slice(&f.field_type.to_be_bytes());
        // OK to truncate: callers emit cookies, far below 64 KiB.
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&f.body);
        out.resize(out.len() + padded(f.body.len()) - f.body.len(), 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntp::{Mode, NtpRepr};

    #[test]
    fn authenticator_round_trips_with_padding() {
        let a = Authenticator {
            nonce: vec![1; 16],
            ciphertext: vec![2; 16],
        };
        let body = a.to_body(0).expect("body");
        assert_eq!(body.len(), 4 + 16 + 16);
        assert_eq!(&body[..4], &[0, 16, 0, 16]);
        assert_eq!(Authenticator::parse(&body), Ok(a.clone()));
        // Padded to the request's length.
        let long = a.to_body(61).expect("body");
        assert_eq!(long.len(), 64);
        assert_eq!(Authenticator::parse(&long), Ok(a));
        // A short nonce still gets room for 16 bytes.
        let short = Authenticator {
            nonce: vec![3; 12],
            ciphertext: vec![4; 17],
        };
        let body = short.to_body(0).expect("body");
        assert_eq!(body.len(), 4 + 16 + 20);
        assert_eq!(Authenticator::parse(&body), Ok(short));
        // Without that padding it is refused.
        let mut bad = vec![0, 12, 0, 16];
        bad.extend_from_slice(&[0; 28]);
        assert!(Authenticator::parse(&bad).is_err());
        assert!(Authenticator::parse(&[0, 1]).is_err());
        assert!(Authenticator::parse(&[0, 16, 0, 16, 0, 0]).is_err());
    }

    #[test]
    fn fields_of_a_request() {
        let auth = Authenticator {
            nonce: vec![5; 16],
            ciphertext: vec![6; 16],
        };
        let mut repr = NtpRepr::parse_bytes(&[0x23; 48]).expect("header");
        repr.mode = Mode::Client;
        repr.extensions = vec![
            unique_identifier(&[7; 32]),
            cookie(&[8; 100]),
            cookie_placeholder(100),
            auth.to_field(0).expect("field"),
        ];
        let bytes = repr.to_vec().expect("emit");
        let (_, f) = NtsFields::parse(&bytes).expect("parse");
        assert_eq!(f.unique_id, Some(vec![7; 32]));
        assert_eq!(f.cookies, vec![vec![8; 100]]);
        assert_eq!(f.placeholders, vec![100]);
        assert_eq!(f.authenticator, Some(auth));
        assert_eq!(f.aad_len, 48 + 36 + 104 + 104);
        assert!(!f.auth_not_last);
    }

    #[test]
    fn plaintext_fields_round_trip() {
        let fields = vec![cookie(&[1; 100]), cookie(&[2; 13])];
        let bytes = emit_plaintext_fields(&fields);
        assert_eq!(bytes.len(), 104 + 20);
        let back = parse_plaintext_fields(&bytes).expect("parse");
        assert_eq!(back[0], fields[0]);
        assert_eq!(&back[1].body[..13], &fields[1].body[..]);
        assert!(parse_plaintext_fields(&bytes[..10]).is_err());
        assert!(parse_plaintext_fields(&[0, 0, 0, 8, 0, 0, 0, 0]).is_err());
    }
}
