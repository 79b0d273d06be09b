/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-portmap: the kernel work of a portmap ADD, CHECK and DEL and nothing
 * else, as a process started like a plugin (measure.c alternates it with
 * bin/portmap in the same node netns; config test/bench/conf/portmap.json).
 * Raw nfnetlink and rtnetlink, no library, no JSON parser (strstr/sscanf on
 * the config: network name, snat, up to 8 portMappings, the first IPv4
 * "address").  It keeps the same layout as ours (plugins/portmap/nftables.c)
 * in a table of its own, inet cnic_portmap_floor, so both coexist:
 *
 *   ADD:   one route lookup for the container address (RTM_GETROUTE, then
 *          RTM_GETLINK for the name of its interface: mappings on any
 *          address must reach 127.0.0.1, which needs route_localnet there);
 *          one read of the table's rules (GETRULE dump: are the network's
 *          rules and the martian guard in place?), then ONE transaction:
 *          the table, the network's 12 sets/maps and 4 chains (idempotent
 *          creates), its 11 rules (its chains flushed first) when they are
 *          not in place, the martian chain (and its rule when missing), the
 *          attachment's elements (owner element carrying the same kind of
 *          index comment as ours, one map element per mapping, hc4, lo4 with
 *          NLM_F_EXCL; the shared subnet element of hs4 without).  Then
 *          route_localnet read (written only when not 1), and
 *          nf_conntrack_count read: when the netns tracks connections, the
 *          UDP entries of the mapped host ports are dumped (kernel-filtered,
 *          CTA_FILTER) and deleted one by one, as ours must.
 *   CHECK: one route lookup (is lo4 expected?), then the questions ours
 *          asks, pipelined in one sendmsg: the pre/out/dnat chains and
 *          every element of the attachment (GETSETELEM by key; data and
 *          owner tag compared).
 *   DEL:   the generation and the attachment's owner element (GETGEN +
 *          GETSETELEM by key, one sendmsg); whether any other attachment
 *          is on the network (the owner set's dump on a second socket, read
 *          only up to the first element not ours: the same cost with 1 or
 *          1000 others); then ONE transaction guarded by that generation:
 *          for the last attachment of the network (ours then removes the
 *          network's objects) the 4 chains flushed and deleted and the 12
 *          sets deleted (the elements go with them); otherwise the
 *          attachment's elements deleted by key (the shared subnet element
 *          stays, as ours leaves it to GC).  Then nf_conntrack_count read
 *          (UDP flush as ADD when not zero).
 *
 * Why it is portmap's floor: that is what any implementation of this
 * layout must ask of the kernel per verb (the rules must be looked at
 * before an ADD writes them, a teardown must know it removes the last
 * attachment and be guarded against a concurrent ADD), with the fewest
 * round trips; the same objects as ours, created, checked and deleted in
 * the same kinds of messages.  Left out on purpose: what ours adds on top
 * (the GETCHAIN of the dnat chain before an ADD, the reads of every
 * element before a DEL, the emptiness probes of 10 sets over a second
 * socket, the dump of all tables looking for the reference's rules, the
 * opening of CNI_NETNS).
 *
 * A netfilter socket whose owner committed a transaction waits, when it is
 * released, for the kernel's deferred destruction (an RCU grace period,
 * 10-15 ms); ours hands its socket to a child that releases it after the
 * plugin exits.  The floor does the same with the cheapest child there is
 * (clone with CLONE_VM, no page tables copied; it keeps only the socket);
 * FLOOR_SYNC_CLOSE=1 closes it in place instead, to see that cost.
 *
 * ADD prints {"cniVersion":"1.0.0"}.  Exit status 0, or 1 on any failure
 * (every ACK and batch error checked).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "floornl.h"

#define TABLE "cnic_portmap_floor"
#define RULE_COMMENT "cnic portmap floor v1"
#define MARTIAN "martian"
#define MARTIAN_COMMENT "cnic portmap floor martian v1"
#define MAX_MAPS 8
#define BATCH_MAX (64 * 1024)
#define RX_MAX (64 * 1024)

/* ---- errors ------------------------------------------------------------- */

static int fail(const char *what, int e)
{
	fprintf(stderr, "floor-portmap: %s: %s\n", what, strerror(e));
	exit(1);
}

/* ---- config ------------------------------------------------------------- */

struct mapping {
	uint16_t host, ctr;
	uint8_t proto;
};

static struct {
	char name[65];
	bool snat;
	struct mapping m[MAX_MAPS];
	int n;
	uint8_t v4[4];
	int prefix;
	char tag[256];
	char addr[64];
	char index[256];
	uint8_t owner[16];
} C;

/* Network name, snat, portMappings and the first IPv4 address of the config on stdin. */
static void read_conf(const char *cid, const char *ifname)
{
	static char buf[65536];
	size_t len = 0;
	ssize_t r;
	const char *p, *q;
	char addr[64];

	while ((r = read(0, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	if (r < 0)
		fail("read stdin", errno);
	buf[len] = '\0';
	p = strstr(buf, "\"name\"");
	if (!p || sscanf(p, "\"name\" : \"%64[^\"]\"", C.name) != 1)
		fail("config: name", EINVAL);
	p = strstr(buf, "\"snat\"");
	C.snat = p && (p = strchr(p, ':')) && strspn(p + 1, " \t\n") < 8 &&
		 p[1 + strspn(p + 1, " \t\n")] == 't';
	for (p = strstr(buf, "\"hostPort\""); p && C.n < MAX_MAPS; p = strstr(p + 1, "\"hostPort\"")) {
		struct mapping *m = &C.m[C.n];
		unsigned int h, c;

		q = strstr(p, "\"containerPort\"");
		if (sscanf(p, "\"hostPort\" : %u", &h) != 1 || !q ||
		    sscanf(q, "\"containerPort\" : %u", &c) != 1)
			fail("config: portMappings", EINVAL);
		q = strstr(p, "\"protocol\"");
		m->host = (uint16_t)h;
		m->ctr = (uint16_t)c;
		m->proto = q && strncmp(strchr(q + 10, '"') + 1, "udp", 3) == 0 ? IPPROTO_UDP
										: IPPROTO_TCP;
		C.n++;
	}
	for (p = strstr(buf, "\"address\""); p; p = strstr(p + 1, "\"address\"")) {
		if (sscanf(p, "\"address\" : \"%63[^/\"]/%d", addr, &C.prefix) == 2 &&
		    inet_pton(AF_INET, addr, C.v4) == 1)
			break;
	}
	if (!p)
		fail("config: no IPv4 address in prevResult", EINVAL);
	snprintf(C.tag, sizeof(C.tag), "%s:%s:%s", C.name, cid, ifname);
	snprintf(C.addr, sizeof(C.addr), "%s", addr);
	/* Owner key: two FNV-1a 64 of the tag (ours hashes it too). */
	for (int k = 0; k < 2; k++) {
		uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)k;
		for (const char *s = C.tag; *s; s++)
			h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
		memcpy(C.owner + 8 * k, &h, 8);
	}
}

/* ---- netlink ------------------------------------------------------------ */

static uint32_t seq;

static int nl_open(int proto)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };
	int one = 1, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("netlink socket", errno);
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* A buffer of messages (a batch, or pipelined requests). */
static char tx[BATCH_MAX] __attribute__((aligned(8)));
static size_t tx_len;
static uint32_t first_seq;

static struct nlmsghdr *msg(uint16_t type, uint16_t flags, uint8_t family)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(tx + tx_len);
	struct nfgenmsg *g;

	if (tx_len + 2048 > sizeof(tx))
		fail("batch too big", E2BIG);
	memset(h, 0, 2048);
	h->nlmsg_len = NLMSG_LENGTH(sizeof(*g));
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++seq;
	g = NLMSG_DATA(h);
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return h;
}

static struct nlmsghdr *nft(uint16_t type, uint16_t flags, uint8_t family)
{
	return msg((uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type), flags, family);
}

static void done(struct nlmsghdr *h)
{
	tx_len += NLMSG_ALIGN(h->nlmsg_len);
}

static void put_str(struct nlmsghdr *h, int type, const char *s)
{
	put(h, type, s, strlen(s) + 1);
}

static void put_be32(struct nlmsghdr *h, int type, uint32_t v)
{
	v = htonl(v);
	put(h, type, &v, 4);
}

static struct rtattr *nest(struct nlmsghdr *h, int type)
{
	return put(h, type | NLA_F_NESTED, NULL, 0);
}

/* type { NFTA_DATA_VALUE data } */
static void put_data(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct rtattr *n = nest(h, type);

	put(h, NFTA_DATA_VALUE, data, len);
	end(h, n);
}

static void tx_send(int fd)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (sendto(fd, tx, tx_len, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)tx_len)
		fail("netlink send", errno);
}

static void tx_reset(void)
{
	tx_len = 0;
	first_seq = seq + 1;
}

/*
 * Read replies until want requests in [first_seq, last] are answered (their
 * ACK or error; a dump's DONE); rx(): all of them.  cb sees every other message.  A request
 * answered by an error: fail, unless it is ENOENT and enoent_ok (then *enoent
 * counts them).
 */
typedef void (*reply_fn)(const struct nlmsghdr *h, void *arg);

static void rx_n(int fd, uint32_t last, uint32_t want, reply_fn cb, void *arg, bool enoent_ok,
		 int *enoent)
{
	static char buf[RX_MAX] __attribute__((aligned(8)));
	uint32_t answered = 0;

	while (answered < want) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0)
			fail("netlink recv", errno);
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq < first_seq || h->nlmsg_seq > last)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error == -ENOENT && enoent_ok)
					++*enoent;
				else if (e->error)
					fail("netlink request", -e->error);
				answered++;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				answered++;
			} else if (cb) {
				cb(h, arg);
			}
		}
	}
}

static void rx(int fd, uint32_t last, reply_fn cb, void *arg, bool enoent_ok, int *enoent)
{
	rx_n(fd, last, last - first_seq + 1, cb, arg, enoent_ok, enoent);
}

/* First attribute of type in [a, a+len), or NULL. */
static const struct rtattr *attr(const void *start, size_t len, int type)
{
	const struct rtattr *a = start;
	unsigned int l = (unsigned int)len;

	for (; RTA_OK(a, l); a = RTA_NEXT(a, l))
		if ((a->rta_type & NLA_TYPE_MASK) == type)
			return a;
	return NULL;
}

static const struct rtattr *nfattr(const struct nlmsghdr *h, int type)
{
	return attr((const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg)),
		    h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg)), type);
}

/* ---- the network's names ------------------------------------------------ */

enum {
	HIP4,
	ANY4,
	HIP6,
	ANY6,
	HC4,
	HC6,
	HS4,
	HS6,
	MA4,
	MA6,
	LO4,
	OWNERS,
	NSETS
};
static const char *const set_sfx[NSETS] = { "hip4", "any4", "hip6", "any6", "hc4", "hc6",
					    "hs4",  "hs6",  "ma4",  "ma6",  "lo4", "owners" };
enum {
	PRE,
	OUT,
	DNAT,
	POST,
	NCHAINS
};
static const char *const chain_sfx[NCHAINS] = { "pre", "out", "dnat", "post" };
static char set_name[NSETS][80], chain_name[NCHAINS][80];

static void names(void)
{
	for (int i = 0; i < NSETS; i++)
		snprintf(set_name[i], sizeof(set_name[i]), "%s-%s", C.name, set_sfx[i]);
	for (int i = 0; i < NCHAINS; i++)
		snprintf(chain_name[i], sizeof(chain_name[i]), "%s-%s", C.name, chain_sfx[i]);
}

/* ---- sets --------------------------------------------------------------- */

/* nft's data types */
enum {
	DT_IPV4 = 7,
	DT_IPV6 = 8,
	DT_PROTO = 12,
	DT_SERVICE = 13
};

struct setdef {
	uint32_t key_type, key_len, data_type, data_len, flags;
	uint8_t concat[2]; /* interval concatenations: field lengths */
	const char *comment;
};

static const struct setdef defs[NSETS] = {
	[HIP4] = { DT_IPV4 << 12 | DT_PROTO << 6 | DT_SERVICE,
		   12,
		   DT_IPV4 << 6 | DT_SERVICE,
		   8,
		   NFT_SET_MAP,
		   { 0 },
		   "host address . protocol . host port : container address . port" },
	[ANY4] = { DT_PROTO << 6 | DT_SERVICE,
		   8,
		   DT_IPV4 << 6 | DT_SERVICE,
		   8,
		   NFT_SET_MAP,
		   { 0 },
		   "protocol . host port (any local address) : container address . port" },
	[HIP6] = { DT_IPV6 << 12 | DT_PROTO << 6 | DT_SERVICE,
		   24,
		   DT_IPV6 << 6 | DT_SERVICE,
		   20,
		   NFT_SET_MAP,
		   { 0 },
		   "host address . protocol . host port : container address . port" },
	[ANY6] = { DT_PROTO << 6 | DT_SERVICE,
		   8,
		   DT_IPV6 << 6 | DT_SERVICE,
		   20,
		   NFT_SET_MAP,
		   { 0 },
		   "protocol . host port (any local address) : container address . port" },
	[HC4] = { DT_IPV4, 4, 0, 0, 0, { 0 }, "container address: masquerade from its subnet (N-hs4)" },
	[HC6] = { DT_IPV6, 16, 0, 0, 0, { 0 }, "container address: masquerade from its subnet (N-hs6)" },
	[HS4] = { DT_IPV4 << 6 | DT_IPV4,
		  8,
		  0,
		  0,
		  NFT_SET_INTERVAL | NFT_SET_CONCAT,
		  { 4, 4 },
		  "subnet . subnet: hairpin within a container subnet (shared, GC removes)" },
	[HS6] = { DT_IPV6 << 6 | DT_IPV6,
		  32,
		  0,
		  0,
		  NFT_SET_INTERVAL | NFT_SET_CONCAT,
		  { 16, 16 },
		  "subnet . subnet: hairpin within a container subnet (shared, GC removes)" },
	[MA4] = { DT_IPV4, 4, 0, 0, 0, { 0 }, "container address: masquerade everything (masqAll)" },
	[MA6] = { DT_IPV6, 16, 0, 0, 0, { 0 }, "container address: masquerade everything (masqAll)" },
	[LO4] = { DT_IPV4, 4, 0, 0, 0, { 0 }, "container address: masquerade from 127.0.0.1" },
	[OWNERS] = { DT_IPV6, 16, 0, 0, 0, { 0 }, "one element per attachment with elements here" },
};

/* libnftnl's userdata TLVs: type, length, value. */
static size_t udata(uint8_t *buf, size_t off, uint8_t type, const void *v, size_t len)
{
	buf[off] = type;
	buf[off + 1] = (uint8_t)len;
	memcpy(buf + off + 2, v, len);
	return off + 2 + len;
}

static void add_set(int i, uint32_t id)
{
	const struct setdef *d = &defs[i];
	struct nlmsghdr *h = nft(NFT_MSG_NEWSET, NLM_F_CREATE, NFPROTO_INET);
	uint8_t ud[256];
	uint32_t big = 2; /* BYTEORDER_BIG_ENDIAN */
	size_t ul = 0;

	put_str(h, NFTA_SET_TABLE, TABLE);
	put_str(h, NFTA_SET_NAME, set_name[i]);
	put_be32(h, NFTA_SET_FLAGS, d->flags);
	put_be32(h, NFTA_SET_KEY_TYPE, d->key_type);
	put_be32(h, NFTA_SET_KEY_LEN, d->key_len);
	if (d->data_len) {
		put_be32(h, NFTA_SET_DATA_TYPE, d->data_type);
		put_be32(h, NFTA_SET_DATA_LEN, d->data_len);
	}
	put_be32(h, NFTA_SET_ID, id);
	if (d->flags & NFT_SET_CONCAT) {
		struct rtattr *desc = nest(h, NFTA_SET_DESC), *cc = nest(h, NFTA_SET_DESC_CONCAT);

		for (int f = 0; f < 2; f++) {
			struct rtattr *e = nest(h, NFTA_LIST_ELEM);
			put_be32(h, NFTA_SET_FIELD_LEN, d->concat[f]);
			end(h, e);
		}
		end(h, cc);
		end(h, desc);
	}
	ul = udata(ud, ul, 0 /* KEYBYTEORDER */, &big, 4);
	if (d->data_len)
		ul = udata(ud, ul, 1 /* DATABYTEORDER */, &big, 4);
	ul = udata(ud, ul, 7 /* COMMENT */, d->comment, strlen(d->comment) + 1);
	put(h, NFTA_SET_USERDATA, ud, ul);
	done(h);
}

/* ---- rules -------------------------------------------------------------- */

static struct nlmsghdr *R; /* the rule being built */
static struct rtattr *R_exprs;

static void rule_begin(const char *chain)
{
	R = nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, NFPROTO_INET);
	put_str(R, NFTA_RULE_TABLE, TABLE);
	put_str(R, NFTA_RULE_CHAIN, chain);
	R_exprs = nest(R, NFTA_RULE_EXPRESSIONS);
}

static void rule_end(const char *comment)
{
	uint8_t ud[256];

	end(R, R_exprs);
	put(R, NFTA_RULE_USERDATA, ud, udata(ud, 0, 0 /* COMMENT */, comment, strlen(comment) + 1));
	done(R);
}

static struct rtattr *E_elem, *E_data;

static void expr(const char *name)
{
	E_elem = nest(R, NFTA_LIST_ELEM);
	put_str(R, NFTA_EXPR_NAME, name);
	E_data = nest(R, NFTA_EXPR_DATA);
}

static void expr_end(void)
{
	end(R, E_data);
	end(R, E_elem);
}

static void meta(uint32_t key, uint32_t dreg)
{
	expr("meta");
	put_be32(R, NFTA_META_KEY, key);
	put_be32(R, NFTA_META_DREG, dreg);
	expr_end();
}

static void payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	expr("payload");
	put_be32(R, NFTA_PAYLOAD_DREG, dreg);
	put_be32(R, NFTA_PAYLOAD_BASE, base);
	put_be32(R, NFTA_PAYLOAD_OFFSET, off);
	put_be32(R, NFTA_PAYLOAD_LEN, len);
	expr_end();
}

static void cmp(uint32_t sreg, uint32_t op, const void *data, size_t len)
{
	expr("cmp");
	put_be32(R, NFTA_CMP_SREG, sreg);
	put_be32(R, NFTA_CMP_OP, op);
	put_data(R, NFTA_CMP_DATA, data, len);
	expr_end();
}

static void bitwise(uint32_t reg, uint32_t len, const void *mask, const void * xor)
{
	expr("bitwise");
	put_be32(R, NFTA_BITWISE_SREG, reg);
	put_be32(R, NFTA_BITWISE_DREG, reg);
	put_be32(R, NFTA_BITWISE_LEN, len);
	put_data(R, NFTA_BITWISE_MASK, mask, len);
	put_data(R, NFTA_BITWISE_XOR, xor, len);
	expr_end();
}

static void lookup(uint32_t sreg, const char *set, int dreg)
{
	expr("lookup");
	put_be32(R, NFTA_LOOKUP_SREG, sreg);
	put_str(R, NFTA_LOOKUP_SET, set);
	if (dreg >= 0)
		put_be32(R, NFTA_LOOKUP_DREG, (uint32_t)dreg);
	expr_end();
}

static void ct(uint32_t key, uint32_t dreg)
{
	expr("ct");
	put_be32(R, NFTA_CT_KEY, key);
	put_be32(R, NFTA_CT_DREG, dreg);
	expr_end();
}

static void nfproto(bool v6)
{
	const uint8_t p = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	meta(NFT_META_NFPROTO, NFT_REG32_00);
	cmp(NFT_REG32_00, NFT_CMP_EQ, &p, 1);
}

static void ct_dnat(bool want)
{
	const uint32_t mask = IPS_DST_NAT, zero = 0;

	ct(NFT_CT_STATUS, NFT_REG32_00);
	bitwise(NFT_REG32_00, 4, &mask, &zero);
	cmp(NFT_REG32_00, want ? NFT_CMP_NEQ : NFT_CMP_EQ, &zero, 4);
}

static void dnat_rule(bool v6, bool with_host)
{
	uint32_t alen = v6 ? 16 : 4, reg = NFT_REG32_00;

	rule_begin(chain_name[DNAT]);
	nfproto(v6);
	if (with_host) {
		payload(NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, alen, reg);
		reg += alen / 4;
	}
	meta(NFT_META_L4PROTO, reg);
	payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg + 1);
	lookup(NFT_REG32_00, set_name[v6 ? (with_host ? HIP6 : ANY6) : (with_host ? HIP4 : ANY4)],
	       NFT_REG32_00);
	expr("nat");
	put_be32(R, NFTA_NAT_TYPE, NFT_NAT_DNAT);
	put_be32(R, NFTA_NAT_FAMILY, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	put_be32(R, NFTA_NAT_REG_ADDR_MIN, NFT_REG32_00);
	put_be32(R, NFTA_NAT_REG_PROTO_MIN, NFT_REG32_00 + alen / 4);
	put_be32(R, NFTA_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
	expr_end();
	rule_end(RULE_COMMENT);
}

static void jump_rule(int chain)
{
	const uint32_t local = RTN_LOCAL;
	struct rtattr *d, *v;

	rule_begin(chain_name[chain]);
	expr("fib");
	put_be32(R, NFTA_FIB_DREG, NFT_REG32_00);
	put_be32(R, NFTA_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	put_be32(R, NFTA_FIB_FLAGS, NFTA_FIB_F_DADDR);
	expr_end();
	cmp(NFT_REG32_00, NFT_CMP_EQ, &local, 4);
	expr("immediate");
	put_be32(R, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
	d = nest(R, NFTA_IMMEDIATE_DATA);
	v = nest(R, NFTA_DATA_VERDICT);
	put_be32(R, NFTA_VERDICT_CODE, (uint32_t)NFT_JUMP);
	put_str(R, NFTA_VERDICT_CHAIN, chain_name[DNAT]);
	end(R, v);
	end(R, d);
	expr_end();
	rule_end(RULE_COMMENT);
}

enum {
	HAIRPIN,
	ALL,
	LOCALHOST
};

static void masq_rule(bool v6, int k)
{
	uint32_t alen = v6 ? 16 : 4, soff = v6 ? 8 : 12, doff = v6 ? 24 : 16;

	rule_begin(chain_name[POST]);
	nfproto(v6);
	ct_dnat(true);
	if (k == LOCALHOST) {
		const uint8_t lo[4] = { 127, 0, 0, 1 };
		payload(NFT_PAYLOAD_NETWORK_HEADER, soff, alen, NFT_REG32_00);
		cmp(NFT_REG32_00, NFT_CMP_EQ, lo, 4);
	}
	payload(NFT_PAYLOAD_NETWORK_HEADER, doff, alen, NFT_REG32_00);
	lookup(NFT_REG32_00,
	       set_name[k == HAIRPIN ? (v6 ? HC6 : HC4)
			: k == ALL   ? (v6 ? MA6 : MA4)
				     : LO4],
	       -1);
	if (k == HAIRPIN) {
		payload(NFT_PAYLOAD_NETWORK_HEADER, soff, alen, NFT_REG32_00);
		payload(NFT_PAYLOAD_NETWORK_HEADER, doff, alen, NFT_REG32_00 + alen / 4);
		lookup(NFT_REG32_00, set_name[v6 ? HS6 : HS4], -1);
	}
	expr("masq");
	expr_end();
	rule_end(RULE_COMMENT);
}

static void martian_rule(void)
{
	const uint8_t mask[4] = { 0xff, 0, 0, 0 }, zero[4] = { 0 }, lo[4] = { 127, 0, 0, 0 };
	const uint32_t est_rel = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
	const uint32_t z = 0;
	struct rtattr *d, *v;

	rule_begin(MARTIAN);
	nfproto(false);
	payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_00);
	bitwise(NFT_REG32_00, 4, mask, zero);
	cmp(NFT_REG32_00, NFT_CMP_EQ, lo, 4);
	payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
	bitwise(NFT_REG32_00, 4, mask, zero);
	cmp(NFT_REG32_00, NFT_CMP_NEQ, lo, 4);
	ct_dnat(false);
	ct(NFT_CT_STATE, NFT_REG32_00);
	bitwise(NFT_REG32_00, 4, &est_rel, &z);
	cmp(NFT_REG32_00, NFT_CMP_EQ, &z, 4);
	expr("counter");
	expr_end();
	expr("immediate");
	put_be32(R, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
	d = nest(R, NFTA_IMMEDIATE_DATA);
	v = nest(R, NFTA_DATA_VERDICT);
	put_be32(R, NFTA_VERDICT_CODE, NF_DROP);
	end(R, v);
	end(R, d);
	expr_end();
	rule_end(MARTIAN_COMMENT);
}

/* ---- chains, table ------------------------------------------------------ */

static void table_msg(uint16_t type, uint16_t flags)
{
	struct nlmsghdr *h = nft(type, flags, NFPROTO_INET);

	put_str(h, NFTA_TABLE_NAME, TABLE);
	done(h);
}

static void chain_msg(uint16_t type, uint16_t flags, const char *name, const char *ctype, int hook,
		      int prio)
{
	struct nlmsghdr *h = nft(type, flags, NFPROTO_INET);

	put_str(h, NFTA_CHAIN_TABLE, TABLE);
	put_str(h, NFTA_CHAIN_NAME, name);
	if (ctype) {
		struct rtattr *n = nest(h, NFTA_CHAIN_HOOK);

		put_be32(h, NFTA_HOOK_HOOKNUM, (uint32_t)hook);
		put_be32(h, NFTA_HOOK_PRIORITY, (uint32_t)prio);
		end(h, n);
		put_str(h, NFTA_CHAIN_TYPE, ctype);
	}
	done(h);
}

/* Flush (no handle: every rule of the chain). */
static void flush_chain(const char *name)
{
	struct nlmsghdr *h = nft(NFT_MSG_DELRULE, 0, NFPROTO_INET);

	put_str(h, NFTA_RULE_TABLE, TABLE);
	put_str(h, NFTA_RULE_CHAIN, name);
	done(h);
}

static void del_set(const char *name)
{
	struct nlmsghdr *h = nft(NFT_MSG_DELSET, 0, NFPROTO_INET);

	put_str(h, NFTA_SET_TABLE, TABLE);
	put_str(h, NFTA_SET_NAME, name);
	done(h);
}

/* ---- elements ----------------------------------------------------------- */

struct elem {
	int set;
	uint8_t key[40], key_end[40], data[20];
	uint32_t key_len, key_end_len, data_len;
	const char *comment;
};

static struct elem E[MAX_MAPS + 4];
static int n_elems;
static struct elem hs;

/*
 * The owner element's comment: tag and index, as ours writes it; "l" among
 * the flags records the lo4 element, so that a DEL knows its elements
 * without a route lookup (deleting one that is not there fails the batch).
 */
static void make_index(bool with_lo4)
{
	size_t len = (size_t)snprintf(C.index, sizeof(C.index), "%s i1;%s%s;%s;;", C.tag,
				      C.snat ? "s" : "", with_lo4 ? "l" : "", C.addr);

	for (int i = 0; i < C.n && len < sizeof(C.index); i++)
		len += (size_t)snprintf(C.index + len, sizeof(C.index) - len, "%s%c%u", i ? "," : "",
					C.m[i].proto == IPPROTO_UDP ? 'u' : 't', C.m[i].host);
}

/* The attachment's elements: owner first, then by set (ours' order). */
static void elems(bool with_lo4)
{
	struct elem *e;

	make_index(with_lo4);

	e = &E[n_elems++];
	e->set = OWNERS;
	memcpy(e->key, C.owner, 16);
	e->key_len = 16;
	e->comment = C.index;
	for (int i = 0; i < C.n; i++) {
		e = &E[n_elems++];
		e->set = ANY4;
		e->key[0] = C.m[i].proto;
		e->key[4] = (uint8_t)(C.m[i].host >> 8);
		e->key[5] = (uint8_t)C.m[i].host;
		e->key_len = 8;
		memcpy(e->data, C.v4, 4);
		e->data[4] = (uint8_t)(C.m[i].ctr >> 8);
		e->data[5] = (uint8_t)C.m[i].ctr;
		e->data_len = 8;
		e->comment = C.tag;
	}
	if (!C.snat)
		return;
	e = &E[n_elems++];
	e->set = HC4;
	memcpy(e->key, C.v4, 4);
	e->key_len = 4;
	e->comment = C.tag;
	if (with_lo4) {
		e = &E[n_elems++];
		*e = E[n_elems - 2];
		e->set = LO4;
	}
	/* subnet . subnet, first to last address */
	{
		uint32_t a = ntohl(*(uint32_t *)C.v4);
		uint32_t m = C.prefix ? ~0u << (32 - C.prefix) : 0;
		uint32_t lo = htonl(a & m), hi = htonl(a | ~m);

		hs.set = HS4;
		memcpy(hs.key, &lo, 4);
		memcpy(hs.key + 4, &lo, 4);
		memcpy(hs.key_end, &hi, 4);
		memcpy(hs.key_end + 4, &hi, 4);
		hs.key_len = hs.key_end_len = 8;
	}
}

/* One message per set: elements [from, to) of v (all of one set). */
static void elem_msg(uint16_t type, uint16_t flags, const struct elem *v, int n, bool with_data)
{
	struct nlmsghdr *h = nft(type, flags, NFPROTO_INET);
	struct rtattr *list;

	put_str(h, NFTA_SET_ELEM_LIST_TABLE, TABLE);
	put_str(h, NFTA_SET_ELEM_LIST_SET, set_name[v[0].set]);
	list = nest(h, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (int i = 0; i < n; i++) {
		struct rtattr *el = nest(h, NFTA_LIST_ELEM);

		put_data(h, NFTA_SET_ELEM_KEY, v[i].key, v[i].key_len);
		if (v[i].key_end_len)
			put_data(h, NFTA_SET_ELEM_KEY_END, v[i].key_end, v[i].key_end_len);
		if (with_data && v[i].data_len)
			put_data(h, NFTA_SET_ELEM_DATA, v[i].data, v[i].data_len);
		if (with_data && v[i].comment) {
			uint8_t ud[260];
			put(h, NFTA_SET_ELEM_USERDATA, ud,
			    udata(ud, 0, 0 /* COMMENT */, v[i].comment, strlen(v[i].comment) + 1));
		}
		end(h, el);
	}
	end(h, list);
	done(h);
}

/* The attachment's elements, one message per set. */
static void queue_elems(uint16_t type, uint16_t flags)
{
	for (int i = 0; i < n_elems;) {
		int j = i;

		while (j < n_elems && E[j].set == E[i].set)
			j++;
		elem_msg(type, flags, &E[i], j - i, type == NFT_MSG_NEWSETELEM);
		i = j;
	}
}

/* ---- batches ------------------------------------------------------------ */

static void batch_begin(bool guarded, uint32_t genid)
{
	struct nlmsghdr *h;

	tx_reset();
	h = msg(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC);
	((struct nfgenmsg *)NLMSG_DATA(h))->res_id = htons(NFNL_SUBSYS_NFTABLES);
	if (guarded)
		put_be32(h, NFNL_BATCH_GENID, genid);
	done(h);
}

/* Send, and read the last request's ACK (errors of any request fail). */
static void batch_commit(int fd)
{
	struct nlmsghdr *last = NULL, *h;
	size_t off;
	uint32_t last_seq;

	for (off = 0; off < tx_len; off += NLMSG_ALIGN(h->nlmsg_len)) {
		h = (struct nlmsghdr *)(tx + off);
		last = h;
	}
	last->nlmsg_flags |= NLM_F_ACK;
	last_seq = last->nlmsg_seq;
	h = msg(NFNL_MSG_BATCH_END, 0, AF_UNSPEC);
	((struct nfgenmsg *)NLMSG_DATA(h))->res_id = htons(NFNL_SUBSYS_NFTABLES);
	done(h);
	tx_send(fd);
	/* Only the last request is acknowledged; a failing one fails here first. */
	rx_n(fd, last_seq, 1, NULL, NULL, false, NULL);
}

/* ---- route_localnet ------------------------------------------------------ */

struct rt_req {
	struct nlmsghdr h;
	union {
		struct rtmsg rt;
		struct ifinfomsg ifi;
	};
	char buf[256];
};

static int rtnl_get(int fd, struct rt_req *q, char *rbuf, size_t rlen)
{
	ssize_t n;
	struct nlmsghdr *h = (struct nlmsghdr *)rbuf;

	q->h.nlmsg_flags = NLM_F_REQUEST;
	q->h.nlmsg_seq = ++seq;
	if (send(fd, q, q->h.nlmsg_len, 0) != (ssize_t)q->h.nlmsg_len)
		fail("rtnetlink send", errno);
	n = recv(fd, rbuf, rlen, 0);
	if (n < 0)
		fail("rtnetlink recv", errno);
	if (!NLMSG_OK(h, (size_t)n))
		fail("rtnetlink reply", EPROTO);
	if (h->nlmsg_type == NLMSG_ERROR) {
		int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
		if (e == ENETUNREACH || e == EHOSTUNREACH)
			return 0;
		fail("rtnetlink request", e);
	}
	return (int)n;
}

/*
 * The interface the node routes the container address through (its name in
 * ifname when not NULL): 0 when there is no route.
 */
static int route_iface(int fd, char *ifname)
{
	static char rbuf[8192] __attribute__((aligned(8)));
	struct rt_req q = { 0 };
	const struct rtattr *a;
	struct nlmsghdr *h = (struct nlmsghdr *)rbuf;
	int oif;

	q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	q.h.nlmsg_type = RTM_GETROUTE;
	q.rt.rtm_family = AF_INET;
	q.rt.rtm_dst_len = 32;
	put(&q.h, RTA_DST, C.v4, 4);
	if (rtnl_get(fd, &q, rbuf, sizeof(rbuf)) == 0)
		return 0;
	a = attr(RTM_RTA(NLMSG_DATA(h)), RTM_PAYLOAD(h), RTA_OIF);
	if (!a)
		return 0;
	oif = *(int *)RTA_DATA(a);
	if (!ifname)
		return oif;
	memset(&q, 0, sizeof(q));
	q.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	q.h.nlmsg_type = RTM_GETLINK;
	q.ifi.ifi_index = oif;
	rtnl_get(fd, &q, rbuf, sizeof(rbuf));
	a = attr(IFLA_RTA(NLMSG_DATA(h)), IFLA_PAYLOAD(h), IFLA_IFNAME);
	if (!a)
		fail("link name", EPROTO);
	snprintf(ifname, IF_NAMESIZE, "%s", (const char *)RTA_DATA(a));
	return oif;
}

static void route_localnet(const char *ifname)
{
	char path[128], v[8];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", ifname);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail(path, errno);
	n = read(fd, v, sizeof(v));
	if (n < 0)
		fail(path, errno);
	if (n < 1 || v[0] != '1') {
		if (pwrite(fd, "1\n", 2, 0) != 2)
			fail(path, errno);
	}
	close(fd);
}

/* ---- conntrack ----------------------------------------------------------- */

static long ct_count(void)
{
	char buf[32];
	ssize_t n;
	int fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Entries found by a dump: the payload of their CTA_TUPLE_ORIG. */
struct ct_found {
	uint8_t tuple[64][256];
	uint16_t len[64];
	int n;
};

static void ct_collect(const struct nlmsghdr *h, void *arg)
{
	struct ct_found *f = arg;
	const struct rtattr *a = nfattr(h, CTA_TUPLE_ORIG);

	if (h->nlmsg_type != (NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW) || !a || f->n >= 64 ||
	    RTA_PAYLOAD(a) > 256)
		return;
	memcpy(f->tuple[f->n], RTA_DATA(a), RTA_PAYLOAD(a));
	f->len[f->n++] = (uint16_t)RTA_PAYLOAD(a);
}

/* Forget the UDP flows of the mapped host ports (IPv4), as ours must. */
static void flush_udp(int fd)
{
	static struct ct_found f;

	if (ct_count() <= 0)
		return;
	for (int i = 0; i < C.n; i++) {
		struct nlmsghdr *h;
		struct rtattr *t, *p, *fl;
		uint32_t flags = (1u << 3) | (1u << 5); /* proto num, proto dst port */
		uint8_t proto = IPPROTO_UDP;
		uint16_t port = htons(C.m[i].host);
		int enoent = 0;

		if (C.m[i].proto != IPPROTO_UDP)
			continue;
		tx_reset();
		f.n = 0;
		h = msg(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_INET);
		t = nest(h, CTA_TUPLE_ORIG);
		p = nest(h, CTA_TUPLE_PROTO);
		put(h, CTA_PROTO_NUM, &proto, 1);
		put(h, CTA_PROTO_DST_PORT, &port, 2);
		end(h, p);
		end(h, t);
		fl = nest(h, CTA_FILTER);
		put(h, CTA_FILTER_ORIG_FLAGS, &flags, 4);
		end(h, fl);
		done(h);
		tx_send(fd);
		rx(fd, seq, ct_collect, &f, true, &enoent);
		if (!f.n)
			continue;
		tx_reset();
		for (int k = 0; k < f.n; k++) {
			h = msg(NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE, NLM_F_ACK,
				AF_INET);
			put(h, CTA_TUPLE_ORIG | NLA_F_NESTED, f.tuple[k], f.len[k]);
			done(h);
		}
		tx_send(fd);
		rx(fd, seq, NULL, NULL, true, &enoent); /* gone meanwhile: fine */
	}
}

/* ---- release ------------------------------------------------------------ */

static int release_fd;
static char release_stack[16384] __attribute__((aligned(16)));

static int release_child(void *arg)
{
	(void)arg;
	syscall(SYS_close_range, 0U, (unsigned int)release_fd - 1, 0U);
	syscall(SYS_close_range, (unsigned int)release_fd + 1, ~0U, 0U);
	syscall(SYS_close, release_fd); /* waits for the deferred destruction */
	syscall(SYS_exit, 0);
	return 0;
}

/* Exit without waiting for the kernel's flush on release (see the top). */
static void finish(int nfd)
{
	const char *sync = getenv("FLOOR_SYNC_CLOSE");

	fflush(stdout);
	release_fd = nfd;
	if (!(sync && *sync == '1') && clone(release_child, release_stack + sizeof(release_stack),
					     CLONE_VM | SIGCHLD, NULL) > 0)
		_exit(0);
	close(nfd);
	_exit(0);
}

/* ---- verbs -------------------------------------------------------------- */

struct rules_seen {
	int net, martian;
};

static void count_rule(const struct nlmsghdr *h, void *arg)
{
	struct rules_seen *s = arg;
	const struct rtattr *c = nfattr(h, NFTA_RULE_CHAIN), *u = nfattr(h, NFTA_RULE_USERDATA);
	const char *comment = u && RTA_PAYLOAD(u) > 2 ? (const char *)RTA_DATA(u) + 2 : "";
	const char *chain = c ? (const char *)RTA_DATA(c) : "";

	if (strcmp(chain, MARTIAN) == 0) {
		s->martian++;
		return;
	}
	for (int i = 0; i < NCHAINS; i++)
		if (strcmp(chain, chain_name[i]) == 0)
			s->net += strcmp(comment, RULE_COMMENT) == 0 ? 1 : 100;
}

static int cmd_add(void)
{
	char ifname[IF_NAMESIZE];
	int rfd = nl_open(NETLINK_ROUTE), fd;
	bool localnet = C.snat && route_iface(rfd, ifname) > 0;
	struct rules_seen seen = { 0 };
	int enoent = 0;
	uint32_t want = C.snat ? 11 : 6;
	struct nlmsghdr *h;

	close(rfd);
	elems(localnet);
	fd = nl_open(NETLINK_NETFILTER);
	/* The table's rules: the network's in place?  the martian guard? */
	tx_reset();
	h = nft(NFT_MSG_GETRULE, NLM_F_DUMP, NFPROTO_INET);
	put_str(h, NFTA_RULE_TABLE, TABLE);
	done(h);
	tx_send(fd);
	rx(fd, seq, count_rule, &seen, true, &enoent);

	batch_begin(false, 0);
	table_msg(NFT_MSG_NEWTABLE, NLM_F_CREATE);
	for (int i = 0; i < NSETS; i++)
		add_set(i, (uint32_t)i + 1);
	chain_msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain_name[DNAT], NULL, 0, 0);
	chain_msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain_name[PRE], "nat", NF_INET_PRE_ROUTING, -100);
	chain_msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain_name[OUT], "nat", NF_INET_LOCAL_OUT, -100);
	chain_msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE, chain_name[POST], "nat", NF_INET_POST_ROUTING, 100);
	if ((uint32_t)seen.net != want) {
		for (int i = 0; i < NCHAINS; i++)
			flush_chain(chain_name[i]);
		for (int v6 = 0; v6 < 2; v6++) {
			dnat_rule(v6, true);
			dnat_rule(v6, false);
		}
		jump_rule(PRE);
		jump_rule(OUT);
		if (C.snat) {
			for (int v6 = 0; v6 < 2; v6++) {
				masq_rule(v6, HAIRPIN);
				masq_rule(v6, ALL);
			}
			masq_rule(false, LOCALHOST);
		}
	}
	if (localnet) {
		chain_msg(NFT_MSG_NEWCHAIN, NLM_F_CREATE, MARTIAN, "filter", NF_INET_LOCAL_IN, 0);
		if (seen.martian != 1) {
			flush_chain(MARTIAN);
			martian_rule();
		}
	}
	queue_elems(NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL);
	if (C.snat)
		elem_msg(NFT_MSG_NEWSETELEM, NLM_F_CREATE, &hs, 1, true);
	batch_commit(fd);

	if (localnet)
		route_localnet(ifname);
	flush_udp(fd);
	printf("{\"cniVersion\":\"1.0.0\"}\n");
	finish(fd);
	return 0;
}

/* A GETSETELEM reply: the element's data and owner tag as ADD wrote them? */
struct check_ctx {
	int bad;
};

static void check_reply(const struct nlmsghdr *h, void *arg)
{
	struct check_ctx *c = arg;
	const struct elem *e = NULL;

	if (h->nlmsg_type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM))
		return;
	for (int i = 0; i < n_elems; i++)
		if (h->nlmsg_seq == first_seq + 3 + (uint32_t)i) /* after the 3 chains */
			e = &E[i];
	if (!e || !memmem(NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN, C.tag, strlen(C.tag)) ||
	    (e->data_len && !memmem(NLMSG_DATA(h), h->nlmsg_len - NLMSG_HDRLEN, e->data, e->data_len)))
		c->bad++;
}

static int cmd_check(void)
{
	int rfd = nl_open(NETLINK_ROUTE), fd, enoent = 0;
	bool localnet = C.snat && route_iface(rfd, NULL) > 0;
	struct check_ctx c = { 0 };
	const int order[NCHAINS] = { PRE, OUT, DNAT };

	close(rfd);
	elems(localnet);
	fd = nl_open(NETLINK_NETFILTER);
	tx_reset();
	for (int i = 0; i < 3; i++) {
		struct nlmsghdr *h = nft(NFT_MSG_GETCHAIN, NLM_F_ACK, NFPROTO_INET);
		put_str(h, NFTA_CHAIN_TABLE, TABLE);
		put_str(h, NFTA_CHAIN_NAME, chain_name[order[i]]);
		done(h);
	}
	for (int i = 0; i < n_elems; i++) {
		struct nlmsghdr *h = nft(NFT_MSG_GETSETELEM, NLM_F_ACK, NFPROTO_INET);
		struct rtattr *list, *el;

		put_str(h, NFTA_SET_ELEM_LIST_TABLE, TABLE);
		put_str(h, NFTA_SET_ELEM_LIST_SET, set_name[E[i].set]);
		list = nest(h, NFTA_SET_ELEM_LIST_ELEMENTS);
		el = nest(h, NFTA_LIST_ELEM);
		put_data(h, NFTA_SET_ELEM_KEY, E[i].key, E[i].key_len);
		end(h, el);
		end(h, list);
		done(h);
	}
	tx_send(fd);
	rx(fd, seq, check_reply, &c, true, &enoent);
	if (enoent || c.bad) {
		fprintf(stderr, "floor-portmap: CHECK: %d missing, %d wrong\n", enoent, c.bad);
		exit(1);
	}
	finish(fd);
	return 0;
}

struct owners_ctx {
	uint32_t genid;
	int mine, others, done;
	bool lo4;
};

static void owners_reply(const struct nlmsghdr *h, void *arg)
{
	struct owners_ctx *o = arg;
	const struct rtattr *a, *el;
	unsigned int l;

	if (h->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN)) {
		a = nfattr(h, NFTA_GEN_ID);
		if (a)
			o->genid = ntohl(*(uint32_t *)RTA_DATA(a));
		return;
	}
	if (h->nlmsg_type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSETELEM))
		return;
	a = nfattr(h, NFTA_SET_ELEM_LIST_ELEMENTS);
	if (!a)
		return;
	l = RTA_PAYLOAD(a);
	for (el = RTA_DATA(a); RTA_OK(el, l); el = RTA_NEXT(el, l)) {
		const struct rtattr *k = attr(RTA_DATA(el), RTA_PAYLOAD(el), NFTA_SET_ELEM_KEY);

		k = k ? attr(RTA_DATA(k), RTA_PAYLOAD(k), NFTA_DATA_VALUE) : NULL;
		if (k && RTA_PAYLOAD(k) == 16 && memcmp(RTA_DATA(k), C.owner, 16) == 0) {
			o->mine++;
			o->lo4 |= memmem(RTA_DATA(el), RTA_PAYLOAD(el), " i1;sl;", 7) != NULL;
		} else
			o->others++;
	}
}

/*
 * Is any other attachment on the network?  The owner set dumped over a
 * socket of its own, read only until an element not ours shows (or the
 * dump ends): its first answer is built at the send, each read builds one
 * more of at most the reader's buffer, so with 1000 others this costs what
 * it costs with one.  The socket stays open, unread, and goes with the
 * process (finish()).
 */
static void probe_owners(struct owners_ctx *o)
{
	static char buf[8192] __attribute__((aligned(8)));
	int pfd = nl_open(NETLINK_NETFILTER);
	struct nlmsghdr *h;
	uint32_t dump_seq;

	tx_reset();
	h = nft(NFT_MSG_GETSETELEM, NLM_F_DUMP, NFPROTO_INET);
	put_str(h, NFTA_SET_ELEM_LIST_TABLE, TABLE);
	put_str(h, NFTA_SET_ELEM_LIST_SET, set_name[OWNERS]);
	done(h);
	dump_seq = seq;
	tx_send(pfd);
	while (!o->others && !o->done) {
		ssize_t n = recv(pfd, buf, sizeof(buf), 0);

		if (n < 0)
			fail("netlink recv", errno);
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != dump_seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				o->done = 1;
			else if (h->nlmsg_type == NLMSG_ERROR)
				fail("owner set dump", -((struct nlmsgerr *)NLMSG_DATA(h))->error);
			else
				owners_reply(h, o);
		}
	}
}

static int cmd_del(void)
{
	int fd = nl_open(NETLINK_NETFILTER), enoent = 0;
	struct owners_ctx o = { 0 };
	struct nlmsghdr *h;
	struct rtattr *list, *el;

	/* The generation, then is the attachment there (its owner element, by key)? */
	tx_reset();
	h = nft(NFT_MSG_GETGEN, NLM_F_ACK, AF_UNSPEC);
	done(h);
	h = nft(NFT_MSG_GETSETELEM, NLM_F_ACK, NFPROTO_INET);
	put_str(h, NFTA_SET_ELEM_LIST_TABLE, TABLE);
	put_str(h, NFTA_SET_ELEM_LIST_SET, set_name[OWNERS]);
	list = nest(h, NFTA_SET_ELEM_LIST_ELEMENTS);
	el = nest(h, NFTA_LIST_ELEM);
	put_data(h, NFTA_SET_ELEM_KEY, C.owner, 16);
	end(h, el);
	end(h, list);
	done(h);
	tx_send(fd);
	rx(fd, seq, owners_reply, &o, true, &enoent);
	elems(o.lo4);
	if (o.mine) {
		/* After the generation was read: a change since fails the guarded batch. */
		probe_owners(&o);
		batch_begin(true, o.genid);
		if (!o.others) {
			/* The last attachment: the network's objects go (table and martian stay). */
			for (int i = 0; i < NCHAINS; i++)
				flush_chain(chain_name[(int[]){ PRE, OUT, POST, DNAT }[i]]);
			for (int i = 0; i < NCHAINS; i++)
				chain_msg(NFT_MSG_DELCHAIN, 0,
					  chain_name[(int[]){ PRE, OUT, POST, DNAT }[i]], NULL, 0, 0);
			for (int i = 0; i < NSETS; i++)
				del_set(set_name[i]);
		} else {
			/* By key (lo4 when the owner's index says it was added). */
			queue_elems(NFT_MSG_DELSETELEM, 0);
		}
		batch_commit(fd);
	}
	flush_udp(fd);
	finish(fd);
	return 0;
}

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND"), *cid = getenv("CNI_CONTAINERID");
	const char *ifname = getenv("CNI_IFNAME");

	if (!cmd || !cid || !ifname)
		fail("CNI_COMMAND, CNI_CONTAINERID, CNI_IFNAME", EINVAL);
	read_conf(cid, ifname);
	names();
	if (strcmp(cmd, "ADD") == 0)
		return cmd_add();
	if (strcmp(cmd, "CHECK") == 0)
		return cmd_check();
	if (strcmp(cmd, "DEL") == 0)
		return cmd_del();
	if (strcmp(cmd, "VERSION") == 0) {
		printf("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"1.0.0\"]}\n");
		return 0;
	}
	return fail("CNI_COMMAND", EINVAL);
}
