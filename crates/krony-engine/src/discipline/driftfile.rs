//! The driftfile's one line: frequency error and skew in ppm, as chrony writes
//! it (`"%20.6f %20.6f\n"`), so files move freely between chronyd and kronyd.

/// Why a driftfile could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriftfileError {
    /// Fewer than two numbers.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A field is not a finite number.
    #[error("invalid {what} {text:?}")]
    Invalid { what: &'static str, text: String },
}

/// The driftfile line for a frequency error and skew, both in ppm (positive
/// frequency = the uncorrected clock runs fast).
///
/// ```
/// use krony_engine::discipline::format_driftfile;
/// assert_eq!(format_driftfile(-12.5, 0.125), "          -12.500000             0.125000\n");
/// ```
pub fn format_driftfile(frequency_ppm: f64, skew_ppm: f64) -> String {
    format!("{frequency_ppm:20.6} {skew_ppm:20.6}\n")
}

/// Reads the frequency error and skew (ppm) from a driftfile's contents.
/// Like chrony, only the first two whitespace-separated numbers count; what
/// follows them is ignored.
///
/// # Errors
/// [`DriftfileError`] when either number is missing, malformed or not finite
/// (chrony then logs "Could not read valid frequency and skew from driftfile
/// %s" and starts from the clock's current frequency).
pub fn parse_driftfile(text: &str) -> Result<(f64, f64), DriftfileError> {
    let mut fields = text.split_whitespace();
    let frequency = parse_field(fields.next(), "frequency")?;
    let skew = parse_field(fields.next(), "skew")?;
    Ok((frequency, skew))
}

fn parse_field(field: Option<&str>, what: &'static str) -> Result<f64, DriftfileError> {
    let text = field.ok_or(DriftfileError::Missing(what))?;
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(DriftfileError::Invalid {
            what,
            text: text.chars().take(32).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_matches_chrony_layout() {
        let line = format_driftfile(1.234567, 0.051);
        assert_eq!(line, "            1.234567             0.051000\n");
        assert_eq!(line.len(), 42);
    }

    #[test]
    fn round_trip_keeps_microppm() {
        for (f, s) in [(0.0, 0.0), (-123.456789, 0.001234), (99999.999999, 1000.0)] {
            let (f2, s2) = parse_driftfile(&format_driftfile(f, s)).expect("own output parses");
            assert!((f2 - f).abs() <= 5e-7, "{f} -> {f2}");
            assert!((s2 - s).abs() <= 5e-7, "{s} -> {s2}");
        }
    }

    #[test]
    fn accepts_chrony_variants() {
        assert_eq!(parse_driftfile("-1.5 0.25"), Ok((-1.5, 0.25)));
        assert_eq!(parse_driftfile("  2\n3\nrest ignored"), Ok((2.0, 3.0)));
    }

    #[test]
    fn corrupt_lines_are_rejected() {
        assert_eq!(
            parse_driftfile(""),
            Err(DriftfileError::Missing("frequency"))
        );
        assert_eq!(
            parse_driftfile("   12.0  "),
            Err(DriftfileError::Missing("skew"))
        );
        assert!(matches!(
            parse_driftfile("abc 1.0"),
            Err(DriftfileError::Invalid {
                what: "frequency",
                ..
            })
        ));
        assert!(matches!(
            parse_driftfile("1.0 nan"),
            Err(DriftfileError::Invalid { what: "skew", .. })
        ));
        assert!(parse_driftfile("inf 1").is_err());
        assert!(parse_driftfile("1.0\u{0}2.0").is_err());
        assert!(parse_driftfile("\u{feff}1 2").is_err());
    }
}
