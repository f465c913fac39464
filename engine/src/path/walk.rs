//! One table at one hook, walked rule by rule as ip_tables' `ipt_do_table`
//! does: rules in order, a `-j CHAIN` pushes its rule as the return point, a
//! `-g CHAIN` does not, RETURN or falling off a user chain resumes after the
//! last pushed rule (or, with nothing pushed, applies the built-in chain's
//! policy), and non-terminating targets let the walk go on.
//!
//! Every rule tried becomes a [`Step`] (matched or not, and why not), so a trace
//! can show the whole walk. What a target does to the packet is the
//! [`TargetRunner`]'s business; which hooks and tables run is the pipeline's.

use crate::net::hash::Fnv;
use crate::net::host::Host;
use crate::net::packet::Packet;
use crate::path::eval::{rule_matches, Conn, Context, Failed, MatchId, MatchState};
use crate::ruleset::matches::MatchKind;
use crate::ruleset::model::{Hook, Policy, Rule, Table, Target};
use crate::ruleset::targets::{TargetKind, Verdict};
use crate::ruleset::value::{Ipv4, Proto};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// What a rule's target did, in the trace's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepVerdict {
    Accept,
    Drop,
    Reject,
    Queue,
    Continue,
    Jump,
    Goto,
    Return,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Step {
    /// A rule was tried. `rule` is its 0-based position in the chain.
    Rule {
        chain: usize,
        rule: usize,
        matched: bool,
        failed: Option<Failed>,
        verdict: Option<StepVerdict>,
    },
    /// Rules `from..to` of the chain were tried and none matched: the index
    /// showed that their exact destination or port condition fails for this
    /// packet. `packet` is the packet as they saw it, to explain each one.
    Skipped {
        chain: usize,
        from: usize,
        to: usize,
        packet: Packet,
    },
    /// Evaluation fell off the end of a user chain.
    Return { chain: usize },
    /// A built-in chain's policy decided.
    Policy { chain: usize, policy: Policy },
}

/// What a target extension tells the walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetOutcome {
    Continue,
    Accept,
    Drop,
    Reject,
    Queue(u16),
}

/// Runs target extensions: changes the packet (MARK, DSCP, TOS), records NAT
/// bindings, logs, and says whether the walk goes on.
pub trait TargetRunner {
    fn run(
        &mut self,
        target: &TargetKind,
        packet: &mut Packet,
        chain: usize,
        rule: usize,
    ) -> TargetOutcome;

    /// Whether the packet carries `nf_trace` (set by the TRACE target).
    fn tracing(&self) -> bool {
        false
    }

    /// ip_tables' `trace_packet()`: called, while the packet is traced, for
    /// each entry that matched, before its target runs: `comment` is `rule`,
    /// `return` or `policy` and `num` the entry's 1-based position in `chain`.
    fn trace(&mut self, _packet: &Packet, _chain: &str, _comment: &'static str, _num: usize) {}

    /// What a target of this walk attached to a packet that had no
    /// connection yet, for the rules after it: `-j CT --notrack`/`-j NOTRACK`
    /// make it UNTRACKED, another `-j CT` attaches its template.
    fn conn_override(&self) -> Option<Conn<'_>> {
        None
    }
}

/// Report entry `entry` of `chain` (the chain's tail when past its last rule)
/// to a traced packet's log, labelled as ip_tables labels it: an
/// unconditional rule with a standard verdict counts as the chain's tail, so
/// `-A INPUT -j DROP` is logged as `policy` (and as `return` in a user chain).
fn trace_point(
    table: &Table,
    chain: usize,
    entry: usize,
    packet: &Packet,
    targets: &mut dyn TargetRunner,
) {
    if !targets.tracing() {
        return;
    }
    let c = &table.chains[chain];
    let tail = c.rules.get(entry).is_none_or(|r| {
        r.src.is_none()
            && r.dst.is_none()
            && r.in_iface().is_none()
            && r.out_iface().is_none()
            && r.proto.is_none()
            && r.fragment.is_none()
            && r.matches.is_empty()
            && matches!(r.target, Target::Verdict { .. })
    });
    let comment = match (tail, c.hook.is_some()) {
        (false, _) => "rule",
        (true, true) => "policy",
        (true, false) => "return",
    };
    targets.trace(packet, &c.name, comment, entry + 1);
}

/// The table's decision for the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableVerdict {
    Accept,
    Drop,
    Reject,
    Queue,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Walk {
    pub steps: Vec<Step>,
    pub verdict: TableVerdict,
    /// The chain and rule (None for a policy) that decided.
    pub by: (usize, Option<usize>),
}

/// What the matches may look at besides the packet itself.
pub struct Env<'a> {
    pub hook: Hook,
    pub in_iface: Option<&'a str>,
    pub out_iface: Option<&'a str>,
    pub host: &'a Host,
    pub owner: crate::path::eval::Socket,
    pub conn: Conn<'a>,
    /// Write out why each rule failed (false when only counting).
    pub explain: bool,
}

/// Chains shorter than this are walked without an index.
const INDEX_FROM: usize = 32;

/// What a chain's index is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// An exact `-d ADDR/32`.
    Dst(Ipv4),
    /// `-p P` with that protocol's match on a single `--dport`.
    Dport(Proto, u16),
}

/// One chain's rules by key; a rule without the key is always a candidate.
#[derive(Clone, Debug, Default)]
struct ChainIndex {
    by_key: HashMap<Key, Vec<u32>, BuildHasherDefault<Fnv>>,
    unkeyed: Vec<u32>,
    dst: bool,
}

/// Indexes of a table's long chains, built once per ruleset. A walk with an
/// index tries only the rules whose exact destination (or destination port)
/// can match, and reports the others as [`Step::Skipped`]: the kernel tries
/// them too, and they cannot match.
#[derive(Clone, Debug, Default)]
pub struct TableIndex {
    chains: Vec<Option<ChainIndex>>,
}

/// A rule's exact `-d` (no `!`).
fn dst_key(r: &Rule) -> Option<Key> {
    r.dst
        .as_ref()
        .filter(|d| !d.invert && d.net.is_host())
        .map(|d| Key::Dst(d.net.addr))
}

/// A rule's single destination port, when nothing before that match can fail
/// for another reason the index cannot explain (interfaces, stateful matches).
fn dport_key(r: &Rule) -> Option<Key> {
    let proto = r.proto.as_ref().filter(|p| !p.invert)?.proto;
    if r.in_iface().is_some() || r.out_iface().is_some() {
        return None;
    }
    for m in r.matches.iter() {
        let port = match &m.kind {
            MatchKind::Comment { .. } | MatchKind::Nfacct { .. } => continue,
            MatchKind::Tcp(t) if proto == Proto::TCP => t.dport.as_ref(),
            MatchKind::Udp(u) if proto == Proto::UDP => u.dport.as_ref(),
            _ => return None,
        };
        return port
            .filter(|d| !d.invert && d.value.lo == d.value.hi)
            .map(|d| Key::Dport(proto, d.value.lo));
    }
    None
}

impl TableIndex {
    pub fn new(table: &Table) -> TableIndex {
        let chains = table
            .chains
            .iter()
            .map(|c| {
                if c.rules.len() < INDEX_FROM {
                    return None;
                }
                let dsts = c.rules.iter().filter(|r| dst_key(r).is_some()).count();
                let ports = c.rules.iter().filter(|r| dport_key(r).is_some()).count();
                let dst = dsts >= ports;
                if dsts.max(ports) * 2 < c.rules.len() {
                    return None;
                }
                let mut idx = ChainIndex {
                    dst,
                    ..ChainIndex::default()
                };
                for (i, r) in c.rules.iter().enumerate() {
                    match if dst { dst_key(r) } else { dport_key(r) } {
                        Some(k) => idx.by_key.entry(k).or_default().push(i as u32),
                        None => idx.unkeyed.push(i as u32),
                    }
                }
                Some(idx)
            })
            .collect();
        TableIndex { chains }
    }

    /// The next rule at or after `from` that can match `p`.
    fn next_candidate(&self, chain: usize, from: usize, p: &Packet) -> Option<usize> {
        let idx = self.chains.get(chain)?.as_ref()?;
        let key = if idx.dst {
            Key::Dst(p.dst)
        } else {
            Key::Dport(p.proto, p.dport)
        };
        let first_at = |v: &[u32]| {
            v.get(v.partition_point(|&r| (r as usize) < from))
                .map(|&r| r as usize)
        };
        let a = idx.by_key.get(&key).and_then(|v| first_at(v));
        let b = first_at(&idx.unkeyed);
        Some(match (a, b) {
            (Some(a), Some(b)) => a.min(b),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => usize::MAX,
        })
    }
}

/// Give up on a walk this long: a table that passed validation cannot loop,
/// but the walk must terminate on any input.
const MAX_STEPS: usize = 1_000_000;

/// Walk `table` from the built-in chain of `hook`. `table_id` tells the
/// match state which table's counters to use.
pub fn walk(
    table: &Table,
    index: Option<&TableIndex>,
    table_id: u8,
    packet: &mut Packet,
    env: &Env,
    state: &mut dyn MatchState,
    targets: &mut dyn TargetRunner,
) -> Walk {
    let mut steps = Vec::with_capacity(8);
    let start = table
        .chain_index(env.hook.name())
        .filter(|&i| table.chains[i].hook == Some(env.hook));
    let Some(start) = start else {
        // The table has no chain at this hook: it lets everything through.
        return Walk {
            steps,
            verdict: TableVerdict::Accept,
            by: (usize::MAX, None),
        };
    };
    let policy = |steps: &mut Vec<Step>, packet: &Packet, targets: &mut dyn TargetRunner| {
        trace_point(
            table,
            start,
            table.chains[start].rules.len(),
            packet,
            targets,
        );
        let p = table.chains[start].policy.unwrap_or(Policy::Accept);
        steps.push(Step::Policy {
            chain: start,
            policy: p,
        });
        let verdict = match p {
            Policy::Accept => TableVerdict::Accept,
            Policy::Drop => TableVerdict::Drop,
        };
        Walk {
            steps: std::mem::take(steps),
            verdict,
            by: (start, None),
        }
    };
    // Return points: (chain, rule) of each `-j` still open.
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let (mut chain, mut rule) = (start, 0usize);
    loop {
        if steps.len() >= MAX_STEPS {
            return Walk {
                steps,
                verdict: TableVerdict::Drop,
                by: (chain, Some(rule)),
            };
        }
        let rules = &table.chains[chain].rules;
        if let Some(next) = index.and_then(|i| i.next_candidate(chain, rule, packet)) {
            let next = next.min(rules.len());
            if next > rule {
                steps.push(Step::Skipped {
                    chain,
                    from: rule,
                    to: next,
                    packet: packet.clone(),
                });
                rule = next;
            }
        }
        if rule >= rules.len() {
            if chain == start && stack.is_empty() {
                return policy(&mut steps, packet, targets);
            }
            trace_point(table, chain, rules.len(), packet, targets);
            steps.push(Step::Return { chain });
            match stack.pop() {
                Some((c, r)) => (chain, rule) = (c, r + 1),
                None => return policy(&mut steps, packet, targets),
            }
            continue;
        }
        let r = &rules[rule];
        let ctx = Context {
            packet,
            hook: env.hook,
            in_iface: env.in_iface,
            out_iface: env.out_iface,
            host: env.host,
            owner: env.owner,
            conn: targets.conn_override().unwrap_or_else(|| env.conn.clone()),
            explain: env.explain,
        };
        let id = |i: usize| MatchId {
            table: table_id,
            chain: chain as u32,
            rule: rule as u32,
            index: i as u8,
        };
        if let Err(failed) = rule_matches(r, &ctx, state, &id) {
            steps.push(Step::Rule {
                chain,
                rule,
                matched: false,
                failed: Some(failed),
                verdict: None,
            });
            rule += 1;
            continue;
        }
        trace_point(table, chain, rule, packet, targets);
        let here = (chain, Some(rule));
        let step = |v| Step::Rule {
            chain,
            rule,
            matched: true,
            failed: None,
            verdict: v,
        };
        match &r.target {
            Target::None => {
                steps.push(step(None));
                rule += 1;
            }
            Target::Verdict { verdict } => {
                let v = match verdict {
                    Verdict::Accept => StepVerdict::Accept,
                    Verdict::Drop => StepVerdict::Drop,
                    Verdict::Queue => StepVerdict::Queue,
                    Verdict::Return => StepVerdict::Return,
                };
                steps.push(step(Some(v)));
                match verdict {
                    Verdict::Accept => {
                        return Walk {
                            steps,
                            verdict: TableVerdict::Accept,
                            by: here,
                        }
                    }
                    Verdict::Drop => {
                        return Walk {
                            steps,
                            verdict: TableVerdict::Drop,
                            by: here,
                        }
                    }
                    Verdict::Queue => {
                        return Walk {
                            steps,
                            verdict: TableVerdict::Queue,
                            by: here,
                        }
                    }
                    Verdict::Return => match stack.pop() {
                        Some((c, r)) => (chain, rule) = (c, r + 1),
                        // RETURN from a built-in chain applies its policy.
                        None => return policy(&mut steps, packet, targets),
                    },
                }
            }
            Target::Jump { chain: to } | Target::Goto { chain: to } => {
                let goto = matches!(r.target, Target::Goto { .. });
                steps.push(step(Some(if goto {
                    StepVerdict::Goto
                } else {
                    StepVerdict::Jump
                })));
                let Some(next) = table.chain_index(to) else {
                    // Validation refuses this; a walk treats it as a drop.
                    return Walk {
                        steps,
                        verdict: TableVerdict::Drop,
                        by: here,
                    };
                };
                if !goto {
                    stack.push((chain, rule));
                }
                (chain, rule) = (next, 0);
            }
            Target::Extension { target } => {
                let outcome = targets.run(target, packet, chain, rule);
                let (v, end) = match outcome {
                    TargetOutcome::Continue => (StepVerdict::Continue, None),
                    TargetOutcome::Accept => (StepVerdict::Accept, Some(TableVerdict::Accept)),
                    TargetOutcome::Drop => (StepVerdict::Drop, Some(TableVerdict::Drop)),
                    TargetOutcome::Reject => (StepVerdict::Reject, Some(TableVerdict::Reject)),
                    TargetOutcome::Queue(_) => (StepVerdict::Queue, Some(TableVerdict::Queue)),
                };
                steps.push(step(Some(v)));
                match end {
                    Some(verdict) => {
                        return Walk {
                            steps,
                            verdict,
                            by: here,
                        }
                    }
                    None => rule += 1,
                }
            }
        }
    }
}

/// The targets' effects that need no connection table: MARK, DSCP and TOS
/// change the packet; NAT targets accept (the pipeline records bindings);
/// REJECT rejects; NFQUEUE queues; everything else continues.
#[derive(Default)]
pub struct BasicTargets;

impl TargetRunner for BasicTargets {
    fn run(
        &mut self,
        target: &TargetKind,
        packet: &mut Packet,
        _: usize,
        _: usize,
    ) -> TargetOutcome {
        match target {
            TargetKind::Mark { value, mask } => {
                packet.mark = (packet.mark & !mask) ^ value;
                TargetOutcome::Continue
            }
            TargetKind::Dscp { dscp } => {
                packet.tos = (packet.tos & 0x03) | (dscp << 2);
                TargetOutcome::Continue
            }
            TargetKind::Tos { value, mask } => {
                packet.tos = (packet.tos & !mask) ^ value;
                TargetOutcome::Continue
            }
            TargetKind::Dnat(_)
            | TargetKind::Snat(_)
            | TargetKind::Masquerade(_)
            | TargetKind::Redirect(_)
            | TargetKind::Netmap { .. } => TargetOutcome::Accept,
            TargetKind::Reject { .. } => TargetOutcome::Reject,
            TargetKind::Nfqueue { num, bypass: _, .. } => TargetOutcome::Queue(*num),
            // tcpmss_mangle_packet: a segment with no MSS option (nfsim's
            // packets carry no TCP options) and no data gets one appended,
            // 4 bytes longer; with data it is left as it is.
            TargetKind::Tcpmss { .. } if packet.proto == Proto::TCP && packet.length == 40 => {
                packet.length += 4;
                TargetOutcome::Continue
            }
            _ => TargetOutcome::Continue,
        }
    }
}
