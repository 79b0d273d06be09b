/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/rtnl.h"
#include "tc.h"

#ifndef TCA_TBF_RATE64
#define TCA_TBF_RATE64 4
#endif

static void qdisc_putp(struct rtnl_qdisc **q)
{
	if (*q)
		rtnl_qdisc_put(*q);
}

static void cls_putp(struct rtnl_cls **c)
{
	if (*c)
		rtnl_cls_put(*c);
}

static void act_putp(struct rtnl_act **a)
{
	if (*a)
		rtnl_act_put(*a);
}

static void nlmsg_freep(struct nl_msg **m)
{
	if (*m)
		nlmsg_free(*m);
}

static int nl_failed(struct cni_error **err, int nlerr, const char *what)
{
	return cni_error_set(err, CNI_ERR_INTERNAL, 0, "build %s: %s", what, nl_geterror(nlerr));
}

/*
 * The TBF parameters go on the wire as computed by the caller (the
 * reference's arithmetic, so CHECK and a switched node see identical
 * values): libnl derives the buffer from a byte count with its own
 * rounding and keeps the rate in 32 bits, so both are set in the built
 * message, and rates of 4 GiB/s or more get TCA_TBF_RATE64 as tc does.
 * TCA_OPTIONS is the message's last attribute (rtnl_tc_msg_build), so it can
 * be grown in place.
 */
static int tbf_fixup(struct nl_msg *msg, const struct bw_tbf *t, struct cni_error **err)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *opts, *parms;
	struct tc_tbf_qopt *q;

	opts = nlmsg_find_attr(nlh, sizeof(struct tcmsg), TCA_OPTIONS);
	parms = opts ? nla_find(nla_data(opts), nla_len(opts), TCA_TBF_PARMS) : NULL;
	if (!parms || nla_len(parms) < (int)sizeof(*q))
		return cni_error_set(err, CNI_ERR_INTERNAL, 0, "build tbf: no TCA_TBF_PARMS");
	q = nla_data(parms);
	q->buffer = t->buffer;
	q->limit = t->limit;
	q->rate.rate = t->rate >= (1ULL << 32) ? UINT32_MAX : (uint32_t)t->rate;
	if (t->rate >= (1ULL << 32)) {
		if (nla_put_u64(msg, TCA_TBF_RATE64, t->rate) < 0)
			return cnl_put_failed(err, "TCA_TBF_RATE64");
		nlh = nlmsg_hdr(msg);
		opts = nlmsg_find_attr(nlh, sizeof(struct tcmsg), TCA_OPTIONS);
		opts->nla_len = (uint16_t)((char *)nlmsg_tail(nlh) - (char *)opts);
	}
	return 0;
}

int bw_tbf_add(struct netns *ns, int ifindex, const char *ifname, const struct bw_tbf *t,
	       struct cni_error **err)
{
	__attribute__((cleanup(qdisc_putp))) struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	__attribute__((cleanup(nlmsg_freep))) struct nl_msg *msg = NULL;
	int r;

	if (!q)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), BW_HANDLE(1, 0));
	if ((r = rtnl_tc_set_kind(TC_CAST(q), "tbf")) < 0)
		return nl_failed(err, r, "tbf");
	/* Placeholders within libnl's int range: tbf_fixup() writes the real values. */
	rtnl_qdisc_tbf_set_limit(q, 1);
	rtnl_qdisc_tbf_set_rate(q, t->rate > INT32_MAX ? INT32_MAX : (int)t->rate, 1, 0);
	if ((r = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_EXCL, &msg)) < 0)
		return nl_failed(err, r, "tbf");
	if (tbf_fixup(msg, t, err) < 0)
		return -1;
	return cnl_request(ns, msg, NULL, NULL, err, "create qdisc tbf on \"%s\"", ifname);
}

int bw_ingress_add(struct netns *ns, int ifindex, const char *ifname, struct cni_error **err)
{
	__attribute__((cleanup(qdisc_putp))) struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	__attribute__((cleanup(nlmsg_freep))) struct nl_msg *msg = NULL;
	int r;

	if (!q)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	rtnl_tc_set_handle(TC_CAST(q), BW_HANDLE(0xffff, 0));
	if ((r = rtnl_tc_set_kind(TC_CAST(q), "ingress")) < 0 ||
	    (r = rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_EXCL, &msg)) < 0)
		return nl_failed(err, r, "ingress qdisc");
	return cnl_request(ns, msg, NULL, NULL, err, "create ingress qdisc on \"%s\"", ifname);
}

int bw_redirect_add(struct netns *ns, int ifindex, const char *ifname, int target,
		    const char *target_name, struct cni_error **err)
{
	__attribute__((cleanup(cls_putp))) struct rtnl_cls *c = rtnl_cls_alloc();
	__attribute__((cleanup(act_putp))) struct rtnl_act *a = rtnl_act_alloc();
	__attribute__((cleanup(nlmsg_freep))) struct nl_msg *msg = NULL;
	int r;

	if (!c || !a)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENOMEM, "out of memory");
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), BW_HANDLE(0xffff, 0));
	if ((r = rtnl_tc_set_kind(TC_CAST(c), "u32")) < 0 ||
	    (r = rtnl_tc_set_kind(TC_CAST(a), "mirred")) < 0)
		return nl_failed(err, r, "u32 filter");
	rtnl_cls_set_prio(c, 1);
	rtnl_cls_set_protocol(c, ETH_P_ALL);
	/* One all-zero key, terminal: matches every packet (the reference's selector). */
	if ((r = rtnl_u32_set_classid(c, BW_HANDLE(1, 1))) < 0 ||
	    (r = rtnl_u32_set_cls_terminal(c)) < 0 ||
	    (r = rtnl_u32_add_key_uint32(c, 0, 0, 0, 0)) < 0 ||
	    (r = rtnl_mirred_set_action(a, TCA_EGRESS_REDIR)) < 0 ||
	    (r = rtnl_mirred_set_policy(a, TC_ACT_STOLEN)) < 0 ||
	    (r = rtnl_mirred_set_ifindex(a, (uint32_t)target)) < 0 ||
	    (r = rtnl_u32_add_action(c, a)) < 0 ||
	    (r = rtnl_cls_build_add_request(c, NLM_F_CREATE | NLM_F_EXCL, &msg)) < 0)
		return nl_failed(err, r, "u32 filter");
	return cnl_request(ns, msg, NULL, NULL, err, "add u32 filter redirecting \"%s\" to \"%s\"",
			   ifname, target_name);
}

/* ---- reading back ----------------------------------------------------------- */

static int parse_qdisc(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct bw_qdisc *q = arg;
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	const struct tcmsg *t;

	if (nlh->nlmsg_type != RTM_NEWQDISC)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*t), tb, TCA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWQDISC");
	t = nlmsg_data(nlh);
	memset(q, 0, sizeof(*q));
	q->handle = t->tcm_handle;
	if (tb[TCA_KIND])
		nla_strlcpy(q->kind, tb[TCA_KIND], sizeof(q->kind));
	if (strcmp(q->kind, "tbf") == 0 && tb[TCA_OPTIONS] &&
	    nla_parse_nested(ob, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL) == 0 && ob[TCA_TBF_PARMS] &&
	    nla_len(ob[TCA_TBF_PARMS]) >= (int)sizeof(struct tc_tbf_qopt)) {
		const struct tc_tbf_qopt *o = nla_data(ob[TCA_TBF_PARMS]);

		q->has_tbf = true;
		q->tbf.rate = o->rate.rate;
		q->tbf.limit = o->limit;
		q->tbf.buffer = o->buffer;
		if (ob[TCA_TBF_RATE64] && nla_len(ob[TCA_TBF_RATE64]) >= 8)
			q->tbf.rate = nla_get_u64(ob[TCA_TBF_RATE64]);
	}
	return 0;
}

int bw_qdisc_get(struct netns *ns, int ifindex, uint32_t parent, struct bw_qdisc *ret,
		 struct cni_error **err)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = parent };
	/*
	 * The kernel answers a qdisc GET through its notification path, which
	 * reaches the asking socket only with NLM_F_ECHO.
	 */
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETQDISC, NLM_F_ECHO, &t, sizeof(t));
	cleanup_error struct cni_error *e = NULL;

	memset(ret, 0, sizeof(*ret));
	if (cnl_request(ns, msg, parse_qdisc, ret, &e, "get qdisc of ifindex %d", ifindex) < 0) {
		if (cnl_not_found(e) || e->errnum == EINVAL)
			return 0;
		return cni_error_move(err, &e);
	}
	return ret->kind[0] ? 1 : 0;
}

int bw_qdisc_del(struct netns *ns, int ifindex, uint32_t parent, uint32_t handle,
		 struct cni_error **err)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC,
			   .tcm_ifindex = ifindex,
			   .tcm_parent = parent,
			   .tcm_handle = handle };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_DELQDISC, 0, &t, sizeof(t));
	cleanup_error struct cni_error *e = NULL;

	if (cnl_request(ns, msg, NULL, NULL, &e, "delete qdisc %x: of ifindex %d", handle >> 16,
			ifindex) < 0) {
		if (cnl_not_found(e) || e->errnum == EINVAL)
			return 0;
		return cni_error_move(err, &e);
	}
	return 1;
}

struct redirect_find {
	int target;
	bool found;
};

/* Does one nested TCA_U32_ACT list hold a mirred egress redirect to f->target? */
static void scan_actions(struct nlattr *acts, struct redirect_find *f)
{
	struct nlattr *a;
	int rem;

	nla_for_each_nested(a, acts, rem) {
		struct nlattr *ab[TCA_ACT_MAX + 1], *mb[TCA_MIRRED_MAX + 1];
		char kind[16] = "";

		if (nla_parse_nested(ab, TCA_ACT_MAX, a, NULL) < 0 || !ab[TCA_ACT_KIND] ||
		    !ab[TCA_ACT_OPTIONS])
			continue;
		nla_strlcpy(kind, ab[TCA_ACT_KIND], sizeof(kind));
		if (strcmp(kind, "mirred") != 0 ||
		    nla_parse_nested(mb, TCA_MIRRED_MAX, ab[TCA_ACT_OPTIONS], NULL) < 0 ||
		    !mb[TCA_MIRRED_PARMS] ||
		    nla_len(mb[TCA_MIRRED_PARMS]) < (int)sizeof(struct tc_mirred))
			continue;
		const struct tc_mirred *m = nla_data(mb[TCA_MIRRED_PARMS]);

		if (m->eaction == TCA_EGRESS_REDIR && (int)m->ifindex == f->target)
			f->found = true;
	}
}

static int parse_filter(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct redirect_find *f = arg;
	struct nlattr *tb[TCA_MAX + 1], *ub[TCA_U32_MAX + 1];
	char kind[16] = "";

	if (nlh->nlmsg_type != RTM_NEWTFILTER)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(struct tcmsg), tb, TCA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWTFILTER");
	if (tb[TCA_KIND])
		nla_strlcpy(kind, tb[TCA_KIND], sizeof(kind));
	if (strcmp(kind, "u32") != 0 || !tb[TCA_OPTIONS] ||
	    nla_parse_nested(ub, TCA_U32_MAX, tb[TCA_OPTIONS], NULL) < 0 || !ub[TCA_U32_ACT])
		return 0;
	scan_actions(ub[TCA_U32_ACT], f);
	return 0;
}

static void redirect_reset(void *arg)
{
	((struct redirect_find *)arg)->found = false;
}

int bw_redirect_find(struct netns *ns, int ifindex, int target, struct cni_error **err)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC,
			   .tcm_ifindex = ifindex,
			   .tcm_parent = BW_HANDLE(0xffff, 0) };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETTFILTER, NLM_F_DUMP, &t, sizeof(t));
	struct redirect_find f = { .target = target };
	struct cnl_sock *s;

	if (cnl_sock_get(ns, &s, err) < 0)
		return -1;
	if (cnl_dump(s, msg, parse_filter, redirect_reset, &f, err) < 0)
		return cni_error_wrap(err, "list filters of ifindex %d", ifindex);
	return f.found ? 1 : 0;
}

/* ---- ifb -------------------------------------------------------------------- */

int bw_ifb_add(struct netns *ns, const char *name, unsigned int mtu, const char *alias,
	       struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	cleanup_nlmsg struct nl_msg *msg =
		cnl_msg_new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	struct nlattr *li;

	if (nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    (mtu && nla_put_u32(msg, IFLA_MTU, mtu) < 0) || nla_put_u32(msg, IFLA_TXQLEN, 0) < 0 ||
	    !(li = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "ifb") < 0)
		return cnl_put_failed(err, "ifb link");
	nla_nest_end(msg, li);
	if (cnl_request(ns, msg, NULL, NULL, err, "adding link \"%s\"", name) < 0)
		return -1;
	if (!alias)
		return 0;
	/* The kernel ignores IFLA_IFALIAS when it creates a link: set it on the new one. */
	struct ifinfomsg set = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *m2 = cnl_msg_new(RTM_NEWLINK, 0, &set, sizeof(set));

	if (nla_put_string(m2, IFLA_IFNAME, name) < 0 || nla_put_string(m2, IFLA_IFALIAS, alias) < 0 ||
	    cnl_request(ns, m2, NULL, NULL, err, "set alias of \"%s\"", name) < 0) {
		cleanup_error struct cni_error *e = NULL;

		if (err && !*err)
			cnl_put_failed(err, "ifb alias");
		if (cnl_link_del(ns, name, &e) < 0)
			cni_error_move(err, &e);
		return -1;
	}
	return 0;
}

struct ifb_list {
	struct bw_ifb *v;
	size_t n;
};

static int parse_ifb(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct ifb_list *l = arg;
	struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	char kind[16] = "";
	struct bw_ifb *e;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	if (!tb[IFLA_IFNAME] || !tb[IFLA_LINKINFO] ||
	    nla_parse_nested(li, IFLA_INFO_MAX, tb[IFLA_LINKINFO], NULL) < 0 || !li[IFLA_INFO_KIND])
		return 0;
	nla_strlcpy(kind, li[IFLA_INFO_KIND], sizeof(kind));
	if (strcmp(kind, "ifb") != 0)
		return 0;
	e = xappend(&l->v, &l->n, sizeof(*l->v));
	nla_strlcpy(e->name, tb[IFLA_IFNAME], sizeof(e->name));
	if (tb[IFLA_IFALIAS])
		nla_strlcpy(e->alias, tb[IFLA_IFALIAS], sizeof(e->alias));
	return 0;
}

static void ifb_reset(void *arg)
{
	struct ifb_list *l = arg;

	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int bw_ifb_list(struct netns *ns, struct bw_ifb **ret, size_t *n, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	struct ifb_list l = { 0 };
	struct cnl_sock *s;

	if (cnl_sock_get(ns, &s, err) < 0)
		return -1;
	if (cnl_dump(s, msg, parse_ifb, ifb_reset, &l, err) < 0) {
		ifb_reset(&l);
		return cni_error_wrap(err, "list links");
	}
	*ret = l.v;
	*n = l.n;
	return 0;
}
