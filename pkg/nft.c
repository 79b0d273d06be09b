/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftables through libnftnl + libmnl (see nft.h).
 *
 * Messages are built by libnftnl straight into one growing buffer; the
 * batch begin/end markers are added at commit time, when the sequence
 * numbers are stamped, so a batch needs no socket until it is sent.  The
 * whole batch goes out in one sendmsg() (nfnetlink needs a batch in one
 * skb) and the kernel processes it synchronously inside that call, so by
 * the time sendmsg() returns every acknowledgment is already queued on the
 * socket.  The kernel queues them all at once, after the whole batch, into
 * a receive buffer that holds a few hundred of them (each costs a socket
 * buffer, ~700 bytes of truesize): a batch of more requests than that lost
 * the rest (ENOBUFS) although it had committed.  So only the last request
 * asks for an acknowledgment: a batch that commits sends exactly one,
 * whatever its size, and failures are acknowledged anyway (the kernel
 * always reports an error, naming the failing request by its sequence
 * number).  Error acknowledgments carry only the header of the failing
 * request (NETLINK_CAP_ACK) and the kernel's message (NETLINK_EXT_ACK), and
 * the receive buffer is raised for big batches, so even a batch that fails
 * everywhere is reported request by request.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/membarrier.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "cleanup.h"
#include "nft.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define RECV_BUF (64u << 10)
/* Elements per request stay under this, so no single message gets huge. */
#define ELEMS_MSG_BUDGET (48u << 10)
/* Bounded waits: acknowledgments are normally queued before sendmsg returns. */
#define ACK_TIMEOUT_MS 5000
#define DUMP_TRIES 5

struct nft {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char *rbuf;
	int sndbuf;     /* what SO_SNDBUF was raised to, 0: untouched */
	int rcvbuf;     /* what SO_RCVBUF was raised to, 0: untouched */
	char **keep;    /* "add set" requests to leave out: the set exists, defined otherwise */
	size_t n_keep;
	bool committed; /* a batch was committed (see nft_close) */
};

struct nft_req {
	size_t off;  /* of its nlmsghdr in the batch buffer */
	char *what;  /* "add element to set inet t s", for errors */
};

struct nft_batch {
	char *buf;
	size_t len, cap;
	struct nft_req *reqs;
	size_t n_reqs;
	uint32_t set_ids; /* NFTA_SET_ID of the last set added (the kernel requires one) */
	bool deletes;     /* has requests that delete something */
	bool guarded;     /* commit only if the ruleset is still at generation genid */
	uint32_t genid;
};

struct nft_rule {
	struct nftnl_rule *r;
	size_t n_expr;
};

/* ---- socket ------------------------------------------------------------- */

int nft_open(struct nft **ret, struct cni_error **err)
{
	struct nft *n;
	int one = 1;

	n = xcalloc(1, sizeof(*n));
	n->sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->sock) {
		int e = errno;
		free(n);
		return cni_error_errno(err, e, "open netfilter netlink socket");
	}
	if (mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		nft_close(n);
		return cni_error_errno(err, e, "bind netfilter netlink socket");
	}
	/* Both are best effort: older kernels just send less. */
	(void)setsockopt(mnl_socket_get_fd(n->sock), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)setsockopt(mnl_socket_get_fd(n->sock), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (uint32_t)time(NULL);
	n->rbuf = xmalloc(RECV_BUF);
	*ret = n;
	return 0;
}

/*
 * Hand sock's last reference to a child that lets go of it only once we
 * have exited (the read end of a pipe whose write end we keep sees EOF),
 * so the kernel's wait on release (see nft_close in nft.h) is paid by
 * nobody the runtime waits for.  The child keeps no other descriptor: not
 * the runtime's stdout pipe, whose EOF the runtime reads.  Returns false
 * when it could not (then the caller closes normally).
 */
static bool release_detached(struct mnl_socket *sock)
{
	int fd = mnl_socket_get_fd(sock), p[2], lo, hi;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return false;
	}
	if (pid == 0) {
		char c;

		lo = fd < p[0] ? fd : p[0];
		hi = fd < p[0] ? p[0] : fd;
		(void)close_range(0, (unsigned int)lo - 1, 0);
		(void)close_range((unsigned int)lo + 1, (unsigned int)hi - 1, 0);
		(void)close_range((unsigned int)hi + 1, ~0U, 0);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		/*
		 * The release flushes the kernel's deferred destruction while
		 * holding the netns's nf_tables commit mutex, stalling every other
		 * transaction until it is done.  That destruction waits for an RCU
		 * grace period that began at our commit; wait for one ourselves
		 * first (MEMBARRIER_CMD_GLOBAL is synchronize_rcu()), holding
		 * nothing, so the release then finds it finished.
		 */
		(void)syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
		(void)close(fd);
		_exit(0);
	}
	(void)close(p[0]);
	/* p[1] stays open (CLOEXEC) until this process exits. */
	mnl_socket_close(sock);
	return true;
}

/* Children started by release_detached(): a few per process at most. */
#define DETACH_MAX 4
static unsigned int n_detached;

void nft_close(struct nft *n)
{
	if (!n)
		return;
	if (n->sock) {
		if (!n->committed || n_detached >= DETACH_MAX || !release_detached(n->sock))
			mnl_socket_close(n->sock);
		else
			n_detached++;
	}
	for (size_t i = 0; i < n->n_keep; i++)
		free(n->keep[i]);
	free(n->keep);
	free(n->rbuf);
	free(n);
}

void nft_closep(struct nft **n)
{
	nft_close(*n);
	*n = NULL;
}

struct mnl_socket *nft_mnl_socket(struct nft *n)
{
	return n->sock;
}

static int nft_fd(const struct nft *n)
{
	return mnl_socket_get_fd(n->sock);
}

/* ---- replies ------------------------------------------------------------ */

/* The kernel's extended-ACK text of an error message, or NULL. */
static const char *extack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t off = sizeof(*nlh) + sizeof(*e);
	const struct nlattr *a;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	/* Without NETLINK_CAP_ACK the failing request follows in full. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	while (off + sizeof(*a) <= nlh->nlmsg_len) {
		a = (const struct nlattr *)((const char *)nlh + off);
		if (a->nla_len < sizeof(*a) || off + a->nla_len > nlh->nlmsg_len)
			break;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && a->nla_len > sizeof(*a)) {
			const char *s = (const char *)(a + 1);
			size_t len = a->nla_len - sizeof(*a);
			if (memchr(s, '\0', len))
				return s;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	return NULL;
}

typedef int (*nft_msg_fn)(const struct nlmsghdr *nlh, void *arg);

struct talk {
	int errnum;		/* kernel's error, 0 */
	const char *extack;	/* points into n->rbuf: copy before the next recv */
	char *extack_copy;
	bool interrupted;	/* NLM_F_DUMP_INTR seen */
};

/*
 * Send one request (seq already stamped) and read its replies, calling fn
 * for each data message, until the ACK, the error or the end of the dump.
 * Returns 0 when the exchange completed (t->errnum says whether the kernel
 * refused), -1 with *err on a local failure.
 */
static int talk(struct nft *n, const struct nlmsghdr *req, nft_msg_fn fn, void *arg, struct talk *t,
		struct cni_error **err)
{
	uint32_t seq = req->nlmsg_seq;
	bool done = false;

	if (mnl_socket_sendto(n->sock, req, req->nlmsg_len) < 0)
		return cni_error_errno(err, errno, "send netfilter request");
	while (!done) {
		struct pollfd p = { .fd = nft_fd(n), .events = POLLIN };
		ssize_t len;
		int r;

		r = poll(&p, 1, ACK_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cni_error_errno(err, errno, "wait for netfilter reply");
		if (r == 0)
			return cni_error_errno(err, ETIMEDOUT, "wait for netfilter reply");
		len = recv(nft_fd(n), n->rbuf, RECV_BUF, 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return cni_error_errno(err, errno, "read netfilter reply");
		for (const struct nlmsghdr *nlh = (const void *)n->rbuf; NLMSG_OK(nlh, (size_t)len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != n->portid)
				continue; /* a stale reply to an earlier request */
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				t->interrupted = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);
				const char *x;

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return cni_error_errno(err, EBADMSG, "netfilter reply");
				if (e->error) {
					t->errnum = -e->error;
					x = extack_msg(nlh);
					if (x && !t->extack_copy)
						t->extack_copy = xstrdup(x);
				}
				done = true;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
				continue;
			if (fn && fn(nlh, arg) < 0)
				return cni_error_errno(err, EBADMSG, "parse netfilter reply");
		}
	}
	t->extack = t->extack_copy;
	return 0;
}

static void talk_done(struct talk *t)
{
	free(t->extack_copy);
	memset(t, 0, sizeof(*t));
}

/* ---- batches ------------------------------------------------------------ */

struct nft_batch *nft_batch_new(void)
{
	return xcalloc(1, sizeof(struct nft_batch));
}

void nft_batch_free(struct nft_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_reqs; i++)
		free(b->reqs[i].what);
	free(b->reqs);
	free(b->buf);
	free(b);
}

void nft_batch_freep(struct nft_batch **b)
{
	nft_batch_free(*b);
	*b = NULL;
}

size_t nft_batch_len(const struct nft_batch *b)
{
	return b->n_reqs;
}

/*
 * Room for one request of at most room bytes; returns where it goes.
 * libnftnl writes attributes unchecked, so room must be an upper bound.
 */
static char *batch_reserve(struct nft_batch *b, size_t room)
{
	if (b->cap - b->len < room) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap - b->len < room)
			cap *= 2;
		b->buf = xrealloc(b->buf, cap);
		/* libnftnl does not zero padding; keep the bytes on the wire defined. */
		memset(b->buf + b->cap, 0, cap - b->cap);
		b->cap = cap;
	}
	return b->buf + b->len;
}

static struct nlmsghdr *batch_hdr(struct nft_batch *b, size_t room, uint16_t type, uint8_t family,
				  uint16_t flags)
{
	switch (type) {
	case NFT_MSG_DELTABLE:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_DELRULE:
	case NFT_MSG_DELSET:
	case NFT_MSG_DELSETELEM:
		b->deletes = true;
		break;
	}
	return nftnl_nlmsg_build_hdr(batch_reserve(b, room), type, family, flags | NLM_F_ACK, 0);
}

static void batch_push(struct nft_batch *b, struct nlmsghdr *nlh, size_t room, char *what)
{
	struct nft_req *q;

	/* An overrun here would already have corrupted the heap: fail loudly. */
	if (nlh->nlmsg_len > room)
		abort();
	q = xappend(&b->reqs, &b->n_reqs, sizeof(*q));
	q->off = b->len;
	q->what = what;
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static const char *family_str(uint8_t family)
{
	switch (family) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_NETDEV:
		return "netdev";
	default:
		return "?";
	}
}

#define OBJ_ROOM 4096u

void nft_batch_guard(struct nft_batch *b, uint32_t genid)
{
	b->guarded = true;
	b->genid = genid;
}

void nft_batch_add_table(struct nft_batch *b, uint8_t family, const char *table)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		abort();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_NEWTABLE, family, NLM_F_CREATE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_push(b, nlh, OBJ_ROOM, xasprintf("add table %s %s", family_str(family), table));
}

void nft_batch_del_table(struct nft_batch *b, uint8_t family, const char *table)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		abort();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_DELTABLE, family, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_push(b, nlh, OBJ_ROOM, xasprintf("delete table %s %s", family_str(family), table));
}

static struct nftnl_chain *chain_new(const char *table, const char *chain)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		abort();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
	return c;
}

void nft_batch_add_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain,
			 const struct nft_base_chain *base)
{
	struct nftnl_chain *c = chain_new(table, chain);
	struct nlmsghdr *nlh;

	if (base) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, base->type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, base->hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, base->priority);
		if (base->has_policy)
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, base->policy);
	}
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("add chain %s %s %s", family_str(family), table, chain));
}

void nft_batch_flush_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r)
		abort();
	/* A rule deletion naming only the chain deletes all of its rules. */
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_DELRULE, family, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("flush chain %s %s %s", family_str(family), table, chain));
}

void nft_batch_del_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain)
{
	struct nftnl_chain *c = chain_new(table, chain);
	struct nlmsghdr *nlh;

	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_DELCHAIN, family, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("delete chain %s %s %s", family_str(family), table, chain));
}

uint32_t nft_concat_len(const uint8_t *lens, size_t n)
{
	uint32_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (lens[i] + 3u) & ~3u;
	return len;
}

/* nft's encoding of a concatenated type: 6 bits per field, first field highest. */
static uint32_t concat_type(const enum nft_dtype *types, size_t n)
{
	uint32_t t = 0;

	for (size_t i = 0; i < n; i++)
		t = (t << 6) | (uint32_t)types[i];
	return t;
}

static uint32_t field_len(const uint8_t *lens, size_t n)
{
	return n == 1 ? lens[0] : nft_concat_len(lens, n);
}

/* nft's byte-order codes in set userdata (BYTEORDER_*), so `nft list` decodes keys. */
#define NFT_BYTEORDER_HOST 1
#define NFT_BYTEORDER_BIG 2

/*
 * Strings (interface names) are host order to nft: a single-field ifname
 * key marked big endian is listed reversed (as "", its padding first), and
 * a saved ruleset then fails to load.  Concatenations are read field by
 * field, each by its own type.
 */
static uint32_t byteorder(const enum nft_dtype *types, size_t n)
{
	return n == 1 && types[0] == NFT_DT_IFNAME ? NFT_BYTEORDER_HOST : NFT_BYTEORDER_BIG;
}

void nft_batch_add_set(struct nft_batch *b, uint8_t family, const char *table,
		       const struct nft_set_def *s)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	uint32_t flags = s->flags;
	struct nlmsghdr *nlh;

	if (!set || !ud)
		abort();
	nftnl_set_set_str(set, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, family);
	nftnl_set_set_u32(set, NFTNL_SET_ID, ++b->set_ids);
	/*
	 * As nft declares them, so that a ruleset saved with `nft list
	 * ruleset` and loaded back gives sets our adds match (the kernel
	 * compares flags and field lengths): the concatenation flag and field
	 * description only for interval sets.
	 */
	if (s->n_fields > 1 && (flags & NFT_SET_INTERVAL)) {
		flags |= NFT_SET_CONCAT;
		nftnl_set_set_data(set, NFTNL_SET_DESC_CONCAT, s->key_lens, s->n_fields);
	}
	if (s->n_data)
		flags |= NFT_SET_MAP;
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, concat_type(s->key_types, s->n_fields));
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, field_len(s->key_lens, s->n_fields));
	if (s->n_data) {
		nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, concat_type(s->data_types, s->n_data));
		nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, field_len(s->data_lens, s->n_data));
	}
	nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, byteorder(s->key_types, s->n_fields));
	if (s->n_data)
		nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER,
				    byteorder(s->data_types, s->n_data));
	if (s->comment)
		nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_COMMENT, s->comment);
	nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_NEWSET, family, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nftnl_udata_buf_free(ud);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("add set %s %s %s", family_str(family), table, s->name));
}

void nft_batch_del_set(struct nft_batch *b, uint8_t family, const char *table, const char *name)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!set)
		abort();
	nftnl_set_set_str(set, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, name);
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_DELSET, family, 0);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("delete set %s %s %s", family_str(family), table, name));
}

/* Upper bound of one element's attributes on the wire. */
static size_t elem_room(const struct nft_elem *e, bool with_data)
{
	size_t room = 64 + e->key_len + e->key_end_len;

	if (with_data)
		room += e->data_len + (e->comment ? strlen(e->comment) + 16 : 0);
	return room;
}

static struct nftnl_set_elem *elem_build(const struct nft_elem *e, bool with_data)
{
	struct nftnl_set_elem *se = nftnl_set_elem_alloc();

	if (!se)
		abort();
	nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, e->key, e->key_len);
	if (e->key_end)
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY_END, e->key_end, e->key_end_len);
	if (!with_data)
		return se;
	if (e->data)
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_DATA, e->data, e->data_len);
	if (e->comment) {
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

		if (!ud)
			abort();
		nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_ELEM_COMMENT, e->comment);
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return se;
}

static void batch_elems(struct nft_batch *b, uint16_t type, uint16_t flags, uint8_t family,
			const char *table, const char *set, const struct nft_elem *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		struct nftnl_set *s = nftnl_set_alloc();
		size_t room = 512 + strlen(table) + strlen(set), first = i;
		struct nlmsghdr *nlh;

		if (!s)
			abort();
		nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set);
		do {
			room += elem_room(&v[i], type == NFT_MSG_NEWSETELEM);
			nftnl_set_elem_add(s, elem_build(&v[i], type == NFT_MSG_NEWSETELEM));
			i++;
		} while (i < n && room < ELEMS_MSG_BUDGET);
		nlh = batch_hdr(b, room, type, family, flags);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		batch_push(b, nlh, room,
			   xasprintf("%s %zu element(s) %s set %s %s %s",
				     type == NFT_MSG_NEWSETELEM ? "add" : "delete", i - first,
				     type == NFT_MSG_NEWSETELEM ? "to" : "from", family_str(family),
				     table, set));
	}
}

void nft_batch_add_elems(struct nft_batch *b, uint8_t family, const char *table, const char *set,
			 const struct nft_elem *v, size_t n, bool excl)
{
	batch_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | (excl ? NLM_F_EXCL : 0), family, table,
		    set, v, n);
}

void nft_batch_del_elems(struct nft_batch *b, uint8_t family, const char *table, const char *set,
			 const struct nft_elem *v, size_t n)
{
	batch_elems(b, NFT_MSG_DELSETELEM, 0, family, table, set, v, n);
}

/* Make sure the socket can take a batch of len bytes in one sendmsg(). */
static void ensure_sndbuf(struct nft *n, size_t len)
{
	int want;

	if (len + 4096 < 200000 || (int)(len + 4096) <= n->sndbuf)
		return;
	want = (int)(len + 4096);
	/* FORCE ignores rmem_max/wmem_max (we have CAP_NET_ADMIN); fall back if not. */
	if (setsockopt(nft_fd(n), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
		(void)setsockopt(nft_fd(n), SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	n->sndbuf = want;
}

/*
 * Room for an error acknowledgment of each of n_reqs requests, so that a
 * batch failing in many requests reports each (a batch that commits sends
 * one acknowledgment whatever its size).  Best effort.
 */
#define ACK_TRUESIZE 1024
static void ensure_rcvbuf(struct nft *n, size_t n_reqs)
{
	int want;

	if (n_reqs < 128 || n_reqs > (size_t)(64 << 20) / ACK_TRUESIZE ||
	    (int)(n_reqs * ACK_TRUESIZE) <= n->rcvbuf)
		return;
	want = (int)(n_reqs * ACK_TRUESIZE);
	if (setsockopt(nft_fd(n), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
		(void)setsockopt(nft_fd(n), SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	n->rcvbuf = want;
}

struct ack_state {
	struct nft_batch *b;
	uint32_t base;       /* seq of the first request */
	size_t n_failed;
	bool done;           /* the last request's acknowledgment, or the batch's own error */
	bool lost;           /* ENOBUFS: some acknowledgments never arrived */
};

static void record_ack(struct ack_state *st, const struct nlmsghdr *nlh, struct cni_error **err)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t i;
	const char *x;
	int errnum;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return;
	if (nlh->nlmsg_seq < st->base || nlh->nlmsg_seq - st->base >= st->b->n_reqs) {
		/*
		 * The begin/end markers: the batch as a whole failed (out of
		 * memory, the commit itself, a changed generation): final, and
		 * only the kernel can name what went wrong.
		 */
		if (e->error) {
			st->n_failed++;
			st->done = true;
			if (-e->error == ERESTART)
				cni_error_errno(err, ERESTART,
						"netfilter batch: the ruleset changed since it was read");
			else
				cni_error_errno(err, -e->error, "netfilter batch");
		}
		return;
	}
	i = nlh->nlmsg_seq - st->base;
	if (i == st->b->n_reqs - 1)
		st->done = true;
	if (!e->error)
		return;
	errnum = -e->error;
	x = extack_msg(nlh);
	if (st->n_failed++ == 0) {
		cni_error_errno(err, errnum, "%s", st->b->reqs[i].what);
		if (x)
			cni_error_add_details(err, "kernel: %s", x);
	} else {
		cni_error_add_details(err, "also failed: %s: %s%s%s", st->b->reqs[i].what,
				      strerror(errnum), x ? ": " : "", x ? x : "");
	}
}

/* The batch-begin marker, with the generation it is guarded by (NFNL_BATCH_GENID). */
static struct nlmsghdr *batch_begin(char *buf, uint32_t seq, const struct nft_batch *b)
{
	struct nlmsghdr *nlh = nftnl_batch_begin(buf, seq);

	if (b->guarded) {
		struct nlattr *a = (struct nlattr *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));
		uint32_t v = htonl(b->genid);

		a->nla_type = NFNL_BATCH_GENID;
		a->nla_len = (uint16_t)(NLA_HDRLEN + sizeof(v));
		memcpy((char *)a + NLA_HDRLEN, &v, sizeof(v));
		nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
	}
	return nlh;
}

static bool kept(const struct nft *n, const struct nft_req *q)
{
	for (size_t i = 0; i < n->n_keep; i++)
		if (strcmp(n->keep[i], q->what) == 0)
			return true;
	return false;
}

static int batch_commit(struct nft *n, struct nft_batch *b, struct cni_error **err);

int nft_batch_commit(struct nft *n, struct nft_batch *b, struct cni_error **err)
{
	cleanup_nft_batch struct nft_batch *f = NULL;
	bool skip = false;

	for (size_t i = 0; i < b->n_reqs && n->n_keep && !skip; i++)
		skip = kept(n, &b->reqs[i]);
	if (!skip)
		return batch_commit(n, b, err);
	/* A copy without the "add set" requests of sets kept as they are. */
	f = nft_batch_new();
	f->guarded = b->guarded;
	f->genid = b->genid;
	for (size_t i = 0; i < b->n_reqs; i++) {
		const struct nlmsghdr *h = (const void *)(b->buf + b->reqs[i].off);
		size_t room = NLMSG_ALIGN(h->nlmsg_len);
		char *dst;

		if (kept(n, &b->reqs[i]))
			continue;
		dst = batch_reserve(f, room);
		memcpy(dst, h, h->nlmsg_len);
		batch_push(f, (struct nlmsghdr *)dst, room, xstrdup(b->reqs[i].what));
	}
	return batch_commit(n, f, err);
}

static int batch_commit(struct nft *n, struct nft_batch *b, struct cni_error **err)
{
	char begin[NLMSG_HDRLEN + 64], end[NLMSG_HDRLEN + 64];
	struct ack_state st = { .b = b };
	struct nlmsghdr *bh, *eh;
	struct iovec iov[3];
	struct msghdr msg = { 0 };
	struct sockaddr_nl nladdr = { .nl_family = AF_NETLINK };
	struct cni_error *local = NULL;
	int waited = 0;

	if (b->n_reqs == 0)
		return 0;
	memset(begin, 0, sizeof(begin));
	memset(end, 0, sizeof(end));
	st.base = n->seq + 1;
	bh = batch_begin(begin, n->seq, b);
	for (size_t i = 0; i < b->n_reqs; i++) {
		struct nlmsghdr *h = (struct nlmsghdr *)(b->buf + b->reqs[i].off);

		h->nlmsg_seq = st.base + (uint32_t)i;
		/* Only the last asks for an acknowledgment (see the top of this file). */
		if (i + 1 < b->n_reqs)
			h->nlmsg_flags &= (uint16_t)~NLM_F_ACK;
		else
			h->nlmsg_flags |= NLM_F_ACK;
	}
	eh = nftnl_batch_end(end, st.base + (uint32_t)b->n_reqs);
	n->seq += (uint32_t)b->n_reqs + 2;

	iov[0] = (struct iovec){ bh, NLMSG_ALIGN(bh->nlmsg_len) };
	iov[1] = (struct iovec){ b->buf, b->len };
	iov[2] = (struct iovec){ eh, NLMSG_ALIGN(eh->nlmsg_len) };
	msg.msg_name = &nladdr;
	msg.msg_namelen = sizeof(nladdr);
	msg.msg_iov = iov;
	msg.msg_iovlen = 3;
	ensure_sndbuf(n, iov[0].iov_len + iov[1].iov_len + iov[2].iov_len);
	ensure_rcvbuf(n, b->n_reqs);
	if (sendmsg(nft_fd(n), &msg, 0) < 0)
		return cni_error_errno(err, errno, "send netfilter batch");

	while (!st.done) {
		ssize_t len = recv(nft_fd(n), n->rbuf, RECV_BUF, MSG_DONTWAIT);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				st.lost = true;
				continue;
			}
			if (errno != EAGAIN) {
				cni_error_errno(&local, errno, "read netfilter acknowledgments");
				break;
			}
			/*
			 * Nothing queued.  After a failure the kernel may stop
			 * acknowledging (e.g. ENOMEM ends the batch early), and
			 * lost acks never come: both are final.  Otherwise wait,
			 * bounded, in case processing was not synchronous.
			 */
			if (st.n_failed || st.lost || waited)
				break;
			/*
			 * One bounded wait in all: a socket that polls readable
			 * but keeps answering EAGAIN must not spin forever.
			 */
			struct pollfd p = { .fd = nft_fd(n), .events = POLLIN };
			(void)poll(&p, 1, ACK_TIMEOUT_MS);
			waited = 1;
			continue;
		}
		for (const struct nlmsghdr *nlh = (const void *)n->rbuf; NLMSG_OK(nlh, (size_t)len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_pid != n->portid || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_seq < n->seq - (uint32_t)b->n_reqs - 2 || nlh->nlmsg_seq >= n->seq)
				continue; /* stale, from an earlier exchange */
			record_ack(&st, nlh, &local);
		}
	}
	if (st.n_failed || local)
		return cni_error_move(err, &local);
	n->committed = true; /* every commit queues deferred destruction, see nft_close */
	if (!st.done) {
		/*
		 * A batch that commits sends one acknowledgment, into a buffer
		 * with room for hundreds: losing it means error reports
		 * overflowed, and any error aborts the whole batch.
		 */
		if (st.lost)
			return cni_error_errno(err, ENOBUFS,
					       "netfilter batch failed; its error reports were lost");
		return cni_error_errno(err, ETIMEDOUT,
				       "netfilter batch: no acknowledgment, outcome unknown");
	}
	return 0;
}

/* ---- rules -------------------------------------------------------------- */

struct nft_rule *nft_rule_new(uint8_t family, const char *table, const char *chain)
{
	struct nft_rule *r = xcalloc(1, sizeof(*r));

	r->r = nftnl_rule_alloc();
	if (!r->r)
		abort();
	nftnl_rule_set_u32(r->r, NFTNL_RULE_FAMILY, family);
	nftnl_rule_set_str(r->r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r->r, NFTNL_RULE_CHAIN, chain);
	return r;
}

void nft_rule_free(struct nft_rule *r)
{
	if (!r)
		return;
	nftnl_rule_free(r->r);
	free(r);
}

static struct nftnl_expr *expr_new(struct nft_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (!e)
		abort();
	nftnl_rule_add_expr(r->r, e);
	r->n_expr++;
	return e;
}

void nft_rule_meta(struct nft_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

void nft_rule_payload(struct nft_rule *r, uint32_t base, uint32_t offset, uint32_t len,
		      uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

void nft_rule_cmp(struct nft_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void nft_rule_bitwise(struct nft_rule *r, uint32_t sreg, uint32_t dreg, uint32_t len,
		      const void *mask, const void *xor)
{
	struct nftnl_expr *e = expr_new(r, "bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
}

void nft_rule_lookup(struct nft_rule *r, uint32_t sreg, const char *set, int dreg, bool invert)
{
	struct nftnl_expr *e = expr_new(r, "lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	if (invert)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

void nft_rule_ct(struct nft_rule *r, uint32_t key, int dir, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "ct");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	if (dir >= 0)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t)dir);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
}

void nft_rule_fib(struct nft_rule *r, uint32_t flags, uint32_t result, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "fib");

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
}

void nft_rule_nat(struct nft_rule *r, uint32_t type, uint8_t family, uint32_t reg_addr,
		  uint32_t reg_proto, uint32_t flags)
{
	struct nftnl_expr *e = expr_new(r, "nat");

	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
	flags |= NF_NAT_RANGE_MAP_IPS;
	if (reg_proto) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
		flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, flags);
}

void nft_rule_masq(struct nft_rule *r, uint32_t flags)
{
	struct nftnl_expr *e = expr_new(r, "masq");

	if (flags)
		nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, flags);
}

void nft_rule_counter(struct nft_rule *r)
{
	(void)expr_new(r, "counter");
}

void nft_rule_verdict(struct nft_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr_new(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

void nft_rule_set_comment(struct nft_rule *r, const char *comment)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

	if (!ud)
		abort();
	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
	nftnl_rule_set_data(r->r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
			    nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
}

void nft_batch_add_rule(struct nft_batch *b, struct nft_rule *r)
{
	size_t room = 1024 + 512 * r->n_expr;
	const char *table = nftnl_rule_get_str(r->r, NFTNL_RULE_TABLE);
	const char *chain = nftnl_rule_get_str(r->r, NFTNL_RULE_CHAIN);
	uint8_t family = (uint8_t)nftnl_rule_get_u32(r->r, NFTNL_RULE_FAMILY);
	struct nlmsghdr *nlh;

	room += strlen(table) + strlen(chain);
	nlh = batch_hdr(b, room, NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r->r);
	batch_push(b, nlh, room,
		   xasprintf("add rule to chain %s %s %s", family_str(family), table, chain));
	nft_rule_free(r);
}

void nft_batch_del_rule(struct nft_batch *b, uint8_t family, const char *table, const char *chain,
			uint64_t handle)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_DELRULE, family, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("delete rule %llu from chain %s %s %s", (unsigned long long)handle,
			     family_str(family), table, chain));
}

/* ---- reading ------------------------------------------------------------ */

void nft_elem_info_free(struct nft_elem_info *e)
{
	free(e->comment);
	e->comment = NULL;
}

void nft_elem_list_free(struct nft_elem_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		nft_elem_info_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void nft_elem_from_info(struct nft_elem *ret, const struct nft_elem_info *e)
{
	*ret = (struct nft_elem){
		.key = e->key,
		.key_len = e->key_len,
		.key_end = e->key_end_len ? e->key_end : NULL,
		.key_end_len = e->key_end_len,
		.data = e->data_len ? e->data : NULL,
		.data_len = e->data_len,
		.comment = e->comment,
	};
}

static int udata_comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char **ret = data;
	uint8_t len = nftnl_udata_len(attr);
	const char *s = nftnl_udata_get(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT && len > 0 && s[len - 1] == '\0')
		*ret = s;
	return 0;
}

/* The comment in userdata (type 0 is the comment for rules and elements alike). */
static char *udata_comment(const void *ud, uint32_t len)
{
	const char *c = NULL;

	if (!ud || !len)
		return NULL;
	if (nftnl_udata_parse(ud, len, udata_comment_cb, &c) < 0 || !c)
		return NULL;
	return xstrdup(c);
}

static void copy_attr(struct nftnl_set_elem *se, uint16_t attr, uint8_t *dst, uint32_t *dst_len)
{
	uint32_t len = 0;
	const void *p;

	*dst_len = 0;
	if (!nftnl_set_elem_is_set(se, attr))
		return;
	p = nftnl_set_elem_get(se, attr, &len);
	if (!p || len > NFT_DATA_MAX)
		return;
	memcpy(dst, p, len);
	*dst_len = len;
}

static int collect_elems(const struct nlmsghdr *nlh, void *arg)
{
	struct nft_elem_list *l = arg;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *se;

	if (!s)
		abort();
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return -1;
	}
	it = nftnl_set_elems_iter_create(s);
	if (!it)
		abort();
	/* _next() returns the current element, then advances. */
	while ((se = nftnl_set_elems_iter_next(it))) {
		struct nft_elem_info *e = xappend(&l->v, &l->n, sizeof(*e));
		uint32_t len = 0;
		const void *ud = NULL;

		copy_attr(se, NFTNL_SET_ELEM_KEY, e->key, &e->key_len);
		copy_attr(se, NFTNL_SET_ELEM_KEY_END, e->key_end, &e->key_end_len);
		copy_attr(se, NFTNL_SET_ELEM_DATA, e->data, &e->data_len);
		if (nftnl_set_elem_is_set(se, NFTNL_SET_ELEM_USERDATA))
			ud = nftnl_set_elem_get(se, NFTNL_SET_ELEM_USERDATA, &len);
		e->comment = udata_comment(ud, len);
	}
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return 0;
}

static void elems_reset(struct nft_elem_list *l)
{
	nft_elem_list_free(l);
}

/* ENOENT: the table or set does not exist, which readers treat as "empty". */
static bool absent(int errnum)
{
	return errnum == ENOENT;
}

static int kernel_error(struct cni_error **err, const struct talk *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kernel_error(struct cni_error **err, const struct talk *t, const char *fmt, ...)
{
	cleanup_free char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	cni_error_errno(err, t->errnum, "%s", what ? what : "netfilter request");
	if (t->extack)
		cni_error_add_details(err, "kernel: %s", t->extack);
	return -1;
}

int nft_list_elems(struct nft *n, uint8_t family, const char *table, const char *set,
		   struct nft_elem_list *ret, struct cni_error **err)
{
	struct nft_elem_list l = { 0 };
	char buf[OBJ_ROOM];

	for (int attempt = 0; attempt < DUMP_TRIES; attempt++) {
		struct nftnl_set *s = nftnl_set_alloc();
		struct talk t = { 0 };
		struct nlmsghdr *nlh;
		int r;

		if (!s)
			abort();
		memset(buf, 0, sizeof(buf));
		nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_DUMP, ++n->seq);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		r = talk(n, nlh, collect_elems, &l, &t, err);
		if (r < 0) {
			nft_elem_list_free(&l);
			talk_done(&t);
			return -1;
		}
		if (t.errnum && !absent(t.errnum)) {
			nft_elem_list_free(&l);
			kernel_error(err, &t, "list set %s %s %s", family_str(family), table, set);
			talk_done(&t);
			return -1;
		}
		if (t.errnum || !t.interrupted) {
			if (t.errnum)
				nft_elem_list_free(&l);
			talk_done(&t);
			*ret = l;
			return 0;
		}
		talk_done(&t);
		elems_reset(&l);
	}
	return cni_error_errno(err, EAGAIN, "list set %s %s %s: the set kept changing",
			       family_str(family), table, set);
}

int nft_get_elem(struct nft *n, uint8_t family, const char *table, const char *set,
		 const struct nft_elem *key, struct nft_elem_info *ret, struct cni_error **err)
{
	struct nft_elem_list l = { 0 };
	struct nftnl_set *s = nftnl_set_alloc();
	struct talk t = { 0 };
	char buf[OBJ_ROOM];
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		abort();
	memset(buf, 0, sizeof(buf));
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_elem_add(s, elem_build(key, false));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_ACK, ++n->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = talk(n, nlh, collect_elems, &l, &t, err);
	if (r == 0 && t.errnum && !absent(t.errnum))
		r = kernel_error(err, &t, "get element of set %s %s %s", family_str(family), table,
				 set);
	talk_done(&t);
	if (r < 0) {
		nft_elem_list_free(&l);
		return -1;
	}
	if (l.n == 0)
		return 0;
	*ret = l.v[0];
	l.v[0].comment = NULL;
	nft_elem_list_free(&l);
	return 1;
}

int nft_exists(struct nft *n, uint8_t family, const char *table, const char *chain,
	       struct cni_error **err)
{
	struct talk t = { 0 };
	char buf[OBJ_ROOM];
	struct nlmsghdr *nlh;
	int r;

	memset(buf, 0, sizeof(buf));
	if (chain) {
		struct nftnl_chain *c = chain_new(table, chain);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, family, NLM_F_ACK, ++n->seq);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	} else {
		struct nftnl_table *tb = nftnl_table_alloc();
		if (!tb)
			abort();
		nftnl_table_set_str(tb, NFTNL_TABLE_NAME, table);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK, ++n->seq);
		nftnl_table_nlmsg_build_payload(nlh, tb);
		nftnl_table_free(tb);
	}
	r = talk(n, nlh, NULL, NULL, &t, err);
	if (r == 0 && t.errnum && !absent(t.errnum))
		r = kernel_error(err, &t, "get %s %s %s%s%s", chain ? "chain" : "table",
				 family_str(family), table, chain ? " " : "", chain ? chain : "");
	else if (r == 0)
		r = t.errnum ? 0 : 1;
	talk_done(&t);
	return r;
}

struct rule_list {
	struct nft_rule_info *v;
	size_t n;
};

static int collect_rule(const struct nlmsghdr *nlh, void *arg)
{
	struct rule_list *l = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nft_rule_info *info;

	if (!r)
		abort();
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return -1;
	}
	info = xappend(&l->v, &l->n, sizeof(*info));
	info->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	info->chain = xstrdup(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		uint32_t len = 0;
		const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		info->comment = udata_comment(ud, len);
	}
	nftnl_rule_free(r);
	return 0;
}

void nft_rule_infos_free(struct nft_rule_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].chain);
		free(v[i].comment);
	}
	free(v);
}

int nft_list_rules(struct nft *n, uint8_t family, const char *table, const char *chain,
		   struct nft_rule_info **ret, size_t *ret_n, struct cni_error **err)
{
	char buf[OBJ_ROOM];

	for (int attempt = 0; attempt < DUMP_TRIES; attempt++) {
		struct rule_list l = { 0 };
		struct nftnl_rule *r = nftnl_rule_alloc();
		struct talk t = { 0 };
		struct nlmsghdr *nlh;
		int rc;

		if (!r)
			abort();
		memset(buf, 0, sizeof(buf));
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		if (chain)
			nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP, ++n->seq);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
		rc = talk(n, nlh, collect_rule, &l, &t, err);
		if (rc == 0 && t.errnum && !absent(t.errnum))
			rc = kernel_error(err, &t, "list rules of %s %s %s", family_str(family), table,
					  chain ? chain : "");
		if (rc < 0 || t.errnum || !t.interrupted) {
			talk_done(&t);
			if (rc < 0 || t.errnum) {
				nft_rule_infos_free(l.v, l.n);
				l = (struct rule_list){ 0 };
			}
			if (rc < 0)
				return -1;
			*ret = l.v;
			*ret_n = l.n;
			return 0;
		}
		talk_done(&t);
		nft_rule_infos_free(l.v, l.n);
	}
	return cni_error_errno(err, EAGAIN, "list rules of %s %s %s: they kept changing",
			       family_str(family), table, chain ? chain : "");
}

int nft_find_rules(struct nft *n, uint8_t family, const char *table, const char *chain,
		   const char *comment, uint64_t **ret_handles, size_t *ret_n,
		   struct cni_error **err)
{
	struct nft_rule_info *v = NULL;
	uint64_t *h = NULL;
	size_t nv = 0, nh = 0;

	if (nft_list_rules(n, family, table, chain, &v, &nv, err) < 0)
		return -1;
	for (size_t i = 0; i < nv; i++)
		if (!comment || (v[i].comment && strcmp(v[i].comment, comment) == 0))
			*(uint64_t *)xappend(&h, &nh, sizeof(*h)) = v[i].handle;
	nft_rule_infos_free(v, nv);
	*ret_handles = h;
	*ret_n = nh;
	return 0;
}

/* ---- owner tags --------------------------------------------------------- */

/* FNV-1a, 128 bits: short, stable across builds and machines; not a secret. */
static unsigned __int128 hash128(const char *a, const char *b)
{
	unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142ULL << 64) | 0x62b821756295c58dULL;
	const unsigned __int128 prime = ((unsigned __int128)1 << 88) | 0x13b;
	const char *parts[2] = { a, b };

	for (size_t p = 0; p < 2; p++) {
		if (!parts[p])
			continue;
		if (p == 1) {
			h ^= (unsigned char)':';
			h *= prime;
		}
		for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++) {
			h ^= *s;
			h *= prime;
		}
	}
	return h;
}

static void hash128_hex(const char *a, const char *b, char out[34])
{
	unsigned __int128 h = hash128(a, b);

	snprintf(out, 34, "#%016llx%016llx", (unsigned long long)(h >> 64),
		 (unsigned long long)(uint64_t)h);
}

void nft_owner_key(const char *tag, uint8_t key[NFT_OWNER_KEY_LEN])
{
	unsigned __int128 h = hash128(tag, NULL);

	for (int i = NFT_OWNER_KEY_LEN - 1; i >= 0; i--, h >>= 8)
		key[i] = (uint8_t)h;
}

/* Network names beyond this are hashed, leaving room for the attachment part. */
#define TAG_NET_MAX 48

static void net_part(const char *network, char buf[TAG_NET_MAX + 1])
{
	if (strlen(network) <= TAG_NET_MAX)
		snprintf(buf, TAG_NET_MAX + 1, "%s", network);
	else
		hash128_hex(network, NULL, buf);
}

char *nft_owner_tag(const char *network, const char *container_id, const char *ifname)
{
	char net[TAG_NET_MAX + 1], att[34];

	net_part(network, net);
	if (strlen(net) + 1 + strlen(container_id) + 1 + strlen(ifname) <= NFT_TAG_MAX)
		return xasprintf("%s:%s:%s", net, container_id, ifname);
	hash128_hex(container_id, ifname, att);
	return xasprintf("%s:%s", net, att);
}

bool nft_tag_in_network(const char *tag, const char *network)
{
	char net[TAG_NET_MAX + 1];
	size_t len;

	net_part(network, net);
	len = strlen(net);
	return strncmp(tag, net, len) == 0 && tag[len] == ':';
}

/* ---- generation ---------------------------------------------------------- */

static int collect_genid(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	int r = -1;

	if (!g)
		abort();
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID)) {
		*(uint32_t *)arg = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
		r = 0;
	}
	nftnl_gen_free(g);
	return r;
}

int nft_genid(struct nft *n, uint32_t *ret, struct cni_error **err)
{
	struct talk t = { 0 };
	char buf[NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh;
	uint32_t id = 0;
	int r;

	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++n->seq);
	r = talk(n, nlh, collect_genid, &id, &t, err);
	if (r == 0 && t.errnum)
		r = kernel_error(err, &t, "get the nftables generation");
	talk_done(&t);
	if (r < 0)
		return -1;
	*ret = id;
	return 0;
}

struct set_shape {
	uint32_t klen, dlen;
	bool found;
};

static int collect_set_shape(const struct nlmsghdr *nlh, void *arg)
{
	struct set_shape *sh = arg;
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		abort();
	if (nftnl_set_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return -1;
	}
	sh->klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	sh->dlen = nftnl_set_is_set(s, NFTNL_SET_DATA_LEN) ? nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN)
							    : 0;
	sh->found = true;
	nftnl_set_free(s);
	return 0;
}

static int get_set_shape(struct nft *n, uint8_t family, const char *table, const char *name,
			 struct set_shape *ret, struct cni_error **err)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct talk t = { 0 };
	char buf[OBJ_ROOM];
	struct nlmsghdr *nlh;
	int r;

	if (!s)
		abort();
	memset(buf, 0, sizeof(buf));
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, family, NLM_F_ACK, ++n->seq);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = talk(n, nlh, collect_set_shape, ret, &t, err);
	if (r == 0 && t.errnum && !absent(t.errnum))
		r = kernel_error(err, &t, "get set %s %s %s", family_str(family), table, name);
	talk_done(&t);
	return r;
}

int nft_batch_upgrade_set(struct nft *n, const struct nft_batch *b, const struct cni_error *failed,
			  struct cni_error **err)
{
	const struct nlmsghdr *old = NULL;
	const char *what = NULL;
	struct cni_error *local = NULL;
	struct nft_elem_list l = { 0 };
	struct nftnl_set *s;
	char *table = NULL, *name = NULL;
	uint8_t family;
	int r;

	if (!failed || failed->errnum != EEXIST || !failed->msg)
		return 0;
	for (size_t i = 0; i < b->n_reqs && !old; i++) {
		size_t len = strlen(b->reqs[i].what);
		const struct nlmsghdr *h = (const void *)(b->buf + b->reqs[i].off);

		if (h->nlmsg_type == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWSET) &&
		    strncmp(failed->msg, b->reqs[i].what, len) == 0 && failed->msg[len] == ':') {
			old = h;
			what = b->reqs[i].what;
		}
	}
	if (!old)
		return 0;
	s = nftnl_set_alloc();
	if (!s)
		abort();
	if (nftnl_set_nlmsg_parse(old, s) < 0) {
		nftnl_set_free(s);
		return 0;
	}
	family = ((const struct nfgenmsg *)NLMSG_DATA(old))->nfgen_family;
	table = xstrdup(nftnl_set_get_str(s, NFTNL_SET_TABLE));
	name = xstrdup(nftnl_set_get_str(s, NFTNL_SET_NAME));
	{
		/* Only a set of ours: same key and data sizes, another type or flags. */
		struct set_shape have = { 0 };
		struct set_shape want = {
			.klen = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN),
			.dlen = nftnl_set_is_set(s, NFTNL_SET_DATA_LEN) ?
					nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN) : 0,
			.found = true,
		};

		nftnl_set_free(s);
		r = get_set_shape(n, family, table, name, &have, err);
		if (r < 0 || !have.found || have.klen != want.klen || have.dlen != want.dlen) {
			free(table);
			free(name);
			return r < 0 ? -1 : 0;
		}
	}
	r = nft_list_elems(n, family, table, name, &l, &local);
	if (r == 0) {
		cleanup_nft_batch struct nft_batch *nb = nft_batch_new();
		cleanup_free struct nft_elem *v = xcalloc(l.n ? l.n : 1, sizeof(*v));
		size_t room = NLMSG_ALIGN(old->nlmsg_len);
		char *dst;

		nft_batch_del_set(nb, family, table, name);
		/* The new definition exactly as b has it. */
		dst = batch_reserve(nb, room);
		memcpy(dst, old, old->nlmsg_len);
		batch_push(nb, (struct nlmsghdr *)dst, room,
			   xasprintf("replace set %s %s %s", family_str(family), table, name));
		for (size_t i = 0; i < l.n; i++)
			nft_elem_from_info(&v[i], &l.v[i]);
		if (l.n)
			nft_batch_add_elems(nb, family, table, name, v, l.n, false);
		r = nft_batch_commit(n, nb, &local);
	}
	nft_elem_list_free(&l);
	free(table);
	free(name);
	if (r < 0 && local && local->errnum == EBUSY) {
		/*
		 * Rules refer to it, so it cannot be replaced: its key and data
		 * are what ours would be (only flags differ), keep it as it is
		 * and leave our "add set" out of this socket's batches.
		 */
		cni_error_freep(&local);
		*(char **)xappend(&n->keep, &n->n_keep, sizeof(char *)) = xstrdup(what);
		return 1;
	}
	if (r < 0)
		return cni_error_move(err, &local);
	return 1;
}

/* ---- probes for teardown --------------------------------------------------- */

static int first_elem(const struct nlmsghdr *nlh, void *arg)
{
	struct nft_elem_list l = { 0 };
	int r = collect_elems(nlh, &l);

	if (r == 0 && l.n)
		*(bool *)arg = true;
	nft_elem_list_free(&l);
	return r;
}

/* One probe on p: 1 empty (or missing), 0 not, -1 error.  After 0 a dump is left unread. */
static int probe_set(struct nft *p, uint8_t family, const char *table, const char *set,
		     struct cni_error **err)
{
	struct nftnl_set *s;
	char buf[OBJ_ROOM];
	struct nlmsghdr *nlh;
	bool any = false, done = false;
	int r = 0;

	s = nftnl_set_alloc();
	if (!s)
		abort();
	memset(buf, 0, sizeof(buf));
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_DUMP, ++p->seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(p->sock, nlh, nlh->nlmsg_len) < 0)
		return cni_error_errno(err, errno, "probe set %s %s %s", family_str(family), table,
				       set);
	for (int i = 0; r == 0 && !done && !any && i < 64; i++) {
		struct pollfd pf = { .fd = nft_fd(p), .events = POLLIN };
		ssize_t len;

		if (poll(&pf, 1, ACK_TIMEOUT_MS) <= 0) {
			r = cni_error_errno(err, ETIMEDOUT, "probe set %s %s %s", family_str(family),
					    table, set);
			break;
		}
		len = recv(nft_fd(p), p->rbuf, RECV_BUF, 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			r = cni_error_errno(err, errno, "probe set %s %s %s", family_str(family), table,
					    set);
			break;
		}
		for (const struct nlmsghdr *h = (const void *)p->rbuf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != p->seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
			} else if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				done = true;
				/* A missing table or set is empty. */
				if (e->error && -e->error != ENOENT)
					r = cni_error_errno(err, -e->error, "probe set %s %s %s",
							    family_str(family), table, set);
			} else if (h->nlmsg_type >= NLMSG_MIN_TYPE && first_elem(h, &any) < 0) {
				r = cni_error_errno(err, EBADMSG, "probe set %s %s %s",
						    family_str(family), table, set);
			}
			if (done || any || r < 0)
				break;
		}
	}
	if (r < 0)
		return -1;
	if (!done && !any)
		return cni_error_errno(err, EAGAIN, "probe set %s %s %s: no end", family_str(family),
				       table, set);
	return any ? 0 : 1;
}

int nft_sets_are_empty(uint8_t family, const char *table, const char *const *sets,
		       struct cni_error **err)
{
	struct nft *p = NULL;
	int r = 1;

	/*
	 * A socket of its own: a dump stops at its first element and the
	 * socket is closed with the rest unread, so a probe costs the same
	 * with one element or a million.  A set found empty ended its dump,
	 * so the next probe can use the same socket.
	 */
	if (nft_open(&p, err) < 0)
		return -1;
	for (size_t i = 0; sets[i] && r == 1; i++)
		r = probe_set(p, family, table, sets[i], err);
	/*
	 * Its release would wait for the destruction our own DEL just queued
	 * (see nft_close in nft.h: 35 ms measured on a busy machine): hand it
	 * to the detached closer as a socket that committed.
	 */
	p->committed = true;
	nft_close(p);
	return r;
}

int nft_set_is_empty(uint8_t family, const char *table, const char *set, struct cni_error **err)
{
	const char *const sets[] = { set, NULL };

	return nft_sets_are_empty(family, table, sets, err);
}

static int collect_chain_handle(const struct nlmsghdr *nlh, void *arg)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	int r = -1;

	if (!c)
		abort();
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 && nftnl_chain_is_set(c, NFTNL_CHAIN_HANDLE)) {
		*(uint64_t *)arg = nftnl_chain_get_u64(c, NFTNL_CHAIN_HANDLE);
		r = 0;
	}
	nftnl_chain_free(c);
	return r;
}

int nft_chain_handle(struct nft *n, uint8_t family, const char *table, const char *chain,
		     uint64_t *ret, struct cni_error **err)
{
	struct nftnl_chain *c = chain_new(table, chain);
	struct talk t = { 0 };
	char buf[OBJ_ROOM];
	struct nlmsghdr *nlh;
	uint64_t h = 0;
	int r;

	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, family, NLM_F_ACK, ++n->seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	r = talk(n, nlh, collect_chain_handle, &h, &t, err);
	if (r == 0 && t.errnum && !absent(t.errnum))
		r = kernel_error(err, &t, "get chain %s %s %s", family_str(family), table, chain);
	else if (r == 0)
		r = t.errnum || !h ? 0 : 1;
	talk_done(&t);
	if (r == 1)
		*ret = h;
	return r;
}

void nft_batch_require_chain(struct nft_batch *b, uint8_t family, const char *table,
			     uint64_t handle)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		abort();
	/* By handle and without a name: an update that changes nothing, or ENOENT. */
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_u64(c, NFTNL_CHAIN_HANDLE, handle);
	nlh = batch_hdr(b, OBJ_ROOM, NFT_MSG_NEWCHAIN, family, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_push(b, nlh, OBJ_ROOM,
		   xasprintf("require chain %llu of %s %s", (unsigned long long)handle,
			     family_str(family), table));
}
