//! Reading a host's description into a [`Host`]: the text of `ip -4 addr`
//! (or `ip -4 -o addr`) and `ip -4 route` that a user pastes from a node
//! ([`Host::from_ip_text`]), and the scenario's JSON form
//! ([`HostSpec::build`](super::host::HostSpec::build)), whose routes are
//! written as `ip route` lines and read by the same line reader, so both
//! forms accept and refuse the same routes with the same messages.
//!
//! Not here: the model itself, the routes the kernel derives from the
//! addresses, route and address-type look-ups, and writing routes back as
//! `ip route` text ([`crate::net::host`]).

use crate::net::hash::NameMap;
use crate::net::host::{
    Host, HostError, HostSpec, IfAddr, Interface, Route, RouteTable, RouteType, Sysctl,
};
use crate::ruleset::value::{Ipv4, Ipv4Net};
use std::fmt::Write as _;

impl Host {
    /// Read a host from the text of `ip -4 addr` (or `ip -4 -o addr`) and of
    /// `ip -4 route` (the kernel's `proto kernel` routes are derived again and
    /// skipped here).
    pub fn from_ip_text(
        addr_text: &str,
        route_text: &str,
        sysctl: Sysctl,
    ) -> Result<Host, Vec<HostError>> {
        let mut errors = Vec::new();
        let mut interfaces: Vec<Interface> = Vec::new();
        let mut index: NameMap<usize> = NameMap::default();
        let mut current: Option<usize> = None;
        for (i, line) in addr_text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.is_empty() {
                continue;
            }
            let mut iface_of = |name: &str| -> usize {
                let name = name.trim_end_matches(':');
                let name = name.split('@').next().unwrap_or(name).to_string();
                *index.entry(name.clone()).or_insert_with(|| {
                    interfaces.push(Interface {
                        name,
                        addrs: vec![],
                    });
                    interfaces.len() - 1
                })
            };
            // "3: eth0@if4: <BROADCAST,...> mtu ..." starts an interface.
            if words[0].ends_with(':')
                && words[0][..words[0].len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                && words.len() > 1
            {
                current = Some(iface_of(words[1]));
            }
            let Some(at) = words.iter().position(|w| *w == "inet") else {
                continue;
            };
            // `-o` lines name the interface before `inet`; the multi-line form has
            // a header line; failing both, an `inet` line ends with its label.
            let owner = if at > 0 && !words[at - 1].ends_with(':') || at > 1 {
                Some(iface_of(words[at - 1]))
            } else if current.is_some() {
                current
            } else if words.len() > at + 2 {
                let label = words[words.len() - 1];
                Some(iface_of(label.split(':').next().unwrap_or(label)))
            } else {
                None
            };
            let Some(owner) = owner else {
                errors.push(HostError::new(
                    i + 1,
                    "an `inet` line before any interface line",
                ));
                continue;
            };
            let Some(cidr) = words.get(at + 1) else {
                errors.push(HostError::new(i + 1, "`inet` without an address"));
                continue;
            };
            let (a, p) = cidr.split_once('/').unwrap_or((cidr, "32"));
            match (Ipv4::parse(a), p.parse::<u8>().ok().filter(|p| *p <= 32)) {
                (Ok(addr), Some(prefix)) => interfaces[owner].addrs.push(IfAddr {
                    addr,
                    prefix,
                    secondary: false,
                }),
                _ => errors.push(HostError::new(i + 1, format!("bad address `{cidr}'"))),
            }
        }
        let mut routes = Vec::new();
        for (i, line) in route_text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_route_line(line) {
                Ok(Some(r)) => routes.push(r),
                Ok(None) => {}
                Err(e) => errors.push(HostError::new(i + 1, e)),
            }
        }
        if errors.is_empty() {
            Ok(Host::new(interfaces, routes, sysctl))
        } else {
            Err(errors)
        }
    }
}

/// One line of `ip -4 route`: `[TYPE] DST [via G] [dev D] [proto P] [scope S]
/// [src S] [metric M] ...`. Kernel-derived routes give `None`.
fn parse_route_line(line: &str) -> Result<Option<Route>, String> {
    let mut words = line.split_whitespace().peekable();
    let mut kind = RouteType::Unicast;
    if let Some(k) = words.peek().and_then(|w| route_type(w)) {
        kind = k;
        words.next();
    }
    let dst = match words.next() {
        Some("default") => Ipv4Net::ANY,
        Some(d) => Ipv4Net::parse(d).map_err(|e| format!("bad destination: {e}"))?,
        None => return Err("route without a destination".into()),
    };
    let mut route = Route {
        table: RouteTable::Main,
        kind,
        dst,
        via: None,
        dev: None,
        src: None,
        metric: 0,
        kernel: false,
    };
    while let Some(w) = words.next() {
        let mut value = || words.next().ok_or_else(|| format!("`{w}' needs a value"));
        match w {
            "via" => route.via = Some(Ipv4::parse(value()?)?),
            "dev" => route.dev = Some(value()?.to_string()),
            "src" => route.src = Some(Ipv4::parse(value()?)?),
            "metric" | "priority" => {
                route.metric = value()?.parse().map_err(|_| "bad metric".to_string())?
            }
            "proto" => {
                if value()? == "kernel" {
                    route.kernel = true;
                }
            }
            "table" => {
                route.table = match value()? {
                    "local" => RouteTable::Local,
                    "main" => RouteTable::Main,
                    t => return Err(format!("table `{t}' is not modelled (only local and main)")),
                }
            }
            "onlink" | "linkdown" | "dead" | "pervasive" | "offload" | "trap"
            | "rt_offload_failed" => {}
            // Everything else iproute2 prints takes one value (scope, mtu, expires, ...).
            _ => {
                value()?;
            }
        }
    }
    if route.kind == RouteType::Local && route.table == RouteTable::Main {
        route.table = RouteTable::Local;
    }
    Ok((!route.kernel).then_some(route))
}

/// A route type as `ip route` names it.
fn route_type(s: &str) -> Option<RouteType> {
    Some(match s {
        "unicast" => RouteType::Unicast,
        "local" => RouteType::Local,
        "broadcast" => RouteType::Broadcast,
        "blackhole" => RouteType::Blackhole,
        "unreachable" => RouteType::Unreachable,
        "prohibit" => RouteType::Prohibit,
        _ => return None,
    })
}

impl HostSpec {
    pub fn build(&self) -> Result<Host, Vec<HostError>> {
        let mut errors = Vec::new();
        let mut interfaces = Vec::new();
        for i in &self.interfaces {
            if i.name.is_empty() || i.name.len() > 15 {
                errors.push(HostError::new(
                    0,
                    format!("interface name `{}' must be 1 to 15 characters", i.name),
                ));
            }
            let mut addrs = Vec::new();
            for a in &i.addresses {
                let (ip, p) = a.split_once('/').unwrap_or((a, "32"));
                match (Ipv4::parse(ip), p.parse::<u8>().ok().filter(|p| *p <= 32)) {
                    (Ok(addr), Some(prefix)) => addrs.push(IfAddr {
                        addr,
                        prefix,
                        secondary: false,
                    }),
                    _ => errors.push(HostError::new(
                        0,
                        format!("interface {}: bad address `{a}' (want A.B.C.D/N)", i.name),
                    )),
                }
            }
            interfaces.push(Interface {
                name: i.name.clone(),
                addrs,
            });
        }
        let mut routes = Vec::new();
        for r in &self.routes {
            let mut line = String::new();
            if let Some(k) = &r.kind {
                line.push_str(k);
                line.push(' ');
            }
            line.push_str(&r.to);
            for (k, v) in [("via", &r.via), ("dev", &r.dev), ("src", &r.src)] {
                if let Some(v) = v {
                    let _ = write!(line, " {k} {v}");
                }
            }
            let _ = write!(line, " metric {}", r.metric);
            if let Some(t) = &r.table {
                let _ = write!(line, " table {t}");
            }
            match parse_route_line(&line) {
                Ok(Some(route)) => {
                    if let Some(d) = &route.dev {
                        if !self.interfaces.iter().any(|i| &i.name == d) && d != "lo" {
                            errors.push(HostError::new(
                                0,
                                format!("route to {}: no interface `{d}'", r.to),
                            ));
                        }
                    }
                    routes.push(route)
                }
                Ok(None) => {}
                Err(e) => errors.push(HostError::new(0, format!("route to {}: {e}", r.to))),
            }
        }
        if self.sysctl.rp_filter > 2 {
            errors.push(HostError::new(
                0,
                "sysctl rp_filter must be 0 (off), 1 (strict) or 2 (loose)",
            ));
        }
        let mut listening = None;
        if let Some(list) = &self.listening {
            let mut l = Vec::new();
            for item in list {
                let port = item.split_once('/').and_then(|(proto, port)| {
                    let proto = match proto {
                        "tcp" => 6,
                        "udp" => 17,
                        _ => return None,
                    };
                    Some((proto, port.parse::<u16>().ok()?))
                });
                match port {
                    Some(pp) => l.push(pp),
                    None => errors.push(HostError::new(
                        0,
                        format!("listening: `{item}' is not tcp/PORT or udp/PORT"),
                    )),
                }
            }
            listening = Some(l);
        }
        if errors.is_empty() {
            let mut host = Host::new(interfaces, routes, self.sysctl);
            host.listening = listening;
            Ok(host)
        } else {
            Err(errors)
        }
    }
}
