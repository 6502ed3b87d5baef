//! Fuzz the chrony.conf parser: any UTF-8 text must parse or fail with an error, never
//! panic; what parses must print back to text that parses to the same configuration.
#![no_main]

use krony_config::{parse_source_line, parse_str, SourceKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The source-line grammar on its own, as `kronyc add server` uses it.
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    let _ = parse_source_line(SourceKind::Server, &words);

    let Ok(parsed) = parse_str(text, "fuzz") else {
        return;
    };
    let printed = parsed.config.to_conf_string();
    let again = parse_str(&printed, "printed").expect("a printed configuration must parse");
    assert_eq!(again.config, parsed.config, "print/parse changed the configuration");
    let in_order = parse_str(&parsed.to_conf_string(), "printed").expect("must parse");
    assert_eq!(in_order.config, parsed.config);
});
