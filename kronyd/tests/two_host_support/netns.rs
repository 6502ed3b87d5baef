//! The lab network: four network namespaces (hosts A, B, C and D) joined by
//! veth pairs, created by `ip` and removed when the [`Lab`] is dropped (also
//! when a test panics).
//!
//! ```text
//!   B 192.168.37.8 --- 192.168.37.7 A 192.168.38.1 --- 192.168.38.9 C
//!                                   192.168.39.1
//!                                        |
//!                                   192.168.39.10 D
//! ```
//! A forwards between its three links (`net.ipv4.ip_forward=1` in its own
//! namespace only); B, C and D route everything else through A. Names are
//! `krony-th-PID-TAG-HOST`, so parallel tests and runs never clash, and
//! namespaces left by a run that was killed (its pid gone) are removed by the
//! next one.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The prefix of every namespace these tests create.
const PREFIX: &str = "krony-th-";

/// Host A's address on B's network (the server of the scenario).
pub const A_ADDR: &str = "192.168.37.7";
/// Host B's address (the client).
pub const B_ADDR: &str = "192.168.37.8";
/// Host C's address (outside the allowed network, routed through A).
pub const C_ADDR: &str = "192.168.38.9";
/// Host D's address (A's upstream, on a network of its own).
pub const D_ADDR: &str = "192.168.39.10";

/// One host: a network namespace and a private directory for its files.
pub struct Host {
    /// The namespace's name.
    pub ns: String,
    /// Its files (configuration, pidfile, sockets, logs); mode 0700 because
    /// chronyd refuses a command socket in a directory others may enter.
    pub dir: PathBuf,
}

impl Host {
    /// A command that runs `program` inside this host's namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).arg(program);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `program args...` in this host to its end.
    pub fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Output {
        self.command(program).args(args).output().unwrap()
    }

    /// A path in this host's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The four hosts, removed when dropped.
pub struct Lab {
    pub a: Host,
    pub b: Host,
    pub c: Host,
    pub d: Host,
    /// The namespaces to delete, in creation order.
    created: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Runs `ip ARGS...`; Err with its stderr if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lab {
    /// Creates the namespaces, links, addresses and routes for test `tag`.
    ///
    /// # Errors
    /// Why the lab cannot exist here (not root, no `ip`, no namespaces).
    pub fn create(tag: &str) -> Result<Lab, String> {
        remove_stale();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pid = std::process::id();
        let host = |h: &str| -> Result<Host, String> {
            let path = dir.path().join(h);
            std::fs::create_dir(&path).map_err(|e| e.to_string())?;
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
            std::fs::set_permissions(&path, mode).map_err(|e| e.to_string())?;
            Ok(Host {
                ns: format!("{PREFIX}{pid}-{tag}-{h}"),
                dir: path,
            })
        };
        let mut lab = Lab {
            a: host("a")?,
            b: host("b")?,
            c: host("c")?,
            d: host("d")?,
            created: Vec::new(),
            _dir: dir,
        };
        // On an error the lab is dropped and removes what exists so far.
        lab.build()?;
        Ok(lab)
    }

    fn build(&mut self) -> Result<(), String> {
        for ns in [&self.a.ns, &self.b.ns, &self.c.ns, &self.d.ns] {
            ip(&["netns", "add", ns])?;
            self.created.push(ns.clone());
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let a = self.a.ns.clone();
        // (A's interface, A's address, peer host, peer interface, peer address)
        let links = [
            (
                "vab",
                "192.168.37.7/24",
                &self.b.ns,
                "vba",
                "192.168.37.8/24",
            ),
            (
                "vac",
                "192.168.38.1/24",
                &self.c.ns,
                "vca",
                "192.168.38.9/24",
            ),
            (
                "vad",
                "192.168.39.1/24",
                &self.d.ns,
                "vda",
                "192.168.39.10/24",
            ),
        ];
        for (aif, aaddr, peer, pif, paddr) in links {
            // Created inside A with the peer end moved straight into its host:
            // the interface names never appear in the root namespace.
            ip(&[
                "-n", &a, "link", "add", aif, "type", "veth", "peer", "name", pif, "netns", peer,
            ])?;
            ip(&["-n", &a, "addr", "add", aaddr, "dev", aif])?;
            ip(&["-n", peer, "addr", "add", paddr, "dev", pif])?;
            ip(&["-n", &a, "link", "set", aif, "up"])?;
            ip(&["-n", peer, "link", "set", pif, "up"])?;
            let gw = aaddr.split('/').next().unwrap_or_default();
            ip(&["-n", peer, "route", "add", "default", "via", gw])?;
        }
        // The sysctl is per namespace: the host's forwarding is untouched.
        let out = self.a.run("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]);
        if !out.status.success() {
            return Err(format!(
                "sysctl ip_forward in {a}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Takes A's end of the link to B down (`false`) or up (`true`).
    pub fn set_link_b(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.a.ns, "link", "set", "vab", state]).unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veth ends (and so their peers).
        for ns in self.created.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// Deletes namespaces of this suite whose creating process no longer runs
/// (a run killed before its guards could clean up).
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}
