//! The reply bodies whose layout depends on the client's chrony version:
//! SERVER_STATS (2, 3, 4) and NTP_DATA (1, 2). A server fills one struct and
//! emits the layout the request asked for.

use super::cursor::{Reader, Writer};
use super::request_body::{NtpDataVersion, ServerStatsVersion};
use super::types::{CmdAddr, Timespec};
use crate::Error;

/// SERVER_STATS counters. The reply layout depends on the client's
/// version ([`ServerStatsVersion`]): V2 carries the first 8 counters, V3
/// the first 11, both as u32 (emitting keeps the low 32 bits, as a
/// wrapping counter of those chrony versions would); V4 all 17 as u64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ServerStats {
    /// NTP packets received (from allowed addresses).
    pub ntp_hits: u64,
    /// NTS-KE connections accepted.
    pub nke_hits: u64,
    /// Command packets received.
    pub cmd_hits: u64,
    /// NTP packets dropped by rate limiting.
    pub ntp_drops: u64,
    /// NTS-KE connections dropped.
    pub nke_drops: u64,
    /// Command packets dropped.
    pub cmd_drops: u64,
    /// Client log records dropped (replaced for lack of memory).
    pub log_drops: u64,
    /// Authenticated NTP packets (V2 on).
    pub ntp_auth_hits: u64,
    /// Interleaved NTP packets (V3 on).
    pub ntp_interleaved_hits: u64,
    /// NTP timestamps held (V3 on).
    pub ntp_timestamps: u64,
    /// NTP timestamp span, seconds (V3 on).
    pub ntp_span_seconds: u64,
    /// NTP daemon RX timestamps (V4).
    pub ntp_daemon_rx_timestamps: u64,
    /// NTP daemon TX timestamps (V4).
    pub ntp_daemon_tx_timestamps: u64,
    /// NTP kernel RX timestamps (V4).
    pub ntp_kernel_rx_timestamps: u64,
    /// NTP kernel TX timestamps (V4).
    pub ntp_kernel_tx_timestamps: u64,
    /// NTP hardware RX timestamps (V4).
    pub ntp_hw_rx_timestamps: u64,
    /// NTP hardware TX timestamps (V4).
    pub ntp_hw_tx_timestamps: u64,
}

/// Number of counters in each layout.
fn server_stats_count(v: ServerStatsVersion) -> usize {
    match v {
        ServerStatsVersion::V2 => 8,
        ServerStatsVersion::V3 => 11,
        ServerStatsVersion::V4 => 17,
    }
}

impl ServerStats {
    /// The counters in wire order, each to be read or set.
    fn counters_mut(&mut self) -> [&mut u64; 17] {
        [
            &mut self.ntp_hits,
            &mut self.nke_hits,
            &mut self.cmd_hits,
            &mut self.ntp_drops,
            &mut self.nke_drops,
            &mut self.cmd_drops,
            &mut self.log_drops,
            &mut self.ntp_auth_hits,
            &mut self.ntp_interleaved_hits,
            &mut self.ntp_timestamps,
            &mut self.ntp_span_seconds,
            &mut self.ntp_daemon_rx_timestamps,
            &mut self.ntp_daemon_tx_timestamps,
            &mut self.ntp_kernel_rx_timestamps,
            &mut self.ntp_kernel_tx_timestamps,
            &mut self.ntp_hw_rx_timestamps,
            &mut self.ntp_hw_tx_timestamps,
        ]
    }

    /// The counters in wire order.
    pub fn to_array(&self) -> [u64; 17] {
        let mut copy = *self;
        copy.counters_mut().map(|c| *c)
    }

    /// From the counters in wire order.
    pub fn from_array(a: [u64; 17]) -> Self {
        let mut s = ServerStats::default();
        for (slot, v) in s.counters_mut().into_iter().zip(a) {
            *slot = v;
        }
        s
    }

    pub(crate) fn read(r: &mut Reader<'_>, v: ServerStatsVersion) -> Result<Self, Error> {
        let mut a = [0u64; 17];
        for slot in a.iter_mut().take(server_stats_count(v)) {
            *slot = match v {
                ServerStatsVersion::V4 => r.u64()?,
                _ => u64::from(r.u32()?),
            };
        }
        Ok(ServerStats::from_array(a))
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, v: ServerStatsVersion) -> Result<(), Error> {
        for &x in self.to_array().iter().take(server_stats_count(v)) {
            match v {
                // Keeping the low bits is intended: see the type's doc.
                ServerStatsVersion::V2 | ServerStatsVersion::V3 => w.u32(x as u32)?,
                ServerStatsVersion::V4 => w.u64(x)?,
            }
        }
        if v == ServerStatsVersion::V4 {
            // chronyd fills the 4 reserved Integer64 with 0xff.
            w.fill(0xff, 4 * 8)?;
        }
        Ok(())
    }
}

/// NTP_DATA / NTP_DATA2: `chronyc ntpdata` for one source.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct NtpData {
    /// Remote address.
    pub remote_addr: CmdAddr,
    /// Local address.
    pub local_addr: CmdAddr,
    /// Remote port.
    pub remote_port: u16,
    /// Leap indicator of the last packet.
    pub leap: u8,
    /// NTP version.
    pub version: u8,
    /// NTP mode.
    pub mode: u8,
    /// Stratum.
    pub stratum: u8,
    /// Poll exponent.
    pub poll: i8,
    /// Precision exponent.
    pub precision: i8,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion, seconds.
    pub root_dispersion: f64,
    /// Reference ID.
    pub ref_id: u32,
    /// Reference time.
    pub ref_time: Timespec,
    /// Offset, seconds.
    pub offset: f64,
    /// Peer delay, seconds.
    pub peer_delay: f64,
    /// Peer dispersion, seconds.
    pub peer_dispersion: f64,
    /// Response time, seconds.
    pub response_time: f64,
    /// Jitter asymmetry.
    pub jitter_asymmetry: f64,
    /// Test bits (0x3ff), interleaved (0x4000), authenticated (0x8000).
    pub flags: u16,
    /// TX timestamping: `D`aemon, `K`ernel or `H`ardware.
    pub tx_tss_char: u8,
    /// RX timestamping, same letters.
    pub rx_tss_char: u8,
    /// Packets sent.
    pub total_tx_count: u32,
    /// Packets received.
    pub total_rx_count: u32,
    /// Valid packets received.
    pub total_valid_count: u32,
    /// Good packets received.
    pub total_good_count: u32,
    /// Kernel TX timestamps (NTP_DATA2 only).
    pub total_kernel_tx_ts: u32,
    /// Kernel RX timestamps (NTP_DATA2 only).
    pub total_kernel_rx_ts: u32,
    /// Hardware TX timestamps (NTP_DATA2 only).
    pub total_hw_tx_ts: u32,
    /// Hardware RX timestamps (NTP_DATA2 only).
    pub total_hw_rx_ts: u32,
}

impl NtpData {
    /// Flag bits: the NTP tests.
    pub const FLAGS_TESTS: u16 = 0x3ff;
    /// Flag: interleaved mode.
    pub const FLAG_INTERLEAVED: u16 = 0x4000;
    /// Flag: authenticated.
    pub const FLAG_AUTHENTICATED: u16 = 0x8000;

    pub(crate) fn read(r: &mut Reader<'_>, v: NtpDataVersion) -> Result<Self, Error> {
        let mut d = NtpData {
            remote_addr: r.addr()?,
            local_addr: r.addr()?,
            remote_port: r.u16()?,
            leap: r.u8()?,
            version: r.u8()?,
            mode: r.u8()?,
            stratum: r.u8()?,
            poll: r.i8()?,
            precision: r.i8()?,
            root_delay: r.float()?,
            root_dispersion: r.float()?,
            ref_id: r.u32()?,
            ref_time: r.timespec()?,
            offset: r.float()?,
            peer_delay: r.float()?,
            peer_dispersion: r.float()?,
            response_time: r.float()?,
            jitter_asymmetry: r.float()?,
            flags: r.u16()?,
            tx_tss_char: r.u8()?,
            rx_tss_char: r.u8()?,
            total_tx_count: r.u32()?,
            total_rx_count: r.u32()?,
            total_valid_count: r.u32()?,
            total_good_count: r.u32()?,
            ..NtpData::default()
        };
        if v == NtpDataVersion::V2 {
            d.total_kernel_tx_ts = r.u32()?;
            d.total_kernel_rx_ts = r.u32()?;
            d.total_hw_tx_ts = r.u32()?;
            d.total_hw_rx_ts = r.u32()?;
        }
        Ok(d)
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>, v: NtpDataVersion) -> Result<(), Error> {
        w.addr(&self.remote_addr)?;
        w.addr(&self.local_addr)?;
        w.u16(self.remote_port)?;
        for b in [self.leap, self.version, self.mode, self.stratum] {
            w.u8(b)?;
        }
        w.i8(self.poll)?;
        w.i8(self.precision)?;
        w.float(self.root_delay)?;
        w.float(self.root_dispersion)?;
        w.u32(self.ref_id)?;
        w.timespec(&self.ref_time)?;
        for x in [
            self.offset,
            self.peer_delay,
            self.peer_dispersion,
            self.response_time,
            self.jitter_asymmetry,
        ] {
            w.float(x)?;
        }
        w.u16(self.flags)?;
        w.u8(self.tx_tss_char)?;
        w.u8(self.rx_tss_char)?;
        for x in [
            self.total_tx_count,
            self.total_rx_count,
            self.total_valid_count,
            self.total_good_count,
        ] {
            w.u32(x)?;
        }
        let reserved = match v {
            NtpDataVersion::V1 => 3,
            NtpDataVersion::V2 => {
                for x in [
                    self.total_kernel_tx_ts,
                    self.total_kernel_rx_ts,
                    self.total_hw_tx_ts,
                    self.total_hw_rx_ts,
                ] {
                    w.u32(x)?;
                }
                4
            }
        };
        // chronyd fills the reserved words with 0xff.
        w.fill(0xff, reserved * 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_stats_array_order() {
        let a: [u64; 17] = std::array::from_fn(|i| i as u64 + 1);
        let s = ServerStats::from_array(a);
        assert_eq!((s.ntp_hits, s.nke_hits, s.cmd_hits), (1, 2, 3));
        assert_eq!((s.log_drops, s.ntp_span_seconds), (7, 11));
        assert_eq!(s.ntp_hw_tx_timestamps, 17);
        assert_eq!(s.to_array(), a);
    }
}
