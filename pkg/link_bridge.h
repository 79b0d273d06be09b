/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bridges over rtnetlink (see rtnl.h for the error conventions): VLAN
 * filtering, port flags and port VLANs.  Included by link.h.
 */
#ifndef CNIC_LINK_BRIDGE_H
#define CNIC_LINK_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "netns.h"

/* Turn a bridge's VLAN filtering on or off (IFLA_BR_VLAN_FILTERING). */
int cnl_bridge_set_vlan_filtering(struct netns *ns, const char *bridge, bool on,
				  struct cni_error **err);

/* ---- bridge ports (AF_BRIDGE) ------------------------------------------ */

/*
 * Bridge port flags of port_ifindex (enslaved to a bridge in ns), in one
 * AF_BRIDGE RTM_SETLINK with IFLA_PROTINFO: hairpin (IFLA_BRPORT_MODE,
 * "reflective relay") and isolated (IFLA_BRPORT_ISOLATED).  Only the
 * members whose has_ flag is set are sent.  name is for messages.
 */
struct cnl_brport {
	bool has_hairpin, hairpin;
	bool has_isolated, isolated;
};
int cnl_brport_set(struct netns *ns, int port_ifindex, const char *name, const struct cnl_brport *p,
		   struct cni_error **err);

/* One VLAN (or range vid..vid_end) of a bridge port, "bridge vlan add ... master". */
struct cnl_bridge_vlan {
	uint16_t vid;
	uint16_t vid_end; /* 0 or vid: a single VLAN */
	bool pvid;
	bool untagged;
};

/*
 * Add / delete VLANs of a bridge port (AF_BRIDGE RTM_SETLINK / RTM_DELLINK
 * with IFLA_AF_SPEC / IFLA_BRIDGE_VLAN_INFO), all in one request.  Needs a
 * bridge with vlan_filtering for traffic to follow them.
 */
int cnl_bridge_vlan_add(struct netns *ns, int port_ifindex, const char *name,
			const struct cnl_bridge_vlan *v, size_t n, struct cni_error **err);
int cnl_bridge_vlan_del(struct netns *ns, int port_ifindex, const char *name,
			const struct cnl_bridge_vlan *v, size_t n, struct cni_error **err);

#endif
