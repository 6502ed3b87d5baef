//! The cmdmon transport: the daemon's addresses, the client socket, and
//! the request/reply exchange with chronyc's timeouts, retries and reply
//! checks (reference §4 "Client rules").
//!
//! - A host starting with `/` is the daemon's Unix datagram socket. The
//!   client binds its own socket at `<dir>/kronyc.<pid>/<16 random
//!   alphanumerics>/sock` (mode 0666, directories 0711), next to the
//!   daemon's socket, so that the daemon can answer; everything is removed
//!   when the connection is closed. The hidden random directory keeps a
//!   hostile daemon from redirecting the `chmod` through a symlink; as
//!   chronyc, the first directory is opened (no symlink followed) and checked
//!   through its descriptor, and the random one is made relative to it.
//! - Sockets are made as chronyc makes them, `socket(domain, SOCK_DGRAM, 0)`
//!   with close-on-exec set by `fcntl` afterwards, and replies are awaited
//!   with `poll(2)`, so that kronyc runs under clknetsim (which refuses
//!   SOCK_CLOEXEC in the type and advances simulated time only in poll).
//! - Other hosts are resolved and spoken to over a connected UDP socket.
//! - Each request waits `timeout × 2^attempt`, is retried `retries` times
//!   with a new random sequence number each time, and a reply counts only
//!   if its version, packet type, reserved bytes, command and sequence
//!   match. A version-5 "bad packet version" reply switches to version 5
//!   (no padding), as chronyc does for old daemons.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use krony_wire::cmdmon::{
    PKT_TYPE_REPLY, PROTO_VERSION, REPLY_HEADER_LEN, ReplyHeader, Request, RequestMsg, Status,
    reply_length, unpadded_request_length,
};
use nix::fcntl::{FcntlArg, FdFlag, OFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use nix::sys::stat::{Mode, SFlag};
use rand::Rng;

use crate::names::{Family, resolve};

/// chronyc's default command port.
pub const DEFAULT_PORT: u16 = 323;
/// kronyd's command socket, tried first by default. chronyd's is
/// `/var/run/chrony/chronyd.sock` (use `-h` to talk to it).
pub const DEFAULT_SOCKET: &str = "/var/run/krony/kronyd.sock";
/// The default host list: kronyd's socket, then UDP on loopback.
pub const DEFAULT_HOSTS: &str = "/var/run/krony/kronyd.sock,127.0.0.1,::1";
/// The oldest reply version accepted with BADPKTVERSION
/// (`PROTO_VERSION_MISMATCH_COMPAT_CLIENT`).
const MISMATCH_COMPAT_CLIENT: u8 = 4;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 1024;

/// Where the daemon listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A Unix datagram socket path.
    Unix(PathBuf),
    /// A UDP address.
    Udp(SocketAddr),
}

/// Parses `-h host[,host]...`: paths are Unix sockets, names are resolved
/// to every address they have (a name that does not resolve is skipped).
pub fn parse_hosts(hosts: &str, port: u16, family: Family) -> Vec<Address> {
    let mut out = Vec::new();
    for host in hosts.split(',').filter(|h| !h.is_empty()) {
        if host.starts_with('/') {
            out.push(Address::Unix(PathBuf::from(host)));
        } else {
            out.extend(
                resolve(host, family)
                    .into_iter()
                    .map(|ip| Address::Udp(SocketAddr::new(ip, port))),
            );
        }
    }
    out
}

/// The client's own Unix socket and the directories made for it.
struct UnixClient {
    sock: UnixDatagram,
    dir1: PathBuf,
    dir2: PathBuf,
    path: PathBuf,
}

impl Drop for UnixClient {
    fn drop(&mut self) {
        // Best effort: nothing else can be done about a failed removal.
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir2);
        let _ = std::fs::remove_dir(&self.dir1);
    }
}

enum Sock {
    Udp(UdpSocket),
    Unix(UnixClient),
}

impl Sock {
    /// send(2) on the connected socket (std writes to a Unix datagram
    /// socket with write(2), which clknetsim does not simulate).
    fn send(&self, buf: &[u8]) -> io::Result<usize> {
        Ok(nix::sys::socket::send(
            self.fd().as_raw_fd(),
            buf,
            MsgFlags::empty(),
        )?)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Sock::Udp(s) => s.as_fd(),
            Sock::Unix(u) => u.sock.as_fd(),
        }
    }

    /// Waits with poll up to `timeout` (TimedOut after it) and reads one
    /// datagram.
    fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let mut fds = [PollFd::new(self.fd(), PollFlags::POLLIN)];
        if nix::poll::poll(&mut fds, poll_timeout(timeout))? == 0 {
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(nix::sys::socket::recv(
            self.fd().as_raw_fd(),
            buf,
            MsgFlags::empty(),
        )?)
    }
}

/// poll's timeout for `d`, rounded up to whole milliseconds so that a wait
/// never ends before its deadline.
fn poll_timeout(d: Duration) -> PollTimeout {
    let ms = d.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

/// A datagram socket: `socket(domain, SOCK_DGRAM, 0)`, then close-on-exec.
fn dgram_socket(domain: AddressFamily) -> io::Result<OwnedFd> {
    let fd = nix::sys::socket::socket(domain, SockType::Datagram, SockFlag::empty(), None)?;
    nix::fcntl::fcntl(&fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(fd)
}

/// Opens `dir` without following a symlink and checks that it is a
/// directory of ours with no permission beyond 0711 (chronyc's check).
fn open_own_dir(dir: &Path) -> io::Result<OwnedFd> {
    let fd = nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_NOFOLLOW, Mode::empty())?;
    let st = nix::sys::stat::fstat(&fd)?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    if !is_dir || st.st_mode & 0o777 & !0o711 != 0 || st.st_uid != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::other(format!(
            "Unexpected mode/owner of {}",
            dir.display()
        )));
    }
    Ok(fd)
}

/// 16 random alphanumeric characters.
fn random_name() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
        .collect()
}

fn open_unix(server: &Path) -> io::Result<UnixClient> {
    // Is the server socket there at all?
    UnixDatagram::from(dgram_socket(AddressFamily::Unix)?).connect(server)?;
    let dir0 = match server.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir1 = dir0.join(format!("kronyc.{}", std::process::id()));
    match std::fs::DirBuilder::new().mode(0o711).create(&dir1) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let dir_fd = match open_own_dir(&dir1) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = std::fs::remove_dir(&dir1);
            return Err(e);
        }
    };
    let name = random_name();
    let dir2 = dir1.join(&name);
    let path = dir2.join("sock");
    let result = (|| {
        nix::sys::stat::mkdirat(&dir_fd, name.as_str(), Mode::from_bits_truncate(0o711))?;
        let sock = UnixDatagram::from(dgram_socket(AddressFamily::Unix)?);
        nix::sys::socket::bind(sock.as_raw_fd(), &UnixAddr::new(&path)?)?;
        sock.connect(server)?;
        // The daemon may run as another user: let it write to our socket.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        std::fs::set_permissions(&dir2, std::fs::Permissions::from_mode(0o711))?;
        std::fs::set_permissions(&dir1, std::fs::Permissions::from_mode(0o711))?;
        Ok(sock)
    })();
    match result {
        Ok(sock) => Ok(UnixClient {
            sock,
            dir1,
            dir2,
            path,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_dir(&dir2);
            let _ = std::fs::remove_dir(&dir1);
            Err(e)
        }
    }
}

/// A UDP socket connected to `addr` (bound by the kernel on connect).
fn open_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let domain = match addr.ip() {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    let s = UdpSocket::from(dgram_socket(domain)?);
    s.connect(addr)?;
    Ok(s)
}

/// What a received datagram is worth.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Not an answer to this request: keep waiting.
    Ignore,
    /// A version-5 daemon: resend as version 5.
    SwitchToV5,
    /// No usable answer (timeout, socket error, too short): send again.
    Retry,
    /// The answer.
    Good,
}

/// The exchange with the daemon.
pub struct Transport {
    addrs: Vec<Address>,
    index: usize,
    sock: Option<Sock>,
    /// Initial reply timeout (`timeout` command, default 1000 ms).
    pub timeout_ms: u32,
    /// Resends after the first request (`retries` command, default 2).
    pub max_retries: u32,
    version: u8,
    quit: Arc<AtomicBool>,
    /// Print debug messages to stderr (`-d`).
    pub debug: bool,
}

impl Transport {
    /// A transport for these addresses; `quit` is set by signal handlers
    /// to abandon a wait.
    pub fn new(addrs: Vec<Address>, quit: Arc<AtomicBool>) -> Transport {
        Transport {
            addrs,
            index: 0,
            sock: None,
            timeout_ms: 1000,
            max_retries: 2,
            version: PROTO_VERSION,
            quit,
            debug: false,
        }
    }

    fn debug(&self, msg: &str) {
        if self.debug {
            eprintln!("{msg}");
        }
    }

    /// Closes the current socket (if any) and opens the next address that
    /// works; after the last one, starts again from the first on the next
    /// call and returns false (chronyc's `open_io`).
    pub fn open_next(&mut self) -> bool {
        if self.sock.take().is_some() {
            self.index += 1;
        }
        while let Some(addr) = self.addrs.get(self.index).cloned() {
            let opened = match &addr {
                Address::Unix(p) => open_unix(p).map(Sock::Unix),
                Address::Udp(a) => open_udp(*a).map(Sock::Udp),
            };
            match opened {
                Ok(s) => {
                    self.debug(&format!("Connected to {addr:?}"));
                    self.sock = Some(s);
                    return true;
                }
                Err(e) => self.debug(&format!("Could not open {addr:?}: {e}")),
            }
            self.index += 1;
        }
        self.index = 0;
        false
    }

    /// Whether a signal asked the program to quit.
    pub fn quitting(&self) -> bool {
        self.quit.load(Ordering::Relaxed)
    }

    /// Sleeps for `d`, waking early if a signal asks to quit.
    pub fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.quitting() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(100)));
        }
    }

    /// Closes the socket, removing the client's Unix socket files.
    pub fn close(&mut self) {
        self.sock = None;
    }

    /// The request's bytes for this attempt.
    fn encode(&self, req: &Request, attempt: u16, sequence: u32) -> Vec<u8> {
        let mut msg = RequestMsg::new(req.clone(), sequence);
        msg.attempt = attempt;
        let mut bytes = msg.to_bytes();
        if self.version != PROTO_VERSION {
            // Version 5 has the same layout without the padding.
            bytes[0] = self.version;
            let len = unpadded_request_length(req.command()).unwrap_or(bytes.len());
            bytes.truncate(len);
        }
        bytes
    }

    fn judge(&self, req: &[u8], reply: &[u8]) -> Verdict {
        let Ok(h) = ReplyHeader::parse(reply) else {
            return Verdict::Ignore;
        };
        let version_ok = h.version == self.version
            || (h.version >= MISMATCH_COMPAT_CLIENT && h.status == Status::BADPKTVERSION);
        if reply.len() < REPLY_HEADER_LEN
            || !version_ok
            || h.pkt_type != PKT_TYPE_REPLY
            || h.res1 != 0
            || h.res2 != 0
            || req[4..6] != reply[4..6]
            || req[8..12] != reply[16..20]
        {
            return Verdict::Ignore;
        }
        if self.version == PROTO_VERSION && h.version == PROTO_VERSION - 1 {
            return Verdict::SwitchToV5;
        }
        // Unknown reply codes pass; the caller rejects them as bad replies.
        if reply.len() < reply_length(h.reply).unwrap_or(0) {
            return Verdict::Retry;
        }
        Verdict::Good
    }

    /// Sends `req` and waits for its reply (chronyc's `submit_request`).
    /// `None` if there is no socket, sending fails, no valid reply came
    /// after all retries, or a signal asked to quit.
    pub fn submit(&mut self, req: &Request) -> Option<Vec<u8>> {
        let mut attempts: u32 = 0;
        loop {
            if attempts > self.max_retries {
                return None;
            }
            let sequence: u32 = rand::random();
            let bytes = self.encode(req, attempts as u16, sequence);
            let sock = self.sock.as_ref()?;
            if sock.send(&bytes).is_err() {
                return None;
            }
            attempts += 1;
            let wait = Duration::from_millis(u64::from(self.timeout_ms))
                .saturating_mul(1 << (attempts - 1).min(30));
            match self.wait_reply(&bytes, Instant::now() + wait)? {
                (Verdict::Good, reply) => return Some(reply),
                (Verdict::SwitchToV5, _) => {
                    self.version = PROTO_VERSION - 1;
                    attempts -= 1;
                }
                _ => {}
            }
        }
    }

    /// Waits until `deadline` for a reply to `req`; `None` to give up.
    fn wait_reply(&self, req: &[u8], deadline: Instant) -> Option<(Verdict, Vec<u8>)> {
        let sock = self.sock.as_ref()?;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            if self.quit.load(Ordering::Relaxed) {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return Some((Verdict::Retry, Vec::new()));
            }
            match sock.recv(&mut buf, deadline - now) {
                Ok(n) => {
                    let reply = buf.get(..n).unwrap_or_default();
                    match self.judge(req, reply) {
                        Verdict::Ignore => self.debug("Invalid reply"),
                        v => return Some((v, reply.to_vec())),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Timeout, or an ICMP error reported on the connected
                // socket: try again with a new request.
                Err(_) => return Some((Verdict::Retry, Vec::new())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn host_lists() {
        let a = parse_hosts("/run/x.sock,127.0.0.1,,::1", 4000, Family::Any);
        assert_eq!(
            a,
            vec![
                Address::Unix(PathBuf::from("/run/x.sock")),
                Address::Udp("127.0.0.1:4000".parse().expect("literal")),
                Address::Udp("[::1]:4000".parse().expect("literal")),
            ]
        );
        let v4 = parse_hosts("127.0.0.1,::1", 323, Family::V4);
        assert_eq!(v4.len(), 1);
    }

    #[test]
    fn random_names_are_alphanumeric() {
        let n = random_name();
        assert_eq!(n.len(), 16);
        assert!(n.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(n, random_name());
    }

    #[test]
    fn nothing_listening_gives_up_quickly() {
        // A UDP port nobody listens on: the ICMP error ends each attempt.
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("port");
        let addrs = vec![Address::Udp(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
        ))];
        let mut t = Transport::new(addrs, Arc::new(AtomicBool::new(false)));
        assert!(t.open_next());
        let start = Instant::now();
        assert_eq!(t.submit(&Request::Tracking), None);
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(!t.open_next());
    }

    #[test]
    fn missing_unix_socket_does_not_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let addrs = vec![Address::Unix(dir.path().join("none.sock"))];
        let mut t = Transport::new(addrs, Arc::new(AtomicBool::new(false)));
        assert!(!t.open_next());
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn unix_client_socket_is_made_and_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server_path = dir.path().join("d.sock");
        let server = UnixDatagram::bind(&server_path).expect("bind");
        let mut t = Transport::new(
            vec![Address::Unix(server_path.clone())],
            Arc::new(AtomicBool::new(false)),
        );
        t.timeout_ms = 100;
        t.max_retries = 0;
        assert!(t.open_next());
        let client_dir = dir.path().join(format!("kronyc.{}", std::process::id()));
        let meta = std::fs::metadata(&client_dir).expect("client dir");
        assert_eq!(meta.mode() & 0o777, 0o711);
        // Answer one request with a matching reply.
        let handle = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let (n, from) = server.recv_from(&mut buf).expect("recv");
            let req = RequestMsg::parse(&buf[..n]).expect("request");
            let reply = krony_wire::cmdmon::Reply {
                command: req.request.command(),
                status: Status::SUCCESS,
                sequence: req.sequence,
                body: krony_wire::cmdmon::ReplyBody::Activity(Default::default()),
            };
            let to = from.as_pathname().expect("named client").to_path_buf();
            server
                .send_to(&reply.to_bytes().expect("fits"), to)
                .expect("send");
        });
        t.timeout_ms = 2000;
        let reply = t.submit(&Request::Activity).expect("reply");
        assert_eq!(reply.len(), 48);
        handle.join().expect("server thread");
        t.close();
        assert!(!client_dir.exists());
    }
}
