//! Every W0406 finding checked against the engine's own kernel model of the
//! matches (`eval::rule_matches`): for sampled packets, connections, interfaces,
//! hooks and match-state outcomes, whenever the shadowed rule matches, the rule
//! said to catch its packets matches too. Samples are drawn near the values the
//! two rules mention (inside and just outside each prefix, range and mark), so
//! the later rule matches often. Run on every stored fixture and on generated
//! pairs of rules (NFSIM_LINT_CASES pairs, default 6000).

use nfsim::net::host::{Host, HostSpec};
use nfsim::net::packet::Packet;
use nfsim::path::eval::{rule_matches, Conn, ConnView, Context, MatchId, MatchState};
use nfsim::ruleset::matches::{LimitMatch, RecentMatch, SetMatch};
use nfsim::ruleset::model::{Hook, Rule};
use nfsim::ruleset::value::{parse_uint, Ipv4, Ipv4Net, Proto, TcpFlags};
use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// Random outcomes for every stateful match.
struct Coin(Rng);

impl MatchState for Coin {
    fn random(&mut self, _: MatchId, _: u32) -> bool {
        self.0.bool()
    }
    fn nth(&mut self, _: MatchId, every: u32) -> u32 {
        (self.0.next() % every.max(1) as u64) as u32
    }
    fn limit(&mut self, _: MatchId, _: &LimitMatch) -> bool {
        self.0.bool()
    }
    fn recent(&mut self, _: &RecentMatch, _: Ipv4, _: u8) -> bool {
        self.0.bool()
    }
    fn ipset(&mut self, _: &SetMatch, _: &Packet) -> Option<bool> {
        Some(self.0.bool())
    }
    fn assume(&mut self, _: &str) -> bool {
        self.0.bool()
    }
}

/// Values to draw from, taken from the rules' text.
#[derive(Default)]
struct Pools {
    nets: Vec<Ipv4Net>,
    addrs: Vec<u32>,
    numbers: Vec<u32>,
    ifaces: Vec<String>,
}

impl Pools {
    fn from_rules(rules: &[&Rule]) -> Pools {
        let mut p = Pools {
            addrs: vec![
                0x0a000001, 0xc0000201, 0xc6336401, 0x7f000001, 0xe0000001, 0xffffffff,
            ],
            numbers: vec![0, 1, 2, 3, 8, 22, 53, 80, 443, 1024, 40000, 65535, 0x4000],
            ifaces: vec!["eth0".into(), "eth1".into(), "lo".into(), "wlan0".into()],
            ..Pools::default()
        };
        for r in rules {
            let spec = nfsim::ruleset::render::rule_spec(r);
            let words: Vec<&str> = spec.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                let prev = if i > 0 { words[i - 1] } else { "" };
                if matches!(prev, "-i" | "-o" | "--physdev-in" | "--physdev-out") {
                    let stem = w.trim_end_matches('+');
                    for s in [
                        stem.to_string(),
                        format!("{stem}0"),
                        format!("{stem}x"),
                        stem[..stem.len().saturating_sub(1)].to_string(),
                    ] {
                        if !s.is_empty() {
                            p.ifaces.push(s);
                        }
                    }
                    continue;
                }
                for part in w.split([',', '-', ':']) {
                    if let Ok(n) = Ipv4Net::parse_unmasked(part) {
                        let net = Ipv4Net {
                            addr: n.addr.masked(n.mask),
                            mask: n.mask,
                        };
                        p.nets.push(net);
                        for a in [n.addr.0, net.addr.0, net.broadcast().0] {
                            p.addrs.extend([a, a.wrapping_add(1), a.wrapping_sub(1)]);
                        }
                        continue;
                    }
                    for x in part.split('/') {
                        if let Some(n) = parse_uint(x, u32::MAX as u64) {
                            let n = n as u32;
                            p.numbers.extend([n, n.wrapping_add(1), n.wrapping_sub(1)]);
                        }
                    }
                }
            }
        }
        p
    }

    fn addr(&self, rng: &mut Rng) -> Ipv4 {
        match rng.below(4) {
            0 if !self.nets.is_empty() => {
                let n = rng.pick(&self.nets);
                Ipv4(n.addr.0 | (rng.next() as u32 & !n.mask))
            }
            1 => Ipv4(rng.next() as u32),
            _ => Ipv4(rng.pick(&self.addrs)),
        }
    }

    fn number(&self, rng: &mut Rng) -> u32 {
        match rng.below(8) {
            0 => rng.next() as u32,
            1 => rng.pick(&self.numbers) | rng.pick(&self.numbers),
            _ => rng.pick(&self.numbers),
        }
    }

    fn small(&self, rng: &mut Rng) -> u16 {
        self.number(rng) as u16
    }

    fn iface(&self, rng: &mut Rng) -> Option<String> {
        (rng.below(6) != 0).then(|| self.ifaces[rng.below(self.ifaces.len())].clone())
    }
}

fn host() -> Host {
    serde_json::from_str::<HostSpec>(
        r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/24"]},{"name":"eth1","addresses":["10.0.0.1/8"]}]}"#,
    )
    .unwrap()
    .build()
    .unwrap()
}

/// Check `later ⟹ earlier` on `samples` draws; returns how many matched `later`.
fn check_pair(earlier: &Rule, later: &Rule, samples: usize, seed: u64, what: &str) -> usize {
    let pools = Pools::from_rules(&[earlier, later]);
    let host = host();
    let mut rng = Rng(seed | 1);
    let mut state = Coin(Rng(seed.wrapping_mul(31) | 1));
    let mut hits = 0;
    for _ in 0..samples {
        let proto = match rng.below(8) {
            0 => rng.next() as u8,
            1 => rng.pick(&[6u8, 17, 1, 132, 47, 0]),
            _ => {
                let n = pools.number(&mut rng);
                if n < 256 && rng.bool() {
                    n as u8
                } else {
                    rng.pick(&[6u8, 17, 1, 132])
                }
            }
        };
        let packet = Packet {
            src: pools.addr(&mut rng),
            dst: pools.addr(&mut rng),
            proto: Proto(proto),
            sport: pools.small(&mut rng),
            dport: pools.small(&mut rng),
            tcp_flags: TcpFlags(if rng.bool() {
                pools.number(&mut rng) as u8
            } else {
                rng.pick(&[0x02, 0x12, 0x10, 0x11, 0x04, 0x3f, 0])
            }),
            icmp_type: pools.number(&mut rng) as u8,
            icmp_code: rng.pick(&[0u8, 1, 3, 4, 255]),
            mark: pools.number(&mut rng),
            length: pools.small(&mut rng),
            ttl: pools.number(&mut rng) as u8,
            tos: pools.number(&mut rng) as u8,
            fragment: rng.below(8) == 0,
            inner: None,
        };
        let view = ConnView {
            state: rng.pick(&[1 << 3, 1 << 1, 1 << 2]),
            status: rng.next() as u32 & 0x3f,
            snat: rng.below(4) == 0,
            dnat: rng.below(4) == 0,
            proto: if rng.bool() {
                proto
            } else {
                rng.pick(&[6u8, 17, 1])
            },
            orig: (
                pools.addr(&mut rng),
                pools.addr(&mut rng),
                pools.small(&mut rng),
                pools.small(&mut rng),
            ),
            reply: (
                pools.addr(&mut rng),
                pools.addr(&mut rng),
                pools.small(&mut rng),
                pools.small(&mut rng),
            ),
            reply_dir: rng.bool(),
            mark: pools.number(&mut rng),
            expires_s: pools.number(&mut rng) % 1000,
        };
        let conn = match rng.below(6) {
            0 => Conn::Invalid,
            1 => Conn::Untracked,
            _ => Conn::Tracked(&view),
        };
        let (in_iface, out_iface) = (pools.iface(&mut rng), pools.iface(&mut rng));
        let ctx = Context {
            packet: &packet,
            hook: rng.pick(&Hook::ALL),
            in_iface: in_iface.as_deref(),
            out_iface: out_iface.as_deref(),
            host: &host,
            owner: if rng.bool() {
                nfsim::path::eval::Socket::User {
                    uid: pools.number(&mut rng),
                    gid: pools.number(&mut rng),
                }
            } else {
                nfsim::path::eval::Socket::None
            },
            conn,
            explain: false,
        };
        let id = |rule: u32| {
            move |i: usize| MatchId {
                table: 0,
                chain: 0,
                rule,
                index: i as u8,
            }
        };
        if rule_matches(later, &ctx, &mut state, &id(1)).is_ok() {
            hits += 1;
            assert!(
                rule_matches(earlier, &ctx, &mut state, &id(0)).is_ok(),
                "{what}: the later rule matches but the earlier does not\n  earlier:{}\n  later:  {}\n  packet: {packet:?}\n  in {in_iface:?} out {out_iface:?} hook {:?}",
                nfsim::ruleset::render::rule_spec(earlier),
                nfsim::ruleset::render::rule_spec(later),
                ctx.hook,
            );
        }
    }
    hits
}

/// (earlier, later) for each W0406 of the text.
fn findings(text: &str) -> Vec<(Rule, Rule)> {
    let parsed = nfsim::parse(text, None);
    let mut out = Vec::new();
    for d in nfsim::ruleset::lint::lint(&parsed.ruleset) {
        if d.code != "W0406" {
            continue;
        }
        let rule = parsed
            .ruleset
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .find_map(|c| {
                let j = c.rules.iter().position(|r| r.span == d.span)?;
                let by: usize = d
                    .message
                    .split("rule ")
                    .nth(2)?
                    .split(' ')
                    .next()?
                    .parse()
                    .ok()?;
                Some((c.rules[by - 1].clone(), c.rules[j].clone()))
            })
            .expect("the finding names a rule of the ruleset");
        out.push(rule);
    }
    out
}

#[test]
fn every_fixture_finding_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut texts = Vec::new();
    for dir in ["roundtrip", "invalid", "oracle", "walk"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for p in files {
            if p.extension()
                .is_some_and(|x| x == "in" || x == "out" || x == "rules")
            {
                texts.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    let (mut pairs, mut hits) = (0, 0);
    for (name, text) in &texts {
        for (i, (e, l)) in findings(text).iter().enumerate() {
            pairs += 1;
            hits += check_pair(e, l, 2000, 0x9e3779b97f4a7c15 ^ i as u64, name);
        }
    }
    println!("{pairs} findings, {hits} samples where the later rule matched");
    assert!(pairs > 100 && hits > pairs * 20, "{pairs} {hits}");
}

/// Condition words to build rules from, by family (a near miss swaps a word
/// for another of its family).
const CONDS: &[&[&str]] = &[
    &[
        "-s 10.0.0.0/8",
        "-s 10.1.0.0/16",
        "-s 10.1.2.3/32",
        "! -s 10.1.0.0/16",
        "! -s 10.0.0.0/8",
        "-s 0.0.0.0/0",
        "! -s 0.0.0.0/0",
        "-s 10.1.0.0/255.0.255.0",
        "! -s 10.1.2.3/32",
        "-s 11.0.0.0/8",
    ],
    &[
        "-d 192.0.2.0/24",
        "-d 192.0.2.1/32",
        "! -d 192.0.2.0/24",
        "! -d 192.0.2.1/32",
        "-d 198.51.100.1/32",
    ],
    &[
        "-i eth0",
        "-i eth+",
        "-i e+",
        "-i eth1",
        "! -i eth0",
        "! -i eth+",
        "! -i e+",
        "-i lo",
        "-i eth0+",
        "! -i lo",
    ],
    &["-o eth0", "-o eth+", "! -o eth1", "! -o eth+", "-o eth1"],
    &["-f", "! -f"],
    &[
        "-m conntrack --ctstate NEW",
        "-m conntrack --ctstate RELATED,ESTABLISHED",
        "-m conntrack ! --ctstate NEW",
        "-m conntrack --ctstate INVALID",
        "-m conntrack --ctstate ESTABLISHED,SNAT",
        "-m conntrack ! --ctstate INVALID,UNTRACKED",
        "-m conntrack --ctorigdst 10.0.0.0/8",
        "-m conntrack --ctstatus ASSURED",
        "-m conntrack --ctstate NEW --ctdir ORIGINAL",
        "-m conntrack ! --ctstate ESTABLISHED",
        "-m conntrack --ctstate SNAT",
        "-m conntrack --ctstate ESTABLISHED",
        "-m state --state NEW,ESTABLISHED",
        "-m state --state ESTABLISHED",
        "-m state ! --state ESTABLISHED,RELATED",
    ],
    &[
        "-m mark --mark 0x1",
        "-m mark --mark 0x1/0x1",
        "-m mark --mark 0x3/0x3",
        "-m mark ! --mark 0x1",
        "-m mark --mark 0x4000/0x4000",
        "-m mark --mark 0x0/0x2",
        "-m mark --mark 0x2/0x2",
        "-m mark ! --mark 0x1/0x1",
    ],
    &[
        "-m connmark --mark 0x1",
        "-m connmark --mark 0x1/0x1",
        "-m connmark ! --mark 0x1/0x1",
        "-m connmark --mark 0x0/0x2",
    ],
    &[
        "-m addrtype --dst-type LOCAL",
        "-m addrtype --dst-type LOCAL,UNICAST",
        "-m addrtype ! --dst-type LOCAL",
        "-m addrtype --src-type LOCAL --limit-iface-in",
        "-m addrtype --src-type UNICAST",
        "-m addrtype --dst-type UNICAST",
        "-m addrtype ! --dst-type LOCAL,BROADCAST",
        "-m addrtype --src-type LOCAL",
    ],
    &[
        "-m iprange --src-range 10.0.0.1-10.0.0.100",
        "-m iprange --src-range 10.0.0.5-10.0.0.10",
        "-m iprange ! --src-range 10.0.0.5-10.0.0.10",
        "-m iprange --src-range 10.0.0.50-10.0.0.200",
        "-m iprange --dst-range 192.0.2.1-192.0.2.9",
    ],
    &[
        "-m length --length 100:200",
        "-m length --length 150",
        "-m length ! --length 100:200",
        "-m length --length 150:300",
        "-m length --length 50:120",
    ],
    &[
        "-m pkttype --pkt-type unicast",
        "-m pkttype --pkt-type broadcast",
        "-m ttl --ttl-gt 10",
        "-m ttl --ttl-lt 10",
        "-m tos --tos 0x10/0x3f",
        "-m dscp --dscp 0x04",
        "-m comment --comment x",
        "-m statistic --mode random --probability 0.5",
        "-m limit --limit 5/sec",
    ],
];

const PROTO_CONDS: &[(&str, &[&str])] = &[
    (
        "-p tcp",
        &[
            "-m tcp --dport 22",
            "-m tcp --dport 20:30",
            "-m tcp ! --dport 22",
            "-m tcp --sport 1024:65535",
            "-m tcp --syn",
            "-m tcp --tcp-flags SYN,ACK SYN",
            "-m tcp ! --dport 20:30",
            "-m tcp --sport 22",
            "-m multiport --sports 22,80",
            "-m tcp --dport 80",
            "-m multiport --ports 22,80",
            "-m tcp ! --syn",
            "-m tcp --tcp-flags SYN,RST,ACK,FIN SYN",
            "-m tcp ! --tcp-flags SYN,ACK ACK",
            "-m tcp ! --tcp-flags SYN SYN",
            "-m tcp --tcp-flags SYN,RST,ACK SYN",
            "-m tcp ! --tcp-flags SYN,RST,ACK SYN",
            "-m tcp --tcp-flags ACK ACK",
            "-m tcp --tcp-option 2",
            "-m tcp",
            "-m multiport --dports 22,80",
            "-m multiport --dports 20:25,80",
            "-m multiport --sports 1024:65535",
            "-m multiport --ports 22",
            "-m multiport ! --dports 22,80",
            "-m multiport ! --ports 22",
            "-m multiport --dports 22",
        ],
    ),
    (
        "-p udp",
        &[
            "-m udp --dport 53",
            "-m udp --dport 50:60",
            "-m udp ! --dport 53",
            "-m udp",
            "-m multiport --dports 53,123",
            "-m udp ! --dport 50:60",
            "-m udp --sport 53",
            "-m multiport ! --dports 53,123",
        ],
    ),
    (
        "-p icmp",
        &[
            "-m icmp --icmp-type 8",
            "-m icmp --icmp-type any",
            "-m icmp --icmp-type 3/3",
            "-m icmp ! --icmp-type 8",
            "-m icmp --icmp-type 3",
            "-m icmp ! --icmp-type any",
            "-m icmp --icmp-type 3/1",
            "-m icmp ! --icmp-type 3/3",
        ],
    ),
    ("! -p tcp", &[]),
    ("-p all", &[]),
    ("-p sctp", &["-m sctp --dport 22", "-m sctp --dport 20:30"]),
];

/// A rule's conditions as (list, word) picks: list f < CONDS.len() is a
/// family of CONDS, list CONDS.len() + i the matches of PROTO_CONDS[i] (whose
/// protocol comes along).
fn random_conditions(rng: &mut Rng) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    for _ in 0..rng.below(4) {
        let f = rng.below(CONDS.len());
        words.push((f, rng.below(CONDS[f].len())));
    }
    if rng.below(3) != 0 {
        let p = rng.below(PROTO_CONDS.len());
        let ms = PROTO_CONDS[p].1;
        if ms.is_empty() {
            words.push((CONDS.len() + p, usize::MAX));
        }
        for _ in 0..1 + rng.below(2) {
            if !ms.is_empty() {
                words.push((CONDS.len() + p, rng.below(ms.len())));
            }
        }
    }
    words
}

fn list_len(list: usize) -> usize {
    match CONDS.get(list) {
        Some(f) => f.len(),
        None => PROTO_CONDS[list - CONDS.len()].1.len(),
    }
}

/// A near miss of `words`: one word swapped for another of its list, one
/// dropped, or more added.
fn mutate(rng: &mut Rng, words: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut w = words.to_vec();
    match rng.below(4) {
        0 if !w.is_empty() => {
            let i = rng.below(w.len());
            let len = list_len(w[i].0);
            if len > 0 {
                w[i].1 = rng.below(len);
            }
        }
        1 if !w.is_empty() => {
            w.remove(rng.below(w.len()));
        }
        _ => {
            // Only words that keep the protocol the rule already has.
            let list = w.iter().map(|x| x.0).find(|&l| l >= CONDS.len());
            for x in random_conditions(rng) {
                if x.0 < CONDS.len() || Some(x.0) == list || list.is_none() {
                    w.push(x);
                }
            }
        }
    }
    w
}

fn text_of(words: &[(usize, usize)]) -> String {
    let mut out = Vec::new();
    let mut proto = None;
    for &(list, i) in words {
        if let Some(f) = CONDS.get(list) {
            out.push(f[i].to_string());
            continue;
        }
        let (p, ms) = PROTO_CONDS[list - CONDS.len()];
        if proto.is_none() {
            proto = Some(p);
            out.push(p.to_string());
        }
        if let Some(m) = ms.get(i) {
            out.push(m.to_string());
        }
    }
    out.join(" ")
}

#[test]
fn generated_pairs_hold() {
    let cases: usize = std::env::var("NFSIM_LINT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6000);
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut found, mut hits) = (0, 0);
    let mut tried = 0;
    while tried < cases {
        let wa = random_conditions(&mut rng);
        // Mostly derive the later rule from the earlier one: near misses are
        // where a containment proof can go wrong.
        let wb = match rng.below(4) {
            0 => random_conditions(&mut rng),
            1 => {
                let once = mutate(&mut rng, &wa);
                mutate(&mut rng, &once)
            }
            _ => mutate(&mut rng, &wa),
        };
        let (a, b) = (text_of(&wa), text_of(&wb));
        let target = rng.pick(&["ACCEPT", "DROP", "RETURN", "REJECT"]);
        let text = format!("*filter\n:X - [0:0]\n-A X {a} -j {target}\n-A X {b} -j DROP\nCOMMIT\n");
        let parsed = nfsim::parse(&text, None);
        if parsed.has_errors() {
            continue;
        }
        tried += 1;
        for (e, l) in findings(&text) {
            found += 1;
            hits += check_pair(&e, &l, 300, rng.next(), &text);
        }
    }
    println!("{tried} pairs, {found} covered, {hits} samples where the later rule matched");
    assert!(found > cases / 20, "{found}");
}

/// Targets for the walked chains: verdicts, and targets that change what
/// later rules read (directly, or inside a jumped-to chain).
const TARGETS: &[&str] = &[
    "-j ACCEPT",
    "-j DROP",
    "-j RETURN",
    "-j ACCEPT",
    "-j DROP",
    "-j MARK --set-xmark 0x1/0xffffffff",
    "-j MARK --set-xmark 0x3/0x3",
    "-j MARK --set-xmark 0x0/0x1",
    "-j MARK --set-xmark 0x4000/0x4000",
    "-j CONNMARK --set-xmark 0x1/0xffffffff",
    "-j CONNMARK --restore-mark",
    "-j CONNMARK --save-mark",
    "-j TOS --set-tos 0x10/0xff",
    "-j DSCP --set-dscp 0x04",
    "-j SETMARK",
    "-g SETMARK",
    "-j LOGONLY",
    "-j LOG",
    "-j NFQUEUE --queue-num 1 --queue-bypass",
    "-j CONNMARK --set-xmark 0x1/0xffffffff",
    "-j CONNMARK --restore-mark",
    "-j SETMARK",
];

/// Conditions for the walked chains: mostly on what the targets change.
const WALK_CONDS: &[&[&str]] = &[
    &[
        "-m mark --mark 0x1",
        "-m mark --mark 0x1/0x1",
        "-m mark ! --mark 0x1",
        "-m mark --mark 0x3/0x3",
        "-m mark --mark 0x0/0x1",
        "-m mark --mark 0x4000/0x4000",
    ],
    &[
        "-m connmark --mark 0x1",
        "-m connmark --mark 0x1/0x1",
        "-m connmark ! --mark 0x1",
    ],
    &[
        "-m tos --tos 0x10/0x3f",
        "-m dscp --dscp 0x04",
        "-m tos ! --tos 0x10/0x3f",
        "-m dscp ! --dscp 0x04",
    ],
    &[
        "-m conntrack --ctstate NEW",
        "-m conntrack --ctstate ESTABLISHED",
        "-m state --state NEW,ESTABLISHED",
        "-m conntrack ! --ctstate NEW",
    ],
    &[
        "-s 10.0.0.0/8",
        "-s 10.1.2.3/32",
        "! -s 10.1.0.0/16",
        "-d 198.51.100.1/32",
        "-i eth+",
        "-i eth1",
    ],
    &[
        "-p tcp -m tcp --dport 22",
        "-p tcp",
        "-p udp",
        "-p tcp -m multiport --dports 22,80",
    ],
];

fn walk_conditions(rng: &mut Rng) -> String {
    let mut words: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(2) {
        let f = WALK_CONDS[rng.below(WALK_CONDS.len())];
        words.push(rng.pick(f));
    }
    let proto = words.iter().filter(|w| w.starts_with("-p")).count();
    if proto > 1 {
        words.retain(|w| !w.starts_with("-p"));
    }
    words.join(" ")
}

const PACKET_ADDRS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.5",
    "10.0.0.50",
    "10.0.0.150",
    "10.1.2.3",
    "10.1.2.4",
    "10.1.7.9",
    "10.2.0.1",
    "11.0.0.1",
    "192.0.2.1",
    "192.0.2.7",
    "198.51.100.1",
    "198.51.100.9",
    "203.0.113.5",
];

/// Every packet a generated mangle PREROUTING chain sees: no rule lint calls
/// dead matches, no chain it calls unreached is walked.
#[test]
fn walked_chains_agree_with_lint() {
    let cases: usize = std::env::var("NFSIM_LINT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6000)
        / 6;
    let mut rng = Rng(0x0ddb_a11c_0ffe_e001);
    let (mut loaded_cases, mut claims_seen) = (0, 0);
    let mut tries = 0;
    while loaded_cases < cases && tries < cases * 20 {
        tries += 1;
        let mut rules: Vec<String> = Vec::new();
        let mut text = String::from("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:SETMARK - [0:0]\n:LOGONLY - [0:0]\n:UNUSED - [0:0]\n");
        text.push_str("-A SETMARK -j MARK --set-xmark 0x1/0xffffffff\n-A SETMARK -j CONNMARK --set-xmark 0x1/0xffffffff\n-A LOGONLY -j LOG\n-A UNUSED -j DROP\n");
        for _ in 0..3 + rng.below(6) {
            // Often a copy of an earlier rule, narrowed or not: a cover.
            let conds = match (rules.is_empty(), rng.below(3)) {
                (false, 0 | 1) => {
                    let base = rules[rng.below(rules.len())].clone();
                    let extra = walk_conditions(&mut rng);
                    if rng.bool() && !(base.contains("-p ") && extra.contains("-p ")) {
                        format!("{base} {extra}")
                    } else {
                        base
                    }
                }
                _ => walk_conditions(&mut rng),
            };
            text.push_str(&format!("-A PREROUTING {conds} {}\n", rng.pick(TARGETS)));
            rules.push(conds);
        }
        text.push_str("COMMIT\n");
        let mut packets = Vec::new();
        for i in 0..24 {
            if i > 0 && rng.below(5) == 0 {
                packets.push(serde_json::json!({"reply_to": rng.below(i)}));
                continue;
            }
            let proto = rng.pick(&["tcp", "udp", "icmp", "sctp", "tcp", "tcp"]);
            let mut p = serde_json::json!({
                "from": rng.pick(&["eth0", "eth1", "eth1", "lo"]),
                "src": rng.pick(PACKET_ADDRS), "dst": rng.pick(PACKET_ADDRS), "protocol": proto,
                "mark": rng.pick(&[0u32, 0, 1, 2, 3, 0x4000]), "tos": rng.pick(&[0u8, 0, 0x10, 0x04 << 2]),
                "length": rng.pick(&[60u16, 100, 150, 250]), "ttl": rng.pick(&[5u8, 64]),
            });
            if proto == "icmp" {
                p["icmp_type"] = serde_json::json!(rng.pick(&[8u8, 3, 0, 11]));
                p["icmp_code"] = serde_json::json!(rng.pick(&[0u8, 1, 3]));
            } else {
                p["sport"] = serde_json::json!(rng.pick(&[22u16, 53, 80, 1024, 40000, 25]));
                p["dport"] =
                    serde_json::json!(rng.pick(&[22u16, 20, 25, 30, 53, 55, 80, 123, 443]));
            }
            if proto == "tcp" {
                p["tcp_flags"] =
                    serde_json::json!(rng.pick(&["SYN", "ACK", "SYN,ACK", "FIN,ACK", "RST"]));
            }
            packets.push(p);
        }
        let scenario = serde_json::json!({
            "version": 1, "ruleset": text, "seed": rng.next() % 1000,
            "host": {"interfaces": [{"name": "eth0", "addresses": ["198.51.100.1/24"]},
                                    {"name": "eth1", "addresses": ["10.0.0.1/8"]}],
                     "routes": [{"to": "default", "via": "198.51.100.254", "dev": "eth0"}]},
            "packets": packets,
        });
        let Ok(loaded) = nfsim::scenario::Loaded::from_json(&scenario.to_string()) else {
            continue;
        };
        loaded_cases += 1;
        let parsed = nfsim::parse(&text, None);
        let diags = nfsim::ruleset::lint::lint(&parsed.ruleset);
        let table = &loaded.ruleset.tables[0];
        let mut dead_rules = Vec::new();
        let mut dead_chains = Vec::new();
        for d in &diags {
            for (ci, c) in table.chains.iter().enumerate() {
                if d.code == "W0407" && c.span == d.span {
                    dead_chains.push(ci);
                }
                for (ri, r) in c.rules.iter().enumerate() {
                    if d.code == "W0406" && r.span == d.span {
                        dead_rules.push((ci, ri));
                    }
                }
            }
        }
        assert_eq!(dead_rules.len() + dead_chains.len(), diags.len(), "{text}");
        claims_seen += dead_rules.len();
        let mut state = nfsim::scenario::SimState::new(&loaded, 1, None);
        let Ok(paths) = nfsim::scenario::run(&loaded, &mut state) else {
            continue;
        };
        for (pi, path) in paths.iter().enumerate() {
            for step in &path.steps {
                let nfsim::path::pipeline::PathStep::Table { walk, .. } = step else {
                    continue;
                };
                for s in &walk.steps {
                    use nfsim::path::walk::Step;
                    let chain = match s {
                        Step::Rule {
                            chain,
                            rule,
                            matched,
                            ..
                        } => {
                            assert!(
                                !(*matched && dead_rules.contains(&(*chain, *rule))),
                                "lint: chain {chain} rule {} never matches, but packet {pi} matched it\n{text}\n{}",
                                rule + 1,
                                packets[pi]
                            );
                            *chain
                        }
                        Step::Skipped { chain, .. }
                        | Step::Return { chain }
                        | Step::Policy { chain, .. } => *chain,
                    };
                    assert!(
                        !dead_chains.contains(&chain),
                        "lint: chain {chain} never reached, but walked\n{text}"
                    );
                }
            }
        }
    }
    println!("{loaded_cases} chains walked, {claims_seen} rules lint called dead");
    assert!(
        loaded_cases >= cases && claims_seen > cases / 4,
        "{loaded_cases} {claims_seen}"
    );
}
