//! chrony.conf grammar parsed into a typed [`Config`].
//!
//! krony reads chrony's configuration format unchanged: the same directives, options, units,
//! defaults and ranges (chrony's `doc/chrony.conf.adoc` and `conf.c` are the reference).
//!
//! - [`parse_str`] parses text without touching the file system (an `include` of a named
//!   file fails, wildcard includes and `confdir` find nothing).
//! - [`load_file`] reads a file and expands `include` and `confdir` from disk.
//! - [`parse_source_line`] is the `server|pool|peer` grammar, shared with
//!   `kronyc add server ...`; [`parse_sources_file`] and [`load_source_dirs`] read
//!   `sourcedir` files (again on `reload sources`).
//! - [`Config::to_conf_string`] prints a configuration back; parsing the output gives an
//!   equal [`Config`]. [`Parsed::to_conf_string`] prints the lines in file order, the way
//!   `chronyd -p` does.
//!
//! Errors name the file and line ([`ConfigError`]); directives that kronyd parses but does
//! not act on yet are reported as [`Warning`]s, never silently dropped (see
//! [`directive_status`]).
//!
//! ```
//! let parsed = krony_config::parse_str("server ntp.example iburst\nmakestep 1.0 3\n", "x.conf")
//!     .unwrap();
//! assert_eq!(parsed.config.sources[0].host, "ntp.example");
//! assert_eq!(parsed.config.makestep.unwrap().limit, 3);
//! let err = krony_config::parse_str("server a minpoll x", "x.conf").unwrap_err();
//! assert_eq!(err.to_string(), "x.conf:1: invalid minpoll \"x\" in server directive (not an integer)");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod config_print;
mod directive;
mod directive_more;
mod error;
mod fs;
mod lexer;
mod loader;
mod print;
mod refclock;
mod settings;
mod source;
mod status;
mod types;

pub use config::Config;
pub use directive::{BindScope, Directive, MAX_CONF_DIRS, ParsedLine, parse_directive};
pub use error::{ConfigError, ParseError, Reason, Warning, WarningKind};
pub use fs::{FileSystem, MemFs, NoFs, RealFs};
pub use lexer::{MAX_LINE_LENGTH, split_line};
pub use loader::{
    Loader, LocatedDirective, MAX_INCLUDE_DEPTH, Parsed, load_source_dirs, parse_sources_file,
    search_dirs,
};
pub use refclock::{RefclockDriver, RefclockOptions, RefclockSpec};
pub use settings::{FlagSetting, FloatSetting, IntSetting, StringSetting};
pub use source::{
    ExtFields, Family, SelectOptions, SourceKind, SourceOptions, SourceSpec, parse_source_line,
};
pub use status::{DIRECTIVES, DirectiveStatus, directive_status};
pub use types::*;

/// Parses configuration text without touching the file system; `name` appears in messages.
///
/// # Errors
/// The first invalid line, as `name:line: problem`.
pub fn parse_str(text: &str, name: &str) -> Result<Parsed, ConfigError> {
    parse_str_with(text, name, &NoFs)
}

/// Parses configuration text, reading included files through `fs`.
///
/// # Errors
/// The first invalid line, here or in an included file.
pub fn parse_str_with(text: &str, name: &str, fs: &dyn FileSystem) -> Result<Parsed, ConfigError> {
    let mut loader = Loader::new(fs);
    loader.load_text(text, name)?;
    Ok(loader.finish())
}

/// Reads a configuration file from disk, expanding `include` and `confdir`.
///
/// # Errors
/// The file cannot be read or contains an invalid line.
pub fn load_file(path: &str) -> Result<Parsed, ConfigError> {
    let mut loader = Loader::new(&RealFs);
    loader.load_file(path, None)?;
    Ok(loader.finish())
}

/// Parses configuration lines given one per argument (chronyd's trailing command-line
/// arguments); `name` appears in messages and line numbers count the arguments.
///
/// # Errors
/// The first invalid line.
pub fn parse_lines(
    lines: &[String],
    name: &str,
    fs: &dyn FileSystem,
) -> Result<Parsed, ConfigError> {
    let mut loader = Loader::new(fs);
    for (i, line) in lines.iter().enumerate() {
        loader.load_line(line, name, i + 1)?;
    }
    Ok(loader.finish())
}

impl Config {
    /// Parses configuration text without touching the file system and returns only the
    /// configuration (see [`parse_str`] for the warnings).
    ///
    /// # Errors
    /// The first invalid line.
    pub fn parse_str(text: &str, name: &str) -> Result<Config, ConfigError> {
        parse_str(text, name).map(|p| p.config)
    }
}
