//! The line the kernel log gets for LOG and TRACE: nf_log_syslog's IPv4
//! layout (IN=, OUT=, MAC=, SRC=, ..., the protocol's fields, UID/GID,
//! MARK), with the fields nfsim does not model printed as 0.
//!
//! Not here: when a line is written (the LOG and TRACE targets, and the
//! TRACE lines of a marked packet's rules, run in the pipeline's target
//! runner) and the levels and prefixes' validity (the ruleset's).

use crate::net::packet::Packet;
use crate::path::eval::Socket;
use crate::ruleset::targets::LogTarget;
use crate::ruleset::value::{Proto, TcpFlags};

/// The NF_LOG flag bits a LOG rule's options set: 0x01 `--log-tcp-sequence`,
/// 0x02 `--log-tcp-options`, 0x04 `--log-ip-options`, 0x08 `--log-uid`.
pub(super) fn log_flags(l: &LogTarget) -> u8 {
    (l.tcp_sequence as u8)
        | (l.tcp_options as u8) << 1
        | (l.ip_options as u8) << 2
        | (l.uid as u8) << 3
}

/// The (uid, gid) LOG prints: a process's socket only (nf_log_dump_sk_uid_gid
/// needs a file behind the socket).
pub(super) fn uid_gid(s: Socket) -> Option<(u32, u32)> {
    match s {
        Socket::User { uid, gid } => Some((uid, gid)),
        Socket::None | Socket::Kernel => None,
    }
}

/// The line nf_log writes for LOG and TRACE (nf_log_syslog's layout for
/// IPv4). `flags` are the NF_LOG bits: 0x01 TCP sequence numbers, 0x08 the
/// owning socket's UID/GID (0x02/0x04, options: nfsim's packets carry none).
/// Fields nfsim does not model print as 0: the IP ID, TCP SEQ/ACK/WINDOW, the
/// ICMP echo ID/SEQ; an Ethernet interface's MAC header prints empty.
pub fn log_line(
    prefix: &str,
    flags: u8,
    iif: Option<&str>,
    oif: Option<&str>,
    p: &Packet,
    owner: Option<(u32, u32)>,
) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{prefix}IN={} OUT={} ",
        iif.unwrap_or(""),
        oif.unwrap_or("")
    );
    // The MAC header is dumped only for packets that came in on a device.
    match iif {
        Some("lo") => s.push_str("MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 "),
        Some(_) => s.push_str("MAC= "),
        None => {}
    }
    let _ = write!(
        s,
        "SRC={} DST={} LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={} ID=0 ",
        p.src,
        p.dst,
        p.length,
        p.tos & 0x1e,
        p.tos & 0xe0,
        p.ttl
    );
    match p.proto {
        Proto::TCP => {
            let _ = write!(s, "PROTO=TCP SPT={} DPT={} ", p.sport, p.dport);
            if flags & 0x01 != 0 {
                s.push_str("SEQ=0 ACK=0 ");
            }
            s.push_str("WINDOW=0 RES=0x00 ");
            for (flag, name) in [
                (TcpFlags::CWR, "CWR"),
                (TcpFlags::ECE, "ECE"),
                (TcpFlags::URG, "URG"),
                (TcpFlags::ACK, "ACK"),
                (TcpFlags::PSH, "PSH"),
                (TcpFlags::RST, "RST"),
                (TcpFlags::SYN, "SYN"),
                (TcpFlags::FIN, "FIN"),
            ] {
                if p.tcp_flags.contains(flag) {
                    s.push_str(name);
                    s.push(' ');
                }
            }
            s.push_str("URGP=0 ");
        }
        Proto::UDP => {
            let _ = write!(
                s,
                "PROTO=UDP SPT={} DPT={} LEN={} ",
                p.sport,
                p.dport,
                p.length.saturating_sub(20)
            );
        }
        Proto::ICMP => {
            let _ = write!(s, "PROTO=ICMP TYPE={} CODE={} ", p.icmp_type, p.icmp_code);
            if matches!(p.icmp_type, 0 | 8) {
                s.push_str("ID=0 SEQ=0 ");
            }
        }
        n => {
            let _ = write!(s, "PROTO={n} ");
        }
    }
    if flags & 0x08 != 0 {
        if let Some((uid, gid)) = owner {
            let _ = write!(s, "UID={uid} GID={gid} ");
        }
    }
    if p.mark != 0 {
        let _ = write!(s, "MARK=0x{:x} ", p.mark);
    }
    s
}
