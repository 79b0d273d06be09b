/* SPDX-License-Identifier: Apache-2.0 */
/* The one netlink request path (see nlsock.h). */
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "nlsock.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* A read interrupted by a signal is retried, a bounded number of times. */
#define EINTR_TRIES 8

/*
 * One receive buffer in .bss, lent to the first socket that reads and
 * given back when it is freed; the others get one of their own.  A plugin
 * that talks to one or two namespaces then touches only the pages of it
 * the kernel writes: a heap buffer also costs the page its end shares with
 * the next allocation, and pushes every later allocation onto fresh pages.
 */
#ifdef __x86_64__
/* After .bss (the large-data section): in .bss it would scatter the small variables around it. */
#define SPARE_SECTION __attribute__((section(".lbss")))
#else
#define SPARE_SECTION
#endif
static char spare_buf[CNL_RECV_BUF] SPARE_SECTION __attribute__((aligned(4096)));
static const struct cnl_sock *spare_owner;

static char *recv_buf(struct cnl_sock *s)
{
	if (!s->buf) {
		if (!spare_owner) {
			spare_owner = s;
			s->buf = spare_buf;
		} else {
			s->buf = xmalloc(CNL_RECV_BUF);
		}
	}
	return s->buf;
}

/*
 * Where a socket's sequence numbers start: unlike a counter from 0, a
 * leftover reply of an earlier process's socket cannot match.  Random
 * rather than the clock, once per process: the clock's first read faults
 * in the vDSO's data page, a syscall is cheaper.
 */
static uint32_t seq_base(void)
{
	static uint32_t base;
	static bool known;

	if (!known && getrandom(&base, sizeof(base), GRND_NONBLOCK) != sizeof(base))
		base = 0x636e6963; /* no entropy yet: any start works */
	known = true;
	return base;
}

static const char *proto_name(int proto)
{
	return proto == NETLINK_ROUTE ? "rtnetlink" : "netfilter";
}

static void setopt(int fd, int opt)
{
	int one = 1;

	/* ENOPROTOOPT on old kernels: we only lose the kernel's message text / strict dumps. */
	(void)setsockopt(fd, SOL_NETLINK, opt, &one, sizeof(one));
}

/* socket + bind: the kernel picks the port id. */
static int open_fd(int proto, int flags, const char *name, struct cni_error **err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, proto);

	if (fd < 0)
		return cni_error_errno(err, errno, "%s socket", name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		(void)close(fd);
		return cni_error_errno(err, e, "bind %s socket", name);
	}
	return fd;
}

int cnl_sock_open(int proto, unsigned int timeout_ms, struct cnl_sock **ret, struct cni_error **err)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);
	struct cnl_sock *s;
	const char *name = proto_name(proto);
	int fd = open_fd(proto, 0, name, err);

	if (fd < 0)
		return -1;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;

		(void)close(fd);
		return cni_error_errno(err, e, "%s socket address", name);
	}
	setopt(fd, NETLINK_EXT_ACK);
	/* Our requests never need their own payload echoed back in an error. */
	setopt(fd, NETLINK_CAP_ACK);
	if (proto == NETLINK_ROUTE)
		setopt(fd, NETLINK_GET_STRICT_CHK);
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->portid = sa.nl_pid;
	s->seq = seq_base();
	s->timeout_ms = timeout_ms;
	s->name = name;
	*ret = s;
	return 0;
}

void cnl_sock_free(struct cnl_sock *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		(void)close(s->fd);
	if (s == spare_owner)
		spare_owner = NULL;
	else
		free(s->buf);
	free(s);
}

int cnl_monitor_socket(int proto, const unsigned int *groups, size_t n, int *ret_fd,
		       struct cni_error **err)
{
	cleanup_close int fd = open_fd(proto, SOCK_NONBLOCK, proto_name(proto), err);

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int g = (int)groups[i];

		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
			return cni_error_errno(err, errno, "subscribe to %s group %d",
					       proto_name(proto), g);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- primitives --------------------------------------------------------- */

int cnl_sendv(struct cnl_sock *s, const struct iovec *iov, size_t n)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct msghdr msg = {
		.msg_name = &sa,
		.msg_namelen = sizeof(sa),
		.msg_iov = (struct iovec *)iov,
		.msg_iovlen = n,
	};

	return sendmsg(s->fd, &msg, 0) < 0 ? -1 : 0;
}

ssize_t cnl_recv(struct cnl_sock *s, bool wait)
{
	for (int i = 0; i < EINTR_TRIES; i++) {
		/* MSG_TRUNC: the datagram's real length, so a cut reply is an error, not garbage. */
		ssize_t n = recv(s->fd, recv_buf(s), CNL_RECV_BUF, MSG_DONTWAIT | MSG_TRUNC);
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int r;

		if (n > (ssize_t)CNL_RECV_BUF) {
			errno = EMSGSIZE;
			return -1;
		}
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait)
			return -1;
		/*
		 * One wait per read: a socket that polls readable but keeps
		 * answering EAGAIN must not spin (the caller gives up).
		 */
		wait = false;
		s->waits++;
		r = poll(&p, 1, (int)s->timeout_ms);
		if (r == 0) {
			errno = EAGAIN;
			return -1;
		}
		if (r < 0 && errno != EINTR)
			return -1;
	}
	errno = EINTR;
	return -1;
}

bool cnl_ours(const struct cnl_sock *s, const struct nlmsghdr *nlh, uint32_t lo, uint32_t hi)
{
	return nlh->nlmsg_pid == s->portid && nlh->nlmsg_seq - lo <= hi - lo;
}

char *cnl_extack(const struct nlmsghdr *nlh)
{
	const char *msg = NULL;
	size_t off, msg_len = 0;
	bool has_miss = false, has_offs = false;
	uint32_t miss = 0, offs = 0;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
			return NULL;
		off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*e));
		/* Without NETLINK_CAP_ACK (or where the kernel ignores it) our request follows. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
			if (e->msg.nlmsg_len < NLMSG_HDRLEN)
				return NULL;
			off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
		}
	} else if (nlh->nlmsg_type == NLMSG_DONE) {
		off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(int));
	} else {
		return NULL;
	}
	while (off + NLA_HDRLEN <= nlh->nlmsg_len) {
		const struct nlattr *a = (const void *)((const char *)nlh + off);
		const char *p = (const char *)a + NLA_HDRLEN;
		size_t plen;

		if (a->nla_len < NLA_HDRLEN || off + a->nla_len > nlh->nlmsg_len)
			break;
		plen = a->nla_len - NLA_HDRLEN;
		switch (a->nla_type & NLA_TYPE_MASK) {
		case NLMSGERR_ATTR_MSG:
			if (plen > 0) {
				msg = p;
				msg_len = strnlen(p, plen);
			}
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			if (plen >= sizeof(miss)) {
				memcpy(&miss, p, sizeof(miss));
				has_miss = true;
			}
			break;
		case NLMSGERR_ATTR_OFFS:
			if (plen >= sizeof(offs)) {
				memcpy(&offs, p, sizeof(offs));
				has_offs = true;
			}
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	if (msg && msg_len)
		return xstrndup(msg, msg_len);
	if (has_miss)
		return xasprintf("missing attribute type %u", miss);
	if (has_offs)
		return xasprintf("invalid attribute at offset %u of the request", offs);
	return NULL;
}

/* ---- exchanges ---------------------------------------------------------- */

void cnl_reply_done(struct cnl_reply *r)
{
	free(r->extack);
	memset(r, 0, sizeof(*r));
}

/* A request asking for neither an ACK nor a dump: its first answer is its last. */
static bool one_answer(const struct nlmsghdr *req)
{
	return !(req->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP));
}

/*
 * One message answering an exchange (ours, for its seq); true once the
 * exchange is over.  one: the request ends with its first answer.
 */
static bool answer(struct cnl_sock *s, const struct nlmsghdr *nlh, cnl_parse_fn parse, void *arg,
		   bool one, struct cnl_reply *r, struct cni_error **perr)
{
	int rc;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		r->interrupted = true;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nlh);

		if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
			r->errnum = EPROTO;
		} else if (e->error) {
			r->errnum = -e->error;
			r->extack = cnl_extack(nlh);
		}
		return true;
	}
	if (nlh->nlmsg_type == NLMSG_DONE) {
		int status;

		/* Its payload is the dump's status (negative errno on failure). */
		if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(status))) {
			memcpy(&status, NLMSG_DATA(nlh), sizeof(status));
			if (status < 0) {
				r->errnum = -status;
				r->extack = cnl_extack(nlh);
			}
		}
		return true;
	}
	if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
		return false; /* NOOP, OVERRUN */
	if (!parse || *perr)
		return one; /* keep draining after a parse error */
	rc = parse(nlh, arg, perr);
	if (rc < 0 && !*perr)
		cni_error_set(perr, CNI_ERR_INTERNAL, EPROTO, "unparsable %s reply", s->name);
	if (rc == 1) {
		r->stopped = true;
		return true;
	}
	return one;
}

/* One datagram of replies; true once the exchange is over. */
static bool digest(struct cnl_sock *s, size_t len, uint32_t seq, cnl_parse_fn parse, void *arg,
		   bool one, struct cnl_reply *r, struct cni_error **perr)
{
	for (const struct nlmsghdr *nlh = (const void *)s->buf; NLMSG_OK(nlh, len);
	     nlh = NLMSG_NEXT(nlh, len)) {
		/* Not from the kernel for this request: a leftover of an earlier, aborted exchange. */
		if (!cnl_ours(s, nlh, seq, seq))
			continue;
		if (answer(s, nlh, parse, arg, one, r, perr))
			return true;
	}
	return false;
}

int cnl_exchange(struct cnl_sock *s, struct nlmsghdr *req, cnl_parse_fn parse, void *arg,
		 struct cnl_reply *r, struct cni_error **err)
{
	struct cni_error *perr = NULL;
	uint32_t seq = ++s->seq;
	bool done = false;

	memset(r, 0, sizeof(*r));
	req->nlmsg_seq = seq;
	req->nlmsg_pid = s->portid;
	/* sendmsg, as every netlink send here: one syscall name to trace or fail in tests. */
	if (cnl_sendv(s, &(struct iovec){ req, req->nlmsg_len }, 1) < 0)
		return cni_error_errno(err, errno, "%s send", s->name);
	while (!done) {
		ssize_t len = cnl_recv(s, true);

		if (len < 0) {
			int e = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;

			cni_error_free(perr);
			cnl_reply_done(r);
			return cni_error_errno(err, e, "%s receive", s->name);
		}
		done = digest(s, (size_t)len, seq, parse, arg, one_answer(req), r, &perr);
	}
	/* The kernel's refusal says more than what we could not parse of its reply. */
	if (perr && !r->errnum) {
		cnl_reply_done(r);
		return cni_error_move(err, &perr);
	}
	cni_error_free(perr);
	return 0;
}

int cnl_exchange_many(struct cnl_sock *s, struct cnl_query *q, size_t n, struct cni_error **err)
{
	cleanup_free struct iovec *iov = xcalloc(n ? n : 1, sizeof(*iov));
	cleanup_free struct cni_error **perr = xcalloc(n ? n : 1, sizeof(*perr));
	uint32_t first = s->seq + 1;
	size_t left = n;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		memset(&q[i].r, 0, sizeof(q[i].r));
		q[i].done = false;
		q[i].req->nlmsg_seq = ++s->seq;
		q[i].req->nlmsg_pid = s->portid;
		iov[i] = (struct iovec){ q[i].req, q[i].req->nlmsg_len };
	}
	if (n && cnl_sendv(s, iov, n) < 0)
		return cni_error_errno(err, errno, "%s send", s->name);
	while (left) {
		ssize_t len = cnl_recv(s, true);

		if (len < 0) {
			int e = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;

			rc = cni_error_errno(err, e, "%s receive", s->name);
			break;
		}
		/* Each of our answers in the datagram, to the request it answers. */
		for (const struct nlmsghdr *nlh = (const void *)s->buf; NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			size_t i;

			if (!cnl_ours(s, nlh, first, first + (uint32_t)n - 1))
				continue;
			i = nlh->nlmsg_seq - first;
			if (q[i].done)
				continue;
			if (answer(s, nlh, q[i].parse, q[i].arg, one_answer(q[i].req), &q[i].r,
				   &perr[i])) {
				q[i].done = true;
				left--;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* As cnl_exchange: the kernel's refusal says more than our parse error. */
		if (rc == 0 && perr[i] && !q[i].r.errnum) {
			rc = cni_error_move(err, &perr[i]);
		}
		cni_error_free(perr[i]);
	}
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			cnl_reply_done(&q[i].r);
	return rc;
}

int cnl_dump_retry(struct cnl_sock *s, struct nlmsghdr *req, cnl_parse_fn parse,
		   void (*reset)(void *arg), void *arg, struct cnl_reply *r, struct cni_error **err)
{
	for (int i = 0; i < CNL_DUMP_TRIES; i++) {
		if (i > 0 && reset)
			reset(arg);
		if (i > 0)
			cnl_reply_done(r);
		if (cnl_exchange(s, req, parse, arg, r, err) < 0)
			return -1;
		if (r->errnum || !r->interrupted)
			return 0;
	}
	cnl_reply_done(r);
	if (reset)
		reset(arg);
	return cni_error_set(err, CNI_ERR_TRY_AGAIN, EAGAIN,
			     "netlink dump interrupted %d times in a row (tables kept changing)",
			     CNL_DUMP_TRIES);
}

int cnl_reply_error(struct cni_error **err, const struct cnl_reply *r, const char *fmt, ...)
{
	cleanup_free char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	cni_error_errno(err, r->errnum, "%s", what ? what : "netlink request");
	if (r->extack)
		cni_error_add_details(err, "kernel: %s", r->extack);
	return -1;
}
