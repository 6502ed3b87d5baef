//! `selectdata`: the state of source selection, one row per source.

use std::io::Write;

use krony_wire::cmdmon::{ReplyBody, ReplyCode, Request, SelectData};
use serde::Serialize;

use super::sources::legend;
use super::{SourceTable, json_addr, json_ago, json_leap, label_or_refid, listed, per_source};
use crate::client::{Client, Failure};
use crate::report::{Field, Rec, header};

/// `selectdata -v` legend (chrony ≥ 4.4 wording, which lists state `r`).
const SELECTDATA_LEGEND: &[(&str, &str)] = &[
    (
        "  . State: N - noselect, s - unsynchronised, M - missing samples, r - stratum\n",
        "",
    ),
    (
        " /         d/D - large distance, ~ - jittery, w/W - waits for others,\n",
        "",
    ),
    (
        "|          S - stale, O - orphan, T - not trusted, P - not preferred,\n",
        "",
    ),
    (
        "|          U - waits for update, x - falseticker, + - combined, * - best.\n",
        "",
    ),
    (
        "|",
        "   Effective options   ---------.  (N - noselect, P - prefer\n",
    ),
    (
        "|",
        "   Configured options  ----.     \\  T - trust, R - require)\n",
    ),
    (
        "|",
        "   Auth. enabled (Y/N) -.   \\     \\     Offset interval --.\n",
    ),
    (
        "|",
        "                        |    |     |                       |\n",
    ),
];

/// The `selectdata -v` legend.
pub fn selectdata_legend(wide: usize) -> String {
    legend(SELECTDATA_LEGEND, wide)
}

/// The `selectdata` header.
pub fn selectdata_header(wide: usize, csv: bool) -> String {
    let title = format!(
        "S Name/IP Address        {}Auth COpts EOpts Last Score     Interval  Leap",
        " ".repeat(wide)
    );
    header(&title, csv)
}

/// Selection options as JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SelectOptions {
    /// `noselect`.
    pub noselect: bool,
    /// `prefer`.
    pub prefer: bool,
    /// `trust`.
    pub trust: bool,
    /// `require`.
    pub require: bool,
}

impl SelectOptions {
    fn from_bits(b: u16) -> SelectOptions {
        SelectOptions {
            noselect: b & SelectData::OPTION_NOSELECT != 0,
            prefer: b & SelectData::OPTION_PREFER != 0,
            trust: b & SelectData::OPTION_TRUST != 0,
            require: b & SelectData::OPTION_REQUIRE != 0,
        }
    }
}

/// One row of `selectdata`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelectRow {
    /// The reply as received.
    #[serde(skip)]
    pub raw: SelectData,
    /// The name shown.
    pub name: String,
    /// The numeric address; `null` for a reference clock.
    pub address: Option<String>,
    /// Reference ID, 8 hexadecimal digits.
    pub ref_id: String,
    /// The state letter chronyc shows (`*`, `+`, `N`, `s`, ...).
    pub state: String,
    /// Whether the source is authenticated.
    pub authenticated: bool,
    /// Options from the configuration.
    pub configured_options: SelectOptions,
    /// Options in effect.
    pub effective_options: SelectOptions,
    /// Seconds since the last sample; `null` if none.
    pub last_sample_ago_s: Option<u32>,
    /// Selection score.
    pub score: f64,
    /// Low end of the offset interval.
    pub lo_limit_s: f64,
    /// High end of the offset interval.
    pub hi_limit_s: f64,
    /// The source's leap status.
    pub leap: &'static str,
}

impl SelectRow {
    /// A row from the reply and the name to show.
    pub fn new(raw: SelectData, name: String) -> SelectRow {
        SelectRow {
            name,
            address: json_addr(&raw.ip_addr),
            ref_id: super::json_refid(raw.ref_id),
            state: char::from(raw.state_char).to_string(),
            authenticated: raw.authentication != 0,
            configured_options: SelectOptions::from_bits(raw.conf_options),
            effective_options: SelectOptions::from_bits(raw.eff_options),
            last_sample_ago_s: json_ago(raw.last_sample_ago),
            score: raw.score,
            lo_limit_s: raw.lo_limit,
            hi_limit_s: raw.hi_limit,
            leap: json_leap(u32::from(raw.leap)),
            raw,
        }
    }

    /// The row as chronyc prints it.
    pub fn rec(&self, wide: usize) -> Rec {
        let r = &self.raw;
        let mut rec = Rec::new()
            .f(Field::Char(char::from(r.state_char)))
            .t(" ")
            .f(Field::left(self.name.clone(), 25 + wide))
            .t(" ")
            .f(Field::Char(if r.authentication != 0 { 'Y' } else { 'N' }))
            .t(" ");
        for (i, opts) in [r.conf_options, r.eff_options].into_iter().enumerate() {
            if i == 1 {
                rec = rec.t(" ");
            }
            for (bit, letter) in [
                (SelectData::OPTION_NOSELECT, 'N'),
                (SelectData::OPTION_PREFER, 'P'),
                (SelectData::OPTION_TRUST, 'T'),
                (SelectData::OPTION_REQUIRE, 'R'),
            ] {
                rec = rec.f(Field::Char(if opts & bit != 0 { letter } else { '-' }));
            }
            rec = rec.f(Field::Char('-'));
        }
        rec.t(" ")
            .f(Field::Interval(r.last_sample_ago))
            .t(" ")
            .f(Field::f(r.score, 5, 1))
            .t(" ")
            .f(Field::Nanos(r.lo_limit, true))
            .t(" ")
            .f(Field::Nanos(r.hi_limit, true))
            .t("  ")
            .f(Field::Leap(u32::from(r.leap), true))
            .t("\n")
    }
}

/// `selectdata [-a] [-v]`.
pub fn cmd_selectdata<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let table = SourceTable {
        legend: selectdata_legend,
        header: selectdata_header,
        rec: SelectRow::rec,
    };
    per_source(c, args, &table, |c, i, o| {
        let reply = c.request(&Request::SelectData(i), &[ReplyCode::SELECT_DATA], false)?;
        let ReplyBody::SelectData(d) = reply.body else {
            return Err(Failure::BadReply);
        };
        if !listed(&d.ip_addr, o) {
            return Ok(None);
        }
        let name = label_or_refid(c, &d.ip_addr, d.ref_id, 25 + c.set.wide);
        Ok(Some(SelectRow::new(d, name)))
    })
}
