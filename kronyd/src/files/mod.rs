//! kronyd's files: the driftfile, the per-source dump files of `dumpdir`, and the
//! statistics logs of `logdir`, in chrony's formats so that chronyd and kronyd can
//! take over each other's files.
//!
//! Everything here is plain `std::fs`. Errors carry chrony's message texts (admins
//! grep them) and the severity chrony logs them with; the daemon logs them and goes
//! on, as chronyd does: no file problem stops the daemon.
//!
//! How files are opened follows chrony's `UTI_OpenFile`:
//! * new files (driftfile's `.tmp`, dumps) are created exclusively with mode 0644
//!   (less the umask), after removing whatever is at the path, so that a symlink
//!   planted there is replaced rather than followed;
//! * log files are opened for appending with `O_NOFOLLOW`, created with mode 0644
//!   (0640 for the `-l` message log);
//! * directories (`logdir`, `dumpdir`) are created with their parents, the last one
//!   with the given mode and owner, parents with 0755 (as `UTI_CreateDirAndParents`).

pub mod driftfile;
pub mod dump;
pub mod leapdb;
pub mod logfiles;
pub mod loglines;
pub mod rtcfile;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::logging::Severity;
use crate::sys::dirs::{self, PathKind};

/// Mode of the files kronyd creates (before the umask), as chrony's.
pub const FILE_MODE: u32 = 0o644;

/// Mode of `logdir` and `dumpdir` when kronyd creates them (chrony's 0750).
pub const DIR_MODE: u32 = 0o750;

/// Mode of parent directories created on the way to `logdir` or `dumpdir`.
const PARENT_DIR_MODE: u32 = 0o755;

/// The text C's `strerror` gives for an I/O error (Rust's `Display` appends
/// " (os error N)", which chrony's messages do not have).
pub fn os_error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// A problem with a file or directory, in chrony's words.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A file could not be opened or created.
    #[error("Could not open {} : {}", path.display(), os_error_text(source))]
    Open {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file in the way of a new one could not be removed.
    #[error("Could not remove {} : {}", path.display(), os_error_text(source))]
    Remove {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Writing failed (chrony does not report this; kronyd does, at error level).
    #[error("Could not write {} : {}", path.display(), os_error_text(source))]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A temporary file could not be renamed over the real one.
    #[error("Could not replace {} with {} : {}", path.display(), temp.display(), os_error_text(source))]
    Replace {
        /// The file to be replaced.
        path: PathBuf,
        /// The temporary file.
        temp: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A directory on the path could not be examined.
    #[error("Could not access {} : {}", path.display(), os_error_text(source))]
    Access {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Something that is not a directory is where a directory should be.
    #[error("{} is not directory", path.display())]
    NotDirectory {
        /// The path.
        path: PathBuf,
    },
    /// A directory could not be created.
    #[error("Could not create directory {} : {}", path.display(), os_error_text(source))]
    CreateDir {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The owner of a new directory could not be set (the directory is removed).
    #[error("Could not change ownership of {} : {}", path.display(), os_error_text(source))]
    Chown {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl FileError {
    /// The severity chrony logs this with. Every file problem is an error to
    /// chrony, except a file that cannot be opened for reading, which is usually
    /// just absent: see [`FileError::is_not_found`].
    pub fn severity(&self) -> Severity {
        Severity::Error
    }

    /// Whether the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Creates `path` for writing: exclusively, with [`FILE_MODE`], after removing
/// what is there (chrony's `UTI_OpenFile` mode `'w'`). A symlink at `path` is
/// removed, not followed.
pub fn create_new(path: &Path) -> Result<File, FileError> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path).map_err(|source| FileError::Remove {
                path: path.to_path_buf(),
                source,
            })?;
            open()
        }
        other => other,
    }
    .map_err(|source| FileError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens `path` for appending, creating it with `mode` (chrony's mode `'a'`:
/// `O_APPEND | O_NOFOLLOW`, so a symlink planted at a log path is refused).
pub fn open_append(path: &Path, mode: u32) -> Result<File, FileError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|source| FileError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// Removes `path` if it exists (chrony's `UTI_RemoveFile`). Returns whether a
/// file was removed; a missing file is not an error.
pub fn remove_if_exists(path: &Path) -> Result<bool, FileError> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(false);
    }
    fs::remove_file(path)
        .map(|()| true)
        .map_err(|source| FileError::Remove {
            path: path.to_path_buf(),
            source,
        })
}

/// Who should own a directory kronyd creates: the user kronyd runs as after
/// dropping root (`user` / `-u`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

/// Creates `path` and its missing parents (chrony's `UTI_CreateDirAndParents`):
/// the last directory with `mode` and, if given, `owner`; parents with mode 0755
/// and, if an owner is given, owned by root (chrony creates them as root). An
/// existing directory is left as it is. `"."` is never created.
///
/// # Errors
/// The first problem met, in chrony's words; a new directory whose owner could
/// not be set is removed again.
pub fn create_dir_and_parents(
    path: &Path,
    mode: u32,
    owner: Option<Owner>,
) -> Result<(), FileError> {
    let targets: Vec<PathBuf> = prefixes(path);
    let last = targets.len().saturating_sub(1);
    for (i, dir) in targets.iter().enumerate() {
        let (mode, owner) = if i == last {
            (mode, owner)
        } else {
            (PARENT_DIR_MODE, owner.map(|_| Owner { uid: 0, gid: 0 }))
        };
        create_dir(dir, mode, owner)?;
    }
    Ok(())
}

/// The directories to check on the way to `path`, shortest first, without the
/// root and `.` (which always exist).
fn prefixes(path: &Path) -> Vec<PathBuf> {
    let mut current = PathBuf::new();
    let mut out = Vec::new();
    for c in path.components() {
        current.push(c.as_os_str());
        if matches!(c, Component::Normal(_) | Component::ParentDir) {
            out.push(current.clone());
        }
    }
    out
}

/// Checks and creates through libc's `stat` and `mkdir`, as chronyd (see
/// [`crate::sys::dirs`]).
fn create_dir(dir: &Path, mode: u32, owner: Option<Owner>) -> Result<(), FileError> {
    match dirs::path_kind(dir) {
        Ok(PathKind::Directory) => return Ok(()),
        Ok(PathKind::Other) => {
            return Err(FileError::NotDirectory {
                path: dir.to_path_buf(),
            });
        }
        Ok(PathKind::Missing) => {}
        Err(source) => {
            return Err(FileError::Access {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    dirs::mkdir(dir, mode).map_err(|source| FileError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    if let Some(o) = owner {
        if let Err(source) = std::os::unix::fs::chown(dir, Some(o.uid), Some(o.gid)) {
            // Like chrony: a directory with the wrong owner is not left behind.
            let _ = fs::remove_dir(dir);
            return Err(FileError::Chown {
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn current_owner(dir: &Path) -> Owner {
        let m = fs::metadata(dir).expect("temp dir exists");
        Owner {
            uid: m.uid(),
            gid: m.gid(),
        }
    }

    #[test]
    fn os_error_text_is_strerror() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(os_error_text(&e), "No such file or directory");
        let e = io::Error::other("plain");
        assert_eq!(os_error_text(&e), "plain");
    }

    #[test]
    fn dirs_are_created_with_chrony_modes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let owner = current_owner(tmp.path());
        let target = tmp.path().join("a/b//c/");
        // Parents of an owned directory would go to root: only possible as root.
        let is_root = owner.uid == 0;
        let given = if is_root { Some(owner) } else { None };
        create_dir_and_parents(&target, DIR_MODE, given).expect("created");
        let mode = |p: &Path| fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        let umask_ok = |want: u32, got: u32| got & !want == 0;
        assert!(umask_ok(DIR_MODE, mode(&tmp.path().join("a/b/c"))));
        assert!(umask_ok(PARENT_DIR_MODE, mode(&tmp.path().join("a"))));
        assert_eq!(
            mode(&tmp.path().join("a/b/c")) & 0o7,
            0,
            "no access for others"
        );
        // Existing directories are fine.
        create_dir_and_parents(&target, DIR_MODE, given).expect("exists");
        create_dir_and_parents(Path::new("."), DIR_MODE, None).expect("dot");
    }

    #[test]
    fn file_in_the_way_is_reported() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join("f"), b"x").expect("write");
        let err = create_dir_and_parents(&tmp.path().join("f/sub"), DIR_MODE, None)
            .expect_err("a file is not a directory");
        assert_eq!(
            err.to_string(),
            format!("{}/f is not directory", tmp.path().display())
        );
    }

    #[test]
    fn create_new_replaces_symlinks_instead_of_following_them() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let victim = tmp.path().join("victim");
        fs::write(&victim, b"keep").expect("write");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let mut f = create_new(&link).expect("created");
        f.write_all(b"new").expect("write");
        assert_eq!(fs::read(&victim).expect("read"), b"keep");
        assert_eq!(fs::read(&link).expect("read"), b"new");
        assert!(!fs::symlink_metadata(&link).expect("stat").is_symlink());
    }

    #[test]
    fn append_refuses_symlinks() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let victim = tmp.path().join("victim");
        fs::write(&victim, b"keep").expect("write");
        let link = tmp.path().join("x.log");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let err = open_append(&link, FILE_MODE).expect_err("O_NOFOLLOW");
        assert!(err.to_string().starts_with("Could not open "), "{err}");
        assert_eq!(fs::read(&victim).expect("read"), b"keep");
    }

    #[test]
    fn remove_if_exists_tolerates_absence() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = tmp.path().join("gone");
        assert!(!remove_if_exists(&p).expect("absent is fine"));
        fs::write(&p, b"").expect("write");
        assert!(remove_if_exists(&p).expect("removed"));
        assert!(!p.exists());
    }
}
