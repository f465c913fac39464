//! The routing decisions on a packet's path, as the pipeline asks them:
//! ip_route_input's checks for a packet that came in (martian source and
//! destination, rp_filter), the output route of a locally generated packet
//! (device, preferred source, next hop), __mkroute_output's refusal of a
//! loopback source on another device, and ip_mc_output's looped-back copy.
//!
//! Not here: the routing table and its lookup ([`crate::net::host`]), and
//! what the pipeline does with a decision (its routing steps, the hooks that
//! follow, ip_forward and the TTL).

use crate::net::host::{AddrType, Host, RouteResult};
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

/// The route ip_route_me_harder chooses again for a locally generated
/// packet: its flow carries the packet's source when that is a local or
/// unicast address, and with a source and no bound device, a multicast or
/// limited-broadcast destination leaves by the device holding that source
/// (ip_route_output_key_hash_rcu's "special hack" for vic and vat), or
/// nowhere when no device holds it (ENETUNREACH). Otherwise the route to
/// the destination.
pub(super) fn reroute_output(host: &Host, src: Ipv4, dst: Ipv4) -> Result<OutRoute, &'static str> {
    let keeps_src = matches!(
        host.addr_type(src, None),
        AddrType::Local | AddrType::Unicast
    );
    if keeps_src && (dst.is_multicast() || dst.is_broadcast()) {
        return match host.device_of(src) {
            Some(dev) => Ok((dev.clone(), Some(src), dev == "lo", dst)),
            None => Err("no device holds the source of a packet to a multicast or broadcast address (ENETUNREACH)"),
        };
    }
    route_output(host, dst)
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
