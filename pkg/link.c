/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/ipv6.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "link.h"
#include "rtnl.h"

/* ---- parsing ---------------------------------------------------------- */

static void attr_str(char *dst, size_t size, const struct nlattr *a)
{
	size_t n = (size_t)nla_len(a);

	if (n >= size)
		n = size - 1;
	memcpy(dst, nla_data(a), n);
	dst[n] = '\0';
}

static bool attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || nla_len(a) < (int)sizeof(uint32_t))
		return false;
	*v = nla_get_u32((struct nlattr *)a);
	return true;
}

static void parse_info_data(struct cnl_link *l, struct nlattr *data)
{
	if (strcmp(l->kind, "macvlan") == 0 || strcmp(l->kind, "macvtap") == 0) {
		struct nlattr *tb[IFLA_MACVLAN_MAX + 1];

		if (nla_parse_nested(tb, IFLA_MACVLAN_MAX, data, NULL) == 0)
			(void)attr_u32(tb[IFLA_MACVLAN_MODE], &l->macvlan_mode);
	} else if (strcmp(l->kind, "ipvlan") == 0) {
		struct nlattr *tb[IFLA_IPVLAN_MAX + 1];

		if (nla_parse_nested(tb, IFLA_IPVLAN_MAX, data, NULL) == 0 &&
		    tb[IFLA_IPVLAN_MODE] && nla_len(tb[IFLA_IPVLAN_MODE]) >= 2)
			l->ipvlan_mode = nla_get_u16(tb[IFLA_IPVLAN_MODE]);
	} else if (strcmp(l->kind, "vlan") == 0) {
		struct nlattr *tb[IFLA_VLAN_MAX + 1];

		if (nla_parse_nested(tb, IFLA_VLAN_MAX, data, NULL) == 0 && tb[IFLA_VLAN_ID] &&
		    nla_len(tb[IFLA_VLAN_ID]) >= 2)
			l->vlan_id = nla_get_u16(tb[IFLA_VLAN_ID]);
	} else if (strcmp(l->kind, "vrf") == 0) {
		struct nlattr *tb[IFLA_VRF_MAX + 1];

		if (nla_parse_nested(tb, IFLA_VRF_MAX, data, NULL) == 0)
			(void)attr_u32(tb[IFLA_VRF_TABLE], &l->vrf_table);
	} else if (strcmp(l->kind, "bridge") == 0) {
		struct nlattr *tb[IFLA_BR_MAX + 1];

		if (nla_parse_nested(tb, IFLA_BR_MAX, data, NULL) < 0)
			return;
		if (tb[IFLA_BR_VLAN_FILTERING] && nla_len(tb[IFLA_BR_VLAN_FILTERING]) >= 1)
			l->br_vlan_filtering = nla_get_u8(tb[IFLA_BR_VLAN_FILTERING]) != 0;
		if (tb[IFLA_BR_VLAN_DEFAULT_PVID] && nla_len(tb[IFLA_BR_VLAN_DEFAULT_PVID]) >= 2)
			l->br_default_pvid = nla_get_u16(tb[IFLA_BR_VLAN_DEFAULT_PVID]);
		if (tb[IFLA_BR_BRIDGE_ID] &&
		    nla_len(tb[IFLA_BR_BRIDGE_ID]) >= (int)sizeof(struct ifla_bridge_id)) {
			const struct ifla_bridge_id *id = nla_data(tb[IFLA_BR_BRIDGE_ID]);

			cnl_mac_format(id->addr, l->br_id_mac);
		}
	}
}

/* IFLA_AF_SPEC: the IPv6 devconf array, indexed by DEVCONF_*, values s32. */
static void parse_af_spec(struct cnl_link *l, struct nlattr *spec)
{
	struct nlattr *fam;
	int rem;

	nla_for_each_nested(fam, spec, rem) {
		struct nlattr *tb[IFLA_INET6_MAX + 1];
		const struct nlattr *conf;

		if (nla_type(fam) != AF_INET6 || nla_parse_nested(tb, IFLA_INET6_MAX, fam, NULL) < 0)
			continue;
		conf = tb[IFLA_INET6_CONF];
		if (conf && nla_len(conf) >= (int)((DEVCONF_ACCEPT_RA + 1) * sizeof(int32_t))) {
			int32_t v;

			memcpy(&v, (const char *)nla_data(conf) + DEVCONF_ACCEPT_RA * sizeof(v),
			       sizeof(v));
			l->accept_ra = v;
			l->has_accept_ra = true;
		}
	}
}

static int parse_link(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct cnl_link *l = arg;
	struct nlattr *tb[IFLA_MAX + 1];
	const struct ifinfomsg *ifi;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	ifi = nlmsg_data(nlh);
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME])
		attr_str(l->name, sizeof(l->name), tb[IFLA_IFNAME]);
	if (attr_u32(tb[IFLA_MTU], &v))
		l->mtu = v;
	if (attr_u32(tb[IFLA_TXQLEN], &v))
		l->txqlen = v;
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
		cnl_mac_format(nla_data(tb[IFLA_ADDRESS]), l->mac);
	}
	if (attr_u32(tb[IFLA_MASTER], &v))
		l->master = (int)v;
	if (attr_u32(tb[IFLA_LINK], &v))
		l->link = (int)v;
	l->link_in_other_netns = tb[IFLA_LINK_NETNSID] != NULL;
	if (tb[IFLA_OPERSTATE] && nla_len(tb[IFLA_OPERSTATE]) >= 1)
		l->operstate = nla_get_u8(tb[IFLA_OPERSTATE]);
	if (tb[IFLA_LINKINFO]) {
		struct nlattr *li[IFLA_INFO_MAX + 1];

		if (nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) == 0) {
			if (li[IFLA_INFO_KIND])
				attr_str(l->kind, sizeof(l->kind), li[IFLA_INFO_KIND]);
			if (li[IFLA_INFO_SLAVE_KIND])
				attr_str(l->slave_kind, sizeof(l->slave_kind),
					 li[IFLA_INFO_SLAVE_KIND]);
			if (li[IFLA_INFO_DATA])
				parse_info_data(l, li[IFLA_INFO_DATA]);
		}
	}
	if (tb[IFLA_AF_SPEC])
		parse_af_spec(l, tb[IFLA_AF_SPEC]);
	return 0;
}

/* ---- get -------------------------------------------------------------- */

static int get_link(struct netns *ns, const char *ifname, int ifindex, struct cnl_link *ret,
		    struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETLINK, 0, &ifi, sizeof(ifi));
	struct cnl_link l = { .ifindex = 0 };
	char what[IFNAMSIZ + 32];

	if (ifname)
		snprintf(what, sizeof(what), "link \"%s\"", ifname);
	else
		snprintf(what, sizeof(what), "link with ifindex %d", ifindex);
	if ((ifname && nla_put_string(msg, IFLA_IFNAME, ifname) < 0) ||
	    nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
		return cnl_put_failed(err, what);
	if (cnl_request_get(ns, msg, parse_link, &l, err, "%s in netns \"%s\"", what, ns->path) < 0)
		return -1;
	if (l.ifindex <= 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO,
				     "%s in netns \"%s\": no answer from the kernel", what, ns->path);
	*ret = l;
	return 0;
}

int cnl_link_get(struct netns *ns, const char *ifname, struct cnl_link *ret, struct cni_error **err)
{
	return get_link(ns, ifname, 0, ret, err);
}

int cnl_link_get_by_index(struct netns *ns, int ifindex, struct cnl_link *ret, struct cni_error **err)
{
	return get_link(ns, NULL, ifindex, ret, err);
}

static int parse_link_into(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct cnl_links *out = arg;
	struct cnl_link l;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (parse_link(nlh, &l, err) < 0)
		return -1;
	out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = l;
	return 0;
}

static void reset_links(void *arg)
{
	((struct cnl_links *)arg)->n = 0;
}

void cnl_links_free(struct cnl_links *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int cnl_link_list(struct netns *ns, struct cnl_links *ret, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	struct cnl_links out = { 0 };
	struct cnl_sock *s;

	if (nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS) < 0)
		return cnl_put_failed(err, "list links");
	if (cnl_sock_get(ns, &s, err) < 0 ||
	    cnl_dump(s, msg, parse_link_into, reset_links, &out, err) < 0) {
		cnl_links_free(&out);
		return cni_error_wrap(err, "list links in netns \"%s\"", ns->path);
	}
	*ret = out;
	return 0;
}

/* ---- add -------------------------------------------------------------- */

/* Name, MTU, MAC and target namespace: the attributes a link and a veth peer share. */
static int put_common(struct nl_msg *msg, const char *name, unsigned int mtu, const char *mac,
		      const struct netns *target, struct cni_error **err)
{
	uint8_t hw[6];

	if (mac && cnl_mac_parse(mac, hw) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "invalid MAC address \"%s\"", mac);
	if ((name && nla_put_string(msg, IFLA_IFNAME, name) < 0) ||
	    (mtu && nla_put_u32(msg, IFLA_MTU, mtu) < 0) ||
	    (mac && nla_put(msg, IFLA_ADDRESS, sizeof(hw), hw) < 0) ||
	    (target && nla_put_u32(msg, IFLA_NET_NS_FD, (uint32_t)target->fd) < 0))
		return cnl_put_failed(err, "create link");
	return 0;
}

static int put_info_data(struct nl_msg *msg, const struct cnl_newlink *spec, struct cni_error **err)
{
	struct nlattr *data, *peer;

	if (strcmp(spec->kind, "veth") == 0) {
		/* The peer's attributes follow an ifinfomsg of its own (iproute2 link_veth.c). */
		struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };

		if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    !(peer = nla_nest_start(msg, VETH_INFO_PEER)) ||
		    nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0)
			return cnl_put_failed(err, "create veth");
		if (put_common(msg, spec->peer.name, spec->peer.mtu, spec->peer.mac,
			       spec->peer.netns, err) < 0)
			return -1;
		nla_nest_end(msg, peer);
		nla_nest_end(msg, data);
	} else if (strcmp(spec->kind, "macvlan") == 0 || strcmp(spec->kind, "macvtap") == 0) {
		if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    (spec->macvlan_mode &&
		     nla_put_u32(msg, IFLA_MACVLAN_MODE, spec->macvlan_mode) < 0) ||
		    (spec->macvlan_bcqueuelen &&
		     nla_put_u32(msg, IFLA_MACVLAN_BC_QUEUE_LEN, spec->macvlan_bcqueuelen) < 0))
			return cnl_put_failed(err, "create macvlan");
		nla_nest_end(msg, data);
	} else if (strcmp(spec->kind, "ipvlan") == 0) {
		if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    nla_put_u16(msg, IFLA_IPVLAN_MODE, spec->ipvlan_mode) < 0)
			return cnl_put_failed(err, "create ipvlan");
		nla_nest_end(msg, data);
	} else if (strcmp(spec->kind, "vlan") == 0) {
		if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    nla_put_u16(msg, IFLA_VLAN_ID, spec->vlan_id) < 0)
			return cnl_put_failed(err, "create vlan");
		nla_nest_end(msg, data);
	} else if (strcmp(spec->kind, "vrf") == 0) {
		if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    nla_put_u32(msg, IFLA_VRF_TABLE, spec->vrf_table) < 0)
			return cnl_put_failed(err, "create vrf");
		nla_nest_end(msg, data);
	} else if (strcmp(spec->kind, "bridge") == 0 && spec->bridge_vlan_filtering) {
		if (!(data = nla_nest_start(msg, IFLA_INFO_DATA)) ||
		    nla_put_u8(msg, IFLA_BR_VLAN_FILTERING, 1) < 0)
			return cnl_put_failed(err, "create bridge");
		nla_nest_end(msg, data);
	}
	return 0;
}

int cnl_link_add(struct netns *ns, const struct cnl_newlink *spec, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = NULL;
	char peer[IFNAMSIZ + 16] = "";
	struct nlattr *info;

	if (!spec->kind || !*spec->kind)
		return cni_error_set(err, CNI_ERR_INTERNAL, EINVAL, "create link: no kind given");
	if (spec->peer.name)
		snprintf(peer, sizeof(peer), " (peer \"%s\")", spec->peer.name);

	if (spec->echo)
		memset(spec->echo, 0, sizeof(*spec->echo));
	msg = cnl_msg_new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | (spec->echo ? NLM_F_ECHO : 0),
			  &ifi, sizeof(ifi));
	if (put_common(msg, spec->name, spec->mtu, spec->mac, spec->netns, err) < 0)
		goto fail;
	if ((spec->parent > 0 && nla_put_u32(msg, IFLA_LINK, (uint32_t)spec->parent) < 0) ||
	    (spec->master > 0 && nla_put_u32(msg, IFLA_MASTER, (uint32_t)spec->master) < 0)) {
		cnl_put_failed(err, "create link");
		goto fail;
	}
	if (!(info = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, spec->kind) < 0) {
		cnl_put_failed(err, "create link");
		goto fail;
	}
	if (put_info_data(msg, spec, err) < 0)
		goto fail;
	nla_nest_end(msg, info);

	return cnl_request(ns, msg, spec->echo ? parse_link : NULL, spec->echo, err,
			   "create %s \"%s\"%s in netns \"%s\"", spec->kind,
			   spec->name ? spec->name : "", peer, ns->path);
fail:
	return cni_error_wrap(err, "create %s \"%s\"", spec->kind, spec->name ? spec->name : "");
}

/* ---- change ----------------------------------------------------------- */

/* An RTM_SETLINK for ifname (looked up by the kernel) or, if ifindex > 0, that index. */
static struct nl_msg *setlink_msg(const char *ifname, int ifindex, unsigned int flags,
				  unsigned int change)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_index = ifindex,
		.ifi_flags = flags,
		.ifi_change = change,
	};
	struct nl_msg *msg = cnl_msg_new(RTM_SETLINK, 0, &ifi, sizeof(ifi));

	/* Only used for the lookup when no index is given; a page has room for it. */
	if (ifindex <= 0)
		(void)nla_put_string(msg, IFLA_IFNAME, ifname);
	return msg;
}

int cnl_link_set_up(struct netns *ns, const char *ifname, bool up, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(ifname, 0, up ? IFF_UP : 0, IFF_UP);

	return cnl_request(ns, msg, NULL, NULL, err, "set link \"%s\" %s in netns \"%s\"", ifname,
			   up ? "up" : "down", ns->path);
}

int cnl_link_set_inet_conf(struct netns *ns, int ifindex, const char *ifname, int id,
			   uint32_t value, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(ifname, ifindex, 0, 0);
	struct nlattr *spec, *inet, *conf;

	if (!(spec = nla_nest_start(msg, IFLA_AF_SPEC)) || !(inet = nla_nest_start(msg, AF_INET)) ||
	    !(conf = nla_nest_start(msg, IFLA_INET_CONF)) || nla_put_u32(msg, id, value) < 0)
		return cnl_put_failed(err, "set link inet conf");
	nla_nest_end(msg, conf);
	nla_nest_end(msg, inet);
	nla_nest_end(msg, spec);
	return cnl_request(ns, msg, NULL, NULL, err,
			   "set ipv4 conf %d of link \"%s\" in netns \"%s\"", id, ifname, ns->path);
}

int cnl_link_set_promisc(struct netns *ns, const char *ifname, bool on, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(ifname, 0, on ? IFF_PROMISC : 0, IFF_PROMISC);

	return cnl_request(ns, msg, NULL, NULL, err, "set link \"%s\" promisc %s in netns \"%s\"",
			   ifname, on ? "on" : "off", ns->path);
}

int cnl_link_set_allmulti(struct netns *ns, const char *ifname, bool on, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg =
		setlink_msg(ifname, 0, on ? IFF_ALLMULTI : 0, IFF_ALLMULTI);

	return cnl_request(ns, msg, NULL, NULL, err, "set link \"%s\" allmulti %s in netns \"%s\"",
			   ifname, on ? "on" : "off", ns->path);
}

int cnl_link_set_txqlen(struct netns *ns, const char *ifname, unsigned int qlen,
			struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(ifname, 0, 0, 0);

	if (nla_put_u32(msg, IFLA_TXQLEN, qlen) < 0)
		return cnl_put_failed(err, "set txqlen");
	return cnl_request(ns, msg, NULL, NULL, err, "set txqlen %u on link \"%s\" in netns \"%s\"",
			   qlen, ifname, ns->path);
}

int cnl_link_set_mtu(struct netns *ns, const char *ifname, unsigned int mtu, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(ifname, 0, 0, 0);

	if (nla_put_u32(msg, IFLA_MTU, mtu) < 0)
		return cnl_put_failed(err, "set mtu");
	return cnl_request(ns, msg, NULL, NULL, err, "set mtu %u on link \"%s\" in netns \"%s\"",
			   mtu, ifname, ns->path);
}

int cnl_link_set_mac(struct netns *ns, const char *ifname, const char *mac, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	uint8_t hw[6];

	if (cnl_mac_parse(mac, hw) < 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				     "invalid MAC address \"%s\"", mac);
	msg = setlink_msg(ifname, 0, 0, 0);
	if (nla_put(msg, IFLA_ADDRESS, sizeof(hw), hw) < 0)
		return cnl_put_failed(err, "set mac");
	return cnl_request(ns, msg, NULL, NULL, err, "set mac %s on link \"%s\" in netns \"%s\"",
			   mac, ifname, ns->path);
}

int cnl_link_set_master(struct netns *ns, const char *ifname, int master_ifindex,
			struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(ifname, 0, 0, 0);

	if (nla_put_u32(msg, IFLA_MASTER, (uint32_t)(master_ifindex > 0 ? master_ifindex : 0)) < 0)
		return cnl_put_failed(err, "set master");
	if (master_ifindex > 0)
		return cnl_request(ns, msg, NULL, NULL, err,
				   "attach link \"%s\" to master ifindex %d in netns \"%s\"",
				   ifname, master_ifindex, ns->path);
	return cnl_request(ns, msg, NULL, NULL, err,
			   "release link \"%s\" from its master in netns \"%s\"", ifname, ns->path);
}

int cnl_link_rename_found(struct netns *ns, const struct cnl_link *l, const char *newname,
			  struct cni_error **err)
{
	/* IFLA_IFNAME is the new name here, so the link is named by its index. */
	cleanup_nlmsg struct nl_msg *msg = setlink_msg(NULL, l->ifindex, 0, 0);

	if (nla_put_string(msg, IFLA_IFNAME, newname) < 0)
		return cnl_put_failed(err, "rename link");
	return cnl_request(ns, msg, NULL, NULL, err, "rename link \"%s\" to \"%s\" in netns \"%s\"",
			   l->name, newname, ns->path);
}

int cnl_link_rename(struct netns *ns, const char *ifname, const char *newname, struct cni_error **err)
{
	struct cnl_link l;

	if (cnl_link_get(ns, ifname, &l, err) < 0)
		return cni_error_wrap(err, "rename to \"%s\"", newname);
	return cnl_link_rename_found(ns, &l, newname, err);
}

/* ---- delete ----------------------------------------------------------- */

int cnl_link_del(struct netns *ns, const char *ifname, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_DELLINK, 0, &ifi, sizeof(ifi));
	struct cni_error *e = NULL;

	if (nla_put_string(msg, IFLA_IFNAME, ifname) < 0)
		return cnl_put_failed(err, "delete link");
	if (cnl_request(ns, msg, NULL, NULL, &e, "delete link \"%s\" in netns \"%s\"", ifname,
			ns->path) == 0)
		return 1;
	if (e && e->errnum == ENODEV) {
		cni_error_free(e);
		return 0;
	}
	cni_error_move(err, &e);
	return -1;
}
