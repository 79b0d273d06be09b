/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftables: the socket, commits and reads (see nft.h); batches and rules
 * are built in nft_batch.c, requests go through nlsock.h.
 *
 * The batch begin/end markers are added at commit time, when the sequence
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
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/membarrier.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "cleanup.h"
#include "nft_internal.h"

/* Bounded waits: acknowledgments are normally queued before sendmsg returns. */
#define ACK_TIMEOUT_MS 5000
/* Reports of a lost acknowledgment (ENOBUFS) read before giving up on the rest. */
#define LOST_MAX 8

/* ---- socket ------------------------------------------------------------- */

int nft_open(struct nft **ret, struct cni_error **err)
{
	struct nft *n = xcalloc(1, sizeof(*n));

	if (cnl_sock_open(NETLINK_NETFILTER, ACK_TIMEOUT_MS, &n->nl, err) < 0) {
		free(n);
		return -1;
	}
	*ret = n;
	return 0;
}

/* Children started by release_detached(): a few per process at most. */
#define DETACH_MAX 4
static unsigned int n_detached;

/*
 * What a closer child needs, written before it starts and never after.
 * The child shares our memory (see release_detached), so it runs on a
 * stack of its own and makes only raw syscalls that succeed while we run:
 * errno is ours too.
 */
static struct detach {
	int fd, fd2, pipe_rd; /* fd2: a second socket released with fd (struct nft's probe), or -1 */
	char stack[16384] __attribute__((aligned(16)));
} detached[DETACH_MAX];

/* close_range(lo, hi) when not empty: an empty one fails, and a failure writes our errno. */
static void close_span(unsigned int lo, unsigned int hi)
{
	if (lo <= hi)
		(void)syscall(SYS_close_range, lo, hi, 0U);
}

static int detached_closer(void *arg)
{
	const struct detach *d = arg;
	int keep[3] = { d->fd, d->pipe_rd, d->fd2 }, nk = d->fd2 >= 0 ? 3 : 2;
	unsigned int lo = 0;
	char c;

	/* Close all but keep[] (sorted here: no libc in this child). */
	for (int i = 1; i < nk; i++)
		for (int j = i; j > 0 && keep[j] < keep[j - 1]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < nk; i++) {
		if ((unsigned int)keep[i] > lo)
			close_span(lo, (unsigned int)keep[i] - 1);
		lo = (unsigned int)keep[i] + 1;
	}
	close_span(lo, ~0U);
	/* EOF once every holder of the write end (we alone) has exited; a signal may interrupt. */
	for (int i = 0; i < 64 && syscall(SYS_read, d->pipe_rd, &c, 1) < 0; i++)
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
	(void)syscall(SYS_close, d->fd);
	if (d->fd2 >= 0)
		(void)syscall(SYS_close, d->fd2);
	(void)syscall(SYS_exit, 0);
	return 0;
}

/*
 * Hand sock's last reference to a child that lets go of it only once we
 * have exited (the read end of a pipe whose write end we keep sees EOF),
 * so the kernel's wait on release (see nft_close in nft.h) is paid by
 * nobody the runtime waits for.  The child keeps no other descriptor: not
 * the runtime's stdout pipe, whose EOF the runtime reads.  Returns false
 * when it could not (then the caller closes normally).
 *
 * The child shares our memory (clone with CLONE_VM): a fork() would copy
 * our page tables and then make us take a copy-on-write fault for every
 * page we write until we exit, which measured 0.7 ms of a portmap ADD and
 * 1.7 ms of its DEL (two hand-offs).  Valgrind cannot run such a clone
 * (it aborts), nor is AddressSanitizer's shadow stack safe in it: their
 * builds fork as before.
 */
static bool use_fork(void)
{
#ifdef __SANITIZE_ADDRESS__
	return true;
#else
	/* Valgrind preloads its vgpreload_*.so into every (dynamic) program it runs. */
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload_");
#endif
}

static bool release_detached(struct cnl_sock *sock, struct cnl_sock *sock2)
{
	struct detach *d = &detached[n_detached];
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	d->fd = sock->fd;
	d->fd2 = sock2 ? sock2->fd : -1;
	d->pipe_rd = p[0];
	if (!use_fork()) {
		pid = clone(detached_closer, d->stack + sizeof(d->stack), CLONE_VM | SIGCHLD, d);
	} else {
		pid = fork();
		if (pid == 0)
			_exit(detached_closer(d));
	}
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return false;
	}
	(void)close(p[0]);
	/* p[1] stays open (CLOEXEC) until this process exits. */
	cnl_sock_free(sock);
	if (sock2)
		cnl_sock_free(sock2);
	n_detached++;
	return true;
}

void nft_close(struct nft *n)
{
	if (!n)
		return;
	if (n->nl) {
		if (!n->committed || n_detached >= DETACH_MAX || !release_detached(n->nl, n->probe)) {
			cnl_sock_free(n->nl);
			if (n->probe)
				cnl_sock_free(n->probe);
		}
	} else if (n->probe) {
		cnl_sock_free(n->probe);
	}
	for (size_t i = 0; i < n->n_keep; i++)
		free(n->keep[i]);
	free(n->keep);
	free(n);
}

void nft_closep(struct nft **n)
{
	nft_close(*n);
	*n = NULL;
}

struct cnl_sock *nft_netlink(struct nft *n)
{
	return n->nl;
}

static int nft_fd(const struct nft *n)
{
	return n->nl->fd;
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
	uint32_t base; /* seq of the first request */
	size_t n_failed;
	bool done; /* the last request's acknowledgment, or the batch's own error */
	bool lost; /* ENOBUFS: some acknowledgments never arrived */
};

static void record_ack(struct ack_state *st, const struct nlmsghdr *nlh, struct cni_error **err)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	cleanup_free char *x = NULL;
	size_t i;
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
	x = cnl_extack(nlh);
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
		dst = nft_buf_reserve(f, room);
		memcpy(dst, h, h->nlmsg_len);
		nft_buf_push(f, (struct nlmsghdr *)dst, room, xstrdup(b->reqs[i].what));
	}
	return batch_commit(n, f, err);
}

static int batch_commit(struct nft *n, struct nft_batch *b, struct cni_error **err)
{
	char begin[NLMSG_HDRLEN + 64], end[NLMSG_HDRLEN + 64];
	struct ack_state st = { .b = b };
	struct nlmsghdr *bh, *eh;
	struct iovec iov[3];
	struct cni_error *local = NULL;
	uint32_t first, last;
	unsigned int n_lost = 0;
	bool waited = false;

	if (b->n_reqs == 0)
		return 0;
	memset(begin, 0, sizeof(begin));
	memset(end, 0, sizeof(end));
	first = ++n->nl->seq;
	st.base = first + 1;
	last = st.base + (uint32_t)b->n_reqs;
	n->nl->seq = last;
	bh = batch_begin(begin, first, b);
	for (size_t i = 0; i < b->n_reqs; i++) {
		struct nlmsghdr *h = (struct nlmsghdr *)(b->buf + b->reqs[i].off);

		h->nlmsg_seq = st.base + (uint32_t)i;
		/* Only the last asks for an acknowledgment (see the top of this file). */
		if (i + 1 < b->n_reqs)
			h->nlmsg_flags &= (uint16_t)~NLM_F_ACK;
		else
			h->nlmsg_flags |= NLM_F_ACK;
	}
	eh = nftnl_batch_end(end, last);

	iov[0] = (struct iovec){ bh, NLMSG_ALIGN(bh->nlmsg_len) };
	iov[1] = (struct iovec){ b->buf, b->len };
	iov[2] = (struct iovec){ eh, NLMSG_ALIGN(eh->nlmsg_len) };
	ensure_sndbuf(n, iov[0].iov_len + iov[1].iov_len + iov[2].iov_len);
	ensure_rcvbuf(n, b->n_reqs);
	if (cnl_sendv(n->nl, iov, 3) < 0)
		return cni_error_errno(err, errno, "send netfilter batch");

	while (!st.done) {
		/*
		 * After a failure the kernel may stop acknowledging (e.g. ENOMEM
		 * ends the batch early), and lost acks never come: nothing
		 * queued is final then.  Otherwise wait, once in all and bounded,
		 * in case processing was not synchronous; a socket that polls
		 * readable but keeps answering EAGAIN ends the wait too.
		 */
		bool may_wait = !(st.n_failed || st.lost || waited);
		unsigned int waits = n->nl->waits;
		ssize_t len = cnl_recv(n->nl, may_wait);

		waited = waited || n->nl->waits != waits;
		if (len < 0) {
			if (errno == ENOBUFS && ++n_lost <= LOST_MAX) {
				st.lost = true;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cni_error_errno(&local, errno, "read netfilter acknowledgments");
			break;
		}
		for (const struct nlmsghdr *nlh = (const void *)n->nl->buf;
		     NLMSG_OK(nlh, (size_t)len); nlh = NLMSG_NEXT(nlh, len)) {
			/* Stale replies, from an earlier exchange, are skipped. */
			if (nlh->nlmsg_type == NLMSG_ERROR && cnl_ours(n->nl, nlh, first, last))
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
	if (!p || len > CNIC_NFT_DATA_MAX)
		return;
	memcpy(dst, p, len);
	*dst_len = len;
}

static int collect_elems(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
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

static void elems_reset(void *arg)
{
	nft_elem_list_free(arg);
}

/* ENOENT: the table or set does not exist, which readers treat as "empty". */
static bool absent(int errnum)
{
	return errnum == ENOENT;
}

/*
 * A GETSETELEM, built in buf (zeroed here: the kernel reads padding): of
 * key alone, unacknowledged (see cnl_exchange_many), or with key NULL a
 * dump of set's elements.
 */
static struct nlmsghdr *elem_req(char buf[CNIC_NFT_OBJ_ROOM], uint8_t family, const char *table,
				 const char *set, const struct nft_elem *key)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!s)
		abort();
	memset(buf, 0, CNIC_NFT_OBJ_ROOM);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	if (key)
		nftnl_set_elem_add(s, nft_elem_obj(key, false));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, key ? 0 : NLM_F_DUMP, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	return nlh;
}

static struct nlmsghdr *elems_dump_req(char buf[CNIC_NFT_OBJ_ROOM], uint8_t family,
				       const char *table, const char *set)
{
	return elem_req(buf, family, table, set, NULL);
}

int nft_list_elems(struct nft *n, uint8_t family, const char *table, const char *set,
		   struct nft_elem_list *ret, struct cni_error **err)
{
	struct nft_elem_list l = { 0 };
	char buf[CNIC_NFT_OBJ_ROOM];
	struct nlmsghdr *nlh = elems_dump_req(buf, family, table, set);
	struct cnl_reply r;

	if (cnl_dump_retry(n->nl, nlh, collect_elems, elems_reset, &l, &r, err) < 0) {
		nft_elem_list_free(&l);
		return cni_error_wrap(err, "list set %s %s %s", nft_family_str(family), table, set);
	}
	if (r.errnum) {
		nft_elem_list_free(&l);
		if (!absent(r.errnum)) {
			cnl_reply_error(err, &r, "list set %s %s %s", nft_family_str(family), table,
					set);
			cnl_reply_done(&r);
			return -1;
		}
	}
	cnl_reply_done(&r);
	*ret = l;
	return 0;
}

int nft_get_elem(struct nft *n, uint8_t family, const char *table, const char *set,
		 const struct nft_elem *key, struct nft_elem_info *ret, struct cni_error **err)
{
	struct nft_elem_list l = { 0 };
	struct nftnl_set *s = nftnl_set_alloc();
	char buf[CNIC_NFT_OBJ_ROOM];
	struct nlmsghdr *nlh;
	struct cnl_reply t;
	int r;

	if (!s)
		abort();
	memset(buf, 0, sizeof(buf));
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_elem_add(s, nft_elem_obj(key, false));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, family, NLM_F_ACK, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	r = cnl_exchange(n->nl, nlh, collect_elems, &l, &t, err);
	if (r == 0 && t.errnum && !absent(t.errnum))
		r = cnl_reply_error(err, &t, "get element of set %s %s %s", nft_family_str(family),
				    table, set);
	cnl_reply_done(&t); /* zeroed by a failed exchange too */
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

static struct nlmsghdr *elem_get_req(char buf[CNIC_NFT_OBJ_ROOM], uint8_t family, const char *table,
				     const char *set, const struct nft_elem *key)
{
	return elem_req(buf, family, table, set, key);
}

int nft_get_elems(struct nft *n, uint8_t family, const char *table, const char *const *sets,
		  const struct nft_elem *keys, size_t k, struct nft_elem_info *ret, int *found,
		  struct cni_error **err)
{
	cleanup_free char *bufs = xcalloc(k ? k : 1, CNIC_NFT_OBJ_ROOM);
	cleanup_free struct cnl_query *q = xcalloc(k ? k : 1, sizeof(*q));
	cleanup_free struct nft_elem_list *l = xcalloc(k ? k : 1, sizeof(*l));
	int r = 0;

	for (size_t i = 0; i < k; i++) {
		q[i].req =
			elem_get_req(bufs + i * CNIC_NFT_OBJ_ROOM, family, table, sets[i], &keys[i]);
		q[i].parse = collect_elems;
		q[i].arg = &l[i];
	}
	if (cnl_exchange_many(n->nl, q, k, err) < 0)
		r = -1; /* every list is freed below */
	for (size_t i = 0; i < k; i++) {
		found[i] = 0;
		if (r == 0 && q[i].r.errnum && !absent(q[i].r.errnum))
			r = cnl_reply_error(err, &q[i].r, "get element of set %s %s %s",
					    nft_family_str(family), table, sets[i]);
		cnl_reply_done(&q[i].r);
		if (r == 0 && l[i].n) {
			ret[i] = l[i].v[0];
			l[i].v[0].comment = NULL;
			found[i] = 1;
		}
		nft_elem_list_free(&l[i]);
	}
	if (r < 0)
		for (size_t i = 0; i < k; i++)
			if (found[i])
				nft_elem_info_free(&ret[i]);
	return r;
}

static int collect_table_use(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct nftnl_table *t = nftnl_table_alloc();
	int r = -1;

	if (!t)
		abort();
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		*(uint32_t *)arg = nftnl_table_is_set(t, NFTNL_TABLE_USE)
					   ? nftnl_table_get_u32(t, NFTNL_TABLE_USE)
					   : 0;
		r = 0;
	}
	nftnl_table_free(t);
	return r;
}

static int collect_genid(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
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

int nft_get_elem_also(struct nft *n, uint8_t family, const char *table, const char *set,
		      const struct nft_elem *key, struct nft_elem_info *ret, bool *set_present,
		      const struct nft_also *also, struct cni_error **err)
{
	/*
	 * The generation first (so that what follows is read at it or later:
	 * a commit guarded by it fails if anything changed since), then the
	 * tables, chains, the set and its element: no dump, so one round trip
	 * whatever the set holds.
	 */
	const size_t ng = also->genid ? 1 : 0, nt = also->nt, nc = also->nc;
	const size_t ns = ng + nt + nc, ne = ns + 1, nq = ns + 2;
	cleanup_free char *bufs = xcalloc(nq, CNIC_NFT_OBJ_ROOM);
	cleanup_free struct cnl_query *q = xcalloc(nq, sizeof(*q));
	struct nftnl_set *so = nftnl_set_alloc();
	struct nft_elem_list l = { 0 };
	int r = 0;

	if (!so)
		abort();
	if (ng) {
		q[0].req = nftnl_nlmsg_build_hdr(bufs, NFT_MSG_GETGEN, AF_UNSPEC, 0, 0);
		q[0].parse = collect_genid;
		q[0].arg = also->genid;
	}
	for (size_t i = 0; i < nt; i++) {
		struct nftnl_table *tb = nftnl_table_alloc();
		size_t j = ng + i;

		if (!tb)
			abort();
		nftnl_table_set_str(tb, NFTNL_TABLE_NAME, also->tables[i].name);
		q[j].req = nftnl_nlmsg_build_hdr(bufs + j * CNIC_NFT_OBJ_ROOM, NFT_MSG_GETTABLE,
						 also->tables[i].family, 0, 0);
		nftnl_table_nlmsg_build_payload(q[j].req, tb);
		nftnl_table_free(tb);
		q[j].parse = collect_table_use;
		q[j].arg = &also->tables[i].use;
		also->tables[i].use = 0;
	}
	for (size_t i = 0; i < nc; i++) {
		struct nftnl_chain *c = nft_chain_obj(also->chains[i].table, also->chains[i].name);
		size_t j = ng + nt + i;

		q[j].req = nftnl_nlmsg_build_hdr(bufs + j * CNIC_NFT_OBJ_ROOM, NFT_MSG_GETCHAIN,
						 also->chains[i].family, 0, 0);
		nftnl_chain_nlmsg_build_payload(q[j].req, c);
		nftnl_chain_free(c);
	}
	nftnl_set_set_str(so, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(so, NFTNL_SET_NAME, set);
	q[ns].req =
		nftnl_nlmsg_build_hdr(bufs + ns * CNIC_NFT_OBJ_ROOM, NFT_MSG_GETSET, family, 0, 0);
	nftnl_set_nlmsg_build_payload(q[ns].req, so);
	nftnl_set_free(so);
	q[ne].req = elem_get_req(bufs + ne * CNIC_NFT_OBJ_ROOM, family, table, set, key);
	q[ne].parse = collect_elems;
	q[ne].arg = &l;
	if (cnl_exchange_many(n->nl, q, nq, err) < 0) {
		nft_elem_list_free(&l);
		return cni_error_wrap(err, "get element of set %s %s %s", nft_family_str(family),
				      table, set);
	}
	if (ng && q[0].r.errnum)
		r = cnl_reply_error(err, &q[0].r, "get the nftables generation");
	for (size_t i = 0; i < nt; i++) {
		const struct cnl_reply *t = &q[ng + i].r;

		also->tables[i].present = t->errnum == 0;
		if (r == 0 && t->errnum && !absent(t->errnum))
			r = cnl_reply_error(err, t, "get table %s %s",
					    nft_family_str(also->tables[i].family),
					    also->tables[i].name);
	}
	for (size_t i = 0; i < nc; i++) {
		const struct cnl_reply *t = &q[ng + nt + i].r;

		also->chains[i].present = t->errnum == 0;
		if (r == 0 && t->errnum && !absent(t->errnum))
			r = cnl_reply_error(err, t, "get chain %s %s %s",
					    nft_family_str(also->chains[i].family),
					    also->chains[i].table, also->chains[i].name);
	}
	if (r == 0 && q[ns].r.errnum && !absent(q[ns].r.errnum))
		r = cnl_reply_error(err, &q[ns].r, "get set %s %s %s", nft_family_str(family),
				    table, set);
	if (r == 0 && q[ne].r.errnum && !absent(q[ne].r.errnum))
		r = cnl_reply_error(err, &q[ne].r, "get element of set %s %s %s",
				    nft_family_str(family), table, set);
	if (r == 0) {
		*set_present = q[ns].r.errnum == 0;
		if (l.n) {
			*ret = l.v[0];
			l.v[0].comment = NULL;
			r = 1;
		}
	}
	nft_elem_list_free(&l);
	for (size_t i = 0; i < nq; i++)
		cnl_reply_done(&q[i].r);
	return r;
}

int nft_exists(struct nft *n, uint8_t family, const char *table, const char *chain,
	       struct cni_error **err)
{
	struct cnl_reply t;
	char buf[CNIC_NFT_OBJ_ROOM];
	struct nlmsghdr *nlh;
	int r;

	memset(buf, 0, sizeof(buf));
	if (chain) {
		struct nftnl_chain *c = nft_chain_obj(table, chain);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, family, NLM_F_ACK, 0);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	} else {
		struct nftnl_table *tb = nftnl_table_alloc();
		if (!tb)
			abort();
		nftnl_table_set_str(tb, NFTNL_TABLE_NAME, table);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK, 0);
		nftnl_table_nlmsg_build_payload(nlh, tb);
		nftnl_table_free(tb);
	}
	if (cnl_exchange(n->nl, nlh, NULL, NULL, &t, err) < 0)
		return -1;
	if (t.errnum && !absent(t.errnum))
		r = cnl_reply_error(err, &t, "get %s %s %s%s%s", chain ? "chain" : "table",
				    nft_family_str(family), table, chain ? " " : "",
				    chain ? chain : "");
	else
		r = t.errnum ? 0 : 1;
	cnl_reply_done(&t);
	return r;
}

struct rule_list {
	struct nft_rule_info *v;
	size_t n;
};

static void rules_reset(void *arg)
{
	struct rule_list *l = arg;

	nft_rule_infos_free(l->v, l->n);
	*l = (struct rule_list){ 0 };
}

static int collect_rule(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
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

struct nlmsghdr *nft_rules_dump_req(char buf[NFT_DUMP_REQ_ROOM], uint8_t family, const char *table,
				    const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r)
		abort();
	memset(buf, 0, NFT_DUMP_REQ_ROOM);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	if (chain)
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, family, NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlh;
}

int nft_list_rules(struct nft *n, uint8_t family, const char *table, const char *chain,
		   struct nft_rule_info **ret, size_t *ret_n, struct cni_error **err)
{
	struct rule_list l = { 0 };
	char buf[NFT_DUMP_REQ_ROOM];
	struct nlmsghdr *nlh = nft_rules_dump_req(buf, family, table, chain);
	struct cnl_reply t;

	if (cnl_dump_retry(n->nl, nlh, collect_rule, rules_reset, &l, &t, err) < 0) {
		rules_reset(&l);
		return cni_error_wrap(err, "list rules of %s %s %s", nft_family_str(family), table,
				      chain ? chain : "");
	}
	if (t.errnum) {
		rules_reset(&l);
		if (!absent(t.errnum)) {
			cnl_reply_error(err, &t, "list rules of %s %s %s", nft_family_str(family),
					table, chain ? chain : "");
			cnl_reply_done(&t);
			return -1;
		}
	}
	cnl_reply_done(&t);
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}


/* ---- generation ---------------------------------------------------------- */

int nft_genid(struct nft *n, uint32_t *ret, struct cni_error **err)
{
	char buf[NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh;
	struct cnl_reply t;
	uint32_t id = 0;
	int r;

	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, 0);
	if (cnl_exchange(n->nl, nlh, collect_genid, &id, &t, err) < 0)
		return -1;
	r = t.errnum ? cnl_reply_error(err, &t, "get the nftables generation") : 0;
	cnl_reply_done(&t);
	if (r < 0)
		return -1;
	*ret = id;
	return 0;
}

struct set_shape {
	uint32_t klen, dlen;
	bool found;
};

static int collect_set_shape(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
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
	char buf[CNIC_NFT_OBJ_ROOM];
	struct nlmsghdr *nlh;
	struct cnl_reply t;
	int r = 0;

	if (!s)
		abort();
	memset(buf, 0, sizeof(buf));
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, family, NLM_F_ACK, 0);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (cnl_exchange(n->nl, nlh, collect_set_shape, ret, &t, err) < 0)
		return -1;
	if (t.errnum && !absent(t.errnum))
		r = cnl_reply_error(err, &t, "get set %s %s %s", nft_family_str(family), table, name);
	cnl_reply_done(&t);
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
			.dlen = nftnl_set_is_set(s, NFTNL_SET_DATA_LEN)
					? nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN)
					: 0,
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
		dst = nft_buf_reserve(nb, room);
		memcpy(dst, old, old->nlmsg_len);
		nft_buf_push(nb, (struct nlmsghdr *)dst, room,
			     xasprintf("replace set %s %s %s", nft_family_str(family), table, name));
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

/* Stops the dump at the first element: 1. */
static int first_elem(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct nft_elem_list l = { 0 };
	int r = collect_elems(nlh, &l, err);

	if (r == 0 && l.n) {
		*(bool *)arg = true;
		r = 1;
	}
	nft_elem_list_free(&l);
	return r;
}

/* One probe on p: 1 empty (or missing), 0 not, -1 error.  After 0 a dump is left unread. */
static int probe_set(struct nft *p, uint8_t family, const char *table, const char *set,
		     struct cni_error **err)
{
	char buf[CNIC_NFT_OBJ_ROOM];
	struct nlmsghdr *nlh = elems_dump_req(buf, family, table, set);
	struct cnl_reply t;
	bool any = false;
	int r = 0;

	if (cnl_exchange(p->nl, nlh, first_elem, &any, &t, err) < 0)
		return cni_error_wrap(err, "probe set %s %s %s", nft_family_str(family), table, set);
	/* A missing table or set is empty. */
	if (t.errnum && !absent(t.errnum))
		r = cnl_reply_error(err, &t, "probe set %s %s %s", nft_family_str(family), table,
				    set);
	cnl_reply_done(&t);
	if (r < 0)
		return -1;
	return any ? 0 : 1;
}

/* The dump's answers until an element whose key is not *key (key NULL: any): 1 then. */
struct other_ctx {
	const struct nft_elem *key;
	bool found;
};

static int other_elem(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct other_ctx *o = arg;
	struct nft_elem_list l = { 0 };
	int r = collect_elems(nlh, &l, err);

	for (size_t i = 0; r == 0 && i < l.n && !o->found; i++)
		o->found = !o->key || l.v[i].key_len != o->key->key_len ||
			   memcmp(l.v[i].key, o->key->key, o->key->key_len) != 0;
	nft_elem_list_free(&l);
	return r == 0 && o->found ? 1 : r;
}

int nft_set_has_other(struct nft *n, uint8_t family, const char *table, const char *set,
		      const struct nft_elem *key, struct cni_error **err)
{
	char buf[CNIC_NFT_OBJ_ROOM];
	struct other_ctx o = { .key = key };
	struct nlmsghdr *nlh;
	struct cnl_reply t;
	int r = 0;

	/*
	 * A socket of its own: the dump stops at the first element not key
	 * and the rest stays unread, so this costs the same with one other
	 * element or a million.  It stays open until n is closed, and goes
	 * with n's (to the detached closer after a commit, see nft_close).
	 */
	if (n->probe) {
		cnl_sock_free(n->probe);
		n->probe = NULL;
	}
	if (cnl_sock_open(NETLINK_NETFILTER, ACK_TIMEOUT_MS, &n->probe, err) < 0)
		return -1;
	nlh = elems_dump_req(buf, family, table, set);
	if (cnl_exchange(n->probe, nlh, other_elem, &o, &t, err) < 0)
		return cni_error_wrap(err, "probe set %s %s %s", nft_family_str(family), table, set);
	if (t.errnum && !absent(t.errnum))
		r = cnl_reply_error(err, &t, "probe set %s %s %s", nft_family_str(family), table,
				    set);
	cnl_reply_done(&t);
	return r < 0 ? -1 : o.found;
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

static int collect_chain_handle(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
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
	struct nftnl_chain *c = nft_chain_obj(table, chain);
	char buf[CNIC_NFT_OBJ_ROOM];
	struct nlmsghdr *nlh;
	struct cnl_reply t;
	uint64_t h = 0;
	int r;

	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, family, NLM_F_ACK, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	if (cnl_exchange(n->nl, nlh, collect_chain_handle, &h, &t, err) < 0)
		return -1;
	if (t.errnum && !absent(t.errnum))
		r = cnl_reply_error(err, &t, "get chain %s %s %s", nft_family_str(family), table,
				    chain);
	else
		r = t.errnum || !h ? 0 : 1;
	cnl_reply_done(&t);
	if (r == 1)
		*ret = h;
	return r;
}
