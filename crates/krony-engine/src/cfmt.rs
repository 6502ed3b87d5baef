//! Numbers as C's `printf` prints them in chrony's log files, where Rust's
//! own formatting differs (the exponent's sign and digits, `nan`).

/// `v` as C's `printf("%W.Pe")` prints it, with `precision` P and `width`
/// W: the exponent has a sign and at least two digits, right-aligned in
/// `width` (0: no padding).
pub fn c_exp(v: f64, precision: usize, width: usize) -> String {
    let s = if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        let s = format!("{v:.precision$e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => s,
        }
    };
    format!("{s:>width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_as_c_prints_them() {
        assert_eq!(c_exp(2.563e-8, 3, 10), " 2.563e-08");
        assert_eq!(c_exp(-1.764e-6, 3, 10), "-1.764e-06");
        assert_eq!(c_exp(2.8e-3, 1, 7), "2.8e-03");
        assert_eq!(c_exp(0.0, 1, 7), "0.0e+00");
        assert_eq!(c_exp(1.5e100, 3, 10), "1.500e+100");
        assert_eq!(c_exp(-1.5e-7, 6, 0), "-1.500000e-07");
        assert_eq!(c_exp(f64::NAN, 3, 10), "       nan");
        assert_eq!(c_exp(f64::INFINITY, 6, 0), "inf");
        assert_eq!(c_exp(f64::NEG_INFINITY, 3, 10), "      -inf");
    }
}
