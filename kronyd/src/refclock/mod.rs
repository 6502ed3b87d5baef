//! Reference clock drivers (chronyd's `refclock_sock.c`, `refclock_shm.c`,
//! `refclock_pps.c`, `refclock_phc.c`): they read samples and pulses from
//! the system and give them to the engine, which filters them and makes
//! the refclocks sources.
//!
//! SOCK pushes datagrams (polled for reading); SHM, PPS and PHC are read
//! when the engine says a driver poll is due ([`Engine::due_refclock_polls`]);
//! a PHC with `:extpps` also reports pulse events on its descriptor. The
//! system calls live in `crate::sys::refclock`; here the layouts are
//! decoded and errors logged with chronyd's texts.

pub mod phc;
pub mod pps;
pub mod shm;
pub mod sock;

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use krony_config::{RefclockDriver, RefclockSpec};
use krony_engine::refclock::RefclockSample;
use krony_engine::select::SourceId;
use krony_engine::{Engine, UnixTime};

use crate::logging::{Severity, log_event};
use crate::sys::refclock::ShmSegment;

/// The daemon's clock as the drivers need it.
pub trait DriverClock {
    /// A raw reading of the disciplined clock.
    fn now(&self) -> UnixTime;
    /// A system clock time (from a device, a socket, shared memory) as a
    /// reading of the disciplined clock (they differ with `-x`).
    fn system_to_clock(&self, t: UnixTime) -> UnixTime;
}

/// One driver.
#[derive(Debug)]
enum Driver {
    Sock { sock: UnixDatagram, path: PathBuf },
    Shm(ShmSegment),
    Pps(pps::PpsDevice),
    Phc(phc::PhcDevice),
}

/// A refclock's driver and the engine's id for it.
#[derive(Debug)]
struct Instance {
    id: SourceId,
    driver: Driver,
}

/// Every configured refclock's driver.
#[derive(Debug, Default)]
pub struct RefclockDrivers {
    list: Vec<Instance>,
}

impl Drop for RefclockDrivers {
    fn drop(&mut self) {
        for i in &self.list {
            if let Driver::Sock { path, .. } = &i.driver {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// chronyd's "failed : strerror" tail of a system error.
pub(crate) fn os_text(e: &crate::sys::SysError) -> String {
    e.raw_os_error().map_or_else(
        || e.to_string(),
        |n| crate::files::os_error_text(&std::io::Error::from_raw_os_error(n)),
    )
}

fn open_driver(spec: &RefclockSpec) -> Result<Driver, String> {
    match &spec.driver {
        RefclockDriver::Sock { path } => {
            let sock = crate::sys::unix::bind(std::path::Path::new(path))
                .map_err(|_| format!("Could not open socket {path}"))?;
            Ok(Driver::Sock {
                sock,
                path: PathBuf::from(path),
            })
        }
        RefclockDriver::Shm { unit, perm } => {
            let key = shm::SHM_KEY.wrapping_add(i32::try_from(*unit).unwrap_or(0));
            ShmSegment::attach(key, perm.unwrap_or(0o600))
                .map(Driver::Shm)
                .map_err(|e| match &e {
                    crate::sys::SysError::Os { op, .. } => format!("{op} failed : {}", os_text(&e)),
                    _ => e.to_string(),
                })
        }
        RefclockDriver::Pps { device, clear } => {
            pps::PpsDevice::open(device, *clear).map(Driver::Pps)
        }
        RefclockDriver::Phc {
            device,
            nocrossts,
            extpps,
            pin,
            channel,
            clear,
        } => {
            let ext = extpps.then(|| (pin.unwrap_or(0), channel.unwrap_or(0), *clear));
            phc::PhcDevice::open(device, *nocrossts, ext).map(Driver::Phc)
        }
        RefclockDriver::Rtc { .. } => Err("unknown refclock driver RTC".to_string()),
    }
}

impl RefclockDrivers {
    /// Opens the drivers of `specs` and adds their refclocks to the engine.
    ///
    /// # Errors
    /// chronyd's fatal messages (a driver that cannot be set up stops the
    /// daemon, as in chronyd).
    pub fn open(
        specs: &[RefclockSpec],
        leapsectz: bool,
        engine: &mut Engine,
    ) -> Result<Self, String> {
        let mut list = Vec::with_capacity(specs.len());
        for spec in specs {
            if spec.options.tai && !leapsectz {
                return Err("refclock tai option requires leapsectz".to_string());
            }
            let driver = open_driver(spec)?;
            let id = engine.add_refclock(spec);
            list.push(Instance { id, driver });
        }
        Ok(RefclockDrivers { list })
    }

    /// The refclocks' ids and refids as text (for the logs).
    pub fn names(&self, engine: &Engine) -> Vec<(SourceId, String)> {
        self.list
            .iter()
            .filter_map(|i| {
                engine
                    .refclock(i.id)
                    .map(|r| (i.id, krony_engine::refclock::ref_id_text(r.ref_id())))
            })
            .collect()
    }

    /// Descriptors to poll for reading, by driver index.
    pub fn fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        self.list
            .iter()
            .enumerate()
            .filter_map(|(n, i)| match &i.driver {
                Driver::Sock { sock, .. } => Some((n, sock.as_fd())),
                Driver::Phc(p) if p.extpps_channel.is_some() => Some((n, p.fd())),
                _ => None,
            })
            .collect()
    }

    /// Reads what driver `index` has ready.
    pub fn handle_readable(&mut self, index: usize, engine: &mut Engine, clock: &dyn DriverClock) {
        let Some(inst) = self.list.get_mut(index) else {
            return;
        };
        let id = inst.id;
        match &mut inst.driver {
            Driver::Sock { sock, .. } => read_sock(sock, id, engine, clock),
            Driver::Phc(p) => read_ext_pulses(p, id, engine, clock),
            _ => {}
        }
    }

    /// Polls the drivers whose poll is due, before the engine's timers run.
    pub fn poll_due(&mut self, engine: &mut Engine, clock: &dyn DriverClock) {
        let due = engine.due_refclock_polls(clock.now());
        for inst in self.list.iter_mut().filter(|i| due.contains(&i.id)) {
            let id = inst.id;
            match &mut inst.driver {
                Driver::Shm(seg) => poll_shm(seg, id, engine, clock),
                Driver::Pps(dev) => match dev.fetch() {
                    Ok(Some((sec, nsec))) => {
                        let real = UnixTime::from_secs_nanos(sec, nsec);
                        let t = clock.system_to_clock(real);
                        let second = nsec as f64 * 1e-9 + t.diff_secs(real);
                        engine.handle_refclock_pulse(clock.now(), id, t, second);
                    }
                    Ok(None) => {}
                    Err(e) => log_event(Severity::Error, e),
                },
                Driver::Phc(dev) => poll_phc(dev, id, engine, clock),
                Driver::Sock { .. } => {}
            }
        }
    }
}

fn read_sock(sock: &UnixDatagram, id: SourceId, engine: &mut Engine, clock: &dyn DriverClock) {
    let mut buf = [0u8; 128];
    loop {
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => {
                log_event(Severity::Debug, format!("Could not read SOCK sample : {e}"));
                return;
            }
        };
        let s = match sock::SockSample::parse(&buf[..n]) {
            Ok(s) => s,
            Err(e) => {
                log_event(Severity::Debug, e);
                continue;
            }
        };
        let real = UnixTime::from_nanos(s.sys_nanos());
        if !(s.offset > -4_294_967_296.0 && s.offset < 4_294_967_296.0) {
            continue;
        }
        let sys = clock.system_to_clock(real);
        let now = clock.now();
        if s.pulse {
            let second = s.offset + sys.diff_secs(real);
            engine.handle_refclock_pulse(now, id, sys, second);
        } else {
            let sample = RefclockSample {
                sys_time: sys,
                ref_time: real.add_secs(s.offset),
                leap: s.leap,
            };
            engine.handle_refclock_sample(now, id, sample);
        }
    }
}

fn poll_shm(seg: &ShmSegment, id: SourceId, engine: &mut Engine, clock: &dyn DriverClock) {
    let copy = seg.read();
    let t = shm::ShmTime::parse(&copy);
    let count_after = shm::ShmTime::parse(&seg.read()).count;
    if !t.usable(count_after) {
        log_event(
            Severity::Debug,
            format!(
                "SHM sample ignored mode={} count={} valid={}",
                t.mode,
                t.count,
                i32::from(t.valid)
            ),
        );
        return;
    }
    seg.write_i32(shm::VALID_OFFSET, 0);
    let sample = RefclockSample {
        sys_time: clock.system_to_clock(UnixTime::from_nanos(shm::nanos(t.receive))),
        ref_time: UnixTime::from_nanos(shm::nanos(t.clock)),
        leap: t.leap,
    };
    engine.handle_refclock_sample(clock.now(), id, sample);
}

fn poll_phc(dev: &mut phc::PhcDevice, id: SourceId, engine: &mut Engine, clock: &dyn DriverClock) {
    let readings = dev.readings();
    let Some(precision) = engine.refclock(id).map(|r| r.params().precision) else {
        return;
    };
    let Some((phc_ns, real_ns, err)) = phc::process_readings(&readings, precision) else {
        return;
    };
    let sys_ns = clock
        .system_to_clock(UnixTime::from_nanos(real_ns))
        .as_nanos();
    dev.remember(phc_ns, sys_ns);
    if dev.extpps_channel.is_some() {
        return;
    }
    log_event(
        Severity::Debug,
        format!(
            "PHC offset: {:+.9} err: {err:.9}",
            (phc_ns - sys_ns) as f64 * 1e-9
        ),
    );
    let sample = RefclockSample {
        sys_time: UnixTime::from_nanos(sys_ns),
        ref_time: UnixTime::from_nanos(phc_ns),
        leap: 0,
    };
    engine.handle_refclock_sample(clock.now(), id, sample);
}

fn read_ext_pulses(
    dev: &mut phc::PhcDevice,
    id: SourceId,
    engine: &mut Engine,
    clock: &dyn DriverClock,
) {
    let Some((channel, phc_ns)) = dev.read_event() else {
        return;
    };
    if Some(channel) != dev.extpps_channel {
        log_event(
            Severity::Debug,
            format!("Unexpected extts channel {channel}"),
        );
        return;
    }
    let Some(sys_ns) = dev.phc_to_sys(phc_ns) else {
        return;
    };
    let now = clock.now();
    let local = engine.cook(UnixTime::from_nanos(sys_ns));
    let second = f64::from(local.subsec_nanos()) * 1e-9;
    let raw_correction = (phc_ns - local.as_nanos()) as f64 * 1e-9;
    engine.handle_refclock_cooked_pulse(now, id, local, second, 0.0, raw_correction);
}
