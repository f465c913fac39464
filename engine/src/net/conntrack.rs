//! The connection table: connections keyed by their original and reply
//! tuples, the state each packet gets (NEW, ESTABLISHED, INVALID), the status
//! bits the conntrack match reads (SEEN_REPLY, ASSURED, CONFIRMED, and the NAT
//! flags), and the translation an existing connection applies to its later
//! packets and replies without consulting the nat table.
//!
//! TCP follows nf_conntrack_proto_tcp's state machine (`tcp_conntracks`:
//! SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, ... , SYN_SENT2) without its
//! sequence-number windows: every segment is taken to be in window. A segment
//! the table calls invalid (an ACK while the SYN is unanswered, a SYN-ACK from
//! the client, a FIN before the handshake, an invalid flag combination) leaves
//! the packet without a connection (INVALID, so no NAT either); one it
//! ignores keeps the connection unchanged; a SYN reopening a closed connection
//! replaces it; a RST before any reply deletes it. UDP becomes ASSURED only
//! when a packet comes more than 2 s after the first, both ways seen; ICMP
//! never. ICMP queries and errors: errors are RELATED to the connection of
//! the packet they quote (nf_conntrack_inet_error) or INVALID. Not modelled:
//! windows, timeouts, helpers and their expectations.

use crate::net::hash::Fnv;
use crate::net::packet::{icmp_is_error, Packet, Tuple};
use crate::ruleset::model::needs_conntrack;
use crate::ruleset::value::{Proto, TcpFlags};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Status bits, as the conntrack match numbers them for `--ctstatus`.
pub mod status {
    pub const EXPECTED: u32 = 1 << 0;
    pub const SEEN_REPLY: u32 = 1 << 1;
    pub const ASSURED: u32 = 1 << 2;
    pub const CONFIRMED: u32 = 1 << 3;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// The conntrack zone `-j CT --zone` put it in (zone 0 otherwise).
    pub zone: Zone,
    pub orig: Tuple,
    /// The reply tuple, NAT included (DNAT changes its source, SNAT its destination).
    pub reply: Tuple,
    pub status: u32,
    pub snat: bool,
    pub dnat: bool,
    pub mark: u32,
    /// Packets seen in each direction.
    pub packets: [u64; 2],
    /// TCP's tracking state (`TcpState::None` for other protocols).
    pub tcp: TcpTrack,
    /// The scenario clock when the connection was created (UDP's stream timer).
    pub created_ms: u64,
}

/// A conntrack zone (nf_conntrack_zone), as `-j CT --zone N` (both
/// directions), `--zone-orig N` or `--zone-reply N` set it: connections in
/// different zones are different, even with the same tuples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Zone {
    pub id: u16,
    /// The directions the id applies to (nf_ct_zone_id: the other one is zone 0).
    pub orig: bool,
    pub reply: bool,
}

impl Zone {
    /// The zone id for a tuple of this direction.
    pub fn id_for(self, reply: bool) -> u16 {
        if (reply && self.reply) || (!reply && self.orig) {
            self.id
        } else {
            0
        }
    }
}

/// nf_conntrack_proto_tcp's states, numbered as the kernel numbers them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    #[default]
    None = 0,
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
    SynSent2,
}

impl TcpState {
    const ALL: [TcpState; 10] = [
        TcpState::None,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::Established,
        TcpState::FinWait,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::SynSent2,
    ];

    /// As `conntrack -L` prints it (tcp_conntrack_names).
    pub fn name(self) -> &'static str {
        [
            "NONE",
            "SYN_SENT",
            "SYN_RECV",
            "ESTABLISHED",
            "FIN_WAIT",
            "CLOSE_WAIT",
            "LAST_ACK",
            "TIME_WAIT",
            "CLOSE",
            "SYN_SENT2",
        ][self as usize]
    }

    /// The state's timeout in seconds (tcp_timeouts).
    pub fn timeout_s(self) -> u32 {
        [0, 120, 60, 432000, 120, 60, 30, 120, 10, 120][self as usize]
    }
}

/// The per-connection part of TCP tracking that decides transitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpTrack {
    pub state: TcpState,
    /// Direction (reply = true) and flag index of the last segment taken.
    last_reply: bool,
    last_index: u8,
    /// A FIN started the close (IP_CT_TCP_FLAG_CLOSE_INIT, either side).
    close_init: bool,
    /// A SYN came from the reply side first (IP_CT_TCP_SIMULTANEOUS_OPEN).
    simultaneous: bool,
    /// A SYN was let through in LAST_ACK: an ACK answering it is a
    /// challenge ACK, not the last ACK (IP_CT_EXP_CHALLENGE_ACK).
    challenge_ack: bool,
}

/// The segment classes of tcp_conntracks (get_conntrack_index).
const SYN: u8 = 0;
const SYNACK: u8 = 1;
const FIN: u8 = 2;
const ACK: u8 = 3;
const RST: u8 = 4;
const NONE: u8 = 5;

fn tcp_index(flags: TcpFlags) -> u8 {
    if flags.contains(TcpFlags::RST) {
        RST
    } else if flags.contains(TcpFlags::SYN) {
        if flags.contains(TcpFlags::ACK) {
            SYNACK
        } else {
            SYN
        }
    } else if flags.contains(TcpFlags::FIN) {
        FIN
    } else if flags.contains(TcpFlags::ACK) {
        ACK
    } else {
        NONE
    }
}

/// A segment as the TCP tracker classes it, in words.
pub fn tcp_segment_name(flags: TcpFlags) -> &'static str {
    if !tcp_flags_valid(flags) {
        return "segment with an invalid flag combination";
    }
    [
        "SYN",
        "SYN-ACK",
        "FIN",
        "ACK",
        "RST",
        "segment without SYN, ACK, FIN or RST",
    ][tcp_index(flags) as usize]
}

/// tcp_error's table of valid flag combinations (PSH, ECE and CWR aside).
fn tcp_flags_valid(flags: TcpFlags) -> bool {
    use TcpFlags as f;
    let v = flags & (f::FIN | f::SYN | f::RST | f::ACK | f::URG);
    [
        f::SYN,
        f::SYN | f::URG,
        f::SYN | f::ACK,
        f::RST,
        f::RST | f::ACK,
        f::FIN | f::ACK,
        f::FIN | f::ACK | f::URG,
        f::ACK,
        f::ACK | f::URG,
    ]
    .contains(&v)
}

/// sIV and sIG of the table.
const IV: u8 = 10;
const IG: u8 = 11;

/// tcp_conntracks[direction][segment][old state] (Linux 6.x), the new state.
#[rustfmt::skip]
const TCP_CONNTRACKS: [[[u8; 10]; 6]; 2] = [
    // ORIGINAL  sNO sSS sSR sES sFW sCW sLA sTW sCL sS2
    [
        /*syn*/    [1,  1,  IG, IG, IG, IG, IG, 1,  1,  9],
        /*synack*/ [IV, IV, 2,  IV, IV, IV, IV, IV, IV, 2],
        /*fin*/    [IV, IV, 4,  4,  6,  6,  6,  7,  8,  IV],
        /*ack*/    [3,  IV, 3,  3,  5,  5,  7,  7,  8,  IV],
        /*rst*/    [IV, 8,  8,  8,  8,  8,  8,  8,  8,  8],
        /*none*/   [IV; 10],
    ],
    // REPLY     sNO sSS sSR sES sFW sCW sLA sTW sCL sS2
    [
        /*syn*/    [IV, 9,  IV, IV, IV, IV, IV, 1,  IV, 9],
        /*synack*/ [IV, 2,  IG, IG, IG, IG, IG, IG, IG, 2],
        /*fin*/    [IV, IV, 4,  4,  6,  6,  6,  7,  8,  IV],
        /*ack*/    [IV, IG, 2,  3,  5,  5,  7,  7,  8,  IG],
        /*rst*/    [IV, 8,  8,  8,  8,  8,  8,  8,  8,  8],
        /*none*/   [IV; 10],
    ],
];

/// What TCP tracking made of a segment of an existing connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum TcpVerdict {
    /// Taken: the state may have changed. `kill`: a RST before any reply,
    /// after which the kernel deletes the connection.
    Accept { kill: bool },
    /// Let through as part of the connection, the state unchanged (sIG).
    Ignore,
    /// Invalid for the state (sIV) or an invalid flag combination: the
    /// packet leaves the tracker without a connection.
    Invalid,
    /// A SYN reopening a closed or aborted connection: the old one is
    /// deleted and the packet starts a new one.
    Reopen,
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
    /// The scenario clock (milliseconds) for the packet being tracked.
    pub now_ms: u64,
    #[serde(skip)]
    /// (zone id of the tuple's direction, tuple, whether it is the reply tuple) → connection.
    index: HashMap<(u16, Tuple, bool), usize, BuildHasherDefault<Fnv>>,
}

impl ConnTable {
    /// An empty table for `ruleset`: tracking is on when a rule needs it.
    pub fn for_ruleset(ruleset: &crate::ruleset::model::Ruleset) -> ConnTable {
        ConnTable {
            enabled: needs_conntrack(ruleset),
            ..ConnTable::default()
        }
    }

    /// The connection (and direction) `t` belongs to in `zone`, as
    /// __nf_conntrack_find_get finds it: the bucket is hashed with the
    /// zone's id for the original direction, and the entry's zone must equal
    /// the lookup's in the entry's direction.
    fn find(&self, t: &Tuple, zone: Zone) -> Option<(usize, bool)> {
        let bucket = zone.id_for(false);
        if let Some(&id) = self.index.get(&(bucket, *t, false)) {
            return Some((id, false));
        }
        let id = *self.index.get(&(bucket, *t, true))?;
        (zone.id_for(true) == bucket).then_some((id, true))
    }

    /// Whether tuple `t` is some connection's, in either direction, in
    /// `zone` (nf_conntrack_tuple_taken: what NAT must not give a new one).
    pub fn tuple_taken(&self, t: &Tuple, zone: Zone) -> bool {
        self.find(t, zone).is_some()
    }

    /// Classify a packet at PREROUTING or OUTPUT, looked up in `zone`.
    pub fn lookup(&self, p: &Packet, zone: Zone) -> Lookup {
        if p.proto == Proto::ICMP && icmp_is_error(p.icmp_type) {
            // nf_conntrack_inet_error: the quoted packet, inverted, must be a
            // tuple of a known connection, and the error must be addressed to
            // the quoted packet's source. Otherwise the error has no
            // connection: INVALID.
            return match p.inner.and_then(|inner| {
                let hit = self.find(&inner.invert(), zone)?;
                (inner.src == p.dst).then_some(hit)
            }) {
                Some((id, reply)) => Lookup::Related { id, reply },
                None => Lookup::Invalid,
            };
        }
        if let Some((id, reply)) = self.find(&Tuple::of(p), zone) {
            return Lookup::Existing { id, reply };
        }
        let can_start = match p.proto {
            Proto::TCP => {
                // tcp_new: tcp_conntracks[ORIGINAL][.][NONE]: a SYN starts, a
                // bare ACK is picked up (nf_conntrack_tcp_loose).
                tcp_flags_valid(p.tcp_flags)
                    && TCP_CONNTRACKS[0][tcp_index(p.tcp_flags) as usize][0] != IV
            }
            Proto::ICMP => icmp_starts(p.icmp_type),
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
    /// the connection's mark (0 unless CONNMARK set it), `tcp_flags` the first
    /// packet's (a SYN starts in SYN_SENT, a picked-up ACK in ESTABLISHED).
    pub fn confirm(
        &mut self,
        orig: Tuple,
        translated: Tuple,
        mark: u32,
        tcp_flags: TcpFlags,
        zone: Zone,
    ) -> usize {
        let reply = translated.invert();
        let id = self.connections.len();
        let mut tcp = TcpTrack::default();
        if orig.proto == Proto::TCP {
            let index = tcp_index(tcp_flags);
            let state = TCP_CONNTRACKS[0][index as usize][0];
            if state < IV {
                tcp.state = TcpState::ALL[state as usize];
                tcp.last_index = index;
            }
        }
        self.connections.push(Connection {
            zone,
            orig,
            reply,
            status: status::CONFIRMED,
            // IPS_SRC_NAT/IPS_DST_NAT: set by nf_nat_setup_info only when
            // the mapping changed the tuple (an identity NAT sets neither).
            snat: translated.src != orig.src || translated.sport != orig.sport,
            dnat: translated.dst != orig.dst || translated.dport != orig.dport,
            mark,
            packets: [1, 0],
            tcp,
            created_ms: self.now_ms,
        });
        self.index.insert((zone.id_for(false), orig, false), id);
        self.index.insert((zone.id_for(true), reply, true), id);
        id
    }

    /// Count a packet of an existing connection and update its status: a reply
    /// sets SEEN_REPLY (after the protocol looked at it, as nf_conntrack_in
    /// does). UDP becomes ASSURED on a packet more than 2 s after the first
    /// once a reply was seen (nf_conntrack_udp_packet's stream timer); ICMP
    /// never; TCP in [`ConnTable::tcp_packet`]; other protocols on the next
    /// packet after a reply.
    pub fn account(&mut self, id: usize, reply: bool, p: &Packet) {
        let now = self.now_ms;
        let c = &mut self.connections[id];
        c.packets[usize::from(reply)] += 1;
        if c.status & status::SEEN_REPLY != 0 {
            let assured = match p.proto {
                Proto::TCP | Proto::ICMP => false,
                Proto::UDP => now > c.created_ms + 2000,
                _ => !reply,
            };
            if assured {
                c.status |= status::ASSURED;
            }
        }
        if reply {
            c.status |= status::SEEN_REPLY;
        }
    }

    /// nf_conntrack_tcp_packet for a segment of connection `id` (in the
    /// reply direction or not), without the window checks: every segment is
    /// in window. Call it before [`ConnTable::account`].
    pub fn tcp_packet(&mut self, id: usize, reply: bool, flags: TcpFlags) -> TcpVerdict {
        if !tcp_flags_valid(flags) {
            return TcpVerdict::Invalid;
        }
        let c = &mut self.connections[id];
        let t = &mut c.tcp;
        let index = tcp_index(flags);
        let mut old = t.state;
        let mut new = TCP_CONNTRACKS[usize::from(reply)][index as usize][old as usize];
        let mut ignore = new == IG;
        if new == TcpState::SynSent as u8 && old as u8 >= TcpState::TimeWait as u8 {
            // A SYN after the connection closed: a new connection when a FIN
            // or the same side's RST closed it, otherwise ignored.
            if t.close_init || (t.last_reply == reply && t.last_index == RST) {
                return TcpVerdict::Reopen;
            }
            ignore = true;
        }
        if ignore {
            if index == SYNACK && t.last_index == SYN && t.last_reply != reply {
                // The SYN-ACK answers a SYN that was ignored: both ends are in
                // sync, the tracker catches up (the ACK number is taken to match).
                old = TcpState::SynSent;
                new = TcpState::SynRecv as u8;
            } else {
                t.last_index = index;
                t.last_reply = reply;
                if index == SYN && !reply {
                    t.challenge_ack = old == TcpState::LastAck;
                }
                return TcpVerdict::Ignore;
            }
        }
        if new == IV {
            return TcpVerdict::Invalid;
        }
        if new == TcpState::TimeWait as u8
            && old == TcpState::LastAck
            && index == ACK
            && t.last_reply != reply
            && t.last_index == SYN
            && t.challenge_ack
        {
            // RFC 5961's challenge ACK to a spurious SYN: not the last ACK.
            t.challenge_ack = false;
            return TcpVerdict::Ignore;
        }
        if new == TcpState::SynSent2 as u8 {
            t.simultaneous = true;
        }
        if new == TcpState::SynRecv as u8 && reply && index == ACK && t.simultaneous {
            new = TcpState::Established as u8;
        }
        t.last_index = index;
        t.last_reply = reply;
        let new = TcpState::ALL[new as usize];
        t.state = new;
        if old != new && new == TcpState::FinWait {
            t.close_init = true;
        }
        if c.status & status::SEEN_REPLY == 0 {
            // Only a RST answered: the kernel deletes the connection.
            return TcpVerdict::Accept {
                kill: flags.contains(TcpFlags::RST),
            };
        }
        if c.status & status::ASSURED == 0
            && matches!(old, TcpState::SynRecv | TcpState::Established)
            && new == TcpState::Established
        {
            c.status |= status::ASSURED;
        }
        TcpVerdict::Accept { kill: false }
    }

    /// Delete connection `id` (the ids after it move down by one).
    pub fn remove(&mut self, id: usize) {
        if id >= self.connections.len() {
            return;
        }
        let c = self.connections.remove(id);
        for key in [
            (c.zone.id_for(false), c.orig, false),
            (c.zone.id_for(true), c.reply, true),
        ] {
            if self.index.get(&key) == Some(&id) {
                self.index.remove(&key);
            }
        }
        for v in self.index.values_mut() {
            if *v > id {
                *v -= 1;
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
        translate_by(&c.orig, &c.reply, reply, p, dst_side)
    }
}

/// Rewrite a packet of the connection with original tuple `orig` and reply
/// tuple `reply` (as NAT set them) the way its bindings say: at
/// PREROUTING/OUTPUT (`dst_side`) the destination, at POSTROUTING/INPUT the
/// source; an ICMP error's quoted packet mirrored. Whether anything changed.
pub fn translate_by(
    orig: &Tuple,
    reply: &Tuple,
    reply_dir: bool,
    p: &mut Packet,
    dst_side: bool,
) -> bool {
    if p.inner.is_some() {
        // nf_nat_icmp_reply_translation: an ICMP error is rewritten only
        // when the connection has the NAT status this hook undoes (its
        // addresses are not the connection's own: a router's error keeps
        // the router's address).
        let ports = orig.proto != Proto::ICMP;
        let moved = |a: (crate::ruleset::value::Ipv4, u16),
                     b: (crate::ruleset::value::Ipv4, u16)| {
            a.0 != b.0 || (ports && a.1 != b.1)
        };
        let dnat = moved((reply.src, reply.sport), (orig.dst, orig.dport));
        let snat = moved((reply.dst, reply.dport), (orig.src, orig.sport));
        // The status bit of this manip type, the other one in the reply direction.
        if !(if dst_side != reply_dir { dnat } else { snat }) {
            return false;
        }
    }
    // The tuple the packet should carry after translation, in its direction.
    let want = if reply_dir {
        orig.invert()
    } else {
        reply.invert()
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
        let want = if reply_dir { *orig } else { *reply };
        let was = *inner;
        let ports = inner.proto != Proto::ICMP;
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

impl Connection {
    /// The connection as `conntrack -L` prints it, e.g.
    /// `tcp      6 119 SYN_SENT src=192.0.2.50 dst=198.51.100.1 sport=45678 dport=32719 [UNREPLIED] src=203.0.113.10 dst=192.0.2.50 sport=80 dport=45678 mark=0 use=1`.
    /// nfsim has no clock for connections: the timeout is the TCP state's
    /// (nf_conntrack_proto_tcp's defaults; ESTABLISHED without a reply gets
    /// the 300 s of unacknowledged data), UDP's 30 s until ASSURED then 120 s,
    /// ICMP's 30 s.
    pub fn list_line(&self) -> String {
        let replied = self.status & status::SEEN_REPLY != 0;
        let assured = self.status & status::ASSURED != 0;
        let (name, timeout, state) = match self.orig.proto {
            Proto::TCP => {
                let st = self.tcp.state;
                let t = if st == TcpState::Established && !replied {
                    300
                } else {
                    st.timeout_s()
                };
                ("tcp", t, Some(st.name()))
            }
            Proto::UDP => ("udp", if assured { 120 } else { 30 }, None),
            Proto::ICMP => ("icmp", 30, None),
            Proto::SCTP => ("sctp", 30, None),
            _ => ("unknown", 600, None),
        };
        let tuple = |t: &Tuple| {
            if t.proto == Proto::ICMP {
                format!(
                    "src={} dst={} type={} code={}",
                    t.src, t.dst, t.sport, t.dport
                )
            } else {
                format!(
                    "src={} dst={} sport={} dport={}",
                    t.src, t.dst, t.sport, t.dport
                )
            }
        };
        let mut out = format!("{name:<8} {} {timeout} ", self.orig.proto.0);
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
        out.push_str(&format!(" mark={}", self.mark));
        if self.zone.id != 0 {
            out.push_str(&format!(" zone={}", self.zone.id));
        }
        out.push_str(" use=1");
        out
    }
}

#[cfg(test)]
mod list_tests {
    use super::*;
    use crate::ruleset::value::Ipv4;

    fn tcp(flags: TcpFlags) -> Packet {
        Packet {
            src: Ipv4::UNSPECIFIED,
            dst: Ipv4::UNSPECIFIED,
            proto: Proto::TCP,
            sport: 0,
            dport: 0,
            tcp_flags: flags,
            icmp_type: 0,
            icmp_code: 0,
            mark: 0,
            length: 60,
            ttl: 64,
            tos: 0,
            fragment: false,
            inner: None,
        }
    }

    fn t(src: &str, sport: u16, dst: &str, dport: u16) -> Tuple {
        Tuple {
            src: Ipv4::parse(src).unwrap(),
            dst: Ipv4::parse(dst).unwrap(),
            proto: Proto::TCP,
            sport,
            dport,
        }
    }

    #[test]
    fn a_dnatted_syn_lists_as_conntrack_does() {
        const ACK: TcpFlags = TcpFlags::ACK;
        const SYN: TcpFlags = TcpFlags::SYN;
        let mut table = ConnTable::default();
        let id = table.confirm(
            t("192.0.2.50", 45678, "198.51.100.1", 32719),
            t("192.0.2.50", 45678, "203.0.113.10", 80),
            0,
            SYN,
            Zone::default(),
        );
        assert_eq!(
            table.get(id).list_line(),
            "tcp      6 120 SYN_SENT src=192.0.2.50 dst=198.51.100.1 sport=45678 dport=32719 [UNREPLIED] src=203.0.113.10 dst=192.0.2.50 sport=80 dport=45678 mark=0 use=1"
        );
        let seg = |table: &mut ConnTable, reply: bool, flags: TcpFlags| {
            let v = table.tcp_packet(id, reply, flags);
            table.account(id, reply, &tcp(flags));
            v
        };
        // The SYN-ACK answers: SYN_RECV.
        assert_eq!(
            seg(&mut table, true, SYN | ACK),
            TcpVerdict::Accept { kill: false }
        );
        assert!(table
            .get(id)
            .list_line()
            .starts_with("tcp      6 60 SYN_RECV src=192.0.2.50 "));
        // The client's ACK completes the handshake: ESTABLISHED and ASSURED.
        assert_eq!(
            seg(&mut table, false, ACK),
            TcpVerdict::Accept { kill: false }
        );
        let line = table.get(id).list_line();
        assert!(line.starts_with("tcp      6 432000 ESTABLISHED "), "{line}");
        assert!(
            line.ends_with("sport=80 dport=45678 [ASSURED] mark=0 use=1"),
            "{line}"
        );
    }

    #[test]
    fn tcp_segments_follow_tcp_conntracks() {
        const ACK: TcpFlags = TcpFlags::ACK;
        const FIN: TcpFlags = TcpFlags::FIN;
        const RST: TcpFlags = TcpFlags::RST;
        const SYN: TcpFlags = TcpFlags::SYN;
        let mut table = ConnTable::default();
        let id = table.confirm(
            t("192.0.2.50", 1000, "203.0.113.10", 80),
            t("192.0.2.50", 1000, "203.0.113.10", 80),
            0,
            SYN,
            Zone::default(),
        );
        // An ACK from the client before the SYN-ACK is invalid; a SYN again is a retransmission.
        assert_eq!(table.tcp_packet(id, false, ACK), TcpVerdict::Invalid);
        assert_eq!(
            table.tcp_packet(id, false, SYN),
            TcpVerdict::Accept { kill: false }
        );
        assert_eq!(table.tcp_packet(id, false, SYN | FIN), TcpVerdict::Invalid);
        // A RST before any reply deletes the connection.
        assert_eq!(
            table.tcp_packet(id, true, RST | ACK),
            TcpVerdict::Accept { kill: true }
        );
        assert_eq!(table.get(id).tcp.state, TcpState::Close);
        table.remove(id);
        assert!(table.connections.is_empty());
        assert_eq!(table.lookup(&tcp(SYN), Zone::default()), Lookup::New);
    }

    #[test]
    fn zones_keep_connections_apart() {
        const SYN: TcpFlags = TcpFlags::SYN;
        let mut table = ConnTable::default();
        let both = Zone {
            id: 1,
            orig: true,
            reply: true,
        };
        let orig = t("192.0.2.50", 1000, "203.0.113.10", 80);
        let id = table.confirm(orig, orig, 0, SYN, both);
        let mut syn = tcp(SYN);
        (syn.src, syn.dst, syn.sport, syn.dport) = (orig.src, orig.dst, orig.sport, orig.dport);
        assert_eq!(Tuple::of(&syn), orig);
        assert_eq!(
            table.lookup(&syn, both),
            Lookup::Existing { id, reply: false }
        );
        // Zone 0 has no such connection: the same SYN would start a new one.
        assert_eq!(table.lookup(&syn, Zone::default()), Lookup::New);
        assert!(table.get(id).list_line().contains(" mark=0 zone=1 use=1"));
        // A zone for the original direction only: replies are looked up in zone 0.
        let orig_only = Zone {
            id: 2,
            orig: true,
            reply: false,
        };
        let o2 = t("192.0.2.51", 1000, "203.0.113.10", 80);
        let id2 = table.confirm(o2, o2, 0, SYN, orig_only);
        let mut reply = tcp(SYN);
        (reply.src, reply.dst, reply.sport, reply.dport) = (o2.dst, o2.src, o2.dport, o2.sport);
        assert_eq!(
            table.lookup(&reply, Zone::default()),
            Lookup::Existing {
                id: id2,
                reply: true
            }
        );
    }
}
