/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Links, one function per verb, each one request on ns's rtnetlink socket
 * (see rtnl.h for the error conventions).  Interfaces are named by name
 * because that is what configs and results carry; the kernel looks them up.
 * "Not found" is ENODEV in (*err)->errnum, see cnl_not_found().
 */
#ifndef CNIC_LINK_H
#define CNIC_LINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "mac.h"
#include "netns.h"

/*
 * RFC 2863 operational states (IFLA_OPERSTATE), the kernel's IF_OPER_*
 * values: <linux/if.h> cannot be included next to <net/if.h>.
 */
enum {
	CNL_OPER_UNKNOWN = 0,
	CNL_OPER_NOTPRESENT = 1,
	CNL_OPER_DOWN = 2,
	CNL_OPER_LOWERLAYERDOWN = 3,
	CNL_OPER_TESTING = 4,
	CNL_OPER_DORMANT = 5,
	CNL_OPER_UP = 6,
};

struct cnl_link {
	int ifindex;
	char name[IFNAMSIZ];
	char kind[16];	     /* IFLA_INFO_KIND: "veth", "bridge", "macvlan"...; "" for none */
	char slave_kind[16]; /* IFLA_INFO_SLAVE_KIND: "bridge" for a bridge port, else "" */
	unsigned int flags;  /* IFF_UP, IFF_PROMISC, ... */
	unsigned int mtu;
	unsigned int txqlen;
	char mac[CNL_MAC_STRLEN]; /* lowercase; "" unless a 6-byte hardware address */
	int master;		  /* master's ifindex (bridge of a port), 0: none */
	int link;		  /* IFLA_LINK: veth peer, macvlan/ipvlan parent; 0: none */
	bool link_in_other_netns; /* link is an ifindex in another namespace (IFLA_LINK_NETNSID) */
	unsigned char operstate;  /* CNL_OPER_UP, ... */
	uint32_t macvlan_mode;	  /* MACVLAN_MODE_* for kind macvlan */
	uint16_t ipvlan_mode;	  /* IPVLAN_MODE_* for kind ipvlan */
	bool br_vlan_filtering;	  /* kind bridge: IFLA_BR_VLAN_FILTERING */
	uint16_t br_default_pvid; /* kind bridge: IFLA_BR_VLAN_DEFAULT_PVID (0: none) */
	/*
	 * kind bridge: the address of IFLA_BR_BRIDGE_ID, which the kernel keeps
	 * equal to the bridge's MAC except on a bridge that never had a port
	 * and no MAC set (then all zero); "" if not reported.
	 */
	char br_id_mac[CNL_MAC_STRLEN];
	/*
	 * net.ipv6.conf.<link>.accept_ra as the link message reports it
	 * (IFLA_AF_SPEC/AF_INET6/IFLA_INET6_CONF), so a caller can skip a
	 * /proc/sys lookup, which costs O(network namespaces) in the kernel.
	 */
	bool has_accept_ra;
	int32_t accept_ra;
	uint16_t vlan_id;   /* kind vlan: IFLA_VLAN_ID */
	uint32_t vrf_table; /* kind vrf: IFLA_VRF_TABLE */
};

static inline bool cnl_link_is_up(const struct cnl_link *l)
{
	return l->flags & IFF_UP;
}

int cnl_link_get(struct netns *ns, const char *ifname, struct cnl_link *ret, struct cni_error **err);
int cnl_link_get_by_index(struct netns *ns, int ifindex, struct cnl_link *ret,
			  struct cni_error **err);

/* Every link of ns (one dump); *ret must be zeroed or freed with cnl_links_free. */
struct cnl_links {
	struct cnl_link *v;
	size_t n;
};
int cnl_link_list(struct netns *ns, struct cnl_links *ret, struct cni_error **err);
void cnl_links_free(struct cnl_links *l);

/* A new link; zero / NULL members mean "kernel default". */
struct cnl_newlink {
	const char *kind; /* "veth", "bridge", "macvlan", "macvtap", "ipvlan" */
	const char *name;
	unsigned int mtu;
	const char *mac;
	/* Create it directly inside this namespace (IFLA_NET_NS_FD); NULL: ns itself. */
	struct netns *netns;
	/* macvlan/macvtap/ipvlan: ifindex of the parent, in the namespace of the socket (ns). */
	int parent;
	uint32_t macvlan_mode;	     /* MACVLAN_MODE_* (also macvtap); 0: kernel default (vepa) */
	uint32_t macvlan_bcqueuelen; /* 0: kernel default */
	uint16_t ipvlan_mode;	     /* IPVLAN_MODE_L2 (0), _L3, _L3S */
	bool bridge_vlan_filtering;
	uint16_t vlan_id;   /* vlan: the 802.1Q id (IFLA_VLAN_ID; 0 is a valid id) */
	uint32_t vrf_table; /* vrf: its routing table (IFLA_VRF_TABLE, required by the kernel) */
	/* Enslave it at birth (IFLA_MASTER, an ifindex in ns); 0: no master. */
	int master;
	/*
	 * Ask the kernel to echo the new link (NLM_F_ECHO, honoured since
	 * Linux 6.3) into *echo: saves a lookup.  echo->ifindex stays 0 when
	 * the kernel sent nothing back; the caller then asks.
	 */
	struct cnl_link *echo;
	struct {
		const char *name; /* NULL: kernel picks vethN */
		unsigned int mtu;
		const char *mac;
		struct netns *netns; /* where the peer is born; NULL: with the link */
	} peer;			     /* veth */
};

/*
 * Create a link through ns's socket, NLM_F_EXCL: an existing name is EEXIST.
 * E.g. a veth whose container end is created in the container (ns) and whose
 * host end is born in the host netns:
 *
 *	cnl_link_add(cns, &(struct cnl_newlink){ .kind = "veth", .name = "eth0",
 *		.peer = { .name = "veth1a2b3c4d", .netns = host } }, err);
 */
int cnl_link_add(struct netns *ns, const struct cnl_newlink *spec, struct cni_error **err);

/* Returns 1 when deleted, 0 when there was no such link. */
int cnl_link_del(struct netns *ns, const char *ifname, struct cni_error **err);

int cnl_link_set_up(struct netns *ns, const char *ifname, bool up, struct cni_error **err);
int cnl_link_set_mtu(struct netns *ns, const char *ifname, unsigned int mtu, struct cni_error **err);
/* mac: "aa:bb:cc:dd:ee:ff" (upper case and '-' separators accepted). */
int cnl_link_set_mac(struct netns *ns, const char *ifname, const char *mac, struct cni_error **err);
/* Enslave to master_ifindex (a bridge); 0 releases it. */
int cnl_link_set_master(struct netns *ns, const char *ifname, int master_ifindex,
			struct cni_error **err);
int cnl_link_set_promisc(struct netns *ns, const char *ifname, bool on, struct cni_error **err);
int cnl_link_set_allmulti(struct netns *ns, const char *ifname, bool on, struct cni_error **err);
int cnl_link_set_txqlen(struct netns *ns, const char *ifname, unsigned int qlen,
			struct cni_error **err);
/* The link must be down for the kernel to rename it. */
int cnl_link_rename(struct netns *ns, const char *ifname, const char *newname,
		    struct cni_error **err);
/* The same for a link the caller looked up already (l): no second lookup. */
int cnl_link_rename_found(struct netns *ns, const struct cnl_link *l, const char *newname,
			  struct cni_error **err);

/*
 * Set one IPv4 devconf value of a link (IPV4_DEVCONF_*, as
 * net.ipv4.conf.<link>.<name>) over rtnetlink (IFLA_AF_SPEC/AF_INET/
 * IFLA_INET_CONF): the same effect as the /proc/sys write, without its
 * lookup, which costs one dentry per network namespace of the machine.
 */
int cnl_link_set_inet_conf(struct netns *ns, int ifindex, const char *ifname, int id,
			   uint32_t value, struct cni_error **err);

#include "link_bridge.h"
#include "link_monitor.h"
#include "netconf.h"

#endif
