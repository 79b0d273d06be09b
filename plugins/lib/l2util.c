/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../../ipam/ipam.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/route.h"
#include "../../pkg/rtnl.h"
#include "l2util.h"

/* The output device of the first default route in ns's main table. */
static int default_route_link(struct netns *ns, struct cnl_link *ret, struct cni_error **err)
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

int l2_master_get(struct netns *ns, const char *name, struct cnl_link *ret, struct cni_error **err)
{
	struct cni_error *e = NULL;

	if (!name || !*name)
		return default_route_link(ns, ret, err);
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

struct first_visit {
	struct netns *ns;
	const char *name;
	const struct ifconfig_opts *early;
};

/* Inside the container: its socket, and the link's early sysctls in the same visit. */
static int first_visit(void *arg, struct cni_error **err)
{
	const struct first_visit *v = arg;

	ifconfig_early_sysctls(v->name, v->early);
	return cnl_sock_get(v->ns, &(struct cnl_sock *){ NULL }, err);
}

static int child_create(struct netns *via, struct netns *container, const struct cnl_newlink *spec,
			const char *ifname, const struct ifconfig_opts *early, bool *early_done,
			struct cnl_link *ret, struct cni_error **err)
{
	struct cnl_newlink nl = *spec;
	bool inside = via == container;
	char tmp[IFNAMSIZ];
	struct cni_error *e = NULL;
	struct cnl_link l;
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
	/*
	 * Everything from here on goes through the container's socket, which
	 * takes one visit to make: the sysctls that need the netns (and do not
	 * wait for the addresses) are written then, under the temporary name.
	 * The link is born in another netns, so its creation echoed nothing
	 * here: it is asked for once, and renamed by that index.
	 */
	if (early && ifconfig_has_early_sysctls(early)) {
		if (netns_run(container, first_visit,
			      &(struct first_visit){ .ns = container, .name = tmp, .early = early },
			      &e) < 0) {
			(void)cnl_link_del(container, tmp, NULL);
			cni_error_move(err, &e);
			return -1;
		}
		*early_done = true;
	}
	if (cnl_link_get(container, tmp, &l, &e) < 0 ||
	    cnl_link_rename_found(container, &l, ifname, &e) < 0) {
		(void)cnl_link_del(container, tmp, NULL);
		if (e && e->errnum == EEXIST) {
			cni_error_free(e);
			return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
					     "container interface \"%s\" already exists", ifname);
		}
		cni_error_move(err, &e);
		return cni_error_wrap(err, "failed to rename %s to \"%s\"", spec->kind, ifname);
	}
	snprintf(l.name, sizeof(l.name), "%s", ifname);
	*ret = l;
	return 0;
}

int l2_child_create(struct netns *via, struct netns *container, const struct cnl_newlink *spec,
		    const char *ifname, struct cnl_link *ret, struct cni_error **err)
{
	bool unused = false;

	return child_create(via, container, spec, ifname, NULL, &unused, ret, err);
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

/* ifname if it is of kind, and a leftover temporary link of kind (l2_temp_name). */
static int child_del(struct netns *container, const char *ifname, const char *kind,
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
	    child_del(cont, cmd->ifname, kind, err) < 0)
		r = -1;
	return r;
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

/* ---- the common keys ------------------------------------------------------ */

/* Indexed by bit position of L2_KEY_*: a plugin's table is the ones it has. */
static const struct cni_field common_fields[] = {
	{ .key = "master",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct l2_conf, master),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mode",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct l2_conf, mode),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct l2_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = 0,
	  .max = INT_MAX },
	{ .key = "mac",
	  .kind = CNI_FIELD_MAC,
	  .offset = offsetof(struct l2_conf, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "linkInContainer",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct l2_conf, link_in_container),
	  .flags = CNI_FIELD_NULL_OK },
};

static void fields_of(unsigned int keys, struct cni_field ret[ARRAY_SIZE(common_fields) + 1])
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(common_fields); i++)
		if (keys & (1u << i))
			ret[n++] = common_fields[i];
	ret[n] = (struct cni_field){ 0 };
}

void l2_conf_free(const struct l2_ops *ops, struct l2_conf *c)
{
	struct cni_field f[ARRAY_SIZE(common_fields) + 1];

	fields_of(~0u, f);
	cni_fields_free(f, c);
	if (ops->fields)
		cni_fields_free(ops->fields, c);
}

int l2_conf_mac(const struct cni_cmd *cmd, char **mac, struct cni_error **err)
{
	const char *env_mac = cni_env_args_get(&cmd->args, "MAC");
	char m[CNI_MAC_STRLEN];

	if (env_mac && *env_mac) {
		if (cni_mac_parse(env_mac, m) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
					     "CNI_ARGS: invalid MAC address \"%s\"", env_mac);
		free(*mac);
		*mac = xstrdup(m);
	}
	if (cmd->conf->rc.mac && *cmd->conf->rc.mac) {
		if (cni_mac_parse(cmd->conf->rc.mac, m) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "runtimeConfig.mac: invalid MAC address \"%s\"",
					     cmd->conf->rc.mac);
		free(*mac);
		*mac = xstrdup(m);
	}
	return 0;
}

int l2_conf_load(const struct cni_cmd *cmd, const struct l2_ops *ops, struct l2_conf *c,
		 struct cni_error **err)
{
	const struct cni_json *root = cni_netconf_root(cmd->conf);
	struct cni_field f[ARRAY_SIZE(common_fields) + 1];

	fields_of(ops->keys, f);
	if (cni_json_decode(root, f, c, "", err) < 0 ||
	    (ops->fields && cni_json_decode(root, ops->fields, c, "", err) < 0))
		return -1;
	if (ops->keys & L2_KEY_MODE) {
		c->mode_val = ops->modes[0].val;
		if (c->mode && *c->mode) {
			size_t i;

			for (i = 0; i < ops->n_modes; i++)
				if (strcmp(c->mode, ops->modes[i].name) == 0)
					break;
			if (i == ops->n_modes)
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "unknown %s mode: \"%s\"", ops->plugin, c->mode);
			c->mode_val = ops->modes[i].val;
		}
	}
	if ((ops->keys & L2_KEY_MAC) && l2_conf_mac(cmd, &c->mac, err) < 0)
		return -1;
	return 0;
}

const struct l2_mode l2_macvlan_modes[4] = {
	{ "bridge", MACVLAN_MODE_BRIDGE },
	{ "private", MACVLAN_MODE_PRIVATE },
	{ "vepa", MACVLAN_MODE_VEPA },
	{ "passthru", MACVLAN_MODE_PASSTHRU },
};

static const char *mode_name(const struct l2_ops *ops, uint32_t val)
{
	for (size_t i = 0; i < ops->n_modes; i++)
		if (ops->modes[i].val == val)
			return ops->modes[i].name;
	return "unknown";
}

int l2_check_mode(const struct l2_ops *ops, const struct l2_conf *c, uint32_t got,
		  struct cni_error **err)
{
	if (got != c->mode_val)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container %s mode %s does not match expected value: %s",
				     ops->plugin, mode_name(ops, got), mode_name(ops, c->mode_val));
	return 0;
}

/* ---- the verbs ------------------------------------------------------------ */

/* The namespace the master lives in: the container's with linkInContainer, else the host's. */
static int master_ns(const struct l2_conf *c, struct netns *cont, struct netns **host,
		     struct netns **ret, struct cni_error **err)
{
	if (c->link_in_container) {
		*ret = cont;
		return 0;
	}
	if (netns_open_current(host, err) < 0)
		return -1;
	*ret = *host;
	return 0;
}

/* r's ips, routes and dns from src, every address on interface 0. */
static void take_ips(struct cni_result *r, const struct cni_result *src)
{
	for (size_t i = 0; i < src->n_ips; i++) {
		struct cni_ip *ip = cni_result_add_ip(r);

		*ip = src->ips[i];
		ip->interface = 0;
	}
	cni_routes_copy(&r->routes, &src->routes);
	cni_dns_copy(&r->dns, &src->dns);
}

int l2_ipam_add(const struct cni_cmd *cmd, struct cni_result *r, bool *done, struct cni_error **err)
{
	cleanup_result struct cni_result *ipam = NULL;

	if (ipam_add(cmd, &ipam, err) < 0)
		return -1;
	*done = true;
	if (ipam->n_ips == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "IPAM plugin returned missing IP config");
	take_ips(r, ipam);
	return 0;
}

int l2_add(const struct cni_cmd *cmd, const struct l2_ops *ops, const struct l2_conf *c,
	   struct cni_result **ret, struct cni_error **err)
{
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *r = NULL;
	struct netns *mns = NULL;
	struct cnl_link master = { .ifindex = 0 }, link;
	struct ifconfig_opts ico = ops->ifconfig;
	bool l3 = c->ips || cmd->conf->ipam_type;
	bool ipam_done = false;

	if (ops->ipam_required && !cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s interface requires an IPAM configuration", ops->plugin);
	if (l2_env_args_check(cmd, ops->env_args, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0)
		return -1;
	if (!ops->no_master) {
		if (master_ns(c, cont, &host, &mns, err) < 0 ||
		    l2_master_get(mns, c->master, &master, err) < 0)
			return -1;
		/* The kernel refuses a larger one too, with EINVAL only. */
		if ((unsigned int)c->mtu > master.mtu)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "invalid MTU %d, must be [0, master MTU(%u)]", c->mtu,
					     master.mtu);
	}
	if (ops->create) {
		if (ops->create(cmd, c, mns, cont, mns ? &master : NULL, &link, err) < 0)
			return -1;
	} else {
		struct cnl_newlink nl = c->link;

		nl.kind = ops->kind;
		nl.mtu = (unsigned int)c->mtu;
		nl.mac = c->mac;
		nl.parent = master.ifindex;
		if (child_create(mns ? mns : cont, cont, &nl, cmd->ifname, l3 ? &ico : NULL,
				 &ico.early_sysctls_done, &link, err) < 0)
			return -1;
	}
	ico.ifindex = link.ifindex;

	r = cni_result_new();
	cni_result_add_iface(r, cmd->ifname, link.mac, cmd->netns);
	if (c->ips)
		take_ips(r, c->ips);
	else if (cmd->conf->ipam_type && l2_ipam_add(cmd, r, &ipam_done, err) < 0)
		goto undo;
	if (l3) {
		if (ifconfig_apply(cont, cmd->ifname, r, 0, &ico, err) < 0)
			goto undo;
	} else if (!cnl_link_is_up(&link) && cnl_link_set_up(cont, cmd->ifname, true, err) < 0) {
		goto undo;
	}
	/* The reference's macvlan, ipvlan, vlan... drop IPAM's DNS for the config's (QUIRK #6). */
	if ((ops->dns == L2_DNS_CONFIG_IF_SET && cni_dns_is_set(&cmd->conf->dns)) ||
	    (ops->dns == L2_DNS_CONFIG_IF_ANY && !cni_dns_is_empty(&cmd->conf->dns)))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	/* Reverse order; *err keeps the error that got us here, the undo's own in its details. */
	if (ipam_done)
		(void)ipam_del(cmd, err);
	(void)cnl_link_del(cont, cmd->ifname, NULL);
	return -1;
}

int l2_check(const struct cni_cmd *cmd, const struct l2_ops *ops, const struct l2_conf *c,
	     struct cni_error **err)
{
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	const struct cni_result *prev;
	struct netns *mns;
	struct cnl_link master = { .ifindex = 0 }, link;
	bool named = c->master && *c->master;
	int idx;

	if (ops->ipam_required && !cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "%s interface requires an IPAM configuration", ops->plugin);
	if (l2_env_args_check(cmd, ops->env_args, err) < 0 ||
	    (cmd->conf->ipam_type && ipam_check(cmd, err) < 0) ||
	    l2_prev_iface(cmd, ops->plugin, &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0)
		return -1;
	/*
	 * ipvlan: the prevResult of CHECK is the final result, not the one ADD
	 * was chained after, so only a configured master can be checked (the
	 * kernel removes the children of a master that goes away).
	 */
	if (!ops->no_master && (named || !ops->check_named_master) &&
	    (master_ns(c, cont, &host, &mns, err) < 0 ||
	     l2_master_get(mns, c->master, &master, err) < 0))
		return -1;
	if (l2_check_link(cont, &prev->ifaces[idx], ops->kind, &link, err) < 0)
		return -1;
	/* A named master must still be the parent (the default route may have moved since). */
	if (named && !ops->no_master && link.link != master.ifindex)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not a child of master \"%s\"",
				     link.name, master.name);
	if (ops->check && ops->check(cmd, c, cont, &link, master.ifindex ? &master : NULL, err) < 0)
		return -1;
	return ifconfig_check_link(cont, &link, prev, idx, NULL, err);
}

/* This process's plugin: cni_plugin's callbacks carry no context. */
static const struct l2_ops *plugin_ops;

static void conf_free(struct l2_conf *c)
{
	if (!c)
		return;
	l2_conf_free(plugin_ops, c);
	free(c);
}

static void conf_freep(struct l2_conf **c)
{
	conf_free(*c);
}

static int conf_load(const struct cni_cmd *cmd, bool add, struct l2_conf **ret, struct cni_error **err)
{
	const struct l2_ops *ops = plugin_ops;
	struct l2_conf *c = xcalloc(1, ops->conf_size ? ops->conf_size : sizeof(*c));

	if (l2_conf_load(cmd, ops, c, err) < 0 || (ops->load && ops->load(cmd, c, add, err) < 0)) {
		conf_free(c);
		return -1;
	}
	*ret = c;
	return 0;
}

static int plugin_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(conf_freep))) struct l2_conf *c = NULL;

	if (conf_load(cmd, true, &c, err) < 0)
		return -1;
	return l2_add(cmd, plugin_ops, c, ret, err);
}

static int plugin_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(conf_freep))) struct l2_conf *c = NULL;

	if (conf_load(cmd, false, &c, err) < 0)
		return -1;
	return l2_check(cmd, plugin_ops, c, err);
}

/* No config loaded: a DEL with a config the ADD refused still cleans up. */
static int plugin_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	if (plugin_ops->del)
		return plugin_ops->del(cmd, err);
	return l2_cmd_del_child(cmd, plugin_ops->kind, err);
}

int l2_plugin_main(const struct l2_ops *ops)
{
	const struct cni_plugin p = {
		.name = ops->plugin,
		.add = plugin_add,
		.del = plugin_del,
		.check = plugin_check,
		.gc = ipam_plugin_gc,
		.status = ipam_plugin_status,
	};

	plugin_ops = ops;
	return cni_plugin_main(&p);
}
