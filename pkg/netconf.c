/* SPDX-License-Identifier: Apache-2.0 */
/* Per-family switches read over rtnetlink (see netconf.h). */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/netconf.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "link.h"
#include "rtnl.h"


struct netconf_answer {
	bool seen;
	int forwarding;
};

static int parse_netconf(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct netconf_answer *a = arg;
	struct nlattr *tb[NETCONFA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWNETCONF)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(struct netconfmsg), tb, NETCONFA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWNETCONF");
	if (tb[NETCONFA_FORWARDING] && nla_len(tb[NETCONFA_FORWARDING]) >= (int)sizeof(int32_t)) {
		a->forwarding = (int)nla_get_s32(tb[NETCONFA_FORWARDING]);
		a->seen = true;
	}
	return 0;
}

int cnl_forwarding_get(struct netns *ns, int family, int *ret, struct cni_error **err)
{
	struct netconfmsg ncm = { .ncm_family = (unsigned char)family };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETNETCONF, 0, &ncm, sizeof(ncm));
	struct netconf_answer a = { .seen = false };

	if (nla_put_s32(msg, NETCONFA_IFINDEX, NETCONFA_IFINDEX_ALL) < 0)
		return cnl_put_failed(err, "netconf request");
	if (cnl_request_get(ns, msg, parse_netconf, &a, err, "get forwarding in netns \"%s\"",
			    ns->path) < 0)
		return -1;
	if (!a.seen)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO,
				     "get forwarding in netns \"%s\": no answer from the kernel",
				     ns->path);
	*ret = a.forwarding;
	return 0;
}
