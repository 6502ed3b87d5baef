//! Property tests for the NTP wire format: emit/parse round trips, parsing
//! arbitrary bytes, and timestamp era handling.

use krony_wire::UnixTime;
use krony_wire::ntp::{
    ExtensionField, LeapIndicator, Mac, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn arb_field(min_body_words: usize) -> impl Strategy<Value = ExtensionField> {
    (any::<u16>(), min_body_words..=20usize).prop_flat_map(|(field_type, words)| {
        vec(any::<u8>(), words * 4).prop_map(move |body| ExtensionField { field_type, body })
    })
}

/// Extension fields and MAC that NTPv4 allows (RFC 7822): fields of at
/// least 16 bytes, the last one at least 28 bytes when no MAC follows; a
/// 20- or 24-byte MAC, or a crypto-NAK with no fields.
fn arb_v4_trailer() -> impl Strategy<Value = (Vec<ExtensionField>, Option<Mac>)> {
    let mac = prop_oneof![
        Just(None),
        Just(Some(Mac::crypto_nak())),
        (any::<u32>(), prop_oneof![Just(16usize), Just(20)]).prop_flat_map(|(key_id, n)| {
            vec(any::<u8>(), n).prop_map(move |digest| Some(Mac { key_id, digest }))
        }),
    ];
    (vec(arb_field(3), 0..4), mac, arb_field(6), any::<bool>()).prop_map(
        |(mut fields, mac, last, add_last)| {
            match &mac {
                None if add_last || !fields.is_empty() => fields.push(last),
                Some(m) if m.is_crypto_nak() => fields.clear(),
                _ => {}
            }
            (fields, mac)
        },
    )
}

/// NTPv1-3: no extension fields; anything after the header is a MAC.
fn arb_v3_trailer() -> impl Strategy<Value = (Vec<ExtensionField>, Option<Mac>)> {
    let mac = (any::<u32>(), 0..=17usize).prop_flat_map(|(key_id, words)| {
        vec(any::<u8>(), words * 4).prop_map(move |digest| Mac { key_id, digest })
    });
    proptest::option::of(mac).prop_map(|mac| (Vec::new(), mac))
}

prop_compose! {
    fn arb_header()(
        leap in 0..4u8, mode in 0..8u8, stratum in any::<u8>(), poll in any::<i8>(),
        precision in any::<i8>(), delay in any::<u32>(), disp in any::<u32>(),
        refid in any::<u32>(), ts in any::<[u64; 4]>(),
    ) -> NtpRepr {
        NtpRepr {
            leap: LeapIndicator::from_bits(leap),
            version: 4,
            mode: Mode::from_bits(mode),
            stratum,
            poll,
            precision,
            root_delay: NtpShort(delay),
            root_dispersion: NtpShort(disp),
            reference_id: RefId(refid),
            reference_ts: NtpTimestamp(ts[0]),
            origin_ts: NtpTimestamp(ts[1]),
            receive_ts: NtpTimestamp(ts[2]),
            transmit_ts: NtpTimestamp(ts[3]),
            extensions: Vec::new(),
            mac: None,
        }
    }
}

fn arb_repr() -> impl Strategy<Value = NtpRepr> {
    let v4 = (arb_header(), arb_v4_trailer());
    let v3 = (arb_header(), 1..=3u8, arb_v3_trailer());
    prop_oneof![
        v4.prop_map(|(mut r, (extensions, mac))| {
            r.extensions = extensions;
            r.mac = mac;
            r
        }),
        v3.prop_map(|(mut r, version, (extensions, mac))| {
            r.version = version;
            r.extensions = extensions;
            r.mac = mac;
            r
        }),
    ]
}

/// Arbitrary bytes that often look like NTP: a plausible first byte and a
/// length that is a multiple of 4, sometimes with an extension field header.
fn arb_packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    let random = vec(any::<u8>(), 0..200);
    let plausible = (0..8u8, 12..=40usize, vec(any::<u8>(), 200), any::<u16>()).prop_map(
        |(version, words, mut bytes, ef_len)| {
            bytes.truncate(words * 4);
            bytes[0] = (bytes[0] & 0b1100_0111) | (version << 3);
            if bytes.len() >= 52 {
                bytes[50..52].copy_from_slice(&(ef_len % 128).to_be_bytes());
            }
            bytes
        },
    );
    prop_oneof![random, plausible]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn emit_then_parse_is_identity(repr in arb_repr()) {
        let bytes = repr.to_vec().expect("valid repr emits");
        prop_assert_eq!(bytes.len(), repr.buffer_len());
        let parsed = NtpRepr::parse_bytes(&bytes).expect("emitted packet parses");
        prop_assert_eq!(parsed, repr);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in arb_packet_bytes()) {
        if let Ok(repr) = NtpRepr::parse_bytes(&bytes) {
            // Whatever parses emits back to exactly the same bytes.
            prop_assert_eq!(repr.to_vec().expect("parsed repr emits"), bytes);
        }
    }

    #[test]
    fn timestamp_round_trip_near_any_pivot(
        nanos in -4_000_000_000_000_000_000i64..4_000_000_000_000_000_000,
        pivot_offset_secs in -(i64::from(i32::MAX) - 1)..i64::from(i32::MAX) - 1,
    ) {
        let t = UnixTime::from_nanos(nanos);
        let pivot = UnixTime::from_secs_nanos(t.secs() + pivot_offset_secs, 0);
        prop_assert_eq!(NtpTimestamp::from_unix(t).to_unix(pivot), t);
    }

    #[test]
    fn timestamp_result_is_within_68_years_of_pivot(
        raw in any::<u64>(),
        pivot_secs in -4_000_000_000i64..4_000_000_000,
    ) {
        let pivot = UnixTime::from_secs_nanos(pivot_secs, 0);
        let t = NtpTimestamp(raw).to_unix(pivot);
        prop_assert!((t.secs() - pivot_secs).abs() <= 1 << 31);
        // And it maps back to the same seconds on the wire.
        let back = NtpTimestamp::from_unix(t);
        prop_assert!(back.diff_secs(NtpTimestamp(raw)).abs() <= 1e-9);
    }

    #[test]
    fn short_format_round_trip(raw in any::<u32>()) {
        prop_assert_eq!(NtpShort::from_secs(NtpShort(raw).to_secs()), NtpShort(raw));
    }

    #[test]
    fn short_format_never_below_value(secs in 0.0..70000.0f64) {
        let short = NtpShort::from_secs(secs);
        prop_assert!(short.to_secs() >= secs.min(krony_wire::ntp::NTP_SHORT_MAX_SECS));
        prop_assert!(short.to_secs() - secs < 1.0 / 65536.0);
    }
}
