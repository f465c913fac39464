//! The host a packet meets: its interfaces and IPv4 addresses, the routes the
//! kernel derives from those addresses plus the configured ones, and the
//! sysctls that change a packet's fate. It answers route lookups the way
//! `ip route get` does and address-type questions the way the addrtype match
//! does (`inet_dev_addr_type`: the local table, 0/8 and 255.255.255.255 as
//! BROADCAST, 224/4 as MULTICAST, anything else UNICAST).
//!
//! Read from the text of `ip -4 addr` and `ip -4 route` (what a user pastes
//! from a node) and from the scenario's JSON by [`crate::net::iptext`]. It
//! does not move packets: the pipeline asks it questions.

use crate::ruleset::value::{Ipv4, Ipv4Net};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// An IPv4 address on an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IfAddr {
    pub addr: Ipv4,
    pub prefix: u8,
    /// Another address of the same subnet came first on this interface.
    pub secondary: bool,
}

impl IfAddr {
    pub fn net(&self) -> Ipv4Net {
        Ipv4Net::with_prefix(self.addr, self.prefix)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub name: String,
    pub addrs: Vec<IfAddr>,
}

/// Route types, as `ip route` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    Unicast,
    Local,
    Broadcast,
    Blackhole,
    Unreachable,
    Prohibit,
}

impl RouteType {
    fn keyword(self) -> Option<&'static str> {
        match self {
            RouteType::Unicast => None,
            RouteType::Local => Some("local"),
            RouteType::Broadcast => Some("broadcast"),
            RouteType::Blackhole => Some("blackhole"),
            RouteType::Unreachable => Some("unreachable"),
            RouteType::Prohibit => Some("prohibit"),
        }
    }
}

/// The two routing tables the default policy consults, local first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteTable {
    Local,
    Main,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub table: RouteTable,
    pub kind: RouteType,
    pub dst: Ipv4Net,
    pub via: Option<Ipv4>,
    pub dev: Option<String>,
    /// The preferred source address (`src`).
    pub src: Option<Ipv4>,
    pub metric: u32,
    /// Derived by the kernel from an address (`proto kernel`).
    pub kernel: bool,
}

impl Route {
    /// The line `ip -4 route` prints for this route.
    pub fn ip_text(&self) -> String {
        let mut s = String::new();
        if let Some(k) = self.kind.keyword() {
            s.push_str(k);
            s.push(' ');
        }
        if self.dst.is_any() && self.table == RouteTable::Main {
            s.push_str("default");
        } else {
            s.push_str(&self.dst.save_short());
        }
        if let Some(v) = self.via {
            let _ = write!(s, " via {}", v);
        }
        if let Some(d) = &self.dev {
            let _ = write!(s, " dev {d}");
        }
        if self.kernel {
            s.push_str(" proto kernel");
            s.push_str(if self.kind == RouteType::Local {
                " scope host"
            } else {
                " scope link"
            });
        }
        if let Some(src) = self.src {
            let _ = write!(s, " src {}", src);
        }
        if self.metric != 0 {
            let _ = write!(s, " metric {}", self.metric);
        }
        s
    }
}

/// Per-host sysctls that change a packet's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sysctl {
    /// net.ipv4.ip_forward
    pub ip_forward: bool,
    /// net.ipv4.conf.all.route_localnet
    pub route_localnet: bool,
    /// net.ipv4.conf.all.rp_filter: 0 off, 1 strict, 2 loose.
    pub rp_filter: u8,
}

impl Default for Sysctl {
    fn default() -> Self {
        Sysctl {
            ip_forward: true,
            route_localnet: false,
            rp_filter: 0,
        }
    }
}

/// What a route lookup for a destination gives, as `ip route get` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RouteResult {
    Local {
        src: Ipv4,
    },
    Broadcast {
        dev: String,
        src: Option<Ipv4>,
    },
    Multicast {
        dev: String,
        src: Option<Ipv4>,
    },
    Unicast {
        dev: String,
        via: Option<Ipv4>,
        src: Option<Ipv4>,
    },
    /// A blackhole route: silently dropped (EINVAL for `ip route get`).
    Blackhole,
    /// An unreachable route (EHOSTUNREACH).
    Unreachable,
    /// A prohibit route (EACCES).
    Prohibit,
    /// No route at all (ENETUNREACH).
    NoRoute,
}

impl RouteResult {
    /// `ip route get`'s first line (without `uid`), or its error text.
    pub fn ip_text(&self, dst: Ipv4) -> String {
        let src = |s: &Option<Ipv4>| s.map(|s| format!(" src {}", s)).unwrap_or_default();
        let d = dst;
        match self {
            RouteResult::Local { src: s } => format!("local {d} dev lo src {}", *s),
            RouteResult::Broadcast { dev, src: s } => format!("broadcast {d} dev {dev}{}", src(s)),
            RouteResult::Multicast { dev, src: s } => format!("multicast {d} dev {dev}{}", src(s)),
            RouteResult::Unicast { dev, via, src: s } => {
                let via = via.map(|v| format!(" via {}", v)).unwrap_or_default();
                format!("{d}{via} dev {dev}{}", src(s))
            }
            RouteResult::Blackhole => "Invalid argument".into(),
            RouteResult::Unreachable => "No route to host".into(),
            RouteResult::Prohibit => "Permission denied".into(),
            RouteResult::NoRoute => "Network is unreachable".into(),
        }
    }
}

/// Address types as the addrtype match names them (bit `i` = `names::ADDR_TYPES[i]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddrType {
    Unicast = 1,
    Local = 2,
    Broadcast = 3,
    Multicast = 5,
    Blackhole = 6,
    Unreachable = 7,
    Prohibit = 8,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Host {
    pub interfaces: Vec<Interface>,
    /// Derived and configured routes, local table first.
    pub routes: Vec<Route>,
    pub sysctl: Sysctl,
    /// The (protocol, port) pairs a local socket listens on, when the host
    /// description says; `None` leaves TCP's answers to the scenario. With a
    /// list, a TCP segment delivered to any other port is answered by the
    /// kernel's RST, which conntrack sees as the connection's reply.
    pub listening: Option<Vec<(u8, u16)>>,
}

/// A problem in a host description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    /// 1-based line of the pasted text (0 for JSON).
    pub line: usize,
    pub message: String,
}

impl HostError {
    pub(super) fn new(line: usize, message: impl Into<String>) -> Self {
        HostError {
            line,
            message: message.into(),
        }
    }
}

impl Host {
    /// Build a host from interfaces (with addresses in the order they were
    /// added) and configured routes; `lo` with 127.0.0.1/8 is always present.
    /// The kernel's own routes are derived as `fib_add_ifaddr` adds them.
    pub fn new(mut interfaces: Vec<Interface>, configured: Vec<Route>, sysctl: Sysctl) -> Host {
        match interfaces.iter().position(|i| i.name == "lo") {
            Some(0) => {}
            Some(i) => {
                let lo = interfaces.remove(i);
                interfaces.insert(0, lo);
            }
            None => interfaces.insert(
                0,
                Interface {
                    name: "lo".into(),
                    addrs: vec![],
                },
            ),
        }
        let loopback = Ipv4::LOCALHOST;
        if !interfaces[0].addrs.iter().any(|a| a.addr == loopback) {
            interfaces[0].addrs.insert(
                0,
                IfAddr {
                    addr: loopback,
                    prefix: 8,
                    secondary: false,
                },
            );
        }
        // An address in the subnet of an earlier one on the same interface is secondary.
        for iface in interfaces.iter_mut() {
            for i in 0..iface.addrs.len() {
                let net = iface.addrs[i].net();
                iface.addrs[i].secondary = iface.addrs[..i]
                    .iter()
                    .any(|p| !p.secondary && p.net() == net && p.prefix == iface.addrs[i].prefix);
            }
        }
        let mut routes = Vec::new();
        for iface in &interfaces {
            let is_lo = iface.name == "lo";
            for a in &iface.addrs {
                let primary = if a.secondary {
                    iface
                        .addrs
                        .iter()
                        .find(|p| !p.secondary && p.net() == a.net())
                        .map_or(a.addr, |p| p.addr)
                } else {
                    a.addr
                };
                let kernel = |table, kind, dst: Ipv4Net| Route {
                    table,
                    kind,
                    dst,
                    via: None,
                    dev: Some(iface.name.clone()),
                    src: Some(primary),
                    metric: 0,
                    kernel: true,
                };
                routes.push(kernel(
                    RouteTable::Local,
                    RouteType::Local,
                    Ipv4Net::host(a.addr),
                ));
                let net = a.net();
                if a.secondary || net.addr.is_unspecified() || a.prefix == 32 {
                    continue;
                }
                // The subnet route: local on loopback, a connected route elsewhere.
                if is_lo {
                    routes.push(kernel(RouteTable::Local, RouteType::Local, net));
                } else {
                    routes.push(kernel(RouteTable::Main, RouteType::Unicast, net));
                }
                if a.prefix < 31 {
                    routes.push(kernel(
                        RouteTable::Local,
                        RouteType::Broadcast,
                        Ipv4Net::host(net.broadcast()),
                    ));
                }
            }
        }
        routes.extend(configured);
        Host {
            interfaces,
            routes,
            sysctl,
            listening: None,
        }
    }

    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// The longest-prefix match in one table; among equal prefixes the lowest metric.
    fn best(&self, table: RouteTable, dst: Ipv4) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.table == table && r.dst.contains(dst))
            .min_by_key(|r| (std::cmp::Reverse(r.dst.mask.count_ones()), r.metric))
    }

    /// The source the kernel picks on `dev` for a route without `src`:
    /// the address sharing a subnet with the gateway, else the first primary.
    fn select_src(&self, dev: &str, toward: Option<Ipv4>) -> Option<Ipv4> {
        let iface = self.interface(dev)?;
        let primaries = || iface.addrs.iter().filter(|a| !a.secondary);
        toward
            .and_then(|g| primaries().find(|a| a.net().contains(g)).map(|a| a.addr))
            .or_else(|| primaries().next().map(|a| a.addr))
    }

    /// The address `inet_select_addr(dev, dst, RT_SCOPE_UNIVERSE)` gives
    /// (MASQUERADE's source): among `dev`'s primary addresses of global
    /// scope, the first on `dst`'s subnet, else the first; without one, the
    /// first primary global address of any interface, `lo` first. Addresses
    /// in 127/8 have host scope (as `ip addr add` gives them) and never count.
    pub fn select_addr(&self, dev: &str, dst: Ipv4) -> Option<Ipv4> {
        let global = |a: &&IfAddr| !a.secondary && !a.addr.is_loopback();
        if let Some(iface) = self.interface(dev) {
            let mut first = None;
            for a in iface.addrs.iter().filter(global) {
                if a.net().contains(dst) {
                    return Some(a.addr);
                }
                first.get_or_insert(a.addr);
            }
            if first.is_some() {
                return first;
            }
        }
        self.interfaces
            .iter()
            .flat_map(|i| i.addrs.iter())
            .find(global)
            .map(|a| a.addr)
    }

    /// Resolve an output route for `dst`, as `ip route get DST` does.
    pub fn route(&self, dst: Ipv4) -> RouteResult {
        if dst.is_unspecified() {
            return RouteResult::Local {
                src: Ipv4::LOCALHOST,
            };
        }
        if let Some(r) = self.best(RouteTable::Local, dst) {
            let src = r.src.unwrap_or(dst);
            return match r.kind {
                RouteType::Local => RouteResult::Local { src },
                RouteType::Broadcast => RouteResult::Broadcast {
                    dev: r.dev.clone().unwrap_or_default(),
                    src: r.src,
                },
                _ => self.outcome(r, dst),
            };
        }
        match self.best(RouteTable::Main, dst) {
            None => RouteResult::NoRoute,
            Some(r) => self.outcome(r, dst),
        }
    }

    fn outcome(&self, r: &Route, dst: Ipv4) -> RouteResult {
        let dev = || r.dev.clone().unwrap_or_default();
        let src = || {
            r.src.or_else(|| {
                r.dev
                    .as_deref()
                    .and_then(|d| self.select_src(d, r.via.or(Some(dst))))
            })
        };
        match r.kind {
            RouteType::Blackhole => RouteResult::Blackhole,
            RouteType::Unreachable => RouteResult::Unreachable,
            RouteType::Prohibit => RouteResult::Prohibit,
            _ if dst.is_broadcast() => RouteResult::Broadcast {
                dev: dev(),
                src: src(),
            },
            _ if dst.is_multicast() => RouteResult::Multicast {
                dev: dev(),
                src: src(),
            },
            _ => RouteResult::Unicast {
                dev: dev(),
                via: r.via,
                src: src(),
            },
        }
    }

    /// The addrtype match's view of an address (`inet_dev_addr_type`): with
    /// `dev` (`--limit-iface-*`), a local-table route on another device counts
    /// as UNICAST.
    pub fn addr_type(&self, a: Ipv4, dev: Option<&str>) -> AddrType {
        // ipv4_is_zeronet is 0.0.0.0 alone since Linux 5.3: the rest of 0/8
        // is looked up like any address.
        if a.is_unspecified() || a.is_broadcast() {
            return AddrType::Broadcast;
        }
        if a.is_multicast() {
            return AddrType::Multicast;
        }
        match self.best(RouteTable::Local, a) {
            Some(r) if dev.is_none_or(|d| r.dev.as_deref() == Some(d)) => match r.kind {
                RouteType::Local => AddrType::Local,
                RouteType::Broadcast => AddrType::Broadcast,
                RouteType::Blackhole => AddrType::Blackhole,
                RouteType::Unreachable => AddrType::Unreachable,
                RouteType::Prohibit => AddrType::Prohibit,
                RouteType::Unicast => AddrType::Unicast,
            },
            _ => AddrType::Unicast,
        }
    }

    pub fn is_local(&self, a: Ipv4) -> bool {
        self.addr_type(a, None) == AddrType::Local
    }

    /// The device `__ip_dev_find` finds for local address `a`: the
    /// interface it is configured on, else the device of the local route
    /// covering it (127.0.0.2 on `lo`).
    pub fn device_of(&self, a: Ipv4) -> Option<String> {
        if let Some(i) = self
            .interfaces
            .iter()
            .find(|i| i.addrs.iter().any(|x| x.addr == a))
        {
            return Some(i.name.clone());
        }
        match self.best(RouteTable::Local, a) {
            Some(r) if r.kind == RouteType::Local => r.dev.clone(),
            _ => None,
        }
    }

    /// Whether `a` is configured on one of the host's interfaces (`lo`'s
    /// 127.0.0.1 included): what `inet_lookup_ifaddr_rcu` finds.
    pub fn has_address(&self, a: Ipv4) -> bool {
        self.interfaces
            .iter()
            .any(|i| i.addrs.iter().any(|x| x.addr == a))
    }

    /// One routing table as `ip -4 route show table T` lists it: the kernel sorts
    /// by destination address, the longer prefix first, then by metric.
    pub fn table_text(&self, table: RouteTable) -> String {
        let mut routes: Vec<&Route> = self.routes.iter().filter(|r| r.table == table).collect();
        routes.sort_by_key(|r| {
            (
                r.dst.addr,
                std::cmp::Reverse(r.dst.mask.count_ones()),
                r.metric,
            )
        });
        routes.iter().map(|r| r.ip_text() + "\n").collect()
    }
}
/// The scenario's JSON form of a host, made into a [`Host`] by
/// [`HostSpec::build`] (with the `ip` text reader, in [`crate::net::iptext`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostSpec {
    pub interfaces: Vec<InterfaceSpec>,
    pub routes: Vec<RouteSpec>,
    pub sysctl: Sysctl,
    /// `["tcp/22", "udp/53"]`: what local sockets listen on (see [`Host::listening`]).
    pub listening: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceSpec {
    pub name: String,
    #[serde(default)]
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub to: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub dev: Option<String>,
    #[serde(default)]
    pub src: Option<String>,
    #[serde(default)]
    pub metric: u32,
    /// `main` (the default) or `local`, as `ip route ... table T`; a `local`
    /// route goes to the local table by itself.
    #[serde(default)]
    pub table: Option<String>,
}
