"""IPv4 packets as kdiff sends and reads them: TCP, UDP and ICMP headers with
correct checksums (conntrack verifies them in PREROUTING), and the fields
the comparison looks at when a packet is read back."""
import socket
import struct

PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1}
PROTO_NAME = {6: "tcp", 17: "udp", 1: "icmp"}
FLAG_BITS = [("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10), ("URG", 0x20)]
LETTERS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}
# ICMP errors: what conntrack reads as a quoted packet.
ICMP_ERRORS = {3, 4, 5, 11, 12}


def parse_flags(s):
    s = (s or "").strip().upper()
    if s in ("", "NONE"):
        return 0
    v = 0
    names = dict(FLAG_BITS)
    names["ALL"] = 0x3f
    if all(p in names for p in s.split(",")):
        for p in s.split(","):
            v |= names[p]
        return v
    for c in s:
        v |= LETTERS[c]
    return v


def flag_names(v):
    if v == 0:
        return "NONE"
    return ",".join(n for n, b in FLAG_BITS if v & b)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip_bytes(a):
    return socket.inet_aton(a)


def build(p):
    """Bytes of an IPv4 packet from a dict: src, dst, proto (number), id, ttl,
    tos, and sport/dport/flags/seq/ack (TCP), sport/dport (UDP),
    icmp_type/icmp_code/icmp_id/icmp_seq or `quote` bytes (ICMP)."""
    proto = p["proto"]
    src, dst = ip_bytes(p["src"]), ip_bytes(p["dst"])
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", p["sport"], p["dport"], p.get("seq", 0) & 0xffffffff,
                         p.get("ack", 0) & 0xffffffff, 5 << 4, p.get("flags", 0), 64240, 0, 0)
        l4 += p.get("payload", b"")
    elif proto == 17:
        payload = p.get("payload", b"")
        l4 = struct.pack("!HHHH", p["sport"], p["dport"], 8 + len(payload), 0) + payload
    elif proto == 1:
        t = p.get("icmp_type", 8)
        if "quote" in p:
            rest = struct.pack("!I", 0) + p["quote"]
        elif t in (13, 14):
            rest = struct.pack("!HH", p.get("icmp_id", 0), p.get("icmp_seq", 0)) + b"\0" * 12
        else:
            rest = struct.pack("!HH", p.get("icmp_id", 0), p.get("icmp_seq", 0)) + p.get("payload", b"")
        l4 = struct.pack("!BBH", t, p.get("icmp_code", 0), 0) + rest
    else:
        l4 = p.get("payload", b"")
    if proto in (6, 17):
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
        c = checksum(pseudo + l4)
        if proto == 17 and c == 0:
            c = 0xffff
        off = 16 if proto == 6 else 6
        l4 = l4[:off] + struct.pack("!H", c) + l4[off + 2:]
    elif proto == 1:
        l4 = l4[:2] + struct.pack("!H", checksum(l4)) + l4[4:]
    total = 20 + len(l4)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, p.get("tos", 0), total, p["id"], 0,
                      p.get("ttl", 64), proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + l4


def parse(data, transport=None):
    """The fields of an IPv4 packet (or of a header and, apart, its
    transport header, as nf_tables trace events carry them)."""
    if len(data) < 20 or data[0] >> 4 != 4:
        return None
    ihl = (data[0] & 0xf) * 4
    total, ident = struct.unpack_from("!HH", data, 2)
    proto = data[9]
    p = {"src": socket.inet_ntoa(data[12:16]), "dst": socket.inet_ntoa(data[16:20]),
         "protocol": PROTO_NAME.get(proto, str(proto)), "proto": proto, "id": ident,
         "ttl": data[8], "tos": data[1], "length": total}
    l4 = transport if transport is not None else data[ihl:]
    if proto in (6, 17) and len(l4) >= 4:
        p["sport"], p["dport"] = struct.unpack_from("!HH", l4, 0)
        if proto == 6 and len(l4) >= 14:
            p["seq"], p["ack"] = struct.unpack_from("!II", l4, 4)
            p["tcp_flags"] = flag_names(l4[13] & 0x3f)
            p["flags"] = l4[13] & 0x3f
    elif proto == 1 and len(l4) >= 2:
        p["icmp_type"], p["icmp_code"] = l4[0], l4[1]
        if len(l4) >= 8 and l4[0] in (0, 8, 13, 14):
            p["icmp_id"], p["icmp_seq"] = struct.unpack_from("!HH", l4, 4)
        if l4[0] in ICMP_ERRORS and len(l4) >= 8 + 20:
            inner = parse(l4[8:])
            if inner:
                p["inner"] = {k: inner[k] for k in ("src", "dst", "protocol", "sport", "dport") if k in inner}
            p["quote"] = bytes(l4[8:])
    return p


def frame(dst_mac, src_mac, ip):
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
    return mac(dst_mac) + mac(src_mac) + b"\x08\x00" + ip
