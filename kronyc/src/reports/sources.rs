//! `sources`, `sourcestats` and `authdata`: one row per source.

use std::io::Write;

use krony_wire::cmdmon::{
    AuthData, CmdAddr, ReplyBody, ReplyCode, Request, SourceData, Sourcestats,
};
use serde::Serialize;

use super::{SourceTable, json_addr, json_ago, label_or_refid, listed, per_source, source_data};
use crate::client::{Client, Failure};
use crate::names;
use crate::report::{Field, Rec, header};

/// Width of the name column without `-w`.
const NAME_WIDTH: usize = 25;

/// `sources -v` legend: (text, text after the `-w` padding).
const SOURCES_LEGEND: &[(&str, &str)] = &[
    ("\n", ""),
    (
        "  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.\n",
        "",
    ),
    (
        " / .- Source state '*' = current best, '+' = combined, '-' = not combined,\n",
        "",
    ),
    (
        "| /             'x' = may be in error, '~' = too variable, '?' = unusable.\n",
        "",
    ),
    (
        "||  ",
        "                                               .- xxxx [ yyyy ] +/- zzzz\n",
    ),
    (
        "||  ",
        "    Reachability register (octal) -.           |  xxxx = adjusted offset,\n",
    ),
    (
        "||  ",
        "    Log2(Polling interval) --.      |          |  yyyy = measured offset,\n",
    ),
    (
        "||  ",
        "                              \\     |          |  zzzz = estimated error.\n",
    ),
    (
        "||  ",
        "                               |    |           \\\n",
    ),
];
/// `sourcestats -v` legend.
const SOURCESTATS_LEGEND: &[(&str, &str)] = &[
    (
        "",
        "                             .- Number of sample points in measurement set.\n",
    ),
    (
        "",
        "                            /    .- Number of residual runs with same sign.\n",
    ),
    (
        "",
        "                           |    /    .- Length of measurement set (time).\n",
    ),
    (
        "",
        "                           |   |    /      .- Est. clock freq error (ppm).\n",
    ),
    (
        "",
        "                           |   |   |      /           .- Est. error in freq.\n",
    ),
    (
        "",
        "                           |   |   |     |           /         .- Est. offset.\n",
    ),
    (
        "",
        "                           |   |   |     |          |          |   On the -.\n",
    ),
    (
        "",
        "                           |   |   |     |          |          |   samples. \\\n",
    ),
    (
        "",
        "                           |   |   |     |          |          |             |\n",
    ),
];
/// `authdata -v` legend.
const AUTHDATA_LEGEND: &[(&str, &str)] = &[
    (
        "",
        "                             .- Auth. mechanism (NTS, SK - symmetric key)\n",
    ),
    (
        "",
        "                            |   Key length -.  Cookie length (bytes) -.\n",
    ),
    (
        "",
        "                            |       (bits)  |  Num. of cookies --.    |\n",
    ),
    (
        "",
        "                            |               |  Key est. attempts  |   |\n",
    ),
    (
        "",
        "                            |               |           |         |   |\n",
    ),
];

/// Renders a legend: each line's second part is shifted right by `wide`
/// columns (`-w`); lines without a second part are printed as they are.
pub fn legend(lines: &[(&str, &str)], wide: usize) -> String {
    let mut out = String::new();
    for (head, tail) in lines {
        out.push_str(head);
        if !tail.is_empty() {
            out.push_str(&" ".repeat(wide));
            out.push_str(tail);
        }
    }
    out
}

/// The `sources -v` legend.
pub fn sources_legend(wide: usize) -> String {
    legend(SOURCES_LEGEND, wide)
}

/// The `sourcestats -v` legend.
pub fn sourcestats_legend(wide: usize) -> String {
    legend(SOURCESTATS_LEGEND, wide)
}

/// The `authdata -v` legend.
pub fn authdata_legend(wide: usize) -> String {
    legend(AUTHDATA_LEGEND, wide)
}

/// The `sources` header (79 columns, or 93 with `-w`), underlined.
pub fn sources_header(wide: usize, csv: bool) -> String {
    let title = format!(
        "MS Name/IP address         {}Stratum Poll Reach LastRx Last sample               ",
        " ".repeat(wide)
    );
    header(&title, csv)
}

/// The `sourcestats` header.
pub fn sourcestats_header(wide: usize, csv: bool) -> String {
    let title = format!(
        "Name/IP Address            {}NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev",
        " ".repeat(wide)
    );
    header(&title, csv)
}

/// The `authdata` header.
pub fn authdata_header(wide: usize, csv: bool) -> String {
    let title = format!(
        "Name/IP address             {}Mode KeyID Type KLen Last Atmp  NAK Cook CLen",
        " ".repeat(wide)
    );
    header(&title, csv)
}

/// One row of `sources`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceRow {
    /// The reply as received.
    #[serde(skip)]
    pub raw: SourceData,
    /// The name shown (host name, address, configured name or refid).
    pub name: String,
    /// The numeric address; `null` for a reference clock.
    pub address: Option<String>,
    /// `server`, `peer`, `refclock` or `unknown`.
    pub mode: &'static str,
    /// `selected`, `nonselectable`, `falseticker`, `jittery`, `combined`,
    /// `not_combined` or `unknown`.
    pub state: &'static str,
    /// Stratum.
    pub stratum: u16,
    /// Polling interval, log2 seconds.
    pub poll_log2: i16,
    /// Reachability register (the last 8 polls, bit 0 the latest).
    pub reach: u16,
    /// Seconds since the last sample; `null` if none.
    pub last_rx_s: Option<u32>,
    /// Offset of the last sample adjusted for later clock corrections.
    pub offset_s: f64,
    /// Offset of the last sample as measured.
    pub measured_offset_s: f64,
    /// Error bound of the last sample.
    pub error_s: f64,
}

impl SourceRow {
    /// A row from the reply and the name to show.
    pub fn new(raw: SourceData, name: String) -> SourceRow {
        let refclock = raw.mode == 2;
        SourceRow {
            name,
            address: if refclock {
                None
            } else {
                json_addr(&raw.ip_addr)
            },
            mode: match raw.mode {
                0 => "server",
                1 => "peer",
                2 => "refclock",
                _ => "unknown",
            },
            state: match raw.state {
                0 => "selected",
                1 => "nonselectable",
                2 => "falseticker",
                3 => "jittery",
                4 => "combined",
                5 => "not_combined",
                _ => "unknown",
            },
            stratum: raw.stratum,
            poll_log2: raw.poll,
            reach: raw.reachability,
            last_rx_s: json_ago(raw.since_sample),
            offset_s: raw.latest_meas,
            measured_offset_s: raw.orig_latest_meas,
            error_s: raw.latest_meas_err,
            raw,
        }
    }

    /// The row as chronyc prints it.
    pub fn rec(&self, wide: usize) -> Rec {
        let r = &self.raw;
        let mode = match r.mode {
            0 => '^',
            1 => '=',
            2 => '#',
            _ => ' ',
        };
        let state = match r.state {
            0 => '*',
            1 => '?',
            2 => 'x',
            3 => '~',
            4 => '+',
            5 => '-',
            _ => ' ',
        };
        Rec::new()
            .f(Field::Char(mode))
            .f(Field::Char(state))
            .t(" ")
            .f(Field::left(self.name.clone(), 27 + wide))
            .t("  ")
            .f(Field::Int(i64::from(r.stratum), 2))
            .t("  ")
            .f(Field::Int(i64::from(r.poll), 2))
            .t("   ")
            .f(Field::Octal(u32::from(r.reachability), 3))
            .t("  ")
            .f(Field::Interval(r.since_sample))
            .t("  ")
            .f(Field::Nanos(r.latest_meas, true))
            .t("[")
            .f(Field::Nanos(r.orig_latest_meas, true))
            .t("] +/- ")
            .f(Field::Nanos(r.latest_meas_err, false))
            .t("\n")
    }
}

/// `sources [-a] [-v]`.
pub fn cmd_sources<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let table = SourceTable {
        legend: sources_legend,
        header: sources_header,
        rec: SourceRow::rec,
    };
    per_source(c, args, &table, |c, i, o| {
        let d = source_data(c, i)?;
        if !listed(&d.ip_addr, o) {
            return Ok(None);
        }
        let name = match d.ip_addr {
            // A reference clock's address holds its refid.
            CmdAddr::Inet4(a) if d.mode == 2 => names::refid_string(u32::from(a)),
            a => c.source_label(&a, NAME_WIDTH + c.set.wide),
        };
        Ok(Some(SourceRow::new(d, name)))
    })
}

/// One row of `sourcestats`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourcestatsRow {
    /// The reply as received.
    #[serde(skip)]
    pub raw: Sourcestats,
    /// The name shown.
    pub name: String,
    /// The numeric address; `null` for a reference clock.
    pub address: Option<String>,
    /// Reference ID, 8 hexadecimal digits.
    pub ref_id: String,
    /// Samples in the regression.
    pub samples: u32,
    /// Runs of residuals with the same sign.
    pub runs: u32,
    /// Time spanned by the samples.
    pub span_s: u32,
    /// Residual frequency.
    pub freq_ppm: f64,
    /// Error bound of the frequency.
    pub freq_skew_ppm: f64,
    /// Estimated offset.
    pub offset_s: f64,
    /// Standard deviation of the samples.
    pub std_dev_s: f64,
}

impl SourcestatsRow {
    /// A row from the reply and the name to show.
    pub fn new(raw: Sourcestats, name: String) -> SourcestatsRow {
        SourcestatsRow {
            name,
            address: json_addr(&raw.ip_addr),
            ref_id: super::json_refid(raw.ref_id),
            samples: raw.n_samples,
            runs: raw.n_runs,
            span_s: raw.span_seconds,
            freq_ppm: raw.resid_freq_ppm,
            freq_skew_ppm: raw.skew_ppm,
            offset_s: raw.est_offset,
            std_dev_s: raw.sd,
            raw,
        }
    }

    /// The row as chronyc prints it.
    pub fn rec(&self, wide: usize) -> Rec {
        let r = &self.raw;
        Rec::new()
            .f(Field::left(self.name.clone(), NAME_WIDTH + wide))
            .t(" ")
            .f(Field::Uint(u64::from(r.n_samples), 3))
            .t(" ")
            .f(Field::Uint(u64::from(r.n_runs), 3))
            .t("  ")
            .f(Field::Interval(r.span_seconds))
            .t(" ")
            .f(Field::Ppm(r.resid_freq_ppm, true))
            .t(" ")
            .f(Field::Ppm(r.skew_ppm, false))
            .t("  ")
            .f(Field::Nanos(r.est_offset, true))
            .t("  ")
            .f(Field::Nanos(r.sd, false))
            .t("\n")
    }
}

/// `sourcestats [-a] [-v]`.
pub fn cmd_sourcestats<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let table = SourceTable {
        legend: sourcestats_legend,
        header: sourcestats_header,
        rec: SourcestatsRow::rec,
    };
    per_source(c, args, &table, |c, i, o| {
        let reply = c.request(&Request::Sourcestats(i), &[ReplyCode::SOURCESTATS], false)?;
        let ReplyBody::Sourcestats(d) = reply.body else {
            return Err(Failure::BadReply);
        };
        if !listed(&d.ip_addr, o) {
            return Ok(None);
        }
        let name = label_or_refid(c, &d.ip_addr, d.ref_id, NAME_WIDTH + c.set.wide);
        Ok(Some(SourcestatsRow::new(d, name)))
    })
}

/// One row of `authdata`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuthRow {
    /// The reply as received.
    #[serde(skip)]
    pub raw: AuthData,
    /// The name shown.
    pub name: String,
    /// The numeric address.
    pub address: Option<String>,
    /// `none`, `symmetric_key`, `nts` or `unknown`.
    pub mode: &'static str,
    /// Key ID (symmetric keys).
    pub key_id: u32,
    /// Key type number (hash or cipher).
    pub key_type: u16,
    /// Key length.
    pub key_length_bits: u16,
    /// Seconds since the last NTS-KE session; `null` if none.
    pub last_ke_ago_s: Option<u32>,
    /// NTS-KE attempts since the last success.
    pub ke_attempts: u16,
    /// NTS NAKs received.
    pub nak: u16,
    /// NTS cookies held.
    pub cookies: u16,
    /// NTS cookie length.
    pub cookie_length_bytes: u16,
}

impl AuthRow {
    /// A row from the reply and the name to show.
    pub fn new(raw: AuthData, addr: &CmdAddr, name: String) -> AuthRow {
        AuthRow {
            name,
            address: json_addr(addr),
            mode: match raw.mode {
                0 => "none",
                1 => "symmetric_key",
                2 => "nts",
                _ => "unknown",
            },
            key_id: raw.key_id,
            key_type: raw.key_type,
            key_length_bits: raw.key_length,
            last_ke_ago_s: json_ago(raw.last_ke_ago),
            ke_attempts: raw.ke_attempts,
            nak: raw.nak,
            cookies: raw.cookies,
            cookie_length_bytes: raw.cookie_length,
            raw,
        }
    }

    /// The row as chronyc prints it.
    pub fn rec(&self, wide: usize) -> Rec {
        let r = &self.raw;
        let mode = match r.mode {
            0 => "-",
            1 => "SK",
            2 => "NTS",
            _ => "?",
        };
        let int = |v: u16| Field::Int(i64::from(v), 4);
        Rec::new()
            .f(Field::left(self.name.clone(), 27 + wide))
            .t(" ")
            .f(Field::Str {
                s: mode.to_string(),
                width: 4,
                left: false,
            })
            .t(" ")
            .f(Field::Uint(u64::from(r.key_id), 5))
            .t(" ")
            .f(int(r.key_type))
            .t(" ")
            .f(int(r.key_length))
            .t(" ")
            .f(Field::Interval(r.last_ke_ago))
            .t(" ")
            .f(int(r.ke_attempts))
            .t(" ")
            .f(int(r.nak))
            .t(" ")
            .f(int(r.cookies))
            .t(" ")
            .f(int(r.cookie_length))
            .t("\n")
    }
}

/// `authdata [-a] [-v]`.
pub fn cmd_authdata<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let table = SourceTable {
        legend: authdata_legend,
        header: authdata_header,
        rec: AuthRow::rec,
    };
    per_source(c, args, &table, |c, i, o| {
        let d = source_data(c, i)?;
        // Only NTP sources (servers and peers) authenticate.
        if (d.mode != 0 && d.mode != 1) || !listed(&d.ip_addr, o) {
            return Ok(None);
        }
        let reply = c.request(
            &Request::AuthData(d.ip_addr),
            &[ReplyCode::AUTH_DATA],
            false,
        )?;
        let ReplyBody::AuthData(a) = reply.body else {
            return Err(Failure::BadReply);
        };
        let name = c.source_label(&d.ip_addr, NAME_WIDTH + c.set.wide);
        Ok(Some(AuthRow::new(a, &d.ip_addr, name)))
    })
}
