//! Authenticated requests.

use super::*;

#[test]
fn authenticated_requests_are_not_answered() {
    let mut s = server(None);
    let mut rng = rng();
    let mut md5 = request(4, Mode::Client, 0, 0, 3);
    md5.mac = Some(Mac {
        key_id: 1,
        digest: vec![0xaa; 16],
    });
    let mut nts = request(4, Mode::Client, 0, 0, 3);
    nts.extensions.push(ExtensionField {
        field_type: ExtensionField::NTS_UNIQUE_IDENTIFIER,
        body: vec![9; 32],
    });
    let mut mssntp = request(3, Mode::Client, 0, 0, 3);
    mssntp.mac = Some(Mac {
        key_id: 5,
        digest: vec![0; 16],
    });
    for req in [md5, nts, mssntp] {
        let bytes = req.to_vec().expect("emit");
        assert!(
            s.handle_request(&received(&bytes, t(0.0)), t(0.0), &synced(), None, &mut rng)
                .is_none()
        );
    }
    assert_eq!(s.counters().auth_failed, 3);
    // chrony counts the MS-SNTP request (it failed only at signing).
    let st = s.server_stats();
    assert_eq!(
        (st.ntp_hits, st.ntp_kernel_rx_timestamps, st.ntp_auth_hits),
        (3, 1, 0)
    );
}

/// Bytes from hex text (whitespace ignored).
fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex"))
        .collect()
}

/// `ntpdig -a 1 -k keys` with key `1 MD5 HELLO`, captured against Debian's
/// chronyd 4.3 (crates/krony-wire/tests/ntp_golden.rs).
const MD5_REQUEST: &str = "e3000000 00000000 00000000 00000000 0000000000000000
    0000000000000000 0000000000000000 eeb126942f009000
    00000001 2f58a81bd6ac8d036db9092974410cef";

#[test]
fn md5_request_is_answered_with_the_same_key() {
    let keys = auth::tests::Md5Keys(1, b"HELLO");
    let bytes = hex(MD5_REQUEST);
    let mut s = server(None);
    let mut rng = rng();
    let mut r = s
        .handle_request(
            &received(&bytes, t(0.0)),
            t(0.0),
            &synced(),
            Some(&keys),
            &mut rng,
        )
        .expect("response");
    assert_eq!(r.bytes.len(), 68);
    // The MAC covers the transmit timestamp: it is not moved.
    assert!(!s.stamp_response(&mut r.bytes, t(1e-5), &mut rng));
    let p = parse(&r);
    assert_eq!(p.origin_ts, NtpTimestamp(0xeeb1_2694_2f00_9000));
    let mac = p.mac.expect("MAC");
    assert_eq!(mac.key_id, 1);
    let expected = keys.digest(1, &r.bytes[..48], 20).expect("key");
    assert_eq!(mac.digest, expected);
    assert_eq!(s.server_stats().ntp_auth_hits, 1);

    // Without the key, with another key, or with a corrupted digest: nothing.
    let other = auth::tests::Md5Keys(1, b"WORLD");
    let mut corrupted = bytes.clone();
    corrupted[60] ^= 1;
    let cases: [(&[u8], Option<&dyn SymmetricKeys>); 3] = [
        (&bytes, None),
        (&bytes, Some(&other)),
        (&corrupted, Some(&keys)),
    ];
    for (b, k) in cases {
        assert!(
            s.handle_request(&received(b, t(1.0)), t(1.0), &synced(), k, &mut rng)
                .is_none()
        );
    }
    assert_eq!(s.counters().auth_failed, 3);
    assert_eq!(s.server_stats().ntp_hits, 4);
}

#[test]
fn kod_to_an_authenticated_request_is_signed_but_not_counted() {
    let keys = auth::tests::Md5Keys(1, b"HELLO");
    let limit = RateLimitConfig {
        burst: 1,
        leak: 4,
        kod: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut s = server(Some(limit));
    let bytes = hex(MD5_REQUEST);
    let mut rng = rng();
    let kod = (0..50)
        .filter_map(|_| {
            s.handle_request(
                &received(&bytes, t(0.0)),
                t(0.0),
                &synced(),
                Some(&keys),
                &mut rng,
            )
        })
        .find(|r| matches!(r.kind, ResponseKind::Kod(_)))
        .expect("a KoD");
    let p = parse(&kod);
    assert_eq!(p.reference_id, RefId::from_ascii(b"RATE"));
    let mac = p.mac.expect("signed");
    assert_eq!(
        mac.digest,
        keys.digest(1, &kod.bytes[..48], 20).expect("key")
    );
    let st = s.server_stats();
    assert_eq!(
        st.ntp_auth_hits,
        s.counters().responses - s.counters().kod_responses
    );
}

#[test]
fn nts_requests_follow_the_drivers_verdict() {
    let mut s = server(None);
    let mut rng = rng();
    let mut nts = request(4, Mode::Client, 0, 0, 3);
    nts.extensions.push(ExtensionField {
        field_type: ExtensionField::NTS_UNIQUE_IDENTIFIER,
        body: vec![9; 32],
    });
    let bytes = nts.to_vec().expect("emit");
    let mut rx = received(&bytes, t(0.0));
    // Valid: a normal response, counted as authenticated.
    rx.nts = NtsCheck::Valid;
    let r = s
        .handle_request(&rx, t(0.0), &synced(), None, &mut rng)
        .expect("response");
    assert_eq!(r.kind, ResponseKind::Basic);
    assert_eq!(parse(&r).kiss_code(), None);
    assert_eq!(s.server_stats().ntp_auth_hits, 1);
    // NAK: a KoD NTSN, not counted.
    rx.nts = NtsCheck::Nak;
    let r = s
        .handle_request(&rx, t(1.0), &synced(), None, &mut rng)
        .expect("NAK");
    assert_eq!(r.kind, ResponseKind::Kod(KissCode::Ntsn));
    let p = parse(&r);
    assert_eq!((p.stratum, p.kiss_code()), (0, Some(KissCode::Ntsn)));
    assert_eq!(s.server_stats().ntp_auth_hits, 1);
    // Not checked (no NTS server): dropped.
    rx.nts = NtsCheck::NotChecked;
    assert!(
        s.handle_request(&rx, t(2.0), &synced(), None, &mut rng)
            .is_none()
    );
}
