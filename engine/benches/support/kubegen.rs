//! A generator of kube-proxy style iptables-save dumps: N ClusterIP/NodePort
//! services with E endpoints each, nat + filter, with KUBE-SVC statistic ladders
//! and KUBE-SEP DNAT chains as kube-proxy (iptables mode) writes them.
//! Deterministic: the same (N, E) gives the same text.

/// A 16-character chain-name suffix in kube-proxy's base32 alphabet.
fn hash_name(kind: u64, a: u64, b: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h: u64 = 0xcbf29ce484222325 ^ kind;
    for x in [a, b] {
        for byte in x.to_le_bytes() {
            h ^= byte as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    let mut out = String::with_capacity(16);
    for i in 0..16 {
        let v = (h.rotate_left(i * 5) ^ (h >> (i % 7))) & 31;
        out.push(ALPHABET[v as usize] as char);
    }
    out
}

fn cluster_ip(i: usize) -> String {
    format!("10.96.{}.{}", (i / 250) % 256, i % 250 + 1)
}

fn pod_ip(i: usize, j: usize) -> String {
    let n = i * 8 + j;
    format!("10.244.{}.{}", (n / 250) % 256, n % 250 + 2)
}

/// The dump, in iptables-save format.
pub fn kube_dump(services: usize, endpoints: usize) -> String {
    use std::fmt::Write;
    let mut nat_decl = String::new();
    let mut nat_rules = String::new();
    let mut svc_rules = String::new();
    let mut np_rules = String::new();
    for i in 0..services {
        let ns_svc = format!("ns{}/svc-{i}:http", i % 17);
        let svc = format!("KUBE-SVC-{}", hash_name(1, i as u64, 0));
        let ip = cluster_ip(i);
        let node_port = 30000 + (i % 2768);
        let _ = writeln!(nat_decl, ":{svc} - [0:0]");
        let _ = writeln!(svc_rules, "-A KUBE-SERVICES -d {ip}/32 -p tcp -m comment --comment \"{ns_svc} cluster IP\" -m tcp --dport 80 -j {svc}");
        let _ = writeln!(np_rules, "-A KUBE-NODEPORTS -p tcp -m comment --comment \"{ns_svc}\" -m tcp --dport {node_port} -j KUBE-MARK-MASQ");
        let _ = writeln!(np_rules, "-A KUBE-NODEPORTS -p tcp -m comment --comment \"{ns_svc}\" -m tcp --dport {node_port} -j {svc}");
        let _ = writeln!(nat_rules, "-A {svc} ! -s 10.244.0.0/16 -d {ip}/32 -p tcp -m comment --comment \"{ns_svc} cluster IP\" -m tcp --dport 80 -j KUBE-MARK-MASQ");
        for j in 0..endpoints {
            let sep = format!("KUBE-SEP-{}", hash_name(2, i as u64, j as u64));
            let pod = pod_ip(i, j);
            let _ = writeln!(nat_decl, ":{sep} - [0:0]");
            let left = endpoints - j;
            if left > 1 {
                let p = 1.0 / left as f64;
                let _ = writeln!(nat_rules, "-A {svc} -m comment --comment \"{ns_svc}\" -m statistic --mode random --probability {p:.11} -j {sep}");
            } else {
                let _ = writeln!(
                    nat_rules,
                    "-A {svc} -m comment --comment \"{ns_svc}\" -j {sep}"
                );
            }
            let _ = writeln!(
                nat_rules,
                "-A {sep} -s {pod}/32 -m comment --comment \"{ns_svc}\" -j KUBE-MARK-MASQ"
            );
            let _ = writeln!(nat_rules, "-A {sep} -p tcp -m comment --comment \"{ns_svc}\" -m tcp -j DNAT --to-destination {pod}:8080");
        }
    }
    let mut out = String::with_capacity(services * endpoints * 400 + 4096);
    out.push_str(concat!(
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
        ":KUBE-EXTERNAL-SERVICES - [0:0]\n:KUBE-FIREWALL - [0:0]\n:KUBE-FORWARD - [0:0]\n",
        ":KUBE-NODEPORTS - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n:KUBE-SERVICES - [0:0]\n",
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n",
        "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS\n",
        "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n",
        "-A INPUT -j KUBE-FIREWALL\n",
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n",
        "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n",
        "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A OUTPUT -j KUBE-FIREWALL\n",
        "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n",
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n",
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n",
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
        "COMMIT\n",
        "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
        ":KUBE-MARK-MASQ - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-SERVICES - [0:0]\n",
    ));
    out.push_str(&nat_decl);
    out.push_str(concat!(
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
        "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n",
        "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n",
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n",
        "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n",
        "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n",
    ));
    out.push_str(&np_rules);
    out.push_str(&svc_rules);
    out.push_str("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n");
    out.push_str(&nat_rules);
    out.push_str("COMMIT\n");
    out
}
