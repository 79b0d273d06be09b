// SPDX-License-Identifier: Apache-2.0

// gocni: a test client on go-cni, the library containerd's CRI plugin and
// nerdctl call.  It loads networks and passes runtime arguments exactly the
// way containerd 1.6 does (pkg/cri/server/sandbox_run.go: loopback first,
// then the conf dir's first network; K8S_POD_* labels and IgnoreUnknown in
// CNI_ARGS; port mappings, ipRanges, bandwidth and dns as capability
// arguments with go-cni's own Go types, so their keys reach the plugins as
// "HostPort", "Subnet", "IngressRate"...), so a test through it sees what a
// Kubernetes node sends, not what our own tools happen to send.
//
//	gocni [flags] setup|check|remove ID NETNS_PATH
//
// setup prints the result as JSON: {"interfaces": {name: {ips, mac,
// sandbox}}, "raw": [the plugins' results, one per network]}.  A failure
// prints the error on stderr and exits 1.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	gocni "github.com/containerd/go-cni"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gocni: "+format+"\n", a...)
	os.Exit(1)
}

// parsePort reads HOSTPORT:CONTAINERPORT[/PROTO][@HOSTIP] into the struct
// containerd builds from a CRI PortMapping (protocol lower-cased).
func parsePort(s string) (gocni.PortMapping, error) {
	var pm gocni.PortMapping
	if i := strings.LastIndex(s, "@"); i >= 0 {
		pm.HostIP = s[i+1:]
		s = s[:i]
	}
	pm.Protocol = "tcp"
	if i := strings.Index(s, "/"); i >= 0 {
		pm.Protocol = strings.ToLower(s[i+1:])
		s = s[:i]
	}
	hp, cp, ok := strings.Cut(s, ":")
	if !ok {
		return pm, fmt.Errorf("port %q: want HOSTPORT:CONTAINERPORT[/PROTO][@HOSTIP]", s)
	}
	h, err := strconv.ParseInt(hp, 10, 32)
	if err != nil {
		return pm, fmt.Errorf("host port %q: %v", hp, err)
	}
	c, err := strconv.ParseInt(cp, 10, 32)
	if err != nil {
		return pm, fmt.Errorf("container port %q: %v", cp, err)
	}
	pm.HostPort, pm.ContainerPort = int32(h), int32(c)
	return pm, nil
}

// parseRange reads SUBNET[,RANGESTART[,RANGEEND[,GATEWAY]]].
func parseRange(s string) gocni.IPRanges {
	f := strings.Split(s, ",")
	for len(f) < 4 {
		f = append(f, "")
	}
	return gocni.IPRanges{Subnet: f[0], RangeStart: f[1], RangeEnd: f[2], Gateway: f[3]}
}

func parseBandwidth(s string) (gocni.BandWidth, error) {
	var v [4]uint64
	f := strings.Split(s, ",")
	if len(f) != 4 {
		return gocni.BandWidth{}, fmt.Errorf("bandwidth %q: want INRATE,INBURST,OUTRATE,OUTBURST", s)
	}
	for i := range f {
		n, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return gocni.BandWidth{}, fmt.Errorf("bandwidth %q: %v", s, err)
		}
		v[i] = n
	}
	return gocni.BandWidth{IngressRate: v[0], IngressBurst: v[1], EgressRate: v[2], EgressBurst: v[3]}, nil
}

type ifaceOut struct {
	IPs     []string `json:"ips"`
	Mac     string   `json:"mac"`
	Sandbox string   `json:"sandbox"`
}

func main() {
	var (
		binDirs = flag.String("bin", gocni.DefaultCNIDir, "':'-separated plugin directories")
		confDir = flag.String("conf-dir", gocni.DefaultNetDir, "conf dir, loaded as containerd does (first network)")
		maxConf = flag.Int("max-conf", 1, "networks loaded from the conf dir (containerd: max_conf_num)")
		podNS   = flag.String("pod-namespace", "default", "K8S_POD_NAMESPACE")
		podName = flag.String("pod-name", "", "K8S_POD_NAME (default: the id)")
		podUID  = flag.String("pod-uid", "", "K8S_POD_UID (default: derived from the id)")
		ip      = flag.String("ip", "", "CNI_ARGS IP= (static address request)")
		mac     = flag.String("mac", "", "CNI_ARGS MAC=")
		bw      = flag.String("bandwidth", "", "INRATE,INBURST,OUTRATE,OUTBURST (bits/s, bits)")
		dns     = flag.String("dns", "", "SERVER[,SERVER...] passed as the dns capability")
		timeout = flag.Duration("timeout", 60*time.Second, "bound on the whole call")
		ports   multi
		ranges  multi
		rsets   multi
		labels  multi
		caps    multi
	)
	flag.Var(&ports, "p", "HOSTPORT:CONTAINERPORT[/PROTO][@HOSTIP], repeatable (portMappings)")
	flag.Var(&ranges, "ip-range", "SUBNET[,START[,END[,GATEWAY]]], repeatable (ipRanges as go-cni's WithCapabilityIPRanges sends it: a flat list)")
	flag.Var(&rsets, "ip-rangeset", "SUBNET[,START[,END[,GATEWAY]]][;RANGE...], repeatable (ipRanges as the convention has it: a list of range sets, go-cni's types)")
	flag.Var(&labels, "label", "K=V added to CNI_ARGS, repeatable")
	flag.Var(&caps, "cap", "NAME=JSON another capability argument (e.g. mac, ips), repeatable")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: gocni [flags] setup|check|remove ID NETNS_PATH\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 3 {
		flag.Usage()
		os.Exit(2)
	}
	verb, id, path := flag.Arg(0), flag.Arg(1), flag.Arg(2)

	// As containerd's CRI plugin: loopback plus the conf dir's first network.
	// libcni refuses CHECK on the loopback network's 0.3.1 config, so a
	// check leaves it out (containerd's CRI never calls Check).
	withLo := verb != "check"
	minNets := 1
	if withLo {
		minNets = 2
	}
	lib, err := gocni.New(gocni.WithMinNetworkCount(minNets),
		gocni.WithPluginConfDir(*confDir),
		gocni.WithPluginMaxConfNum(*maxConf),
		gocni.WithPluginDir(strings.Split(*binDirs, ":")))
	if err != nil {
		die("init: %v", err)
	}
	loads := []gocni.Opt{gocni.WithDefaultConf}
	if withLo {
		loads = []gocni.Opt{gocni.WithLoNetwork, gocni.WithDefaultConf}
	}
	if err := lib.Load(loads...); err != nil {
		die("load: %v", err)
	}

	name, uid := *podName, *podUID
	if name == "" {
		name = id
	}
	if uid == "" {
		uid = "uid-" + id
	}
	cniLabels := map[string]string{
		"K8S_POD_NAMESPACE":          *podNS,
		"K8S_POD_NAME":               name,
		"K8S_POD_INFRA_CONTAINER_ID": id,
		"K8S_POD_UID":                uid,
		"IgnoreUnknown":              "1",
	}
	opts := []gocni.NamespaceOpts{
		gocni.WithLabels(cniLabels),
		// containerd always passes the pod's annotations, an empty map when none.
		gocni.WithCapability("io.kubernetes.cri.pod-annotations", map[string]string{}),
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			die("label %q: want K=V", l)
		}
		opts = append(opts, gocni.WithArgs(k, v))
	}
	if *ip != "" {
		opts = append(opts, gocni.WithArgs("IP", *ip))
	}
	if *mac != "" {
		opts = append(opts, gocni.WithArgs("MAC", *mac))
	}
	var pms []gocni.PortMapping
	for _, p := range ports {
		pm, err := parsePort(p)
		if err != nil {
			die("%v", err)
		}
		// containerd drops mappings without a host port.
		if pm.HostPort > 0 {
			pms = append(pms, pm)
		}
	}
	if len(pms) > 0 {
		opts = append(opts, gocni.WithCapabilityPortMap(pms))
	}
	if len(ranges) > 0 {
		var rs []gocni.IPRanges
		for _, r := range ranges {
			rs = append(rs, parseRange(r))
		}
		opts = append(opts, gocni.WithCapabilityIPRanges(rs))
	}
	if len(rsets) > 0 {
		var sets [][]gocni.IPRanges
		for _, set := range rsets {
			var rs []gocni.IPRanges
			for _, r := range strings.Split(set, ";") {
				rs = append(rs, parseRange(r))
			}
			sets = append(sets, rs)
		}
		opts = append(opts, gocni.WithCapability("ipRanges", sets))
	}
	if *bw != "" {
		b, err := parseBandwidth(*bw)
		if err != nil {
			die("%v", err)
		}
		opts = append(opts, gocni.WithCapabilityBandWidth(b))
	}
	for _, c := range caps {
		k, v, ok := strings.Cut(c, "=")
		var val interface{}
		if !ok || json.Unmarshal([]byte(v), &val) != nil {
			die("cap %q: want NAME=JSON", c)
		}
		opts = append(opts, gocni.WithCapability(k, val))
	}
	if *dns != "" {
		opts = append(opts, gocni.WithCapabilityDNS(gocni.DNS{Servers: strings.Split(*dns, ",")}))
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	switch verb {
	case "setup":
		res, err := lib.Setup(ctx, id, path, opts...)
		if err != nil {
			// containerd tears the pod's network down when its setup fails.
			if rerr := lib.Remove(ctx, id, path, opts...); rerr != nil {
				die("setup: %v (and the teardown after it: %v)", err, rerr)
			}
			die("setup: %v", err)
		}
		out := struct {
			Interfaces map[string]ifaceOut `json:"interfaces"`
			Raw        interface{}         `json:"raw"`
		}{Interfaces: map[string]ifaceOut{}, Raw: res.Raw()}
		for n, c := range res.Interfaces {
			o := ifaceOut{Mac: c.Mac, Sandbox: c.Sandbox, IPs: []string{}}
			for _, ipc := range c.IPConfigs {
				o.IPs = append(o.IPs, ipc.IP.String())
			}
			out.Interfaces[n] = o
		}
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	case "check":
		if err := lib.Check(ctx, id, path, opts...); err != nil {
			die("check: %v", err)
		}
	case "remove":
		if err := lib.Remove(ctx, id, path, opts...); err != nil {
			die("remove: %v", err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}
