//! Property tests: the parser never panics, and printing a parsed configuration then
//! parsing it again gives the same configuration.
#![allow(clippy::unwrap_used)]

use krony_config::{DIRECTIVES, parse_str};
use proptest::prelude::*;

/// Words that make random lines likely to be (nearly) valid.
const WORDS: &[&str] = &[
    "iburst",
    "burst",
    "minpoll",
    "maxpoll",
    "key",
    "nts",
    "prefer",
    "noselect",
    "trust",
    "require",
    "offline",
    "xleave",
    "port",
    "version",
    "extfield",
    "10A",
    "F323",
    "maxsources",
    "polltarget",
    "presend",
    "maxdelay",
    "asymmetry",
    "offset",
    "filter",
    "minsamples",
    "maxsamples",
    "ipv4",
    "ipv6",
    "copy",
    "all",
    "stratum",
    "orphan",
    "distance",
    "interval",
    "leak",
    "kod",
    "refid",
    "lock",
    "poll",
    "dpoll",
    "rate",
    "pps",
    "tai",
    "local",
    "width",
    "rxfilter",
    "ntp",
    "nocrossts",
    "PPS",
    "SOCK",
    "SHM",
    "PHC",
    "RTC",
    "/dev/pps0:clear",
    "0:perm=0600",
    "eth0:pin=1:extpps",
    "/dev/rtc:utc",
    "leaponly",
    "tracking",
    "measurements",
    "rawmeasurements",
    "slew",
    "mix",
    "1",
    "0",
    "-1",
    "3",
    "16",
    "-7",
    "24",
    "0.5",
    "1e-9",
    "1.0",
    "-0.25",
    "65535",
    "192.168.1.0/24",
    "10",
    "::1",
    "2001:db8::/32",
    "127.0.0.1",
    "host.example",
    "/var/lib/chrony/drift",
    "/",
    "activity",
    "sources",
    "x",
];

fn line() -> impl Strategy<Value = String> {
    let name = prop::sample::select(DIRECTIVES.iter().map(|d| d.0).collect::<Vec<_>>());
    let words = prop::collection::vec(prop::sample::select(WORDS.to_vec()), 0..8);
    (name, words).prop_map(|(n, w)| format!("{n} {}", w.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_str(&text, "fuzz");
    }

    #[test]
    fn arbitrary_words_never_panic(lines in prop::collection::vec(line(), 1..6)) {
        let _ = parse_str(&lines.join("\n"), "fuzz");
    }

    #[test]
    fn print_then_parse_is_identity(lines in prop::collection::vec(line(), 1..12)) {
        // Keep only the lines that parse, so that most generated configs are non-trivial.
        let good: Vec<String> = lines
            .into_iter()
            .filter(|l| parse_str(l, "one").is_ok())
            .collect();
        let parsed = parse_str(&good.join("\n"), "orig").unwrap();
        let printed = parsed.config.to_conf_string();
        let again = parse_str(&printed, "printed").unwrap();
        prop_assert_eq!(&again.config, &parsed.config, "printed:\n{}", printed);
        let in_order = parse_str(&parsed.to_conf_string(), "printed").unwrap();
        prop_assert_eq!(&in_order.config, &parsed.config);
    }
}
