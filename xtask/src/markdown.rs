//! The small part of Markdown that krony's manual sources use (doc/README.md lists it).

use crate::Error;

/// One block of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// `## Title` (level 2: a man page section) or `### Title` (level 3: a subsection).
    Heading(u8, String),
    /// Lines of running text, joined with spaces.
    Paragraph(String),
    /// `- item` lines (an indented line continues the item).
    List(Vec<String>),
    /// A table: header cells and rows of cells (with `\|` unescaped).
    Table(Table),
    /// A fenced code block, verbatim.
    Code(Vec<String>),
    /// `<!-- generated: NAME -->`: the generator puts something here.
    Generated(String),
}

/// A Markdown table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The header cells.
    pub header: Vec<String>,
    /// The rows, each with as many cells as the header.
    pub rows: Vec<Vec<String>>,
}

/// A parsed manual source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// The page name (`kronyd`).
    pub name: String,
    /// The manual section (`8`).
    pub section: String,
    /// The summary after `--` on the title line.
    pub summary: String,
    /// The body.
    pub blocks: Vec<Block>,
}

impl Doc {
    /// Every table whose first header cell is `first`, in document order.
    pub fn tables(&self, first: &str) -> impl Iterator<Item = &Table> {
        self.blocks.iter().filter_map(move |b| match b {
            Block::Table(t) if t.header.first().map(String::as_str) == Some(first) => Some(t),
            _ => None,
        })
    }
}

/// Splits a table line `| a | b \| c |` into its cells (`a`, `b | c`).
fn table_cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

fn is_separator_row(cells: &[String]) -> bool {
    cells
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// Parses the title line `# name(section) -- summary`.
fn parse_title(line: &str) -> Option<(String, String, String)> {
    let rest = line.strip_prefix("# ")?;
    let (page, summary) = rest.split_once(" -- ")?;
    let (name, section) = page.trim().strip_suffix(')')?.split_once('(')?;
    Some((
        name.to_string(),
        section.to_string(),
        summary.trim().to_string(),
    ))
}

/// The parser's state between lines.
#[derive(Default)]
struct Parser {
    blocks: Vec<Block>,
    para: Vec<String>,
    list: Vec<String>,
    table: Vec<Vec<String>>,
    code: Option<Vec<String>>,
}

impl Parser {
    /// Ends the open paragraph, list or table.
    fn flush(&mut self, file: &str, line: usize) -> Result<(), Error> {
        if !self.para.is_empty() {
            self.blocks.push(Block::Paragraph(self.para.join(" ")));
            self.para.clear();
        }
        if !self.list.is_empty() {
            self.blocks
                .push(Block::List(std::mem::take(&mut self.list)));
        }
        if !self.table.is_empty() {
            let mut rows = std::mem::take(&mut self.table);
            let header = rows.remove(0);
            if rows.first().is_some_and(|r| is_separator_row(r)) {
                rows.remove(0);
            } else {
                return Err(Error::Doc(format!(
                    "{file}:{line}: table without separator row"
                )));
            }
            if let Some(r) = rows.iter().find(|r| r.len() != header.len()) {
                return Err(Error::Doc(format!(
                    "{file}:{line}: table row {:?} has {} cells, the header {}",
                    r.first(),
                    r.len(),
                    header.len()
                )));
            }
            self.blocks.push(Block::Table(Table { header, rows }));
        }
        Ok(())
    }

    fn line(&mut self, file: &str, n: usize, line: &str) -> Result<(), Error> {
        if let Some(code) = &mut self.code {
            if line.trim_start().starts_with("```") {
                self.blocks.push(Block::Code(std::mem::take(code)));
                self.code = None;
            } else {
                code.push(line.to_string());
            }
            return Ok(());
        }
        let trimmed = line.trim();
        if let Some(item) = line.strip_prefix("- ") {
            if !self.para.is_empty() || !self.table.is_empty() {
                self.flush(file, n)?;
            }
            self.list.push(item.trim().to_string());
        } else if trimmed.starts_with('|') {
            if self.table.is_empty() {
                self.flush(file, n)?;
            }
            self.table.push(table_cells(trimmed));
        } else if !self.list.is_empty() && line.starts_with("  ") && !trimmed.is_empty() {
            if let Some(last) = self.list.last_mut() {
                last.push(' ');
                last.push_str(trimmed);
            }
        } else if trimmed.is_empty() {
            self.flush(file, n)?;
        } else {
            self.flush_if_block_start(file, n, trimmed)?;
        }
        Ok(())
    }

    /// Headings, fences and markers end what is open; other text extends the paragraph.
    fn flush_if_block_start(&mut self, file: &str, n: usize, trimmed: &str) -> Result<(), Error> {
        let heading = if let Some(t) = trimmed.strip_prefix("### ") {
            Some(Block::Heading(3, t.to_string()))
        } else {
            trimmed
                .strip_prefix("## ")
                .map(|t| Block::Heading(2, t.to_string()))
        };
        let marker = trimmed
            .strip_prefix("<!-- generated:")
            .and_then(|r| r.strip_suffix("-->"))
            .map(|name| Block::Generated(name.trim().to_string()));
        if let Some(block) = heading.or(marker) {
            self.flush(file, n)?;
            self.blocks.push(block);
        } else if trimmed.starts_with("```") {
            self.flush(file, n)?;
            self.code = Some(Vec::new());
        } else {
            if !self.list.is_empty() || !self.table.is_empty() {
                self.flush(file, n)?;
            }
            self.para.push(trimmed.to_string());
        }
        Ok(())
    }
}

/// Parses a manual source; `file` names it in errors.
///
/// # Errors
/// A missing or malformed title line, a table with a missing separator row or ragged rows,
/// an unclosed code block.
pub fn parse(file: &str, text: &str) -> Result<Doc, Error> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let (name, section, summary) = parse_title(first).ok_or_else(|| {
        Error::Doc(format!(
            "{file}:1: the first line must be `# name(section) -- summary`"
        ))
    })?;
    let mut p = Parser::default();
    let mut count = 1;
    for (i, line) in lines.enumerate() {
        count = i + 2;
        p.line(file, count, line)?;
    }
    if p.code.is_some() {
        return Err(Error::Doc(format!("{file}: unclosed code block")));
    }
    p.flush(file, count)?;
    Ok(Doc {
        name,
        section,
        summary,
        blocks: p.blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# tool(1) -- does things\n\
        \n\
        ## NAME\n\
        tool - does\n\
        things\n\
        \n\
        - one\n\
        \x20 more\n\
        - two\n\
        \n\
        | Option | Status | Description |\n\
        |---|---|---|\n\
        | `-a` | implemented | A \\| B |\n\
        \n\
        ```\n\
        code  line\n\
        ```\n\
        <!-- generated: things -->\n";

    #[test]
    fn parses_every_block_kind() {
        let d = parse("t.md", SAMPLE).expect("parse");
        assert_eq!((d.name.as_str(), d.section.as_str()), ("tool", "1"));
        assert_eq!(d.summary, "does things");
        assert_eq!(
            d.blocks,
            vec![
                Block::Heading(2, "NAME".into()),
                Block::Paragraph("tool - does things".into()),
                Block::List(vec!["one more".into(), "two".into()]),
                Block::Table(Table {
                    header: vec!["Option".into(), "Status".into(), "Description".into()],
                    rows: vec![vec!["`-a`".into(), "implemented".into(), "A | B".into()]],
                }),
                Block::Code(vec!["code  line".into()]),
                Block::Generated("things".into()),
            ]
        );
        assert_eq!(d.tables("Option").count(), 1);
        assert_eq!(d.tables("Command").count(), 0);
    }

    #[test]
    fn rejects_malformed_sources() {
        assert!(parse("t.md", "no title\n").is_err());
        assert!(parse("t.md", "# t(1) -- x\n```\nopen\n").is_err());
        assert!(parse("t.md", "# t(1) -- x\n| a | b |\n| c | d |\n").is_err());
        assert!(parse("t.md", "# t(1) -- x\n| a | b |\n|---|---|\n| c |\n").is_err());
    }
}
