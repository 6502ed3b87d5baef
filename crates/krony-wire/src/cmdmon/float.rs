//! chrony's 32-bit floating-point wire format (`Float` in candm.h).
//!
//! The top 7 bits hold a signed exponent `e`, the low 25 bits a two's-complement
//! coefficient `c` without a hidden bit; the value is `c · 2^(e − 25)`. The
//! encoder reproduces chrony's rounding bit for bit, so a value sent by krony
//! decodes in chronyc exactly as if chronyd had sent it.

/// Bits of the exponent field.
const EXP_BITS: u32 = 7;
/// Bits of the coefficient field.
const COEF_BITS: u32 = 32 - EXP_BITS;
const EXP_MIN: i32 = -(1 << (EXP_BITS - 1));
const EXP_MAX: i32 = -EXP_MIN - 1;
const COEF_MIN: i64 = -(1 << (COEF_BITS - 1));
const COEF_MAX: i64 = -COEF_MIN - 1;
const COEF_MASK: u32 = (1 << COEF_BITS) - 1;

/// Magnitudes below this encode as zero (chrony's cut-off; it also keeps the
/// logarithm below well away from subnormals).
const TINY: f64 = 1.0e-100;
/// Magnitudes above this saturate.
const HUGE: f64 = 1.0e100;

/// A value in cmdmon's 32-bit float format, kept as its raw bits.
///
/// ```
/// use krony_wire::cmdmon::Float;
/// assert_eq!(Float::from_f64(1.0).to_bits(), 0x0480_0000);
/// assert_eq!(Float::from_bits(0x0300_0000).to_f64(), -1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Float(u32);

impl Float {
    /// Zero.
    pub const ZERO: Float = Float(0);

    /// From the raw bits as they appear (big-endian) on the wire.
    pub const fn from_bits(bits: u32) -> Float {
        Float(bits)
    }

    /// The raw bits.
    pub const fn to_bits(self) -> u32 {
        self.0
    }

    /// Encodes `x` the way chrony does: 25 significant bits, rounded half up
    /// in magnitude; NaN and magnitudes below 1e-100 become zero; overflow
    /// saturates at the largest magnitude of the right sign; underflow below
    /// 2^-64 shifts the coefficient right (losing bits) or gives zero.
    pub fn from_f64(x: f64) -> Float {
        let (neg, mag) = if x < 0.0 {
            (true, -x)
        } else if x >= 0.0 {
            (false, x)
        } else {
            // NaN travels as zero.
            (false, 0.0)
        };
        let max_coef = COEF_MAX + i64::from(neg);
        let (exp, coef) = if mag < TINY {
            (0, 0)
        } else if mag > HUGE {
            (EXP_MAX, max_coef)
        } else {
            encode_magnitude(mag, max_coef)
        };
        let coef_bits = if neg {
            // Two's complement in 25 bits. OK because coef <= 2^24 here.
            ((-coef) as u32) & COEF_MASK
        } else {
            (coef as u32) & COEF_MASK
        };
        Float(((exp as u32) << COEF_BITS) | coef_bits)
    }

    /// Decodes to an f64. Every Float is exactly representable.
    pub fn to_f64(self) -> f64 {
        // Sign-extend the 7-bit exponent and the 25-bit coefficient.
        let exp = (self.0 as i32) >> COEF_BITS;
        let coef = ((self.0 << EXP_BITS) as i32) >> EXP_BITS;
        f64::from(coef) * 2f64.powi(exp - COEF_BITS as i32)
    }
}

/// Exponent and non-negative coefficient for `1e-100 <= mag <= 1e100`.
fn encode_magnitude(mag: f64, max_coef: i64) -> (i32, i64) {
    // chrony computes log(x)/log(2) and truncates towards zero; doing the
    // same keeps our bits identical to chronyd's (for |x| < 1 this leaves
    // the coefficient one bit short of normalised, as chrony does).
    let mut exp = (mag.ln() / 2f64.ln()) as i32 + 1;
    // OK: mag * 2^(25-exp) < 2^27 for the exponents computed above.
    let mut coef = (mag * 2f64.powi(COEF_BITS as i32 - exp) + 0.5) as i64;
    while coef > max_coef {
        coef >>= 1;
        exp += 1;
    }
    if exp > EXP_MAX {
        (EXP_MAX, max_coef)
    } else if exp < EXP_MIN {
        if exp + COEF_BITS as i32 >= EXP_MIN {
            (EXP_MIN, coef >> (EXP_MIN - exp))
        } else {
            (0, 0)
        }
    } else {
        (exp, coef)
    }
}

impl From<f64> for Float {
    fn from(x: f64) -> Float {
        Float::from_f64(x)
    }
}

impl From<Float> for f64 {
    fn from(f: Float) -> f64 {
        f.to_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of reference §4, computed with chrony's own encoder.
    const VECTORS: [(f64, u32); 6] = [
        (1.0, 0x0480_0000),
        (-1.0, 0x0300_0000),
        (0.5, 0x0280_0000),
        (3.225, 0x06CE_6666),
        (64.2, 0x1080_6666),
        (1e-6, 0xDC86_37BD),
    ];

    #[test]
    fn reference_vectors_encode() {
        for (x, bits) in VECTORS {
            assert_eq!(Float::from_f64(x).to_bits(), bits, "{x}");
        }
    }

    #[test]
    fn reference_vectors_decode_within_precision() {
        for (x, bits) in VECTORS {
            let y = Float::from_bits(bits).to_f64();
            assert!((x - y).abs() <= x.abs() * 2f64.powi(-23), "{x} vs {y}");
        }
    }

    #[test]
    fn nan_and_tiny_are_zero() {
        assert_eq!(Float::from_f64(f64::NAN), Float::ZERO);
        assert_eq!(Float::from_f64(1e-101), Float::ZERO);
        assert_eq!(Float::from_f64(-1e-101), Float::ZERO);
        assert_eq!(Float::ZERO.to_f64(), 0.0);
    }

    #[test]
    fn overflow_saturates_with_sign() {
        let big = Float::from_f64(1e50).to_f64();
        assert_eq!(big, Float::from_f64(f64::INFINITY).to_f64());
        assert!(big > 4.6e18, "{big}");
        let small = Float::from_f64(-1e50).to_f64();
        assert_eq!(small, Float::from_f64(f64::NEG_INFINITY).to_f64());
        assert!(small < -4.6e18, "{small}");
        // Largest magnitude: (2^24 - 1) * 2^(63 - 25) and -2^24 * 2^38.
        assert_eq!(big, (16_777_215.0) * 2f64.powi(38));
        assert_eq!(small, -16_777_216.0 * 2f64.powi(38));
    }

    #[test]
    fn underflow_shifts_then_vanishes() {
        // 2^-80 needs exponent -80 + 1 - 25 < -64: the coefficient shifts.
        let x = 2f64.powi(-80);
        let y = Float::from_f64(x).to_f64();
        assert_eq!(y, x);
        // Far below 2^-89 nothing is left.
        assert_eq!(Float::from_f64(2f64.powi(-95)).to_f64(), 0.0);
    }

    #[test]
    fn decoded_values_re_encode_to_same_value() {
        for bits in [
            0x0480_0000u32,
            0x0300_0000,
            0xDC86_37BD,
            0x7FFF_FFFF,
            0x8000_0001,
            1,
        ] {
            let v = Float::from_bits(bits).to_f64();
            assert_eq!(Float::from_f64(v).to_f64(), v, "{bits:#x}");
        }
    }
}
