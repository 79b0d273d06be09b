/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <string.h>

#include "addr.h"
#include "cleanup.h"
#include "rtnl.h"

void cnl_addrs_free(struct cnl_addrs *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static int put_addr(struct nl_msg *msg, int type, const struct ipaddr *a)
{
	return nla_put(msg, type, (int)ipaddr_len(a), a->b);
}

static struct nl_msg *addr_msg(int type, int flags, const struct cnl_link *link,
			       const struct ipnet *a, unsigned int ifa_flags)
{
	struct ifaddrmsg ifa = {
		.ifa_family = a->addr.family,
		.ifa_prefixlen = a->prefix,
		.ifa_flags = (unsigned char)(ifa_flags & 0xff),
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_index = (unsigned int)link->ifindex,
	};

	return cnl_msg_new(type, flags, &ifa, sizeof(ifa));
}

int cnl_addr_add(struct netns *ns, const struct cnl_link *link, const struct ipnet *a,
		 unsigned int flags, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	char buf[IPNET_STRLEN];

	if (a->addr.family != AF_INET && a->addr.family != AF_INET6)
		return cni_error_set(err, CNI_ERR_INTERNAL, EAFNOSUPPORT,
				     "add address to \"%s\": no address family", link->name);
	msg = addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, link, a, flags);
	if (put_addr(msg, IFA_LOCAL, &a->addr) < 0 || put_addr(msg, IFA_ADDRESS, &a->addr) < 0 ||
	    (flags > 0xff && nla_put_u32(msg, IFA_FLAGS, flags) < 0))
		return cnl_put_failed(err, "add address");
	if (a->addr.family == AF_INET && a->prefix < 31) {
		struct ipnet n = *a;
		struct ipaddr brd;

		ipnet_last(&n, &brd);
		if (put_addr(msg, IFA_BROADCAST, &brd) < 0)
			return cnl_put_failed(err, "add address");
	}
	return cnl_request(ns, msg, NULL, NULL, err, "add address %s to \"%s\" in netns \"%s\"",
			   ipnet_fmt(a, buf), link->name, ns->path);
}

int cnl_addr_del(struct netns *ns, const struct cnl_link *link, const struct ipnet *a,
		 struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = NULL;
	struct cni_error *e = NULL;
	char buf[IPNET_STRLEN];

	if (a->addr.family != AF_INET && a->addr.family != AF_INET6)
		return 0;
	msg = addr_msg(RTM_DELADDR, 0, link, a, 0);
	if (put_addr(msg, IFA_LOCAL, &a->addr) < 0 || put_addr(msg, IFA_ADDRESS, &a->addr) < 0)
		return cnl_put_failed(err, "delete address");
	if (cnl_request(ns, msg, NULL, NULL, &e, "delete address %s from \"%s\" in netns \"%s\"",
			ipnet_fmt(a, buf), link->name, ns->path) == 0)
		return 1;
	if (e && (e->errnum == EADDRNOTAVAIL || e->errnum == ENODEV)) {
		cni_error_free(e);
		return 0;
	}
	cni_error_move(err, &e);
	return -1;
}

/* ---- list ------------------------------------------------------------- */

struct addr_dump {
	struct cnl_addrs *out;
	int ifindex;
};

static int parse_addr(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct addr_dump *d = arg;
	struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	const struct nlattr *a;
	struct cnl_addr *out;
	size_t len;

	if (nlh->nlmsg_type != RTM_NEWADDR)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWADDR");
	ifa = nlmsg_data(nlh);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 0;
	/* Filtered by the kernel too when it supports strict dump checks. */
	if (d->ifindex > 0 && (int)ifa->ifa_index != d->ifindex)
		return 0;
	/* IFA_ADDRESS is the peer on point-to-point links: IFA_LOCAL is ours. */
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	len = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || (size_t)nla_len(a) != len)
		return 0;

	out = xappend(&d->out->v, &d->out->n, sizeof(*out));
	out->addr.addr.family = ifa->ifa_family;
	memcpy(out->addr.addr.b, nla_data(a), len);
	out->addr.prefix = ifa->ifa_prefixlen;
	out->ifindex = (int)ifa->ifa_index;
	out->scope = ifa->ifa_scope;
	out->flags = ifa->ifa_flags;
	if (tb[IFA_FLAGS] && nla_len(tb[IFA_FLAGS]) >= 4)
		out->flags = nla_get_u32(tb[IFA_FLAGS]);
	return 0;
}

static void reset_addrs(void *arg)
{
	struct addr_dump *d = arg;

	d->out->n = 0;
}

static int dump(struct netns *ns, int ifindex, int family, struct addr_dump *d, struct cni_error **err)
{
	struct ifaddrmsg ifa = { .ifa_family = (unsigned char)family,
				 .ifa_index = (unsigned int)(ifindex > 0 ? ifindex : 0) };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	struct cnl_sock *s;

	if (cnl_sock_get(ns, &s, err) < 0)
		return -1;
	return cnl_dump(s, msg, parse_addr, reset_addrs, d, err);
}

int cnl_addr_list(struct netns *ns, int ifindex, int family, struct cnl_addrs *ret,
		  struct cni_error **err)
{
	struct cnl_addrs out = { 0 };
	struct addr_dump d = { .out = &out, .ifindex = ifindex };
	int r;

	/*
	 * AF_UNSPEC is one dump of both families (the kernel walks AF_INET
	 * before AF_INET6, so the order is the one two dumps would give):
	 * one round trip instead of two.
	 */
	r = dump(ns, ifindex, family, &d, err);
	if (r < 0) {
		cnl_addrs_free(&out);
		if (ifindex > 0)
			return cni_error_wrap(err, "list addresses of ifindex %d in netns \"%s\"",
					      ifindex, ns->path);
		return cni_error_wrap(err, "list addresses in netns \"%s\"", ns->path);
	}
	*ret = out;
	return 0;
}

/* ---- DAD -------------------------------------------------------------- */

/* 1: settled, 0: some address still tentative, -1: DAD failed (error set). */
static int dad_state(struct netns *ns, int ifindex, const char *name, struct cni_error **err)
{
	struct cnl_addrs a = { 0 };
	int r = 1;

	if (cnl_addr_list(ns, ifindex, AF_INET6, &a, err) < 0)
		return -1;
	for (size_t i = 0; i < a.n; i++) {
		char buf[IPNET_STRLEN];

		if (a.v[i].flags & IFA_F_DADFAILED) {
			r = cni_error_set(err, CNI_ERR_INTERNAL, EADDRINUSE,
					  "address %s on \"%s\" in netns \"%s\": duplicate address "
					  "detected (DAD failed)",
					  ipnet_fmt(&a.v[i].addr, buf), name, ns->path);
			break;
		}
		if (a.v[i].flags & IFA_F_TENTATIVE)
			r = 0;
	}
	cnl_addrs_free(&a);
	return r;
}

int cnl_addr_wait_settled(struct netns *ns, int ifindex, const char *name, unsigned int timeout_ms,
			  struct cni_error **err)
{
	static const unsigned int groups[] = { RTNLGRP_IPV6_IFADDR };
	uint64_t deadline = cnl_now_ms() + timeout_ms;
	cleanup_close int fd = -1;
	struct cnl_link l;
	int r;

	r = dad_state(ns, ifindex, name, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (cnl_monitor_open(ns, groups, ARRAY_SIZE(groups), &fd, err) < 0)
		return -1;
	for (;;) {
		r = dad_state(ns, ifindex, name, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
		r = cnl_monitor_wait(fd, deadline, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	r = dad_state(ns, ifindex, name, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (cnl_link_get_by_index(ns, ifindex, &l, err) < 0)
		return -1;
	if (l.operstate != CNL_OPER_UP)
		return 0;
	return cni_error_set(err, cni_code_for_errno(ETIMEDOUT), ETIMEDOUT,
			     "\"%s\" in netns \"%s\": addresses still tentative (DAD) after %u ms",
			     name, ns->path, timeout_ms);
}
