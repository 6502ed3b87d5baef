//! Fuzz the NTP packet parser: any input must parse or fail with an error,
//! never panic; what parses must emit back to the same bytes and re-parse
//! to the same representation.
#![no_main]

use krony_wire::UnixTime;
use krony_wire::ntp::{NtpRepr, NtpTimestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = NtpRepr::parse_bytes(data) else {
        return;
    };
    let bytes = repr.to_vec().expect("a parsed packet must emit");
    assert_eq!(bytes, data, "emit(parse(x)) != x");
    let again = NtpRepr::parse_bytes(&bytes).expect("an emitted packet must parse");
    assert_eq!(again, repr);
    // Era conversion of every timestamp must not panic, near any pivot.
    let pivot = UnixTime::from_nanos(i64::from_be_bytes(
        data.get(40..48)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    ));
    for ts in [
        repr.reference_ts,
        repr.origin_ts,
        repr.receive_ts,
        repr.transmit_ts,
    ] {
        let t = ts.to_unix(pivot);
        let _ = NtpTimestamp::from_unix(t).diff_secs(ts);
    }
    let _ = repr.kiss_code();
    let _ = repr.reference_id.to_string();
});
