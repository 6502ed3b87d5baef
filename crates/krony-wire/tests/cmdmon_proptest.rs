//! Property tests of the cmdmon codec: emit then parse is the identity for
//! every request and reply variant, parsing arbitrary bytes never panics
//! (and whatever parses re-emits to the same value), and Float keeps its
//! precision.

use std::net::{Ipv4Addr, Ipv6Addr};

use krony_wire::cmdmon::*;
use proptest::prelude::*;

fn addr() -> impl Strategy<Value = CmdAddr> {
    prop_oneof![
        Just(CmdAddr::Unspec),
        any::<[u8; 4]>().prop_map(|a| CmdAddr::Inet4(Ipv4Addr::from(a))),
        any::<[u8; 16]>().prop_map(|a| CmdAddr::Inet6(Ipv6Addr::from(a))),
        any::<u32>().prop_map(CmdAddr::Id),
    ]
}

/// Any value a Float can carry (so that the round trip is exact).
fn fl() -> impl Strategy<Value = f64> {
    any::<u32>().prop_map(|b| Float::from_bits(b).to_f64())
}

fn ts() -> impl Strategy<Value = Timespec> {
    any::<(u32, u32, u32)>().prop_map(|(sec_high, sec_low, nsec)| Timespec {
        sec_high,
        sec_low,
        nsec,
    })
}

fn name() -> impl Strategy<Value = Name> {
    proptest::collection::vec(1u8..=255, 0..=NAME_LEN)
        .prop_map(|b| Name::new(&b).unwrap_or_default())
}

fn mask_address() -> impl Strategy<Value = MaskAddress> {
    (addr(), addr()).prop_map(|(mask, address)| MaskAddress { mask, address })
}

fn subnet() -> impl Strategy<Value = Subnet> {
    (addr(), any::<i32>()).prop_map(|(ip, subnet_bits)| Subnet { ip, subnet_bits })
}

fn source_int() -> impl Strategy<Value = SourceInt> {
    (addr(), any::<i32>()).prop_map(|(address, value)| SourceInt { address, value })
}

fn source_float() -> impl Strategy<Value = SourceFloat> {
    (addr(), fl()).prop_map(|(address, value)| SourceFloat { address, value })
}

fn local() -> impl Strategy<Value = Local> {
    let ext = proptest::option::of((fl(), fl(), fl()).prop_map(
        |(activate, wait_synced, wait_unsynced)| LocalExt {
            activate,
            wait_synced,
            wait_unsynced,
        },
    ));
    (any::<(i32, i32, i32)>(), fl(), ext).prop_map(|((on_off, stratum, orphan), distance, ext)| {
        Local {
            on_off,
            stratum,
            distance,
            orphan,
            ext,
        }
    })
}

fn add_source() -> impl Strategy<Value = AddSource> {
    let ints = any::<[u32; 12]>();
    let more = any::<(u32, u32, i32, u32, i32)>();
    let floats = proptest::array::uniform7(fl());
    (ints, more, floats, name()).prop_map(|(i, m, f, name)| AddSource {
        kind: SourceKind(i[0]),
        name,
        port: i[1],
        minpoll: i[2] as i32,
        maxpoll: i[3] as i32,
        presend_minpoll: i[4] as i32,
        min_stratum: i[5],
        poll_target: i[6],
        version: i[7],
        max_sources: i[8],
        min_samples: i[9] as i32,
        max_samples: i[10] as i32,
        authkey: i[11],
        nts_port: m.0,
        max_delay: f[0],
        max_delay_ratio: f[1],
        max_delay_dev_ratio: f[2],
        min_delay: f[3],
        asymmetry: f[4],
        offset: f[5],
        flags: AddSourceFlags(m.1),
        filter_length: m.2,
        cert_set: m.3,
        max_delay_quant: f[6],
        max_unreach: m.4,
    })
}

fn unit_request() -> impl Strategy<Value = Request> {
    use Request::*;
    proptest::sample::select(vec![
        Dump,
        NSources,
        Rekey,
        WriteRtc,
        Tracking,
        RtcReport,
        TrimRtc,
        CycleLogs,
        ManualList,
        MakeStep,
        Activity,
        Reselect,
        Smoothing,
        Refresh,
        Shutdown,
        OnOffline,
        ResetSources,
        ReloadSources,
        ServerStats(ServerStatsVersion::V2),
        ServerStats(ServerStatsVersion::V3),
        ServerStats(ServerStatsVersion::V4),
    ])
}

fn source_request() -> impl Strategy<Value = Request> {
    use Request::*;
    let ntp_ver = prop_oneof![Just(NtpDataVersion::V1), Just(NtpDataVersion::V2)];
    prop_oneof![
        mask_address().prop_map(Online),
        mask_address().prop_map(Offline),
        (mask_address(), any::<(i32, i32)>()).prop_map(|(target, (g, t))| Request::Burst(
            krony_wire::cmdmon::Burst {
                target,
                n_good_samples: g,
                n_total_samples: t
            }
        )),
        source_int().prop_map(ModifyMinpoll),
        source_int().prop_map(ModifyMaxpoll),
        source_int().prop_map(ModifyMinstratum),
        source_int().prop_map(ModifyPolltarget),
        source_float().prop_map(ModifyMaxdelay),
        source_float().prop_map(ModifyMaxdelayratio),
        source_float().prop_map(ModifyMaxdelaydevratio),
        addr().prop_map(DelSource),
        addr().prop_map(NtpSourceName),
        addr().prop_map(AuthData),
        (addr(), ntp_ver).prop_map(|(a, v)| NtpData(a, v)),
        add_source().prop_map(|a| Request::AddSource(Box::new(a))),
        (addr(), any::<(u32, u32, u32)>()).prop_map(|(address, (ref_id, m, o))| {
            Request::ModifySelectOpts(krony_wire::cmdmon::ModifySelectOpts {
                address,
                ref_id,
                mask: AddSourceFlags(m),
                options: AddSourceFlags(o),
            })
        }),
        (addr(), any::<u32>(), fl()).prop_map(|(address, ref_id, offset)| {
            Request::ModifyOffset(krony_wire::cmdmon::ModifyOffset {
                address,
                ref_id,
                offset,
            })
        }),
    ]
}

fn other_request() -> impl Strategy<Value = Request> {
    use Request::*;
    prop_oneof![
        subnet().prop_map(Allow),
        subnet().prop_map(AllowAll),
        subnet().prop_map(Deny),
        subnet().prop_map(DenyAll),
        subnet().prop_map(CmdAllow),
        subnet().prop_map(CmdAllowAll),
        subnet().prop_map(CmdDeny),
        subnet().prop_map(CmdDenyAll),
        addr().prop_map(AcCheck),
        addr().prop_map(CmdAcCheck),
        fl().prop_map(ModifyMaxupdateskew),
        fl().prop_map(Dfreq),
        fl().prop_map(Doffset),
        fl().prop_map(ReselectDistance),
        ts().prop_map(Settime),
        any::<i32>().prop_map(Manual),
        any::<i32>().prop_map(SourceData),
        any::<i32>().prop_map(ManualDelete),
        any::<i32>().prop_map(SmoothTime),
        any::<u32>().prop_map(Sourcestats),
        any::<u32>().prop_map(SelectData),
        (any::<i32>(), fl()).prop_map(|(limit, threshold)| Request::ModifyMakestep(
            krony_wire::cmdmon::ModifyMakestep { limit, threshold }
        )),
        local().prop_map(Local),
        any::<[u32; 4]>().prop_map(|[first_index, n_clients, min_hits, reset]| {
            ClientAccessesByIndex(ClientAccessesQuery {
                first_index,
                n_clients,
                min_hits,
                reset,
            })
        }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![unit_request(), source_request(), other_request()]
}

fn server_stats() -> impl Strategy<Value = ReplyBody> {
    let ver = prop_oneof![
        Just(ServerStatsVersion::V2),
        Just(ServerStatsVersion::V3),
        Just(ServerStatsVersion::V4)
    ];
    (ver, any::<[u64; 17]>()).prop_map(|(v, mut a)| {
        // Older layouts carry fewer counters, and only 32 bits of each.
        let n = match v {
            ServerStatsVersion::V2 => 8,
            ServerStatsVersion::V3 => 11,
            ServerStatsVersion::V4 => 17,
        };
        for (i, x) in a.iter_mut().enumerate() {
            if i >= n {
                *x = 0;
            } else if n < 17 {
                *x &= 0xffff_ffff;
            }
        }
        ReplyBody::ServerStats(ServerStats::from_array(a), v)
    })
}

fn ntp_data() -> impl Strategy<Value = ReplyBody> {
    let ver = prop_oneof![Just(NtpDataVersion::V1), Just(NtpDataVersion::V2)];
    let bytes = any::<(u16, u8, u8, u8, u8, i8, i8, u16, u8, u8)>();
    let words = any::<(u32, [u32; 4], [u32; 4])>();
    let floats = proptest::array::uniform7(fl());
    (ver, addr(), addr(), bytes, words, floats, ts()).prop_map(|(v, ra, la, b, w, f, t)| {
        let newer = if v == NtpDataVersion::V2 { w.2 } else { [0; 4] };
        let d = NtpData {
            remote_addr: ra,
            local_addr: la,
            remote_port: b.0,
            leap: b.1,
            version: b.2,
            mode: b.3,
            stratum: b.4,
            poll: b.5,
            precision: b.6,
            root_delay: f[0],
            root_dispersion: f[1],
            ref_id: w.0,
            ref_time: t,
            offset: f[2],
            peer_delay: f[3],
            peer_dispersion: f[4],
            response_time: f[5],
            jitter_asymmetry: f[6],
            flags: b.7,
            tx_tss_char: b.8,
            rx_tss_char: b.9,
            total_tx_count: w.1[0],
            total_rx_count: w.1[1],
            total_valid_count: w.1[2],
            total_good_count: w.1[3],
            total_kernel_tx_ts: newer[0],
            total_kernel_rx_ts: newer[1],
            total_hw_tx_ts: newer[2],
            total_hw_rx_ts: newer[3],
        };
        ReplyBody::NtpData(Box::new(d), v)
    })
}

fn client_access() -> impl Strategy<Value = ClientAccess> {
    (
        addr(),
        any::<[u32; 6]>(),
        any::<[i8; 4]>(),
        any::<[u32; 3]>(),
    )
        .prop_map(|(ip, h, i, l)| ClientAccess {
            ip,
            ntp_hits: h[0],
            nke_hits: h[1],
            cmd_hits: h[2],
            ntp_drops: h[3],
            nke_drops: h[4],
            cmd_drops: h[5],
            ntp_interval: i[0],
            nke_interval: i[1],
            cmd_interval: i[2],
            ntp_timeout_interval: i[3],
            last_ntp_hit_ago: l[0],
            last_nke_hit_ago: l[1],
            last_cmd_hit_ago: l[2],
        })
}

fn report_body() -> impl Strategy<Value = ReplyBody> {
    let f3 = proptest::array::uniform3(fl());
    let f9 = proptest::array::uniform9(fl());
    let f5 = proptest::array::uniform5(fl());
    prop_oneof![
        (addr(), any::<(i16, u16, u16, u16, u16, u16, u32)>(), f3).prop_map(|(ip_addr, i, f)| {
            ReplyBody::SourceData(SourceData {
                ip_addr,
                poll: i.0,
                stratum: i.1,
                state: i.2,
                mode: i.3,
                flags: i.4,
                reachability: i.5,
                since_sample: i.6,
                orig_latest_meas: f[0],
                latest_meas: f[1],
                latest_meas_err: f[2],
            })
        }),
        (any::<(u32, u16, u16)>(), addr(), ts(), f9).prop_map(|(i, ip_addr, ref_time, f)| {
            ReplyBody::Tracking(Tracking {
                ref_id: i.0,
                ip_addr,
                stratum: i.1,
                leap_status: i.2,
                ref_time,
                current_correction: f[0],
                last_offset: f[1],
                rms_offset: f[2],
                freq_ppm: f[3],
                resid_freq_ppm: f[4],
                skew_ppm: f[5],
                root_delay: f[6],
                root_dispersion: f[7],
                last_update_interval: f[8],
            })
        }),
        (any::<[u32; 4]>(), addr(), f5).prop_map(|(i, ip_addr, f)| {
            ReplyBody::Sourcestats(Sourcestats {
                ref_id: i[0],
                ip_addr,
                n_samples: i[1],
                n_runs: i[2],
                span_seconds: i[3],
                sd: f[0],
                resid_freq_ppm: f[1],
                skew_ppm: f[2],
                est_offset: f[3],
                est_offset_err: f[4],
            })
        }),
        (ts(), any::<(u16, u16, u32)>(), fl(), fl()).prop_map(|(ref_time, i, a, b)| {
            ReplyBody::Rtc(Rtc {
                ref_time,
                n_samples: i.0,
                n_runs: i.1,
                span_seconds: i.2,
                rtc_seconds_fast: a,
                rtc_gain_rate_ppm: b,
            })
        }),
        proptest::array::uniform3(fl()).prop_map(|f| ReplyBody::ManualTimestamp(ManualTimestamp {
            offset: f[0],
            dfreq_ppm: f[1],
            new_afreq_ppm: f[2],
        })),
    ]
}

fn other_body() -> impl Strategy<Value = ReplyBody> {
    let samples = proptest::collection::vec((ts(), fl(), fl(), fl()), 0..=MAX_MANUAL_LIST_SAMPLES);
    let clients = proptest::collection::vec(client_access(), 0..=MAX_CLIENT_ACCESSES);
    prop_oneof![
        Just(ReplyBody::Null),
        any::<u32>().prop_map(ReplyBody::NSources),
        server_stats(),
        ntp_data(),
        name().prop_map(ReplyBody::NtpSourceName),
        (any::<(u32, u32)>(), clients).prop_map(|((n_indices, next_index), clients)| {
            ReplyBody::ClientAccesses(ClientAccesses {
                n_indices,
                next_index,
                clients,
            })
        }),
        samples.prop_map(|s| ReplyBody::ManualList(ManualList {
            samples: s
                .into_iter()
                .map(
                    |(when, slewed_offset, orig_offset, residual)| ManualSample {
                        when,
                        slewed_offset,
                        orig_offset,
                        residual,
                    }
                )
                .collect(),
        })),
        any::<[i32; 5]>().prop_map(|a| ReplyBody::Activity(Activity {
            online: a[0],
            offline: a[1],
            burst_online: a[2],
            burst_offline: a[3],
            unresolved: a[4],
        })),
        (any::<u32>(), proptest::array::uniform5(fl())).prop_map(|(flags, f)| {
            ReplyBody::Smoothing(Smoothing {
                flags,
                offset: f[0],
                freq_ppm: f[1],
                wander_ppm: f[2],
                last_update_ago: f[3],
                remaining_time: f[4],
            })
        }),
        any::<(u16, u16, u32, u16, u16, u32, u16, u16, u16)>().prop_map(|a| {
            ReplyBody::AuthData(AuthData {
                mode: a.0,
                key_type: a.1,
                key_id: a.2,
                key_length: a.3,
                ke_attempts: a.4,
                last_ke_ago: a.5,
                cookies: a.6,
                cookie_length: a.7,
                nak: a.8,
            })
        }),
        (
            any::<(u32, u8, u8, u8, u16, u16, u32)>(),
            addr(),
            proptest::array::uniform3(fl())
        )
            .prop_map(|(i, ip_addr, f)| ReplyBody::SelectData(SelectData {
                ref_id: i.0,
                ip_addr,
                state_char: i.1,
                authentication: i.2,
                leap: i.3,
                conf_options: i.4,
                eff_options: i.5,
                last_sample_ago: i.6,
                score: f[0],
                lo_limit: f[1],
                hi_limit: f[2],
            })),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    (
        any::<(u16, u16, u32)>(),
        prop_oneof![report_body(), other_body()],
    )
        .prop_map(|((command, status, sequence), body)| Reply {
            command: CommandCode(command),
            status: Status(status),
            sequence,
            body,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn request_round_trips(req in request(), sequence in any::<u32>(), attempt in any::<u16>()) {
        let msg = RequestMsg { sequence, attempt, request: req };
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), msg.request.length());
        // Never shorter than the reply it asks for.
        let reply_len = reply_length(msg.request.reply_code()).unwrap_or(0);
        prop_assert!(bytes.len() >= reply_len);
        prop_assert_eq!(RequestMsg::parse(&bytes), Ok(msg));
    }

    #[test]
    fn reply_round_trips(r in reply()) {
        let bytes = r.to_bytes().expect("emit");
        prop_assert_eq!(bytes.len(), r.length());
        prop_assert_eq!(Reply::parse(&bytes), Ok(r));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..900)) {
        if let Ok(msg) = RequestMsg::parse(&bytes) {
            prop_assert_eq!(RequestMsg::parse(&msg.to_bytes()), Ok(msg));
        }
        if let Ok(r) = Reply::parse(&bytes) {
            prop_assert_eq!(Reply::parse(&r.to_bytes().expect("emit")), Ok(r));
        }
    }

    /// Random payloads behind a valid header, so that the body parsers run.
    #[test]
    fn arbitrary_bodies_never_panic(
        command in 0u16..80,
        reply_code in 0u16..30,
        payload in proptest::collection::vec(any::<u8>(), 8..840),
    ) {
        let mut req = vec![6, 1, 0, 0];
        req.extend_from_slice(&command.to_be_bytes());
        req.extend_from_slice(&payload);
        if let Ok(msg) = RequestMsg::parse(&req) {
            prop_assert_eq!(msg.request.command().0, command);
            prop_assert_eq!(RequestMsg::parse(&msg.to_bytes()), Ok(msg));
        }
        let mut rpy = vec![6, 2, 0, 0, 0, 1];
        rpy.extend_from_slice(&reply_code.to_be_bytes());
        rpy.extend_from_slice(&payload);
        if let Ok(r) = Reply::parse(&rpy) {
            prop_assert_eq!(r.body.reply_code().0, reply_code);
            prop_assert_eq!(Reply::parse(&r.to_bytes().expect("emit")), Ok(r));
        }
    }

    #[test]
    fn float_keeps_its_precision(mant in 1.0f64..2.0, exp in -60i32..60, neg in any::<bool>()) {
        let x = if neg { -mant } else { mant } * 2f64.powi(exp);
        let y = Float::from_f64(x).to_f64();
        // 24 significant bits at least, after chrony's rounding.
        prop_assert!((x - y).abs() <= x.abs() * 2f64.powi(-22), "{} -> {}", x, y);
        prop_assert_eq!(x.signum(), y.signum());
    }

    #[test]
    fn float_decode_encode_is_exact(bits in any::<u32>()) {
        let v = Float::from_bits(bits).to_f64();
        prop_assert_eq!(Float::from_f64(v).to_f64(), v);
    }
}
