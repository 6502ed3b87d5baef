//! The NTP packet tests (RFC 5905 §8 tests 1-7 and chrony's tests A-D) as
//! the `NTP tests` line of chronyc ntpdata and the measurements log show them.

use core::fmt;

/// The result of each test, `true` = passed.
///
/// ```
/// use krony_engine::source::PacketTests;
/// let t = PacketTests::all_passed();
/// assert_eq!(t.bits(), 0x3ff);
/// assert_eq!(t.to_string(), "111 111 1111");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PacketTests {
    /// Test 1: not a duplicate (receive or transmit timestamp differs from
    /// the last valid response).
    pub t1_not_duplicate: bool,
    /// Test 2: answers our last packet (origin matches; also the interleaved
    /// variant), and is the first response to it.
    pub t2_not_bogus: bool,
    /// Test 3: origin, receive and transmit timestamps are not zero.
    pub t3_timestamps_set: bool,
    /// Test 5: authentication as configured.
    pub t5_authentic: bool,
    /// Test 6: the server is synchronised (leap not 3, stratum 1 to 15).
    pub t6_synchronised: bool,
    /// Test 7: root delay / 2 + root dispersion below 16 s.
    pub t7_root_distance: bool,
    /// Test A: delay within `maxdelay`, not a presend exchange, sane offset
    /// and server processing time, no interleaved-mode inconsistency.
    pub ta_delay_ok: bool,
    /// Test B: delay within `maxdelayratio` × the minimum delay.
    pub tb_delay_ratio: bool,
    /// Test C: delay increase within `maxdelaydevratio` × the jitter.
    pub tc_delay_dev_ratio: bool,
    /// Test D: no synchronisation loop (the source is not synchronised to us
    /// and is not us).
    pub td_no_sync_loop: bool,
}

impl PacketTests {
    /// Every test passed.
    pub fn all_passed() -> Self {
        PacketTests {
            t1_not_duplicate: true,
            t2_not_bogus: true,
            t3_timestamps_set: true,
            t5_authentic: true,
            t6_synchronised: true,
            t7_root_distance: true,
            ta_delay_ok: true,
            tb_delay_ratio: true,
            tc_delay_dev_ratio: true,
            td_no_sync_loop: true,
        }
    }

    /// The tests in chrony's order, test 1 first.
    pub fn in_order(&self) -> [bool; 10] {
        [
            self.t1_not_duplicate,
            self.t2_not_bogus,
            self.t3_timestamps_set,
            self.t5_authentic,
            self.t6_synchronised,
            self.t7_root_distance,
            self.ta_delay_ok,
            self.tb_delay_ratio,
            self.tc_delay_dev_ratio,
            self.td_no_sync_loop,
        ]
    }

    /// The 10-bit value of the cmdmon NTP data reply: test 1 in bit 9, test D
    /// in bit 0.
    pub fn bits(&self) -> u16 {
        self.in_order()
            .iter()
            .fold(0u16, |acc, &passed| (acc << 1) | u16::from(passed))
    }

    /// From the 10-bit cmdmon value (higher bits ignored).
    pub fn from_bits(bits: u16) -> Self {
        let bit = |n: u32| bits & (1 << n) != 0;
        PacketTests {
            t1_not_duplicate: bit(9),
            t2_not_bogus: bit(8),
            t3_timestamps_set: bit(7),
            t5_authentic: bit(6),
            t6_synchronised: bit(5),
            t7_root_distance: bit(4),
            ta_delay_ok: bit(3),
            tb_delay_ratio: bit(2),
            tc_delay_dev_ratio: bit(1),
            td_no_sync_loop: bit(0),
        }
    }
}

impl fmt::Display for PacketTests {
    /// As chronyc ntpdata prints them: `111 111 1111` (tests 1-3, 5-7, A-D).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |b: bool| if b { '1' } else { '0' };
        let t = self.in_order();
        write!(
            f,
            "{}{}{} {}{}{} {}{}{}{}",
            d(t[0]),
            d(t[1]),
            d(t[2]),
            d(t[3]),
            d(t[4]),
            d(t[5]),
            d(t[6]),
            d(t[7]),
            d(t[8]),
            d(t[9])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_follow_chrony_order_and_round_trip() {
        let t = PacketTests {
            t6_synchronised: true,
            td_no_sync_loop: true,
            ..PacketTests::default()
        };
        assert_eq!(t.bits(), 0b00_0010_0001);
        assert_eq!(PacketTests::from_bits(t.bits()), t);
        assert_eq!(t.to_string(), "000 010 0001");
    }
}
