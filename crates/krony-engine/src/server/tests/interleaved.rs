//! The interleaved mode.

use super::*;

/// The client side of an interleaved exchange, like chrony's `xleave`.
struct XleaveClient {
    prev_server_rx: NtpTimestamp,
    prev_local_rx: NtpTimestamp,
}

impl XleaveClient {
    fn request(&self, transmit: u64) -> Vec<u8> {
        request(
            4,
            Mode::Client,
            self.prev_server_rx.0,
            self.prev_local_rx.0,
            transmit,
        )
        .to_vec()
        .expect("emit")
    }

    fn got(&mut self, p: &NtpRepr, local_rx: u64) {
        self.prev_server_rx = p.receive_ts;
        self.prev_local_rx = NtpTimestamp(local_rx);
    }
}

#[test]
fn interleaved_exchange_sends_previous_tx_timestamp() {
    let mut s = server(None);
    let mut rng = rng();
    let mut c = XleaveClient {
        prev_server_rx: NtpTimestamp::ZERO,
        prev_local_rx: NtpTimestamp::ZERO,
    };
    let mut exchange = |c: &mut XleaveClient, s: &mut Server, at: f64, tx: u64, crx: u64| {
        let bytes = c.request(tx);
        let r = s
            .handle_request(
                &received(&bytes, t(at)),
                t(at + 1e-5),
                &synced(),
                None,
                &mut rng,
            )
            .expect("response");
        let p = parse(&r);
        c.got(&p, crx);
        (r, p)
    };
    // 1: a zero origin, a basic response; nothing kept.
    let (r1, p1) = exchange(&mut c, &mut s, 0.0, 0x11, 0x12);
    assert_eq!(
        (r1.kind, r1.wants_tx_timestamp),
        (ResponseKind::Basic, false)
    );
    assert_eq!(p1.origin_ts, NtpTimestamp(0x11));
    // 2: the origin is our RX timestamp, not held yet: basic, but its TX
    // time is kept.
    let (r2, p2) = exchange(&mut c, &mut s, 1.0, 0x21, 0x22);
    assert_eq!(
        (r2.kind, r2.wants_tx_timestamp),
        (ResponseKind::Basic, true)
    );
    assert_eq!(p2.origin_ts, NtpTimestamp(0x21));
    // The kernel reports when response 2 really left.
    let kernel_tx = t(1.0 + 3e-5);
    assert!(s.handle_tx_timestamp(&r2.bytes, kernel_tx, TimestampSource::Kernel));
    // 3: interleaved: origin = the client's RX of response 2, transmit =
    // response 2's kernel TX time.
    let (r3, p3) = exchange(&mut c, &mut s, 2.0, 0x31, 0x32);
    assert_eq!(r3.kind, ResponseKind::Interleaved);
    assert_eq!(p3.origin_ts, NtpTimestamp(0x22));
    assert_near(p3.transmit_ts, kernel_tx);
    assert_near(p3.receive_ts, t(2.0));
    assert_eq!(p3.transmit_ts.0 & 1, 0);
    let st = s.server_stats();
    assert_eq!(st.ntp_interleaved_hits, 1);
    assert_eq!(
        st.ntp_kernel_tx_timestamps, 1,
        "response 3 carries a kernel TX time"
    );
    assert_eq!(st.ntp_daemon_tx_timestamps, 2);
    assert_eq!(st.ntp_timestamps, 2, "RX timestamps of responses 2 and 3");
    // 4: without a better timestamp the daemon's TX time of response 3.
    let (r4, p4) = exchange(&mut c, &mut s, 3.0, 0x41, 0x42);
    assert_eq!(r4.kind, ResponseKind::Interleaved);
    assert_near(p4.transmit_ts, t(2.0 + 1e-5));
    assert_eq!(s.counters().interleaved_responses, 2);
}

#[test]
fn interleaved_timestamp_serves_one_response() {
    let mut s = server(None);
    let mut rng = rng();
    let first = client_request(1);
    let p = parse(
        &s.handle_request(&received(&first, t(0.0)), t(0.0), &synced(), None, &mut rng)
            .expect("response"),
    );
    let second = request(4, Mode::Client, p.receive_ts.0, 5, 6)
        .to_vec()
        .expect("emit");
    let r2 = s
        .handle_request(
            &received(&second, t(1.0)),
            t(1.0),
            &synced(),
            None,
            &mut rng,
        )
        .expect("response");
    let third = request(4, Mode::Client, parse(&r2).receive_ts.0, 7, 8)
        .to_vec()
        .expect("emit");
    let kinds: Vec<ResponseKind> = (0..2)
        .map(|i| {
            s.handle_request(
                &received(&third, t(2.0 + f64::from(i))),
                t(2.0),
                &synced(),
                None,
                &mut rng,
            )
            .expect("response")
            .kind
        })
        .collect();
    assert_eq!(kinds, [ResponseKind::Interleaved, ResponseKind::Basic]);
    // A TX timestamp for a used entry is refused.
    assert!(!s.handle_tx_timestamp(&r2.bytes, t(1.0), TimestampSource::Kernel));
}

#[test]
fn basic_mode_requests_are_not_interleaved() {
    let mut s = server(None);
    let mut rng = rng();
    let r1 = s
        .handle_request(
            &received(&client_request(1), t(0.0)),
            t(0.0),
            &synced(),
            None,
            &mut rng,
        )
        .expect("response");
    let rx1 = parse(&r1).receive_ts.0;
    // Equal receive and transmit timestamps, NTPv3, or an origin without the
    // flag bit do not ask for the interleaved mode.
    for req in [
        request(4, Mode::Client, rx1, 9, 9),
        request(3, Mode::Client, rx1, 5, 9),
        request(4, Mode::Client, rx1 & !1, 5, 9),
    ] {
        let bytes = req.to_vec().expect("emit");
        let r = s
            .handle_request(&received(&bytes, t(1.0)), t(1.0), &synced(), None, &mut rng)
            .expect("response");
        assert!(!r.wants_tx_timestamp);
        assert_eq!(parse(&r).origin_ts, NtpTimestamp(9));
    }
    assert_eq!(s.server_stats().ntp_timestamps, 0);
}

#[test]
fn noclientlog_disables_interleaved_mode() {
    let mut cfg = config(None);
    cfg.client_log.enabled = false;
    let mut s = Server::new(cfg, &mut rng()).expect("server");
    let mut rng = rng();
    let r = s
        .handle_request(
            &received(&client_request(1), t(0.0)),
            t(0.0),
            &synced(),
            None,
            &mut rng,
        )
        .expect("response");
    let bytes = request(4, Mode::Client, parse(&r).receive_ts.0, 5, 6)
        .to_vec()
        .expect("emit");
    let r = s
        .handle_request(&received(&bytes, t(1.0)), t(1.0), &synced(), None, &mut rng)
        .expect("response");
    assert!(!r.wants_tx_timestamp);
    assert_eq!(s.server_stats().ntp_hits, 2);
}

#[test]
fn unknown_step_forgets_interleaved_timestamps() {
    let mut s = server(None);
    let mut rng = rng();
    let r1 = s
        .handle_request(
            &received(&client_request(1), t(0.0)),
            t(0.0),
            &synced(),
            None,
            &mut rng,
        )
        .expect("response");
    let b2 = request(4, Mode::Client, parse(&r1).receive_ts.0, 5, 6)
        .to_vec()
        .expect("emit");
    s.handle_request(&received(&b2, t(1.0)), t(1.0), &synced(), None, &mut rng)
        .expect("response");
    assert_eq!(s.server_stats().ntp_timestamps, 1);
    let change = ClockChange {
        raw: t(1.5),
        cooked: t(1.5),
        dfreq: 0.0,
        doffset: 3.0,
        kind: ChangeKind::UnknownStep,
    };
    s.handle_clock_change(&change, &mut rng);
    assert_eq!(s.server_stats().ntp_timestamps, 0);
}
