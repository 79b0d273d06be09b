/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/mac.h"
#include "../../pkg/rtnl.h"
#include "tc.h"

#ifndef TCA_TBF_RATE64
#define TCA_TBF_RATE64 4
#endif

/*
 * The attribute layout is the reference's (vishvananda/netlink, which the
 * Go plugin uses), so the kernel is handed the same objects: a TBF with
 * only rate, limit and buffer in TCA_TBF_PARMS (no rate table, link layer
 * left to the kernel), TCA_TBF_RATE64 from 4 GiB/s on as tc does, and an
 * ingress qdisc with empty options.
 */
struct nl_msg *bw_tbf_msg(int ifindex, const struct bw_tbf *t)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = TC_H_ROOT,
			    .tcm_handle = BW_HANDLE(1, 0) };
	struct nl_msg *msg = cnl_msg_new(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	struct tc_tbf_qopt q = { .limit = t->limit, .buffer = t->buffer };
	struct nlattr *opts;

	q.rate.rate = t->rate >= (1ULL << 32) ? UINT32_MAX : (uint32_t)t->rate;
	if (nla_put_string(msg, TCA_KIND, "tbf") < 0 || !(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put(msg, TCA_TBF_PARMS, sizeof(q), &q) < 0 ||
	    (t->rate >= (1ULL << 32) && nla_put_u64(msg, TCA_TBF_RATE64, t->rate) < 0)) {
		nlmsg_free(msg);
		return NULL;
	}
	nla_nest_end(msg, opts);
	return msg;
}

struct nl_msg *bw_ingress_msg(int ifindex)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = TC_H_INGRESS,
			    .tcm_handle = BW_HANDLE(0xffff, 0) };
	struct nl_msg *msg = cnl_msg_new(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));

	if (nla_put_string(msg, TCA_KIND, "ingress") < 0 || nla_put(msg, TCA_OPTIONS, 0, NULL) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * u32 with one all-zero key, terminal (matches every packet), flowid 1:1,
 * and one action, mirred egress redirect, stolen.  The reference's netlink
 * library appends a second, unreachable copy of the mirred action (its
 * RedirIndex shorthand plus the plugin's own); one is the filter tc would
 * make and what CHECK, ours and the reference's, looks for.
 */
struct nl_msg *bw_redirect_msg(int ifindex, int target)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = BW_HANDLE(0xffff, 0),
			    .tcm_info = TC_H_MAKE(1U << 16, htons(ETH_P_ALL)) };
	struct nl_msg *msg = cnl_msg_new(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} sel = { .sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 } };
	struct tc_mirred m = { .action = TC_ACT_STOLEN,
			       .eaction = TCA_EGRESS_REDIR,
			       .ifindex = (uint32_t)target };
	struct nlattr *opts, *acts, *act, *aopts;

	if (nla_put_string(msg, TCA_KIND, "u32") < 0 || !(opts = nla_nest_start(msg, TCA_OPTIONS)) ||
	    nla_put_u32(msg, TCA_U32_CLASSID, BW_HANDLE(1, 1)) < 0 ||
	    nla_put(msg, TCA_U32_SEL, sizeof(sel), &sel) < 0 ||
	    !(acts = nla_nest_start(msg, TCA_U32_ACT)) || !(act = nla_nest_start(msg, 1)) ||
	    nla_put_string(msg, TCA_ACT_KIND, "mirred") < 0 ||
	    !(aopts = nla_nest_start(msg, TCA_ACT_OPTIONS)) ||
	    nla_put(msg, TCA_MIRRED_PARMS, sizeof(m), &m) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	nla_nest_end(msg, aopts);
	nla_nest_end(msg, act);
	nla_nest_end(msg, acts);
	nla_nest_end(msg, opts);
	return msg;
}

int bw_tbf_add(struct netns *ns, int ifindex, const char *ifname, const struct bw_tbf *t,
	       struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = bw_tbf_msg(ifindex, t);

	if (!msg)
		return cnl_put_failed(err, "tbf qdisc");
	return cnl_request(ns, msg, NULL, NULL, err, "create qdisc tbf on \"%s\"", ifname);
}

int bw_ingress_add(struct netns *ns, int ifindex, const char *ifname, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = bw_ingress_msg(ifindex);

	if (!msg)
		return cnl_put_failed(err, "ingress qdisc");
	return cnl_request(ns, msg, NULL, NULL, err, "create ingress qdisc on \"%s\"", ifname);
}

int bw_redirect_add(struct netns *ns, int ifindex, const char *ifname, int target,
		    const char *target_name, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = bw_redirect_msg(ifindex, target);

	if (!msg)
		return cnl_put_failed(err, "u32 filter");
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

/* The new link as the kernel echoes it (NLM_F_ECHO): its index and MAC. */
static int parse_new_ifb(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct cnl_link *l = arg;
	struct nlattr *tb[IFLA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	l->ifindex = ((const struct ifinfomsg *)nlmsg_data(nlh))->ifi_index;
	if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6)
		cnl_mac_format(nla_data(tb[IFLA_ADDRESS]), l->mac);
	return 0;
}

static int ifb_set_alias(struct netns *ns, const char *name, int ifindex, const char *alias,
			 struct cni_error **err)
{
	struct ifinfomsg set = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_NEWLINK, 0, &set, sizeof(set));

	if (nla_put_string(msg, IFLA_IFALIAS, alias) < 0)
		return cnl_put_failed(err, "ifb alias");
	return cnl_request(ns, msg, NULL, NULL, err, "set alias of \"%s\"", name);
}

int bw_ifb_add(struct netns *ns, const char *name, unsigned int mtu, const char *alias,
	       struct cnl_link *ret, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	/*
	 * Since Linux 6.3 the kernel echoes the new link, which saves asking
	 * for its index and MAC; older kernels send nothing and are asked.
	 */
	cleanup_nlmsg struct nl_msg *msg =
		cnl_msg_new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, &ifi, sizeof(ifi));
	cleanup_error struct cni_error *e = NULL;
	struct nlattr *li;

	memset(ret, 0, sizeof(*ret));
	if (nla_put_string(msg, IFLA_IFNAME, name) < 0 ||
	    (mtu && nla_put_u32(msg, IFLA_MTU, mtu) < 0) || nla_put_u32(msg, IFLA_TXQLEN, 0) < 0 ||
	    !(li = nla_nest_start(msg, IFLA_LINKINFO)) ||
	    nla_put_string(msg, IFLA_INFO_KIND, "ifb") < 0)
		return cnl_put_failed(err, "ifb link");
	nla_nest_end(msg, li);
	if (cnl_request(ns, msg, parse_new_ifb, ret, err, "adding link \"%s\"", name) < 0)
		return -1;
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	/* The kernel ignores IFLA_IFALIAS when it creates a link: set it on the new one. */
	if ((ret->ifindex <= 0 && cnl_link_get(ns, name, ret, err) < 0) ||
	    (alias && ifb_set_alias(ns, name, ret->ifindex, alias, err) < 0)) {
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
