//! The pidfile: a second kronyd using the same one refuses to start, with
//! chronyd's message ("Another chronyd may already be running (pid=%d), check
//! %s", naming kronyd). kronyd holds an exclusive `flock` on the file for its
//! lifetime: the lock is released by the kernel when the process ends however
//! it ends, so a second kronyd is always refused, even one racing us. A lock
//! alone is not enough, though: chronyd (or a kronyd of another build) does not
//! lock the file, so, like chronyd, we also refuse when the file records the pid
//! of a live process other than ourselves. A dead pid or unparsable content is a
//! stale file and is overwritten.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::SysError;

/// A locked pidfile holding our pid; removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    // Kept open: closing it would release the lock.
    _file: File,
}

impl PidFile {
    /// Creates (or takes over) the pidfile at `path`, locks it and writes our pid.
    ///
    /// # Errors
    /// [`SysError::AlreadyRunning`] if another process holds the lock or the
    /// file records the pid of another live process (the file is then left
    /// untouched);
    /// [`SysError::Os`] if the file cannot be opened, locked or written.
    pub fn create(path: &Path) -> Result<PidFile, SysError> {
        let os = |op: &str| {
            let op = format!("{op} {}", path.display());
            move |source| SysError::Os { op, source }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(os("Could not open"))?;
        // SAFETY: flock takes a descriptor we own (file) and flags.
        let ret = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if ret < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::WouldBlock {
                return Err(SysError::AlreadyRunning {
                    pid: recorded_pid(&mut file).unwrap_or(0),
                    path: path.to_path_buf(),
                });
            }
            return Err(os("Could not lock")(err));
        }
        // Not locked, but an unlocking daemon (chronyd) may still own it.
        if let Some(pid) = recorded_pid(&mut file)
            && pid != own_pid()
            && is_alive(pid)
        {
            return Err(SysError::AlreadyRunning {
                pid,
                path: path.to_path_buf(),
            });
        }
        file.set_len(0).map_err(os("Could not truncate"))?;
        file.rewind().map_err(os("Could not write"))?;
        writeln!(file, "{}", std::process::id()).map_err(os("Could not write"))?;
        file.flush().map_err(os("Could not write"))?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _file: file,
        })
    }

    /// The pidfile's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid recorded in the file, if its content is a positive pid. Zero and
/// negative values are rejected: `kill` would address process groups.
fn recorded_pid(file: &mut File) -> Option<i32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|&pid| pid > 0)
}

/// Our pid as recorded in the file.
fn own_pid() -> i32 {
    // Linux pids fit in an i32 (pid_max is at most 2^22).
    i32::try_from(std::process::id()).unwrap_or(i32::MAX)
}

/// Whether process `pid` (positive) exists: signal 0 only checks. EPERM means
/// it exists but belongs to another user, as chronyd after dropping root.
fn is_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; pid is a plain integer, and
    // positive (checked by recorded_pid), so it names one process, not a group.
    let ret = unsafe { libc::kill(pid, 0) };
    ret == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Best effort, as chronyd: after dropping root the directory may not
        // be writable any more.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_instance_is_refused_and_file_removed_at_exit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kronyd.pid");
        let first = PidFile::create(&path).expect("first");
        assert_eq!(first.path(), path);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));

        // flock locks belong to the open file description, so a second open
        // in this same process conflicts like another process would.
        let e = PidFile::create(&path).expect_err("second");
        assert_eq!(
            e.to_string(),
            format!(
                "Another kronyd may already be running (pid={}), check {}",
                std::process::id(),
                path.display()
            )
        );
        assert!(path.exists(), "the refused start leaves the file alone");
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn stale_pidfile_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kronyd.pid");
        std::fs::write(&path, "999999999\nold junk that is longer\n").expect("write");
        let p = PidFile::create(&path).expect("take over");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(p);
    }

    #[test]
    fn live_unlocked_pid_is_refused_and_file_left_intact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kronyd.pid");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let content = format!("{}\n", child.id());
        std::fs::write(&path, &content).expect("write");
        let e = PidFile::create(&path).expect_err("live pid");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            e.to_string(),
            format!(
                "Another kronyd may already be running (pid={}), check {}",
                child.id(),
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), content);
    }

    #[test]
    fn dead_pid_is_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kronyd.pid");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        // Reaped, so the pid no longer exists (barring reuse in the meantime).
        child.wait().expect("wait");
        std::fs::write(&path, format!("{}\n", child.id())).expect("write");
        let p = PidFile::create(&path).expect("take over");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(p);
        assert!(!path.exists());
    }

    #[test]
    fn garbage_and_own_pid_are_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kronyd.pid");
        // "0" and "-1" must not reach kill(), which would address groups.
        for content in ["garbage\n", "0\n", "-1\n", ""] {
            std::fs::write(&path, content).expect("write");
            drop(PidFile::create(&path).expect(content));
        }
        // Our own pid left by a previous run (e.g. same pid after reboot).
        std::fs::write(&path, format!("{}\n", std::process::id())).expect("write");
        drop(PidFile::create(&path).expect("own pid"));
    }

    #[test]
    fn unwritable_location_is_an_error() {
        let e = PidFile::create(Path::new("/nonexistent-dir/kronyd.pid")).expect_err("no dir");
        assert!(e.to_string().contains("/nonexistent-dir/kronyd.pid"));
    }
}
