//! UDP sockets for NTP, opened and used as chronyd does (socket.c, ntp_io.c,
//! ntp_io_linux.c), with kernel receive timestamps and transmit timestamps
//! from the error queue.
//!
//! Per socket: `socket(domain, SOCK_DGRAM, 0)`, O_NONBLOCK and FD_CLOEXEC by
//! fcntl; IPV6_V6ONLY on IPv6; IP_PKTINFO / IPV6_RECVPKTINFO to learn the local
//! address of each request; SO_BINDTODEVICE (`binddevice`); SO_REUSEADDR,
//! SO_REUSEPORT when binding a fixed port and IP_FREEBIND always; SO_BROADCAST
//! on server sockets; IP_TOS / IPV6_TCLASS (`dscp`); then SO_SELECT_ERR_QUEUE
//! and SO_TIMESTAMPING with software RX and TX timestamps, falling back to
//! SO_TIMESTAMPNS and SO_TIMESTAMP. Client sockets (one per server, connected,
//! on a random source port) timestamp every transmission; server sockets ask
//! for a TX timestamp per message, as chronyd does on kernels since 4.7.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use krony_wire::UnixTime;

pub use super::cmsg::LocalAddr;
use super::cmsg::{self, Builder};
use super::sockaddr::{RawAddr, family_of};
use super::{Aligned, SysError, fd, kernel_version};

/// Room for the control messages we receive: pktinfo (in6_pktinfo, 20),
/// SCM_TIMESTAMPING (3 timespecs), sock_extended_err with its offender
/// address, with room to spare (chrony uses 256 bytes too).
const CONTROL_LEN: usize = 256;

/// Datagrams read by one [`UdpSocket::recv_many`] call (chronyd reads 16).
pub const RECV_BATCH: usize = fd::MAX_MMSG;

/// The buffers of [`UdpSocket::recv_many`] besides the data: senders'
/// addresses and control messages of one batch, and its results. Kept by
/// the caller from call to call: the kernel overwrites what it uses and
/// only that is read, so a busy server does not allocate or clear ~6 kB
/// per wake-up.
/// (Boxed: moving it costs a few pointers.)
pub struct RecvScratch {
    names: Box<[RawAddr; RECV_BATCH]>,
    controls: Box<[Aligned<CONTROL_LEN>; RECV_BATCH]>,
    raw: Box<[fd::RecvResult; RECV_BATCH]>,
    received: Vec<Received>,
}

impl Default for RecvScratch {
    fn default() -> Self {
        RecvScratch {
            names: Box::new(std::array::from_fn(|_| RawAddr::empty())),
            controls: Box::new([Aligned::zeroed(); RECV_BATCH]),
            raw: Box::new([fd::RecvResult::default(); RECV_BATCH]),
            received: Vec::with_capacity(RECV_BATCH),
        }
    }
}

impl std::fmt::Debug for RecvScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvScratch").finish_non_exhaustive()
    }
}

/// SOF_TIMESTAMPING_* flags (linux/net_tstamp.h) chronyd enables for software
/// timestamps: SOFTWARE (report them) and RX_SOFTWARE (take them on receive);
/// OPT_CMSG makes looped-back packets carry IP_PKTINFO too.
const TS_RX_FLAGS: u32 = libc::SOF_TIMESTAMPING_SOFTWARE
    | libc::SOF_TIMESTAMPING_RX_SOFTWARE
    | libc::SOF_TIMESTAMPING_OPT_CMSG;
/// TX_SOFTWARE: take a timestamp when the packet leaves, report it on the error queue.
const TS_TX_FLAGS: u32 = libc::SOF_TIMESTAMPING_TX_SOFTWARE;

/// How a socket gets kernel timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampMode {
    /// SO_TIMESTAMPING: RX timestamps, and TX timestamps on the error queue,
    /// for every transmission (`tx_permanent`) or those that ask for one.
    Timestamping {
        /// Whether every transmission is timestamped (client sockets, old kernels).
        tx_permanent: bool,
    },
    /// SO_TIMESTAMPNS: RX timestamps only, in nanoseconds.
    Nanoseconds,
    /// SO_TIMESTAMP: RX timestamps only, in microseconds.
    Microseconds,
    /// No kernel timestamps: the daemon must read the clock itself.
    None,
}

/// Where a kernel timestamp was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampKind {
    /// By the kernel's network stack, on the system clock.
    Kernel,
    /// By the network card, on its own clock (not converted; krony does not
    /// enable hardware timestamping yet).
    Hardware,
}

/// A kernel timestamp and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelTimestamp {
    /// The time.
    pub time: UnixTime,
    /// Its source.
    pub kind: TimestampKind,
}

/// How to open a UDP socket.
#[derive(Debug, Clone)]
pub struct UdpConfig<'a> {
    /// Local address and port: the family comes from here; the socket is bound
    /// when the port is not 0 or the address is not the wildcard. Port 0 with
    /// the wildcard gives a random source port (client sockets).
    pub local: SocketAddr,
    /// Connect to this server (client sockets, one per server).
    pub remote: Option<SocketAddr>,
    /// `binddevice` / `bindacqdevice`: SO_BINDTODEVICE.
    pub device: Option<&'a str>,
    /// `dscp`: 1..63 sets IP_TOS / IPV6_TCLASS to dscp << 2; 0 leaves it.
    pub dscp: u8,
    /// A client-only socket (timestamps every transmission, no SO_BROADCAST).
    pub client_only: bool,
}

/// A received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The sender.
    pub from: Option<SocketAddr>,
    /// Our address and interface it arrived on (IP_PKTINFO).
    pub local: Option<LocalAddr>,
    /// The kernel's receive timestamp (software preferred over hardware).
    pub rx_timestamp: Option<KernelTimestamp>,
    /// The raw hardware receive timestamp (on the NIC's clock), when the
    /// interface has hardware timestamping on.
    pub hw_timestamp: Option<UnixTime>,
    /// The datagram was longer than the buffer (MSG_TRUNC); drop it.
    pub truncated: bool,
}

/// A message from the error queue: normally one of our packets, looped back
/// with its transmit timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrQueueMessage {
    /// Bytes of the looped-back frame written to the buffer; find our payload
    /// with [`frame::find_udp_payload`](super::frame::find_udp_payload).
    pub len: usize,
    /// The transmit timestamp; None if this is not a TX timestamp report.
    pub tx_timestamp: Option<KernelTimestamp>,
    /// The raw hardware transmit timestamp, if the NIC took one.
    pub hw_timestamp: Option<UnixTime>,
    /// The SOF_TIMESTAMPING_OPT_ID counter (ee_data); 0 when not enabled.
    pub id: u32,
    /// Our address the packet left from, when the kernel says (OPT_CMSG).
    pub local: Option<LocalAddr>,
}

/// A non-blocking UDP socket with kernel timestamps.
#[derive(Debug)]
pub struct UdpSocket {
    fd: OwnedFd,
    mode: TimestampMode,
    /// The address family, known without a system call on the send path.
    ipv4: bool,
}

/// Whether TX timestamping can be requested per message (SO_TIMESTAMPING in a
/// sendmsg control message): kernels before 4.7 ignore it, so chronyd then
/// enables TX timestamps permanently on every socket.
fn per_message_tx_flags() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| kernel_version().is_ok_and(|v| v >= (4, 7, 0)))
}

impl UdpSocket {
    /// Opens, configures, binds and connects a UDP socket.
    ///
    /// # Errors
    /// [`SysError`] if the socket cannot be created, bound, connected, or
    /// bound to its device. Options chronyd treats as optional (reuse, TOS,
    /// pktinfo, timestamps) are tried and their failure ignored.
    pub fn open(cfg: &UdpConfig<'_>) -> Result<Self, SysError> {
        let ip = cfg.local.ip();
        let sock = fd::socket(family_of(&ip), libc::SOCK_DGRAM)?;
        let f = sock.as_fd();
        set_ip_options(f, &ip, cfg)?;
        if let Some(dev) = cfg.device {
            let mut name = dev.as_bytes().to_vec();
            name.push(0);
            fd::set_bytes_option(f, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &name).map_err(
                |e| match e {
                    SysError::Os { source, .. } => SysError::Os {
                        op: format!("binding socket to device {dev}"),
                        source,
                    },
                    e => e,
                },
            )?;
        }
        if cfg.local.port() != 0 || !ip.is_unspecified() {
            bind_with_options(f, &cfg.local)?;
        }
        if let Some(remote) = &cfg.remote {
            fd::connect(f, &RawAddr::from_ip(remote)).map_err(|source| SysError::Os {
                op: format!("connect({remote})"),
                source,
            })?;
        }
        let mode = enable_timestamps(f, cfg.client_only);
        Ok(UdpSocket {
            fd: sock,
            mode,
            ipv4: ip.is_ipv4(),
        })
    }

    /// The address the socket is bound to (the random port of a client socket).
    ///
    /// # Errors
    /// [`SysError`] if getsockname fails or gives a non-IP address.
    pub fn local_addr(&self) -> Result<SocketAddr, SysError> {
        fd::local_name(self.fd.as_fd())?
            .ip_addr()
            .ok_or_else(|| SysError::InvalidArgument("socket has no IP address".into()))
    }

    /// Whether this is an IPv4 socket (else IPv6).
    pub fn is_ipv4(&self) -> bool {
        self.ipv4
    }

    /// How this socket gets kernel timestamps.
    pub fn timestamp_mode(&self) -> TimestampMode {
        self.mode
    }

    /// Receives one datagram into `buf`; `Ok(None)` when nothing is waiting.
    ///
    /// # Errors
    /// [`SysError`] for a failed recvmsg, e.g. ECONNREFUSED on a client
    /// socket after an ICMP port unreachable; log it and carry on.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<Received>, SysError> {
        let mut name = RawAddr::empty();
        let mut control = Aligned::<CONTROL_LEN>::zeroed();
        let r =
            fd::recvmsg(self.fd.as_fd(), buf, &mut name, &mut control.0, 0).map_err(|source| {
                SysError::Os {
                    op: "recvmsg()".into(),
                    source,
                }
            })?;
        let Some(r) = r else { return Ok(None) };
        Ok(Some(received(&r, &name, &control.0)))
    }

    /// Receives up to `bufs.len()` datagrams (at most [`RECV_BATCH`]) with
    /// one recvmmsg call, as chronyd does; result `i` was written to
    /// `bufs[i]`. Empty when nothing is waiting. `scratch` holds the
    /// addresses and control messages between calls, so that a call
    /// neither allocates nor clears them.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recv_many<'s>(
        &self,
        bufs: &mut [Vec<u8>],
        scratch: &'s mut RecvScratch,
    ) -> Result<&'s [Received], SysError> {
        let RecvScratch {
            names,
            controls,
            raw,
            received: out,
        } = scratch;
        let slots = bufs
            .iter_mut()
            .zip(names.iter_mut())
            .zip(controls.iter_mut())
            .map(|((buf, name), control)| fd::MsgSlot {
                buf,
                name,
                control: &mut control.0,
            });
        let n = fd::recvmmsg(self.fd.as_fd(), slots, raw).map_err(|source| SysError::Os {
            op: "recvmmsg()".into(),
            source,
        })?;
        out.clear();
        for ((r, name), control) in raw[..n].iter().zip(names.iter_mut()).zip(controls.iter()) {
            // The kernel overwrote this much of the name.
            name.len = r.name_len;
            out.push(received(r, name, &control.0));
        }
        Ok(out)
    }

    /// Reads one message from the error queue; `Ok(None)` when it is empty.
    /// Call only when poll reported the error queue ready (clknetsim hands out
    /// a normal datagram otherwise), and until it returns `None`.
    ///
    /// # Errors
    /// [`SysError`] with the socket's pending error (which is cleared, so the
    /// loop does not spin on it).
    pub fn recv_errqueue(&self, buf: &mut [u8]) -> Result<Option<ErrQueueMessage>, SysError> {
        let mut name = RawAddr::empty();
        let mut control = Aligned::<CONTROL_LEN>::zeroed();
        let f = self.fd.as_fd();
        let r = match fd::recvmsg(f, buf, &mut name, &mut control.0, libc::MSG_ERRQUEUE) {
            Ok(r) => r,
            Err(source) => {
                // As chronyd does: fetch (and so clear) SO_ERROR.
                let pending = fd::get_int_option(f, libc::SOL_SOCKET, libc::SO_ERROR);
                let source = match pending {
                    Ok(e) if e != 0 => std::io::Error::from_raw_os_error(e),
                    _ => source,
                };
                return Err(SysError::Os {
                    op: "recvmsg(MSG_ERRQUEUE)".into(),
                    source,
                });
            }
        };
        let Some(r) = r else { return Ok(None) };
        let info = cmsg::parse(&control.0[..r.control_len]);
        let is_ts = info.ext_err.is_some_and(|e| e.is_tx_timestamp());
        Ok(Some(ErrQueueMessage {
            len: r.len,
            tx_timestamp: if is_ts {
                best_timestamp(info.kernel_ts, info.hw_ts)
            } else {
                None
            },
            hw_timestamp: if is_ts { info.hw_ts } else { None },
            id: info.ext_err.map_or(0, |e| e.data),
            local: info.local,
        }))
    }

    /// Sends one datagram: to `to` (None on a connected socket), from our
    /// address `from` (IP_PKTINFO, so a reply leaves from the address the
    /// request came to), asking for a TX timestamp when `tx_timestamp` is set
    /// and the socket does not timestamp every transmission anyway.
    ///
    /// # Errors
    /// [`SysError`] if sendmsg fails (EAGAIN included: UDP sockets rarely block,
    /// and a dropped NTP packet is handled like a lost one).
    pub fn send(
        &self,
        data: &[u8],
        to: Option<&SocketAddr>,
        from: Option<&LocalAddr>,
        tx_timestamp: bool,
    ) -> Result<usize, SysError> {
        let mut control = Aligned::<64>::zeroed();
        let mut b = Builder::new(&mut control.0);
        if let Some(local) = from.filter(|l| !l.addr.is_unspecified()) {
            // OK to ignore: 64 bytes always hold one in6_pktinfo message.
            let _ = b.push_source(local);
        }
        if tx_timestamp
            && self.mode
                == (TimestampMode::Timestamping {
                    tx_permanent: false,
                })
        {
            let flags = tx_flags() as libc::c_int;
            let _ = b.push(
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPING,
                &flags.to_ne_bytes(),
            );
        }
        let used = b.len();
        let raw_to = to.map(RawAddr::from_ip);
        fd::sendmsg(
            self.fd.as_fd(),
            data,
            raw_to.as_ref(),
            &mut control.0[..used],
        )
        .map_err(|source| SysError::Os {
            op: match to {
                Some(to) => format!("sendmsg(to {to})"),
                None => "sendmsg()".into(),
            },
            source,
        })
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A datagram's description from what recvmsg/recvmmsg returned.
fn received(r: &fd::RecvResult, name: &RawAddr, control: &[u8]) -> Received {
    let info = cmsg::parse(&control[..r.control_len.min(control.len())]);
    Received {
        len: r.len,
        from: name.ip_addr(),
        local: info.local,
        rx_timestamp: best_timestamp(info.kernel_ts, info.hw_ts),
        hw_timestamp: info.hw_ts,
        truncated: r.flags & libc::MSG_TRUNC != 0,
    }
}

/// Software timestamps first: hardware ones are on the NIC's clock, which krony
/// does not convert (yet).
fn best_timestamp(kernel: Option<UnixTime>, hw: Option<UnixTime>) -> Option<KernelTimestamp> {
    kernel
        .map(|time| KernelTimestamp {
            time,
            kind: TimestampKind::Kernel,
        })
        .or(hw.map(|time| KernelTimestamp {
            time,
            kind: TimestampKind::Hardware,
        }))
}

/// IPV6_V6ONLY (required), pktinfo, broadcast and DSCP (best effort).
fn set_ip_options(f: BorrowedFd<'_>, ip: &IpAddr, cfg: &UdpConfig<'_>) -> Result<(), SysError> {
    // Failures of the optional options are ignored, as chronyd ignores them.
    match ip {
        IpAddr::V4(_) => {
            let _ = fd::set_int_option(f, libc::IPPROTO_IP, libc::IP_PKTINFO, 1);
        }
        IpAddr::V6(_) => {
            fd::set_int_option(f, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
            let _ = fd::set_int_option(f, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1);
        }
    }
    if !cfg.client_only {
        let _ = fd::set_int_option(f, libc::SOL_SOCKET, libc::SO_BROADCAST, 1);
    }
    if let Some(tos) = dscp_to_tos(cfg.dscp) {
        let _ = match ip {
            IpAddr::V4(_) => fd::set_int_option(f, libc::IPPROTO_IP, libc::IP_TOS, tos),
            IpAddr::V6(_) => fd::set_int_option(f, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, tos),
        };
    }
    Ok(())
}

/// The TOS / traffic class byte for a DSCP value (RFC 2474: the DSCP is the
/// upper six bits); None for 0 or values that do not fit.
pub fn dscp_to_tos(dscp: u8) -> Option<libc::c_int> {
    (1..64)
        .contains(&dscp)
        .then(|| libc::c_int::from(dscp) << 2)
}

/// Binds, with address reuse for a fixed port and IP_FREEBIND, as chronyd.
fn bind_with_options(f: BorrowedFd<'_>, local: &SocketAddr) -> Result<(), SysError> {
    if local.port() != 0 {
        let _ = fd::set_int_option(f, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
        let _ = fd::set_int_option(f, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1);
    }
    // Allows binding an address that is not configured yet.
    let _ = fd::set_int_option(f, libc::IPPROTO_IP, libc::IP_FREEBIND, 1);
    fd::bind(f, &RawAddr::from_ip(local)).map_err(|source| SysError::Os {
        op: format!("bind({local})"),
        source,
    })
}

/// The TX timestamping flags: software, and hardware when enabled.
fn tx_flags() -> u32 {
    if HW_TIMESTAMPS.load(Ordering::Relaxed) {
        TS_TX_FLAGS | libc::SOF_TIMESTAMPING_TX_HARDWARE
    } else {
        TS_TX_FLAGS
    }
}

/// Set once an interface has hardware timestamping on (`hwtimestamp`):
/// sockets opened afterwards ask for hardware timestamps too.
static HW_TIMESTAMPS: AtomicBool = AtomicBool::new(false);

/// Makes sockets opened from now on ask for raw hardware RX and TX
/// timestamps beside the software ones (chronyd does so once one interface
/// has hardware timestamping enabled).
pub fn enable_hardware_timestamps() {
    HW_TIMESTAMPS.store(true, Ordering::Relaxed);
}

/// SOF_TIMESTAMPING_* flags for hardware timestamps: RAW_HARDWARE (report
/// them) and RX_HARDWARE / TX_HARDWARE (take them).
const TS_HW_RX_FLAGS: u32 =
    libc::SOF_TIMESTAMPING_RAW_HARDWARE | libc::SOF_TIMESTAMPING_RX_HARDWARE;

/// Enables the best kernel timestamping available.
fn enable_timestamps(f: BorrowedFd<'_>, client_only: bool) -> TimestampMode {
    let tx_permanent = client_only || !per_message_tx_flags();
    let mut flags = TS_RX_FLAGS | if tx_permanent { tx_flags() } else { 0 };
    if HW_TIMESTAMPS.load(Ordering::Relaxed) {
        flags |= TS_HW_RX_FLAGS;
    }
    let so = |name, value| fd::set_int_option(f, libc::SOL_SOCKET, name, value).is_ok();
    if so(libc::SO_SELECT_ERR_QUEUE, 1) && so(libc::SO_TIMESTAMPING, flags as libc::c_int) {
        TimestampMode::Timestamping { tx_permanent }
    } else if so(libc::SO_TIMESTAMPNS, 1) {
        TimestampMode::Nanoseconds
    } else if so(libc::SO_TIMESTAMP, 1) {
        TimestampMode::Microseconds
    } else {
        TimestampMode::None
    }
}

#[cfg(test)]
#[path = "socket_tests.rs"]
mod tests;
