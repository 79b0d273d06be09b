/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dummy: a dummy link as CNI_IFNAME in the container, carrying the IPAM
 * result's addresses and routes (a stable address that belongs to no
 * real device).  No keys of its own; ipam is required.  See docs/dummy.md.
 */
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

/*
 * A dummy has no parent in the host: created by the container's own
 * socket, no rename.  DEL deletes only a dummy: after an ADD that failed
 * because the name was taken, it must leave that other interface alone.
 */
static const struct l2_ops ops = {
	.plugin = "dummy",
	.kind = "dummy",
	.ipam_required = true,
	.no_master = true,
	.dns = L2_DNS_IPAM,
	.ifconfig = { .dad = true },
	.check = check_up,
};

int main(void)
{
	return l2_plugin_main(&ops);
}
