#!/usr/bin/env python3
"""Differential fixture: generate random, plausible iptables rules (fixed seed),
load each into the real iptables-legacy inside a throw-away network namespace
(rules the kernel or iptables refuses are dropped), and write

    engine/tests/fixtures/roundtrip/random_<table>.in   the accepted rules, as typed
    engine/tests/fixtures/roundtrip/random_<table>.out  what iptables-save printed

The round-trip test then requires nfsim's rendering of .in to equal .out.
Needs root, iproute2 and iptables. Usage: differential-rules.py [COUNT] [SEED] [PREFIX]
(the fixtures random_* come from `400 7`, random99_* from `600 99 random99`)
"""
import random, subprocess, sys, os

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 400
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 7
PREFIX = sys.argv[3] if len(sys.argv) > 3 else "random"
rng = random.Random(SEED)
OUT = os.path.join(os.path.dirname(__file__), '..', 'engine', 'tests', 'fixtures', 'roundtrip')

def ip():
    return f"{rng.choice([192, 198, 203, 10])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
def net():
    return rng.choice([ip(), f"{ip()}/{rng.randint(0, 32)}", f"{ip()}/255.255.{rng.choice([0, 128, 255])}.0"])
def port():
    return rng.choice([str(rng.randint(0, 65535)), f"{rng.randint(0, 1000)}:{rng.randint(1000, 65535)}", f"{rng.randint(1, 999)}:", f":{rng.randint(1, 999)}", "ssh", "http"])
def neg():
    return "! " if rng.random() < 0.25 else ""
def mark():
    return rng.choice([hex(rng.randint(0, 0xffff)), f"{hex(rng.randint(0, 0xffff))}/{hex(rng.randint(0, 0xffff))}", str(rng.randint(0, 99))])
def word():
    return "".join(rng.choice("abcdefgXYZ019 _-/:.'\"\\") for _ in range(rng.randint(1, 14)))
def quoted(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'

def proto_part():
    p = rng.choice(["tcp", "udp", "icmp", "sctp", "TCP", "6", "17", "47", "all", None, None])
    if p is None:
        return "", None
    return f"{neg() if p not in ('all',) else ''}-p {p} ", p.lower()

def matches(proto):
    out = []
    for _ in range(rng.randint(0, 3)):
        kind = rng.choice(["l4", "comment", "conntrack", "state", "mark", "connmark", "multiport", "addrtype",
                           "statistic", "limit", "iprange", "length", "ttl", "tos", "dscp", "pkttype", "recent", "mac", "physdev"])
        if kind == "l4" and proto in ("tcp", "6"):
            o = rng.choice([f"{neg()}--dport {port()}", f"{neg()}--sport {port()}", "--syn", f"{neg()}--tcp-flags {rng.choice(['SYN,ACK', 'ALL', 'FIN,RST'])} {rng.choice(['SYN', 'NONE', 'ACK'])}", f"--tcp-option {rng.randint(0, 255)}"])
            out.append(rng.choice(["", "-m tcp "]) + o)
        elif kind == "l4" and proto in ("udp", "17"):
            out.append(rng.choice(["", "-m udp "]) + f"{neg()}--{rng.choice(['dport', 'sport'])} {port()}")
        elif kind == "l4" and proto == "icmp":
            out.append(f"{neg()}--icmp-type {rng.choice(['echo-request', 'any', '3/4', '11', 'port-unreachable', 'pong'])}")
        elif kind == "l4" and proto == "sctp":
            out.append(f"-m sctp {neg()}--dport {port()}")
        elif kind == "comment":
            out.append(f"-m comment --comment {quoted(word())}")
        elif kind == "conntrack":
            opt = rng.choice([f"{neg()}--ctstate {','.join(rng.sample(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID', 'UNTRACKED', 'SNAT', 'DNAT'], rng.randint(1, 3)))}",
                              f"{neg()}--ctorigdst {net()}", f"{neg()}--ctorigsrcport {port() if False else rng.randint(1, 65535)}",
                              f"--ctdir {rng.choice(['ORIGINAL', 'REPLY'])}", f"{neg()}--ctstatus {rng.choice(['ASSURED', 'SEEN_REPLY,CONFIRMED', 'NONE'])}",
                              f"{neg()}--ctproto {rng.choice(['tcp', 'udp', '1'])}"])
            out.append(f"-m conntrack {opt}")
        elif kind == "state":
            out.append(f"-m state {neg()}--state {','.join(rng.sample(['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'], rng.randint(1, 2)))}")
        elif kind in ("mark", "connmark"):
            out.append(f"-m {kind} {neg()}--mark {mark()}")
        elif kind == "multiport" and proto in ("tcp", "udp", "sctp", "6", "17"):
            out.append(f"-m multiport {neg()}--{rng.choice(['dports', 'sports', 'ports'])} {','.join(port().replace(':', '') or '1' for _ in range(rng.randint(1, 4)))}")
        elif kind == "addrtype":
            out.append(f"-m addrtype {neg()}--{rng.choice(['src-type', 'dst-type'])} {','.join(rng.sample(['LOCAL', 'UNICAST', 'BROADCAST', 'MULTICAST', 'BLACKHOLE'], rng.randint(1, 2)))}")
        elif kind == "statistic":
            out.append(rng.choice([f"-m statistic --mode random {neg()}--probability {rng.choice(['0.5', '0.33333333349', '0.1', '1', '0', '0.12345678901234'])}",
                                   f"-m statistic --mode nth {neg()}--every {(e := rng.randint(1, 9))} --packet {rng.randint(0, e - 1)}"]))
        elif kind == "limit":
            out.append(f"-m limit --limit {rng.randint(1, 500)}/{rng.choice(['s', 'second', 'm', 'minute', 'hour', 'day', 'h'])}" + rng.choice(["", f" --limit-burst {rng.randint(1, 100)}"]))
        elif kind == "iprange":
            out.append(f"-m iprange {neg()}--{rng.choice(['src-range', 'dst-range'])} {ip()}-{ip()}")
        elif kind == "length":
            out.append(f"-m length {neg()}--length {rng.choice([str(rng.randint(0, 1500)), f'{rng.randint(0, 500)}:{rng.randint(500, 65535)}'])}")
        elif kind == "ttl":
            out.append(f"-m ttl {rng.choice(['', '! '])}--ttl-eq {rng.randint(0, 255)}" if rng.random() < 0.5 else f"-m ttl --ttl-{rng.choice(['lt', 'gt'])} {rng.randint(0, 255)}")
        elif kind == "tos":
            out.append(f"-m tos {neg()}--tos {rng.choice(['Minimize-Delay', 'Normal-Service', '0x10', '0x08/0x0c'])}")
        elif kind == "dscp":
            out.append(f"-m dscp {neg()}" + rng.choice([f"--dscp {rng.randint(0, 63)}", f"--dscp-class {rng.choice(['EF', 'AF41', 'CS3', 'BE'])}"]))
        elif kind == "pkttype":
            out.append(f"-m pkttype {neg()}--pkt-type {rng.choice(['unicast', 'broadcast', 'multicast', 'host', 'otherhost'])}")
        elif kind == "recent":
            out.append("-m recent " + rng.choice(["--set", "--rcheck --seconds 60", "--update --seconds 10 --hitcount 3", "! --remove", "--rcheck --rttl"])
                       + rng.choice(["", " --name N1", " --rdest", " --mask 255.255.0.0"]))
        elif kind == "mac":
            out.append(f"-m mac {neg()}--mac-source {':'.join('%02x' % rng.randint(0, 255) for _ in range(6))}")
        elif kind == "physdev":
            out.append("-m physdev " + rng.choice([f"{neg()}--physdev-in veth{rng.randint(0, 9)}", f"{neg()}--physdev-is-bridged", f"--physdev-out br+ {neg()}--physdev-is-out"]))
    return out

def target(table, proto):
    ports = proto in ("tcp", "udp", "sctp", "6", "17")
    choices = {
        "filter": ["-j ACCEPT", "-j DROP", "-j RETURN", "-j USERCHAIN", "-g USERCHAIN", "", "-j REJECT",
                   f"-j REJECT --reject-with {rng.choice(['icmp-host-prohibited', 'tcp-reset', 'admin-prohib', 'icmp-net-unreachable'])}",
                   f"-j LOG --log-prefix {quoted(word()[:20])} --log-level {rng.choice(['info', '3', 'debug'])}" + rng.choice(["", " --log-uid", " --log-tcp-options"]),
                   f"-j NFLOG --nflog-group {rng.randint(0, 100)}" + rng.choice(["", f" --nflog-prefix {quoted(word())}", f" --nflog-size {rng.randint(0, 1500)}"]),
                   f"-j MARK --{rng.choice(['set-mark', 'set-xmark', 'and-mark', 'or-mark', 'xor-mark'])} {mark() if rng.random() < 0.5 else hex(rng.randint(0, 255))}",
                   f"-j CONNMARK " + rng.choice(["--save-mark", "--restore-mark --mask 0xff", f"--set-mark {mark()}", "--save-mark --nfmask 0xf --ctmask 0xf0"]),
                   f"-j NFQUEUE " + rng.choice([f"--queue-num {rng.randint(0, 9)}", "--queue-balance 0:3 --queue-bypass", ""])],
        "nat": ["-j ACCEPT", "-j RETURN", "-j USERCHAIN", "",
                f"-j DNAT --to-destination {ip()}" + (f":{rng.randint(1, 9999)}" if ports and rng.random() < 0.6 else ""),
                f"-j SNAT --to-source {ip()}-{ip()}" + rng.choice(["", " --random", " --persistent"]),
                "-j MASQUERADE" + rng.choice(["", " --random-fully", f" --to-ports {rng.randint(1024, 2000)}-{rng.randint(2000, 65535)}" if ports else ""]),
                "-j REDIRECT" + (f" --to-ports {rng.randint(1, 9999)}" if ports else ""), f"-j NETMAP --to {net()}"],
        "mangle": ["-j ACCEPT", "-j MARK --set-xmark 0x1/0xff", f"-j TOS --set-tos {rng.choice(['0x10', 'Minimize-Cost', '0x08/0x0c'])}",
                   f"-j DSCP --set-dscp {rng.randint(0, 63)}", f"-j CLASSIFY --set-class {rng.randint(0, 99)}:{rng.randint(0, 99)}", "-j TTL --ttl-set 64" if False else "-j RETURN"],
        "raw": ["-j CT --notrack", "-j NOTRACK", "-j TRACE", f"-j CT --zone {rng.randint(1, 9)}", "-j ACCEPT"],
    }
    return rng.choice(choices[table])

CHAINS = {"filter": ["INPUT", "FORWARD", "OUTPUT", "USERCHAIN"], "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "USERCHAIN"],
          "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"], "raw": ["PREROUTING", "OUTPUT"]}

def rule(table):
    proto_s, proto = proto_part()
    chain = rng.choice(CHAINS[table])
    parts = [f"-A {chain}"]
    if rng.random() < 0.4: parts.append(f"{neg()}-s {net()}")
    if rng.random() < 0.4: parts.append(f"{neg()}-d {net()}")
    if rng.random() < 0.3: parts.append(f"{neg()}-i {rng.choice(['eth0', 'eth+', 'lo', 'wg0'])}")
    if rng.random() < 0.3: parts.append(f"{neg()}-o {rng.choice(['eth1', 'br-x+', 'docker0'])}")
    if proto_s: parts.append(proto_s.strip())
    if rng.random() < 0.05: parts.append(f"{neg()}-f")
    parts += matches(proto)
    t = target(table, proto)
    if t: parts.append(t)
    rng.shuffle(parts[1:2])
    return " ".join(parts)

def main():
    ns = f"nfsim-diff-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for table in ["filter", "nat", "mangle", "raw"]:
            header = f"*{table}\n" + ("-N USERCHAIN\n" if "USERCHAIN" in CHAINS[table] else "")
            accepted = []
            for _ in range(COUNT):
                r = rule(table)
                trial = header + "".join(a + "\n" for a in accepted) + r + "\nCOMMIT\n"
                ok = subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy-restore"], input=trial.encode(),
                                    capture_output=True).returncode == 0
                if ok:
                    accepted.append(r)
            text = header + "".join(a + "\n" for a in accepted) + "COMMIT\n"
            subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy-restore"], input=text.encode(), check=True)
            dump = subprocess.run(["ip", "netns", "exec", ns, "iptables-legacy-save", "-t", table], capture_output=True, check=True).stdout.decode()
            dump = "".join(l + "\n" for l in dump.splitlines() if not l.startswith("#"))
            base = os.path.join(OUT, f"{PREFIX}_{table}")
            open(base + ".in", "w").write(f"# {len(accepted)} random rules (seed {SEED}) that iptables-legacy-restore accepted\n" + text)
            open(base + ".out", "w").write(dump)
            print(f"{table}: {len(accepted)} of {COUNT} random rules accepted")
    finally:
        subprocess.run(["ip", "netns", "del", ns])

main()
