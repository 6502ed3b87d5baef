//! C `printf`-style number formatting: chronyc's output is defined by
//! printf conversions (`%+5.0f`, `%4u`, ...), so kronyc reproduces them
//! exactly, including glibc's spelling of infinities and NaN.

/// `%[+]W.Pf`: a double right-aligned in `width` columns with `prec`
/// decimals; `plus` adds `+` to non-negative values (C's `+` flag).
///
/// Rounding is that of glibc (exact value, ties to even), which Rust's
/// formatter also implements; negative zero keeps its sign, as in C.
pub fn float(v: f64, width: usize, prec: usize, plus: bool) -> String {
    let s = if v.is_nan() {
        // glibc prints the sign bit of a NaN.
        if v.is_sign_negative() {
            "-nan".to_string()
        } else if plus {
            "+nan".to_string()
        } else {
            "nan".to_string()
        }
    } else if v.is_infinite() {
        match (v < 0.0, plus) {
            (true, _) => "-inf".to_string(),
            (false, true) => "+inf".to_string(),
            (false, false) => "inf".to_string(),
        }
    } else if plus {
        format!("{v:+.prec$}")
    } else {
        format!("{v:.prec$}")
    };
    pad_left(s, width)
}

/// Right-aligns `s` in `width` columns (C's default justification).
pub fn pad_left(s: String, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        s
    } else {
        let mut out = " ".repeat(width - len);
        out.push_str(&s);
        out
    }
}

/// Left-aligns `s` in `width` columns (C's `-` flag).
pub fn pad_right(s: &str, width: usize) -> String {
    let len = s.chars().count();
    let mut out = s.to_string();
    if len < width {
        out.push_str(&" ".repeat(width - len));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_glibc() {
        // Values checked against glibc printf.
        assert_eq!(float(0.5, 0, 0, false), "0");
        assert_eq!(float(1.5, 0, 0, false), "2");
        assert_eq!(float(2.5, 0, 0, false), "2");
        assert_eq!(float(0.125, 0, 2, false), "0.12");
        assert_eq!(float(-0.0, 5, 0, true), "   -0");
        assert_eq!(float(0.0, 5, 0, true), "   +0");
        assert_eq!(float(-0.4, 5, 0, true), "   -0");
        assert_eq!(float(1e20, 5, 0, false), "100000000000000000000");
        assert_eq!(float(123.456, 10, 3, true), "  +123.456");
    }

    #[test]
    fn special_values() {
        assert_eq!(float(f64::INFINITY, 6, 1, true), "  +inf");
        assert_eq!(float(f64::NEG_INFINITY, 0, 1, false), "-inf");
        assert_eq!(float(f64::NAN, 4, 1, false), " nan");
    }

    #[test]
    fn padding() {
        assert_eq!(pad_left("ab".into(), 4), "  ab");
        assert_eq!(pad_left("abcde".into(), 4), "abcde");
        assert_eq!(pad_right("ab", 4), "ab  ");
    }
}
