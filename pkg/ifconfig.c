/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/ip.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "cleanup.h"
#include "ifconfig.h"
#include "link.h"
#include "log.h"
#include "route.h"
#include "rtnl.h"
#include "sysctl.h"

#define DEFAULT_SETTLE_MS 5000

static bool selected(const struct cni_result *r, const struct cni_ip *ip, int iface_idx)
{
	if (iface_idx < 0)
		return true;
	return ip->interface == iface_idx;
}

/* The index of an ip must name ifname's entry of the result (the reference's check). */
static int check_indices(const struct cni_result *r, const char *ifname, int iface_idx,
			 struct cni_error **err)
{
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];
		char buf[IPNET_STRLEN];

		if (!selected(r, ip, iface_idx))
			continue;
		if (iface_idx >= 0 &&
		    ((size_t)ip->interface >= r->n_ifaces || !r->ifaces[ip->interface].name ||
		     strcmp(r->ifaces[ip->interface].name, ifname) != 0))
			return cni_error_set(err, CNI_ERR_INTERNAL, EINVAL,
					     "failed to add IP addr %s to \"%s\": invalid interface "
					     "index %d",
					     ipnet_fmt(&ip->address, buf), ifname, ip->interface);
	}
	return 0;
}

/* ---- sysctls, all in one visit to the namespace ----------------------- */

struct ifsysctl {
	struct netns *ns;
	const char *ifname;
	bool v6;
	const struct ifconfig_opts *o;
};

/* Write a sysctl whose failure the reference ignores too; takes name. */
static void best_effort(char *owned_name, const char *value)
{
	cleanup_free char *name = owned_name;
	struct cni_error *e = NULL;

	if (sysctl_set(name, value, &e) < 0) {
		cni_log("%s", e->msg);
		cni_error_free(e);
	}
}

bool ifconfig_has_early_sysctls(const struct ifconfig_opts *o)
{
	return o->set_accept_dad || o->ndisc_notify;
}

void ifconfig_early_sysctls(const char *ifname, const struct ifconfig_opts *o)
{
	if (o->set_accept_dad) {
		if (o->dad)
			best_effort(xasprintf("net/ipv6/conf/%s/enhanced_dad", ifname), "1");
		best_effort(xasprintf("net/ipv6/conf/%s/accept_dad", ifname), o->dad ? "1" : "0");
	}
	if (o->ndisc_notify)
		best_effort(xasprintf("net/ipv6/conf/%s/ndisc_notify", ifname), "1");
}

/* Runs inside the container netns: /proc/sys/net is the opener's namespace. */
static int apply_sysctls(void *arg, struct cni_error **err)
{
	const struct ifsysctl *a = arg;
	const struct ifconfig_opts *o = a->o;

	if (a->v6) {
		const char *const ifs[] = { "lo", a->ifname };

		for (size_t i = 0; i < ARRAY_SIZE(ifs); i++) {
			cleanup_free char *name = xasprintf("net/ipv6/conf/%s/disable_ipv6", ifs[i]);
			cleanup_free char *cur = NULL;
			struct cni_error *e = NULL;

			/* Unreadable (no IPv6 at all): the address add will say so. */
			if (sysctl_get(name, &cur, &e) < 0) {
				cni_error_free(e);
				continue;
			}
			if (strcmp(cur, "0") == 0)
				continue;
			if (sysctl_set(name, "0", err) < 0)
				return cni_error_wrap(err,
						      "failed to enable IPv6 for interface \"%s\"",
						      ifs[i]);
		}
		best_effort(xasprintf("net/ipv6/conf/%s/keep_addr_on_down", a->ifname), "1");
	}
	if (!o->early_sysctls_done)
		ifconfig_early_sysctls(a->ifname, o);
	/* While we are in here: the netns's rtnetlink socket, saving a second visit. */
	return cnl_sock_get(a->ns, &(struct cnl_sock *){ NULL }, err);
}

static int apply_sysctls_arp(void *arg, struct cni_error **err)
{
	const struct ifsysctl *a = arg;

	best_effort(xasprintf("net/ipv4/conf/%s/arp_notify", a->ifname), "1");
	return 0;
}

/* ---- apply ------------------------------------------------------------ */

int ifconfig_apply(struct netns *ns, const char *ifname, const struct cni_result *r, int iface_idx,
		   const struct ifconfig_opts *opts, struct cni_error **err)
{
	static const struct ifconfig_opts defaults = { .dad = false };
	const struct ifconfig_opts *o = opts ? opts : &defaults;
	struct ipaddr gw4 = { 0 }, gw6 = { 0 };
	struct ifsysctl sc = { .ns = ns, .ifname = ifname, .o = o };
	struct cnl_link link = { .ifindex = o->ifindex };
	bool v6 = false;

	if (check_indices(r, ifname, iface_idx, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];

		if (!selected(r, ip, iface_idx))
			continue;
		if (ip->address.addr.family == AF_INET6) {
			v6 = true;
			if (!ipaddr_is_set(&gw6) && ipaddr_is_set(&ip->gateway))
				gw6 = ip->gateway;
		} else if (!ipaddr_is_set(&gw4) && ipaddr_is_set(&ip->gateway)) {
			gw4 = ip->gateway;
		}
	}

	if (link.ifindex > 0)
		snprintf(link.name, sizeof(link.name), "%s", ifname);
	else if (cnl_link_get(ns, ifname, &link, err) < 0)
		return -1;

	/*
	 * Only sysctls need the visit (which makes the socket too, if it is not
	 * there yet; otherwise the first request makes it).
	 */
	sc.v6 = v6;
	if ((v6 || (!o->early_sysctls_done && ifconfig_has_early_sysctls(o))) &&
	    netns_run(ns, apply_sysctls, &sc, err) < 0)
		return cni_error_wrap(err, "netns \"%s\"", ns->path);
	/*
	 * arp_notify over rtnetlink (the socket exists now): a /proc/sys/net/ipv4
	 * lookup walks one dentry per network namespace of the machine.  The
	 * sysctl remains the fallback, best effort as the reference.
	 */
	if (o->arp_notify) {
		struct cni_error *e = NULL;

		if (cnl_link_set_inet_conf(ns, link.ifindex, ifname, IPV4_DEVCONF_ARP_NOTIFY, 1,
					   &e) < 0) {
			cni_log("%s", e->msg);
			cni_error_free(e);
			if (netns_run(ns, apply_sysctls_arp, &sc, err) < 0)
				return cni_error_wrap(err, "netns \"%s\"", ns->path);
		}
	}

	for (size_t i = 0; i < r->n_ips; i++) {
		const struct cni_ip *ip = &r->ips[i];
		unsigned int flags = o->addr_flags;

		if (!selected(r, ip, iface_idx))
			continue;
		if (ip->address.addr.family == AF_INET6 && !o->dad)
			flags |= IFA_F_NODAD;
		if (cnl_addr_add(ns, &link, &ip->address, flags, err) < 0)
			return -1;
	}

	if (cnl_link_set_up(ns, ifname, true, err) < 0)
		return -1;

	/* Routes through a tentative IPv6 address would not work yet. */
	if (v6 && o->dad &&
	    cnl_addr_wait_settled(ns, link.ifindex, ifname,
				  o->settle_timeout_ms ? o->settle_timeout_ms : DEFAULT_SETTLE_MS,
				  err) < 0)
		return -1;
	if (o->before_routes && o->before_routes(o->before_routes_arg, &link, err) < 0)
		return -1;

	for (size_t i = 0; i < r->routes.n; i++) {
		const struct cni_route *cr = &r->routes.v[i];
		struct cnl_route kr;

		cnl_route_from_cni(&kr, cr, link.ifindex);
		if (!ipaddr_is_set(&kr.gw)) {
			const struct ipaddr *gw = cr->dst.addr.family == AF_INET ? &gw4 : &gw6;

			if (ipaddr_is_set(gw))
				kr.gw = *gw;
		}
		if (cnl_route_add(ns, &link, &kr, 0, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- check ------------------------------------------------------------ */

static bool route_matches(const struct cnl_route *k, const struct ipnet *dst,
			  const struct ipaddr *gw, bool any_table, uint32_t table)
{
	struct ipnet kd;

	ipnet_canonical(&k->dst, &kd);
	if (kd.prefix != dst->prefix || !ipaddr_eq(&kd.addr, &dst->addr))
		return false;
	if (gw && ipaddr_is_set(gw) && !ipaddr_eq(&k->gw, gw))
		return false;
	return any_table || k->table == table;
}

int ifconfig_check_link(struct netns *ns, const struct cnl_link *link,
			const struct cni_result *prev, int iface_idx,
			const struct cnl_route_list *all_routes, struct cni_error **err)
{
	struct cnl_addrs addrs = { 0 };
	struct cnl_route_list own = { 0 };
	const struct cnl_route_list *routes = all_routes;
	const char *ifname = link->name;
	int r = -1;

	if (cnl_addr_list(ns, link->ifindex, AF_UNSPEC, &addrs, err) < 0)
		return -1;
	if (!routes) {
		if (cnl_route_list(ns, AF_UNSPEC, 0, 0, &own, err) < 0)
			goto out;
		routes = &own;
	}

	for (size_t i = 0; i < prev->n_ips; i++) {
		const struct cni_ip *ip = &prev->ips[i];
		char buf[IPNET_STRLEN];
		struct ipnet pfx;
		bool found = false;

		if (!selected(prev, ip, iface_idx))
			continue;
		for (size_t j = 0; j < addrs.n && !found; j++)
			found = addrs.v[j].addr.prefix == ip->address.prefix &&
				ipaddr_eq(&addrs.v[j].addr.addr, &ip->address.addr);
		if (!found) {
			cni_error_set(err, CNI_ERR_INTERNAL, ENOENT,
				      "address %s not found on interface \"%s\" in netns \"%s\"",
				      ipnet_fmt(&ip->address, buf), ifname, ns->path);
			goto out;
		}
		/* Its prefix route (the local one for a /32 or /128) must be there too. */
		ipnet_canonical(&ip->address, &pfx);
		found = false;
		for (size_t j = 0; j < routes->n && !found; j++)
			found = routes->v[j].ifindex == link->ifindex &&
				route_matches(&routes->v[j], &pfx, NULL, true, 0);
		if (!found) {
			cni_error_set(err, CNI_ERR_INTERNAL, ENOENT,
				      "route to %s (prefix of address %s) not found on interface "
				      "\"%s\" in netns \"%s\"",
				      ipnet_fmt(&pfx, buf),
				      ipnet_fmt(&ip->address, (char[IPNET_STRLEN]){ 0 }), ifname,
				      ns->path);
			goto out;
		}
	}

	for (size_t i = 0; i < prev->routes.n; i++) {
		const struct cni_route *cr = &prev->routes.v[i];
		uint32_t table = cr->has_table && cr->table > 0 ? (uint32_t)cr->table : 254;
		bool found = false;

		for (size_t j = 0; j < routes->n && !found; j++)
			found = route_matches(&routes->v[j], &cr->dst, &cr->gw, false, table);
		if (!found) {
			char dst[IPNET_STRLEN], gw[IPADDR_STRLEN];

			cni_error_set(err, CNI_ERR_INTERNAL, ENOENT,
				      "route %s%s%s not found in netns \"%s\"",
				      ipnet_fmt(&cr->dst, dst), ipaddr_is_set(&cr->gw) ? " via " : "",
				      ipaddr_is_set(&cr->gw) ? ipaddr_fmt(&cr->gw, gw) : "",
				      ns->path);
			goto out;
		}
	}
	r = 0;
out:
	cnl_addrs_free(&addrs);
	cnl_route_list_free(&own);
	return r;
}

int ifconfig_check(struct netns *ns, const char *ifname, const struct cni_result *prev,
		   int iface_idx, struct cni_error **err)
{
	struct cnl_link link;

	if (cnl_link_get(ns, ifname, &link, err) < 0)
		return -1;
	return ifconfig_check_link(ns, &link, prev, iface_idx, NULL, err);
}
