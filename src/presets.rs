//! The teaching presets of the "Examples" gallery: each is a complete
//! scenario (the engine's scenario JSON, version 1, which
//! `nfsim trace src/presets/<id>.json` also runs) with a title, a one-line
//! explanation, and the fate each of its packets meets.
//!
//! The rulesets are iptables-save text as the real tools write it (checked
//! with `iptables-nft-restore`/`iptables-save` round trips); only the leading
//! `#` comments are ours. Addresses are the documentation ranges
//! (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) for anything public and
//! private ranges for pods, containers and LANs. Packets use only the keys the
//! playground's packet form can show (`from`, `src`, `dst`, `protocol`, ports,
//! `tcp_flags`, ICMP type/code, `mark`, `uid`) or `reply_to`.
//!
//! Where the rules come from: `kube-nodeport` is the playground's default
//! example ([`crate::view_model::EXAMPLE`]) on the default host
//! ([`crate::session::DEFAULT_ADDRS`], [`crate::session::DEFAULT_ROUTES`]);
//! `kube-clusterip` is kube-proxy's iptables mode (chain names are kube-proxy's
//! own hashes of the service port and endpoints); `docker-published-port` is
//! Docker Engine 28.5's iptables backend (its bridge driver's golden rules,
//! plus the daemon's `DOCKER-USER` chain and `FORWARD` policy DROP);
//! `zones-goto` is firewalld 0.8's iptables backend, INPUT side.
//!
//! Every preset's packets were also replayed in the kernel oracle (Linux 6.18,
//! nft and legacy backends): the kernel matched the same rules, in the same
//! order, and gave the same fates and outgoing packets, with kube-proxy's
//! random endpoint choices compared on the runs where the kernel drew the same
//! endpoint, and `--random-fully` source ports left out. The NodePort reply
//! was not replayed (it answers a `--random-fully` port the kernel picks).

use nfsim::path::pipeline::{Fate, PacketPath};

/// One preset of the gallery.
pub struct Preset {
    /// Kebab-case and stable: used in URLs and tests.
    pub id: &'static str,
    /// The gallery button's name.
    pub title: &'static str,
    /// One line: what the packets show.
    pub explanation: &'static str,
    /// The scenario JSON (`src/presets/<id>.json`).
    pub scenario: &'static str,
    /// Each packet's fate, in order, with the scenario's own seed:
    /// the kind of fate as the CLI's JSON names it (`packets[i].fate.result`:
    /// `delivered-local`, `forwarded`, `sent`, `dropped`, `rejected`,
    /// `queued`, `dropped-outside-rules`), and for a packet that leaves the
    /// host (`forwarded`, `sent`) a space and where it leaves to, from
    /// `packet_out`: `destination:port` (`forwarded 10.0.0.5:80`), or the
    /// bare destination address for a packet without ports (ICMP). See
    /// [`fate_words`].
    pub expected: &'static [&'static str],
}

/// The gallery, in order; the first is the default.
pub const PRESETS: &[Preset] = &[
    Preset {
        id: "kube-nodeport",
        title: "kube-proxy NodePort",
        explanation: "A client reaches NodePort 32719: KUBE-NODEPORTS marks it for masquerade, a random KUBE-SEP chain DNATs it to a pod, POSTROUTING masquerades it; conntrack alone un-NATs the reply.",
        scenario: include_str!("presets/kube-nodeport.json"),
        expected: &["forwarded 203.0.113.10:80", "forwarded 192.0.2.50:45678"],
    },
    Preset {
        id: "kube-clusterip",
        title: "kube-proxy ClusterIP",
        explanation: "ClusterIP 10.96.0.80:80 from a pod that is its own endpoint (hairpin: KUBE-MARK-MASQ, then MASQUERADE), from another pod (PREROUTING, no SNAT) and from a host process (OUTPUT, masqueraded).",
        scenario: include_str!("presets/kube-clusterip.json"),
        expected: &[
            "forwarded 10.244.1.5:8080",
            "forwarded 10.244.2.7:8080",
            "sent 10.244.2.7:8080",
        ],
    },
    Preset {
        id: "docker-published-port",
        title: "Docker -p 8080:80",
        explanation: "Docker 28.5's rules for `docker run -p 8080:80`: INPUT's policy DROP never sees the published port, because DNAT sends it through FORWARD; only a DOCKER-USER rule blocks it.",
        scenario: include_str!("presets/docker-published-port.json"),
        expected: &[
            "forwarded 172.17.0.2:80",
            "forwarded 192.0.2.50:45678",
            "dropped",
        ],
    },
    Preset {
        id: "home-router",
        title: "Home router",
        explanation: "A LAN client masqueraded out of the WAN and its reply let back in as ESTABLISHED, a port forward (DNAT) accepted by --ctstate DNAT, and an unsolicited WAN-to-LAN connection dropped.",
        scenario: include_str!("presets/home-router.json"),
        expected: &[
            "forwarded 192.0.2.80:443",
            "forwarded 192.168.1.10:51000",
            "forwarded 192.168.1.20:80",
            "dropped",
        ],
    },
    Preset {
        id: "stateful-firewall",
        title: "Stateful host firewall",
        explanation: "INPUT policy DROP: SSH is accepted, MySQL is dropped, the reply to the host's own HTTPS connection gets in as ESTABLISHED, and loopback traffic is accepted.",
        scenario: include_str!("presets/stateful-firewall.json"),
        expected: &[
            "delivered-local",
            "dropped",
            "sent 192.0.2.80:443",
            "delivered-local",
            "delivered-local",
        ],
    },
    Preset {
        id: "zones-goto",
        title: "firewalld zones (goto)",
        explanation: "INPUT_ZONES uses -g: when zone internal (eth1) does not allow port 80, falling off IN_internal returns to INPUT, not to INPUT_ZONES' catch-all zone, so :80 is rejected on eth1 but accepted on eth0.",
        scenario: include_str!("presets/zones-goto.json"),
        expected: &["delivered-local", "delivered-local", "rejected"],
    },
    Preset {
        id: "raw-reject-log-nth",
        title: "raw, REJECT, LOG, nth",
        explanation: "One point per packet: raw NOTRACK skips the DNAT, REJECT answers while DROP is silent, LOG then DROP, and an nth ladder (--every 3, --every 2, the rest) cycles new connections over three backends.",
        scenario: include_str!("presets/raw-reject-log-nth.json"),
        expected: &[
            "delivered-local",
            "rejected",
            "dropped",
            "dropped",
            "forwarded 10.0.0.11:80",
            "forwarded 10.0.0.12:80",
            "forwarded 10.0.0.13:80",
            "forwarded 10.0.0.11:80",
        ],
    },
];

/// The preset with this id.
pub fn preset(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

/// A packet's fate in the words of [`Preset::expected`]: the CLI's fate kind,
/// and for a packet that left the host where it left to
/// ([`crate::timeline::destination`]).
pub fn fate_words(path: &PacketPath) -> String {
    let kind = match &path.fate {
        Fate::DeliveredLocal => "delivered-local",
        Fate::Forwarded { .. } => "forwarded",
        Fate::Sent { .. } => "sent",
        Fate::Dropped { .. } => "dropped",
        Fate::Rejected { .. } => "rejected",
        Fate::Queued { .. } => "queued",
        Fate::DroppedOutsideRules { .. } => "dropped-outside-rules",
    };
    match (&path.fate, &path.packet_out) {
        (Fate::Forwarded { .. } | Fate::Sent { .. }, Some(_)) => {
            format!("{kind} {}", crate::timeline::destination(path))
        }
        _ => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet_form::PacketForm;
    use crate::session::{DEFAULT_ADDRS, DEFAULT_ROUTES};
    use crate::view_model::EXAMPLE;
    use nfsim::net::host::Host;
    use nfsim::scenario::{self, Loaded, SimState};
    use serde_json::Value;
    use std::collections::HashSet;

    fn load(p: &Preset) -> Loaded {
        Loaded::from_json(p.scenario)
            .unwrap_or_else(|e| panic!("{}: the scenario does not load: {e}", p.id))
    }

    /// Runs a preset as `nfsim trace` does: one seeded state, every packet in order.
    fn run(loaded: &Loaded) -> Vec<PacketPath> {
        let mut state = SimState::new(loaded, loaded.scenario.seed, None);
        scenario::run(loaded, &mut state).expect("the scenario runs")
    }

    #[test]
    fn ids_are_unique_kebab_case_and_the_nodeport_walk_comes_first() {
        assert_eq!(PRESETS[0].id, "kube-nodeport");
        let mut seen = HashSet::new();
        for p in PRESETS {
            assert!(seen.insert(p.id), "{} twice", p.id);
            assert!(
                !p.id.is_empty()
                    && p.id.split('-').all(|w| !w.is_empty()
                        && w.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{} is not kebab-case",
                p.id
            );
            assert!(
                !p.title.is_empty() && p.title.len() <= 32,
                "{}: title",
                p.id
            );
            assert!(!p.explanation.contains('\n'), "{}: one line", p.id);
            assert_eq!(preset(p.id).map(|q| q.title), Some(p.title));
        }
        assert!(preset("no-such-preset").is_none());
    }

    #[test]
    fn every_ruleset_parses_without_errors_or_warnings() {
        for p in PRESETS {
            let loaded = load(p);
            let parsed = nfsim::parse(&loaded.scenario.ruleset, None);
            // Nor what the playground's lint would flag (rules that can
            // never match, chains never reached).
            let problems: Vec<String> = parsed
                .diagnostics
                .iter()
                .chain(&nfsim::ruleset::lint::lint(&parsed.ruleset))
                .map(|d| format!("{d:?}"))
                .collect();
            assert!(problems.is_empty(), "{}: {problems:#?}", p.id);
        }
    }

    #[test]
    fn every_packet_meets_its_expected_fate() {
        for p in PRESETS {
            let loaded = load(p);
            let paths = run(&loaded);
            let got: Vec<String> = paths.iter().map(fate_words).collect();
            assert_eq!(got, p.expected, "{}", p.id);
            // The kind is the CLI's own word for it.
            for path in &paths {
                let json = scenario::path_json(&loaded.ruleset, path);
                let kind = json["fate"]["result"].as_str().unwrap();
                assert!(
                    fate_words(path).split(' ').next() == Some(kind),
                    "{}: {kind}",
                    p.id
                );
            }
        }
    }

    #[test]
    fn packets_use_only_what_the_playground_can_show() {
        const KEYS: &[&str] = &[
            "from",
            "src",
            "dst",
            "protocol",
            "sport",
            "dport",
            "tcp_flags",
            "icmp_type",
            "icmp_code",
            "mark",
            "uid",
        ];
        for p in PRESETS {
            let v: Value = serde_json::from_str(p.scenario).unwrap();
            assert_eq!(v["version"], 1, "{}", p.id);
            for key in v.as_object().unwrap().keys() {
                assert!(
                    ["version", "seed", "host", "ruleset", "packets", "ipsets"]
                        .contains(&key.as_str()),
                    "{}: scenario key {key}",
                    p.id
                );
            }
            for (key, value) in v["host"].as_object().unwrap() {
                assert!(
                    ["interfaces", "routes", "sysctl"].contains(&key.as_str()),
                    "{}: host {key}",
                    p.id
                );
                let _ = value;
            }
            for (i, packet) in v["packets"].as_array().unwrap().iter().enumerate() {
                let packet = packet.as_object().unwrap();
                if packet.contains_key("reply_to") {
                    assert_eq!(packet.len(), 1, "{} packet {i}: reply_to alone", p.id);
                    continue;
                }
                for key in packet.keys() {
                    assert!(
                        KEYS.contains(&key.as_str()),
                        "{} packet {i}: key {key}",
                        p.id
                    );
                }
                if let Some(proto) = packet.get("protocol") {
                    assert!(
                        ["tcp", "udp", "icmp", "sctp"].contains(&proto.as_str().unwrap()),
                        "{} packet {i}: protocol {proto}",
                        p.id
                    );
                }
            }
        }
    }

    /// Every IPv4 address a preset names, in its host, packets and ruleset.
    fn addresses(text: &str) -> Vec<[u8; 4]> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let starts = bytes[i].is_ascii_digit()
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.'));
            if starts {
                let end = (i..bytes.len())
                    .find(|&j| !(bytes[j].is_ascii_digit() || bytes[j] == b'.'))
                    .unwrap_or(bytes.len());
                let word = text[i..end].trim_end_matches('.');
                let parts: Vec<&str> = word.split('.').collect();
                if parts.len() == 4 {
                    if let Ok(a) = parts
                        .iter()
                        .map(|p| p.parse::<u8>())
                        .collect::<Result<Vec<u8>, _>>()
                    {
                        out.push([a[0], a[1], a[2], a[3]]);
                    }
                }
                i = end;
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn addresses_are_documentation_private_loopback_or_multicast() {
        for p in PRESETS {
            let found = addresses(p.scenario);
            assert!(!found.is_empty(), "{}", p.id);
            for a in found {
                let ok = matches!(a, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _])
                    || a[0] == 10
                    || (a[0] == 172 && (16..32).contains(&a[1]))
                    || (a[0] == 192 && a[1] == 168)
                    || a[0] == 127
                    || (224..240).contains(&a[0])
                    || a == [0, 0, 0, 0];
                assert!(ok, "{}: {}.{}.{}.{}", p.id, a[0], a[1], a[2], a[3]);
            }
        }
    }

    #[test]
    fn the_default_preset_is_the_playgrounds_default_walk() {
        let p = &PRESETS[0];
        let loaded = load(p);
        assert_eq!(loaded.scenario.ruleset, EXAMPLE);
        let host = Host::from_ip_text(DEFAULT_ADDRS, DEFAULT_ROUTES, loaded.host.sysctl)
            .expect("the default host");
        assert_eq!(loaded.host, host);
        let v: Value = serde_json::from_str(p.scenario).unwrap();
        let form = PacketForm::default()
            .to_spec(&["eth0".to_string(), "eth1".to_string()])
            .unwrap();
        assert_eq!(v["packets"][0], form);
        assert_eq!(v["packets"][1], serde_json::json!({"reply_to": 0}));
    }
}
