//! The SOCK driver's datagram: chrony's `struct sock_sample`, as gpsd and
//! other programs send it to the socket chronyd (here kronyd) creates.
//!
//! Layout on 64-bit Linux (40 bytes, native byte order): `struct timeval`
//! (seconds i64 @0, microseconds i64 @8) with the system time of the
//! sample, `double offset` @16 (reference minus system time), `int pulse`
//! @24, `int leap` @28, padding @32, `int magic` @36 = 0x534f434b ("SOCK").

/// The protocol identifier in the last field.
pub const SOCK_MAGIC: u32 = 0x534f_434b;

/// Length of a sample.
pub const SOCK_SAMPLE_LEN: usize = 40;

/// A decoded sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SockSample {
    /// Seconds of the system time.
    pub tv_sec: i64,
    /// Microseconds of the system time (not necessarily normalised).
    pub tv_usec: i64,
    /// Reference time minus system time, seconds.
    pub offset: f64,
    /// Whether it is a pulse (the offset says only where the second began).
    pub pulse: bool,
    /// 0 normal, 1 insert, 2 delete (3 unsynchronised).
    pub leap: i32,
}

/// Why a datagram is not a sample (chronyd's debug messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SockError {
    /// Wrong length.
    #[error("Unexpected length of SOCK sample : {0} != {SOCK_SAMPLE_LEN}")]
    Length(usize),
    /// Wrong magic number.
    #[error("Unexpected magic number in SOCK sample : {0:x} != {SOCK_MAGIC:x}")]
    Magic(u32),
}

fn field<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        out.copy_from_slice(s);
    }
    out
}

impl SockSample {
    /// Decodes a datagram.
    ///
    /// # Errors
    /// [`SockError`] if it is not 40 bytes long or has another magic number.
    pub fn parse(b: &[u8]) -> Result<Self, SockError> {
        if b.len() != SOCK_SAMPLE_LEN {
            return Err(SockError::Length(b.len()));
        }
        let magic = u32::from_ne_bytes(field(b, 36));
        if magic != SOCK_MAGIC {
            return Err(SockError::Magic(magic));
        }
        Ok(SockSample {
            tv_sec: i64::from_ne_bytes(field(b, 0)),
            tv_usec: i64::from_ne_bytes(field(b, 8)),
            offset: f64::from_ne_bytes(field(b, 16)),
            pulse: i32::from_ne_bytes(field(b, 24)) != 0,
            leap: i32::from_ne_bytes(field(b, 28)),
        })
    }

    /// Encodes the sample (tests).
    #[cfg(test)]
    pub fn to_bytes(self) -> [u8; SOCK_SAMPLE_LEN] {
        let mut b = [0u8; SOCK_SAMPLE_LEN];
        b[0..8].copy_from_slice(&self.tv_sec.to_ne_bytes());
        b[8..16].copy_from_slice(&self.tv_usec.to_ne_bytes());
        b[16..24].copy_from_slice(&self.offset.to_ne_bytes());
        b[24..28].copy_from_slice(&i32::from(self.pulse).to_ne_bytes());
        b[28..32].copy_from_slice(&self.leap.to_ne_bytes());
        b[36..40].copy_from_slice(&SOCK_MAGIC.to_ne_bytes());
        b
    }

    /// The system time as nanoseconds since the epoch, normalised.
    pub fn sys_nanos(&self) -> i64 {
        self.tv_sec
            .saturating_mul(1_000_000_000)
            .saturating_add(self.tv_usec.saturating_mul(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let s = SockSample {
            tv_sec: 1_700_000_000,
            tv_usec: 250_000,
            offset: -0.0125,
            pulse: false,
            leap: 1,
        };
        let b = s.to_bytes();
        assert_eq!(&b[36..40], &0x534f_434bu32.to_ne_bytes());
        assert_eq!(SockSample::parse(&b), Ok(s));
        assert_eq!(s.sys_nanos(), 1_700_000_000_250_000_000);
        assert_eq!(SockSample::parse(&b[..39]), Err(SockError::Length(39)));
        let mut bad = b;
        bad[36] ^= 1;
        assert!(matches!(SockSample::parse(&bad), Err(SockError::Magic(_))));
        assert_eq!(
            SockError::Length(12).to_string(),
            "Unexpected length of SOCK sample : 12 != 40"
        );
    }
}
