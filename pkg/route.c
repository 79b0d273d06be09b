/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "route.h"
#include "rtnl.h"

void cnl_route_list_free(struct cnl_route_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void cnl_route_list_select(const struct cnl_route_list *from, uint32_t table, int ifindex,
			   struct cnl_route_list *ret)
{
	struct cnl_route_list out = { 0 };

	for (size_t i = 0; i < from->n; i++)
		if ((!table || from->v[i].table == table) &&
		    (ifindex <= 0 || from->v[i].ifindex == ifindex))
			*(struct cnl_route *)xappend(&out.v, &out.n, sizeof(out.v[0])) = from->v[i];
	*ret = out;
}

void cnl_route_from_cni(struct cnl_route *ret, const struct cni_route *r, int ifindex)
{
	memset(ret, 0, sizeof(*ret));
	ret->dst = r->dst;
	ret->gw = r->gw;
	ret->ifindex = ifindex;
	ret->table = r->has_table && r->table > 0 ? (uint32_t)r->table : 0;
	ret->priority = r->priority > 0 ? (uint32_t)r->priority : 0;
	ret->has_scope = r->has_scope;
	ret->scope = (unsigned char)r->scope;
	ret->mtu = r->mtu > 0 ? (uint32_t)r->mtu : 0;
	ret->advmss = r->advmss > 0 ? (uint32_t)r->advmss : 0;
}

/* "198.18.0.0/24 via 198.18.0.1 dev eth0 table 100", for messages. */
static void describe(char *buf, size_t size, const struct cnl_link *dev, const struct cnl_route *r)
{
	char dst[IPNET_STRLEN], gw[IPADDR_STRLEN];
	int n;

	n = snprintf(buf, size, "%s", ipnet_fmt(&r->dst, dst));
	if (ipaddr_is_set(&r->gw) && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, " via %s", ipaddr_fmt(&r->gw, gw));
	if (n >= 0 && (size_t)n < size) {
		if (dev)
			n += snprintf(buf + n, size - (size_t)n, " dev \"%s\"", dev->name);
		else if (r->ifindex > 0)
			n += snprintf(buf + n, size - (size_t)n, " dev ifindex %d", r->ifindex);
	}
	if (r->table && r->table != RT_TABLE_MAIN && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " table %u", r->table);
}

static int put_addr(struct nl_msg *msg, int type, const struct ipaddr *a)
{
	return nla_put(msg, type, (int)ipaddr_len(a), a->b);
}

static int build(struct nl_msg *msg, const struct cnl_link *dev, const struct cnl_route *r, bool add)
{
	int oif = dev ? dev->ifindex : r->ifindex;

	if ((r->dst.prefix > 0 && put_addr(msg, RTA_DST, &r->dst.addr) < 0) ||
	    (ipaddr_is_set(&r->gw) && put_addr(msg, RTA_GATEWAY, &r->gw) < 0) ||
	    (oif > 0 && nla_put_u32(msg, RTA_OIF, (uint32_t)oif) < 0) ||
	    (r->priority && nla_put_u32(msg, RTA_PRIORITY, r->priority) < 0) ||
	    (ipaddr_is_set(&r->src) && put_addr(msg, RTA_PREFSRC, &r->src) < 0) ||
	    nla_put_u32(msg, RTA_TABLE, r->table ? r->table : RT_TABLE_MAIN) < 0)
		return -1;
	if (add && (r->mtu || r->advmss)) {
		struct nlattr *m = nla_nest_start(msg, RTA_METRICS);

		if (!m || (r->mtu && nla_put_u32(msg, RTAX_MTU, r->mtu) < 0) ||
		    (r->advmss && nla_put_u32(msg, RTAX_ADVMSS, r->advmss) < 0))
			return -1;
		nla_nest_end(msg, m);
	}
	return 0;
}

static struct nl_msg *route_msg(int type, int flags, const struct cnl_route *r, bool add)
{
	uint32_t table = r->table ? r->table : RT_TABLE_MAIN;
	struct rtmsg rtm = {
		.rtm_family = (unsigned char)r->dst.addr.family,
		.rtm_dst_len = r->dst.prefix,
		.rtm_table = (unsigned char)(table < 256 ? table : RT_TABLE_COMPAT),
	};

	if (add) {
		rtm.rtm_protocol = r->protocol ? r->protocol : RTPROT_BOOT;
		rtm.rtm_scope = r->has_scope ? r->scope : RT_SCOPE_UNIVERSE;
		rtm.rtm_type = r->type ? r->type : RTN_UNICAST;
	} else {
		/* Zero protocol and type match any; NOWHERE matches any scope. */
		rtm.rtm_scope = r->has_scope ? r->scope : RT_SCOPE_NOWHERE;
		rtm.rtm_type = r->type;
	}
	return cnl_msg_new(type, flags, &rtm, sizeof(rtm));
}

int cnl_route_add(struct netns *ns, const struct cnl_link *dev, const struct cnl_route *r,
		  unsigned int flags, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	int nlflags = NLM_F_CREATE;
	char what[160];

	describe(what, sizeof(what), dev, r);
	if (r->dst.addr.family != AF_INET && r->dst.addr.family != AF_INET6)
		return cni_error_set(err, CNI_ERR_INTERNAL, EAFNOSUPPORT,
				     "add route %s: no address family", what);
	if (flags & CNL_ROUTE_EXCL)
		nlflags |= NLM_F_EXCL;
	if (flags & CNL_ROUTE_REPLACE)
		nlflags |= NLM_F_REPLACE;
	msg = route_msg(RTM_NEWROUTE, nlflags, r, true);
	if (build(msg, dev, r, true) < 0)
		return cnl_put_failed(err, "add route");
	return cnl_request(ns, msg, NULL, NULL, err, "add route %s in netns \"%s\"", what, ns->path);
}

int cnl_route_del(struct netns *ns, const struct cnl_link *dev, const struct cnl_route *r,
		  struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	struct cni_error *e = NULL;
	char what[160];

	if (r->dst.addr.family != AF_INET && r->dst.addr.family != AF_INET6)
		return 0;
	describe(what, sizeof(what), dev, r);
	msg = route_msg(RTM_DELROUTE, 0, r, false);
	if (build(msg, dev, r, false) < 0)
		return cnl_put_failed(err, "delete route");
	if (cnl_request(ns, msg, NULL, NULL, &e, "delete route %s in netns \"%s\"", what,
			ns->path) == 0)
		return 1;
	if (e && (e->errnum == ESRCH || e->errnum == ENOENT || e->errnum == ENODEV)) {
		cni_error_free(e);
		return 0;
	}
	cni_error_move(err, &e);
	return -1;
}

/* ---- list ------------------------------------------------------------- */

struct route_dump {
	struct cnl_route_list *out;
	uint32_t table;
	int ifindex;
};

static bool get_addr(const struct nlattr *a, int family, struct ipaddr *ret)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (!a || (size_t)nla_len(a) != len)
		return false;
	ret->family = (sa_family_t)family;
	memcpy(ret->b, nla_data(a), len);
	return true;
}

static void emit(struct route_dump *d, const struct cnl_route *r)
{
	if (d->ifindex > 0 && r->ifindex != d->ifindex)
		return;
	*(struct cnl_route *)xappend(&d->out->v, &d->out->n, sizeof(*r)) = *r;
}

static void emit_multipath(struct route_dump *d, const struct cnl_route *base, const struct nlattr *mp)
{
	const struct rtnexthop *nh = nla_data(mp);
	int left = nla_len(mp);

	while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
		struct cnl_route r = *base;
		int alen = nh->rtnh_len - (int)RTNH_ALIGN(sizeof(*nh));

		r.ifindex = nh->rtnh_ifindex;
		memset(&r.gw, 0, sizeof(r.gw));
		if (alen > 0) {
			struct nlattr *tb[RTA_MAX + 1];

			if (nla_parse(tb, RTA_MAX, (struct nlattr *)RTNH_DATA(nh), alen, NULL) == 0)
				(void)get_addr(tb[RTA_GATEWAY], base->dst.addr.family, &r.gw);
		}
		emit(d, &r);
		left -= RTNH_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
}

static int parse_route(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct route_dump *d = arg;
	struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	struct cnl_route r = { .has_scope = true };

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWROUTE");
	rtm = nlmsg_data(nlh);
	if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return 0;
	r.table = rtm->rtm_table;
	if (tb[RTA_TABLE] && nla_len(tb[RTA_TABLE]) >= 4)
		r.table = nla_get_u32(tb[RTA_TABLE]);
	if (d->table && r.table != d->table)
		return 0;

	r.dst.addr.family = rtm->rtm_family;
	r.dst.prefix = rtm->rtm_dst_len;
	(void)get_addr(tb[RTA_DST], rtm->rtm_family, &r.dst.addr);
	(void)get_addr(tb[RTA_GATEWAY], rtm->rtm_family, &r.gw);
	(void)get_addr(tb[RTA_PREFSRC], rtm->rtm_family, &r.src);
	if (tb[RTA_OIF] && nla_len(tb[RTA_OIF]) >= 4)
		r.ifindex = (int)nla_get_u32(tb[RTA_OIF]);
	if (tb[RTA_PRIORITY] && nla_len(tb[RTA_PRIORITY]) >= 4)
		r.priority = nla_get_u32(tb[RTA_PRIORITY]);
	if (tb[RTA_METRICS]) {
		struct nlattr *m[RTAX_MAX + 1];

		if (nla_parse_nested(m, RTAX_MAX, tb[RTA_METRICS], NULL) == 0) {
			if (m[RTAX_MTU] && nla_len(m[RTAX_MTU]) >= 4)
				r.mtu = nla_get_u32(m[RTAX_MTU]);
			if (m[RTAX_ADVMSS] && nla_len(m[RTAX_ADVMSS]) >= 4)
				r.advmss = nla_get_u32(m[RTAX_ADVMSS]);
		}
	}
	r.scope = rtm->rtm_scope;
	r.protocol = rtm->rtm_protocol;
	r.type = rtm->rtm_type;

	if (tb[RTA_MULTIPATH])
		emit_multipath(d, &r, tb[RTA_MULTIPATH]);
	else
		emit(d, &r);
	return 0;
}

static void reset_routes(void *arg)
{
	struct route_dump *d = arg;

	d->out->n = 0;
}

static int dump(struct netns *ns, int family, struct route_dump *d, struct cni_error **err)
{
	struct rtmsg rtm = { .rtm_family = (unsigned char)family };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETROUTE, NLM_F_DUMP, &rtm, sizeof(rtm));
	struct cnl_sock *s;

	if (cnl_sock_get(ns, &s, err) < 0)
		return -1;
	return cnl_dump(s, msg, parse_route, reset_routes, d, err);
}

int cnl_route_list(struct netns *ns, int family, uint32_t table, int ifindex,
		   struct cnl_route_list *ret, struct cni_error **err)
{
	struct cnl_route_list out = { 0 };
	struct route_dump d = { .out = &out, .table = table, .ifindex = ifindex };
	int r;

	/*
	 * AF_UNSPEC is one dump of every family (AF_INET first, then AF_INET6,
	 * the order two dumps would give; other families' routes, MPLS or
	 * multicast, are skipped by parse_route): one round trip instead of two.
	 */
	r = dump(ns, family, &d, err);
	if (r < 0) {
		cnl_route_list_free(&out);
		return cni_error_wrap(err, "list routes in netns \"%s\"", ns->path);
	}
	*ret = out;
	return 0;
}
