//! The driftfile (`driftfile FILE`): the clock's frequency error and its skew in
//! ppm, read once at start and written every `interval` and at exit, in chrony's
//! format (see [`krony_engine::discipline::format_driftfile`]), so that chronyd and
//! kronyd read each other's files.
//!
//! Writing goes through `FILE.tmp`, created exclusively with mode 0644 and renamed
//! over the file, as chrony does; so a reader never sees half a file, and the
//! file's permissions and owner are those of a new file, not the old one's (chrony
//! behaves the same: checked with chronyd 4.3). Unlike chrony, kronyd also flushes
//! the temporary file to disk before the rename, so that a crash cannot leave an
//! empty driftfile behind.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use krony_engine::discipline::{format_driftfile, parse_driftfile};

use super::{FileError, create_new, os_error_text};
use crate::logging::Severity;

/// Values read from a driftfile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// Frequency error in ppm (positive: the uncorrected clock runs fast).
    pub frequency_ppm: f64,
    /// Skew (uncertainty of the frequency) in ppm.
    pub skew_ppm: f64,
}

/// Why the driftfile could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened: usually it does not exist yet, which is
    /// normal on a first start (chrony logs this at debug level only).
    #[error("Could not open {} : {}", path.display(), os_error_text(source))]
    Open {
        /// The driftfile.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file does not start with two valid numbers.
    #[error("Could not read valid frequency and skew from driftfile {}", path.display())]
    Invalid {
        /// The driftfile.
        path: PathBuf,
    },
}

impl ReadError {
    /// The severity chrony logs this with: debug for a file that cannot be
    /// opened, warning for a corrupt one.
    pub fn severity(&self) -> Severity {
        match self {
            ReadError::Open { .. } => Severity::Debug,
            ReadError::Invalid { .. } => Severity::Warn,
        }
    }
}

/// The driftfile of `driftfile FILE [interval]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driftfile {
    path: PathBuf,
}

impl Driftfile {
    /// The driftfile at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Driftfile { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of the temporary file written before the rename.
    pub fn temp_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".tmp");
        PathBuf::from(p)
    }

    /// Reads the frequency and skew.
    ///
    /// # Errors
    /// [`ReadError`]; the daemon logs it with [`ReadError::severity`] and starts
    /// from the clock's current frequency, as chronyd does.
    pub fn read(&self) -> Result<Drift, ReadError> {
        let bytes = fs::read(&self.path).map_err(|source| ReadError::Open {
            path: self.path.clone(),
            source,
        })?;
        // Non-UTF-8 bytes after the two numbers do not matter (chrony reads
        // only the numbers); invalid bytes in them make them invalid.
        let text = String::from_utf8_lossy(&bytes);
        let (frequency_ppm, skew_ppm) = parse_driftfile(&text).map_err(|_| ReadError::Invalid {
            path: self.path.clone(),
        })?;
        Ok(Drift {
            frequency_ppm,
            skew_ppm,
        })
    }

    /// Writes `frequency_ppm` and `skew_ppm` via the temporary file and a
    /// rename. On failure the temporary file is removed and the old driftfile
    /// is left as it was.
    ///
    /// # Errors
    /// [`FileError`] with chrony's texts ("Could not open F.tmp : ...",
    /// "Could not replace F with F.tmp : ..."), logged at error level.
    pub fn write(&self, frequency_ppm: f64, skew_ppm: f64) -> Result<(), FileError> {
        let temp = self.temp_path();
        let mut file = create_new(&temp)?;
        let written = file
            .write_all(format_driftfile(frequency_ppm, skew_ppm).as_bytes())
            .and_then(|()| file.sync_all());
        drop(file);
        let result = match written {
            Err(source) => Err(FileError::Write {
                path: temp.clone(),
                source,
            }),
            Ok(()) => fs::rename(&temp, &self.path).map_err(|source| FileError::Replace {
                path: self.path.clone(),
                temp: temp.clone(),
                source,
            }),
        };
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }
}

/// The message chronyd logs (at info level) after reading a driftfile.
pub fn read_message(drift: &Drift, path: &Path) -> String {
    format!(
        "Frequency {:.3} +/- {:.3} ppm read from {}",
        drift.frequency_ppm,
        drift.skew_ppm,
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn setup() -> (tempfile::TempDir, Driftfile) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = Driftfile::new(tmp.path().join("drift"));
        (tmp, d)
    }

    #[test]
    fn round_trip_and_message() {
        let (_tmp, d) = setup();
        d.write(-12.345678, 0.0123).expect("write");
        let text = fs::read_to_string(d.path()).expect("read");
        assert_eq!(text, "          -12.345678             0.012300\n");
        let drift = d.read().expect("read back");
        assert_eq!(
            drift,
            Drift {
                frequency_ppm: -12.345678,
                skew_ppm: 0.0123
            }
        );
        assert_eq!(
            read_message(&drift, d.path()),
            format!(
                "Frequency -12.346 +/- 0.012 ppm read from {}",
                d.path().display()
            )
        );
    }

    #[test]
    fn chrony_written_file_is_read() {
        // As chronyd 4.3 wrote it.
        let (_tmp, d) = setup();
        fs::write(d.path(), "           -0.002294             0.010986\n").expect("write");
        let drift = d.read().expect("read");
        assert_eq!(drift.frequency_ppm, -0.002294);
        assert_eq!(drift.skew_ppm, 0.010986);
    }

    #[test]
    fn missing_file_is_a_debug_message() {
        let (_tmp, d) = setup();
        let err = d.read().expect_err("no file");
        assert_eq!(err.severity(), Severity::Debug);
        assert_eq!(
            err.to_string(),
            format!(
                "Could not open {} : No such file or directory",
                d.path().display()
            )
        );
    }

    #[test]
    fn corrupt_files_are_warned_about() {
        let (_tmp, d) = setup();
        for bad in [&b"garbage\n"[..], b"", b"12.5\n", b"1 nan", b"\xff\xfe 1"] {
            fs::write(d.path(), bad).expect("write");
            let err = d.read().expect_err("corrupt");
            assert_eq!(err.severity(), Severity::Warn);
            assert_eq!(
                err.to_string(),
                format!(
                    "Could not read valid frequency and skew from driftfile {}",
                    d.path().display()
                )
            );
        }
    }

    #[test]
    fn write_is_atomic_and_leaves_no_temp_file() {
        let (tmp, d) = setup();
        fs::write(d.path(), "old").expect("write");
        // A stale temp file from a crash is replaced, not a reason to fail.
        fs::write(d.temp_path(), "stale").expect("write");
        d.write(1.5, 0.25).expect("write");
        assert!(!d.temp_path().exists());
        let names: Vec<_> = fs::read_dir(tmp.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("drift")]);
        let mode = fs::metadata(d.path()).expect("stat").permissions().mode();
        assert_eq!(mode & 0o7777 & !0o644, 0, "at most 0644: {mode:o}");
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // The driftfile's path is a non-empty directory: the rename fails.
        let path = tmp.path().join("drift");
        fs::create_dir(&path).expect("mkdir");
        fs::write(path.join("x"), "").expect("write");
        let d = Driftfile::new(&path);
        let err = d.write(1.0, 1.0).expect_err("cannot replace a directory");
        let p = path.display();
        assert!(
            err.to_string()
                .starts_with(&format!("Could not replace {p} with {p}.tmp : ")),
            "{err}"
        );
        assert!(!d.temp_path().exists());
        let err = Driftfile::new(tmp.path().join("none/drift"))
            .write(1.0, 1.0)
            .expect_err("no directory");
        assert!(err.to_string().starts_with("Could not open "), "{err}");
    }
}
