/* SPDX-License-Identifier: Apache-2.0 */
/*
 * macvlan: a macvlan child of a master link, as CNI_IFNAME in the
 * container, with the IPAM result on it (or none: an "ipam" without a type
 * gives an L2-only interface).  Keys: master, mode, mtu, mac,
 * linkInContainer, bcqueuelen, ipam, dns; MAC also from CNI_ARGS and
 * runtimeConfig.  See docs/macvlan.md.
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

struct mv_conf {
	char *master;
	char *mode;
	int mtu;
	char *mac;
	bool link_in_container;
	uint32_t bcqueuelen;
	uint32_t mode_val; /* MACVLAN_MODE_* */
};

static const struct cni_field mv_fields[] = {
	{ .key = "master", .kind = CNI_FIELD_STRING, .offset = offsetof(struct mv_conf, master),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mode", .kind = CNI_FIELD_STRING, .offset = offsetof(struct mv_conf, mode),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mtu", .kind = CNI_FIELD_INT, .offset = offsetof(struct mv_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK, .min = 0, .max = INT_MAX },
	{ .key = "mac", .kind = CNI_FIELD_MAC, .offset = offsetof(struct mv_conf, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "linkInContainer", .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct mv_conf, link_in_container), .flags = CNI_FIELD_NULL_OK },
	{ .key = "bcqueuelen", .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct mv_conf, bcqueuelen), .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const char *const mv_env_args[] = { "MAC", NULL };

static const struct {
	const char *name;
	uint32_t mode;
} modes[] = {
	{ "bridge", MACVLAN_MODE_BRIDGE },
	{ "private", MACVLAN_MODE_PRIVATE },
	{ "vepa", MACVLAN_MODE_VEPA },
	{ "passthru", MACVLAN_MODE_PASSTHRU },
};

static const char *mode_str(uint32_t mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return "unknown";
}

static void mv_conf_free(struct mv_conf *c)
{
	cni_fields_free(mv_fields, c);
}

/*
 * The keys, the mode, and the MAC by precedence: "mac" < CNI_ARGS MAC <
 * runtimeConfig.mac, as the reference.
 */
static int load_conf(const struct cni_cmd *cmd, struct mv_conf *c, struct cni_error **err)
{
	const char *env_mac;
	char mac[CNI_MAC_STRLEN];

	if (cni_json_decode(cni_netconf_root(cmd->conf), mv_fields, c, "", err) < 0)
		return -1;
	c->mode_val = MACVLAN_MODE_BRIDGE;
	if (c->mode && *c->mode) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(modes); i++)
			if (strcmp(c->mode, modes[i].name) == 0)
				break;
		if (i == ARRAY_SIZE(modes))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "unknown macvlan mode: \"%s\"", c->mode);
		c->mode_val = modes[i].mode;
	}
	env_mac = cni_env_args_get(&cmd->args, "MAC");
	if (env_mac && *env_mac) {
		if (cni_mac_parse(env_mac, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
					     "CNI_ARGS: invalid MAC address \"%s\"", env_mac);
		free(c->mac);
		c->mac = xstrdup(mac);
	}
	if (cmd->conf->rc.mac && *cmd->conf->rc.mac) {
		if (cni_mac_parse(cmd->conf->rc.mac, mac) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "runtimeConfig.mac: invalid MAC address \"%s\"",
					     cmd->conf->rc.mac);
		free(c->mac);
		c->mac = xstrdup(mac);
	}
	return 0;
}

/* The namespace the master lives in: the container's with linkInContainer, else the host's. */
static int open_master_ns(const struct mv_conf *c, struct netns *cont, struct netns **host,
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

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(mv_conf_free))) struct mv_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	struct netns *mns;
	struct cnl_link master, link;
	bool l3 = cmd->conf->ipam_type != NULL;
	bool link_created = false, ipam_done = false;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, mv_env_args, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    open_master_ns(&c, cont, &host, &mns, err) < 0 ||
	    l2_master_get(mns, c.master, &master, err) < 0)
		return -1;
	if ((unsigned int)c.mtu > master.mtu)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must be [0, master MTU(%u)]", c.mtu, master.mtu);

	if (l2_child_create(mns, cont,
			    &(struct cnl_newlink){ .kind = "macvlan",
						   .mtu = (unsigned int)c.mtu,
						   .mac = c.mac,
						   .parent = master.ifindex,
						   .macvlan_mode = c.mode_val,
						   .macvlan_bcqueuelen = c.bcqueuelen },
			    cmd->ifname, &link, err) < 0)
		return -1;
	link_created = true;

	r = cni_result_new();
	cni_result_add_iface(r, cmd->ifname, link.mac, cmd->netns);
	if (l3) {
		if (ipam_add(cmd, &ipam, err) < 0)
			goto undo;
		ipam_done = true;
		if (ipam->n_ips == 0) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0,
				      "IPAM plugin returned missing IP config");
			goto undo;
		}
		for (size_t i = 0; i < ipam->n_ips; i++) {
			struct cni_ip *ip = cni_result_add_ip(r);

			*ip = ipam->ips[i];
			ip->interface = 0;
		}
		cni_routes_copy(&r->routes, &ipam->routes);
		cni_dns_copy(&r->dns, &ipam->dns);
		if (ifconfig_apply(cont, cmd->ifname, r, 0,
				   &(struct ifconfig_opts){ .dad = true,
							    .arp_notify = true,
							    .ndisc_notify = true },
				   err) < 0)
			goto undo;
	} else if (cnl_link_set_up(cont, cmd->ifname, true, err) < 0) {
		goto undo;
	}
	if (cni_dns_is_set(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	/* Reverse order; *err keeps the error that got us here. */
	if (ipam_done)
		(void)ipam_del(cmd, NULL);
	if (link_created)
		(void)cnl_link_del(cont, cmd->ifname, NULL);
	return -1;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	return l2_cmd_del_child(cmd, "macvlan", err);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(mv_conf_free))) struct mv_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	const struct cni_result *prev;
	struct netns *mns;
	struct cnl_link master, link;
	int idx;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, mv_env_args, err) < 0 ||
	    (cmd->conf->ipam_type && ipam_check(cmd, err) < 0) ||
	    l2_prev_iface(cmd, "macvlan", &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    open_master_ns(&c, cont, &host, &mns, err) < 0 ||
	    l2_master_get(mns, c.master, &master, err) < 0 ||
	    l2_check_link(cont, &prev->ifaces[idx], "macvlan", &link, err) < 0)
		return -1;
	if (link.macvlan_mode != c.mode_val)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container macvlan mode %s does not match expected value: %s",
				     mode_str(link.macvlan_mode), mode_str(c.mode_val));
	/* A named master must still be the parent (the default route may have moved since). */
	if (c.master && *c.master && link.link != master.ifindex)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not a child of master \"%s\"",
				     link.name, master.name);
	return ifconfig_check(cont, cmd->ifname, prev, idx, err);
}

static const struct cni_plugin plugin = {
	.name = "macvlan",
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
