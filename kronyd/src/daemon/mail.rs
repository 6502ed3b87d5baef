//! `mailonchange ADDRESS THRESHOLD`: a mail through `sendmail -t` when an
//! update corrects the clock by more than the threshold (chrony's
//! `reference.c`, `maybe_log_offset`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use krony_config::Config;

use crate::logging::{Severity, ident, log_event};
use crate::sys::host::{hostname, local_time_text};

/// chrony's default `MAIL_PROGRAM`.
pub const SENDMAIL: &str = "/usr/sbin/sendmail";

/// Where and when to mail.
#[derive(Debug, Clone)]
pub struct Mailer {
    address: String,
    threshold: f64,
    program: PathBuf,
}

impl Mailer {
    /// The `mailonchange` directive's mailer, if set.
    pub fn from_config(config: &Config) -> Option<Self> {
        config.mail_on_change.as_ref().map(|m| Mailer {
            address: m.address.clone(),
            threshold: m.threshold,
            program: PathBuf::from(SENDMAIL),
        })
    }

    /// The message for an update that corrected `offset` (positive = the
    /// clock was ahead) at Unix time `now`.
    pub fn message(&self, offset: f64, now: i64) -> String {
        let host = hostname().unwrap_or_else(|| "<UNKNOWN>".to_string());
        let name = ident();
        let mut text = format!(
            "To: {}\nSubject: {name} reports change to system clock on node [{host}]\n\n",
            self.address
        );
        if let Some(date) = local_time_text(
            now,
            "On %A, %d %B %Y\n  with the system clock reading %H:%M:%S (%Z)",
        ) {
            text.push_str(&date);
        }
        text.push_str(&format!(
            "\n\n{name} started to apply an adjustment of {:.3} seconds to it,\n  which exceeded the reporting threshold of {:.3} seconds\n\n",
            -offset, self.threshold
        ));
        text
    }

    /// Pipes the message to `sendmail -t` and waits for it (as chronyd's
    /// `pclose`); chrony's error if the program cannot be started.
    pub fn send(&self, offset: f64, now: i64) {
        let sent = Command::new(&self.program)
            .arg("-t")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(self.message(offset, now).as_bytes())?;
                }
                child.wait().map(drop)
            });
        if sent.is_err() {
            log_event(
                Severity::Error,
                format!("Could not send mail notification to user {}", self.address),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn message_and_delivery() {
        let parsed =
            krony_config::parse_str("mailonchange root@example.org 0.5\n", "t").expect("config");
        let mut m = Mailer::from_config(&parsed.config).expect("mailer");
        let text = m.message(2.25, 1_262_347_200);
        assert!(
            text.starts_with("To: root@example.org\nSubject: "),
            "{text}"
        );
        assert!(
            text.contains("reports change to system clock on node ["),
            "{text}"
        );
        assert!(
            text.contains("\n  with the system clock reading "),
            "{text}"
        );
        assert!(
            text.ends_with(
                " started to apply an adjustment of -2.250 seconds to it,\n  which exceeded the reporting threshold of 0.500 seconds\n\n"
            ),
            "{text}"
        );
        // A stand-in sendmail that keeps what it reads.
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("mail");
        let prog = dir.path().join("sendmail");
        std::fs::write(
            &prog,
            format!("#!/bin/sh\n[ \"$1\" = -t ] && cat > {}\n", out.display()),
        )
        .expect("write");
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        m.program = prog;
        m.send(2.25, 1_262_347_200);
        assert_eq!(std::fs::read_to_string(&out).expect("mail"), text);
    }
}
