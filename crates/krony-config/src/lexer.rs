//! Splitting lines into words and parsing the words into numbers.
//!
//! chrony normalises every line before parsing: a line whose first non-blank character is
//! one of `! ; # %` is a comment, and words are separated by any ASCII white space. There are
//! no inline comments (`rtcsync x#y` has the argument `x#y`).

use crate::error::{ParseError, Reason};

/// chrony reads lines into a 2048-byte buffer and rejects lines that fill it (`conf.c`,
/// `MAX_LINE_LENGTH`), so the longest accepted line has 2046 characters plus the newline.
pub const MAX_LINE_LENGTH: usize = 2046;

/// Characters that start a comment when they are the first non-blank character of a line.
const COMMENT_CHARS: &[char] = &['!', ';', '#', '%'];

/// Splits a line into words; returns an empty vector for blank and comment lines.
///
/// # Errors
/// [`ParseError::LineTooLong`] for lines longer than [`MAX_LINE_LENGTH`].
pub fn split_line(line: &str) -> Result<Vec<&str>, ParseError> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.len() > MAX_LINE_LENGTH {
        return Err(ParseError::LineTooLong {
            max: MAX_LINE_LENGTH,
        });
    }
    let trimmed = line.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if trimmed.starts_with(COMMENT_CHARS) {
        return Ok(Vec::new());
    }
    Ok(trimmed.split_ascii_whitespace().collect())
}

/// A cursor over the arguments of one directive, producing precise errors.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    directive: &'static str,
    words: &'a [&'a str],
    pos: usize,
}

impl<'a> Args<'a> {
    /// Wraps the arguments (the words after the directive name).
    pub fn new(directive: &'static str, words: &'a [&'a str]) -> Self {
        Args {
            directive,
            words,
            pos: 0,
        }
    }

    /// The directive name used in error messages.
    pub fn directive(&self) -> &'static str {
        self.directive
    }

    /// The next word, if any.
    pub fn next_word(&mut self) -> Option<&'a str> {
        let w = self.words.get(self.pos).copied();
        if w.is_some() {
            self.pos += 1;
        }
        w
    }

    /// The next word without consuming it.
    pub fn peek(&self) -> Option<&'a str> {
        self.words.get(self.pos).copied()
    }

    /// Number of words not consumed yet.
    pub fn remaining(&self) -> usize {
        self.words.len().saturating_sub(self.pos)
    }

    /// The next word, or a "missing `what`" error.
    pub fn require(&mut self, what: &'static str) -> Result<&'a str, ParseError> {
        self.next_word().ok_or(ParseError::MissingArgument {
            directive: self.directive,
            what,
        })
    }

    /// Succeeds only when every word has been consumed.
    pub fn finish(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(extra) => Err(ParseError::TooManyArguments {
                directive: self.directive,
                extra: extra.to_string(),
            }),
        }
    }

    /// Reads the next word as an integer in `min..=max`.
    pub fn int(&mut self, what: &'static str, min: i64, max: i64) -> Result<i64, ParseError> {
        let w = self.require(what)?;
        parse_int(self.directive, what, w, min, max)
    }

    /// Reads the next word as a finite floating-point number.
    pub fn float(&mut self, what: &'static str) -> Result<f64, ParseError> {
        let w = self.require(what)?;
        parse_float(self.directive, what, w)
    }

    /// An "invalid value" error for this directive.
    pub fn invalid(&self, what: &'static str, value: &str, reason: Reason) -> ParseError {
        ParseError::InvalidValue {
            directive: self.directive,
            what,
            value: value.to_string(),
            reason,
        }
    }

    /// An "invalid option" error for this directive.
    pub fn invalid_option(&self, option: &str) -> ParseError {
        ParseError::InvalidOption {
            directive: self.directive,
            option: option.to_string(),
        }
    }
}

/// Parses a decimal integer (optional sign) and checks `min..=max`.
pub fn parse_int(
    directive: &'static str,
    what: &'static str,
    word: &str,
    min: i64,
    max: i64,
) -> Result<i64, ParseError> {
    let invalid = |reason| ParseError::InvalidValue {
        directive,
        what,
        value: word.to_string(),
        reason,
    };
    let v: i64 = word.parse().map_err(|_| invalid(Reason::NotAnInteger))?;
    if v < min || v > max {
        return Err(invalid(Reason::OutOfRange { min, max }));
    }
    Ok(v)
}

/// Parses a finite decimal floating-point number (`1`, `-0.5`, `1e-9`).
///
/// Infinities and NaN are rejected: no chrony setting is meaningful with them.
pub fn parse_float(
    directive: &'static str,
    what: &'static str,
    word: &str,
) -> Result<f64, ParseError> {
    let ok = word
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    match word.parse::<f64>() {
        Ok(v) if ok && v.is_finite() => Ok(v),
        _ => Err(ParseError::InvalidValue {
            directive,
            what,
            value: word.to_string(),
            reason: Reason::NotANumber,
        }),
    }
}

/// Formats a float so that it parses back to the same value (`1.0`, `0.001`, `1e-9`).
pub fn fmt_float(v: f64) -> String {
    // Debug formatting is the shortest representation that round-trips, and always has a
    // decimal point or exponent, which makes the printed configuration easy to read.
    format!("{v:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_only_at_line_start() {
        for c in ["# x", "  ! x", "\t; x", "% x", "#"] {
            assert!(split_line(c).unwrap().is_empty(), "{c}");
        }
        assert_eq!(split_line("rtcsync x#y").unwrap(), vec!["rtcsync", "x#y"]);
        assert_eq!(split_line("  a \t b  \r\n").unwrap(), vec!["a", "b"]);
        assert!(split_line("").unwrap().is_empty());
    }

    #[test]
    fn long_lines_rejected() {
        let ok = "x".repeat(MAX_LINE_LENGTH);
        assert!(split_line(&ok).is_ok());
        let long = "x".repeat(MAX_LINE_LENGTH + 1);
        assert_eq!(
            split_line(&long),
            Err(ParseError::LineTooLong {
                max: MAX_LINE_LENGTH
            })
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int("d", "v", "-7", -7, 24), Ok(-7));
        assert_eq!(parse_int("d", "v", "+3", -7, 24), Ok(3));
        assert!(parse_int("d", "v", "25", -7, 24).is_err());
        assert!(parse_int("d", "v", "1x", 0, 9).is_err());
        assert_eq!(parse_float("d", "v", "1e-9"), Ok(1e-9));
        assert_eq!(parse_float("d", "v", ".5"), Ok(0.5));
        for bad in ["inf", "nan", "NaN", "1x", "", "0x10", "infinity"] {
            assert!(parse_float("d", "v", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn float_format_round_trips() {
        for v in [1.0, 0.001, 1e-9, 1e6 / 12.0, -37.0, 83333.333] {
            assert_eq!(fmt_float(v).parse::<f64>().unwrap(), v);
        }
        assert_eq!(fmt_float(1.0), "1.0");
    }

    #[test]
    fn args_cursor() {
        let words = ["1.0", "3", "extra"];
        let mut a = Args::new("makestep", &words);
        assert_eq!(a.float("threshold"), Ok(1.0));
        assert_eq!(a.int("limit", i64::MIN, i64::MAX), Ok(3));
        assert!(matches!(
            a.finish(),
            Err(ParseError::TooManyArguments { .. })
        ));
        let mut a = Args::new("makestep", &[]);
        assert_eq!(
            a.float("threshold"),
            Err(ParseError::MissingArgument {
                directive: "makestep",
                what: "threshold"
            })
        );
    }
}
