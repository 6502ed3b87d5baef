//! The three manual pages, built from doc/*.md and the code's own tables.

use std::collections::BTreeSet;

use krony_config::{DIRECTIVES, DirectiveStatus, directive_status};

use crate::Error;
use crate::markdown::{Block, Doc, Table, parse};
use crate::roff::plain;

/// doc/kronyd.md.
pub const KRONYD_MD: &str = include_str!("../../doc/kronyd.md");
/// doc/kronyc.md.
pub const KRONYC_MD: &str = include_str!("../../doc/kronyc.md");
/// doc/krony.conf.md.
pub const CONF_MD: &str = include_str!("../../doc/krony.conf.md");
/// The configuration the packages install as /etc/krony/krony.conf.
pub const SHIPPED_CONF: &str = include_str!("../../packaging/krony.conf");

/// The status words an option or command table may use.
pub const STATUS_WORDS: &[&str] = &["implemented", "accepted and ignored", "not implemented yet"];

/// How a directive's status reads in krony.conf(5).
pub fn status_text(s: DirectiveStatus) -> &'static str {
    match s {
        DirectiveStatus::Implemented => "implemented",
        DirectiveStatus::NotImplemented => "accepted, not acted on yet (warning)",
        DirectiveStatus::Obsolete => "obsolete: accepted and ignored with a warning",
        DirectiveStatus::Ignored => "accepted and ignored",
        DirectiveStatus::Structural => "implemented (read while loading the configuration)",
    }
}

/// A page ready to render, with the Markdown file it came from.
pub struct Page {
    /// The file name of the roff output (`kronyd.8`).
    pub file_name: String,
    /// The Markdown source's path in the repository, for the header comment.
    pub source: &'static str,
    /// The document with generated parts filled in.
    pub doc: Doc,
}

/// One documented option or command, one alias of a table row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The option (`-f`, `--json`) or command word (`tracking`).
    pub name: String,
    /// The option's argument name (`FILE`), or the command's first argument word.
    pub arg: Option<String>,
    /// The status column (empty when the table has none).
    pub status: String,
    /// The description, without markup.
    pub description: String,
}

/// Splits the first cell of every row of the tables headed `first` into entries: aliases
/// are separated by `, `; the first word is the name, the second the argument.
pub fn entries(doc: &Doc, first: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for t in doc.tables(first) {
        let status_col = t.header.iter().position(|h| h == "Status");
        let last = t.header.len() - 1;
        for row in &t.rows {
            for alias in row[0].split(", ") {
                let text = plain(alias);
                let mut words = text.split_whitespace();
                let Some(name) = words.next() else { continue };
                out.push(Entry {
                    name: name.to_string(),
                    arg: words.next().map(str::to_string),
                    status: status_col.map(|c| row[c].clone()).unwrap_or_default(),
                    description: plain(&row[last]),
                });
            }
        }
    }
    out
}

fn check_status_words(file: &str, list: &[Entry]) -> Result<(), Error> {
    match list
        .iter()
        .find(|e| !STATUS_WORDS.contains(&e.status.as_str()))
    {
        Some(e) => Err(Error::Doc(format!(
            "{file}: {} has status {:?}; use one of {STATUS_WORDS:?}",
            e.name, e.status
        ))),
        None => Ok(()),
    }
}

/// doc/kronyd.md, parsed and checked.
///
/// # Errors
/// A malformed source or an unknown status word.
pub fn kronyd_doc() -> Result<Doc, Error> {
    let doc = parse("doc/kronyd.md", KRONYD_MD)?;
    check_status_words("doc/kronyd.md", &entries(&doc, "Option"))?;
    Ok(doc)
}

/// doc/kronyc.md, parsed and checked.
///
/// # Errors
/// A malformed source, an unknown status word, or a command of kronyc's that is not
/// documented.
pub fn kronyc_doc() -> Result<Doc, Error> {
    let doc = parse("doc/kronyc.md", KRONYC_MD)?;
    check_status_words("doc/kronyc.md", &entries(&doc, "Option"))?;
    let commands = entries(&doc, "Command");
    check_status_words("doc/kronyc.md", &commands)?;
    let documented: BTreeSet<&str> = commands.iter().map(|e| e.name.as_str()).collect();
    let missing: Vec<&&str> = kronyc::help::COMMANDS
        .iter()
        .filter(|c| !documented.contains(**c))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Doc(format!(
            "doc/kronyc.md: kronyc commands not documented: {missing:?}"
        )));
    }
    Ok(doc)
}

/// Checks that the directive tables name every directive of krony-config exactly once.
fn check_directive_coverage(names: &[String]) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for n in names {
        if !seen.insert(n.as_str()) {
            problems.push(format!("{n} listed twice"));
        }
        if directive_status(n).is_none() {
            problems.push(format!("{n} is not a directive krony-config knows"));
        }
    }
    for (n, _) in DIRECTIVES {
        if !seen.contains(n) {
            problems.push(format!("{n} is not documented"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Doc(format!(
            "doc/krony.conf.md: {}",
            problems.join("; ")
        )))
    }
}

/// Adds the Status column (from krony-config's table) to a directive table.
fn with_status(t: &Table, names: &mut Vec<String>) -> Table {
    let mut header = t.header.clone();
    header.insert(1, "Status".to_string());
    let rows = t
        .rows
        .iter()
        .map(|row| {
            let name = plain(&row[0])
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            let status = directive_status(&name).map_or("unknown", status_text);
            names.push(name);
            let mut r = row.clone();
            r.insert(1, status.to_string());
            r
        })
        .collect();
    Table { header, rows }
}

/// The shipped configuration's directive lines, without comments.
pub fn shipped_config_lines() -> Vec<String> {
    SHIPPED_CONF
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', '!', ';', '%']))
        .map(str::to_string)
        .collect()
}

/// doc/krony.conf.md with the status of every directive filled in.
///
/// # Errors
/// A malformed source, a directive missing from the tables, listed twice or unknown.
pub fn conf_doc() -> Result<Doc, Error> {
    let mut doc = parse("doc/krony.conf.md", CONF_MD)?;
    let mut names = Vec::new();
    let mut blocks = Vec::with_capacity(doc.blocks.len());
    for b in doc.blocks {
        blocks.push(match b {
            Block::Table(t) if t.header.first().map(String::as_str) == Some("Directive") => {
                Block::Table(with_status(&t, &mut names))
            }
            Block::Generated(g) if g == "shipped-config" => Block::Code(shipped_config_lines()),
            other => other,
        });
    }
    doc.blocks = blocks;
    check_directive_coverage(&names)?;
    Ok(doc)
}

/// All three pages.
///
/// # Errors
/// Whatever [`kronyd_doc`], [`kronyc_doc`] or [`conf_doc`] finds wrong.
pub fn pages() -> Result<Vec<Page>, Error> {
    let page = |doc: Doc, source| Page {
        file_name: format!("{}.{}", doc.name, doc.section),
        source,
        doc,
    };
    Ok(vec![
        page(kronyd_doc()?, "doc/kronyd.md"),
        page(kronyc_doc()?, "doc/kronyc.md"),
        page(conf_doc()?, "doc/krony.conf.md"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option letters of a `const NAME: &str = "...";` line in kronyd's options.rs.
    fn const_letters(source: &str, name: &str) -> String {
        let prefix = format!("const {name}: &str = \"");
        let line = source
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("kronyd/src/options.rs has no {name}; update this test"));
        line.split('"').next().unwrap_or_default().to_string()
    }

    #[test]
    fn kronyd_options_match_its_getopt() {
        let source = include_str!("../../kronyd/src/options.rs");
        let with_arg = const_letters(source, "WITH_ARGUMENT");
        let flags = const_letters(source, "FLAGS");
        let doc = kronyd_doc().expect("kronyd.md");
        let documented = entries(&doc, "Option");
        for c in with_arg.chars().chain(flags.chars()) {
            let e = documented
                .iter()
                .find(|e| e.name == format!("-{c}"))
                .unwrap_or_else(|| panic!("-{c} is not documented in doc/kronyd.md"));
            assert_eq!(e.arg.is_some(), with_arg.contains(c), "-{c}: argument");
        }
        for e in documented.iter().filter(|e| !e.name.starts_with("--")) {
            let c = e.name.trim_start_matches('-');
            assert!(
                with_arg.contains(c) || flags.contains(c),
                "{} is documented but kronyd does not accept it",
                e.name
            );
        }
    }

    #[test]
    fn every_kronyc_command_is_documented_and_extras_are_ignored_ones() {
        let doc = kronyc_doc().expect("kronyc.md");
        for e in entries(&doc, "Command") {
            assert!(
                kronyc::help::COMMANDS.contains(&e.name.as_str())
                    || e.status == "accepted and ignored",
                "{} is documented but not a kronyc command",
                e.name
            );
        }
    }

    #[test]
    fn every_directive_is_documented_with_its_status() {
        let doc = conf_doc().expect("krony.conf.md");
        let mut rows = 0;
        for t in doc.tables("Directive") {
            assert_eq!(t.header[1], "Status");
            for row in &t.rows {
                let name = plain(&row[0]);
                let name = name.split_whitespace().next().expect("name");
                let status = directive_status(name).expect("known");
                assert_eq!(row[1], status_text(status), "{name}");
                rows += 1;
            }
        }
        assert_eq!(rows, DIRECTIVES.len());
    }

    #[test]
    fn coverage_check_reports_each_problem() {
        let mut names: Vec<String> = DIRECTIVES.iter().map(|(n, _)| n.to_string()).collect();
        assert!(check_directive_coverage(&names).is_ok());
        names.retain(|n| n != "server");
        names.push("pool".into());
        names.push("bogus".into());
        let Err(Error::Doc(msg)) = check_directive_coverage(&names) else {
            panic!("accepted");
        };
        assert!(msg.contains("server is not documented"), "{msg}");
        assert!(msg.contains("pool listed twice"), "{msg}");
        assert!(msg.contains("bogus is not a directive"), "{msg}");
    }

    #[test]
    fn shipped_config_parses_and_uses_pools() {
        let lines = shipped_config_lines();
        assert!(lines.iter().any(|l| l.starts_with("pool ")), "{lines:?}");
        for l in &lines {
            let name = l.split_whitespace().next().expect("word");
            assert!(directive_status(name).is_some(), "{l}");
        }
    }

    #[test]
    fn entries_split_aliases_and_arguments() {
        let doc = kronyd_doc().expect("kronyd.md");
        let e = entries(&doc, "Option");
        let f = e.iter().find(|e| e.name == "-f").expect("-f");
        assert_eq!(f.arg.as_deref(), Some("FILE"));
        assert_eq!(f.status, "implemented");
        assert!(e.iter().any(|e| e.name == "--version"));
    }
}
