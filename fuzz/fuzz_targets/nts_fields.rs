//! Fuzz the NTS extension-field parsers: packets with NTS fields, the
//! authenticator body and encrypted-field plaintext. Nothing may panic; a
//! parsed authenticator must re-parse from its own emitted body.
#![no_main]

use krony_wire::ntp::nts::{Authenticator, NtsFields, emit_plaintext_fields, parse_plaintext_fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, fields)) = NtsFields::parse(data) {
        assert!(fields.aad_len <= data.len());
    }
    if let Ok(a) = Authenticator::parse(data) {
        let body = a.to_body(0).expect("a parsed authenticator must emit");
        assert_eq!(Authenticator::parse(&body).expect("re-parse"), a);
    }
    if let Ok(fields) = parse_plaintext_fields(data) {
        assert_eq!(emit_plaintext_fields(&fields), data);
    }
});
