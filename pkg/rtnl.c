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

/* ---- requests --------------------------------------------------------- */

int cnl_talk(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
	     struct cni_error **err)
{
	return cnl_talk_hdr(s, nlmsg_hdr(msg), true, parse, arg, err);
}

int cnl_request(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		struct cni_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cnl_vrequest_hdr(ns, nlmsg_hdr(msg), true, parse, arg, err, fmt, ap);
	va_end(ap);
	return r;
}

int cnl_request_get(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		    struct cni_error **err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cnl_vrequest_hdr(ns, nlmsg_hdr(msg), false, parse, arg, err, fmt, ap);
	va_end(ap);
	return r;
}

int cnl_dump(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void (*reset)(void *arg),
	     void *arg, struct cni_error **err)
{
	return cnl_dump_hdr(s, nlmsg_hdr(msg), parse, reset, arg, err);
}
