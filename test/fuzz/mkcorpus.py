#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write the seed corpus of every fuzz target into test/fuzz/corpus/<target>/.

The seeds are committed; this script documents where they come from and
regenerates them (run it from anywhere; it replaces the seed_* files only,
so reproducers saved by hand as crash-* or regress-* stay).
"""
import glob
import hashlib
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = "seed_" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clear():
    for f in glob.glob(os.path.join(CORPUS, "*", "seed_*")):
        os.unlink(f)


def fixtures(pattern):
    for f in sorted(glob.glob(os.path.join(ROOT, pattern))):
        with open(f, "rb") as fh:
            yield fh.read()


def netconf_seeds():
    for data in fixtures("test/fixtures/types/conf/*.json"):
        yield data
    for data in fixtures("test/fixtures/types/reference/*.conf.json"):
        yield data
    for data in fixtures("test/bench/conf/*.json"):
        yield data
    base = {"cniVersion": "1.0.0", "name": "fz", "type": "bridge"}
    hl = dict(base, ipam={"type": "host-local", "dataDir": "/tmp/x",
                          "ranges": [[{"subnet": "198.18.0.0/24", "rangeStart": "198.18.0.10",
                                       "rangeEnd": "198.18.0.20", "gateway": "198.18.0.1"},
                                      {"subnet": "198.18.1.0/24"}],
                                     [{"subnet": "2001:db8::/64"}]],
                          "routes": [{"dst": "0.0.0.0/0"}, {"dst": "2001:db8:1::/48", "gw": "2001:db8::1"}],
                          "resolvConf": "/etc/resolv.conf"})
    yield json.dumps(hl)
    yield json.dumps(dict(hl, runtimeConfig={"ips": ["198.18.0.15/24"],
                                             "ipRanges": [[{"subnet": "198.18.5.0/24"}]]}))
    yield json.dumps(dict(base, cniVersion="0.2.0", ipam={"type": "host-local", "subnet": "198.18.0.0/16",
                                                          "rangeStart": "198.18.1.1", "gateway": "198.18.0.1"}))
    yield json.dumps(dict(base, ipam={"type": "host-local", "ranges": [[{"subnet": "198.18.0.0/30"}]]},
                          **{"x-fuzz-cni-args": "IgnoreUnknown=1;IP=198.18.0.2"}))
    st = dict(base, ipam={"type": "static", "addresses": [{"address": "198.18.0.9/24", "gateway": "198.18.0.1"},
                                                            {"address": "2001:db8::9/64"}],
                          "routes": [{"dst": "0.0.0.0/0", "priority": 5, "table": 100, "scope": 0}],
                          "dns": {"nameservers": ["198.18.0.53"]}})
    yield json.dumps(st)
    yield json.dumps(dict(st, **{"x-fuzz-cni-args": "IP=198.18.3.4/24,2001:db8::4/64;GATEWAY=198.18.3.1"}))
    yield json.dumps(dict(st, args={"cni": {"ips": ["198.18.7.7/24"]}}))
    pm = dict(base, type="portmap", snat=True, masqAll=False, markMasqBit=13,
              conditionsV4=["-s", "198.18.0.0/16"],
              runtimeConfig={"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                                              {"hostPort": 53, "containerPort": 53, "protocol": "UDP",
                                               "hostIP": "198.18.0.1"},
                                              {"hostPort": 9000, "containerPort": 9000, "protocol": "sctp",
                                               "hostIP": "2001:db8::1"}]})
    for v in VERSIONS:
        prev = {"cniVersion": v}
        if v in ("0.1.0", "0.2.0"):
            prev.update(ip4={"ip": "198.18.0.5/24", "gateway": "198.18.0.1",
                             "routes": [{"dst": "0.0.0.0/0"}]}, dns={})
        else:
            prev.update(interfaces=[{"name": "eth0", "sandbox": "/run/netns/x", "mac": "02:00:00:00:00:01"}],
                        ips=[{"address": "198.18.0.5/24", "interface": 0, "gateway": "198.18.0.1"}],
                        routes=[{"dst": "0.0.0.0/0"}])
            if v < "1.0.0":
                prev["ips"][0]["version"] = "4"
        yield json.dumps(dict(pm, cniVersion=v, prevResult=prev))
    yield json.dumps(dict(base, cniVersion="1.1.0", **{
        "cni.dev/valid-attachments": [{"containerID": "a", "ifname": "eth0"}],
        "cni.dev/attachments": [{"containerID": "b", "ifname": "eth1"}]}))
    yield json.dumps(dict(base, ipam={"type": ""}, dns={"nameservers": []}))
    yield '{"cniVersion":"9.9.9","name":"x"}'
    yield '{"cniVersion":"1.0.0","name":"../etc","type":"a/b"}'
    yield '[' * 70 + ']' * 70
    yield '{"cniVersion":"1.0.0","name":"x","type":"t","mtu":1e400}'


def result_seeds():
    for i, v in enumerate(VERSIONS):
        for data in fixtures("test/fixtures/types/results/*.in.json"):
            yield bytes([i]) + data
        for data in fixtures("test/fixtures/types/results/*.out-%s.json" % v):
            yield bytes([i]) + data
        for data in fixtures("test/fixtures/types/reference/static-out-%s.json" % v):
            yield bytes([i]) + data
    full = {"cniVersion": "1.1.0",
            "interfaces": [{"name": "br0", "mac": "02:00:00:00:00:02", "mtu": 1500},
                           {"name": "eth0", "sandbox": "/run/netns/c", "socketPath": "/s", "pciID": "0000:00:01.0"}],
            "ips": [{"address": "198.18.0.5/24", "gateway": "198.18.0.1", "interface": 1},
                    {"address": "2001:db8::5/64", "gateway": "2001:db8::1", "interface": 1},
                    {"address": "198.18.1.5/24"}],
            "routes": [{"dst": "0.0.0.0/0", "gw": "198.18.0.1", "mtu": 1400, "advmss": 1360, "priority": 10,
                        "table": 0, "scope": 253}, {"dst": "2001:db8:1::/48"}],
            "dns": {"nameservers": ["198.18.0.53"], "domain": "d", "search": ["s"], "options": ["o"]}}
    for i in range(len(VERSIONS)):
        yield bytes([i]) + json.dumps(full).encode()
    yield b"\x06" + b'{"code":7,"msg":"bad","details":"d"}'
    yield b"\x01" + b'{"cniVersion":"0.3.0","ip":[{"version":"4","address":"198.18.0.5/24"}]}'
    yield b"\x00" + b'{"ip4":{"ip":"::ffff:198.18.0.5/120"}}'


def args_seeds():
    for s in ["", "IP=198.18.0.5", "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;"
              "K8S_POD_INFRA_CONTAINER_ID=abc", "IgnoreUnknown=TRUE", "IgnoreUnknown=maybe",
              "A=1;;B=2", "A=1;", "=", "A==B", "MAC=02:00:00:00:00:01;IP=198.18.0.5,2001:db8::5",
              "GATEWAY=198.18.0.1;IP=198.18.0.9/24", "x=\xff\xfe;y=\x01"]:
        yield s.encode("latin-1")


def ipaddr_seeds():
    for s in ["198.18.0.1", "198.18.0.0/15", "0.0.0.0/0", "255.255.255.255/32", "01.2.3.4", "1.2.3.4/024",
              "2001:db8::1", "2001:db8::/32", "::", "::/0", "::1/128", "::ffff:198.18.0.1",
              "::ffff:198.18.0.0/120", "fe80::1%eth0", "2001:db8:0:0:1:0:0:1", "1:2:3:4:5:6:7:8",
              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "::198.18.0.1", "02:00:00:00:00:01",
              "02-00-00-00-00-01", "0200.0000.0001", "eth0", "veth1a2b3c4d", "a" * 16, ".", "..",
              "name with space", "255.255.255.0", "ffff:ffff::", "1.2.3.4/33", "2001:db8::/129",
              "\u00e9t\u00e9\u2028"]:
        yield s.encode("utf-8")


def rec(kind, name_idx, payload=b""):
    return bytes([kind, name_idx, len(payload)]) + payload


def store_seeds():
    owner = b"fuzz-id\r\neth0"
    # name indexes: see names[] in fuzz_store.c
    LOCK, LAST0, LAST1, TMP, NONCANON, MAPPED, V6NC, V6UP, GARBAGE, RESOLV, HIDDEN = range(21, 32)
    K_FILE, K_FILE2, K_SYMLINK, K_FIFO, K_DIR, K_REQUEST, K_HINT = range(7)
    yield b""
    yield rec(K_FILE, 2, b"other\r\neth0") + rec(K_FILE, 3, owner)
    yield rec(K_FILE, 2, owner) + rec(K_FILE, 17, b"fuzz-id")
    yield rec(K_SYMLINK, 2) + rec(K_FIFO, 3) + rec(K_DIR, 4) + rec(K_REQUEST, 2)
    yield rec(K_FIFO, LOCK)
    yield rec(K_SYMLINK, LOCK)
    yield rec(K_FIFO, LAST0) + rec(K_FILE, 5, b"x")
    yield rec(K_FILE, LAST0, b"198.18.0.13") + rec(K_FILE, LAST1, b" 2001:db8::e\n")
    yield rec(K_FILE, TMP, b"stale") + rec(K_FILE, NONCANON, owner) + rec(K_FILE, MAPPED, owner)
    yield rec(K_FILE, V6NC, owner) + rec(K_FILE, V6UP, owner) + rec(K_FILE, GARBAGE, owner)
    yield rec(K_FILE, RESOLV, b"nameserver 198.18.0.53\nsearch a b\noptions ndots:2\ndomain d\n#x\n")
    yield rec(K_FILE2, 6, b"fuzz-id") + rec(K_FILE, HIDDEN, owner)
    yield b"".join(rec(K_FILE, i, b"x\r\neth0") for i in range(2, 15))
    yield b"".join(rec(K_SYMLINK, i) for i in range(16, 21))
    yield rec(K_REQUEST, 1) + rec(K_REQUEST, 5) + rec(K_REQUEST, 17)
    yield rec(K_REQUEST, 0)
    # Hints (the selector picks: 0/3 a file with the payload, 1 a symlink, 2 a FIFO).
    hint = b"fuzz-id\r\neth0\n198.18.0.5\n2001:db8::5\n"
    yield rec(K_HINT, 0, hint) + rec(K_FILE, 5, owner) + rec(K_FILE, 17, owner)
    yield rec(K_HINT, 0, hint)
    yield rec(K_HINT, 0, hint) + rec(K_FILE, 6, owner)
    yield rec(K_HINT, 0, b"other\r\neth0\n198.18.0.2\n") + rec(K_FILE, 2, owner)
    yield rec(K_HINT, 1) + rec(K_FILE, 3, owner)
    yield rec(K_HINT, 2) + rec(K_FILE, 3, owner)
    yield rec(K_HINT, 0, b"fuzz-id\r\neth0\ngarbage\n\n::ffff:198.18.0.9\n" + b"9" * 200)
    yield rec(K_FILE, 2, owner)


def skel_seeds():
    conf = json.dumps({"cniVersion": "1.0.0", "name": "fz", "type": "fuzz"}).encode()
    conf11 = json.dumps({"cniVersion": "1.1.0", "name": "fz", "type": "fuzz"}).encode()
    for verb in range(8):
        yield bytes([verb]) + b"cid-1\neth0\nIgnoreUnknown=1;IP=198.18.0.5\n" + conf
        yield bytes([verb]) + b"cid-1\neth0\n\n" + conf11
    yield b"\x00cid\neth0\n\n" + b'{"cniVersion":"0.2.0","name":"fz","prevResult":{"ip4":{"ip":"198.18.0.5/24"}}}'
    yield b"\x00cid\neth0\n\n" + b'{"cniVersion":"0.2.0","name":"fz","prevResult":{"cniVersion":"1.0.0"}}'
    yield b"\x02cid\neth0\n\n" + b'{"cniVersion":"0.3.1","name":"fz"}'
    yield b"\x00../x\neth0/\nA\n" + conf
    yield b"\x00cid\n" + b"x" * 16 + b"\n\n" + conf
    yield b"\x01cid\neth0\n\nnot json"


def portmap_seeds():
    # flags byte (1 snat, 2 masqAll, >>2 prevResult variant), conditionsV4 line, portMappings JSON
    maps = [b'[{"hostPort":8080,"containerPort":80}]',
            b'[{"hostPort":53,"containerPort":53,"protocol":"UDP","hostIP":"198.18.0.1"},'
            b'{"hostPort":9000,"containerPort":9000,"protocol":"sctp","hostIP":"2001:db8::1"}]',
            b'[{"hostPort":0,"containerPort":65536}]',
            b'[{"hostPort":1,"containerPort":1,"protocol":"icmp"}]',
            b'[{"hostPort":80,"containerPort":80,"hostIP":"::ffff:198.18.0.1"},{"hostPort":80,"containerPort":81}]',
            b'[{"hostPort":80,"containerPort":80,"hostIP":"0.0.0.0"},{"hostPort":80,"containerPort":80,"hostIP":"::"},'
            b'{"hostPort":81,"containerPort":80,"hostIP":"127.0.0.1"}]',
            b'[{"hostPort":"80","containerPort":80.5}]', b'null', b'[]']
    conds = [b"", b"ip saddr 198.18.0.0/16 iifname != \"eth0\"", b"-s 198.18.0.0/16",
             b"meta iifname == lo ip daddr != 198.18.0.1", b"ip6 saddr 2001:db8::/32", b"iifname",
             b"! -s 198.18.0.0/255.255.0.0 -i eth+ ! --dport 80", b"-p udp --sport 1024: -o lo",
             b"-s ! 198.18.0.1 -m tcp"]
    for i, m in enumerate(maps):
        for j, c in enumerate(conds):
            if (i + j) % 2 == 0 or j == 0:
                yield bytes([(i * 7 + j) % 16]) + c + b"\n" + m


def main():
    clear()
    for target, gen in [("netconf", netconf_seeds), ("result", result_seeds), ("args", args_seeds),
                        ("ipaddr", ipaddr_seeds), ("store", store_seeds), ("skel", skel_seeds),
                        ("portmap", portmap_seeds)]:
        for data in gen():
            write("fuzz_" + target, data)


if __name__ == "__main__":
    main()
