/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctnetlink: messages built with libmnl, sent through nlsock.h (see conntrack.h).  Entries are found with a dump
 * that the kernel filters by protocol and destination port (CTA_FILTER,
 * Linux 5.8+; older kernels, which refuse or ignore the filter, get an
 * unfiltered dump) and checked again here, then deleted one by one by their
 * original tuple, copied verbatim from the dump.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "cleanup.h"
#include "conntrack.h"
#include "nlsock.h"

/* The kernel's CTA_FILTER flag bits (nf_conntrack_netlink.c; ABI since 5.8). */
#define FILTER_PROTO_NUM (1u << 3)
#define FILTER_PROTO_DST_PORT (1u << 5)

struct ct_entry {
	uint8_t tuple[256]; /* payload of CTA_TUPLE_ORIG */
	uint16_t tuple_len;
	uint16_t zone; /* network order */
	bool has_zone;
};

struct ct_dump {
	uint8_t proto;
	const uint16_t *ports;
	size_t n_ports;
	struct ct_entry *v;
	size_t n;
};

/* Messages are built here: a delete carries a tuple of at most 256 bytes. */
#define TX_SIZE 1024u
#define TIMEOUT_MS 5000

struct ct_sock {
	struct cnl_sock *nl;
	bool owned;
	char tx[TX_SIZE];
};

static void dump_reset(void *arg)
{
	struct ct_dump *d = arg;

	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static void ct_close(struct ct_sock *s)
{
	if (s->owned)
		cnl_sock_free(s->nl);
}

static int ct_open(struct ct_sock *s, struct cnl_sock *borrow, struct cni_error **err)
{
	s->owned = !borrow;
	s->nl = borrow;
	if (!borrow && cnl_sock_open(NETLINK_NETFILTER, TIMEOUT_MS, &s->nl, err) < 0)
		return -1;
	return 0;
}

static struct nlmsghdr *ct_msg(struct ct_sock *s, uint8_t type, uint16_t flags, int family)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;

	/* Zeroed: libmnl does not clear attribute padding, which would go to the kernel. */
	memset(s->tx, 0, sizeof(s->tx));
	nlh = mnl_nlmsg_put_header(s->tx);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

struct tuple_info {
	uint8_t proto;
	uint16_t dport; /* network order */
	bool has_proto, has_dport;
};

static int proto_cb(const struct nlattr *a, void *data)
{
	struct tuple_info *t = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_PROTO_NUM:
		if (mnl_attr_validate(a, MNL_TYPE_U8) == 0) {
			t->proto = mnl_attr_get_u8(a);
			t->has_proto = true;
		}
		break;
	case CTA_PROTO_DST_PORT:
		if (mnl_attr_validate(a, MNL_TYPE_U16) == 0) {
			t->dport = mnl_attr_get_u16(a);
			t->has_dport = true;
		}
		break;
	}
	return MNL_CB_OK;
}

static int tuple_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO && mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
		return mnl_attr_parse_nested(a, proto_cb, data);
	return MNL_CB_OK;
}

struct entry_attrs {
	const struct nlattr *orig, *zone;
};

static int entry_cb(const struct nlattr *a, void *data)
{
	struct entry_attrs *e = data;

	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_ORIG:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
			e->orig = a;
		break;
	case CTA_ZONE:
		if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
			e->zone = a;
		break;
	}
	return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data, struct cni_error **err)
{
	struct ct_dump *d = data;
	struct entry_attrs e = { 0 };
	struct tuple_info t = { 0 };
	struct ct_entry *ent;
	bool wanted = false;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), entry_cb, &e) < 0 || !e.orig)
		return 0;
	if (mnl_attr_parse_nested(e.orig, tuple_cb, &t) < 0 || !t.has_proto || !t.has_dport)
		return 0;
	/* The kernel may not have filtered (older kernels): check again. */
	for (size_t i = 0; i < d->n_ports && !wanted; i++)
		wanted = t.proto == d->proto && ntohs(t.dport) == d->ports[i];
	if (!wanted || mnl_attr_get_payload_len(e.orig) > sizeof(ent->tuple))
		return 0;
	ent = xappend(&d->v, &d->n, sizeof(*ent));
	ent->tuple_len = mnl_attr_get_payload_len(e.orig);
	memcpy(ent->tuple, mnl_attr_get_payload(e.orig), ent->tuple_len);
	if (e.zone) {
		ent->zone = mnl_attr_get_u16(e.zone);
		ent->has_zone = true;
	}
	return 0;
}

/*
 * Dump the entries of family matching d: the kernel filters by protocol (and
 * by port when there is one), dump_cb checks again.
 */
static int dump(struct ct_sock *s, int family, bool filter, struct ct_dump *d, struct cnl_reply *r,
		struct cni_error **err)
{
	struct nlmsghdr *nlh = ct_msg(s, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family);

	if (filter) {
		struct nlattr *orig, *proto, *f;
		uint32_t flags = FILTER_PROTO_NUM;

		orig = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
		proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
		mnl_attr_put_u8(nlh, CTA_PROTO_NUM, d->proto);
		if (d->n_ports == 1) {
			mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(d->ports[0]));
			flags |= FILTER_PROTO_DST_PORT;
		}
		mnl_attr_nest_end(nlh, proto);
		mnl_attr_nest_end(nlh, orig);
		f = mnl_attr_nest_start(nlh, CTA_FILTER);
		mnl_attr_put_u32(nlh, CTA_FILTER_ORIG_FLAGS, flags);
		mnl_attr_put_u32(nlh, CTA_FILTER_REPLY_FLAGS, 0);
		mnl_attr_nest_end(nlh, f);
	}
	return cnl_dump_retry(s->nl, nlh, dump_cb, dump_reset, d, r, err);
}

long conntrack_count(void)
{
	char buf[32];
	ssize_t n;
	int fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int conntrack_delete_by_dport(struct cnl_sock *nl, int family, uint8_t proto, const uint16_t *ports,
			      size_t n, struct cni_error **err)
{
	struct ct_dump d = { .proto = proto, .ports = ports, .n_ports = n };
	struct cnl_reply r = { 0 };
	struct ct_sock s;
	int deleted = 0, rc = -1;

	if (n == 0)
		return 0;
	if (ct_open(&s, nl, err) < 0)
		return -1;
	if (dump(&s, family, true, &d, &r, err) < 0)
		goto out;
	if (r.errnum == EINVAL || r.errnum == EOPNOTSUPP) {
		/* No CTA_FILTER here: an unfiltered dump, filtered by dump_cb. */
		dump_reset(&d);
		cnl_reply_done(&r);
		if (dump(&s, family, false, &d, &r, err) < 0)
			goto out;
	}
	if (r.errnum) {
		cnl_reply_error(err, &r, "list conntrack entries");
		goto out;
	}
	for (size_t i = 0; i < d.n; i++) {
		struct nlmsghdr *nlh = ct_msg(&s, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family);

		mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, d.v[i].tuple_len, d.v[i].tuple);
		if (d.v[i].has_zone)
			mnl_attr_put_u16(nlh, CTA_ZONE, d.v[i].zone);
		cnl_reply_done(&r);
		if (cnl_exchange(s.nl, nlh, NULL, NULL, &r, err) < 0)
			goto out;
		if (r.errnum == ENOENT) /* expired meanwhile */
			continue;
		if (r.errnum) {
			cnl_reply_error(err, &r, "delete conntrack entry");
			goto out;
		}
		deleted++;
	}
	rc = deleted;
out:
	cnl_reply_done(&r);
	free(d.v);
	ct_close(&s);
	return rc;
}
