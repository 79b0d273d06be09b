/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vrf: enslaves CNI_IFNAME (made by an earlier plugin of the chain) to a
 * VRF in the container, creating the VRF on first use, and moves the
 * interface's routes into the VRF's table.  Keys: vrfname, table.  DEL
 * releases the interface and removes the VRF with its last member.  Spec
 * 0.3.1 and later, as the reference.  See docs/vrf.md.
 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stddef.h>
#include <string.h>

#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/route.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

/* The reference retries for ~2.5 s in all; the wait here is event-driven, with the same bound. */
#define LOCAL_ROUTE_TIMEOUT_MS 2560u

struct vrf_conf {
	char *vrfname;
	uint32_t table;
};

static const struct cni_field vrf_fields[] = {
	{ .key = "vrfname",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct vrf_conf, vrfname),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "table",
	  .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct vrf_conf, table),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void vrf_conf_free(struct vrf_conf *c)
{
	cni_fields_free(vrf_fields, c);
}

static int load_conf(const struct cni_cmd *cmd, struct vrf_conf *c, struct cni_error **err)
{
	if (cni_json_decode(cni_netconf_root(cmd->conf), vrf_fields, c, "", err) < 0)
		return -1;
	if (!c->vrfname || !*c->vrfname)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "configuration is expected to have a valid vrf name");
	if (!cni_valid_ifname(c->vrfname))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "vrfname \"%s\" is not a valid interface name", c->vrfname);
	return 0;
}

/* 1: found (*ret), 0: no link of that name, -1: error (also: a link that is no VRF). */
static int find_vrf(struct netns *ns, const char *name, struct cnl_link *ret, struct cni_error **err)
{
	struct cni_error *e = NULL;

	if (cnl_link_get(ns, name, ret, &e) < 0) {
		if (cnl_not_found(e)) {
			cni_error_free(e);
			return 0;
		}
		cni_error_move(err, &e);
		return -1;
	}
	if (strcmp(ret->kind, "vrf") != 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "Netlink %s is not a VRF", name);
	return 1;
}

/* The first table >= 1 no VRF of ns uses, as the reference picks it. */
static int free_table(struct netns *ns, uint32_t *ret, struct cni_error **err)
{
	struct cnl_links l = { 0 };
	uint32_t t = 1;
	bool taken = true;

	if (cnl_link_list(ns, &l, err) < 0)
		return -1;
	while (taken && t < UINT32_MAX) {
		taken = false;
		for (size_t i = 0; i < l.n && !taken; i++)
			if (strcmp(l.v[i].kind, "vrf") == 0 && l.v[i].vrf_table == t)
				taken = true;
		if (taken)
			t++;
	}
	cnl_links_free(&l);
	*ret = t;
	return 0;
}

static int create_vrf(struct netns *ns, const char *name, uint32_t table, struct cnl_link *ret,
		      struct cni_error **err)
{
	if (!table && free_table(ns, &table, err) < 0)
		return -1;
	if (cnl_link_add(ns, &(struct cnl_newlink){ .kind = "vrf", .name = name, .vrf_table = table },
			 err) < 0)
		return cni_error_wrap(err, "could not add VRF %s", name);
	if (cnl_link_set_up(ns, name, true, err) < 0 || cnl_link_get(ns, name, ret, err) < 0) {
		(void)cnl_link_del(ns, name, NULL);
		return cni_error_wrap(err, "could not set link up for VRF %s", name);
	}
	return 0;
}

/* Members of the VRF other than skip (an ifindex, 0: none). */
static int members(struct netns *ns, int vrf, int skip, size_t *ret, struct cni_error **err)
{
	struct cnl_links l = { 0 };

	if (cnl_link_list(ns, &l, err) < 0)
		return -1;
	*ret = 0;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].master == vrf && l.v[i].ifindex != skip)
			(*ret)++;
	cnl_links_free(&l);
	return 0;
}

/* The global (scope universe) IPv6 addresses of ifindex. */
static int global_v6(struct netns *ns, int ifindex, struct cnl_addrs *ret, struct cni_error **err)
{
	struct cnl_addrs a = { 0 };
	size_t n = 0;

	if (cnl_addr_list(ns, ifindex, AF_INET6, &a, err) < 0)
		return -1;
	for (size_t i = 0; i < a.n; i++)
		if (a.v[i].scope == RT_SCOPE_UNIVERSE)
			a.v[n++] = a.v[i];
	a.n = n;
	*ret = a;
	return 0;
}

static bool has_addr(const struct cnl_addrs *a, const struct ipnet *x)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].addr.prefix == x->prefix && ipaddr_eq(&a->v[i].addr.addr, &x->addr))
			return true;
	return false;
}

/* 1 when the VRF's table has the local route of a, 0 not yet. */
static int has_local_route(struct netns *ns, uint32_t table, int ifindex, const struct ipaddr *a,
			   struct cni_error **err)
{
	struct cnl_route_list l = { 0 };
	int found = 0;

	if (cnl_route_list(ns, AF_INET6, table, ifindex, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n && !found; i++)
		found = l.v[i].dst.prefix == 128 && ipaddr_eq(&l.v[i].dst.addr, a);
	cnl_route_list_free(&l);
	return found;
}

/*
 * Wait, driven by route events and bounded, until the kernel has put a's
 * local route into the VRF's table: routes through a are refused before.
 */
static int wait_local_route(struct netns *ns, uint32_t table, int ifindex, const struct ipaddr *a,
			    struct cni_error **err)
{
	static const unsigned int groups[] = { RTNLGRP_IPV6_ROUTE };
	uint64_t deadline = cnl_now_ms() + LOCAL_ROUTE_TIMEOUT_MS;
	cleanup_close int fd = -1;
	char s[IPADDR_STRLEN];
	int r;

	if (cnl_monitor_open(ns, groups, ARRAY_SIZE(groups), &fd, err) < 0)
		return -1;
	for (;;) {
		r = has_local_route(ns, table, ifindex, a, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
		r = cnl_monitor_wait(fd, deadline, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	r = has_local_route(ns, table, ifindex, a, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return cni_error_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
			     "no local route for %s in table %u after %u ms", ipaddr_fmt(a, s),
			     table, LOCAL_ROUTE_TIMEOUT_MS);
}

/* What enslaving took away, to give it back on a failure. */
struct saved {
	struct cnl_addrs v6;
	struct cnl_route_list routes;
};

static void restore(struct netns *ns, const struct cnl_link *link, const struct saved *s)
{
	struct cnl_addrs now = { 0 };

	if (global_v6(ns, link->ifindex, &now, NULL) == 0) {
		for (size_t i = 0; i < s->v6.n; i++)
			if (!has_addr(&now, &s->v6.v[i].addr))
				(void)cnl_addr_add(ns, link, &s->v6.v[i].addr,
						   s->v6.v[i].flags & IFA_F_NODAD, NULL);
		cnl_addrs_free(&now);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < s->routes.n; i++)
			if (ipaddr_is_set(&s->routes.v[i].gw) == (pass == 1))
				(void)cnl_route_add(ns, link, &s->routes.v[i], CNL_ROUTE_REPLACE,
						    NULL);
}

static int enslave(struct netns *ns, const struct cnl_link *vrf, const char *ifname, bool *done,
		   struct saved *s, struct cni_error **err)
{
	struct cnl_route_list all = { 0 };
	struct cnl_addrs after = { 0 };
	struct cnl_link link;
	int r = -1;

	if (cnl_link_get(ns, ifname, &link, err) < 0)
		return cni_error_wrap(err, "could not get link by name %s", ifname);
	if (link.master) {
		struct cnl_link m;

		if (cnl_link_get_by_index(ns, link.master, &m, NULL) < 0)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "interface %s has already a master set", ifname);
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "interface %s has already a master set: %s", ifname, m.name);
	}
	if (global_v6(ns, link.ifindex, &s->v6, err) < 0 ||
	    cnl_route_list(ns, AF_UNSPEC, RT_TABLE_MAIN, link.ifindex, &all, err) < 0)
		return -1;
	/* The reference's filter: main table, scope universe (no link-scope connected routes). */
	for (size_t i = 0; i < all.n; i++)
		if (all.v[i].scope == RT_SCOPE_UNIVERSE && all.v[i].type == RTN_UNICAST) {
			s->routes.v = xrealloc(s->routes.v, (s->routes.n + 1) * sizeof(*s->routes.v));
			s->routes.v[s->routes.n++] = all.v[i];
		}
	cnl_route_list_free(&all);

	if (cnl_link_set_master(ns, ifname, vrf->ifindex, err) < 0) {
		cni_error_wrap(err, "could not set vrf %s as master of %s", vrf->name, ifname);
		return -1;
	}
	*done = true;

	/* The kernel drops the IPv6 addresses of a link that changes VRF: put them back. */
	if (global_v6(ns, link.ifindex, &after, err) < 0)
		goto out;
	for (size_t i = 0; i < s->v6.n; i++) {
		const struct cnl_addr *a = &s->v6.v[i];
		char t[IPNET_STRLEN];

		if (has_addr(&after, &a->addr))
			continue;
		if (cnl_addr_add(ns, &link, &a->addr, a->flags & IFA_F_NODAD, err) < 0) {
			cni_error_wrap(err, "could not restore address %s to %s @ %s",
				       ipnet_fmt(&a->addr, t), ifname, vrf->name);
			goto out;
		}
		if (wait_local_route(ns, vrf->vrf_table, link.ifindex, &a->addr.addr, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < s->routes.n; i++) {
		struct cnl_route rt = s->routes.v[i];

		rt.table = vrf->vrf_table;
		if (cnl_route_add(ns, &link, &rt, CNL_ROUTE_REPLACE, err) < 0) {
			cni_error_wrap(err, "could not add route to table %u", vrf->vrf_table);
			goto out;
		}
	}
	r = 0;
out:
	cnl_addrs_free(&after);
	return r;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(vrf_conf_free))) struct vrf_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	struct saved s = { 0 };
	struct cnl_link vrf, link;
	bool created = false, enslaved = false;
	int r;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "missing prevResult from earlier plugin");
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
		return -1;
	/* Checked here, before a VRF is made for an interface that is not there. */
	if (cnl_link_get(ns, cmd->ifname, &link, err) < 0)
		return cni_error_wrap(err, "could not get link by name %s", cmd->ifname);

	r = find_vrf(ns, c.vrfname, &vrf, err);
	if (r < 0)
		return -1;
	if (r == 1 && c.table && vrf.vrf_table != c.table)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "VRF %s already exist with different routing table %u",
				     c.vrfname, vrf.vrf_table);
	if (r == 0) {
		struct cni_error *e = NULL;

		if (create_vrf(ns, c.vrfname, c.table, &vrf, &e) == 0) {
			created = true;
		} else if (e->errnum == EEXIST && find_vrf(ns, c.vrfname, &vrf, err) == 1) {
			/* A parallel ADD made it first: use theirs. */
			cni_error_free(e);
		} else {
			cni_error_move(err, &e);
			return -1;
		}
	}
	if (enslave(ns, &vrf, cmd->ifname, &enslaved, &s, err) < 0) {
		if (enslaved) {
			(void)cnl_link_set_master(ns, cmd->ifname, 0, NULL);
			restore(ns, &link, &s);
		}
		if (created)
			(void)cnl_link_del(ns, c.vrfname, NULL);
		r = -1;
	} else {
		r = 0;
	}
	cnl_addrs_free(&s.v6);
	cnl_route_list_free(&s.routes);
	if (r < 0)
		return -1;
	*ret = cni_result_dup(cmd->conf->prev_result);
	return 0;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(vrf_conf_free))) struct vrf_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	struct cni_error *e = NULL;
	struct cnl_link vrf, link;
	size_t n;
	int r;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (cmd->netns_fd < 0)
		return 0;
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
		return -1;
	r = find_vrf(ns, c.vrfname, &vrf, err);
	if (r <= 0)
		return r;
	/* Unlike the reference, an interface already gone is no error: it left the VRF with it. */
	if (cnl_link_get(ns, cmd->ifname, &link, &e) == 0) {
		if (link.master == vrf.ifindex && cnl_link_set_master(ns, cmd->ifname, 0, err) < 0)
			return cni_error_wrap(err, "resetMaster: could not reset master of %s",
					      cmd->ifname);
	} else if (cnl_not_found(e)) {
		cni_error_free(TAKE_PTR(e));
	} else {
		cni_error_move(err, &e);
		return -1;
	}
	if (members(ns, vrf.ifindex, 0, &n, err) < 0)
		return -1;
	if (n == 0 && cnl_link_del(ns, c.vrfname, err) < 0)
		return -1;
	return 0;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(vrf_conf_free))) struct vrf_conf c = { 0 };
	cleanup_netns struct netns *ns = NULL;
	struct cnl_link vrf, link;
	int r;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "missing prevResult from earlier plugin");
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
		return -1;
	r = find_vrf(ns, c.vrfname, &vrf, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV, "VRF %s not found", c.vrfname);
	if (c.table && vrf.vrf_table != c.table)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "VRF %s has routing table %u, configured %u", c.vrfname,
				     vrf.vrf_table, c.table);
	if (cnl_link_get(ns, cmd->ifname, &link, NULL) < 0 || link.master != vrf.ifindex)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "failed to find %s associated to vrf %s", cmd->ifname,
				     c.vrfname);
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "vrf",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.min_version = CNI_V031,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
