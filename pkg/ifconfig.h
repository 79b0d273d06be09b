/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Apply an IPAM result to an interface inside a container netns, and check
 * it later: the C form of the reference's ConfigureIface and
 * ValidateExpectedInterfaceIPs/ValidateExpectedRoute, used by bridge, ptp,
 * macvlan, ipvlan and later plugins.
 * Everything goes through the netns's own netlink socket: no setns except
 * for the sysctls, which go through netns_run().
 */
#ifndef CNIC_IFCONFIG_H
#define CNIC_IFCONFIG_H

#include "error.h"
#include "netns.h"
#include "types.h"

struct cnl_link;
struct cnl_route_list;

struct ifconfig_opts {
	/*
	 * false: addresses get IFA_F_NODAD and nothing waits (bridge's default,
	 * enabledad=false).  true: the kernel runs DAD and ifconfig_apply waits,
	 * event-driven and bounded by settle_timeout_ms (default 5000), until no
	 * address of the interface is tentative; DAD failure is an error.
	 */
	bool dad;
	unsigned int settle_timeout_ms;
	bool arp_notify;   /* net.ipv4.conf.<if>.arp_notify=1 */
	bool ndisc_notify; /* net.ipv6.conf.<if>.ndisc_notify=1 */
	/*
	 * Also set net.ipv6.conf.<if>.accept_dad to follow dad (1, with
	 * enhanced_dad=1; or 0), before any address and before the link comes
	 * up, as the reference bridge does: with dad false not even the
	 * link-local address goes through DAD.  Best effort, as the reference.
	 */
	bool set_accept_dad;
	/* ifname's ifindex when the caller knows it (saves a lookup); 0: look it up. */
	int ifindex;
	/*
	 * The caller ran ifconfig_early_sysctls for this link already, inside
	 * ns: ifconfig_apply enters ns only for what depends on the addresses
	 * (IPv6), if anything.
	 */
	bool early_sysctls_done;
	/* IFA_F_* for every address, besides dad's IFA_F_NODAD (ptp: IFA_F_NOPREFIXROUTE). */
	unsigned int addr_flags;
	/*
	 * Called with the addresses on and the link up, before r's routes are
	 * added: a plugin's own routes that those may need to reach their
	 * gateway (ptp, whose addresses come without a prefix route).  NULL:
	 * none.
	 */
	int (*before_routes)(void *arg, const struct cnl_link *link, struct cni_error **err);
	void *before_routes_arg;
};

/*
 * The sysctls of o that do not depend on the addresses (accept_dad and
 * enhanced_dad with set_accept_dad, ndisc_notify), best effort, written on
 * ifname by a caller that is inside the link's netns already (to make its
 * rtnetlink socket there, say): one visit instead of two.  They stay with
 * the device through a rename.  Returns false when o has none, so there is
 * nothing to enter the netns for.
 */
bool ifconfig_has_early_sysctls(const struct ifconfig_opts *o);
void ifconfig_early_sysctls(const char *ifname, const struct ifconfig_opts *o);

/*
 * On ifname in ns: every ip of r whose interface == iface_idx (all ips when
 * iface_idx < 0), enabling IPv6 on the interface and lo first when there is
 * an IPv6 address (disable_ipv6=0, keep_addr_on_down=1); the link up; then
 * every route of r, with gw defaulting to the first gateway of its family,
 * added without NLM_F_EXCL (so equal prefixes form ECMP sets, as the
 * reference).  Errors name the address or route and carry the kernel's
 * extended ACK.  Nothing is undone on failure: the caller deletes the link.
 */
int ifconfig_apply(struct netns *ns, const char *ifname, const struct cni_result *r, int iface_idx,
		   const struct ifconfig_opts *opts, struct cni_error **err);

/*
 * CHECK: every ip of prev for iface_idx (as above) is on ifname, and every
 * route of prev exists in the netns (matched by dst and, when given, gw).
 * The error names the first missing address or route.
 */
int ifconfig_check(struct netns *ns, const char *ifname, const struct cni_result *prev,
		   int iface_idx, struct cni_error **err);

/*
 * ifconfig_check for a caller whose own checks already fetched the link
 * (link->name is ifname) and maybe dumped the routes: asking the kernel
 * again costs a CHECK a round trip each.  all_routes, when not NULL, is
 * cnl_route_list(ns, AF_UNSPEC, 0, 0) (every table, every device); NULL
 * dumps them here.
 */
int ifconfig_check_link(struct netns *ns, const struct cnl_link *link,
			const struct cni_result *prev, int iface_idx,
			const struct cnl_route_list *all_routes, struct cni_error **err);

#endif
