//! Directories through libc's `stat` and `mkdir`, as chronyd checks and
//! creates them (`UTI_CreateDirAndParents`). std's `metadata` uses `statx`,
//! which clknetsim does not intercept, so under clknetsim the daemon would
//! miss the simulated `/clknetsim/unix` directory of its command socket and
//! create a real one.

use std::ffi::CString;
use std::io;
use std::path::Path;

/// What is at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// Nothing (ENOENT).
    Missing,
    /// A directory (symbolic links followed).
    Directory,
    /// Anything else.
    Other,
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `stat(2)` of `path`.
///
/// # Errors
/// The OS error other than ENOENT (e.g. EACCES).
pub fn path_kind(path: &Path) -> io::Result<PathKind> {
    let c = c_path(path)?;
    // SAFETY: zero is a valid bit pattern for the plain C struct stat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated string and st a valid, exclusively
    // borrowed struct stat, both alive for the call.
    let r = unsafe { libc::stat(c.as_ptr(), &mut st) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOENT) {
            return Ok(PathKind::Missing);
        }
        return Err(e);
    }
    Ok(if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        PathKind::Directory
    } else {
        PathKind::Other
    })
}

/// `mkdir(2)` with `mode` (less the umask).
///
/// # Errors
/// The OS error.
pub fn mkdir(path: &Path, mode: u32) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: c is a NUL-terminated string alive for the call.
    let r = unsafe { libc::mkdir(c.as_ptr(), mode as libc::mode_t) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_mkdir() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("d");
        assert_eq!(path_kind(&dir).expect("stat"), PathKind::Missing);
        mkdir(&dir, 0o750).expect("mkdir");
        assert_eq!(path_kind(&dir).expect("stat"), PathKind::Directory);
        let file = dir.join("f");
        std::fs::write(&file, b"x").expect("write");
        assert_eq!(path_kind(&file).expect("stat"), PathKind::Other);
        let e = mkdir(&dir, 0o750).expect_err("exists");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(path_kind(Path::new("a\0b")).is_err());
    }
}
