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

int bw_request(struct netns *ns, struct bw_msg *m, bool ack, cnl_parse_fn parse, void *arg,
	       struct cni_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (m->overflow)
		return cnl_put_failed(err, "request");
	va_start(ap, fmt);
	r = cnl_vrequest_hdr(ns, &m->h, ack, parse, arg, err, fmt, ap);
	va_end(ap);
	return r;
}

int bw_dump(struct netns *ns, struct bw_msg *m, cnl_parse_fn parse, void (*reset)(void *arg),
	    void *arg, struct cni_error **err)
{
	struct cnl_sock *s;

	if (cnl_sock_get(ns, &s, err) < 0)
		return -1;
	return cnl_dump_hdr(s, &m->h, parse, reset, arg, err);
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
		return cnl_put_failed(err, what);
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
		return cnl_put_failed(err, "delete link");
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
