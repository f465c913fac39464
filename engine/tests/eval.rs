//! Rule evaluation, one condition kind at a time, with the plain-words reason a
//! trace shows. The nth sequences are the ones the kernel produced
//! (kernel-oracle: `--every 2 --packet 0` matched packets 1 and 3;
//! `--every 3 --packet 1` matched packets 2 and 5).

use nfsim::eval::{rule_matches, Conn, ConnView, Context, Failed, MatchId, MatchState};
use nfsim::host::{Host, HostSpec};
use nfsim::matches::{LimitMatch, RecentMatch, SetMatch};
use nfsim::packet::{Packet, PacketSpec};
use nfsim::ruleset::{Hook, Rule};
use std::collections::HashMap;

#[derive(Default)]
struct TestState {
    randoms: Vec<u32>,
    nth: HashMap<MatchId, u32>,
    assume: bool,
}

impl MatchState for TestState {
    fn random(&mut self, _: MatchId, threshold: u32) -> bool {
        let r: u32 = { self.randoms.remove(0) };
        (r & 0x7fff_ffff) < threshold
    }
    fn nth(&mut self, id: MatchId, every: u32) -> u32 {
        let c = self.nth.entry(id).or_insert(every - 1);
        *c = if *c == every - 1 { 0 } else { *c + 1 };
        *c
    }
    fn limit(&mut self, _: MatchId, _: &LimitMatch) -> bool {
        true
    }
    fn recent(&mut self, _: &RecentMatch, _: u32, _: u8) -> bool {
        false
    }
    fn ipset(&mut self, _: &SetMatch, _: &Packet) -> Option<bool> {
        None
    }
    fn assume(&mut self, _: &str) -> bool {
        self.assume
    }
}

fn host() -> Host {
    serde_json::from_str::<HostSpec>(r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/24"]},{"name":"eth1","addresses":["203.0.113.1/24"]}]}"#)
        .unwrap()
        .build()
        .unwrap()
}

fn rule(table: &str, spec: &str) -> Rule {
    let text = format!("*{table}\n-A {spec}\nCOMMIT\n");
    let parsed = nfsim::parse(&text, None);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let chain = spec.split_whitespace().next().unwrap();
    parsed.ruleset.tables[0].chain(chain).unwrap().rules[0].clone()
}

fn packet(json: &str) -> Packet {
    serde_json::from_str::<PacketSpec>(json)
        .unwrap()
        .to_packet()
        .unwrap()
}

const SYN: &str =
    r#"{"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1","sport":45678,"dport":22}"#;

fn check(spec: &str, p: &Packet, state: &mut TestState, conn: Conn) -> Result<(), Failed> {
    let h = host();
    let r = rule("filter", spec);
    let ctx = Context {
        packet: p,
        hook: Hook::Input,
        in_iface: Some("eth0"),
        out_iface: None,
        host: &h,
        owner: None,
        conn,
        explain: true,
    };
    rule_matches(&r, &ctx, state, &|i| MatchId {
        table: 3,
        chain: 0,
        rule: 0,
        index: i as u8,
    })
}

fn reason(spec: &str, p: &Packet) -> Option<(String, String)> {
    check(spec, p, &mut TestState::default(), Conn::Invalid)
        .err()
        .map(|f| (f.condition, f.reason))
}

#[test]
fn header_conditions_fail_with_reasons() {
    let p = packet(SYN);
    assert_eq!(
        reason("INPUT -s 192.0.2.0/24 -d 198.51.100.1 -i eth+ -p tcp", &p),
        None
    );
    assert_eq!(
        reason("INPUT -s 10.0.0.0/8", &p),
        Some(("-s 10.0.0.0/8".into(), "the source is 192.0.2.50".into()))
    );
    assert_eq!(
        reason("INPUT ! -d 198.51.100.1", &p).unwrap().0,
        "! -d 198.51.100.1/32"
    );
    assert_eq!(
        reason("INPUT -i eth1", &p),
        Some(("-i eth1".into(), "the packet arrived on eth0".into()))
    );
    assert_eq!(
        reason("INPUT -p udp", &p),
        Some(("-p udp".into(), "the packet is tcp".into()))
    );
    assert_eq!(reason("INPUT ! -p tcp", &p).unwrap().1, "the packet is tcp");
    assert_eq!(
        reason("INPUT -f", &p).unwrap().1,
        "the packet is not a later fragment"
    );
}

#[test]
fn protocol_matches() {
    let p = packet(SYN);
    assert_eq!(reason("INPUT -p tcp --dport 22 --syn", &p), None);
    assert_eq!(
        reason("INPUT -p tcp --dport 80", &p),
        Some((
            "-m tcp --dport 80".into(),
            "the destination port is 22".into()
        ))
    );
    assert_eq!(reason("INPUT -p tcp --sport 1024:", &p), None);
    assert_eq!(
        reason("INPUT -p tcp --tcp-flags SYN,ACK ACK", &p)
            .unwrap()
            .1,
        "the TCP flags are SYN"
    );
    assert_eq!(
        reason("INPUT -p tcp -m multiport --dports 80,443,20:25", &p),
        None
    );
    assert_eq!(
        reason("INPUT -p tcp -m multiport ! --ports 22", &p)
            .unwrap()
            .1,
        "the ports are 45678 -> 22"
    );
    let ping =
        packet(r#"{"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1","protocol":"icmp"}"#);
    assert_eq!(
        reason("INPUT -p icmp --icmp-type echo-request", &ping),
        None
    );
    assert_eq!(
        reason("INPUT -p icmp --icmp-type destination-unreachable", &ping)
            .unwrap()
            .1,
        "the ICMP type is 8/0"
    );
    assert_eq!(reason("INPUT -p icmp --icmp-type any", &ping), None);
}

#[test]
fn packet_field_matches() {
    let p = packet(
        r#"{"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1","mark":16384,"length":100,"ttl":3,"tos":40}"#,
    );
    assert_eq!(reason("INPUT -m mark --mark 0x4000/0x4000 -m length --length 64:128 -m ttl --ttl-lt 5 -m dscp --dscp 10 -m tos --tos 0x28/0xfc", &p), None);
    assert_eq!(
        reason("INPUT -m mark ! --mark 0x4000/0x4000", &p)
            .unwrap()
            .1,
        "the packet mark is 0x4000"
    );
    assert_eq!(
        reason("INPUT -m iprange --src-range 192.0.2.1-192.0.2.49", &p)
            .unwrap()
            .1,
        "the source is 192.0.2.50"
    );
    assert_eq!(reason("INPUT -m addrtype --dst-type LOCAL", &p), None);
    assert_eq!(
        reason("INPUT -m addrtype --src-type LOCAL", &p).unwrap().1,
        "the source 192.0.2.50 is UNICAST"
    );
    let bcast =
        packet(r#"{"from":"eth0","src":"198.51.100.7","dst":"198.51.100.255","protocol":"udp"}"#);
    assert_eq!(
        reason(
            "INPUT -m pkttype --pkt-type broadcast -m addrtype --dst-type BROADCAST",
            &bcast
        ),
        None
    );
    assert_eq!(reason("INPUT -m comment --comment x", &p), None);
}

#[test]
fn conntrack_states_and_the_no_connection_rule() {
    let p = packet(SYN);
    let ct = ConnView {
        state: 1 << 1, // ESTABLISHED
        status: 1 << 1 | 1 << 2,
        snat: false,
        dnat: true,
        proto: 6,
        orig: (0xc0000232, 0xc0000264, 45678, 80),
        reply: (0xcb00710a, 0xc0000232, 8080, 45678),
        reply_dir: false,
        mark: 7,
        expires_s: 100,
    };
    let with = |spec: &str| {
        check(spec, &p, &mut TestState::default(), Conn::Tracked(&ct))
            .err()
            .map(|f| f.reason)
    };
    assert_eq!(
        with("INPUT -m conntrack --ctstate ESTABLISHED,RELATED"),
        None
    );
    assert_eq!(with("INPUT -m conntrack --ctstate DNAT --ctorigdst 192.0.2.100 --ctorigdstport 80 --ctdir ORIGINAL"), None);
    assert_eq!(
        with("INPUT -m conntrack --ctstate NEW").unwrap(),
        "the connection state is ESTABLISHED,DNAT"
    );
    assert_eq!(
        with("INPUT -m conntrack --ctstatus ASSURED --ctreplsrc 203.0.113.10"),
        None
    );
    assert_eq!(
        with("INPUT -m conntrack --ctdir REPLY").unwrap(),
        "the packet travels in the original direction"
    );
    assert_eq!(with("INPUT -m connmark --mark 0x7"), None);
    // No connection: INVALID/UNTRACKED for --ctstate. Once --ctstate matched,
    // conntrack_mt returns true whatever else the rule asks (the kernel
    // agrees: z_raw_ct_handshake); without --ctstate any option fails,
    // negated or not.
    let none = |spec: &str, c: Conn| {
        check(spec, &p, &mut TestState::default(), c)
            .err()
            .map(|f| f.reason)
    };
    assert_eq!(
        none("INPUT -m conntrack --ctstate INVALID", Conn::Invalid),
        None
    );
    assert_eq!(
        none("INPUT -m state --state UNTRACKED", Conn::Untracked),
        None
    );
    assert_eq!(
        none(
            "INPUT -m conntrack ! --ctstate NEW --ctproto tcp",
            Conn::Untracked
        ),
        None
    );
    assert_eq!(
        none(
            "INPUT -m conntrack --ctstatus CONFIRMED --ctstate INVALID",
            Conn::Invalid
        ),
        None
    );
    assert_eq!(
        none("INPUT -m conntrack ! --ctproto udp", Conn::Invalid).unwrap(),
        "the packet has no connection"
    );
}

#[test]
fn nth_follows_the_kernels_counter() {
    let p = packet(SYN);
    for (spec, want) in [
        (
            "INPUT -m statistic --mode nth --every 2 --packet 0",
            [true, false, true, false, true],
        ),
        (
            "INPUT -m statistic --mode nth --every 3 --packet 1",
            [false, true, false, false, true],
        ),
    ] {
        let mut st = TestState::default();
        let got: Vec<bool> = (0..5)
            .map(|_| check(spec, &p, &mut st, Conn::Invalid).is_ok())
            .collect();
        assert_eq!(got, want, "{spec}");
    }
    // Matches are tried left to right: a failing -p never advances the counter.
    let mut st = TestState::default();
    assert!(check(
        "INPUT -p udp -m statistic --mode nth --every 2 --packet 0",
        &p,
        &mut st,
        Conn::Invalid
    )
    .is_err());
    assert!(st.nth.is_empty());
}

#[test]
fn random_follows_xt_statistic() {
    let p = packet(SYN);
    // --probability 0.5 is the threshold 2^30; the top bit of the draw is ignored.
    let mut st = TestState {
        randoms: vec![0x3fff_ffff, 0x4000_0000, 0xbfff_ffff],
        ..Default::default()
    };
    let spec = "INPUT -m statistic --mode random --probability 0.5";
    let got: Vec<bool> = (0..3)
        .map(|_| check(spec, &p, &mut st, Conn::Invalid).is_ok())
        .collect();
    assert_eq!(got, [true, false, true]);
}

#[test]
fn owner_needs_a_local_socket() {
    let p = packet(r#"{"from":"local","src":"198.51.100.1","dst":"203.0.113.9"}"#);
    let h = host();
    let mut st = TestState::default();
    let run = |spec: &str, owner, st: &mut TestState| {
        let r = rule("filter", spec);
        let ctx = Context {
            packet: &p,
            hook: Hook::Output,
            in_iface: None,
            out_iface: Some("eth1"),
            host: &h,
            owner,
            conn: Conn::Invalid,
            explain: true,
        };
        rule_matches(&r, &ctx, st, &|i| MatchId {
            table: 3,
            chain: 2,
            rule: 0,
            index: i as u8,
        })
        .err()
        .map(|f| f.reason)
    };
    assert_eq!(
        run(
            "OUTPUT -m owner --uid-owner 1000-2000",
            Some((1500, 100)),
            &mut st
        ),
        None
    );
    assert_eq!(
        run("OUTPUT -m owner --uid-owner 0", Some((1500, 100)), &mut st).unwrap(),
        "the socket's uid is 1500"
    );
    assert!(run("OUTPUT -m owner --uid-owner 0", None, &mut st)
        .unwrap()
        .contains("no owning socket"));
    assert_eq!(
        run("OUTPUT -m owner ! --uid-owner 0", None, &mut st),
        None,
        "all options negated: matches without a socket"
    );
    assert_eq!(run("OUTPUT -o eth1", Some((0, 0)), &mut st), None);
    assert_eq!(
        run("OUTPUT -o eth0", Some((0, 0)), &mut st).unwrap(),
        "the packet leaves by eth1"
    );
}

#[test]
fn unevaluated_extensions_follow_the_scenarios_choice() {
    let p = packet(SYN);
    let spec = "INPUT -m u32 --u32 \"0>>22&0x3C@0>>16=0x50\"";
    assert!(check(
        spec,
        &p,
        &mut TestState {
            assume: true,
            ..Default::default()
        },
        Conn::Invalid
    )
    .is_ok());
    let f = check(spec, &p, &mut TestState::default(), Conn::Invalid).unwrap_err();
    assert_eq!(
        f.reason,
        "u32 is not evaluated; the scenario assumes it does not match"
    );
}
