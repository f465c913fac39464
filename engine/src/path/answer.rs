//! What the host sends by itself because of a packet: REJECT's TCP reset or
//! ICMP error (ipt_REJECT: whether it answers at all, the packet it builds,
//! the interface it leaves by) and the stack's own answers to a packet
//! delivered to it (an echo or timestamp reply, a RST from a closed port, a
//! UDP port unreachable); and the connection REJECT's answer carries
//! (nf_ct_attach: the rejected packet's, RELATED, in the other direction).
//!
//! Not here: walking an answer through OUTPUT and POSTROUTING and its nat
//! stage, which are the pipeline's (an answer is a locally generated packet
//! like any other), nor the [`Answer`](super::pipeline::Answer) record that
//! walk produces.

use crate::net::conntrack::ConnTable;
use crate::net::host::{Host, RouteResult};
use crate::net::packet::{icmp_is_error, Packet, Tuple};
use crate::path::eval::{ConnView, Socket};
use crate::path::route::route_output;
use crate::ruleset::model::Hook;
use crate::ruleset::value::{Ipv4, Proto, TcpFlags};
use serde::Serialize;

/// Why the host sent an [`Answer`](super::pipeline::Answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerCause {
    /// The REJECT target's TCP reset or ICMP error (nf_send_reset, icmp_send).
    Reject,
    /// An ICMP echo or timestamp reply (icmp_reply).
    EchoReply,
    /// A TCP RST for a segment to a port nothing listens on (tcp_v4_send_reset).
    Reset,
    /// An ICMP port unreachable for a UDP datagram to a port nothing listens on.
    PortUnreachable,
    /// An ICMP time exceeded for a packet to forward whose TTL ran out (ip_forward).
    TimeExceeded,
    /// An ICMP destination unreachable for a packet to forward that has no
    /// route, an unreachable or a prohibit route (ip_error).
    Unreachable,
}

impl AnswerCause {
    pub fn name(self) -> &'static str {
        match self {
            AnswerCause::Reject => "reject",
            AnswerCause::EchoReply => "echo-reply",
            AnswerCause::Reset => "reset",
            AnswerCause::PortUnreachable => "port-unreachable",
            AnswerCause::TimeExceeded => "time-exceeded",
            AnswerCause::Unreachable => "unreachable",
        }
    }
}

/// REJECT's answer carries the rejected packet's connection (nf_ct_attach:
/// RELATED, in the other direction), so conntrack OUTPUT leaves it alone and
/// NAT translates it by that connection's bindings.
#[derive(Clone, Debug)]
pub(super) struct Attached {
    pub(super) view: ConnView,
    /// The connection's original and reply tuples, as NAT has set them so far.
    orig: Tuple,
    reply: Tuple,
    /// The connection in the table, when it is confirmed already.
    pub(super) existing: Option<usize>,
    /// Whether the rejected packet's connection had its destination (nat
    /// PREROUTING/OUTPUT) and source (nat INPUT/POSTROUTING) bindings set up:
    /// where not, the answer walks that nat chain itself (nf_nat_inet_fn for
    /// an uninitialised manip type), though what its rules choose changes
    /// nothing the answer carries.
    nat_init: [bool; 2],
}

impl Attached {
    /// The connection REJECT's answer carries (nf_conntrack_attach), when
    /// the rejected packet has one: RELATED, in the other direction. The
    /// rejected packet's connection is `existing` in `conns` (and the
    /// direction it went), or, not confirmed yet, the one starting with
    /// `orig` (its tuple at the conntrack hook); `conn` is the packet's view
    /// of it and `nat_init` which of its bindings this path set up.
    pub(super) fn of(
        conns: &ConnTable,
        conn: &ConnView,
        existing: Option<(usize, bool)>,
        orig: Option<Tuple>,
        nat_init: [bool; 2],
    ) -> Option<Attached> {
        let (orig, reply, existing) = match existing {
            Some((id, _)) => {
                let c = conns.get(id);
                (c.orig, c.reply, Some(id))
            }
            None => {
                let orig = orig?;
                // The original direction as NAT has changed it so far.
                let r = conn.reply;
                let mut now = orig;
                (now.src, now.dst) = (r.1, r.0);
                if orig.proto != Proto::ICMP {
                    (now.sport, now.dport) = (r.3, r.2);
                }
                (orig, now.invert(), None)
            }
        };
        let mut view = conn.clone();
        view.state = 1 << 2;
        view.reply_dir = !view.reply_dir;
        let nat_init = if existing.is_some() {
            [true; 2]
        } else {
            nat_init
        };
        Some(Attached {
            view,
            orig,
            reply,
            existing,
            nat_init,
        })
    }

    /// Whether the connection's binding for the destination (`dst_side`:
    /// PREROUTING, OUTPUT) or source manip type is set up already.
    pub(super) fn nat_set_up(&self, dst_side: bool) -> bool {
        self.nat_init[usize::from(!dst_side)]
    }

    /// Translate the answer by the connection's bindings (nf_nat_packet) at
    /// a destination or source nat hook; whether that changed it.
    pub(super) fn translate(&self, p: &mut Packet, dst_side: bool) -> bool {
        let reply_dir = self.view.reply_dir;
        crate::net::conntrack::translate_by(&self.orig, &self.reply, reply_dir, p, dst_side)
    }
}

/// An answer waiting to be walked once the packet's own path is done.
pub(super) struct PendingAnswer {
    pub(super) cause: AnswerCause,
    pub(super) packet: Packet,
    pub(super) attached: Option<Attached>,
}

impl PendingAnswer {
    /// The socket the answer is sent from: nf_send_reset allocates its RST
    /// without a socket; the stack and icmp_send send through a kernel
    /// control socket.
    pub(super) fn socket(&self) -> Socket {
        if self.cause == AnswerCause::Reject && self.packet.proto == Proto::TCP {
            Socket::None
        } else {
            Socket::Kernel
        }
    }
}

/// ICMP types icmp_send never answers: the errors, and types it does not
/// know (which it counts as errors).
fn is_icmp_error(p: &Packet) -> bool {
    p.proto == Proto::ICMP && (icmp_is_error(p.icmp_type) || p.icmp_type > 18)
}

/// The source icmp_send gives an error about a packet not addressed to the
/// host (icmp_errors_use_inbound_ifaddr is 0): what routing picks for the
/// way back to `to`, the route's preferred source, else the output device's
/// address for the next hop (inet_select_addr).
fn way_back_source(host: &Host, to: Ipv4) -> Option<Ipv4> {
    let (dev, src, _, nexthop) = route_output(host, to).ok()?;
    src.or_else(|| host.select_addr(&dev, nexthop))
}

/// The ICMP error icmp_send writes about `p`, from `src`: back to `p`'s
/// source, quoting it (at most 548 bytes of it), TOS with precedence
/// "internetwork control", TTL 64, no mark.
fn icmp_error(p: &Packet, src: Ipv4, icmp_type: u8, code: u8) -> Packet {
    let mut e = p.clone();
    (e.src, e.dst) = (src, p.src);
    (e.proto, e.sport, e.dport, e.tcp_flags) = (Proto::ICMP, 0, 0, TcpFlags::NONE);
    (e.icmp_type, e.icmp_code) = (icmp_type, code);
    e.inner = Some(Tuple::of(p));
    (e.tos, e.ttl, e.mark) = ((p.tos & 0x1e) | 0xc0, 64, 0);
    e.length = 28 + p.length.min(548);
    e
}

/// The RST answering TCP segment `p` (RST,ACK to a segment without ACK,
/// else RST), 40 bytes, TTL 64, no mark, with TOS `tos`.
fn reset(p: &Packet, tos: u8) -> Packet {
    let mut r = p.clone();
    (r.src, r.dst, r.sport, r.dport) = (p.dst, p.src, p.dport, p.sport);
    r.tcp_flags = if p.tcp_flags.contains(TcpFlags::ACK) {
        TcpFlags::RST
    } else {
        TcpFlags::RST | TcpFlags::ACK
    };
    (r.length, r.tos, r.ttl, r.mark, r.inner) = (40, tos, 64, 0, None);
    r
}

/// Whether REJECT sends anything, or why not: never to a packet addressed
/// to a broadcast or multicast address, no RST for a RST (nf_send_reset), no
/// ICMP error about an ICMP error (icmp_send), and no ICMP error about an
/// ICMP message the kernel's own ICMP socket is sending (an echo reply, an
/// ICMP error) while it is being sent, in OUTPUT or POSTROUTING: icmp_send
/// finds that socket locked by the send in progress (icmp_xmit_lock's
/// trylock) and gives up. (Looped back through `lo`, the message reaches
/// PREROUTING and INPUT later, from the backlog, with the lock released.)
pub(super) fn reject_answers(
    host: &Host,
    with: u8,
    p: &Packet,
    owner: Socket,
    hook: Hook,
) -> Result<(), &'static str> {
    let to_many =
        p.dst.is_multicast() || matches!(host.route(p.dst), RouteResult::Broadcast { .. });
    if to_many {
        return Err("REJECT answers nothing to a broadcast or multicast destination");
    }
    if with == 6 {
        if p.proto != Proto::TCP {
            return Err("a TCP reset answers only a TCP segment");
        }
        if p.tcp_flags.contains(TcpFlags::RST) {
            return Err("no RST answers a RST (nf_send_reset)");
        }
        return Ok(());
    }
    if is_icmp_error(p) {
        return Err("no ICMP error answers an ICMP error (icmp_send)");
    }
    if owner == Socket::Kernel
        && p.proto == Proto::ICMP
        && matches!(hook, Hook::Output | Hook::Postrouting)
    {
        return Err(
            "the packet is the kernel's own ICMP message and icmp_send finds the ICMP socket busy sending it, icmp_xmit_lock",
        );
    }
    Ok(())
}

/// The packet REJECT answers with (ipt_REJECT): a TCP reset from the
/// rejected packet's destination (nf_send_reset: TOS 0), or an ICMP
/// destination-unreachable (icmp_send) from that destination when it is
/// local, from the address routing picks for the way back when forwarding,
/// and back through `lo` to a locally generated packet. Returns the
/// interface it leaves by, and the packet.
pub(super) fn reject_reply(
    host: &Host,
    with: u8,
    p: &Packet,
    iif: Option<&str>,
) -> (String, Packet) {
    let local_out = iif.is_none();
    let r = if with == 6 {
        reset(p, 0)
    } else {
        const CODES: [u8; 8] = [0, 1, 3, 2, 9, 10, 0, 13];
        // icmp_send: the rejected packet's destination when its route is
        // local (RTCF_LOCAL), else what routing picks for the way back (a
        // locally generated packet's source is usually the host's own, but
        // a reply from a broadcast address it received goes back by the
        // broadcast route, from that route's source).
        let src = if host.is_local(p.dst) {
            p.dst
        } else {
            way_back_source(host, p.src).unwrap_or(if local_out { p.src } else { p.dst })
        };
        icmp_error(p, src, 3, CODES[with as usize])
    };
    let oif = match host.route(r.dst) {
        RouteResult::Unicast { dev, .. }
        | RouteResult::Broadcast { dev, .. }
        | RouteResult::Multicast { dev, .. } => dev,
        _ => iif.unwrap_or("lo").to_string(),
    };
    (oif, r)
}

/// The ICMP error the stack sends about packet `p` it could not forward
/// (icmp_send: type `icmp_type`, code `code`), carrying `attached`, the
/// packet's connection (icmp_glue_bits' nf_ct_attach). None where icmp_send
/// sends nothing: about an ICMP error, a non-first fragment, a packet to or
/// from a broadcast or multicast address, or with no way back.
pub(super) fn stack_icmp_error(
    host: &Host,
    p: &Packet,
    cause: AnswerCause,
    icmp_type: u8,
    code: u8,
    attached: Option<Attached>,
) -> Option<PendingAnswer> {
    let many = |a: Ipv4| {
        a.is_multicast()
            || a.is_broadcast()
            || matches!(host.route(a), RouteResult::Broadcast { .. })
    };
    if p.fragment || is_icmp_error(p) || many(p.dst) || many(p.src) || p.src.is_unspecified() {
        return None;
    }
    let src = way_back_source(host, p.src)?;
    Some(PendingAnswer {
        cause,
        packet: icmp_error(p, src, icmp_type, code),
        attached,
    })
}

/// What the host's stack answers by itself to a packet delivered to it:
/// an echo (or timestamp) request to one of its addresses gets its reply
/// (icmp_reply); with the host's `listening` ports known, a TCP segment
/// to any other port gets a RST (tcp_v4_send_reset, with the segment's TOS;
/// nothing for a RST or for a broadcast or multicast destination) and a UDP
/// datagram an ICMP port unreachable (icmp_send, from the address it was
/// sent to, quoting it). The answer carries no mark (fwmark_reflect is 0)
/// and TTL 64.
pub(super) fn stack_answer(host: &Host, p: &Packet) -> Option<PendingAnswer> {
    let local = host.is_local(p.dst);
    let closed = |proto: Proto| {
        host.listening
            .as_ref()
            .is_some_and(|l| !l.contains(&(proto.0, p.dport)))
    };
    let (cause, packet) = match p.proto {
        // icmp_timestamp: nothing for a request shorter than its first
        // timestamp (4 bytes after the ICMP header).
        Proto::ICMP
            if (p.icmp_type == 8 || p.icmp_type == 13 && p.length >= 32)
                && local
                && p.icmp_code == 0 =>
        {
            let mut a = p.clone();
            (a.src, a.dst, a.mark, a.ttl, a.inner) = (p.dst, p.src, 0, 64, None);
            a.icmp_type = if p.icmp_type == 8 { 0 } else { 14 };
            (AnswerCause::EchoReply, a)
        }
        Proto::TCP if !p.tcp_flags.contains(TcpFlags::RST) && local && closed(Proto::TCP) => {
            (AnswerCause::Reset, reset(p, p.tos))
        }
        Proto::UDP if local && closed(Proto::UDP) => {
            (AnswerCause::PortUnreachable, icmp_error(p, p.dst, 3, 3))
        }
        _ => return None,
    };
    Some(PendingAnswer {
        cause,
        packet,
        attached: None,
    })
}
