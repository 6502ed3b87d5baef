//! Property tests for the NTS wire formats: NTS-KE records and messages,
//! and the NTS authenticator field, round trip; arbitrary bytes never panic.

use krony_wire::ntp::nts::{Authenticator, NtsFields, parse_plaintext_fields};
use krony_wire::nts_ke::{RecordBody, RecordRepr, emit_message, parse_message};
use proptest::collection::vec;
use proptest::prelude::*;

fn arb_body() -> impl Strategy<Value = RecordBody> {
    prop_oneof![
        vec(any::<u16>(), 0..8).prop_map(RecordBody::NextProtocols),
        any::<u16>().prop_map(RecordBody::Error),
        any::<u16>().prop_map(RecordBody::Warning),
        vec(any::<u16>(), 0..8).prop_map(RecordBody::AeadAlgorithms),
        vec(any::<u8>(), 0..200).prop_map(RecordBody::NewCookie),
        vec(any::<u8>(), 0..64).prop_map(RecordBody::Server),
        any::<u16>().prop_map(RecordBody::Port),
        (8u16..0x7fff, vec(any::<u8>(), 0..40))
            .prop_map(|(record_type, body)| RecordBody::Unknown { record_type, body }),
    ]
}

fn arb_record() -> impl Strategy<Value = RecordRepr> {
    (any::<bool>(), arb_body()).prop_map(|(critical, body)| RecordRepr { critical, body })
}

proptest! {
    #[test]
    fn messages_round_trip(mut records in vec(arb_record(), 0..10), crit in any::<bool>()) {
        records.push(RecordRepr { critical: crit, body: RecordBody::EndOfMessage });
        let bytes = emit_message(&records).expect("emit");
        let (back, used) = parse_message(&bytes).expect("parse").expect("complete");
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, records);
    }

    #[test]
    fn arbitrary_records_never_panic(bytes in vec(any::<u8>(), 0..300)) {
        if let Ok(Some((records, used))) = parse_message(&bytes) {
            prop_assert_eq!(emit_message(&records).expect("emit"), &bytes[..used]);
        }
    }

    #[test]
    fn authenticators_round_trip(
        nonce in vec(any::<u8>(), 1..40),
        ciphertext in vec(any::<u8>(), 16..300),
        min in 0usize..400,
    ) {
        let a = Authenticator { nonce, ciphertext };
        let body = a.to_body(min).expect("body");
        prop_assert!(body.len() >= min);
        prop_assert_eq!(body.len() % 4, 0);
        prop_assert_eq!(Authenticator::parse(&body).expect("parse"), a);
    }

    #[test]
    fn arbitrary_nts_bytes_never_panic(bytes in vec(any::<u8>(), 0..400)) {
        let _ = Authenticator::parse(&bytes);
        let _ = parse_plaintext_fields(&bytes);
        let mut packet = vec![0x23u8; 48];
        packet.extend_from_slice(&bytes);
        let _ = NtsFields::parse(&packet);
    }
}
