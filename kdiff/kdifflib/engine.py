"""The engine side: `nfsim trace --format json --all-branches` on the same
scenario, read into the same shape as the kernel's result."""
import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_NFSIM = os.path.join(HERE, "target", "release", "nfsim")


def nfsim_path():
    return os.environ.get("NFSIM", DEFAULT_NFSIM)


def run_nfsim(args, text):
    p = subprocess.run([nfsim_path()] + args, input=text, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def check(ruleset_text):
    """nfsim check's exit status (0 accepted, 1 errors) and its messages."""
    rc, out, err = run_nfsim(["check", "-"], ruleset_text)
    return rc, err.strip()


def _events(packet):
    out = []
    for s in packet["steps"]:
        k = s["kind"]
        if k == "rule" and s.get("matched"):
            v = s.get("verdict", "continue")
            if v in ("jump", "goto"):
                v = v.upper() + " " + s.get("target", "?")
            elif v == "reject":
                v = "DROP"
            else:
                v = v.upper()
            out.append({"hook": s["hook"], "table": s["table"], "chain": s["chain"], "kind": "rule",
                        "rule": s["rule"], "verdict": v})
        elif k == "return":
            out.append({"hook": s["hook"], "table": s["table"], "chain": s["chain"], "kind": "return"})
        elif k == "policy":
            out.append({"hook": s["hook"], "table": s["table"], "chain": s["chain"], "kind": "policy",
                        "verdict": s["verdict"].upper()})
    return out


# nfsim's note when a new connection's source port clashed with another
# connection's reply tuple and moved to a random free one, in LO-HI.
UNIQUE_PORT = re.compile(r"nf_nat_l4proto_unique_tuple, a random free port in (\d+)-(\d+)")


def _packet(p):
    res = {"events": _events(p), "fate": dict(p["fate"]), "packet_out": p.get("packet_out")}
    ranges = [tuple(int(x) for x in m.groups())
              for s in p["steps"] if s["kind"] == "conntrack"
              for m in [UNIQUE_PORT.search(s.get("state", ""))] if m]
    if ranges:
        res["random_ports"] = ranges
    a = p.get("answer")
    if a and a.get("cause") == "reject":
        # REJECT's answer as it left, after its own walk through OUTPUT and
        # POSTROUTING; or none, when a rule or the stack dropped it there.
        f = a["fate"]
        if f["result"] in ("sent", "forwarded") and a.get("packet_out"):
            res["reject"] = {"oif": f["oif"], "reply": a["packet_out"]}
        elif f["result"] != "delivered-local":
            res["reject_dropped"] = a["packet"]
    return res


def _trace(scenario, args):
    """`nfsim trace --format json ARGS` on the scenario: (parsed output,
    stopped or None), or ({"error": ...}, None). The scenario is cut short
    (with "stopped") where a derived packet has nothing to answer, as the
    kernel run is."""
    sc = dict(scenario)
    stopped = None
    while True:
        rc, out, err = run_nfsim(["trace", "--format", "json"] + args + ["-"], json.dumps(sc))
        if rc == 0:
            return json.loads(out), stopped
        m = re.search(r"packet (\d+): packet \d+ never left the host", err)
        if m and int(m.group(1)) > 0:
            n = int(m.group(1))
            stopped = {"packet": n, "reason": err.strip()}
            sc = dict(sc)
            sc["packets"] = sc["packets"][:n]
            continue
        return {"error": err.strip() or "nfsim exited %d" % rc}, None


def trace(scenario):
    """Every outcome nfsim gives the scenario: [{"probability", "packets": [...]}],
    cut short (with "stopped") where a derived packet has nothing to answer,
    as the kernel run is."""
    out, stopped = _trace(scenario, ["--all-branches"])
    if "error" in out:
        return out
    outcomes = []
    for o in out["outcomes"]:
        outcomes.append({"probability": o["probability"], "packets": [_packet(p) for p in o["packets"]]})
    res = {"outcomes": outcomes}
    if stopped:
        res["stopped"] = stopped
    return res


def branch(scenario, choices):
    """One branch of nfsim's random choices (`nfsim trace --choices`), in
    trace()'s shape with one outcome, which also lists the choices made:
    [{"matched", "probability", "packet"}] (the packet each was made for)."""
    bits = "".join("1" if c else "0" for c in choices)
    out, stopped = _trace(scenario, ["--choices", bits])
    if "error" in out:
        return out
    res = {"outcomes": [{"probability": out["probability"], "choices": out["choices"],
                         "packets": [_packet(p) for p in out["packets"]]}]}
    if stopped:
        res["stopped"] = stopped
    return res
