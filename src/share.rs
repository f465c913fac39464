//! Sharing a playground: the whole scenario and the view as a link (a URL
//! fragment packed by [`nfsim::scenario::link`]), and the scenario alone as the JSON file
//! `nfsim trace` reads ("Download scenario" and "Open scenario").
//!
//! A link's payload (link format 1) is JSON:
//! `{"scenario": {...}, "selected": N, "branch": [...], "view": {...}, "typed": {...}}`.
//! `scenario` is the engine's scenario (version 1: the ruleset byte for byte,
//! the host, sysctls, ipsets, seed, packets; compact, with the engine's
//! defaults left out), so what a link holds runs with `nfsim trace` too.
//! `selected` is the player's packet (left out at 0), `branch` the chosen
//! branch of random choices (left out when none), `view` the [`ViewState`].
//! `typed` holds what the scenario cannot give back as it was typed, each key
//! only when needed: `addrs` and `routes` (the `ip` text) and `packets` (the
//! forms as typed, `{"reply_to": N}` for replies) — so a draft with a typo in
//! a field, or a host the engine rejects, reopens exactly as it was. Opening
//! a link gives back the same [`Shared`] that made it. Only `scenario` is
//! required: `{"scenario": <a scenario file>}` packed by [`nfsim::scenario::link::encode`]
//! is a link too.
//!
//! Not here: the buttons, the URL, files and the clipboard (the page does
//! those), and tracing. Links and files are data: nothing in them is run, a
//! `<script>` in a ruleset comment is text. No function here panics, on any
//! input.

use crate::packet_form::{Field, PacketForm, PROTOCOLS};
use crate::session::{PacketInput, PlayInput};
use nfsim::net::host::{Host, HostSpec, RouteTable, RouteType, Sysctl};
use nfsim::net::packet::{PacketSpec, ProtoSpec};
use nfsim::path::eval::MatchId;
use nfsim::ruleset::value::{Ipv4, Proto, TcpFlags};
use nfsim::scenario::{self, Loaded, Scenario, SimState};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;

/// What the page shows, beside the scenario. Every field has a default, and
/// fields a newer playground adds are ignored, so links keep opening.
/// Fields at their default are left out of the JSON, to keep links short.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewState {
    /// The player's cursor (frame index).
    #[serde(skip_serializing_if = "is_zero")]
    pub step: usize,
    /// The step granularity: `rule`, `chain` or `hook`.
    #[serde(skip_serializing_if = "is_rule")]
    pub by: String,
    #[serde(skip_serializing_if = "is_false")]
    pub presentation: bool,
    /// `light`, `dark`, or None for the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theme: Option<String>,
    /// The names of the open panels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<String>,
}

fn is_rule(s: &str) -> bool {
    s == "rule"
}

fn is_false(b: &bool) -> bool {
    !b
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            step: 0,
            by: "rule".into(),
            presentation: false,
            theme: None,
            open: Vec::new(),
        }
    }
}

/// Everything a link carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    pub ruleset: String,
    pub input: PlayInput,
    pub view: ViewState,
}

// ---------------------------------------------------------------- the host

#[derive(Serialize)]
struct InterfaceOut {
    name: String,
    addresses: Vec<String>,
}

#[derive(Serialize)]
struct RouteOut {
    to: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    src: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    metric: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<&'static str>,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

fn route_type(kind: RouteType) -> Option<&'static str> {
    match kind {
        RouteType::Unicast => None,
        RouteType::Local => Some("local"),
        RouteType::Broadcast => Some("broadcast"),
        RouteType::Blackhole => Some("blackhole"),
        RouteType::Unreachable => Some("unreachable"),
        RouteType::Prohibit => Some("prohibit"),
    }
}

/// The scenario's `host`: the interfaces with their addresses (`lo` left out
/// when it has only 127.0.0.1/8, which every host has), the routes as the user
/// listed them (the kernel's own are derived again on loading), the sysctls.
fn host_out(host: &Host) -> (Vec<InterfaceOut>, Vec<RouteOut>) {
    let interfaces = host
        .interfaces
        .iter()
        .filter(|i| {
            !(i.name == "lo"
                && i.addrs.len() == 1
                && i.addrs[0].addr == Ipv4::LOCALHOST
                && i.addrs[0].prefix == 8)
        })
        .map(|i| InterfaceOut {
            name: i.name.clone(),
            addresses: i
                .addrs
                .iter()
                .map(|a| format!("{}/{}", a.addr, a.prefix))
                .collect(),
        })
        .collect();
    let routes = host
        .routes
        .iter()
        .filter(|r| !r.kernel)
        .map(|r| RouteOut {
            to: if r.dst.is_any() && r.table == RouteTable::Main {
                "default".into()
            } else {
                r.dst.save_short()
            },
            kind: route_type(r.kind),
            via: r.via.map(|a| a.to_string()),
            dev: r.dev.clone(),
            src: r.src.map(|a| a.to_string()),
            metric: r.metric,
            table: (r.table == RouteTable::Local && r.kind != RouteType::Local).then_some("local"),
        })
        .collect();
    (interfaces, routes)
}

/// The host of `ip` text, and its scenario form — checked to load back as the
/// very same host.
fn checked_host(
    addrs: &str,
    routes: &str,
    sysctl: Sysctl,
) -> Result<(Host, Vec<InterfaceOut>, Vec<RouteOut>), String> {
    let host = Host::from_ip_text(addrs, routes, sysctl).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("host, line {}: {}", e.line, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let (interfaces, route_list) = host_out(&host);
    let json =
        serde_json::json!({"interfaces": interfaces, "routes": route_list, "sysctl": sysctl});
    let spec: HostSpec = serde_json::from_value(json)
        .map_err(|e| format!("the host cannot be written as a scenario: {e}"))?;
    match spec.build() {
        Ok(built) if built == host => Ok((host, interfaces, route_list)),
        Ok(_) => Err("the host cannot be written as a scenario exactly as it is".into()),
        Err(errors) => Err(format!(
            "the host cannot be written as a scenario: {}",
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// `ip -4 addr` text for a host, one line an address as `ip -o -4 addr` prints
/// it (the style of [`crate::session::DEFAULT_ADDRS`]).
fn addr_text(host: &Host) -> String {
    let mut out = String::new();
    for (n, iface) in host.interfaces.iter().enumerate() {
        let name = &iface.name;
        if iface.addrs.is_empty() {
            let _ = writeln!(out, "{}: {name}: <BROADCAST,MULTICAST,UP>", n + 1);
        }
        for a in &iface.addrs {
            let net = a.net();
            let brd = if name != "lo" && a.prefix < 31 {
                format!(" brd {}", net.broadcast())
            } else {
                String::new()
            };
            let scope = if a.addr.is_loopback() {
                "host"
            } else {
                "global"
            };
            let secondary = if a.secondary { " secondary" } else { "" };
            let _ = writeln!(
                out,
                "{}: {name}    inet {}/{}{brd} scope {scope}{secondary} {name}",
                n + 1,
                a.addr,
                a.prefix
            );
        }
    }
    out
}

/// `ip -4 route` text for the routes the user configured (the kernel derives
/// the rest from the addresses).
fn route_text(host: &Host) -> String {
    let mut out = String::new();
    for r in host.routes.iter().filter(|r| !r.kernel) {
        out.push_str(&r.ip_text());
        if r.table == RouteTable::Local && r.kind != RouteType::Local {
            out.push_str(" table local");
        }
        out.push('\n');
    }
    out
}

/// The `ip` text of a scenario's host, checked to read back as that host.
fn host_text(spec: &HostSpec) -> Result<(String, String), String> {
    let host = spec.build().map_err(|errors| {
        format!(
            "host: {}",
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    // What listens travels beside the ip text (PlayInput::listening).
    let host = Host {
        listening: None,
        ..host
    };
    let (addrs, routes) = (addr_text(&host), route_text(&host));
    match Host::from_ip_text(&addrs, &routes, host.sysctl) {
        Ok(back) if back == host => Ok((addrs, routes)),
        _ => Err(format!(
            "host: the interfaces {} cannot be written as `ip -4 addr` text",
            host.interfaces
                .iter()
                .map(|i| format!("`{}'", i.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

// ---------------------------------------------------------------- packets

fn field_label(f: Field) -> &'static str {
    match f {
        Field::ArrivesOn => "Arrives on",
        Field::Src => "Source address",
        Field::Dst => "Destination address",
        Field::Protocol => "Protocol",
        Field::Sport => "Source port",
        Field::Dport => "Destination port",
        Field::TcpFlags => "TCP flags",
        Field::IcmpType => "ICMP type",
        Field::IcmpCode => "ICMP code",
        Field::Mark => "Mark",
        Field::Uid => "UID",
    }
}

/// The packets as the scenario's `packets`, or what is wrong with them.
fn packet_specs(packets: &[PacketInput], interfaces: &[String]) -> Result<Vec<Value>, String> {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        match p {
            PacketInput::Form(f) => match f.to_spec(interfaces) {
                Ok(v) => specs.push(v),
                Err(errors) => problems.push(format!(
                    "packet {}: {}",
                    i + 1,
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", field_label(e.field), e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            },
            PacketInput::ReplyTo(n) if *n < i => specs.push(serde_json::json!({ "reply_to": n })),
            PacketInput::ReplyTo(n) => problems.push(format!(
                "packet {}: a reply must answer an earlier packet, not {}",
                i + 1,
                n.saturating_add(1)
            )),
        }
    }
    if problems.is_empty() {
        Ok(specs)
    } else {
        Err(problems.join("; "))
    }
}

/// One packet as compact JSON, its keys in the order a person reads them.
fn packet_json(v: &Value) -> String {
    const ORDER: [&str; 12] = [
        "from",
        "src",
        "dst",
        "protocol",
        "sport",
        "dport",
        "tcp_flags",
        "icmp_type",
        "icmp_code",
        "mark",
        "uid",
        "reply_to",
    ];
    let Some(map) = v.as_object() else {
        return v.to_string();
    };
    let keys = ORDER
        .iter()
        .copied()
        .filter(|k| map.contains_key(*k))
        .chain(
            map.keys()
                .map(String::as_str)
                .filter(|k| !ORDER.contains(k)),
        );
    let fields: Vec<String> = keys
        .filter_map(|k| Some(format!("{}:{}", Value::from(k), map.get(k)?)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// The form that shows a crafted packet spec, every field filled as the form
/// shows it (the README's defaults for what the spec leaves out), and notes
/// for what the form cannot show, about the packet called `who`.
fn form_of(spec: &PacketSpec, who: &str) -> (PacketForm, Vec<String>) {
    let mut notes = Vec::new();
    let protocol = match &spec.protocol {
        None => "tcp".to_string(),
        Some(p) => {
            let (text, number) = match p {
                ProtoSpec::Number(n) => (n.to_string(), Some(*n)),
                ProtoSpec::Name(s) => (s.clone(), Proto::parse(s).ok().map(|p| p.0)),
            };
            match number {
                Some(6) => "tcp".into(),
                Some(17) => "udp".into(),
                Some(1) => "icmp".into(),
                Some(132) => "sctp".into(),
                _ => {
                    notes.push(format!(
                        "{who}: protocol `{text}' is not one the playground crafts ({}).",
                        PROTOCOLS.join(", ")
                    ));
                    text
                }
            }
        }
    };
    let tcp_flags = match &spec.tcp_flags {
        None => "SYN".to_string(),
        Some(f) => TcpFlags::parse(f)
            .map(TcpFlags::names)
            .unwrap_or_else(|_| f.clone()),
    };
    let form = PacketForm {
        arrives_on: spec.from.clone(),
        src: spec.src.clone().unwrap_or_default(),
        dst: spec.dst.clone(),
        protocol,
        sport: spec.sport.unwrap_or(40000).to_string(),
        dport: spec.dport.unwrap_or(80).to_string(),
        tcp_flags,
        icmp_type: spec.icmp_type.unwrap_or(8).to_string(),
        icmp_code: spec.icmp_code.unwrap_or(0).to_string(),
        mark: if spec.mark == 0 {
            "0".into()
        } else {
            format!("{:#x}", spec.mark)
        },
        uid: spec.uid.to_string(),
    };
    notes.extend(unshown(spec, who, true));
    (form, notes)
}

/// Notes for the fields of a packet spec the playground has no place for.
fn unshown(spec: &PacketSpec, who: &str, crafted: bool) -> Vec<String> {
    let mut fields = Vec::new();
    if !crafted && spec.uid != 0 {
        fields.push(format!("uid {}", spec.uid));
    }
    if spec.gid != 0 {
        fields.push(format!("gid {}", spec.gid));
    }
    if crafted {
        if let Some(l) = spec.length.filter(|&l| l != 60) {
            fields.push(format!("length {l} (it sends 60)"));
        }
        if let Some(t) = spec.ttl.filter(|&t| t != 64) {
            fields.push(format!("ttl {t} (it sends 64)"));
        }
        if spec.tos != 0 {
            fields.push(format!("tos {} (it sends 0)", spec.tos));
        }
    }
    if spec.time_ms != 0 {
        fields.push(format!(
            "time_ms {} (its packets are all at 0)",
            spec.time_ms
        ));
    }
    if fields.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{who}: the playground does not set {}; `nfsim trace` does.",
        fields.join(", ")
    )]
}

/// The playground's packets, the specs it sends for them, and notes.
type Converted = (Vec<PacketInput>, Vec<PacketSpec>, Vec<String>);

/// The scenario's packets as the playground's, with notes. An
/// `icmp_error_for` packet is left out (the playground does not send ICMP
/// errors), and so is a reply to a packet left out; later `reply_to`
/// numbers follow. Also gives the specs the playground sends for them
/// (renumbered, without what the form cannot show), to run.
fn packets_of(specs: &[PacketSpec]) -> Result<Converted, String> {
    let mut packets = Vec::new();
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    // The playground's index of each packet of the file, if kept.
    let mut index: Vec<Option<usize>> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        for (key, n) in [
            ("reply_to", spec.reply_to),
            ("icmp_error_for", spec.icmp_error_for),
        ] {
            if let Some(n) = n.filter(|&n| n >= i) {
                return Err(format!(
                    "packets[{i}]: {key} {n} must name an earlier packet"
                ));
            }
        }
        if spec.reply_to.is_some() && spec.icmp_error_for.is_some() {
            return Err(format!(
                "packets[{i}]: a packet is either reply_to or icmp_error_for, not both"
            ));
        }
        // The playground's packet number, and the file's index when they differ.
        let n = packets.len() + 1;
        let who = if n == i + 1 {
            format!("Packet {n}")
        } else {
            format!("Packet {n} (packets[{i}] in the file)")
        };
        if let Some(e) = spec.icmp_error_for {
            notes.push(format!(
                "packets[{i}] is the ICMP error for packets[{e}]; the playground does not send ICMP errors, so it is left out, and the packets after it may meet other connections than `nfsim trace` shows."
            ));
            index.push(None);
            continue;
        }
        if let Some(r) = spec.reply_to {
            let Some(to) = index.get(r).copied().flatten() else {
                notes.push(format!(
                    "packets[{i}] answers packets[{r}], which is left out, so it is left out too."
                ));
                index.push(None);
                continue;
            };
            notes.extend(unshown(spec, &who, false));
            index.push(Some(packets.len()));
            packets.push(PacketInput::ReplyTo(to));
            kept.push(PacketSpec {
                reply_to: Some(to),
                uid: 0,
                gid: 0,
                time_ms: 0,
                ..spec.clone()
            });
            continue;
        }
        let (form, form_notes) = form_of(spec, &who);
        notes.extend(form_notes);
        index.push(Some(packets.len()));
        packets.push(PacketInput::Form(form));
        kept.push(PacketSpec {
            gid: 0,
            length: None,
            ttl: None,
            tos: 0,
            time_ms: 0,
            ..spec.clone()
        });
    }
    Ok((packets, kept, notes))
}

// ---------------------------------------------------------------- branches and force

/// A forced choice, as the scenario's `force` writes it.
#[derive(Serialize)]
struct ForceOut {
    table: &'static str,
    chain: String,
    rule: usize,
    #[serde(rename = "match")]
    matches: bool,
}

/// Every random choice a run makes, in order, with the rule that made it.
fn trail(loaded: &Loaded, seed: u64, script: Option<Vec<bool>>) -> Option<Vec<(MatchId, bool)>> {
    let mut state = SimState::new(loaded, seed, script);
    state.trail = Some(Vec::new());
    scenario::run(loaded, &mut state).ok()?;
    state.trail
}

/// A chosen branch as `force` entries: possible when each random rule the run
/// goes through makes one choice (a rule that chose differently for two
/// packets cannot be forced either way), and the scenario runs.
fn branch_as_force(scenario_text: &str, seed: u64, branch: &[bool]) -> Option<Vec<ForceOut>> {
    let loaded = Loaded::from_json(scenario_text).ok()?;
    let mut out: Vec<((u8, u32, u32), ForceOut)> = Vec::new();
    for (id, choice) in trail(&loaded, seed, Some(branch.to_vec()))? {
        let key = (id.table, id.chain, id.rule);
        if let Some((_, f)) = out.iter().find(|(k, _)| *k == key) {
            if f.matches != choice {
                return None;
            }
            continue;
        }
        let table = loaded
            .ruleset
            .tables
            .iter()
            .find(|t| t.kind as u8 == id.table)?;
        let chain = table.chains.get(id.chain as usize)?;
        out.push((
            key,
            ForceOut {
                table: table.kind.name(),
                chain: chain.name.clone(),
                rule: id.rule as usize + 1,
                matches: choice,
            },
        ));
    }
    Some(out.into_iter().map(|(_, f)| f).collect())
}

// ---------------------------------------------------------------- the scenario

/// A scenario, ready to write: each item already JSON.
struct Parts<'a> {
    ruleset: &'a str,
    /// The interfaces and the routes, when the host could be written.
    host: Option<(Vec<String>, Vec<String>)>,
    sysctl: Sysctl,
    /// `host.listening` (`["tcp/22"]`), when the sockets are modelled.
    listening: Option<Vec<String>>,
    ipsets: &'a str,
    seed: u64,
    backend: nfsim::path::pipeline::Backend,
    force: Vec<String>,
    packets: Vec<String>,
}

fn json_list(items: &[String], indent: &str, pretty: bool) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    if !pretty {
        return format!("[{}]", items.join(","));
    }
    let mut out = String::from("[\n");
    for (i, item) in items.iter().enumerate() {
        let comma = if i + 1 < items.len() { "," } else { "" };
        let _ = writeln!(out, "{indent}  {item}{comma}");
    }
    out.push_str(indent);
    out.push(']');
    out
}

fn json_object(fields: &[(&str, String)], indent: &str, pretty: bool) -> String {
    let (open, sep, close, colon) = if pretty {
        (
            format!("{{\n{indent}  "),
            format!(",\n{indent}  "),
            format!("\n{indent}}}"),
            ": ",
        )
    } else {
        ("{".to_string(), ",".to_string(), "}".to_string(), ":")
    };
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}{colon}{v}", Value::from(*k)))
        .collect();
    format!("{open}{}{close}", body.join(&sep))
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl Parts<'_> {
    /// The engine's scenario JSON: pretty (one packet, interface or route a
    /// line, like the test fixtures; every value written out) or compact
    /// (for links: the sysctls and seed left out at the engine's defaults).
    fn write(&self, pretty: bool) -> String {
        let mut host = Vec::new();
        if let Some((interfaces, routes)) = &self.host {
            host.push(("interfaces", json_list(interfaces, "    ", pretty)));
            host.push(("routes", json_list(routes, "    ", pretty)));
        }
        if pretty || self.sysctl != Sysctl::default() {
            host.push(("sysctl", to_json(&self.sysctl)));
        }
        if let Some(l) = &self.listening {
            host.push(("listening", to_json(l)));
        }
        let mut fields = vec![
            ("version", "1".to_string()),
            ("ruleset", to_json(&self.ruleset)),
            ("host", json_object(&host, "  ", pretty)),
        ];
        if !self.ipsets.is_empty() {
            fields.push(("ipsets", to_json(&self.ipsets)));
        }
        if pretty || self.seed != 1 {
            fields.push(("seed", self.seed.to_string()));
        }
        if self.backend != nfsim::path::pipeline::Backend::Nft {
            fields.push(("backend", to_json(&self.backend)));
        }
        if !self.force.is_empty() {
            fields.push(("force", json_list(&self.force, "  ", pretty)));
        }
        fields.push(("packets", json_list(&self.packets, "  ", pretty)));
        json_object(&fields, "", pretty)
    }
}

/// The scenario's parts, the host and the packet specs. What cannot be
/// written (a host whose text has errors, a form with a bad field) is left
/// out of the parts, and its error comes back instead.
fn parts<'a>(
    ruleset: &'a str,
    input: &'a PlayInput,
) -> (Parts<'a>, Result<Host, String>, Result<Vec<Value>, String>) {
    let host = checked_host(&input.addrs, &input.routes, input.sysctl);
    let specs = match &host {
        Ok((h, _, _)) => {
            let interfaces: Vec<String> = h.interfaces.iter().map(|i| i.name.clone()).collect();
            packet_specs(&input.packets, &interfaces)
        }
        Err(_) => Err("the host has errors".into()),
    };
    let parts = Parts {
        ruleset,
        host: host.as_ref().ok().map(|(_, i, r)| {
            (
                i.iter().map(to_json).collect(),
                r.iter().map(to_json).collect(),
            )
        }),
        sysctl: input.sysctl,
        listening: crate::session::parse_listening(&input.listening)
            .ok()
            .flatten()
            .map(|l| {
                l.iter()
                    .map(|(p, port)| format!("{}/{port}", if *p == 6 { "tcp" } else { "udp" }))
                    .collect()
            }),
        ipsets: &input.ipsets,
        seed: input.seed,
        backend: input.backend,
        force: Vec::new(),
        packets: specs.iter().flatten().map(packet_json).collect(),
    };
    (parts, host.map(|(h, _, _)| h), specs)
}

/// The scenario as the engine reads it (`nfsim trace FILE` runs it), pretty
/// printed, for "Download scenario": the ruleset byte for byte, the host
/// (interfaces with their addresses, the routes as listed, sysctls), the
/// ipsets (when any), the seed and the packets.
///
/// A chosen branch (`input.branch`, a sequence of random draws, not
/// per-rule choices) is written as `force` entries when that is faithful:
/// the scenario is run along the branch and, if each `statistic --mode
/// random` rule it passes chose one way only, each is forced that way, so
/// `nfsim trace` follows the same branch. When a rule chose both ways (two
/// packets through one ladder) or the scenario does not run (ruleset
/// errors), the file has no `force` and `nfsim trace` shows the seeded run;
/// the link keeps the branch. That run parses the ruleset: only with a
/// chosen branch.
///
/// Errors: the host's text, or a packet's fields (which packet, which field).
pub fn scenario_json(ruleset: &str, input: &PlayInput) -> Result<String, String> {
    let (mut parts, host, specs) = parts(ruleset, input);
    host?;
    specs?;
    if let Some(branch) = &input.branch {
        let plain = parts.write(false);
        if let Some(force) = branch_as_force(&plain, input.seed, branch) {
            parts.force = force.iter().map(to_json).collect();
        }
    }
    Ok(parts.write(true) + "\n")
}

/// Overrides a link carries for what its scenario cannot say as typed.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Typed {
    addrs: Option<String>,
    routes: Option<String>,
    packets: Option<Vec<TypedPacket>>,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // short-lived, one per packet
enum TypedPacket {
    Reply { reply_to: usize },
    Form(PacketForm),
}

/// What the playground makes of a scenario (and a link's overrides).
fn input_of(
    sc: &Scenario,
    scenario_text: impl FnOnce() -> String,
    typed: Typed,
    branch: Option<Vec<bool>>,
) -> Result<(PlayInput, Vec<String>), String> {
    if sc.version != 1 {
        return Err(format!(
            "scenario: unsupported version {} (this playground reads version 1)",
            sc.version
        ));
    }
    let mut notes = Vec::new();
    let (addrs, routes) = match (typed.addrs, typed.routes) {
        (Some(a), Some(r)) => (a, r),
        (a, r) => {
            let (da, dr) = host_text(&sc.host)?;
            (a.unwrap_or(da), r.unwrap_or(dr))
        }
    };
    let (mut packets, kept) = match typed.packets {
        Some(t) => (
            t.into_iter()
                .map(|p| match p {
                    TypedPacket::Reply { reply_to } => PacketInput::ReplyTo(reply_to),
                    TypedPacket::Form(f) => PacketInput::Form(f),
                })
                .collect(),
            None,
        ),
        None => {
            let (packets, kept, packet_notes) = packets_of(&sc.packets)?;
            notes.extend(packet_notes);
            (packets, Some(kept))
        }
    };
    for (ext, yes) in &sc.assume {
        if *yes {
            notes.push(format!(
                "assume: the playground takes `{ext}' (an extension nfsim does not evaluate) as never matching; the file assumes it matches."
            ));
        }
    }
    let branch = match branch {
        Some(b) => Some(b),
        None if sc.force.is_empty() => None,
        None => {
            // Forced choices: the run the file describes, as the chosen branch.
            let run = Loaded::from_json(&scenario_text())
                .map_err(|e| e.to_string())
                .and_then(|mut loaded| {
                    if let Some(kept) = kept {
                        loaded.scenario.packets = kept;
                    }
                    trail(&loaded, sc.seed, None).ok_or_else(|| "it does not run".to_string())
                });
            match run {
                Ok(t) if t.is_empty() => {
                    notes.push("force: no random rule runs in this scenario, so its forced choices change nothing.".into());
                    None
                }
                Ok(t) => {
                    let (n, s, are) = match sc.force.len() {
                        1 => (1, "", "is"),
                        n => (n, "s", "are"),
                    };
                    notes.push(format!(
                        "force: the playground forces no rule; the file's {n} forced choice{s} {are} shown as the chosen branch of Outcomes."
                    ));
                    Some(t.into_iter().map(|(_, c)| c).collect())
                }
                Err(e) => {
                    notes.push(format!("force: not applied ({e})."));
                    None
                }
            }
        }
    };
    if packets.is_empty() {
        notes.push("The scenario has no packets: the playground shows its example packet.".into());
        packets.push(PacketInput::Form(PacketForm::default()));
    }
    Ok((
        PlayInput {
            addrs,
            routes,
            packets,
            selected: 0,
            branch,
            seed: sc.seed,
            sysctl: sc.host.sysctl,
            ipsets: sc.ipsets.clone().unwrap_or_default(),
            backend: sc.backend,
            listening: match &sc.host.listening {
                None => String::new(),
                Some(l) if l.is_empty() => "none".into(),
                Some(l) => l.join(" "),
            },
        },
        notes,
    ))
}

/// Read a scenario file (the CLI's format): the ruleset text, what the
/// playground traces, and notes on what it does not show. The host becomes
/// `ip -4 addr` / `ip -4 route` text; packets become forms with every field
/// filled (the README's defaults where the file says nothing; `"from":
/// "local"` arrives on `local`).
///
/// What the playground does not have is loaded without, each with a note:
/// `icmp_error_for` packets (and replies to them) are left out, later
/// `reply_to` numbers following; `assume: true` entries are not applied
/// (the playground assumes no unmodelled extension matches); packet fields
/// the form lacks (`gid`, `length`, `ttl`, `tos`, `time_ms`) are dropped.
/// `force` is turned into the chosen branch: the file's run is made once (the
/// ruleset is parsed for it) and its random choices become the branch, so the
/// playground shows the run `nfsim trace` shows.
///
/// Errors: JSON (with serde's line and column), an unsupported version, a
/// host that cannot be built, a `reply_to`/`icmp_error_for` that does not
/// name an earlier packet.
pub fn from_scenario_json(text: &str) -> Result<(String, PlayInput, Vec<String>), String> {
    let sc: Scenario = serde_json::from_str(text).map_err(|e| format!("scenario: {e}"))?;
    let (input, notes) = input_of(&sc, || text.to_string(), Typed::default(), None)?;
    Ok((sc.ruleset, input, notes))
}

// ---------------------------------------------------------------- links

/// The link's fragment for `shared` (without the `#`): see the module
/// documentation for the payload. A link longer than
/// [`nfsim::scenario::link::MAX_LINK_CHARS`] will not open: offer the file instead
/// (and warn above [`nfsim::scenario::link::LONG_LINK`]).
pub fn to_link(shared: &Shared) -> String {
    let input = &shared.input;
    let (parts, host, specs) = parts(&shared.ruleset, input);
    let mut typed = Vec::new();
    // What opening the link would derive from the scenario; typed where it differs.
    let derived = host.as_ref().ok().map(|h| (addr_text(h), route_text(h)));
    if derived.as_ref().map(|d| &d.0) != Some(&input.addrs) {
        typed.push(("addrs", to_json(&input.addrs)));
    }
    if derived.as_ref().map(|d| &d.1) != Some(&input.routes) {
        typed.push(("routes", to_json(&input.routes)));
    }
    let derived_packets = specs.ok().and_then(|specs| {
        let specs: Vec<PacketSpec> = specs
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<_, _>>()
            .ok()?;
        packets_of(&specs).ok().map(|(p, _, _)| p)
    });
    if derived_packets.as_ref() != Some(&input.packets) {
        let list: Vec<String> = input
            .packets
            .iter()
            .map(|p| match p {
                PacketInput::ReplyTo(n) => to_json(&TypedPacket::Reply { reply_to: *n }),
                PacketInput::Form(f) => to_json(f),
            })
            .collect();
        typed.push(("packets", json_list(&list, "", false)));
    }
    let mut fields = vec![("scenario", parts.write(false))];
    if input.selected != 0 {
        fields.push(("selected", input.selected.to_string()));
    }
    if let Some(b) = &input.branch {
        fields.push(("branch", to_json(b)));
    }
    if shared.view != ViewState::default() {
        fields.push(("view", to_json(&shared.view)));
    }
    if !typed.is_empty() {
        fields.push(("typed", json_object(&typed, "", false)));
    }
    nfsim::scenario::link::encode(&json_object(&fields, "", false))
}

#[derive(Deserialize)]
struct Payload {
    scenario: Value,
    #[serde(default)]
    selected: usize,
    #[serde(default)]
    branch: Option<Vec<bool>>,
    #[serde(default)]
    view: ViewState,
    #[serde(default)]
    typed: Typed,
}

/// Open a link (the URL's fragment, with or without `#`): the shared state
/// and notes (as [`from_scenario_json`] gives for a scenario with things the
/// playground does not show; none for links it made). A view value no
/// playground writes is replaced by its default (`by` other than
/// rule/chain/hook is `rule`, a theme other than light/dark is the
/// system's), and `selected` past the last packet is the last packet.
///
/// Errors are sentences for the page: the link's own ([`nfsim::scenario::link::LinkError`]),
/// or a payload that is not what a playground writes.
pub fn from_link(fragment: &str) -> Result<(Shared, Vec<String>), String> {
    let text = nfsim::scenario::link::decode(fragment).map_err(|e| e.to_string())?;
    let payload: Payload = serde_json::from_str(&text)
        .map_err(|e| format!("The link is damaged: its contents do not read ({e})."))?;
    let sc: Scenario = Scenario::deserialize(&payload.scenario)
        .map_err(|e| format!("The link's scenario does not read: {e}."))?;
    let (mut input, notes) = input_of(
        &sc,
        || payload.scenario.to_string(),
        payload.typed,
        payload.branch,
    )
    .map_err(|e| format!("The link's scenario does not open: {e}."))?;
    input.selected = payload.selected.min(input.packets.len().saturating_sub(1));
    let mut view = payload.view;
    if !matches!(view.by.as_str(), "rule" | "chain" | "hook") {
        view.by = "rule".into();
    }
    if !matches!(view.theme.as_deref(), None | Some("light") | Some("dark")) {
        view.theme = None;
    }
    Ok((
        Shared {
            ruleset: sc.ruleset,
            input,
            view,
        },
        notes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Session, DEFAULT_ADDRS};
    use crate::view_model::EXAMPLE;
    use serde_json::json;

    const KUBE: &str = include_str!("../engine/tests/fixtures/scenarios/kube_nodeport.json");

    fn shared(input: PlayInput) -> Shared {
        Shared {
            ruleset: EXAMPLE.into(),
            input,
            view: ViewState::default(),
        }
    }

    fn round_trip(s: &Shared) -> String {
        let link = to_link(s);
        let (back, notes) = from_link(&link).unwrap();
        assert_eq!(&back, s);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(from_link(&format!("#{link}")).unwrap().0, *s);
        link
    }

    /// The payload of a link, as JSON.
    fn payload(link: &str) -> Value {
        serde_json::from_str(&nfsim::scenario::link::decode(link).unwrap()).unwrap()
    }

    fn form(f: impl FnOnce(&mut PacketForm)) -> PacketInput {
        let mut p = PacketForm::default();
        f(&mut p);
        PacketInput::Form(p)
    }

    /// The default example's link: 1,646 characters, well under
    /// [`nfsim::scenario::link::LONG_LINK`]. The 36-rule ruleset packs to about 1,320 of
    /// them; the rest is the host, the packet, and the routes as typed (the
    /// default lists a kernel route, which a scenario leaves out).
    #[test]
    fn the_default_example_link_is_1646_characters() {
        let link = round_trip(&shared(PlayInput::default()));
        println!("default example link: {} characters", link.len());
        assert_eq!(link.len(), 1646);
        assert!(link.len() < nfsim::scenario::link::LONG_LINK);
        // The link's scenario is the engine's, and runs as it is.
        let p = payload(&link);
        let loaded = Loaded::from_json(&p["scenario"].to_string()).unwrap();
        assert_eq!(loaded.scenario.ruleset, EXAMPLE);
        assert_eq!(
            loaded.host,
            Host::from_ip_text(
                DEFAULT_ADDRS,
                crate::session::DEFAULT_ROUTES,
                Sysctl::default()
            )
            .unwrap()
        );
        // The addresses read back as typed; the routes list a kernel route, so they travel as typed.
        assert!(p["typed"].get("addrs").is_none(), "{}", p["typed"]);
        assert!(p["typed"]["routes"].is_string());
        assert!(p["typed"].get("packets").is_none());
    }

    #[test]
    fn replies_icmp_local_packets_sysctls_ipsets_and_the_view_round_trip() {
        let input = PlayInput {
            packets: vec![
                PacketInput::Form(PacketForm::default()),
                PacketInput::ReplyTo(0),
                form(|f| {
                    f.protocol = "icmp".into();
                    f.icmp_type = "8".into();
                    f.icmp_code = "0".into();
                }),
                form(|f| {
                    f.arrives_on = "local".into();
                    f.src = String::new();
                    f.protocol = "udp".into();
                    f.dport = "53".into();
                    f.uid = "1000".into();
                    f.mark = "0x4000".into();
                }),
                PacketInput::ReplyTo(3),
            ],
            selected: 3,
            branch: Some(vec![false, true]),
            seed: 7,
            sysctl: Sysctl {
                ip_forward: false,
                route_localnet: true,
                rp_filter: 2,
            },
            ipsets: "create blocked hash:net family inet\nadd blocked 192.0.2.0/24\n".into(),
            backend: nfsim::path::pipeline::Backend::Legacy,
            listening: "tcp/22 udp/53".into(),
            ..PlayInput::default()
        };
        let s = Shared {
            view: ViewState {
                step: 17,
                by: "chain".into(),
                presentation: true,
                theme: Some("dark".into()),
                open: vec!["problems".into(), "trace".into()],
            },
            ..shared(input)
        };
        let link = round_trip(&s);
        let p = payload(&link);
        assert_eq!(p["branch"], json!([false, true]));
        assert_eq!(p["selected"], 3);
        assert_eq!(p["scenario"]["seed"], 7);
        assert_eq!(
            p["scenario"]["host"]["sysctl"],
            json!({"ip_forward": false, "route_localnet": true, "rp_filter": 2})
        );
        assert_eq!(p["scenario"]["backend"], "legacy");
        assert_eq!(
            p["scenario"]["host"]["listening"],
            json!(["tcp/22", "udp/53"])
        );
        assert_eq!(p["scenario"]["packets"][1], json!({"reply_to": 0}));
        assert_eq!(p["scenario"]["packets"][3]["uid"], 1000);
        assert_eq!(p["scenario"]["packets"][3]["mark"], 16384);
        // Forms the scenario gives back differently (uid and mark as typed) travel as typed.
        assert!(p["typed"]["packets"].is_array());
    }

    #[test]
    fn a_draft_reopens_exactly_as_typed() {
        let input = PlayInput {
            addrs: "2: eth0    inet 198.51.100.400/24\n".into(),
            routes: "default via nowhere\n".into(),
            packets: vec![
                form(|f| {
                    f.dst = "198.51.100".into();
                    f.sport = "x".into();
                    f.tcp_flags = "SYN,BOGUS".into();
                }),
                PacketInput::ReplyTo(5),
            ],
            selected: 1,
            ..PlayInput::default()
        };
        let s = Shared {
            ruleset: "*filter\n-A INPUT -j NOPE <script>alert(1)</script>\n".into(),
            ..shared(input)
        };
        let link = round_trip(&s);
        let p = payload(&link);
        // The scenario part still holds what it can: the ruleset byte for byte, sysctls, seed.
        assert_eq!(p["scenario"]["ruleset"], json!(s.ruleset));
        assert_eq!(p["scenario"]["packets"], json!([]));
        assert_eq!(p["typed"]["addrs"], json!(s.input.addrs));
        // A ruleset with a script in a comment is text, in the link and out of it.
        let t = Shared {
            ruleset: "*filter\n-A INPUT -m comment --comment \"<script>alert(1)</script>\" -j ACCEPT\nCOMMIT\n".into(),
            ..shared(PlayInput::default())
        };
        round_trip(&t);
        // A host that reads but cannot be a scenario's (a route through an interface it lacks).
        let u = shared(PlayInput {
            routes: "10.0.0.0/8 dev docker0\n".into(),
            ..PlayInput::default()
        });
        round_trip(&u);
        assert!(scenario_json(EXAMPLE, &u.input)
            .unwrap_err()
            .contains("no interface `docker0'"));
    }

    #[test]
    fn the_scenario_file_loads_in_the_engine_and_back_in_the_playground() {
        let input = PlayInput {
            packets: vec![PacketInput::Form(PacketForm::default()), PacketInput::ReplyTo(0)],
            ipsets: "create s hash:ip\nadd s 192.0.2.9\n".into(),
            routes: "default via 198.51.100.254 dev eth0\n10.0.0.0/8 via 203.0.113.7 dev eth1 metric 5\nblackhole 192.0.2.128/25\nbroadcast 10.9.9.9 dev eth1 table local\nlocal 10.1.1.1 dev eth1\n".into(),
            ..PlayInput::default()
        };
        let text = scenario_json(EXAMPLE, &input).unwrap();
        assert!(
            text.starts_with("{\n  \"version\": 1,\n  \"ruleset\": \"*"),
            "{text}"
        );
        assert!(text.contains("\n  \"packets\": [\n    {\"from\":\"eth0\",\"src\":\"192.0.2.50\",\"dst\":\"198.51.100.1\",\"protocol\":\"tcp\",\"sport\":45678,\"dport\":32719,\"tcp_flags\":\"SYN\"},\n    {\"reply_to\":0}\n  ]\n}\n"), "{text}");
        let loaded = Loaded::from_json(&text).unwrap();
        assert_eq!(loaded.scenario.ruleset, EXAMPLE);
        assert_eq!(
            loaded.host,
            Host::from_ip_text(&input.addrs, &input.routes, input.sysctl).unwrap()
        );
        assert_eq!(
            loaded.scenario.ipsets.as_deref(),
            Some(input.ipsets.as_str())
        );
        assert!(loaded.scenario.force.is_empty());
        // Opened again: the same host and packets; the routes without the kernel's line.
        let (ruleset, back, notes) = from_scenario_json(&text).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(ruleset, EXAMPLE);
        assert_eq!(back.addrs, DEFAULT_ADDRS);
        assert_eq!(back.routes, "default via 198.51.100.254 dev eth0\n10.0.0.0/8 via 203.0.113.7 dev eth1 metric 5\nblackhole 192.0.2.128/25\nbroadcast 10.9.9.9 dev eth1 table local\nlocal 10.1.1.1 dev eth1\n");
        assert_eq!(
            PlayInput {
                routes: input.routes.clone(),
                ..back.clone()
            },
            input
        );
        assert_eq!(
            Host::from_ip_text(&back.addrs, &back.routes, back.sysctl).unwrap(),
            loaded.host
        );
    }

    #[test]
    fn hosts_of_every_shape_survive_file_and_link() {
        let real = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n    inet 198.51.100.1/24 brd 198.51.100.255 scope global eth0\n       valid_lft forever preferred_lft forever\n    inet 198.51.100.7/24 scope global secondary eth0\n3: eth1: <BROADCAST,MULTICAST> mtu 1500\n    inet 203.0.113.1/31 scope global eth1\n4: eth2: <BROADCAST,MULTICAST> mtu 1500\n";
        let hosts = [
            (real, "default via 198.51.100.254 dev eth0 proto dhcp src 198.51.100.7 metric 100\n"),
            ("2: eth0    inet 198.51.100.1/24\n1: lo    inet 10.9.9.9/32 scope global lo\n", "unreachable 10.0.0.0/8\nprohibit 10.1.0.0/16 metric 3\nlocal 192.0.2.0/24 dev lo\n"),
            ("", ""),
        ];
        for (addrs, routes) in hosts {
            let input = PlayInput {
                addrs: addrs.into(),
                routes: routes.into(),
                ..PlayInput::default()
            };
            let host = Host::from_ip_text(addrs, routes, input.sysctl).unwrap();
            round_trip(&shared(input.clone()));
            let Ok(text) = scenario_json(EXAMPLE, &input) else {
                // No eth0 on the empty host: the packet's field says so.
                assert!(addrs.is_empty());
                assert_eq!(
                    scenario_json(EXAMPLE, &input).unwrap_err(),
                    "packet 1: Arrives on: the host has no interface `eth0'"
                );
                continue;
            };
            assert_eq!(Loaded::from_json(&text).unwrap().host, host);
            let (_, back, _) = from_scenario_json(&text).unwrap();
            assert_eq!(
                Host::from_ip_text(&back.addrs, &back.routes, back.sysctl).unwrap(),
                host
            );
            // Text in the playground's own style travels in the scenario alone.
            let canonical = shared(PlayInput {
                packets: input.packets.clone(),
                ..back
            });
            let link = round_trip(&canonical);
            assert!(payload(&link).get("typed").is_none(), "{}", payload(&link));
        }
    }

    #[test]
    fn field_errors_say_which_packet_and_field() {
        let input = PlayInput {
            packets: vec![
                PacketInput::Form(PacketForm::default()),
                form(|f| f.dst = "198.51.100".into()),
                PacketInput::ReplyTo(2),
            ],
            ..PlayInput::default()
        };
        assert_eq!(
            scenario_json(EXAMPLE, &input).unwrap_err(),
            "packet 2: Destination address: `198.51.100' is not an IPv4 address (like 192.0.2.50); packet 3: a reply must answer an earlier packet, not 3"
        );
        let input = PlayInput {
            addrs: "2: eth0    inet 198.51.100.400/24".into(),
            ..PlayInput::default()
        };
        assert_eq!(
            scenario_json(EXAMPLE, &input).unwrap_err(),
            "host, line 1: bad address `198.51.100.400/24'"
        );
    }

    #[test]
    fn a_chosen_branch_is_written_as_force_and_read_back_as_the_branch() {
        let mut session = Session::new();
        session.parse(EXAMPLE);
        let outcomes = session.trace(&PlayInput::default()).unwrap().outcomes;
        assert_eq!(outcomes.len(), 3);
        for o in &outcomes {
            let input = PlayInput {
                packets: vec![
                    PacketInput::Form(PacketForm::default()),
                    PacketInput::ReplyTo(0),
                ],
                branch: Some(o.choices.clone()),
                ..PlayInput::default()
            };
            let shown = session.trace(&input).unwrap();
            let text = scenario_json(EXAMPLE, &input).unwrap();
            // `nfsim trace FILE` (a seeded run) follows the branch.
            let loaded = Loaded::from_json(&text).unwrap();
            assert_eq!(loaded.scenario.force.len(), o.choices.len(), "{text}");
            assert!(loaded
                .scenario
                .force
                .iter()
                .all(|f| f.table == "nat" && f.chain == "KUBE-SVC-JKOCBQALQGD3X3RT"));
            let mut state = SimState::new(&loaded, loaded.scenario.seed, None);
            let paths = scenario::run(&loaded, &mut state).unwrap();
            let out = scenario::path_json(&loaded.ruleset, &paths[0]);
            assert_eq!(
                format!(
                    "{}:{}",
                    out["packet_out"]["dst"].as_str().unwrap(),
                    out["packet_out"]["dport"]
                ),
                o.to
            );
            // Opened again, the forced choices are the chosen branch: the same trace.
            let (_, back, notes) = from_scenario_json(&text).unwrap();
            assert_eq!(back.branch.as_ref(), Some(&o.choices));
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert!(
                notes[0].starts_with("force: the playground forces no rule"),
                "{notes:?}"
            );
            assert_eq!(session.trace(&back).unwrap(), shown);
        }
        // Two new connections through the ladder choosing differently: no force can say that.
        let input = PlayInput {
            packets: vec![
                PacketInput::Form(PacketForm::default()),
                form(|f| f.sport = "45679".into()),
            ],
            branch: Some(vec![true, false, true]),
            ..PlayInput::default()
        };
        assert!(Loaded::from_json(&scenario_json(EXAMPLE, &input).unwrap())
            .unwrap()
            .scenario
            .force
            .is_empty());
    }

    #[test]
    fn the_kube_nodeport_file_traces_as_the_cli_traces_it() {
        let (ruleset, input, notes) = from_scenario_json(KUBE).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(input.addrs, "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 198.51.100.1/24 brd 198.51.100.255 scope global eth0\n3: eth1    inet 203.0.113.1/24 brd 203.0.113.255 scope global eth1\n");
        assert_eq!(input.routes, "default via 203.0.113.2 dev eth1\n");
        assert_eq!(
            input.packets,
            [
                PacketInput::Form(PacketForm::default()),
                PacketInput::ReplyTo(0)
            ]
        );
        let mut session = Session::new();
        assert_eq!(session.parse(&ruleset).counts, "0 errors, 0 warnings");
        let view = session.trace(&input).unwrap();
        // What `nfsim trace --format json` prints for the file.
        let loaded = Loaded::from_json(KUBE).unwrap();
        let mut state = SimState::new(&loaded, loaded.scenario.seed, None);
        let cli: Vec<Value> = scenario::run(&loaded, &mut state)
            .unwrap()
            .iter()
            .map(|p| scenario::path_json(&loaded.ruleset, p))
            .collect();
        assert_eq!(view.packets.len(), 2);
        for (p, c) in view.packets.iter().zip(&cli) {
            assert_eq!(json!(p.fate.result), c["fate"]["result"]);
            let out = &c["packet_out"];
            assert_eq!(
                p.leaves_as.clone().unwrap(),
                format!("{}:{}", out["dst"].as_str().unwrap(), out["dport"])
            );
        }
        // As the CLI printed it when this test was written.
        assert_eq!(view.packets[0].fate.banner, "Forwarded out eth1");
        assert_eq!(
            view.packets[0].leaves_as.as_deref(),
            Some("203.0.113.10:80")
        );
        assert_eq!(view.packets[1].fate.banner, "Forwarded out eth1");
        assert_eq!(
            view.packets[1].leaves_as.as_deref(),
            Some("192.0.2.50:45678")
        );
        // A link made of the file alone opens to the same.
        let link = nfsim::scenario::link::encode(&format!("{{\"scenario\": {KUBE}}}"));
        let (s, notes) = from_link(&link).unwrap();
        assert!(notes.is_empty());
        assert_eq!(
            (s.ruleset, s.input, s.view),
            (ruleset, input, ViewState::default())
        );
    }

    #[test]
    fn what_the_playground_does_not_show_is_noted() {
        let text = r#"{"version": 1, "ruleset": "*filter\nCOMMIT\n",
            "host": {"interfaces": [{"name": "eth0", "addresses": ["10.0.0.1/24"]}]},
            "assume": {"u32": true, "string": false},
            "packets": [
                {"from": "eth0", "src": "10.0.0.2", "dst": "10.0.0.1", "protocol": "udp", "ttl": 1, "time_ms": 1500},
                {"icmp_error_for": 0},
                {"reply_to": 1},
                {"from": "local", "dst": "10.0.0.2", "protocol": 6, "tcp_flags": "SA", "mark": 16384, "uid": 33},
                {"from": "eth0", "src": "10.0.0.2", "dst": "10.0.0.1", "protocol": "gre"},
                {"reply_to": 3}
            ]}"#;
        let (_, input, notes) = from_scenario_json(text).unwrap();
        assert_eq!(
            notes,
            [
                "Packet 1: the playground does not set ttl 1 (it sends 64), time_ms 1500 (its packets are all at 0); `nfsim trace` does.",
                "packets[1] is the ICMP error for packets[0]; the playground does not send ICMP errors, so it is left out, and the packets after it may meet other connections than `nfsim trace` shows.",
                "packets[2] answers packets[1], which is left out, so it is left out too.",
                "Packet 3 (packets[4] in the file): protocol `gre' is not one the playground crafts (tcp, udp, icmp, sctp).",
                "assume: the playground takes `u32' (an extension nfsim does not evaluate) as never matching; the file assumes it matches.",
            ]
        );
        assert_eq!(input.packets.len(), 4);
        let PacketInput::Form(local) = &input.packets[1] else {
            panic!()
        };
        assert_eq!(
            (
                local.arrives_on.as_str(),
                local.src.as_str(),
                local.protocol.as_str(),
                local.tcp_flags.as_str(),
                local.mark.as_str(),
                local.uid.as_str(),
                local.sport.as_str(),
                local.dport.as_str()
            ),
            ("local", "", "tcp", "SYN,ACK", "0x4000", "33", "40000", "80")
        );
        assert_eq!(input.packets[3], PacketInput::ReplyTo(1));
        assert_eq!(input.addrs, "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 10.0.0.1/24 brd 10.0.0.255 scope global eth0\n");
        assert_eq!(input.routes, "");
        // An empty scenario shows the example packet, and says so.
        let (_, input, notes) =
            from_scenario_json(r#"{"version":1,"ruleset":"","packets":[]}"#).unwrap();
        assert_eq!(input.packets, [PacketInput::Form(PacketForm::default())]);
        assert_eq!(
            notes,
            ["The scenario has no packets: the playground shows its example packet."]
        );
        // A force on a ruleset that does not parse cannot become a branch.
        let (_, input, notes) = from_scenario_json(r#"{"version":1,"ruleset":"*nat\n-A X -j Y\n","packets":[],"force":[{"chain":"X","rule":1,"match":true}]}"#).unwrap();
        assert_eq!(input.branch, None);
        assert_eq!(notes[0], "force: not applied (the ruleset has 2 error(s)).");
    }

    #[test]
    fn broken_scenario_files_say_where() {
        let e = from_scenario_json("{\"version\": 1,\n \"ruleset\": \"\",\n \"packets\": [{\"from\": \"eth0\", \"dprot\": 1}]}").unwrap_err();
        assert!(e.starts_with("scenario: unknown field `dprot`"), "{e}");
        assert!(e.ends_with("at line 3 column 37"), "{e}");
        assert_eq!(
            from_scenario_json("{\"version\": 1,").unwrap_err(),
            "scenario: EOF while parsing a value at line 1 column 14"
        );
        assert_eq!(
            from_scenario_json(r#"{"version":2,"ruleset":"","packets":[]}"#).unwrap_err(),
            "scenario: unsupported version 2 (this playground reads version 1)"
        );
        assert_eq!(
            from_scenario_json(r#"{"version":1,"ruleset":"","packets":[{"reply_to":0}]}"#)
                .unwrap_err(),
            "packets[0]: reply_to 0 must name an earlier packet"
        );
        assert_eq!(
            from_scenario_json(r#"{"version":1,"ruleset":"","host":{"interfaces":[{"name":"eth0","addresses":["10.0.0.300/8"]}]},"packets":[]}"#).unwrap_err(),
            "host: interface eth0: bad address `10.0.0.300/8' (want A.B.C.D/N)"
        );
    }

    #[test]
    fn hostile_links_give_a_message_and_nothing_else() {
        let good = to_link(&shared(PlayInput::default()));
        let cases: Vec<(String, &str)> = vec![
            ("A".repeat(10 * 1024 * 1024), "The link is too long (10,485,760 characters; at most 2,097,152)."),
            (format!("2.{}", &good[2..]), "This link was made by a newer playground (format 2); this one opens format 1."),
            (format!("{}+{}", &good[..1000], &good[1001..]), "The link is damaged (not base64url at character 1,001)."),
            (good[..good.len() / 2].to_string(), "The link is cut short or damaged: its data does not unpack."),
            ("#".into(), "The link holds no scenario (nothing after the #)."),
            (nfsim::scenario::link::encode("not json"), "The link is damaged: its contents do not read (expected ident at line 1 column 2)."),
            (nfsim::scenario::link::encode("{\"view\":{}}"), "The link is damaged: its contents do not read (missing field `scenario` at line 1 column 11)."),
            (nfsim::scenario::link::encode("{\"scenario\":{\"version\":1}}"), "The link's scenario does not read: missing field `ruleset`."),
            (nfsim::scenario::link::encode("{\"scenario\":{\"version\":9,\"ruleset\":\"\",\"packets\":[]}}"), "The link's scenario does not open: scenario: unsupported version 9 (this playground reads version 1)."),
            (nfsim::scenario::link::encode("{\"scenario\":{\"version\":1,\"ruleset\":\"\",\"packets\":[]},\"typed\":{\"packets\":[7]}}"), "The link is damaged: its contents do not read (data did not match any variant of untagged enum TypedPacket at line 1 column 74)."),
        ];
        for (link, message) in &cases {
            assert_eq!(from_link(link).unwrap_err(), *message);
        }
        // A decompression bomb: 20 MiB of spaces packs small, and unpacks no further than 16 MiB.
        let bomb = nfsim::scenario::link::encode(&" ".repeat(20 * 1024 * 1024));
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        assert_eq!(
            from_link(&bomb).unwrap_err(),
            "The link unpacks to more than 16 MiB; not opened."
        );
        // A view no playground writes is its default; a selected packet past the last is the last.
        let odd = nfsim::scenario::link::encode(&format!(
            "{{\"scenario\": {KUBE}, \"selected\": 99, \"view\": {{\"by\": \"<script>\", \"theme\": \"neon\", \"step\": 3, \"future\": 1}}, \"later\": true}}"
        ));
        let (s, _) = from_link(&odd).unwrap();
        assert_eq!(
            (
                s.input.selected,
                s.view.by.as_str(),
                s.view.theme,
                s.view.step
            ),
            (1, "rule", None, 3)
        );
    }
}
