//! The NTP sockets (chrony's `ntp_io.c`): the server sockets on `port`, the
//! shared acquisition sockets of `acquisitionport`, and a connected socket
//! per client request on a random source port otherwise. Packets go to the
//! engine with their kernel receive timestamps (or the daemon's reading of
//! the clock), and transmit timestamps come back from the error queue.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use krony_config::Config;
use krony_engine::clock::{Clock, ClockAction};
use krony_engine::hwclock::FreeRunning;
use krony_engine::select::SourceId;
use krony_engine::server::NtsCheck;
use krony_engine::source::TimestampKind;
use krony_engine::{Engine, Incoming, RxSocket, Transmit, UnixTime};
use krony_wire::ntp::{HEADER_LEN, NtpRepr, ptp};

use super::clock::DaemonClock;
use super::hwts::{HwInterface, RxInfo};
use crate::keys::KeyStore;
use crate::logging::{Severity, log_event};
use crate::nts::Nts;
use crate::resolver::Family;
use crate::sys::SysError;
use crate::sys::clock::{monotonic_now, realtime_now};
use crate::sys::frame::find_udp_payload;
use crate::sys::socket::{self, LocalAddr, UdpConfig, UdpSocket};

/// Largest datagram read; NTP packets with extension fields stay far below.
const RECV_BUFFER: usize = 2048;

/// At most this many datagrams are read from one socket per wake-up, so a
/// flood on one socket cannot starve the others (the loop comes back).
const MAX_RECV_PER_WAKE: usize = 64;

/// Which socket a descriptor in the poll set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRef {
    /// A server socket (index into the server list).
    Server(usize),
    /// A shared acquisition socket.
    Acquisition(usize),
    /// The current request socket of a source.
    Client(SourceId),
    /// An NTP-over-PTP socket (`ptpport`).
    Ptp(usize),
}

/// Socket settings from the configuration and the command line.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// `-4` / `-6`.
    pub family: Family,
    /// `port` (0: no server sockets).
    pub port: u16,
    /// `bindaddress` per family.
    pub bind_v4: Option<Ipv4Addr>,
    /// `bindaddress` for IPv6.
    pub bind_v6: Option<Ipv6Addr>,
    /// `binddevice`.
    pub device: Option<String>,
    /// `acquisitionport` (None or 0: a new random port per request).
    pub acq_port: Option<u16>,
    /// `bindacqaddress`.
    pub acq_v4: Option<Ipv4Addr>,
    /// `bindacqaddress` for IPv6.
    pub acq_v6: Option<Ipv6Addr>,
    /// `bindacqdevice`.
    pub acq_device: Option<String>,
    /// `dscp`.
    pub dscp: u8,
    /// `broadcast` lines exist: server sockets are opened even with
    /// `port 0` (on a random port then, as chronyd does).
    pub broadcast: bool,
    /// `ptpport` (0: no NTP over PTP).
    pub ptp_port: u16,
}

impl NetConfig {
    /// The settings of `config` restricted to `family`; `client_only` (`-Q`)
    /// opens no server port.
    pub fn from_config(config: &Config, family: Family, client_only: bool) -> Self {
        NetConfig {
            family,
            port: if client_only { 0 } else { config.port },
            bind_v4: config.bind_address.v4,
            bind_v6: config.bind_address.v6,
            device: config.bind_device.clone(),
            acq_port: config.acquisition_port.filter(|&p| p != 0),
            acq_v4: config.bind_acq_address.v4,
            acq_v6: config.bind_acq_address.v6,
            acq_device: config.bind_acq_device.clone(),
            dscp: config.dscp,
            broadcast: !config.broadcasts.is_empty(),
            ptp_port: config.ptp_port,
        }
    }

    /// The local addresses for sockets of both families allowed.
    fn locals(&self, v4: Option<Ipv4Addr>, v6: Option<Ipv6Addr>, port: u16) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        if self.family.accepts(&IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
            out.push(SocketAddr::new(
                IpAddr::V4(v4.unwrap_or(Ipv4Addr::UNSPECIFIED)),
                port,
            ));
        }
        if self.family.accepts(&IpAddr::V6(Ipv6Addr::UNSPECIFIED)) {
            out.push(SocketAddr::new(
                IpAddr::V6(v6.unwrap_or(Ipv6Addr::UNSPECIFIED)),
                port,
            ));
        }
        out
    }

    /// The wildcard (or `bindacqaddress`) of `remote`'s family, port 0.
    fn client_local(&self, remote: &SocketAddr) -> SocketAddr {
        let ip = match remote {
            SocketAddr::V4(_) => IpAddr::V4(self.acq_v4.unwrap_or(Ipv4Addr::UNSPECIFIED)),
            SocketAddr::V6(_) => IpAddr::V6(self.acq_v6.unwrap_or(Ipv6Addr::UNSPECIFIED)),
        };
        SocketAddr::new(ip, 0)
    }
}

/// The NTP sockets.
#[derive(Debug)]
pub struct Net {
    cfg: NetConfig,
    server: Vec<UdpSocket>,
    acquisition: Vec<UdpSocket>,
    clients: BTreeMap<SourceId, UdpSocket>,
    /// NTP-over-PTP sockets on `ptpport`: clients of sources on that port
    /// and the server for requests arriving there (chrony shares them).
    ptp: Vec<UdpSocket>,
    /// Interfaces with hardware timestamping on (`hwtimestamp`).
    hw: Vec<HwInterface>,
    /// The system clock's corrections, which the PHC tracking takes out.
    free: FreeRunning,
    buf: Vec<u8>,
    /// Buffers of one recvmmsg call.
    batch: Vec<Vec<u8>>,
    /// Their addresses, control messages and results (taken while in use).
    scratch: Option<socket::RecvScratch>,
    /// Whether the server sockets were tried (they are opened once).
    server_tried: bool,
    /// The `keyfile` keys: requests of sources with a key are signed, and
    /// MACs of packets from sources are checked, here.
    keys: KeyStore,
    /// NTS: requests of NTS sources are protected and their responses
    /// checked here, and NTS requests to the server checked and answered.
    pub nts: Option<Nts>,
}

impl Net {
    /// No sockets yet; the acquisition sockets are opened here.
    pub fn new(cfg: NetConfig) -> Self {
        let mut net = Net {
            server: Vec::new(),
            acquisition: Vec::new(),
            clients: BTreeMap::new(),
            ptp: Vec::new(),
            hw: Vec::new(),
            free: FreeRunning::default(),
            buf: vec![0; RECV_BUFFER],
            batch: Vec::new(),
            scratch: Some(socket::RecvScratch::default()),
            server_tried: false,
            keys: KeyStore::default(),
            nts: None,
            cfg,
        };
        if let Some(port) = net.cfg.acq_port {
            for local in net.cfg.locals(net.cfg.acq_v4, net.cfg.acq_v6, port) {
                let device = net.cfg.acq_device.clone();
                match open(local, None, device.as_deref(), net.cfg.dscp, true) {
                    Ok(s) => net.acquisition.push(s),
                    Err(e) => log_open_failure(&local, &e),
                }
            }
        }
        if net.cfg.ptp_port != 0 {
            let port = net.cfg.ptp_port;
            for local in net.cfg.locals(net.cfg.bind_v4, net.cfg.bind_v6, port) {
                let device = net.cfg.device.clone();
                match open(local, None, device.as_deref(), net.cfg.dscp, false) {
                    Ok(s) => net.ptp.push(s),
                    Err(e) => log_open_failure(&local, &e),
                }
            }
        }
        net
    }

    /// The interfaces whose hardware timestamps are used.
    pub fn set_hw_interfaces(&mut self, hw: Vec<HwInterface>) {
        self.hw = hw;
    }

    /// The keys to sign and check symmetric-key MACs with.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// Replaces the keys (start-up and `rekey`).
    pub fn set_keys(&mut self, keys: KeyStore) {
        self.keys = keys;
    }

    /// Opens the server sockets (chrony opens them once NTP access is
    /// allowed to someone or a peer exists). Returns whether one is open.
    pub fn open_server_sockets(&mut self) -> bool {
        if self.server_tried || (self.cfg.port == 0 && !self.cfg.broadcast) {
            return !self.server.is_empty();
        }
        self.server_tried = true;
        for local in self
            .cfg
            .locals(self.cfg.bind_v4, self.cfg.bind_v6, self.cfg.port)
        {
            let device = self.cfg.device.clone();
            match open(local, None, device.as_deref(), self.cfg.dscp, false) {
                Ok(s) => {
                    log_event(Severity::Debug, format!("Opened NTP socket on {local}"));
                    self.server.push(s);
                }
                Err(e) => log_open_failure(&local, &e),
            }
        }
        !self.server.is_empty()
    }

    /// The sockets to poll, with their references.
    pub fn sockets(&self) -> impl Iterator<Item = (SocketRef, &UdpSocket)> {
        let server = self
            .server
            .iter()
            .enumerate()
            .map(|(i, s)| (SocketRef::Server(i), s));
        let acq = self
            .acquisition
            .iter()
            .enumerate()
            .map(|(i, s)| (SocketRef::Acquisition(i), s));
        let clients = self
            .clients
            .iter()
            .map(|(id, s)| (SocketRef::Client(*id), s));
        let ptp = self
            .ptp
            .iter()
            .enumerate()
            .map(|(i, s)| (SocketRef::Ptp(i), s));
        server.chain(acq).chain(clients).chain(ptp)
    }

    /// Closes the request sockets of sources that were removed.
    pub fn retain_sources(&mut self, engine: &Engine) {
        self.clients.retain(|id, _| engine.source(*id).is_some());
    }

    fn socket(&self, r: SocketRef) -> Option<&UdpSocket> {
        match r {
            SocketRef::Server(i) => self.server.get(i),
            SocketRef::Acquisition(i) => self.acquisition.get(i),
            SocketRef::Client(id) => self.clients.get(&id),
            SocketRef::Ptp(i) => self.ptp.get(i),
        }
    }

    /// Reads what is waiting on a socket, [`socket::RECV_BATCH`] datagrams
    /// per system call, and gives it to the engine.
    pub fn receive(&mut self, r: SocketRef, engine: &mut Engine, clock: &mut DaemonClock) {
        let mut batch = std::mem::take(&mut self.batch);
        let mut scratch = self.scratch.take().unwrap_or_default();
        batch.resize_with(socket::RECV_BATCH, || vec![0; RECV_BUFFER]);
        let mut read = 0;
        while read < MAX_RECV_PER_WAKE {
            let Some(sock) = self.socket(r) else { break };
            let got = match sock.recv_many(&mut batch, &mut scratch) {
                Ok(got) => got,
                Err(e) => {
                    // ECONNREFUSED after an ICMP port unreachable, etc.
                    log_event(Severity::Debug, format!("Could not receive: {e}"));
                    break;
                }
            };
            read += got.len();
            for (got, buf) in got.iter().zip(&batch) {
                self.deliver(r, got, buf, engine, clock);
            }
            // A short batch emptied the queue.
            if got.len() < batch.len() {
                break;
            }
        }
        self.batch = batch;
        self.scratch = Some(scratch);
    }

    /// Gives one received datagram to the engine and sends what it answers.
    fn deliver(
        &mut self,
        r: SocketRef,
        got: &socket::Received,
        buf: &[u8],
        engine: &mut Engine,
        clock: &mut DaemonClock,
    ) {
        let Some(from) = got.from.or(match r {
            SocketRef::Client(id) => engine.source(id).map(|s| s.remote()),
            _ => None,
        }) else {
            return;
        };
        if got.truncated {
            return;
        }
        let Some(payload) = self.payload(r, &buf[..got.len.min(buf.len())]) else {
            return;
        };
        let now = clock.now();
        let hw = self.hw_time(got, payload.len(), from.is_ipv4());
        let (rx_time, rx_kind) = match (hw, got.rx_timestamp) {
            (Some(t), _) => (clock.kernel_to_clock(t), TimestampKind::Hardware),
            (None, Some(ts)) if ts.kind == socket::TimestampKind::Kernel => {
                (clock.kernel_to_clock(ts.time), TimestampKind::Kernel)
            }
            _ => (now, TimestampKind::Daemon),
        };
        let bytes = &buf[payload];
        let (nts_verified, nts) = self.nts_checks(r, bytes, from, engine);
        let incoming = Incoming {
            bytes,
            from,
            local: got.local.map(|l| l.addr),
            rx_time,
            rx_kind,
            socket: match r {
                SocketRef::Client(id) => RxSocket::Client(id),
                _ => RxSocket::Server,
            },
            mac_verified: nts_verified || self.mac_verified(bytes),
            nts,
        };
        engine.handle_packet(now, &incoming);
        self.flush(engine, clock);
    }

    /// The system time of a datagram's hardware receive timestamp, if it
    /// came through an interface with hardware timestamping whose clock is
    /// tracked.
    fn hw_time(&mut self, got: &socket::Received, len: usize, ipv4: bool) -> Option<UnixTime> {
        let (hw, kernel) = (got.hw_timestamp?, got.rx_timestamp?);
        let index = got.local?.if_index;
        let iface = self.hw.iter_mut().find(|i| i.rx && i.if_index == index)?;
        iface.convert(hw, kernel.time, Some(RxInfo { len, ipv4 }), &self.free)
    }

    /// Where the NTP message is in a datagram received on `r`: all of it,
    /// or what a PTP message carries on a `ptpport` socket (`None`: not
    /// NTP over PTP, dropped as chronyd drops it).
    fn payload(&self, r: SocketRef, datagram: &[u8]) -> Option<std::ops::Range<usize>> {
        if !matches!(r, SocketRef::Ptp(_)) {
            return Some(0..datagram.len());
        }
        match ptp::unwrap(datagram, ptp::PTP_DOMAIN_NTP) {
            Ok(inner) => {
                log_event(
                    Severity::Debug,
                    format!("Unwrapped PTP->NTP len={}", inner.ntp.len()),
                );
                Some(ptp::PTP_PREFIX_LEN..datagram.len())
            }
            Err(_) => {
                log_event(Severity::Debug, "Unexpected PTP message");
                None
            }
        }
    }

    /// NTS: whether a response from an NTS source is authentic, and the
    /// verdict on an NTS request to the server.
    fn nts_checks(
        &mut self,
        r: SocketRef,
        bytes: &[u8],
        from: SocketAddr,
        engine: &mut Engine,
    ) -> (bool, NtsCheck) {
        const MODE_CLIENT: u8 = 3;
        let Some(nts) = self.nts.as_mut() else {
            return (false, NtsCheck::NotChecked);
        };
        nts.clear_pending();
        if bytes.len() <= HEADER_LEN {
            return (false, NtsCheck::NotChecked);
        }
        if bytes.first().is_some_and(|b| b & 0x7 == MODE_CLIENT) {
            return (false, nts.check_request(bytes, from));
        }
        let source = match r {
            SocketRef::Client(id) => Some(id),
            _ => engine.source_by_addr(from),
        };
        match source {
            Some(id) if nts.is_client(id) => (
                nts.check_response(id, bytes, engine, monotonic_now()),
                NtsCheck::NotChecked,
            ),
            _ => (false, NtsCheck::NotChecked),
        }
    }

    /// Whether a packet for a source (not a client request: the engine's
    /// server checks those itself) carries a MAC valid with the key it
    /// names; the source then checks that the key is its own.
    fn mac_verified(&self, bytes: &[u8]) -> bool {
        const MODE_CLIENT: u8 = 3;
        if self.keys.is_empty()
            || bytes.len() <= HEADER_LEN
            || bytes.first().is_some_and(|b| b & 0x7 == MODE_CLIENT)
        {
            return false;
        }
        NtpRepr::parse_bytes(bytes).is_ok_and(|repr| self.keys.verify(bytes, &repr))
    }

    /// Reads the transmit timestamps waiting on a socket's error queue.
    pub fn receive_errqueue(&mut self, r: SocketRef, engine: &mut Engine, clock: &DaemonClock) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..MAX_RECV_PER_WAKE {
            let Some(sock) = self.socket(r) else { break };
            let msg = match sock.recv_errqueue(&mut buf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    log_event(Severity::Debug, format!("Error queue: {e}"));
                    break;
                }
            };
            let Some(ts) = msg.tx_timestamp else { continue };
            // A hardware TX timestamp comes in a report of its own, without
            // a software one: the system time now stands in for it.
            let kernel = match ts.kind {
                socket::TimestampKind::Kernel => ts.time,
                socket::TimestampKind::Hardware => realtime_now(),
            };
            let hw = msg.hw_timestamp.zip(msg.local).and_then(|(hw, local)| {
                let iface = self.hw.iter_mut().find(|i| i.if_index == local.if_index)?;
                iface.convert(hw, kernel, None, &self.free)
            });
            if hw.is_none() && ts.kind != socket::TimestampKind::Kernel {
                continue;
            }
            let frame = &buf[..msg.len.min(buf.len())];
            let Some(found) = find_udp_payload(frame) else {
                continue;
            };
            let source = match r {
                SocketRef::Client(id) => Some(id),
                _ => engine.source_by_addr(found.remote),
            };
            let Some(payload) = frame.get(found.payload.clone()) else {
                continue;
            };
            let Some(inner) = self.payload(r, payload) else {
                continue;
            };
            let payload = &payload[inner];
            let (time, kind) = match hw {
                Some(t) => (t, TimestampKind::Hardware),
                None => (ts.time, TimestampKind::Kernel),
            };
            engine.handle_tx_timestamp(source, payload, clock.kernel_to_clock(time), kind);
        }
        self.buf = buf;
    }

    /// Applies the engine's clock actions and sends its datagrams.
    pub fn flush(&mut self, engine: &mut Engine, clock: &mut DaemonClock) {
        loop {
            while let Some(action) = engine.poll_clock_action() {
                if clock.controls_system_clock() && !self.hw.is_empty() {
                    self.follow_clock(&action);
                }
                if let Err(e) = clock.apply(action) {
                    log_event(Severity::Error, format!("Could not adjust clock : {e}"));
                }
            }
            let Some(mut t) = engine.poll_transmit() else {
                break;
            };
            // A server response's transmit timestamp is read last, after
            // the request was processed, as chronyd reads it: time spent
            // before would count as network delay on our side only and
            // shift the client's offset by half of it.
            engine.stamp_transmit(&mut t, clock.now());
            self.send(&t, engine, clock);
        }
    }

    /// NTS fields for a source's request or a response to an NTS request:
    /// `Ok(None)` when none are needed, `Err` when the packet must not go.
    fn nts_protect(&mut self, t: &Transmit) -> Result<Option<Vec<u8>>, ()> {
        let Some(nts) = self.nts.as_mut() else {
            return Ok(None);
        };
        match t.source {
            Some(id) if t.new_client_socket && nts.is_client(id) => {
                nts.protect_request(id, &t.bytes).map(Some).ok_or(())
            }
            Some(_) => Ok(None),
            None => nts.protect_response(&t.bytes, t.to),
        }
    }

    /// Keeps the PHC tracking on the system clock's time scale as kronyd
    /// corrects it: its rate and its steps.
    fn follow_clock(&mut self, action: &ClockAction) {
        match *action {
            ClockAction::SetFrequency { correction_ppm } => {
                let rate = 1.0 + correction_ppm * 1e-6;
                self.free.set_rate(realtime_now(), rate);
            }
            ClockAction::Step { offset } => self.free.step(offset),
            _ => {}
        }
    }

    /// Sends one datagram from the right socket.
    fn send(&mut self, t: &Transmit, engine: &mut Engine, clock: &DaemonClock) {
        let protected;
        let t = match self.nts_protect(t) {
            Ok(None) => t,
            Ok(Some(bytes)) => {
                protected = Transmit { bytes, ..t.clone() };
                &protected
            }
            Err(()) => {
                log_event(
                    Severity::Debug,
                    format!("Could not generate NTS auth data for {}", t.to),
                );
                if let Some(id) = t.source {
                    engine.handle_send_error(clock.now(), id);
                }
                return;
            }
        };
        let signed;
        let t = match t.mac_key_id {
            None => t,
            Some(key_id) => match self.keys.sign(&t.bytes, key_id) {
                Some(bytes) => {
                    signed = Transmit { bytes, ..t.clone() };
                    &signed
                }
                None => {
                    // chrony does not send a request it cannot authenticate.
                    log_event(
                        Severity::Debug,
                        format!("Could not generate auth data with key {key_id}"),
                    );
                    if let Some(id) = t.source {
                        engine.handle_send_error(clock.now(), id);
                    }
                    return;
                }
            },
        };
        let result = match (t.source, t.new_client_socket) {
            _ if self.is_ptp(&t.to) => self.send_ptp(t),
            (Some(id), true) if self.acquisition.is_empty() => self.send_new_socket(id, t),
            (_, true) => match find_family(&self.acquisition, &t.to) {
                Some(s) => s.send(&t.bytes, Some(&t.to), None, t.wants_tx_timestamp),
                None => Err(no_socket(&t.to)),
            },
            (source, false) => self.send_server(source, t),
        };
        if let Err(e) = result {
            log_event(Severity::Debug, format!("Could not send to {} : {e}", t.to));
            if let Some(id) = t.source {
                engine.handle_send_error(clock.now(), id);
            }
        }
    }

    /// Whether `to` is reached with NTP over PTP (its port is `ptpport`).
    fn is_ptp(&self, to: &SocketAddr) -> bool {
        self.cfg.ptp_port != 0 && to.port() == self.cfg.ptp_port
    }

    /// Sends `t` wrapped in a PTP message from the `ptpport` socket.
    fn send_ptp(&self, t: &Transmit) -> Result<usize, SysError> {
        let sock = find_family(&self.ptp, &t.to).ok_or_else(|| no_socket(&t.to))?;
        let wrapped = ptp::wrap(&t.bytes, ptp::PTP_DOMAIN_NTP)
            .map_err(|e| SysError::InvalidArgument(e.to_string()))?;
        log_event(
            Severity::Debug,
            format!("Wrapped NTP->PTP len={}", t.bytes.len()),
        );
        let from = t.local.map(|addr| LocalAddr { addr, if_index: 0 });
        sock.send(&wrapped, Some(&t.to), from.as_ref(), t.wants_tx_timestamp)
    }

    /// A client request from a new connected socket on a random port (the
    /// previous one is closed: a late response to an old request is dropped).
    fn send_new_socket(&mut self, id: SourceId, t: &Transmit) -> Result<usize, SysError> {
        self.clients.remove(&id);
        let local = self.cfg.client_local(&t.to);
        let device = self.cfg.acq_device.clone();
        let sock = open(local, Some(t.to), device.as_deref(), self.cfg.dscp, true)?;
        let sent = sock.send(&t.bytes, None, None, t.wants_tx_timestamp);
        self.clients.insert(id, sock);
        sent
    }

    /// Server responses and peer packets leave from the server socket.
    fn send_server(&mut self, source: Option<SourceId>, t: &Transmit) -> Result<usize, SysError> {
        if self.server.is_empty() {
            if let Some(id) = source {
                // A peer with no server port: its own socket, as a client.
                return self.send_new_socket(id, t);
            }
        }
        let sock = find_family(&self.server, &t.to).ok_or_else(|| no_socket(&t.to))?;
        let from = t.local.map(|addr| LocalAddr { addr, if_index: 0 });
        sock.send(&t.bytes, Some(&t.to), from.as_ref(), t.wants_tx_timestamp)
    }
}

/// Opens one UDP socket.
fn open(
    local: SocketAddr,
    remote: Option<SocketAddr>,
    device: Option<&str>,
    dscp: u8,
    client_only: bool,
) -> Result<UdpSocket, SysError> {
    UdpSocket::open(&UdpConfig {
        local,
        remote,
        device,
        dscp,
        client_only,
    })
}

/// The socket of `to`'s family among `socks`.
fn find_family<'a>(socks: &'a [UdpSocket], to: &SocketAddr) -> Option<&'a UdpSocket> {
    socks.iter().find(|s| s.is_ipv4() == to.is_ipv4())
}

fn no_socket(to: &SocketAddr) -> SysError {
    SysError::InvalidArgument(format!("no socket for the address family of {to}"))
}

/// chrony's message for a socket that could not be opened (an error; the
/// daemon goes on without it).
fn log_open_failure(local: &SocketAddr, e: &SysError) {
    let severity = match local {
        // A host without IPv6 is normal.
        SocketAddr::V6(_) => Severity::Debug,
        SocketAddr::V4(_) => Severity::Error,
    };
    log_event(
        severity,
        format!("Could not open NTP socket on {local} : {e}"),
    );
}

/// The raw time `deadline` is away from `now`, in nanoseconds (0 if past).
pub fn timeout_ns(now: UnixTime, deadline: UnixTime) -> u64 {
    u64::try_from(deadline.as_nanos().saturating_sub(now.as_nanos())).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_relative_and_never_negative() {
        let now = UnixTime::from_secs_nanos(100, 0);
        assert_eq!(
            timeout_ns(now, UnixTime::from_secs_nanos(101, 5)),
            1_000_000_005
        );
        assert_eq!(timeout_ns(now, UnixTime::from_secs_nanos(99, 0)), 0);
    }

    #[test]
    fn locals_follow_the_family_and_bind_addresses() {
        let parsed =
            krony_config::parse_str("bindaddress 127.0.0.1\nport 12345\n", "t").expect("config");
        let cfg = NetConfig::from_config(&parsed.config, Family::Any, false);
        let l = cfg.locals(cfg.bind_v4, cfg.bind_v6, cfg.port);
        assert_eq!(
            l,
            vec![
                "127.0.0.1:12345".parse().expect("addr"),
                "[::]:12345".parse().expect("addr")
            ]
        );
        let cfg = NetConfig::from_config(&parsed.config, Family::V6, true);
        assert_eq!(cfg.port, 0);
        assert_eq!(cfg.locals(None, None, 1).len(), 1);
        let remote: SocketAddr = "[2001:db8::1]:123".parse().expect("addr");
        assert_eq!(cfg.client_local(&remote), "[::]:0".parse().expect("addr"));
    }
}
