/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/netlink.h>
#include <netlink/msg.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "rtnl.h"

/*
 * The kernel answers rtnetlink requests synchronously; the bound only
 * matters should a reply ever be lost.
 */
#define RECV_TIMEOUT_MS 30000

bool cnl_not_found(const struct cni_error *e)
{
	return e && (e->errnum == ENODEV || e->errnum == ENOENT || e->errnum == ESRCH ||
		     e->errnum == ENXIO);
}

int cnl_put_failed(struct cni_error **err, const char *what)
{
	return cni_error_set(err, CNI_ERR_INTERNAL, EMSGSIZE, "%s: netlink message too large", what);
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

/* Runs inside the namespace: a socket belongs to the netns it was created in. */
static int open_sock(void *arg, struct cni_error **err)
{
	return cnl_sock_open(NETLINK_ROUTE, RECV_TIMEOUT_MS, arg, err);
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

/* ---- requests --------------------------------------------------------- */

/* The kernel's refusal: its errno text, to be prefixed with the object by callers. */
static int kernel_error(const struct cnl_reply *r, struct cni_error **err)
{
	cni_error_set(err, cni_code_for_errno(r->errnum), r->errnum, "%s", strerror(r->errnum));
	if (r->extack)
		cni_error_add_details(err, "kernel: %s", r->extack);
	return -1;
}

static int talk(struct cnl_sock *s, struct nl_msg *msg, bool ack, cnl_parse_fn parse, void *arg,
		struct cni_error **err)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct cnl_reply r;
	int rc = 0;

	h->nlmsg_flags |= NLM_F_REQUEST | (ack ? NLM_F_ACK : 0);
	if (cnl_exchange(s, h, parse, arg, &r, err) < 0)
		return -1;
	if (r.errnum)
		rc = kernel_error(&r, err);
	cnl_reply_done(&r);
	return rc;
}

int cnl_talk(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
	     struct cni_error **err)
{
	return talk(s, msg, true, parse, arg, err);
}

static int vrequest(struct netns *ns, struct nl_msg *msg, bool ack, cnl_parse_fn parse, void *arg,
		    struct cni_error **err, const char *fmt, va_list ap)
{
	struct cnl_sock *s;
	char *what;

	if (cnl_sock_get(ns, &s, err) == 0 && talk(s, msg, ack, parse, arg, err) == 0)
		return 0;
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	if (what)
		cni_error_wrap(err, "%s", what);
	free(what);
	return -1;
}

int cnl_request(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		struct cni_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrequest(ns, msg, true, parse, arg, err, fmt, ap);
	va_end(ap);
	return r;
}

int cnl_request_get(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		    struct cni_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vrequest(ns, msg, false, parse, arg, err, fmt, ap);
	va_end(ap);
	return r;
}

int cnl_dump(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void (*reset)(void *arg),
	     void *arg, struct cni_error **err)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct cnl_reply r;
	int rc = 0;

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (cnl_dump_retry(s, h, parse, reset, arg, &r, err) < 0)
		return -1;
	if (r.errnum)
		rc = kernel_error(&r, err);
	cnl_reply_done(&r);
	return rc;
}
