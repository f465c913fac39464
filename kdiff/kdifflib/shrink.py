"""Shrink a disagreeing scenario while it keeps disagreeing the same way:
drop packets (fixing the reply_to/icmp_error_for references), tables, user
chains, rules, the parts of a rule (an option, a match with its options),
policies back to ACCEPT, the host's extra addresses, routes and sysctls."""
import copy
import json
import shlex
import time

from .rules import BUILTIN


def _lines(ruleset):
    return ruleset.splitlines()


def _drop_packet(sc, j):
    """The scenario without packet j, or None when a later packet cannot do without it."""
    pk = []
    for i, p in enumerate(sc["packets"]):
        if i == j:
            continue
        q = dict(p)
        for key in ("reply_to", "icmp_error_for"):
            if key in q:
                if q[key] == j:
                    return None
                if q[key] > j:
                    q[key] -= 1
        pk.append(q)
    out = dict(sc)
    out["packets"] = pk
    return out


def _rule_groups(tokens):
    """A rule's tokens cut into removable groups; the target group comes last."""
    groups, cur = [], []
    starts = {"-p", "-s", "-d", "-i", "-o", "-m", "-j", "-g", "-f", "--protocol", "--source",
              "--destination", "--in-interface", "--out-interface", "--match", "--jump", "--goto"}
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t == "!" and i + 1 < len(tokens) and tokens[i + 1] in starts:
            if cur:
                groups.append(cur)
            cur = [t]
            i += 1
            t = tokens[i]
            cur.append(t)
        elif t in starts and not (cur == ["!"]):
            if cur:
                groups.append(cur)
            cur = [t]
        else:
            cur.append(t)
        i += 1
    if cur:
        groups.append(cur)
    # Split a match's options into single ones (-m tcp --dport 80 --syn -> each option).
    out = []
    for g in groups:
        if g[0] in ("-m", "--match") and len(g) > 2:
            opts, cur = [], []
            for t in g[2:]:
                if t.startswith("--") or (t == "!" and not cur):
                    if cur and cur != ["!"]:
                        opts.append(cur)
                        cur = []
                cur.append(t)
            if cur:
                opts.append(cur)
            if len(opts) > 1:
                out.append(("match", g[:2], opts))
                continue
        out.append(("plain", g, None))
    return out


def _quote(tokens):
    return " ".join(t if t and all(c.isalnum() or c in "-_.:/,!+" for c in t) else '"%s"' % t
                    for t in tokens)


def _rule_variants(line):
    """Simpler versions of one `-A CHAIN ...` line."""
    try:
        toks = shlex.split(line)
    except ValueError:
        return []
    head, body = toks[:2], toks[2:]
    groups = _rule_groups(body)
    out = []
    for gi, (kind, g, opts) in enumerate(groups):
        rest = [x for x in groups]
        flat = lambda gs: [t for k, gg, oo in gs for t in (gg if k == "plain" else gg + [u for o in oo for u in o])]
        without = flat(rest[:gi] + rest[gi + 1:])
        out.append(_quote(head + without))
        if kind == "match":
            for oi in range(len(opts)):
                o2 = opts[:oi] + opts[oi + 1:]
                out.append(_quote(head + flat(rest[:gi] + [("match", g, o2)] + rest[gi + 1:])))
        if g and g[0] in ("-j", "--jump") and len(g) > 2:
            out.append(_quote(head + flat(rest[:gi]) + g[:2] + flat(rest[gi + 1:])))
    return out


def candidates(sc, focus):
    """Smaller scenarios, biggest cuts first."""
    n = len(sc["packets"])
    if focus is not None and focus + 1 < n:
        c = dict(sc)
        c["packets"] = sc["packets"][:focus + 1]
        yield c
    for j in range(n - 1, -1, -1):
        c = _drop_packet(sc, j)
        if c is not None and c["packets"]:
            yield c
    lines = _lines(sc["ruleset"])
    # Whole tables.
    starts = [i for i, l in enumerate(lines) if l.startswith("*")]
    for s in starts:
        e = next(i for i in range(s, len(lines)) if lines[i].strip() == "COMMIT" or i == len(lines) - 1)
        rest = lines[:s] + lines[e + 1:]
        if any(l.startswith("*") for l in rest):
            yield dict(sc, ruleset="\n".join(rest) + "\n")
    # User chains, with the rules that reach them.
    table = None
    for i, l in enumerate(lines):
        if l.startswith("*"):
            table = l[1:].strip()
        if l.startswith(":") and l[1:].split()[0] not in BUILTIN.get(table, []):
            name = l[1:].split()[0]
            def reaches(x):
                w = x.split()
                return any(w[k] in ("-j", "-g", "--jump", "--goto") and w[k + 1] == name
                           for k in range(len(w) - 1))
            keep = [x for x in lines if x != l and not x.startswith("-A %s " % name) and not reaches(x)]
            yield dict(sc, ruleset="\n".join(keep) + "\n")
    # Rules: halves, quarters, ..., single ones.
    rule_idx = [i for i, l in enumerate(lines) if l.startswith("-A ")]
    size = len(rule_idx) // 2
    while size >= 1:
        for s in range(0, len(rule_idx), size):
            cut = set(rule_idx[s:s + size])
            yield dict(sc, ruleset="\n".join(l for i, l in enumerate(lines) if i not in cut) + "\n")
        size //= 2
    # Policies.
    for i, l in enumerate(lines):
        if l.startswith(":") and " DROP " in l:
            yield dict(sc, ruleset="\n".join(lines[:i] + [l.replace(" DROP ", " ACCEPT ")] + lines[i + 1:]) + "\n")
    # Parts of rules.
    for i in rule_idx:
        for v in _rule_variants(lines[i]):
            if v != lines[i]:
                yield dict(sc, ruleset="\n".join(lines[:i] + [v] + lines[i + 1:]) + "\n")
    # The host.
    host = sc.get("host", {})
    for k, itf in enumerate(host.get("interfaces", [])):
        for a in itf.get("addresses", [])[1:]:
            h = copy.deepcopy(host)
            h["interfaces"][k]["addresses"].remove(a)
            yield dict(sc, host=h)
    for k, r in enumerate(host.get("routes", [])):
        if r.get("to") == "default":
            continue
        h = copy.deepcopy(host)
        del h["routes"][k]
        yield dict(sc, host=h)
    defaults = {"ip_forward": True, "rp_filter": 0, "route_localnet": False}
    for key, v in defaults.items():
        if host.get("sysctl", {}).get(key, v) != v:
            h = copy.deepcopy(host)
            h["sysctl"][key] = v
            yield dict(sc, host=h)
    # Packets' details.
    for j, p in enumerate(sc["packets"]):
        for key in ("mark", "src", "tcp_flags", "icmp_code"):
            if key in p and not (key == "src" and p.get("from") != "local"):
                q = dict(p)
                del q[key]
                pk = list(sc["packets"])
                pk[j] = q
                yield dict(sc, packets=pk)


def shrink(sc, still_fails, focus=None, budget=240.0, log=None):
    """Greedy: take the first candidate that still fails, start again; stop
    when none does (or the time budget is spent)."""
    t0 = time.monotonic()
    cur = sc
    tries = 0
    seen = set()
    progress = True
    while progress and time.monotonic() - t0 < budget:
        progress = False
        for c in candidates(cur, focus):
            key = json.dumps(c, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            tries += 1
            if time.monotonic() - t0 >= budget:
                break
            ok, new_focus = still_fails(c)
            if ok:
                cur, focus = c, new_focus
                progress = True
                if log:
                    log("  shrink: %d rules, %d packets" % (cur["ruleset"].count("\n-A "), len(cur["packets"])))
                break
    return cur, tries
