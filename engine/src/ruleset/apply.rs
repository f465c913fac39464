//! Applying parsed invocations to a [`Ruleset`], with the errors libiptc and
//! the kernel give for each command: `-A` to a missing chain, `-N` of an
//! existing one, `-X` of a chain still referenced, policies, renames.
//!
//! It checks what a single command can get wrong. Whole-ruleset checks (jumps to
//! undefined chains, loops, hook legality) belong to [`crate::ruleset::validate`].

use crate::ruleset::argv::{Invocation, Op};
use crate::ruleset::model::*;
use crate::ruleset::render;
use crate::ruleset::targets::{target_desc, Verdict};
use crate::text::diagnostic::{codes, Diagnostic};
use crate::text::span::Span;
use crate::text::suggest::suggest;

/// Check a user chain name the way iptables does.
pub fn check_chain_name(name: &str, span: Span) -> Result<(), Diagnostic> {
    let e = |m: String| Diagnostic::error(codes::BAD_CHAIN_NAME, span, m);
    if name.len() > 28 {
        return Err(e(format!(
            "chain name `{name}' too long (must be under 29 chars)"
        )));
    }
    if name.is_empty() {
        return Err(e("empty chain name".into()));
    }
    if name.starts_with('-') {
        return Err(e("chain name not allowed to start with `-'".into()));
    }
    if name == "!" || name.contains(char::is_whitespace) {
        return Err(e(format!("Invalid chain name `{name}'")));
    }
    if Verdict::parse(name).is_some() || target_desc(name).is_some() {
        return Err(e(format!(
            "chain name `{name}' may not clash with target name"
        )));
    }
    Ok(())
}

pub fn parse_policy(s: &str, span: Span) -> Result<Policy, Diagnostic> {
    match s {
        "ACCEPT" => Ok(Policy::Accept),
        "DROP" => Ok(Policy::Drop),
        _ => Err(
            Diagnostic::error(codes::BAD_POLICY, span, format!("Bad policy name `{s}'"))
                .with_hint("a built-in chain's policy is ACCEPT or DROP"),
        ),
    }
}

fn nat_drop(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::NAT_DROP,
        span,
        "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.",
    )
    .with_hint("filter in the filter table; nat chains only choose address translations")
}

fn no_chain(name: &str, span: Span, table: &Table) -> Diagnostic {
    let d = Diagnostic::error(
        codes::NO_SUCH_CHAIN,
        span,
        format!(
            "No chain/target/match by that name: chain `{name}' does not exist in table {}",
            table.kind.name()
        ),
    );
    match suggest(name, table.chains.iter().map(|c| c.name.as_str())) {
        Some(s) => d.with_hint(format!(
            "did you mean `{s}'? Otherwise declare it first with `:{name} - [0:0]` or `-N {name}`"
        )),
        None => d.with_hint(format!(
            "declare it first with `:{name} - [0:0]` (iptables-save) or `-N {name}` (commands)"
        )),
    }
}

/// Where the previous command went, and what the next one is expected to
/// add. iptables-save groups rules by chain, so remembering the chain usually
/// spares a lookup in a large chain index; and a reader that knows how many
/// rules a run of appends brings to a chain says so with [`Cursor::expect`],
/// so that the chain's rule list is allocated once at its final size.
#[derive(Default)]
pub struct Cursor {
    at: Option<(TableKind, usize)>,
    expected: usize,
}

impl Cursor {
    /// The next command starts a run of appends of `rules` rules to one chain.
    pub fn expect(&mut self, rules: usize) {
        self.expected = rules;
    }
}

/// Apply one invocation to `table`.
pub fn apply(
    table: &mut Table,
    mut inv: Invocation<'_>,
    cursor: &mut Cursor,
) -> Result<(), Diagnostic> {
    apply_in_place(table, &mut inv, cursor)
}

/// [`apply`], taking the rules out of `inv` where it lies (a parsed line is
/// large: a dump's lines are applied without moving them).
pub fn apply_in_place(
    table: &mut Table,
    inv: &mut Invocation<'_>,
    cursor: &mut Cursor,
) -> Result<(), Diagnostic> {
    let chain_arg = inv.chain.clone();
    let (cname, cspan) = match (&inv.op, chain_arg) {
        (_, Some(c)) => c,
        (Op::Flush | Op::Zero | Op::DeleteChain | Op::List, None) => {
            (Default::default(), inv.op_span)
        }
        (_, None) => {
            return Err(Diagnostic::error(
                codes::MISSING_ARGUMENT,
                inv.op_span,
                "this command needs a chain name",
            ))
        }
    };
    let kind = table.kind;
    if kind == TableKind::Nat {
        if let Some(r) = inv.rules.first() {
            if matches!(
                r.target,
                Target::Verdict {
                    verdict: Verdict::Drop
                }
            ) {
                return Err(nat_drop(r.target_span));
            }
        }
    }
    let expected = std::mem::take(&mut cursor.expected);
    match inv.op {
        Op::Append | Op::Insert(_) | Op::Replace(_) | Op::Delete(_) | Op::Check => {
            // iptables-save lists rules chain by chain, in the order it declared
            // the chains: the chain is usually the last one used or one of the
            // next few (chains without rules are skipped). Looking there first
            // reads chains in order instead of probing the index at random.
            let index = match cursor.at {
                Some((k, i)) if k == kind => table
                    .chains
                    .iter()
                    .enumerate()
                    .skip(i)
                    .take(4)
                    .find(|(_, c)| c.name == *cname)
                    .map(|(j, _)| j)
                    .or_else(|| table.chain_index(&cname)),
                _ => table.chain_index(&cname),
            };
            let Some(index) = index else {
                return Err(no_chain(&cname, cspan, table));
            };
            cursor.at = Some((kind, index));
            let chain = &mut table.chains[index];
            check_iface_direction(chain, &inv.rules)?;
            match inv.op {
                Op::Append => {
                    if chain.rules.is_empty() && expected > inv.rules.len() {
                        chain.rules.reserve_exact(expected);
                    }
                    chain.rules.extend(inv.rules.drain(..))
                }
                Op::Insert(n) => {
                    if n - 1 > chain.rules.len() {
                        return Err(Diagnostic::error(
                            codes::BAD_RULE_REF,
                            inv.op_span,
                            "Index of insertion too big",
                        )
                        .with_hint(format!("chain {cname} has {} rules", chain.rules.len())));
                    }
                    let at = n - 1;
                    chain.rules.splice(at..at, inv.rules.drain(..));
                }
                Op::Replace(n) => {
                    if n > chain.rules.len() {
                        return Err(Diagnostic::error(
                            codes::BAD_RULE_REF,
                            inv.op_span,
                            "Index of replacement too big",
                        )
                        .with_hint(format!("chain {cname} has {} rules", chain.rules.len())));
                    }
                    chain.rules[n - 1] = inv.rules.drain(..).next().unwrap();
                }
                Op::Delete(Some(n)) => {
                    if n == 0 || n > chain.rules.len() {
                        return Err(Diagnostic::error(
                            codes::BAD_RULE_REF,
                            inv.op_span,
                            "Index of deletion too big",
                        )
                        .with_hint(format!("chain {cname} has {} rules", chain.rules.len())));
                    }
                    chain.rules.remove(n - 1);
                }
                Op::Delete(None) => {
                    for r in inv.rules.drain(..) {
                        let want = render::rule_spec(&r);
                        match chain
                            .rules
                            .iter()
                            .position(|x| render::rule_spec(x) == want)
                        {
                            Some(i) => {
                                chain.rules.remove(i);
                            }
                            None => {
                                return Err(Diagnostic::error(
                                    codes::BAD_RULE_REF,
                                    r.span,
                                    "Bad rule (does a matching rule exist in that chain?)",
                                ))
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Op::NewChain => {
            check_chain_name(&cname, cspan)?;
            if table.chain(&cname).is_some() {
                return Err(Diagnostic::error(
                    codes::DUPLICATE_CHAIN,
                    cspan,
                    "Chain already exists",
                ));
            }
            table.add_chain(Chain {
                name: cname.into_owned(),
                hook: None,
                policy: None,
                counters: Counters::default(),
                rules: vec![],
                span: cspan,
            });
        }
        Op::DeleteChain => {
            let names: Vec<String> = if cname.is_empty() {
                table
                    .chains
                    .iter()
                    .filter(|c| !c.is_builtin())
                    .map(|c| c.name.clone())
                    .collect()
            } else {
                match table.chain(&cname) {
                    None => return Err(no_chain(&cname, cspan, table)),
                    Some(c) if c.is_builtin() => {
                        return Err(Diagnostic::error(
                            codes::BAD_RULE_REF,
                            cspan,
                            "Can't delete built-in chain",
                        ))
                    }
                    Some(c) if !c.rules.is_empty() => {
                        return Err(Diagnostic::error(
                            codes::BAD_RULE_REF,
                            cspan,
                            "Directory not empty",
                        )
                        .with_hint(format!("flush it first: -F {cname}")))
                    }
                    Some(_) => vec![cname.to_string()],
                }
            };
            for n in &names {
                let referenced = table
                    .chains
                    .iter()
                    .filter(|c| !names.contains(&c.name))
                    .flat_map(|c| &c.rules)
                    .any(|r| r.target.chain() == Some(n));
                if referenced {
                    return Err(Diagnostic::error(
                        codes::BAD_RULE_REF,
                        cspan,
                        format!("Too many links: chain `{n}' is still the target of a rule"),
                    ));
                }
            }
            table.retain_chains(|c| !names.contains(&c.name));
        }
        Op::Flush => {
            if cname.is_empty() {
                table.chains.iter_mut().for_each(|c| c.rules.clear());
            } else {
                match table.chain_mut(&cname) {
                    Some(c) => c.rules.clear(),
                    None => return Err(no_chain(&cname, cspan, table)),
                }
            }
        }
        Op::Zero => {
            for c in table
                .chains
                .iter_mut()
                .filter(|c| cname.is_empty() || c.name == cname)
            {
                c.counters = Counters::default();
                c.rules
                    .iter_mut()
                    .for_each(|r| r.counters = r.counters.take().map(|_| Box::default()));
            }
        }
        Op::Policy(ref p, pspan) => {
            let policy = parse_policy(p, pspan)?;
            if kind == TableKind::Nat && policy == Policy::Drop {
                return Err(nat_drop(pspan));
            }
            match table.chain_mut(&cname) {
                None => return Err(no_chain(&cname, cspan, table)),
                Some(c) if !c.is_builtin() => {
                    return Err(Diagnostic::error(
                        codes::POLICY_ON_USER_CHAIN,
                        cspan,
                        format!("Can't set policy `{p}' on `{cname}': Bad built-in chain name"),
                    )
                    .with_hint(
                        "only built-in chains have policies; a user chain returns to its caller",
                    ))
                }
                Some(c) => c.policy = Some(policy),
            }
        }
        Op::Rename(ref new, nspan) => {
            check_chain_name(new, nspan)?;
            match table.chain(&cname) {
                None => return Err(no_chain(&cname, cspan, table)),
                Some(c) if c.is_builtin() => {
                    return Err(Diagnostic::error(
                        codes::BAD_RULE_REF,
                        cspan,
                        "Can't rename a built-in chain",
                    ))
                }
                _ => {}
            }
            if table.chain(new).is_some() {
                return Err(Diagnostic::error(
                    codes::DUPLICATE_CHAIN,
                    nspan,
                    "File exists: a chain of that name already exists",
                ));
            }
            table.rename_chain(&cname, new);
        }
        Op::List => {}
    }
    Ok(())
}

/// iptables refuses `-o` in PREROUTING/INPUT and `-i` in OUTPUT/POSTROUTING.
fn check_iface_direction(chain: &Chain, rules: &[Rule]) -> Result<(), Diagnostic> {
    let Some(hook) = chain.hook else {
        return Ok(());
    };
    for r in rules {
        if matches!(hook, Hook::Prerouting | Hook::Input) && r.out_iface().is_some() {
            return Err(Diagnostic::error(
                codes::MATCH_HOOK,
                r.span,
                format!("Can't use -o with {}", hook.name()),
            )
            .with_hint("the output interface is not known yet when a packet arrives"));
        }
        if matches!(hook, Hook::Output | Hook::Postrouting) && r.in_iface().is_some() {
            return Err(Diagnostic::error(
                codes::MATCH_HOOK,
                r.span,
                format!("Can't use -i with {}", hook.name()),
            )
            .with_hint("a packet leaving the host has no input interface"));
        }
    }
    Ok(())
}
