/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "cleanup.h"
#include "rtnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define DUMP_TRIES 5
#define RECV_TIMEOUT_S 30
#define RECV_BUF_SIZE 65536

struct cnl_sock {
	struct nl_sock *sk;
	struct nl_cb *cb;
};

/* State of one request while its replies are read. */
struct talk {
	uint32_t seq;
	cnl_parse_fn parse;
	void *arg;
	bool done;	  /* ACK, error or end of dump seen */
	bool interrupted; /* some dump part carried NLM_F_DUMP_INTR */
	int errnum;	  /* kernel's errno (positive), 0 if none */
	char *extack;	  /* kernel's extended ACK text */
	struct cni_error *parse_err;
};

/* The single NLE_* -> errno table: libnl reports local failures this way. */
static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_INTR:
		return EINTR;
	case NLE_BAD_SOCK:
		return EBADF;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_EXIST:
		return EEXIST;
	case NLE_INVAL:
		return EINVAL;
	case NLE_RANGE:
		return ERANGE;
	case NLE_MSGSIZE:
		return EMSGSIZE;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	case NLE_BUSY:
		return EBUSY;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_PERM:
		return EPERM;
	case NLE_NODEV:
		return ENODEV;
	case NLE_MSG_OVERFLOW:
		return ENOBUFS;
	case NLE_DUMP_INTR:
		return EAGAIN;
	default: /* sequence/truncation/parse trouble */
		return EPROTO;
	}
}

/*
 * The errno of a failed libnl socket call.  libnl folds the syscall errnos
 * it has no code for (EMFILE, ENFILE, EIO, ...) into NLE_FAILURE, which
 * would read as "Protocol error"; the syscall's own errno, still in errno
 * (the caller zeroes it before the call), says what happened.
 */
static int sys_errno(int nle, int saved)
{
	int e = nle_errno(nle);

	if (e == EPROTO && (nle == -NLE_FAILURE || nle == NLE_FAILURE) && saved > 0)
		return saved;
	return e;
}

bool cnl_not_found(const struct cni_error *e)
{
	return e && (e->errnum == ENODEV || e->errnum == ENOENT || e->errnum == ESRCH ||
		     e->errnum == ENXIO);
}

int cnl_put_failed(struct cni_error **err, const char *what)
{
	return cni_error_set(err, CNI_ERR_INTERNAL, EMSGSIZE, "%s: netlink message too large",
			     what);
}

struct nl_msg *cnl_msg_new(int type, int flags, const void *hdr, size_t hdrlen)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, flags);

	/* A fresh message has a page of room: only allocation can fail here. */
	if (!m || nlmsg_append(m, (void *)hdr, hdrlen, NLMSG_ALIGNTO) < 0) {
		static const char oom[] = "cnic: out of memory\n";

		(void)!write(STDERR_FILENO, oom, sizeof(oom) - 1);
		abort();
	}
	return m;
}

void cnl_msg_freep(struct nl_msg **m)
{
	nlmsg_free(*m);
	*m = NULL;
}

/* ---- socket ----------------------------------------------------------- */

void cnl_sock_free(struct cnl_sock *s)
{
	if (!s)
		return;
	nl_socket_free(s->sk); /* closes the fd */
	nl_cb_put(s->cb);
	free(s);
}

static void setopt(int fd, int opt)
{
	int one = 1;

	/* ENOPROTOOPT on old kernels: we only lose the kernel's message text / strict dumps. */
	(void)setsockopt(fd, SOL_NETLINK, opt, &one, sizeof(one));
}

/* Runs inside the namespace: a socket belongs to the netns it was created in. */
static int open_sock(void *arg, struct cni_error **err)
{
	struct cnl_sock **ret = arg;
	struct cnl_sock *s;
	int r, fd;

	s = xcalloc(1, sizeof(*s));
	s->sk = nl_socket_alloc();
	s->cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!s->sk || !s->cb) {
		cnl_sock_free(s);
		return cni_error_set(err, CNI_ERR_INTERNAL, ENOMEM,
				     "rtnetlink socket: out of memory");
	}
	errno = 0;
	r = nl_connect(s->sk, NETLINK_ROUTE); /* SOCK_CLOEXEC */
	if (r < 0) {
		int e = sys_errno(r, errno);

		cnl_sock_free(s);
		return cni_error_errno(err, e, "rtnetlink socket");
	}
	/*
	 * Without MSG_PEEK each message is one recvmsg instead of two; the
	 * kernel never builds a reply part larger than 32 KiB, and a larger
	 * one would be reported truncated (NLE_MSG_TRUNC), not cut silently.
	 */
	nl_socket_disable_msg_peek(s->sk);
	(void)nl_socket_set_msg_buf_size(s->sk, RECV_BUF_SIZE);
	fd = nl_socket_get_fd(s->sk);
	setopt(fd, NETLINK_EXT_ACK);
	/* Our requests never need their own payload echoed back in an error. */
	setopt(fd, NETLINK_CAP_ACK);
	setopt(fd, NETLINK_GET_STRICT_CHK);
	/*
	 * The kernel answers rtnetlink requests synchronously; the timeout only
	 * bounds the wait should a reply ever be lost.
	 */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = RECV_TIMEOUT_S },
			 sizeof(struct timeval));
	*ret = s;
	return 0;
}

int cnl_sock_get(struct netns *ns, struct cnl_sock **ret, struct cni_error **err)
{
	struct cnl_sock *s = NULL;

	/* Callers name the namespace in their message. */
	if (!ns->rtnl) {
		if (netns_run(ns, open_sock, &s, err) < 0)
			return -1;
		ns->rtnl = s;
	}
	*ret = ns->rtnl;
	return 0;
}

/* ---- replies ---------------------------------------------------------- */

/*
 * Anything not from the kernel or not answering this request (a leftover of
 * an earlier, aborted exchange) is skipped, as iproute2 does.
 */
static int on_seq_check(struct nl_msg *msg, void *arg)
{
	struct talk *t = arg;
	struct sockaddr_nl *src = nlmsg_get_src(msg);

	if ((src && src->nl_pid != 0) || nlmsg_hdr(msg)->nlmsg_seq != t->seq)
		return NL_SKIP;
	return NL_OK;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct talk *t = arg;

	if (!t->parse || t->parse_err)
		return NL_SKIP; /* keep draining to the end of the reply */
	if (t->parse(nlmsg_hdr(msg), t->arg, &t->parse_err) < 0 && !t->parse_err)
		cni_error_set(&t->parse_err, CNI_ERR_INTERNAL, EPROTO, "unparsable netlink reply");
	return NL_OK;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct talk *t = arg;

	t->done = true;
	return NL_STOP;
}

static int on_dump_intr(struct nl_msg *msg, void *arg)
{
	struct talk *t = arg;

	t->interrupted = true;
	return NL_OK;
}

/*
 * The extended ACK attributes follow the nlmsgerr and, unless the kernel
 * capped it, a copy of our request.  libnl 3.7 does not read them, so the
 * error callback finds the enclosing header (nlmsgerr is its payload) and
 * parses them itself.
 */
static void read_extack(struct talk *t, const struct nlmsghdr *h)
{
	const struct nlmsgerr *e = nlmsg_data(h);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off;

	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*e));
	if (!(h->nlmsg_flags & NLM_F_CAPPED)) {
		if (e->msg.nlmsg_len < NLMSG_HDRLEN)
			return;
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	}
	if (off >= h->nlmsg_len)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)h + off),
		      (int)(h->nlmsg_len - off), NULL) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG] && nla_len(tb[NLMSGERR_ATTR_MSG]) > 0) {
		const char *s = nla_data(tb[NLMSGERR_ATTR_MSG]);

		t->extack = xstrndup(s, (size_t)nla_len(tb[NLMSGERR_ATTR_MSG]));
	} else if (tb[NLMSGERR_ATTR_MISS_TYPE] && nla_len(tb[NLMSGERR_ATTR_MISS_TYPE]) >= 4) {
		t->extack = xasprintf("missing attribute type %u",
				      nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]));
	} else if (tb[NLMSGERR_ATTR_OFFS] && nla_len(tb[NLMSGERR_ATTR_OFFS]) >= 4) {
		t->extack = xasprintf("invalid attribute at offset %u of the request",
				      nla_get_u32(tb[NLMSGERR_ATTR_OFFS]));
	}
}

static int on_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct talk *t = arg;
	const struct nlmsghdr *h = (const struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);

	if (h->nlmsg_seq != t->seq || (nla && nla->nl_pid != 0))
		return NL_SKIP;
	t->done = true;
	t->errnum = -e->error;
	read_extack(t, h);
	return NL_STOP;
}

/* End of dump; its payload is the dump's status (negative errno on failure). */
static int on_finish(struct nl_msg *msg, void *arg)
{
	struct talk *t = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);

	t->done = true;
	if (nlmsg_datalen(h) >= (int)sizeof(int)) {
		int status;

		memcpy(&status, nlmsg_data(h), sizeof(status));
		if (status < 0)
			t->errnum = -status;
	}
	return NL_STOP;
}

static int exchange(struct cnl_sock *s, struct nl_msg *msg, struct talk *t, struct cni_error **err)
{
	int r;

	nl_cb_set(s->cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq_check, t);
	nl_cb_set(s->cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, t);
	nl_cb_set(s->cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, t);
	nl_cb_set(s->cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, t);
	nl_cb_set(s->cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, on_dump_intr, t);
	nl_cb_err(s->cb, NL_CB_CUSTOM, on_error, t);

	/* A fresh sequence number each time, also when a dump is resent. */
	nlmsg_hdr(msg)->nlmsg_seq = NL_AUTO_SEQ;
	errno = 0;
	r = nl_send_auto(s->sk, msg);
	if (r < 0)
		return cni_error_errno(err, sys_errno(r, errno), "rtnetlink send");
	t->seq = nlmsg_hdr(msg)->nlmsg_seq;

	while (!t->done) {
		/* The number of messages read, 0 when there was nothing (timeout, EOF). */
		errno = 0;
		r = nl_recvmsgs_report(s->sk, s->cb);
		if (r <= 0 && !t->done) {
			int e = r ? sys_errno(r, errno) : ETIMEDOUT;

			cni_error_free(t->parse_err);
			t->parse_err = NULL;
			return cni_error_errno(err, e, "rtnetlink receive");
		}
	}
	if (t->errnum) {
		cni_error_free(t->parse_err);
		t->parse_err = NULL;
		cni_error_set(err, cni_code_for_errno(t->errnum), t->errnum, "%s",
			      strerror(t->errnum));
		if (t->extack)
			cni_error_add_details(err, "kernel: %s", t->extack);
		return -1;
	}
	if (t->parse_err) {
		cni_error_move(err, &t->parse_err);
		t->parse_err = NULL;
		return -1;
	}
	return 0;
}

int cnl_talk(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
	     struct cni_error **err)
{
	struct talk t = { .parse = parse, .arg = arg };
	int r;

	r = exchange(s, msg, &t, err);
	free(t.extack);
	return r;
}

int cnl_request(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		struct cni_error **err, const char *fmt, ...)
{
	struct cnl_sock *s;
	char *what;
	va_list ap;

	if (cnl_sock_get(ns, &s, err) == 0 && cnl_talk(s, msg, parse, arg, err) == 0)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (what)
		cni_error_wrap(err, "%s", what);
	free(what);
	return -1;
}

int cnl_dump(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void (*reset)(void *arg),
	     void *arg, struct cni_error **err)
{
	for (int i = 0; i < DUMP_TRIES; i++) {
		struct talk t = { .parse = parse, .arg = arg };
		int r;

		if (i > 0 && reset)
			reset(arg);
		r = exchange(s, msg, &t, err);
		free(t.extack);
		if (r < 0)
			return -1;
		if (!t.interrupted)
			return 0;
	}
	if (reset)
		reset(arg);
	return cni_error_set(err, CNI_ERR_TRY_AGAIN, EAGAIN,
			     "netlink dump interrupted %d times in a row (tables kept changing)",
			     DUMP_TRIES);
}
