//! Whether one rule matches a packet at one point of its path, and if not,
//! which condition failed and why, in plain words ("-p tcp: the packet is
//! udp"). Conditions are tried left to right and stop at the first failure,
//! as ip_tables' `ipt_do_table` does: the header part first, then each match.
//!
//! Each match follows its kernel module (xt_tcpudp, xt_multiport, xt_conntrack,
//! xt_statistic, ...). State that outlives a packet (nth counters, random
//! numbers, limit buckets, recent lists, ipsets, and the scenario's choice for
//! extensions nfsim does not evaluate) comes from a [`MatchState`] the pipeline
//! owns; the conntrack view comes from the pipeline's connection table. This
//! module decides; it does not walk chains or change packets.

use crate::net::host::{AddrType, Host};
use crate::net::packet::Packet;
use crate::ruleset::matches::*;
use crate::ruleset::model::{Hook, Match, Rule};
use crate::ruleset::names;
use crate::ruleset::value::{Ipv4, Proto};
use serde::Serialize;

/// Identifies one match of one rule, for state kept across packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MatchId {
    pub table: u8,
    pub chain: u32,
    pub rule: u32,
    pub index: u8,
}

/// A connection as the conntrack match sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnView {
    /// One of the ctstate bits NEW, ESTABLISHED, RELATED (names::CT_STATES).
    pub state: u32,
    /// IPS_* status bits as the match prints them (EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED).
    pub status: u32,
    pub snat: bool,
    pub dnat: bool,
    pub proto: u8,
    /// Original and reply tuples: (src, dst, sport, dport).
    pub orig: (Ipv4, Ipv4, u16, u16),
    pub reply: (Ipv4, Ipv4, u16, u16),
    /// The packet travels in the reply direction.
    pub reply_dir: bool,
    pub mark: u32,
    pub expires_s: u32,
}

impl ConnView {
    /// The connection `p` would open: state NEW, nothing seen in reply yet,
    /// its tuple the original direction.
    pub fn new_for(p: &Packet) -> ConnView {
        ConnView {
            state: 1 << 3,
            status: 0,
            snat: false,
            dnat: false,
            proto: p.proto.0,
            orig: (p.src, p.dst, p.sport, p.dport),
            reply: (p.dst, p.src, p.dport, p.sport),
            reply_dir: false,
            mark: 0,
            expires_s: 120,
        }
    }
}

/// The socket a packet belongs to, as xt_owner and LOG see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Socket {
    /// None: a received packet, or one netfilter built itself (REJECT's TCP
    /// reset is allocated without a socket).
    #[default]
    None,
    /// A kernel control socket, with no file behind it: what the stack
    /// answers by itself (a RST, an echo reply, ICMP errors, REJECT's ICMP
    /// error) is sent through one.
    Kernel,
    /// A process's socket, owned by (uid, gid).
    User { uid: u32, gid: u32 },
}

/// What the conntrack match knows about the packet's connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Conn<'a> {
    Tracked(&'a ConnView),
    Untracked,
    Invalid,
}

/// State the pipeline keeps across packets.
pub trait MatchState {
    /// `statistic --mode random`: whether the draw falls under `threshold`, the
    /// kernel's `(get_random_u32() & 0x7fffffff) < threshold` (probability
    /// `threshold / 2^31`). The state samples it, replays a forced choice for
    /// rule `id`, or branches on it.
    fn random(&mut self, id: MatchId, threshold: u32) -> bool;
    /// Advance the nth counter of `id` and return its new value. The kernel
    /// starts it at `every - 1`, so the j-th evaluation gets `j % every`.
    fn nth(&mut self, id: MatchId, every: u32) -> u32;
    /// Take a token from the limit bucket of `id` (the pipeline's clock).
    fn limit(&mut self, id: MatchId, m: &LimitMatch) -> bool;
    /// Apply a recent match (`--set`, `--rcheck`, ...) for `addr` and say whether it matched.
    fn recent(&mut self, m: &RecentMatch, addr: Ipv4, ttl: u8) -> bool;
    /// Whether `set` contains the packet's values in `dirs` (src = true) order.
    fn ipset(&mut self, set: &SetMatch, packet: &Packet) -> Option<bool>;
    /// The scenario's choice for an extension nfsim does not evaluate.
    fn assume(&mut self, extension: &str) -> bool;
}

/// Everything a match can look at for one packet at one hook.
pub struct Context<'a> {
    pub packet: &'a Packet,
    pub hook: Hook,
    /// The input interface (None for locally generated packets).
    pub in_iface: Option<&'a str>,
    /// The output interface (None before routing: PREROUTING, INPUT).
    pub out_iface: Option<&'a str>,
    pub host: &'a Host,
    /// The socket the packet belongs to (locally generated packets only).
    pub owner: Socket,
    pub conn: Conn<'a>,
    /// Write out why a condition failed (false: batch runs, which only count).
    pub explain: bool,
}

/// The first condition of a rule that did not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// The condition as iptables-save writes it (`-p tcp`, `-m tcp --dport 22`).
    pub condition: String,
    /// Why it does not hold, in plain words.
    pub reason: String,
}

impl Failed {
    /// A failure without its words, for runs that only count (batch mode).
    pub const fn quiet() -> Failed {
        Failed {
            condition: String::new(),
            reason: String::new(),
        }
    }
}

fn fail(condition: impl Into<String>, reason: impl Into<String>) -> Result<(), Failed> {
    Err(Failed {
        condition: condition.into(),
        reason: reason.into(),
    })
}

fn neg(inv: bool) -> &'static str {
    if inv {
        "! "
    } else {
        ""
    }
}

/// Evaluate `rule` for the context; `ids(i)` names the rule's i-th match for
/// the state it keeps. Stateful matches are only consulted when every earlier
/// condition held, as in the kernel.
pub fn rule_matches(
    rule: &Rule,
    ctx: &Context,
    state: &mut dyn MatchState,
    ids: &dyn Fn(usize) -> MatchId,
) -> Result<(), Failed> {
    let p = ctx.packet;
    for (flag, m, addr, what) in [
        ("-s", &rule.src, p.src, "source"),
        ("-d", &rule.dst, p.dst, "destination"),
    ] {
        if let Some(a) = m {
            if a.net.contains(addr) == a.invert {
                if !ctx.explain {
                    return Err(Failed::quiet());
                }
                let cond = format!("{}{flag} {}", neg(a.invert), a.net.save());
                return fail(cond, format!("the {what} is {}", addr));
            }
        }
    }
    for (flag, m, dev, what) in [
        ("-i", rule.in_iface(), ctx.in_iface, "arrived on"),
        ("-o", rule.out_iface(), ctx.out_iface, "leaves by"),
    ] {
        if let Some(i) = m {
            let hit = dev.is_some_and(|d| i.iface.matches(d));
            if hit == i.invert {
                if !ctx.explain {
                    return Err(Failed::quiet());
                }
                let cond = format!("{}{flag} {}", neg(i.invert), i.iface);
                let reason = match dev {
                    Some(d) => format!("the packet {what} {d}"),
                    None if flag == "-i" => {
                        "the packet was generated locally: it has no input interface".to_string()
                    }
                    None => "the output interface is not known yet".to_string(),
                };
                return fail(cond, reason);
            }
        }
    }
    if let Some(pr) = &rule.proto {
        if pr.proto != Proto::ALL && (pr.proto == p.proto) == pr.invert {
            if !ctx.explain {
                return Err(Failed::quiet());
            }
            return fail(
                format!("{}-p {}", neg(pr.invert), pr.proto),
                format!("the packet is {}", p.proto),
            );
        }
    }
    if let Some(inv) = rule.fragment {
        // `-f` matches second and later fragments.
        if p.fragment == inv {
            if !ctx.explain {
                return Err(Failed::quiet());
            }
            let reason = if p.fragment {
                "the packet is a later fragment"
            } else {
                "the packet is not a later fragment"
            };
            return fail(format!("{}-f", neg(inv)), reason);
        }
    }
    for (i, m) in rule.matches.iter().enumerate() {
        match_one(m, ctx, state, ids(i))?;
    }
    Ok(())
}

fn range_text(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}:{hi}")
    }
}

fn match_one(
    m: &Match,
    ctx: &Context,
    state: &mut dyn MatchState,
    id: MatchId,
) -> Result<(), Failed> {
    let p = ctx.packet;
    // The condition's text is only built when it fails.
    let cond = || {
        let mut c = format!("-m {}", m.kind.name());
        m.kind.save(&mut c);
        c
    };
    // A failure's words are only written when the trace is explained.
    macro_rules! no {
        ($reason:expr $(,)?) => {
            if ctx.explain {
                fail(cond(), {
                    let r: String = $reason;
                    r
                })
            } else {
                Err(Failed::quiet())
            }
        };
    }
    let ports = |name: &str,
                 v: &Option<Neg<crate::ruleset::value::PortRange>>,
                 port: u16|
     -> Option<String> {
        let v = v.as_ref()?;
        (v.value.contains(port) == v.invert).then(|| format!("the {name} port is {port}"))
    };
    match &m.kind {
        MatchKind::Tcp(t) => {
            if p.fragment {
                return no!("a later fragment has no TCP header".into());
            }
            if let Some(r) = ports("source", &t.sport, p.sport)
                .or_else(|| ports("destination", &t.dport, p.dport))
            {
                return no!(r);
            }
            if let Some(o) = &t.option {
                // Crafted packets carry no TCP options.
                if !o.invert {
                    return no!(format!("the packet carries no TCP option {}", o.value));
                }
            }
            if let Some(f) = &t.flags {
                let (mask, cmp) = f.value;
                if (p.tcp_flags & mask == cmp) == f.invert {
                    return no!(format!("the TCP flags are {}", p.tcp_flags.names()));
                }
            }
            Ok(())
        }
        MatchKind::Udp(u) => match ports("source", &u.sport, p.sport)
            .or_else(|| ports("destination", &u.dport, p.dport))
        {
            Some(r) => no!(r),
            None => Ok(()),
        },
        MatchKind::Sctp(s) => {
            if let Some(r) = ports("source", &s.sport, p.sport)
                .or_else(|| ports("destination", &s.dport, p.dport))
            {
                return no!(r);
            }
            if s.chunk_types.is_some() && !state.assume("sctp --chunk-types") {
                return no!(
                    "SCTP chunk types are not modelled; the scenario assumes they do not match"
                        .into(),
                );
            }
            Ok(())
        }
        MatchKind::Icmp(c) => {
            let hit = c.icmp_type == 0xff
                || (p.icmp_type == c.icmp_type && (c.code_min..=c.code_max).contains(&p.icmp_code));
            if hit == c.invert {
                return no!(format!("the ICMP type is {}/{}", p.icmp_type, p.icmp_code));
            }
            Ok(())
        }
        MatchKind::Multiport(mp) => {
            let hit_port = |port: u16| mp.ports.iter().any(|r| r.contains(port));
            let hit = match mp.side {
                PortSide::Source => hit_port(p.sport),
                PortSide::Destination => hit_port(p.dport),
                PortSide::Either => hit_port(p.sport) || hit_port(p.dport),
            };
            if hit == mp.invert {
                return no!(format!("the ports are {} -> {}", p.sport, p.dport));
            }
            Ok(())
        }
        MatchKind::Comment { .. } | MatchKind::Nfacct { .. } => Ok(()),
        MatchKind::Addrtype(a) => {
            let dev = if a.limit_iface_in {
                ctx.in_iface
            } else if a.limit_iface_out {
                ctx.out_iface
            } else {
                None
            };
            for (what, want, addr) in [("source", &a.src, p.src), ("destination", &a.dst, p.dst)] {
                if let Some(w) = want {
                    let t = ctx.host.addr_type(addr, dev);
                    if (w.value & (1 << t as u16) != 0) == w.invert {
                        return no!(format!(
                            "the {what} {} is {}",
                            addr,
                            names::ADDR_TYPES[t as usize]
                        ));
                    }
                }
            }
            Ok(())
        }
        MatchKind::Statistic(s) => {
            let hit = match s.mode {
                StatisticMode::Random { threshold } => state.random(id, threshold),
                StatisticMode::Nth { every, packet } => state.nth(id, every) == packet,
            };
            if hit == s.invert {
                return no!(match s.mode {
                    StatisticMode::Random { .. } => {
                        "the random draw fell outside the probability".into()
                    }
                    StatisticMode::Nth { every, packet } => {
                        format!("this is not packet {packet} of every {every}")
                    }
                });
            }
            Ok(())
        }
        MatchKind::Conntrack(c) => conntrack(c, &ctx.conn).map_err(|reason| Failed {
            condition: if ctx.explain { cond() } else { String::new() },
            reason,
        }),
        MatchKind::Mark(mk) => {
            if (p.mark & mk.mask == mk.mark) == mk.invert {
                return no!(format!("the packet mark is 0x{:x}", p.mark));
            }
            Ok(())
        }
        MatchKind::Connmark(mk) => match &ctx.conn {
            Conn::Tracked(ct) if (ct.mark & mk.mask == mk.mark) != mk.invert => Ok(()),
            Conn::Tracked(ct) => no!(format!("the connection mark is 0x{:x}", ct.mark)),
            _ => no!("the packet has no connection".into()),
        },
        MatchKind::Iprange(r) => {
            for (what, v, addr) in [("source", &r.src, p.src), ("destination", &r.dst, p.dst)] {
                if let Some(v) = v {
                    let (lo, hi) = v.value;
                    if (lo <= addr && addr <= hi) == v.invert {
                        return no!(format!("the {what} is {}", addr));
                    }
                }
            }
            Ok(())
        }
        MatchKind::Length { invert, min, max } => {
            if ((*min..=*max).contains(&p.length)) == *invert {
                return no!(format!("the packet is {} bytes long", p.length));
            }
            Ok(())
        }
        MatchKind::Ttl { mode, ttl } => {
            let hit = match mode {
                TtlMode::Eq => p.ttl == *ttl,
                TtlMode::Ne => p.ttl != *ttl,
                TtlMode::Lt => p.ttl < *ttl,
                TtlMode::Gt => p.ttl > *ttl,
            };
            if !hit {
                return no!(format!("the TTL is {}", p.ttl));
            }
            Ok(())
        }
        MatchKind::Tos {
            invert,
            value,
            mask,
        } => {
            if (p.tos & mask == *value) == *invert {
                return no!(format!("the TOS is 0x{:02x}", p.tos));
            }
            Ok(())
        }
        MatchKind::Dscp { invert, dscp } => {
            if ((p.tos >> 2) & 0x3f == *dscp) == *invert {
                return no!(format!("the DSCP is 0x{:02x}", (p.tos >> 2) & 0x3f));
            }
            Ok(())
        }
        MatchKind::Pkttype { invert, pkttype } => {
            // The link-layer type the stack gave the packet, from its destination.
            let t = match ctx.host.addr_type(p.dst, None) {
                AddrType::Multicast => 2,
                AddrType::Broadcast => 1,
                _ => 0,
            };
            if (t == *pkttype) == *invert {
                let name = names::PKT_TYPES
                    .iter()
                    .find(|(_, v)| *v == t)
                    .map_or("unicast", |(n, _)| n);
                return no!(format!("the packet is {name}"));
            }
            Ok(())
        }
        MatchKind::Owner(o) => owner(o, ctx.owner).map_err(|reason| Failed {
            condition: if ctx.explain { cond() } else { String::new() },
            reason,
        }),
        MatchKind::Limit(l) => {
            if state.limit(id, l) {
                Ok(())
            } else {
                no!("the rate limit is exhausted".into())
            }
        }
        MatchKind::Recent(r) => {
            let addr = if r.rdest { p.dst } else { p.src };
            // recent_mt: "use TTL as seen before forwarding": with an output
            // device and no socket, one more than the packet now has.
            let ttl = if ctx.out_iface.is_some() && ctx.owner == Socket::None {
                p.ttl.wrapping_add(1)
            } else {
                p.ttl
            };
            if state.recent(r, addr, ttl) {
                Ok(())
            } else {
                no!(format!("{} is not in list {} as required", addr, r.name))
            }
        }
        MatchKind::Set(s) => match state.ipset(s, p) {
            Some(hit) if hit != s.invert => Ok(()),
            Some(_) => no!(format!(
                "the packet is {}in set {}",
                if s.invert { "" } else { "not " },
                s.name
            )),
            None => no!(format!("set {} is not defined in the scenario", s.name)),
        },
        MatchKind::Mac { .. } | MatchKind::Physdev(_) | MatchKind::Unknown(_) => {
            let name = m.kind.name().to_string();
            if state.assume(&name) {
                Ok(())
            } else {
                no!(format!(
                    "{name} is not evaluated; the scenario assumes it does not match"
                ))
            }
        }
    }
}

/// xt_conntrack (revision 3).
fn conntrack(c: &ConntrackMatch, conn: &Conn) -> Result<(), String> {
    let state_bit = match conn {
        Conn::Tracked(ct) => {
            ct.state | if ct.snat { 1 << 7 } else { 0 } | if ct.dnat { 1 << 8 } else { 0 }
        }
        Conn::Untracked => 1 << 6,
        Conn::Invalid => 1,
    };
    let state_name = |bits: u32| {
        names::CT_STATES
            .iter()
            .filter(|(_, b)| bits & b != 0)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some(s) = &c.state {
        if (s.value & state_bit != 0) == s.invert {
            return Err(format!("the connection state is {}", state_name(state_bit)));
        }
    }
    let Conn::Tracked(ct) = conn else {
        // conntrack_mt without a connection: once --ctstate has matched, the
        // match is true whatever else it asks (`return info->match_flags &
        // XT_CONNTRACK_STATE`); without --ctstate it is false.
        return if c.state.is_some() {
            Ok(())
        } else {
            Err("the packet has no connection".into())
        };
    };
    if let Some(pr) = &c.proto {
        if (ct.proto == pr.value) == pr.invert {
            return Err(format!("the connection's protocol is {}", Proto(ct.proto)));
        }
    }
    let addrs = [
        (&c.orig_src, ct.orig.0, "original source"),
        (&c.orig_dst, ct.orig.1, "original destination"),
        (&c.repl_src, ct.reply.0, "reply source"),
        (&c.repl_dst, ct.reply.1, "reply destination"),
    ];
    for (want, have, what) in addrs {
        if let Some(w) = want {
            if w.value.contains(have) == w.invert {
                return Err(format!("the connection's {what} is {}", have));
            }
        }
    }
    let ports = [
        (&c.orig_src_port, ct.orig.2, "original source port"),
        (&c.orig_dst_port, ct.orig.3, "original destination port"),
        (&c.repl_src_port, ct.reply.2, "reply source port"),
        (&c.repl_dst_port, ct.reply.3, "reply destination port"),
    ];
    for (want, have, what) in ports {
        if let Some(w) = want {
            if w.value.contains(have) == w.invert {
                return Err(format!(
                    "the connection's {what} is {} (want {})",
                    have,
                    range_text(w.value.lo, w.value.hi)
                ));
            }
        }
    }
    if let Some(s) = &c.status {
        if (s.value & ct.status != 0) == s.invert {
            return Err(format!(
                "the connection's status bits are 0x{:x}",
                ct.status
            ));
        }
    }
    if let Some(e) = &c.expire {
        if (e.value.0 <= ct.expires_s && ct.expires_s <= e.value.1) == e.invert {
            return Err(format!("the connection expires in {} s", ct.expires_s));
        }
    }
    if let Some(reply) = c.dir_reply {
        if ct.reply_dir != reply {
            return Err(format!(
                "the packet travels in the {} direction",
                if ct.reply_dir { "reply" } else { "original" }
            ));
        }
    }
    Ok(())
}

/// xt_owner (owner_mt): only locally generated packets have a socket; a
/// kernel control socket exists but has no file, so `--socket-exists`
/// matches it and `--uid-owner`/`--gid-owner` do not.
fn owner(o: &OwnerMatch, sock: Socket) -> Result<(), String> {
    let (uid, gid) = match sock {
        Socket::User { uid, gid } => (uid, gid),
        Socket::Kernel => {
            if o.socket_exists == Some(true) {
                return Err("the packet has an owning socket (the kernel's)".into());
            }
            let uid_gid_negated =
                o.uid.as_ref().is_none_or(|u| u.invert) && o.gid.as_ref().is_none_or(|g| g.invert);
            return if uid_gid_negated {
                Ok(())
            } else {
                Err(
                    "the packet was sent by the kernel's own socket, which has no uid or gid"
                        .into(),
                )
            };
        }
        Socket::None => {
            // No socket: the rule matches only if every given option is negated.
            let all_negated = o.socket_exists.is_none_or(|i| i)
                && o.uid.as_ref().is_none_or(|u| u.invert)
                && o.gid.as_ref().is_none_or(|g| g.invert)
                && o.suppl_groups.is_none_or(|i| i);
            return if all_negated {
                Ok(())
            } else {
                Err("the packet has no owning socket (it was not generated locally)".into())
            };
        }
    };
    if o.socket_exists == Some(true) {
        return Err("the packet has an owning socket".into());
    }
    if let Some(u) = &o.uid {
        if (u.value.0 <= uid && uid <= u.value.1) == u.invert {
            return Err(format!("the socket's uid is {uid}"));
        }
    }
    if let Some(g) = &o.gid {
        if (g.value.0 <= gid && gid <= g.value.1) == g.invert {
            return Err(format!("the socket's gid is {gid}"));
        }
    }
    Ok(())
}

/// A state for explaining a rule that is known not to match: it answers every
/// stateful question without side effects.
struct Explaining;

impl MatchState for Explaining {
    fn random(&mut self, _: MatchId, _: u32) -> bool {
        true
    }
    fn nth(&mut self, _: MatchId, _: u32) -> u32 {
        0
    }
    fn limit(&mut self, _: MatchId, _: &LimitMatch) -> bool {
        true
    }
    fn recent(&mut self, _: &RecentMatch, _: Ipv4, _: u8) -> bool {
        true
    }
    fn ipset(&mut self, _: &SetMatch, _: &Packet) -> Option<bool> {
        Some(true)
    }
    fn assume(&mut self, _: &str) -> bool {
        true
    }
}

/// Why `rule` did not match `packet`: the first condition that fails. Used
/// for rules a walk passed over through its index, whose failing condition
/// (an exact destination or port, with nothing stateful before it) does not
/// depend on state.
pub fn explain(rule: &Rule, packet: &Packet, hook: Hook, host: &Host) -> Failed {
    let ctx = Context {
        packet,
        hook,
        in_iface: None,
        out_iface: None,
        host,
        owner: Socket::None,
        conn: Conn::Invalid,
        explain: true,
    };
    let id = |_| MatchId {
        table: 0,
        chain: 0,
        rule: 0,
        index: 0,
    };
    rule_matches(rule, &ctx, &mut Explaining, &id)
        .err()
        .unwrap_or(Failed {
            condition: String::new(),
            reason: "did not match".into(),
        })
}
