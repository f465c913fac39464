//! The packet-flow diagram as plain geometry: the classic netfilter drawing
//! (PREROUTING → routing decision → FORWARD → POSTROUTING, with INPUT → local
//! process → routing → OUTPUT below), each hook holding its stages in the
//! order the engine runs them ([`nfsim::path::pipeline::hook_stages`] is the one
//! source of the hooks' contents), and the route a packet token takes between
//! two boxes. Not here: drawing (the app turns this into SVG) or tracing.

use nfsim::path::pipeline::{hook_stages, hook_stages_for, Backend, Stage};
use nfsim::ruleset::model::{Hook, Policy, Ruleset};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// A table walked at a hook.
    Table,
    /// The connection tracker's hook.
    Conntrack,
    /// A routing decision.
    Routing,
    /// Where packets come from or go: the network, the local process.
    End,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// `PREROUTING/nat`, `PREROUTING/conntrack`, `routing-in`, `routing-out`,
    /// `in`, `out`, `local`.
    pub id: String,
    pub label: String,
    pub kind: NodeKind,
    /// The group it sits in: a hook's name, or its own id.
    pub group: String,
    pub hook: Option<String>,
    pub table: Option<String>,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Node {
    pub fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    /// Where the packet token rests: at the left end of a box, so that its
    /// name and verdict stay readable.
    pub fn anchor(&self) -> (f64, f64) {
        match self.kind {
            NodeKind::Routing => (self.x + 2.0 * TOKEN_INSET, self.y + self.h / 2.0),
            // Above an end, whose name fills it.
            NodeKind::End => (self.x + self.w / 2.0, self.y - TOKEN_INSET),
            _ => (self.x + TOKEN_INSET + 2.0, self.y + self.h / 2.0),
        }
    }

    /// Where the box's name starts (left-aligned, right of the token).
    pub fn label_x(&self) -> f64 {
        match self.kind {
            NodeKind::Routing => self.x + 3.0 * TOKEN_INSET + 2.0,
            NodeKind::End => self.x + 12.0,
            _ => self.x + 2.0 * TOKEN_INSET + 4.0,
        }
    }
}

/// How far from a stage box's left edge the token rests.
pub const TOKEN_INSET: f64 = 13.0;

/// A hook's frame around its stages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub hook: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// An arrow between two groups (or end nodes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub points: Vec<(f64, f64)>,
    pub label: Option<String>,
    /// The loop back through `lo`, drawn dashed.
    pub dashed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagram {
    pub width: f64,
    pub height: f64,
    pub groups: Vec<Group>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

pub const BOX_W: f64 = 168.0;
pub const BOX_H: f64 = 24.0;
const GAP: f64 = 4.0;
const HEADER: f64 = 20.0;
const PAD: f64 = 6.0;
const TOP: f64 = 34.0;

fn group_height(hook: Hook) -> f64 {
    let n = hook_stages(hook).len() as f64;
    HEADER + n * (BOX_H + GAP) - GAP + PAD
}

/// `PREROUTING/nat`.
pub fn table_node(hook: &str, table: &str) -> String {
    format!("{hook}/{table}")
}

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Table(t) => t.name(),
        Stage::Conntrack => "conntrack",
    }
}

/// The diagram, laid out for an SVG viewBox of `width` × `height`, with
/// the tables in iptables-nft's order (the engine's default backend).
pub fn diagram() -> Diagram {
    diagram_for(Backend::Nft)
}

/// The diagram with the tables in `backend`'s order (the security table's
/// place in INPUT differs).
pub fn diagram_for(backend: Backend) -> Diagram {
    let gw = BOX_W + 2.0 * PAD;
    // The hooks' places: (hook, left, top).
    let mid = TOP + group_height(Hook::Prerouting) / 2.0;
    let centered = |h: Hook| mid - group_height(h) / 2.0;
    let places = [
        (Hook::Prerouting, 100.0, centered(Hook::Prerouting)),
        (Hook::Forward, 398.0, centered(Hook::Forward)),
        (Hook::Postrouting, 712.0, centered(Hook::Postrouting)),
        (Hook::Input, 248.0, 236.0),
        (Hook::Output, 712.0, 226.0),
    ];
    let mut groups = Vec::new();
    let mut nodes = Vec::new();
    for (hook, x, y) in places {
        groups.push(Group {
            hook: hook.name().into(),
            x,
            y,
            w: gw,
            h: group_height(hook),
        });
        for (i, s) in hook_stages_for(hook, backend).iter().enumerate() {
            let name = stage_name(*s);
            nodes.push(Node {
                id: table_node(hook.name(), name),
                label: name.into(),
                kind: match s {
                    Stage::Table(_) => NodeKind::Table,
                    Stage::Conntrack => NodeKind::Conntrack,
                },
                group: hook.name().into(),
                hook: Some(hook.name().into()),
                table: matches!(s, Stage::Table(_)).then(|| name.into()),
                x: x + PAD,
                y: y + HEADER + i as f64 * (BOX_H + GAP),
                w: BOX_W,
                h: BOX_H,
            });
        }
    }
    let input = &groups[3];
    let output = &groups[4];
    let low = input.y + 50.0;
    let single = |id: &str, label: &str, kind, x: f64, y: f64, w: f64, h: f64| Node {
        id: id.into(),
        label: label.into(),
        kind,
        group: id.into(),
        hook: None,
        table: None,
        x,
        y,
        w,
        h,
    };
    nodes.push(single(
        "in",
        "network in",
        NodeKind::End,
        4.0,
        mid - 17.0,
        88.0,
        34.0,
    ));
    nodes.push(single(
        "routing-in",
        "routing",
        NodeKind::Routing,
        292.0,
        mid - 22.0,
        92.0,
        44.0,
    ));
    nodes.push(single(
        "out",
        "network out",
        NodeKind::End,
        904.0,
        mid - 17.0,
        96.0,
        34.0,
    ));
    nodes.push(single(
        "local",
        "local process",
        NodeKind::End,
        446.0,
        low - 17.0,
        124.0,
        34.0,
    ));
    nodes.push(single(
        "routing-out",
        "routing",
        NodeKind::Routing,
        592.0,
        low - 22.0,
        92.0,
        44.0,
    ));
    let node = |id: &str| nodes.iter().find(|n| n.id == id).unwrap().clone();
    let group = |hook: &str| groups.iter().find(|g| g.hook == hook).unwrap().clone();
    let (pre, fwd, post) = (group("PREROUTING"), group("FORWARD"), group("POSTROUTING"));
    let (rin, rout, local, inn, out) = (
        node("routing-in"),
        node("routing-out"),
        node("local"),
        node("in"),
        node("out"),
    );
    let right = |x: f64, w: f64| x + w;
    let edge = |from: &str, to: &str, points: Vec<(f64, f64)>| Edge {
        from: from.into(),
        to: to.into(),
        points,
        label: None,
        dashed: false,
    };
    let mut edges = vec![
        edge(
            "in",
            "PREROUTING",
            vec![(right(inn.x, inn.w), mid), (pre.x, mid)],
        ),
        edge(
            "PREROUTING",
            "routing-in",
            vec![(right(pre.x, pre.w), mid), (rin.x, mid)],
        ),
        edge(
            "routing-in",
            "FORWARD",
            vec![(right(rin.x, rin.w), mid), (fwd.x, mid)],
        ),
        edge(
            "FORWARD",
            "POSTROUTING",
            vec![(right(fwd.x, fwd.w), mid), (post.x, mid)],
        ),
        edge(
            "POSTROUTING",
            "out",
            vec![(right(post.x, post.w), mid), (out.x, mid)],
        ),
        edge(
            "routing-in",
            "INPUT",
            vec![(rin.center().0, rin.y + rin.h), (rin.center().0, input.y)],
        ),
        edge(
            "INPUT",
            "local",
            vec![(right(input.x, input.w), low), (local.x, low)],
        ),
        edge(
            "local",
            "routing-out",
            vec![(right(local.x, local.w), low), (rout.x, low)],
        ),
        edge(
            "routing-out",
            "OUTPUT",
            vec![(right(rout.x, rout.w), low), (output.x, low)],
        ),
        edge(
            "OUTPUT",
            "POSTROUTING",
            vec![
                (output.x + output.w / 2.0, output.y),
                (post.x + post.w / 2.0, post.y + post.h),
            ],
        ),
    ];
    // A packet addressed to the host itself leaves POSTROUTING through `lo`
    // and comes back in at PREROUTING.
    let top = 12.0;
    edges.push(Edge {
        from: "POSTROUTING".into(),
        to: "PREROUTING".into(),
        points: vec![
            (post.x + post.w / 2.0, post.y),
            (post.x + post.w / 2.0, top),
            (pre.x + pre.w / 2.0, top),
            (pre.x + pre.w / 2.0, pre.y),
        ],
        label: Some("lo (to the host itself)".into()),
        dashed: true,
    });
    Diagram {
        width: 1004.0,
        height: output.y + output.h + 8.0,
        groups,
        nodes,
        edges,
    }
}

impl Diagram {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The points a token passes from node `from` to node `to`: along the
    /// arrow between their groups when there is one, else straight.
    pub fn route(&self, from: &str, to: &str) -> Vec<(f64, f64)> {
        let (Some(a), Some(b)) = (self.node(from), self.node(to)) else {
            return Vec::new();
        };
        let mut pts = vec![a.anchor()];
        if a.group != b.group {
            if let Some(e) = self
                .edges
                .iter()
                .find(|e| e.from == a.group && e.to == b.group)
            {
                pts.extend(e.points.iter().copied());
            }
        }
        pts.push(b.anchor());
        pts
    }
}

/// The point `t` (0..=1) of the way along a polyline.
pub fn along(points: &[(f64, f64)], t: f64) -> (f64, f64) {
    match points {
        [] => (0.0, 0.0),
        [p] => *p,
        _ => {
            let seg =
                |a: (f64, f64), b: (f64, f64)| ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let total: f64 = points.windows(2).map(|w| seg(w[0], w[1])).sum();
            if total == 0.0 {
                return points[0];
            }
            let mut left = t.clamp(0.0, 1.0) * total;
            for w in points.windows(2) {
                let l = seg(w[0], w[1]);
                if left <= l && l > 0.0 {
                    let f = left / l;
                    return (
                        w[0].0 + (w[1].0 - w[0].0) * f,
                        w[0].1 + (w[1].1 - w[0].1) * f,
                    );
                }
                left -= l;
            }
            *points.last().unwrap()
        }
    }
}

/// Table boxes to dim: the table is absent, or the hook's built-in chain has
/// no rules and an ACCEPT policy (it lets everything through unchanged).
pub fn dimmed(ruleset: &Ruleset) -> Vec<String> {
    let mut out = Vec::new();
    for hook in Hook::ALL {
        for s in hook_stages(hook) {
            let Stage::Table(kind) = *s else { continue };
            let idle = match ruleset.table(kind).and_then(|t| t.chain(hook.name())) {
                None => true,
                Some(c) => c.rules.is_empty() && c.policy.is_none_or(|p| p == Policy::Accept),
            };
            if idle {
                out.push(table_node(hook.name(), kind.name()));
            }
        }
    }
    out
}

/// A verdict short enough for a box of `max` characters:
/// `MARK 0x4000/0x4000 · DNAT 203.0.113.10:80` → `DNAT 203.0.113.10:80`,
/// `ESTABLISHED (reply direction of connection 0)` → `ESTABLISHED`,
/// `NAT binding → 192.0.2.50:45678` → `→ 192.0.2.50:45678` when it must.
pub fn short_verdict(v: &str, max: usize) -> String {
    let last = v.rsplit(" · ").next().unwrap_or(v);
    let mut last = last.strip_prefix("policy ").unwrap_or(last);
    if let Some(at) = last.find(" (") {
        last = &last[..at];
    }
    if last.chars().count() > max {
        if let Some(at) = last.find("→ ") {
            last = &last[at..];
        }
    }
    let mut s: String = last.chars().take(max).collect();
    if last.chars().count() > max {
        s.pop();
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_shows_the_engines_stages_in_order() {
        let d = diagram();
        let labels = |hook: &str| -> Vec<String> {
            d.nodes
                .iter()
                .filter(|n| n.hook.as_deref() == Some(hook))
                .map(|n| n.label.clone())
                .collect()
        };
        assert_eq!(labels("PREROUTING"), ["raw", "conntrack", "mangle", "nat"]);
        // The engine's default backend, iptables-nft: security (150) after nat (100).
        assert_eq!(labels("INPUT"), ["mangle", "filter", "nat", "security"]);
        assert_eq!(labels("FORWARD"), ["mangle", "filter", "security"]);
        assert_eq!(
            labels("OUTPUT"),
            ["raw", "conntrack", "mangle", "nat", "filter", "security"]
        );
        assert_eq!(labels("POSTROUTING"), ["mangle", "nat"]);
        for id in ["in", "out", "local", "routing-in", "routing-out"] {
            assert!(d.node(id).is_some(), "{id}");
        }
    }

    #[test]
    fn nothing_overlaps_and_everything_fits() {
        let d = diagram();
        for (i, a) in d.nodes.iter().enumerate() {
            assert!(
                a.x >= 0.0 && a.y >= 0.0 && a.x + a.w <= d.width && a.y + a.h <= d.height,
                "{}",
                a.id
            );
            for b in &d.nodes[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{} overlaps {}", a.id, b.id);
            }
        }
    }

    #[test]
    fn tokens_follow_the_arrows_between_hooks() {
        let d = diagram();
        let r = d.route("PREROUTING/nat", "routing-in");
        assert_eq!(r.len(), 4, "center, arrow start, arrow end, center: {r:?}");
        assert_eq!(d.route("PREROUTING/raw", "PREROUTING/nat").len(), 2);
        let lo = d.route("POSTROUTING/nat", "PREROUTING/raw");
        assert_eq!(lo.len(), 6);
        assert_eq!(
            along(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)], 0.75),
            (10.0, 5.0)
        );
        assert_eq!(along(&[(0.0, 0.0), (10.0, 0.0)], 2.0), (10.0, 0.0));
    }

    #[test]
    fn verdicts_shorten_to_fit_their_box() {
        assert_eq!(
            short_verdict("MARK 0x4000/0x4000 · DNAT 203.0.113.10:80", 20),
            "DNAT 203.0.113.10:80"
        );
        assert_eq!(
            short_verdict("ESTABLISHED (reply direction of connection 0)", 12),
            "ESTABLISHED"
        );
        assert_eq!(
            short_verdict("NAT binding → 192.0.2.50:45678", 20),
            "→ 192.0.2.50:45678"
        );
        assert_eq!(short_verdict("policy ACCEPT", 16), "ACCEPT");
        assert_eq!(
            short_verdict("MASQUERADE → 203.0.113.1:14529", 12),
            "→ 203.0.113…"
        );
        assert_eq!(short_verdict("DROP", 6), "DROP");
    }

    #[test]
    fn idle_tables_are_dimmed() {
        let parsed = nfsim::parse(
            "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT DROP [0:0]\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n",
            None,
        );
        let dim = dimmed(&parsed.ruleset);
        assert!(dim.contains(&"PREROUTING/mangle".to_string()));
        assert!(dim.contains(&"PREROUTING/raw".to_string()), "absent table");
        assert!(
            !dim.contains(&"INPUT/mangle".to_string()),
            "a DROP policy matters"
        );
        assert!(!dim.contains(&"INPUT/filter".to_string()), "it has a rule");
    }
}
