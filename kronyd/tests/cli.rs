//! Runs the kronyd binary: `-p` on good and bad configurations, `-v`, `-h`, bad options.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn kronyd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kronyd"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn print_good_config() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("extra.conf");
    std::fs::write(&inc, "keyfile /etc/krony.keys\nntpsigndsocket /run/signd\n").unwrap();
    let conf = dir.path().join("krony.conf");
    let text = format!(
        "# test\nSERVER 192.0.2.1   iburst\ninclude {}\nmakestep 1.0 3\nlinux_hz 100\n",
        inc.display()
    );
    std::fs::write(&conf, text).unwrap();
    let o = kronyd(&["-p", "-f", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "server 192.0.2.1 iburst\nkeyfile /etc/krony.keys\nntpsigndsocket /run/signd\nmakestep 1.0 3\nlinux_hz\n"
    );
    let err = stderr(&o);
    // Directives the daemon acts on do not warn; the others do.
    assert!(!err.contains("server directive"), "{err}");
    assert!(!err.contains("keyfile directive"), "{err}");
    assert!(
        err.contains("extra.conf:2: ntpsigndsocket directive is not acted on by kronyd yet"),
        "{err}"
    );
    assert!(
        err.contains("krony.conf:5: linux_hz directive is no longer supported"),
        "{err}"
    );
}

#[test]
fn print_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "server a\n\nserver b minpoll x\n").unwrap();
    let o = kronyd(&["-pf", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    let expected = format!(
        "Fatal error : {}:3: invalid minpoll \"x\" in server directive (not an integer)\n",
        conf.display()
    );
    assert_eq!(stderr(&o), expected);
}

#[test]
fn missing_config_file() {
    let o = kronyd(&["-p", "-f", "/nonexistent/krony.conf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("/nonexistent/krony.conf: could not read"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn lines_on_the_command_line_replace_the_file() {
    let o = kronyd(&[
        "-f",
        "/nonexistent",
        "pool p.example iburst",
        "-p",
        "allow 10",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "pool p.example iburst\nallow 10.0.0.0/8\n");
    let o = kronyd(&["-p", "makestep 1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "Fatal error : <command line>:1: missing limit in makestep directive\n"
    );
}

#[test]
fn examples_are_accepted() {
    for name in ["server.conf", "client.conf"] {
        let o = kronyd(&["-p", "-f", &example(name)]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    }
    let o = kronyd(&["-p", "-f", &example("client.conf")]);
    assert_eq!(
        stdout(&o),
        "server 192.168.37.7 iburst\ndriftfile /var/lib/krony/drift\nmakestep 1.0 3\nrtcsync\n"
    );
    let o = kronyd(&["-p", "-f", &example("server.conf")]);
    assert!(
        stdout(&o).starts_with("local stratum 10\nallow 192.168.37.0/24\n"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn version_and_help() {
    for arg in ["-v", "--version"] {
        let o = kronyd(&[arg]);
        assert_eq!(o.status.code(), Some(0));
        let out = stdout(&o);
        assert!(out.starts_with("kronyd (krony) version 0.1.0 ("), "{out}");
        assert!(out.trim_end().ends_with("-DEBUG)"), "{out}");
    }
    for arg in ["-h", "--help"] {
        let o = kronyd(&[arg]);
        assert_eq!(o.status.code(), Some(0));
        assert!(stdout(&o).starts_with("Usage: "), "{}", stdout(&o));
        assert!(stdout(&o).contains("-f FILE"));
    }
}

#[test]
fn bad_option_prints_usage_and_fails() {
    let o = kronyd(&["-z"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("invalid option -- 'z'"));
    assert!(stdout(&o).starts_with("Usage: "));
    let o = kronyd(&["-t"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("option requires an argument -- 't'"));
}
