//! Errors and warnings produced while reading a configuration.
//!
//! [`ParseError`] describes what is wrong with one line; it carries no location, so the
//! source-line grammar can be reused by `kronyc add server ...`. [`ConfigError`] adds the
//! file name and line number. [`Warning`] reports a directive that was understood but is not
//! acted on (yet), or an option that has no effect.

use std::fmt;

use thiserror::Error;

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Not a decimal integer.
    NotAnInteger,
    /// Not a finite decimal number.
    NotANumber,
    /// An integer outside the accepted range (inclusive bounds).
    OutOfRange {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Any other problem, described in words ("expected an IP address").
    Expected(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotAnInteger => f.write_str("not an integer"),
            Reason::NotANumber => f.write_str("not a number"),
            Reason::OutOfRange { min, max } => write!(f, "must be from {min} to {max}"),
            Reason::Expected(what) => write!(f, "expected {what}"),
        }
    }
}

/// A problem with a single configuration line (no location attached).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The first word of the line is not a known directive.
    #[error("unknown directive \"{0}\"")]
    UnknownDirective(String),
    /// A mandatory argument is missing.
    #[error("missing {what} in {directive} directive")]
    MissingArgument {
        /// The directive being parsed.
        directive: &'static str,
        /// What was expected ("hostname", "threshold", ...).
        what: &'static str,
    },
    /// More arguments than the directive takes.
    #[error("too many arguments in {directive} directive (unexpected \"{extra}\")")]
    TooManyArguments {
        /// The directive being parsed.
        directive: &'static str,
        /// The first argument that was not expected.
        extra: String,
    },
    /// An option that the directive does not know.
    #[error("invalid option \"{option}\" in {directive} directive")]
    InvalidOption {
        /// The directive being parsed.
        directive: &'static str,
        /// The offending word.
        option: String,
    },
    /// A value that could not be parsed or is out of range.
    #[error("invalid {what} \"{value}\" in {directive} directive ({reason})")]
    InvalidValue {
        /// The directive being parsed.
        directive: &'static str,
        /// Which argument or option ("minpoll", "threshold", "value").
        what: &'static str,
        /// The word as written.
        value: String,
        /// Why it was rejected.
        reason: Reason,
    },
    /// The line exceeds chrony's maximum line length.
    #[error("line too long (maximum {max} characters)")]
    LineTooLong {
        /// The maximum accepted length.
        max: usize,
    },
    /// A file named by `include`, `confdir` or `sourcedir` could not be read.
    #[error("could not read {path}: {message}")]
    Io {
        /// The path that failed.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// `include`/`confdir` nested too deeply (probably a loop).
    #[error("maximum include depth {max} exceeded")]
    IncludeDepth {
        /// The maximum depth.
        max: usize,
    },
}

/// A configuration error with its location.
///
/// Displayed as `FILE:LINE: problem`, e.g.
/// `/etc/krony/krony.conf:12: invalid minpoll "x" in server directive (not an integer)`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct ConfigError {
    /// The file name (or `<command line>` for lines given as arguments).
    pub file: String,
    /// The 1-based line number; `None` when the file itself could not be read.
    pub line: Option<usize>,
    /// What went wrong.
    #[source]
    pub error: ParseError,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.error),
            None => write!(f, "{}: {}", self.file, self.error),
        }
    }
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The directive is parsed but kronyd does not act on it yet.
    NotImplemented,
    /// chrony no longer supports the directive; it is ignored.
    Obsolete,
    /// The directive is accepted for compatibility and has no effect (e.g. `dumponexit`).
    Ignored,
    /// An option that is accepted but has no effect in this directive (e.g. `iburst` in `peer`).
    OptionIgnored(&'static str),
    /// A line in a `sourcedir` file that is not a valid server/pool/peer line.
    SourceLineIgnored(String),
    /// An `include` pattern with wildcards matched no file.
    NoMatch(String),
}

/// A non-fatal remark about a configuration line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file name.
    pub file: String,
    /// The 1-based line number.
    pub line: usize,
    /// The directive name as written (lower case).
    pub directive: String,
    /// What the warning is about.
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        let d = &self.directive;
        match &self.kind {
            WarningKind::NotImplemented => {
                write!(f, "{d} directive is not acted on by kronyd yet (ignored)")
            }
            WarningKind::Obsolete => write!(f, "{d} directive is no longer supported (ignored)"),
            WarningKind::Ignored => write!(f, "{d} directive has no effect (ignored)"),
            WarningKind::OptionIgnored(opt) => {
                write!(f, "option {opt} has no effect in {d} directive")
            }
            WarningKind::SourceLineIgnored(why) => write!(f, "ignored line in sources file: {why}"),
            WarningKind::NoMatch(pattern) => write!(f, "{d} pattern {pattern} matched no files"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_file_and_line() {
        let e = ConfigError {
            file: "/etc/chrony.conf".into(),
            line: Some(12),
            error: ParseError::InvalidValue {
                directive: "server",
                what: "minpoll",
                value: "x".into(),
                reason: Reason::NotAnInteger,
            },
        };
        assert_eq!(
            e.to_string(),
            "/etc/chrony.conf:12: invalid minpoll \"x\" in server directive (not an integer)"
        );
        let e = ConfigError { line: None, ..e };
        assert!(e.to_string().starts_with("/etc/chrony.conf: invalid"));
    }

    #[test]
    fn warning_display() {
        let w = Warning {
            file: "a.conf".into(),
            line: 3,
            directive: "peer".into(),
            kind: WarningKind::OptionIgnored("iburst"),
        };
        assert_eq!(
            w.to_string(),
            "a.conf:3: option iburst has no effect in peer directive"
        );
    }
}
