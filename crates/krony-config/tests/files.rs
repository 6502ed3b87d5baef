//! include, confdir, sourcedir, case-insensitivity and comments, on a real directory tree.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;

use krony_config::*;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn hosts(c: &Config) -> Vec<&str> {
    c.sources.iter().map(|s| s.host.as_str()).collect()
}

#[test]
fn include_glob_is_sorted_and_located() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "inc/b.conf", "server b\n");
    write(d, "inc/a.conf", "server a\nrtcsync\n");
    write(d, "inc/.hidden.conf", "server hidden\n");
    write(d, "inc/c.txt", "server txt\n");
    let main = write(
        d,
        "main.conf",
        &format!(
            "server first\ninclude {0}/inc/*.conf\ninclude {0}/inc/*.nomatch\nserver last\n",
            d.display()
        ),
    );
    let p = load_file(&main).unwrap();
    assert_eq!(hosts(&p.config), ["first", "a", "b", "last"]);
    // Directives know where they came from.
    let a = &p.directives[1];
    assert!(a.file.ends_with("inc/a.conf") && a.line == 1);
    assert!(p.directives[2].file.ends_with("inc/a.conf") && p.directives[2].line == 2);
    // include lines are expanded, not kept.
    assert!(!p.to_conf_string().contains("include"));
    assert!(
        p.warnings
            .iter()
            .any(|w| matches!(w.kind, WarningKind::NoMatch(_)))
    );
}

#[test]
fn include_errors_name_the_including_line() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "inc/bad.conf", "\n\nmaxpoll 3\n");
    let main = write(
        d,
        "main.conf",
        &format!("rtcsync\ninclude {}/inc/bad.conf\n", d.display()),
    );
    let e = load_file(&main).unwrap_err();
    assert!(e.file.ends_with("inc/bad.conf") && e.line == Some(3), "{e}");
    assert!(e.to_string().contains("unknown directive \"maxpoll\""));

    let main = write(
        d,
        "m2.conf",
        &format!("include {}/missing.conf\n", d.display()),
    );
    let e = load_file(&main).unwrap_err();
    assert!(e.file.ends_with("m2.conf") && e.line == Some(1), "{e}");
    assert!(
        e.to_string()
            .contains("missing.conf: No such file or directory"),
        "{e}"
    );

    let e = load_file(&format!("{}/nonexistent.conf", d.display())).unwrap_err();
    assert_eq!(e.line, None);
    assert!(
        e.to_string().contains("nonexistent.conf: could not read "),
        "{e}"
    );
    assert!(e.to_string().ends_with("No such file or directory"), "{e}");

    // A wildcard in a directory that does not exist is an error, as with chrony's glob.
    let main = write(
        d,
        "m3.conf",
        &format!("include {}/nodir/*.conf\n", d.display()),
    );
    let e = load_file(&main).unwrap_err();
    assert!(e.file.ends_with("m3.conf") && e.line == Some(1), "{e}");
}

#[test]
fn include_loop_is_stopped() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let path = d.join("loop.conf");
    write(
        d,
        "loop.conf",
        &format!("server x\ninclude {}\n", path.display()),
    );
    let e = load_file(path.to_str().unwrap()).unwrap_err();
    assert_eq!(
        e.error,
        ParseError::IncludeDepth {
            max: MAX_INCLUDE_DEPTH
        }
    );
}

#[test]
fn confdir_first_directory_wins_and_names_are_sorted() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(d, "d1/20-b.conf", "server d1b\n");
    write(d, "d1/10-a.conf", "server d1a\n");
    write(d, "d2/10-a.conf", "server d2a\n");
    write(d, "d2/15-c.conf", "server d2c\n");
    write(d, "d2/30-x.sources", "server notconf\n");
    let main = write(
        d,
        "main.conf",
        &format!("confdir {0}/d1 {0}/d2 {0}/missing\n", d.display()),
    );
    let p = load_file(&main).unwrap();
    // 10-a from d1 (d2's copy is ignored), 15-c from d2, 20-b from d1.
    assert_eq!(hosts(&p.config), ["d1a", "d2c", "d1b"]);

    // The order of directories decides which copy is used.
    let main = write(
        d,
        "rev.conf",
        &format!("confdir {0}/d2 {0}/d1\n", d.display()),
    );
    assert_eq!(
        hosts(&load_file(&main).unwrap().config),
        ["d2a", "d2c", "d1b"]
    );
}

#[test]
fn sourcedir_files() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    write(
        d,
        "s1/eth0.sources",
        "server 192.0.2.1 iburst\npool p.example maxsources 2\n# c\nrtcsync\nserver x minpoll bad\npeer 192.0.2.9\n",
    );
    write(d, "s2/eth0.sources", "server shadowed\n");
    write(
        d,
        "s2/wlan0.sources",
        "server 192.0.2.3\nserver unterminated",
    );
    let main = write(
        d,
        "main.conf",
        &format!("sourcedir {0}/s1 {0}/s2\n", d.display()),
    );
    let p = load_file(&main).unwrap();
    assert!(
        p.config.sources.is_empty(),
        "sourcedir sources are loaded separately"
    );
    let (sources, warnings) = load_source_dirs(&RealFs, &p.config.sourcedirs);
    let names: Vec<&str> = sources.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(names, ["192.0.2.1", "p.example", "192.0.2.9", "192.0.2.3"]);
    assert_eq!(sources[1].kind, SourceKind::Pool);
    assert_eq!(sources[2].kind, SourceKind::Peer);
    // rtcsync, the bad minpoll and the unterminated line are reported, not dropped silently.
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[1].to_string().contains("eth0.sources:5"),
        "{}",
        warnings[1]
    );
}

#[test]
fn case_insensitive_and_comments() {
    let text = "  # comment\n! bang\n;semi\n%pct\n\tSERVER a IBURST\nMakeStep 0.1 -1\nrtcsync # not a comment\n";
    let e = parse_str(text, "c.conf").unwrap_err();
    assert_eq!(
        e.to_string(),
        "c.conf:7: too many arguments in rtcsync directive (unexpected \"#\")"
    );
    let text =
        "  # comment\n! bang\n;semi\n%pct\n\tSERVER a IBURST\nMakeStep 0.1 -1\nLOG Tracking\n";
    let c = parse_str(text, "c.conf").unwrap().config;
    assert!(c.sources[0].options.iburst);
    assert_eq!(
        c.makestep,
        Some(MakeStep {
            threshold: 0.1,
            limit: -1
        })
    );
    assert!(c.log.tracking);
}

#[test]
fn last_directive_wins_and_ratelimit_merges() {
    let c = Config::parse_str(
        "makestep 1 3\nmakestep 2 -1\nratelimit burst 4\nratelimit interval 1\n",
        "x",
    )
    .unwrap();
    assert_eq!(
        c.makestep,
        Some(MakeStep {
            threshold: 2.0,
            limit: -1
        })
    );
    assert_eq!(
        c.ratelimit,
        Some(RateLimit {
            interval: 1,
            burst: 4,
            leak: 2,
            kod: 0
        })
    );
}

#[test]
fn mem_fs_include() {
    let mut fs = MemFs::new();
    fs.insert("/etc/krony/conf.d/a.conf", "server a\n");
    fs.insert("/etc/krony/conf.d/b.conf", "server b\n");
    let p = parse_str_with(
        "include /etc/krony/conf.d/*.conf\nconfdir /etc/krony/conf.d\n",
        "m",
        &fs,
    )
    .unwrap();
    assert_eq!(hosts(&p.config), ["a", "b", "a", "b"]);
}

#[test]
fn command_line_lines() {
    let lines = vec!["server a".to_string(), "makestep 1 x".to_string()];
    let e = parse_lines(&lines, "<command line>", &NoFs).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<command line>:2: invalid limit \"x\" in makestep directive (not an integer)"
    );
}
