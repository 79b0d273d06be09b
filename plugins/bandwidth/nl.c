/* SPDX-License-Identifier: Apache-2.0 */
/* bandwidth's rtnetlink requests without libnl (see nl.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/mac.h"
#include "nl.h"

/* As pkg/rtnl: the bound of one wait for the kernel's answer. */
#define RECV_TIMEOUT_MS 5000

/* ---- building ------------------------------------------------------------ */

void bw_msg_init(struct bw_msg *m, int type, int flags, const void *hdr, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->h.nlmsg_type = (uint16_t)type;
	m->h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
	m->h.nlmsg_len = NLMSG_LENGTH(len);
	memcpy(m->b + NLMSG_HDRLEN, hdr, len);
	m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len);
}

void bw_put(struct bw_msg *m, int type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->h.nlmsg_len);
	struct nlattr *a = (struct nlattr *)(m->b + off);

	if (m->overflow || off + NLA_ALIGN(NLA_HDRLEN + len) > sizeof(m->b)) {
		m->overflow = true;
		return;
	}
	a->nla_type = (uint16_t)type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy(m->b + off + NLA_HDRLEN, data, len);
	m->h.nlmsg_len = (uint32_t)(off + NLA_ALIGN(NLA_HDRLEN + len));
}

void bw_put_str(struct bw_msg *m, int type, const char *s)
{
	bw_put(m, type, s, strlen(s) + 1);
}

void bw_put_u32(struct bw_msg *m, int type, uint32_t v)
{
	bw_put(m, type, &v, sizeof(v));
}

void bw_put_u64(struct bw_msg *m, int type, uint64_t v)
{
	bw_put(m, type, &v, sizeof(v));
}

size_t bw_nest_start(struct bw_msg *m, int type)
{
	size_t off = NLMSG_ALIGN(m->h.nlmsg_len);

	/* Without NLA_F_NESTED, as before and as the reference: the same bytes reach the kernel. */
	bw_put(m, type, NULL, 0);
	return off;
}

void bw_nest_end(struct bw_msg *m, size_t nest)
{
	if (!m->overflow)
		((struct nlattr *)(m->b + nest))->nla_len = (uint16_t)(m->h.nlmsg_len - nest);
}

/* ---- reading ------------------------------------------------------------- */

int bw_attrs(const void *data, size_t len, const struct nlattr **tb, int max)
{
	const unsigned char *p = data;

	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	while (len >= NLA_HDRLEN) {
		const struct nlattr *a = (const void *)p;
		int type = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
			return -1;
		if (type <= max)
			tb[type] = a;
		if ((size_t)NLA_ALIGN(a->nla_len) >= len)
			break;
		p += NLA_ALIGN(a->nla_len);
		len -= NLA_ALIGN(a->nla_len);
	}
	return 0;
}

int bw_msg_attrs(const struct nlmsghdr *h, size_t hdrlen, const struct nlattr **tb, int max)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);

	if (h->nlmsg_len < off)
		return -1;
	return bw_attrs((const char *)h + off, h->nlmsg_len - off, tb, max);
}

int bw_nested(const struct nlattr *a, const struct nlattr **tb, int max)
{
	return bw_attrs(bw_data(a), bw_len(a), tb, max);
}

void bw_str(char *out, size_t n, const struct nlattr *a)
{
	size_t len = strnlen(bw_data(a), bw_len(a));

	if (len >= n)
		len = n - 1;
	memcpy(out, bw_data(a), len);
	out[len] = '\0';
}

bool bw_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || bw_len(a) < sizeof(*v))
		return false;
	memcpy(v, bw_data(a), sizeof(*v));
	return true;
}

/* ---- requests ------------------------------------------------------------ */

/* Runs inside the namespace: a socket belongs to the netns it was created in. */
static int open_sock(void *arg, struct cni_error **err)
{
	return cnl_sock_open(NETLINK_ROUTE, RECV_TIMEOUT_MS, arg, err);
}

int bw_sock(struct netns *ns, struct cnl_sock **ret, struct cni_error **err)
{
	struct cnl_sock *s = NULL;

	if (!ns->rtnl) {
		if (netns_run(ns, open_sock, &s, err) < 0)
			return -1;
		ns->rtnl = s;
	}
	*ret = ns->rtnl;
	return 0;
}

bool bw_not_found(const struct cni_error *e)
{
	return e && (e->errnum == ENODEV || e->errnum == ENOENT || e->errnum == ESRCH ||
		     e->errnum == ENXIO);
}

int bw_put_failed(struct cni_error **err, const char *what)
{
	return cni_error_set(err, CNI_ERR_INTERNAL, EMSGSIZE, "%s: netlink message too large", what);
}

/* The kernel's refusal: its errno text, prefixed with the object by the caller. */
static int kernel_error(const struct cnl_reply *r, struct cni_error **err)
{
	cni_error_set(err, cni_code_for_errno(r->errnum), r->errnum, "%s", strerror(r->errnum));
	if (r->extack)
		cni_error_add_details(err, "kernel: %s", r->extack);
	return -1;
}

static int talk(struct netns *ns, struct bw_msg *m, bool ack, cnl_parse_fn parse, void *arg,
		struct cni_error **err)
{
	struct cnl_sock *s;
	struct cnl_reply r;
	int rc = 0;

	if (bw_sock(ns, &s, err) < 0)
		return -1;
	if (ack)
		m->h.nlmsg_flags |= NLM_F_ACK;
	if (cnl_exchange(s, &m->h, parse, arg, &r, err) < 0)
		return -1;
	if (r.errnum)
		rc = kernel_error(&r, err);
	cnl_reply_done(&r);
	return rc;
}

int bw_request(struct netns *ns, struct bw_msg *m, bool ack, cnl_parse_fn parse, void *arg,
	       struct cni_error **err, const char *fmt, ...)
{
	cleanup_free char *what = NULL;
	va_list ap;

	if (m->overflow)
		return bw_put_failed(err, "request");
	if (talk(ns, m, ack, parse, arg, err) == 0)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (what)
		cni_error_wrap(err, "%s", what);
	return -1;
}

int bw_dump(struct netns *ns, struct bw_msg *m, cnl_parse_fn parse, void (*reset)(void *arg),
	    void *arg, struct cni_error **err)
{
	struct cnl_sock *s;
	struct cnl_reply r;
	int rc = 0;

	if (bw_sock(ns, &s, err) < 0)
		return -1;
	m->h.nlmsg_flags |= NLM_F_ACK;
	if (cnl_dump_retry(s, &m->h, parse, reset, arg, &r, err) < 0)
		return -1;
	if (r.errnum)
		rc = kernel_error(&r, err);
	cnl_reply_done(&r);
	return rc;
}

/* ---- links --------------------------------------------------------------- */

int bw_parse_link(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct cnl_link *l = arg;
	const struct nlattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1];
	const struct ifinfomsg *ifi = NLMSG_DATA(nlh);
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (bw_msg_attrs(nlh, sizeof(*ifi), tb, IFLA_MAX) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWLINK");
	memset(l, 0, sizeof(*l));
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME])
		bw_str(l->name, sizeof(l->name), tb[IFLA_IFNAME]);
	if (bw_u32(tb[IFLA_MTU], &v))
		l->mtu = v;
	if (bw_u32(tb[IFLA_TXQLEN], &v))
		l->txqlen = v;
	if (tb[IFLA_ADDRESS] && bw_len(tb[IFLA_ADDRESS]) == 6)
		cnl_mac_format(bw_data(tb[IFLA_ADDRESS]), l->mac);
	if (bw_u32(tb[IFLA_MASTER], &v))
		l->master = (int)v;
	if (bw_u32(tb[IFLA_LINK], &v))
		l->link = (int)v;
	l->link_in_other_netns = tb[IFLA_LINK_NETNSID] != NULL;
	if (tb[IFLA_LINKINFO] && bw_nested(tb[IFLA_LINKINFO], li, IFLA_INFO_MAX) == 0) {
		if (li[IFLA_INFO_KIND])
			bw_str(l->kind, sizeof(l->kind), li[IFLA_INFO_KIND]);
		if (li[IFLA_INFO_SLAVE_KIND])
			bw_str(l->slave_kind, sizeof(l->slave_kind), li[IFLA_INFO_SLAVE_KIND]);
	}
	return 0;
}

int bw_link_get(struct netns *ns, const char *ifname, int ifindex, struct cnl_link *ret,
		struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct cnl_link l = { .ifindex = 0 };
	struct bw_msg m;
	char what[IFNAMSIZ + 32];

	if (ifname)
		snprintf(what, sizeof(what), "link \"%s\"", ifname);
	else
		snprintf(what, sizeof(what), "link with ifindex %d", ifindex);
	bw_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	if (ifname)
		bw_put_str(&m, IFLA_IFNAME, ifname);
	bw_put_u32(&m, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (m.overflow)
		return bw_put_failed(err, what);
	if (bw_request(ns, &m, false, bw_parse_link, &l, err, "%s in netns \"%s\"", what, ns->path) <
	    0)
		return -1;
	if (l.ifindex <= 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO,
				     "%s in netns \"%s\": no answer from the kernel", what, ns->path);
	*ret = l;
	return 0;
}

int bw_link_del(struct netns *ns, const char *ifname, struct cni_error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct cni_error *e = NULL;
	struct bw_msg m;

	bw_msg_init(&m, RTM_DELLINK, 0, &ifi, sizeof(ifi));
	bw_put_str(&m, IFLA_IFNAME, ifname);
	if (m.overflow)
		return bw_put_failed(err, "delete link");
	if (bw_request(ns, &m, true, NULL, NULL, &e, "delete link \"%s\" in netns \"%s\"", ifname,
		       ns->path) == 0)
		return 1;
	if (e && e->errnum == ENODEV) {
		cni_error_free(e);
		return 0;
	}
	cni_error_move(err, &e);
	return -1;
}
