"""The kernel side: run one scenario (the engine's scenario JSON) in
throw-away network namespaces and report what the kernel did.

Topology: the host under test gets the scenario's interfaces; each one is a
veth whose other end (`p0`) sits in a peer namespace of its own.  Peers have
no IPv4 address and IPv6 is off everywhere, so nothing but kdiff's own
frames ever reaches the host, and a peer never answers.  Every address the
host could send to on a connected subnet has a permanent neighbour entry
(the peer's MAC): nothing waits on ARP.

Tracing: a private nf_tables table `ip kdiff` marks kdiff's packets
(`meta nftrace set 1`, matched by IP ID) at priority -350 in PREROUTING
(from a peer) and OUTPUT (from kdiff's own socket), before raw; a packet
looped back through lo keeps its mark, and the host's own packets (an
ICMP error, a RST: no user's socket) are never marked, whatever IP ID the
kernel gave them, and has an empty chain at priority 1000 in each hook
(after every iptables table): a packet that reaches one of them got through
that hook.  The rules the packet matched come from nf_tables trace events
(iptables-nft) or ip_tables' TRACE lines through nfnetlink_log
(iptables-legacy).  After each packet a barrier frame (another IP ID,
dropped by the marker chain) is sent twice and waited for: packets on one
CPU are processed in order, so everything the packet caused has been traced
and captured by then.  Fate: a DROP verdict (REJECT's target makes it
`rejected`), else the INPUT sentinel (`delivered-local`), else the
POSTROUTING sentinel and the frame captured on the peer (`forwarded`, or
`sent` for a local packet), else `dropped-outside-rules`.
"""
import ipaddress
import json
import os
import random
import select
import socket
import time
import zlib

from . import netns, netlink, pkt
from .rules import BUILTIN, Ruleset

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_MARK = 36
BARRIER_PROTO = 253
ECHO_ID = 0x4b44
SENTINELS = {"in_end": "INPUT", "fwd_end": "FORWARD", "out_end": "OUTPUT", "post_end": "POSTROUTING"}


class Unsupported(Exception):
    """The scenario asks for something the runner cannot build."""


class KernelError(Exception):
    """The kernel run failed (not a disagreement)."""


def host_mac(i):
    return "02:6b:64:00:%02x:01" % (i + 1)


def peer_mac(i):
    return "02:6b:64:00:%02x:02" % (i + 1)


def _interfaces(host):
    ifs = [i for i in host.get("interfaces", []) if i["name"] != "lo"]
    lo = [a for i in host.get("interfaces", []) if i["name"] == "lo" for a in i.get("addresses", [])]
    return ifs, lo


def _route_cmd(r):
    words = ["route", "add"]
    if r.get("type"):
        words.append(r["type"])
    words.append(r["to"])
    for k in ("via", "dev", "src"):
        if r.get(k):
            words += [k, r[k]]
    if r.get("metric"):
        words += ["metric", str(r["metric"])]
    if r.get("table"):
        words += ["table", r["table"]]
    return " ".join(words)


def _addresses_in(text):
    """Every IPv4 address a scenario mentions, ranges expanded (a little)."""
    import re
    out = set()
    for m in re.finditer(r"(\d+\.\d+\.\d+\.\d+)(?:-(\d+\.\d+\.\d+\.\d+))?", text):
        try:
            a = ipaddress.IPv4Address(m.group(1))
            b = ipaddress.IPv4Address(m.group(2)) if m.group(2) else a
        except ValueError:
            continue
        n = int(a)
        while n <= int(b) and n - int(a) < 256:
            out.add(ipaddress.IPv4Address(n))
            n += 1
    return out


class Flows:
    """TCP sequence numbers per connection as the two ends would send them,
    so conntrack's window checks see a plausible conversation."""

    def __init__(self):
        self.by_key = {}      # (src, sport, dst, dport) -> (flow, dir)
        self.flows = []       # [{"next": [seq0, seq1]}]
        self.of_packet = {}   # packet index -> (flow, dir)

    def place(self, index, key, reply_of=None):
        if reply_of is not None and reply_of in self.of_packet:
            f, d = self.of_packet[reply_of]
            fd = (f, 1 - d)
        elif key in self.by_key:
            fd = self.by_key[key]
        elif (key[2], key[3], key[0], key[1]) in self.by_key:
            f, d = self.by_key[(key[2], key[3], key[0], key[1])]
            fd = (f, 1 - d)
        else:
            self.flows.append({"next": [None, None]})
            fd = (len(self.flows) - 1, 0)
        self.by_key.setdefault(key, fd)
        self.of_packet[index] = fd
        return fd

    def numbers(self, fd, flags):
        f, d = fd
        nxt = self.flows[f]["next"]
        if nxt[d] is None:
            nxt[d] = 1000000 + 7919 * f if d == 0 else 3000000 + 7919 * f
        seq = nxt[d]
        ack = 0
        if flags & 0x10:
            ack = nxt[1 - d] if nxt[1 - d] is not None else 0
        nxt[d] = (seq + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)) & 0xffffffff
        return seq, ack


class KernelRun:
    def __init__(self, scenario, backend, keep=False):
        self.sc = scenario
        self.backend = backend
        self.keep = keep
        self.ruleset_text = scenario["ruleset"]
        self.rules = Ruleset(self.ruleset_text)
        self.ifaces, self.lo_addrs = _interfaces(scenario.get("host", {}))
        if not self.ifaces:
            raise Unsupported("the host needs at least one interface besides lo")
        if len(self.ifaces) > 8:
            raise Unsupported("more than 8 interfaces")
        self.ifindex_name = {}
        self.peer_ns = {}
        self.socks = {}

    # ------------------------------------------------------------ topology
    def _build(self):
        roles = ["h"] + ["p%d" % i for i in range(len(self.ifaces))]
        self.names = netns.new_names(roles)
        self.h = self.names["h"]
        netns.add(self.names.values())
        # IPv6 off and no inherited defaults, before any link exists.
        for n in self.names.values():
            netns.write_sysctl(n, "net/ipv6/conf/all/disable_ipv6", 1)
            netns.write_sysctl(n, "net/ipv6/conf/default/disable_ipv6", 1)
            for k, v in (("rp_filter", 0), ("route_localnet", 0), ("send_redirects", 0),
                         ("accept_redirects", 0), ("accept_local", 0), ("forwarding", 0)):
                netns.write_sysctl(n, "net/ipv4/conf/default/" + k, v)
        links = []
        for i, itf in enumerate(self.ifaces):
            p = self.names["p%d" % i]
            self.peer_ns[itf["name"]] = p
            links.append("link add %s netns %s address %s type veth peer name p0 netns %s address %s"
                         % (itf["name"], self.h, host_mac(i), p, peer_mac(i)))
        netns.run(["ip", "-batch", "-"], input_text="\n".join(links) + "\n")
        for i, itf in enumerate(self.ifaces):
            netns.run(["ip", "-batch", "-"], ns=self.peer_ns[itf["name"]],
                      input_text="link set lo up\nlink set p0 up\n")
        self._configure_host()

    def _configure_host(self):
        host = self.sc.get("host", {})
        sysctl = host.get("sysctl", {})
        h = self.h
        cmds = ["link set lo up"]
        for a in self.lo_addrs:
            cmds.append("addr add %s dev lo" % (a if "/" in a else a + "/32"))
        nets = []
        for i, itf in enumerate(self.ifaces):
            for a in itf.get("addresses", []):
                a = a if "/" in a else a + "/32"
                cmds.append("addr add %s dev %s" % (a, itf["name"]))
                nets.append((ipaddress.IPv4Interface(a).network, itf["name"], i))
            cmds.append("link set %s up" % itf["name"])
        netns.run(["ip", "-batch", "-"], ns=h, input_text="\n".join(cmds) + "\n")
        # Permanent neighbours for every address the host could send to directly.
        wanted = _addresses_in(json.dumps(self.sc))
        for r in host.get("routes", []):
            if r.get("via"):
                wanted.add(ipaddress.IPv4Address(r["via"]))
        neigh = []
        seen = set()
        for net, dev, i in nets:
            if net.prefixlen >= 31:
                continue
            cands = set(a for a in wanted if a in net)
            if net.prefixlen >= 24:
                cands |= set(net.hosts())
            for a in sorted(cands):
                if (a, dev) in seen or a in (net.network_address, net.broadcast_address):
                    continue
                seen.add((a, dev))
                neigh.append("neigh replace %s lladdr %s dev %s nud permanent" % (a, peer_mac(i), dev))
        routes = [_route_cmd(r) for r in host.get("routes", [])]
        netns.run(["ip", "-batch", "-"], ns=h, input_text="\n".join(routes + neigh) + "\n")
        # Sysctls: the scenario's, and quiet defaults for what it does not model.
        devs = ["all", "default", "lo"] + [i["name"] for i in self.ifaces]
        for d in devs:
            netns.write_sysctl(h, "net/ipv4/conf/%s/rp_filter" % d,
                               int(sysctl.get("rp_filter", 0)) if d == "all" else 0)
            netns.write_sysctl(h, "net/ipv4/conf/%s/route_localnet" % d,
                               int(bool(sysctl.get("route_localnet", False))) if d == "all" else 0)
            netns.write_sysctl(h, "net/ipv4/conf/%s/send_redirects" % d, 0)
            netns.write_sysctl(h, "net/ipv4/conf/%s/accept_redirects" % d, 0)
        netns.write_sysctl(h, "net/ipv4/ip_forward", int(bool(sysctl.get("ip_forward", True))))
        netns.write_sysctl(h, "net/ipv4/icmp_ratelimit", 0)
        netns.write_sysctl(h, "net/ipv4/icmp_msgs_per_sec", 100000)
        netns.write_sysctl(h, "net/netfilter/nf_log/2", "nfnetlink_log")
        # nfsim follows TCP's states, not its sequence windows: the kernel is
        # told not to mark out-of-window segments INVALID either.
        netns.write_sysctl(h, "net/netfilter/nf_conntrack_tcp_be_liberal", 1)
        netns.write_sysctl(h, "net/netfilter/nf_conntrack_tcp_ignore_invalid_rst", 1)
        with netns.inside(h):
            self.ifindex_name = {i: n for i, n in socket.if_nameindex()}

    def _load_ruleset(self):
        exe = "iptables-nft-restore" if self.backend == "nft" else "iptables-legacy-restore"
        p = netns.run([exe], ns=self.h, input_text=self.ruleset_text, check=False)
        if p.returncode != 0:
            return (p.stderr or p.stdout).strip()
        self.handles = {}
        if self.backend == "nft":
            out = netns.run(["nft", "-j", "-a", "list", "ruleset"], ns=self.h).stdout
            counts = {}
            for item in json.loads(out).get("nftables", []):
                r = item.get("rule")
                if not r or r.get("family") != "ip" or r.get("table") == "kdiff":
                    continue
                k = (r["table"], r["chain"])
                counts[k] = counts.get(k, 0) + 1
                self.handles[(r["table"], r["chain"], r["handle"])] = counts[k]
        return None

    def _load_marker(self, ids):
        idset = ", ".join(str(i) for i in sorted(ids))
        text = """table ip kdiff {
  chain pre { type filter hook prerouting priority -350; policy accept;
    ip id %d meta nftrace set 1 drop
    iifname != "lo" ip id { %s } meta nftrace set 1
  }
  chain out { type filter hook output priority -350; policy accept;
    meta skuid 0 ip id { %s } meta nftrace set 1
  }
  chain in_end { type filter hook input priority 1000; policy accept; }
  chain fwd_end { type filter hook forward priority 1000; policy accept; }
  chain out_end { type filter hook output priority 1000; policy accept; }
  chain post_end { type filter hook postrouting priority 1000; policy accept; }
}
""" % (self.barrier_id, idset, idset)
        netns.run(["nft", "-f", "-"], ns=self.h, input_text=text)

    def _open_sockets(self):
        with netns.inside(self.h):
            self.trace = netlink.NftTrace()
            self.nflog = netlink.NfLog() if self.backend == "legacy" else None
            self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for name, ns in self.peer_ns.items():
            with netns.inside(ns):
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                s.bind(("p0", ETH_P_ALL))
                s.setblocking(False)
                self.socks[name] = s

    def _close(self):
        for s in list(self.socks.values()):
            s.close()
        for attr in ("trace", "nflog", "raw"):
            o = getattr(self, attr, None)
            if o is not None:
                o.close()

    # ------------------------------------------------------------ packets
    def _local_source(self, dst, mark):
        with netns.inside(self.h):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                if mark:
                    s.setsockopt(socket.SOL_SOCKET, SO_MARK, mark)
                s.connect((dst, 9))
                return s.getsockname()[0]
            except OSError:
                return None
            finally:
                s.close()

    def _send_barrier(self):
        first = self.ifaces[0]["name"]
        i = 0
        ip = pkt.build({"src": "192.0.2.254", "dst": "192.0.2.253", "proto": BARRIER_PROTO,
                        "id": self.barrier_id, "payload": os.urandom(4)})
        self.socks[first].send(pkt.frame(host_mac(i), peer_mac(i), ip))

    def _wait_barrier(self, events, logs):
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.trace], [], [], 0.5)
            for e in self.trace.read():
                if e["table"] == "kdiff" and e["chain"] == "pre" and e.get("verdict") == "DROP":
                    h = pkt.parse(e.get("network", b""), e.get("transport", b""))
                    if h and h["id"] == self.barrier_id:
                        if self.nflog:
                            logs.extend(self.nflog.read())
                        return
                events.append(e)
        raise KernelError("the barrier frame was never traced")

    def _drain_peers(self):
        got = []
        for name, s in self.socks.items():
            while True:
                try:
                    data, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING or len(data) < 14 or data[12:14] != b"\x08\x00":
                    continue
                p = pkt.parse(data[14:])
                if p is None or p["proto"] == BARRIER_PROTO:
                    continue
                p["raw"] = data[14:]
                got.append((name, p))
        return got

    def _packet(self, i, spec, results):
        """The packet to send (fields for pkt.build) and where from (an
        interface name or 'local'), or an error string."""
        pid = self.ids[i]
        derived = spec.get("reply_to", spec.get("icmp_error_for"))
        if derived is not None:
            n = derived
            prev = results[n]
            what = "reply" if "reply_to" in spec else "ICMP error"
            seen = prev.get("packet_out")
            fate = prev["fate"]["result"]
            if fate in ("forwarded", "sent") and seen:
                origin = prev["fate"]["oif"]
            elif fate == "delivered-local" and prev.get("delivered"):
                seen = prev["delivered"]
                origin = "local"
            else:
                return None, None, "packet %d never left the host, so it has no %s" % (n, what)
            if "icmp_error_for" in spec:
                quote = seen["raw"][:((seen["raw"][0] & 0xf) * 4) + 8]
                p = {"src": spec.get("src") or seen["dst"], "dst": seen["src"], "proto": 1,
                     "icmp_type": spec.get("icmp_type", 3), "icmp_code": spec.get("icmp_code", 3),
                     "quote": quote, "id": pid}
                return p, origin, None
            p = {"src": seen["dst"], "dst": seen["src"], "proto": seen["proto"], "id": pid}
            if seen["proto"] in (6, 17):
                p["sport"], p["dport"] = seen["dport"], seen["sport"]
            if seen["proto"] == 6:
                f = seen.get("flags", 0)
                p["flags"] = 0x12 if (f & 0x02 and not f & 0x10) else 0x10
                fd = self.flows.place(i, (p["src"], p["sport"], p["dst"], p["dport"]), reply_of=n)
                p["seq"], p["ack"] = self.flows.numbers(fd, p["flags"])
            if seen["proto"] == 1:
                t = seen.get("icmp_type", 8)
                p["icmp_type"] = {8: 0, 13: 14}.get(t, t)
                p["icmp_code"] = seen.get("icmp_code", 0)
                p["icmp_id"], p["icmp_seq"] = seen.get("icmp_id", ECHO_ID), seen.get("icmp_seq", 0)
            return p, origin, None
        proto = spec.get("protocol", "tcp")
        proto = pkt.PROTO_NUM[proto] if isinstance(proto, str) else int(proto)
        origin = spec.get("from", "")
        if spec.get("uid") or spec.get("gid"):
            raise Unsupported("packets from a uid/gid other than 0")
        if origin != "local" and origin not in self.peer_ns:
            raise Unsupported("from: %s is not an interface of the host" % origin)
        src = spec.get("src")
        if src is None:
            if origin != "local":
                raise Unsupported("src missing")
            src = self._local_source(spec["dst"], spec.get("mark", 0)) or "0.0.0.0"
        p = {"src": src, "dst": spec["dst"], "proto": proto, "id": pid,
             "ttl": spec.get("ttl", 64), "tos": spec.get("tos", 0)}
        if proto in (6, 17):
            p["sport"], p["dport"] = spec.get("sport", 40000), spec.get("dport", 80)
        if proto == 6:
            p["flags"] = pkt.parse_flags(spec.get("tcp_flags", "SYN"))
            fd = self.flows.place(i, (p["src"], p["sport"], p["dst"], p["dport"]))
            p["seq"], p["ack"] = self.flows.numbers(fd, p["flags"])
        if proto == 1:
            p["icmp_type"], p["icmp_code"] = spec.get("icmp_type", 8), spec.get("icmp_code", 0)
            p["icmp_id"], p["icmp_seq"] = ECHO_ID, i
        if origin != "local" and spec.get("mark"):
            raise Unsupported("a mark on a packet that arrives on an interface")
        p["mark"] = spec.get("mark", 0)
        return p, origin, None

    def _send(self, p, origin):
        ip = pkt.build(p)
        if origin == "local":
            self.raw.setsockopt(socket.SOL_SOCKET, SO_MARK, p.get("mark", 0))
            try:
                self.raw.sendto(ip, (p["dst"], 0))
                return None
            except OSError as e:
                return e.errno
        i = [x["name"] for x in self.ifaces].index(origin)
        self.socks[origin].send(pkt.frame(host_mac(i), peer_mac(i), ip))
        return None

    # ------------------------------------------------------------ reading
    def _rule_events(self, events, logs):
        """The kernel's matched rules, returns and policies, normalised."""
        out = []
        if self.backend == "nft":
            hook = None
            for e in events:
                if e["table"] == "kdiff":
                    continue
                table, chain = e["table"], e["chain"]
                builtin = chain in BUILTIN.get(table, [])
                if builtin:
                    hook = chain
                h = e.get("handle")
                idx = self.handles.get((table, chain, h)) if h is not None else None
                if e["type"] == "policy":
                    out.append({"hook": hook, "table": table, "chain": chain, "kind": "policy",
                                "verdict": e.get("policy", "?")})
                elif h is not None:
                    # A rule that matched (an explicit RETURN too: 6.18 reports it
                    # as a rule event with verdict RETURN).
                    v = e.get("verdict", "?")
                    if v in ("JUMP", "GOTO"):
                        v += " " + e.get("verdict_chain", "?")
                    out.append({"hook": hook, "table": table, "chain": chain, "kind": "rule",
                                "rule": idx, "verdict": v})
                elif not builtin:
                    # No handle: the chain ran out of rules (a base chain's
                    # policy event follows on its own).
                    out.append({"hook": hook, "table": table, "chain": chain, "kind": "return"})
            return out
        for m in logs:
            pre = m["prefix"]
            if not pre.startswith("TRACE: "):
                continue
            try:
                table, chain, kind, num = pre[7:].split()[0].split(":")
                num = int(num)
            except ValueError:
                continue
            c = self.rules.chain(table, chain)
            n = len(c["rules"]) if c else 0
            if kind == "rule" or num <= n:
                r = self.rules.rule(table, chain, num)
                out.append({"hook": m["hook"], "table": table, "chain": chain, "kind": "rule",
                            "rule": num, "verdict": self.rules.verdict_of(r) if r else "?"})
            elif kind == "return":
                out.append({"hook": m["hook"], "table": table, "chain": chain, "kind": "return"})
            else:
                out.append({"hook": m["hook"], "table": table, "chain": chain, "kind": "policy",
                            "verdict": (c or {}).get("policy") or "ACCEPT"})
        return out

    def _result(self, p, origin, events, logs, captured, send_err):
        # The host's own packets (an ICMP error, a RST, an echo reply) get
        # IP ids of the kernel's choosing, which can be one of the scenario's:
        # a captured packet is one of ours only when its kind matches too.
        ours = [(n, c) for n, c in captured if same_packet(c, p)]
        others = [(n, c) for n, c in captured if not any(same_packet(c, q) for q in self.sent)]
        sentinels = {}
        delivered = None
        post = None
        for e in events:
            if e["table"] == "kdiff" and e["chain"] in SENTINELS:
                if e["chain"] in sentinels:
                    continue  # the first event of a chain carries the packet's details
                sentinels[e["chain"]] = e
                if e["chain"] == "in_end" and "network" in e:
                    delivered = pkt.parse(e["network"], e.get("transport"))
                    if delivered:
                        delivered["raw"] = e["network"][:20] + (e.get("transport") or b"")[:8]
                if e["chain"] == "post_end":
                    post = e
        rule_events = self._rule_events(events, logs)
        sent = {k: v for k, v in p.items() if k not in ("quote", "payload")}
        if "quote" in p:
            sent["quote_bytes"] = list(p["quote"])
        res = {"events": rule_events, "sent": sent, "from": origin}
        if send_err:
            res["send_error"] = os.strerror(send_err)
        fate = None
        # A local packet to a broadcast or multicast address is also looped
        # back (ip_mc_output): the copy's verdicts and the INPUT sentinel are
        # the copy's. The packet itself was sent when the peer saw it leave.
        post_oif = self.ifindex_name.get(post.get("oif")) if post is not None else None
        if origin == "local" and post_oif not in (None, "lo") and any(n == post_oif for n, _ in ours):
            fate = {"result": "sent", "oif": post_oif}
        for ev in rule_events if fate is None else []:
            if ev.get("verdict") in ("DROP", "QUEUE"):
                r = self.rules.rule(ev["table"], ev["chain"], ev["rule"]) if ev["kind"] == "rule" else None
                result = "queued" if ev["verdict"] == "QUEUE" else (
                    "rejected" if r is not None and r.target == "REJECT" else "dropped")
                fate = {"result": result, "by": {"table": ev["table"], "chain": ev["chain"],
                                                 "rule": ev.get("rule")}}
        if fate is None:
            if "in_end" in sentinels:
                fate = {"result": "delivered-local"}
            elif post is not None and self.ifindex_name.get(post.get("oif")) not in (None, "lo"):
                oif = self.ifindex_name[post["oif"]]
                if any(n == oif for n, _ in ours):
                    fate = {"result": "sent" if origin == "local" else "forwarded", "oif": oif}
                else:
                    fate = {"result": "dropped-outside-rules", "detail": "not seen leaving %s" % oif}
            else:
                passed = [SENTINELS[s] for s in ("out_end", "fwd_end", "post_end") if s in sentinels]
                fate = {"result": "dropped-outside-rules",
                        "detail": "passed %s" % (", ".join(passed) or "no hook's end")}
        res["fate"] = fate
        if ours:
            n, c = ours[0]
            res["packet_out"] = c
        if delivered:
            res["delivered"] = delivered
        res["host_sent"] = [dict(c, via=n) for n, c in others]
        return res

    # ------------------------------------------------------------ run
    def run(self):
        t0 = time.monotonic()
        packets = self.sc.get("packets", [])
        rnd = random.Random(zlib.crc32(json.dumps(self.sc, sort_keys=True).encode()))
        ids = rnd.sample(range(0x1000, 0xf000), len(packets) + 1)
        self.barrier_id, self.ids = ids[0], ids[1:]
        self.sent = []
        self.flows = Flows()
        out = {"backend": self.backend, "packets": []}
        try:
            self._build()
            err = self._load_ruleset()
            if err is not None:
                out["loaded"] = False
                out["error"] = err
                return out
            out["loaded"] = True
            self._load_marker(self.ids)
            self._open_sockets()
            for i, spec in enumerate(packets):
                ref = spec.get("reply_to", spec.get("icmp_error_for"))
                if ref is not None and out["packets"][ref].get("skipped"):
                    out["packets"].append({"skipped": "packet %d was not sent" % ref})
                    continue
                p, origin, err = self._packet(i, spec, out["packets"])
                if err:
                    # Nothing to answer: the packet does not exist (nfsim runs the
                    # scenario without it, see kept()).
                    out["packets"].append({"skipped": err})
                    continue
                self.trace.read()
                if self.nflog:
                    self.nflog.read()
                self._drain_peers()
                send_err = self._send(p, origin)
                self.sent.append(p)
                events, logs = [], []
                self._send_barrier()
                self._wait_barrier(events, logs)
                self._send_barrier()
                self._wait_barrier(events, logs)
                captured = self._drain_peers()
                out["packets"].append(dict(self._result(p, origin, events, logs, captured, send_err), index=i))
        finally:
            self._close()
            if not self.keep:
                netns.delete(self.names.values() if hasattr(self, "names") else [])
        out["seconds"] = round(time.monotonic() - t0, 3)
        return out


def same_packet(c, p):
    """Whether captured packet `c` is sent packet `p`, after whatever NAT did
    to its addresses and ports: the same IP id, protocol and kind (TCP flags,
    ICMP type)."""
    if c["id"] != p["id"] or c["proto"] != p["proto"]:
        return False
    if p["proto"] == 6:
        return c.get("flags", 0) & 0x3f == p.get("flags", 0) & 0x3f
    if p["proto"] == 1:
        return c.get("icmp_type") == p.get("icmp_type")
    return True


def kept(scenario, result):
    """The scenario without the packets the kernel run skipped (answers to
    packets that never left), references renumbered; and the kernel's
    results for the packets kept."""
    skip = [i for i, p in enumerate(result.get("packets", [])) if p.get("skipped")]
    if not skip:
        return scenario, result.get("packets", [])
    new_index = {}
    pk = []
    for i, p in enumerate(scenario["packets"]):
        if i in skip or i >= len(result["packets"]):
            continue
        q = dict(p)
        for key in ("reply_to", "icmp_error_for"):
            if key in q:
                q[key] = new_index[q[key]]
        new_index[i] = len(pk)
        pk.append(q)
    return dict(scenario, packets=pk), [p for p in result["packets"] if not p.get("skipped")]


def strip_raw(result):
    """A kernel result without the bytes (for JSON)."""
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k not in ("raw", "quote") and not isinstance(x, bytes)}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return clean(result)
