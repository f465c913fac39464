"""Just enough of iptables-save text for the harness: tables, chains, their
policies and rules in order, each rule's target."""
import shlex

BUILTIN = {
    "raw": ["PREROUTING", "OUTPUT"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
    "security": ["INPUT", "FORWARD", "OUTPUT"],
}
HOOKS = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]
NAT_TARGETS = {"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"}


class Rule:
    def __init__(self, table, chain, text, tokens):
        self.table, self.chain, self.text, self.tokens = table, chain, text, tokens
        self.target, self.goto = None, False
        for i, t in enumerate(tokens):
            if t in ("-j", "--jump", "-g", "--goto") and i + 1 < len(tokens):
                self.target = tokens[i + 1]
                self.goto = t in ("-g", "--goto")


class Ruleset:
    def __init__(self, text):
        self.tables = {}  # name -> {"chains": {name: {"policy", "rules"}}, "order": [...]}
        table = None
        for line in text.splitlines():
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if s.startswith("*"):
                table = s[1:].strip()
                self.tables[table] = {"chains": {}, "order": []}
            elif s == "COMMIT":
                table = None
            elif s.startswith(":") and table:
                w = s[1:].split()
                self.tables[table]["chains"][w[0]] = {"policy": None if w[1] == "-" else w[1], "rules": []}
                self.tables[table]["order"].append(w[0])
            elif table:
                toks = shlex.split(s)
                if toks and toks[0].startswith("[") and toks[0].endswith("]"):
                    toks = toks[1:]
                if len(toks) >= 2 and toks[0] in ("-A", "--append"):
                    chain = toks[1]
                    c = self.tables[table]["chains"].setdefault(chain, {"policy": None, "rules": []})
                    c["rules"].append(Rule(table, chain, s, toks[2:]))

    def chain(self, table, chain):
        return self.tables.get(table, {"chains": {}})["chains"].get(chain)

    def rule(self, table, chain, index):
        c = self.chain(table, chain)
        if c and 1 <= index <= len(c["rules"]):
            return c["rules"][index - 1]
        return None

    def is_user_chain(self, table, name):
        return name in self.tables.get(table, {"chains": {}})["chains"] and name not in BUILTIN.get(table, [])

    def verdict_of(self, rule):
        """The verdict ip_tables' walk takes from a matched rule's target."""
        t = rule.target
        if t is None:
            return "CONTINUE"
        if self.is_user_chain(rule.table, t):
            return ("GOTO " if rule.goto else "JUMP ") + t
        if t in ("ACCEPT", "DROP", "RETURN"):
            return t
        if t == "REJECT":
            return "DROP"
        if t in ("QUEUE", "NFQUEUE"):
            return "QUEUE"
        if t in NAT_TARGETS:
            return "ACCEPT"
        return "CONTINUE"

    def render(self):
        out = []
        for tname, t in self.tables.items():
            out.append("*" + tname)
            for c in t["order"]:
                p = t["chains"][c]["policy"]
                out.append(":%s %s [0:0]" % (c, p or "-"))
            for c in t["order"]:
                for r in t["chains"][c]["rules"]:
                    out.append(r.text)
            out.append("COMMIT")
        return "\n".join(out) + "\n"
