//! The pidfile: a second kronyd using the same one refuses to start, with
//! chronyd's message ("Another chronyd may already be running (pid=%d), check
//! %s", naming kronyd). Where chronyd checks whether the recorded pid is
//! alive, kronyd holds an exclusive `flock` on the file for its lifetime: the
//! lock is released by the kernel when the process ends however it ends, so a
//! stale pidfile never blocks a start, and a live instance always does.

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
    /// [`SysError::AlreadyRunning`] if another process holds the lock;
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
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(SysError::AlreadyRunning {
                    pid: text.trim().parse().unwrap_or(0),
                    path: path.to_path_buf(),
                });
            }
            return Err(os("Could not lock")(err));
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
    fn unwritable_location_is_an_error() {
        let e = PidFile::create(Path::new("/nonexistent-dir/kronyd.pid")).expect_err("no dir");
        assert!(e.to_string().contains("/nonexistent-dir/kronyd.pid"));
    }
}
