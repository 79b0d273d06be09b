/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipMasq's kernel work for the interface floors (floor-bridge.c and
 * floor-linkdel.c as ptp), raw nfnetlink.  What any correct nftables
 * implementation of ipMasq must ask of the kernel for one IPv4 attachment,
 * with the fewest round trips; the layout is the minimal one of ours
 * (pkg/ipmasq.c) in a table of its own, inet cnic_ipmasq_floor:
 *
 *	set masq4   { type ipv4_addr; }        container addresses, tagged
 *	set subnet4 { type ipv4_addr . ipv4_addr; flags interval; }
 *	chain postrouting { type nat hook postrouting priority srcnat;
 *		ip saddr @masq4 ip daddr & 240.0.0.0 != 224.0.0.0
 *			ip saddr . ip daddr != @subnet4 masquerade }
 *
 * (the reference's CNI-xxx chain per container: masquerade what leaves the
 * subnet, except multicast).  Left out against ours: the IPv6 sets and rule
 * (the bench configs are IPv4 only) and the owner set (masq4's tags serve).
 *
 *   ADD: one read of the chain's rules (a first ADD must create them, any
 *        other must not add them twice), then ONE transaction: table, sets
 *        and chain (idempotent creates), the rule when not in place, the
 *        address's element (tagged, NLM_F_EXCL) and its subnet's (shared,
 *        no NLM_F_EXCL).
 *   DEL: the generation and masq4 read in one sendmsg (DEL needs no
 *        prevResult: the tag finds the element), then ONE transaction
 *        guarded by that generation: the table when the attachment was the
 *        last, else its element by key.
 *
 * The socket is released by a child sharing the process's memory, as
 * ours does (a committing netfilter socket waits on close for the kernel's
 * deferred destruction, an RCU grace period).  Failures: fm_fail(), exit 1.
 */
#ifndef CNIC_BENCH_FLOORMASQ_H
#define CNIC_BENCH_FLOORMASQ_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FM_TABLE "cnic_ipmasq_floor"
#define FM_CHAIN "postrouting"
#define FM_COMMENT "cnic ipmasq floor v1"

static void fm_fail(const char *what, int e)
{
	fprintf(stderr, "floor ipMasq: %s: %s\n", what, strerror(e));
	exit(1);
}

static char fm_tx[16384] __attribute__((aligned(8)));
static size_t fm_len;
static uint32_t fm_seq, fm_first;

static struct nlattr *fm_put(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->nla_type = (uint16_t)type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static struct nlattr *fm_nest(struct nlmsghdr *h, int type)
{
	return fm_put(h, type | NLA_F_NESTED, NULL, 0);
}

static void fm_end(struct nlmsghdr *h, struct nlattr *a)
{
	a->nla_len = (uint16_t)((char *)h + h->nlmsg_len - (char *)a);
}

static void fm_str(struct nlmsghdr *h, int type, const char *s)
{
	fm_put(h, type, s, strlen(s) + 1);
}

static void fm_be32(struct nlmsghdr *h, int type, uint32_t v)
{
	v = htonl(v);
	fm_put(h, type, &v, 4);
}

static void fm_data(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct nlattr *n = fm_nest(h, type);

	fm_put(h, NFTA_DATA_VALUE, data, len);
	fm_end(h, n);
}

static struct nlmsghdr *fm_msg(uint16_t type, uint16_t flags, uint8_t family)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(fm_tx + fm_len);
	struct nfgenmsg *g;

	if (fm_len + 1024 > sizeof(fm_tx))
		fm_fail("batch too big", E2BIG);
	memset(h, 0, 1024);
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*g));
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++fm_seq;
	g = NLMSG_DATA(h);
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return h;
}

static struct nlmsghdr *fm_nft(uint16_t type, uint16_t flags)
{
	return fm_msg((uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type), flags, NFPROTO_INET);
}

static void fm_done(struct nlmsghdr *h)
{
	fm_len += NLMSG_ALIGN(h->nlmsg_len);
}

static void fm_reset(void)
{
	fm_len = 0;
	fm_first = fm_seq + 1;
}

static void fm_send(int fd)
{
	if (send(fd, fm_tx, fm_len, 0) != (ssize_t)fm_len)
		fm_fail("netlink send", errno);
}

/* Every request in [fm_first, last] answered (ACK, error, a dump's DONE); cb sees the rest. */
static void fm_rx(int fd, uint32_t last, uint32_t want, void (*cb)(const struct nlmsghdr *, void *),
		  void *arg, int *enoent)
{
	static char buf[32768] __attribute__((aligned(8)));
	uint32_t answered = 0;

	while (answered < want) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0)
			fm_fail("netlink recv", errno);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq < fm_first || h->nlmsg_seq > last)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				int e = -((const struct nlmsgerr *)NLMSG_DATA(h))->error;

				if (e == ENOENT && enoent)
					++*enoent;
				else if (e)
					fm_fail("netlink request", e);
				answered++;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				answered++;
			} else if (cb) {
				cb(h, arg);
			}
		}
	}
}

static int fm_open(void)
{
	int one = 1, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	if (fd < 0)
		fm_fail("netfilter socket", errno);
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return fd;
}

static int fm_release_fd;
static char fm_release_stack[16384] __attribute__((aligned(16)));

static int fm_release_child(void *arg)
{
	(void)arg;
	syscall(SYS_close_range, 0U, (unsigned int)fm_release_fd - 1, 0U);
	syscall(SYS_close_range, (unsigned int)fm_release_fd + 1, ~0U, 0U);
	syscall(SYS_close, fm_release_fd); /* waits for the deferred destruction */
	syscall(SYS_exit, 0);
	return 0;
}

/* Closed by a child: the caller goes on without waiting for the grace period. */
static void fm_release(int fd)
{
	fm_release_fd = fd;
	if (clone(fm_release_child, fm_release_stack + sizeof(fm_release_stack), CLONE_VM | SIGCHLD,
		  NULL) < 0)
		fm_fail("clone", errno);
	close(fd);
}

/* Batch framing; the last message before END asks the only ACK. */
static void fm_batch(int type)
{
	struct nlmsghdr *h = fm_msg((uint16_t)type, 0, AF_UNSPEC);

	((struct nfgenmsg *)NLMSG_DATA(h))->res_id = htons(NFNL_SUBSYS_NFTABLES);
	fm_done(h);
}

static void fm_commit(int fd)
{
	struct nlmsghdr *last = NULL;
	uint32_t last_seq;

	for (size_t off = 0; off < fm_len; off += NLMSG_ALIGN(last->nlmsg_len))
		last = (struct nlmsghdr *)(fm_tx + off);
	last->nlmsg_flags |= NLM_F_ACK;
	last_seq = last->nlmsg_seq;
	fm_batch(NFNL_MSG_BATCH_END);
	fm_send(fd);
	fm_rx(fd, last_seq, 1, NULL, NULL, NULL);
}

/* libnftnl's userdata TLV (nft shows the comment). */
static size_t fm_udata(uint8_t *buf, size_t off, uint8_t type, const void *v, size_t len)
{
	buf[off] = type;
	buf[off + 1] = (uint8_t)len;
	memcpy(buf + off + 2, v, len);
	return off + 2 + len;
}

static void fm_set(const char *name, uint32_t key_type, uint32_t key_len, bool pair, uint32_t id)
{
	struct nlmsghdr *h = fm_nft(NFT_MSG_NEWSET, NLM_F_CREATE);
	uint32_t big = 2; /* BYTEORDER_BIG_ENDIAN */
	uint8_t ud[16];

	fm_str(h, NFTA_SET_TABLE, FM_TABLE);
	fm_str(h, NFTA_SET_NAME, name);
	fm_be32(h, NFTA_SET_FLAGS, pair ? NFT_SET_INTERVAL | NFT_SET_CONCAT : 0);
	fm_be32(h, NFTA_SET_KEY_TYPE, key_type);
	fm_be32(h, NFTA_SET_KEY_LEN, key_len);
	fm_be32(h, NFTA_SET_ID, id);
	if (pair) {
		struct nlattr *d = fm_nest(h, NFTA_SET_DESC), *c = fm_nest(h, NFTA_SET_DESC_CONCAT);

		for (int f = 0; f < 2; f++) {
			struct nlattr *e = fm_nest(h, NFTA_LIST_ELEM);

			fm_be32(h, NFTA_SET_FIELD_LEN, 4);
			fm_end(h, e);
		}
		fm_end(h, c);
		fm_end(h, d);
	}
	fm_put(h, NFTA_SET_USERDATA, ud, fm_udata(ud, 0, 0 /* KEYBYTEORDER */, &big, 4));
	fm_done(h);
}

static struct nlmsghdr *fm_r;

static struct nlattr *fm_expr(const char *name, struct nlattr **data)
{
	struct nlattr *e = fm_nest(fm_r, NFTA_LIST_ELEM);

	fm_str(fm_r, NFTA_EXPR_NAME, name);
	*data = fm_nest(fm_r, NFTA_EXPR_DATA);
	return e;
}

static void fm_expr_end(struct nlattr *e, struct nlattr *data)
{
	fm_end(fm_r, data);
	fm_end(fm_r, e);
}

static void fm_payload(uint32_t off, uint32_t dreg)
{
	struct nlattr *d, *e = fm_expr("payload", &d);

	fm_be32(fm_r, NFTA_PAYLOAD_DREG, dreg);
	fm_be32(fm_r, NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	fm_be32(fm_r, NFTA_PAYLOAD_OFFSET, off);
	fm_be32(fm_r, NFTA_PAYLOAD_LEN, 4);
	fm_expr_end(e, d);
}

static void fm_cmp(uint32_t op, const void *v, size_t len)
{
	struct nlattr *d, *e = fm_expr("cmp", &d);

	fm_be32(fm_r, NFTA_CMP_SREG, NFT_REG32_00);
	fm_be32(fm_r, NFTA_CMP_OP, op);
	fm_data(fm_r, NFTA_CMP_DATA, v, len);
	fm_expr_end(e, d);
}

static void fm_lookup(const char *set, bool invert)
{
	struct nlattr *d, *e = fm_expr("lookup", &d);

	fm_be32(fm_r, NFTA_LOOKUP_SREG, NFT_REG32_00);
	fm_str(fm_r, NFTA_LOOKUP_SET, set);
	if (invert)
		fm_be32(fm_r, NFTA_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	fm_expr_end(e, d);
}

/* The IPv4 rule of the top comment, as ours writes it. */
static void fm_rule(void)
{
	const uint8_t v4 = NFPROTO_IPV4, mask[4] = { 0xf0 }, zero[4] = { 0 }, mc[4] = { 224 };
	struct nlattr *exprs, *d, *e;
	uint8_t ud[64];

	fm_r = fm_nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	fm_str(fm_r, NFTA_RULE_TABLE, FM_TABLE);
	fm_str(fm_r, NFTA_RULE_CHAIN, FM_CHAIN);
	exprs = fm_nest(fm_r, NFTA_RULE_EXPRESSIONS);
	e = fm_expr("meta", &d);
	fm_be32(fm_r, NFTA_META_KEY, NFT_META_NFPROTO);
	fm_be32(fm_r, NFTA_META_DREG, NFT_REG32_00);
	fm_expr_end(e, d);
	fm_cmp(NFT_CMP_EQ, &v4, 1);
	fm_payload(12, NFT_REG32_00);
	fm_lookup("masq4", false);
	fm_payload(16, NFT_REG32_00);
	e = fm_expr("bitwise", &d);
	fm_be32(fm_r, NFTA_BITWISE_SREG, NFT_REG32_00);
	fm_be32(fm_r, NFTA_BITWISE_DREG, NFT_REG32_00);
	fm_be32(fm_r, NFTA_BITWISE_LEN, 4);
	fm_data(fm_r, NFTA_BITWISE_MASK, mask, 4);
	fm_data(fm_r, NFTA_BITWISE_XOR, zero, 4);
	fm_expr_end(e, d);
	fm_cmp(NFT_CMP_NEQ, mc, 4);
	fm_payload(12, NFT_REG32_00);
	fm_payload(16, NFT_REG32_01);
	fm_lookup("subnet4", true);
	e = fm_expr("masq", &d);
	fm_expr_end(e, d);
	fm_end(fm_r, exprs);
	fm_put(fm_r, NFTA_RULE_USERDATA, ud,
	       fm_udata(ud, 0, 0 /* COMMENT */, FM_COMMENT, sizeof(FM_COMMENT)));
	fm_done(fm_r);
}

static void fm_count_rule(const struct nlmsghdr *h, void *arg)
{
	if (h->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE) &&
	    memmem(NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN, FM_COMMENT, sizeof(FM_COMMENT)))
		++*(int *)arg;
}

/* ADD for addr (network byte order) in a subnet of prefix bits; tag: network:id:ifname. */
static void fm_add(const uint8_t addr[4], int prefix, const char *tag)
{
	uint32_t a = ntohl(*(const uint32_t *)(const void *)addr);
	uint32_t m = prefix ? ~0u << (32 - prefix) : 0, lo = htonl(a & m), hi = htonl(a | ~m);
	uint8_t k[8], kend[8], ud[300];
	int fd = fm_open(), rules = 0, enoent = 0;
	struct nlmsghdr *h;
	struct nlattr *list, *el;

	/* Are the rules in place?  (No table yet: ENOENT.) */
	fm_reset();
	h = fm_nft(NFT_MSG_GETRULE, NLM_F_DUMP);
	fm_str(h, NFTA_RULE_TABLE, FM_TABLE);
	fm_str(h, NFTA_RULE_CHAIN, FM_CHAIN);
	fm_done(h);
	fm_send(fd);
	fm_rx(fd, fm_seq, 1, fm_count_rule, &rules, &enoent);

	fm_reset();
	fm_batch(NFNL_MSG_BATCH_BEGIN);
	h = fm_nft(NFT_MSG_NEWTABLE, NLM_F_CREATE);
	fm_str(h, NFTA_TABLE_NAME, FM_TABLE);
	fm_done(h);
	fm_set("masq4", 7 /* ipv4_addr */, 4, false, 1);
	fm_set("subnet4", 7 << 6 | 7, 8, true, 2);
	h = fm_nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
	fm_str(h, NFTA_CHAIN_TABLE, FM_TABLE);
	fm_str(h, NFTA_CHAIN_NAME, FM_CHAIN);
	{
		struct nlattr *hook = fm_nest(h, NFTA_CHAIN_HOOK);

		fm_be32(h, NFTA_HOOK_HOOKNUM, NF_INET_POST_ROUTING);
		fm_be32(h, NFTA_HOOK_PRIORITY, 100 /* srcnat */);
		fm_end(h, hook);
	}
	fm_str(h, NFTA_CHAIN_TYPE, "nat");
	fm_done(h);
	if (rules != 1) {
		h = fm_nft(NFT_MSG_DELRULE, 0); /* the chain flushed: never two copies */
		fm_str(h, NFTA_RULE_TABLE, FM_TABLE);
		fm_str(h, NFTA_RULE_CHAIN, FM_CHAIN);
		fm_done(h);
		fm_rule();
	}
	h = fm_nft(NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL);
	fm_str(h, NFTA_SET_ELEM_LIST_TABLE, FM_TABLE);
	fm_str(h, NFTA_SET_ELEM_LIST_SET, "masq4");
	list = fm_nest(h, NFTA_SET_ELEM_LIST_ELEMENTS);
	el = fm_nest(h, NFTA_LIST_ELEM);
	fm_data(h, NFTA_SET_ELEM_KEY, addr, 4);
	fm_put(h, NFTA_SET_ELEM_USERDATA, ud, fm_udata(ud, 0, 0 /* COMMENT */, tag, strlen(tag) + 1));
	fm_end(h, el);
	fm_end(h, list);
	fm_done(h);
	memcpy(k, &lo, 4);
	memcpy(k + 4, &lo, 4);
	memcpy(kend, &hi, 4);
	memcpy(kend + 4, &hi, 4);
	h = fm_nft(NFT_MSG_NEWSETELEM, NLM_F_CREATE);
	fm_str(h, NFTA_SET_ELEM_LIST_TABLE, FM_TABLE);
	fm_str(h, NFTA_SET_ELEM_LIST_SET, "subnet4");
	list = fm_nest(h, NFTA_SET_ELEM_LIST_ELEMENTS);
	el = fm_nest(h, NFTA_LIST_ELEM);
	fm_data(h, NFTA_SET_ELEM_KEY, k, 8);
	fm_data(h, NFTA_SET_ELEM_KEY_END, kend, 8);
	fm_end(h, el);
	fm_end(h, list);
	fm_done(h);
	fm_commit(fd);
	fm_release(fd);
}

struct fm_seen {
	const char *tag;
	uint32_t genid;
	int n, mine;
	uint8_t key[4];
};

static void fm_seen_reply(const struct nlmsghdr *h, void *arg)
{
	struct fm_seen *s = arg;
	const struct nlattr *a, *el;
	int rem;

	a = (const struct nlattr *)((const char *)NLMSG_DATA(h) +
				    NLMSG_ALIGN(sizeof(struct nfgenmsg)));
	rem = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
	for (; rem >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= rem;
	     rem -= NLA_ALIGN(a->nla_len),
	     a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len))) {
		int type = a->nla_type & NLA_TYPE_MASK, erem;

		if (h->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN) &&
		    type == NFTA_GEN_ID)
			s->genid = ntohl(
				*(const uint32_t *)(const void *)((const char *)a + NLA_HDRLEN));
		if (h->nlmsg_type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM) ||
		    type != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		el = (const void *)((const char *)a + NLA_HDRLEN);
		for (erem = a->nla_len - NLA_HDRLEN;
		     erem >= NLA_HDRLEN && el->nla_len >= NLA_HDRLEN; erem -= NLA_ALIGN(el->nla_len),
		    el = (const void *)((const char *)el + NLA_ALIGN(el->nla_len))) {
			const char *p = (const char *)el + NLA_HDRLEN;
			size_t len = el->nla_len - NLA_HDRLEN, tl = strlen(s->tag) + 1;
			/* KEY { DATA_VALUE (4 bytes) } leads; the tag sits in the userdata. */
			const char *key = p + 2 * NLA_HDRLEN;

			s->n++;
			if (len >= 2 * NLA_HDRLEN + 4 && memmem(p, len, s->tag, tl)) {
				s->mine++;
				memcpy(s->key, key, 4);
			}
		}
	}
}

/* DEL of the attachment tagged tag (nothing when it has no element). */
static void fm_del(const char *tag)
{
	struct fm_seen s = { .tag = tag };
	int fd = fm_open(), enoent = 0;
	struct nlmsghdr *h;
	struct nlattr *list, *el;

	fm_reset();
	fm_done(fm_nft(NFT_MSG_GETGEN, NLM_F_ACK));
	h = fm_nft(NFT_MSG_GETSETELEM, NLM_F_DUMP);
	fm_str(h, NFTA_SET_ELEM_LIST_TABLE, FM_TABLE);
	fm_str(h, NFTA_SET_ELEM_LIST_SET, "masq4");
	fm_done(h);
	fm_send(fd);
	fm_rx(fd, fm_seq, 2, fm_seen_reply, &s, &enoent);
	if (s.mine) {
		fm_reset();
		h = fm_msg(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC);
		((struct nfgenmsg *)NLMSG_DATA(h))->res_id = htons(NFNL_SUBSYS_NFTABLES);
		fm_be32(h, NFNL_BATCH_GENID, s.genid);
		fm_done(h);
		if (s.n == s.mine) {
			h = fm_nft(NFT_MSG_DELTABLE, 0);
			fm_str(h, NFTA_TABLE_NAME, FM_TABLE);
		} else {
			h = fm_nft(NFT_MSG_DELSETELEM, 0);
			fm_str(h, NFTA_SET_ELEM_LIST_TABLE, FM_TABLE);
			fm_str(h, NFTA_SET_ELEM_LIST_SET, "masq4");
			list = fm_nest(h, NFTA_SET_ELEM_LIST_ELEMENTS);
			el = fm_nest(h, NFTA_LIST_ELEM);
			fm_data(h, NFTA_SET_ELEM_KEY, s.key, 4);
			fm_end(h, el);
			fm_end(h, list);
		}
		fm_done(h);
		fm_commit(fd);
	}
	fm_release(fd);
}

/* "ipMasq": true in the config on in? */
static bool fm_wanted(const char *in)
{
	const char *p = strstr(in, "\"ipMasq\"");

	if (!p)
		return false;
	p += 8;
	p += strspn(p, " \t\r\n:");
	return *p == 't';
}

/* The owner tag, as ours makes it: network:container id:ifname. */
static void fm_tag(const char *in, const char *cid, const char *ifname, char *tag, size_t len)
{
	const char *p = strstr(in, "\"name\"");
	char net[128] = "";

	if (!p || sscanf(p, "\"name\" : \"%127[^\"]\"", net) != 1)
		fm_fail("config: name", EINVAL);
	snprintf(tag, len, "%s:%s:%s", net, cid, ifname);
}

#endif
