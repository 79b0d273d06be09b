/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bridge: the VLANs of a port, the gateways (calcGateways, ensureAddr, the
 * "<bridge>.<vlan>" gateway veth) and IP forwarding.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/sysctl.h"
#include "../../pkg/veth.h"
#include "bridge.h"

/* ---- VLANs of a port -------------------------------------------------- */

int bridge_setup_vlans(struct netns *host, const struct bridge_conf *c, const struct cnl_link *br,
		       int port, const char *port_name, int vlan, const struct vlan_list *trunk,
		       struct cni_error **err)
{
	cleanup_free struct cnl_bridge_vlan *v = NULL;
	size_t n = 0;

	if (vlan == 0 && (!trunk || !c->has_trunk))
		return 0;
	if (!c->preserve_default_vlan && br->br_default_pvid) {
		struct cnl_bridge_vlan def = { .vid = br->br_default_pvid };
		struct cni_error *e = NULL;

		/* A fresh port holds just the bridge's default PVID: that is what goes. */
		if (cnl_bridge_vlan_del(host, port, port_name, &def, 1, &e) < 0) {
			if (!cnl_not_found(e)) {
				cni_error_move(err, &e);
				return cni_error_wrap(err,
						      "failed to remove default vlan on "
						      "interface \"%s\"",
						      port_name);
			}
			cni_error_free(e);
		}
	}
	if (vlan) {
		struct cnl_bridge_vlan *e = xappend(&v, &n, sizeof(*v));

		*e = (struct cnl_bridge_vlan){ .vid = (uint16_t)vlan, .pvid = true, .untagged = true };
	}
	/* The trunk, tagged, as ranges; the access VLAN (if also listed) stays native. */
	for (size_t i = 0; trunk && i < trunk->n; i++) {
		uint16_t first = trunk->v[i], last = first;

		if (first == vlan)
			continue;
		while (i + 1 < trunk->n && trunk->v[i + 1] == last + 1 && trunk->v[i + 1] != vlan)
			last = trunk->v[++i];
		*(struct cnl_bridge_vlan *)xappend(&v, &n, sizeof(*v)) =
			(struct cnl_bridge_vlan){ .vid = first, .vid_end = last };
	}
	if (cnl_bridge_vlan_add(host, port, port_name, v, n, err) < 0)
		return cni_error_wrap(err, "failed to setup vlan tag on interface \"%s\"", port_name);
	return 0;
}

/* ---- gateways --------------------------------------------------------- */

void bridge_gateways_free(struct bridge_gateways *g)
{
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

/*
 * The reference's calcGateways: every IP is on the container interface;
 * with isGateway a missing gateway is the subnet's first address; with
 * isDefaultGateway a default route via it is added per family unless the
 * result already has one with a gateway.
 */
void bridge_calc_gateways(struct cni_result *r, const struct bridge_conf *c, int cont_idx,
			  struct bridge_gateways *ret)
{
	bool default_found[2] = { false, false };
	size_t n_ips = r->n_ips;

	for (size_t i = 0; i < n_ips; i++) {
		struct cni_ip *ip = &r->ips[i];
		int fam = ip->address.addr.family == AF_INET ? 0 : 1;

		ip->interface = cont_idx;
		if (!ipaddr_is_set(&ip->gateway) && c->is_gw) {
			ipnet_network(&ip->address, &ip->gateway);
			(void)ipaddr_next(&ip->gateway);
		}
		if (c->is_default_gw && !default_found[fam]) {
			for (size_t j = 0; j < r->routes.n; j++) {
				const struct cni_route *rt = &r->routes.v[j];

				if (ipaddr_is_set(&rt->gw) && rt->dst.prefix == 0 &&
				    rt->dst.addr.family == ip->address.addr.family)
					default_found[fam] = true;
			}
			if (!default_found[fam]) {
				struct cni_route *rt = cni_result_add_route(r);

				/* r->ips does not move: only routes grew. */
				rt->dst.addr.family = ip->address.addr.family;
				rt->gw = ip->gateway;
				default_found[fam] = true;
			}
		}
		if (c->is_gw) {
			struct ipnet *g = xappend(&ret->v, &ret->n, sizeof(*ret->v));

			g->addr = ip->gateway;
			g->prefix = ip->address.prefix;
		}
	}
}

static bool same_ipnet(const struct ipnet *a, const struct ipnet *b)
{
	return a->prefix == b->prefix && ipaddr_eq(&a->addr, &b->addr);
}

/*
 * Does the link's address a stand in gw's way?  Another IPv4 address, or
 * an overlapping IPv6 one, does; the other gateways of this same ADD
 * (ours) never do.
 */
static bool conflicts(const struct ipnet *a, const struct ipnet *gw,
		      const struct bridge_gateways *ours)
{
	for (size_t j = 0; j < ours->n; j++)
		if (same_ipnet(&ours->v[j], a))
			return false;
	return gw->addr.family == AF_INET || ipnet_overlaps(a, gw);
}

/*
 * The reference's ensureAddr: gw on link, unless there already.  Another
 * IPv4 address, or an overlapping IPv6 one, is a conflict: an error, or
 * with forceAddress it is removed.  Unlike the reference, the other
 * gateways of this same ADD never conflict (a two-range IPv4 config).
 * *added: the address was put there by us.
 */
static int ensure_addr_listed(struct netns *host, const struct cnl_link *link,
			      const struct ipnet *gw, const struct bridge_gateways *ours,
			      bool force, bool *added, struct cni_error **err)
{
	struct cnl_addrs addrs = { 0 };
	char buf[IPNET_STRLEN];
	struct cni_error *e = NULL;
	int r = -1;

	if (cnl_addr_list(host, link->ifindex, gw->addr.family, &addrs, err) < 0)
		return cni_error_wrap(err, "could not get list of IP addresses");
	for (size_t i = 0; i < addrs.n; i++) {
		if (same_ipnet(&addrs.v[i].addr, gw)) {
			r = 0;
			goto out;
		}
	}
	for (size_t i = 0; i < addrs.n; i++) {
		const struct ipnet *a = &addrs.v[i].addr;

		if (!conflicts(a, gw, ours))
			continue;
		if (!force) {
			cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				      "\"%s\" already has an IP address different from %s",
				      link->name, ipnet_fmt(gw, buf));
			goto out;
		}
		if (cnl_addr_del(host, link, a, err) < 0) {
			cni_error_wrap(err, "could not remove IP address from \"%s\"", link->name);
			goto out;
		}
	}
	/*
	 * No DAD for the gateway (the reference lets it run): the network's
	 * config owns this address, and a tentative gateway would leave every
	 * container of the bridge without IPv6 for a second.
	 */
	if (cnl_addr_add(host, link, gw, gw->addr.family == AF_INET6 ? IFA_F_NODAD : 0, &e) < 0) {
		/* EEXIST: a concurrent ADD put it there in the meantime. */
		if (!e || e->errnum != EEXIST) {
			cni_error_move(err, &e);
			cni_error_wrap(err, "could not add IP address to \"%s\"", link->name);
			goto out;
		}
		cni_error_free(e);
	} else {
		*added = true;
	}
	r = 0;
out:
	cnl_addrs_free(&addrs);
	return r;
}

/* Does link hold an address (other than ours) that gw conflicts with?  0 / 1 / -1. */
static int has_conflict(struct netns *host, const struct cnl_link *link, const struct ipnet *gw,
			const struct bridge_gateways *ours, struct cni_error **err)
{
	struct cnl_addrs addrs = { 0 };
	int r = 0;

	if (cnl_addr_list(host, link->ifindex, gw->addr.family, &addrs, err) < 0)
		return cni_error_wrap(err, "could not get list of IP addresses");
	for (size_t i = 0; i < addrs.n && !r; i++)
		if (!same_ipnet(&addrs.v[i].addr, gw) && conflicts(&addrs.v[i].addr, gw, ours))
			r = 1;
	cnl_addrs_free(&addrs);
	return r;
}

/*
 * IPv4: add first.  On every ADD but a network's first the gateway is
 * there already, and for IPv4 the kernel's EEXIST means exactly this
 * address with this prefix (__inet_insert_ifa), which is all the
 * reference's check wants to know: no dump of the bridge's addresses.
 * Only a fresh address is checked against the others; on a conflict it
 * is taken off again (it was the last one added, so never a primary with
 * secondaries) and the listing path decides, as before.  IPv6's EEXIST
 * covers any prefix of the address, so IPv6 lists first.
 */
static int ensure_addr(struct netns *host, const struct cnl_link *link, const struct ipnet *gw,
		       const struct bridge_gateways *ours, bool force, bool *added,
		       struct cni_error **err)
{
	struct cni_error *e = NULL;
	int c;

	if (gw->addr.family != AF_INET)
		return ensure_addr_listed(host, link, gw, ours, force, added, err);
	if (cnl_addr_add(host, link, gw, 0, &e) < 0) {
		if (e && e->errnum == EEXIST) {
			cni_error_free(e);
			return 0;
		}
		cni_error_move(err, &e);
		return cni_error_wrap(err, "could not add IP address to \"%s\"", link->name);
	}
	c = has_conflict(host, link, gw, ours, err);
	if (c == 0)
		*added = true;
	if (c <= 0)
		return c;
	if (cnl_addr_del(host, link, gw, err) < 0)
		return cni_error_wrap(err, "could not remove IP address from \"%s\"", link->name);
	return ensure_addr_listed(host, link, gw, ours, force, added, err);
}

/*
 * vlan + isGateway: the reference's "<bridge>.<vlan>" veth pair in the host,
 * whose peer is an access port of that VLAN; the gateway addresses go on it.
 */
static int ensure_vlan_iface(struct netns *host, const struct bridge_conf *c,
			     const struct cnl_link *br, struct cnl_link *ret, struct cni_error **err)
{
	char name[IFNAMSIZ + 8];
	struct cni_error *e = NULL;
	struct veth_pair p;

	snprintf(name, sizeof(name), "%s.%d", c->bridge, c->vlan);
	if (strlen(name) >= IFNAMSIZ)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "vlan gateway interface name \"%s\" is too long", name);
	if (cnl_link_get(host, name, ret, &e) == 0)
		return 0;
	if (!cnl_not_found(e)) {
		cni_error_move(err, &e);
		return cni_error_wrap(err, "failed to find interface \"%s\"", name);
	}
	cni_error_free(e);
	if (veth_setup(host, host,
		       &(struct veth_spec){ .ifname = name, .mtu = br->mtu, .host_master = br->ifindex },
		       &p, err) < 0)
		return cni_error_wrap(err, "failed to create vlan gateway \"%s\"", name);
	bridge_accept_ra_off(host, name);
	if (bridge_setup_vlans(host, c, br, p.host_ifindex, p.host_name, c->vlan, NULL, err) < 0 ||
	    cnl_link_set_up(host, name, true, err) < 0 || cnl_link_get(host, name, ret, err) < 0) {
		(void)cnl_link_del(host, name, NULL);
		return cni_error_wrap(err, "failed to create vlan gateway \"%s\"", name);
	}
	return 0;
}

static int enable_forward(struct netns *host, int family, struct cni_error **err)
{
	const char *name = family == AF_INET ? "net/ipv4/ip_forward" : "net/ipv6/conf/all/forwarding";
	struct cni_error *e = NULL;
	int cur;

	/*
	 * Already on (every ADD but the first): say so without a /proc/sys
	 * lookup, which costs one dentry per network namespace of the machine.
	 * Anything else, or no answer, takes the sysctl path as before.
	 */
	if (cnl_forwarding_get(host, family, &cur, &e) == 0 && cur == 1)
		return 0;
	cni_error_free(e);
	if (sysctl_ensure_net(host, name, "1", err) < 0)
		return cni_error_wrap(err, "failed to enable forwarding");
	return 0;
}

/*
 * Set the bridge's MAC to its current one, which pins it (NET_ADDR_SET).
 * Read it now, not at the start of ADD as the reference does: an unpinned
 * bridge that had lost its last port has the all-zero MAC until a port
 * joins, and setting that fails.
 */
static int pin_mac(struct netns *host, struct cnl_link *br, bool *pinned, struct cni_error **err)
{
	struct cnl_link now;

	if (cnl_link_get(host, br->name, &now, err) < 0)
		return -1;
	if (!now.mac[0] || strcmp(now.mac, "00:00:00:00:00:00") == 0)
		return 0;
	if (cnl_link_set_mac(host, br->name, now.mac, err) < 0)
		return -1;
	/* What the result reports: no need to ask again. */
	memcpy(br->mac, now.mac, sizeof(br->mac));
	*pinned = true;
	return 0;
}

/* isGateway: the gateways on the bridge (or the VLAN gateway), forwarding on. */
int bridge_setup_gateways(struct netns *host, const struct bridge_conf *c, struct cnl_link *br,
			  bool *pinned, const struct bridge_gateways *gws, struct cni_result *r,
			  struct cni_error **err)
{
	struct cnl_link target = *br;
	bool added = false, fam_done[2] = { false, false };

	if (gws->n == 0)
		return 0;
	if (c->vlan) {
		if (ensure_vlan_iface(host, c, br, &target, err) < 0)
			return cni_error_wrap(err, "failed to create vlan interface");
		cni_result_add_iface(r, target.name, target.mac, NULL);
	}
	for (size_t i = 0; i < gws->n; i++) {
		if (ensure_addr(host, &target, &gws->v[i], gws, c->force_address, &added, err) < 0)
			return cni_error_wrap(err, c->vlan ? "failed to set vlan interface for "
							     "bridge with addr"
							   : "failed to set bridge addr");
	}
	/*
	 * Pin the bridge's MAC as the reference does, but only when we just
	 * gave it an address: re-setting it on every ADD makes the kernel
	 * flush the bridge's neighbour entries each time (NETDEV_CHANGEADDR).
	 */
	if (added && !c->vlan && pin_mac(host, br, pinned, err) < 0)
		return cni_error_wrap(err, "could not set bridge's mac");
	for (size_t i = 0; i < gws->n; i++) {
		int fam = gws->v[i].addr.family;

		if (fam_done[fam == AF_INET6])
			continue;
		fam_done[fam == AF_INET6] = true;
		if (enable_forward(host, fam, err) < 0)
			return -1;
	}
	return 0;
}
