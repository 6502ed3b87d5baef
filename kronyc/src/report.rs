//! chronyc's report fields and their two renderings: the human text and
//! the `-c` CSV form.
//!
//! A report line is a [`Rec`]: literal text interleaved with typed
//! [`Field`]s. In text mode the literal text and each field's formatted
//! value are printed in order. In CSV mode the literal text is dropped,
//! the fields are printed without padding and separated by commas, and the
//! record ends with one newline, however many lines its text had (so
//! `tracking -c` is a single line). This is chronyc's output contract
//! (reference §3).

use crate::cfmt::{float, pad_left, pad_right};

/// Seconds per day, for the interval and date conversions.
const DAY: i64 = 86_400;

/// One formatted value of a report.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    /// A string, padded to `width` (left-aligned if `left`).
    Str {
        /// The text.
        s: String,
        /// Minimum width.
        width: usize,
        /// Left-align.
        left: bool,
    },
    /// A single character.
    Char(char),
    /// A signed integer right-aligned in `width` (`%Nd`).
    Int(i64, usize),
    /// An unsigned integer right-aligned in `width` (`%Nu`, `%NU`, `%Q`).
    Uint(u64, usize),
    /// An unsigned integer in octal (`%No`).
    Octal(u32, usize),
    /// A real number `%[+]W.Pf`.
    Float {
        /// The value.
        v: f64,
        /// Minimum width.
        width: usize,
        /// Decimals.
        prec: usize,
        /// Always print the sign.
        plus: bool,
    },
    /// A duration in whole seconds with a unit (`%I`): `   -` for unknown
    /// (`u32::MAX`), else seconds, minutes, hours, days or years.
    Interval(u32),
    /// An offset in seconds with a unit ns/us/ms/s/m/h/d/y (`%S`, `%+S`).
    Nanos(f64, bool),
    /// A frequency in ppm, `%10.3f` or `%10.0f` when large (`%P`, `%+P`).
    Ppm(f64, bool),
    /// A client log interval (log2 seconds), ` -` when unknown (`%C`).
    ClientInterval(i32),
    /// A reference ID as 8 hexadecimal digits (`%R`).
    RefId(u32),
    /// A time in UTC, `Thu Jan 01 00:00:00 1970`; CSV: `secs.nanos` (`%T`).
    Date(i64, u32),
    /// |offset| with `seconds slow` (positive) or `seconds fast` (`%.PO`).
    AbsOffset(f64, usize),
    /// |frequency| with `ppm fast` (positive) or `ppm slow` (`%.PF`).
    AbsFreq(f64, usize),
    /// A leap status, long (`Normal`) or in one column (`N`) (`%L`, `%1L`).
    Leap(u32, bool),
    /// An NTP mode name (`%M`).
    NtpMode(u8),
    /// A timestamping source name from its letter (`%N`).
    Tss(u8),
    /// The low `n` bits of a value in binary (`%.Nb`).
    Bits(u32, u32),
    /// `Yes` or `No` (`%B`).
    Bool(bool),
}

impl Field {
    /// A string right-aligned in `width`.
    pub fn str(s: impl Into<String>) -> Field {
        Field::Str {
            s: s.into(),
            width: 0,
            left: false,
        }
    }

    /// A string left-aligned in `width` (`%-Ns`).
    pub fn left(s: impl Into<String>, width: usize) -> Field {
        Field::Str {
            s: s.into(),
            width,
            left: true,
        }
    }

    /// `%W.Pf`.
    pub fn f(v: f64, width: usize, prec: usize) -> Field {
        Field::Float {
            v,
            width,
            prec,
            plus: false,
        }
    }

    /// `%+W.Pf`.
    pub fn fp(v: f64, width: usize, prec: usize) -> Field {
        Field::Float {
            v,
            width,
            prec,
            plus: true,
        }
    }

    /// The field as chronyc prints it in text mode.
    pub fn text(&self) -> String {
        match self {
            Field::Str { s, width, left } => {
                if *left {
                    pad_right(s, *width)
                } else {
                    pad_left(s.clone(), *width)
                }
            }
            Field::Char(c) => c.to_string(),
            Field::Int(v, w) => pad_left(v.to_string(), *w),
            Field::Uint(v, w) => pad_left(v.to_string(), *w),
            Field::Octal(v, w) => pad_left(format!("{v:o}"), *w),
            Field::Float {
                v,
                width,
                prec,
                plus,
            } => float(*v, *width, *prec, *plus),
            Field::Interval(s) => interval(*s),
            Field::Nanos(v, signed) => nanos(*v, *signed),
            Field::Ppm(v, signed) => ppm(*v, *signed),
            Field::ClientInterval(r) => {
                if *r >= 127 {
                    " -".to_string()
                } else {
                    format!("{r:2}")
                }
            }
            Field::RefId(id) => format!("{id:08X}"),
            Field::Date(secs, _) => utc_date(*secs).unwrap_or_default(),
            Field::AbsOffset(v, prec) => {
                let dir = if *v > 0.0 { "slow" } else { "fast" };
                format!("{} seconds {dir}", float(v.abs(), 0, *prec, false))
            }
            Field::AbsFreq(v, prec) => {
                let dir = if *v > 0.0 { "fast" } else { "slow" };
                format!("{} ppm {dir}", float(v.abs(), 0, *prec, false))
            }
            Field::Leap(v, short) => leap(*v, *short).to_string(),
            Field::NtpMode(m) => match m {
                1 => "Symmetric active",
                2 => "Symmetric passive",
                4 => "Server",
                _ => "Invalid",
            }
            .to_string(),
            Field::Tss(c) => match c {
                b'D' => "Daemon",
                b'K' => "Kernel",
                b'H' => "Hardware",
                _ => "Invalid",
            }
            .to_string(),
            Field::Bits(v, n) => (0..*n)
                .rev()
                .map(|i| {
                    if i < 32 && v & (1 << i) != 0 {
                        '1'
                    } else {
                        '0'
                    }
                })
                .collect(),
            Field::Bool(b) => if *b { "Yes" } else { "No" }.to_string(),
        }
    }

    /// The field as chronyc prints it in CSV mode: no padding, no `+`,
    /// raw numbers instead of units.
    pub fn csv(&self) -> String {
        match self {
            Field::Str { s, .. } => s.clone(),
            Field::Int(v, _) => v.to_string(),
            Field::Uint(v, _) => v.to_string(),
            Field::Octal(v, _) => format!("{v:o}"),
            Field::Float { v, prec, .. } => float(*v, 0, *prec, false),
            Field::Interval(s) => s.to_string(),
            Field::Nanos(v, _) | Field::AbsOffset(v, _) => float(*v, 0, 9, false),
            Field::Ppm(v, _) | Field::AbsFreq(v, _) => float(*v, 0, 3, false),
            Field::ClientInterval(r) => r.to_string(),
            Field::Date(secs, nsec) => format!("{secs}.{nsec:09}"),
            Field::Leap(v, _) => leap(*v, false).to_string(),
            other => other.text(),
        }
    }
}

/// One `print_report` call: literal text and fields in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rec {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(&'static str),
    Field(Field),
}

impl Rec {
    /// An empty record.
    pub fn new() -> Rec {
        Rec::default()
    }

    /// Appends literal text (dropped in CSV mode).
    pub fn t(mut self, text: &'static str) -> Rec {
        self.parts.push(Part::Text(text));
        self
    }

    /// Appends a field.
    pub fn f(mut self, field: Field) -> Rec {
        self.parts.push(Part::Field(field));
        self
    }

    /// The record as text (`csv == false`) or as one CSV line.
    pub fn render(&self, csv: bool) -> String {
        let mut out = String::new();
        let mut first = true;
        for part in &self.parts {
            match (part, csv) {
                (Part::Text(t), false) => out.push_str(t),
                (Part::Text(_), true) => {}
                (Part::Field(f), false) => out.push_str(&f.text()),
                (Part::Field(f), true) => {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&f.csv());
                }
            }
        }
        if csv {
            out.push('\n');
        }
        out
    }
}

/// A header line underlined with `=` to its length; nothing in CSV mode.
pub fn header(title: &str, csv: bool) -> String {
    if csv {
        String::new()
    } else {
        format!("{title}\n{}\n", "=".repeat(title.len()))
    }
}

/// `%I`: whole seconds with a unit.
pub fn interval(s: u32) -> String {
    let s64 = i64::from(s);
    if s == u32::MAX {
        "   -".to_string()
    } else if s < 1200 {
        format!("{s:4}")
    } else if s < 36_000 {
        format!("{:3}m", s / 60)
    } else if s < 345_600 {
        format!("{:3}h", s / 3600)
    } else {
        let d = s64 / DAY;
        if d > 999 {
            format!("{:3}y", d / 365)
        } else {
            format!("{d:3}d")
        }
    }
}

/// How `%S` scales a value: (value in the unit, unit, decimals, whether
/// the unit is seconds or longer, which takes one more column).
fn nanos_scaled(v: f64) -> (f64, &'static str, usize, bool) {
    const MIN: f64 = 60.0;
    const HOUR: f64 = 3600.0;
    const DAY_S: f64 = 86_400.0;
    // Each bound is where the rounded value would need one more digit. The
    // sub-second units multiply (v * 1e9) as chronyc does, so that the
    // rounding is the same.
    let x = v.abs();
    if x < 9999.5e-9 {
        (v * 1e9, "ns", 0, false)
    } else if x < 9999.5e-6 {
        (v * 1e6, "us", 0, false)
    } else if x < 9999.5e-3 {
        (v * 1e3, "ms", 0, false)
    } else if x < 999.5 {
        (v, "s", 1, true)
    } else if x < 99_999.5 {
        (v, "s", 0, true)
    } else if x < 99_999.5 * MIN {
        (v / MIN, "m", 0, true)
    } else if x < 99_999.5 * HOUR {
        (v / HOUR, "h", 0, true)
    } else if x < 99_999.5 * DAY_S {
        (v / DAY_S, "d", 0, true)
    } else {
        (v / (DAY_S * 365.0), "y", 0, true)
    }
}

/// `%S` (absolute value, 4 or 5 columns plus unit) or `%+S` (signed, one
/// column wider).
pub fn nanos(v: f64, signed: bool) -> String {
    let v = if signed { v } else { v.abs() };
    let (scaled, unit, prec, long_unit) = nanos_scaled(v);
    let width = usize::from(long_unit) + if signed { 5 } else { 4 };
    format!("{}{unit}", float(scaled, width, prec, signed))
}

/// `%P`/`%+P`: ppm in 10 columns, 3 decimals unless very large.
pub fn ppm(v: f64, signed: bool) -> String {
    let prec = if v.abs() < 99_999.5 { 3 } else { 0 };
    float(v, 10, prec, signed)
}

/// `%L`: a leap status.
pub fn leap(v: u32, short: bool) -> &'static str {
    match (v, short) {
        (0, false) => "Normal",
        (0, true) => "N",
        (1, false) => "Insert second",
        (1, true) => "+",
        (2, false) => "Delete second",
        (2, true) => "-",
        (3, false) => "Not synchronised",
        (_, true) => "?",
        (_, false) => "Invalid",
    }
}

/// A civil date from days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil inverse, in 400-year eras.
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Broken-down UTC time: (year, month 1-12, day, hour, min, sec, weekday
/// 0 = Sunday), or `None` where C's `gmtime` fails (year beyond `int`).
pub fn gmtime(secs: i64) -> Option<(i64, u32, u32, u32, u32, u32, usize)> {
    let days = secs.div_euclid(DAY);
    let rem = secs.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    if y - 1900 > i64::from(i32::MAX) || y - 1900 < i64::from(i32::MIN) {
        return None;
    }
    // 1970-01-01 was a Thursday.
    let wday = (days + 4).rem_euclid(7) as usize;
    let (h, mi, s) = (
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
    );
    Some((y, m, d, h, mi, s, wday))
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `%a %b %d %T %Y` in UTC, e.g. `Thu Jan 01 00:00:00 1970`.
pub fn utc_date(secs: i64) -> Option<String> {
    let (y, m, d, h, mi, s, wd) = gmtime(secs)?;
    let month = MONTHS.get(m as usize - 1).copied().unwrap_or("???");
    Some(format!(
        "{} {month} {d:02} {h:02}:{mi:02}:{s:02} {y}",
        WEEKDAYS[wd]
    ))
}

/// `%Y-%m-%d %H:%M:%S` in UTC (chrony's log form, used by `manual list`).
pub fn log_form(secs: i64) -> String {
    match gmtime(secs) {
        Some((y, m, d, h, mi, s, _)) => format!("{y}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
        None => "INVALID    INVALID ".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(interval(u32::MAX), "   -");
        assert_eq!(interval(0), "   0");
        assert_eq!(interval(1199), "1199");
        assert_eq!(interval(1200), " 20m");
        assert_eq!(interval(35_999), "599m");
        assert_eq!(interval(36_000), " 10h");
        assert_eq!(interval(345_599), " 95h");
        assert_eq!(interval(345_600), "  4d");
        assert_eq!(interval(999 * 86_400 + 86_399), "999d");
        assert_eq!(interval(1000 * 86_400), "  2y");
        assert_eq!(interval(u32::MAX - 1), "136y");
    }

    #[test]
    fn nanos_units() {
        assert_eq!(nanos(0.0, false), "   0ns");
        assert_eq!(nanos(-0.0, true), "   -0ns");
        assert_eq!(nanos(9999.4e-9, false), "9999ns");
        assert_eq!(nanos(9999.5e-9, false), "  10us");
        assert_eq!(nanos(-479e-9, true), " -479ns");
        assert_eq!(nanos(0.004, false), "4000us");
        assert_eq!(nanos(1.5, true), "+1500ms");
        assert_eq!(nanos(15.0, true), " +15.0s");
        assert_eq!(nanos(998.0, false), "998.0s");
        assert_eq!(nanos(1000.0, false), " 1000s");
        assert_eq!(nanos(1e5, false), " 1667m");
        assert_eq!(nanos(-1e9, true), "-11574d");
        assert_eq!(nanos(1e13, false), "317098y");
    }

    #[test]
    fn csv_conversions() {
        let r = Rec::new()
            .t("A: ")
            .f(Field::Nanos(-1.5e-6, true))
            .t(" B ")
            .f(Field::Interval(u32::MAX))
            .f(Field::ClientInterval(127))
            .f(Field::Leap(3, true))
            .f(Field::AbsOffset(-2.0, 9))
            .f(Field::Date(5, 7))
            .t("\n");
        assert_eq!(
            r.render(true),
            "-0.000001500,4294967295,127,Not synchronised,-2.000000000,5.000000007\n"
        );
        assert_eq!(
            r.render(false),
            "A: -1500ns B    - -?2.000000000 seconds fastThu Jan 01 00:00:05 1970\n"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0).as_deref(), Some("Thu Jan 01 00:00:00 1970"));
        assert_eq!(
            utc_date(1_700_000_000).as_deref(),
            Some("Tue Nov 14 22:13:20 2023")
        );
        assert_eq!(utc_date(-1).as_deref(), Some("Wed Dec 31 23:59:59 1969"));
        assert_eq!(utc_date(i64::MAX), None);
        assert_eq!(log_form(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn bits_and_header() {
        assert_eq!(Field::Bits(0b101, 3).text(), "101");
        assert_eq!(Field::Bits(0x3ff >> 7, 3).text(), "111");
        assert_eq!(header("ab c", false), "ab c\n====\n");
        assert_eq!(header("ab c", true), "");
    }
}
