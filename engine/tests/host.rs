//! The host model against the kernel: `fixtures/host/NAME.kernel` was recorded
//! by scripts/record-host.sh from the `ip` commands in NAME.setup. Reading the
//! recorded `ip -4 addr` and `ip -4 route` text back, nfsim must derive the same
//! local and main tables and answer every `ip route get` the way the kernel did.

use nfsim::net::host::{AddrType, Host, HostSpec, RouteTable, Sysctl};
use nfsim::ruleset::value::Ipv4;
use std::collections::HashMap;
use std::path::Path;

fn sections(text: &str) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    let mut cur = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            cur = name.to_string();
            out.entry(cur.clone()).or_default();
        } else {
            let s = out.entry(cur.clone()).or_default();
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

fn kernel_host() -> (Host, HashMap<String, String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/host/two_nics.kernel");
    let s = sections(&std::fs::read_to_string(path).unwrap());
    let host = Host::from_ip_text(&s["addr"], &s["main"], Sysctl::default())
        .expect("the kernel's own text reads back");
    (host, s)
}

#[test]
fn derived_tables_equal_the_kernels() {
    let (host, s) = kernel_host();
    assert_eq!(host.table_text(RouteTable::Local), s["local"]);
    assert_eq!(host.table_text(RouteTable::Main), s["main"]);
}

#[test]
fn route_lookups_equal_ip_route_get() {
    let (host, s) = kernel_host();
    let mut checked = 0;
    for line in s["get"].lines() {
        let (addr, want) = line.split_once(" => ").unwrap();
        let a = Ipv4::parse(addr).unwrap();
        assert_eq!(host.route(a).ip_text(a), want, "ip route get {addr}");
        checked += 1;
    }
    assert!(checked >= 19);
}

#[test]
fn addrtype_answers_like_inet_dev_addr_type() {
    let (host, _) = kernel_host();
    let t = |a: &str, dev: Option<&str>| host.addr_type(Ipv4::parse(a).unwrap(), dev);
    assert_eq!(
        t("127.5.5.5", None),
        AddrType::Local,
        "all of 127/8 is local"
    );
    assert_eq!(
        t("198.51.100.9", None),
        AddrType::Local,
        "secondary addresses are local"
    );
    assert_eq!(t("198.51.100.255", None), AddrType::Broadcast);
    assert_eq!(t("0.0.0.0", None), AddrType::Broadcast);
    assert_eq!(
        t("0.1.2.3", None),
        AddrType::Unicast,
        "only 0.0.0.0 of 0/8 is special since Linux 5.3 (fixtures/oracle/z_addrtype_zeronet)"
    );
    assert_eq!(t("255.255.255.255", None), AddrType::Broadcast);
    assert_eq!(t("224.0.0.1", None), AddrType::Multicast);
    assert_eq!(t("8.8.8.8", None), AddrType::Unicast);
    assert_eq!(
        t("192.0.2.200", None),
        AddrType::Unicast,
        "main-table blackholes do not change the type"
    );
    // --limit-iface-in: the address must belong to that device.
    assert_eq!(t("198.51.100.1", Some("eth0")), AddrType::Local);
    assert_eq!(t("198.51.100.1", Some("eth1")), AddrType::Unicast);
}

#[test]
fn the_scenario_json_form_builds_the_same_host() {
    let spec: HostSpec = serde_json::from_str(
        r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/24"]},{"name":"eth1","addresses":["203.0.113.1/24"]}],
            "routes":[{"to":"default","via":"203.0.113.2","dev":"eth1"}],
            "sysctl":{"ip_forward":true,"route_localnet":false,"rp_filter":2}}"#,
    )
    .unwrap();
    let host = spec.build().unwrap();
    assert_eq!(host.sysctl.rp_filter, 2);
    assert_eq!(host.interfaces[0].name, "lo");
    let a = Ipv4::parse("192.0.2.50").unwrap();
    assert_eq!(
        host.route(a).ip_text(a),
        "192.0.2.50 via 203.0.113.2 dev eth1 src 203.0.113.1"
    );
    assert_eq!(
        host.table_text(RouteTable::Main),
        "default via 203.0.113.2 dev eth1\n198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.1\n203.0.113.0/24 dev eth1 proto kernel scope link src 203.0.113.1\n"
    );

    // `table` puts a route in the local table, as `ip route add ... table local`.
    let spec: HostSpec = serde_json::from_str(
        r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/24"]}],
            "routes":[{"to":"10.9.9.9","type":"broadcast","dev":"eth0","table":"local"},{"to":"10.8.0.0/16","type":"blackhole","table":"main"}]}"#,
    )
    .unwrap();
    let host = spec.build().unwrap();
    assert!(host
        .table_text(RouteTable::Local)
        .contains("broadcast 10.9.9.9 dev eth0\n"));
    assert!(host
        .table_text(RouteTable::Main)
        .starts_with("blackhole 10.8.0.0/16\n"));
    let bad: HostSpec =
        serde_json::from_str(r#"{"routes":[{"to":"default","table":"other"}]}"#).unwrap();
    assert!(bad.build().unwrap_err()[0]
        .message
        .contains("table `other' is not modelled"));

    let bad: HostSpec = serde_json::from_str(r#"{"interfaces":[{"name":"eth0","addresses":["198.51.100.1/33"]}],"routes":[{"to":"default","dev":"wlan9"}]}"#).unwrap();
    let errors = bad.build().unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].message.contains("bad address `198.51.100.1/33'"));
    assert!(errors[1].message.contains("no interface `wlan9'"));
    assert!(
        serde_json::from_str::<HostSpec>(r#"{"interfaces":[],"sysctl":{"ip_forwarding":true}}"#)
            .is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn multi_line_ip_addr_output_reads_too() {
    let addr = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000\n    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    inet 10.244.1.1/24 brd 10.244.1.255 scope global eth0\n       valid_lft forever preferred_lft forever\n";
    let host = Host::from_ip_text(addr, "default via 10.244.1.254 dev eth0 proto dhcp src 10.244.1.1 metric 100\n10.244.1.0/24 dev eth0 proto kernel scope link src 10.244.1.1\n", Sysctl::default()).unwrap();
    assert_eq!(
        host.interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["lo", "eth0"]
    );
    assert!(host.is_local(Ipv4::parse("10.244.1.1").unwrap()));
    let errs = Host::from_ip_text(
        "    inet 10.0.0.1/24 scope global eth0\n",
        "",
        Sysctl::default(),
    );
    assert_eq!(
        errs.unwrap().interfaces[1].name,
        "eth0",
        "a bare inet line is named by its label"
    );
    let errs = Host::from_ip_text("", "10.0.0.0/8 via nowhere\n", Sysctl::default()).unwrap_err();
    assert_eq!(errs[0].line, 1);
}

/// `ip addr` output pasted as it is (link lines, IPv6, flags, lifetimes):
/// only the IPv4 addresses count.
#[test]
fn full_ip_addr_output_is_read() {
    let addr = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host noprefixroute
       valid_lft forever preferred_lft forever
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP group default qlen 1000
    link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff
    altname enp0s3
    inet 198.51.100.1/24 brd 198.51.100.255 scope global dynamic noprefixroute eth0
       valid_lft 85234sec preferred_lft 85234sec
    inet6 fe80::5054:ff:fe12:3456/64 scope link
       valid_lft forever preferred_lft forever
3: cni0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP group default qlen 1000
    link/ether 0a:58:0a:f4:00:01 brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 10.244.0.1/24 brd 10.244.0.255 scope global cni0
       valid_lft forever preferred_lft forever
";
    let route = "default via 198.51.100.254 dev eth0 proto dhcp src 198.51.100.1 metric 100
10.244.0.0/24 dev cni0 proto kernel scope link src 10.244.0.1
198.51.100.0/24 dev eth0 proto kernel scope link src 198.51.100.1 metric 100
";
    let host =
        nfsim::net::host::Host::from_ip_text(addr, route, nfsim::net::host::Sysctl::default())
            .unwrap();
    let names: Vec<&str> = host.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth0", "cni0"]);
}
