//! krony's build helper.
//!
//! ```text
//! cargo run -p xtask -- man <outdir>           kronyd.8, kronyc.1, krony.conf.5
//! cargo run -p xtask -- completions <outdir>   bash/, zsh/, fish/ for kronyc and kronyd
//! cargo run -p xtask -- dist <outdir>          both, in <outdir>/man and <outdir>/completions
//! ```
//!
//! Everything comes from doc/*.md and from the code's own tables (krony-config's directive
//! status, kronyc's command list), so the pages cannot drift from the programs.
#![forbid(unsafe_code)]

mod completions;
mod markdown;
mod pages;
mod roff;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use completions::Program;
use pages::entries;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manual source is malformed or disagrees with the code.
    #[error("{0}")]
    Doc(String),
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Bad command line.
    #[error("usage: xtask man|completions|dist <outdir>")]
    Usage,
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(io(&path))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Writes the three man pages into `dir`.
fn man(dir: &Path) -> Result<(), Error> {
    for page in pages::pages()? {
        let text = roff::render(&page.doc, page.source, env!("CARGO_PKG_VERSION"))?;
        write(dir, &page.file_name, &text)?;
    }
    Ok(())
}

/// Writes bash, zsh and fish completions for kronyc and kronyd into `dir`.
fn completions(dir: &Path) -> Result<(), Error> {
    let c = pages::kronyc_doc()?;
    let d = pages::kronyd_doc()?;
    let programs = [
        Program::kronyc(entries(&c, "Option"), &entries(&c, "Command")),
        Program::kronyd(entries(&d, "Option")),
    ];
    for p in &programs {
        write(&dir.join("bash"), p.name, &completions::bash(p))?;
        write(
            &dir.join("zsh"),
            &format!("_{}", p.name),
            &completions::zsh(p),
        )?;
        write(
            &dir.join("fish"),
            &format!("{}.fish", p.name),
            &completions::fish(p),
        )?;
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), Error> {
    let [cmd, out] = args else {
        return Err(Error::Usage);
    };
    let out = Path::new(out);
    match cmd.as_str() {
        "man" => man(out),
        "completions" => completions(out),
        "dist" => {
            man(&out.join("man"))?;
            completions(&out.join("completions"))
        }
        _ => Err(Error::Usage),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_writes_every_file() {
        let dir = std::env::temp_dir().join(format!("krony-xtask-test-{}", std::process::id()));
        run(&["dist".into(), dir.display().to_string()]).expect("dist");
        for f in [
            "man/kronyd.8",
            "man/kronyc.1",
            "man/krony.conf.5",
            "completions/bash/kronyc",
            "completions/bash/kronyd",
            "completions/zsh/_kronyc",
            "completions/zsh/_kronyd",
            "completions/fish/kronyc.fish",
            "completions/fish/kronyd.fish",
        ] {
            let text = std::fs::read_to_string(dir.join(f)).expect(f);
            assert!(text.len() > 200, "{f} is too short");
        }
        let conf = std::fs::read_to_string(dir.join("man/krony.conf.5")).expect("conf");
        assert!(conf.contains(".TP\n\\fBmakestep\\fR \\fIthreshold\\fR \\fIlimit\\fR\n"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn bad_usage() {
        assert!(matches!(run(&[]), Err(Error::Usage)));
        assert!(matches!(
            run(&["nope".into(), "x".into()]),
            Err(Error::Usage)
        ));
    }
}
