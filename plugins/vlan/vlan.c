/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vlan: an 802.1Q child of a master link, as CNI_IFNAME in the container,
 * with the IPAM result on it.  Keys: master, vlanId, mtu, linkInContainer,
 * ipam, dns.  Unlike the reference, DEL never looks the master up, so it
 * succeeds when the master is gone.  See docs/vlan.md.
 */
#include <errno.h>
#include <limits.h>
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

struct vl_conf {
	char *master;
	int vlan_id;
	int mtu;
	bool link_in_container;
};

/*
 * vlanId and mtu are ranged by hand (not .min/.max) so the messages are the
 * reference's; INT bounds still refuse non-integers and overflow.
 */
static const struct cni_field vl_fields[] = {
	{ .key = "master", .kind = CNI_FIELD_STRING, .offset = offsetof(struct vl_conf, master),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "vlanId", .kind = CNI_FIELD_INT, .offset = offsetof(struct vl_conf, vlan_id),
	  .flags = CNI_FIELD_NULL_OK, .min = INT_MIN, .max = INT_MAX },
	{ .key = "mtu", .kind = CNI_FIELD_INT, .offset = offsetof(struct vl_conf, mtu),
	  .flags = CNI_FIELD_NULL_OK, .min = INT_MIN, .max = INT_MAX },
	{ .key = "linkInContainer", .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct vl_conf, link_in_container), .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void vl_conf_free(struct vl_conf *c)
{
	cni_fields_free(vl_fields, c);
}

/* The keys alone: no lookups, so DEL can use it with the master gone. */
static int load_conf(const struct cni_cmd *cmd, struct vl_conf *c, struct cni_error **err)
{
	if (cni_json_decode(cni_netconf_root(cmd->conf), vl_fields, c, "", err) < 0)
		return -1;
	if (!c->master || !*c->master)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "\"master\" field is required. It specifies the host "
				     "interface name to create the VLAN for");
	if (c->vlan_id < 0 || c->vlan_id > 4094)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid VLAN ID %d (must be between 0 and 4094 inclusive)",
				     c->vlan_id);
	if (c->mtu < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must not be negative", c->mtu);
	return 0;
}

/* The master, in the container with linkInContainer, else in the host; MTU checked. */
static int get_master(const struct vl_conf *c, struct netns *cont, struct netns **host,
		      struct netns **mns, struct cnl_link *master, struct cni_error **err)
{
	if (c->link_in_container) {
		*mns = cont;
	} else {
		if (netns_open_current(host, err) < 0)
			return -1;
		*mns = *host;
	}
	if (l2_master_get(*mns, c->master, master, err) < 0)
		return -1;
	if ((unsigned int)c->mtu > master->mtu)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must be [0, master MTU(%u)]", c->mtu,
				     master->mtu);
	return 0;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(vl_conf_free))) struct vl_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	struct netns *mns;
	struct cnl_link master, link;
	bool ipam_done = false;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "vlan interface requires an IPAM configuration");
	if (l2_env_args_check(cmd, NULL, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    get_master(&c, cont, &host, &mns, &master, err) < 0)
		return -1;

	if (l2_child_create(mns, cont,
			    &(struct cnl_newlink){ .kind = "vlan",
						   .mtu = (unsigned int)c.mtu,
						   .parent = master.ifindex,
						   .vlan_id = (uint16_t)c.vlan_id },
			    cmd->ifname, &link, err) < 0)
		return -1;

	r = cni_result_new();
	cni_result_add_iface(r, cmd->ifname, link.mac, cmd->netns);
	if (ipam_add(cmd, &ipam, err) < 0)
		goto undo;
	ipam_done = true;
	if (ipam->n_ips == 0) {
		cni_error_set(err, CNI_ERR_INTERNAL, 0, "IPAM plugin returned missing IP config");
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
			   &(struct ifconfig_opts){ .dad = true }, err) < 0)
		goto undo;
	if (!cni_dns_is_empty(&cmd->conf->dns))
		cni_dns_copy(&r->dns, &cmd->conf->dns);
	*ret = TAKE_PTR(r);
	return 0;

undo:
	/* Reverse order; *err keeps the error that got us here. */
	if (ipam_done)
		(void)ipam_del(cmd, NULL);
	(void)cnl_link_del(cont, cmd->ifname, NULL);
	return -1;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	/* No load_conf: a DEL with a config the ADD refused still cleans up. */
	return l2_cmd_del_child(cmd, "vlan", err);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(vl_conf_free))) struct vl_conf c = { 0 };
	cleanup_netns struct netns *cont = NULL;
	cleanup_netns struct netns *host = NULL;
	const struct cni_result *prev;
	struct netns *mns;
	struct cnl_link master, link;
	int idx;

	if (load_conf(cmd, &c, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0 ||
	    (cmd->conf->ipam_type && ipam_check(cmd, err) < 0) ||
	    l2_prev_iface(cmd, "vlan", &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    get_master(&c, cont, &host, &mns, &master, err) < 0 ||
	    l2_check_link(cont, &prev->ifaces[idx], "vlan", &link, err) < 0)
		return -1;
	if (link.vlan_id != c.vlan_id)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" has VLAN ID %u, configured %d",
				     link.name, link.vlan_id, c.vlan_id);
	if (c.mtu && (unsigned int)c.mtu != link.mtu)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" has MTU %u, configured %d",
				     link.name, link.mtu, c.mtu);
	/* The reference skips this (its TODO); the parent ifindex is in mns. */
	if (link.link != master.ifindex)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" is not a child of master \"%s\"",
				     link.name, master.name);
	return ifconfig_check(cont, cmd->ifname, prev, idx, err);
}

static const struct cni_plugin plugin = {
	.name = "vlan",
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
