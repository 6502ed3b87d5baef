//! chronyc's requests: read from the command sockets, answered by the
//! command server ([`crate::cmdmon`]) against the engine, and the daemon's
//! part of each command (exit, dump, cycle logs, add a source by name).

use krony_config::SourceSpec;
use krony_engine::clock::Clock;
use krony_engine::engine::SourceCommand;

use super::cmdsock::Peer;
use super::event_loop::Daemon;
use crate::cmdmon::{DaemonAction, Origin};
use crate::logging::{self, log_event};

/// At most this many requests are answered per socket and wake-up.
const MAX_REQUESTS_PER_WAKE: usize = 16;

impl Daemon {
    /// Answers the requests waiting on command socket `i`.
    pub(super) fn handle_commands(&mut self, i: usize) {
        for _ in 0..MAX_REQUESTS_PER_WAKE {
            let Some((bytes, peer)) = self.commands.recv(i) else {
                return;
            };
            let origin = match &peer {
                Peer::Udp(from) => Origin::Udp(*from),
                Peer::Unix(_) => Origin::Unix,
            };
            let now = self.clock.now();
            let nts_auth = self.nts_auth_reports();
            let Some(server) = self.cmdmon.as_mut() else {
                return;
            };
            server.set_unresolved_sources(self.sources.unresolved());
            server.set_nts_auth(nts_auth);
            let handled = server.handle(&mut self.engine, now, &bytes, origin, &mut rand::rng());
            for m in handled.logs {
                log_event(m.level, m.text);
            }
            // The daemon's part first, as chronyd: once chronyc has its
            // "200 OK" for `dump` or `cyclelogs`, the files are there.
            if let Some(action) = handled.action {
                self.command_action(action);
            }
            if let Some(reply) = &handled.reply {
                self.commands.reply(i, &peer, reply);
            }
            // `allow` may have opened the NTP server to someone.
            if self.engine.server().is_some_and(|s| {
                s.access().is_any_allowed(false) || s.access().is_any_allowed(true)
            }) {
                self.net.open_server_sockets();
            }
            let now = self.clock.now();
            self.drain(now);
        }
    }

    /// What only the daemon can do for a command.
    fn command_action(&mut self, action: DaemonAction) {
        let now = self.clock.now();
        match action {
            DaemonAction::Shutdown => {
                self.exit.get_or_insert(0);
            }
            DaemonAction::Dump => {
                self.outputs.dump_sources(&self.engine, now);
                // chronyc dump also saves NTS cookies, as chronyd does.
                self.save_nts();
            }
            DaemonAction::CycleLogs => {
                self.outputs.cycle_logs();
                logging::configure(logging::Logger::cycle);
            }
            DaemonAction::OnOffline => {
                // Every source is assumed to have a route (loopback always does).
                for id in self.engine.source_ids() {
                    let _ = self.engine.source_command(now, id, SourceCommand::Online);
                }
            }
            DaemonAction::AddSource(p) => {
                let mut spec = SourceSpec {
                    kind: p.kind,
                    host: p.name,
                    options: p.options,
                };
                super::auth::prepare_source(self.net.keys(), &mut spec);
                self.sources.add_spec(now, &mut self.engine, spec);
            }
            DaemonAction::Refresh => self.sources.refresh(now, &self.engine),
            DaemonAction::Rekey => self.rekey(),
            DaemonAction::ReloadSources => {
                self.sources.reload_source_dirs(now, &mut self.engine);
            }
        }
    }
}
