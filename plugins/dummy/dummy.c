/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dummy: a dummy link as CNI_IFNAME in the container, carrying the IPAM
 * result's addresses and routes (a stable address that belongs to no
 * real device).  No keys of its own; ipam is required.  See docs/dummy.md.
 */
#include "../../ipam/ipam.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "../lib/l2util.h"

static int check_up(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
		    const struct cnl_link *link, const struct cnl_link *master,
		    struct cni_error **err)
{
	if (!cnl_link_is_up(link))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "interface \"%s\" is down",
				     link->name);
	return 0;
}

/* A dummy has no parent in the host: created by the container's own socket, no rename. */
static const struct l2_ops ops = {
	.plugin = "dummy",
	.kind = "dummy",
	.ipam_required = true,
	.no_master = true,
	.dns = L2_DNS_IPAM,
	.ifconfig = { .dad = true },
	.check = check_up,
};

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	return l2_add(cmd, &ops, &(struct l2_conf){ .mtu = 0 }, ret, err);
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
	return l2_check(cmd, &ops, &(struct l2_conf){ .mtu = 0 }, err);
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
