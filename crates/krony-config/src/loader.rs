//! Reading configuration text and files: line by line, expanding `include` and `confdir`.

use crate::config::Config;
use crate::directive::{Directive, parse_directive};
use crate::error::{ConfigError, ParseError, Warning, WarningKind};
use crate::fs::{FileSystem, has_wildcards};
use crate::lexer::split_line;
use crate::source::{SourceKind, SourceSpec, parse_source_line};
use crate::status::{DirectiveStatus, directive_status};

/// chrony stops at 10 nested files (`MAX_INCLUDE_LEVEL`), which also catches include loops.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// A directive with the place it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LocatedDirective {
    /// File name.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The directive.
    pub directive: Directive,
}

/// The result of reading a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The effective configuration.
    pub config: Config,
    /// Every directive in the order read, with `include`/`confdir` expanded (and left out,
    /// as `chronyd -p` does).
    pub directives: Vec<LocatedDirective>,
    /// Non-fatal remarks, in order.
    pub warnings: Vec<Warning>,
}

impl Parsed {
    /// The directives as text, one per line, in the order read (like `chronyd -p`).
    pub fn to_conf_string(&self) -> String {
        self.directives
            .iter()
            .map(|d| format!("{}\n", d.directive))
            .collect()
    }
}

/// Reads configuration text through a [`FileSystem`].
pub struct Loader<'f> {
    fs: &'f dyn FileSystem,
    depth: usize,
    out: Parsed,
}

fn io_message(e: &std::io::Error) -> String {
    // Drop Rust's " (os error N)" suffix; chrony prints only the strerror text.
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl<'f> Loader<'f> {
    /// A loader reading included files through `fs`.
    pub fn new(fs: &'f dyn FileSystem) -> Self {
        Loader {
            fs,
            depth: 0,
            out: Parsed {
                config: Config::default(),
                directives: Vec::new(),
                warnings: Vec::new(),
            },
        }
    }

    /// The result so far.
    pub fn finish(self) -> Parsed {
        self.out
    }

    /// Reads a file; `from` is the (file, line) of the `include` naming it, if any.
    ///
    /// # Errors
    /// The file cannot be read, or any line in it (or included from it) is invalid.
    pub fn load_file(
        &mut self,
        path: &str,
        from: Option<(&str, usize)>,
    ) -> Result<(), ConfigError> {
        let located = |error| match from {
            Some((file, line)) => ConfigError {
                file: file.to_string(),
                line: Some(line),
                error,
            },
            None => ConfigError {
                file: path.to_string(),
                line: None,
                error,
            },
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(located(ParseError::IncludeDepth {
                max: MAX_INCLUDE_DEPTH,
            }));
        }
        let text = self.fs.read_to_string(path).map_err(|e| {
            located(ParseError::Io {
                path: path.to_string(),
                message: io_message(&e),
            })
        })?;
        self.depth += 1;
        let r = self.load_text(&text, path);
        self.depth -= 1;
        r
    }

    /// Reads configuration text; `name` is used in messages.
    ///
    /// # Errors
    /// The first invalid line.
    pub fn load_text(&mut self, text: &str, name: &str) -> Result<(), ConfigError> {
        for (i, line) in text.split('\n').enumerate() {
            self.load_line(line, name, i + 1)?;
        }
        Ok(())
    }

    /// Parses and applies one line.
    ///
    /// # Errors
    /// The line is invalid, or an included file is.
    pub fn load_line(&mut self, line: &str, file: &str, number: usize) -> Result<(), ConfigError> {
        let at = |error| ConfigError {
            file: file.to_string(),
            line: Some(number),
            error,
        };
        let words = split_line(line).map_err(at)?;
        let Some((name, args)) = words.split_first() else {
            return Ok(());
        };
        let parsed = parse_directive(name, args).map_err(at)?;
        let warn = |kind| Warning {
            file: file.to_string(),
            line: number,
            directive: parsed.name.to_string(),
            kind,
        };
        let status = directive_status(parsed.name).unwrap_or(DirectiveStatus::NotImplemented);
        let mut warnings: Vec<Warning> = parsed.warnings.iter().cloned().map(warn).collect();
        match status {
            DirectiveStatus::NotImplemented => warnings.push(warn(WarningKind::NotImplemented)),
            DirectiveStatus::Obsolete => warnings.push(warn(WarningKind::Obsolete)),
            DirectiveStatus::Ignored => warnings.push(warn(WarningKind::Ignored)),
            DirectiveStatus::Implemented | DirectiveStatus::Structural => {}
        }
        self.out.warnings.extend(warnings);
        match &parsed.directive {
            Directive::Include(pattern) => return self.include(pattern, file, number),
            Directive::ConfDir(dirs) => return self.confdir(dirs, file, number),
            _ => {}
        }
        self.out.config.apply(&parsed.directive);
        self.out.directives.push(LocatedDirective {
            file: file.to_string(),
            line: number,
            directive: parsed.directive,
        });
        Ok(())
    }

    fn include(&mut self, pattern: &str, file: &str, line: usize) -> Result<(), ConfigError> {
        let paths = self.fs.glob(pattern).map_err(|e| ConfigError {
            file: file.to_string(),
            line: Some(line),
            error: ParseError::Io {
                path: pattern.to_string(),
                message: io_message(&e),
            },
        })?;
        if paths.is_empty() && has_wildcards(pattern) {
            self.out.warnings.push(Warning {
                file: file.to_string(),
                line,
                directive: "include".to_string(),
                kind: WarningKind::NoMatch(pattern.to_string()),
            });
        }
        for p in paths {
            self.load_file(&p, Some((file, line)))?;
        }
        Ok(())
    }

    fn confdir(&mut self, dirs: &[String], file: &str, line: usize) -> Result<(), ConfigError> {
        let files = search_dirs(self.fs, dirs, ".conf").map_err(|(path, e)| ConfigError {
            file: file.to_string(),
            line: Some(line),
            error: ParseError::Io {
                path,
                message: io_message(&e),
            },
        })?;
        for p in files {
            self.load_file(&p, Some((file, line)))?;
        }
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The files of `confdir`/`sourcedir` directories: every name ending with `suffix`, sorted
/// by file name; when several directories hold the same name, only the file in the
/// earliest directory (in the order given) is used.
///
/// # Errors
/// The directory that could not be read, with the error.
pub fn search_dirs(
    fs: &dyn FileSystem,
    dirs: &[String],
    suffix: &str,
) -> Result<Vec<String>, (String, std::io::Error)> {
    let mut found: Vec<(String, usize)> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let names = fs.list_dir(dir, suffix).map_err(|e| (dir.clone(), e))?;
        found.extend(names.into_iter().map(|n| (n, i)));
    }
    // Sort by name (byte order, like strcmp), then by directory order; keep the first.
    found.sort();
    found.dedup_by(|b, a| a.0 == b.0);
    Ok(found
        .into_iter()
        .filter_map(|(name, i)| dirs.get(i).map(|d| join(d, &name)))
        .collect())
}

/// Parses a `sourcedir` file (`*.sources`): only `server`, `pool` and `peer` lines count.
///
/// Like chrony, bad lines do not stop the daemon; unlike chrony, each one gives a warning.
/// chrony requires every line to end with a newline; an unterminated last line is ignored.
pub fn parse_sources_file(text: &str, name: &str) -> (Vec<SourceSpec>, Vec<Warning>) {
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let complete = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        let warn = |directive: &str, why: String| Warning {
            file: name.to_string(),
            line: i + 1,
            directive: directive.to_string(),
            kind: WarningKind::SourceLineIgnored(why),
        };
        let words = match split_line(line) {
            Ok(w) => w,
            Err(e) => {
                warnings.push(warn("", e.to_string()));
                continue;
            }
        };
        let Some((first, args)) = words.split_first() else {
            continue;
        };
        if i >= complete {
            warnings.push(warn(first, "line not terminated by a newline".to_string()));
            continue;
        }
        let Some(kind) = SourceKind::from_name(first) else {
            warnings.push(warn(
                first,
                format!("{first} is not a server, pool or peer directive"),
            ));
            continue;
        };
        match parse_source_line(kind, args) {
            Ok((spec, _)) => sources.push(spec),
            Err(e) => warnings.push(warn(kind.name(), e.to_string())),
        }
    }
    (sources, warnings)
}

/// Reads all sources of the configuration's `sourcedir` directives (at start and on
/// `reload sources`).
pub fn load_source_dirs(
    fs: &dyn FileSystem,
    sourcedirs: &[Vec<String>],
) -> (Vec<SourceSpec>, Vec<Warning>) {
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    for dirs in sourcedirs {
        let files = match search_dirs(fs, dirs, ".sources") {
            Ok(f) => f,
            Err((dir, e)) => {
                warnings.push(Warning {
                    file: dir,
                    line: 0,
                    directive: "sourcedir".to_string(),
                    kind: WarningKind::SourceLineIgnored(io_message(&e)),
                });
                continue;
            }
        };
        for path in files {
            // chrony skips files it cannot open; we say so.
            match fs.read_to_string(&path) {
                Ok(text) => {
                    let (s, w) = parse_sources_file(&text, &path);
                    sources.extend(s);
                    warnings.extend(w);
                }
                Err(e) => warnings.push(Warning {
                    file: path.clone(),
                    line: 0,
                    directive: "sourcedir".to_string(),
                    kind: WarningKind::SourceLineIgnored(io_message(&e)),
                }),
            }
        }
    }
    (sources, warnings)
}
