#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A minimal CRI client for the e2e tests: what the kubelet sends for a pod
sandbox, over the runtime's unix socket, printed as JSON.

    client.py --socket PATH [--stubs DIR] version
    client.py ... run NAME [--port [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO]]... [--cgroup-parent P]
    client.py ... status|stop|rm ID
    client.py ... list
    client.py ... purge
    client.py ... bench --count N [--port-base P] [--cgroup-parent P] [--prefix NAME]

purge stops and removes every pod (teardown after a failure) and prints the
netns paths they had.  bench runs N pods at once, each RunPodSandbox (with one
hostPort, P+i:80) then StopPodSandbox then RemovePodSandbox, from threads
released together, and prints each pod's times in ms and the batch's wall
time: the timing is in process, so the client's own start-up is not in it.

Stubs are generated at run time from runtime.proto beside this file (Debian's
python3-grpc-tools) into --stubs (a temp dir by default) and reused when
already there.  Exit status 1 with the gRPC error on stderr on failure.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))


def load_stubs(stubs):
    os.makedirs(stubs, exist_ok=True)
    if not os.path.exists(os.path.join(stubs, "runtime_pb2_grpc.py")):
        inc = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        rc = protoc.main(["protoc", "-I" + HERE, "-I" + inc, "--python_out=" + stubs,
                          "--grpc_python_out=" + stubs, os.path.join(HERE, "runtime.proto")])
        if rc != 0:
            sys.exit("client.py: protoc failed (%d)" % rc)
    sys.path.insert(0, stubs)
    import runtime_pb2  # noqa: E402 (generated above)
    import runtime_pb2_grpc  # noqa: E402
    return runtime_pb2, runtime_pb2_grpc


# [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO]; an IPv6 host IP in brackets.
PORT_RE = re.compile(r"^(?:\[?([0-9a-fA-F.:]+?)\]?:)?(\d+):(\d+)(?:/(tcp|udp|sctp))?$")


def port(pb, s):
    m = PORT_RE.match(s)
    if not m:
        raise argparse.ArgumentTypeError("bad port %r" % s)
    proto = {"tcp": pb.TCP, "udp": pb.UDP, "sctp": pb.SCTP}[m.group(4) or "tcp"]
    return pb.PortMapping(protocol=proto, host_ip=m.group(1) or "",
                          host_port=int(m.group(2)), container_port=int(m.group(3)))


def netns_of(pb, rt, pod_id, t):
    r = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True), timeout=t)
    info = json.loads(r.info.get("info", "{}") or "{}")
    for n in info.get("runtimeSpec", {}).get("linux", {}).get("namespaces") or []:
        if n.get("type") == "network" and n.get("path"):
            return n["path"]
    return ""


def purge(pb, rt, t):
    """Every pod stopped and removed, best effort; their netns paths."""
    paths = []
    for p in rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=t).items:
        for step in ("status", "stop", "rm"):
            try:
                if step == "status":
                    ns = netns_of(pb, rt, p.id, t)
                    if ns:
                        paths.append(ns)
                elif step == "stop":
                    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=p.id), timeout=t)
                else:
                    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=p.id), timeout=t)
            except grpc.RpcError as e:
                print("client.py: purge %s: %s: %s" % (step, p.id, e.code().name), file=sys.stderr)
    return paths


def bench(pb, rt, a):
    """N pods at once: per pod run/stop/rm ms, and the batch's wall ms.
    A pod whose RunPodSandbox fails has "error" set; the others still go on,
    and purge cleans up whatever is left."""
    n = a.count
    res = [dict() for _ in range(n)]
    go = threading.Barrier(n + 1)

    def one(i):
        name = "%s-%d" % (a.prefix, i)
        md = pb.PodSandboxMetadata(name=name, uid="uid-" + name, namespace=a.namespace, attempt=0)
        cfg = pb.PodSandboxConfig(metadata=md, hostname=name, labels={"app": name},
                                  port_mappings=[pb.PortMapping(protocol=pb.TCP, host_port=a.port_base + i,
                                                                container_port=80)],
                                  linux=pb.LinuxPodSandboxConfig(cgroup_parent=a.cgroup_parent))
        go.wait()
        try:
            t0 = time.monotonic()
            pid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg), timeout=a.timeout).pod_sandbox_id
            t1 = time.monotonic()
            rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pid), timeout=a.timeout)
            t2 = time.monotonic()
            rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pid), timeout=a.timeout)
            t3 = time.monotonic()
            res[i] = {"run": (t1 - t0) * 1e3, "stop": (t2 - t1) * 1e3, "rm": (t3 - t2) * 1e3}
        except grpc.RpcError as e:
            res[i] = {"error": "%s: %s" % (e.code().name, e.details())}

    th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for x in th:
        x.start()
    go.wait()
    t0 = time.monotonic()
    for x in th:
        x.join()
    return {"wall": (time.monotonic() - t0) * 1e3, "pods": res}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--stubs", default=None)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("cmd", choices=["version", "run", "status", "stop", "rm", "list", "purge", "bench"])
    ap.add_argument("arg", nargs="?")
    ap.add_argument("--port", action="append", default=[])
    ap.add_argument("--namespace", default="e2e")
    ap.add_argument("--cgroup-parent", default="")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--port-base", type=int, default=20000)
    ap.add_argument("--prefix", default="bench")
    a = ap.parse_args()

    pb, pbg = load_stubs(a.stubs or tempfile.mkdtemp(prefix="cri-stubs."))
    ch = grpc.insecure_channel("unix://" + os.path.abspath(a.socket))
    rt = pbg.RuntimeServiceStub(ch)
    t = a.timeout
    try:
        if a.cmd == "version":
            r = rt.Version(pb.VersionRequest(version="v1"), timeout=t)
            out = {"runtime_name": r.runtime_name, "runtime_version": r.runtime_version,
                   "runtime_api_version": r.runtime_api_version}
        elif a.cmd == "run":
            md = pb.PodSandboxMetadata(name=a.arg, uid="uid-" + a.arg, namespace=a.namespace, attempt=0)
            cfg = pb.PodSandboxConfig(metadata=md, hostname=a.arg,
                                      port_mappings=[port(pb, p) for p in a.port],
                                      labels={"app": a.arg},
                                      linux=pb.LinuxPodSandboxConfig(cgroup_parent=a.cgroup_parent))
            r = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg), timeout=t)
            out = {"id": r.pod_sandbox_id}
        elif a.cmd == "status":
            r = rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=a.arg, verbose=True), timeout=t)
            s = r.status
            out = {"id": s.id, "state": pb.PodSandboxState.Name(s.state), "ip": s.network.ip,
                   "additional_ips": [x.ip for x in s.network.additional_ips]}
            info = json.loads(r.info.get("info", "{}") or "{}")
            out["netns"] = (info.get("runtimeSpec", {}).get("linux", {}).get("namespaces") or [])
            out["netns"] = [n.get("path", "") for n in out["netns"] if n.get("type") == "network"]
            out["netns"] = out["netns"][0] if out["netns"] else ""
            out["pid"] = info.get("pid", 0)
        elif a.cmd == "stop":
            rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=a.arg), timeout=t)
            out = {}
        elif a.cmd == "rm":
            rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=a.arg), timeout=t)
            out = {}
        elif a.cmd == "purge":
            out = purge(pb, rt, t)
        elif a.cmd == "bench":
            out = bench(pb, rt, a)
        else:
            r = rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=t)
            out = [{"id": p.id, "name": p.metadata.name, "state": pb.PodSandboxState.Name(p.state)}
                   for p in r.items]
    except grpc.RpcError as e:
        print("client.py: %s: %s: %s" % (a.cmd, e.code().name, e.details()), file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
