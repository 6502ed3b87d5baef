//! Fuzz the NTS-KE record parser: any input must parse or fail with an
//! error, never panic; a parsed message must emit back to the same bytes.
#![no_main]

use krony_wire::nts_ke::{RecordRepr, emit_message, parse_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((record, used)) = RecordRepr::parse_bytes(data) {
        let mut out = vec![0; record.buffer_len()];
        record.emit(&mut out).expect("a parsed record must emit");
        assert_eq!(&out[..], &data[..used]);
    }
    if let Ok(Some((records, used))) = parse_message(data) {
        let bytes = emit_message(&records).expect("a parsed message must emit");
        assert_eq!(bytes, &data[..used], "emit(parse(x)) != x");
    }
});
