//! Typed values that appear in rules: IPv4 networks, port ranges, marks,
//! interface patterns, protocols. Each parses from iptables' own notation and
//! prints back in iptables-save's notation.
//!
//! Parsing returns a plain-words error string; the caller attaches the span.
//! This module does no name-service look-ups beyond the fixed tables in
//! [`crate::ruleset::names`].

use crate::ruleset::names;
use serde::Serialize;
use std::fmt;

/// An IPv4 address as a host-order `u32`.
pub type Ipv4 = u32;

pub fn fmt_ipv4(a: Ipv4) -> String {
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 0xff,
        (a >> 8) & 0xff,
        a & 0xff
    )
}

/// Parse a dotted quad the way inet_aton accepts it in iptables (four decimal parts).
pub fn parse_ipv4(s: &str) -> Result<Ipv4, String> {
    // Four dot-separated decimal parts of 1-3 digits, each at most 255.
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
    Ok(out << 8 | part)
}

/// An address with a mask, as `-s`/`-d` and friends hold it. The address is
/// stored already masked, as iptables does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Ipv4Net {
    pub addr: Ipv4,
    pub mask: u32,
}

impl Ipv4Net {
    pub const ANY: Ipv4Net = Ipv4Net { addr: 0, mask: 0 };

    pub fn contains(&self, a: Ipv4) -> bool {
        a & self.mask == self.addr & self.mask
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
            addr: n.addr & n.mask,
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
        let addr = parse_ipv4(a)?;
        let mask = match m {
            None => u32::MAX,
            Some(m) if m.contains('.') => {
                parse_ipv4(m).map_err(|_| format!("invalid mask `{m}' specified"))?
            }
            Some(m) => {
                let n = match m.as_bytes() {
                    [d @ b'0'..=b'9'] => (d - b'0') as u32,
                    [a @ b'0'..=b'9', b @ b'0'..=b'9'] => ((a - b'0') * 10 + (b - b'0')) as u32,
                    _ => 33,
                };
                if n > 32 {
                    return Err(format!("invalid mask `{m}' specified"));
                }
                if n == 0 {
                    0
                } else {
                    u32::MAX << (32 - n)
                }
            }
        };
        Ok(Ipv4Net { addr, mask })
    }

    /// iptables-save notation: always with a mask (`/32` for hosts); a
    /// non-contiguous mask is printed dotted.
    pub fn save(&self) -> String {
        match self.prefix_len() {
            Some(n) => format!("{}/{}", fmt_ipv4(self.addr), n),
            None => format!("{}/{}", fmt_ipv4(self.addr), fmt_ipv4(self.mask)),
        }
    }

    /// The conntrack match's notation: the mask is left out for hosts.
    pub fn save_short(&self) -> String {
        if self.mask == u32::MAX {
            fmt_ipv4(self.addr)
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

/// An IP protocol number; 0 means `all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Proto(pub u8);

impl Proto {
    pub const ALL: Proto = Proto(0);
    pub const ICMP: Proto = Proto(1);
    pub const TCP: Proto = Proto(6);
    pub const UDP: Proto = Proto(17);
    pub const SCTP: Proto = Proto(132);

    /// Whether the protocol's header starts with 16-bit source and
    /// destination ports: TCP, UDP, DCCP, SCTP, UDP-Lite (what multiport
    /// accepts, and what conntrack and NAT rewrite).
    pub fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 33 | 132 | 136)
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
