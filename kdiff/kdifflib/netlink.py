"""The two netlink streams kdiff reads the kernel's trace from, in the host
namespace:

* nf_tables trace events (NFNLGRP_NFTRACE): every nf_tables chain a packet
  carrying skb->nf_trace goes through reports each matching rule, a chain's
  end and a base chain's policy.  iptables-nft's tables are nf_tables
  tables, and kdiff's own chains (the marker and the end-of-hook sentinels)
  are too, so this stream is read for both backends.
* nfnetlink_log group 0: with net.netfilter.nf_log.2=nfnetlink_log, the
  `TRACE: table:chain:rule|return|policy:N` lines ip_tables writes for a
  traced packet arrive here (iptables-legacy), each with its hook.

Only the attributes kdiff needs are decoded (uapi nf_tables.h, nfnetlink_log.h).
"""
import socket
import struct

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
SO_RCVBUFFORCE = 33
NFNLGRP_NFTRACE = 9
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4

SUBSYS_ULOG = 4
SUBSYS_NFTABLES = 10
NFT_MSG_TRACE = 17
NFULNL_MSG_PACKET = 0
NFULNL_MSG_CONFIG = 1

# nft trace attributes
TR_TABLE, TR_CHAIN, TR_HANDLE, TR_TYPE, TR_VERDICT, TR_ID = 1, 2, 3, 4, 5, 6
TR_NETH, TR_TRANSH, TR_IIF, TR_OIF, TR_MARK, TR_POLICY = 8, 9, 10, 12, 14, 16
TRACE_TYPES = {1: "policy", 2: "return", 3: "rule"}
VERDICTS = {0: "DROP", 1: "ACCEPT", 2: "STOLEN", 3: "QUEUE", 4: "REPEAT",
            -1: "CONTINUE", -2: "BREAK", -3: "JUMP", -4: "GOTO", -5: "RETURN"}

# nfnetlink_log
NFULA_PACKET_HDR, NFULA_MARK, NFULA_IFINDEX_INDEV, NFULA_IFINDEX_OUTDEV = 1, 2, 4, 5
NFULA_PAYLOAD, NFULA_PREFIX = 9, 10
NFULA_CFG_CMD, NFULA_CFG_MODE, NFULA_CFG_TIMEOUT, NFULA_CFG_QTHRESH = 1, 2, 4, 5
NFULNL_CFG_CMD_BIND = 1
NFULNL_COPY_PACKET = 2
HOOK_NAMES = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")


def _messages(data):
    off = 0
    while off + 16 <= len(data):
        length, mtype, flags, seq, pid = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            break
        yield mtype, data[off + 16:off + length]
        off += (length + 3) & ~3


def _attrs(buf, off=0):
    out = {}
    while off + 4 <= len(buf):
        length, atype = struct.unpack_from("=HH", buf, off)
        if length < 4:
            break
        out[atype & 0x3fff] = buf[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def _attr(atype, data):
    raw = struct.pack("=HH", 4 + len(data), atype) + data
    return raw + b"\0" * ((4 - len(raw) % 4) % 4)


def _string(b):
    return b.split(b"\0", 1)[0].decode()


def _socket():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((0, 0))
    return s


class NftTrace:
    """nf_tables trace events.  Create it inside the namespace to watch."""

    def __init__(self):
        self.sock = _socket()
        self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTRACE)
        self.sock.setblocking(False)

    def fileno(self):
        return self.sock.fileno()

    def read(self):
        """Every event waiting, decoded, in order."""
        events = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return events
            for mtype, body in _messages(data):
                if mtype != (SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE:
                    continue
                a = _attrs(body, 4)
                e = {
                    "table": _string(a.get(TR_TABLE, b"")),
                    "chain": _string(a.get(TR_CHAIN, b"")),
                    "type": TRACE_TYPES.get(struct.unpack("!I", a[TR_TYPE])[0], "?") if TR_TYPE in a else "?",
                    "id": struct.unpack("!I", a[TR_ID])[0] if TR_ID in a else None,
                }
                if TR_HANDLE in a:
                    e["handle"] = struct.unpack("!Q", a[TR_HANDLE])[0]
                if TR_VERDICT in a:
                    v = _attrs(a[TR_VERDICT])
                    if 1 in v:
                        code = struct.unpack("!i", v[1])[0]
                        # NF_QUEUE carries the queue number in the upper bits.
                        e["verdict"] = VERDICTS.get(code if code < 0 else code & 0xff, str(code))
                    if 2 in v:
                        e["verdict_chain"] = _string(v[2])
                if TR_POLICY in a:
                    e["policy"] = VERDICTS.get(struct.unpack("!I", a[TR_POLICY])[0], "?")
                for key, attr in (("iif", TR_IIF), ("oif", TR_OIF), ("mark", TR_MARK)):
                    if attr in a:
                        e[key] = struct.unpack("!I", a[attr])[0]
                if TR_NETH in a:
                    e["network"] = a[TR_NETH]
                if TR_TRANSH in a:
                    e["transport"] = a[TR_TRANSH]
                events.append(e)

    def close(self):
        self.sock.close()


class NfLog:
    """nfnetlink_log group 0 (where ip_tables' TRACE lines go once the
    namespace's IPv4 logger is nfnetlink_log).  Create it inside the
    namespace to watch."""

    def __init__(self, group=0):
        self.sock = _socket()
        self.seq = 0
        self._config(group, 0, _attr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_BIND])))
        self._config(group, 0,
                     _attr(NFULA_CFG_MODE, struct.pack("!IBB", 96, NFULNL_COPY_PACKET, 0))
                     + _attr(NFULA_CFG_QTHRESH, struct.pack("!I", 1))
                     + _attr(NFULA_CFG_TIMEOUT, struct.pack("!I", 1)))
        self.sock.setblocking(False)

    def _config(self, group, family, payload):
        self.seq += 1
        body = struct.pack("=BBH", family, 0, socket.htons(group)) + payload
        msg = struct.pack("=IHHII", 16 + len(body), (SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
                          NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + body
        self.sock.send(msg)
        data = self.sock.recv(65536)
        for mtype, body in _messages(data):
            if mtype == NLMSG_ERROR:
                err = struct.unpack_from("=i", body)[0]
                if err != 0:
                    raise OSError(-err, "nfnetlink_log config failed")

    def fileno(self):
        return self.sock.fileno()

    def read(self):
        """Every logged packet waiting: {prefix, hook, payload, indev, outdev}."""
        out = []
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except BlockingIOError:
                return out
            for mtype, body in _messages(data):
                if mtype != (SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET:
                    continue
                a = _attrs(body, 4)
                hook = None
                if NFULA_PACKET_HDR in a:
                    hook = HOOK_NAMES[a[NFULA_PACKET_HDR][2]] if a[NFULA_PACKET_HDR][2] < 5 else None
                out.append({
                    "prefix": _string(a.get(NFULA_PREFIX, b"")),
                    "hook": hook,
                    "payload": a.get(NFULA_PAYLOAD, b""),
                    "indev": struct.unpack("!I", a[NFULA_IFINDEX_INDEV])[0] if NFULA_IFINDEX_INDEV in a else None,
                    "outdev": struct.unpack("!I", a[NFULA_IFINDEX_OUTDEV])[0] if NFULA_IFINDEX_OUTDEV in a else None,
                })

    def close(self):
        self.sock.close()
