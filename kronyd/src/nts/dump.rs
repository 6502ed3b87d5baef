//! The `ntsdumpdir` file of an NTS source, in chrony's layout (one file
//! per NTS-KE server address, `ADDRESS.nts`):
//!
//! ```text
//! NNC0
//! NAME
//! TIME-OF-LAST-NTS-KE (real time, seconds with one decimal)
//! NTP-ADDRESS NTP-PORT
//! CONTEXT-ID AEAD-ID S2C-KEY-HEX C2S-KEY-HEX
//! COOKIE-HEX (one line per cookie)
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::aead::Aead;
use super::cookies::{Context, from_hex, to_hex};
use super::ke_client::MAX_COOKIES;

const IDENTIFIER: &str = "NNC0";

/// What the file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientDump {
    /// The source's name (the file is ignored if it changed).
    pub name: String,
    /// Seconds since the NTS-KE session.
    pub age_secs: f64,
    /// The NTP server address negotiated.
    pub ntp_addr: SocketAddr,
    /// The context number (authdata's KeyID).
    pub context_id: u32,
    /// The keys.
    pub context: Context,
    /// The cookies.
    pub cookies: Vec<Vec<u8>>,
}

impl ClientDump {
    /// The file's text; `real_now` is the current real time in seconds.
    pub fn to_text(&self, real_now: f64) -> String {
        let mut s = format!(
            "{IDENTIFIER}\n{}\n{:.1}\n{} {}\n{} {} {} {}\n",
            self.name,
            real_now - self.age_secs,
            self.ntp_addr.ip(),
            self.ntp_addr.port(),
            self.context_id,
            self.context.aead.id(),
            to_hex(&self.context.s2c),
            to_hex(&self.context.c2s)
        );
        for c in &self.cookies {
            s.push_str(&to_hex(c));
            s.push('\n');
        }
        s
    }

    /// Reads the text back for `name`; `None` if it is malformed or for
    /// another name.
    pub fn from_text(text: &str, name: &str, real_now: f64) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != IDENTIFIER || lines.next()?.trim() != name {
            return None;
        }
        let time: f64 = lines.next()?.trim().parse().ok()?;
        let addr: Vec<&str> = lines.next()?.split_whitespace().collect();
        let [ip, port] = addr.as_slice() else {
            return None;
        };
        let ntp_addr = SocketAddr::new(ip.parse::<IpAddr>().ok()?, port.parse().ok()?);
        let ctx: Vec<&str> = lines.next()?.split_whitespace().collect();
        let [id, alg, s2c, c2s] = ctx.as_slice() else {
            return None;
        };
        let aead = Aead::from_id(alg.parse().ok()?)?;
        let (s2c, c2s) = (from_hex(s2c)?, from_hex(c2s)?);
        if s2c.len() != aead.key_len() || c2s.len() != aead.key_len() {
            return None;
        }
        let cookies: Vec<Vec<u8>> = lines
            .take(MAX_COOKIES)
            .map(|l| from_hex(l.trim()).filter(|c| !c.is_empty()))
            .collect::<Option<_>>()?;
        Some(ClientDump {
            name: name.to_string(),
            age_secs: (real_now - time).max(0.0),
            ntp_addr,
            context_id: id.parse().ok()?,
            context: Context { aead, c2s, s2c },
            cookies,
        })
    }
}

/// Writes `text` to `path` through a temporary file, mode 0600.
///
/// # Errors
/// The I/O error.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_round_trips() {
        let d = ClientDump {
            name: "ntp.example".into(),
            age_secs: 10.0,
            ntp_addr: "192.0.2.1:123".parse().expect("addr"),
            context_id: 3,
            context: Context {
                aead: Aead::AesSivCmac256,
                c2s: vec![1; 32],
                s2c: vec![2; 32],
            },
            cookies: vec![vec![3; 100], vec![4; 100]],
        };
        let text = d.to_text(1000.0);
        assert!(text.starts_with("NNC0\nntp.example\n990.0\n192.0.2.1 123\n3 15 0202"));
        let back = ClientDump::from_text(&text, "ntp.example", 1005.0).expect("load");
        assert_eq!(back.age_secs, 15.0);
        assert_eq!(back.cookies, d.cookies);
        assert_eq!(back.context, d.context);
        assert_eq!(back.ntp_addr, d.ntp_addr);
        assert!(ClientDump::from_text(&text, "other", 1005.0).is_none());
        assert!(ClientDump::from_text(&text.replace("3 15", "3 99"), "ntp.example", 0.0).is_none());
    }
}
