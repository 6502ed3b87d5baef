//! The commands that change the daemon (Unix socket only).

use krony_engine::access::{AccessAction, Subnet as AccessSubnet};
use krony_engine::discipline::{LocalConfig, LogLevel};
use krony_engine::select::{SelectOptions, SourceId};
use krony_engine::{Engine, SourceCommand, UnixTime};
use krony_wire::cmdmon::{
    AddSourceFlags as F, CmdAddr, Local, ManualTimestamp, MaskAddress, ReplyBody, Request, Status,
    Subnet,
};

use super::reports::source_by_ip;
use super::{CommandServer, DaemonAction, Handled, add_source};

/// A command's outcome.
type Answer = (Status, ReplyBody);

const OK: Answer = (Status::SUCCESS, ReplyBody::Null);

fn fail(status: Status) -> Answer {
    (status, ReplyBody::Null)
}

/// chrony's `UTI_CompareIPs(source, address, mask) == 0`: same family, and
/// equal under the mask when the mask has that family.
fn matches(source: &CmdAddr, address: &CmdAddr, mask: &CmdAddr) -> bool {
    let masked = |a: u128, m: u128| a & m;
    match (source, address, mask) {
        (CmdAddr::Inet4(s), CmdAddr::Inet4(a), CmdAddr::Inet4(m)) => {
            masked(u128::from(u32::from(*s)), u128::from(u32::from(*m)))
                == masked(u128::from(u32::from(*a)), u128::from(u32::from(*m)))
        }
        (CmdAddr::Inet6(s), CmdAddr::Inet6(a), CmdAddr::Inet6(m)) => {
            masked(u128::from(*s), u128::from(*m)) == masked(u128::from(*a), u128::from(*m))
        }
        (s, a, _) => s == a,
    }
}

/// The sources a mask/address pair selects (all when the address is
/// unspecified).
fn matching_sources(engine: &Engine, target: &MaskAddress) -> Vec<SourceId> {
    engine
        .source_ids()
        .into_iter()
        .filter(|id| {
            let Some(src) = engine.source(*id) else {
                return false;
            };
            target.address == CmdAddr::Unspec
                || matches(
                    &CmdAddr::from(src.remote().ip()),
                    &target.address,
                    &target.mask,
                )
        })
        .collect()
}

/// Applies `cmd` to every selected source; NOSUCHSOURCE if none matched.
fn for_matching(
    engine: &mut Engine,
    now: UnixTime,
    target: &MaskAddress,
    cmd: SourceCommand,
) -> Answer {
    let ids = matching_sources(engine, target);
    if ids.is_empty() {
        return fail(Status::NOSUCHSOURCE);
    }
    for id in ids {
        // OK to ignore: the id was just listed by the engine.
        let _ = engine.source_command(now, id, cmd);
    }
    OK
}

/// Applies `cmd` to the source with this address.
fn for_source(engine: &mut Engine, now: UnixTime, addr: &CmdAddr, cmd: SourceCommand) -> Answer {
    match source_by_ip(engine, addr) {
        Some(id) if engine.source_command(now, id, cmd).is_ok() => OK,
        _ => fail(Status::NOSUCHSOURCE),
    }
}

/// The selection options of MODIFY_SELECTOPTS: `mask` in selectdata bits
/// (as chronyc sends it), `options` in ADD_SOURCE flag bits.
fn select_options(mask: u32, options: F) -> (SelectOptions, SelectOptions) {
    let o = SelectOptions {
        noselect: options.contains(F::NOSELECT),
        prefer: options.contains(F::PREFER),
        trust: options.contains(F::TRUST),
        require: options.contains(F::REQUIRE),
    };
    (SelectOptions::from_bits(mask), o)
}

/// LOCAL2/LOCAL3 as the reference's local mode (`None`: off).
fn local_config(l: &Local) -> Option<LocalConfig> {
    if l.on_off == 0 {
        return None;
    }
    // chronyd clamps the stratum to 1..15.
    let stratum = l.stratum.clamp(1, 15) as u8;
    let orphan = l.orphan != 0;
    let mut c = LocalConfig {
        distance: l.distance,
        orphan,
        ..LocalConfig::new(stratum)
    };
    match &l.ext {
        Some(e) => {
            c.activate = e.activate;
            c.wait_synced = e.wait_synced;
            c.wait_unsynced = e.wait_unsynced;
        }
        // LOCAL2 (chronyc ≤ 4.5) has no such fields: the directive's
        // defaults, where orphan waits 300 s unsynchronised.
        None if orphan => c.wait_unsynced = 300.0,
        None => {}
    }
    Some(c)
}

/// SMOOTHTIME: 0 reset, 1 activate. chronyd checks that smoothing is
/// enabled before it looks at the option.
fn smoothtime(engine: &mut Engine, now: UnixTime, option: i32) -> Answer {
    if engine.smoothing(now).is_none() {
        return fail(Status::NOTENABLED);
    }
    match option {
        0 => {
            engine.smoothtime_reset(now);
            OK
        }
        1 => {
            engine.smoothtime_activate(now);
            OK
        }
        _ => fail(Status::INVALID),
    }
}

/// The commands that change sources' connectivity and parameters; `None`
/// for other requests.
fn source_parameters(engine: &mut Engine, now: UnixTime, req: &Request) -> Option<Answer> {
    use Request as R;
    Some(match req {
        R::Online(t) => for_matching(engine, now, t, SourceCommand::Online),
        R::Offline(t) => for_matching(engine, now, t, SourceCommand::Offline),
        R::Burst(b) => {
            let cmd = SourceCommand::Burst {
                good: b.n_good_samples,
                total: b.n_total_samples,
            };
            for_matching(engine, now, &b.target, cmd)
        }
        R::ModifyMinpoll(s) => for_source(engine, now, &s.address, SourceCommand::MinPoll(s.value)),
        R::ModifyMaxpoll(s) => for_source(engine, now, &s.address, SourceCommand::MaxPoll(s.value)),
        R::ModifyMinstratum(s) => {
            for_source(engine, now, &s.address, SourceCommand::MinStratum(s.value))
        }
        R::ModifyPolltarget(s) => {
            for_source(engine, now, &s.address, SourceCommand::PollTarget(s.value))
        }
        R::ModifyMaxdelay(s) => {
            for_source(engine, now, &s.address, SourceCommand::MaxDelay(s.value))
        }
        R::ModifyMaxdelayratio(s) => for_source(
            engine,
            now,
            &s.address,
            SourceCommand::MaxDelayRatio(s.value),
        ),
        R::ModifyMaxdelaydevratio(s) => for_source(
            engine,
            now,
            &s.address,
            SourceCommand::MaxDelayDevRatio(s.value),
        ),
        // An unspecified address names a reference clock: none here.
        R::ModifyOffset(m) => for_source(engine, now, &m.address, SourceCommand::Offset(m.offset)),
        R::ModifySelectOpts(m) => {
            let (mask, options) = select_options(m.mask.0, m.options);
            for_source(
                engine,
                now,
                &m.address,
                SourceCommand::SelectOptions { mask, options },
            )
        }
        _ => return None,
    })
}

impl CommandServer {
    /// Runs a command that changes state; `out` collects the daemon action
    /// and log lines.
    pub(super) fn control(
        &mut self,
        engine: &mut Engine,
        now: UnixTime,
        req: &Request,
        out: &mut Handled,
    ) -> Answer {
        use Request as R;
        if let Some(answer) = source_parameters(engine, now, req) {
            return answer;
        }
        match req {
            R::ModifyMaxupdateskew(ppm) => {
                engine.set_max_update_skew(now, *ppm);
                OK
            }
            R::ModifyMakestep(m) => {
                engine.set_make_step(now, m.threshold, m.limit);
                OK
            }
            R::MakeStep if engine.make_step(now) => OK,
            R::MakeStep => fail(Status::FAILED),
            R::Reselect => {
                engine.reselect(now);
                OK
            }
            R::ReselectDistance(d) => {
                engine.set_reselect_distance(now, *d);
                OK
            }
            R::ResetSources => {
                // chronyd forgets every source's measurements as after an
                // unknown step of zero.
                engine.notify_external_step(now, 0.0, 0.0);
                OK
            }
            R::Local(l) => {
                engine.set_local(now, local_config(l));
                OK
            }
            R::AddSource(a) => {
                match add_source::parse(a).and_then(|w| add_source::add(engine, now, w)) {
                    Ok(pending) => {
                        out.action = pending.map(DaemonAction::AddSource);
                        OK
                    }
                    Err(status) => fail(status),
                }
            }
            R::DelSource(addr) => match source_by_ip(engine, addr) {
                Some(id) => {
                    let ip = engine.source(id).map(|s| s.remote().ip());
                    match (engine.remove_source(now, id), ip) {
                        (Ok(()), Some(ip)) => {
                            let text = crate::files::dump::ip_text(&ip);
                            crate::logging::log_event(
                                crate::logging::Severity::Info,
                                format!("Removed source {text}"),
                            );
                            OK
                        }
                        _ => fail(Status::NOSUCHSOURCE),
                    }
                }
                _ => fail(Status::NOSUCHSOURCE),
            },
            R::Allow(s) | R::AllowAll(s) | R::Deny(s) | R::DenyAll(s) => {
                self.access(engine, req, s, false, out)
            }
            R::CmdAllow(s) | R::CmdAllowAll(s) | R::CmdDeny(s) | R::CmdDenyAll(s) => {
                self.access(engine, req, s, true, out)
            }
            R::Manual(option) => match option {
                0 => {
                    self.manual_enabled = false;
                    OK
                }
                1 => {
                    self.manual_enabled = true;
                    OK
                }
                2 => {
                    engine.manual_reset();
                    OK
                }
                _ => fail(Status::INVALID),
            },
            R::Settime(ts) => self.settime(engine, now, ts.to_unix()),
            R::ManualDelete(i) => match usize::try_from(*i) {
                Ok(i) if engine.manual_delete(now, i) => OK,
                _ => fail(Status::BADSAMPLE),
            },
            // Without an RTC driver chronyd answers "513 RTC driver not
            // running"; the device actions of a trim are the daemon's.
            R::TrimRtc if engine.rtc_trim(now) => OK,
            R::TrimRtc => fail(Status::NORTC),
            R::WriteRtc => self.write_rtc(engine),
            R::SmoothTime(option) => smoothtime(engine, now, *option),
            R::Dfreq(ppm) if ppm.is_finite() => {
                engine.accumulate_delta_frequency(now, *ppm);
                OK
            }
            R::Dfreq(_) => fail(Status::FAILED),
            // Slewed like any correction; an offset that would put the time
            // out of range (or NaN) fails as in chronyd.
            R::Doffset(offset) if engine.accumulate_offset(now, *offset) => OK,
            R::Doffset(_) => fail(Status::FAILED),
            R::Shutdown => {
                out.log(LogLevel::Info, "Received shutdown command");
                out.action = Some(DaemonAction::Shutdown);
                OK
            }
            R::Dump => self.act(out, DaemonAction::Dump),
            R::CycleLogs => self.act(out, DaemonAction::CycleLogs),
            R::Rekey => self.act(out, DaemonAction::Rekey),
            R::ReloadSources => self.act(out, DaemonAction::ReloadSources),
            R::Refresh => self.act(out, DaemonAction::Refresh),
            R::OnOffline => self.act(out, DaemonAction::OnOffline),
            _ => fail(Status::INVALID),
        }
    }

    fn act(&self, out: &mut Handled, action: DaemonAction) -> Answer {
        out.action = Some(action);
        OK
    }

    /// `settime`: only with the manual reference enabled.
    /// `writertc`: the coefficients to the `rtcfile` if they are valid
    /// (else the file is left alone); 514 if it cannot be written.
    fn write_rtc(&self, engine: &Engine) -> Answer {
        match (engine.rtc_parameters(), &self.rtc_file) {
            (None, _) | (Some(_), None) => fail(Status::NORTC),
            (Some(None), Some(_)) => OK,
            (Some(Some(c)), Some(path)) => match crate::files::rtcfile::write_coefs(path, &c) {
                Ok(()) => OK,
                Err(e) => {
                    crate::logging::log_event(crate::logging::Severity::Error, e);
                    fail(Status::BADRTCFILE)
                }
            },
        }
    }

    fn settime(&mut self, engine: &mut Engine, now: UnixTime, true_time: UnixTime) -> Answer {
        if !self.manual_enabled {
            return fail(Status::NOTENABLED);
        }
        match engine.manual_settime(now, true_time) {
            Some(m) => (
                Status::SUCCESS,
                ReplyBody::ManualTimestamp(ManualTimestamp {
                    offset: m.offset,
                    dfreq_ppm: m.dfreq_ppm,
                    new_afreq_ppm: m.new_afreq_ppm,
                }),
            ),
            None => fail(Status::FAILED),
        }
    }

    /// ALLOW/DENY (`cmd` false) and CMDALLOW/CMDDENY, with the log line
    /// chronyd writes.
    fn access(
        &mut self,
        engine: &mut Engine,
        req: &Request,
        s: &Subnet,
        cmd: bool,
        out: &mut Handled,
    ) -> Answer {
        use Request as R;
        let (allow, all) = match req {
            R::Allow(_) | R::CmdAllow(_) => (true, false),
            R::AllowAll(_) | R::CmdAllowAll(_) => (true, true),
            R::Deny(_) | R::CmdDeny(_) => (false, false),
            _ => (false, true),
        };
        let addr = match s.ip {
            CmdAddr::Unspec => None,
            CmdAddr::Inet4(_) | CmdAddr::Inet6(_) => s.ip.ip(),
            CmdAddr::Id(_) => return fail(Status::BADSUBNET),
        };
        let Ok(subnet) = AccessSubnet::new(addr, s.subnet_bits) else {
            return fail(Status::BADSUBNET);
        };
        let action = AccessAction::new(allow, all);
        if cmd {
            self.cmd_access.apply(action, &subnet);
        } else {
            self.ntp_access_mut(engine).apply(action, &subnet);
        }
        out.log(
            LogLevel::Info,
            format!(
                "{}{} {} access from {subnet}",
                if allow { "Allowed" } else { "Denied" },
                if all { " all" } else { "" },
                if cmd { "command" } else { "NTP" },
            ),
        );
        OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn masks_match_as_chrony_compares() {
        let src = CmdAddr::from(Ipv4Addr::new(192, 0, 2, 7));
        let net = CmdAddr::from(Ipv4Addr::new(192, 0, 2, 0));
        let m24 = CmdAddr::from(Ipv4Addr::new(255, 255, 255, 0));
        assert!(matches(&src, &net, &m24));
        assert!(!matches(&src, &net, &CmdAddr::Unspec));
        assert!(matches(&src, &src, &CmdAddr::Unspec));
        let v6: CmdAddr = CmdAddr::from("2001:db8::7".parse::<std::net::Ipv6Addr>().expect("ip"));
        assert!(!matches(&v6, &net, &m24));
    }
}
