//! `ntpdata [address]`: the last valid measurement of NTP sources.
//!
//! chronyd ≤ 4.5 answers with the NTP_DATA layout and chronyc of those
//! versions prints 27 lines; chronyd ≥ 4.6 answers with NTP_DATA2 and
//! chronyc prints 4 more counters. kronyc asks for the newer layout and
//! prints whatever the daemon sent, as the matching chronyc would.

use std::io::Write;

use krony_wire::cmdmon::{CmdAddr, NtpData, NtpDataVersion, ReplyBody, ReplyCode, Request};
use serde::Serialize;

use super::{Rows, json_addr, json_leap, json_refid, n_sources, show, source_data, timespec_parts};
use crate::client::{Client, Failure};
use crate::names;
use crate::report::{Field, Rec};

/// `2^l` as chrony computes it (`UTI_Log2ToDouble`, clamped to ±31).
pub fn log2_to_f64(l: i32) -> f64 {
    let l = l.clamp(-31, 31);
    if l >= 0 {
        f64::from(1u32 << l)
    } else {
        1.0 / f64::from(1u32 << -l)
    }
}

/// The `ntpdata` report of one source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NtpDataReport {
    /// The reply as received.
    #[serde(skip)]
    pub raw: NtpData,
    /// Which layout the daemon sent.
    #[serde(skip)]
    pub version: NtpDataVersion,
    /// Remote address.
    pub remote_address: Option<String>,
    /// Remote port.
    pub remote_port: u16,
    /// Local address.
    pub local_address: Option<String>,
    /// Leap indicator of the last packet.
    pub leap: &'static str,
    /// NTP version.
    pub version_number: u8,
    /// NTP mode number (1 symmetric active, 2 symmetric passive, 4 server).
    pub mode: u8,
    /// Stratum.
    pub stratum: u8,
    /// Poll interval, log2 seconds.
    pub poll_log2: i8,
    /// Precision, log2 seconds.
    pub precision_log2: i8,
    /// Root delay.
    pub root_delay_s: f64,
    /// Root dispersion.
    pub root_dispersion_s: f64,
    /// Reference ID, 8 hexadecimal digits.
    pub ref_id: String,
    /// Reference time, Unix seconds.
    pub ref_time_unix_s: f64,
    /// Offset.
    pub offset_s: f64,
    /// Peer delay.
    pub peer_delay_s: f64,
    /// Peer dispersion.
    pub peer_dispersion_s: f64,
    /// Response time of the server.
    pub response_time_s: f64,
    /// Jitter asymmetry.
    pub jitter_asymmetry: f64,
    /// The ten NTP tests, bit 9 first: `"1111111111"` when all passed.
    pub tests: String,
    /// Interleaved mode.
    pub interleaved: bool,
    /// Authenticated.
    pub authenticated: bool,
    /// `D`aemon, `K`ernel or `H`ardware.
    pub tx_timestamping: String,
    /// Same letters.
    pub rx_timestamping: String,
    /// Packets sent.
    pub total_tx: u32,
    /// Packets received.
    pub total_rx: u32,
    /// Valid packets received.
    pub total_valid_rx: u32,
    /// Good packets received.
    pub total_good_rx: u32,
    /// Kernel TX timestamps (NTP_DATA2 only).
    pub total_kernel_tx: Option<u32>,
    /// Kernel RX timestamps (NTP_DATA2 only).
    pub total_kernel_rx: Option<u32>,
    /// Hardware TX timestamps (NTP_DATA2 only).
    pub total_hw_tx: Option<u32>,
    /// Hardware RX timestamps (NTP_DATA2 only).
    pub total_hw_rx: Option<u32>,
}

impl NtpDataReport {
    /// The report from a reply.
    pub fn new(raw: NtpData, version: NtpDataVersion) -> NtpDataReport {
        let v2 = version == NtpDataVersion::V2;
        let only_v2 = |x: u32| v2.then_some(x);
        NtpDataReport {
            remote_address: json_addr(&raw.remote_addr),
            remote_port: raw.remote_port,
            local_address: json_addr(&raw.local_addr),
            leap: json_leap(u32::from(raw.leap)),
            version_number: raw.version,
            mode: raw.mode,
            stratum: raw.stratum,
            poll_log2: raw.poll,
            precision_log2: raw.precision,
            root_delay_s: raw.root_delay,
            root_dispersion_s: raw.root_dispersion,
            ref_id: json_refid(raw.ref_id),
            ref_time_unix_s: super::timespec_unix_s(&raw.ref_time),
            offset_s: raw.offset,
            peer_delay_s: raw.peer_delay,
            peer_dispersion_s: raw.peer_dispersion,
            response_time_s: raw.response_time,
            jitter_asymmetry: raw.jitter_asymmetry,
            tests: format!("{:010b}", raw.flags & NtpData::FLAGS_TESTS),
            interleaved: raw.flags & NtpData::FLAG_INTERLEAVED != 0,
            authenticated: raw.flags & NtpData::FLAG_AUTHENTICATED != 0,
            tx_timestamping: char::from(raw.tx_tss_char).to_string(),
            rx_timestamping: char::from(raw.rx_tss_char).to_string(),
            total_tx: raw.total_tx_count,
            total_rx: raw.total_rx_count,
            total_valid_rx: raw.total_valid_count,
            total_good_rx: raw.total_good_count,
            total_kernel_tx: only_v2(raw.total_kernel_tx_ts),
            total_kernel_rx: only_v2(raw.total_kernel_rx_ts),
            total_hw_tx: only_v2(raw.total_hw_tx_ts),
            total_hw_rx: only_v2(raw.total_hw_rx_ts),
            raw,
            version,
        }
    }

    /// The report as chronyc prints it.
    pub fn rec(&self) -> Rec {
        let r = &self.raw;
        let (secs, nsec) = timespec_parts(&r.ref_time);
        let flags = u32::from(r.flags);
        let ref_text = if r.stratum <= 1 {
            names::refid_string(r.ref_id)
        } else {
            String::new()
        };
        let int = |v: i32| Field::Int(i64::from(v), 0);
        let uint = |v: u32| Field::Uint(u64::from(v), 0);
        let rec = Rec::new()
            .t("Remote address  : ")
            .f(Field::str(names::addr_string(&r.remote_addr)))
            .t(" (")
            .f(Field::RefId(names::addr_refid(&r.remote_addr)))
            .t(")\nRemote port     : ")
            .f(uint(u32::from(r.remote_port)))
            .t("\nLocal address   : ")
            .f(Field::str(names::addr_string(&r.local_addr)))
            .t(" (")
            .f(Field::RefId(names::addr_refid(&r.local_addr)))
            .t(")\nLeap status     : ")
            .f(Field::Leap(u32::from(r.leap), false))
            .t("\nVersion         : ")
            .f(uint(u32::from(r.version)))
            .t("\nMode            : ")
            .f(Field::NtpMode(r.mode))
            .t("\nStratum         : ")
            .f(uint(u32::from(r.stratum)))
            .t("\nPoll interval   : ")
            .f(int(i32::from(r.poll)))
            .t(" (")
            .f(Field::f(log2_to_f64(i32::from(r.poll)), 0, 0))
            .t(" seconds)\nPrecision       : ")
            .f(int(i32::from(r.precision)))
            .t(" (")
            .f(Field::f(log2_to_f64(i32::from(r.precision)), 0, 9))
            .t(" seconds)\nRoot delay      : ")
            .f(Field::f(r.root_delay, 0, 6))
            .t(" seconds\nRoot dispersion : ")
            .f(Field::f(r.root_dispersion, 0, 6))
            .t(" seconds\nReference ID    : ")
            .f(Field::RefId(r.ref_id))
            .t(" (")
            .f(Field::str(ref_text))
            .t(")\nReference time  : ")
            .f(Field::Date(secs, nsec))
            .t("\nOffset          : ")
            .f(Field::fp(r.offset, 0, 9))
            .t(" seconds\nPeer delay      : ")
            .f(Field::f(r.peer_delay, 0, 9))
            .t(" seconds\nPeer dispersion : ")
            .f(Field::f(r.peer_dispersion, 0, 9))
            .t(" seconds\nResponse time   : ")
            .f(Field::f(r.response_time, 0, 9))
            .t(" seconds\nJitter asymmetry: ")
            .f(Field::fp(r.jitter_asymmetry, 0, 2))
            .t("\nNTP tests       : ")
            .f(Field::Bits(flags >> 7, 3))
            .t(" ")
            .f(Field::Bits(flags >> 4, 3))
            .t(" ")
            .f(Field::Bits(flags, 4))
            .t("\nInterleaved     : ")
            .f(Field::Bool(
                flags & u32::from(NtpData::FLAG_INTERLEAVED) != 0,
            ))
            .t("\nAuthenticated   : ")
            .f(Field::Bool(
                flags & u32::from(NtpData::FLAG_AUTHENTICATED) != 0,
            ))
            .t("\nTX timestamping : ")
            .f(Field::Tss(r.tx_tss_char))
            .t("\nRX timestamping : ")
            .f(Field::Tss(r.rx_tss_char))
            .t("\nTotal TX        : ")
            .f(uint(r.total_tx_count))
            .t("\nTotal RX        : ")
            .f(uint(r.total_rx_count))
            .t("\nTotal valid RX  : ")
            .f(uint(r.total_valid_count))
            .t("\nTotal good RX   : ")
            .f(uint(r.total_good_count))
            .t("\n");
        if self.version == NtpDataVersion::V1 {
            return rec;
        }
        rec.t("Total kernel TX : ")
            .f(uint(r.total_kernel_tx_ts))
            .t("\nTotal kernel RX : ")
            .f(uint(r.total_kernel_rx_ts))
            .t("\nTotal HW TX     : ")
            .f(uint(r.total_hw_tx_ts))
            .t("\nTotal HW RX     : ")
            .f(uint(r.total_hw_rx_ts))
            .t("\n")
    }
}

/// Asks for the NTP data of one address.
fn ntp_data<W: Write>(c: &mut Client<W>, addr: CmdAddr) -> Option<NtpDataReport> {
    let req = Request::NtpData(addr, NtpDataVersion::V2);
    let expected = [ReplyCode::NTP_DATA2, ReplyCode::NTP_DATA];
    match c.request(&req, &expected, false).ok()?.body {
        ReplyBody::NtpData(d, v) => Some(NtpDataReport::new(*d, v)),
        _ => None,
    }
}

/// The address of source `i` if it is an NTP source (a server or peer
/// with a real address); `Err` if the request failed.
fn ntp_source_address<W: Write>(c: &mut Client<W>, i: u32) -> Result<Option<CmdAddr>, Failure> {
    let d = source_data(c, i)?;
    let ntp = (d.mode == 0 || d.mode == 1) && d.ip_addr.ip().is_some();
    Ok(ntp.then_some(d.ip_addr))
}

/// `ntpdata [address]`.
pub fn cmd_ntpdata<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let (csv, json) = (c.set.csv, c.set.json);
    if !args.is_empty() {
        let Some(addr) = crate::commands::source_address(args, c.set.family) else {
            eprintln!("Could not get address for hostname");
            return false;
        };
        let Some(rep) = ntp_data(c, addr) else {
            return false;
        };
        show(c, &rep.rec(), &rep);
        return true;
    }
    let Some(n) = n_sources(c) else {
        return false;
    };
    let mut reports = Rows::new(c);
    for i in 0..n {
        let addr = match ntp_source_address(c, i) {
            Ok(Some(a)) => a,
            Ok(None) => continue,
            Err(_) => return false,
        };
        let Some(rep) = ntp_data(c, addr) else {
            return false;
        };
        if !csv && !json {
            c.print("\n");
        }
        reports.add(c, rep, NtpDataReport::rec);
    }
    reports.finish(c);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2() {
        assert_eq!(log2_to_f64(6), 64.0);
        assert_eq!(log2_to_f64(-2), 0.25);
        assert_eq!(log2_to_f64(40), 2_147_483_648.0);
        assert_eq!(log2_to_f64(-40), 1.0 / 2_147_483_648.0);
    }
}
