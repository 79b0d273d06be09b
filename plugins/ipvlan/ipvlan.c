/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipvlan: an ipvlan child of a master link, as CNI_IFNAME in the container,
 * with the IPAM result on it.  Keys: master, mode (l2, l3, l3s), mtu,
 * linkInContainer, ipam, dns.  Chained after a plugin whose result has a
 * single interface, that interface is the default master, and with no IPAM
 * type the previous result's addresses go on the ipvlan.  See
 * docs/ipvlan.md.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stddef.h>
#include <string.h>

#include "../../ipam/ipam.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/l2util.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

struct iv_conf {
	char *master;
	char *mode;
	int mtu;
	bool link_in_container;
	uint16_t mode_val; /* IPVLAN_MODE_* */
};

static const struct cni_field iv_fields[] = {
	{ .key = "master", .kind = CNI_FIELD_STRING, .offset = offsetof(struct iv_conf, master),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mode", .kind = CNI_FIELD_STRING, .offset = offsetof(struct iv_conf, mode),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu", .kind = CNI_FIELD_INT, .offset = offsetof(struct iv_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK, .min = 0, .max = INT_MAX },
	{ .key = "linkInContainer", .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct iv_conf, link_in_container), .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const struct {
	const char *name;
	uint16_t mode;
} modes[] = {
	{ "l2", IPVLAN_MODE_L2 },
	{ "l3", IPVLAN_MODE_L3 },
	{ "l3s", IPVLAN_MODE_L3S },
};

static const char *mode_str(uint16_t mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return "unknown";
}

static void iv_conf_free(struct iv_conf *c)
{
	cni_fields_free(iv_fields, c);
}

static int load_conf(const struct cni_cmd *cmd, struct iv_conf *c, struct cni_error **err)
{
	if (cni_json_decode(cni_netconf_root(cmd->conf), iv_fields, c, "", err) < 0)
		return -1;
	c->mode_val = IPVLAN_MODE_L2;
	if (c->mode && *c->mode) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(modes); i++)
			if (strcmp(c->mode, modes[i].name) == 0)
				break;
		if (i == ARRAY_SIZE(modes))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "unknown ipvlan mode: \"%s\"", c->mode);
		c->mode_val = modes[i].mode;
	}
	return 0;
}

/*
 * The master's name for ADD: configured, else the single named interface
 * of a chained prevResult, else NULL (the default-route device).
 */
static int master_name(const struct cni_cmd *cmd, const struct iv_conf *c, const char **ret,
		       struct cni_error **err)
{
	const struct cni_result *prev = cmd->conf->prev_result;

	*ret = NULL;
	if (c->master && *c->master)
		*ret = c->master;
	else if (prev) {
		if (prev->n_ifaces != 1 || !prev->ifaces[0].name || !*prev->ifaces[0].name)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "chained master failure. PrevResult lacks a single "
					     "named interface");
		*ret = prev->ifaces[0].name;
	}
	return 0;
}

static int open_master_ns(const struct iv_conf *c, struct netns *cont, struct netns **host,
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

/* Chained with no IPAM type: the previous result's addresses are used, as the reference. */
static bool use_prev_ips(const struct cni_cmd *cmd)
{
	return !cmd->conf->ipam_type && cmd->conf->prev_result && cmd->conf->prev_result->n_ips > 0;
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

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(iv_conf_free))) struct iv_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	const char *mname;
	struct netns *mns;
	struct cnl_link master, link;
	bool prev_ips = use_prev_ips(cmd);
	bool link_created = false, ipam_done = false;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0 ||
	    master_name(cmd, &c, &mname, err) < 0)
		return -1;
	/* The reference creates the link before it finds out: refuse first. */
	if (!prev_ips && !cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipam: a type is required unless a chained prevResult has IPs");
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    open_master_ns(&c, cont, &host, &mns, err) < 0 ||
	    l2_master_get(mns, mname, &master, err) < 0)
		return -1;
	/* The kernel refuses it too, with EINVAL only. */
	if ((unsigned int)c.mtu > master.mtu)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must be [0, master MTU(%u)]", c.mtu, master.mtu);

	if (l2_child_create(mns, cont,
			    &(struct cnl_newlink){ .kind = "ipvlan",
						   .mtu = (unsigned int)c.mtu,
						   .parent = master.ifindex,
						   .ipvlan_mode = c.mode_val },
			    cmd->ifname, &link, err) < 0)
		return -1;
	link_created = true;

	r = cni_result_new();
	cni_result_add_iface(r, cmd->ifname, link.mac, cmd->netns);
	if (prev_ips) {
		take_ips(r, cmd->conf->prev_result);
	} else {
		if (ipam_add(cmd, &ipam, err) < 0)
			goto undo;
		ipam_done = true;
		if (ipam->n_ips == 0) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0,
				      "IPAM plugin returned missing IP config");
			goto undo;
		}
		take_ips(r, ipam);
	}
	if (ifconfig_apply(cont, cmd->ifname, r, 0,
			   &(struct ifconfig_opts){ .dad = true,
						    .arp_notify = true,
						    .ndisc_notify = true },
			   err) < 0)
		goto undo;
	if (cni_dns_is_set(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	if (ipam_done)
		(void)ipam_del(cmd, NULL);
	if (link_created)
		(void)cnl_link_del(cont, cmd->ifname, NULL);
	return -1;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	return l2_cmd_del_child(cmd, "ipvlan", err);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(iv_conf_free))) struct iv_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	const struct cni_result *prev;
	struct netns *mns;
	struct cnl_link master, link;
	int idx;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0 ||
	    (cmd->conf->ipam_type && ipam_check(cmd, err) < 0) ||
	    l2_prev_iface(cmd, "ipvlan", &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    l2_check_link(cont, &prev->ifaces[idx], "ipvlan", &link, err) < 0)
		return -1;
	if (link.ipvlan_mode != c.mode_val)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container ipvlan mode %s does not match expected value: %s",
				     mode_str(link.ipvlan_mode), mode_str(c.mode_val));
	/*
	 * The prevResult of CHECK is the final result, not the one ADD was chained
	 * after, so only a configured master can be checked (the kernel removes
	 * the children of a master that goes away).
	 */
	if (c.master && *c.master) {
		if (open_master_ns(&c, cont, &host, &mns, err) < 0 ||
		    l2_master_get(mns, c.master, &master, err) < 0)
			return -1;
		if (link.link != master.ifindex)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "container interface \"%s\" is not a child of master "
					     "\"%s\"",
					     link.name, master.name);
	}
	return ifconfig_check(cont, cmd->ifname, prev, idx, err);
}

static const struct cni_plugin plugin = {
	.name = "ipvlan",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = ipam_plugin_gc,
	.status = ipam_plugin_status,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
