//! A crafted IPv4 packet: the header fields the matches and targets look at,
//! and the scenario's JSON form of it with its defaults.
//!
//! The defaults (also in the README): protocol `tcp`, source port 40000,
//! destination port 80, TCP flags `SYN` for TCP, ICMP type 8 code 0 for ICMP,
//! mark 0, uid and gid 0, length 60, TTL 64, TOS 0, time 0 ms, not a reply.
//! This module holds data; it neither routes nor evaluates rules.

use crate::ruleset::value::{Ipv4, Proto, TcpFlags};
use serde::{Deserialize, Serialize};

/// The ICMP error types (the kernel's icmp_is_err: destination unreachable,
/// source quench, redirect, time exceeded, parameter problem): each quotes
/// the packet it is about, and none starts a connection.
pub fn icmp_is_error(icmp_type: u8) -> bool {
    matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub src: Ipv4,
    pub dst: Ipv4,
    pub proto: Proto,
    /// Ports for TCP, UDP and SCTP (0 otherwise).
    pub sport: u16,
    pub dport: u16,
    pub tcp_flags: TcpFlags,
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// skb->mark
    pub mark: u32,
    /// Total length of the IP datagram.
    pub length: u16,
    pub ttl: u8,
    pub tos: u8,
    /// A non-first fragment (what `-f` matches).
    pub fragment: bool,
    /// For an ICMP error (destination unreachable, source quench, redirect,
    /// time exceeded, parameter problem): the headers of the packet it is
    /// about, as the error quotes them.
    pub inner: Option<Tuple>,
}

impl Packet {
    pub fn has_ports(&self) -> bool {
        self.proto.has_ports()
    }

    /// `192.0.2.50:45678 -> 198.51.100.1:32719 tcp` for traces.
    pub fn summary(&self) -> String {
        let p = self.proto.save();
        if self.has_ports() {
            format!(
                "{}:{} -> {}:{} {p}",
                self.src, self.sport, self.dst, self.dport
            )
        } else if self.proto == Proto::ICMP {
            format!(
                "{} -> {} icmp type {} code {}",
                self.src, self.dst, self.icmp_type, self.icmp_code
            )
        } else {
            format!("{} -> {} {p}", self.src, self.dst)
        }
    }
}

/// One direction of a connection: what a packet's headers must be to belong to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Tuple {
    pub src: Ipv4,
    pub dst: Ipv4,
    pub proto: Proto,
    /// Ports for TCP/UDP/SCTP; for ICMP queries, type and code.
    pub sport: u16,
    pub dport: u16,
}

impl Tuple {
    pub fn of(p: &Packet) -> Tuple {
        if p.proto == Proto::ICMP {
            Tuple {
                src: p.src,
                dst: p.dst,
                proto: Proto::ICMP,
                sport: p.icmp_type as u16,
                dport: p.icmp_code as u16,
            }
        } else {
            Tuple {
                src: p.src,
                dst: p.dst,
                proto: p.proto,
                sport: p.sport,
                dport: p.dport,
            }
        }
    }

    /// The tuple the answer would carry (for ICMP, nf_conntrack_proto_icmp's
    /// invmap both ways: a request's reply, a reply's request).
    pub fn invert(&self) -> Tuple {
        if self.proto == Proto::ICMP {
            let reply = match self.sport {
                8 => 0,
                0 => 8,
                13 => 14,
                14 => 13,
                15 => 16,
                16 => 15,
                17 => 18,
                18 => 17,
                t => t,
            };
            Tuple {
                src: self.dst,
                dst: self.src,
                proto: Proto::ICMP,
                sport: reply,
                dport: self.dport,
            }
        } else {
            Tuple {
                src: self.dst,
                dst: self.src,
                proto: self.proto,
                sport: self.dport,
                dport: self.sport,
            }
        }
    }
}

/// The protocol field of a packet spec: a name or a number.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ProtoSpec {
    Name(String),
    Number(u8),
}

/// Where a packet enters: an interface name, or `local` for a packet the host sends.
pub const FROM_LOCAL: &str = "local";

/// A packet as the scenario's JSON writes it. Missing fields take the defaults
/// listed in the module documentation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacketSpec {
    /// An interface name or `local`; derived for `reply_to` packets.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub src: Option<String>,
    /// Required unless the packet is a `reply_to`.
    #[serde(default)]
    pub dst: String,
    #[serde(default)]
    pub protocol: Option<ProtoSpec>,
    #[serde(default)]
    pub sport: Option<u16>,
    #[serde(default)]
    pub dport: Option<u16>,
    #[serde(default)]
    pub tcp_flags: Option<String>,
    #[serde(default)]
    pub icmp_type: Option<u8>,
    #[serde(default)]
    pub icmp_code: Option<u8>,
    #[serde(default)]
    pub mark: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default)]
    pub length: Option<u16>,
    #[serde(default)]
    pub ttl: Option<u8>,
    #[serde(default)]
    pub tos: u8,
    #[serde(default)]
    pub time_ms: u64,
    /// Derive this packet as the reply to packet N (0-based) of the scenario.
    #[serde(default)]
    pub reply_to: Option<usize>,
    /// Derive this packet as the ICMP error (by default destination
    /// unreachable, port unreachable) that packet N's receiver sends back,
    /// quoting packet N as it left the host.
    #[serde(default)]
    pub icmp_error_for: Option<usize>,
}

impl PacketSpec {
    /// The packet, with defaults filled in. A locally generated packet without a
    /// source gets it from routing later, so `src` may stay 0 here.
    pub fn to_packet(&self) -> Result<Packet, String> {
        let proto = match &self.protocol {
            None => Proto::TCP,
            Some(ProtoSpec::Number(n)) => Proto(*n),
            Some(ProtoSpec::Name(n)) => Proto::parse(n)?,
        };
        let src = match &self.src {
            Some(s) => Ipv4::parse(s).map_err(|_| format!("src: `{s}' is not an IPv4 address"))?,
            None if self.from == FROM_LOCAL => Ipv4::UNSPECIFIED,
            None => return Err("src is required for a packet that arrives on an interface".into()),
        };
        let dst = Ipv4::parse(&self.dst)
            .map_err(|_| format!("dst: `{}' is not an IPv4 address", self.dst))?;
        let ports = proto.has_ports();
        if !ports && (self.sport.is_some() || self.dport.is_some()) {
            return Err(format!(
                "sport/dport given for protocol {}, which has no ports",
                proto
            ));
        }
        if proto != Proto::TCP && self.tcp_flags.is_some() {
            return Err("tcp_flags given for a packet that is not TCP".into());
        }
        let tcp_flags = match &self.tcp_flags {
            Some(f) => TcpFlags::parse(f)?,
            None if proto == Proto::TCP => TcpFlags::SYN,
            None => TcpFlags::NONE,
        };
        let (icmp_type, icmp_code) = if proto == Proto::ICMP {
            (self.icmp_type.unwrap_or(8), self.icmp_code.unwrap_or(0))
        } else {
            (0, 0)
        };
        Ok(Packet {
            src,
            dst,
            proto,
            sport: if ports {
                self.sport.unwrap_or(40000)
            } else {
                0
            },
            dport: if ports { self.dport.unwrap_or(80) } else { 0 },
            tcp_flags,
            icmp_type,
            icmp_code,
            mark: self.mark,
            length: self.length.unwrap_or(60),
            ttl: self.ttl.unwrap_or(64),
            tos: self.tos,
            fragment: false,
            inner: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> PacketSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_fill_a_tcp_syn() {
        let p = spec(r#"{"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1"}"#)
            .to_packet()
            .unwrap();
        assert_eq!(
            (p.proto, p.sport, p.dport, p.tcp_flags, p.length, p.ttl),
            (Proto::TCP, 40000, 80, TcpFlags::SYN, 60, 64)
        );
        assert_eq!(p.summary(), "192.0.2.50:40000 -> 198.51.100.1:80 tcp");
    }

    #[test]
    fn proto_serialises_as_the_plain_number() {
        let p = spec(r#"{"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1","protocol":"udp"}"#)
            .to_packet()
            .unwrap();
        let t = serde_json::to_value(Tuple::of(&p)).unwrap();
        assert_eq!(t["proto"], serde_json::json!(17));
        assert_eq!(
            serde_json::to_value(&p).unwrap()["proto"],
            serde_json::json!(17)
        );
    }

    #[test]
    fn protocols_flags_and_errors() {
        let p =
            spec(r#"{"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1","protocol":"icmp"}"#)
                .to_packet()
                .unwrap();
        assert_eq!((p.icmp_type, p.sport), (8, 0));
        let p = spec(r#"{"from":"local","dst":"198.51.100.1","protocol":17,"dport":53}"#)
            .to_packet()
            .unwrap();
        assert_eq!(
            (p.proto, p.src, p.dport),
            (Proto::UDP, Ipv4::UNSPECIFIED, 53)
        );
        assert_eq!(TcpFlags::parse("SYN,ACK").unwrap(), TcpFlags(0x12));
        assert_eq!(TcpFlags::parse("SA").unwrap(), TcpFlags(0x12));
        assert_eq!(TcpFlags::parse("ACK").unwrap(), TcpFlags(0x10));
        assert!(spec(r#"{"from":"eth0","src":"192.0.2.50","dst":"x"}"#)
            .to_packet()
            .unwrap_err()
            .contains("dst"));
        assert!(spec(r#"{"from":"eth0","dst":"192.0.2.1"}"#)
            .to_packet()
            .unwrap_err()
            .contains("src is required"));
        assert!(spec(
            r#"{"from":"eth0","src":"192.0.2.50","dst":"192.0.2.1","protocol":"icmp","dport":1}"#
        )
        .to_packet()
        .is_err());
        assert!(serde_json::from_str::<PacketSpec>(
            r#"{"from":"eth0","dst":"192.0.2.1","dprot":1}"#
        )
        .is_err());
    }
}
