//! Match extensions (`-m NAME ...`): their options, typed values, and
//! iptables-save rendering, one variant per extension that iptables-extensions(8)
//! documents and this engine models. Anything else is an [`MatchKind::Unknown`],
//! kept verbatim.
//!
//! Each modelled match has one [`MatchDesc`] in [`MATCHES`]: its name,
//! options, protocol, hooks and whether it needs connection tracking.
//!
//! This module parses and prints; it does not evaluate matches against packets
//! (that is [`crate::path::eval`]'s job), and checking a ruleset against the
//! hooks its descriptors allow is [`crate::ruleset::validate`]'s.

use crate::ruleset::ext::{opt, OptSpec, Seen, UnknownExt};
use crate::ruleset::hook::Hook;
use crate::ruleset::names;
use crate::ruleset::value::*;
use serde::Serialize;
use std::sync::Arc;

/// A value that is either matched or negated (`! --opt v`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Neg<T> {
    pub invert: bool,
    pub value: T,
}

impl<T> Neg<T> {
    pub fn new(invert: bool, value: T) -> Self {
        Neg { invert, value }
    }
}

fn bang(out: &mut String, inv: bool) {
    if inv {
        out.push_str(" !");
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct TcpMatch {
    pub sport: Option<Neg<PortRange>>,
    pub dport: Option<Neg<PortRange>>,
    /// (mask, compare)
    pub flags: Option<Neg<(TcpFlags, TcpFlags)>>,
    pub option: Option<Neg<u8>>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct UdpMatch {
    pub sport: Option<Neg<PortRange>>,
    pub dport: Option<Neg<PortRange>>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct SctpMatch {
    pub sport: Option<Neg<PortRange>>,
    pub dport: Option<Neg<PortRange>>,
    /// `--chunk-types all|any|only CHUNKS`, kept as its two words.
    pub chunk_types: Option<Neg<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IcmpMatch {
    pub invert: bool,
    /// 0xff = any
    pub icmp_type: u8,
    pub code_min: u8,
    pub code_max: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortSide {
    Source,
    Destination,
    Either,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MultiportMatch {
    pub invert: bool,
    pub side: PortSide,
    pub ports: Box<[PortRange]>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct AddrtypeMatch {
    pub src: Option<Neg<u16>>,
    pub dst: Option<Neg<u16>>,
    pub limit_iface_in: bool,
    pub limit_iface_out: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StatisticMode {
    /// The kernel's threshold: matches when `(prandom & 0x7fffffff) < threshold`.
    Random { threshold: u32 },
    /// every is the user's N (the kernel stores N-1).
    Nth { every: u32, packet: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatisticMatch {
    pub invert: bool,
    pub mode: StatisticMode,
}

impl StatisticMatch {
    /// The probability the kernel actually applies, `threshold / 2^31`.
    pub fn probability(&self) -> Option<f64> {
        match self.mode {
            StatisticMode::Random { threshold } => Some(threshold as f64 / 2147483648.0),
            StatisticMode::Nth { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct ConntrackMatch {
    /// `-m state` spells the state option `--state`.
    pub state_alias: bool,
    pub state: Option<Neg<u32>>,
    pub proto: Option<Neg<u8>>,
    pub orig_src: Option<Neg<Ipv4Net>>,
    pub orig_dst: Option<Neg<Ipv4Net>>,
    pub repl_src: Option<Neg<Ipv4Net>>,
    pub repl_dst: Option<Neg<Ipv4Net>>,
    pub orig_src_port: Option<Neg<PortRange>>,
    pub orig_dst_port: Option<Neg<PortRange>>,
    pub repl_src_port: Option<Neg<PortRange>>,
    pub repl_dst_port: Option<Neg<PortRange>>,
    pub status: Option<Neg<u32>>,
    pub expire: Option<Neg<(u32, u32)>>,
    /// Some(true) = REPLY, Some(false) = ORIGINAL
    pub dir_reply: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MarkMatch {
    pub invert: bool,
    pub mark: u32,
    pub mask: u32,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct IprangeMatch {
    pub src: Option<Neg<(Ipv4, Ipv4)>>,
    pub dst: Option<Neg<(Ipv4, Ipv4)>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LimitMatch {
    /// Average period in units of 1/10000 s per packet (XT_LIMIT_SCALE).
    pub avg: u32,
    pub burst: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecentMatch {
    pub invert: bool,
    /// One of set, rcheck, update, remove.
    pub command: RecentCommand,
    pub seconds: u32,
    pub reap: bool,
    pub hitcount: u32,
    pub rttl: bool,
    pub name: String,
    pub mask: Ipv4,
    pub rdest: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecentCommand {
    Set,
    Rcheck,
    Update,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetMatch {
    pub invert: bool,
    pub name: String,
    /// true = src, false = dst, one per dimension.
    pub dirs: Vec<bool>,
    pub return_nomatch: bool,
    pub no_update_counters: bool,
    pub no_update_subcounters: bool,
    /// Counter conditions kept as text (`--packets-gt 5`), printed back as given.
    pub counters: Vec<(bool, String, String)>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct OwnerMatch {
    pub socket_exists: Option<bool>,
    pub uid: Option<Neg<(u32, u32)>>,
    pub gid: Option<Neg<(u32, u32)>>,
    pub suppl_groups: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct PhysdevMatch {
    pub is_in: Option<bool>,
    pub physdev_in: Option<Neg<Iface>>,
    pub is_out: Option<bool>,
    pub physdev_out: Option<Neg<Iface>>,
    pub is_bridged: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TtlMode {
    Eq,
    Ne,
    Lt,
    Gt,
}

/// A match extension with its typed options. Large, rare variants are boxed so
/// that a match stays small: dumps hold hundreds of thousands of them.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "extension", rename_all = "lowercase")]
pub enum MatchKind {
    Tcp(TcpMatch),
    Udp(UdpMatch),
    Sctp(Box<SctpMatch>),
    Icmp(IcmpMatch),
    Multiport(MultiportMatch),
    Comment {
        comment: Arc<str>,
    },
    Addrtype(AddrtypeMatch),
    Statistic(StatisticMatch),
    Conntrack(Box<ConntrackMatch>),
    Mark(MarkMatch),
    Connmark(MarkMatch),
    Iprange(Box<IprangeMatch>),
    Limit(LimitMatch),
    Recent(Box<RecentMatch>),
    Set(Box<SetMatch>),
    Owner(Box<OwnerMatch>),
    Mac {
        invert: bool,
        mac: [u8; 6],
    },
    Pkttype {
        invert: bool,
        pkttype: u8,
    },
    Length {
        invert: bool,
        min: u16,
        max: u16,
    },
    Ttl {
        mode: TtlMode,
        ttl: u8,
    },
    Tos {
        invert: bool,
        value: u8,
        mask: u8,
    },
    Dscp {
        invert: bool,
        dscp: u8,
    },
    Physdev(Box<PhysdevMatch>),
    /// Accounting only: always matches, counts into a named nfacct object.
    Nfacct {
        name: Box<str>,
    },
    /// An extension this engine does not model: kept verbatim.
    Unknown(Box<UnknownExt>),
}

/// One match extension, as everything that looks it up by its `-m` name
/// sees it: its options, the protocol it needs, its fresh state with
/// iptables' defaults, the options that take two words. Adding a match: a
/// [`MatchKind`] variant and an entry in [`MATCHES`]; then the compiler
/// points at the rest (`MatchKind::name`, `apply`, `final_check`, `save`,
/// and `path::eval`'s evaluation), each an exhaustive `match` on the variant.
pub struct MatchDesc {
    /// The name as `-m` spells it.
    pub name: &'static str,
    pub options: &'static [OptSpec],
    /// The protocol the kernel requires (`tcp match: only valid for protocol 6`).
    pub proto: Option<u8>,
    /// A fresh match with iptables' defaults, before any option is applied.
    pub new: fn() -> MatchKind,
    /// Options that take two words (`--tcp-flags MASK COMP`, `--match-set NAME FLAGS`).
    pub two_args: &'static [&'static str],
    /// The hooks the kernel lets the match be used from (its `.hooks`),
    /// given its options; empty for any.
    pub hooks: fn(&MatchKind) -> &'static [Hook],
    /// Why, for a rule used from another hook (without one, the hint names
    /// the hooks the chain is reached from).
    pub hooks_hint: Option<&'static str>,
    /// Whether the kernel tracks connections for it (`nf_ct_netns_get` in
    /// its check), see [`crate::ruleset::model::needs_conntrack`].
    pub conntrack: bool,
}

/// The match extensions this engine models, in the order iptables' own
/// suggestions list them.
pub static MATCHES: &[MatchDesc] = &[
    MatchDesc {
        name: "tcp",
        options: &[
            opt!("--sport", true, true),
            opt!("--source-port", true, true),
            opt!("--dport", true, true),
            opt!("--destination-port", true, true),
            opt!("--tcp-flags", true, true),
            opt!("--syn", false, true),
            opt!("--tcp-option", true, true),
        ],
        proto: Some(6),
        new: || MatchKind::Tcp(TcpMatch::default()),
        two_args: &["--tcp-flags"],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "udp",
        options: &[
            opt!("--sport", true, true),
            opt!("--source-port", true, true),
            opt!("--dport", true, true),
            opt!("--destination-port", true, true),
        ],
        proto: Some(17),
        new: || MatchKind::Udp(UdpMatch::default()),
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "sctp",
        options: &[
            opt!("--sport", true, true),
            opt!("--source-port", true, true),
            opt!("--dport", true, true),
            opt!("--destination-port", true, true),
            opt!("--chunk-types", true, true),
        ],
        proto: Some(132),
        new: || MatchKind::Sctp(Box::default()),
        two_args: &["--chunk-types"],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "icmp",
        options: &[opt!("--icmp-type", true, true)],
        proto: Some(1),
        new: || {
            MatchKind::Icmp(IcmpMatch {
                invert: false,
                icmp_type: 0xff,
                code_min: 0,
                code_max: 0xff,
            })
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "multiport",
        options: &[
            opt!("--sports", true, true),
            opt!("--source-ports", true, true),
            opt!("--dports", true, true),
            opt!("--destination-ports", true, true),
            opt!("--ports", true, true),
        ],
        proto: None,
        new: || {
            MatchKind::Multiport(MultiportMatch {
                invert: false,
                side: PortSide::Either,
                ports: Box::new([]),
            })
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "comment",
        options: &[opt!("--comment", true, false)],
        proto: None,
        new: || MatchKind::Comment {
            // The standard library's shared empty string: no allocation.
            comment: Arc::default(),
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "addrtype",
        options: &[
            opt!("--src-type", true, true),
            opt!("--dst-type", true, true),
            opt!("--limit-iface-in", false, false),
            opt!("--limit-iface-out", false, false),
        ],
        proto: None,
        new: || MatchKind::Addrtype(AddrtypeMatch::default()),
        two_args: &[],
        hooks: |m| match m {
            MatchKind::Addrtype(a) if a.limit_iface_in => {
                &[Hook::Prerouting, Hook::Input, Hook::Forward]
            }
            MatchKind::Addrtype(a) if a.limit_iface_out => {
                &[Hook::Postrouting, Hook::Output, Hook::Forward]
            }
            _ => &[],
        },
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "statistic",
        options: &[
            opt!("--mode", true, false),
            opt!("--probability", true, true),
            opt!("--every", true, true),
            opt!("--packet", true, false),
        ],
        proto: None,
        new: || {
            MatchKind::Statistic(StatisticMatch {
                invert: false,
                mode: StatisticMode::Random { threshold: 0 },
            })
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "conntrack",
        options: &[
            opt!("--ctstate", true, true),
            opt!("--ctproto", true, true),
            opt!("--ctorigsrc", true, true),
            opt!("--ctorigdst", true, true),
            opt!("--ctreplsrc", true, true),
            opt!("--ctrepldst", true, true),
            opt!("--ctorigsrcport", true, true),
            opt!("--ctorigdstport", true, true),
            opt!("--ctreplsrcport", true, true),
            opt!("--ctrepldstport", true, true),
            opt!("--ctstatus", true, true),
            opt!("--ctexpire", true, true),
            opt!("--ctdir", true, false),
        ],
        proto: None,
        new: || MatchKind::Conntrack(Box::default()),
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: true,
    },
    MatchDesc {
        name: "state",
        options: &[opt!("--state", true, true)],
        proto: None,
        new: || {
            MatchKind::Conntrack(Box::new(ConntrackMatch {
                state_alias: true,
                ..Default::default()
            }))
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: true,
    },
    MatchDesc {
        name: "mark",
        options: &[opt!("--mark", true, true)],
        proto: None,
        new: || {
            MatchKind::Mark(MarkMatch {
                invert: false,
                mark: 0,
                mask: u32::MAX,
            })
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "connmark",
        options: &[opt!("--mark", true, true)],
        proto: None,
        new: || {
            MatchKind::Connmark(MarkMatch {
                invert: false,
                mark: 0,
                mask: u32::MAX,
            })
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: true,
    },
    MatchDesc {
        name: "iprange",
        options: &[
            opt!("--src-range", true, true),
            opt!("--dst-range", true, true),
        ],
        proto: None,
        new: || MatchKind::Iprange(Box::default()),
        // Default rate 3/hour, burst 5.,
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "limit",
        options: &[
            opt!("--limit", true, false),
            opt!("--limit-burst", true, false),
        ],
        proto: None,
        new: || {
            MatchKind::Limit(LimitMatch {
                avg: 10000 * 3600 / 3,
                burst: 5,
            })
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "recent",
        options: &[
            opt!("--set", false, true),
            opt!("--rcheck", false, true),
            opt!("--update", false, true),
            opt!("--remove", false, true),
            opt!("--seconds", true, false),
            opt!("--reap", false, false),
            opt!("--hitcount", true, false),
            opt!("--rttl", false, false),
            opt!("--name", true, false),
            opt!("--mask", true, false),
            opt!("--rsource", false, false),
            opt!("--rdest", false, false),
        ],
        proto: None,
        new: || {
            MatchKind::Recent(Box::new(RecentMatch {
                invert: false,
                command: RecentCommand::Set,
                seconds: 0,
                reap: false,
                hitcount: 0,
                rttl: false,
                name: "DEFAULT".into(),
                mask: Ipv4::BROADCAST,
                rdest: false,
            }))
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "set",
        options: &[
            opt!("--match-set", true, true),
            opt!("--set", true, true),
            opt!("--return-nomatch", false, false),
            opt!("--update-counters", false, true),
            opt!("--update-subcounters", false, true),
            opt!("--packets-eq", true, true),
            opt!("--packets-lt", true, false),
            opt!("--packets-gt", true, false),
            opt!("--bytes-eq", true, true),
            opt!("--bytes-lt", true, false),
            opt!("--bytes-gt", true, false),
        ],
        proto: None,
        new: || {
            MatchKind::Set(Box::new(SetMatch {
                invert: false,
                name: String::new(),
                dirs: vec![],
                return_nomatch: false,
                no_update_counters: false,
                no_update_subcounters: false,
                counters: vec![],
            }))
        },
        two_args: &["--match-set", "--set"],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "owner",
        options: &[
            opt!("--uid-owner", true, true),
            opt!("--gid-owner", true, true),
            opt!("--socket-exists", false, true),
            opt!("--suppl-groups", false, true),
        ],
        proto: None,
        new: || MatchKind::Owner(Box::default()),
        two_args: &[],
        hooks: |_| &[Hook::Output, Hook::Postrouting],
        hooks_hint: Some("only locally generated packets have an owning socket"),
        conntrack: false,
    },
    MatchDesc {
        name: "mac",
        options: &[opt!("--mac-source", true, true)],
        proto: None,
        new: || MatchKind::Mac {
            invert: false,
            mac: [0; 6],
        },
        two_args: &[],
        hooks: |_| &[Hook::Prerouting, Hook::Input, Hook::Forward],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "pkttype",
        options: &[opt!("--pkt-type", true, true)],
        proto: None,
        new: || MatchKind::Pkttype {
            invert: false,
            pkttype: 0,
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "length",
        options: &[opt!("--length", true, true)],
        proto: None,
        new: || MatchKind::Length {
            invert: false,
            min: 0,
            max: 0xffff,
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "ttl",
        options: &[
            opt!("--ttl-eq", true, true),
            opt!("--ttl-lt", true, false),
            opt!("--ttl-gt", true, false),
        ],
        proto: None,
        new: || MatchKind::Ttl {
            mode: TtlMode::Eq,
            ttl: 0,
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "tos",
        options: &[opt!("--tos", true, true)],
        proto: None,
        new: || MatchKind::Tos {
            invert: false,
            value: 0,
            mask: 0,
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "dscp",
        options: &[opt!("--dscp", true, true), opt!("--dscp-class", true, true)],
        proto: None,
        new: || MatchKind::Dscp {
            invert: false,
            dscp: 0,
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "physdev",
        options: &[
            opt!("--physdev-in", true, true),
            opt!("--physdev-out", true, true),
            opt!("--physdev-is-in", false, true),
            opt!("--physdev-is-out", false, true),
            opt!("--physdev-is-bridged", false, true),
        ],
        proto: None,
        new: || MatchKind::Physdev(Box::default()),
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
    MatchDesc {
        name: "nfacct",
        options: &[opt!("--nfacct-name", true, false)],
        proto: None,
        new: || MatchKind::Nfacct {
            name: Box::from(""),
        },
        two_args: &[],
        hooks: |_| &[],
        hooks_hint: None,
        conntrack: false,
    },
];

/// The descriptor of the match named `name`.
pub fn match_desc(name: &str) -> Option<&'static MatchDesc> {
    MATCHES.iter().find(|d| d.name == name)
}

/// Options of each known match (none for an unknown one).
pub fn match_options(name: &str) -> &'static [OptSpec] {
    match_desc(name).map_or(&[], |d| d.options)
}

/// The kernel's protocol restriction of a match (`tcp match: only valid for protocol 6`).
pub fn match_required_proto(name: &str) -> Option<u8> {
    match_desc(name).and_then(|d| d.proto)
}

/// A fresh match with iptables' defaults, before any option is applied
/// (an unknown name is kept verbatim).
pub fn new_match(name: &str) -> MatchKind {
    match match_desc(name) {
        Some(d) => (d.new)(),
        None => MatchKind::Unknown(Box::new(UnknownExt {
            name: name.to_string(),
            args: vec![],
        })),
    }
}

fn parse_list_bits(s: &str, table: &[(&str, u32)], what: &str) -> Result<u32, String> {
    let mut v = 0;
    for item in s.split(',') {
        let (_, bit) = table
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(item))
            .ok_or_else(|| format!("Bad {what} \"{item}\""))?;
        v |= bit;
    }
    Ok(v)
}

fn save_bits(out: &mut String, v: u32, table: &[(&str, u32)]) {
    let mut first = true;
    for (name, bit) in table {
        if v & bit != 0 {
            out.push_str(if first { " " } else { "," });
            out.push_str(name);
            first = false;
        }
    }
}

fn parse_u32_range(s: &str, sep: char, what: &str) -> Result<(u32, u32), String> {
    let bad = || format!("Invalid {what} \"{s}\"");
    match s.split_once(sep) {
        Some((a, b)) => {
            let a = parse_uint(a, u32::MAX as u64).ok_or_else(bad)? as u32;
            let b = parse_uint(b, u32::MAX as u64).ok_or_else(bad)? as u32;
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
        None => {
            let a = parse_uint(s, u32::MAX as u64).ok_or_else(bad)? as u32;
            Ok((a, a))
        }
    }
}

fn parse_ip_range(s: &str) -> Result<(Ipv4, Ipv4), String> {
    match s.split_once('-') {
        Some((a, b)) => Ok((Ipv4::parse(a)?, Ipv4::parse(b)?)),
        None => {
            let a = Ipv4::parse(s)?;
            Ok((a, a))
        }
    }
}

fn parse_user(s: &str, what: &str) -> Result<(u32, u32), String> {
    let one = |x: &str| -> Result<u32, String> {
        if x == "root" {
            return Ok(0);
        }
        parse_uint(x, u32::MAX as u64)
            .map(|v| v as u32)
            .ok_or_else(|| format!("Bad {what} \"{x}\" (only numeric ids and root are known here)"))
    };
    match s.split_once('-') {
        Some((a, b)) => Ok((one(a)?, one(b)?)),
        None => {
            let a = one(s)?;
            Ok((a, a))
        }
    }
}

fn parse_rate(s: &str) -> Result<u32, String> {
    let (num, unit) = match s.split_once('/') {
        Some((n, u)) => (n, Some(u)),
        None => (s, None),
    };
    let mult: u64 = match unit {
        None => 1,
        Some("") => return Err(format!("bad rate \"{s}\"'")),
        Some(u) => {
            let u = u.to_ascii_lowercase();
            if "second".starts_with(&u) {
                1
            } else if "minute".starts_with(&u) {
                60
            } else if "hour".starts_with(&u) {
                3600
            } else if "day".starts_with(&u) {
                86400
            } else {
                return Err(format!("bad rate \"{s}\"'"));
            }
        }
    };
    // atoi: leading digits.
    let digits: String = num.chars().take_while(|c| c.is_ascii_digit()).collect();
    let r: u64 = digits.parse().unwrap_or(0);
    if r == 0 {
        return Err(format!("bad rate \"{s}\"'"));
    }
    let v = 10000 * mult / r;
    if v == 0 {
        return Err(format!("Rate too fast \"{s}\""));
    }
    Ok(v.min(u32::MAX as u64) as u32)
}

fn save_rate(out: &mut String, period: u32) {
    const RATES: &[(&str, u32)] = &[
        ("day", 10000 * 86400),
        ("hour", 10000 * 3600),
        ("min", 10000 * 60),
        ("sec", 10000),
    ];
    if period == 0 {
        out.push_str(" inf");
        return;
    }
    let mut i = 1;
    while i < RATES.len() {
        let m = RATES[i].1;
        if period > m || m / period < m % period {
            break;
        }
        i += 1;
    }
    out.push_str(&format!(" {}/{}", RATES[i - 1].1 / period, RATES[i - 1].0));
}

impl MatchKind {
    /// The extension name as `-m` spells it.
    pub fn name(&self) -> &str {
        match self {
            MatchKind::Tcp(_) => "tcp",
            MatchKind::Udp(_) => "udp",
            MatchKind::Sctp(_) => "sctp",
            MatchKind::Icmp(_) => "icmp",
            MatchKind::Multiport(_) => "multiport",
            MatchKind::Comment { .. } => "comment",
            MatchKind::Addrtype(_) => "addrtype",
            MatchKind::Statistic(_) => "statistic",
            MatchKind::Conntrack(c) if c.state_alias => "state",
            MatchKind::Conntrack(_) => "conntrack",
            MatchKind::Mark(_) => "mark",
            MatchKind::Connmark(_) => "connmark",
            MatchKind::Iprange(_) => "iprange",
            MatchKind::Limit(_) => "limit",
            MatchKind::Recent(_) => "recent",
            MatchKind::Set(_) => "set",
            MatchKind::Owner(_) => "owner",
            MatchKind::Mac { .. } => "mac",
            MatchKind::Pkttype { .. } => "pkttype",
            MatchKind::Length { .. } => "length",
            MatchKind::Ttl { .. } => "ttl",
            MatchKind::Tos { .. } => "tos",
            MatchKind::Dscp { .. } => "dscp",
            MatchKind::Physdev(_) => "physdev",
            MatchKind::Nfacct { .. } => "nfacct",
            MatchKind::Unknown(u) => &u.name,
        }
    }

    /// Its descriptor in [`MATCHES`] (none for one kept verbatim).
    pub fn desc(&self) -> Option<&'static MatchDesc> {
        match_desc(self.name())
    }

    /// Apply one option. `proto` is the rule's `-p` so far (for service names).
    pub fn apply(
        &mut self,
        opt: &str,
        inv: bool,
        arg: &str,
        proto: Option<u8>,
    ) -> Result<(), String> {
        match self {
            MatchKind::Tcp(m) => match opt {
                "--sport" | "--source-port" => {
                    m.sport = Some(Neg::new(inv, PortRange::parse(arg, proto)?))
                }
                "--dport" | "--destination-port" => {
                    m.dport = Some(Neg::new(inv, PortRange::parse(arg, proto)?))
                }
                "--syn" => {
                    use TcpFlags as f;
                    m.flags = Some(Neg::new(inv, (f::FIN | f::SYN | f::RST | f::ACK, f::SYN)))
                }
                "--tcp-option" => {
                    let v =
                        parse_uint(arg, 255).ok_or_else(|| format!("Bad TCP option \"{arg}\""))?;
                    m.option = Some(Neg::new(inv, v as u8));
                }
                _ => unreachable!(),
            },
            MatchKind::Udp(m) => match opt {
                "--sport" | "--source-port" => {
                    m.sport = Some(Neg::new(inv, PortRange::parse(arg, proto)?))
                }
                _ => m.dport = Some(Neg::new(inv, PortRange::parse(arg, proto)?)),
            },
            MatchKind::Sctp(m) => match opt {
                "--sport" | "--source-port" => {
                    m.sport = Some(Neg::new(inv, PortRange::parse(arg, proto)?))
                }
                "--dport" | "--destination-port" => {
                    m.dport = Some(Neg::new(inv, PortRange::parse(arg, proto)?))
                }
                _ => {
                    let mode = arg.split(' ').next().unwrap_or_default();
                    if !matches!(mode, "all" | "any" | "only") {
                        return Err(format!(
                            "--chunk-types requires `all', `any' or `only', not \"{mode}\""
                        ));
                    }
                    m.chunk_types = Some(Neg::new(inv, arg.to_string()));
                }
            },
            MatchKind::Icmp(m) => {
                m.invert = inv;
                if let Some(&(_, t, lo, hi)) = names::ICMP_TYPES
                    .iter()
                    .find(|(n, ..)| n.eq_ignore_ascii_case(arg))
                {
                    (m.icmp_type, m.code_min, m.code_max) = (t, lo, hi);
                } else {
                    let bad = || format!("Invalid ICMP type `{arg}'");
                    let (t, c) = match arg.split_once('/') {
                        Some((t, c)) => (t, Some(c)),
                        None => (arg, None),
                    };
                    m.icmp_type = parse_uint(t, 255).ok_or_else(bad)? as u8;
                    match c {
                        Some(c) => {
                            let c = parse_uint(c, 255).ok_or_else(bad)? as u8;
                            (m.code_min, m.code_max) = (c, c);
                        }
                        None => (m.code_min, m.code_max) = (0, 0xff),
                    }
                }
            }
            MatchKind::Multiport(m) => {
                m.invert = inv;
                m.side = match opt {
                    "--sports" | "--source-ports" => PortSide::Source,
                    "--dports" | "--destination-ports" => PortSide::Destination,
                    _ => PortSide::Either,
                };
                let mut ports = Vec::new();
                let mut slots = 0;
                for p in arg.split(',') {
                    let r = PortRange::parse(p, proto)?;
                    slots += if r.lo == r.hi { 1 } else { 2 };
                    ports.push(r);
                }
                if slots > 15 {
                    return Err("too many ports specified".into());
                }
                m.ports = ports.into_boxed_slice();
            }
            MatchKind::Comment { comment } => {
                check_comment(arg)?;
                *comment = Arc::from(arg);
            }
            MatchKind::Addrtype(m) => {
                let parse = |s: &str| -> Result<u16, String> {
                    let mut v = 0u16;
                    for t in s.split(',') {
                        let i = names::ADDR_TYPES
                            .iter()
                            .position(|n| n.eq_ignore_ascii_case(t))
                            .ok_or_else(|| format!("addrtype: bad type \"{t}\""))?;
                        v |= 1 << i;
                    }
                    Ok(v)
                };
                match opt {
                    "--src-type" => m.src = Some(Neg::new(inv, parse(arg)?)),
                    "--dst-type" => m.dst = Some(Neg::new(inv, parse(arg)?)),
                    "--limit-iface-in" => m.limit_iface_in = true,
                    _ => m.limit_iface_out = true,
                }
                if m.limit_iface_in && m.limit_iface_out {
                    return Err(
                        "addrtype: you can't specify both --limit-iface-in and --limit-iface-out"
                            .into(),
                    );
                }
            }
            MatchKind::Statistic(m) => match opt {
                "--mode" => {
                    m.mode = match arg {
                        "random" => StatisticMode::Random { threshold: 0 },
                        "nth" => StatisticMode::Nth {
                            every: 0,
                            packet: 0,
                        },
                        _ => return Err(format!("Bad mode \"{arg}\"")),
                    }
                }
                "--probability" => {
                    let p: f64 =
                        arg.parse().ok().filter(|p| (0.0..=1.0).contains(p)).ok_or(
                            "bad value for option \"--probability\", or out of range (0-1).",
                        )?;
                    m.invert |= inv;
                    // lround(0x80000000 * p)
                    m.mode = StatisticMode::Random {
                        threshold: (2147483648.0 * p).round() as u32,
                    };
                }
                "--every" => {
                    let v = parse_uint(arg, u32::MAX as u64)
                        .filter(|v| *v > 0)
                        .ok_or_else(|| format!("Bad every \"{arg}\""))?;
                    m.invert |= inv;
                    let packet = if let StatisticMode::Nth { packet, .. } = m.mode {
                        packet
                    } else {
                        0
                    };
                    m.mode = StatisticMode::Nth {
                        every: v as u32,
                        packet,
                    };
                }
                _ => {
                    let v = parse_uint(arg, u32::MAX as u64)
                        .ok_or_else(|| format!("Bad packet \"{arg}\""))?;
                    let every = if let StatisticMode::Nth { every, .. } = m.mode {
                        every
                    } else {
                        0
                    };
                    m.mode = StatisticMode::Nth {
                        every,
                        packet: v as u32,
                    };
                }
            },
            MatchKind::Conntrack(m) => {
                let net = |s: &str| Ipv4Net::parse_unmasked(s);
                let ports = |s: &str| PortRange::parse(s, None);
                match opt {
                    "--ctstate" | "--state" => {
                        m.state = Some(Neg::new(
                            inv,
                            parse_list_bits(arg, names::CT_STATES, "ctstate")?,
                        ))
                    }
                    "--ctproto" => {
                        let p = Proto::parse(arg)?;
                        if p.0 == 0 {
                            return Err("--ctproto: protocol 0 (all) is not allowed".into());
                        }
                        m.proto = Some(Neg::new(inv, p.0));
                    }
                    "--ctorigsrc" => m.orig_src = Some(Neg::new(inv, net(arg)?)),
                    "--ctorigdst" => m.orig_dst = Some(Neg::new(inv, net(arg)?)),
                    "--ctreplsrc" => m.repl_src = Some(Neg::new(inv, net(arg)?)),
                    "--ctrepldst" => m.repl_dst = Some(Neg::new(inv, net(arg)?)),
                    "--ctorigsrcport" => m.orig_src_port = Some(Neg::new(inv, ports(arg)?)),
                    "--ctorigdstport" => m.orig_dst_port = Some(Neg::new(inv, ports(arg)?)),
                    "--ctreplsrcport" => m.repl_src_port = Some(Neg::new(inv, ports(arg)?)),
                    "--ctrepldstport" => m.repl_dst_port = Some(Neg::new(inv, ports(arg)?)),
                    "--ctstatus" => {
                        let v = if arg.eq_ignore_ascii_case("NONE") {
                            0
                        } else {
                            parse_list_bits(arg, names::CT_STATUS, "ctstatus")?
                        };
                        m.status = Some(Neg::new(inv, v))
                    }
                    "--ctexpire" => {
                        m.expire = Some(Neg::new(inv, parse_u32_range(arg, ':', "ctexpire")?))
                    }
                    _ => {
                        m.dir_reply = Some(match arg.to_ascii_uppercase().as_str() {
                            "ORIGINAL" => false,
                            "REPLY" => true,
                            _ => return Err(format!("Bad ctdir value \"{arg}\"")),
                        })
                    }
                }
            }
            MatchKind::Mark(m) | MatchKind::Connmark(m) => {
                let (v, mask) = parse_mark_mask(arg)?;
                (m.invert, m.mark, m.mask) = (inv, v, mask);
            }
            MatchKind::Iprange(m) => match opt {
                "--src-range" => m.src = Some(Neg::new(inv, parse_ip_range(arg)?)),
                _ => m.dst = Some(Neg::new(inv, parse_ip_range(arg)?)),
            },
            MatchKind::Limit(m) => match opt {
                "--limit" => m.avg = parse_rate(arg)?,
                _ => {
                    m.burst = parse_uint(arg, 10000)
                        .ok_or_else(|| format!("bad --limit-burst `{arg}'"))?
                        as u32
                }
            },
            MatchKind::Recent(m) => match opt {
                "--set" | "--rcheck" | "--update" | "--remove" => {
                    m.invert = inv;
                    m.command = match opt {
                        "--set" => RecentCommand::Set,
                        "--rcheck" => RecentCommand::Rcheck,
                        "--update" => RecentCommand::Update,
                        _ => RecentCommand::Remove,
                    };
                }
                "--seconds" => {
                    m.seconds = parse_uint(arg, u32::MAX as u64)
                        .ok_or_else(|| format!("Bad seconds \"{arg}\""))?
                        as u32
                }
                "--reap" => m.reap = true,
                "--hitcount" => {
                    m.hitcount = parse_uint(arg, u32::MAX as u64)
                        .ok_or_else(|| format!("Bad hitcount \"{arg}\""))?
                        as u32
                }
                "--rttl" => m.rttl = true,
                "--name" => {
                    if arg.is_empty() || arg.len() > 199 {
                        return Err("recent: name must be 1 to 199 characters".into());
                    }
                    m.name = arg.to_string()
                }
                "--mask" => m.mask = Ipv4::parse(arg)?,
                "--rsource" => m.rdest = false,
                _ => m.rdest = true,
            },
            MatchKind::Set(m) => match opt {
                "--match-set" | "--set" => {
                    let mut it = arg.splitn(2, ' ');
                    let name = it.next().unwrap_or_default();
                    let flags = it.next().unwrap_or_default();
                    if name.len() > 31 {
                        return Err("setname `{name}' too long, max 31 characters".into());
                    }
                    let mut dirs = vec![];
                    for f in flags.split(',') {
                        dirs.push(match f {
                            "src" => true,
                            "dst" => false,
                            _ => return Err(format!("You must specify (the comma separated list of) 'src' or 'dst', not \"{f}\"")),
                        });
                    }
                    if dirs.len() > 6 {
                        return Err("Can't be more src/dst options than 6.".into());
                    }
                    (m.invert, m.name, m.dirs) = (inv, name.to_string(), dirs);
                }
                "--return-nomatch" => m.return_nomatch = true,
                "--update-counters" => m.no_update_counters = inv,
                "--update-subcounters" => m.no_update_subcounters = inv,
                _ => {
                    parse_uint(arg, u64::MAX)
                        .ok_or_else(|| format!("Bad value \"{arg}\" for {opt}"))?;
                    m.counters.push((inv, opt.to_string(), arg.to_string()));
                }
            },
            MatchKind::Owner(m) => match opt {
                "--uid-owner" => m.uid = Some(Neg::new(inv, parse_user(arg, "uid")?)),
                "--gid-owner" => m.gid = Some(Neg::new(inv, parse_user(arg, "gid")?)),
                "--socket-exists" => m.socket_exists = Some(inv),
                _ => m.suppl_groups = Some(inv),
            },
            MatchKind::Mac { invert, mac } => {
                let parts: Vec<_> = arg.split(':').collect();
                let bad = || format!("Bad mac address \"{arg}\"");
                if parts.len() != 6 {
                    return Err(bad());
                }
                for (i, p) in parts.iter().enumerate() {
                    if p.is_empty() || p.len() > 2 {
                        return Err(bad());
                    }
                    mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad())?;
                }
                *invert = inv;
            }
            MatchKind::Pkttype { invert, pkttype } => {
                let (_, v) = names::PKT_TYPES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(arg))
                    .ok_or_else(|| format!("Bad packet type '{arg}'"))?;
                (*invert, *pkttype) = (inv, *v);
            }
            MatchKind::Length { invert, min, max } => {
                let (a, b) = parse_u32_range(arg, ':', "length")?;
                if b > 0xffff {
                    return Err(format!("length invalid: \"{arg}\""));
                }
                (*invert, *min, *max) = (inv, a as u16, b as u16);
            }
            MatchKind::Ttl { mode, ttl } => {
                *ttl =
                    parse_uint(arg, 255).ok_or_else(|| format!("ttl: Bad value \"{arg}\""))? as u8;
                *mode = match (opt, inv) {
                    ("--ttl-eq", false) => TtlMode::Eq,
                    ("--ttl-eq", true) => TtlMode::Ne,
                    ("--ttl-lt", _) => TtlMode::Lt,
                    _ => TtlMode::Gt,
                };
            }
            MatchKind::Tos {
                invert,
                value,
                mask,
            } => {
                if let Some((_, v)) = names::TOS_NAMES
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(arg))
                {
                    (*value, *mask) = (*v, 0x3f);
                } else {
                    let (v, m) =
                        parse_mark_mask(arg).map_err(|_| format!("Bad TOS value \"{arg}\""))?;
                    if v > 255 || (m != u32::MAX && m > 255) {
                        return Err(format!("Bad TOS value \"{arg}\""));
                    }
                    (*value, *mask) = (v as u8, if m == u32::MAX { 0xff } else { m as u8 });
                }
                *invert = inv;
            }
            MatchKind::Dscp { invert, dscp } => {
                let v = if opt == "--dscp-class" {
                    names::DSCP_CLASSES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(arg))
                        .map(|(_, v)| *v)
                        .ok_or_else(|| format!("Invalid DSCP class value `{arg}'"))?
                } else {
                    parse_uint(arg, 63).ok_or_else(|| format!("DSCP `{arg}' not in range 0-63"))?
                        as u8
                };
                (*invert, *dscp) = (inv, v);
            }
            MatchKind::Physdev(m) => match opt {
                "--physdev-in" => m.physdev_in = Some(Neg::new(inv, Iface::parse(arg)?)),
                "--physdev-out" => m.physdev_out = Some(Neg::new(inv, Iface::parse(arg)?)),
                "--physdev-is-in" => m.is_in = Some(inv),
                "--physdev-is-out" => m.is_out = Some(inv),
                _ => m.is_bridged = Some(inv),
            },
            MatchKind::Nfacct { name } => {
                if arg.is_empty() || arg.len() > 31 {
                    return Err("nfacct: object name must be 1 to 31 characters".into());
                }
                *name = Box::from(arg);
            }
            MatchKind::Unknown(_) => unreachable!("unknown extensions keep raw words"),
        }
        Ok(())
    }

    /// Checks iptables makes after all options are read (`final_check`).
    pub fn final_check(&self, seen: Seen) -> Result<(), String> {
        if let MatchKind::Recent(_) = self {
            // xtables_options_fcheck: the commands exclude each other, named
            // in the order of the extension's option table.
            let given: Vec<&str> = ["--set", "--rcheck", "--update", "--remove"]
                .into_iter()
                .filter(|o| seen.has(o))
                .collect();
            if let [first, other, ..] = given[..] {
                return Err(format!(
                    "option \"{first}\" cannot be used together with \"{other}\"."
                ));
            }
        }
        match self {
            MatchKind::Multiport(m) if m.ports.is_empty() => {
                Err("multiport: one of --sports, --dports or --ports is required".into())
            }
            MatchKind::Comment { .. } if seen.is_empty() => {
                Err("comment: option \"--comment\" must be specified".into())
            }
            MatchKind::Statistic(m) => {
                let has = |o: &str| seen.has(o);
                if !has("--mode") {
                    return Err("option \"--mode\" must be specified".into());
                }
                match m.mode {
                    StatisticMode::Random { .. } if has("--every") || has("--packet") => {
                        Err("--every and --packet can only be used in nth mode".into())
                    }
                    StatisticMode::Random { .. } if !has("--probability") => {
                        Err("option \"--probability\" must be specified in random mode".into())
                    }
                    StatisticMode::Nth { .. } if has("--probability") => {
                        Err("--probability can only be used in random mode".into())
                    }
                    StatisticMode::Nth { .. } if has("--every") && !has("--packet") => {
                        Err("option \"--every\" also requires \"--packet\".".into())
                    }
                    StatisticMode::Nth { .. } if !has("--every") => {
                        Err("option \"--every\" must be specified in nth mode".into())
                    }
                    StatisticMode::Nth { every, packet } if packet >= every => Err(format!(
                        "the --packet p must be 0 <= p <= n-1 (got {packet} with --every {every})"
                    )),
                    _ => Ok(()),
                }
            }
            MatchKind::Conntrack(_) if seen.is_empty() => Err(format!(
                "{}: you must specify one or more options",
                self.name()
            )),
            MatchKind::Mark(_) | MatchKind::Connmark(_) if seen.is_empty() => Err(format!(
                "{}: option \"--mark\" must be specified",
                self.name()
            )),
            MatchKind::Iprange(_) if seen.is_empty() => {
                Err("iprange match: You must specify `--src-range' or `--dst-range'".into())
            }
            MatchKind::Set(m) if m.name.is_empty() => {
                Err("You must specify `--match-set' with proper arguments".into())
            }
            MatchKind::Mac { .. } if seen.is_empty() => {
                Err("mac: option \"--mac-source\" must be specified".into())
            }
            MatchKind::Pkttype { .. } if seen.is_empty() => {
                Err("pkttype: option \"--pkt-type\" must be specified".into())
            }
            MatchKind::Length { .. } if seen.is_empty() => {
                Err("length: option \"--length\" must be specified".into())
            }
            MatchKind::Ttl { .. } if seen.is_empty() => {
                Err("TTL match: You must specify one of `--ttl-eq', `--ttl-lt', `--ttl-gt'".into())
            }
            MatchKind::Tos { .. } if seen.is_empty() => {
                Err("tos: option \"--tos\" must be specified".into())
            }
            MatchKind::Dscp { .. } if seen.is_empty() => {
                Err("DSCP match: Parameter --dscp is required".into())
            }
            MatchKind::Physdev(_) if seen.is_empty() => {
                Err("PHYSDEV: no physdev option specified".into())
            }
            MatchKind::Nfacct { .. } if seen.is_empty() => {
                Err("nfacct: option \"--nfacct-name\" must be specified".into())
            }
            MatchKind::Recent(_)
                if !["--set", "--rcheck", "--update", "--remove"]
                    .iter()
                    .any(|o| seen.has(o)) =>
            {
                Err(
                    "recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'"
                        .into(),
                )
            }
            MatchKind::Recent(m)
                if m.command == RecentCommand::Set && (m.seconds > 0 || m.hitcount > 0) =>
            {
                Err("recent: --seconds and --hitcount cannot be used with --set".into())
            }
            MatchKind::Recent(m) if m.reap && m.seconds == 0 => {
                Err("recent: --reap is only valid with --seconds".into())
            }
            _ => Ok(()),
        }
    }

    /// Append the options as iptables-save prints them (each starting with a space).
    pub fn save(&self, out: &mut String) {
        match self {
            MatchKind::Tcp(m) => {
                save_l4_ports(out, "--sport", &m.sport);
                save_l4_ports(out, "--dport", &m.dport);
                if let Some(o) = &m.option {
                    bang(out, o.invert);
                    out.push_str(&format!(" --tcp-option {}", o.value));
                }
                if let Some(f) = &m.flags {
                    bang(out, f.invert);
                    out.push_str(" --tcp-flags ");
                    out.push_str(&f.value.0.names());
                    out.push(' ');
                    out.push_str(&f.value.1.names());
                }
            }
            MatchKind::Udp(m) => {
                save_l4_ports(out, "--sport", &m.sport);
                save_l4_ports(out, "--dport", &m.dport);
            }
            MatchKind::Sctp(m) => {
                save_ports(out, "--sport", &m.sport);
                save_ports(out, "--dport", &m.dport);
                if let Some(c) = &m.chunk_types {
                    bang(out, c.invert);
                    out.push_str(" --chunk-types ");
                    out.push_str(&c.value);
                }
            }
            MatchKind::Icmp(m) => {
                bang(out, m.invert);
                if m.icmp_type == 0xff {
                    out.push_str(" --icmp-type any");
                } else {
                    out.push_str(&format!(" --icmp-type {}", m.icmp_type));
                    if m.code_min != 0 || m.code_max != 0xff {
                        out.push_str(&format!("/{}", m.code_min));
                    }
                }
            }
            MatchKind::Multiport(m) => {
                bang(out, m.invert);
                out.push_str(match m.side {
                    PortSide::Source => " --sports ",
                    PortSide::Destination => " --dports ",
                    PortSide::Either => " --ports ",
                });
                let list: Vec<String> = m.ports.iter().map(PortRange::save).collect();
                out.push_str(&list.join(","));
            }
            MatchKind::Comment { comment } => {
                out.push_str(" --comment");
                save_string(out, comment);
            }
            MatchKind::Addrtype(m) => {
                for (label, v) in [(" --src-type ", &m.src), (" --dst-type ", &m.dst)] {
                    if let Some(v) = v {
                        bang(out, v.invert);
                        out.push_str(label);
                        let list: Vec<&str> = (0..12)
                            .filter(|i| v.value & (1 << i) != 0)
                            .map(|i| names::ADDR_TYPES[i])
                            .collect();
                        out.push_str(&list.join(","));
                    }
                }
                if m.limit_iface_in {
                    out.push_str(" --limit-iface-in");
                }
                if m.limit_iface_out {
                    out.push_str(" --limit-iface-out");
                }
            }
            MatchKind::Statistic(m) => {
                let inv = if m.invert { " !" } else { "" };
                match m.mode {
                    StatisticMode::Random { threshold } => out.push_str(&format!(
                        " --mode random{inv} --probability {:.11}",
                        threshold as f64 / 2147483648.0
                    )),
                    StatisticMode::Nth { every, packet } => out.push_str(&format!(
                        " --mode nth{inv} --every {every} --packet {packet}"
                    )),
                }
            }
            MatchKind::Conntrack(m) => {
                if let Some(s) = &m.state {
                    bang(out, s.invert);
                    out.push_str(if m.state_alias {
                        " --state"
                    } else {
                        " --ctstate"
                    });
                    save_bits(out, s.value, names::CT_STATES);
                }
                if let Some(p) = &m.proto {
                    bang(out, p.invert);
                    out.push_str(&format!(" --ctproto {}", p.value));
                }
                for (label, v) in [
                    ("--ctorigsrc", &m.orig_src),
                    ("--ctorigdst", &m.orig_dst),
                    ("--ctreplsrc", &m.repl_src),
                    ("--ctrepldst", &m.repl_dst),
                ] {
                    if let Some(v) = v {
                        bang(out, v.invert);
                        out.push_str(&format!(" {label} {}", v.value.save_short()));
                    }
                }
                for (label, v) in [
                    ("--ctorigsrcport", &m.orig_src_port),
                    ("--ctorigdstport", &m.orig_dst_port),
                    ("--ctreplsrcport", &m.repl_src_port),
                    ("--ctrepldstport", &m.repl_dst_port),
                ] {
                    save_ports(out, label, v);
                }
                if let Some(s) = &m.status {
                    bang(out, s.invert);
                    out.push_str(" --ctstatus");
                    if s.value == 0 {
                        out.push_str(" NONE");
                    } else {
                        save_bits(out, s.value, names::CT_STATUS);
                    }
                }
                if let Some(e) = &m.expire {
                    bang(out, e.invert);
                    if e.value.0 == e.value.1 {
                        out.push_str(&format!(" --ctexpire {}", e.value.0));
                    } else {
                        out.push_str(&format!(" --ctexpire {}:{}", e.value.0, e.value.1));
                    }
                }
                if let Some(r) = m.dir_reply {
                    out.push_str(if r {
                        " --ctdir REPLY"
                    } else {
                        " --ctdir ORIGINAL"
                    });
                }
            }
            MatchKind::Mark(m) | MatchKind::Connmark(m) => {
                bang(out, m.invert);
                out.push_str(" --mark ");
                out.push_str(&save_mark(m.mark, m.mask));
            }
            MatchKind::Iprange(m) => {
                for (label, v) in [(" --src-range ", &m.src), (" --dst-range ", &m.dst)] {
                    if let Some(v) = v {
                        bang(out, v.invert);
                        out.push_str(label);
                        out.push_str(&format!("{}-{}", v.value.0, v.value.1));
                    }
                }
            }
            MatchKind::Limit(m) => {
                out.push_str(" --limit");
                save_rate(out, m.avg);
                if m.burst != 5 {
                    out.push_str(&format!(" --limit-burst {}", m.burst));
                }
            }
            MatchKind::Recent(m) => {
                bang(out, m.invert);
                out.push_str(match m.command {
                    RecentCommand::Set => " --set",
                    RecentCommand::Rcheck => " --rcheck",
                    RecentCommand::Update => " --update",
                    RecentCommand::Remove => " --remove",
                });
                if m.seconds > 0 {
                    out.push_str(&format!(" --seconds {}", m.seconds));
                }
                if m.reap {
                    out.push_str(" --reap");
                }
                if m.hitcount > 0 {
                    out.push_str(&format!(" --hitcount {}", m.hitcount));
                }
                if m.rttl {
                    out.push_str(" --rttl");
                }
                out.push_str(&format!(" --name {} --mask {}", m.name, m.mask));
                out.push_str(if m.rdest { " --rdest" } else { " --rsource" });
            }
            MatchKind::Set(m) => {
                bang(out, m.invert);
                let dirs: Vec<&str> = m
                    .dirs
                    .iter()
                    .map(|d| if *d { "src" } else { "dst" })
                    .collect();
                out.push_str(&format!(" --match-set {} {}", m.name, dirs.join(",")));
                if m.return_nomatch {
                    out.push_str(" --return-nomatch");
                }
                if m.no_update_counters {
                    out.push_str(" ! --update-counters");
                }
                if m.no_update_subcounters {
                    out.push_str(" ! --update-subcounters");
                }
                for (inv, opt, v) in &m.counters {
                    bang(out, *inv);
                    out.push_str(&format!(" {opt} {v}"));
                }
            }
            MatchKind::Owner(m) => {
                if let Some(inv) = m.socket_exists {
                    bang(out, inv);
                    out.push_str(" --socket-exists");
                }
                for (label, v) in [(" --uid-owner ", &m.uid), (" --gid-owner ", &m.gid)] {
                    if let Some(v) = v {
                        bang(out, v.invert);
                        out.push_str(label);
                        if v.value.0 == v.value.1 {
                            out.push_str(&v.value.0.to_string());
                        } else {
                            out.push_str(&format!("{}-{}", v.value.0, v.value.1));
                        }
                    }
                }
                if let Some(inv) = m.suppl_groups {
                    bang(out, inv);
                    out.push_str(" --suppl-groups");
                }
            }
            MatchKind::Mac { invert, mac } => {
                bang(out, *invert);
                let parts: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
                out.push_str(&format!(" --mac-source {}", parts.join(":")));
            }
            MatchKind::Pkttype { invert, pkttype } => {
                bang(out, *invert);
                let name = names::PKT_TYPES
                    .iter()
                    .find(|(_, v)| v == pkttype)
                    .map_or("unicast", |(n, _)| n);
                out.push_str(&format!(" --pkt-type {name}"));
            }
            MatchKind::Length { invert, min, max } => {
                bang(out, *invert);
                if min == max {
                    out.push_str(&format!(" --length {min}"));
                } else {
                    out.push_str(&format!(" --length {min}:{max}"));
                }
            }
            MatchKind::Ttl { mode, ttl } => out.push_str(&match mode {
                TtlMode::Eq => format!(" --ttl-eq {ttl}"),
                TtlMode::Ne => format!(" ! --ttl-eq {ttl}"),
                TtlMode::Lt => format!(" --ttl-lt {ttl}"),
                TtlMode::Gt => format!(" --ttl-gt {ttl}"),
            }),
            MatchKind::Tos {
                invert,
                value,
                mask,
            } => {
                bang(out, *invert);
                out.push_str(&format!(" --tos 0x{value:02x}/0x{mask:02x}"));
            }
            MatchKind::Dscp { invert, dscp } => {
                bang(out, *invert);
                out.push_str(&format!(" --dscp 0x{dscp:02x}"));
            }
            MatchKind::Physdev(m) => {
                let flag = |out: &mut String, v: Option<bool>, label: &str| {
                    if let Some(inv) = v {
                        bang(out, inv);
                        out.push_str(label);
                    }
                };
                let dev = |out: &mut String, v: &Option<Neg<Iface>>, label: &str| {
                    if let Some(v) = v {
                        bang(out, v.invert);
                        out.push_str(&format!("{label} {}", v.value));
                    }
                };
                flag(out, m.is_in, " --physdev-is-in");
                dev(out, &m.physdev_in, " --physdev-in");
                flag(out, m.is_out, " --physdev-is-out");
                dev(out, &m.physdev_out, " --physdev-out");
                flag(out, m.is_bridged, " --physdev-is-bridged");
            }
            MatchKind::Nfacct { name } => {
                // iptables 1.8.9 prints the option with a trailing space and then
                // xtables_save_string adds its own: two spaces, faithfully.
                out.push_str(" --nfacct-name ");
                save_string(out, name);
            }
            MatchKind::Unknown(u) => {
                for a in &u.args {
                    out.push(' ');
                    out.push_str(a);
                }
            }
        }
    }
}

fn save_ports(out: &mut String, label: &str, v: &Option<Neg<PortRange>>) {
    if let Some(p) = v {
        if p.value == PortRange::ALL && !p.invert {
            return;
        }
        bang(out, p.invert);
        out.push_str(&format!(" {label} {}", p.value.save()));
    }
}

/// tcp and udp print a port range only when it is not the whole range, even a
/// negated one (their save callbacks test the values, not the flags).
fn save_l4_ports(out: &mut String, label: &str, v: &Option<Neg<PortRange>>) {
    if v.as_ref().is_some_and(|p| p.value != PortRange::ALL) {
        save_ports(out, label, v);
    }
}

/// The comment match's only rule: at most 255 characters.
pub fn check_comment(arg: &str) -> Result<(), String> {
    if arg.len() > 255 {
        return Err(format!(
            "comment too long, maximum is 255 characters (got {})",
            arg.len()
        ));
    }
    Ok(())
}

/// `--tcp-flags MASK COMP` takes two words; the parser hands both here.
pub fn apply_tcp_flags(m: &mut MatchKind, inv: bool, mask: &str, comp: &str) -> Result<(), String> {
    if let MatchKind::Tcp(t) = m {
        t.flags = Some(Neg::new(
            inv,
            (TcpFlags::parse_list(mask)?, TcpFlags::parse_list(comp)?),
        ));
    }
    Ok(())
}

/// Options that take two words (`--tcp-flags MASK COMP`, `--match-set NAME FLAGS`).
pub fn takes_two_args(ext: &str, opt: &str) -> bool {
    match_desc(ext).is_some_and(|d| d.two_args.contains(&opt))
}

#[cfg(test)]
mod descriptor_tests {
    use super::*;

    #[test]
    fn every_descriptor_builds_its_own_match() {
        for d in MATCHES {
            let m = (d.new)();
            assert_eq!(m.name(), d.name, "MATCHES entry {}", d.name);
            assert!(!matches!(m, MatchKind::Unknown(_)), "{}", d.name);
            // validate and needs_conntrack find the descriptor from the match.
            assert!(m.desc().is_some_and(|x| std::ptr::eq(x, d)), "{}", d.name);
            for two in d.two_args {
                assert!(
                    d.options.iter().any(|o| o.name == *two && o.has_arg),
                    "{} {two}",
                    d.name
                );
            }
        }
        let mut names: Vec<&str> = MATCHES.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MATCHES.len(), "a match is listed twice");
        assert!(matches!(new_match("u32"), MatchKind::Unknown(_)));
    }
}
