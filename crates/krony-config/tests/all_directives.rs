//! tests/data/all.conf uses every directive and every source/refclock option; check that
//! each one parses to the typed value it states.
#![allow(clippy::unwrap_used, clippy::float_cmp)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use krony_config::*;

fn load() -> Parsed {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/all.conf");
    load_file(path).unwrap()
}

#[test]
fn sources() {
    let c = load().config;
    assert_eq!(c.sources.len(), 3);
    let s = &c.sources[0];
    assert_eq!(
        (s.kind, s.host.as_str()),
        (SourceKind::Server, "ntp1.example.net")
    );
    let o = &s.options;
    assert_eq!((o.minpoll, o.maxpoll, o.polltarget), (4, 9, 12));
    assert!(o.iburst && o.burst && o.offline && o.auto_offline && o.xleave && o.copy);
    assert_eq!(
        (o.presend, o.key, o.certset, o.ntsport),
        (Some(9), Some(7), 2, 4461)
    );
    assert_eq!(
        (o.maxdelay, o.maxdelayratio, o.maxdelaydevratio),
        (0.3, 1.5, 4.0)
    );
    assert_eq!((o.maxdelayquant, o.mindelay), (0.2, 0.0001));
    assert_eq!((o.asymmetry, o.offset), (Some(0.25), -0.00005));
    assert_eq!(
        (o.minsamples, o.maxsamples, o.maxunreach, o.filter),
        (Some(4), Some(32), 50, 3)
    );
    assert_eq!(
        o.select,
        SelectOptions {
            noselect: true,
            prefer: true,
            trust: true,
            require: true
        }
    );
    assert_eq!((o.minstratum, o.port, o.version), (3, 1123, Some(3)));
    assert_eq!(
        o.extfields,
        ExtFields {
            net_correction: true,
            exp_mono_root: true
        }
    );
    assert_eq!(o.family, Family::Ipv4);
    assert!(!o.nts);

    let p = &c.sources[1];
    assert_eq!(
        (p.kind, p.host.as_str()),
        (SourceKind::Pool, "pool.ntp.org")
    );
    assert!(p.options.iburst && p.options.nts);
    assert_eq!((p.options.maxsources, p.options.family), (3, Family::Ipv6));

    let q = &c.sources[2];
    assert_eq!((q.kind, q.options.key), (SourceKind::Peer, Some(9)));
}

#[test]
fn refclocks() {
    let c = load().config;
    assert_eq!(c.refclocks.len(), 5);
    let r = &c.refclocks[0];
    assert_eq!(
        r.driver,
        RefclockDriver::Pps {
            device: "/dev/pps0".into(),
            clear: true
        }
    );
    let o = &r.options;
    assert_eq!(
        (o.lock.as_deref(), o.refid.as_deref()),
        (Some("NMEA"), Some("PPS1"))
    );
    assert_eq!((o.poll, o.dpoll, o.rate, o.maxlockage), (3, -2, 5, 4));
    assert_eq!((o.width, o.offset, o.delay), (0.2, 0.001, 0.002));
    assert_eq!(
        (o.stratum, o.precision, o.maxdispersion, o.filter),
        (1, Some(1e-7), 0.01, 16)
    );
    assert!(o.pps && o.tai && o.local);
    assert!(o.select.prefer && o.select.noselect && o.select.trust && o.select.require);
    assert_eq!(
        (o.minsamples, o.maxsamples, o.maxunreach),
        (Some(5), Some(20), 7)
    );

    assert_eq!(
        c.refclocks[1].driver,
        RefclockDriver::Sock {
            path: "/run/chrony.ttyS0.sock".into()
        }
    );
    assert!(c.refclocks[1].options.select.noselect);
    assert_eq!(
        c.refclocks[2].driver,
        RefclockDriver::Shm {
            unit: 1,
            perm: Some(0o644)
        }
    );
    assert_eq!(
        c.refclocks[3].driver,
        RefclockDriver::Phc {
            device: "/dev/ptp0".into(),
            nocrossts: true,
            extpps: true,
            pin: Some(1),
            channel: Some(2),
            clear: true
        }
    );
    assert_eq!(c.refclocks[3].options.poll, 0);
    assert_eq!(
        c.refclocks[4].driver,
        RefclockDriver::Rtc {
            device: "/dev/rtc0".into(),
            utc: true
        }
    );
}

#[test]
fn source_related_directives() {
    let c = load().config;
    let i = c.initstepslew.as_ref().unwrap();
    assert_eq!((i.threshold, i.hosts.len()), (30.0, 2));
    assert!(c.manual);
    assert_eq!(c.acquisition_port, Some(1123));
    assert_eq!(c.bind_acq_address.v4, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        c.bind_acq_address.v6,
        Some("2001:db8::1".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(c.bind_acq_device.as_deref(), Some("eth1"));
    assert_eq!(
        (c.dscp, c.dumpdir.as_deref()),
        (46, Some("/var/run/chrony"))
    );
    assert_eq!((c.maxsamples, c.minsamples), (32, 4));
    assert_eq!(c.nts_aeads, vec![15, 30]);
    assert_eq!(c.nts_dumpdir.as_deref(), Some("/var/lib/chrony"));
    assert_eq!(c.nts_refresh, 86400);
    assert_eq!(
        c.nts_trusted_certs,
        vec![
            TrustedCerts {
                set: 0,
                path: "/etc/pki/nts/ca1.crt".into()
            },
            TrustedCerts {
                set: 1,
                path: "/etc/pki/nts/ca2.crt".into()
            }
        ]
    );
    assert!(c.no_system_cert);
    assert_eq!((c.no_cert_time_check, c.refresh), (1, 3600));
    assert_eq!(
        c.sourcedirs,
        vec![vec![
            "/var/run/chrony-dhcp".to_string(),
            "/etc/chrony/sources.d".into()
        ]]
    );
}

#[test]
fn selection_and_clock() {
    let c = load().config;
    assert_eq!(c.authselect_mode, AuthSelectMode::Require);
    assert_eq!(
        (c.combine_limit, c.max_distance, c.max_jitter),
        (2.5, 16.0, 0.5)
    );
    assert_eq!((c.max_stratum, c.min_stratum, c.min_sources), (10, 1, 2));
    assert_eq!((c.reselect_dist, c.stratum_weight), (0.0002, 0.01));
    assert_eq!((c.clock_precision, c.corr_time_ratio), (Some(1e-9), 5.0));
    assert_eq!(
        c.driftfile,
        Some(DriftFile {
            path: "/var/lib/chrony/drift".into(),
            interval: 60
        })
    );
    assert_eq!(c.fallback_drift, Some(FallbackDrift { min: 16, max: 19 }));
    assert_eq!(c.leapsec_mode, LeapSecMode::Slew);
    assert_eq!(c.leapsec_tz.as_deref(), Some("right/UTC"));
    assert_eq!(
        c.leapsec_list.as_deref(),
        Some("/usr/share/zoneinfo/leap-seconds.list")
    );
    assert_eq!(
        c.makestep,
        Some(MakeStep {
            threshold: 1.0,
            limit: 3
        })
    );
    assert_eq!(
        c.maxchange,
        Some(MaxChange {
            offset: 1000.0,
            start: 1,
            ignore: 2
        })
    );
    assert_eq!((c.max_clock_error, c.max_drift), (0.5, 500.0));
    assert_eq!((c.max_update_skew, c.max_slew_rate), (100.0, 1000.0));
    let t = c.tempcomp.unwrap();
    assert_eq!(
        (t.sensor.as_str(), t.interval),
        ("/sys/class/hwmon/hwmon0/temp2_input", 30.0)
    );
    assert_eq!(
        t.model,
        TempCompModel::Coefficients {
            t0: 26000.0,
            k0: 0.0,
            k1: 0.000183,
            k2: 0.0
        }
    );
}

#[test]
fn ntp_server() {
    let c = load().config;
    let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    let rule = |allow, all, target| AccessRule { allow, all, target };
    assert_eq!(
        c.ntp_access,
        vec![
            rule(
                true,
                false,
                AccessTarget::Subnet {
                    addr: v4(192, 168, 37, 0),
                    prefix: 24
                }
            ),
            rule(
                false,
                false,
                AccessTarget::Subnet {
                    addr: v4(192, 168, 37, 5),
                    prefix: 32
                }
            ),
            rule(
                true,
                true,
                AccessTarget::Subnet {
                    addr: v4(10, 0, 0, 0),
                    prefix: 8
                }
            ),
            rule(false, true, AccessTarget::Any),
            rule(
                true,
                false,
                AccessTarget::Subnet {
                    addr: "2001:db8::".parse().unwrap(),
                    prefix: 32
                }
            ),
            rule(true, false, AccessTarget::Host("ntp.example.net".into())),
        ]
    );
    assert_eq!(c.bind_address.v4, Some(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(c.bind_address.v6, Some(Ipv6Addr::LOCALHOST));
    assert_eq!(c.bind_device.as_deref(), Some("eth0"));
    assert_eq!(
        c.broadcasts,
        vec![
            Broadcast {
                interval: 64,
                addr: v4(192, 168, 1, 255),
                port: 123
            },
            Broadcast {
                interval: 128,
                addr: v4(192, 168, 2, 255),
                port: 10123
            }
        ]
    );
    assert_eq!((c.client_log_limit, c.no_client_log), (1_048_576, true));
    assert_eq!(
        c.local,
        Some(Local {
            stratum: 8,
            distance: 0.5,
            orphan: true,
            activate: 0.1,
            waitsynced: 60.0,
            waitunsynced: 120.0
        })
    );
    assert_eq!(
        c.ntp_signd_socket.as_deref(),
        Some("/var/lib/samba/ntp_signd")
    );
    assert_eq!(c.nts_port, 4470);
    assert_eq!(c.nts_server_certs.len(), 2);
    assert_eq!(c.nts_server_keys[1], "/etc/pki/tls/private/server2.key");
    assert_eq!(
        (c.nts_processes, c.max_nts_connections, c.nts_rotate),
        (2, 50, 3600)
    );
    assert_eq!(c.nts_ntp_server.as_deref(), Some("ntp.example.net"));
    assert_eq!(c.port, 11123);
    assert_eq!(
        c.ratelimit,
        Some(RateLimit {
            interval: 1,
            burst: 16,
            leak: 3,
            kod: 2
        })
    );
    assert_eq!(
        c.nts_ratelimit,
        Some(RateLimit {
            interval: 3,
            burst: 1,
            leak: 2,
            kod: 0
        })
    );
    assert_eq!(
        c.smoothtime,
        Some(SmoothTime {
            max_freq: 400.0,
            max_wander: 0.001,
            leap_only: true
        })
    );
}

#[test]
fn command_rtc_log_misc() {
    let c = load().config;
    assert_eq!(c.bind_cmd_address.v4, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(c.bind_cmd_address.v6, Some(Ipv6Addr::LOCALHOST));
    assert_eq!(
        c.bind_cmd_path,
        PathOrDisabled::Path("/var/run/chrony/chronyd.sock".into())
    );
    assert_eq!(c.bind_cmd_device.as_deref(), Some("lo"));
    assert_eq!(c.cmd_access.len(), 2);
    assert!(!c.cmd_access[1].allow);
    assert_eq!(c.cmd_port, 10323);
    assert_eq!(
        c.cmd_ratelimit,
        Some(RateLimit {
            interval: -2,
            burst: 8,
            leak: 2,
            kod: 0
        })
    );
    assert_eq!(c.open_commands.len(), 13);
    assert_eq!(c.hwclock_file.as_deref(), Some("/etc/adjtime"));
    assert_eq!(
        (c.rtc_autotrim, c.rtc_device.as_deref()),
        (30.0, Some("/dev/rtc1"))
    );
    assert_eq!(c.rtc_file.as_deref(), Some("/var/lib/chrony/rtc"));
    assert!(c.rtc_on_utc && c.rtc_sync);
    assert!(c.log.raw_measurements && c.log.measurements && c.log.selection && c.log.statistics);
    assert!(c.log.tracking && c.log.rtc && c.log.refclocks && c.log.tempcomp);
    assert_eq!((c.log_banner, c.log_change), (20, 0.5));
    assert_eq!(c.logdir.as_deref(), Some("/var/log/chrony"));
    assert_eq!(
        c.mail_on_change,
        Some(MailOnChange {
            address: "root@localhost".into(),
            threshold: 0.5
        })
    );
    let h = &c.hwtimestamps[0];
    assert_eq!(
        (h.interface.as_str(), h.minpoll, h.maxpoll),
        ("eth0", -2, 2)
    );
    assert_eq!((h.minsamples, h.maxsamples, h.precision), (3, 8, 1e-8));
    assert_eq!(
        (h.txcomp, h.rxcomp, h.nocrossts, h.rxfilter),
        (1e-7, 2e-7, true, RxFilter::All)
    );
    assert_eq!(
        (
            c.hwtimestamps[1].interface.as_str(),
            c.hwtimestamps[1].rxfilter
        ),
        ("*", RxFilter::Ntp)
    );
    assert_eq!((c.hwts_timeout, c.max_tx_buffers), (0.01, 100));
    assert_eq!(c.keyfile.as_deref(), Some("/etc/chrony.keys"));
    assert!(c.lock_all);
    assert_eq!(c.pidfile, PathOrDisabled::Path("/run/chronyd.pid".into()));
    assert_eq!((c.ptp_port, c.ptp_domain, c.sched_priority), (319, 24, 1));
    assert_eq!(c.user.as_deref(), Some("chrony"));
}

#[test]
fn every_directive_warns_until_implemented() {
    let p = load();
    let kinds = |k: WarningKind| p.warnings.iter().filter(|w| w.kind == k).count();
    // dumponexit is ignored, four directives are obsolete, sourcedir is structural.
    assert_eq!(kinds(WarningKind::Obsolete), 4);
    assert_eq!(kinds(WarningKind::Ignored), 1);
    // Exactly the directives the status table does not mark implemented warn.
    let not_impl: Vec<&Warning> = p
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::NotImplemented)
        .collect();
    for w in &not_impl {
        assert_eq!(
            directive_status(&w.directive),
            Some(DirectiveStatus::NotImplemented),
            "{w}"
        );
        assert!(w.to_string().contains("all.conf:"), "{w}");
    }
    for (name, status) in DIRECTIVES {
        if *status == DirectiveStatus::NotImplemented && *name != "ntscachedir" {
            assert!(
                not_impl.iter().any(|w| w.directive == *name),
                "{name} does not warn"
            );
        }
    }
    assert!(!p.warnings.iter().any(|w| w.directive == "makestep"));
    // Every directive of the status table appears in the file (except include/confdir and
    // the alias ntscachedir), so the test file really covers them all.
    for (name, _) in DIRECTIVES {
        if ["include", "confdir", "ntscachedir"].contains(name) {
            continue;
        }
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/all.conf"))
                .unwrap();
        let found = text.lines().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(name))
        });
        assert!(found, "{name} missing from all.conf");
    }
}

#[test]
fn printed_config_parses_back_to_the_same() {
    let p = load();
    let text = p.config.to_conf_string();
    let again = parse_str(&text, "printed").unwrap();
    assert_eq!(again.config, p.config, "{text}");
    // The file-order print parses back too.
    let again = parse_str(&p.to_conf_string(), "printed").unwrap();
    assert_eq!(again.config, p.config);
}

#[test]
#[ignore = "prints the canonical form for inspection"]
fn show() {
    print!("{}", load().to_conf_string());
}
