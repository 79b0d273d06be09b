/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loopback: brings "lo" up in the container on ADD and down on DEL.
 * No config keys; CNI_IFNAME is ignored, as the reference does.
 */
#include <errno.h>

#include "../../pkg/addr.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

#define LO "lo"

struct lo_addrs {
	struct ipnet v4, v6; /* first of each family; family 0: none */
};

/* lo's first IPv4 and IPv6 address; any address that is not loopback is an error. */
static int collect_addrs(struct netns *ns, int ifindex, struct lo_addrs *ret, struct cni_error **err)
{
	struct cnl_addrs addrs = { 0 };
	struct lo_addrs found = { 0 };
	int r = 0;

	if (cnl_addr_list(ns, ifindex, AF_UNSPEC, &addrs, err) < 0)
		return -1;
	for (size_t i = 0; i < addrs.n; i++) {
		const struct ipnet *a = &addrs.v[i].addr;
		struct ipnet *slot = a->addr.family == AF_INET ? &found.v4 : &found.v6;
		char buf[IPADDR_STRLEN];

		if (!ipaddr_is_loopback(&a->addr)) {
			r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
					  "loopback interface found with non-loopback address: \"%s\"",
					  ipaddr_fmt(&a->addr, buf));
			cni_error_add_details(err, "netns \"%s\"", ns->path);
			break;
		}
		if (!ipaddr_is_set(&slot->addr))
			*slot = *a;
	}
	cnl_addrs_free(&addrs);
	if (r == 0)
		*ret = found;
	return r;
}

static void add_ip(struct cni_result *r, const struct ipnet *a)
{
	struct cni_ip *ip;

	if (!ipaddr_is_set(&a->addr))
		return;
	ip = cni_result_add_ip(r);
	ip->address = *a;
	ip->interface = 0;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	cleanup_netns struct netns *ns = NULL;
	cleanup_result struct cni_result *r = NULL;
	struct lo_addrs addrs;
	struct cnl_link lo;

	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0 ||
	    cnl_link_set_up(ns, LO, true, err) < 0 || cnl_link_get(ns, LO, &lo, err) < 0 ||
	    collect_addrs(ns, lo.ifindex, &addrs, err) < 0)
		return -1;

	/* Chained after another plugin: pass its result on untouched. */
	if (cmd->conf->prev_result) {
		*ret = cni_result_dup(cmd->conf->prev_result);
		return 0;
	}
	r = cni_result_new();
	cni_result_add_iface(r, LO, "00:00:00:00:00:00", cmd->netns);
	add_ip(r, &addrs.v4);
	add_ip(r, &addrs.v6);
	*ret = TAKE_PTR(r);
	return 0;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *ns = NULL;

	/* No netns, or it is already gone (the skeleton then passes -1): nothing to undo. */
	if (cmd->netns_fd < 0)
		return 0;
	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0)
		return -1;
	return cnl_link_set_up(ns, LO, false, err);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *ns = NULL;
	struct cnl_link lo;

	if (netns_from_fd(cmd->netns_fd, false, cmd->netns, &ns, err) < 0 ||
	    cnl_link_get(ns, LO, &lo, err) < 0)
		return -1;
	if (!cnl_link_is_up(&lo))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "loopback interface \"%s\" is down in netns \"%s\"", LO,
				     cmd->netns);
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "loopback",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
