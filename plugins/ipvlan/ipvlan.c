/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipvlan: an ipvlan child of a master link, as CNI_IFNAME in the container,
 * with the IPAM result on it.  Keys: master, mode (l2, l3, l3s), mtu,
 * linkInContainer, ipam, dns.  Chained after a plugin whose result has a
 * single interface, that interface is the default master, and with no IPAM
 * type the previous result's addresses go on the ipvlan.  See
 * docs/ipvlan.md.
 */
#include <linux/if_link.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

static const struct l2_mode modes[] = {
	{ "l2", IPVLAN_MODE_L2 },
	{ "l3", IPVLAN_MODE_L3 },
	{ "l3s", IPVLAN_MODE_L3S },
};

static l2_load_fn load_conf;
static l2_check_fn check_link;

/* CHECK's prevResult is the final result, not the one ADD was chained after: see l2_check. */
static const struct l2_ops ops = {
	.plugin = "ipvlan",
	.kind = "ipvlan",
	.keys = L2_KEY_MASTER | L2_KEY_MODE | L2_KEY_MTU | L2_KEY_LINK_IN_CONTAINER,
	.modes = modes,
	.n_modes = ARRAY_SIZE(modes),
	.check_named_master = true,
	.dns = L2_DNS_CONFIG_IF_SET,
	.ifconfig = { .dad = true, .arp_notify = true, .ndisc_notify = true },
	.check = check_link,
	.load = load_conf,
};

static int load_conf(const struct cni_cmd *cmd, struct l2_conf *c, bool add, struct cni_error **err)
{
	const struct cni_result *prev = cmd->conf->prev_result;

	c->link.ipvlan_mode = (uint16_t)c->mode_val;
	if (!add)
		return 0;
	/* No master configured: the single named interface of a chained prevResult. */
	if ((!c->master || !*c->master) && prev) {
		if (prev->n_ifaces != 1 || !prev->ifaces[0].name || !*prev->ifaces[0].name)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "chained master failure. PrevResult lacks a single "
					     "named interface");
		free(c->master);
		c->master = xstrdup(prev->ifaces[0].name);
	}
	/* Chained with no IPAM type: the previous result's addresses are used, as the reference. */
	if (!cmd->conf->ipam_type && prev && prev->n_ips > 0)
		c->ips = prev;
	/* The reference creates the link before it finds out: refuse first. */
	if (!c->ips && !cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipam: a type is required unless a chained prevResult has IPs");
	return 0;
}

static int check_link(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		      const struct cnl_link *link, const struct cnl_link *master,
		      struct cni_error **err)
{
	return l2_check_mode(&ops, c, link->ipvlan_mode, err);
}

int main(void)
{
	return l2_plugin_main(&ops);
}
