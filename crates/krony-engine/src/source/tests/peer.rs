//! Symmetric mode: two sources exchanging packets as peers.

use super::*;

/// Two peers on a virtual network with a 5 ms one-way delay; B's clock is
/// `offset` ahead of A's.
struct Peers {
    src: [NtpSource; 2],
    ctx: [LocalContext; 2],
    clock_offset: [f64; 2],
    /// True time.
    now: UnixTime,
    in_flight: Vec<(UnixTime, usize, NtpRepr)>,
    samples: [Vec<Sample>; 2],
    interleaved: [usize; 2],
}

fn peer_params(xleave: bool) -> SourceParams {
    let o = krony_config::SourceOptions {
        minpoll: 2,
        maxpoll: 4,
        xleave,
        ..krony_config::SourceOptions::default()
    };
    SourceParams::from_options(&o, Association::SymmetricActive)
}

fn synced(stratum: u8) -> LocalContext {
    LocalContext {
        reference: OurReference {
            leap: LeapIndicator::NoWarning,
            stratum,
            ref_id: RefId::from_ascii(b"GPS"),
            ref_time: BASE,
            root_delay: 0.0001,
            root_dispersion: 0.0001,
        },
        precision_log2: -24,
        precision: 6e-8,
        ..LocalContext::default()
    }
}

impl Peers {
    fn new(xleave: bool, offset: f64) -> Self {
        let a_addr = SocketAddr::new(local_ip(), 123);
        let mut a = new_source(peer_params(xleave), Association::SymmetricActive, 11);
        a.change_address(BASE, server_addr());
        let mut b = NtpSource::new(
            a_addr,
            Association::SymmetricActive,
            peer_params(xleave),
            StatsParams::ntp(1e-9),
            1e-9,
            true,
            StdRng::seed_from_u64(12),
        );
        a.start(BASE);
        b.start(BASE.add_secs(offset));
        Peers {
            src: [a, b],
            ctx: [synced(2), synced(3)],
            clock_offset: [0.0, offset],
            now: BASE,
            in_flight: Vec::new(),
            samples: [Vec::new(), Vec::new()],
            interleaved: [0, 0],
        }
    }

    fn local(&self, i: usize) -> UnixTime {
        self.now.add_secs(self.clock_offset[i])
    }

    /// Runs the next event: a timer or a packet arrival.
    fn step(&mut self) {
        let timers = (0..2).filter_map(|i| {
            let t = self.src[i].poll_timeout()?;
            Some((t.add_secs(-self.clock_offset[i]), i, None))
        });
        let packets = self
            .in_flight
            .iter()
            .enumerate()
            .map(|(k, (t, i, _))| (*t, *i, Some(k)));
        let Some((t, i, pkt)) = timers.chain(packets).min_by_key(|(t, _, _)| *t) else {
            panic!("nothing to do")
        };
        self.now = self.now.max(t);
        let local = self.local(i);
        match pkt {
            Some(k) => {
                let (_, _, packet) = self.in_flight.remove(k);
                let rp = ReceivedPacket {
                    packet: &packet,
                    rx: LocalTimestamp::daemon(local),
                    local_addr: None,
                    mac_verified: false,
                };
                if let RxOutcome::Tested(t) = self.src[i].handle_packet(local, &rp, &self.ctx[i]) {
                    self.samples[i].extend(t.sample);
                    self.interleaved[i] += usize::from(t.good && t.interleaved);
                }
            }
            None => {
                self.src[i].handle_timeout(local, &self.ctx[i]);
                while let Some(tx) = self.src[i].poll_transmit() {
                    let packet = NtpRepr::parse_bytes(&tx.bytes).expect("parses");
                    assert!(!tx.new_client_socket);
                    self.in_flight
                        .push((self.now.add_secs(0.005), 1 - i, packet));
                }
            }
        }
    }
}

#[test]
fn symmetric_peers_measure_each_other() {
    let mut p = Peers::new(false, 0.1);
    for _ in 0..400 {
        p.step();
    }
    for (i, sign) in [(0, 1.0), (1, -1.0)] {
        let s = &p.samples[i];
        assert!(s.len() >= 10, "peer {i}: {} samples", s.len());
        for x in s {
            assert!(
                close(x.offset, sign * 0.1, 1e-6),
                "peer {i}: offset {}",
                x.offset
            );
            assert!(
                close(x.peer_delay, 0.01, 1e-6),
                "peer {i}: delay {}",
                x.peer_delay
            );
        }
        assert!(p.src[i].is_reachable());
        let r = p.src[i].ntp_data_report();
        assert!(matches!(r.mode, Mode::SymmetricActive));
    }
    let req = p.src[0].ntp_data_report();
    assert_eq!(req.stratum, 3);
    assert_eq!(p.src[1].ntp_data_report().stratum, 2);
}

#[test]
fn interleaved_peers_measure_each_other() {
    let mut p = Peers::new(true, -0.05);
    for _ in 0..600 {
        p.step();
    }
    for (i, sign) in [(0, -1.0), (1, 1.0)] {
        assert!(
            p.interleaved[i] >= 5,
            "peer {i}: {} interleaved",
            p.interleaved[i]
        );
        for x in &p.samples[i] {
            assert!(
                close(x.offset, sign * 0.05, 1e-6),
                "peer {i}: offset {}",
                x.offset
            );
            assert!(
                close(x.peer_delay, 0.01, 1e-6),
                "peer {i}: delay {}",
                x.peer_delay
            );
        }
    }
}

#[test]
fn peer_packets_carry_our_reference() {
    let mut p = Peers::new(false, 0.0);
    let due = p.src[0].poll_timeout().expect("timer");
    p.src[0].handle_timeout(due, &p.ctx[0]);
    let tx = p.src[0].poll_transmit().expect("packet");
    let pkt = NtpRepr::parse_bytes(&tx.bytes).expect("parses");
    assert_eq!(pkt.mode, Mode::SymmetricActive);
    assert_eq!(pkt.stratum, 2);
    assert_eq!(pkt.precision, -24);
    assert_eq!(pkt.reference_id, RefId::from_ascii(b"GPS"));
    assert_eq!(pkt.reference_ts, NtpTimestamp::from_unix(BASE));
    // The transmit timestamp is the real time, fuzzed below the precision.
    assert!(
        pkt.transmit_ts
            .diff_secs(NtpTimestamp::from_unix(due))
            .abs()
            < 1e-7
    );
    // An unsynchronised peer sends stratum 0 and leap 3.
    let ctx = LocalContext::default();
    p.src[0].initiate_burst(due, 1, 1);
    let next = p.src[0].poll_timeout().expect("timer");
    p.src[0].handle_timeout(next, &ctx);
    let pkt =
        NtpRepr::parse_bytes(&p.src[0].poll_transmit().expect("packet").bytes).expect("parses");
    assert_eq!((pkt.stratum, pkt.leap), (0, LeapIndicator::Unsynchronized));
}
