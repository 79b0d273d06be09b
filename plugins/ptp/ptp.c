/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ptp: a veth pair per container, routed rather than bridged.  The
 * container end gets the IPAM addresses and reaches everything through the
 * gateway: veth has no IFF_POINTOPOINT, so instead of the subnet's
 * connected route it gets "<gw>/32 dev eth0 scope link" plus "<subnet> via
 * <gw>", the reference's routes (the reference lets the kernel make the
 * connected route and deletes it; the address comes without it here).
 * The host end holds every gateway as a /32 (/128) and a host route to
 * each container address.  Keys: ipMasq, ipMasqBackend (accepted, nftables
 * is always used), mtu, ipam (required), dns.  See docs/ptp.md.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "../../ipam/ipam.h"
#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/ipmasq.h"
#include "../lib/l2util.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/route.h"
#include "../../pkg/skel.h"
#include "../../pkg/sysctl.h"
#include "../../pkg/types.h"
#include "../../pkg/veth.h"
#include "../../pkg/xtref.h" /* adopt: the reference's rules */

struct ptp_conf {
	int mtu;
	char *backend; /* ipMasqBackend: accepted for compatibility */
};

static const struct cni_field ptp_fields[] = {
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct ptp_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = 65535 },
	{ .key = "ipMasqBackend",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct ptp_conf, backend),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void ptp_conf_free(struct ptp_conf *c)
{
	cni_fields_free(ptp_fields, c);
}

static int load_conf(const struct cni_cmd *cmd, struct ptp_conf *c, struct cni_error **err)
{
	if (cni_json_decode(cni_netconf_root(cmd->conf), ptp_fields, c, "", err) < 0)
		return -1;
	if (c->backend && *c->backend && strcmp(c->backend, "iptables") != 0 &&
	    strcmp(c->backend, "nftables") != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipMasqBackend: must be \"iptables\" or \"nftables\", not \"%s\"",
				     c->backend);
	return 0;
}

static unsigned int host_prefix(const struct ipaddr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

static struct ipnet host_net(const struct ipaddr *a)
{
	return (struct ipnet){ .addr = *a, .prefix = (uint8_t)host_prefix(a) };
}

static bool same_net(const struct ipnet *a, const struct ipnet *b)
{
	return a->prefix == b->prefix && ipaddr_eq(&a->addr, &b->addr);
}

/* Add r; the very same route being there already is fine. */
static int route_add_once(struct netns *ns, const struct cnl_link *dev, const struct cnl_route *r,
			  struct cni_error **err)
{
	struct cni_error *e = NULL;

	if (cnl_route_add(ns, dev, r, 0, &e) == 0)
		return 0;
	if (e && e->errnum == EEXIST) {
		cni_error_free(e);
		return 0;
	}
	cni_error_move(err, &e);
	return -1;
}

/*
 * Container side: for each address, instead of the connected route of its
 * subnet, a scope-link route to the gateway and the subnet via the gateway,
 * both with the address as source.  del_connected: the kernel made the
 * connected route (the address came without IFA_F_NOPREFIXROUTE), delete it.
 */
static int route_via_gateway(struct netns *cont, const struct cnl_link *dev,
			     const struct cni_ip *ip, bool del_connected, struct cni_error **err)
{
	struct cnl_route connected = { .ifindex = dev->ifindex };
	struct cnl_route to_gw = {
		.dst = host_net(&ip->gateway),
		.src = ip->address.addr,
		.has_scope = true,
		.scope = RT_SCOPE_LINK,
	};
	struct cnl_route subnet = { .gw = ip->gateway, .src = ip->address.addr };

	ipnet_canonical(&ip->address, &connected.dst);
	subnet.dst = connected.dst;
	/* Two addresses sharing a subnet and gateway: the second finds the routes done. */
	if ((del_connected && cnl_route_del(cont, dev, &connected, err) < 0) ||
	    route_add_once(cont, dev, &to_gw, err) < 0 || route_add_once(cont, dev, &subnet, err) < 0)
		return -1;
	return 0;
}

/*
 * IFA_F_NOPREFIXROUTE (IPv6 since Linux 3.14, IPv4 since 4.4): the address
 * comes without the connected route that ptp would only delete again, one
 * round trip per address.  Older kernels ignore the flag, so there the
 * route is made and deleted as before.
 */
static bool kernel_has_noprefixroute(void)
{
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 4 || (major == 4 && minor >= 4);
}

struct gw_routes {
	struct netns *cont;
	const struct cni_result *r;
};

/*
 * ifconfig_apply's before_routes: with no connected route, IPAM's routes
 * reach their gateway through these.
 */
static int add_gw_routes(void *arg, const struct cnl_link *dev, struct cni_error **err)
{
	const struct gw_routes *g = arg;

	for (size_t i = 0; i < g->r->n_ips; i++)
		if (route_via_gateway(g->cont, dev, &g->r->ips[i], false, err) < 0)
			return -1;
	return 0;
}

/* Host side: every gateway on the host veth, and a route to each container address. */
static int setup_host_veth(struct netns *host, const struct cnl_link *hv, const struct cni_ip *ip,
			   struct cni_error **err)
{
	struct ipnet gw = host_net(&ip->gateway);
	struct cnl_route to_ctr = {
		.dst = host_net(&ip->address.addr),
		.has_scope = true,
		.scope = RT_SCOPE_LINK,
	};
	struct cni_error *e = NULL;

	/* Nothing else is on this link: duplicate detection could only delay the gateway. */
	if (cnl_addr_add(host, hv, &gw, IFA_F_NODAD, &e) < 0) {
		if (!e || e->errnum != EEXIST) {
			cni_error_move(err, &e);
			return cni_error_wrap(err, "host veth \"%s\"", hv->name);
		}
		cni_error_free(e);
	}
	/* As the reference: a route to the address that is there already is left as it is. */
	return route_add_once(host, hv, &to_ctr, err);
}

/* As the reference: forwarding for each family the container has (only written when off). */
static int enable_forward(const struct cni_result *r, struct cni_error **err)
{
	bool v4 = false, v6 = false;

	for (size_t i = 0; i < r->n_ips; i++) {
		v4 |= r->ips[i].address.addr.family == AF_INET;
		v6 |= r->ips[i].address.addr.family == AF_INET6;
	}
	if ((v4 && sysctl_ensure_net(NULL, "net/ipv4/ip_forward", "1", err) < 0) ||
	    (v6 && sysctl_ensure_net(NULL, "net/ipv6/conf/all/forwarding", "1", err) < 0))
		return cni_error_wrap(err, "could not enable IP forwarding");
	return 0;
}

static int check_ipam_result(const struct cni_result *r, struct cni_error **err)
{
	char buf[IPNET_STRLEN];

	if (r->n_ips == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "IPAM plugin returned missing IP config");
	for (size_t i = 0; i < r->n_ips; i++)
		if (r->ips[i].gateway.family != r->ips[i].address.addr.family)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "IPAM result: address %s has no gateway (ptp routes "
					     "everything through it)",
					     ipnet_fmt(&r->ips[i].address, buf));
	return 0;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(ptp_conf_free))) struct ptp_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	cleanup_result struct cni_result *r = NULL;
	struct veth_pair vp;
	struct cnl_link hv, cv;
	struct ifconfig_opts ico = { .dad = false };
	struct gw_routes gwr;
	bool noprefix = kernel_has_noprefixroute();
	bool ipam_done = false, veth_done = false, masq_done = false;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0)
		return -1;
	if (!cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "ipam: a type is required");
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    netns_open_current(&host, err) < 0)
		return -1;

	if (ipam_add(cmd, &ipam, err) < 0)
		return -1;
	ipam_done = true;
	if (check_ipam_result(ipam, err) < 0 || enable_forward(ipam, err) < 0)
		goto undo;

	if (veth_setup(host, cont,
		       &(struct veth_spec){ .ifname = cmd->ifname, .mtu = (unsigned int)c.mtu },
		       &vp, err) < 0)
		goto undo;
	veth_done = true;

	/* IPAM's addresses, routes and DNS on our two interfaces: host 0, container 1. */
	r = cni_result_new();
	cni_result_add_iface(r, vp.host_name, vp.host_mac, NULL);
	cni_result_add_iface(r, cmd->ifname, vp.cont_mac, cmd->netns);
	for (size_t i = 0; i < ipam->n_ips; i++) {
		struct cni_ip *ip = cni_result_add_ip(r);

		*ip = ipam->ips[i];
		ip->interface = 1;
	}
	cni_routes_copy(&r->routes, &ipam->routes);
	cni_dns_copy(&r->dns, &ipam->dns);

	/* veth_setup told us both ends: no lookups. */
	cv = (struct cnl_link){ .ifindex = vp.cont_ifindex };
	hv = (struct cnl_link){ .ifindex = vp.host_ifindex };
	snprintf(cv.name, sizeof(cv.name), "%s", cmd->ifname);
	snprintf(hv.name, sizeof(hv.name), "%s", vp.host_name);
	ico.ifindex = vp.cont_ifindex;
	if (noprefix) {
		ico.addr_flags = IFA_F_NOPREFIXROUTE;
		ico.before_routes = add_gw_routes;
		gwr = (struct gw_routes){ .cont = cont, .r = r };
		ico.before_routes_arg = &gwr;
	}
	if (ifconfig_apply(cont, cmd->ifname, r, 1, &ico, err) < 0)
		goto undo;
	for (size_t i = 0; i < r->n_ips; i++)
		if ((!noprefix && route_via_gateway(cont, &cv, &r->ips[i], true, err) < 0) ||
		    setup_host_veth(host, &hv, &r->ips[i], err) < 0)
			goto undo;

	if (cmd->conf->ip_masq) {
		masq_done = true;
		if (ipmasq_add(cmd->conf->name, cmd->container_id, cmd->ifname, r->ips, r->n_ips,
			       err) < 0)
			goto undo;
	}
	if (cni_dns_is_set(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	/*
	 * Reverse order.  *err keeps the error that got us here; each step
	 * reports into a fresh local, and a failure is appended to *err's
	 * details rather than lost.
	 */
	{
		struct cni_error *e = NULL;

		if (masq_done && ipmasq_del(cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
			cni_error_move(err, &e);
		if (veth_done && veth_teardown(cont, cmd->ifname, &e) < 0)
			cni_error_move(err, &e);
		if (ipam_done && ipam_del(cmd, &e) < 0)
			cni_error_move(err, &e);
		cni_error_free(e);
	}
	return -1;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *cont = NULL;
	cleanup_error struct cni_error *e = NULL;
	int r = 0;

	/*
	 * Best effort, every step runs; the first failure gives the code, later
	 * ones are appended to its details.  The
	 * masquerade elements are found by their tag, so they go even when the
	 * netns (and with it the addresses) is gone - the reference leaks them.
	 */
	if (cmd->conf->ipam_type && ipam_del(cmd, &e) < 0)
		r = cni_error_move(err, &e);
	if (cmd->netns_fd >= 0 && (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, &e) < 0 ||
				   l2_link_del_kind(cont, cmd->ifname, "veth", true, &e) < 0))
		r = cni_error_move(err, &e);
	if (cmd->conf->ip_masq && ipmasq_del(cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
		r = cni_error_move(err, &e);
	if (cmd->conf->ip_masq && /* adopt */
	    xtref_ipmasq_del(NULL, cmd->conf->name, cmd->container_id, cmd->ifname, &e) < 0)
		r = cni_error_move(err, &e);
	return r;
}

/*
 * The container's own routes: "<gw>/32 dev eth0" and "<subnet> via <gw>" for
 * each address, looked up in rl, the dump of every route that
 * ifconfig_check_link also reads (one dump serves both).
 */
static int check_container_routes(const struct cnl_route_list *rl, const struct cnl_link *cv,
				  const struct cni_result *prev, int idx, struct cni_error **err)
{
	char a[IPNET_STRLEN], b[IPADDR_STRLEN];
	int r = 0;

	for (size_t i = 0; i < prev->n_ips && r == 0; i++) {
		const struct cni_ip *ip = &prev->ips[i];
		struct ipnet gw = host_net(&ip->gateway), subnet;
		bool have_gw = false, have_subnet = false;

		if (ip->interface != idx || !ipaddr_is_set(&ip->gateway))
			continue;
		ipnet_canonical(&ip->address, &subnet);
		for (size_t j = 0; j < rl->n; j++) {
			const struct cnl_route *rt = &rl->v[j];

			if (rt->table != RT_TABLE_MAIN || rt->ifindex != cv->ifindex)
				continue;
			have_gw |= same_net(&rt->dst, &gw);
			have_subnet |= same_net(&rt->dst, &subnet) &&
				       ipaddr_eq(&rt->gw, &ip->gateway);
		}
		if (!have_gw)
			r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
					  "route to gateway %s missing on \"%s\"",
					  ipnet_fmt(&gw, a), cv->name);
		else if (!have_subnet)
			r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
					  "route %s via %s missing on \"%s\"", ipnet_fmt(&subnet, a),
					  ipaddr_fmt(&ip->gateway, b), cv->name);
	}
	return r;
}

/* The host end: the container's peer, with the gateways and a route to each address. */
static int check_host_side(struct netns *host, const struct cnl_link *cv,
			   const struct cni_result *prev, int idx, struct cni_error **err)
{
	struct cnl_addrs addrs = { 0 };
	struct cnl_route_list rl = { 0 };
	struct cnl_link hv;
	char a[IPNET_STRLEN];
	int r = 0;

	if (cnl_link_get_by_index(host, cv->link, &hv, err) < 0)
		return cni_error_wrap(err, "host end of \"%s\"", cv->name);
	if (strcmp(hv.kind, "veth") != 0 || hv.link != cv->ifindex)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "host end of \"%s\" not found (ifindex %d is \"%s\")",
				     cv->name, cv->link, hv.name);
	for (size_t i = 0; i < prev->n_ifaces; i++) {
		const struct cni_iface *f = &prev->ifaces[i];

		if ((!f->sandbox || !*f->sandbox) && f->name && strcmp(f->name, hv.name) == 0 &&
		    f->mac && *f->mac && strcasecmp(f->mac, hv.mac) != 0)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "host interface \"%s\" MAC %s does not match "
					     "prevResult's %s",
					     hv.name, hv.mac, f->mac);
	}
	if (cnl_addr_list(host, hv.ifindex, AF_UNSPEC, &addrs, err) < 0 ||
	    cnl_route_list(host, AF_UNSPEC, RT_TABLE_MAIN, hv.ifindex, &rl, err) < 0) {
		cnl_addrs_free(&addrs);
		return -1;
	}
	for (size_t i = 0; i < prev->n_ips && r == 0; i++) {
		const struct cni_ip *ip = &prev->ips[i];
		struct ipnet gw = host_net(&ip->gateway), to = host_net(&ip->address.addr);
		bool have_gw = false, have_route = false;

		if (ip->interface != idx || !ipaddr_is_set(&ip->gateway))
			continue;
		for (size_t j = 0; j < addrs.n; j++)
			if (ipaddr_eq(&addrs.v[j].addr.addr, &gw.addr))
				have_gw = true;
		for (size_t j = 0; j < rl.n; j++)
			have_route |= same_net(&rl.v[j].dst, &to);
		if (!have_gw)
			r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
					  "gateway %s missing on host interface \"%s\"",
					  ipnet_fmt(&gw, a), hv.name);
		else if (!have_route)
			r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
					  "host route to %s via \"%s\" missing", ipnet_fmt(&to, a),
					  hv.name);
	}
	cnl_addrs_free(&addrs);
	cnl_route_list_free(&rl);
	return r;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(ptp_conf_free))) struct ptp_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	__attribute__((cleanup(cnl_route_list_free))) struct cnl_route_list routes = { 0 };
	const struct cni_result *prev;
	struct cnl_link cv;
	int idx;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0)
		return -1;
	if (!cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "ipam: a type is required");
	if (ipam_check(cmd, err) < 0 || l2_prev_iface(cmd, "ptp", &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    netns_open_current(&host, err) < 0 ||
	    l2_check_link(cont, &prev->ifaces[idx], "veth", &cv, err) < 0 ||
	    cnl_route_list(cont, AF_UNSPEC, 0, 0, &routes, err) < 0 ||
	    ifconfig_check_link(cont, &cv, prev, idx, &routes, err) < 0 ||
	    check_container_routes(&routes, &cv, prev, idx, err) < 0 ||
	    check_host_side(host, &cv, prev, idx, err) < 0)
		return -1;
	if (cmd->conf->ip_masq) {
		cleanup_free struct cni_ip *ips = xcalloc(prev->n_ips, sizeof(*ips));
		size_t n = 0;

		for (size_t i = 0; i < prev->n_ips; i++)
			if (prev->ips[i].interface == idx)
				ips[n++] = prev->ips[i];
		if (ipmasq_check(cmd->conf->name, cmd->container_id, cmd->ifname, ips, n, err) < 0)
			return -1;
	}
	return 0;
}

static int cmd_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	int r = 0;

	if (cmd->conf->ipam_type && ipam_gc(cmd, err) < 0)
		r = -1;
	if (cmd->conf->ip_masq && ipmasq_gc(cmd->conf, err) < 0)
		r = -1;
	if (cmd->conf->ip_masq && xtref_ipmasq_gc(NULL, cmd->conf, err) < 0) /* adopt */
		r = -1;
	return r;
}

static int cmd_status(const struct cni_cmd *cmd, struct cni_error **err)
{
	/* ipam is required: without a type, no ADD could succeed. */
	return ipam_status(cmd, err);
}

static const struct cni_plugin plugin = {
	.name = "ptp",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.status = cmd_status,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
