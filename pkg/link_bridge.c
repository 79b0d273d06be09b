/* SPDX-License-Identifier: Apache-2.0 */
/* Bridges: VLAN filtering, port flags and port VLANs (see link_bridge.h). */
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "link.h"
#include "rtnl.h"

int cnl_bridge_set_vlan_filtering(struct netns *ns, const char *bridge, bool on,
				  struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	struct nlattr *info, *data;

	if (nla_put_string(msg, IFLA_IFNAME, bridge) < 0 ||
	    !(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "bridge") < 0 ||
	    !(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
	    nla_put_u8(msg, IFLA_BR_VLAN_FILTERING, on) < 0)
		return cnl_put_failed(err, "set vlan_filtering");
	nla_nest_end(msg, data);
	nla_nest_end(msg, info);
	return cnl_request(ns, msg, NULL, NULL, err,
			   "set vlan_filtering %d on bridge \"%s\" in netns \"%s\"", on, bridge,
			   ns->path);
}

/* ---- bridge ports ----------------------------------------------------- */

static struct nl_msg *bridge_msg(int type, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_BRIDGE, .ifi_index = ifindex };

	return cnl_msg_new(type, 0, &ifi, sizeof(ifi));
}

int cnl_brport_set(struct netns *ns, int port_ifindex, const char *name, const struct cnl_brport *p,
		   struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	struct nlattr *nest;

	if (!p->has_hairpin && !p->has_isolated)
		return 0;
	msg = bridge_msg(RTM_SETLINK, port_ifindex);
	/* Without NLA_F_NESTED the kernel reads IFLA_PROTINFO as a bare STP state byte. */
	if (!(nest = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED)) ||
	    (p->has_hairpin && nla_put_u8(msg, IFLA_BRPORT_MODE, p->hairpin) < 0) ||
	    (p->has_isolated && nla_put_u8(msg, IFLA_BRPORT_ISOLATED, p->isolated) < 0))
		return cnl_put_failed(err, "set bridge port flags");
	nla_nest_end(msg, nest);
	return cnl_request(ns, msg, NULL, NULL, err, "set bridge port \"%s\"%s%s%s%s in netns \"%s\"",
			   name, p->has_hairpin ? " hairpin " : "",
			   p->has_hairpin ? (p->hairpin ? "on" : "off") : "",
			   p->has_isolated ? " isolated " : "",
			   p->has_isolated ? (p->isolated ? "on" : "off") : "", ns->path);
}

static int put_vlans(struct nl_msg *msg, const struct cnl_bridge_vlan *v, size_t n)
{
	struct nlattr *spec = nla_nest_start(msg, IFLA_AF_SPEC);

	if (!spec)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((v[i].pvid ? BRIDGE_VLAN_INFO_PVID : 0) |
					    (v[i].untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0));
		struct bridge_vlan_info info = { .flags = flags, .vid = v[i].vid };

		if (v[i].vid_end && v[i].vid_end != v[i].vid) {
			/* A range is two entries: its first VLAN and its last. */
			info.flags = (uint16_t)(flags | BRIDGE_VLAN_INFO_RANGE_BEGIN);
			if (nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(info), &info) < 0)
				return -1;
			info.flags = (uint16_t)(flags | BRIDGE_VLAN_INFO_RANGE_END);
			info.vid = v[i].vid_end;
		}
		if (nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof(info), &info) < 0)
			return -1;
	}
	nla_nest_end(msg, spec);
	return 0;
}

static int bridge_vlan(struct netns *ns, int type, int port_ifindex, const char *name,
		       const struct cnl_bridge_vlan *v, size_t n, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	char what[64] = "";

	if (n == 0)
		return 0;
	msg = bridge_msg(type, port_ifindex);
	if (put_vlans(msg, v, n) < 0)
		return cnl_put_failed(err, "bridge vlan");
	if (n == 1 && (!v[0].vid_end || v[0].vid_end == v[0].vid))
		snprintf(what, sizeof(what), "vlan %u", v[0].vid);
	else
		snprintf(what, sizeof(what), "%zu vlan entries", n);
	return cnl_request(ns, msg, NULL, NULL, err, "%s %s %s bridge port \"%s\" in netns \"%s\"",
			   type == RTM_SETLINK ? "add" : "delete", what,
			   type == RTM_SETLINK ? "to" : "from", name, ns->path);
}

int cnl_bridge_vlan_add(struct netns *ns, int port_ifindex, const char *name,
			const struct cnl_bridge_vlan *v, size_t n, struct cni_error **err)
{
	return bridge_vlan(ns, RTM_SETLINK, port_ifindex, name, v, n, err);
}

int cnl_bridge_vlan_del(struct netns *ns, int port_ifindex, const char *name,
			const struct cnl_bridge_vlan *v, size_t n, struct cni_error **err)
{
	return bridge_vlan(ns, RTM_DELLINK, port_ifindex, name, v, n, err);
}
