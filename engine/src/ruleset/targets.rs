//! Targets (`-j NAME ...`, `-g CHAIN`): the standard verdicts, jumps to user
//! chains, and the target extensions with their typed options and iptables-save
//! rendering. An unmodelled extension is kept verbatim as [`TargetKind::Unknown`].
//!
//! Each modelled target extension has one [`TargetDesc`] in [`TARGETS`]: its
//! name, options, table, hooks and whether it needs connection tracking.
//!
//! This module parses and prints; what a target does to a packet belongs to
//! [`crate::path`] (the walk's `BasicTargets` and the pipeline's target
//! runner), and checking a ruleset against the table and hooks its
//! descriptor allows to [`crate::ruleset::validate`].

use crate::ruleset::ext::{opt, OptSpec, Seen, UnknownExt};
use crate::ruleset::hook::{Hook, TableKind};
use crate::ruleset::names;
use crate::ruleset::value::*;
use serde::Serialize;

/// The built-in verdicts iptables accepts as `-j` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Queue,
}

impl Verdict {
    pub fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "ACCEPT" => Verdict::Accept,
            "DROP" => Verdict::Drop,
            "RETURN" => Verdict::Return,
            "QUEUE" => Verdict::Queue,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
            Verdict::Return => "RETURN",
            Verdict::Queue => "QUEUE",
        }
    }
}

/// A NAT range as the NAT targets hold it.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
pub struct NatRange {
    pub addrs: Option<(Ipv4, Ipv4)>,
    pub ports: Option<(u16, u16)>,
}

impl NatRange {
    /// `[ip[-ip]][:port[-port]]`.
    pub fn parse(s: &str) -> Result<NatRange, String> {
        let (a, p) = match s.bytes().position(|b| b == b':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let mut r = NatRange::default();
        if !a.is_empty() {
            r.addrs = Some(
                match a
                    .bytes()
                    .position(|b| b == b'-')
                    .map(|i| (&a[..i], &a[i + 1..]))
                {
                    // iptables accepts a reversed range (validation warns about it).
                    Some((x, y)) => (Ipv4::parse(x)?, Ipv4::parse(y)?),
                    None => {
                        let x = Ipv4::parse(a)?;
                        (x, x)
                    }
                },
            );
        }
        if let Some(p) = p {
            r.ports = Some(parse_port_dash(p)?);
        }
        if r.addrs.is_none() && r.ports.is_none() {
            return Err(format!("Bad IP address \"{s}\""));
        }
        Ok(r)
    }

    pub fn save(&self) -> String {
        let mut s = String::new();
        if let Some((a, b)) = self.addrs {
            s.push_str(&a.to_string());
            if a != b {
                s.push('-');
                s.push_str(&b.to_string());
            }
        }
        if let Some((a, b)) = self.ports {
            s.push_str(&format!(":{a}"));
            if a != b {
                s.push_str(&format!("-{b}"));
            }
        }
        s
    }
}

/// `port[-port]`, as the NAT targets write port ranges.
fn parse_port_dash(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("Port \"{s}\" not valid");
    let one = |x: &str| parse_uint(x, 65535).map(|v| v as u16).ok_or_else(bad);
    let (a, b) = match s
        .bytes()
        .position(|b| b == b'-')
        .map(|i| (&s[..i], &s[i + 1..]))
    {
        Some((a, b)) => (one(a)?, one(b)?),
        None => {
            let a = one(s)?;
            (a, a)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogTarget {
    pub prefix: String,
    pub level: u8,
    pub tcp_sequence: bool,
    pub tcp_options: bool,
    pub ip_options: bool,
    pub uid: bool,
    pub macdecode: bool,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct NflogTarget {
    pub prefix: String,
    pub group: u16,
    pub size: Option<u32>,
    pub range: Option<u32>,
    pub threshold: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnmarkMode {
    Set { ctmark: u32, ctmask: u32 },
    Save { nfmask: u32, ctmask: u32 },
    Restore { nfmask: u32, ctmask: u32 },
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct NatTarget {
    pub range: Option<NatRange>,
    pub random: bool,
    pub random_fully: bool,
    pub persistent: bool,
}

#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct CtTarget {
    pub notrack: bool,
    pub helper: Option<String>,
    pub timeout: Option<String>,
    pub ctevents: u32,
    pub expevents: u32,
    pub zone_orig: bool,
    pub zone_reply: bool,
    pub zone: u16,
}

/// A target extension with its options.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "extension", rename_all = "UPPERCASE")]
pub enum TargetKind {
    Reject {
        with: u8,
    },
    Log(Box<LogTarget>),
    Nflog(Box<NflogTarget>),
    /// The kernel's (value, mask): `mark = (mark & ~mask) ^ value`.
    Mark {
        value: u32,
        mask: u32,
    },
    Connmark(ConnmarkMode),
    Dnat(NatTarget),
    Snat(NatTarget),
    Masquerade(NatTarget),
    Redirect(NatTarget),
    Netmap {
        net: Ipv4Net,
    },
    Ct(Box<CtTarget>),
    Notrack,
    Trace,
    Nfqueue {
        num: u16,
        total: u16,
        bypass: bool,
        cpu_fanout: bool,
    },
    Tcpmss {
        mss: Option<u16>,
    },
    Dscp {
        dscp: u8,
    },
    Tos {
        value: u8,
        mask: u8,
    },
    Classify {
        major: u16,
        minor: u16,
    },
    /// An extension this engine does not model: kept verbatim.
    Unknown(Box<UnknownExt>),
}

/// One target extension, as everything that looks it up by its `-j` name
/// sees it: its options and its fresh state with iptables' defaults.
/// Adding a target: a [`TargetKind`] variant and an entry in [`TARGETS`];
/// then the compiler points at the rest (`TargetKind::name`, `apply`,
/// `final_check`, `save`, and its effect in `path`), each an exhaustive
/// `match` on the variant.
pub struct TargetDesc {
    /// The name as `-j` spells it.
    pub name: &'static str,
    pub options: &'static [OptSpec],
    /// A fresh target with iptables' defaults, before any option is applied.
    pub new: fn() -> TargetKind,
    /// The only table the kernel lets the target be used in (its `.table`).
    pub table: Option<TableKind>,
    /// The hooks the kernel lets it be used from (its `.hooks`); empty for any.
    pub hooks: &'static [Hook],
    /// Whether the kernel tracks connections for it (`nf_ct_netns_get` in
    /// its check), see [`crate::ruleset::model::needs_conntrack`].
    pub conntrack: bool,
}

/// The target extensions this engine models, in the order iptables' own
/// suggestions list them.
pub static TARGETS: &[TargetDesc] = &[
    TargetDesc {
        name: "REJECT",
        options: &[opt!("--reject-with", true)],
        new: || TargetKind::Reject { with: 2 },
        table: Some(TableKind::Filter),
        hooks: &[Hook::Input, Hook::Forward, Hook::Output],
        conntrack: false,
    },
    TargetDesc {
        name: "LOG",
        options: &[
            opt!("--log-prefix", true),
            opt!("--log-level", true),
            opt!("--log-tcp-sequence", false),
            opt!("--log-tcp-options", false),
            opt!("--log-ip-options", false),
            opt!("--log-uid", false),
            opt!("--log-macdecode", false),
        ],
        new: || {
            TargetKind::Log(Box::new(LogTarget {
                prefix: String::new(),
                level: 4,
                tcp_sequence: false,
                tcp_options: false,
                ip_options: false,
                uid: false,
                macdecode: false,
            }))
        },
        table: None,
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "NFLOG",
        options: &[
            opt!("--nflog-group", true),
            opt!("--nflog-prefix", true),
            opt!("--nflog-range", true),
            opt!("--nflog-size", true),
            opt!("--nflog-threshold", true),
        ],
        new: || TargetKind::Nflog(Box::default()),
        table: None,
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "MARK",
        options: &[
            opt!("--set-mark", true),
            opt!("--set-xmark", true),
            opt!("--and-mark", true),
            opt!("--or-mark", true),
            opt!("--xor-mark", true),
        ],
        new: || TargetKind::Mark { value: 0, mask: 0 },
        table: None,
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "CONNMARK",
        options: &[
            opt!("--set-mark", true),
            opt!("--set-xmark", true),
            opt!("--and-mark", true),
            opt!("--or-mark", true),
            opt!("--xor-mark", true),
            opt!("--save-mark", false),
            opt!("--restore-mark", false),
            opt!("--mask", true),
            opt!("--nfmask", true),
            opt!("--ctmask", true),
        ],
        new: || {
            TargetKind::Connmark(ConnmarkMode::Set {
                ctmark: 0,
                ctmask: 0,
            })
        },
        table: None,
        hooks: &[],
        conntrack: true,
    },
    TargetDesc {
        name: "DNAT",
        options: &[
            opt!("--to-destination", true),
            opt!("--random", false),
            opt!("--persistent", false),
        ],
        new: || TargetKind::Dnat(NatTarget::default()),
        table: Some(TableKind::Nat),
        hooks: &[Hook::Prerouting, Hook::Output],
        conntrack: true,
    },
    TargetDesc {
        name: "SNAT",
        options: &[
            opt!("--to-source", true),
            opt!("--random", false),
            opt!("--random-fully", false),
            opt!("--persistent", false),
        ],
        new: || TargetKind::Snat(NatTarget::default()),
        table: Some(TableKind::Nat),
        hooks: &[Hook::Postrouting, Hook::Input],
        conntrack: true,
    },
    TargetDesc {
        name: "MASQUERADE",
        options: &[
            opt!("--to-ports", true),
            opt!("--random", false),
            opt!("--random-fully", false),
        ],
        new: || TargetKind::Masquerade(NatTarget::default()),
        table: Some(TableKind::Nat),
        hooks: &[Hook::Postrouting],
        conntrack: true,
    },
    TargetDesc {
        name: "REDIRECT",
        options: &[opt!("--to-ports", true), opt!("--random", false)],
        new: || TargetKind::Redirect(NatTarget::default()),
        table: Some(TableKind::Nat),
        hooks: &[Hook::Prerouting, Hook::Output],
        conntrack: true,
    },
    TargetDesc {
        name: "NETMAP",
        options: &[opt!("--to", true)],
        new: || TargetKind::Netmap { net: Ipv4Net::ANY },
        table: Some(TableKind::Nat),
        hooks: &[
            Hook::Prerouting,
            Hook::Postrouting,
            Hook::Output,
            Hook::Input,
        ],
        conntrack: true,
    },
    TargetDesc {
        name: "CT",
        options: &[
            opt!("--notrack", false),
            opt!("--helper", true),
            opt!("--timeout", true),
            opt!("--ctevents", true),
            opt!("--expevents", true),
            opt!("--zone-orig", true),
            opt!("--zone-reply", true),
            opt!("--zone", true),
        ],
        new: || TargetKind::Ct(Box::default()),
        table: Some(TableKind::Raw),
        hooks: &[],
        conntrack: true,
    },
    TargetDesc {
        name: "NOTRACK",
        options: &[],
        new: || TargetKind::Notrack,
        table: Some(TableKind::Raw),
        hooks: &[],
        conntrack: true,
    },
    TargetDesc {
        name: "TRACE",
        options: &[],
        new: || TargetKind::Trace,
        table: Some(TableKind::Raw),
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "NFQUEUE",
        options: &[
            opt!("--queue-num", true),
            opt!("--queue-balance", true),
            opt!("--queue-bypass", false),
            opt!("--queue-cpu-fanout", false),
            opt!("--fail-open", false),
        ],
        new: || TargetKind::Nfqueue {
            num: 0,
            total: 1,
            bypass: false,
            cpu_fanout: false,
        },
        table: None,
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "TCPMSS",
        options: &[opt!("--set-mss", true), opt!("--clamp-mss-to-pmtu", false)],
        new: || TargetKind::Tcpmss { mss: None },
        table: None,
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "DSCP",
        options: &[opt!("--set-dscp", true), opt!("--set-dscp-class", true)],
        new: || TargetKind::Dscp { dscp: 0 },
        table: Some(TableKind::Mangle),
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "TOS",
        options: &[
            opt!("--set-tos", true),
            opt!("--and-tos", true),
            opt!("--or-tos", true),
            opt!("--xor-tos", true),
        ],
        new: || TargetKind::Tos { value: 0, mask: 0 },
        table: Some(TableKind::Mangle),
        hooks: &[],
        conntrack: false,
    },
    TargetDesc {
        name: "CLASSIFY",
        options: &[opt!("--set-class", true)],
        new: || TargetKind::Classify { major: 0, minor: 0 },
        table: Some(TableKind::Mangle),
        hooks: &[Hook::Forward, Hook::Output, Hook::Postrouting],
        conntrack: false,
    },
];

/// The descriptor of the target named `name`.
pub fn target_desc(name: &str) -> Option<&'static TargetDesc> {
    TARGETS.iter().find(|d| d.name == name)
}

/// Options of each known target (none for an unknown one).
pub fn target_options(name: &str) -> &'static [OptSpec] {
    target_desc(name).map_or(&[], |d| d.options)
}

/// A fresh target with iptables' defaults (an unknown name is kept verbatim).
pub fn new_target(name: &str) -> TargetKind {
    match target_desc(name) {
        Some(d) => (d.new)(),
        None => TargetKind::Unknown(Box::new(UnknownExt {
            name: name.to_string(),
            args: vec![],
        })),
    }
}

fn mark_arg(s: &str) -> Result<u32, String> {
    parse_uint(s, u32::MAX as u64)
        .map(|v| v as u32)
        .ok_or_else(|| format!("Bad mark value \"{s}\""))
}

fn parse_tos_value(s: &str) -> Result<(u8, u8), String> {
    if let Some((_, v)) = names::TOS_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
    {
        return Ok((*v, 0x3f));
    }
    let bad = || format!("Bad TOS value \"{s}\"");
    let (v, m) = match s.split_once('/') {
        Some((v, m)) => (
            parse_uint(v, 255).ok_or_else(bad)?,
            parse_uint(m, 255).ok_or_else(bad)?,
        ),
        None => (parse_uint(s, 255).ok_or_else(bad)?, 0xff),
    };
    Ok((v as u8, m as u8))
}

fn parse_events(s: &str, table: &[&str]) -> Result<u32, String> {
    let mut v = 0;
    for e in s.split(',') {
        let i = table
            .iter()
            .position(|n| *n == e)
            .ok_or_else(|| format!("Unknown event type \"{e}\""))?;
        v |= 1 << i;
    }
    Ok(v)
}

impl TargetKind {
    pub fn name(&self) -> &str {
        match self {
            TargetKind::Reject { .. } => "REJECT",
            TargetKind::Log(_) => "LOG",
            TargetKind::Nflog(_) => "NFLOG",
            TargetKind::Mark { .. } => "MARK",
            TargetKind::Connmark(_) => "CONNMARK",
            TargetKind::Dnat(_) => "DNAT",
            TargetKind::Snat(_) => "SNAT",
            TargetKind::Masquerade(_) => "MASQUERADE",
            TargetKind::Redirect(_) => "REDIRECT",
            TargetKind::Netmap { .. } => "NETMAP",
            TargetKind::Ct(_) => "CT",
            TargetKind::Notrack => "NOTRACK",
            TargetKind::Trace => "TRACE",
            TargetKind::Nfqueue { .. } => "NFQUEUE",
            TargetKind::Tcpmss { .. } => "TCPMSS",
            TargetKind::Dscp { .. } => "DSCP",
            TargetKind::Tos { .. } => "TOS",
            TargetKind::Classify { .. } => "CLASSIFY",
            TargetKind::Unknown(u) => &u.name,
        }
    }

    /// Its descriptor in [`TARGETS`] (none for one kept verbatim).
    pub fn desc(&self) -> Option<&'static TargetDesc> {
        target_desc(self.name())
    }

    /// Whether evaluation continues with the next rule after this target.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            TargetKind::Reject { .. }
                | TargetKind::Dnat(_)
                | TargetKind::Snat(_)
                | TargetKind::Masquerade(_)
                | TargetKind::Redirect(_)
                | TargetKind::Netmap { .. }
                | TargetKind::Nfqueue { .. }
        )
    }

    pub fn apply(&mut self, opt: &str, arg: &str) -> Result<(), String> {
        match self {
            TargetKind::Reject { with } => {
                let i = names::REJECT_TYPES
                    .iter()
                    .position(|(n, a)| *n == arg || *a == arg)
                    .ok_or_else(|| format!("unknown reject type \"{arg}\""))?;
                *with = i as u8;
            }
            TargetKind::Log(l) => match opt {
                "--log-prefix" => {
                    if arg.len() > 29 {
                        return Err("Maximum prefix length 29 for --log-prefix".into());
                    }
                    if arg.contains('\n') {
                        return Err("Newlines not allowed in --log-prefix".into());
                    }
                    l.prefix = arg.to_string();
                }
                "--log-level" => {
                    l.level = match names::LOG_LEVELS
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(arg))
                    {
                        Some((_, v)) => *v,
                        None => parse_uint(arg, 7)
                            .ok_or_else(|| format!("log-level `{arg}' unknown"))?
                            as u8,
                    }
                }
                "--log-tcp-sequence" => l.tcp_sequence = true,
                "--log-tcp-options" => l.tcp_options = true,
                "--log-ip-options" => l.ip_options = true,
                "--log-uid" => l.uid = true,
                _ => l.macdecode = true,
            },
            TargetKind::Nflog(n) => {
                let num = |max: u64| {
                    parse_uint(arg, max).ok_or_else(|| format!("Bad value \"{arg}\" for {opt}"))
                };
                match opt {
                    "--nflog-group" => n.group = num(65535)? as u16,
                    "--nflog-prefix" => {
                        if arg.len() > 63 {
                            return Err("Maximum prefix length 63 for --nflog-prefix".into());
                        }
                        n.prefix = arg.to_string()
                    }
                    "--nflog-range" => n.range = Some(num(u32::MAX as u64)? as u32),
                    "--nflog-size" => n.size = Some(num(u32::MAX as u64)? as u32),
                    _ => n.threshold = num(65535)? as u16,
                }
            }
            TargetKind::Mark { value, mask } => {
                (*value, *mask) = match opt {
                    "--set-xmark" => parse_mark_mask(arg)?,
                    "--set-mark" => {
                        let (v, m) = parse_mark_mask(arg)?;
                        (v, v | m)
                    }
                    "--and-mark" => (0, !mark_arg(arg)?),
                    "--or-mark" => {
                        let v = mark_arg(arg)?;
                        (v, v)
                    }
                    _ => (mark_arg(arg)?, 0),
                };
            }
            TargetKind::Connmark(mode) => {
                let masks = |m: &ConnmarkMode| match *m {
                    ConnmarkMode::Save { nfmask, ctmask }
                    | ConnmarkMode::Restore { nfmask, ctmask } => (nfmask, ctmask),
                    ConnmarkMode::Set { .. } => (u32::MAX, u32::MAX),
                };
                *mode = match opt {
                    "--set-xmark" => {
                        let (v, m) = parse_mark_mask(arg)?;
                        ConnmarkMode::Set {
                            ctmark: v,
                            ctmask: m,
                        }
                    }
                    "--set-mark" => {
                        let (v, m) = parse_mark_mask(arg)?;
                        ConnmarkMode::Set {
                            ctmark: v,
                            ctmask: v | m,
                        }
                    }
                    "--and-mark" => ConnmarkMode::Set {
                        ctmark: 0,
                        ctmask: !mark_arg(arg)?,
                    },
                    "--or-mark" => {
                        let v = mark_arg(arg)?;
                        ConnmarkMode::Set {
                            ctmark: v,
                            ctmask: v,
                        }
                    }
                    "--xor-mark" => ConnmarkMode::Set {
                        ctmark: mark_arg(arg)?,
                        ctmask: 0,
                    },
                    "--save-mark" => ConnmarkMode::Save {
                        nfmask: u32::MAX,
                        ctmask: u32::MAX,
                    },
                    "--restore-mark" => ConnmarkMode::Restore {
                        nfmask: u32::MAX,
                        ctmask: u32::MAX,
                    },
                    "--mask" | "--nfmask" | "--ctmask" => {
                        let v = mark_arg(arg)?;
                        let (nf, ct) = masks(mode);
                        let (nf, ct) = match opt {
                            "--mask" => (v, v),
                            "--nfmask" => (v, ct),
                            _ => (nf, v),
                        };
                        match mode {
                            ConnmarkMode::Save { .. } => ConnmarkMode::Save { nfmask: nf, ctmask: ct },
                            ConnmarkMode::Restore { .. } => ConnmarkMode::Restore { nfmask: nf, ctmask: ct },
                            ConnmarkMode::Set { .. } => {
                                return Err(format!("CONNMARK: {opt} can only be used with --save-mark or --restore-mark"))
                            }
                        }
                    }
                    _ => unreachable!(),
                };
            }
            TargetKind::Dnat(n) | TargetKind::Snat(n) => match opt {
                "--to-destination" | "--to-source" => {
                    if n.range.is_some() {
                        return Err(format!(
                            "{}: Multiple {opt} not supported",
                            self_name_for(opt)
                        ));
                    }
                    n.range = Some(NatRange::parse(arg)?)
                }
                "--random" => n.random = true,
                "--random-fully" => n.random_fully = true,
                _ => n.persistent = true,
            },
            TargetKind::Masquerade(n) | TargetKind::Redirect(n) => match opt {
                "--to-ports" => {
                    n.range = Some(NatRange {
                        addrs: None,
                        ports: Some(parse_port_dash(arg)?),
                    })
                }
                "--random" => n.random = true,
                _ => n.random_fully = true,
            },
            TargetKind::Netmap { net } => *net = Ipv4Net::parse(arg)?,
            TargetKind::Ct(c) => match opt {
                "--notrack" => c.notrack = true,
                "--helper" => c.helper = Some(arg.to_string()),
                "--timeout" => c.timeout = Some(arg.to_string()),
                "--ctevents" => c.ctevents = parse_events(arg, names::CT_EVENTS)?,
                "--expevents" => c.expevents = parse_events(arg, names::CT_EXP_EVENTS)?,
                _ => {
                    match opt {
                        "--zone-orig" => c.zone_orig = true,
                        "--zone-reply" => c.zone_reply = true,
                        _ => {}
                    }
                    c.zone =
                        parse_uint(arg, 65535).ok_or_else(|| format!("Bad zone \"{arg}\""))? as u16;
                }
            },
            TargetKind::Nfqueue {
                num,
                total,
                bypass,
                cpu_fanout,
            } => match opt {
                "--queue-num" => {
                    *num = parse_uint(arg, 65535)
                        .ok_or_else(|| format!("Bad queue number \"{arg}\""))?
                        as u16
                }
                "--queue-balance" => {
                    let (a, b) = arg
                        .split_once(':')
                        .ok_or_else(|| format!("Bad range \"{arg}\""))?;
                    let a =
                        parse_uint(a, 65535).ok_or_else(|| format!("Bad range \"{arg}\""))? as u16;
                    let b =
                        parse_uint(b, 65535).ok_or_else(|| format!("Bad range \"{arg}\""))? as u16;
                    if a >= b {
                        return Err(format!(
                            "--queue-balance: start queue {a} is greater than end queue {b}"
                        ));
                    }
                    (*num, *total) = (a, b - a + 1);
                }
                "--queue-bypass" | "--fail-open" => *bypass = true,
                _ => *cpu_fanout = true,
            },
            TargetKind::Tcpmss { mss } => match opt {
                "--set-mss" => {
                    *mss = Some(
                        parse_uint(arg, 65535 - 40)
                            .ok_or_else(|| format!("Bad TCPMSS value \"{arg}\""))?
                            as u16,
                    )
                }
                _ => *mss = None,
            },
            TargetKind::Dscp { dscp } => {
                *dscp = if opt == "--set-dscp-class" {
                    names::DSCP_CLASSES
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(arg))
                        .map(|(_, v)| *v)
                        .ok_or_else(|| format!("Invalid class name `{arg}'"))?
                } else {
                    parse_uint(arg, 63).ok_or_else(|| format!("DSCP `{arg}' not in range 0-63"))?
                        as u8
                }
            }
            TargetKind::Tos { value, mask } => {
                (*value, *mask) = match opt {
                    "--set-tos" => parse_tos_value(arg)?,
                    "--and-tos" => (
                        0,
                        !(parse_uint(arg, 255).ok_or_else(|| format!("Bad TOS value \"{arg}\""))?
                            as u8),
                    ),
                    "--or-tos" => {
                        let v = parse_uint(arg, 255)
                            .ok_or_else(|| format!("Bad TOS value \"{arg}\""))?
                            as u8;
                        (v, v)
                    }
                    _ => (
                        parse_uint(arg, 255).ok_or_else(|| format!("Bad TOS value \"{arg}\""))?
                            as u8,
                        0,
                    ),
                }
            }
            TargetKind::Classify { major, minor } => {
                let bad = || format!("Bad class value \"{arg}\"");
                let (a, b) = arg.split_once(':').ok_or_else(bad)?;
                *major = u16::from_str_radix(a, 16).map_err(|_| bad())?;
                *minor = u16::from_str_radix(b, 16).map_err(|_| bad())?;
            }
            TargetKind::Notrack | TargetKind::Trace => {}
            TargetKind::Unknown(_) => unreachable!("unknown targets keep raw words"),
        }
        Ok(())
    }

    pub fn final_check(&self, seen: Seen) -> Result<(), String> {
        match self {
            TargetKind::Mark { .. } if seen.is_empty() => {
                Err("MARK target: Parameter --set/and/or/xor-mark is required".into())
            }
            TargetKind::Connmark(_) if seen.is_empty() => {
                Err("CONNMARK target: No operation specified".into())
            }
            TargetKind::Dnat(n) if n.range.is_none() => {
                Err("DNAT: option \"--to-destination\" must be specified".into())
            }
            TargetKind::Snat(n) if n.range.is_none() => {
                Err("SNAT: option \"--to-source\" must be specified".into())
            }
            TargetKind::Netmap { .. } if seen.is_empty() => {
                Err("NETMAP: option \"--to\" must be specified".into())
            }
            TargetKind::Tcpmss { .. } if seen.is_empty() => {
                Err("TCPMSS target: At least one parameter is required".into())
            }
            TargetKind::Dscp { .. } if seen.is_empty() => {
                Err("DSCP target: Parameter --set-dscp is required".into())
            }
            TargetKind::Tos { .. } if seen.is_empty() => {
                Err("TOS: option \"--set-tos\" must be specified".into())
            }
            TargetKind::Classify { .. } if seen.is_empty() => {
                Err("CLASSIFY: option \"--set-class\" must be specified".into())
            }
            _ => Ok(()),
        }
    }

    pub fn save(&self, out: &mut String) {
        match self {
            TargetKind::Reject { with } => {
                out.push_str(" --reject-with ");
                out.push_str(names::REJECT_TYPES[*with as usize].0);
            }
            TargetKind::Log(l) => {
                if !l.prefix.is_empty() {
                    out.push_str(" --log-prefix");
                    save_string(out, &l.prefix);
                }
                if l.level != 4 {
                    out.push_str(&format!(" --log-level {}", l.level));
                }
                for (on, label) in [
                    (l.tcp_sequence, " --log-tcp-sequence"),
                    (l.tcp_options, " --log-tcp-options"),
                    (l.ip_options, " --log-ip-options"),
                    (l.uid, " --log-uid"),
                    (l.macdecode, " --log-macdecode"),
                ] {
                    if on {
                        out.push_str(label);
                    }
                }
            }
            TargetKind::Nflog(n) => {
                if !n.prefix.is_empty() {
                    out.push_str(" --nflog-prefix");
                    save_string(out, &n.prefix);
                }
                if n.group != 0 {
                    out.push_str(&format!(" --nflog-group {}", n.group));
                }
                if let Some(s) = n.size {
                    out.push_str(&format!(" --nflog-size {s}"));
                } else if let Some(r) = n.range.filter(|r| *r != 0) {
                    out.push_str(&format!(" --nflog-range {r}"));
                }
                if n.threshold != 0 {
                    out.push_str(&format!(" --nflog-threshold {}", n.threshold));
                }
            }
            TargetKind::Mark { value, mask } => {
                out.push_str(&format!(" --set-xmark 0x{value:x}/0x{mask:x}"))
            }
            TargetKind::Connmark(m) => out.push_str(&match *m {
                ConnmarkMode::Set { ctmark, ctmask } => {
                    format!(" --set-xmark 0x{ctmark:x}/0x{ctmask:x}")
                }
                ConnmarkMode::Save { nfmask, ctmask } => {
                    format!(" --save-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}")
                }
                ConnmarkMode::Restore { nfmask, ctmask } => {
                    format!(" --restore-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}")
                }
            }),
            TargetKind::Dnat(n) | TargetKind::Snat(n) => {
                if let Some(r) = &n.range {
                    out.push_str(if matches!(self, TargetKind::Dnat(_)) {
                        " --to-destination "
                    } else {
                        " --to-source "
                    });
                    out.push_str(&r.save());
                }
                if n.random {
                    out.push_str(" --random");
                }
                if n.random_fully {
                    out.push_str(" --random-fully");
                }
                if n.persistent {
                    out.push_str(" --persistent");
                }
            }
            TargetKind::Masquerade(n) | TargetKind::Redirect(n) => {
                if let Some((a, b)) = n.range.as_ref().and_then(|r| r.ports) {
                    out.push_str(&format!(" --to-ports {a}"));
                    if a != b {
                        out.push_str(&format!("-{b}"));
                    }
                }
                if n.random {
                    out.push_str(" --random");
                }
                if n.random_fully {
                    out.push_str(" --random-fully");
                }
            }
            TargetKind::Netmap { net } => out.push_str(&format!(" --to {}", net.save())),
            TargetKind::Ct(c) => {
                if c.notrack {
                    out.push_str(" --notrack");
                }
                if let Some(h) = &c.helper {
                    out.push_str(&format!(" --helper {h}"));
                }
                if let Some(t) = &c.timeout {
                    out.push_str(&format!(" --timeout {t}"));
                }
                for (label, v, table) in [
                    (" --ctevents ", c.ctevents, names::CT_EVENTS),
                    (" --expevents ", c.expevents, names::CT_EXP_EVENTS),
                ] {
                    if v != 0 {
                        let list: Vec<&str> = (0..table.len())
                            .filter(|i| v & (1 << i) != 0)
                            .map(|i| table[i])
                            .collect();
                        out.push_str(label);
                        out.push_str(&list.join(","));
                    }
                }
                if c.zone_orig {
                    out.push_str(&format!(" --zone-orig {}", c.zone));
                } else if c.zone_reply {
                    out.push_str(&format!(" --zone-reply {}", c.zone));
                } else if c.zone != 0 {
                    out.push_str(&format!(" --zone {}", c.zone));
                }
            }
            TargetKind::Notrack | TargetKind::Trace => {}
            TargetKind::Nfqueue {
                num,
                total,
                bypass,
                cpu_fanout,
            } => {
                if *total > 1 {
                    out.push_str(&format!(" --queue-balance {}:{}", num, num + total - 1));
                } else {
                    out.push_str(&format!(" --queue-num {num}"));
                }
                if *bypass {
                    out.push_str(" --queue-bypass");
                }
                if *cpu_fanout {
                    out.push_str(" --queue-cpu-fanout");
                }
            }
            TargetKind::Tcpmss { mss } => match mss {
                None => out.push_str(" --clamp-mss-to-pmtu"),
                Some(m) => out.push_str(&format!(" --set-mss {m}")),
            },
            TargetKind::Dscp { dscp } => out.push_str(&format!(" --set-dscp 0x{dscp:02x}")),
            TargetKind::Tos { value, mask } => {
                out.push_str(&format!(" --set-tos 0x{value:02x}/0x{mask:02x}"))
            }
            TargetKind::Classify { major, minor } => {
                out.push_str(&format!(" --set-class {major:04x}:{minor:04x}"))
            }
            TargetKind::Unknown(u) => {
                for a in &u.args {
                    out.push(' ');
                    out.push_str(a);
                }
            }
        }
    }
}

fn self_name_for(opt: &str) -> &'static str {
    if opt == "--to-destination" {
        "DNAT"
    } else {
        "SNAT"
    }
}

#[cfg(test)]
mod descriptor_tests {
    use super::*;

    #[test]
    fn every_descriptor_builds_its_own_target() {
        for d in TARGETS {
            let t = (d.new)();
            assert_eq!(t.name(), d.name, "TARGETS entry {}", d.name);
            assert!(!matches!(t, TargetKind::Unknown(_)), "{}", d.name);
            // validate and needs_conntrack find the descriptor from the target.
            assert!(t.desc().is_some_and(|x| std::ptr::eq(x, d)), "{}", d.name);
        }
        let mut names: Vec<&str> = TARGETS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len(), "a target is listed twice");
        assert!(matches!(new_target("TPROXY"), TargetKind::Unknown(_)));
    }
}
