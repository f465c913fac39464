//! What the playground shows of a ruleset, derived from the engine's values as
//! plain data: problem rows for the editor, the summary, and the table → chain →
//! rule tree. Pure Rust,
//! tested natively; the components only display these.

use nfsim::ruleset::model::{Chain, Ruleset};
use nfsim::ruleset::render;
use nfsim::text::diagnostic::{locate, Located};
use nfsim::Parsed;
use serde::{Deserialize, Serialize};

/// One row under the editor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProblemRow {
    pub severity: String,
    pub code: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl ProblemRow {
    /// `3:17` as the editor prints a position.
    pub fn position(&self) -> String {
        format!("{}:{}", self.line, self.column)
    }
}

pub fn problems(text: &str, parsed: &Parsed) -> Vec<ProblemRow> {
    locate(text, &parsed.diagnostics)
        .into_iter()
        .map(|l: Located| ProblemRow {
            severity: l.severity.as_str().into(),
            code: l.code.into(),
            line: l.line,
            column: l.column,
            end_line: l.end_line,
            end_column: l.end_column,
            message: l.message,
            hint: l.hint,
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleNode {
    /// 1-based position in its chain, as iptables -L --line-numbers counts.
    pub index: usize,
    pub line: usize,
    /// The rule as iptables-save prints it, without `-A CHAIN`.
    pub spec: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChainNode {
    pub name: String,
    /// `ACCEPT`/`DROP` for built-ins, None for user chains.
    pub policy: Option<String>,
    /// All rules of the chain (the list below may be cut at [`RULES_SHOWN`]).
    pub rule_count: usize,
    pub rules: Vec<RuleNode>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableNode {
    pub name: String,
    /// All chains of the table (the list below may be cut at [`CHAINS_SHOWN`]).
    pub chain_count: usize,
    pub chains: Vec<ChainNode>,
}

/// Rules shown per chain and chains per table before "N more": a 150k-rule
/// dump must stay responsive, so only what is shown is rendered.
pub const RULES_SHOWN: usize = 200;
pub const CHAINS_SHOWN: usize = 400;

pub fn tree(parsed: &Parsed) -> Vec<TableNode> {
    let mut t = tree_outline(&parsed.ruleset);
    for table in &mut t {
        let kind = nfsim::ruleset::model::TableKind::parse(&table.name).unwrap();
        let rs = parsed.ruleset.table(kind).unwrap();
        for c in &mut table.chains {
            c.rules = rs.chain(&c.name).map(rule_nodes).unwrap_or_default();
        }
    }
    t
}

/// Tables and chains without their rules (the tree asks for a chain's rules
/// when it is opened): a dump has tens of thousands of chains.
pub fn tree_outline(ruleset: &Ruleset) -> Vec<TableNode> {
    ruleset
        .tables
        .iter()
        .map(|t| TableNode {
            name: t.kind.name().into(),
            chain_count: t.chains.len(),
            chains: render::save_order(t)
                .into_iter()
                .take(CHAINS_SHOWN)
                .map(|c| ChainNode {
                    name: c.name.clone(),
                    policy: c.policy.map(|p| p.as_str().into()),
                    rule_count: c.rules.len(),
                    rules: Vec::new(),
                })
                .collect(),
        })
        .collect()
}

/// A chain's rules as the tree lists them (at most [`RULES_SHOWN`]).
pub fn rule_nodes(c: &Chain) -> Vec<RuleNode> {
    c.rules
        .iter()
        .take(RULES_SHOWN)
        .enumerate()
        .map(|(i, r)| RuleNode {
            index: i + 1,
            line: r.line,
            spec: render::rule_spec(r).trim_start().to_string(),
        })
        .collect()
}

/// `3 tables, 33 chains, 36 rules · 0 errors, 0 warnings`.
pub fn summary(parsed: &Parsed) -> String {
    format!(
        "{} · {}",
        ruleset_counts(&parsed.ruleset),
        problem_counts(parsed)
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `3 tables, 33 chains, 36 rules` (the page's "Ruleset summary").
pub fn ruleset_counts(ruleset: &Ruleset) -> String {
    format!(
        "{}, {}, {}",
        plural(ruleset.tables.len(), "table", "tables"),
        plural(ruleset.chain_count(), "chain", "chains"),
        plural(ruleset.rule_count(), "rule", "rules"),
    )
}

/// `0 errors, 1 warning`.
pub fn problem_counts(parsed: &Parsed) -> String {
    let errors = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = parsed.diagnostics.len() - errors;
    format!(
        "{}, {}",
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings")
    )
}

/// The source material's kube-proxy NodePort example, which the editor starts with.
pub const EXAMPLE: &str = include_str!("examples/kube_nodeport.rules");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_loads_cleanly_and_shows_its_chains() {
        let parsed = nfsim::parse(EXAMPLE, None);
        assert!(problems(EXAMPLE, &parsed).is_empty());
        let t = tree(&parsed);
        let nat = t.iter().find(|t| t.name == "nat").unwrap();
        let svc = nat
            .chains
            .iter()
            .find(|c| c.name == "KUBE-SVC-JKOCBQALQGD3X3RT")
            .unwrap();
        assert_eq!(svc.policy, None);
        assert_eq!(tree_outline(&parsed.ruleset)[1].chains[0].rules.len(), 0);
        assert_eq!(svc.rules.len(), 4);
        assert!(
            svc.rules[1].spec.contains("--probability 0.33333333349"),
            "{}",
            svc.rules[1].spec
        );
        assert_eq!(nat.chains[0].name, "PREROUTING");
        assert_eq!(nat.chains[0].policy.as_deref(), Some("ACCEPT"));
        assert_eq!(
            summary(&parsed),
            "3 tables, 33 chains, 36 rules · 0 errors, 0 warnings"
        );
        let one = nfsim::parse(
            "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOPE\nCOMMIT\n",
            None,
        );
        assert_eq!(
            summary(&one),
            "1 table, 3 chains, 1 rule · 1 error, 0 warnings"
        );
    }

    #[test]
    fn a_broken_rule_becomes_a_problem_row_with_its_position() {
        let text = EXAMPLE.replace(
            "-A KUBE-MARK-MASQ -j MARK",
            "-A KUBE-MARK-MASQ -j MARK --set-mork 1",
        );
        let parsed = nfsim::parse(&text, None);
        let rows = problems(&text, &parsed);
        let line = text.lines().position(|l| l.contains("--set-mork")).unwrap() + 1;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(
            (
                rows[0].line,
                rows[0].severity.as_str(),
                rows[0].code.as_str()
            ),
            (line, "error", "E0101")
        );
        assert_eq!(rows[0].message, "unknown option \"--set-mork\"");
        assert_eq!(
            rows[0].hint.as_deref(),
            Some("did you mean \"--set-mark\"?")
        );
    }
}
