//! When the source sends: reachability, bursts, kiss codes, online/offline
//! and the poll adaptation.

use super::*;

#[test]
fn reach_register_shifts_and_drains_without_replies() {
    let mut h = Harness::new(SourceParams::default());
    for _ in 0..3 {
        assert!(h.exchange().good);
    }
    assert_eq!(h.src.reachability().register, 0b111);
    // From now on the server is silent. A missed response is counted when the
    // next request is sent.
    h.events();
    let mut registers = Vec::new();
    for _ in 0..9 {
        h.next_request().expect("requests continue");
        registers.push(h.src.reachability().register);
    }
    assert_eq!(
        &registers[..],
        &[
            0b111,
            0b1110,
            0b1_1100,
            0b11_1000,
            0b111_0000,
            0b1110_0000,
            0b1100_0000,
            0b1000_0000,
            0
        ]
    );
    let r = h.src.reachability();
    assert_eq!((r.size, r.unreachable_run), (8, 1));
    assert!(
        h.events()
            .contains(&SourceEvent::Unreachable { full: true })
    );
    // Missed responses back off the poll by 0.25 each (the source is not
    // the system peer): 8 misses raise it by two.
    assert_eq!(h.src.local_poll().0, 8);
    assert_eq!(h.src.ntp_data_report().counters.total_tx, 12);
}

#[test]
fn iburst_sends_up_to_8_requests_2_s_apart_until_4_good() {
    let params = SourceParams {
        auto_iburst: true,
        ..SourceParams::default()
    };
    // The server answers: the burst ends after 4 good samples.
    let mut h = Harness::new(params.clone());
    assert_eq!(h.src.activity(), Activity::BurstOnline);
    for _ in 0..4 {
        assert!(h.exchange().good);
    }
    assert_eq!(h.src.activity(), Activity::Online);
    let gaps: Vec<f64> = h.sent_at.windows(2).map(|w| w[1].diff_secs(w[0])).collect();
    // min(2 s, 64 s / 4) = 2 s, plus up to 2%.
    assert!(gaps.iter().all(|g| (2.0..=2.04).contains(g)), "{gaps:?}");
    h.next_request().expect("after the burst");
    let last = h.sent_at[4].diff_secs(h.sent_at[3]);
    assert!(last > 60.0, "back to minpoll: {last} s");

    // A silent server: 8 requests, then minpoll.
    let mut h = Harness::new(params);
    for _ in 0..10 {
        h.next_request().expect("request");
    }
    let gaps: Vec<f64> = h.sent_at.windows(2).map(|w| w[1].diff_secs(w[0])).collect();
    assert!(
        gaps[..7].iter().all(|g| (2.0..=2.04).contains(g)),
        "{gaps:?}"
    );
    assert!(gaps[7] > 60.0, "{gaps:?}");
    assert_eq!(h.src.activity(), Activity::Online);
}

#[test]
fn burst_command_counts_good_and_total() {
    let mut h = Harness::new(SourceParams::default());
    h.exchange();
    h.src.initiate_burst(h.now, 2, 4);
    assert_eq!(h.src.activity(), Activity::BurstOnline);
    let start = h.now;
    h.exchange();
    assert!(
        h.now.diff_secs(start) < 3.0,
        "a burst request comes quickly"
    );
    h.exchange();
    assert_eq!(h.src.activity(), Activity::Online);
    // A burst from offline returns to offline.
    h.src.set_connectivity(h.now, Connectivity::Offline);
    h.src.initiate_burst(h.now, 1, 2);
    assert_eq!(h.src.activity(), Activity::BurstOffline);
    assert!(h.exchange().good);
    assert_eq!(h.src.activity(), Activity::Offline);
    assert_eq!(h.src.poll_timeout(), None);
}

#[test]
fn kod_rate_backs_off_and_ends_a_burst() {
    let params = SourceParams {
        auto_iburst: true,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    h.server.kiss = Some(KissCode::Rate);
    let t = h.exchange();
    assert_eq!(t.kiss, Some(KissCode::Rate));
    assert!(t.valid && !t.synced && !t.good);
    assert!(h.events().contains(&SourceEvent::KodRate));
    let answered = h.now;
    let tx = h.next_request().expect("next request");
    // The burst delay (2 s) plus four polls of 64 s.
    let wait = h.now.diff_secs(answered);
    assert!((257.0..=263.0).contains(&wait), "waited {wait} s");
    // The burst no longer waits for 4 good samples: one ends it.
    h.server.kiss = None;
    let (resp, at) = h.response_to(&tx);
    assert!(matches!(h.deliver(&resp, at), RxOutcome::Tested(t) if t.good));
    assert_eq!(h.src.activity(), Activity::Online);
}

#[test]
fn kod_deny_is_ignored_like_chrony_unless_stop_on_deny() {
    let mut h = Harness::new(SourceParams::default());
    h.server.kiss = Some(KissCode::Deny);
    let t = h.exchange();
    assert_eq!(t.kiss, Some(KissCode::Deny));
    assert!(t.valid && !t.synced);
    assert!(h.events().contains(&SourceEvent::KodDeny {
        code: KissCode::Deny
    }));
    assert!(h.src.poll_timeout().is_some(), "chrony keeps polling");

    let params = SourceParams {
        stop_on_deny: true,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    h.server.kiss = Some(KissCode::Rstr);
    h.exchange();
    assert_eq!(h.src.activity(), Activity::Offline);
    assert_eq!(h.src.poll_timeout(), None);
    assert!(h.next_request().is_none());
    assert!(
        h.events()
            .contains(&SourceEvent::Connectivity { online: false })
    );
}

#[test]
fn offline_sends_nothing_until_online() {
    let mut src = NtpSource::new(
        server_addr(),
        Association::Client,
        SourceParams::default(),
        StatsParams::ntp(1e-9),
        1e-9,
        false,
        StdRng::seed_from_u64(3),
    );
    src.start(BASE);
    assert_eq!(src.activity(), Activity::Offline);
    assert_eq!(src.poll_timeout(), None);
    src.handle_timeout(BASE.add_secs(1000.0), &LocalContext::default());
    assert!(src.poll_transmit().is_none());
    let t = BASE.add_secs(1000.0);
    src.set_connectivity(t, Connectivity::Online);
    assert_eq!(
        src.poll_event(),
        Some(SourceEvent::Connectivity { online: true })
    );
    let due = src.poll_timeout().expect("a request is due");
    assert!((0.2..=0.204).contains(&due.diff_secs(t)));
    src.handle_timeout(due, &LocalContext::default());
    assert!(src.poll_transmit().is_some());
    // Going offline stops the timers and clears the register.
    src.set_connectivity(due, Connectivity::Offline);
    assert_eq!(src.poll_timeout(), None);
    assert_eq!(src.reachability().register, 0);
    assert!(!src.is_active());
}

#[test]
fn not_started_sources_do_not_send() {
    let mut src = new_source(SourceParams::default(), Association::Client, 1);
    assert_eq!(src.poll_timeout(), None);
    src.start(BASE);
    assert!(src.poll_timeout().is_some());
}

#[test]
fn poll_adapts_up_after_many_good_samples() {
    let mut h = Harness::new(SourceParams::default());
    let mut polls = Vec::new();
    for i in 0..60 {
        h.delay_out = 0.01 + f64::from(i % 5) * 1e-6;
        assert!(h.exchange().good);
        polls.push(h.src.local_poll().0);
    }
    // Below polltarget (8 samples) the poll stays at minpoll; beyond it
    // the score grows until maxpoll.
    assert_eq!(polls[5], 6);
    assert!(polls.windows(2).all(|w| w[1] >= w[0]), "{polls:?}");
    assert!(*polls.last().expect("polls") >= 8, "{polls:?}");
    assert!(polls.iter().all(|p| *p <= 10));
}

#[test]
fn send_error_with_auto_offline_goes_offline() {
    let params = SourceParams {
        auto_offline: true,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    h.next_request().expect("request");
    assert_eq!(h.src.ntp_data_report().counters.total_tx, 1);
    h.src.handle_send_error(h.now);
    assert_eq!(h.src.ntp_data_report().counters.total_tx, 0);
    assert_eq!(h.src.activity(), Activity::Offline);
    assert_eq!(h.src.poll_timeout(), None);
}

#[test]
fn presend_warms_up_before_the_measurement() {
    let params = SourceParams {
        presend_minpoll: Some(6),
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    let t = h.exchange();
    // The warm-up response fails test A and is not used.
    assert!(t.valid && !t.tests.ta_delay_ok);
    let warm = h.now;
    let t = h.exchange();
    assert!(t.good);
    assert!(
        close(h.now.diff_secs(warm), 2.0, 0.1),
        "2 s after the warm-up"
    );
}

#[test]
fn sub_second_polls_need_a_lan_delay() {
    let params = SourceParams {
        minpoll: -2,
        maxpoll: -2,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params.clone());
    h.delay_out = 0.000_2;
    h.delay_back = 0.000_2;
    for _ in 0..4 {
        h.exchange();
    }
    assert_eq!(h.src.local_poll().0, -2);
    let gap = h.sent_at[3].diff_secs(h.sent_at[2]);
    assert!((0.25..=0.26).contains(&gap), "gap {gap}");
    // Over 10 ms of delay, the poll stays at 1 s.
    let mut h = Harness::new(params);
    for _ in 0..4 {
        h.exchange();
    }
    assert_eq!(h.src.local_poll().0, 0);
}

#[test]
fn burst_option_sends_bursts_when_poll_is_above_minpoll() {
    let params = SourceParams {
        auto_burst: true,
        minpoll: 4,
        maxpoll: 6,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    for _ in 0..60 {
        let tx = h.next_request().expect("request");
        if h.src.activity() == Activity::BurstOnline {
            // Bursts start only once the poll rose above minpoll.
            assert!(h.src.local_poll().0 > 4);
            let (resp, at) = h.response_to(&tx);
            h.deliver(&resp, at);
            // One good sample ends the burst.
            assert_eq!(h.src.activity(), Activity::Online);
            return;
        }
        assert_eq!(h.src.local_poll().0, 4, "no burst at minpoll");
        let (resp, at) = h.response_to(&tx);
        h.deliver(&resp, at);
    }
    panic!("no burst started");
}

#[test]
fn commands_modify_parameters() {
    let mut h = Harness::new(SourceParams::default());
    h.src.modify_minpoll(12);
    assert_eq!((h.src.params().minpoll, h.src.params().maxpoll), (12, 12));
    h.src.modify_maxpoll(4);
    assert_eq!((h.src.params().minpoll, h.src.params().maxpoll), (4, 4));
    h.src.modify_minpoll(30);
    assert_eq!(h.src.params().minpoll, 4);
    h.src.modify_maxdelay(1e9);
    assert_eq!(h.src.params().max_delay, 1000.0);
    h.src.modify_polltarget(0);
    assert_eq!(h.src.params().poll_target, 1);
    h.src.modify_offset(0.5);
    let ev = h.events();
    assert!(ev.contains(&SourceEvent::ParameterChanged {
        name: "minpoll",
        value: "12".into()
    }));
    assert!(ev.contains(&SourceEvent::ParameterChanged {
        name: "offset",
        value: "0.500000".into()
    }));
    // The offset correction is added to measurements.
    let t = h.exchange();
    assert!(close(t.sample.expect("sample").offset, 0.5, 1e-6));
}

#[test]
fn filter_combines_samples_of_several_polls() {
    let params = SourceParams {
        filter_length: 3,
        ..SourceParams::default()
    };
    let mut h = Harness::new(params);
    let mut outputs = 0;
    for _ in 0..6 {
        if h.exchange().sample.is_some() {
            outputs += 1;
        }
    }
    assert_eq!(outputs, 2);
    assert_eq!(h.src.stats().n_samples(), 2);
}

#[test]
fn slewing_moves_stored_times_and_deadlines() {
    let mut h = Harness::new(SourceParams::default());
    h.exchange();
    let due = h.src.poll_timeout().expect("timer");
    // The clock was stepped back by 1 s: times on the new scale are 1 s
    // earlier.
    h.src.slew_times(h.now, 0.0, 1.0);
    assert_eq!(h.src.poll_timeout(), Some(due.add_secs(-1.0)));
    h.src.reset_after_unknown_step(h.now);
    assert!(h.src.poll_timeout().is_some());
}
