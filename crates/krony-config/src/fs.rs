//! File-system access used by `include`, `confdir` and `sourcedir`.
//!
//! Behind a trait so that parsing from a string (fuzzing, tests, `kronyd -p` with lines on
//! the command line) can run without touching the file system.

use std::io;
use std::path::Path;

/// The file operations the loader needs.
pub trait FileSystem {
    /// Reads a whole file as UTF-8.
    ///
    /// # Errors
    /// Any I/O error, or invalid UTF-8.
    fn read_to_string(&self, path: &str) -> io::Result<String>;

    /// Expands an `include` pattern into sorted paths.
    ///
    /// A pattern without wildcards (`* ? [`) is returned as it is, so that reading it
    /// reports a missing file (chrony's `GLOB_NOMAGIC`).
    ///
    /// # Errors
    /// An invalid pattern, or a directory of the pattern that cannot be read.
    fn glob(&self, pattern: &str) -> io::Result<Vec<String>>;

    /// Names of the non-hidden entries of `dir` that end with `suffix`. A missing directory
    /// has no entries.
    ///
    /// # Errors
    /// A directory that exists but cannot be read.
    fn list_dir(&self, dir: &str, suffix: &str) -> io::Result<Vec<String>>;
}

/// True if the pattern contains glob wildcards.
pub fn has_wildcards(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FileSystem for RealFs {
    fn read_to_string(&self, path: &str) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<String>> {
        if !has_wildcards(pattern) {
            return Ok(vec![pattern.to_string()]);
        }
        // Like glob(3): `*` does not match a leading dot, and `/` only literally.
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let paths = glob::glob_with(pattern, opts)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.msg))?;
        let mut out = Vec::new();
        for p in paths {
            let p = p.map_err(io::Error::from)?;
            let s = p.to_str().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "path is not valid UTF-8")
            })?;
            out.push(s.to_string());
        }
        if out.is_empty() {
            check_literal_parent(pattern)?;
        }
        out.sort();
        Ok(out)
    }

    fn list_dir(&self, dir: &str, suffix: &str) -> io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            if let Some(name) = name.to_str() {
                if !name.starts_with('.') && name.ends_with(suffix) {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }
}

/// chrony's glob (with `GLOB_ERR`) fails when the directory part of the pattern does not
/// exist; an existing directory without matches is fine.
fn check_literal_parent(pattern: &str) -> io::Result<()> {
    match Path::new(pattern).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            let p = parent.to_string_lossy();
            if !has_wildcards(&p) {
                std::fs::metadata(parent)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// No file system: every read fails and directories are empty.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFs;

impl FileSystem for NoFs {
    fn read_to_string(&self, _path: &str) -> io::Result<String> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "file access disabled",
        ))
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<String>> {
        if has_wildcards(pattern) {
            Ok(Vec::new())
        } else {
            Ok(vec![pattern.to_string()])
        }
    }

    fn list_dir(&self, _dir: &str, _suffix: &str) -> io::Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// An in-memory file system (path -> contents), for tests and embedding.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: std::collections::BTreeMap<String, String>,
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        MemFs::default()
    }

    /// Adds or replaces a file.
    pub fn insert(&mut self, path: &str, contents: &str) {
        self.files.insert(path.to_string(), contents.to_string());
    }
}

impl FileSystem for MemFs {
    fn read_to_string(&self, path: &str) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }

    fn glob(&self, pattern: &str) -> io::Result<Vec<String>> {
        if !has_wildcards(pattern) {
            return Ok(vec![pattern.to_string()]);
        }
        let pat = glob::Pattern::new(pattern)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.msg))?;
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        // BTreeMap keys are already sorted.
        Ok(self
            .files
            .keys()
            .filter(|k| pat.matches_with(k, opts))
            .cloned()
            .collect())
    }

    fn list_dir(&self, dir: &str, suffix: &str) -> io::Result<Vec<String>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|n| !n.contains('/') && !n.starts_with('.') && n.ends_with(suffix))
            .map(str::to_string)
            .collect())
    }
}
