/* SPDX-License-Identifier: Apache-2.0 */
/*
 * macvlan: a macvlan child of a master link, as CNI_IFNAME in the
 * container, with the IPAM result on it (or none: an "ipam" without a type
 * gives an L2-only interface).  Keys: master, mode, mtu, mac,
 * linkInContainer, bcqueuelen, ipam, dns; MAC also from CNI_ARGS and
 * runtimeConfig.  See docs/macvlan.md.
 */
#include <stddef.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

struct mv_conf {
	struct l2_conf l2;
	uint32_t bcqueuelen;
};

static const struct cni_field mv_fields[] = {
	{ .key = "bcqueuelen",
	  .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct mv_conf, bcqueuelen),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const char *const mv_env_args[] = { "MAC", NULL };

static l2_load_fn load_conf;
static l2_check_fn check_link;

static const struct l2_ops ops = {
	.plugin = "macvlan",
	.kind = "macvlan",
	.keys = L2_KEY_MASTER | L2_KEY_MODE | L2_KEY_MTU | L2_KEY_MAC | L2_KEY_LINK_IN_CONTAINER,
	.modes = l2_macvlan_modes,
	.n_modes = ARRAY_SIZE(l2_macvlan_modes),
	.env_args = mv_env_args,
	.dns = L2_DNS_CONFIG_IF_SET,
	.ifconfig = { .dad = true, .arp_notify = true, .ndisc_notify = true },
	.check = check_link,
	.conf_size = sizeof(struct mv_conf),
	.fields = mv_fields,
	.load = load_conf,
};

/* The link's attributes, once the keys are decoded. */
static int load_conf(const struct cni_cmd *cmd, struct l2_conf *c, bool add, struct cni_error **err)
{
	c->link.macvlan_mode = c->mode_val;
	c->link.macvlan_bcqueuelen = ((struct mv_conf *)c)->bcqueuelen;
	return 0;
}

static int check_link(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		      const struct cnl_link *link, const struct cnl_link *master,
		      struct cni_error **err)
{
	return l2_check_mode(&ops, c, link->macvlan_mode, err);
}

int main(void)
{
	return l2_plugin_main(&ops);
}
