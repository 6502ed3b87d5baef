//! Moving a response's transmit timestamp to the time it is sent.

use super::*;

/// A basic response to a plain client request at `t(at)`, built at
/// `t(at + built)`.
fn basic(s: &mut Server, rng: &mut ChaCha8Rng, at: f64, built: f64) -> Response {
    let bytes = client_request(0x77);
    s.handle_request(
        &received(&bytes, t(at)),
        t(at + built),
        &synced(),
        None,
        rng,
    )
    .expect("response")
}

#[test]
fn basic_response_gets_the_send_time_once() {
    let mut s = server(None);
    let mut rng = rng();
    let mut r = basic(&mut s, &mut rng, 0.0, 1e-6);
    let before = parse(&r);
    assert_near(before.transmit_ts, t(1e-6));
    assert!(s.stamp_response(&mut r.bytes, t(5e-5), &mut rng));
    let after = parse(&r);
    assert_near(after.transmit_ts, t(5e-5));
    assert_eq!(after.transmit_ts.0 & 1, 0, "flag bit stays clear");
    assert_eq!(after.receive_ts, before.receive_ts);
    assert_eq!(after.origin_ts, before.origin_ts);
    assert_eq!(r.bytes.len(), 48);
    // Once only: the packet is no longer the one built.
    assert!(!s.stamp_response(&mut r.bytes, t(6e-5), &mut rng));
    assert_near(parse(&r).transmit_ts, t(5e-5));
}

#[test]
fn implausible_times_and_unknown_packets_change_nothing() {
    let mut s = server(None);
    let mut rng = rng();
    let mut r = basic(&mut s, &mut rng, 0.0, 1e-3);
    let sent = r.bytes.clone();
    assert!(
        !s.stamp_response(&mut r.bytes, t(0.5e-3), &mut rng),
        "earlier"
    );
    assert_eq!(r.bytes, sent);
    let mut r = basic(&mut s, &mut rng, 1.0, 0.0);
    let sent = r.bytes.clone();
    assert!(
        !s.stamp_response(&mut r.bytes, t(2.5), &mut rng),
        "> 1 s later"
    );
    assert_eq!(r.bytes, sent);
    let mut short = vec![0x24u8; 47];
    assert!(!s.stamp_response(&mut short, t(2.0), &mut rng));
    let mut other = client_request(5);
    assert!(!s.stamp_response(&mut other, t(2.0), &mut rng));
    assert_eq!(other, client_request(5));
}

#[test]
fn responses_built_before_a_clock_change_keep_their_stamp() {
    let mut s = server(None);
    let mut rng = rng();
    let mut r = basic(&mut s, &mut rng, 0.0, 0.0);
    let change = ClockChange {
        raw: t(1e-6),
        cooked: t(1e-6),
        dfreq: 0.0,
        doffset: 1e-3,
        kind: ChangeKind::Adjust,
    };
    s.handle_clock_change(&change, &mut rng);
    assert!(!s.stamp_response(&mut r.bytes, t(2e-6), &mut rng));
}

#[test]
fn only_the_latest_few_unsent_responses_are_remembered() {
    let mut s = server(None);
    let mut rng = rng();
    let mut all: Vec<Response> = (0..=MAX_UNSENT)
        .map(|i| basic(&mut s, &mut rng, i as f64 * 1e-3, 0.0))
        .collect();
    let stamped: Vec<bool> = all
        .iter_mut()
        .map(|r| s.stamp_response(&mut r.bytes, t(0.1), &mut rng))
        .collect();
    assert!(!stamped[0], "the oldest was forgotten");
    assert!(stamped[1..].iter().all(|&b| b));
}

#[test]
fn kept_tx_time_follows_the_stamp_and_interleaved_responses_keep_theirs() {
    let mut s = server(None);
    let mut rng = rng();
    let first = basic(&mut s, &mut rng, 0.0, 0.0);
    // 2: may be interleaved (origin = our RX timestamp): its TX time is kept.
    let second = request(4, Mode::Client, parse(&first).receive_ts.0, 5, 6)
        .to_vec()
        .expect("emit");
    let mut r2 = s
        .handle_request(
            &received(&second, t(1.0)),
            t(1.0),
            &synced(),
            None,
            &mut rng,
        )
        .expect("response");
    assert!(r2.wants_tx_timestamp);
    assert!(s.stamp_response(&mut r2.bytes, t(1.0 + 4e-5), &mut rng));
    // 3: interleaved, carrying response 2's TX time as restamped.
    let third = request(4, Mode::Client, parse(&r2).receive_ts.0, 7, 8)
        .to_vec()
        .expect("emit");
    let mut r3 = s
        .handle_request(&received(&third, t(2.0)), t(2.0), &synced(), None, &mut rng)
        .expect("response");
    assert_eq!(r3.kind, ResponseKind::Interleaved);
    assert_near(parse(&r3).transmit_ts, t(1.0 + 4e-5));
    let sent = r3.bytes.clone();
    assert!(!s.stamp_response(&mut r3.bytes, t(2.0 + 1e-5), &mut rng));
    assert_eq!(r3.bytes, sent);
}

#[test]
fn kod_responses_keep_their_stamp() {
    let limit = RateLimitConfig {
        kod: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut s = server(Some(limit));
    let mut rng = rng();
    let mut kods = 0;
    for i in 0..100 {
        let at = t(f64::from(i) * 1e-3);
        let bytes = client_request(0x77);
        let Some(mut r) = s.handle_request(&received(&bytes, at), at, &synced(), None, &mut rng)
        else {
            continue;
        };
        let stamped = s.stamp_response(&mut r.bytes, t(f64::from(i) * 1e-3 + 1e-5), &mut rng);
        let kod = matches!(r.kind, ResponseKind::Kod(_));
        assert_eq!(stamped, !kod, "{:?}", r.kind);
        kods += usize::from(kod);
    }
    assert!(kods > 0);
}
