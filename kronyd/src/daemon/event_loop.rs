//! The event loop: one thread, one `poll(2)` (design.md, principle 2).
//!
//! Each round sleeps until the earliest of the engine's next deadline (a raw
//! clock reading, turned into a relative timeout), the daemon's own timers
//! (`-t`, name lookups to retry) and a readable descriptor. After waking it
//! re-reads the clock, feeds each ready socket's packets and transmit
//! timestamps to the engine, fires the timers that are due, then drains the
//! engine's outputs: clock actions, datagrams, events.

use krony_engine::clock::Clock;
use krony_engine::discipline::RefMode;
use krony_engine::{Engine, UnixTime};

use super::clock::DaemonClock;
use super::cmdsock::CommandSockets;
use super::devices::Devices;
use super::jump;
use super::net::{Net, SocketRef, timeout_ns};
use super::output::{Outputs, Request};
use super::sources::Sources;
use crate::cmdmon::CommandServer;
use crate::logging::{Severity, log_event};
use crate::sys::clock::monotonic_now;
use crate::sys::poll::{Interest, PollSet};
use crate::sys::signals::QuitSignals;
use crate::sys::socket::TimestampMode;

/// What a descriptor in the poll set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Resolver,
    Ntp(SocketRef),
    Command(usize),
    Rtc,
    Refclock(usize),
    Nts(crate::nts::NtsRef),
}

/// The daemon's state while it runs.
#[derive(Debug)]
pub struct Daemon {
    /// The timekeeping engine.
    pub engine: Engine,
    /// The disciplined clock.
    pub clock: DaemonClock,
    /// NTP sockets.
    pub net: Net,
    /// Configured sources and name lookups.
    pub sources: Sources,
    /// Files written from engine events.
    pub outputs: Outputs,
    /// Quit signals (not polled: they interrupt poll).
    pub signals: QuitSignals,
    /// chronyc's sockets.
    pub commands: CommandSockets,
    /// Reference clock drivers.
    pub refclocks: crate::refclock::RefclockDrivers,
    /// The command server answering them (`None` in `-q`/`-Q`).
    pub cmdmon: Option<CommandServer>,
    /// `-t`: when to give up, on the monotonic clock.
    pub quit_at: Option<UnixTime>,
    /// Set when the loop must end, with the exit status.
    pub exit: Option<u8>,
    /// The tempcomp sensor and the RTC.
    pub devices: Devices,
}

impl Daemon {
    /// Runs until a signal, a special mode's end or `-t`; returns the exit
    /// status.
    pub fn run(&mut self) -> u8 {
        let now = self.clock.now();
        self.drain(now);
        let mut set = PollSet::new();
        let mut tokens: Vec<Token> = Vec::new();
        while self.exit.is_none() {
            self.net.retain_sources(&self.engine);
            self.sync_nts();
            set.clear();
            tokens.clear();
            self.build_poll_set(&mut set, &mut tokens);
            let timeout = self.timeout();
            if self.take_signals() {
                break;
            }
            let before = self.clock.now();
            let ready = match set.wait(timeout) {
                Ok(n) => n,
                Err(e) => {
                    log_event(Severity::Fatal, e);
                    return 1;
                }
            };
            // A quit signal ends the loop; any other EINTR (other signals,
            // clknetsim's completed TCP connect) is not a timeout: like
            // chronyd, only a wait that timed out must have lasted it all.
            if !self.take_signals() {
                self.check_jump(before, timeout, ready == 0 && !set.interrupted());
            }
            for (i, token) in tokens.iter().enumerate() {
                let ready = set.ready(i);
                if ready.any() {
                    let readable = ready.readable || ready.hangup || ready.writable;
                    self.dispatch(*token, readable, ready.errqueue);
                }
            }
            self.fire_timers();
        }
        self.exit.unwrap_or(0)
    }

    /// A quit signal ends the loop with status 0; true if one came.
    fn take_signals(&mut self) -> bool {
        let quit = !self.signals.drain().is_empty();
        if quit {
            self.exit.get_or_insert(0);
        }
        quit
    }

    /// chronyd's time jump detection around the wait (see [`jump`]).
    fn check_jump(&mut self, before: UnixTime, timeout: Option<u64>, timed_out: bool) {
        let after = self.clock.now();
        let timeout = timeout.map(|ns| ns as f64 * 1e-9);
        if let Some((jump, step)) = jump::check(before, after, timeout, timed_out) {
            log_event(Severity::Warn, jump.message());
            self.engine.notify_external_step(after, step, step.abs());
            self.drain(after);
        }
    }

    fn build_poll_set(&self, set: &mut PollSet, tokens: &mut Vec<Token>) {
        if let Some(r) = self.sources.resolver() {
            set.add(r, Interest::READABLE);
            tokens.push(Token::Resolver);
        }
        for (r, sock) in self.net.sockets() {
            let interest = match sock.timestamp_mode() {
                TimestampMode::Timestamping { .. } => Interest::READABLE_ERRQUEUE,
                _ => Interest::READABLE,
            };
            set.add(sock, interest);
            tokens.push(Token::Ntp(r));
        }
        for (i, fd) in self.commands.fds().enumerate() {
            set.add(&fd, Interest::READABLE);
            tokens.push(Token::Command(i));
        }
        if let Some(fd) = self.devices.rtc_fd() {
            set.add(&fd, Interest::READABLE);
            tokens.push(Token::Rtc);
        }
        for (i, fd) in self.refclocks.fds() {
            set.add(&fd, Interest::READABLE);
            tokens.push(Token::Refclock(i));
        }
        self.poll_nts(set, |r| tokens.push(Token::Nts(r)));
    }

    /// Nanoseconds until the earliest deadline; `None` to wait for input only.
    fn timeout(&self) -> Option<u64> {
        let now = self.clock.now();
        let engine = self.engine.poll_timeout().map(|d| timeout_ns(now, d));
        let retry = self.sources.next_retry().map(|d| timeout_ns(now, d));
        let quit = self.quit_at.map(|d| timeout_ns(monotonic_now(), d));
        let devices = self.devices.timeout_ns(&self.engine, now, monotonic_now());
        [engine, retry, quit, devices, self.nts_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn dispatch(&mut self, token: Token, readable: bool, errqueue: bool) {
        match token {
            Token::Resolver => {
                let now = self.clock.now();
                self.sources.handle_responses(now, &mut self.engine);
                self.drain(now);
            }
            Token::Ntp(r) => {
                if errqueue {
                    self.net.receive_errqueue(r, &mut self.engine, &self.clock);
                }
                // POLLERR also means a pending socket error (e.g. an ICMP
                // unreachable on a connected socket): a plain receive
                // returns and clears it, or poll would report it forever.
                if readable || errqueue {
                    self.net.receive(r, &mut self.engine, &mut self.clock);
                }
                let now = self.clock.now();
                self.sources.after_receive(now, &self.engine);
                self.drain(now);
            }
            Token::Command(i) => self.handle_commands(i),
            Token::Rtc => {
                let now = self.clock.now();
                self.devices.handle_rtc_readable(now, &mut self.engine);
                self.drain(now);
            }
            Token::Refclock(i) => {
                self.refclocks
                    .handle_readable(i, &mut self.engine, &self.clock);
                let now = self.clock.now();
                self.drain(now);
            }
            Token::Nts(r) => self.handle_nts(r),
        }
    }

    fn fire_timers(&mut self) {
        if self.quit_at.is_some_and(|t| monotonic_now() >= t) {
            self.quit_at = None;
            self.timeout_reached();
        }
        let now = self.clock.now();
        if self.sources.next_retry().is_some_and(|t| t <= now) {
            self.sources.handle_timeout(now, &mut self.engine);
        }
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.refclocks.poll_due(&mut self.engine, &self.clock);
            self.engine.handle_timeout(now);
        }
        self.devices
            .handle_timeout(now, monotonic_now(), &mut self.engine);
        self.fire_nts_timers();
        self.drain(now);
    }

    /// `-t`: chronyd's "Timeout reached", exit status 1 unless synchronised.
    fn timeout_reached(&mut self) {
        log_event(Severity::Info, "Timeout reached");
        if self.special_mode() {
            // chronyd says only "Timeout reached"; -q/-Q users also get
            // chrony's text for why nothing was measured.
            log_event(Severity::Warn, "No suitable source for synchronisation");
        }
        let now = self.clock.now();
        let t = self.engine.tracking(now);
        let synchronised = (1..16).contains(&t.stratum);
        self.exit.get_or_insert(u8::from(!synchronised));
    }

    /// Applies clock actions, sends datagrams, handles events, and ends a
    /// special mode (`-q`, `-Q`) that can no longer succeed.
    pub fn drain(&mut self, now: UnixTime) {
        if matches!(self.engine.reference().mode(), RefMode::InitStepSlew { .. })
            && self.sources.special_mode_failed(&self.engine)
        {
            self.engine.set_unsynchronised(now);
        }
        self.devices.apply_rtc_actions(&mut self.engine);
        if self.devices.take_init_done() {
            // -s: the sources start once the RTC trimmed the clock.
            self.sources.start(now, &mut self.engine);
            self.engine.rtc_start_measurements();
            self.devices.apply_rtc_actions(&mut self.engine);
        }
        self.outputs.update_known_leap(&mut self.engine, now);
        let resolved = self.sources.first_lookups_done();
        self.outputs
            .after_resolving(resolved, &mut self.engine, now);
        loop {
            self.net.flush(&mut self.engine, &mut self.clock);
            let Some(event) = self.engine.poll_event() else {
                break;
            };
            match self.outputs.handle(event) {
                Some(Request::ReplaceSource(id)) => self.sources.replace(now, id),
                // The end of initstepslew is no exit.
                Some(Request::Exit(code)) if !self.sources.reference_mode_ended(now) => {
                    self.exit.get_or_insert(code);
                }
                Some(Request::Exit(_)) | None => {}
            }
        }
        if self.special_mode()
            && self.exit.is_none()
            && self.sources.special_mode_failed(&self.engine)
        {
            log_event(Severity::Warn, "No suitable source for synchronisation");
            self.exit = Some(1);
        }
    }

    /// Whether `-q`/`-Q` still waits for its measurement.
    fn special_mode(&self) -> bool {
        matches!(
            self.engine.reference().mode(),
            RefMode::UpdateOnce | RefMode::PrintOnce
        )
    }
}
