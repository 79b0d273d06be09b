/* SPDX-License-Identifier: Apache-2.0 */
/*
 * macvlan: a macvlan child of a master link, as CNI_IFNAME in the
 * container, with the IPAM result on it (or none: an "ipam" without a type
 * gives an L2-only interface).  Keys: master, mode, mtu, mac,
 * linkInContainer, bcqueuelen, ipam, dns; MAC also from CNI_ARGS and
 * runtimeConfig.  See docs/macvlan.md.
 */
#include <stddef.h>

#include "../../ipam/ipam.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

struct mv_conf {
	struct l2_conf l2;
	uint32_t bcqueuelen;
};

static const struct cni_field mv_fields[] = {
	{ .key = "bcqueuelen", .kind = CNI_FIELD_UINT32,
	  .offset = offsetof(struct mv_conf, bcqueuelen), .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const char *const mv_env_args[] = { "MAC", NULL };

static int check_link(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		      const struct cnl_link *link, const struct cnl_link *master,
		      struct cni_error **err);

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
};

static void mv_conf_free(struct mv_conf *c)
{
	l2_conf_free(&c->l2);
}

/* The keys, the mode, and the MAC by precedence: "mac" < CNI_ARGS MAC < runtimeConfig.mac. */
static int load_conf(const struct cni_cmd *cmd, struct mv_conf *c, struct cni_error **err)
{
	if (l2_conf_load(cmd, &ops, &c->l2, err) < 0 ||
	    cni_json_decode(cni_netconf_root(cmd->conf), mv_fields, c, "", err) < 0)
		return -1;
	c->l2.link.macvlan_mode = c->l2.mode_val;
	c->l2.link.macvlan_bcqueuelen = c->bcqueuelen;
	return 0;
}

static int check_link(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		      const struct cnl_link *link, const struct cnl_link *master,
		      struct cni_error **err)
{
	return l2_check_mode(&ops, c, link->macvlan_mode, err);
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(mv_conf_free))) struct mv_conf c = { 0 };

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	return l2_add(cmd, &ops, &c.l2, ret, err);
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	return l2_cmd_del_child(cmd, "macvlan", err);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(mv_conf_free))) struct mv_conf c = { 0 };

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	return l2_check(cmd, &ops, &c.l2, err);
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
