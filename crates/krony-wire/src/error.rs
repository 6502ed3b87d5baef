//! The one error type of krony-wire.

/// Why bytes could not be parsed, or a value could not be emitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before the structure does.
    #[error("truncated: need {needed} bytes, have {have}")]
    Truncated { needed: usize, have: usize },
    /// A length field or the total length breaks the format's rules.
    #[error("bad length {len}: {what}")]
    BadLength { len: usize, what: &'static str },
    /// A protocol version this parser does not accept.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// A field holds a value the format does not allow.
    #[error("invalid {field}: {value}")]
    InvalidField { field: &'static str, value: u64 },
    /// The output buffer is too small for what is to be emitted.
    #[error("buffer too small: need {needed} bytes, have {have}")]
    BufferTooSmall { needed: usize, have: usize },
}
