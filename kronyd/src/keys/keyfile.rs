//! The `keyfile` format (chrony.conf(5)): one key a line, `ID [TYPE] KEY`,
//! the type `MD5` when left out, the key ASCII text (optionally prefixed
//! `ASCII:`) or `HEX:` and hexadecimal digits. Blank lines and lines whose
//! first non-blank character is one of `!;#%` are comments.
//!
//! A bad line is reported and skipped; the other keys are kept, as chrony
//! does. The messages are chrony's, with the line and file added.

use std::fmt;

use thiserror::Error;

use super::mac::KeyType;

/// chrony reads keyfile lines into a 2048-byte buffer: longer lines are
/// not valid key lines.
const MAX_LINE_LEN: usize = 2047;

/// One symmetric key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key ID (1 to 2^32-1 in a source's `key` option).
    pub id: u32,
    /// The hash function or cipher.
    pub kind: KeyType,
    secret: Box<[u8]>,
}

impl fmt::Debug for Key {
    // The secret stays out of logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key from its parts; `None` for an empty secret or a cipher key of
    /// the wrong length.
    pub fn new(id: u32, kind: KeyType, secret: &[u8]) -> Option<Self> {
        let ok = !secret.is_empty() && kind.cipher_key_len().is_none_or(|l| l == secret.len());
        ok.then(|| Key {
            id,
            kind,
            secret: secret.into(),
        })
    }

    /// The key's length in bits, as `authdata` reports it.
    pub fn bits(&self) -> usize {
        8 * self.secret.len()
    }

    /// The MAC of `data`, truncated to at most `max_len` bytes.
    pub fn mac(&self, data: &[u8], max_len: usize) -> Option<Vec<u8>> {
        let mut d = self.kind.mac(&self.secret, data)?;
        d.truncate(max_len);
        Some(d)
    }
}

/// A keyfile line that gives no key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyLineError {
    /// Not `ID [TYPE] KEY`, or the ID is not a number.
    #[error("Could not parse key at line {line} in file {file}")]
    Syntax {
        /// The keyfile.
        file: String,
        /// Its line, from 1.
        line: usize,
    },
    /// An empty key or bad hexadecimal digits.
    #[error("Could not decode key {id} at line {line} in file {file}")]
    Decode {
        /// The key ID.
        id: u32,
        /// The keyfile.
        file: String,
        /// Its line.
        line: usize,
    },
    /// A type that is neither a known hash function nor a cipher.
    #[error("Invalid type in key {id} at line {line} in file {file}")]
    Type {
        /// The key ID.
        id: u32,
        /// The keyfile.
        file: String,
        /// Its line.
        line: usize,
    },
    /// A cipher key whose length is not the cipher's.
    #[error(
        "Invalid length of {kind} key {id} (expected {bits} bits) at line {line} in file {file}"
    )]
    CipherLength {
        /// The cipher's name.
        kind: &'static str,
        /// The key ID.
        id: u32,
        /// The length the cipher needs.
        bits: usize,
        /// The keyfile.
        file: String,
        /// Its line.
        line: usize,
    },
}

/// The keys of a keyfile's `text` (named `file` in messages), in file
/// order, and the errors of the lines that were skipped.
pub fn parse(text: &[u8], file: &str) -> (Vec<Key>, Vec<KeyLineError>) {
    let mut keys = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        match parse_line(line, file, i + 1) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (keys, errors)
}

/// C's `isspace` in the C locale (Rust's ASCII whitespace lacks `\v`).
fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

/// One line: `Ok(None)` for a blank or comment line.
fn parse_line(line: &[u8], file: &str, n: usize) -> Result<Option<Key>, KeyLineError> {
    let syntax = || KeyLineError::Syntax {
        file: file.to_string(),
        line: n,
    };
    let words: Vec<&[u8]> = line
        .split(|&b| is_space(b))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(first) = words.first() else {
        return Ok(None);
    };
    if first.first().is_some_and(|c| b"!;#%".contains(c)) {
        return Ok(None);
    }
    if line.len() > MAX_LINE_LEN {
        return Err(syntax());
    }
    let (id, kind, value) = match words.as_slice() {
        [id, value] => (id, &b"MD5"[..], value),
        [id, kind, value] => (id, *kind, value),
        _ => return Err(syntax()),
    };
    let id = parse_id(id).ok_or_else(syntax)?;
    let secret = decode(value).ok_or_else(|| KeyLineError::Decode {
        id,
        file: file.to_string(),
        line: n,
    })?;
    let Some(kind) = KeyType::from_name(kind) else {
        return Err(KeyLineError::Type {
            id,
            file: file.to_string(),
            line: n,
        });
    };
    Key::new(id, kind, &secret)
        .map(Some)
        .ok_or_else(|| KeyLineError::CipherLength {
            kind: kind.name(),
            id,
            bits: 8 * kind.cipher_key_len().unwrap_or_default(),
            file: file.to_string(),
            line: n,
        })
}

/// A decimal key ID that fits in 32 bits.
fn parse_id(word: &[u8]) -> Option<u32> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// The key bytes of `ASCII:text`, `HEX:digits` or plain text; `None` when
/// empty or not valid hexadecimal.
fn decode(value: &[u8]) -> Option<Vec<u8>> {
    let bytes = if let Some(text) = value.strip_prefix(b"ASCII:") {
        text.to_vec()
    } else if let Some(hex) = value.strip_prefix(b"HEX:") {
        if hex.len() % 2 != 0 {
            return None;
        }
        hex.chunks(2)
            .map(|pair| {
                let s = std::str::from_utf8(pair).ok()?;
                u8::from_str_radix(s, 16)
                    .ok()
                    .filter(|_| pair.iter().all(u8::is_ascii_hexdigit))
            })
            .collect::<Option<Vec<u8>>>()?
    } else {
        value.to_vec()
    };
    (!bytes.is_empty()).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Option<Key>, KeyLineError> {
        parse_line(line.as_bytes(), "k.keys", 7)
    }

    #[test]
    fn chrony_documentation_example() {
        let text = "\
10 tulip
11 hyacinth
20 MD5 ASCII:crocus
25 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70
30 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1
31 AES256 HEX:37DDCBC67BB902BCB8E995977FAB4D2B5642F5B32EBCEEE421921D97E5CBFE39
";
        let (keys, errors) = parse(text.as_bytes(), "chrony.keys");
        assert!(errors.is_empty(), "{errors:?}");
        let got: Vec<(u32, KeyType, usize)> =
            keys.iter().map(|k| (k.id, k.kind, k.bits())).collect();
        assert_eq!(
            got,
            vec![
                (10, KeyType::Md5, 40),
                (11, KeyType::Md5, 64),
                (20, KeyType::Md5, 48),
                (25, KeyType::Sha1, 160),
                (30, KeyType::Aes128, 128),
                (31, KeyType::Aes256, 256),
            ]
        );
        assert_eq!(&*keys[2].secret, b"crocus");
        assert_eq!(keys[3].secret[..2], [0x93, 0x3f]);
    }

    #[test]
    fn comments_blanks_and_spacing() {
        for line in ["", "   \t", "# 1 MD5 x", "  ; x", "!x", "%1 a"] {
            assert_eq!(one(line), Ok(None), "{line:?}");
        }
        let k = one(" \t5\x0bSHA3-256\t HEX:0a0B  \r")
            .expect("ok")
            .expect("key");
        assert_eq!(
            (k.id, k.kind, &*k.secret),
            (5, KeyType::Sha3_256, &[10, 11][..])
        );
        // A '#' after the first word is part of the key.
        let k = one("6 pass#word").expect("ok").expect("key");
        assert_eq!(&*k.secret, b"pass#word");
    }

    #[test]
    fn bad_lines_say_what_and_where() {
        let cases = [
            ("1", "Could not parse key at line 7 in file k.keys"),
            ("1 MD5 a b", "Could not parse key at line 7 in file k.keys"),
            ("x MD5 a", "Could not parse key at line 7 in file k.keys"),
            ("-1 a", "Could not parse key at line 7 in file k.keys"),
            (
                "4294967296 a",
                "Could not parse key at line 7 in file k.keys",
            ),
            ("3 HEX:", "Could not decode key 3 at line 7 in file k.keys"),
            (
                "3 SHA1 HEX:abc",
                "Could not decode key 3 at line 7 in file k.keys",
            ),
            (
                "3 SHA1 HEX:zz",
                "Could not decode key 3 at line 7 in file k.keys",
            ),
            (
                "3 SHA1 HEX:+1",
                "Could not decode key 3 at line 7 in file k.keys",
            ),
            (
                "3 MD5 ASCII:",
                "Could not decode key 3 at line 7 in file k.keys",
            ),
            (
                "3 md5 abc",
                "Invalid type in key 3 at line 7 in file k.keys",
            ),
            (
                "3 RIPEMD160 abc",
                "Invalid type in key 3 at line 7 in file k.keys",
            ),
            (
                "3 AES128 HEX:00",
                "Invalid length of AES128 key 3 (expected 128 bits) at line 7 in file k.keys",
            ),
            (
                "3 AES256 0123456789abcdef",
                "Invalid length of AES256 key 3 (expected 256 bits) at line 7 in file k.keys",
            ),
        ];
        for (line, msg) in cases {
            let e = one(line).expect_err(line);
            assert_eq!(e.to_string(), msg, "{line:?}");
        }
        let long = format!("1 MD5 {}", "a".repeat(2048));
        assert!(one(&long).is_err());
        let at_limit = format!("1 MD5 {}", "a".repeat(MAX_LINE_LEN - 6));
        assert!(one(&at_limit).is_ok());
    }

    #[test]
    fn good_lines_survive_bad_ones() {
        let text = "1 MD5 one\nnonsense\n2 SHA512 HEX:0102\n3 FOO bar\n4294967295 x\n";
        let (keys, errors) = parse(text.as_bytes(), "f");
        let ids: Vec<u32> = keys.iter().map(|k| k.id).collect();
        assert_eq!(ids, vec![1, 2, u32::MAX]);
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "Could not parse key at line 2 in file f",
                "Invalid type in key 3 at line 4 in file f"
            ]
        );
    }

    #[test]
    fn non_utf8_ascii_keys_are_bytes() {
        let (keys, errors) = parse(b"9 \xff\xfe\n", "f");
        assert!(errors.is_empty());
        assert_eq!(&*keys[0].secret, &[0xff, 0xfe][..]);
    }

    #[test]
    fn debug_hides_the_secret() {
        let k = Key::new(1, KeyType::Md5, b"topsecret").expect("key");
        assert!(!format!("{k:?}").contains("topsecret"));
        assert_eq!(Key::new(1, KeyType::Md5, b""), None);
    }
}
