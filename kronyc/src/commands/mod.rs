//! Command lines: the dispatcher and the commands that change the daemon
//! (each prints the daemon's status line, `200 OK` on success).

mod local;
mod parse;

use std::io::Write;

use krony_config::{Family as SrcFamily, SourceKind as ConfigKind, parse_source_line};
use krony_wire::cmdmon::{
    AddSource, AddSourceFlags, Burst, Local, ModifyMakestep, ModifyOffset, ModifySelectOpts, Name,
    ReplyCode, Request, SourceFloat, SourceInt, SourceKind, Status, Subnet,
};

pub use local::{keygen_line, parse_date};
pub use parse::{
    address_or_refid, allow_deny, atoi, c_double, c_int, c_uint, mask_address, normalize_line,
    source_address, split_word,
};

use crate::client::Client;
use crate::help::help_text;
use crate::reports::{clients, ntpdata, selection, sources, system};

/// What a command line did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Success (exit status 0 if it was the last command).
    Ok,
    /// Failure (exit status 1; stops `-m` processing).
    Failed,
    /// `exit` or `quit`.
    Quit,
}

fn outcome(ok: bool) -> Outcome {
    if ok { Outcome::Ok } else { Outcome::Failed }
}

/// Prints an error message as chronyc logs it (to standard error).
fn error(msg: &str) -> Outcome {
    eprintln!("{msg}");
    Outcome::Failed
}

/// Runs one command line.
pub fn process_line<W: Write>(c: &mut Client<W>, line: &str) -> Outcome {
    let line = normalize_line(line);
    if line.is_empty() {
        return Outcome::Ok;
    }
    let (cmd, args) = split_word(&line);
    let result = match dispatch_report(c, cmd, args) {
        Some(r) => r,
        None => match build_request(c, cmd, args) {
            Ok(Some(req)) => submit(c, &req),
            Ok(None) => Outcome::Ok,
            Err(r) => r,
        },
    };
    if c.set.end_dot {
        c.print(".\n");
    }
    if c.out.flush().is_err() {
        eprintln!("Could not write to stdout");
        return Outcome::Failed;
    }
    result
}

/// Sends a command whose answer is only a status, printing the status.
fn submit<W: Write>(c: &mut Client<W>, req: &Request) -> Outcome {
    let result = c.request(req, &[ReplyCode::NULL], true);
    if c.set.json {
        if let Ok(r) = &result {
            let status = r.status.message();
            crate::reports::print_json(c, &serde_json::json!({ "status": status }));
        }
    }
    outcome(result.is_ok())
}

/// The reports and the commands that do not send a request; `None` for
/// the others.
fn dispatch_report<W: Write>(c: &mut Client<W>, cmd: &str, args: &str) -> Option<Outcome> {
    let r = match cmd {
        "activity" => outcome(system::cmd_activity(c)),
        "authdata" => outcome(sources::cmd_authdata(c, args)),
        "clients" => outcome(clients::cmd_clients(c, args)),
        "ntpdata" => outcome(ntpdata::cmd_ntpdata(c, args)),
        "rtcdata" => outcome(system::cmd_rtcdata(c)),
        "selectdata" => outcome(selection::cmd_selectdata(c, args)),
        "serverstats" => outcome(system::cmd_serverstats(c)),
        "smoothing" => outcome(system::cmd_smoothing(c)),
        "sourcename" => outcome(cmd_sourcename(c, args)),
        "sources" => outcome(sources::cmd_sources(c, args)),
        "sourcestats" => outcome(sources::cmd_sourcestats(c, args)),
        "tracking" => outcome(system::cmd_tracking(c)),
        "waitsync" => outcome(system::cmd_waitsync(c, args)),
        "settime" => outcome(local::cmd_settime(c, args)),
        "local" => outcome(cmd_local(c, args)),
        "manual" if args.starts_with("list") => outcome(clients::cmd_manual_list(c)),
        "dns" => outcome(local::cmd_dns(c, args)),
        "timeout" => outcome(local::cmd_timeout(c, args)),
        "retries" => outcome(local::cmd_retries(c, args)),
        "keygen" => outcome(local::cmd_keygen(c, args)),
        "help" => {
            c.print(&help_text());
            Outcome::Ok
        }
        "exit" | "quit" => Outcome::Quit,
        // Removed from chrony; kept quiet so that old scripts still work.
        "authhash" | "password" => {
            eprintln!("Authentication is no longer supported");
            Outcome::Ok
        }
        _ => return None,
    };
    Some(r)
}

/// The request of a command that changes the daemon; `Err` with the
/// outcome if the arguments are wrong (the message is printed).
fn build_request<W: Write>(
    c: &mut Client<W>,
    cmd: &str,
    args: &str,
) -> Result<Option<Request>, Outcome> {
    let fam = c.set.family;
    let req = match cmd {
        "accheck" | "cmdaccheck" => {
            let ip = crate::names::resolve_one(args, fam)
                .ok_or_else(|| error("Could not read address"))?;
            let a = ip.into();
            if cmd == "accheck" {
                Request::AcCheck(a)
            } else {
                Request::CmdAcCheck(a)
            }
        }
        "add" => add_source(args, fam)?,
        "allow" | "deny" | "cmdallow" | "cmddeny" => access(cmd, args, fam)?,
        "burst" => burst(args, fam)?,
        "cyclelogs" => Request::CycleLogs,
        "delete" => {
            let (host, _) = split_word(args);
            if host.is_empty() {
                return Err(error("Invalid syntax for address"));
            }
            let a = source_address(host, fam)
                .ok_or_else(|| error("Could not get address for hostname"))?;
            Request::DelSource(a)
        }
        "dfreq" => Request::Dfreq(c_double(args).ok_or_else(|| error("Invalid value"))?),
        "doffset" => Request::Doffset(c_double(args).ok_or_else(|| error("Invalid value"))?),
        "dump" => Request::Dump,
        "makestep" => makestep(args)?,
        "manual" => manual(args)?,
        "maxdelay" | "maxdelayratio" | "maxdelaydevratio" => source_float(cmd, args, fam)?,
        "minpoll" | "maxpoll" | "minstratum" | "polltarget" => source_int(cmd, args, fam)?,
        "maxupdateskew" => Request::ModifyMaxupdateskew(c_double(args).ok_or(Outcome::Failed)?),
        "offline" | "online" => {
            let m = mask_address(args, fam).map_err(error)?;
            if cmd == "online" {
                Request::Online(m)
            } else {
                Request::Offline(m)
            }
        }
        "offset" => modify_offset(args)?,
        "onoffline" => Request::OnOffline,
        "refresh" => Request::Refresh,
        "rekey" => Request::Rekey,
        "reload" if args == "sources" => Request::ReloadSources,
        "reload" => return Err(error("Invalid syntax for reload command")),
        "reselect" => Request::Reselect,
        "reselectdist" => Request::ReselectDistance(c_double(args).ok_or(Outcome::Failed)?),
        "reset" if args == "sources" => Request::ResetSources,
        "reset" => return Err(error("Invalid syntax for reset command")),
        "selectopts" => select_opts(args)?,
        "shutdown" => Request::Shutdown,
        "smoothtime" => match args {
            "reset" => Request::SmoothTime(0),
            "activate" => Request::SmoothTime(1),
            _ => return Err(error("Invalid syntax for smoothtime command")),
        },
        "trimrtc" => Request::TrimRtc,
        "writertc" => Request::WriteRtc,
        _ => return Err(error("Unrecognized command")),
    };
    Ok(Some(req))
}

/// `allow|deny|cmdallow|cmddeny [all] [subnet]`.
fn access(cmd: &str, args: &str, fam: crate::names::Family) -> Result<Request, Outcome> {
    let (all, s) = allow_deny(args, fam).ok_or_else(|| error("Could not read address"))?;
    let make: fn(Subnet) -> Request = match (cmd, all) {
        ("allow", false) => Request::Allow,
        ("allow", true) => Request::AllowAll,
        ("deny", false) => Request::Deny,
        ("deny", true) => Request::DenyAll,
        ("cmdallow", false) => Request::CmdAllow,
        ("cmdallow", true) => Request::CmdAllowAll,
        ("cmddeny", false) => Request::CmdDeny,
        _ => Request::CmdDenyAll,
    };
    Ok(make(s))
}

/// `burst good/max [[mask/]address]`.
fn burst(args: &str, fam: crate::names::Family) -> Result<Request, Outcome> {
    let (counts, rest) = split_word(args);
    let (target, _) = split_word(rest);
    let parsed = counts
        .split_once('/')
        .and_then(|(g, t)| Some((c_int(g)?, c_int(t)?)))
        .filter(|_| counts.starts_with(|ch: char| ch.is_ascii_digit() || ch == '-' || ch == '+'));
    let Some((good, total)) = parsed else {
        return Err(error("Invalid syntax for burst command"));
    };
    let target = mask_address(target, fam).map_err(error)?;
    Ok(Request::Burst(Burst {
        target,
        n_good_samples: good,
        n_total_samples: total,
    }))
}

/// `makestep` (step now) or `makestep threshold limit`.
fn makestep(args: &str) -> Result<Request, Outcome> {
    if args.is_empty() {
        return Ok(Request::MakeStep);
    }
    let (t, rest) = split_word(args);
    match (c_double(t), c_int(rest)) {
        (Some(threshold), Some(limit)) => {
            Ok(Request::ModifyMakestep(ModifyMakestep { limit, threshold }))
        }
        _ => Err(error("Bad syntax for makestep command")),
    }
}

/// `manual on|off|reset` and `manual delete N`.
fn manual(args: &str) -> Result<Request, Outcome> {
    if args.starts_with("delete") {
        let (_, rest) = split_word(args);
        let i = c_int(rest).ok_or_else(|| error("Bad syntax for manual delete command"))?;
        return Ok(Request::ManualDelete(i));
    }
    match args {
        "off" => Ok(Request::Manual(0)),
        "on" => Ok(Request::Manual(1)),
        "reset" => Ok(Request::Manual(2)),
        _ => Err(error("Invalid syntax for manual command")),
    }
}

/// `ADDRESS VALUE` of the integer source settings.
fn source_int(cmd: &str, args: &str, fam: crate::names::Family) -> Result<Request, Outcome> {
    let (host, rest) = split_word(args);
    let value = c_int(rest).ok_or_else(|| error("Invalid syntax for address value"))?;
    let address =
        source_address(host, fam).ok_or_else(|| error("Could not get address for hostname"))?;
    let s = SourceInt { address, value };
    Ok(match cmd {
        "minpoll" => Request::ModifyMinpoll(s),
        "maxpoll" => Request::ModifyMaxpoll(s),
        "minstratum" => Request::ModifyMinstratum(s),
        _ => Request::ModifyPolltarget(s),
    })
}

/// `ADDRESS VALUE` of the real-valued source settings.
fn source_float(cmd: &str, args: &str, fam: crate::names::Family) -> Result<Request, Outcome> {
    let (host, rest) = split_word(args);
    let value = c_double(rest).ok_or_else(|| error("Invalid syntax for address value"))?;
    let address =
        source_address(host, fam).ok_or_else(|| error("Could not get address for hostname"))?;
    let s = SourceFloat { address, value };
    Ok(match cmd {
        "maxdelay" => Request::ModifyMaxdelay(s),
        "maxdelayratio" => Request::ModifyMaxdelayratio(s),
        _ => Request::ModifyMaxdelaydevratio(s),
    })
}

/// `offset ADDRESS|REFID OFFSET` (chrony ≥ 4.4).
fn modify_offset(args: &str) -> Result<Request, Outcome> {
    let (src, rest) = split_word(args);
    let bad = || error("Invalid syntax for offset command");
    let (address, ref_id) = address_or_refid(src).ok_or_else(bad)?;
    let offset = c_double(rest).ok_or_else(bad)?;
    Ok(Request::ModifyOffset(ModifyOffset {
        address,
        ref_id,
        offset,
    }))
}

/// `selectopts ADDRESS|REFID +OPTION|-OPTION...` (chrony ≥ 4.4).
fn select_opts(args: &str) -> Result<Request, Outcome> {
    let (src, rest) = split_word(args);
    let bad = || error("Invalid syntax for selectopts command");
    let (address, ref_id) = address_or_refid(src).ok_or_else(bad)?;
    // The mask uses chrony's selection bits (noselect 1, prefer 2, trust
    // 4, require 8) and the values the ADD_SOURCE flag bits, as chronyc
    // sends them.
    let (mut mask, mut options) = (0u32, 0u32);
    for opt in rest.split_whitespace() {
        let (on, name) = match opt.split_at_checked(1) {
            Some(("+", n)) => (true, n),
            Some(("-", n)) => (false, n),
            _ => return Err(bad()),
        };
        let (bit, flag) = match name.to_ascii_lowercase().as_str() {
            "noselect" => (1, AddSourceFlags::NOSELECT),
            "prefer" => (2, AddSourceFlags::PREFER),
            "trust" => (4, AddSourceFlags::TRUST),
            "require" => (8, AddSourceFlags::REQUIRE),
            _ => return Err(bad()),
        };
        mask |= bit;
        if on {
            options |= flag;
        }
    }
    Ok(Request::ModifySelectOpts(ModifySelectOpts {
        address,
        ref_id,
        mask: AddSourceFlags(mask),
        options: AddSourceFlags(options),
    }))
}

/// `add server|pool|peer NAME [options]`.
fn add_source(args: &str, fam: crate::names::Family) -> Result<Request, Outcome> {
    let (kind_word, rest) = split_word(args);
    let bad = || error("Invalid syntax for add command");
    let kind = ConfigKind::from_name(kind_word).ok_or_else(bad)?;
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (spec, _warnings) = parse_source_line(kind, &words).map_err(|_| bad())?;
    // chronyc checks that the name resolves (it assumes it runs on the
    // daemon's host).
    if spec.host.len() >= krony_wire::cmdmon::NAME_LEN
        || crate::names::resolve_one(&spec.host, fam).is_none()
    {
        return Err(error("Invalid host/IP address"));
    }
    let o = &spec.options;
    let mut flags = 0;
    for (on, f) in [
        (!o.offline, AddSourceFlags::ONLINE),
        (o.auto_offline, AddSourceFlags::AUTOOFFLINE),
        (o.iburst, AddSourceFlags::IBURST),
        (o.xleave, AddSourceFlags::INTERLEAVED),
        (o.burst, AddSourceFlags::BURST),
        (o.nts, AddSourceFlags::NTS),
        (o.copy, AddSourceFlags::COPY),
        (o.extfields.exp_mono_root, AddSourceFlags::EF_EXP_MONO_ROOT),
        (
            o.extfields.net_correction,
            AddSourceFlags::EF_NET_CORRECTION,
        ),
        (o.family == SrcFamily::Ipv4, AddSourceFlags::IPV4),
        (o.family == SrcFamily::Ipv6, AddSourceFlags::IPV6),
        (o.select.prefer, AddSourceFlags::PREFER),
        (o.select.noselect, AddSourceFlags::NOSELECT),
        (o.select.trust, AddSourceFlags::TRUST),
        (o.select.require, AddSourceFlags::REQUIRE),
    ] {
        if on {
            flags |= f;
        }
    }
    let opt_i32 = |v: Option<u32>| v.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
    Ok(Request::AddSource(Box::new(AddSource {
        kind: match kind {
            ConfigKind::Server => SourceKind::SERVER,
            ConfigKind::Peer => SourceKind::PEER,
            ConfigKind::Pool => SourceKind::POOL,
        },
        name: Name::from(spec.host.as_str()),
        port: u32::from(o.port),
        minpoll: i32::from(o.minpoll),
        maxpoll: i32::from(o.maxpoll),
        // chrony's "never" is a poll of 100.
        presend_minpoll: o.presend.map_or(100, i32::from),
        min_stratum: u32::from(o.minstratum),
        poll_target: u32::try_from(o.polltarget).unwrap_or(0),
        version: o.version.map_or(0, u32::from),
        max_sources: o.maxsources,
        min_samples: opt_i32(o.minsamples),
        max_samples: opt_i32(o.maxsamples),
        authkey: o.key.unwrap_or(0),
        nts_port: u32::from(o.ntsport),
        max_delay: o.maxdelay,
        max_delay_ratio: o.maxdelayratio,
        max_delay_dev_ratio: o.maxdelaydevratio,
        min_delay: o.mindelay,
        // 1.0 asks the daemon to estimate the asymmetry.
        asymmetry: o.asymmetry.unwrap_or(1.0),
        offset: o.offset,
        flags: AddSourceFlags(flags),
        filter_length: i32::try_from(o.filter).unwrap_or(i32::MAX),
        cert_set: o.certset,
        max_delay_quant: o.maxdelayquant,
        max_unreach: i32::try_from(o.maxunreach).unwrap_or(i32::MAX),
    })))
}

/// `local [stratum N] [orphan] [distance D] [activate D] [waitsynced S]
/// [waitunsynced S]` or `local off`.
///
/// Sent as LOCAL3 (chrony ≥ 4.6); a daemon that does not know it (chrony
/// 4.3) answers "invalid command", and then LOCAL2 is sent unless an
/// option only LOCAL3 carries was given.
fn cmd_local<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let Some(local) = local::parse_local(args) else {
        eprintln!("Invalid syntax for local command");
        return false;
    };
    let new_options = local.ext.is_some_and(|e| {
        let default_unsynced = if local.orphan != 0 { 300.0 } else { 0.0 };
        e.activate != 0.0 || e.wait_synced != 0.0 || e.wait_unsynced != default_unsynced
    });
    let req = Request::Local(local);
    match c.request_quiet(&req) {
        Ok(Status::INVALID) if !new_options => {
            let old = Request::Local(Local { ext: None, ..local });
            submit(c, &old) == Outcome::Ok
        }
        Ok(status) => {
            c.status_line(status.message());
            let ok = status == Status::SUCCESS;
            if ok && c.set.json {
                let msg = status.message();
                crate::reports::print_json(c, &serde_json::json!({ "status": msg }));
            }
            ok
        }
        Err(_) => false,
    }
}

/// `sourcename ADDRESS`: the name the source was configured with.
fn cmd_sourcename<W: Write>(c: &mut Client<W>, args: &str) -> bool {
    let Some(addr) = source_address(args, c.set.family) else {
        eprintln!("Could not read address");
        return false;
    };
    let Some(name) = c.source_name(&addr) else {
        return false;
    };
    let csv = c.set.csv;
    if c.set.json {
        crate::reports::print_json(c, &serde_json::json!({ "name": name }));
    } else {
        let rec = crate::report::Rec::new()
            .f(crate::report::Field::str(name))
            .t("\n");
        c.print(&rec.render(csv));
    }
    true
}
