//! Whole-ruleset checks the kernel and libiptc make when a table is loaded:
//! jumps to undefined chains, jump loops, and which targets and matches may be
//! used from the hooks that can reach them (the kernel's `mark_source_chains`
//! followed by each extension's hook and table checks: the tables and hooks
//! are the extensions' descriptors', the protocol checks that depend on a
//! rule are here). Also warnings for rules that can never be reached.
//!
//! Per-command errors (bad options, missing chains for `-A`) are found while
//! parsing; this module only looks at the finished [`Ruleset`].

use crate::ruleset::matches::MatchKind;
use crate::ruleset::model::*;
use crate::ruleset::targets::TargetKind;
use crate::ruleset::value::{Ipv4, TcpFlags};
use crate::text::diagnostic::{codes, Diagnostic};
use crate::text::suggest::suggest;

/// Run every whole-ruleset check.
pub fn validate(ruleset: &Ruleset) -> Vec<Diagnostic> {
    validate_with(ruleset, 1)
}

/// [`validate`] on up to `threads` threads (the caller's included). The checks
/// of each rule are independent and split by chains; the walk from the hooks
/// runs on one thread. The diagnostics are the same, in the same order.
pub fn validate_with(ruleset: &Ruleset, threads: usize) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for table in &ruleset.tables {
        validate_table(table, threads.max(1), &mut out);
    }
    out
}

fn hooks_text(mask: u8) -> String {
    Hook::ALL
        .iter()
        .filter(|h| mask & h.bit() != 0)
        .map(|h| h.name())
        .collect::<Vec<_>>()
        .join("/")
}

fn mask_of(hooks: &[Hook]) -> u8 {
    hooks.iter().fold(0, |m, h| m | h.bit())
}

/// Cut chains `0..n` into at most `parts` consecutive ranges holding about the
/// same number of rules (`first[c]` is chain c's first rule, `first[n]` the total).
fn split_chains(first: &[usize], parts: usize) -> Vec<std::ops::Range<usize>> {
    let n = first.len() - 1;
    let total = first[n];
    let mut ranges = Vec::with_capacity(parts);
    let mut lo = 0;
    for p in 1..=parts {
        let goal = total * p / parts;
        let mut hi = lo;
        while hi < n && (first[hi] < goal || p == parts) {
            hi += 1;
        }
        if hi > lo {
            ranges.push(lo..hi);
        }
        lo = hi;
    }
    ranges
}

/// `f` for each range, on up to one thread per range (the caller runs the
/// first), results in range order.
fn per_range<T: Send>(
    ranges: &[std::ops::Range<usize>],
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    #[cfg(not(target_family = "wasm"))]
    if ranges.len() > 1 {
        return std::thread::scope(|scope| {
            let f = &f;
            let others: Vec<_> = ranges[1..]
                .iter()
                .map(|r| {
                    let r = r.clone();
                    scope.spawn(move || f(r))
                })
                .collect();
            let mut results = vec![f(ranges[0].clone())];
            results.extend(
                others
                    .into_iter()
                    .map(|h| h.join().expect("validation thread")),
            );
            results
        });
    }
    ranges.iter().map(|r| f(r.clone())).collect()
}

/// What the walk needs to know of a range of chains: the user chain each rule
/// jumps or goes to (resolved), and which rules end the walk.
struct Resolved {
    /// (target chain, rule index in its chain) in rule order; `edge_first[c]`
    /// is where chain c's edges start (relative to this range).
    edges: Vec<(u32, u32)>,
    edge_first: Vec<usize>,
    /// Per rule: unconditional with a standard verdict (the kernel's walk stops there).
    stops: Vec<bool>,
    diags: Vec<Diagnostic>,
}

fn resolve(table: &Table, chains: std::ops::Range<usize>) -> Resolved {
    let mut r = Resolved {
        edges: Vec::new(),
        edge_first: Vec::with_capacity(chains.len()),
        stops: Vec::new(),
        diags: Vec::new(),
    };
    for chain in &table.chains[chains] {
        r.edge_first.push(r.edges.len());
        for (ri, rule) in chain.rules.iter().enumerate() {
            r.stops
                .push(kernel_unconditional(rule) && matches!(rule.target, Target::Verdict { .. }));
            let Some(target) = rule.target.chain() else {
                continue;
            };
            match table.chain_index(target) {
                None => {
                    let message = match rule.target {
                        Target::Goto { .. } => format!("goto '{target}' is not a chain"),
                        _ => format!("Couldn't load target `{target}':No such file or directory"),
                    };
                    let d = Diagnostic::error(codes::UNDEFINED_CHAIN, rule.target_span, message);
                    let hint = match suggest(target, table.chains.iter().map(|c| c.name.as_str())) {
                        Some(s) => format!(
                            "no chain `{target}' in table {}; did you mean `{s}'?",
                            table.kind.name()
                        ),
                        None => format!(
                            "no chain `{target}' in table {}: declare it with `:{target} - [0:0]`",
                            table.kind.name()
                        ),
                    };
                    r.diags.push(d.with_hint(hint));
                }
                Some(t) if table.chains[t].is_builtin() => {
                    r.diags.push(
                        Diagnostic::error(
                            codes::UNDEFINED_CHAIN,
                            rule.target_span,
                            format!("cannot jump to built-in chain `{target}'"),
                        )
                        .with_hint("jumps and gotos enter user-defined chains only"),
                    );
                }
                Some(t) => r.edges.push((t as u32, ri as u32)),
            }
        }
    }
    r
}

fn validate_table(table: &Table, threads: usize, out: &mut Vec<Diagnostic>) {
    let n = table.chains.len();
    // One flat numbering of rules: chain c's rules start at first[c].
    let mut first = Vec::with_capacity(n + 1);
    let mut total = 0;
    for c in &table.chains {
        first.push(total);
        total += c.rules.len();
    }
    first.push(total);
    // Small tables are not worth a thread.
    let parts = if total >= 4096 { threads } else { 1 };
    let ranges = split_chains(&first, parts);

    // One pass resolves every jump and goto to a chain index (a dump can hold
    // tens of thousands of chains: the walk follows these edges, not names).
    let mut edges: Vec<(u32, u32)> = Vec::new();
    let mut edge_first: Vec<usize> = Vec::with_capacity(n + 1);
    let mut stops: Vec<bool> = Vec::with_capacity(total);
    for part in per_range(&ranges, |r| resolve(table, r)) {
        let base = edges.len();
        edge_first.extend(part.edge_first.iter().map(|e| e + base));
        edges.extend_from_slice(&part.edges);
        stops.extend_from_slice(&part.stops);
        out.extend(part.diags);
    }
    edge_first.push(edges.len());
    let edges_of = |c: usize| &edges[edge_first[c]..edge_first[c + 1]];

    // Which hooks reach each rule, walked as the kernel's mark_source_chains
    // does: from each built-in chain, rule by rule, into jumped-to (and
    // gone-to) chains; a walk stops at a rule with no condition and a standard
    // verdict (ACCEPT, DROP, RETURN, QUEUE), and at a rule this hook already
    // reached. Rules the walk never reaches are not checked against hooks, and a
    // jump back into a chain on the current path is a loop (ELOOP).
    let mut masks = vec![0u8; total];
    let mut on_path = vec![false; n];
    let mut reported_loop = vec![false; n];
    for start in 0..n {
        let Some(hook) = table.chains[start].hook else {
            continue;
        };
        let bit = hook.bit();
        // (chain, next rule, next edge) frames of the walk.
        let mut stack: Vec<(usize, usize, usize)> = vec![(start, 0, 0)];
        on_path[start] = true;
        while let Some(&mut (c, ref mut ri, ref mut ei)) = stack.last_mut() {
            let len = first[c + 1] - first[c];
            let stop = *ri >= len || masks[first[c] + *ri] & bit != 0;
            if stop {
                on_path[c] = false;
                stack.pop();
                continue;
            }
            let i = *ri;
            masks[first[c] + i] |= bit;
            *ri += 1;
            if stops[first[c] + i] {
                on_path[c] = false;
                stack.pop();
                continue;
            }
            // Does this rule jump? Its edge, if any, is the next one of this chain.
            let edge = edges_of(c)
                .get(*ei)
                .filter(|&&(_, r)| r as usize == i)
                .copied();
            if let Some((t, _)) = edge {
                *ei += 1;
                let t = t as usize;
                if on_path[t] {
                    if !reported_loop[c] {
                        reported_loop[c] = true;
                        let path: Vec<&str> = stack
                            .iter()
                            .map(|(x, _, _)| *x)
                            .skip_while(|x| *x != t)
                            .map(|x| table.chains[x].name.as_str())
                            .collect();
                        let rule = &table.chains[c].rules[i];
                        out.push(Diagnostic::error(codes::JUMP_LOOP, rule.target_span, "Too many levels of symbolic links: this jump closes a loop")
                            .with_hint(format!("the chains jump in a circle: {} -> {}; the kernel refuses such a table", path.join(" -> "), table.chains[t].name)));
                    }
                } else {
                    on_path[t] = true;
                    stack.push((t, 0, 0));
                }
            }
            // A jump that did not resolve (reported above) consumes no edge.
        }
    }

    let checked = per_range(&ranges, |r| {
        let mut diags = Vec::new();
        for ci in r {
            let chain = &table.chains[ci];
            for (ri, rule) in chain.rules.iter().enumerate() {
                check_rule(table.kind, masks[first[ci] + ri], rule, &mut diags);
            }
            unreachable_rules(chain, &mut diags);
        }
        diags
    });
    out.extend(checked.into_iter().flatten());
}

/// The kernel's `unconditional()`: no address, interface, protocol or fragment
/// condition (not even a negated "any") and no match at all.
fn kernel_unconditional(rule: &Rule) -> bool {
    rule.src.is_none()
        && rule.dst.is_none()
        && rule.in_iface().is_none()
        && rule.out_iface().is_none()
        && rule
            .proto
            .as_ref()
            .is_none_or(|p| p.proto.0 == 0 && !p.invert)
        && rule.fragment.is_none()
        && rule.matches.is_empty()
}

fn check_rule(table: TableKind, hooks: u8, rule: &Rule, out: &mut Vec<Diagnostic>) {
    reversed_ranges(rule, out);
    let proto = rule.proto.as_ref().filter(|p| !p.invert).map(|p| p.proto.0);
    if let Target::Extension { target } = &rule.target {
        let name = target.name();
        // The table and hooks its descriptor allows (none for one kept verbatim).
        let (want_table, allowed) = target
            .desc()
            .map_or((None, &[][..]), |d| (d.table, d.hooks));
        if let Some(wt) = want_table {
            if wt != table {
                out.push(
                    Diagnostic::error(
                        codes::TARGET_TABLE,
                        rule.target_span,
                        format!(
                            "{name} target: only valid in {} table, not {}",
                            wt.name(),
                            table.name()
                        ),
                    )
                    .with_hint(format!("move this rule to the {} table", wt.name())),
                );
            }
        }
        let allowed = mask_of(allowed);
        if allowed != 0 && hooks & !allowed != 0 {
            out.push(
                Diagnostic::error(
                    codes::TARGET_HOOK,
                    rule.target_span,
                    format!(
                        "{name} target: used from hooks {}, but only usable from {}",
                        hooks_text(hooks),
                        hooks_text(allowed)
                    ),
                )
                .with_hint(format!(
                    "this chain is reached from {}; {name} works only in {}",
                    hooks_text(hooks),
                    hooks_text(allowed)
                )),
            );
        }
        match target {
            TargetKind::Reject { with: 6 } if proto != Some(6) => {
                out.push(
                    Diagnostic::error(
                        codes::PROTO_MISMATCH,
                        rule.target_span,
                        "REJECT: TCP_RESET invalid for non-tcp",
                    )
                    .with_hint("--reject-with tcp-reset needs -p tcp on the same rule"),
                );
            }
            // libxt_NAT looks at the protocol number only, `!` or not.
            TargetKind::Dnat(n)
            | TargetKind::Snat(n)
            | TargetKind::Masquerade(n)
            | TargetKind::Redirect(n)
                if n.range.as_ref().is_some_and(|r| r.ports.is_some())
                    && !matches!(
                        rule.proto.as_ref().map(|p| p.proto.0),
                        Some(1 | 6 | 17 | 33 | 132)
                    ) =>
            {
                out.push(Diagnostic::error(codes::PROTO_MISMATCH, rule.target_span, format!("{name}: Need TCP, UDP, SCTP or DCCP with port specification"))
                    .with_hint("add -p tcp (or udp, sctp, dccp) to the rule, or drop the port from the target"));
            }
            TargetKind::Tcpmss { mss } => {
                // The kernel's find_syn_match: a tcp match whose compared flags include SYN.
                let syn = rule.matches.iter().any(|m| matches!(&m.kind, MatchKind::Tcp(t) if t.flags.as_ref().is_some_and(|f| !f.invert && f.value.1.contains(TcpFlags::SYN))));
                if !syn {
                    out.push(
                        Diagnostic::error(
                            codes::PROTO_MISMATCH,
                            rule.target_span,
                            "TCPMSS target: Only works on TCP SYN packets",
                        )
                        .with_hint("add -p tcp --tcp-flags SYN,RST SYN (or --syn) to the rule"),
                    );
                }
                let clamp_ok = mask_of(&[Hook::Forward, Hook::Output, Hook::Postrouting]);
                if mss.is_none() && hooks & !clamp_ok != 0 {
                    out.push(Diagnostic::error(codes::TARGET_HOOK, rule.target_span, format!(
                        "TCPMSS target: path-MTU clamping only supported in FORWARD, OUTPUT and POSTROUTING hooks (used from {})",
                        hooks_text(hooks)
                    )));
                }
            }
            _ => {}
        }
    }
    for m in &rule.matches {
        let name = m.kind.name();
        let Some(desc) = m.kind.desc() else {
            continue;
        };
        if let Some(p) = desc.proto {
            if rule
                .proto
                .as_ref()
                .is_none_or(|r| r.invert || r.proto.0 != p)
            {
                out.push(
                    Diagnostic::error(
                        codes::PROTO_MISMATCH,
                        m.span,
                        format!("{name} match: only valid for protocol {p}"),
                    )
                    .with_hint(format!("add -p {name} before -m {name}")),
                );
            }
        }
        let allowed = mask_of((desc.hooks)(&m.kind));
        if allowed != 0 && hooks & !allowed != 0 {
            out.push(
                Diagnostic::error(
                    codes::MATCH_HOOK,
                    m.span,
                    format!(
                        "{name} match: used from hooks {}, but only valid from {}",
                        hooks_text(hooks),
                        hooks_text(allowed)
                    ),
                )
                .with_hint(match desc.hooks_hint {
                    Some(hint) => hint.to_string(),
                    None => format!("this chain is reached from {}", hooks_text(hooks)),
                }),
            );
        }
    }
}

/// The kernel loads reversed address ranges: in iprange they never match; in a
/// NAT range the kernel's u32 arithmetic wraps around and maps connections to
/// addresses outside it (checked with the oracle: y_nat_reversed_range_wraps).
fn reversed_ranges(rule: &Rule, out: &mut Vec<Diagnostic>) {
    let mut warn = |span, (a, b): (Ipv4, Ipv4), effect: &str| {
        if a > b {
            out.push(
                Diagnostic::warning(
                    codes::RANGE_REVERSED,
                    span,
                    format!("range {}-{} is reversed {effect}", a, b),
                )
                .with_hint("write the lower address first"),
            );
        }
    };
    for m in rule.matches.iter() {
        if let MatchKind::Iprange(r) = &m.kind {
            for v in [&r.src, &r.dst].into_iter().flatten() {
                warn(m.span, v.value, "and will never match");
            }
        }
    }
    if let Target::Extension {
        target: TargetKind::Dnat(n) | TargetKind::Snat(n),
    } = &rule.target
    {
        if let Some(addrs) = n.range.as_ref().and_then(|r| r.addrs) {
            warn(
                rule.target_span,
                addrs,
                "and wraps around: connections are mapped to addresses outside it",
            );
        }
    }
}

/// Warn once per chain about rules after an unconditional rule that ends the chain.
fn unreachable_rules(chain: &Chain, out: &mut Vec<Diagnostic>) {
    if let Some(i) = chain
        .rules
        .iter()
        .position(|r| r.is_unconditional() && r.target.ends_chain())
    {
        let rest = &chain.rules[i + 1..];
        if let Some(first) = rest.first() {
            let by = &chain.rules[i];
            let what = match &by.target {
                Target::Goto { chain } => format!("goes to {chain}"),
                t => format!("ends with -j {}", t.name().unwrap_or_default()),
            };
            let others = match rest.len() {
                1 => String::new(),
                2 => " (nor the rule after it)".to_string(),
                n => format!(" (nor the {} rules after it)", n - 1),
            };
            out.push(
                Diagnostic::warning(
                    codes::UNREACHABLE_RULE,
                    first.span,
                    format!("this rule can never be reached{others}"),
                )
                .with_hint(format!(
                    "the rule at line {} matches every packet and {what}",
                    by.line
                )),
            );
        }
    }
}
