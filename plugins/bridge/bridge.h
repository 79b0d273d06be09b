/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bridge plugin internals, shared by its files: the verbs (bridge.c), the
 * parsed config (conf.c), port VLANs and gateways (gateway.c), and the MAC
 * anti-spoofing filter (spoofchk.c).
 */
#ifndef CNIC_BRIDGE_H
#define CNIC_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../pkg/error.h"
#include "../../pkg/link.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

#define BRIDGE_DEFAULT_NAME "cni0"
#define VLAN_MAX 4094

struct vlan_list {
	uint16_t *v; /* sorted, unique, 1..4094 */
	size_t n;
};

struct bridge_conf {
	char *bridge;
	bool is_gw;
	bool is_default_gw;
	bool force_address;
	char *ip_masq_backend; /* accepted ("iptables", "nftables"); we always use nftables */
	int mtu;
	bool hairpin;
	bool promisc;
	int vlan;
	struct vlan_list trunk;
	bool has_trunk; /* "vlanTrunk" given (even if it named no VLAN) */
	bool preserve_default_vlan;
	bool mac_spoof_chk;
	bool enable_dad;
	bool disable_container_interface;
	bool port_isolation;
	/* Resolved: runtimeConfig.mac > args.cni.mac > CNI_ARGS MAC; NULL: random. */
	char *mac;
	/* From the common config. */
	bool ip_masq;
	bool l3; /* ipam.type set */
};

/*
 * Decode and validate the bridge keys of cmd's config (code 7 for bad
 * values, with the reference's messages), resolve the MAC, and police
 * CNI_ARGS keys (MAC, plus the in-process IPAM's).
 */
int bridge_conf_load(const struct cni_cmd *cmd, struct bridge_conf *c, struct cni_error **err);
void bridge_conf_free(struct bridge_conf *c);

/* ---- gateway.c: port VLANs, gateways, forwarding ---------------------- */

struct netns;

/* net.ipv6.conf.<ifname>.accept_ra=0 in host, best effort (bridge.c). */
void bridge_accept_ra_off(struct netns *host, const char *ifname);

/*
 * VLANs of a new port (vlan: PVID untagged; trunk: tagged, as ranges);
 * without preserveDefaultVlan the bridge's default PVID goes first.
 * Nothing to do without vlan/vlanTrunk.
 */
int bridge_setup_vlans(struct netns *host, const struct bridge_conf *c, const struct cnl_link *br,
		       int port, const char *port_name, int vlan, const struct vlan_list *trunk,
		       struct cni_error **err);

struct bridge_gateways {
	struct ipnet *v; /* gateway address with the container address's prefix */
	size_t n;
};

void bridge_gateways_free(struct bridge_gateways *g);

/* The reference's calcGateways over r (ips, default routes); ret collects the gateways. */
void bridge_calc_gateways(struct cni_result *r, const struct bridge_conf *c, int cont_idx,
			  struct bridge_gateways *ret);

/*
 * isGateway: the gateways on the bridge (or the VLAN gateway veth),
 * forwarding on.  When this pins the bridge's MAC (a gateway was added),
 * br gets the MAC it was pinned to and *pinned is set.
 */
int bridge_setup_gateways(struct netns *host, const struct bridge_conf *c, struct cnl_link *br,
			  bool *pinned, const struct bridge_gateways *gws, struct cni_result *r,
			  struct cni_error **err);

/* ---- macspoofchk: nftables bridge-family filter (spoofchk.c) ------------ */

/*
 * Frames entering the bridge from host_veth must carry mac as source.  One
 * table of ours ("bridge cnic_macspoofchk") with one rule and two sets,
 * each element tagged with the attachment (nft_owner_tag), so DEL and GC
 * need neither the netns nor prevResult.  Each call is one transaction.
 */
int spoofchk_add(const char *network, const char *container_id, const char *ifname,
		 const char *host_veth, const char *mac, struct cni_error **err);
/* Remove the attachment's elements; nothing there (or no table) is success. */
int spoofchk_del(const char *network, const char *container_id, const char *ifname,
		 struct cni_error **err);
/* CHECK: the attachment's elements are there, for host_veth and mac. */
int spoofchk_check(const char *network, const char *container_id, const char *ifname,
		   const char *host_veth, const char *mac, struct cni_error **err);
/* GC: remove the network's elements whose attachment is not valid; none without a list. */
int spoofchk_gc(const struct cni_netconf *nc, struct cni_error **err);

#endif
