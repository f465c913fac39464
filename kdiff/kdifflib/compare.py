"""Kernel against engine, packet by packet: matched rules with their
verdicts, returns and policies hook by hook; the fate and the outgoing
interface; the packet as it left; REJECT's answer.  With random rules the
kernel's run must equal one of nfsim's outcomes (all-branches)."""
import re


def event_text(e):
    s = "%s %s %s %s" % (e.get("hook"), e["table"], e["chain"], e["kind"])
    if e["kind"] == "rule":
        s += " %s" % e.get("rule")
    if e.get("verdict"):
        s += " " + e["verdict"]
    return s


def port_ranges(ruleset):
    """Ports the kernel may pick at random: NAT with --random/--random-fully
    anywhere, SNAT/MASQUERADE port ranges."""
    ranges = []
    if re.search(r"--random(-fully)?\b", ruleset):
        ranges.append((1, 65535))
    for m in re.finditer(r"-j (?:SNAT|MASQUERADE|REDIRECT)[^\n]*?(?:--to-source [\d.\-]+:|--to-ports )(\d+)(?:-(\d+))?", ruleset):
        lo = int(m.group(1))
        hi = int(m.group(2) or lo)
        ranges.append((lo, hi))
    return ranges


def _same_port(a, b, ranges):
    if a == b:
        return True
    return any(lo <= a <= hi and lo <= b <= hi for lo, hi in ranges)


def compare_packet(k, e, ranges):
    """Differences between the kernel's packet `k` and nfsim's `e` (strings)."""
    diffs = []
    ke = [event_text(x) for x in k["events"]]
    ee = [event_text(x) for x in e["events"]]
    if ke != ee:
        diffs.append({"what": "rules", "kernel": ke, "nfsim": ee})
    kf, ef = k["fate"], e["fate"]
    if kf["result"] != ef["result"] or kf.get("oif") != ef.get("oif"):
        diffs.append({"what": "fate", "kernel": kf, "nfsim": ef})
        return diffs
    ko, eo = k.get("packet_out"), e.get("packet_out")
    # A port nfsim moved to a random free one (a NAT clash) is compared as a range.
    ranges = ranges + e.get("random_ports", [])
    if kf["result"] in ("forwarded", "sent") and ko and eo:
        bad = []
        for f in ("src", "dst", "protocol"):
            if str(ko.get(f)) != str(eo.get(f)):
                bad.append(f)
        if ko.get("protocol") in ("tcp", "udp"):
            for f in ("sport", "dport"):
                if not _same_port(ko.get(f), eo.get(f), ranges):
                    bad.append(f)
        if ko.get("protocol") == "tcp" and ko.get("tcp_flags") != eo.get("tcp_flags"):
            bad.append("tcp_flags")
        if ko.get("protocol") == "icmp":
            for f in ("icmp_type", "icmp_code"):
                if ko.get(f) != eo.get(f):
                    bad.append(f)
            if "inner" in ko or eo.get("inner"):
                ki, ei = ko.get("inner") or {}, eo.get("inner") or {}
                fields = ("src", "dst", "sport", "dport") if ki.get("protocol") in ("tcp", "udp") else ("src", "dst")
                for f in fields:
                    if ki.get(f) != ei.get(f) and not (f.endswith("port") and _same_port(ki.get(f), ei.get(f), ranges)):
                        bad.append("inner." + f)
        if bad:
            diffs.append({"what": "packet_out", "fields": bad, "kernel": _brief(ko), "nfsim": _brief(eo)})
    if kf["result"] == "rejected" and e.get("reject") and e["reject"]["oif"] != "lo":
        r = e["reject"]["reply"]
        cands = [h for h in k.get("host_sent", []) if h.get("via") == e["reject"]["oif"]]
        ok = any(all(str(h.get(f)) == str(r.get(f)) for f in ("src", "dst", "protocol"))
                 and (r["protocol"] != "icmp" or (h.get("icmp_type"), h.get("icmp_code")) == (r.get("icmp_type"), r.get("icmp_code")))
                 and (r["protocol"] != "tcp" or (h.get("sport"), h.get("dport"), h.get("tcp_flags")) == (r.get("sport"), r.get("dport"), r.get("tcp_flags")))
                 for h in cands)
        if not ok:
            diffs.append({"what": "reject_reply", "kernel": [_brief(h) for h in k.get("host_sent", [])],
                          "nfsim": dict(r, via=e["reject"]["oif"])})
    if kf["result"] == "rejected" and e.get("reject_dropped"):
        r = e["reject_dropped"]
        sent = [h for h in k.get("host_sent", [])
                if h.get("dst") == r.get("dst") and h.get("protocol") == r.get("protocol")]
        if sent:
            diffs.append({"what": "reject_reply", "kernel": [_brief(h) for h in sent],
                          "nfsim": "nothing (its answer did not leave)"})
    return diffs


def _brief(p):
    if not p:
        return p
    keys = ("src", "dst", "protocol", "sport", "dport", "tcp_flags", "icmp_type", "icmp_code", "inner", "via")
    return {k: p[k] for k in keys if k in p}


def compare(kernel, engine, ruleset):
    """None when they agree, else the closest outcome's differences:
    {"packet": i, "diffs": [...]} (the first packet that differs)."""
    if "error" in engine:
        return {"packet": None, "diffs": [{"what": "nfsim-error", "nfsim": engine["error"]}]}
    ranges = port_ranges(ruleset)
    best = None
    kp = kernel["packets"]
    for o in engine["outcomes"]:
        ep = o["packets"]
        result = None
        # A port nfsim moved to a random free one stays the connection's for
        # its later packets: compared as a range from then on.
        moved = []
        for i in range(max(len(kp), len(ep))):
            if i < len(ep):
                moved += ep[i].get("random_ports", [])
            if i >= len(ep) and engine.get("stopped"):
                # nfsim cut the scenario short: in some branch of its random
                # choices a later packet answers one that never left. The
                # packets both ran are what can be compared.
                break
            if i >= len(kp) or i >= len(ep):
                result = {"packet": i, "diffs": [{"what": "stopped",
                                                  "kernel": kernel.get("stopped"), "nfsim": engine.get("stopped")}]}
                break
            d = compare_packet(kp[i], ep[i], ranges + moved)
            if d:
                result = {"packet": i, "diffs": d}
                break
        if result is None:
            return None
        # The closest outcome: the one that agrees longest.
        if best is None or result["packet"] > best["packet"]:
            best = result
    if best is not None:
        best["outcomes"] = len(engine["outcomes"])
    return best


def signature(diff):
    """A short class name for a disagreement: what differs, where."""
    parts = []
    for d in diff["diffs"]:
        w = d["what"]
        if w == "fate":
            parts.append("fate:%s->%s" % (d["nfsim"].get("result"), d["kernel"].get("result")))
        elif w == "packet_out":
            parts.append("packet_out:" + ",".join(d["fields"]))
        else:
            parts.append(w)
    return " ".join(parts)


# nfsim trace --all-branches lists at most this many outcomes (cli/src/main.rs).
OUTCOME_CAP = 4096

STATEFUL = re.compile(r"--mode (nth|random)|-m (limit|recent|connmark)\b|-j (CONNMARK|NOTRACK|CT)\b")


def _is_many(dst):
    first = dst.split(".")[0] if dst else ""
    return dst.endswith(".255") or first in {str(n) for n in range(224, 240)}


def _rule_text(ruleset, event):
    """The iptables-save line of a rule event (None for returns and policies)."""
    if not event or " rule " not in event:
        return None
    w = event.split()
    table, chain, index = w[1], w[2], int(w[4])
    from .rules import Ruleset
    r = Ruleset(ruleset).rule(table, chain, index)
    return r.text if r else None


def facts(scenario, kernel, diff):
    """What a known difference may ask of a case (see known-differences.json):
    host_answers: the host's stack sent something of its own (a locally delivered
      packet, a REJECT, a frame the peers saw) up to the packet that differs;
    stack_icmp_error: up to the packet that differs, the stack dropped a packet
      outside the rules and sent an ICMP error for it (time exceeded, unreachable);
    stateful_rule_differs: the first rule event that differs is a rule with state
      (nth, random, limit, recent, CONNMARK, NOTRACK, CT);
    local_broadcast: the packet that differs is a local one to a broadcast or
      multicast address;
    reject_answer_missing / reject_answer_translated: REJECT's answer never left,
      or left from another address;
    kernel_remapped_port: the only difference is a port the kernel changed on a
      packet no NAT rule matched (and nfsim kept);
    raw_output_touches_answers: the raw table can drop or untrack what the host
      sends (OUTPUT policy DROP, a DROP, NOTRACK or CT rule), before conntrack;
    outcomes_capped: nfsim listed as many outcomes as --all-branches lists (4096),
      and the branch-by-branch search beyond them ran out of budget, so the
      kernel's combination of random draws may be one neither looked at;
    answers_a_random_nat_port: the packet that differs answers another (reply_to,
      icmp_error_for) and the ruleset lets the kernel pick NAT ports at random."""
    out = set()
    kp = [p for p in kernel.get("packets", []) if not p.get("skipped")]
    at = diff.get("packet")
    upto = len(kp) if at is None else at + 1
    for p in kp[:upto]:
        f = p.get("fate", {}).get("result")
        if f in ("delivered-local", "rejected") or p.get("host_sent"):
            out.add("host_answers")
        if f == "dropped-outside-rules" and any(h.get("protocol") == "icmp" for h in p.get("host_sent", [])):
            out.add("stack_icmp_error")
    if at is not None and at < len(kp):
        sent = kp[at].get("sent", {})
        if kp[at].get("from") == "local" and _is_many(sent.get("dst", "")):
            out.add("local_broadcast")
    raw = re.search(r"(?ms)^\*raw$(.*?)^COMMIT$", scenario["ruleset"])
    if raw and re.search(r":OUTPUT DROP|-j (DROP|NOTRACK|CT)\b", raw.group(1)):
        out.add("raw_output_touches_answers")
    if at is not None and at < len(kp) and port_ranges(scenario["ruleset"]):
        i = kp[at].get("index", at)
        spec = scenario["packets"][i] if i < len(scenario["packets"]) else {}
        if "reply_to" in spec or "icmp_error_for" in spec:
            out.add("answers_a_random_nat_port")
    if diff.get("outcomes", 0) >= OUTCOME_CAP and not diff.get("search", {}).get("complete"):
        out.add("outcomes_capped")
    for d in diff["diffs"]:
        if d["what"] == "rules":
            k, e = d["kernel"], d["nfsim"]
            i = next((n for n in range(min(len(k), len(e))) if k[n] != e[n]), min(len(k), len(e)))
            for ev in (k[i] if i < len(k) else None, e[i] if i < len(e) else None):
                text = _rule_text(scenario["ruleset"], ev)
                if text and STATEFUL.search(text):
                    out.add("stateful_rule_differs")
        if d["what"] == "packet_out" and d["fields"] in (["sport"], ["dport"]) and at is not None and at < len(kp):
            # The kernel gave the packet another port though no NAT rule matched
            # it: the null binding's clash resolution (nf_nat_used_tuple).
            f = d["fields"][0]
            sent = kp[at].get("sent", {})
            # A nat rule that matched but asks for no port (NETMAP, SNAT or
            # DNAT to an address only, MASQUERADE without --to-ports) leaves
            # the port to the clash resolution as much as the null binding.
            def sets_ports(ev):
                text = _rule_text(scenario["ruleset"], event_text(ev)) or ""
                return bool(re.search(r"--to-ports|--to-(?:source|destination) [\d.\-]+:\d|--random", text))
            nat_rule = any(ev["table"] == "nat" and ev["kind"] == "rule" and sets_ports(ev)
                           for ev in kp[at].get("events", []))
            if d["nfsim"].get(f) == sent.get(f) != d["kernel"].get(f) and not nat_rule:
                out.add("kernel_remapped_port")
        if d["what"] == "reject_reply" and isinstance(d["nfsim"], dict):
            if not d["kernel"]:
                out.add("reject_answer_missing")
            elif any(h.get("dst") == d["nfsim"].get("dst") and h.get("protocol") == d["nfsim"].get("protocol")
                     and h.get("src") != d["nfsim"].get("src") for h in d["kernel"]):
                out.add("reject_answer_translated")
    return out
