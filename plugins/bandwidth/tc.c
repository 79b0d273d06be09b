/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/link.h"
#include "../../pkg/mac.h"
#include "nl.h"
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
void bw_tbf_msg(struct bw_msg *m, int ifindex, const struct bw_tbf *t)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = TC_H_ROOT,
			    .tcm_handle = BW_HANDLE(1, 0) };
	struct tc_tbf_qopt q = { .limit = t->limit, .buffer = t->buffer };
	size_t opts;

	q.rate.rate = t->rate >= (1ULL << 32) ? UINT32_MAX : (uint32_t)t->rate;
	bw_msg_init(m, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	bw_put_str(m, TCA_KIND, "tbf");
	opts = bw_nest_start(m, TCA_OPTIONS);
	bw_put(m, TCA_TBF_PARMS, &q, sizeof(q));
	if (t->rate >= (1ULL << 32))
		bw_put_u64(m, TCA_TBF_RATE64, t->rate);
	bw_nest_end(m, opts);
}

void bw_ingress_msg(struct bw_msg *m, int ifindex)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = TC_H_INGRESS,
			    .tcm_handle = BW_HANDLE(0xffff, 0) };

	bw_msg_init(m, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	bw_put_str(m, TCA_KIND, "ingress");
	bw_put(m, TCA_OPTIONS, NULL, 0);
}

/*
 * u32 with one all-zero key, terminal (matches every packet), flowid 1:1,
 * and one action, mirred egress redirect, stolen.  The reference's netlink
 * library appends a second, unreachable copy of the mirred action (its
 * RedirIndex shorthand plus the plugin's own); one is the filter tc would
 * make and what CHECK, ours and the reference's, looks for.
 */
void bw_redirect_msg(struct bw_msg *m, int ifindex, int target)
{
	struct tcmsg tc = { .tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = BW_HANDLE(0xffff, 0),
			    .tcm_info = TC_H_MAKE(1U << 16, htons(ETH_P_ALL)) };
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} sel = { .sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 } };
	struct tc_mirred mir = { .action = TC_ACT_STOLEN,
				 .eaction = TCA_EGRESS_REDIR,
				 .ifindex = (uint32_t)target };
	size_t opts, acts, act, aopts;

	bw_msg_init(m, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	bw_put_str(m, TCA_KIND, "u32");
	opts = bw_nest_start(m, TCA_OPTIONS);
	bw_put_u32(m, TCA_U32_CLASSID, BW_HANDLE(1, 1));
	bw_put(m, TCA_U32_SEL, &sel, sizeof(sel));
	acts = bw_nest_start(m, TCA_U32_ACT);
	act = bw_nest_start(m, 1);
	bw_put_str(m, TCA_ACT_KIND, "mirred");
	aopts = bw_nest_start(m, TCA_ACT_OPTIONS);
	bw_put(m, TCA_MIRRED_PARMS, &mir, sizeof(mir));
	bw_nest_end(m, aopts);
	bw_nest_end(m, act);
	bw_nest_end(m, acts);
	bw_nest_end(m, opts);
}

int bw_tbf_add(struct netns *ns, int ifindex, const char *ifname, const struct bw_tbf *t,
	       struct cni_error **err)
{
	struct bw_msg m;

	bw_tbf_msg(&m, ifindex, t);
	return bw_request(ns, &m, true, NULL, NULL, err, "create qdisc tbf on \"%s\"", ifname);
}

int bw_ingress_add(struct netns *ns, int ifindex, const char *ifname, struct cni_error **err)
{
	struct bw_msg m;

	bw_ingress_msg(&m, ifindex);
	return bw_request(ns, &m, true, NULL, NULL, err, "create ingress qdisc on \"%s\"", ifname);
}

int bw_redirect_add(struct netns *ns, int ifindex, const char *ifname, int target,
		    const char *target_name, struct cni_error **err)
{
	struct bw_msg m;

	bw_redirect_msg(&m, ifindex, target);
	return bw_request(ns, &m, true, NULL, NULL, err,
			  "add u32 filter redirecting \"%s\" to \"%s\"", ifname, target_name);
}

/* ---- reading back ----------------------------------------------------------- */

static int parse_qdisc(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct bw_qdisc *q = arg;
	const struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	const struct tcmsg *t = NLMSG_DATA(nlh);

	if (nlh->nlmsg_type != RTM_NEWQDISC)
		return 0;
	if (bw_msg_attrs(nlh, sizeof(*t), tb, TCA_MAX) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWQDISC");
	memset(q, 0, sizeof(*q));
	q->handle = t->tcm_handle;
	if (tb[TCA_KIND])
		bw_str(q->kind, sizeof(q->kind), tb[TCA_KIND]);
	if (strcmp(q->kind, "tbf") == 0 && tb[TCA_OPTIONS] &&
	    bw_nested(tb[TCA_OPTIONS], ob, TCA_TBF_MAX) == 0 && ob[TCA_TBF_PARMS] &&
	    bw_len(ob[TCA_TBF_PARMS]) >= sizeof(struct tc_tbf_qopt)) {
		struct tc_tbf_qopt o;

		memcpy(&o, bw_data(ob[TCA_TBF_PARMS]), sizeof(o));
		q->has_tbf = true;
		q->tbf.rate = o.rate.rate;
		q->tbf.limit = o.limit;
		q->tbf.buffer = o.buffer;
		if (ob[TCA_TBF_RATE64] && bw_len(ob[TCA_TBF_RATE64]) >= sizeof(uint64_t))
			memcpy(&q->tbf.rate, bw_data(ob[TCA_TBF_RATE64]), sizeof(uint64_t));
	}
	return 0;
}

int bw_qdisc_get(struct netns *ns, int ifindex, uint32_t parent, struct bw_qdisc *ret,
		 struct cni_error **err)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = parent };
	cleanup_error struct cni_error *e = NULL;
	struct bw_msg m;

	/*
	 * The kernel answers a qdisc GET through its notification path, which
	 * reaches the asking socket only with NLM_F_ECHO.
	 */
	bw_msg_init(&m, RTM_GETQDISC, NLM_F_ECHO, &t, sizeof(t));
	memset(ret, 0, sizeof(*ret));
	if (bw_request(ns, &m, true, parse_qdisc, ret, &e, "get qdisc of ifindex %d", ifindex) < 0) {
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
	cleanup_error struct cni_error *e = NULL;
	struct bw_msg m;

	bw_msg_init(&m, RTM_DELQDISC, 0, &t, sizeof(t));
	if (bw_request(ns, &m, true, NULL, NULL, &e, "delete qdisc %x: of ifindex %d", handle >> 16,
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
static void scan_actions(const struct nlattr *acts, struct redirect_find *f)
{
	const unsigned char *p = bw_data(acts);
	size_t len = bw_len(acts);

	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p, *ab[TCA_ACT_MAX + 1],
				    *mb[TCA_MIRRED_MAX + 1];
		char kind[16] = "";
		struct tc_mirred mir;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return;
		if (bw_nested(a, ab, TCA_ACT_MAX) == 0 && ab[TCA_ACT_KIND] && ab[TCA_ACT_OPTIONS]) {
			bw_str(kind, sizeof(kind), ab[TCA_ACT_KIND]);
			if (strcmp(kind, "mirred") == 0 &&
			    bw_nested(ab[TCA_ACT_OPTIONS], mb, TCA_MIRRED_MAX) == 0 &&
			    mb[TCA_MIRRED_PARMS] && bw_len(mb[TCA_MIRRED_PARMS]) >= sizeof(mir)) {
				memcpy(&mir, bw_data(mb[TCA_MIRRED_PARMS]), sizeof(mir));
				if (mir.eaction == TCA_EGRESS_REDIR && (int)mir.ifindex == f->target)
					f->found = true;
			}
		}
		if ((size_t)NLA_ALIGN(a->nla_len) >= len)
			return;
		p += NLA_ALIGN(a->nla_len);
		len -= NLA_ALIGN(a->nla_len);
	}
}

static int parse_filter(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct redirect_find *f = arg;
	const struct nlattr *tb[TCA_MAX + 1], *ub[TCA_U32_MAX + 1];
	char kind[16] = "";

	if (nlh->nlmsg_type != RTM_NEWTFILTER)
		return 0;
	if (bw_msg_attrs(nlh, sizeof(struct tcmsg), tb, TCA_MAX) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWTFILTER");
	if (tb[TCA_KIND])
		bw_str(kind, sizeof(kind), tb[TCA_KIND]);
	if (strcmp(kind, "u32") != 0 || !tb[TCA_OPTIONS] ||
	    bw_nested(tb[TCA_OPTIONS], ub, TCA_U32_MAX) < 0 || !ub[TCA_U32_ACT])
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
	struct redirect_find f = { .target = target };
	struct bw_msg m;

	bw_msg_init(&m, RTM_GETTFILTER, NLM_F_DUMP, &t, sizeof(t));
	if (bw_dump(ns, &m, parse_filter, redirect_reset, &f, err) < 0)
		return cni_error_wrap(err, "list filters of ifindex %d", ifindex);
	return f.found ? 1 : 0;
}

/* ---- ifb -------------------------------------------------------------------- */

static int ifb_set_alias(struct netns *ns, const char *name, int ifindex, const char *alias,
			 struct cni_error **err)
{
	struct ifinfomsg set = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct bw_msg m;

	bw_msg_init(&m, RTM_NEWLINK, 0, &set, sizeof(set));
	bw_put_str(&m, IFLA_IFALIAS, alias);
	if (m.overflow)
		return cnl_put_failed(err, "ifb alias");
	return bw_request(ns, &m, true, NULL, NULL, err, "set alias of \"%s\"", name);
}

int bw_ifb_add(struct netns *ns, const char *name, unsigned int mtu, const char *alias,
	       struct cnl_link *ret, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP };
	cleanup_error struct cni_error *e = NULL;
	struct bw_msg m;
	size_t li;

	/*
	 * Since Linux 6.3 the kernel echoes the new link, which saves asking
	 * for its index and MAC; older kernels send nothing and are asked.
	 */
	bw_msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, &ifi, sizeof(ifi));
	bw_put_str(&m, IFLA_IFNAME, name);
	if (mtu)
		bw_put_u32(&m, IFLA_MTU, mtu);
	bw_put_u32(&m, IFLA_TXQLEN, 0);
	li = bw_nest_start(&m, IFLA_LINKINFO);
	bw_put_str(&m, IFLA_INFO_KIND, "ifb");
	bw_nest_end(&m, li);
	if (m.overflow)
		return cnl_put_failed(err, "ifb link");
	memset(ret, 0, sizeof(*ret));
	if (bw_request(ns, &m, true, bw_parse_link, ret, err, "adding link \"%s\"", name) < 0)
		return -1;
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	/* The kernel ignores IFLA_IFALIAS when it creates a link: set it on the new one. */
	if ((ret->ifindex <= 0 && bw_link_get(ns, name, 0, ret, err) < 0) ||
	    (alias && ifb_set_alias(ns, name, ret->ifindex, alias, err) < 0)) {
		if (bw_link_del(ns, name, &e) < 0)
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
	const struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	char kind[16] = "";
	struct bw_ifb *e;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (bw_msg_attrs(nlh, sizeof(struct ifinfomsg), tb, IFLA_MAX) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	if (!tb[IFLA_IFNAME] || !tb[IFLA_LINKINFO] ||
	    bw_nested(tb[IFLA_LINKINFO], li, IFLA_INFO_MAX) < 0 || !li[IFLA_INFO_KIND])
		return 0;
	bw_str(kind, sizeof(kind), li[IFLA_INFO_KIND]);
	if (strcmp(kind, "ifb") != 0)
		return 0;
	e = xappend(&l->v, &l->n, sizeof(*l->v));
	bw_str(e->name, sizeof(e->name), tb[IFLA_IFNAME]);
	if (tb[IFLA_IFALIAS])
		bw_str(e->alias, sizeof(e->alias), tb[IFLA_IFALIAS]);
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
	struct ifb_list l = { 0 };
	struct bw_msg m;

	bw_msg_init(&m, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof(ifi));
	if (bw_dump(ns, &m, parse_ifb, ifb_reset, &l, err) < 0) {
		ifb_reset(&l);
		return cni_error_wrap(err, "list links");
	}
	*ret = l.v;
	*n = l.n;
	return 0;
}
