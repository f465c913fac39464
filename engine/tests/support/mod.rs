//! What the kernel-oracle tests (`pipeline.rs`, `walk.rs`) share: the match
//! state they replay and the oracle's packets. Include with `mod support;`.

use nfsim::net::packet::Packet;
use nfsim::path::eval::{MatchId, MatchState};
use nfsim::ruleset::matches::{LimitMatch, RecentMatch, SetMatch};
use nfsim::ruleset::value::{Ipv4, Proto, TcpFlags};
use serde_json::Value;
use std::collections::HashMap;

/// Replays the kernel's random draws: each of `randoms` in turn (0 matches,
/// the largest value does not), then no match. nth counters count as
/// xt_statistic does (the engine's own counter is tested in eval.rs); limit
/// spends its bucket (avg × burst credits, avg a packet) with no time passing
/// (the oracle sends its packets within milliseconds), recent never matches, there are no ipsets, and extensions
/// nfsim does not evaluate are assumed not to match.
#[derive(Default)]
pub struct Replay {
    pub randoms: Vec<u32>,
    pub nth: HashMap<MatchId, u32>,
    pub limits: HashMap<MatchId, u64>,
}

impl MatchState for Replay {
    fn random(&mut self, _: MatchId, threshold: u32) -> bool {
        let r: u32 = {
            if self.randoms.is_empty() {
                u32::MAX
            } else {
                self.randoms.remove(0)
            }
        };
        (r & 0x7fff_ffff) < threshold
    }
    fn nth(&mut self, id: MatchId, every: u32) -> u32 {
        let c = self.nth.entry(id).or_insert(every - 1);
        *c = if *c == every - 1 { 0 } else { *c + 1 };
        *c
    }
    fn limit(&mut self, id: MatchId, m: &LimitMatch) -> bool {
        let credit = self
            .limits
            .entry(id)
            .or_insert(m.avg as u64 * m.burst as u64);
        if *credit >= m.avg as u64 {
            *credit -= m.avg as u64;
            true
        } else {
            false
        }
    }
    fn recent(&mut self, _: &RecentMatch, _: Ipv4, _: u8) -> bool {
        false
    }
    fn ipset(&mut self, _: &SetMatch, _: &Packet) -> Option<bool> {
        None
    }
    fn assume(&mut self, _: &str) -> bool {
        false
    }
}

/// A packet as an oracle case writes it (`proto`, `src`, `dst`, ports,
/// `tcp_flags`, ICMP type and code, an ICMP error's `payload`).
pub fn packet(p: &Value) -> Packet {
    let proto = match p["proto"].as_str().unwrap() {
        "tcp" => Proto::TCP,
        "udp" => Proto::UDP,
        "icmp" => Proto::ICMP,
        other => panic!("{other}"),
    };
    Packet {
        src: p["src"]
            .as_str()
            .map_or(Ipv4::UNSPECIFIED, |s| Ipv4::parse(s).unwrap()),
        dst: Ipv4::parse(p["dst"].as_str().unwrap()).unwrap(),
        proto,
        sport: p["sport"].as_u64().unwrap_or(0) as u16,
        dport: p["dport"].as_u64().unwrap_or(0) as u16,
        tcp_flags: TcpFlags::parse(p["tcp_flags"].as_str().unwrap_or("")).unwrap(),
        icmp_type: p["icmp_type"]
            .as_u64()
            .unwrap_or(if proto == Proto::ICMP { 8 } else { 0 }) as u8,
        icmp_code: p["icmp_code"].as_u64().unwrap_or(0) as u8,
        mark: p["mark"].as_u64().unwrap_or(0) as u32,
        // The oracle sends an ICMP message's payload after its 8-byte header.
        length: match p["payload"].as_array() {
            Some(b) if proto == Proto::ICMP => 28 + b.len() as u16,
            _ => 60,
        },
        ttl: p["ttl"].as_u64().unwrap_or(64) as u8,
        tos: 0,
        fragment: false,
        inner: inner(p),
    }
}

/// An ICMP error's quoted packet, read from the payload bytes the oracle sent.
fn inner(p: &Value) -> Option<nfsim::net::packet::Tuple> {
    let icmp_type = u8::try_from(p["icmp_type"].as_u64()?).ok()?;
    if !nfsim::net::packet::icmp_is_error(icmp_type) {
        return None;
    }
    let b: Vec<u8> = p["payload"]
        .as_array()?
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    let ip = |i: usize| Ipv4::from([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let port = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    // nfsim's ICMP tuples hold the quoted packet's type and code.
    let (sport, dport) = match b[9] {
        1 => (b[20] as u16, b[21] as u16),
        _ => (port(20), port(22)),
    };
    Some(nfsim::net::packet::Tuple {
        src: ip(12),
        dst: ip(16),
        proto: Proto(b[9]),
        sport,
        dport,
    })
}
