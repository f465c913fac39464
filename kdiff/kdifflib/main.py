"""kdiff/run: generated scenarios through the kernel and through nfsim,
compared; disagreements minimised into kdiff/out/."""
import argparse
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from . import compare, engine, gen, kernel, netns, shrink

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(HERE)
RESTORE = {"nft": "iptables-nft-restore", "legacy": "iptables-legacy-restore"}


def log(*a):
    print(*a, flush=True)


def preflight(backends):
    """Why the kernel side cannot run here, or None."""
    if os.geteuid() != 0:
        return "not running as root"
    for b in backends:
        if shutil.which(RESTORE[b]) is None:
            return "%s is not installed" % RESTORE[b]
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    names = netns.new_names(["t"])
    try:
        netns.add(names.values())
        p = netns.run(["nft", "list", "tables"], ns=names["t"], check=False)
        if p.returncode != 0:
            return "nf_tables does not work in a network namespace: " + p.stderr.strip()
    except Exception as e:  # noqa: BLE001 - any failure means: cannot run
        return "cannot create a network namespace: %s" % e
    finally:
        netns.delete(names.values())
    return None


def ensure_nfsim():
    path = engine.nfsim_path()
    if not os.path.exists(path):
        log("building the CLI (cargo build --release -p nfsim-cli -j 1)")
        subprocess.run(["cargo", "build", "--release", "-p", "nfsim-cli", "-j", "1"], cwd=ROOT, check=True)
    return path


def load_known(path):
    if not os.path.exists(path):
        return []
    entries = json.load(open(path))
    for e in entries:
        if not e.get("id") or not e.get("explanation", "").strip():
            raise SystemExit("%s: every entry needs an id and an explanation (%r)" % (path, e))
    return entries


def known_match(entries, sc, diff, backend, kernel_result=None):
    sig = compare.signature(diff)
    text = json.dumps(diff)
    have = compare.facts(sc, kernel_result or {}, diff)
    for e in entries:
        if "validate" in e:
            continue
        if e.get("backend") not in (None, "both", backend):
            continue
        if not set(e.get("facts", [])) <= have:
            continue
        if e.get("facts_any") and not set(e["facts_any"]) & have:
            continue
        if "signature" in e and not re.search(e["signature"], sig):
            continue
        if "ruleset" in e and not re.search(e["ruleset"], sc["ruleset"]):
            continue
        if "packets" in e and not re.search(e["packets"], json.dumps(sc["packets"])):
            continue
        if "host" in e and not re.search(e["host"], json.dumps(sc.get("host", {}))):
            continue
        if "diff" in e and not re.search(e["diff"], text):
            continue
        return e["id"]
    return None


def one(sc, backend):
    """Run a scenario both ways: (kernel, nfsim, diff or None, note)."""
    sc = dict(sc, backend=backend)
    rc, msg = engine.check(sc["ruleset"])
    k = kernel.KernelRun(sc, backend).run()
    if not k.get("loaded"):
        if rc == 0:
            return k, None, {"packet": None, "diffs": [{"what": "validator", "kernel": k.get("error"),
                                                         "nfsim": "accepted"}]}, "kernel-refused"
        return k, None, None, "both-refused"
    if rc != 0:
        return k, None, {"packet": None, "diffs": [{"what": "validator", "kernel": "accepted",
                                                     "nfsim": msg}]}, "nfsim-refused"
    reduced, kp = kernel.kept(sc, k)
    e = engine.trace(reduced)
    d = compare.compare(dict(k, packets=kp), e, sc["ruleset"])
    if d is not None and len(e.get("outcomes", [])) >= compare.OUTCOME_CAP:
        # More combinations of random draws than --all-branches lists: look
        # for the kernel's among the rest, branch by branch.
        found, tried, complete = search_branches(reduced, dict(k, packets=kp), sc["ruleset"])
        if found is None:
            return k, e, None, "agree on one of %d branches searched beyond the first %d outcomes" % (
                tried, compare.OUTCOME_CAP)
        if found["packet"] is not None and (d["packet"] is None or found["packet"] >= d["packet"]):
            d = found
        d["outcomes"] = compare.OUTCOME_CAP
        d["search"] = {"branches": tried, "complete": complete}
    return k, e, d, None


def search_branches(sc, k, ruleset, budget=3000):
    """nfsim's branch of the random draws that agrees with the kernel's run:
    a depth-first walk over `nfsim trace --choices`, where a branch that first
    differs at packet j is varied only in the draws made for packets up to j
    (a later draw cannot change packet j). Returns (None, branches tried,
    True) when one agrees, else (the closest difference, branches tried,
    whether every branch that could agree was tried)."""
    pending = [[]]
    best = None
    tried = 0
    while pending:
        if tried >= budget:
            return best, tried, False
        prefix = pending.pop()
        tried += 1
        e = engine.branch(sc, prefix)
        if "error" in e:
            return {"packet": None, "diffs": [{"what": "nfsim-error", "nfsim": e["error"]}]}, tried, True
        o = e["outcomes"][0]
        if o["probability"] <= 0:
            continue
        d = compare.compare(k, e, ruleset)
        if d is None:
            return None, tried, True
        if best is None or (d["packet"] or 0) > (best["packet"] or 0):
            best = d
        upto = d["packet"] if d["packet"] is not None else len(k["packets"])
        made = o["choices"]
        for i in range(len(prefix), len(made)):
            c = made[i]
            if c["packet"] is not None and c["packet"] <= upto and c["probability"] < 1:
                pending.append([x["matched"] for x in made[:i]] + [not c["matched"]])
    return best, tried, True


def still_fails_fn(backend, sig):
    def f(c):
        try:
            if engine.check(c["ruleset"])[0] != 0:
                return False, None
            k, e, d, note = one(c, backend)
        except kernel.Unsupported:
            return False, None
        if d is None or note:
            return False, None
        return compare.signature(d) == sig, d.get("packet")
    return f


def write_case(outdir, name, sc, backend, diff, original=None):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    sc = dict(sc, backend=backend)
    json.dump(sc, open(os.path.join(d, "scenario.json"), "w"), indent=1)
    if original is not None:
        json.dump(dict(original, backend=backend), open(os.path.join(d, "original.json"), "w"), indent=1)
    k = kernel.KernelRun(sc, backend).run()
    json.dump(kernel.strip_raw(k), open(os.path.join(d, "kernel.json"), "w"), indent=1)
    rc, out, err = engine.run_nfsim(["trace", "--format", "json", "--all-branches", "-"], json.dumps(sc))
    open(os.path.join(d, "nfsim.json"), "w").write(out or err)
    rc, out, err = engine.run_nfsim(["trace", "-"], json.dumps(sc))
    open(os.path.join(d, "nfsim.txt"), "w").write(out or err)
    json.dump(diff, open(os.path.join(d, "diff.json"), "w"), indent=1)
    return d


def summary_line(diff):
    parts = []
    for x in diff["diffs"]:
        if x["what"] == "rules":
            parts.append("rules: kernel %s / nfsim %s" % (x["kernel"], x["nfsim"]))
        else:
            parts.append("%s: kernel %s / nfsim %s" % (x["what"], json.dumps(x.get("kernel")), json.dumps(x.get("nfsim"))))
    return ("packet %s: " % diff["packet"]) + "; ".join(parts)


def run_cases(args, backends, known):
    outdir = args.out
    os.makedirs(outdir, exist_ok=True)
    stats = {b: {"cases": 0, "agree": 0, "skipped": 0, "refused": 0, "seconds": 0.0, "packets": 0} for b in backends}
    found = []   # (backend, index, scenario, diff)
    t_all = time.monotonic()
    for i in range(args.cases):
        for b in backends:
            sc = gen.generate(args.seed, i, b)
            t0 = time.monotonic()
            try:
                k, e, d, note = one(sc, b)
            except kernel.Unsupported as ex:
                stats[b]["skipped"] += 1
                log("case %d %s: skipped (%s)" % (i, b, ex))
                continue
            except kernel.KernelError as ex:
                stats[b]["skipped"] += 1
                log("case %d %s: kernel run failed (%s)" % (i, b, ex))
                continue
            dt = time.monotonic() - t0
            st = stats[b]
            if note == "both-refused":
                st["refused"] += 1
                log("case %d %s: both refuse the ruleset: %s" % (i, b, k.get("error", "").splitlines()[-1:]))
                continue
            st["cases"] += 1
            st["seconds"] += dt
            st["packets"] += len([p for p in k.get("packets", []) if not p.get("skipped")])
            if d is None:
                st["agree"] += 1
            else:
                found.append((b, i, sc, d, k))
                if not args.quiet:
                    log("case %d %s: DISAGREE [%s] %s" % (i, b, compare.signature(d), summary_line(d)[:300]))
        if not args.quiet and (i + 1) % 25 == 0:
            log("... %d cases, %s, %.0f s" % (i + 1, ", ".join("%s %d/%d" % (b, stats[b]["agree"], stats[b]["cases"])
                                                              for b in backends), time.monotonic() - t_all))
    # Minimise: the first few of each class (per backend and signature).
    results = []
    per_class = {}
    for b, i, sc, d, k in found:
        sig = compare.signature(d)
        key = (b, sig)
        name = "%s-%s-%d" % (args.seed, b, i)
        small = sc
        kid = known_match(known, sc, d, b, k)
        if (kid is None or args.minimise_known) and not args.no_minimise \
                and per_class.get(key, 0) < args.minimise_per_class and "validator" not in sig:
            per_class[key] = per_class.get(key, 0) + 1
            log("minimising case %d %s [%s]" % (i, b, sig))
            small, tries = shrink.shrink(sc, still_fails_fn(b, sig), focus=d.get("packet"),
                                         budget=args.minimise_budget)
            k2, e2, d2, note = one(small, b)
            if d2 is not None:
                d, k = d2, k2
            else:
                small = sc  # it no longer disagrees (a random choice went the other way)
            kid = known_match(known, small, d, b, k)
        path = write_case(outdir, name, small, b, d, original=sc) if (kid is None or args.write_known) else None
        results.append({"backend": b, "case": i, "signature": compare.signature(d), "known": kid, "path": path,
                        "minimised": small is not sc, "summary": summary_line(d)})
    return stats, results, time.monotonic() - t_all


def validate(args, backends):
    """nfsim check against iptables-restore --test and a real load, per backend,
    on every generated ruleset and on deliberately invalid ones."""
    fixtures = os.path.join(ROOT, "engine", "tests", "fixtures", "invalid")
    sets = []
    for i in range(args.cases):
        g = gen.Gen(args.seed, i)
        g.host()
        sets.append(("generated %d" % i, g.ruleset()))
        name, text = gen.mutate_invalid(args.seed, i)
        sets.append(("invalid %d (%s)" % (i, name), text))
    if os.path.isdir(fixtures):
        for f in sorted(os.listdir(fixtures)):
            if f.endswith(".rules"):
                sets.append(("fixture " + f, open(os.path.join(fixtures, f)).read()))
    names = netns.new_names(["v"])
    netns.add(names.values())
    ns = names["v"]
    stats = {b: {"n": 0, "agree_test": 0, "agree_load": 0, "test_vs_load": 0} for b in backends}
    bad = []
    try:
        for label, text in sets:
            rc, msg = engine.check(text)
            ours = rc == 0
            for b in backends:
                t = netns.run([RESTORE[b], "--test"], ns=ns, input_text=text, check=False)
                # A real load, then flush what it loaded.
                l = netns.run([RESTORE[b]], ns=ns, input_text=text, check=False)
                for tbl in ("raw", "mangle", "nat", "filter", "security"):
                    netns.run([RESTORE[b].replace("-restore", "")] + ["-t", tbl, "-F"], ns=ns, check=False)
                    netns.run([RESTORE[b].replace("-restore", "")] + ["-t", tbl, "-X"], ns=ns, check=False)
                if b == "nft":
                    netns.run(["nft", "flush", "ruleset"], ns=ns, check=False)
                st = stats[b]
                st["n"] += 1
                test_ok, load_ok = t.returncode == 0, l.returncode == 0
                st["agree_test"] += ours == test_ok
                st["agree_load"] += ours == load_ok
                st["test_vs_load"] += test_ok != load_ok
                # The kernel's real load decides; --test only where it says the same.
                if ours != load_ok:
                    first_error = next((m for m in msg.splitlines() if "error" in m), msg[:300])
                    bad.append({"backend": b, "ruleset": label,
                                "nfsim": "accepts" if ours else "refuses: " + first_error,
                                "kernel": "loads" if load_ok else "refuses: " + (l.stderr or l.stdout).strip()[:300],
                                "test": "accepts" if test_ok else "refuses",
                                "text": text})
    finally:
        netns.delete(names.values())
    return stats, bad, len(sets)


def to_oracle(path, name):
    """A minimised scenario as a kernel-oracle case in engine/tests/fixtures/oracle/NAME.json
    (then: scripts/record-oracle.sh engine/tests/fixtures/oracle/NAME.json)."""
    sc = json.load(open(path))
    backend = sc.get("backend", "nft")
    k = kernel.KernelRun(sc, backend).run()
    host = sc.get("host", {})
    ifs = [i for i in host.get("interfaces", []) if i["name"] != "lo"]
    client = [i for i in ifs if i["name"] != "eth1"]
    topo = {"host_addrs": [], "host_routes": []}
    if client:
        topo["client_if"] = client[0]["name"]
    for itf in ifs:
        base = "198.51.100.1/24" if itf["name"] != "eth1" else "203.0.113.1/24"
        for a in itf.get("addresses", []):
            if a != base:
                topo["host_addrs"].append({"addr": a, "dev": itf["name"]})
    for r in host.get("routes", []):
        if r.get("to") == "default" and r.get("via") == "203.0.113.2":
            continue
        if r.get("type"):
            raise SystemExit("routes of type %s are not expressible in the oracle's case format" % r["type"])
        words = [r["to"]] + [w for key in ("via", "dev", "src") if r.get(key) for w in (key, r[key])]
        topo["host_routes"].append(" ".join(words))
    sysctl = host.get("sysctl", {})
    sysctls = {"net.ipv4.ip_forward": "1" if sysctl.get("ip_forward", True) else "0",
               "net.ipv4.conf.all.rp_filter": str(sysctl.get("rp_filter", 0)),
               "net.ipv4.conf.all.route_localnet": "1" if sysctl.get("route_localnet") else "0"}
    packets = []
    for r in k["packets"]:
        if r.get("skipped"):
            continue
        s = r["sent"]
        p = {"path": "local-out" if r["from"] == "local" else "forward", "src": s["src"], "dst": s["dst"],
             "proto": {6: "tcp", 17: "udp", 1: "icmp"}.get(s["proto"], s["proto"]), "auto_local": False}
        if r["from"] != "local":
            p["iif"] = r["from"]
        if s["proto"] in (6, 17):
            p["sport"], p["dport"] = s["sport"], s["dport"]
        if s["proto"] == 6:
            p["tcp_flags"] = "".join(c for c, bit in (("F", 1), ("S", 2), ("R", 4), ("P", 8), ("A", 16), ("U", 32))
                                     if s["flags"] & bit) or "NONE"
            p["seq"], p["ack"] = s["seq"], s["ack"]
        if s["proto"] == 1:
            p["icmp_type"], p["icmp_code"] = s["icmp_type"], s["icmp_code"]
            p["icmp_id"], p["icmp_seq"] = s.get("icmp_id", 0), s.get("icmp_seq", 0)
            if "quote_bytes" in s:
                p["payload"] = s["quote_bytes"]
            elif s["icmp_type"] in (13, 14):
                p["payload"] = [0] * 12
        if s.get("mark"):
            p["mark"] = s["mark"]
        packets.append(p)
    case = {"ruleset": sc["ruleset"], "backend": backend, "topology": topo, "sysctls": sysctls,
            "packets": packets}
    out = os.path.join(ROOT, "engine", "tests", "fixtures", "oracle", name + ".json")
    json.dump(case, open(out, "w"), indent=1)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="kdiff/run", description=__doc__)
    ap.add_argument("--cases", type=int, default=50, help="cases per backend")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--backend", choices=["nft", "legacy", "both"], default="both")
    ap.add_argument("--validate", action="store_true",
                    help="compare nfsim check with iptables-restore --test and a real load instead")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--known", default=os.path.join(HERE, "known-differences.json"))
    ap.add_argument("--no-minimise", action="store_true")
    ap.add_argument("--minimise-per-class", type=int, default=2)
    ap.add_argument("--minimise-budget", type=float, default=180.0, help="seconds per disagreement")
    ap.add_argument("--write-known", action="store_true", help="write known disagreements to --out too")
    ap.add_argument("--minimise-known", action="store_true",
                    help="minimise disagreements a known difference already explains too")
    ap.add_argument("--replay", metavar="SCENARIO", help="run one scenario file and show the comparison")
    ap.add_argument("--minimise", metavar="SCENARIO", help="minimise one disagreeing scenario file")
    ap.add_argument("--to-oracle", nargs=2, metavar=("SCENARIO", "NAME"),
                    help="write engine/tests/fixtures/oracle/NAME.json from a (minimised) scenario")
    ap.add_argument("--cleanup", action="store_true", help="delete namespaces left by killed runs, then exit")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    if args.cleanup:
        gone = netns.cleanup_stale()
        log("deleted %d namespace(s)%s" % (len(gone), (": " + " ".join(gone)) if gone else ""))
        return 0
    backends = ["nft", "legacy"] if args.backend == "both" else [args.backend]

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    atexit.register(netns.delete_all_created)

    why = preflight(backends)
    if why:
        log("kdiff: cannot run against the kernel: " + why)
        return 2
    ensure_nfsim()
    # Packets on one CPU keep their order: the barrier frames rely on it.
    # Runs side by side spread over the CPUs (KDIFF_CPU picks one).
    try:
        cpus = sorted(os.sched_getaffinity(0))
        cpu = int(os.environ.get("KDIFF_CPU", cpus[os.getpid() % len(cpus)]))
        os.sched_setaffinity(0, {cpu})
    except (OSError, ValueError):
        pass

    if args.to_oracle:
        log(to_oracle(*args.to_oracle))
        return 0
    if args.replay or args.minimise:
        path = args.replay or args.minimise
        sc = json.load(open(path))
        bs = [sc.get("backend", "nft")] if args.backend == "both" and "backend" in sc else backends
        rc = 0
        for b in bs:
            k, e, d, note = one(sc, b)
            if d is None:
                log("%s: agree (%s)" % (b, note or "%d packets" % len(k["packets"])))
                continue
            kid = known_match(load_known(args.known), sc, d, b, k)
            rc = 1 if kid is None else 0
            log("%s: DISAGREE [%s]%s\n  %s" % (b, compare.signature(d), " known: " + kid if kid else "",
                                               summary_line(d)))
            if args.minimise:
                small, tries = shrink.shrink(sc, still_fails_fn(b, compare.signature(d)), focus=d.get("packet"),
                                             budget=args.minimise_budget, log=log)
                k, e, d2, note = one(small, b)
                stem = os.path.splitext(os.path.basename(path))[0]
                if stem in ("scenario", "original"):
                    stem = os.path.basename(os.path.dirname(os.path.abspath(path)))
                name = stem + "-min-" + b
                log("minimised in %d tries: %s" % (tries, write_case(args.out, name, small, b, d2 or d, original=sc)))
        return rc

    if args.validate:
        t0 = time.monotonic()
        stats, bad, n = validate(args, backends)
        log("validate: %d rulesets (seed %s: %d generated, %d made invalid, and the invalid fixtures)"
            % (n, args.seed, args.cases, args.cases))
        for b in backends:
            st = stats[b]
            log("  %-6s nfsim check vs %s: agreement %d/%d with a real load, %d/%d with --test "
                "(--test and the load differ on %d)" % (b, RESTORE[b], st["agree_load"], st["n"],
                                                        st["agree_test"], st["n"], st["test_vs_load"]))
        known = load_known(args.known)
        new = []
        for x in bad:
            kid = None
            for e in known:
                if e.get("validate") and re.search(e["validate"], x["text"]) and e.get("backend") in (None, "both", x["backend"]):
                    kid = e["id"]
                    break
            x["known"] = kid
            if kid is None:
                new.append(x)
            log("  %s %s: nfsim %s, kernel %s%s" % (x["backend"], x["ruleset"], x["nfsim"].splitlines()[0],
                                                    x["kernel"].splitlines()[0], " [known: %s]" % kid if kid else ""))
        if new:
            os.makedirs(args.out, exist_ok=True)
            p = os.path.join(args.out, "validate-%s.json" % args.seed)
            json.dump(new, open(p, "w"), indent=1)
            log("  written to %s" % p)
        log("  %.1f s" % (time.monotonic() - t0))
        return 1 if new else 0

    known = load_known(args.known)
    log("kdiff: seed %s, %d cases per backend (%s), nfsim %s" % (args.seed, args.cases, ", ".join(backends),
                                                                  engine.nfsim_path()))
    stats, results, total = run_cases(args, backends, known)
    log("")
    for b in backends:
        st = stats[b]
        per = st["seconds"] / st["cases"] if st["cases"] else 0
        mine = [r for r in results if r["backend"] == b]
        kn = sum(1 for r in mine if r["known"])
        log("%-6s agreement %d/%d  (%d known differences, %d unexplained; %d packets, %.2f s per case%s)" % (
            b, st["agree"], st["cases"], kn, len(mine) - kn, st["packets"], per,
            (", %d skipped" % st["skipped"] if st["skipped"] else "")
            + (", %d more refused by both" % st["refused"] if st["refused"] else "")))
    log("total %.1f s" % total)
    unknown = [r for r in results if r["known"] is None]
    if results:
        log("")
        log("disagreements (known ones are listed by the id of their explanation in kdiff/known-differences.json):")
        for r in results:
            log("  %-6s case %-5d [%s] %s%s" % (r["backend"], r["case"], r["signature"],
                                                "known: " + r["known"] if r["known"] else "NEW",
                                                (" -> " + os.path.relpath(r["path"], ROOT)) if r["path"] else ""))
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
