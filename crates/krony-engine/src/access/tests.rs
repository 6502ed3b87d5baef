use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn net(s: &str) -> Subnet {
    parse_subnet(s).expect("test subnet")
}

#[test]
fn default_denies_everything() {
    let t = AccessTable::new();
    assert!(!t.is_allowed(ip("1.2.3.4")));
    assert!(!t.is_allowed(ip("2001:db8::1")));
    assert!(!t.is_any_allowed(false));
    assert!(!t.is_any_allowed(true));
}

#[test]
fn most_specific_rule_wins_in_any_order() {
    // The first example of chrony.conf(5) "allow": the order does not matter.
    let rules = [
        (AccessAction::Allow, "1.2.3.4"),
        (AccessAction::Deny, "1.2.3.0/24"),
        (AccessAction::Allow, "1.2.0.0/16"),
    ];
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let mut t = AccessTable::new();
        for i in order {
            t.apply(rules[i].0, &net(rules[i].1));
        }
        assert!(t.is_allowed(ip("1.2.3.4")), "order {order:?}");
        assert!(!t.is_allowed(ip("1.2.3.5")), "order {order:?}");
        assert!(t.is_allowed(ip("1.2.4.5")), "order {order:?}");
        assert!(!t.is_allowed(ip("1.3.0.1")), "order {order:?}");
    }
}

#[test]
fn allow_all_overrides_deeper_rules() {
    let mut t = AccessTable::new();
    t.allow(&net("1.2.3.4"));
    t.deny(&net("1.2.3.0/24"));
    t.allow_all(&net("1.2.0.0/16"));
    assert!(t.is_allowed(ip("1.2.3.5")));
    assert!(t.is_allowed(ip("1.2.3.4")));
    // Rules given after "allow all" still refine it.
    t.deny(&net("1.2.3.0/24"));
    assert!(!t.is_allowed(ip("1.2.3.5")));
}

#[test]
fn deny_all_overrides_deeper_allows() {
    let mut t = AccessTable::new();
    t.allow(&Subnet::ANY);
    t.allow(&net("10.1.2.3"));
    t.deny_all(&net("10.0.0.0/8"));
    assert!(!t.is_allowed(ip("10.1.2.3")));
    assert!(t.is_allowed(ip("11.0.0.1")));
    assert!(t.is_allowed(ip("::1")));
}

#[test]
fn non_nibble_prefixes_share_a_table() {
    // chrony.conf(5): /25 and /28 modify the same table, so the later rule
    // overwrites the earlier one; /28 and /29 are in different tables.
    let mut t = AccessTable::new();
    t.deny(&net("1.2.3.0/28"));
    t.allow(&net("1.2.3.0/25"));
    assert!(t.is_allowed(ip("1.2.3.1")));

    let mut t = AccessTable::new();
    t.allow(&net("1.2.3.0/25"));
    t.deny(&net("1.2.3.0/28"));
    assert!(!t.is_allowed(ip("1.2.3.1")));
    assert!(t.is_allowed(ip("1.2.3.16")));
    assert!(t.is_allowed(ip("1.2.3.127")));
    assert!(!t.is_allowed(ip("1.2.3.128")));

    let mut t = AccessTable::new();
    t.deny(&net("1.2.3.0/29"));
    t.allow(&net("1.2.3.0/28"));
    assert!(!t.is_allowed(ip("1.2.3.7")));
    assert!(t.is_allowed(ip("1.2.3.8")));
    assert!(!t.is_allowed(ip("1.2.3.16")));
}

#[test]
fn odd_prefix_covers_exactly_its_range() {
    let mut t = AccessTable::new();
    t.allow(&net("192.168.4.0/22"));
    assert!(!t.is_allowed(ip("192.168.3.255")));
    assert!(t.is_allowed(ip("192.168.4.0")));
    assert!(t.is_allowed(ip("192.168.7.255")));
    assert!(!t.is_allowed(ip("192.168.8.0")));
    // The address need not be masked: only the prefix matters.
    let mut t = AccessTable::new();
    t.allow(&net("10.9.9.9/1"));
    assert!(t.is_allowed(ip("0.0.0.1")));
    assert!(t.is_allowed(ip("127.255.255.255")));
    assert!(!t.is_allowed(ip("128.0.0.0")));
}

#[test]
fn ipv6_rules_and_families_are_separate() {
    let mut t = AccessTable::new();
    t.allow(&net("2001:db8::/32"));
    t.deny(&net("2001:db8:1::/48"));
    t.allow(&net("2001:db8:1::5"));
    assert!(t.is_allowed(ip("2001:db8:2::1")));
    assert!(!t.is_allowed(ip("2001:db8:1::4")));
    assert!(t.is_allowed(ip("2001:db8:1::5")));
    assert!(!t.is_allowed(ip("2001:db9::1")));
    assert!(!t.is_allowed(ip("32.1.13.184")));
    assert!(t.is_any_allowed(true));
    assert!(!t.is_any_allowed(false));
    // 0/0 covers IPv4 only, ::/0 IPv6 only.
    let mut t = AccessTable::new();
    t.allow(&net("0/0"));
    assert!(t.is_allowed(ip("8.8.8.8")));
    assert!(!t.is_allowed(ip("::2")));
}

#[test]
fn ipv4_mapped_addresses_are_ipv6() {
    let mut t = AccessTable::new();
    t.allow(&net("1.2.3.4"));
    assert!(!t.is_allowed(ip("::ffff:1.2.3.4")));
    t.allow(&net("::ffff:0:0/96"));
    assert!(t.is_allowed(ip("::ffff:1.2.3.4")));
}

#[test]
fn allow_without_argument_covers_both_families() {
    let rule = parse_allow_deny("").expect("empty");
    assert_eq!(rule.target, RuleTarget::Subnet(Subnet::ANY));
    let mut t = AccessTable::new();
    t.apply(AccessAction::new(true, rule.all), &Subnet::ANY);
    assert!(t.is_allowed(ip("203.0.113.9")));
    assert!(t.is_allowed(ip("2001:db8::9")));
    t.deny_all(&Subnet::ANY);
    assert!(!t.is_allowed(ip("203.0.113.9")));
    assert!(!t.is_any_allowed(true));
}

#[test]
fn any_allowed_sees_deep_rules() {
    let mut t = AccessTable::new();
    t.allow(&net("10.0.0.1"));
    assert!(t.is_any_allowed(false));
    t.deny(&net("10.0.0.1"));
    assert!(!t.is_any_allowed(false));
    t.allow(&Subnet::ANY);
    t.deny_all(&net("0.0.0.0/1"));
    t.deny_all(&net("128.0.0.0/1"));
    assert!(!t.is_any_allowed(false));
}

#[test]
fn cmd_localhost_always_allowed() {
    let mut t = AccessTable::new();
    t.deny_all(&Subnet::ANY);
    assert!(is_cmd_allowed(&t, ip("127.0.0.1")));
    assert!(is_cmd_allowed(&t, ip("::1")));
    assert!(!is_cmd_allowed(&t, ip("127.0.0.2")));
    assert!(!is_cmd_allowed(&t, ip("192.0.2.1")));
    // cmdaccheck reports the table itself.
    assert!(!t.is_allowed(ip("127.0.0.1")));
    t.allow(&net("192.0.2"));
    assert!(is_cmd_allowed(&t, ip("192.0.2.1")));
}

#[test]
fn shortened_ipv4_forms() {
    assert_eq!(
        net("1.2.3"),
        Subnet::new(Some(ip("1.2.3.0")), 24).expect("ok")
    );
    assert_eq!(
        net("1.2"),
        Subnet::new(Some(ip("1.2.0.0")), 16).expect("ok")
    );
    assert_eq!(net("10"), Subnet::new(Some(ip("10.0.0.0")), 8).expect("ok"));
    assert_eq!(
        net("1.2/12"),
        Subnet::new(Some(ip("1.2.0.0")), 12).expect("ok")
    );
    assert_eq!(net("0/0"), Subnet::new(Some(ip("0.0.0.0")), 0).expect("ok"));
    assert_eq!(net("1.2.3.4"), Subnet::host(ip("1.2.3.4")));
    assert_eq!(net("1.2.3.4/+24").bits(), 24);
    assert_eq!(net("2001:db8::/32").bits(), 32);
    assert_eq!(net("::1"), Subnet::host(ip("::1")));
}

#[test]
fn bad_subnets() {
    assert_eq!(parse_subnet("1.2.3.4/33"), Err(AccessError::BadSubnet));
    assert_eq!(parse_subnet("::/129"), Err(AccessError::BadSubnet));
    assert!(matches!(
        parse_subnet("1.2.300"),
        Err(AccessError::Syntax(_))
    ));
    assert!(matches!(
        parse_subnet("1.2.3.4/-1"),
        Err(AccessError::Syntax(_))
    ));
    assert!(matches!(
        parse_subnet("1.2.3.4/"),
        Err(AccessError::Syntax(_))
    ));
    assert!(matches!(
        parse_subnet("host/24"),
        Err(AccessError::Syntax(_))
    ));
    assert!(matches!(
        parse_subnet("ntp.example"),
        Err(AccessError::Syntax(_))
    ));
    assert_eq!(Subnet::new(None, 8), Err(AccessError::BadSubnet));
    assert_eq!(
        Subnet::new(Some(ip("1.2.3.4")), -1),
        Err(AccessError::BadSubnet)
    );
    let mut t = AccessTable::new();
    assert_eq!(
        t.apply_raw(AccessAction::Allow, Some(ip("1.2.3.4")), 40),
        Err(AccessError::BadSubnet)
    );
    assert!(!t.is_any_allowed(false));
    assert_eq!(t.apply_raw(AccessAction::Allow, None, 0), Ok(()));
    assert!(t.is_allowed(ip("1.2.3.4")));
}

#[test]
fn allow_deny_arguments() {
    let r = parse_allow_deny("all 1.2.3.0/24").expect("ok");
    assert!(r.all);
    assert_eq!(r.target, RuleTarget::Subnet(net("1.2.3.0/24")));
    let r = parse_allow_deny("all").expect("ok");
    assert!(r.all);
    assert_eq!(r.target, RuleTarget::Subnet(Subnet::ANY));
    let r = parse_allow_deny("  ntp.example.com ").expect("ok");
    assert!(!r.all);
    assert_eq!(r.target, RuleTarget::Host("ntp.example.com".into()));
    assert!(parse_allow_deny("1.2.3.4 5.6.7.8").is_err());
    assert!(parse_allow_deny("all 1.2.3.4 x").is_err());
    // "ALL" is not the keyword: it is taken as a host name.
    assert_eq!(
        parse_allow_deny("ALL").expect("ok").target,
        RuleTarget::Host("ALL".into())
    );
}

#[test]
fn subnet_display_matches_chrony_logs() {
    assert_eq!(Subnet::ANY.to_string(), "any address");
    assert_eq!(net("1.2.3.4").to_string(), "1.2.3.4");
    assert_eq!(net("1.2.3").to_string(), "1.2.3.0/24");
    assert_eq!(net("2001:db8::/32").to_string(), "2001:db8::/32");
    assert_eq!(net("1.2.3.4/32").to_string(), "1.2.3.4");
}

#[test]
fn host_rules_cover_full_length_prefixes() {
    let mut t = AccessTable::new();
    t.allow(&net("2001:db8::/64"));
    t.deny(&net("2001:db8::ffff"));
    assert!(!t.is_allowed(ip("2001:db8::ffff")));
    assert!(t.is_allowed(ip("2001:db8::fffe")));
    t.deny(&net("255.255.255.255"));
    t.allow(&net("255.255.255.254/31"));
    // /31 shares the last table with /32 and was set later.
    assert!(t.is_allowed(ip("255.255.255.255")));
}
