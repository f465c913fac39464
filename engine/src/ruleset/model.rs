//! The ruleset model: tables with their kernel built-in chains, user-defined
//! chains, and typed rules, each rule keeping the span of its source line.
//!
//! This is what `iptables-save` describes and what the kernel holds. It does not
//! parse text (see [`crate::ruleset::parser`]) or judge legality (see [`crate::ruleset::validate`]).

pub use crate::ruleset::hook::{Hook, TableKind};
use crate::ruleset::matches::MatchKind;
use crate::ruleset::strtab::NameIndex;
use crate::ruleset::targets::{TargetKind, Verdict};
use crate::ruleset::value::{Iface, Ipv4Net, Proto};
use crate::text::span::Span;
use serde::Serialize;
use std::sync::Arc;

/// A built-in chain's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// Packet and byte counters, `[pkts:bytes]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

impl Counters {
    /// `[p:b]`.
    pub fn parse(s: &str) -> Option<Counters> {
        let inner = s.strip_prefix('[')?.strip_suffix(']')?;
        let (p, b) = inner.split_once(':')?;
        Some(Counters {
            packets: p.parse().ok()?,
            bytes: b.parse().ok()?,
        })
    }

    /// iptables-restore's reading: `strtoull` semantics, a non-number counts as 0.
    pub fn parse_lenient(s: &str) -> Option<Counters> {
        let inner = s.strip_prefix('[')?.strip_suffix(']')?;
        let (p, b) = inner.split_once(':')?;
        let num = |x: &str| -> u64 {
            let digits: String = x.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap_or(0)
        };
        Some(Counters {
            packets: num(p),
            bytes: num(b),
        })
    }
}

/// An address match (`[!] -s net`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AddrMatch {
    pub invert: bool,
    pub net: Ipv4Net,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IfaceMatch {
    pub invert: bool,
    pub iface: Iface,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProtoMatch {
    pub invert: bool,
    pub proto: Proto,
}

/// A rule's interface conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ifaces {
    pub in_iface: Option<IfaceMatch>,
    pub out_iface: Option<IfaceMatch>,
}

/// One `-m` match (or an implicit protocol match) with its source span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Match {
    #[serde(flatten)]
    pub kind: MatchKind,
    #[serde(skip)]
    pub span: Span,
}

/// What a rule does when it matches.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// No `-j`: the rule only counts.
    None,
    Verdict {
        verdict: Verdict,
    },
    Jump {
        chain: Arc<str>,
    },
    Goto {
        chain: Arc<str>,
    },
    Extension {
        target: TargetKind,
    },
}

impl Target {
    /// The `-j`/`-g` name as iptables-save prints it.
    pub fn name(&self) -> Option<&str> {
        match self {
            Target::None => None,
            Target::Verdict { verdict } => Some(verdict.as_str()),
            Target::Jump { chain } | Target::Goto { chain } => Some(chain),
            Target::Extension { target } => Some(target.name()),
        }
    }

    /// The user chain this target enters, if any.
    pub fn chain(&self) -> Option<&str> {
        match self {
            Target::Jump { chain } | Target::Goto { chain } => Some(chain),
            _ => None,
        }
    }

    /// True when no later rule of the chain can run after this one matches.
    pub fn ends_chain(&self) -> bool {
        match self {
            Target::Verdict { .. } | Target::Goto { .. } => true,
            Target::Extension { target } => target.is_terminal(),
            Target::None | Target::Jump { .. } => false,
        }
    }
}

/// One rule, as iptables-save lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    pub src: Option<AddrMatch>,
    pub dst: Option<AddrMatch>,
    /// `-i` and `-o`, boxed: most rules have neither, and a rule's size is
    /// what a large dump's memory is made of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ifaces: Option<Box<Ifaces>>,
    pub proto: Option<ProtoMatch>,
    /// `-f` (false) or `! -f` (true).
    pub fragment: Option<bool>,
    pub matches: Box<[Match]>,
    pub target: Target,
    /// `[pkts:bytes]` when the dump carried them (boxed: most dumps have none).
    pub counters: Option<Box<Counters>>,
    /// The whole source line (or command) the rule came from.
    #[serde(skip)]
    pub span: Span,
    /// Span of `-j NAME` / `-g NAME` and its options.
    #[serde(skip)]
    pub target_span: Span,
    /// 1-based source line.
    pub line: usize,
}

impl Rule {
    pub fn new(span: Span, line: usize) -> Rule {
        Rule {
            src: None,
            dst: None,
            ifaces: None,
            proto: None,
            fragment: None,
            matches: Box::new([]),
            target: Target::None,
            counters: None,
            span,
            target_span: span,
            line,
        }
    }

    /// `-i`, if any.
    pub fn in_iface(&self) -> Option<&IfaceMatch> {
        self.ifaces.as_ref()?.in_iface.as_ref()
    }

    /// `-o`, if any.
    pub fn out_iface(&self) -> Option<&IfaceMatch> {
        self.ifaces.as_ref()?.out_iface.as_ref()
    }

    /// The interface conditions, to set one.
    pub fn ifaces_mut(&mut self) -> &mut Ifaces {
        self.ifaces.get_or_insert_with(Box::default)
    }

    /// True when the rule has no condition at all (every packet matches).
    pub fn is_unconditional(&self) -> bool {
        let any = |a: &Option<AddrMatch>| a.as_ref().is_none_or(|a| !a.invert && a.net.is_any());
        any(&self.src)
            && any(&self.dst)
            && self.in_iface().is_none()
            && self.out_iface().is_none()
            && self
                .proto
                .as_ref()
                .is_none_or(|p| !p.invert && p.proto.0 == 0)
            && self.fragment.is_none()
            && self
                .matches
                .iter()
                .all(|m| matches!(m.kind, MatchKind::Comment { .. }))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chain {
    pub name: String,
    /// The hook of a built-in chain; None for user-defined chains.
    pub hook: Option<Hook>,
    pub policy: Option<Policy>,
    pub counters: Counters,
    pub rules: Vec<Rule>,
    /// Where the chain was declared (empty for implicit built-ins).
    #[serde(skip)]
    pub span: Span,
}

impl Chain {
    pub fn is_builtin(&self) -> bool {
        self.hook.is_some()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub kind: TableKind,
    /// Built-ins first in hook order, then user chains in the order they were
    /// created. Add, remove and rename chains through the methods below, which
    /// keep the name index in step.
    pub chains: Vec<Chain>,
    #[serde(skip)]
    pub span: Span,
    /// Chain name → position in `chains` (dumps hold tens of thousands of chains).
    #[serde(skip)]
    index: NameIndex,
}

/// The index is derived from the chains, so it takes no part in equality.
impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.kind == other.kind && self.span == other.span && self.chains == other.chains
    }
}

impl Table {
    /// A table holding only its built-in chains, ACCEPT policy, no rules.
    pub fn new(kind: TableKind, span: Span) -> Table {
        let chains = kind
            .builtin_hooks()
            .iter()
            .map(|&h| Chain {
                name: h.name().to_string(),
                hook: Some(h),
                policy: Some(Policy::Accept),
                counters: Counters::default(),
                rules: Vec::new(),
                span: Span::default(),
            })
            .collect();
        let mut t = Table {
            kind,
            chains,
            span,
            index: NameIndex::default(),
        };
        t.reindex();
        t
    }

    fn reindex(&mut self) {
        self.index
            .rebuild(self.chains.iter().map(|c| c.name.as_str()));
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chain_index(name).map(|i| &self.chains[i])
    }

    pub fn chain_mut(&mut self, name: &str) -> Option<&mut Chain> {
        self.chain_index(name).map(|i| &mut self.chains[i])
    }

    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.index.get(name, |i| self.chains[i].name.as_str())
    }

    /// Add a chain (the caller has checked that the name is free).
    pub fn add_chain(&mut self, chain: Chain) {
        self.index.insert(&chain.name, self.chains.len());
        self.chains.push(chain);
    }

    /// Keep only the chains `keep` accepts.
    pub fn retain_chains(&mut self, keep: impl FnMut(&Chain) -> bool) {
        self.chains.retain(keep);
        self.reindex();
    }

    /// Rename a chain and every jump or goto that names it.
    pub fn rename_chain(&mut self, old: &str, new: &str) {
        for c in self.chains.iter_mut() {
            if c.name == old {
                c.name = new.to_string();
            }
            for r in c.rules.iter_mut() {
                if let Target::Jump { chain } | Target::Goto { chain } = &mut r.target {
                    if &**chain == old {
                        *chain = Arc::from(new);
                    }
                }
            }
        }
        self.reindex();
    }

    pub fn rule_count(&self) -> usize {
        self.chains.iter().map(|c| c.rules.len()).sum()
    }
}

/// A whole IPv4 ruleset: the tables a dump or script mentioned, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

impl Ruleset {
    pub fn table(&self, kind: TableKind) -> Option<&Table> {
        self.tables.iter().find(|t| t.kind == kind)
    }

    pub fn table_mut(&mut self, kind: TableKind) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| t.kind == kind)
    }

    /// The table, created with its built-ins if the ruleset did not have it yet.
    pub fn table_or_insert(&mut self, kind: TableKind) -> &mut Table {
        match self.tables.iter().position(|t| t.kind == kind) {
            Some(i) => &mut self.tables[i],
            None => {
                self.tables.push(Table::new(kind, Span::default()));
                self.tables.last_mut().unwrap()
            }
        }
    }

    pub fn chain_count(&self) -> usize {
        self.tables.iter().map(|t| t.chains.len()).sum()
    }

    pub fn rule_count(&self) -> usize {
        self.tables.iter().map(Table::rule_count).sum()
    }
}

/// Whether any rule of the ruleset makes the kernel track connections
/// (`nf_ct_netns_get` in the extension's check; each extension's descriptor
/// says, `conntrack`): NAT targets, CT/NOTRACK, CONNMARK, and the conntrack,
/// state and connmark matches. A nat table whose rules need none of these
/// does not enable tracking, and without a connection the nat chains are
/// never traversed.
pub fn needs_conntrack(ruleset: &Ruleset) -> bool {
    ruleset
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
        .any(|r| {
            r.matches
                .iter()
                .any(|m| m.kind.desc().is_some_and(|d| d.conntrack))
                || matches!(&r.target, Target::Extension { target } if target.desc().is_some_and(|d| d.conntrack))
        })
}
