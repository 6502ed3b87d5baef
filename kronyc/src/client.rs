//! A session with the daemon: requests with chronyc's status lines, and
//! the names chronyc prints for addresses.

use std::io::Write;

use krony_wire::cmdmon::{
    CmdAddr, PROTO_VERSION, Reply, ReplyBody, ReplyCode, ReplyHeader, Request, Status,
};

use crate::names::{self, Family};
use crate::transport::Transport;

/// Output and naming options (command line and `dns` command).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `-c`: CSV output.
    pub csv: bool,
    /// `-n`, `dns -n`: print addresses, not names.
    pub no_dns: bool,
    /// `-N`: print the names sources were configured with.
    pub source_names: bool,
    /// `-w`: extra columns for names (14, or 0).
    pub wide: usize,
    /// `--json`: reports as JSON.
    pub json: bool,
    /// `-4`, `-6`, `dns -4|-6|-46`.
    pub family: Family,
    /// `-e`: end each command's output with a line holding a dot.
    pub end_dot: bool,
}

/// Why a request did not give the wanted reply. The reason has already
/// been printed, as chronyc does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No reply from any address (`506 Cannot talk to daemon`).
    NoReply,
    /// The daemon answered with an error status.
    Status(Status),
    /// The reply was not the one expected (`508 Bad reply from daemon`).
    BadReply,
}

/// A session: the transport, where output goes, and the settings.
pub struct Client<W: Write> {
    /// The exchange with the daemon.
    pub transport: Transport,
    /// Standard output (a buffer in tests).
    pub out: W,
    /// Output options.
    pub set: Settings,
}

impl<W: Write> Client<W> {
    /// A session writing to `out`.
    pub fn new(transport: Transport, out: W, set: Settings) -> Client<W> {
        Client {
            transport,
            out,
            set,
        }
    }

    /// Writes text to the output. Write errors are noticed when the
    /// command's output is flushed.
    pub fn print(&mut self, s: &str) {
        let _ = self.out.write_all(s.as_bytes());
    }

    /// Prints a status line: on standard output, or on standard error in
    /// JSON mode so that standard output stays valid JSON.
    pub fn status_line(&mut self, s: &str) {
        if self.set.json {
            eprintln!("{s}");
        } else {
            self.print(s);
            self.print("\n");
        }
    }

    /// Sends a request and returns the reply if its status is a success
    /// (200, 208 or 209) and its code one of `expected`. Prints the status
    /// line if `verbose` or if it is an error (chronyc's `request_reply`).
    ///
    /// # Errors
    /// A [`Failure`], already reported.
    pub fn request(
        &mut self,
        req: &Request,
        expected: &[ReplyCode],
        verbose: bool,
    ) -> Result<Reply, Failure> {
        let mut bytes = self.exchange(req)?;
        let header = ReplyHeader::parse(&bytes).map_err(|_| Failure::BadReply)?;
        let status = header.status;
        if verbose || status != Status::SUCCESS {
            self.status_line(status.message());
        }
        if ![Status::SUCCESS, Status::ACCESSALLOWED, Status::ACCESSDENIED].contains(&status) {
            return Err(Failure::Status(status));
        }
        if !expected.contains(&header.reply) {
            self.status_line("508 Bad reply from daemon");
            return Err(Failure::BadReply);
        }
        // A version-5 reply has the same layout as version 6.
        if let Some(v) = bytes.first_mut() {
            *v = PROTO_VERSION;
        }
        Reply::parse(&bytes).map_err(|_| {
            self.status_line("508 Bad reply from daemon");
            Failure::BadReply
        })
    }

    /// Sends a request and returns the raw reply, trying every address;
    /// prints `506 Cannot talk to daemon` if none answers.
    fn exchange(&mut self, req: &Request) -> Result<Vec<u8>, Failure> {
        loop {
            if let Some(b) = self.transport.submit(req) {
                return Ok(b);
            }
            // Try the other addresses before giving up.
            if !self.transport.open_next() {
                self.status_line("506 Cannot talk to daemon");
                return Err(Failure::NoReply);
            }
        }
    }

    /// Sends a command and returns the reply's status without printing
    /// it (only a `506` is printed), for commands that retry in another
    /// form when the daemon does not know the first.
    ///
    /// # Errors
    /// [`Failure::NoReply`], or [`Failure::BadReply`] for a reply without
    /// a header.
    pub fn request_quiet(&mut self, req: &Request) -> Result<Status, Failure> {
        let bytes = self.exchange(req)?;
        let header = ReplyHeader::parse(&bytes).map_err(|_| Failure::BadReply)?;
        Ok(header.status)
    }

    /// The name a source was configured with (NTP_SOURCE_NAME); `None` if
    /// unavailable or not printable.
    pub fn source_name(&mut self, addr: &CmdAddr) -> Option<String> {
        let req = Request::NtpSourceName(*addr);
        let reply = self
            .request(&req, &[ReplyCode::NTP_SOURCE_NAME], false)
            .ok()?;
        let ReplyBody::NtpSourceName(name) = reply.body else {
            return None;
        };
        let printable = name.as_bytes().iter().all(|c| c.is_ascii_graphic());
        if !name.is_terminated() || !printable {
            return None;
        }
        name.as_str().map(str::to_string)
    }

    /// How chronyc names a source's address: its configured name with
    /// `-N`, the bare address with `-n` or `-c`, else its host name cut
    /// to `trunc` columns.
    pub fn source_label(&mut self, addr: &CmdAddr, trunc: usize) -> String {
        if self.set.source_names {
            self.source_name(addr).unwrap_or_else(|| "?".to_string())
        } else {
            self.host_label(addr, trunc)
        }
    }

    /// How chronyc names a client address: bare with `-n`/`-c`, else
    /// its host name cut to `trunc` columns.
    pub fn host_label(&mut self, addr: &CmdAddr, trunc: usize) -> String {
        if self.set.no_dns || self.set.csv {
            names::addr_string(addr)
        } else {
            names::truncate(&names::reverse(addr), trunc)
        }
    }
}
