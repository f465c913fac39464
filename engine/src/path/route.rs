//! The routing decisions on a packet's path, as the pipeline asks them:
//! ip_route_input's checks for a packet that came in (martian source and
//! destination, rp_filter), the output route of a locally generated packet
//! (device, preferred source, next hop), __mkroute_output's refusal of a
//! loopback source on another device, and ip_mc_output's looped-back copy.
//!
//! Not here: the routing table and its lookup ([`crate::net::host`]), and
//! what the pipeline does with a decision (its routing steps, the hooks that
//! follow, ip_forward and the TTL).

use crate::net::host::{Host, RouteResult};
use crate::net::packet::Packet;
use crate::ruleset::value::Ipv4;

/// 224.0.0.1, the all-systems group every IPv4 interface joins.
pub(super) const ALL_HOSTS: Ipv4 = Ipv4::new(224, 0, 0, 1);

/// The output route: (device, preferred source, local delivery, next hop)
/// or why there is none.
pub(super) type OutRoute = (String, Option<Ipv4>, bool, Ipv4);

pub(super) fn route_output(host: &Host, dst: Ipv4) -> Result<OutRoute, &'static str> {
    match host.route(dst) {
        RouteResult::Local { src } => Ok(("lo".into(), Some(src), true, dst)),
        RouteResult::Broadcast { dev, src } | RouteResult::Multicast { dev, src } => {
            Ok((dev, src, false, dst))
        }
        RouteResult::Unicast { dev, src, via } => Ok((dev, src, false, via.unwrap_or(dst))),
        RouteResult::NoRoute => Err("no route"),
        RouteResult::Blackhole => Err("blackhole route"),
        RouteResult::Unreachable | RouteResult::Prohibit => Err("unreachable route"),
    }
}

/// ip_route_input: martians, the route, rp_filter. The route of a packet
/// that came in on `iif`, or why the stack drops it.
pub(super) fn route_input(host: &Host, p: &Packet, iif: &str) -> Result<RouteResult, &'static str> {
    let localnet = host.sysctl.route_localnet;
    let (s, d) = (p.src, p.dst);
    // Since Linux 5.3 only 0.0.0.0 itself, not all of 0/8, is a martian; and
    // a zero source to the limited broadcast (a DHCP client's) is accepted
    // (ip_route_input_slow's brd_input), without validating the source.
    let zero_to_lbcast = s.is_unspecified() && d.is_broadcast();
    if s.is_multicast()
        || s.is_broadcast()
        || (s.is_unspecified() && !zero_to_lbcast)
        || (s.is_loopback() && !localnet)
    {
        return Err("martian source");
    }
    if d.is_unspecified() || (d.is_loopback() && !localnet) {
        return Err("martian destination");
    }
    let route = host.route(d);
    if zero_to_lbcast {
        return Ok(route);
    }
    let rp = host.sysctl.rp_filter;
    // fib_validate_source without rp_filter (accept_local 0): a source
    // that is one of the host's own addresses is a martian.
    if rp == 0 && host.has_address(s) {
        return Err("martian source (a local address)");
    }
    if rp != 0 {
        // fib_validate_source: the way back to the source.
        let ok = match host.route(s) {
            RouteResult::Unicast { dev, .. } => rp == 2 || dev == iif,
            RouteResult::Local { .. } | RouteResult::Broadcast { .. } => false,
            RouteResult::Multicast { .. }
            | RouteResult::NoRoute
            | RouteResult::Blackhole
            | RouteResult::Unreachable
            | RouteResult::Prohibit => false,
        };
        if !ok {
            return Err("rp_filter");
        }
    }
    Ok(route)
}

/// __mkroute_output: a loopback source may leave by a loopback device
/// only, unless route_localnet (EINVAL, nothing is sent).
pub(super) fn loopback_source_refused(host: &Host, src: Ipv4, oif: &str) -> bool {
    src.is_loopback() && oif != "lo" && !host.sysctl.route_localnet
}

/// Whether the output of a route to `dst` is ip_mc_output, which loops a
/// copy back to the host: a broadcast address, or a multicast group the
/// host joined (nothing here joins more than 224.0.0.1). A group the host
/// did not join gets ip_output: no copy.
pub(super) fn loops_back_a_copy(host: &Host, dst: Ipv4) -> bool {
    match host.route(dst) {
        RouteResult::Broadcast { .. } => true,
        RouteResult::Multicast { .. } => dst == ALL_HOSTS,
        _ => false,
    }
}
