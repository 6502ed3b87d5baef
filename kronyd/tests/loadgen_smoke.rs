//! The load generator (crates/krony-loadgen, issue 4, acceptance 10) run
//! with a small load against `kronyd -x` and Debian's `chronyd -x`: every
//! request gets a valid answer from both. It prints figures; nothing here
//! is timed.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::process::Command;

use daemon_support::*;

const REQUESTS: &str = "2000";

/// The cells of the table row titled `title`.
fn row<'a>(table: &'a str, title: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.starts_with(title))
        .unwrap_or_else(|| panic!("no row {title}:\n{table}"));
    line[title.len()..].split_whitespace().collect()
}

#[test]
fn every_request_gets_a_valid_answer() {
    let loadgen = workspace_bin("krony-loadgen", "krony-loadgen", "KRONY_LOADGEN");
    let mut cmd = Command::new(loadgen);
    cmd.args(["--requests", REQUESTS, "--kronyd", kronyd_bin()]);
    let with_chronyd = installed(&[CHRONYD]);
    if !with_chronyd {
        cmd.arg("--no-chronyd");
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let columns = if with_chronyd { 2 } else { 1 };
    assert_eq!(
        row(&text, "requests sent"),
        vec![REQUESTS; columns],
        "{text}"
    );
    assert_eq!(
        row(&text, "valid answers"),
        vec![REQUESTS; columns],
        "{text}"
    );
    assert_eq!(row(&text, "invalid answers"), vec!["0"; columns], "{text}");
    assert_eq!(row(&text, "lost"), vec!["0"; columns], "{text}");
    // The server's CPU time was read from /proc.
    assert!(!row(&text, "CPU/request (us)").contains(&"-"), "{text}");
    println!("{text}");
}
