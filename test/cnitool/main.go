// SPDX-License-Identifier: Apache-2.0

// cnitool: a small runtime for tests, built on libcni.  It speaks the same
// command line as the upstream cnitool (add/check/del NETNAME NETNS_PATH with
// CNI_PATH, NETCONFPATH, CNI_IFNAME, CAP_ARGS, CNI_ARGS) and adds what tests
// need: a results cache outside /var/lib/cni (CNI_CACHE_DIR or --cache-dir),
// an explicit container id (CNI_CONTAINERID) and "version PLUGIN".
package main

import (
	"context"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

const usage = `usage: cnitool [--cache-dir DIR] add|check|del NETNAME NETNS_PATH
       cnitool [--cache-dir DIR] version PLUGIN_TYPE

environment:
  CNI_PATH         ':'-separated plugin directories
  NETCONFPATH      directory of .conf/.conflist files (default /etc/cni/net.d)
  CNI_IFNAME       interface name in the container (default eth0)
  CNI_CONTAINERID  container id (default: derived from NETNS_PATH)
  CNI_ARGS         "K=V;K=V" passed to the plugins
  CAP_ARGS         JSON object of capability arguments (runtimeConfig)
  CNI_CACHE_DIR    results cache (default /var/lib/cni), --cache-dir overrides
`

func die(err error) {
	// A plugin's error keeps its JSON form on stdout so callers can check the code.
	if e, ok := err.(*types.Error); ok {
		b, _ := json.Marshal(e)
		fmt.Println(string(b))
	}
	fmt.Fprintf(os.Stderr, "cnitool: %v\n", err)
	os.Exit(1)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseCNIArgs(s string) ([][2]string, error) {
	var out [][2]string
	if s == "" {
		return out, nil
	}
	for _, pair := range strings.Split(s, ";") {
		kv := strings.Split(pair, "=")
		if len(kv) != 2 || kv[0] == "" {
			return nil, fmt.Errorf("invalid CNI_ARGS pair %q", pair)
		}
		out = append(out, [2]string{kv[0], kv[1]})
	}
	return out, nil
}

func main() {
	args := os.Args[1:]
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "--cache-dir" && len(args) > 1:
			cacheDir = args[1]
			args = args[2:]
		case strings.HasPrefix(args[0], "--cache-dir="):
			cacheDir = strings.TrimPrefix(args[0], "--cache-dir=")
			args = args[1:]
		case args[0] == "-h" || args[0] == "--help":
			fmt.Print(usage)
			os.Exit(0)
		default:
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
	}
	if len(args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}

	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	cninet := libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	ctx := context.Background()

	if args[0] == "version" {
		info, err := cninet.GetVersionInfo(ctx, args[1])
		if err != nil {
			die(err)
		}
		b, _ := json.Marshal(map[string]interface{}{
			"supportedVersions": info.SupportedVersions(),
		})
		fmt.Println(string(b))
		return
	}
	if len(args) != 3 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	verb, netName, netns := args[0], args[1], args[2]

	netconf, err := libcni.LoadConfList(envOr("NETCONFPATH", "/etc/cni/net.d"), netName)
	if err != nil {
		die(err)
	}

	var capArgs map[string]interface{}
	if s := os.Getenv("CAP_ARGS"); s != "" {
		if err := json.Unmarshal([]byte(s), &capArgs); err != nil {
			die(fmt.Errorf("CAP_ARGS: %v", err))
		}
	}
	pluginArgs, err := parseCNIArgs(os.Getenv("CNI_ARGS"))
	if err != nil {
		die(err)
	}

	if netns != "" {
		if netns, err = filepath.Abs(netns); err != nil {
			die(err)
		}
	}
	id := os.Getenv("CNI_CONTAINERID")
	if id == "" {
		sum := sha512.Sum512([]byte(netns))
		id = fmt.Sprintf("cnitool-%x", sum[:10])
	}
	rt := &libcni.RuntimeConf{
		ContainerID:    id,
		NetNS:          netns,
		IfName:         envOr("CNI_IFNAME", "eth0"),
		Args:           pluginArgs,
		CapabilityArgs: capArgs,
	}

	switch verb {
	case "add":
		result, err := cninet.AddNetworkList(ctx, netconf, rt)
		if err != nil {
			die(err)
		}
		if result != nil {
			if err := result.Print(); err != nil {
				die(err)
			}
			fmt.Println()
		}
	case "check":
		if err := cninet.CheckNetworkList(ctx, netconf, rt); err != nil {
			die(err)
		}
	case "del":
		if err := cninet.DelNetworkList(ctx, netconf, rt); err != nil {
			die(err)
		}
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
}
