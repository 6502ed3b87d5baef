//! The interleaved client mode (RFC 9769 / chrony's xleave).

use super::*;

fn xleave_harness() -> Harness {
    let params = SourceParams {
        interleaved: true,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    h.server.offset = 0.25;
    h.server.interleaved = true;
    // The server stamps basic responses 50 µs before they really leave.
    h.server.tx_stamp_early = 50e-6;
    h
}

#[test]
fn interleaved_client_uses_the_servers_real_tx_time() {
    let mut h = xleave_harness();
    // 1: basic (nothing to interleave with yet); the early TX stamp makes
    // the offset 25 µs too small and the delay 50 µs too long.
    let t = h.exchange();
    assert!(t.good && !t.interleaved);
    let s = t.sample.expect("sample");
    assert!(close(s.offset, 0.25 - 25e-6, 1e-7), "{}", s.offset);
    assert!(close(s.peer_delay, 0.02 + 50e-6, 1e-7), "{}", s.peer_delay);

    // 2: the request refers to the server's RX timestamp of the first one.
    let tx = h.next_request().expect("request");
    let req = NtpRepr::parse_bytes(&tx.bytes).expect("parses");
    assert!(
        !req.origin_ts.is_zero(),
        "interleaved request has an origin"
    );
    let (resp, at) = h.response_to(&tx);
    let RxOutcome::Tested(t) = h.deliver(&resp, at) else {
        panic!("not tested")
    };
    // Interleaved, but the previous response was a good basic one: its
    // timestamps are not reused (test A).
    assert!(t.interleaved && t.valid && !t.tests.ta_delay_ok);

    // 3 and later: the previous exchange with the server's real TX time.
    for _ in 0..3 {
        let t = h.exchange();
        assert!(t.interleaved && t.good, "{:?}", t.tests);
        let s = t.sample.expect("sample");
        assert!(close(s.offset, 0.25, 1e-8), "offset {}", s.offset);
        assert!(close(s.peer_delay, 0.02, 1e-8), "delay {}", s.peer_delay);
    }
    let r = h.src.ntp_data_report();
    assert!(r.interleaved);
    // The server's processing time of the previous request.
    assert!(close(r.response_time, 50e-6, 1e-8), "{}", r.response_time);
}

#[test]
fn interleaved_client_falls_back_to_basic_servers() {
    let mut h = xleave_harness();
    h.server.interleaved = false;
    for _ in 0..4 {
        let t = h.exchange();
        assert!(t.good && !t.interleaved);
    }
}

#[test]
fn interleaved_requests_stop_after_4_missed_responses() {
    let mut h = xleave_harness();
    h.exchange();
    for _ in 0..6 {
        h.next_request().expect("request");
    }
    let tx = h.next_request().expect("request");
    let req = NtpRepr::parse_bytes(&tx.bytes).expect("parses");
    // A basic request: the origin and receive timestamps are zero.
    assert!(req.origin_ts.is_zero() && req.receive_ts.is_zero());
}
