//! The address and port a NAT target gives a connection's first packet:
//! DNAT and SNAT ranges as nf_nat_core's get_unique_tuple picks in them (the
//! kernel's jhash2 over the source address), REDIRECT's local address,
//! MASQUERADE's source (inet_select_addr for the next hop), NETMAP's mapped
//! prefix, and the seeded ports of `--random`/`--random-fully`.
//!
//! Not here: when the nat table runs (a tracked connection's first packet
//! only) and how the choice becomes the connection's binding and changes
//! the packet, which are the pipeline's; how later packets and replies are
//! translated by those bindings, which is [`crate::net::conntrack`]'s.

use crate::net::host::Host;
use crate::net::packet::Packet;
use crate::ruleset::model::Hook;
use crate::ruleset::targets::NatTarget;
use crate::ruleset::value::{Ipv4, Ipv4Net};

/// The next draw of the deterministic source `seed` (splitmix64).
fn next_random(seed: &mut u64) -> u64 {
    // splitmix64
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seeded random port in `range`, or in 1024-65535 without one.
fn random_port(seed: &mut u64, range: Option<(u16, u16)>) -> u16 {
    let (lo, hi) = range.unwrap_or((1024, 65535));
    let size = hi.wrapping_sub(lo) as u64 + 1;
    lo.wrapping_add((next_random(seed) % size) as u16)
}

/// nf_nat_l4proto_unique_tuple's free port in `range`: tried in turn from a
/// random offset (from the first port when `from_first`), at most 128
/// (NF_NAT_MAX_ATTEMPTS); None when all of those are `taken`.
pub(super) fn unique_port(
    seed: &mut u64,
    (lo, hi): (u16, u16),
    from_first: bool,
    taken: impl Fn(u16) -> bool,
) -> Option<u16> {
    let size = u32::from(hi.wrapping_sub(lo)) + 1;
    let off = if from_first {
        0
    } else {
        next_random(seed) as u32
    };
    (0..size.min(128))
        .map(|i| lo.wrapping_add((off.wrapping_add(i) % size) as u16))
        .find(|&port| !taken(port))
}

/// The tuple a DNAT/SNAT range gives the packet, as nf_nat_core's
/// get_unique_tuple chooses it for a connection's first packet:
/// - SNAT keeps the source when the range already contains it (unless
///   `--random`/`--random-fully`, NF_NAT_RANGE_PROTO_RANDOM_ALL);
/// - otherwise the address is find_best_ips_proto's: a jhash2 of the
///   source address (seeded with the destination unless `--persistent`)
///   scaled onto the range, so a client always gets the same address;
/// - the port stays when the range has none or contains it; otherwise
///   DNAT takes the range's first port and SNAT a seeded random one in it
///   (the kernel draws get_random_u16()).
///
/// Not modelled: reusing an earlier connection's mapping for the same
/// source (find_appropriate_src). A clash of the chosen source with a
/// tuple in use is resolved afterwards ([`unique_port`], by the pipeline).
fn pick(seed: &mut u64, n: &NatTarget, p: &Packet, dst: bool, zone: u16) -> (Ipv4, u16) {
    let (addr, port) = if dst {
        (p.dst, p.dport)
    } else {
        (p.src, p.sport)
    };
    let Some(range) = &n.range else {
        return (addr, port);
    };
    let port_ok = range
        .ports
        .is_none_or(|(lo, hi)| !p.has_ports() || (lo..=hi).contains(&port));
    let addr_ok = range.addrs.is_none_or(|(lo, hi)| (lo..=hi).contains(&addr));
    // (A reversed address range contains nothing, as nf_nat_inet_in_range sees it.)
    // With --random or --random-fully the kernel skips this and hashes.
    if !dst && addr_ok && port_ok && !(n.random || n.random_fully) {
        return (addr, port);
    }
    let a = match range.addrs {
        None => addr,
        Some((lo, hi)) if lo == hi => lo,
        Some((lo, hi)) => {
            // The tuple's addresses as the kernel's u32 words hold them (x86).
            let j = jhash2(
                &[p.src.kernel_word(), 0, 0, 0],
                // find_best_ips_proto: the destination XOR the connection's zone id.
                if n.persistent {
                    0
                } else {
                    p.dst.kernel_word() ^ u32::from(zone)
                },
            );
            // u32 arithmetic as the kernel's: a reversed range wraps around.
            let dist = hi.0.wrapping_sub(lo.0).wrapping_add(1) as u64;
            Ipv4(lo.0.wrapping_add(((j as u64 * dist) >> 32) as u32))
        }
    };
    let port = match range.ports {
        Some((lo, hi)) if p.has_ports() && !port_ok => {
            if dst {
                lo
            } else {
                random_port(seed, Some((lo, hi)))
            }
        }
        _ => port,
    };
    (a, port)
}

/// Bob Jenkins' lookup3 hash over 32-bit words, as the kernel's jhash2().
fn jhash2(k: &[u32], initval: u32) -> u32 {
    let mut a = 0xdead_beef_u32
        .wrapping_add((k.len() as u32) << 2)
        .wrapping_add(initval);
    let (mut b, mut c) = (a, a);
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        a = a.wrapping_sub(c) ^ c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a) ^ a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b) ^ b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c) ^ c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a) ^ a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b) ^ b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

/// DNAT's new destination: the range's pick, then with `--random` a seeded
/// port in the range.
pub(super) fn dnat(seed: &mut u64, n: &NatTarget, packet: &Packet, zone: u16) -> (Ipv4, u16) {
    let (a, mut p) = pick(seed, n, packet, true, zone);
    if n.random && packet.has_ports() {
        if let Some(ports) = n.range.as_ref().and_then(|r| r.ports) {
            p = random_port(seed, Some(ports));
        }
    }
    (a, p)
}

/// REDIRECT's new destination: the incoming interface's first primary
/// address in PREROUTING, 127.0.0.1 in OUTPUT, and the packet's own port
/// when the range holds it, else the range's first port;
/// None (the packet is dropped) when that interface has no address.
pub(super) fn redirect(
    host: &Host,
    hook: Hook,
    in_iface: Option<&str>,
    n: &NatTarget,
    packet: &Packet,
) -> Option<(Ipv4, u16)> {
    let to = match (hook, in_iface) {
        (Hook::Prerouting, Some(dev)) => host
            .interface(dev)
            .and_then(|i| i.addrs.iter().find(|a| !a.secondary))
            .map(|a| a.addr),
        _ => Some(Ipv4::LOCALHOST),
    };
    let to = to?;
    // get_unique_tuple: a destination port already in the range stays.
    let port = n
        .range
        .as_ref()
        .and_then(|r| r.ports)
        .map_or(packet.dport, |(lo, hi)| {
            if !packet.has_ports() || (lo..=hi).contains(&packet.dport) {
                packet.dport
            } else {
                lo
            }
        });
    Some((to, port))
}

/// SNAT's new source: the range's pick, then with `--random` or
/// `--random-fully` a seeded port (in the range, if it has ports).
pub(super) fn snat(seed: &mut u64, n: &NatTarget, packet: &Packet, zone: u16) -> (Ipv4, u16) {
    let (a, mut p) = pick(seed, n, packet, false, zone);
    if (n.random || n.random_fully) && packet.has_ports() {
        p = random_port(seed, n.range.as_ref().and_then(|r| r.ports));
    }
    (a, p)
}

/// MASQUERADE's new source, or None (the packet is dropped) without one.
pub(super) fn masquerade(
    seed: &mut u64,
    host: &Host,
    nexthop: Option<Ipv4>,
    out_iface: Option<&str>,
    n: &NatTarget,
    packet: &Packet,
) -> Option<(Ipv4, u16)> {
    // nf_nat_masquerade_ipv4: inet_select_addr(out, nexthop,
    // RT_SCOPE_UNIVERSE), not the route's preferred source; no
    // global address anywhere ("ate my IP address") drops.
    let src = match (nexthop, out_iface) {
        (Some(nh), Some(dev)) => host.select_addr(dev, nh),
        _ => None,
    };
    let src = src?;
    // get_unique_tuple: a source port outside the range moves to a random
    // one in it (nf_nat_l4proto_unique_tuple's random offset).
    let mut p = match n.range.as_ref().and_then(|r| r.ports) {
        Some((lo, hi)) if packet.has_ports() && !(lo..=hi).contains(&packet.sport) => {
            random_port(seed, Some((lo, hi)))
        }
        _ => packet.sport,
    };
    if (n.random || n.random_fully) && packet.has_ports() {
        p = random_port(seed, n.range.as_ref().and_then(|r| r.ports));
    }
    Some((src, p))
}

/// NETMAP: the destination (PREROUTING, OUTPUT: `dst_side`) or source
/// address with its network part replaced by `net`'s; the port stays.
pub(super) fn netmap(net: &Ipv4Net, packet: &Packet, dst_side: bool) -> (Ipv4, u16) {
    if dst_side {
        (net.map(packet.dst), packet.dport)
    } else {
        (net.map(packet.src), packet.sport)
    }
}
