//! The packet the user crafts: the form's fields as typed, checked one by one
//! with a message at the field, the one-line quick form
//! (`tcp 192.0.2.50:45678 -> 198.51.100.1:32719 iif eth0 flags S`) in both
//! directions, and the engine's packet spec they stand for. Not here: running
//! the packet (that is [`crate::session`]).

use nfsim::net::packet::FROM_LOCAL;
use nfsim::ruleset::value::{Ipv4, TcpFlags};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The form as typed: every field is text, so nothing the user typed is lost.
/// A field missing from its JSON (an older share link) takes the default's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PacketForm {
    /// An interface of the host, or `local` for a packet the host sends.
    pub arrives_on: String,
    pub src: String,
    pub dst: String,
    /// `tcp`, `udp`, `icmp` or `sctp`.
    pub protocol: String,
    pub sport: String,
    pub dport: String,
    /// As the engine names them: `SYN`, `SYN,ACK`, `ACK`, ...
    pub tcp_flags: String,
    pub icmp_type: String,
    pub icmp_code: String,
    /// Decimal or `0x` hex.
    pub mark: String,
    /// The owner of the sending socket (locally generated packets only).
    pub uid: String,
}

impl Default for PacketForm {
    /// The source material's NodePort SYN arriving on the node's `eth0`.
    fn default() -> Self {
        PacketForm {
            arrives_on: "eth0".into(),
            src: "192.0.2.50".into(),
            dst: "198.51.100.1".into(),
            protocol: "tcp".into(),
            sport: "45678".into(),
            dport: "32719".into(),
            tcp_flags: "SYN".into(),
            icmp_type: "8".into(),
            icmp_code: "0".into(),
            mark: "0".into(),
            uid: "0".into(),
        }
    }
}

/// A field of the form, to put a message next to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    ArrivesOn,
    Src,
    Dst,
    Protocol,
    Sport,
    Dport,
    TcpFlags,
    IcmpType,
    IcmpCode,
    Mark,
    Uid,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

fn err(field: Field, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The protocols the form offers.
pub const PROTOCOLS: [&str; 4] = ["tcp", "udp", "icmp", "sctp"];

/// Whether the form shows ports for `protocol`.
pub fn has_ports(protocol: &str) -> bool {
    matches!(protocol, "tcp" | "udp" | "sctp")
}

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// A mark as iptables writes it: decimal or 0x hex, 32 bits.
pub fn parse_mark(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl PacketForm {
    pub fn is_local(&self) -> bool {
        self.arrives_on.trim() == FROM_LOCAL
    }

    fn proto(&self) -> String {
        self.protocol.trim().to_ascii_lowercase()
    }

    /// Every field's problem, given the host's interfaces.
    pub fn check(&self, interfaces: &[String]) -> Vec<FieldError> {
        let mut out = Vec::new();
        let from = self.arrives_on.trim();
        if from.is_empty() {
            out.push(err(Field::ArrivesOn, "choose an interface, or local"));
        } else if from != FROM_LOCAL && !interfaces.iter().any(|i| i == from) {
            out.push(err(
                Field::ArrivesOn,
                format!("the host has no interface `{from}'"),
            ));
        }
        let addr = |field, s: &str, out: &mut Vec<FieldError>| {
            if Ipv4::parse(s.trim()).is_err() || s.trim().is_empty() {
                out.push(err(
                    field,
                    format!("`{}' is not an IPv4 address (like 192.0.2.50)", s.trim()),
                ));
            }
        };
        if self.src.trim().is_empty() {
            if !self.is_local() {
                out.push(err(
                    Field::Src,
                    "a packet from an interface needs a source address",
                ));
            }
        } else {
            addr(Field::Src, &self.src, &mut out);
        }
        addr(Field::Dst, &self.dst, &mut out);
        let proto = self.proto();
        if !PROTOCOLS.contains(&proto.as_str()) {
            out.push(err(
                Field::Protocol,
                format!("`{proto}': choose tcp, udp, icmp or sctp"),
            ));
        }
        if has_ports(&proto) {
            for (field, s) in [(Field::Sport, &self.sport), (Field::Dport, &self.dport)] {
                if number::<u16>(s).is_none() {
                    out.push(err(
                        field,
                        format!("`{}' is not a port number (0-65535)", s.trim()),
                    ));
                }
            }
        }
        if proto == "tcp" {
            if let Err(e) = TcpFlags::parse(self.tcp_flags.trim()) {
                out.push(err(Field::TcpFlags, e));
            }
        }
        if proto == "icmp" {
            for (field, s) in [
                (Field::IcmpType, &self.icmp_type),
                (Field::IcmpCode, &self.icmp_code),
            ] {
                if number::<u8>(s).is_none() {
                    out.push(err(
                        field,
                        format!("`{}' is not a number from 0 to 255", s.trim()),
                    ));
                }
            }
        }
        if !self.mark.trim().is_empty() && parse_mark(&self.mark).is_none() {
            out.push(err(
                Field::Mark,
                format!("`{}' is not a 32-bit mark (like 0x4000)", self.mark.trim()),
            ));
        }
        let uid = self.uid.trim();
        if !uid.is_empty() {
            match number::<u32>(uid) {
                None => out.push(err(Field::Uid, format!("`{uid}' is not a user id"))),
                Some(u) if u != 0 && !self.is_local() => out.push(err(
                    Field::Uid,
                    "only a locally generated packet has an owner",
                )),
                _ => {}
            }
        }
        out
    }

    /// The engine's packet spec (a scenario's `packets[]` entry).
    pub fn to_spec(&self, interfaces: &[String]) -> Result<Value, Vec<FieldError>> {
        let problems = self.check(interfaces);
        if !problems.is_empty() {
            return Err(problems);
        }
        let proto = self.proto();
        let mut v = json!({
            "from": self.arrives_on.trim(),
            "dst": self.dst.trim(),
            "protocol": proto,
        });
        if !self.src.trim().is_empty() {
            v["src"] = self.src.trim().into();
        }
        if has_ports(&proto) {
            v["sport"] = number::<u16>(&self.sport).into();
            v["dport"] = number::<u16>(&self.dport).into();
        }
        if proto == "tcp" {
            v["tcp_flags"] = self.tcp_flags.trim().into();
        }
        if proto == "icmp" {
            v["icmp_type"] = number::<u8>(&self.icmp_type).into();
            v["icmp_code"] = number::<u8>(&self.icmp_code).into();
        }
        if let Some(m) = parse_mark(&self.mark).filter(|&m| m != 0) {
            v["mark"] = m.into();
        }
        if let Some(u) = number::<u32>(&self.uid).filter(|&u| u != 0) {
            v["uid"] = u.into();
        }
        Ok(v)
    }

    /// The one-line form: `tcp 192.0.2.50:45678 -> 198.51.100.1:32719 iif eth0 flags S`.
    pub fn quick(&self) -> String {
        let proto = self.proto();
        let ports = has_ports(&proto);
        let end = |addr: &str, port: &str| {
            let addr = addr.trim();
            if addr.is_empty() {
                String::new()
            } else if ports && !port.trim().is_empty() {
                format!("{addr}:{}", port.trim())
            } else {
                addr.to_string()
            }
        };
        let mut out = proto.clone();
        let src = end(&self.src, &self.sport);
        if !src.is_empty() {
            out.push(' ');
            out.push_str(&src);
        }
        out.push_str(" -> ");
        out.push_str(&end(&self.dst, &self.dport));
        if self.is_local() {
            out.push_str(" local");
        } else {
            out.push_str(" iif ");
            out.push_str(self.arrives_on.trim());
        }
        if proto == "tcp" {
            out.push_str(" flags ");
            out.push_str(&flag_letters(&self.tcp_flags));
        }
        if proto == "icmp" {
            out.push_str(&format!(
                " type {} code {}",
                self.icmp_type.trim(),
                self.icmp_code.trim()
            ));
        }
        if parse_mark(&self.mark).is_some_and(|m| m != 0) {
            out.push_str(" mark ");
            out.push_str(self.mark.trim());
        }
        if self.is_local() && number::<u32>(&self.uid).is_some_and(|u| u != 0) {
            out.push_str(" uid ");
            out.push_str(self.uid.trim());
        }
        out
    }

    /// Read the one-line form. Words after the addresses may come in any
    /// order; what the line does not say keeps this form's value.
    pub fn parse_quick(&self, line: &str) -> Result<PacketForm, String> {
        let mut f = self.clone();
        let words: Vec<&str> = line.split_whitespace().collect();
        let arrow = words
            .iter()
            .position(|w| *w == "->" || *w == ">")
            .ok_or("expected `->' between the source and the destination")?;
        let proto = words
            .first()
            .filter(|_| arrow > 0)
            .ok_or("expected a protocol first (tcp, udp, icmp, sctp)")?
            .to_ascii_lowercase();
        if !PROTOCOLS.contains(&proto.as_str()) {
            return Err(format!(
                "expected a protocol first (tcp, udp, icmp, sctp), found `{proto}'"
            ));
        }
        f.protocol = proto.clone();
        let split = |w: &str, what: &str| -> Result<(String, Option<String>), String> {
            match w.rsplit_once(':') {
                Some((a, p)) if has_ports(&proto) => Ok((a.into(), Some(p.into()))),
                Some(_) => Err(format!("{proto} has no ports: `{w}' ({what})")),
                None => Ok((w.into(), None)),
            }
        };
        match arrow {
            1 => f.src = String::new(),
            2 => {
                let (a, p) = split(words[1], "source")?;
                f.src = a;
                if let Some(p) = p {
                    f.sport = p;
                }
            }
            _ => {
                return Err(format!(
                    "expected one source address, found `{}'",
                    words[1..arrow].join(" ")
                ))
            }
        }
        let dst = words
            .get(arrow + 1)
            .ok_or("expected a destination after `->'")?;
        let (a, p) = split(dst, "destination")?;
        f.dst = a;
        if let Some(p) = p {
            f.dport = p;
        }
        let mut rest = words[arrow + 2..].iter();
        while let Some(&w) = rest.next() {
            let mut value = |name: &str| -> Result<String, String> {
                rest.next()
                    .map(|v| v.to_string())
                    .ok_or(format!("expected a value after `{name}'"))
            };
            match w {
                "local" => f.arrives_on = FROM_LOCAL.into(),
                "iif" | "on" | "dev" => f.arrives_on = value(w)?,
                "flags" => {
                    let v = value(w)?;
                    f.tcp_flags = TcpFlags::parse(&v)?.names();
                }
                "type" => f.icmp_type = value(w)?,
                "code" => f.icmp_code = value(w)?,
                "mark" => f.mark = value(w)?,
                "uid" => f.uid = value(w)?,
                other => {
                    return Err(format!(
                        "unexpected `{other}': expected iif IFACE, local, flags, type, code, mark or uid"
                    ))
                }
            }
        }
        Ok(f)
    }
}

/// `SYN,ACK` as tcpdump's letters: `SA`.
pub fn flag_letters(names: &str) -> String {
    let Ok(flags) = TcpFlags::parse(names.trim()) else {
        return names.trim().to_string();
    };
    // tcpdump's order: F S R P . (ACK) U, with ACK written A here.
    [
        (TcpFlags::FIN, 'F'),
        (TcpFlags::SYN, 'S'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::ACK, 'A'),
        (TcpFlags::URG, 'U'),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, c)| *c)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ifaces() -> Vec<String> {
        vec!["lo".into(), "eth0".into(), "eth1".into()]
    }

    #[test]
    fn the_default_form_is_the_nodeport_syn() {
        let f = PacketForm::default();
        assert_eq!(
            f.quick(),
            "tcp 192.0.2.50:45678 -> 198.51.100.1:32719 iif eth0 flags S"
        );
        let spec = f.to_spec(&ifaces()).unwrap();
        assert_eq!(
            spec,
            json!({"from":"eth0","src":"192.0.2.50","dst":"198.51.100.1","protocol":"tcp",
                   "sport":45678,"dport":32719,"tcp_flags":"SYN"})
        );
    }

    #[test]
    fn quick_form_round_trips_and_keeps_what_it_does_not_say() {
        let f = PacketForm::default();
        let g = f
            .parse_quick("udp -> 198.51.100.53:53 local uid 1000 mark 0x4000")
            .unwrap();
        assert_eq!(
            (
                g.protocol.as_str(),
                g.src.as_str(),
                g.dst.as_str(),
                g.dport.as_str()
            ),
            ("udp", "", "198.51.100.53", "53")
        );
        assert_eq!(
            (g.arrives_on.as_str(), g.uid.as_str(), g.mark.as_str()),
            ("local", "1000", "0x4000")
        );
        assert_eq!(
            g.quick(),
            "udp -> 198.51.100.53:53 local mark 0x4000 uid 1000"
        );
        assert_eq!(f.parse_quick(&g.quick()).unwrap(), g);
        let h = f
            .parse_quick("tcp 192.0.2.9:1 -> 198.51.100.1:22 iif eth1 flags SA")
            .unwrap();
        assert_eq!(h.tcp_flags, "SYN,ACK");
        assert_eq!(
            h.quick(),
            "tcp 192.0.2.9:1 -> 198.51.100.1:22 iif eth1 flags SA"
        );
        let i = f
            .parse_quick("icmp 192.0.2.9 -> 198.51.100.1 iif eth0 type 0 code 0")
            .unwrap();
        assert_eq!((i.icmp_type.as_str(), i.protocol.as_str()), ("0", "icmp"));
        assert_eq!(
            i.quick(),
            "icmp 192.0.2.9 -> 198.51.100.1 iif eth0 type 0 code 0"
        );
    }

    #[test]
    fn quick_form_errors_say_what_was_expected() {
        let f = PacketForm::default();
        assert!(f.parse_quick("tcp 1.2.3.4").unwrap_err().contains("`->'"));
        assert!(f
            .parse_quick("gre 1.2.3.4 -> 5.6.7.8")
            .unwrap_err()
            .contains("found `gre'"));
        assert!(f
            .parse_quick("icmp 1.2.3.4:5 -> 5.6.7.8")
            .unwrap_err()
            .contains("no ports"));
        assert!(f
            .parse_quick("tcp 1.2.3.4 -> 5.6.7.8 iif")
            .unwrap_err()
            .contains("after `iif'"));
        assert!(f.parse_quick("tcp 1.2.3.4 -> 5.6.7.8 flags Q").is_err());
        assert!(f
            .parse_quick("tcp 1.2.3.4 -> 5.6.7.8 bogus")
            .unwrap_err()
            .contains("`bogus'"));
    }

    #[test]
    fn each_field_is_checked_with_a_message_at_the_field() {
        let bad = PacketForm {
            arrives_on: "eth9".into(),
            src: "192.0.2".into(),
            dst: "".into(),
            sport: "x".into(),
            dport: "70000".into(),
            tcp_flags: "SYN,BOGUS".into(),
            mark: "0xZZ".into(),
            uid: "1000".into(),
            ..PacketForm::default()
        };
        let fields: Vec<Field> = bad.check(&ifaces()).iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                Field::ArrivesOn,
                Field::Src,
                Field::Dst,
                Field::Sport,
                Field::Dport,
                Field::TcpFlags,
                Field::Mark,
                Field::Uid
            ]
        );
        let msgs = bad.check(&ifaces());
        assert_eq!(msgs[0].message, "the host has no interface `eth9'");
        assert_eq!(msgs[4].message, "`70000' is not a port number (0-65535)");
        let local = PacketForm {
            arrives_on: "local".into(),
            src: "".into(),
            uid: "1000".into(),
            ..PacketForm::default()
        };
        assert!(local.check(&ifaces()).is_empty());
        assert_eq!(local.to_spec(&ifaces()).unwrap()["uid"], 1000);
    }
}
