"""Seeded random scenarios over what the engine evaluates.

A case is a host the runner can build (a client-side interface with
198.51.100.1/24, `eth1` with 203.0.113.1/24 and the default route through
203.0.113.2, optional extra addresses, routes and sysctls), an
iptables-save ruleset over the five tables, and a few flows of packets
(from the client side, the server side, or the host itself) with replies,
continuations and ICMP errors.

Rules are valid by construction where the kernel checks them at load time:
each user chain belongs to one built-in chain (only that chain, or user
chains of the same owner, jump or go to it, never in a loop), so every
target is placed in a hook it is allowed in.  `mutate_invalid` breaks a
ruleset on purpose for the validator's comparison.

Flows are sent one after the other or interleaved. `SNAT --random`
(rare) and SNAT/MASQUERADE port ranges make the kernel pick a port: it is
compared as a range. Left out, and why (the README says so too): `limit`
rates above a few per minute and `recent --seconds` below a minute (the
kernel's clock runs, the scenario's does not), uid/gid other than 0,
ipsets, owner/mac/physdev and the extensions nfsim keeps verbatim.
"""
import random

CLIENTS = ["198.51.100.2", "198.51.100.10", "198.51.100.11", "192.0.2.10", "192.0.2.20"]
SERVERS = ["203.0.113.2", "203.0.113.20", "203.0.113.21", "192.0.2.30", "198.51.100.200"]
HOST_MAIN = ["198.51.100.1", "203.0.113.1"]
SPECIAL_DST = ["127.0.0.1", "198.51.100.255", "255.255.255.255", "203.0.113.255", "0.0.0.5", "224.0.0.9"]
SPOOF_SRC = ["203.0.113.20", "127.0.0.1", "198.51.100.1", "0.0.0.0", "192.0.2.77"]
DPORTS = [22, 53, 80, 443, 8080, 3128]
TABLE_HOOKS = {
    "raw": ["PREROUTING", "OUTPUT"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
    "security": ["INPUT", "FORWARD", "OUTPUT"],
}
TABLE_ORDER = ["raw", "mangle", "nat", "filter", "security"]


class Gen:
    def __init__(self, seed, index):
        self.r = random.Random("%s:%s" % (seed, index))
        self.sport = 40000 + self.r.randrange(0, 20000)
        self.recent_names = ["kd1", "kd2"]

    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return self.r.choice(seq)

    # ------------------------------------------------------------ host
    def host(self):
        r = self.r
        self.cif = self.pick(["eth0", "eth0", "lan0", "ens3"])
        self.sif = "eth1"
        caddrs = ["198.51.100.1/24"]
        saddrs = ["203.0.113.1/24"]
        routes = [{"to": "default", "via": "203.0.113.2", "dev": "eth1"}]
        self.host_addrs = list(HOST_MAIN)
        if self.chance(0.2):
            caddrs.append("198.51.100.3/24")
            self.host_addrs.append("198.51.100.3")
        if self.chance(0.2):
            saddrs.append("203.0.113.5/32")
            self.host_addrs.append("203.0.113.5")
        if self.chance(0.15):
            caddrs.append("192.0.2.1/24")
            self.host_addrs.append("192.0.2.1")
        elif self.chance(0.5):
            routes.append({"to": "192.0.2.0/24", "via": "198.51.100.2", "dev": self.cif})
        if self.chance(0.15):
            routes.append({"to": self.pick(["198.51.100.128/25", "192.0.2.16/28", "203.0.113.16/28"]),
                           "type": self.pick(["blackhole", "unreachable", "prohibit"])})
        sysctl = {"ip_forward": self.chance(0.85), "rp_filter": self.pick([0, 0, 1, 2]),
                  "route_localnet": self.chance(0.2)}
        return {"interfaces": [{"name": self.cif, "addresses": caddrs},
                               {"name": self.sif, "addresses": saddrs}],
                "routes": routes, "sysctl": sysctl, "listening": []}

    def addr(self, kind):
        if kind == "client":
            return self.pick(CLIENTS)
        if kind == "server":
            return self.pick(SERVERS)
        if kind == "host":
            return self.pick(self.host_addrs)
        return self.pick(CLIENTS + SERVERS + self.host_addrs)

    def net(self):
        return self.pick(["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24", "192.0.2.0/28",
                          "203.0.113.16/28", "198.51.100.0/25", "127.0.0.0/8"])

    # ------------------------------------------------------------ packets
    def packets(self):
        flows = []
        for f in range(self.pick([1, 1, 2, 2, 3])):
            kind = self.pick(["client", "client", "server", "local", "local"])
            proto = self.pick(["tcp", "tcp", "udp", "icmp"])
            self.sport += self.r.randrange(1, 50)
            p = {"protocol": proto}
            if kind == "client":
                p["from"] = self.cif
                p["src"] = self.pick(SPOOF_SRC) if self.chance(0.08) else self.pick(CLIENTS)
            elif kind == "server":
                p["from"] = self.sif
                p["src"] = self.pick(SPOOF_SRC) if self.chance(0.08) else self.pick(SERVERS)
            else:
                p["from"] = "local"
                if self.chance(0.25):
                    p["src"] = self.pick(self.host_addrs + ["127.0.0.1"])
                if self.chance(0.2):
                    p["mark"] = self.pick([1, 2, 0x10])
            if self.chance(0.05):
                p["dst"] = self.pick(SPECIAL_DST)
            else:
                p["dst"] = self.pick(self.host_addrs + CLIENTS + SERVERS + self.host_addrs + ["127.0.0.1"]
                                     if kind == "local" else self.host_addrs * 2 + CLIENTS + SERVERS)
            if proto in ("tcp", "udp"):
                p["sport"] = self.sport
                p["dport"] = self.pick(DPORTS)
            if proto == "tcp":
                p["tcp_flags"] = "SYN" if self.chance(0.8) else self.pick(
                    ["ACK", "FIN,ACK", "RST", "SYN,FIN", "NONE", "FIN,PSH,URG", "SYN,ACK", "PSH,ACK"])
            if proto == "icmp":
                p["icmp_type"] = self.pick([8, 8, 8, 13, 0])
                if p["icmp_type"] == 13:
                    p["length"] = 40
            # The flow goes on: a reply, the sender's next packet, an error.
            # References are to the flow's own packets until the flows are merged.
            flow = [p]
            last = 0
            for _ in range(self.pick([0, 1, 1, 2, 3, 4])):
                c = self.r.random()
                if c < 0.45:
                    flow.append({"reply_to": last})
                    last = len(flow) - 1
                elif c < 0.8:
                    q = dict(p)
                    if proto == "tcp":
                        q["tcp_flags"] = self.pick(["ACK", "ACK", "PSH,ACK", "FIN,ACK", "RST", "SYN"])
                    flow.append(q)
                    last = len(flow) - 1
                else:
                    e = {"icmp_error_for": last}
                    if self.chance(0.3):
                        e["icmp_code"] = self.pick([1, 4, 13])
                    flow.append(e)
            flows.append(flow)
        # One flow after the other, or (a third of the time) interleaved, each
        # flow's packets in their order; references renumbered.
        order = [f for f, flow in enumerate(flows) for _ in flow]
        if self.chance(0.33):
            self.r.shuffle(order)
        pkts, where, taken = [], {}, [0] * len(flows)
        for f in order:
            j = taken[f]
            taken[f] += 1
            q = dict(flows[f][j])
            for key in ("reply_to", "icmp_error_for"):
                if key in q:
                    q[key] = where[(f, q[key])]
            where[(f, j)] = len(pkts)
            pkts.append(q)
        for p in pkts:
            if "protocol" in p and "length" not in p:
                p["length"] = {"tcp": 40, "udp": 28, "icmp": 28}[p["protocol"]]
        return pkts

    # ------------------------------------------------------------ rules
    def ruleset(self):
        r = self.r
        self.tables = {}
        chosen = [t for t, p in (("raw", 0.45), ("mangle", 0.45), ("nat", 0.6), ("filter", 0.9),
                                 ("security", 0.2)) if self.chance(p)]
        if not chosen:
            chosen = ["filter"]
        out = []
        for t in TABLE_ORDER:
            if t not in chosen:
                continue
            out.append(self.table(t))
        return "".join(out)

    def table(self, t):
        hooks = TABLE_HOOKS[t]
        user = {}  # name -> owner hook
        n_user = self.pick([0, 0, 1, 1, 2, 3])
        names = ["C%d" % i for i in range(n_user)]
        for n in names:
            user[n] = self.pick(hooks)
        lines = ["*%s" % t]
        for h in hooks:
            pol = "ACCEPT"
            if t != "nat" and self.chance(0.2):
                pol = "DROP"
            lines.append(":%s %s [0:0]" % (h, pol))
        for n in names:
            lines.append(":%s - [0:0]" % n)
        self.used = set()
        body = {}
        for i, n in enumerate(names):
            later = [m for m in names[i + 1:] if user[m] == user[n]]
            body[n] = ["-A %s %s" % (n, self.rule(t, user[n], later, True))
                       for _ in range(self.pick([1, 1, 2, 3, 4]))]
        for h in hooks:
            callees = [n for n in names if user[n] == h]
            for _ in range(self.pick([0, 1, 1, 2, 3, 4])):
                lines.append("-A %s %s" % (h, self.rule(t, h, callees, False)))
            for n in callees:
                if n not in self.used:
                    lines.append("-A %s %s" % (h, self.rule(t, h, [n], False, force_jump=n)))
        for n in names:
            lines += body[n]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def rule(self, t, hook, callees, in_user, force_jump=None):
        parts = []
        proto = None
        if self.chance(0.45):
            proto = self.pick(["tcp", "tcp", "udp", "icmp"])
            if self.chance(0.05):
                # Nothing protocol-specific under an inverted -p (ip_tables refuses it).
                parts.append("! -p " + proto)
                proto = None
            else:
                parts.append("-p " + proto)
        if self.chance(0.15):
            parts.append(("! " if self.chance(0.15) else "") + "-s " + self.pick([self.addr("any"), self.net()]))
        if self.chance(0.2):
            parts.append(("! " if self.chance(0.15) else "") + "-d " + self.pick([self.addr("any"), self.net()]))
        if hook in ("PREROUTING", "INPUT", "FORWARD") and self.chance(0.2):
            parts.append(("! " if self.chance(0.15) else "") + "-i " + self.pick([self.cif, self.sif, "lo", "eth+"]))
        if hook in ("OUTPUT", "POSTROUTING", "FORWARD") and self.chance(0.2):
            parts.append(("! " if self.chance(0.15) else "") + "-o " + self.pick([self.cif, self.sif, "lo", "eth+"]))
        for _ in range(self.pick([0, 0, 1, 1, 2])):
            m = self.match(t, hook, proto)
            if m:
                parts.append(m)
        parts.append(self.target(t, hook, proto, callees, in_user, force_jump))
        return " ".join(p for p in parts if p)

    def match(self, t, hook, proto):
        c = self.pick(["l4", "l4", "ct", "ct", "ct", "state", "mark", "connmark", "statistic", "addrtype",
                       "multiport", "limit", "recent", "iprange", "comment", "length", "ttl"])
        neg = lambda: "! " if self.chance(0.15) else ""
        if c == "l4":
            if proto == "tcp":
                o = self.pick(["dport", "sport", "flags", "syn", "dport"])
                if o == "dport":
                    return "-m tcp %s--dport %s" % (neg(), self.pick([str(self.pick(DPORTS)), "1:1023", "8000:9000"]))
                if o == "sport":
                    return "-m tcp %s--sport %s" % (neg(), self.pick(["1024:65535", "53", "80"]))
                if o == "flags":
                    return "-m tcp %s--tcp-flags %s" % (neg(), self.pick(
                        ["SYN,RST,ACK,FIN SYN", "SYN,ACK SYN,ACK", "ALL NONE", "FIN,SYN FIN,SYN", "ACK ACK",
                         "ALL FIN,PSH,URG", "RST RST"]))
                return "-m tcp %s--syn" % neg()
            if proto == "udp":
                return "-m udp %s--dport %s" % (neg(), self.pick(["53", "80", "1:1023"]))
            if proto == "icmp":
                return "-m icmp %s--icmp-type %s" % (neg(), self.pick(
                    ["8", "echo-request", "echo-reply", "0", "3", "3/3", "destination-unreachable",
                     "timestamp-request", "any", "port-unreachable", "host-unreachable"]))
            return None
        if c == "ct":
            o = self.r.random()
            if o < 0.6:
                return "-m conntrack %s--ctstate %s" % (neg(), ",".join(sorted(set(
                    self.r.sample(["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED", "DNAT", "SNAT"],
                                  self.pick([1, 1, 2, 3]))))))
            if o < 0.7:
                return "-m conntrack %s--ctstatus %s" % (neg(), self.pick(
                    ["SEEN_REPLY", "ASSURED", "CONFIRMED", "EXPECTED", "SEEN_REPLY,ASSURED"]))
            if o < 0.8:
                return "-m conntrack --ctdir %s" % self.pick(["ORIGINAL", "REPLY"])
            if o < 0.9:
                return "-m conntrack %s--%s %s" % (neg(), self.pick(["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"]),
                                                   self.pick([self.addr("any"), self.net()]))
            return "-m conntrack %s--ctproto %s" % (neg(), self.pick(["tcp", "udp", "icmp"]))
        if c == "state":
            return "-m state %s--state %s" % (neg(), ",".join(sorted(set(
                self.r.sample(["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"], self.pick([1, 2]))))))
        if c == "mark":
            return "-m mark %s--mark %s" % (neg(), self.pick(["0x1", "0x2", "0x10", "0x1/0x1", "0x0/0xff", "0x3/0x3"]))
        if c == "connmark":
            return "-m connmark %s--mark %s" % (neg(), self.pick(["0x1", "0x2", "0x1/0x1", "0x0", "0x10/0xf0"]))
        if c == "statistic":
            if self.chance(0.5):
                return "-m statistic --mode random %s--probability %s" % (neg(), self.pick(["0.5", "0.25", "0.33333333349"]))
            every = self.pick([2, 3])
            return "-m statistic --mode nth %s--every %d --packet %d" % (neg(), every, self.r.randrange(every))
        if c == "addrtype":
            types = ["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "UNREACHABLE", "BLACKHOLE", "PROHIBIT", "ANYCAST", "UNSPEC"]
            s = "-m addrtype"
            if self.chance(0.6):
                s += " %s--src-type %s" % (neg(), ",".join(self.r.sample(types, self.pick([1, 1, 2]))))
            if self.chance(0.6) or s == "-m addrtype":
                s += " %s--dst-type %s" % (neg(), ",".join(self.r.sample(types, self.pick([1, 1, 2]))))
            if self.chance(0.2):
                if hook in ("PREROUTING", "INPUT", "FORWARD"):
                    s += " --limit-iface-in"
                elif hook in ("OUTPUT", "POSTROUTING"):
                    s += " --limit-iface-out"
            return s
        if c == "multiport":
            if proto not in ("tcp", "udp"):
                return None
            return "-m multiport %s--%s %s" % (neg(), self.pick(["dports", "sports", "ports"]),
                                               self.pick(["22,80,443", "53,8000:9000", "1:1023", "80"]))
        if c == "limit":
            return "-m limit --limit %s --limit-burst %d" % (self.pick(["1/min", "2/min", "3/hour", "1/hour"]),
                                                               self.pick([1, 2, 3]))
        if c == "recent":
            name = self.pick(self.recent_names)
            cmd = self.pick(["--set", "--set", "--rcheck", "--update", "--remove", "--rcheck"])
            s = "-m recent --name %s %s%s" % (name, "! " if cmd != "--set" and self.chance(0.1) else "", cmd)
            if self.chance(0.3):
                s += " --rdest"
            if cmd in ("--rcheck", "--update"):
                if self.chance(0.3):
                    s += " --seconds %d" % self.pick([60, 3600])
                if self.chance(0.2):
                    s += " --hitcount %d" % self.pick([2, 3])
                if self.chance(0.1):
                    s += " --rttl"
            return s
        if c == "iprange":
            return "-m iprange %s--%s %s" % (neg(), self.pick(["src-range", "dst-range"]), self.pick(
                ["198.51.100.1-198.51.100.10", "203.0.113.1-203.0.113.25", "192.0.2.0-192.0.2.15"]))
        if c == "comment":
            return '-m comment --comment "%s"' % self.pick(["kdiff", "a b"])
        if c == "length":
            return "-m length %s--length %s" % (neg(), self.pick(["28", "40", "0:39", "40:1500"]))
        if c == "ttl":
            return "-m ttl %s" % self.pick(["--ttl-eq 64", "--ttl-lt 64", "--ttl-gt 63", "! --ttl-eq 63"])
        return None

    def target(self, t, hook, proto, callees, in_user, force_jump):
        if force_jump:
            self.used.add(force_jump)
            return "-%s %s" % ("g" if self.chance(0.2) else "j", force_jump)
        opts = ["ACCEPT", "DROP", "LOG", "MARK", "CONNMARK", "none"]
        if t != "nat":
            opts += ["ACCEPT", "DROP"]
        else:
            opts = ["ACCEPT", "LOG", "MARK", "CONNMARK", "none", "RETURN"]
        if callees:
            opts += ["jump"] * 3
        if in_user:
            opts += ["RETURN", "RETURN"]
        elif self.chance(0.1):
            opts += ["RETURN"]
        if hook in ("INPUT", "FORWARD", "OUTPUT") and t == "filter":
            opts += ["REJECT", "REJECT"]
        if t == "raw":
            opts += ["NOTRACK", "CT", "CT", "CT"]
        if t == "nat":
            if hook in ("PREROUTING", "OUTPUT"):
                opts += ["DNAT"] * 4 + ["REDIRECT"] * 2
            if hook in ("POSTROUTING", "INPUT"):
                opts += ["SNAT"] * 4
            if hook == "POSTROUTING":
                opts += ["MASQUERADE"] * 3
            opts += ["NETMAP"]
        if t == "mangle" and hook in ("FORWARD", "OUTPUT", "POSTROUTING") and proto == "tcp":
            opts += ["TCPMSS"]
        if t == "mangle":
            opts += ["TOS", "DSCP"]
        if t == "mangle" and hook in ("FORWARD", "OUTPUT", "POSTROUTING"):
            opts += ["CLASSIFY"]
        c = self.pick(opts)
        ports = proto in ("tcp", "udp")
        if c == "none":
            return ""
        if c == "jump":
            callee = self.pick(callees)
            self.used.add(callee)
            return "-%s %s" % ("g" if self.chance(0.2) else "j", callee)
        if c == "LOG":
            return '-j LOG --log-prefix "kd "'
        if c == "MARK":
            return "-j MARK %s" % self.pick(["--set-mark 0x1", "--set-mark 0x2", "--set-xmark 0x10/0xf0",
                                             "--or-mark 0x4", "--and-mark 0xfe", "--xor-mark 0x1"])
        if c == "CONNMARK":
            return "-j CONNMARK %s" % self.pick(["--set-mark 0x1", "--save-mark", "--restore-mark",
                                                 "--set-mark 0x2/0xf", "--save-mark --mask 0xff",
                                                 "--restore-mark --mask 0x1", "--or-mark 0x8"])
        if c == "REJECT":
            w = ["icmp-port-unreachable", "icmp-host-prohibited", "icmp-net-unreachable", "icmp-admin-prohibited"]
            if proto == "tcp":
                w += ["tcp-reset", "tcp-reset"]
            return "-j REJECT" + ("" if self.chance(0.3) else " --reject-with " + self.pick(w))
        if c == "NOTRACK":
            return "-j NOTRACK"
        if c == "CT":
            return "-j CT" + self.pick([" --notrack", " --notrack", "", " --zone 1"])
        if c == "DNAT":
            a = self.pick(SERVERS + CLIENTS + self.host_addrs + ["127.0.0.1"])
            if ports and self.chance(0.5):
                a += ":" + self.pick(["8080", "22", "80", "1000-1010"])
            return "-j DNAT --to-destination " + a
        if c == "REDIRECT":
            return "-j REDIRECT" + (" --to-ports " + self.pick(["8080", "3128", "22"]) if ports and self.chance(0.6) else "")
        if c == "SNAT":
            a = self.pick(self.host_addrs + ["192.0.2.99", "203.0.113.5-203.0.113.7", "198.51.100.1-198.51.100.3"])
            if ports and self.chance(0.2):
                a += ":" + self.pick(["1024-65535", "40000-60000"])
            extra = ""
            if self.chance(0.08):
                extra = " --persistent"
            elif self.chance(0.05):
                extra = " --random"
            return "-j SNAT --to-source " + a + extra
        if c == "MASQUERADE":
            s = "-j MASQUERADE"
            if ports and self.chance(0.2):
                s += " --to-ports " + self.pick(["1024-65535", "40000-60000"])
            return s
        if c == "NETMAP":
            return "-j NETMAP --to " + self.pick(["203.0.113.16/28", "198.51.100.0/28", "192.0.2.0/28"])
        if c == "TCPMSS":
            # The kernel wants a SYN match in the same rule (tcpmss_tg4_check).
            return "-m tcp --tcp-flags SYN,RST SYN -j TCPMSS " + self.pick(["--set-mss 1360", "--clamp-mss-to-pmtu"])
        if c == "TOS":
            return "-j TOS --set-tos " + self.pick(["0x10", "0x08"])
        if c == "DSCP":
            return "-j DSCP --set-dscp " + self.pick(["0x0a", "0x2e"])
        if c == "CLASSIFY":
            return "-j CLASSIFY --set-class 1:2"
        return "-j " + c

    def scenario(self, backend):
        host = self.host()
        ruleset = self.ruleset()
        pkts = self.packets()
        return {"version": 1, "ruleset": ruleset, "host": host, "backend": backend, "packets": pkts}


def generate(seed, index, backend):
    return Gen(seed, index).scenario(backend)


# ---------------------------------------------------------------- invalid rulesets
INVALID_EDITS = [
    ("DNAT in POSTROUTING", "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j DNAT --to-destination 203.0.113.20\nCOMMIT\n"),
    ("SNAT in PREROUTING", "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j SNAT --to-source 203.0.113.1\nCOMMIT\n"),
    ("MASQUERADE in OUTPUT", "*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j MASQUERADE\nCOMMIT\n"),
    ("REDIRECT in INPUT", "*nat\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j REDIRECT --to-ports 80\nCOMMIT\n"),
    ("DROP in nat", "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DROP\nCOMMIT\n"),
    ("REJECT in PREROUTING", "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j REJECT\nCOMMIT\n"),
    ("REJECT tcp-reset without -p tcp", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j REJECT --reject-with tcp-reset\nCOMMIT\n"),
    ("-i in OUTPUT", "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -i eth0 -j ACCEPT\nCOMMIT\n"),
    ("-o in INPUT", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -o eth0 -j ACCEPT\nCOMMIT\n"),
    ("NOTRACK in filter", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOTRACK\nCOMMIT\n"),
    ("CT in mangle", "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j CT --notrack\nCOMMIT\n"),
    ("jump to a missing chain", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j NOPE\nCOMMIT\n"),
    ("a loop", "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n"),
    ("a self-jump", "*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n-A INPUT -j A\n-A A -j A\nCOMMIT\n"),
    ("--dport without -p", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"),
    ("multiport without -p", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m multiport --dports 22,80 -j ACCEPT\nCOMMIT\n"),
    ("DNAT port without -p", "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination 203.0.113.20:80\nCOMMIT\n"),
    ("TCPMSS without SYN match", "*mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp -j TCPMSS --set-mss 1400\nCOMMIT\n"),
    ("TCPMSS in INPUT", "*mangle\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1400\nCOMMIT\n"),
    ("owner in INPUT", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m owner --uid-owner 0 -j ACCEPT\nCOMMIT\n"),
    ("addrtype limit-iface-in in OUTPUT", "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT\nCOMMIT\n"),
    ("policy on a user chain", "*filter\n:INPUT ACCEPT [0:0]\n:U DROP [0:0]\nCOMMIT\n"),
    ("RETURN as a policy", "*filter\n:INPUT RETURN [0:0]\nCOMMIT\n"),
    ("unknown table", "*nope\n:INPUT ACCEPT [0:0]\nCOMMIT\n"),
    ("missing COMMIT", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\n"),
    ("bad address", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 198.51.100.300 -j ACCEPT\nCOMMIT\n"),
    ("statistic probability over 1", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m statistic --mode random --probability 1.5 -j ACCEPT\nCOMMIT\n"),
    ("nth packet >= every", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m statistic --mode nth --every 2 --packet 2 -j ACCEPT\nCOMMIT\n"),
    ("recent hitcount over the list", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m recent --name x --rcheck --hitcount 100 -j ACCEPT\nCOMMIT\n"),
    ("recent two commands", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m recent --name x --set --rcheck -j ACCEPT\nCOMMIT\n"),
    ("limit over the maximum", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m limit --limit 100000/sec -j ACCEPT\nCOMMIT\n"),
    ("udp match under ! -p udp", "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT ! -p udp -m udp --dport 53 -j ACCEPT\nCOMMIT\n"),
    ("--ctdir inverted", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack ! --ctdir ORIGINAL -j ACCEPT\nCOMMIT\n"),
    ("icmp type with -p tcp", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m icmp --icmp-type 8 -j ACCEPT\nCOMMIT\n"),
    ("CLASSIFY in INPUT", "*mangle\n:INPUT ACCEPT [0:0]\n-A INPUT -j CLASSIFY --set-class 1:2\nCOMMIT\n"),
    ("DSCP in filter", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j DSCP --set-dscp 1\nCOMMIT\n"),
    ("goto a built-in chain", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n-A INPUT -g FORWARD\nCOMMIT\n"),
    ("delete a chain still referenced", "*filter\n:INPUT ACCEPT [0:0]\n:U - [0:0]\n-A INPUT -j U\n-X U\nCOMMIT\n"),
    ("NETMAP without prefix", "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j NETMAP\nCOMMIT\n"),
    ("SNAT range reversed", "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j SNAT --to-source 203.0.113.9-203.0.113.1\nCOMMIT\n"),
    ("user chain named like a target", "*filter\n:INPUT ACCEPT [0:0]\n:ACCEPT - [0:0]\nCOMMIT\n"),
    ("chain name too long", "*filter\n:INPUT ACCEPT [0:0]\n:ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH - [0:0]\nCOMMIT\n"),
]


def mutate_invalid(seed, index):
    """A generated ruleset with one deliberately invalid piece added."""
    g = Gen(seed, index)
    g.host()
    base = g.ruleset()
    name, extra = INVALID_EDITS[index % len(INVALID_EDITS)]
    return name, base + extra if g.chance(0.5) else extra
