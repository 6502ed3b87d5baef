//! Bounds-checked big-endian reading and writing at a moving position.
//!
//! Every read and write returns a `Result`, so a parser built on these can
//! never index out of bounds, whatever the input.

use super::float::Float;
use super::types::{CmdAddr, Timespec};
use crate::Error;

/// Reads big-endian fields one after the other.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.saturating_add(n);
        let bytes = self.buf.get(self.pos..end).ok_or(Error::Truncated {
            needed: end,
            have: self.buf.len(),
        })?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i8(&mut self) -> Result<i8, Error> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, Error> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    /// An `Integer64`: high word then low word, i.e. a big-endian u64.
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A `Float`, decoded.
    pub(crate) fn float(&mut self) -> Result<f64, Error> {
        Ok(Float::from_bits(self.u32()?).to_f64())
    }

    pub(crate) fn addr(&mut self) -> Result<CmdAddr, Error> {
        Ok(CmdAddr::from_bytes(&self.array()?))
    }

    pub(crate) fn timespec(&mut self) -> Result<Timespec, Error> {
        Ok(Timespec {
            sec_high: self.u32()?,
            sec_low: self.u32()?,
            nsec: self.u32()?,
        })
    }
}

/// Writes big-endian fields one after the other.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.pos.saturating_add(bytes.len());
        let have = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { needed: end, have })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Writes `n` copies of `byte`.
    pub(crate) fn fill(&mut self, byte: u8, n: usize) -> Result<(), Error> {
        let end = self.pos.saturating_add(n);
        let have = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall { needed: end, have })?;
        dst.fill(byte);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.put(&[v])
    }

    pub(crate) fn i8(&mut self, v: i8) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn i16(&mut self, v: i16) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn i32(&mut self, v: i32) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> Result<(), Error> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn float(&mut self, v: f64) -> Result<(), Error> {
        self.u32(Float::from_f64(v).to_bits())
    }

    pub(crate) fn addr(&mut self, a: &CmdAddr) -> Result<(), Error> {
        self.put(&a.to_bytes())
    }

    pub(crate) fn timespec(&mut self, t: &Timespec) -> Result<(), Error> {
        self.u32(t.sec_high)?;
        self.u32(t.sec_low)?;
        self.u32(t.nsec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation_instead_of_panicking() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u16(), Err(Error::Truncated { needed: 4, have: 3 }));
    }

    #[test]
    fn writer_reports_small_buffer() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.u16(0xABCD), Ok(()));
        assert_eq!(w.u32(1), Err(Error::BufferTooSmall { needed: 6, have: 3 }));
        assert_eq!(buf, [0xAB, 0xCD, 0]);
    }
}
