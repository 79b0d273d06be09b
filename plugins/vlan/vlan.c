/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vlan: an 802.1Q child of a master link, as CNI_IFNAME in the container,
 * with the IPAM result on it.  Keys: master, vlanId, mtu, linkInContainer,
 * ipam, dns.  Unlike the reference, DEL never looks the master up, so it
 * succeeds when the master is gone.  See docs/vlan.md.
 */
#include <limits.h>
#include <stddef.h>

#include "../../pkg/types.h"
#include "../lib/l2util.h"

struct vl_conf {
	struct l2_conf l2;
	int vlan_id;
};

/*
 * vlanId and mtu are ranged by hand (not .min/.max, nor the common "mtu")
 * so the messages are the reference's; INT bounds still refuse non-integers
 * and overflow.
 */
static const struct cni_field vl_fields[] = {
	{ .key = "vlanId",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct vl_conf, vlan_id),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ .key = "mtu",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct vl_conf, l2.mtu),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ 0 },
};

static l2_load_fn load_conf;
static l2_check_fn check_link;

/*
 * DEL loads no config, so a DEL with one the ADD refused still cleans up.
 * CHECK also checks the parent, which the reference skips (its TODO).
 */
static const struct l2_ops ops = {
	.plugin = "vlan",
	.kind = "vlan",
	.keys = L2_KEY_MASTER | L2_KEY_LINK_IN_CONTAINER,
	.ipam_required = true,
	.dns = L2_DNS_CONFIG_IF_ANY,
	.ifconfig = { .dad = true },
	.check = check_link,
	.conf_size = sizeof(struct vl_conf),
	.fields = vl_fields,
	.load = load_conf,
};

static int load_conf(const struct cni_cmd *cmd, struct l2_conf *l2, bool add, struct cni_error **err)
{
	const struct vl_conf *c = (const struct vl_conf *)l2;

	if (!l2->master || !*l2->master)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "\"master\" field is required. It specifies the host "
				     "interface name to create the VLAN for");
	if (c->vlan_id < 0 || c->vlan_id > 4094)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid VLAN ID %d (must be between 0 and 4094 inclusive)",
				     c->vlan_id);
	if (l2->mtu < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must not be negative", l2->mtu);
	l2->link.vlan_id = (uint16_t)c->vlan_id;
	return 0;
}

static int check_link(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		      const struct cnl_link *link, const struct cnl_link *master,
		      struct cni_error **err)
{
	if (master && (unsigned int)c->mtu > master->mtu)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid MTU %d, must be [0, master MTU(%u)]", c->mtu,
				     master->mtu);
	if (link->vlan_id != c->link.vlan_id)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" has VLAN ID %u, configured %u",
				     link->name, link->vlan_id, c->link.vlan_id);
	if (c->mtu && (unsigned int)c->mtu != link->mtu)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "container interface \"%s\" has MTU %u, configured %d",
				     link->name, link->mtu, c->mtu);
	return 0;
}

int main(void)
{
	return l2_plugin_main(&ops);
}
