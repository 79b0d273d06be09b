/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctnetlink with libmnl (see conntrack.h).  Entries are found with a dump
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
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "cleanup.h"
#include "conntrack.h"

#define BUF_SIZE (64u << 10)
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

struct ct_sock {
	struct mnl_socket *nl;
	bool owned;
	uint32_t portid, seq;
	char *buf;
};

static void ct_close(struct ct_sock *s)
{
	if (s->nl && s->owned)
		mnl_socket_close(s->nl);
	free(s->buf);
}

static int ct_open(struct ct_sock *s, struct mnl_socket *borrow, struct cni_error **err)
{
	memset(s, 0, sizeof(*s));
	if (borrow) {
		s->nl = borrow;
		goto ready;
	}
	s->owned = true;
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl)
		return cni_error_errno(err, errno, "open conntrack netlink socket");
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		ct_close(s);
		return cni_error_errno(err, e, "bind conntrack netlink socket");
	}
ready:
	s->portid = mnl_socket_get_portid(s->nl);
	/* Far from nft.c's numbers when sharing its socket. */
	s->seq = (uint32_t)time(NULL) ^ 0x80000000u;
	/* Zeroed: libmnl does not clear attribute padding, which would go to the kernel. */
	s->buf = xcalloc(1, BUF_SIZE);
	return 0;
}

static struct nlmsghdr *ct_msg(struct ct_sock *s, uint8_t type, uint16_t flags, int family)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++s->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = (uint8_t)family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

/* Send nlh and run cb over the replies until the ACK/DONE; -errno from the kernel. */
static int ct_talk(struct ct_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ssize_t len = mnl_socket_recvfrom(s->nl, s->buf, BUF_SIZE);
		if (len < 0)
			return -errno;
		r = mnl_cb_run(s->buf, (size_t)len, seq, s->portid, cb, data);
	} while (r > MNL_CB_STOP);
	return r < 0 ? -errno : 0;
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

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_dump *d = data;
	struct entry_attrs e = { 0 };
	struct tuple_info t = { 0 };
	struct ct_entry *ent;
	bool wanted = false;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), entry_cb, &e) < 0 || !e.orig)
		return MNL_CB_OK;
	if (mnl_attr_parse_nested(e.orig, tuple_cb, &t) < 0 || !t.has_proto || !t.has_dport)
		return MNL_CB_OK;
	/* The kernel may not have filtered (older kernels): check again. */
	for (size_t i = 0; i < d->n_ports && !wanted; i++)
		wanted = t.proto == d->proto && ntohs(t.dport) == d->ports[i];
	if (!wanted || mnl_attr_get_payload_len(e.orig) > sizeof(ent->tuple))
		return MNL_CB_OK;
	ent = xappend(&d->v, &d->n, sizeof(*ent));
	ent->tuple_len = mnl_attr_get_payload_len(e.orig);
	memcpy(ent->tuple, mnl_attr_get_payload(e.orig), ent->tuple_len);
	if (e.zone) {
		ent->zone = mnl_attr_get_u16(e.zone);
		ent->has_zone = true;
	}
	return MNL_CB_OK;
}

/*
 * Dump the entries of family matching d: the kernel filters by protocol (and
 * by port when there is one), dump_cb checks again.
 */
static int dump(struct ct_sock *s, int family, bool filter, struct ct_dump *d)
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
	return ct_talk(s, nlh, dump_cb, d);
}

/*
 * Entries in the current netns (its own nf_conntrack_count), or -1 when
 * conntrack is not there at all.  A dump walks the kernel's whole hash
 * table, every namespace's buckets (10 ms and more on a big table), so an
 * empty table is worth knowing about first.
 */
static long ct_count(void)
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

int conntrack_delete_by_dport(struct mnl_socket *nl, int family, uint8_t proto,
			      const uint16_t *ports, size_t n, struct cni_error **err)
{
	struct ct_dump d = { .proto = proto, .ports = ports, .n_ports = n };
	struct ct_sock s;
	int deleted = 0, r = 0;

	if (n == 0 || ct_count() <= 0)
		return 0;
	if (ct_open(&s, nl, err) < 0)
		return -1;
	r = dump(&s, family, true, &d);
	if (r == -EINVAL || r == -EOPNOTSUPP) {
		/* No CTA_FILTER here: an unfiltered dump, filtered by dump_cb. */
		free(d.v);
		d.v = NULL;
		d.n = 0;
		r = dump(&s, family, false, &d);
	}
	if (r < 0) {
		cni_error_errno(err, -r, "list conntrack entries");
		goto out;
	}
	for (size_t i = 0; i < d.n; i++) {
		struct nlmsghdr *nlh = ct_msg(&s, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, family);

		mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, d.v[i].tuple_len, d.v[i].tuple);
		if (d.v[i].has_zone)
			mnl_attr_put_u16(nlh, CTA_ZONE, d.v[i].zone);
		r = ct_talk(&s, nlh, NULL, NULL);
		if (r == -ENOENT) { /* expired meanwhile */
			r = 0;
			continue;
		}
		if (r < 0) {
			cni_error_errno(err, -r, "delete conntrack entry");
			goto out;
		}
		deleted++;
	}
out:
	free(d.v);
	ct_close(&s);
	return r < 0 ? -1 : deleted;
}
