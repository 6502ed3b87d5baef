//! `clients` (the server's client log) and `manual list`.

use std::io::Write;

use krony_wire::cmdmon::{
    ClientAccess, ClientAccessesQuery, CmdAddr, MAX_CLIENT_ACCESSES, ManualSample, ReplyBody,
    ReplyCode, Request,
};
use serde::Serialize;

use super::{Rows, json_addr, json_ago, print_json, timespec_parts, timespec_unix_s};
use crate::client::Client;
use crate::report::{Field, Rec, header, log_form};

/// The `clients` header; `nke` shows NTS-KE instead of command columns.
pub fn clients_header(nke: bool, wide: usize, csv: bool) -> String {
    let title = format!(
        "Hostname {} NTP   Drop Int IntL Last  {:>6}   Drop Int  Last",
        " ".repeat(20 + wide),
        if nke { "NTS-KE" } else { "Cmd" }
    );
    header(&title, csv)
}

/// A log2 interval for JSON: `null` when unknown (127).
fn json_interval(v: i8) -> Option<i8> {
    (v != 127).then_some(v)
}

/// One row of `clients`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientRow {
    /// The record as received.
    #[serde(skip)]
    pub raw: ClientAccess,
    /// Whether the second group of columns is NTS-KE (`-k`).
    #[serde(skip)]
    pub nke: bool,
    /// The name shown.
    pub name: String,
    /// The numeric address.
    pub address: Option<String>,
    /// NTP requests.
    pub ntp_packets: u32,
    /// NTP requests dropped.
    pub ntp_dropped: u32,
    /// Mean NTP request interval, log2 seconds; `null` if unknown.
    pub ntp_interval_log2: Option<i8>,
    /// Interval of the NTP rate-limiting timeout, log2 seconds.
    pub ntp_timeout_interval_log2: Option<i8>,
    /// Seconds since the last NTP request; `null` if none.
    pub ntp_last_ago_s: Option<u32>,
    /// NTS-KE connections.
    pub nke_connections: u32,
    /// NTS-KE connections dropped.
    pub nke_dropped: u32,
    /// Mean NTS-KE interval, log2 seconds.
    pub nke_interval_log2: Option<i8>,
    /// Seconds since the last NTS-KE connection.
    pub nke_last_ago_s: Option<u32>,
    /// Command requests.
    pub cmd_packets: u32,
    /// Command requests dropped.
    pub cmd_dropped: u32,
    /// Mean command interval, log2 seconds.
    pub cmd_interval_log2: Option<i8>,
    /// Seconds since the last command request.
    pub cmd_last_ago_s: Option<u32>,
}

impl ClientRow {
    /// A row from a record and the name to show.
    pub fn new(raw: ClientAccess, nke: bool, name: String) -> ClientRow {
        ClientRow {
            name,
            nke,
            address: json_addr(&raw.ip),
            ntp_packets: raw.ntp_hits,
            ntp_dropped: raw.ntp_drops,
            ntp_interval_log2: json_interval(raw.ntp_interval),
            ntp_timeout_interval_log2: json_interval(raw.ntp_timeout_interval),
            ntp_last_ago_s: json_ago(raw.last_ntp_hit_ago),
            nke_connections: raw.nke_hits,
            nke_dropped: raw.nke_drops,
            nke_interval_log2: json_interval(raw.nke_interval),
            nke_last_ago_s: json_ago(raw.last_nke_hit_ago),
            cmd_packets: raw.cmd_hits,
            cmd_dropped: raw.cmd_drops,
            cmd_interval_log2: json_interval(raw.cmd_interval),
            cmd_last_ago_s: json_ago(raw.last_cmd_hit_ago),
            raw,
        }
    }

    /// The row as chronyc prints it.
    pub fn rec(&self, wide: usize) -> Rec {
        let r = &self.raw;
        let (hits, drops, interval, last) = if self.nke {
            (r.nke_hits, r.nke_drops, r.nke_interval, r.last_nke_hit_ago)
        } else {
            (r.cmd_hits, r.cmd_drops, r.cmd_interval, r.last_cmd_hit_ago)
        };
        let ci = |v: i8| Field::ClientInterval(i32::from(v));
        Rec::new()
            .f(Field::left(self.name.clone(), 25 + wide))
            .t("  ")
            .f(Field::Uint(u64::from(r.ntp_hits), 6))
            .t("  ")
            .f(Field::Uint(u64::from(r.ntp_drops), 5))
            .t("  ")
            .f(ci(r.ntp_interval))
            .t("  ")
            .f(ci(r.ntp_timeout_interval))
            .t("  ")
            .f(Field::Interval(r.last_ntp_hit_ago))
            .t("  ")
            .f(Field::Uint(u64::from(hits), 6))
            .t("  ")
            .f(Field::Uint(u64::from(drops), 5))
            .t("  ")
            .f(ci(interval))
            .t("  ")
            .f(Field::Interval(last))
            .t("\n")
    }
}

/// Options of `clients`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientsOpts {
    /// `-p N`: only clients with at least N packets.
    pub min_hits: u32,
    /// `-k`: NTS-KE columns.
    pub nke: bool,
    /// `-r`: reset the counters after reading.
    pub reset: bool,
}

impl ClientsOpts {
    /// Parses `[-p N] [-k] [-r]`; `None` for a bad `-p` value.
    pub fn parse(args: &str) -> Option<ClientsOpts> {
        let mut o = ClientsOpts::default();
        let mut words = args.split_whitespace();
        while let Some(w) = words.next() {
            match w {
                "-k" => o.nke = true,
                "-r" => o.reset = true,
                "-p" => o.min_hits = crate::commands::c_uint(words.next().unwrap_or(""))?,
                _ => {}
            }
        }
        Some(o)
    }
}

/// `clients [-p N] [-k] [-r]`.
pub fn cmd_clients<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let Some(o) = ClientsOpts::parse(args) else {
        eprintln!("Invalid syntax for clients command");
        return false;
    };
    let (csv, wide) = (c.set.csv, c.set.wide);
    if !c.set.json {
        c.print(&clients_header(o.nke, wide, csv));
    }
    let mut rows = Rows::new(c);
    let mut next = 0u32;
    loop {
        let req = Request::ClientAccessesByIndex(ClientAccessesQuery {
            first_index: next,
            n_clients: MAX_CLIENT_ACCESSES as u32,
            min_hits: o.min_hits,
            reset: u32::from(o.reset),
        });
        let page = match c.request(&req, &[ReplyCode::CLIENT_ACCESSES_BY_INDEX3], false) {
            Ok(r) => match r.body {
                ReplyBody::ClientAccesses(p) => p,
                _ => return false,
            },
            Err(_) => return false,
        };
        for client in &page.clients {
            // Records the daemon could not find come back unspecified.
            if client.ip == CmdAddr::Unspec {
                continue;
            }
            let name = c.host_label(&client.ip, 25 + wide);
            let row = ClientRow::new(*client, o.nke, name);
            rows.add(c, row, |r| r.rec(wide));
        }
        next = page.next_index;
        if next >= page.n_indices || page.clients.len() < MAX_CLIENT_ACCESSES {
            break;
        }
    }
    rows.finish(c);
    true
}

/// One sample of `manual list`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ManualRow {
    /// The sample as received.
    #[serde(skip)]
    pub raw: ManualSample,
    /// Index (for `manual delete`).
    pub index: usize,
    /// When it was entered, Unix seconds.
    pub time_unix_s: f64,
    /// Offset after later slews.
    pub slewed_offset_s: f64,
    /// Offset as entered.
    pub original_offset_s: f64,
    /// Residual of the regression.
    pub residual_s: f64,
}

impl ManualRow {
    /// A row from a sample.
    pub fn new(index: usize, raw: ManualSample) -> ManualRow {
        ManualRow {
            index,
            time_unix_s: timespec_unix_s(&raw.when),
            slewed_offset_s: raw.slewed_offset,
            original_offset_s: raw.orig_offset,
            residual_s: raw.residual,
            raw,
        }
    }

    /// The row as chronyc prints it.
    pub fn rec(&self) -> Rec {
        let (secs, _) = timespec_parts(&self.raw.when);
        Rec::new()
            .f(Field::Int(self.index as i64, 2))
            .t(" ")
            .f(Field::str(log_form(secs)))
            .t(" ")
            .f(Field::f(self.raw.slewed_offset, 10, 2))
            .t(" ")
            .f(Field::f(self.raw.orig_offset, 10, 2))
            .t(" ")
            .f(Field::f(self.raw.residual, 10, 2))
            .t("\n")
    }
}

/// `manual list`.
pub fn cmd_manual_list<W: Write>(c: &mut Client<W>) -> bool {
    let list = match c.request(&Request::ManualList, &[ReplyCode::MANUAL_LIST2], false) {
        Ok(r) => match r.body {
            ReplyBody::ManualList(l) => l,
            _ => return false,
        },
        Err(_) => return false,
    };
    let rows: Vec<ManualRow> = list
        .samples
        .iter()
        .enumerate()
        .map(|(i, s)| ManualRow::new(i, *s))
        .collect();
    if c.set.json {
        print_json(c, &rows);
        return true;
    }
    let csv = c.set.csv;
    if !csv {
        c.print(&format!("210 n_samples = {}\n", rows.len()));
    }
    c.print(&header(
        "#    Date     Time(UTC)    Slewed   Original   Residual",
        csv,
    ));
    for row in &rows {
        c.print(&row.rec().render(csv));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        assert_eq!(
            ClientsOpts::parse("-p 5 -k -r"),
            Some(ClientsOpts {
                min_hits: 5,
                nke: true,
                reset: true
            })
        );
        assert_eq!(ClientsOpts::parse("-p x"), None);
        assert_eq!(ClientsOpts::parse("-p"), None);
    }

    #[test]
    fn header_width() {
        let h = clients_header(false, 0, false);
        assert_eq!(h.lines().next().map(str::len), Some(79));
        assert!(h.contains("Last     Cmd   Drop"));
        assert!(clients_header(true, 14, false).contains("Last  NTS-KE   Drop"));
    }
}
