//! The daemon: start-up and exit as chronyd's `main.c`, around the
//! [`event_loop`].
//!
//! Order: root check, daemonising (the original process waits for the
//! daemon's verdict), the message log, "kronyd version ... starting", the
//! pidfile, the clock ("Disabled control of system clock" with `-x`), the
//! driftfile ("Frequency ... read from ..."), the engine, the sockets, then
//! dropping root (`-u`), memory lock and scheduler, signals, the sources,
//! readiness notification, and the loop. At exit: the engine shuts down,
//! the driftfile and dumps are written, "kronyd exiting".

mod auth;
mod clock;
mod cmdsock;
mod commands;
mod devices;
mod event_loop;
mod hwts;
mod initstepslew;
mod jump;
mod mail;
mod net;
mod nts;
mod output;
mod rtc;
mod sources;
mod tempcomp;

use std::path::PathBuf;
use std::process::ExitCode;

use krony_config::{Config, PathOrDisabled, Warning};
use krony_engine::clock::Clock;
use krony_engine::discipline::RefMode;
use krony_engine::{Engine, EngineConfig};

use self::clock::DaemonClock;
use self::cmdsock::CommandSockets;
use self::devices::Devices;
use self::event_loop::Daemon;
use self::net::{Net, NetConfig};
use self::output::Outputs;
use self::sources::Sources;
use crate::cmdmon::CommandServer;
use crate::files::driftfile::{Driftfile, read_message};
use crate::logging::{self, Logger, Severity, Sink, Syslog, log_event, log_fatal};
use crate::options::{AddressFamily, Options, RunMode};
use crate::resolver::{self, Family};
use crate::sys::clock::{SystemClock, monotonic_now};
use crate::sys::pidfile::PidFile;
use crate::sys::signals::QuitSignals;
use crate::sys::virtual_clock::VirtualClock;
use crate::sys::{SysError, kernel_version, notify, privileges, process, scfilter};

/// chrony's `/var/run/chrony/chronyd.pid`, named for krony.
pub const DEFAULT_PIDFILE: &str = "/var/run/krony/kronyd.pid";

/// Runs the daemon with the parsed options and configuration; `features` is
/// the `-v` list for the starting message.
pub fn run(opts: &Options, config: Config, warnings: &[Warning], features: &str) -> ExitCode {
    if opts.user_check && privileges::real_uid() != 0 {
        eprintln!("Fatal error : Not superuser");
        return ExitCode::FAILURE;
    }
    let parent = if opts.nofork {
        None
    } else {
        match process::daemonize() {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("Fatal error : {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    if let Err(e) = init_logging(opts, parent) {
        eprintln!("Fatal error : {e}");
        return ExitCode::FAILURE;
    }
    log_event(Severity::Info, logging::starting_message(features));
    for w in warnings {
        log_event(Severity::Warn, w);
    }
    let started = match start(opts, config) {
        Ok(s) => s,
        Err(e) => {
            log_fatal(e);
            return ExitCode::FAILURE;
        }
    };
    let (mut daemon, pidfile) = started;
    if let Err(e) = notify_ready(opts) {
        log_fatal(e);
        return ExitCode::FAILURE;
    }
    logging::configure(Logger::close_parent);
    let code = daemon.run();
    shutdown(&mut daemon);
    drop(daemon);
    drop(pidfile);
    ExitCode::from(code)
}

/// The message log: `-l FILE`, else syslog unless `-d`/`-q`/`-Q` (stderr).
fn init_logging(opts: &Options, parent: Option<std::fs::File>) -> Result<(), String> {
    let min = Severity::from_options(opts.debug, opts.log_level);
    let mut logger = if let Some(file) = &opts.log_file {
        Logger::to_file(file, min).map_err(|e| e.to_string())?
    } else if opts.system_log {
        match Syslog::new(logging::SYSLOG_PATH) {
            Ok(s) => Logger::new(Sink::Syslog(s), min),
            Err(e) => return Err(format!("Could not open syslog : {e}")),
        }
    } else {
        Logger::new(Sink::Stderr, min)
    };
    if let Some(p) = parent {
        logger.set_parent(Box::new(p));
    }
    logging::init(logger);
    Ok(())
}

/// Everything between the starting message and the loop.
fn start(opts: &Options, config: Config) -> Result<(Daemon, Option<PidFile>), String> {
    let pidfile = open_pidfile(&config)?;
    let user_name = opts
        .user
        .clone()
        .or_else(|| config.user.clone())
        .unwrap_or_else(|| "root".to_string());
    let user = privileges::lookup_user(&user_name).map_err(|e| e.to_string())?;
    let mut outputs = Outputs::from_config(&config);
    outputs.set_reload_dumps(opts.reload_dumps);
    let mut clock = open_clock(opts, &config)?;
    let rtc_read = opts.init_rtc && rtc::set_clock_at_start(&config, &mut clock);
    let rtc = rtc::RtcDriver::open(&config)?;
    let mut engine = make_engine(opts, &config, &clock, outputs.driftfile())?;
    if let Some(r) = &rtc {
        engine.enable_rtc(r.file_coefs(), config.rtc_autotrim);
    }
    let refclocks = crate::refclock::RefclockDrivers::open(
        &config.refclocks,
        config.leapsec_tz.is_some() || config.leapsec_list.is_some(),
        &mut engine,
    )?;
    outputs.set_refclock_names(refclocks.names(&engine));
    let family = match opts.family {
        Some(AddressFamily::Ipv4) => Family::V4,
        Some(AddressFamily::Ipv6) => Family::V6,
        None => Family::Any,
    };
    let client_only = opts.mode == RunMode::PrintOnce;
    let hw = hwts::enable_all(&config.hwtimestamps)?;
    if !hw.is_empty() {
        crate::sys::socket::enable_hardware_timestamps();
    }
    let mut net = Net::new(NetConfig::from_config(&config, family, client_only));
    net.set_hw_interfaces(hw);
    let keys = auth::load_keys(config.keyfile.as_deref());
    let serving = engine
        .server()
        .is_some_and(|s| s.access().is_any_allowed(false) || s.access().is_any_allowed(true));
    let has_peers = config
        .sources
        .iter()
        .any(|s| s.kind == krony_config::SourceKind::Peer);
    let broadcasting = !config.broadcasts.is_empty();
    let server_open = (serving || has_peers || broadcasting) && net.open_server_sockets();
    net.nts = Some(start_nts(&config)?);
    let special = opts.mode != RunMode::Normal;
    let (commands, mut cmdmon) = if special {
        (CommandSockets::none(), None)
    } else {
        let resolve = |name: &str| {
            resolver::resolve_blocking(name, 0, Family::Any)
                .ok()
                .and_then(|a| a.first().map(|a| a.ip()))
        };
        let server = CommandServer::new(&config, resolve).map_err(|e| e.to_string())?;
        (CommandSockets::open(&config, family), Some(server))
    };
    auth::install_keys(&keys, &mut engine, &mut net, cmdmon.as_mut());
    drop_privileges(opts, &config, &user, &clock, server_open)?;
    let signals = QuitSignals::install().map_err(|e| e.to_string())?;
    let now = clock.now();
    let mut sources = Sources::new(auth::prepare_sources(&keys, config.sources.clone()), family);
    sources.set_source_dirs(config.sourcedirs.clone());
    sources.set_refresh_interval(config.refresh);
    initstepslew::configure(&config, opts.restarted, family, &mut engine, &mut sources);
    if rtc.is_some() && rtc_read {
        // chrony's RTC_TimeInit: the sources wait for the initial trim.
        engine.rtc_start_initial();
    } else {
        sources.start(now, &mut engine);
        engine.rtc_start_measurements();
    }
    let sensor = tempcomp::TempCompSensor::from_config(&config, monotonic_now())?;
    let devices = Devices::new(sensor, rtc);
    engine.start_refclocks(now);
    if opts.scfilter_level != 0 {
        enable_scfilter(opts.scfilter_level, &config)?;
    }
    let quit_at = opts
        .timeout
        .filter(|t| *t >= 0)
        .map(|t| monotonic_now().add_secs(f64::from(t)));
    let daemon = Daemon {
        engine,
        clock,
        net,
        sources,
        outputs,
        signals,
        commands,
        refclocks,
        cmdmon,
        quit_at,
        exit: None,
        devices,
    };
    Ok((daemon, pidfile))
}

/// `-F LEVEL`: the system call filter, last before the loop as in chronyd.
fn enable_scfilter(level: i32, config: &Config) -> Result<(), String> {
    if config.mail_on_change.is_some() {
        return Err("mailonchange directive cannot be used with -F enabled".into());
    }
    scfilter::enable(level).map_err(|e| e.to_string())?;
    log_event(
        Severity::Info,
        format!("Loaded seccomp filter (level {})", level.unsigned_abs()),
    );
    Ok(())
}

/// The NTS client settings and, with `ntsserverkey`, the NTS-KE server.
fn start_nts(config: &Config) -> Result<crate::nts::Nts, String> {
    let mut nts = crate::nts::Nts::new(config);
    let aeads = crate::nts::supported_aeads(&config.nts_aeads);
    nts.server = crate::nts::server::NtsServer::start(config, &aeads, monotonic_now())?;
    Ok(nts)
}

/// Creates and locks the pidfile (`pidfile /` disables it).
fn open_pidfile(config: &Config) -> Result<Option<PidFile>, String> {
    let path = match &config.pidfile {
        PathOrDisabled::Disabled => return Ok(None),
        PathOrDisabled::Default => PathBuf::from(DEFAULT_PIDFILE),
        PathOrDisabled::Path(p) => PathBuf::from(p),
    };
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        // chronyd creates its run directory with the socket; kronyd also
        // when only the pidfile lives there. Errors show up below.
        let _ = crate::files::create_dir_and_parents(dir, 0o755, None);
    }
    PidFile::create(&path).map(Some).map_err(|e| e.to_string())
}

/// Set by krony's tests (`.cargo/config.toml`, `.ci/run`): a kronyd started
/// without `-x` then refuses to run instead of touching the real clock.
const FORBID_CLOCK_ENV: &str = "KRONY_TEST_FORBID_CLOCK_CONTROL";

/// The system clock, or with `-x`/`-Q` a virtual one.
fn open_clock(opts: &Options, config: &Config) -> Result<DaemonClock, String> {
    if opts.clock_control && std::env::var_os(FORBID_CLOCK_ENV).is_some() {
        return Err(format!(
            "control of the system clock is forbidden by {FORBID_CLOCK_ENV} (run with -x)"
        ));
    }
    if opts.clock_control {
        SystemClock::new(config.rtc_sync, config.clock_precision)
            .map(DaemonClock::System)
            .map_err(|e| e.to_string())
    } else {
        log_event(Severity::Info, "Disabled control of system clock");
        Ok(DaemonClock::Virtual(VirtualClock::system(
            config.clock_precision,
        )))
    }
}

/// The engine, with the driftfile's frequency (or the kernel's current one).
fn make_engine(
    opts: &Options,
    config: &Config,
    clock: &DaemonClock,
    driftfile: Option<&Driftfile>,
) -> Result<Engine, String> {
    let resolve = |name: &str| {
        resolver::resolve_blocking(name, 0, Family::Any)
            .ok()
            .and_then(|a| a.first().map(|a| a.ip()))
    };
    let mut cfg = EngineConfig::from_config_with(config, clock.precision(), resolve)
        .map_err(|e| e.to_string())?;
    cfg.discipline.mode = match opts.mode {
        RunMode::Normal => cfg.discipline.mode,
        RunMode::UpdateOnce => RefMode::UpdateOnce,
        RunMode::PrintOnce => RefMode::PrintOnce,
    };
    cfg.discipline.restarted = opts.restarted;
    // -x and -Q: chronyd's null clock driver, which refuses steps.
    cfg.discipline.clock.no_control = !opts.clock_control;
    cfg.discipline.ref_time_fuzz_seed = Some(rand::random());
    cfg.initial_frequency = initial_frequency(clock, driftfile);
    Engine::new(cfg, clock.now(), rand::random()).map_err(|e| e.to_string())
}

/// The frequency error and skew to start from: the driftfile's, else the
/// kernel's current correction with chrony's "rather bad" skew (1e6 ppm).
fn initial_frequency(clock: &DaemonClock, driftfile: Option<&Driftfile>) -> Option<(f64, f64)> {
    if let Some(d) = driftfile {
        match d.read() {
            Ok(drift) => {
                log_event(Severity::Info, read_message(&drift, d.path()));
                return Some((drift.frequency_ppm, drift.skew_ppm));
            }
            Err(e) => log_event(e.severity(), e),
        }
    }
    match clock {
        DaemonClock::System(c) => c.current_correction_ppm().ok().map(|ppm| (-ppm, 1e6)),
        DaemonClock::Virtual(_) => None,
    }
}

/// `-u USER` (or `user`): drop root keeping the capabilities still needed;
/// then `-m`/`lock_all` and `-P`/`sched_priority`.
fn drop_privileges(
    opts: &Options,
    config: &Config,
    user: &privileges::User,
    clock: &DaemonClock,
    server_open: bool,
) -> Result<(), String> {
    let priority = if opts.sched_priority != 0 {
        opts.sched_priority
    } else {
        i32::try_from(config.sched_priority).unwrap_or(0)
    };
    // chronyd's texts: a bad priority is fatal, a refusal only logged.
    if priority != 0 {
        match privileges::set_fifo_scheduler(priority) {
            Err(SysError::InvalidArgument(msg)) => return Err(msg),
            Err(_) => log_event(Severity::Error, "pthread_setschedparam() failed"),
            Ok(_) => {}
        }
    }
    if opts.lock_memory || config.lock_all {
        match privileges::lock_memory() {
            Err(SysError::Os { op, .. }) if op.starts_with("setrlimit") => {
                log_event(Severity::Error, "setrlimit() failed");
            }
            Err(_) => log_event(Severity::Error, "mlockall() failed"),
            Ok(()) => {}
        }
    }
    if privileges::effective_uid() == 0 && (user.uid != 0 || user.gid != 0) {
        let port = if server_open { config.port } else { 0 };
        let kernel = kernel_version().unwrap_or((0, 0, 0));
        let caps = privileges::capabilities_to_keep(
            port,
            config.bind_device.is_some() || config.bind_acq_device.is_some(),
            kernel,
            clock.controls_system_clock(),
        );
        privileges::drop_root(user, &caps).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `NOTIFY_SOCKET` (systemd) and `-N FD`.
fn notify_ready(opts: &Options) -> Result<(), String> {
    notify::notify_systemd(notify::READY).map_err(|e| e.to_string())?;
    if let Some(fd) = opts.notify_fd {
        notify::notify_fd(fd).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Before exiting: the engine leaves the clock at its frequency, then the
/// driftfile and the dumps are written.
fn shutdown(daemon: &mut Daemon) {
    let _ = notify::notify_systemd(notify::STOPPING);
    let now = daemon.clock.now();
    daemon.engine.shutdown(now);
    daemon.drain(now);
    let (freq, skew) = daemon.engine.reference().driftfile_values();
    if daemon.outputs.driftfile().is_some() {
        daemon.outputs.write_driftfile(freq, skew);
    }
    daemon.outputs.dump_sources(&daemon.engine, now);
    if let Some(r) = &mut daemon.devices.rtc {
        // With -x the frequency correction lives in the virtual clock:
        // chronyd's null driver drops it with the offset at exit.
        let unapplied = match &daemon.clock {
            DaemonClock::Virtual(v) => v.correction_secs(),
            DaemonClock::System(_) => 0.0,
        };
        r.finish(&daemon.engine, unapplied);
    }
    daemon.save_nts();
    log_event(Severity::Info, logging::exiting_message());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfile_directive_and_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run/k.pid");
        let text = format!("pidfile {}\n", path.display());
        let parsed = krony_config::parse_str(&text, "t").expect("config");
        let pf = open_pidfile(&parsed.config).expect("pidfile");
        assert!(pf.is_some() && path.exists());
        let second = open_pidfile(&parsed.config);
        assert!(second.is_err_and(|e| e.contains("Another kronyd may already be running")),);
        drop(pf);
        let parsed = krony_config::parse_str("pidfile /\n", "t").expect("config");
        assert!(open_pidfile(&parsed.config).expect("disabled").is_none());
    }
}
