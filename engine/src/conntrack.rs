//! The connection table: connections keyed by their original and reply
//! tuples, the state each packet gets (NEW, ESTABLISHED, INVALID), the status
//! bits the conntrack match reads (SEEN_REPLY, ASSURED, CONFIRMED, and the NAT
//! flags), and the translation an existing connection applies to its later
//! packets and replies without consulting the nat table.
//!
//! It follows nf_conntrack for TCP's start of a connection (a SYN starts one, a
//! bare ACK is picked up as `nf_conntrack_tcp_loose` allows, SYN-ACK, FIN, RST
//! or no flags without a connection are INVALID), UDP and ICMP queries, and
//! ICMP errors, which are RELATED to the connection of the packet they quote
//! (nf_conntrack_inet_error) or INVALID. It does not model sequence-number
//! windows, timeouts, or helpers and their expectations.

use crate::packet::{tcp_flags, Packet};
use crate::ruleset::Fnv;
use crate::value::{fmt_ipv4, Ipv4};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// One direction of a connection: what a packet's headers must be to belong to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Tuple {
    pub src: Ipv4,
    pub dst: Ipv4,
    pub proto: u8,
    /// Ports for TCP/UDP/SCTP; for ICMP queries, type and code.
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    pub fn of(p: &Packet) -> Tuple {
        if p.proto == 1 {
            Tuple {
                src: p.src,
                dst: p.dst,
                proto: 1,
                sport: p.icmp_type as u16,
                dport: p.icmp_code as u16,
            }
        } else {
            Tuple {
                src: p.src,
                dst: p.dst,
                proto: p.proto,
                sport: p.sport,
                dport: p.dport,
            }
        }
    }

    /// The tuple the answer would carry.
    pub fn invert(&self) -> Tuple {
        if self.proto == 1 {
            let reply = match self.sport {
                8 => 0,
                13 => 14,
                15 => 16,
                17 => 18,
                t => t,
            };
            Tuple {
                src: self.dst,
                dst: self.src,
                proto: 1,
                sport: reply,
                dport: self.dport,
            }
        } else {
            Tuple {
                src: self.dst,
                dst: self.src,
                proto: self.proto,
                sport: self.dport,
                dport: self.sport,
            }
        }
    }
}

/// Status bits, as the conntrack match numbers them for `--ctstatus`.
pub mod status {
    pub const EXPECTED: u32 = 1 << 0;
    pub const SEEN_REPLY: u32 = 1 << 1;
    pub const ASSURED: u32 = 1 << 2;
    pub const CONFIRMED: u32 = 1 << 3;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Connection {
    pub orig: Tuple,
    /// The reply tuple, NAT included (DNAT changes its source, SNAT its destination).
    pub reply: Tuple,
    pub status: u32,
    pub snat: bool,
    pub dnat: bool,
    pub mark: u32,
    /// Packets seen in each direction.
    pub packets: [u64; 2],
}

/// What the tracker says about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Lookup {
    /// A packet of an existing connection, in the reply direction or not.
    Existing { id: usize, reply: bool },
    /// An ICMP error about a packet of an existing connection (RELATED).
    Related { id: usize, reply: bool },
    /// The first packet of a new connection.
    New,
    /// No connection, and this packet cannot start one.
    Invalid,
}

/// ICMP error types (icmp_is_err): they never start a connection.
fn icmp_is_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// ICMP types that may start a connection (nf_conntrack_proto_icmp's valid_new).
fn icmp_starts(t: u8) -> bool {
    matches!(t, 8 | 13 | 15 | 17)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConnTable {
    /// Whether connection tracking runs at all: a network namespace tracks
    /// connections only once a rule needs it (see [`needs_conntrack`]).
    pub enabled: bool,
    pub connections: Vec<Connection>,
    #[serde(skip)]
    index: HashMap<Tuple, (usize, bool), BuildHasherDefault<Fnv>>,
}

/// Whether any rule of the ruleset makes the kernel track connections
/// (`nf_ct_netns_get` in the extension's check): NAT targets, CT/NOTRACK,
/// CONNMARK, and the conntrack, state and connmark matches. A nat table whose
/// rules need none of these does not enable tracking, and without a connection
/// the nat chains are never traversed.
pub fn needs_conntrack(ruleset: &crate::ruleset::Ruleset) -> bool {
    use crate::matches::MatchKind;
    use crate::ruleset::Target;
    use crate::targets::TargetKind;
    ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
        .any(|r| {
            r.matches
                .iter()
                .any(|m| matches!(m.kind, MatchKind::Conntrack(_) | MatchKind::Connmark(_)))
                || matches!(
                    &r.target,
                    Target::Extension {
                        target: TargetKind::Dnat(_)
                            | TargetKind::Snat(_)
                            | TargetKind::Masquerade(_)
                            | TargetKind::Redirect(_)
                            | TargetKind::Netmap { .. }
                            | TargetKind::Ct(_)
                            | TargetKind::Notrack
                            | TargetKind::Connmark(_)
                    }
                )
        })
}

impl ConnTable {
    /// An empty table for `ruleset`: tracking is on when a rule needs it.
    pub fn for_ruleset(ruleset: &crate::ruleset::Ruleset) -> ConnTable {
        ConnTable {
            enabled: needs_conntrack(ruleset),
            ..ConnTable::default()
        }
    }

    /// Classify a packet at PREROUTING or OUTPUT.
    pub fn lookup(&self, p: &Packet) -> Lookup {
        if p.proto == 1 && icmp_is_error(p.icmp_type) {
            // nf_conntrack_inet_error: the quoted packet, inverted, must be a
            // tuple of a known connection, and the error must be addressed to
            // the quoted packet's source. Otherwise the error has no
            // connection: INVALID.
            return match p.inner.and_then(|inner| {
                let hit = self.index.get(&inner.invert())?;
                (inner.src == p.dst).then_some(*hit)
            }) {
                Some((id, reply)) => Lookup::Related { id, reply },
                None => Lookup::Invalid,
            };
        }
        if let Some(&(id, reply)) = self.index.get(&Tuple::of(p)) {
            return Lookup::Existing { id, reply };
        }
        let can_start = match p.proto {
            6 => {
                let f = p.tcp_flags
                    & (tcp_flags::SYN | tcp_flags::ACK | tcp_flags::FIN | tcp_flags::RST);
                // tcp_conntracks[.][.][NONE]: SYN starts, a bare ACK is picked up (tcp_loose).
                f == tcp_flags::SYN || f == tcp_flags::ACK
            }
            1 => icmp_starts(p.icmp_type),
            _ => true,
        };
        if can_start {
            Lookup::New
        } else {
            Lookup::Invalid
        }
    }

    /// CONNMARK changed the connection's mark.
    pub fn set_mark(&mut self, id: usize, mark: u32) {
        self.connections[id].mark = mark;
    }

    pub fn get(&self, id: usize) -> &Connection {
        &self.connections[id]
    }

    /// Confirm a new connection once its first packet leaves the last hook:
    /// `orig` as the packet arrived, `translated` as it left (after NAT), `mark`
    /// the connection's mark (0 unless CONNMARK set it).
    pub fn confirm(&mut self, orig: Tuple, translated: Tuple, mark: u32) -> usize {
        let reply = translated.invert();
        let id = self.connections.len();
        self.connections.push(Connection {
            orig,
            reply,
            status: status::CONFIRMED,
            // IPS_SRC_NAT/IPS_DST_NAT: set by nf_nat_setup_info only when
            // the mapping changed the tuple (an identity NAT sets neither).
            snat: translated.src != orig.src || translated.sport != orig.sport,
            dnat: translated.dst != orig.dst || translated.dport != orig.dport,
            mark,
            packets: [1, 0],
        });
        self.index.insert(orig, (id, false));
        self.index.insert(reply, (id, true));
        id
    }

    /// Count a packet of an existing connection and update its status: a reply
    /// sets SEEN_REPLY; TCP becomes ASSURED when the handshake completes with an
    /// ACK after the reply, other protocols on the next packet after a reply.
    pub fn account(&mut self, id: usize, reply: bool, p: &Packet) {
        let c = &mut self.connections[id];
        c.packets[usize::from(reply)] += 1;
        if reply {
            c.status |= status::SEEN_REPLY;
        } else if c.status & status::SEEN_REPLY != 0 {
            let assured = match p.proto {
                6 => p.tcp_flags & tcp_flags::ACK != 0,
                _ => true,
            };
            if assured {
                c.status |= status::ASSURED;
            }
        }
    }

    /// The conntrack state a packet of connection `id` shows (before `account`).
    pub fn state(&self, id: usize, reply: bool) -> u32 {
        // ctstate bits: ESTABLISHED = 1 << 1, NEW = 1 << 3.
        if reply || self.connections[id].status & status::SEEN_REPLY != 0 {
            1 << 1
        } else {
            1 << 3
        }
    }

    /// Rewrite a packet of an existing connection the way its bindings say:
    /// at PREROUTING/OUTPUT (`dst_side`) the destination, at POSTROUTING/INPUT
    /// the source.
    pub fn translate(&self, id: usize, reply: bool, p: &mut Packet, dst_side: bool) -> bool {
        let c = &self.connections[id];
        // The tuple the packet should carry after translation, in its direction.
        let want = if reply {
            c.orig.invert()
        } else {
            c.reply.invert()
        };
        let before = (p.src, p.sport, p.dst, p.dport);
        let ports = p.has_ports();
        if dst_side {
            p.dst = want.dst;
            if ports {
                p.dport = want.dport;
            }
        } else {
            p.src = want.src;
            if ports {
                p.sport = want.sport;
            }
        }
        let mut changed = before != (p.src, p.sport, p.dst, p.dport);
        if let Some(inner) = &mut p.inner {
            // nf_nat_icmp_reply_translation: the quoted packet travelled the
            // other way; it gets the same manipulation, mirrored.
            let want = if reply { c.orig } else { c.reply };
            let was = *inner;
            let ports = inner.proto != 1;
            if dst_side {
                inner.src = want.src;
                if ports {
                    inner.sport = want.sport;
                }
            } else {
                inner.dst = want.dst;
                if ports {
                    inner.dport = want.dport;
                }
            }
            changed |= was != *inner;
        }
        changed
    }
}

impl Connection {
    /// The connection as `conntrack -L` prints it, e.g.
    /// `tcp      6 119 SYN_SENT src=192.0.2.50 dst=198.51.100.1 sport=45678 dport=32719 [UNREPLIED] src=203.0.113.10 dst=192.0.2.50 sport=80 dport=45678 mark=0 use=1`.
    /// nfsim has no clock for connections and no TCP window tracking: the TCP
    /// state is what the handshake seen so far gives (SYN_SENT until a reply,
    /// SYN_RECV after it, ESTABLISHED once ASSURED), and the timeout is that
    /// state's initial one (nf_conntrack_proto_tcp/udp/icmp defaults).
    pub fn list_line(&self) -> String {
        let replied = self.status & status::SEEN_REPLY != 0;
        let assured = self.status & status::ASSURED != 0;
        let (name, timeout, state) = match self.orig.proto {
            6 => {
                let (t, st) = if assured {
                    (432000, "ESTABLISHED")
                } else if replied {
                    (60, "SYN_RECV")
                } else {
                    (120, "SYN_SENT")
                };
                ("tcp", t, Some(st))
            }
            17 => ("udp", if assured { 120 } else { 30 }, None),
            1 => ("icmp", 30, None),
            132 => ("sctp", 30, None),
            _ => ("unknown", 600, None),
        };
        let tuple = |t: &Tuple| {
            if t.proto == 1 {
                format!("src={} dst={} type={} code={}", fmt_ipv4(t.src), fmt_ipv4(t.dst), t.sport, t.dport)
            } else {
                format!("src={} dst={} sport={} dport={}", fmt_ipv4(t.src), fmt_ipv4(t.dst), t.sport, t.dport)
            }
        };
        let mut out = format!("{name:<8} {} {timeout} ", self.orig.proto);
        if let Some(st) = state {
            out.push_str(st);
            out.push(' ');
        }
        out.push_str(&tuple(&self.orig));
        if !replied {
            out.push_str(" [UNREPLIED]");
        }
        out.push(' ');
        out.push_str(&tuple(&self.reply));
        if assured {
            out.push_str(" [ASSURED]");
        }
        out.push_str(&format!(" mark={} use=1", self.mark));
        out
    }
}

#[cfg(test)]
mod list_tests {
    use super::*;
    use crate::value::parse_ipv4;

    fn t(src: &str, sport: u16, dst: &str, dport: u16) -> Tuple {
        Tuple { src: parse_ipv4(src).unwrap(), dst: parse_ipv4(dst).unwrap(), proto: 6, sport, dport }
    }

    #[test]
    fn a_dnatted_syn_lists_as_conntrack_does() {
        let mut table = ConnTable::default();
        let id = table.confirm(t("192.0.2.50", 45678, "198.51.100.1", 32719), t("192.0.2.50", 45678, "203.0.113.10", 80), 0);
        assert_eq!(
            table.get(id).list_line(),
            "tcp      6 120 SYN_SENT src=192.0.2.50 dst=198.51.100.1 sport=45678 dport=32719 [UNREPLIED] src=203.0.113.10 dst=192.0.2.50 sport=80 dport=45678 mark=0 use=1"
        );
        table.connections[id].status |= status::SEEN_REPLY;
        assert!(table.get(id).list_line().starts_with("tcp      6 60 SYN_RECV src=192.0.2.50 "));
        table.connections[id].status |= status::ASSURED;
        assert!(table.get(id).list_line().ends_with("sport=80 dport=45678 [ASSURED] mark=0 use=1"));
    }
}
