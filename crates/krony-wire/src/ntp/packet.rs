//! The NTP packet (RFC 5905 §7.3): a checked view over bytes, [`Packet`], and
//! the plain representation, [`NtpRepr`].

use super::extension::{self, ExtensionField, Mac};
use super::{KissCode, NtpShort, NtpTimestamp, RefId};
use crate::Error;

/// Length of the NTP header, before any extension field or MAC
/// (RFC 5905 §7.3, Figure 8).
pub const HEADER_LEN: usize = 48;

/// Byte ranges of the header fields (RFC 5905 §7.3, Figure 8).
mod field {
    use core::ops::Range;

    /// Leap indicator (2 bits), version (3 bits), mode (3 bits).
    pub const LI_VN_MODE: usize = 0;
    pub const STRATUM: usize = 1;
    pub const POLL: usize = 2;
    pub const PRECISION: usize = 3;
    pub const ROOT_DELAY: Range<usize> = 4..8;
    pub const ROOT_DISPERSION: Range<usize> = 8..12;
    pub const REFERENCE_ID: Range<usize> = 12..16;
    pub const REFERENCE_TS: Range<usize> = 16..24;
    pub const ORIGIN_TS: Range<usize> = 24..32;
    pub const RECEIVE_TS: Range<usize> = 32..40;
    pub const TRANSMIT_TS: Range<usize> = 40..48;
}

/// The leap indicator (RFC 5905 §7.3, Figure 9).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LeapIndicator {
    /// No leap second pending.
    NoWarning,
    /// The last minute of the day has 61 seconds.
    Insert,
    /// The last minute of the day has 59 seconds.
    Delete,
    /// The clock is not synchronised ("alarm condition").
    Unsynchronized,
}

impl LeapIndicator {
    /// From the two bits of the wire (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => LeapIndicator::NoWarning,
            1 => LeapIndicator::Insert,
            2 => LeapIndicator::Delete,
            _ => LeapIndicator::Unsynchronized,
        }
    }

    /// The two bits of the wire.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// The association mode (RFC 5905 §7.3, Figure 10). All eight values of
/// the 3-bit field are named, so every packet has a mode.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Mode {
    /// 0, reserved.
    Reserved,
    /// 1, symmetric active (a peer that polls).
    SymmetricActive,
    /// 2, symmetric passive (a peer answering an unconfigured one).
    SymmetricPassive,
    /// 3, client request.
    Client,
    /// 4, server response.
    Server,
    /// 5, broadcast.
    Broadcast,
    /// 6, NTP control message (ntpq; chrony does not answer it).
    Control,
    /// 7, reserved for private use (ntpdc).
    Private,
}

impl Mode {
    /// From the three bits of the wire (higher bits are ignored).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b111 {
            0 => Mode::Reserved,
            1 => Mode::SymmetricActive,
            2 => Mode::SymmetricPassive,
            3 => Mode::Client,
            4 => Mode::Server,
            5 => Mode::Broadcast,
            6 => Mode::Control,
            _ => Mode::Private,
        }
    }

    /// The three bits of the wire.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// The oldest NTP version accepted on receive (as chrony: NTPv1).
pub const MIN_VERSION: u8 = 1;
/// The current NTP version (RFC 5905).
pub const VERSION: u8 = 4;

/// A read/write view of an NTP packet in a buffer.
///
/// After [`new_checked`](Self::new_checked) (or a successful
/// [`check_len`](Self::check_len)) no accessor panics. The view does not
/// interpret what follows the header; [`NtpRepr::parse`] does.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length; accessors may panic on a
    /// buffer shorter than [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer, checking that it holds a whole header.
    ///
    /// # Errors
    /// [`Error::Truncated`] if it is shorter than [`HEADER_LEN`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds a whole header.
    ///
    /// # Errors
    /// [`Error::Truncated`] if it is shorter than [`HEADER_LEN`].
    pub fn check_len(&self) -> Result<(), Error> {
        let have = self.buffer.as_ref().len();
        if have < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                have,
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u32_at(&self, range: core::ops::Range<usize>) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buffer.as_ref()[range]);
        u32::from_be_bytes(b)
    }

    fn u64_at(&self, range: core::ops::Range<usize>) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buffer.as_ref()[range]);
        u64::from_be_bytes(b)
    }

    /// The leap indicator.
    #[inline]
    pub fn leap(&self) -> LeapIndicator {
        LeapIndicator::from_bits(self.buffer.as_ref()[field::LI_VN_MODE] >> 6)
    }

    /// The version number, 0 to 7 (not checked here).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.buffer.as_ref()[field::LI_VN_MODE] >> 3) & 0b111
    }

    /// The mode.
    #[inline]
    pub fn mode(&self) -> Mode {
        Mode::from_bits(self.buffer.as_ref()[field::LI_VN_MODE])
    }

    /// The stratum (0 for a kiss-o'-death or unspecified, 1 primary, 16
    /// unsynchronised).
    #[inline]
    pub fn stratum(&self) -> u8 {
        self.buffer.as_ref()[field::STRATUM]
    }

    /// The poll interval, log2 seconds.
    #[inline]
    pub fn poll(&self) -> i8 {
        i8::from_be_bytes([self.buffer.as_ref()[field::POLL]])
    }

    /// The precision of the system clock, log2 seconds.
    #[inline]
    pub fn precision(&self) -> i8 {
        i8::from_be_bytes([self.buffer.as_ref()[field::PRECISION]])
    }

    /// The total round-trip delay to the reference clock.
    #[inline]
    pub fn root_delay(&self) -> NtpShort {
        NtpShort(self.u32_at(field::ROOT_DELAY))
    }

    /// The total dispersion to the reference clock.
    #[inline]
    pub fn root_dispersion(&self) -> NtpShort {
        NtpShort(self.u32_at(field::ROOT_DISPERSION))
    }

    /// The reference ID.
    #[inline]
    pub fn reference_id(&self) -> RefId {
        RefId(self.u32_at(field::REFERENCE_ID))
    }

    /// When the system clock was last set or corrected.
    #[inline]
    pub fn reference_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp(self.u64_at(field::REFERENCE_TS))
    }

    /// The origin timestamp (T1, the request's transmit time, echoed).
    #[inline]
    pub fn origin_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp(self.u64_at(field::ORIGIN_TS))
    }

    /// The receive timestamp (T2, when the server received the request).
    #[inline]
    pub fn receive_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp(self.u64_at(field::RECEIVE_TS))
    }

    /// The transmit timestamp (T3, when the packet left its sender).
    #[inline]
    pub fn transmit_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp(self.u64_at(field::TRANSMIT_TS))
    }

    /// Everything after the header: extension fields and MAC, unparsed.
    #[inline]
    pub fn trailer(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u32_at(&mut self, range: core::ops::Range<usize>, v: u32) {
        self.buffer.as_mut()[range].copy_from_slice(&v.to_be_bytes());
    }

    fn set_u64_at(&mut self, range: core::ops::Range<usize>, v: u64) {
        self.buffer.as_mut()[range].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets leap indicator, version (low three bits) and mode together.
    #[inline]
    pub fn set_li_vn_mode(&mut self, leap: LeapIndicator, version: u8, mode: Mode) {
        self.buffer.as_mut()[field::LI_VN_MODE] =
            (leap.bits() << 6) | ((version & 0b111) << 3) | mode.bits();
    }

    /// Sets the stratum.
    #[inline]
    pub fn set_stratum(&mut self, v: u8) {
        self.buffer.as_mut()[field::STRATUM] = v;
    }

    /// Sets the poll interval (log2 s).
    #[inline]
    pub fn set_poll(&mut self, v: i8) {
        self.buffer.as_mut()[field::POLL] = v.to_be_bytes()[0];
    }

    /// Sets the precision (log2 s).
    #[inline]
    pub fn set_precision(&mut self, v: i8) {
        self.buffer.as_mut()[field::PRECISION] = v.to_be_bytes()[0];
    }

    /// Sets the root delay.
    #[inline]
    pub fn set_root_delay(&mut self, v: NtpShort) {
        self.set_u32_at(field::ROOT_DELAY, v.0);
    }

    /// Sets the root dispersion.
    #[inline]
    pub fn set_root_dispersion(&mut self, v: NtpShort) {
        self.set_u32_at(field::ROOT_DISPERSION, v.0);
    }

    /// Sets the reference ID.
    #[inline]
    pub fn set_reference_id(&mut self, v: RefId) {
        self.set_u32_at(field::REFERENCE_ID, v.0);
    }

    /// Sets the reference timestamp.
    #[inline]
    pub fn set_reference_timestamp(&mut self, v: NtpTimestamp) {
        self.set_u64_at(field::REFERENCE_TS, v.0);
    }

    /// Sets the origin timestamp.
    #[inline]
    pub fn set_origin_timestamp(&mut self, v: NtpTimestamp) {
        self.set_u64_at(field::ORIGIN_TS, v.0);
    }

    /// Sets the receive timestamp.
    #[inline]
    pub fn set_receive_timestamp(&mut self, v: NtpTimestamp) {
        self.set_u64_at(field::RECEIVE_TS, v.0);
    }

    /// Sets the transmit timestamp.
    #[inline]
    pub fn set_transmit_timestamp(&mut self, v: NtpTimestamp) {
        self.set_u64_at(field::TRANSMIT_TS, v.0);
    }

    /// Everything after the header, writable.
    #[inline]
    pub fn trailer_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// An NTP packet as plain values: the header fields, the extension fields
/// and the MAC.
///
/// ```
/// use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, Packet};
/// let bytes = [0xe3u8; 48]; // leap 3, version 4, mode 3
/// let repr = NtpRepr::parse(&Packet::new_checked(&bytes[..])?)?;
/// assert_eq!(repr.leap, LeapIndicator::Unsynchronized);
/// assert_eq!(repr.mode, Mode::Client);
/// assert_eq!(repr.to_vec()?, bytes);
/// # Ok::<(), krony_wire::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct NtpRepr {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Version, 1 to 4.
    pub version: u8,
    /// Association mode.
    pub mode: Mode,
    /// Stratum.
    pub stratum: u8,
    /// Poll interval, log2 s.
    pub poll: i8,
    /// Precision, log2 s.
    pub precision: i8,
    /// Root delay.
    pub root_delay: NtpShort,
    /// Root dispersion.
    pub root_dispersion: NtpShort,
    /// Reference ID (a kiss code at stratum 0).
    pub reference_id: RefId,
    /// Reference timestamp.
    pub reference_ts: NtpTimestamp,
    /// Origin timestamp (T1).
    pub origin_ts: NtpTimestamp,
    /// Receive timestamp (T2).
    pub receive_ts: NtpTimestamp,
    /// Transmit timestamp (T3).
    pub transmit_ts: NtpTimestamp,
    /// Extension fields in wire order (NTPv4 only).
    pub extensions: Vec<ExtensionField>,
    /// The legacy MAC, if any.
    pub mac: Option<Mac>,
}

impl NtpRepr {
    /// Parses a packet: checks the version (1 to 4, as chrony accepts) and
    /// splits the trailer into extension fields and MAC (see
    /// [`extension`](super::extension) for the rules).
    ///
    /// # Errors
    /// [`Error::Truncated`] for a short buffer, [`Error::UnsupportedVersion`]
    /// for versions 0 and 5 to 7, [`Error::BadLength`] for a trailer that
    /// fits no valid layout.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        packet.check_len()?;
        let version = packet.version();
        if !(MIN_VERSION..=VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion(version));
        }
        let (extensions, mac) = extension::parse_trailer(version, packet.trailer())?;
        Ok(NtpRepr {
            leap: packet.leap(),
            version,
            mode: packet.mode(),
            stratum: packet.stratum(),
            poll: packet.poll(),
            precision: packet.precision(),
            root_delay: packet.root_delay(),
            root_dispersion: packet.root_dispersion(),
            reference_id: packet.reference_id(),
            reference_ts: packet.reference_timestamp(),
            origin_ts: packet.origin_timestamp(),
            receive_ts: packet.receive_timestamp(),
            transmit_ts: packet.transmit_timestamp(),
            extensions,
            mac,
        })
    }

    /// Parses bytes: [`Packet::new_checked`] then [`parse`](Self::parse).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// The length [`emit`](Self::emit) writes: header, extension fields
    /// padded to 4 bytes, and MAC.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self
                .extensions
                .iter()
                .map(ExtensionField::wire_len)
                .sum::<usize>()
            + self.mac.as_ref().map_or(0, Mac::wire_len)
    }

    /// Writes the packet into the first [`buffer_len`](Self::buffer_len)
    /// bytes of `packet`'s buffer.
    ///
    /// # Errors
    /// [`Error::UnsupportedVersion`] for a version outside 1 to 4,
    /// [`Error::BadLength`] or [`Error::InvalidField`] for extension fields
    /// and MACs that would not parse back the same (see
    /// [`extension`](super::extension)), [`Error::BufferTooSmall`] if the
    /// buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        if !(MIN_VERSION..=VERSION).contains(&self.version) {
            return Err(Error::UnsupportedVersion(self.version));
        }
        let trailer_len =
            extension::trailer_len(self.version, &self.extensions, self.mac.as_ref())?;
        let needed = HEADER_LEN + trailer_len;
        let have = packet.buffer.as_ref().len();
        if have < needed {
            return Err(Error::BufferTooSmall { needed, have });
        }
        packet.set_li_vn_mode(self.leap, self.version, self.mode);
        packet.set_stratum(self.stratum);
        packet.set_poll(self.poll);
        packet.set_precision(self.precision);
        packet.set_root_delay(self.root_delay);
        packet.set_root_dispersion(self.root_dispersion);
        packet.set_reference_id(self.reference_id);
        packet.set_reference_timestamp(self.reference_ts);
        packet.set_origin_timestamp(self.origin_ts);
        packet.set_receive_timestamp(self.receive_ts);
        packet.set_transmit_timestamp(self.transmit_ts);
        extension::write_trailer(
            &mut packet.trailer_mut()[..trailer_len],
            &self.extensions,
            self.mac.as_ref(),
        );
        Ok(())
    }

    /// Emits into a new vector of exactly the packet's length.
    ///
    /// # Errors
    /// As [`emit`](Self::emit), except [`Error::BufferTooSmall`].
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        let mut packet = Packet::new_unchecked(vec![0u8; self.buffer_len()]);
        self.emit(&mut packet)?;
        Ok(packet.into_inner())
    }

    /// The kiss code, if this is a kiss-o'-death packet: stratum 0 with a
    /// nonzero reference ID (RFC 5905 §7.4). Client requests also have
    /// stratum 0 but reference ID 0; callers should still check that the
    /// mode is a response.
    pub fn kiss_code(&self) -> Option<KissCode> {
        (self.stratum == 0 && self.reference_id != RefId::UNSYNC)
            .then(|| KissCode::from(self.reference_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_cover_every_bit_pattern() {
        for bits in 0..4u8 {
            assert_eq!(LeapIndicator::from_bits(bits).bits(), bits);
        }
        for bits in 0..8u8 {
            assert_eq!(Mode::from_bits(bits).bits(), bits);
        }
        assert_eq!(Mode::from_bits(3), Mode::Client);
        assert_eq!(Mode::from_bits(4), Mode::Server);
        assert_eq!(LeapIndicator::from_bits(3), LeapIndicator::Unsynchronized);
    }

    #[test]
    fn short_buffers_are_truncated_errors() {
        for len in [0, 1, 47] {
            let buf = vec![0x23u8; len];
            assert_eq!(
                Packet::new_checked(&buf[..]).err(),
                Some(Error::Truncated {
                    needed: 48,
                    have: len
                })
            );
            assert!(NtpRepr::parse_bytes(&buf).is_err());
        }
    }

    #[test]
    fn versions_outside_1_to_4_are_rejected() {
        let mut buf = [0u8; 48];
        for version in 0..8u8 {
            buf[0] = (version << 3) | 3;
            let result = NtpRepr::parse_bytes(&buf);
            if (1..=4).contains(&version) {
                assert_eq!(result.map(|r| r.version), Ok(version));
            } else {
                assert_eq!(result, Err(Error::UnsupportedVersion(version)));
            }
        }
    }

    #[test]
    fn setters_and_getters_agree() {
        let mut p = Packet::new_unchecked([0u8; 52]);
        p.set_li_vn_mode(LeapIndicator::Delete, 3, Mode::SymmetricPassive);
        p.set_stratum(16);
        p.set_poll(-7);
        p.set_precision(-20);
        p.set_root_delay(NtpShort(0x0001_8000));
        p.set_root_dispersion(NtpShort(5));
        p.set_reference_id(RefId::LOCAL);
        p.set_reference_timestamp(NtpTimestamp(1));
        p.set_origin_timestamp(NtpTimestamp(2));
        p.set_receive_timestamp(NtpTimestamp(3));
        p.set_transmit_timestamp(NtpTimestamp(u64::MAX));
        p.trailer_mut().copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(p.leap(), LeapIndicator::Delete);
        assert_eq!(p.version(), 3);
        assert_eq!(p.mode(), Mode::SymmetricPassive);
        assert_eq!(p.stratum(), 16);
        assert_eq!(p.poll(), -7);
        assert_eq!(p.precision(), -20);
        assert_eq!(p.root_delay().to_secs(), 1.5);
        assert_eq!(p.root_dispersion(), NtpShort(5));
        assert_eq!(p.reference_id(), RefId::LOCAL);
        assert_eq!(p.reference_timestamp(), NtpTimestamp(1));
        assert_eq!(p.origin_timestamp(), NtpTimestamp(2));
        assert_eq!(p.receive_timestamp(), NtpTimestamp(3));
        assert_eq!(p.transmit_timestamp(), NtpTimestamp(u64::MAX));
        assert_eq!(p.trailer(), &[1, 2, 3, 4]);
        assert_eq!(p.into_inner()[0], (2 << 6) | (3 << 3) | 2);
    }

    fn client_request() -> NtpRepr {
        NtpRepr {
            leap: LeapIndicator::Unsynchronized,
            version: 4,
            mode: Mode::Client,
            stratum: 0,
            poll: 0,
            precision: 0,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::ZERO,
            reference_id: RefId::UNSYNC,
            reference_ts: NtpTimestamp::ZERO,
            origin_ts: NtpTimestamp::ZERO,
            receive_ts: NtpTimestamp::ZERO,
            transmit_ts: NtpTimestamp(0x0123_4567_89ab_cdef),
            extensions: Vec::new(),
            mac: None,
        }
    }

    #[test]
    fn emit_checks_version_and_buffer() {
        let mut repr = client_request();
        let mut small = Packet::new_unchecked([0u8; 47]);
        assert_eq!(
            repr.emit(&mut small),
            Err(Error::BufferTooSmall {
                needed: 48,
                have: 47
            })
        );
        // A larger buffer is fine; only the first buffer_len bytes are written.
        let mut big = Packet::new_unchecked([0xffu8; 60]);
        repr.emit(&mut big).expect("emit");
        assert_eq!(big.trailer(), &[0xff; 12]);
        repr.version = 5;
        assert_eq!(repr.to_vec(), Err(Error::UnsupportedVersion(5)));
        repr.version = 0;
        assert_eq!(repr.to_vec(), Err(Error::UnsupportedVersion(0)));
    }

    #[test]
    fn kiss_code_needs_stratum_0_and_nonzero_refid() {
        let mut repr = client_request();
        assert_eq!(repr.kiss_code(), None);
        repr.reference_id = RefId::from_ascii(b"RATE");
        assert_eq!(repr.kiss_code(), Some(KissCode::Rate));
        repr.stratum = 1;
        assert_eq!(repr.kiss_code(), None);
    }
}
