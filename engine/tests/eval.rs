//! Rule evaluation, one condition kind at a time, with the plain-words reason a
//! trace shows. The nth sequences are the ones the kernel produced
//! (kernel-oracle: `--every 2 --packet 0` matched packets 1 and 3;
//! `--every 3 --packet 1` matched packets 2 and 5).
//!
//! The state that outlives a packet (nth counters, random draws and forced or
//! replayed choices, limit buckets, recent lists, ipsets, assumed extensions)
//! is the engine's own, `scenario::SimState`, as a scenario run keeps it.

use nfsim::net::host::{Host, HostSpec};
use nfsim::net::packet::{Packet, PacketSpec};
use nfsim::path::eval::{rule_matches, Conn, ConnView, Context, Failed, MatchId, Socket};
use nfsim::ruleset::model::{Hook, Rule};
use nfsim::ruleset::value::Ipv4;
use nfsim::scenario::{Loaded, SimState};
use serde_json::json;

const HOST: &str = r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/24"]},{"name":"eth1","addresses":["203.0.113.1/24"]}]}"#;

fn host() -> Host {
    serde_json::from_str::<HostSpec>(HOST)
        .unwrap()
        .build()
        .unwrap()
}

/// A scenario on the test host with an empty filter table and no packets,
/// plus `extra` (ipsets, assume, force): what the engine's own state across
/// packets, [`SimState`], is built from.
fn scenario(extra: serde_json::Value) -> Loaded {
    let mut v = json!({
        "version": 1,
        "ruleset": "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
        "host": serde_json::from_str::<serde_json::Value>(HOST).unwrap(),
        "packets": [],
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    Loaded::from_json(&v.to_string()).unwrap()
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

fn check(spec: &str, p: &Packet, state: &mut SimState, conn: Conn) -> Result<(), Failed> {
    check_at(0, spec, p, state, conn)
}

/// `spec` as rule `rule` of filter's INPUT (rules keep their own counters).
fn check_at(
    rule_no: u32,
    spec: &str,
    p: &Packet,
    state: &mut SimState,
    conn: Conn,
) -> Result<(), Failed> {
    let h = host();
    let r = rule("filter", spec);
    let ctx = Context {
        packet: p,
        hook: Hook::Input,
        in_iface: Some("eth0"),
        out_iface: None,
        host: &h,
        owner: Socket::None,
        conn,
        explain: true,
    };
    rule_matches(&r, &ctx, state, &|i| MatchId {
        table: 3,
        chain: 0,
        rule: rule_no,
        index: i as u8,
    })
}

fn reason(spec: &str, p: &Packet) -> Option<(String, String)> {
    let l = scenario(json!({}));
    check(spec, p, &mut SimState::new(&l, 1, None), Conn::Invalid)
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
        orig: (Ipv4(0xc0000232), Ipv4(0xc0000264), 45678, 80),
        reply: (Ipv4(0xcb00710a), Ipv4(0xc0000232), 8080, 45678),
        reply_dir: false,
        mark: 7,
        expires_s: 100,
    };
    let l = scenario(json!({}));
    let with = |spec: &str| {
        check(
            spec,
            &p,
            &mut SimState::new(&l, 1, None),
            Conn::Tracked(&ct),
        )
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
        check(spec, &p, &mut SimState::new(&l, 1, None), c)
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
    let l = scenario(json!({}));
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
        let mut st = SimState::new(&l, 1, None);
        let got: Vec<bool> = (0..5)
            .map(|_| check(spec, &p, &mut st, Conn::Invalid).is_ok())
            .collect();
        assert_eq!(got, want, "{spec}");
    }
    let spec = "INPUT -m statistic --mode nth --every 2 --packet 0";
    let mut st = SimState::new(&l, 1, None);
    assert_eq!(check(spec, &p, &mut st, Conn::Invalid).map(|_| ()), Ok(()));
    assert_eq!(
        check(spec, &p, &mut st, Conn::Invalid).unwrap_err().reason,
        "this is not packet 0 of every 2"
    );
    // Each rule counts its own packets.
    let mut st = SimState::new(&l, 1, None);
    let got: Vec<bool> = [0, 1, 1, 0, 0, 1]
        .iter()
        .map(|&rule| check_at(rule, spec, &p, &mut st, Conn::Invalid).is_ok())
        .collect();
    assert_eq!(got, [true, true, false, false, true, true]);
    // Matches are tried left to right: a failing -p never advances the counter.
    let mut st = SimState::new(&l, 1, None);
    assert!(check(
        "INPUT -p udp -m statistic --mode nth --every 2 --packet 0",
        &p,
        &mut st,
        Conn::Invalid
    )
    .is_err());
    assert!(check(
        "INPUT -p tcp -m statistic --mode nth --every 2 --packet 0",
        &p,
        &mut st,
        Conn::Invalid
    )
    .is_ok());
}

#[test]
fn random_draws_come_from_the_seed_under_xt_statistics_threshold() {
    let l = scenario(json!({}));
    let p = packet(SYN);
    let draws = |seed: u64, probability: &str, n: usize| -> Vec<bool> {
        let spec = format!("INPUT -m statistic --mode random --probability {probability}");
        let mut st = SimState::new(&l, seed, None);
        (0..n)
            .map(|_| check(&spec, &p, &mut st, Conn::Invalid).is_ok())
            .collect()
    };
    // The seed decides: the same seed, the same draws.
    assert_eq!(draws(7, "0.5", 64), draws(7, "0.5", 64));
    assert_ne!(draws(7, "0.5", 64), draws(8, "0.5", 64));
    // --probability 0.5 is the threshold 2^30 and the draw's top bit is
    // ignored, so about half match (a whole 32-bit draw would match a quarter).
    let hits = |probability: &str| draws(7, probability, 4000).iter().filter(|&&m| m).count();
    assert!((1800..2200).contains(&hits("0.5")), "{}", hits("0.5"));
    assert!((850..1150).contains(&hits("0.25")), "{}", hits("0.25"));
    assert_eq!(hits("0"), 0);
    assert_eq!(hits("1"), 4000);
}

#[test]
fn random_choices_replay_a_branch_or_are_forced() {
    let p = packet(SYN);
    let spec = "INPUT -m statistic --mode random --probability 0.25";
    let l = scenario(json!({}));
    // All-branches mode: the script's choices, then the "match" branch, each
    // recorded with its probability.
    let mut st = SimState::new(&l, 7, Some(vec![false, true, false]));
    let got: Vec<bool> = (0..5)
        .map(|_| check(spec, &p, &mut st, Conn::Invalid).is_ok())
        .collect();
    assert_eq!(got, [false, true, false, true, true]);
    assert_eq!(
        st.decisions,
        [
            (false, 0.75),
            (true, 0.25),
            (false, 0.75),
            (true, 0.25),
            (true, 0.25)
        ]
    );
    // A rule that cannot match has only the other branch.
    let mut st = SimState::new(&l, 7, Some(vec![]));
    let never = "INPUT -m statistic --mode random --probability 0";
    assert!(check(never, &p, &mut st, Conn::Invalid).is_err());
    assert_eq!(st.decisions, [(false, 1.0)]);
    // A forced rule (filter INPUT rule 1) always decides the same way, drawing
    // nothing; the trail records each choice with its rule.
    let forced = scenario(
        json!({"force": [{"table": "filter", "chain": "INPUT", "rule": 1, "match": false}]}),
    );
    let mut st = SimState::new(&forced, 7, None);
    st.trail = Some(Vec::new());
    let always = "INPUT -m statistic --mode random --probability 1";
    assert!((0..10).all(|_| check_at(0, always, &p, &mut st, Conn::Invalid).is_err()));
    assert!(check_at(1, always, &p, &mut st, Conn::Invalid).is_ok());
    assert!(st.decisions.is_empty());
    let trail = st.trail.unwrap();
    assert_eq!(trail.len(), 11);
    assert_eq!(
        trail[10],
        (
            MatchId {
                table: 3,
                chain: 0,
                rule: 1,
                index: 0
            },
            true
        )
    );
    assert!(trail[..10].iter().all(|(id, m)| id.rule == 0 && !m));
}

#[test]
fn limit_spends_its_burst_then_refills_on_the_scenario_clock() {
    let l = scenario(json!({}));
    let p = packet(SYN);
    let spec = "INPUT -m limit --limit 2/second --limit-burst 3";
    let mut st = SimState::new(&l, 1, None);
    let mut at = |rule: u32, ms: u64| {
        st.now_ms = ms;
        check_at(rule, spec, &p, &mut st, Conn::Invalid)
    };
    // A full bucket: the burst, then nothing.
    let burst: Vec<bool> = (0..4).map(|_| at(0, 0).is_ok()).collect();
    assert_eq!(burst, [true, true, true, false]);
    assert_eq!(at(0, 0).unwrap_err().reason, "the rate limit is exhausted");
    // 2/second: a packet's credit every 500 ms.
    let refill: Vec<bool> = [499, 500, 500, 999, 1000]
        .iter()
        .map(|&ms| at(0, ms).is_ok())
        .collect();
    assert_eq!(refill, [false, true, false, false, true]);
    // A long pause fills the bucket only up to the burst.
    let later: Vec<bool> = (0..4).map(|_| at(0, 60_000).is_ok()).collect();
    assert_eq!(later, [true, true, true, false]);
    // Another rule has its own bucket.
    assert!(at(1, 60_000).is_ok());
}

#[test]
fn recent_lists_keep_addresses_by_name_and_time() {
    let l = scenario(json!({}));
    let p = packet(SYN); // from 192.0.2.50, TTL 64
    let mut st = SimState::new(&l, 1, None);
    let mut hit = |spec: &str, p: &Packet, ms: u64| {
        st.now_ms = ms;
        check(
            &format!("INPUT -m recent {spec}"),
            p,
            &mut st,
            Conn::Invalid,
        )
        .is_ok()
    };
    assert!(!hit("--name ssh --rcheck", &p, 0));
    assert!(hit("--name ssh --set", &p, 0));
    assert!(hit("--name ssh --rcheck", &p, 0));
    assert!(!hit("--name web --rcheck", &p, 0), "one list per name");
    assert!(
        !hit("--name ssh --rcheck --rdest", &p, 0),
        "the source was listed, not the destination"
    );
    assert!(!hit("--name ssh ! --rcheck", &p, 0), "! inverts");
    // --hitcount counts the sightings within --seconds.
    assert!(!hit("--name ssh --rcheck --seconds 60 --hitcount 2", &p, 0));
    assert!(hit("--name ssh --set", &p, 10_000));
    assert!(hit(
        "--name ssh --rcheck --seconds 60 --hitcount 2",
        &p,
        10_000
    ));
    assert!(!hit(
        "--name ssh --rcheck --seconds 60 --hitcount 2",
        &p,
        65_000
    ));
    assert!(hit("--name ssh --rcheck --seconds 60", &p, 65_000));
    assert!(!hit("--name ssh --rcheck --seconds 60", &p, 71_000));
    // --update is a check that also records this sighting.
    assert!(hit("--name ssh --update", &p, 71_000));
    assert!(hit("--name ssh --rcheck --seconds 60", &p, 71_000));
    // --remove forgets the address.
    assert!(hit("--name ssh --remove", &p, 72_000));
    assert!(!hit("--name ssh --rcheck", &p, 72_000));
    assert!(!hit("--name ssh --remove", &p, 72_000));
    assert!(hit("--name ssh ! --rcheck", &p, 72_000));
    // --rttl also compares the TTL the address was last seen with.
    let mut ttl10 = p.clone();
    ttl10.ttl = 10;
    assert!(hit("--name ttl --set", &p, 0));
    assert!(!hit("--name ttl --rcheck --rttl", &ttl10, 0));
    assert!(hit("--name ttl --rcheck", &ttl10, 0));
    // --mask lists the masked address: a neighbour in the same /24 is seen.
    let mut neighbour = p.clone();
    neighbour.src = nfsim::ruleset::value::Ipv4::parse("192.0.2.77").unwrap();
    assert!(hit("--name net --set --mask 255.255.255.0", &p, 0));
    assert!(hit(
        "--name net --rcheck --mask 255.255.255.0",
        &neighbour,
        0
    ));
    assert!(!hit("--name net --rcheck", &neighbour, 0));
}

#[test]
fn ipsets_are_the_scenarios() {
    let l = scenario(json!({
        "ipsets": "create allow hash:net family inet\nadd allow 192.0.2.0/24\ncreate svc hash:ip,port family inet\nadd svc 198.51.100.1,tcp:22\n"
    }));
    let p = packet(SYN);
    let mut st = SimState::new(&l, 1, None);
    let mut set = |spec: &str| {
        check(&format!("INPUT -m set {spec}"), &p, &mut st, Conn::Invalid)
            .err()
            .map(|f| f.reason)
    };
    assert_eq!(set("--match-set allow src"), None);
    assert_eq!(
        set("--match-set allow dst").unwrap(),
        "the packet is not in set allow"
    );
    assert_eq!(
        set("! --match-set allow src").unwrap(),
        "the packet is in set allow"
    );
    assert_eq!(set("--match-set svc dst,dst"), None);
    assert!(set("--match-set svc dst,src").is_some());
    assert_eq!(
        set("--match-set nope src").unwrap(),
        "set nope is not defined in the scenario"
    );
}

#[test]
fn owner_needs_a_local_socket() {
    let p = packet(r#"{"from":"local","src":"198.51.100.1","dst":"203.0.113.9"}"#);
    let h = host();
    let l = scenario(json!({}));
    let mut st = SimState::new(&l, 1, None);
    let run = |spec: &str, owner, st: &mut SimState| {
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
            Socket::User {
                uid: 1500,
                gid: 100
            },
            &mut st
        ),
        None
    );
    assert_eq!(
        run(
            "OUTPUT -m owner --uid-owner 0",
            Socket::User {
                uid: 1500,
                gid: 100
            },
            &mut st
        )
        .unwrap(),
        "the socket's uid is 1500"
    );
    assert!(run("OUTPUT -m owner --uid-owner 0", Socket::None, &mut st)
        .unwrap()
        .contains("no owning socket"));
    assert_eq!(
        run("OUTPUT -m owner ! --uid-owner 0", Socket::None, &mut st),
        None,
        "all options negated: matches without a socket"
    );
    // What the host's stack answers by itself goes through a kernel socket
    // with no file behind it: it exists, but has no uid (xt_owner).
    assert_eq!(
        run("OUTPUT -m owner --socket-exists", Socket::Kernel, &mut st),
        None
    );
    assert!(run("OUTPUT -m owner --socket-exists", Socket::None, &mut st).is_some());
    assert!(
        run("OUTPUT -m owner --uid-owner 0", Socket::Kernel, &mut st)
            .unwrap()
            .contains("kernel's own socket")
    );
    assert_eq!(
        run("OUTPUT -m owner ! --uid-owner 0", Socket::Kernel, &mut st),
        None
    );
    assert_eq!(
        run("OUTPUT -o eth1", Socket::User { uid: 0, gid: 0 }, &mut st),
        None
    );
    assert_eq!(
        run("OUTPUT -o eth0", Socket::User { uid: 0, gid: 0 }, &mut st).unwrap(),
        "the packet leaves by eth1"
    );
}

#[test]
fn unevaluated_extensions_follow_the_scenarios_choice() {
    let p = packet(SYN);
    let spec = "INPUT -m u32 --u32 \"0>>22&0x3C@0>>16=0x50\"";
    let assumed = scenario(json!({"assume": {"u32": true}}));
    assert!(check(
        spec,
        &p,
        &mut SimState::new(&assumed, 1, None),
        Conn::Invalid
    )
    .is_ok());
    let l = scenario(json!({}));
    let f = check(spec, &p, &mut SimState::new(&l, 1, None), Conn::Invalid).unwrap_err();
    assert_eq!(
        f.reason,
        "u32 is not evaluated; the scenario assumes it does not match"
    );
}
