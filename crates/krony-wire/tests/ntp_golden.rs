//! Golden byte tests for NTP packets: real packets captured on loopback
//! between ntpdig (NTPsec) and Debian's chronyd 4.3 (`chronyd -x -d` with
//! `port 12345`, `local stratum 1`, `allow 127.0.0.1`, `keyfile` holding
//! `1 MD5 HELLO` and `2 SHA512 HELLO`; a small Python UDP relay on
//! 127.0.0.77:123 printed both directions), and hand-built ones.

use krony_wire::Error;
use krony_wire::UnixTime;
use krony_wire::ntp::{
    ExtensionField, KissCode, LeapIndicator, Mac, Mode, NtpRepr, NtpShort, NtpTimestamp, Packet,
    RefId,
};
use md5::{Digest, Md5};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// Parses, checks that emitting gives the same bytes back, returns the repr.
fn parse_and_reemit(bytes: &[u8]) -> NtpRepr {
    let repr = NtpRepr::parse(&Packet::new_checked(bytes).expect("length")).expect("parse");
    assert_eq!(repr.buffer_len(), bytes.len());
    assert_eq!(repr.to_vec().expect("emit"), bytes);
    repr
}

/// `ntpdig 127.0.0.77` (SNTP client request, 2026-11-25T09:15:54Z).
const NTPDIG_REQUEST: &str = "e3000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb125cad1bd7000";
/// chronyd's answer to it.
const CHRONYD_RESPONSE: &str = "240100e6 00000000 00000000 7f7f0101 eeb125c8eb1d10a5
    eeb125cad1bd7000 eeb125cad1f181ff eeb125cad1fc8b34";

/// The capture time, used as the era pivot.
fn pivot() -> UnixTime {
    UnixTime::from_secs_nanos(1_795_598_154, 0)
}

#[test]
fn real_ntpdig_request() {
    let repr = parse_and_reemit(&hex(NTPDIG_REQUEST));
    assert_eq!(repr.leap, LeapIndicator::Unsynchronized);
    assert_eq!(repr.version, 4);
    assert_eq!(repr.mode, Mode::Client);
    assert_eq!(repr.stratum, 0);
    assert_eq!(repr.poll, 0);
    assert_eq!(repr.precision, 0);
    assert_eq!(repr.root_delay, NtpShort::ZERO);
    assert_eq!(repr.root_dispersion, NtpShort::ZERO);
    assert_eq!(repr.reference_id, RefId::UNSYNC);
    assert!(repr.reference_ts.is_zero());
    assert!(repr.origin_ts.is_zero());
    assert!(repr.receive_ts.is_zero());
    assert_eq!(
        repr.transmit_ts,
        NtpTimestamp::from_parts(0xeeb1_25ca, 0xd1bd_7000)
    );
    // 0xd1bd7000 / 2^32 s = 0.8192968368... s
    assert_eq!(
        repr.transmit_ts.to_unix(pivot()),
        UnixTime::from_secs_nanos(1_795_598_154, 819_296_837)
    );
    assert!(repr.extensions.is_empty());
    assert_eq!(repr.mac, None);
    // A request is not a kiss-o'-death, although its stratum is 0.
    assert_eq!(repr.kiss_code(), None);
}

#[test]
fn real_chronyd_response() {
    let repr = parse_and_reemit(&hex(CHRONYD_RESPONSE));
    assert_eq!(repr.leap, LeapIndicator::NoWarning);
    assert_eq!(repr.version, 4);
    assert_eq!(repr.mode, Mode::Server);
    assert_eq!(repr.stratum, 1);
    assert_eq!(repr.poll, 0, "chronyd echoes the client's poll");
    assert_eq!(repr.precision, -26);
    assert_eq!(repr.root_delay.to_secs(), 0.0);
    assert_eq!(repr.root_dispersion.to_secs(), 0.0);
    assert_eq!(repr.reference_id, RefId::LOCAL);
    assert_eq!(repr.reference_id.to_string(), "7F7F0101");
    assert_eq!(repr.reference_ts, NtpTimestamp(0xeeb1_25c8_eb1d_10a5));
    // The origin timestamp echoes the request's transmit timestamp.
    assert_eq!(repr.origin_ts, NtpTimestamp(0xeeb1_25ca_d1bd_7000));
    assert_eq!(repr.receive_ts, NtpTimestamp(0xeeb1_25ca_d1f1_81ff));
    assert_eq!(repr.transmit_ts, NtpTimestamp(0xeeb1_25ca_d1fc_8b34));
    let rx = repr.receive_ts.to_unix(pivot());
    let tx = repr.transmit_ts.to_unix(pivot());
    assert_eq!(rx.secs(), 1_795_598_154);
    assert!(tx > rx && tx.diff_secs(rx) < 1e-3, "server processing time");
    assert!(repr.extensions.is_empty());
    assert_eq!(repr.mac, None);
}

/// `ntpdig -a 1 -k keys` with key `1 MD5 HELLO`: a 20-byte MAC.
const MD5_REQUEST: &str = "e3000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb126942f009000
    00000001 2f58a81bd6ac8d036db9092974410cef";
/// chronyd's authenticated answer.
const MD5_RESPONSE: &str = "240100e6 00000000 00000000 7f7f0101 eeb126928c79e0db
    eeb126942f009000 eeb126942f2dc7e1 eeb126942f32f692
    00000001 15b68cd26e00ec79697a1d70114df88c";

#[test]
fn real_md5_authenticated_exchange() {
    for packet in [MD5_REQUEST, MD5_RESPONSE] {
        let bytes = hex(packet);
        let repr = parse_and_reemit(&bytes);
        assert_eq!(repr.version, 4);
        assert!(repr.extensions.is_empty());
        let mac = repr.mac.expect("MAC");
        assert_eq!(mac.key_id, 1);
        assert_eq!(mac.digest.len(), 16);
        // RFC 5905 §9.2 legacy MAC: MD5(key || packet before the MAC).
        let mut md5 = Md5::new();
        md5.update(b"HELLO");
        md5.update(&bytes[..48]);
        assert_eq!(mac.digest, md5.finalize().as_slice());
    }
}

/// `ntpdig -a 2` with key `2 SHA512 HELLO`: NTPv4 with a 68-byte MAC, which
/// RFC 7822 §7.5 does not allow. chronyd 4.3 dropped it without an answer;
/// krony's parser rejects it too (the key ID reads as an extension field
/// header of type 0 and length 2).
const SHA512_V4_REQUEST: &str = "e3000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb1269541576000
    00000002 f77f676c62c7718082d408c256a746d217293d5da4f5187a4b7abd36064fb24e
    867a71c28b6a4e264e803c18f550f768172bf5f31d1d06057683b2081fc8568f";

#[test]
fn real_v4_request_with_68_byte_mac_is_rejected_like_chronyd() {
    let bytes = hex(SHA512_V4_REQUEST);
    assert_eq!(bytes.len(), 116);
    assert!(matches!(
        NtpRepr::parse_bytes(&bytes),
        Err(Error::BadLength { len: 2, .. })
    ));
}

/// Hand-built: the same request as NTPv3 (0xdb: leap 3, version 3, mode 3),
/// where anything after the header is a MAC (chrony sends NTPv3 for keys
/// with digests longer than 20 bytes). Digest from
/// `hashlib.sha512(b"HELLO" + header).hexdigest()`.
const SHA512_V3_REQUEST: &str = "db000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb125cad1bd7000
    00000002 4494e60ce60639fe420da19415b0c1075599c7c44db778780b394ead4ca764fe
    6179792ebb17a348fa731853a638b45c6b2b0887aadd2791da24b423fe1ab76f";

#[test]
fn v3_request_with_68_byte_mac() {
    let repr = parse_and_reemit(&hex(SHA512_V3_REQUEST));
    assert_eq!(repr.version, 3);
    assert_eq!(repr.leap, LeapIndicator::Unsynchronized);
    assert_eq!(repr.mode, Mode::Client);
    let mac = repr.mac.expect("MAC");
    assert_eq!(mac.key_id, 2);
    assert_eq!(mac.digest.len(), 64);
    assert_eq!(&mac.digest[..4], &[0x44, 0x94, 0xe6, 0x0c]);
    assert_eq!(&mac.digest[60..], &[0xfe, 0x1a, 0xb7, 0x6f]);
}

/// Hand-built RATE kiss-o'-death answering the ntpdig request: leap 3,
/// version 4, mode 4, stratum 0, poll 6, precision -20, refid "RATE".
const KOD_RATE: &str = "e40006ec 00000000 00000000 52415445 0000000000000000
    eeb125cad1bd7000 0000000000000000 0000000000000000";

#[test]
fn kiss_of_death_rate() {
    let repr = parse_and_reemit(&hex(KOD_RATE));
    assert_eq!(repr.mode, Mode::Server);
    assert_eq!(repr.stratum, 0);
    assert_eq!(repr.poll, 6);
    assert_eq!(repr.precision, -20);
    assert_eq!(repr.reference_id.ascii(), "RATE");
    assert_eq!(repr.kiss_code(), Some(KissCode::Rate));
    assert_eq!(repr.origin_ts, NtpTimestamp(0xeeb1_25ca_d1bd_7000));
}

/// Hand-built client request with an NTS Unique Identifier extension field
/// (type 0x0104, RFC 8915 §5.3) of 36 bytes: a 32-byte body.
const WITH_EXTENSION: &str = "23000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb125cad1bd7000
    01040024 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

#[test]
fn extension_field() {
    let repr = parse_and_reemit(&hex(WITH_EXTENSION));
    assert_eq!(repr.leap, LeapIndicator::NoWarning);
    assert_eq!(repr.mac, None);
    assert_eq!(
        repr.extensions,
        vec![ExtensionField {
            field_type: 0x0104,
            body: (0..32).collect(),
        }]
    );
}

/// Hand-built: a minimal 16-byte extension field (type 0xF323, chrony's
/// experimental monotonic-root field, body shortened) followed by a 20-byte
/// MAC with key 7: legal since a MAC follows (RFC 7822 §3).
const EXTENSION_AND_MAC: &str = "23000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb125cad1bd7000
    f3230010 f5bedd9a0000000000000000
    00000007 00112233445566778899aabbccddeeff";

#[test]
fn extension_field_and_mac() {
    let repr = parse_and_reemit(&hex(EXTENSION_AND_MAC));
    assert_eq!(repr.extensions.len(), 1);
    assert_eq!(repr.extensions[0].field_type, 0xF323);
    assert_eq!(repr.extensions[0].body.len(), 12);
    let mac = repr.mac.expect("MAC");
    assert_eq!(mac.key_id, 7);
    assert_eq!(mac.digest, hex("00112233445566778899aabbccddeeff"));
}

#[test]
fn crypto_nak() {
    let mut bytes = hex(KOD_RATE);
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    let repr = parse_and_reemit(&bytes);
    assert_eq!(repr.mac, Some(Mac::crypto_nak()));
    assert!(repr.mac.as_ref().is_some_and(Mac::is_crypto_nak));
}

#[test]
fn malformed_packets_are_typed_errors() {
    let request = hex(NTPDIG_REQUEST);
    assert!(matches!(
        NtpRepr::parse_bytes(&request[..47]),
        Err(Error::Truncated {
            needed: 48,
            have: 47
        })
    ));
    let mut v5 = request.clone();
    v5[0] = 0xeb; // version 5
    assert_eq!(NtpRepr::parse_bytes(&v5), Err(Error::UnsupportedVersion(5)));
    let mut odd = request.clone();
    odd.push(0);
    assert!(matches!(
        NtpRepr::parse_bytes(&odd),
        Err(Error::BadLength { .. })
    ));
    // An extension field claiming more bytes than the packet has.
    let mut long = hex(WITH_EXTENSION);
    long[51] = 0x28;
    assert!(matches!(
        NtpRepr::parse_bytes(&long),
        Err(Error::BadLength { len: 40, .. })
    ));
}
