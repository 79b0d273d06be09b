/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "../ipam/ipam.h"
#include "l2util.h"
#include "route.h"
#include "rtnl.h"

void l2_random_name(const char *prefix, char ret[IFNAMSIZ])
{
	uint8_t b[4] = { 0 };
	size_t got = 0;

	/* 4 bytes never block once the pool is up; without it, the clock will do for a name. */
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, GRND_NONBLOCK);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(b)) {
		struct timespec ts;
		uint32_t x;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;
		memcpy(b, &x, sizeof(b));
	}
	snprintf(ret, IFNAMSIZ, "%.7s%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3]);
}

int l2_default_route_link(struct netns *ns, struct cnl_link *ret, struct cni_error **err)
{
	struct cnl_route_list routes = { 0 };
	int ifindex = 0;

	if (cnl_route_list(ns, AF_UNSPEC, RT_TABLE_MAIN, 0, &routes, err) < 0)
		return -1;
	for (size_t i = 0; i < routes.n && !ifindex; i++)
		if (routes.v[i].dst.prefix == 0 && routes.v[i].ifindex > 0 &&
		    routes.v[i].type == RTN_UNICAST)
			ifindex = routes.v[i].ifindex;
	cnl_route_list_free(&routes);
	if (!ifindex)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "no default route interface found in netns \"%s\"", ns->path);
	return cnl_link_get_by_index(ns, ifindex, ret, err);
}

int l2_master_get(struct netns *ns, const char *name, struct cnl_link *ret,
		  struct cni_error **err)
{
	struct cni_error *e = NULL;

	if (!name || !*name)
		return l2_default_route_link(ns, ret, err);
	if (cnl_link_get(ns, name, ret, &e) == 0)
		return 0;
	if (cnl_not_found(e)) {
		cni_error_free(e);
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				     "failed to lookup master \"%s\" in netns \"%s\": no such link",
				     name, ns->path);
	}
	cni_error_move(err, &e);
	return cni_error_wrap(err, "failed to lookup master \"%s\"", name);
}

void l2_temp_name(struct netns *container, const char *ifname, char ret[IFNAMSIZ])
{
	struct stat st = { 0 };
	uint32_t h = 2166136261u; /* FNV-1a */
	uint64_t id[2];

	(void)fstat(container->fd, &st);
	id[0] = (uint64_t)st.st_dev;
	id[1] = (uint64_t)st.st_ino;
	for (size_t i = 0; i < sizeof(id); i++)
		h = (h ^ ((const uint8_t *)id)[i]) * 16777619u;
	for (const char *c = ifname; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	snprintf(ret, IFNAMSIZ, "cnic%08x", h);
}

int l2_child_create(struct netns *via, struct netns *container, const struct cnl_newlink *spec,
		    const char *ifname, struct cnl_link *ret, struct cni_error **err)
{
	struct cnl_newlink nl = *spec;
	bool inside = via == container;
	char tmp[IFNAMSIZ];
	struct cni_error *e = NULL;
	int r = -1;

	if (inside) {
		/* Created by the container's own socket: the name is only ever looked up there. */
		nl.name = ifname;
		nl.netns = NULL;
		if (cnl_link_add(container, &nl, &e) < 0) {
			if (e && e->errnum == EEXIST) {
				cni_error_free(e);
				return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
						     "container interface \"%s\" already exists",
						     ifname);
			}
			cni_error_move(err, &e);
			return cni_error_wrap(err, "failed to create %s", spec->kind);
		}
		if (cnl_link_get(container, ifname, ret, err) < 0) {
			(void)cnl_link_del(container, ifname, NULL);
			return -1;
		}
		return 0;
	}

	/*
	 * The kernel looks IFLA_IFNAME up in the socket's namespace before it
	 * creates the link in IFLA_NET_NS_FD's, so creating "eth0" from the host
	 * fails whenever the host has an eth0: create under a temporary name,
	 * then rename inside.  The name is fixed for this netns and ifname, so
	 * a link left by an ADD killed before the rename is found again: here
	 * (removed, then the create is retried) and by DEL (l2_child_del).
	 */
	nl.netns = container;
	l2_temp_name(container, ifname, tmp);
	nl.name = tmp;
	for (int tries = 0; tries < 2; tries++) {
		cni_error_free(e);
		e = NULL;
		r = cnl_link_add(via, &nl, &e);
		if (r == 0 || !e || e->errnum != EEXIST)
			break;
		(void)l2_link_del_kind(container, tmp, nl.kind, false, NULL);
	}
	if (r < 0) {
		cni_error_move(err, &e);
		return cni_error_wrap(err, "failed to create %s", spec->kind);
	}
	if (cnl_link_rename(container, tmp, ifname, &e) < 0) {
		(void)cnl_link_del(container, tmp, NULL);
		if (e && e->errnum == EEXIST) {
			cni_error_free(e);
			return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
					     "container interface \"%s\" already exists", ifname);
		}
		cni_error_move(err, &e);
		return cni_error_wrap(err, "failed to rename %s to \"%s\"", spec->kind, ifname);
	}
	if (cnl_link_get(container, ifname, ret, err) < 0) {
		(void)cnl_link_del(container, ifname, NULL);
		return -1;
	}
	return 0;
}

int l2_link_del_kind(struct netns *ns, const char *ifname, const char *kind, bool peer_elsewhere,
		     struct cni_error **err)
{
	struct cni_error *e = NULL;
	struct cnl_link l;

	if (kind) {
		if (cnl_link_get(ns, ifname, &l, &e) < 0) {
			if (cnl_not_found(e)) {
				cni_error_free(e);
				return 0;
			}
			return cni_error_move(err, &e);
		}
		if (strcmp(l.kind, kind) != 0 || (peer_elsewhere && !l.link_in_other_netns))
			return 0;
	}
	return cnl_link_del(ns, ifname, err);
}

int l2_child_del(struct netns *container, const char *ifname, const char *kind,
		 struct cni_error **err)
{
	char tmp[IFNAMSIZ];
	int r = l2_link_del_kind(container, ifname, kind, false, err);

	l2_temp_name(container, ifname, tmp);
	if (l2_link_del_kind(container, tmp, kind, false, err) < 0)
		r = -1;
	return r;
}

int l2_cmd_del_child(const struct cni_cmd *cmd, const char *kind, struct cni_error **err)
{
	cleanup_netns struct netns *cont = NULL;
	int r = 0;

	/*
	 * Best effort, every step runs and the first failure is reported.  No
	 * master lookup (the reference's ipvlan needs one even here): DEL must
	 * work when the master or the netns is gone.
	 */
	if (cmd->conf->ipam_type && ipam_del(cmd, err) < 0)
		r = -1;
	if (cmd->netns_fd < 0)
		return r;
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    l2_child_del(cont, cmd->ifname, kind, err) < 0)
		r = -1;
	return r;
}

bool l2_ipam_builtin(const struct cni_netconf *conf)
{
	const char *t = conf->ipam_type;

	return t && (strcmp(t, "host-local") == 0 || strcmp(t, "static") == 0);
}

int l2_env_args_check(const struct cni_cmd *cmd, const char *const *own, struct cni_error **err)
{
	const char *known[16];
	const char *const *ipam_keys = NULL;
	size_t n = 0;

	if (cmd->conf->ipam_type) {
		if (strcmp(cmd->conf->ipam_type, "host-local") == 0)
			ipam_keys = ipam_host_local_env_args;
		else if (strcmp(cmd->conf->ipam_type, "static") == 0)
			ipam_keys = ipam_static_env_args;
		else
			return 0;
	}
	for (size_t i = 0; own && own[i] && n < ARRAY_SIZE(known) - 1; i++)
		known[n++] = own[i];
	for (size_t i = 0; ipam_keys && ipam_keys[i] && n < ARRAY_SIZE(known) - 1; i++)
		known[n++] = ipam_keys[i];
	known[n] = NULL;
	return cni_env_args_check(&cmd->args, known, err);
}

int l2_prev_iface(const struct cni_cmd *cmd, const char *plugin, const struct cni_result **ret_prev,
		  int *ret_idx, struct cni_error **err)
{
	const struct cni_result *prev = cmd->conf->prev_result;
	const char *netns = cmd->netns ? cmd->netns : "";
	int idx = -1;

	if (!prev)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s: required prevResult missing", plugin);
	for (size_t i = 0; i < prev->n_ifaces; i++) {
		const struct cni_iface *f = &prev->ifaces[i];

		if (f->name && strcmp(f->name, cmd->ifname) == 0 && f->sandbox &&
		    strcmp(f->sandbox, netns) == 0)
			idx = (int)i;
	}
	if (idx < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "%s: no interface \"%s\" with sandbox \"%s\" in prevResult",
				     plugin, cmd->ifname, netns);
	*ret_prev = prev;
	*ret_idx = idx;
	return 0;
}

int l2_check_link(struct netns *container, const struct cni_iface *iface, const char *kind,
		  struct cnl_link *ret, struct cni_error **err)
{
	struct cni_error *e = NULL;
	char want[CNI_MAC_STRLEN];
	struct cnl_link l;

	if (cnl_link_get(container, iface->name, &l, &e) < 0) {
		if (cnl_not_found(e)) {
			cni_error_free(e);
			return cni_error_set(err, CNI_ERR_INTERNAL, ENODEV,
					     "container interface \"%s\" from prevResult not found "
					     "in netns \"%s\"",
					     iface->name, container->path);
		}
		return cni_error_move(err, &e);
	}
	if (strcmp(l.kind, kind) != 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not of type %s (it is %s)",
				     l.name, kind, *l.kind ? l.kind : "a device without a kind");
	if (iface->mac && *iface->mac &&
	    (cni_mac_parse(iface->mac, want) < 0 || strcmp(want, l.mac) != 0))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "interface \"%s\" MAC %s in prevResult does not match the "
				     "container's: %s",
				     l.name, iface->mac, l.mac);
	if (ret)
		*ret = l;
	return 0;
}
