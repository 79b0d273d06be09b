/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dummy: a dummy link as CNI_IFNAME in the container, carrying the IPAM
 * result's addresses and routes (a stable address that belongs to no
 * real device).  No keys of its own; ipam is required.  See docs/dummy.md.
 */
#include <errno.h>
#include <string.h>

#include "../../ipam/ipam.h"
#include "../../pkg/cleanup.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/l2util.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

static int need_ipam(const struct cni_cmd *cmd, struct cni_error **err)
{
	if (!cmd->conf->ipam_type)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "dummy interface requires an IPAM configuration");
	return 0;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	cleanup_netns struct netns *cont = NULL;
	cleanup_result struct cni_result *r = NULL;
	cleanup_result struct cni_result *ipam = NULL;
	struct cni_error *e = NULL;
	struct cnl_link link;
	bool ipam_done = false;

	if (need_ipam(cmd, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0)
		return -1;

	/* A dummy has no parent in the host: created by the container's own socket, no rename. */
	if (cnl_link_add(cont, &(struct cnl_newlink){ .kind = "dummy", .name = cmd->ifname },
			 &e) < 0) {
		if (e->errnum == EEXIST) {
			cni_error_free(e);
			return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
					     "container interface \"%s\" already exists",
					     cmd->ifname);
		}
		cni_error_move(err, &e);
		return cni_error_wrap(err, "failed to create dummy");
	}
	if (cnl_link_get(cont, cmd->ifname, &link, err) < 0)
		goto undo;

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
	if (ifconfig_apply(cont, cmd->ifname, r, 0, &(struct ifconfig_opts){ .dad = true }, err) <
	    0)
		goto undo;
	*ret = TAKE_PTR(r);
	return 0;

undo:
	if (ipam_done)
		(void)ipam_del(cmd, NULL);
	(void)cnl_link_del(cont, cmd->ifname, NULL);
	return -1;
}

static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	/*
	 * Only a dummy is deleted: after an ADD that failed because the name
	 * was taken, DEL must leave that other interface alone.
	 */
	return l2_cmd_del_child(cmd, "dummy", err);
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	cleanup_netns struct netns *cont = NULL;
	const struct cni_result *prev;
	struct cnl_link link;
	int idx;

	if (need_ipam(cmd, err) < 0 || l2_env_args_check(cmd, NULL, err) < 0 ||
	    ipam_check(cmd, err) < 0 || l2_prev_iface(cmd, "dummy", &prev, &idx, err) < 0 ||
	    netns_from_fd(cmd->netns_fd, false, cmd->netns, &cont, err) < 0 ||
	    l2_check_link(cont, &prev->ifaces[idx], "dummy", &link, err) < 0)
		return -1;
	if (!cnl_link_is_up(&link))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "interface \"%s\" is down",
				     link.name);
	return ifconfig_check(cont, cmd->ifname, prev, idx, err);
}

static const struct cni_plugin plugin = {
	.name = "dummy",
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
