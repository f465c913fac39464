//! Typed values that appear in rules and packets: IPv4 addresses ([`Ipv4`],
//! the one place that knows their bits: ranges, masks, classes) and networks,
//! TCP flags ([`TcpFlags`]), port ranges, marks, interface patterns,
//! protocols. Each parses from iptables' own notation and prints back in
//! iptables-save's notation.
//!
//! Parsing returns a plain-words error string; the caller attaches the span.
//! This module does no name-service look-ups beyond the fixed tables in
//! [`crate::ruleset::names`].

use crate::ruleset::names;
use serde::Serialize;
use std::fmt;

/// An IPv4 address. The bits live in a host-order `u32` (`.0`), and every
/// question about them (which range, which mask) is asked here rather than
/// with shifts where it is needed. Prints as a dotted quad; serialises as the
/// `u32`, as the plain integer it replaced did.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Ipv4(pub u32);

impl Ipv4 {
    /// 0.0.0.0
    pub const UNSPECIFIED: Ipv4 = Ipv4(0);
    /// 255.255.255.255, the limited broadcast.
    pub const BROADCAST: Ipv4 = Ipv4(u32::MAX);
    /// 127.0.0.1
    pub const LOCALHOST: Ipv4 = Ipv4::new(127, 0, 0, 1);

    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Ipv4 {
        Ipv4(u32::from_be_bytes([a, b, c, d]))
    }

    pub const fn octets(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }

    /// A dotted quad the way inet_aton accepts it in iptables: four decimal
    /// parts of one to three digits (leading zeros allowed), each at most 255.
    pub fn parse(s: &str) -> Result<Ipv4, String> {
        let mut out: u32 = 0;
        let mut part: u32 = 0;
        let mut digits = 0;
        let mut dots = 0;
        for &b in s.as_bytes() {
            match b {
                b'0'..=b'9' if digits < 3 => {
                    part = part * 10 + (b - b'0') as u32;
                    digits += 1;
                }
                b'.' if digits > 0 && dots < 3 && part <= 255 => {
                    out = out << 8 | part;
                    (part, digits) = (0, 0);
                    dots += 1;
                }
                _ => return Err(format!("host/network `{s}' not found")),
            }
        }
        if dots != 3 || digits == 0 || part > 255 {
            return Err(format!("host/network `{s}' not found"));
        }
        Ok(Ipv4(out << 8 | part))
    }

    /// 0.0.0.0 itself (not all of 0/8: since Linux 5.3 the rest of it is an
    /// ordinary address).
    pub const fn is_unspecified(self) -> bool {
        self.0 == 0
    }

    /// 255.255.255.255.
    pub const fn is_broadcast(self) -> bool {
        self.0 == u32::MAX
    }

    /// In 224.0.0.0/4.
    pub const fn is_multicast(self) -> bool {
        self.0 >> 28 == 0xe
    }

    /// In 127.0.0.0/8.
    pub const fn is_loopback(self) -> bool {
        self.0 >> 24 == 127
    }

    /// The address with the bits outside `mask` cleared.
    pub const fn masked(self, mask: u32) -> Ipv4 {
        Ipv4(self.0 & mask)
    }

    /// Whether `self` and `other` agree on the bits of `mask`.
    pub const fn same_net(self, other: Ipv4, mask: u32) -> bool {
        (self.0 ^ other.0) & mask == 0
    }

    /// The address as the kernel's `__be32` reads as a `u32` on a
    /// little-endian machine (what its hashes mix).
    pub const fn kernel_word(self) -> u32 {
        self.0.swap_bytes()
    }
}

/// The mask of a prefix length (0 to 32): `/24` is 255.255.255.0.
pub const fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.octets();
        if f.width().is_none() && f.precision().is_none() {
            write!(f, "{a}.{b}.{c}.{d}")
        } else {
            f.pad(&format!("{a}.{b}.{c}.{d}"))
        }
    }
}

impl fmt::Debug for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Ipv4 {
    type Err = String;
    fn from_str(s: &str) -> Result<Ipv4, String> {
        Ipv4::parse(s)
    }
}

impl From<[u8; 4]> for Ipv4 {
    fn from(o: [u8; 4]) -> Ipv4 {
        Ipv4(u32::from_be_bytes(o))
    }
}

impl From<std::net::Ipv4Addr> for Ipv4 {
    fn from(a: std::net::Ipv4Addr) -> Ipv4 {
        Ipv4(a.to_bits())
    }
}

impl From<Ipv4> for std::net::Ipv4Addr {
    fn from(a: Ipv4) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from_bits(a.0)
    }
}

/// TCP flags: the flags byte of a TCP header, as a packet carries it and the
/// tcp match tests it (`--tcp-flags MASK COMP`). Serialises as the byte, as
/// the plain integer it replaced did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const NONE: TcpFlags = TcpFlags(0);
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    /// The six flags iptables names (`ALL`): ECE and CWR left out.
    pub const ALL: TcpFlags = TcpFlags(0x3f);

    /// iptables' names in its print order, then `ALL` and `NONE`.
    pub const NAMED: &'static [(&'static str, TcpFlags)] = &[
        ("FIN", TcpFlags::FIN),
        ("SYN", TcpFlags::SYN),
        ("RST", TcpFlags::RST),
        ("PSH", TcpFlags::PSH),
        ("ACK", TcpFlags::ACK),
        ("URG", TcpFlags::URG),
        ("ALL", TcpFlags::ALL),
        ("NONE", TcpFlags::NONE),
    ];

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags iptables names, as it prints them: `SYN,ACK`, or `NONE`
    /// (ECE and CWR are not printed).
    pub fn names(self) -> String {
        if self.is_empty() {
            return "NONE".into();
        }
        Self::NAMED[..6]
            .iter()
            .filter(|(_, f)| self.intersects(*f))
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `--tcp-flags`' notation: a comma list of names, `ALL` and `NONE`
    /// included, in any case.
    pub fn parse_list(s: &str) -> Result<TcpFlags, String> {
        let mut v = TcpFlags::NONE;
        for f in s.split(',') {
            let up = f.to_ascii_uppercase();
            let (_, bit) = Self::NAMED
                .iter()
                .find(|(n, _)| *n == up)
                .ok_or_else(|| format!("Unknown TCP flag `{f}'"))?;
            v = v | *bit;
        }
        Ok(v)
    }

    /// A packet's flags as a scenario writes them: names (`SYN,ACK`), letters
    /// (`SA`), or `NONE`, in any case.
    pub fn parse(s: &str) -> Result<TcpFlags, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("NONE") || s.is_empty() {
            return Ok(TcpFlags::NONE);
        }
        let name = |n: &str| -> Option<TcpFlags> {
            let n = n.trim().to_ascii_uppercase();
            // Names as iptables spells them (NONE only alone, handled above).
            Self::NAMED[..7]
                .iter()
                .find(|(name, _)| *name == n)
                .map(|(_, f)| *f)
        };
        if let Some(v) = s
            .split(',')
            .map(name)
            .try_fold(TcpFlags::NONE, |acc, f| f.map(|f| acc | f))
        {
            return Ok(v);
        }
        let mut v = TcpFlags::NONE;
        for c in s.chars() {
            v = v | match c.to_ascii_uppercase() {
                'F' => TcpFlags::FIN,
                'S' => TcpFlags::SYN,
                'R' => TcpFlags::RST,
                'P' => TcpFlags::PSH,
                'A' => TcpFlags::ACK,
                'U' => TcpFlags::URG,
                _ => {
                    return Err(format!(
                        "unknown TCP flags `{s}' (names like SYN,ACK or letters like SA)"
                    ))
                }
            };
        }
        Ok(v)
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
}

impl std::ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & other.0)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names())
    }
}

/// An address with a mask, as `-s`/`-d` and friends hold it. The address is
/// stored already masked, as iptables does (except where a match keeps it as
/// given, see [`Ipv4Net::parse_unmasked`]). The mask need not be contiguous:
/// iptables accepts `1.2.3.4/255.0.255.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Ipv4Net {
    pub addr: Ipv4,
    pub mask: u32,
}

impl Ipv4Net {
    /// `0.0.0.0/0`: every address.
    pub const ANY: Ipv4Net = Ipv4Net {
        addr: Ipv4::UNSPECIFIED,
        mask: 0,
    };

    /// One address: `addr/32`.
    pub const fn host(addr: Ipv4) -> Ipv4Net {
        Ipv4Net {
            addr,
            mask: u32::MAX,
        }
    }

    /// The network of `addr/len` (the address masked).
    pub const fn with_prefix(addr: Ipv4, len: u8) -> Ipv4Net {
        let mask = prefix_mask(len);
        Ipv4Net {
            addr: addr.masked(mask),
            mask,
        }
    }

    pub fn contains(&self, a: Ipv4) -> bool {
        a.same_net(self.addr, self.mask)
    }

    /// Whether the mask is empty (`/0`: any address matches).
    pub fn is_any(&self) -> bool {
        self.mask == 0
    }

    /// Whether the mask is full (`/32`: one address).
    pub fn is_host(&self) -> bool {
        self.mask == u32::MAX
    }

    /// Whether every address `other` contains, this one contains too (masks
    /// need not be contiguous).
    pub fn covers(&self, other: &Ipv4Net) -> bool {
        self.mask & !other.mask == 0 && other.addr.same_net(self.addr, self.mask)
    }

    /// Whether no address is in both.
    pub fn disjoint(&self, other: &Ipv4Net) -> bool {
        !self.addr.same_net(other.addr, self.mask & other.mask)
    }

    /// The subnet's broadcast address: the host bits all ones.
    pub fn broadcast(&self) -> Ipv4 {
        Ipv4(self.addr.0 | !self.mask)
    }

    /// NETMAP's translation: `a`'s host bits under this network's bits.
    pub fn map(&self, a: Ipv4) -> Ipv4 {
        Ipv4((a.0 & !self.mask) | (self.addr.0 & self.mask))
    }

    /// The mask as a dotted quad prints it.
    pub fn mask_addr(&self) -> Ipv4 {
        Ipv4(self.mask)
    }

    /// Prefix length if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u32> {
        let m = self.mask;
        if m.leading_ones() + m.trailing_zeros() == 32 {
            Some(m.leading_ones())
        } else {
            None
        }
    }

    /// `a.b.c.d[/len|/mask]`, the address masked as `-s`/`-d` store it.
    pub fn parse(s: &str) -> Result<Ipv4Net, String> {
        Self::parse_unmasked(s).map(|n| Ipv4Net {
            addr: n.addr.masked(n.mask),
            mask: n.mask,
        })
    }

    /// The same, keeping the address bits outside the mask (the conntrack match
    /// stores and prints the address as given: `--ctorigdst 10.1.2.3/8`).
    pub fn parse_unmasked(s: &str) -> Result<Ipv4Net, String> {
        let (a, m) = match s.bytes().position(|b| b == b'/') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let addr = Ipv4::parse(a)?;
        let mask = match m {
            None => u32::MAX,
            Some(m) if m.contains('.') => {
                Ipv4::parse(m)
                    .map_err(|_| format!("invalid mask `{m}' specified"))?
                    .0
            }
            Some(m) => {
                let n = match m.as_bytes() {
                    [d @ b'0'..=b'9'] => d - b'0',
                    [a @ b'0'..=b'9', b @ b'0'..=b'9'] => (a - b'0') * 10 + (b - b'0'),
                    _ => 33,
                };
                if n > 32 {
                    return Err(format!("invalid mask `{m}' specified"));
                }
                prefix_mask(n)
            }
        };
        Ok(Ipv4Net { addr, mask })
    }

    /// iptables-save notation: always with a mask (`/32` for hosts); a
    /// non-contiguous mask is printed dotted.
    pub fn save(&self) -> String {
        match self.prefix_len() {
            Some(n) => format!("{}/{}", self.addr, n),
            None => format!("{}/{}", self.addr, self.mask_addr()),
        }
    }

    /// The conntrack match's notation: the mask is left out for hosts.
    pub fn save_short(&self) -> String {
        if self.is_host() {
            self.addr.to_string()
        } else {
            self.save()
        }
    }
}

/// An inclusive port range; a single port has `lo == hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub const ALL: PortRange = PortRange { lo: 0, hi: 65535 };

    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }

    /// `N`, `N:M`, `N:` and `:M`, with service names (`ssh`) where iptables knows them.
    pub fn parse(s: &str, proto: Option<u8>) -> Result<PortRange, String> {
        match s.split_once(':') {
            None => {
                let p = parse_port(s, proto)?;
                Ok(PortRange { lo: p, hi: p })
            }
            Some((a, b)) => {
                let lo = if a.is_empty() {
                    0
                } else {
                    parse_port(a, proto)?
                };
                let hi = if b.is_empty() {
                    65535
                } else {
                    parse_port(b, proto)?
                };
                if lo > hi {
                    return Err(format!("invalid portrange ({lo} > {hi}) specified"));
                }
                Ok(PortRange { lo, hi })
            }
        }
    }

    /// `N` or `N:M` (the tcp/udp/conntrack notation).
    pub fn save(&self) -> String {
        if self.lo == self.hi {
            self.lo.to_string()
        } else {
            format!("{}:{}", self.lo, self.hi)
        }
    }
}

/// A port number or a service name known to iptables' resolver.
pub fn parse_port(s: &str, proto: Option<u8>) -> Result<u16, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u32>()
            .ok()
            .filter(|p| *p <= 65535)
            .map(|p| p as u16)
            .ok_or_else(|| format!("invalid port/service `{s}' specified"));
    }
    names::service_port(s, proto).ok_or_else(|| format!("invalid port/service `{s}' specified"))
}

/// Parse an unsigned integer like xtables_strtoui: decimal, `0x` hex or `0` octal.
pub fn parse_uint(s: &str, max: u64) -> Option<u64> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.is_empty() {
            return None;
        }
        u64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()?
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u64>().ok()?
    };
    (v <= max).then_some(v)
}

/// `value[/mask]` for marks; the mask defaults to all ones.
pub fn parse_mark_mask(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("Bad mark value \"{s}\"");
    match s.split_once('/') {
        Some((v, m)) => Ok((
            parse_uint(v, u32::MAX as u64).ok_or_else(bad)? as u32,
            parse_uint(m, u32::MAX as u64).ok_or_else(bad)? as u32,
        )),
        None => Ok((
            parse_uint(s, u32::MAX as u64).ok_or_else(bad)? as u32,
            u32::MAX,
        )),
    }
}

/// `0xV` or `0xV/0xM`, as the mark and connmark matches print a mark.
pub fn save_mark(v: u32, m: u32) -> String {
    if m == u32::MAX {
        format!("0x{v:x}")
    } else {
        format!("0x{v:x}/0x{m:x}")
    }
}

/// An interface pattern: an exact name, or a prefix when it ends in `+`.
/// Stored inline (names are shorter than IFNAMSIZ), so rules need no heap for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Iface {
    bytes: [u8; 15],
    len: u8,
}

impl Iface {
    pub fn parse(s: &str) -> Result<Iface, String> {
        if s.len() >= 16 {
            return Err(format!(
                "interface name `{s}' must be shorter than IFNAMSIZ (16)"
            ));
        }
        if s.is_empty() {
            return Err("interface name `' must not be empty".into());
        }
        let mut bytes = [0u8; 15];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Iface {
            bytes,
            len: s.len() as u8,
        })
    }
    pub fn name(&self) -> &str {
        // Built only from a &str cut at its own length: always valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
    pub fn is_wildcard(&self) -> bool {
        self.name().ends_with('+')
    }
    pub fn matches(&self, dev: &str) -> bool {
        match self.name().strip_suffix('+') {
            Some(prefix) => dev.starts_with(prefix),
            None => self.name() == dev,
        }
    }
}

impl fmt::Display for Iface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Iface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name())
    }
}

impl Serialize for Iface {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// An IP protocol number; 0 means `all`. Serialises as the plain number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Proto(pub u8);

impl Proto {
    pub const ALL: Proto = Proto(0);
    pub const ICMP: Proto = Proto(1);
    pub const TCP: Proto = Proto(6);
    pub const UDP: Proto = Proto(17);
    pub const DCCP: Proto = Proto(33);
    pub const SCTP: Proto = Proto(132);
    pub const UDPLITE: Proto = Proto(136);

    /// Whether the protocol's header starts with 16-bit source and
    /// destination ports: TCP, UDP, DCCP, SCTP, UDP-Lite (what multiport
    /// accepts, and what conntrack and NAT rewrite).
    pub fn has_ports(self) -> bool {
        matches!(
            self,
            Proto::TCP | Proto::UDP | Proto::DCCP | Proto::SCTP | Proto::UDPLITE
        )
    }

    /// A name (case-insensitive, as iptables lowercases it) or a number 0–255.
    pub fn parse(s: &str) -> Result<Proto, String> {
        if let Some(v) = parse_uint(s, 255) {
            return Ok(Proto(v as u8));
        }
        let lower;
        let name = if s.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = s.to_ascii_lowercase();
            lower.as_str()
        } else {
            s
        };
        names::proto_number(name)
            .map(Proto)
            .ok_or_else(|| format!("unknown protocol \"{s}\" specified"))
    }

    pub fn name(self) -> Option<&'static str> {
        names::proto_name(self.0)
    }

    /// How iptables-save prints `-p`: the name where it has one, else the number.
    pub fn save(self) -> String {
        self.name()
            .map_or_else(|| self.0.to_string(), str::to_string)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.save())
    }
}

/// Quote a string the way iptables-save's `xtables_save_string` does.
pub fn save_string(out: &mut String, s: &str) {
    out.push(' ');
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_inet_aton_and_print_dotted() {
        let a = Ipv4::parse("010.001.0.255").unwrap();
        assert_eq!(a, Ipv4::new(10, 1, 0, 255));
        assert_eq!(a.to_string(), "10.1.0.255");
        assert_eq!(format!("{a:>12}|"), "  10.1.0.255|");
        assert_eq!(Ipv4::from([192, 0, 2, 1]).octets(), [192, 0, 2, 1]);
        for bad in [
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.256",
            "1..2.3",
            "0001.2.3.4",
            "a.b.c.d",
            "",
        ] {
            assert!(Ipv4::parse(bad).is_err(), "{bad}");
        }
        // Serialised as the integer it replaced.
        assert_eq!(serde_json::to_string(&a).unwrap(), "167837951");
    }

    #[test]
    fn address_classes_and_masks() {
        assert!(Ipv4::UNSPECIFIED.is_unspecified() && !Ipv4::new(0, 0, 0, 1).is_unspecified());
        assert!(Ipv4::BROADCAST.is_broadcast());
        assert!(Ipv4::new(224, 0, 0, 1).is_multicast() && Ipv4::new(239, 9, 9, 9).is_multicast());
        assert!(!Ipv4::new(240, 0, 0, 1).is_multicast());
        assert!(Ipv4::LOCALHOST.is_loopback() && Ipv4::new(127, 9, 9, 9).is_loopback());
        assert_eq!(prefix_mask(0), 0);
        assert_eq!(prefix_mask(24), 0xffff_ff00);
        assert_eq!(prefix_mask(32), u32::MAX);
        let net = Ipv4Net::with_prefix(Ipv4::new(192, 0, 2, 77), 24);
        assert_eq!(net.save(), "192.0.2.0/24");
        assert_eq!(net.broadcast(), Ipv4::new(192, 0, 2, 255));
        assert!(net.contains(Ipv4::new(192, 0, 2, 1)) && !net.contains(Ipv4::new(192, 0, 3, 1)));
        let wide = Ipv4Net::parse("192.0.0.0/16").unwrap();
        assert!(wide.covers(&net) && !net.covers(&wide));
        assert!(net.disjoint(&Ipv4Net::parse("192.0.3.0/24").unwrap()));
        assert_eq!(
            Ipv4Net::parse("10.0.0.0/8")
                .unwrap()
                .map(Ipv4::new(192, 0, 2, 1)),
            Ipv4::new(10, 0, 2, 1)
        );
        assert_eq!(Ipv4::new(10, 1, 2, 3).kernel_word(), 0x0302_010a);
    }

    #[test]
    fn tcp_flags_parse_and_print_like_iptables() {
        let sa = TcpFlags::SYN | TcpFlags::ACK;
        assert_eq!(sa, TcpFlags(0x12));
        assert_eq!(sa.names(), "SYN,ACK");
        assert_eq!(TcpFlags::NONE.names(), "NONE");
        assert_eq!(
            (TcpFlags::ALL | TcpFlags::CWR).names(),
            "FIN,SYN,RST,PSH,ACK,URG"
        );
        assert_eq!(TcpFlags::parse_list("ack,syn").unwrap(), sa);
        assert_eq!(TcpFlags::parse_list("ALL").unwrap(), TcpFlags::ALL);
        assert_eq!(TcpFlags::parse_list("NONE").unwrap(), TcpFlags::NONE);
        assert_eq!(
            TcpFlags::parse_list("SYN,XMAS").unwrap_err(),
            "Unknown TCP flag `XMAS'"
        );
        assert_eq!(TcpFlags::parse("sa").unwrap(), sa);
        assert_eq!(TcpFlags::parse(" none ").unwrap(), TcpFlags::NONE);
        assert!(TcpFlags::parse("SYN,NONE").is_err());
        assert!(sa.contains(TcpFlags::SYN) && !sa.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert!(sa.intersects(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(serde_json::to_string(&sa).unwrap(), "18");
    }

    #[test]
    fn networks_are_masked_and_printed_like_iptables_save() {
        assert_eq!(Ipv4Net::parse("10.1.2.3/8").unwrap().save(), "10.0.0.0/8");
        assert_eq!(Ipv4Net::parse("192.0.2.1").unwrap().save(), "192.0.2.1/32");
        assert_eq!(
            Ipv4Net::parse("198.51.100.0/255.255.255.0").unwrap().save(),
            "198.51.100.0/24"
        );
        assert_eq!(
            Ipv4Net::parse("1.2.3.4/255.0.255.0").unwrap().save(),
            "1.0.3.0/255.0.255.0"
        );
        assert!(Ipv4Net::parse("1.2.3/8").is_err());
        assert!(Ipv4Net::parse("1.2.3.4/33").is_err());
        assert!(Ipv4Net::parse("256.1.1.1").is_err());
    }

    #[test]
    fn port_ranges_fill_open_ends() {
        assert_eq!(
            PortRange::parse("1024:", None).unwrap().save(),
            "1024:65535"
        );
        assert_eq!(PortRange::parse(":1023", None).unwrap().save(), "0:1023");
        assert_eq!(PortRange::parse("ssh", Some(6)).unwrap().save(), "22");
        assert!(PortRange::parse("2:1", None).is_err());
        assert!(PortRange::parse("70000", None).is_err());
    }

    #[test]
    fn uints_accept_hex_and_octal() {
        assert_eq!(parse_uint("0x4000", u32::MAX as u64), Some(0x4000));
        assert_eq!(parse_uint("010", 255), Some(8));
        assert_eq!(parse_uint("0", 255), Some(0));
        assert_eq!(parse_uint("256", 255), None);
    }

    #[test]
    fn strings_are_quoted_like_xtables_save_string() {
        let mut s = String::new();
        save_string(&mut s, "it's \"q\"");
        assert_eq!(s, r#" "it\'s \"q\"""#);
        s.clear();
        save_string(&mut s, "plain-1_x");
        assert_eq!(s, " plain-1_x");
    }
}
