/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The part of pkg/rtnl that needs no libnl: the namespace's socket, the
 * wording of the kernel's errors, and requests on an already built message
 * (a struct nlmsghdr).  Kept apart so that a plugin building its messages
 * itself (bandwidth) does not link libnl-3, whose constructors run at every
 * start of a static binary that contains it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>

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

int cnl_talk_hdr(struct cnl_sock *s, struct nlmsghdr *h, bool ack, cnl_parse_fn parse, void *arg,
		 struct cni_error **err)
{
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

int cnl_vrequest_hdr(struct netns *ns, struct nlmsghdr *h, bool ack, cnl_parse_fn parse, void *arg,
		     struct cni_error **err, const char *fmt, va_list ap)
{
	struct cnl_sock *s;
	char *what;

	if (cnl_sock_get(ns, &s, err) == 0 && cnl_talk_hdr(s, h, ack, parse, arg, err) == 0)
		return 0;
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	if (what)
		cni_error_wrap(err, "%s", what);
	free(what);
	return -1;
}

int cnl_dump_hdr(struct cnl_sock *s, struct nlmsghdr *h, cnl_parse_fn parse,
		 void (*reset)(void *arg), void *arg, struct cni_error **err)
{
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
