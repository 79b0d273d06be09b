/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rtnetlink transport under link.h, addr.h and route.h: one socket per
 * network namespace, requests with an ACK checked for their own sequence
 * number, dumps retried when the kernel flags them inconsistent, and the one
 * place where netlink failures become a struct cni_error.
 *
 * libnl-3 builds the messages (nl_msg, nla_*) and nlsock.h moves them: the
 * messages are built and parsed here and in link/addr/route directly, with
 * no libnl object caches, so every request asks the kernel for exactly the
 * object it needs and every flag that goes on the wire is visible in our
 * code.
 *
 * Symbols use the cnl_ prefix ("cnic netlink"): libnl owns rtnl_* and nl_*,
 * and libnl-route also exports bare link_* and route_* names.
 *
 * Errors: the message is the kernel's errno text, prefixed by the verb with
 * the object it concerns ("add address 198.18.0.2/24 to \"eth0\": File
 * exists"); errnum is the positive errno; details carry the kernel's
 * extended ACK ("kernel: ...") when it sent one.
 */
#ifndef CNIC_RTNL_H
#define CNIC_RTNL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "netns.h"
#include "nlsock.h"

struct nl_msg;

/*
 * The rtnetlink socket of ns: created inside ns on first use (through
 * netns_run) and kept in ns->rtnl, freed by netns_close() (cnl_sock_free).
 * Borrowed.  Parse functions (cnl_parse_fn) are as in nlsock.h.
 */
int cnl_sock_get(struct netns *ns, struct cnl_sock **ret, struct cni_error **err);

/*
 * Send msg (sequence number and NLM_F_ACK are added) and read replies until
 * the kernel's ACK, error or end of dump.  On a kernel error *err gets the
 * errno and the extended ACK; callers wrap it with the object's name.
 * Does not free msg.
 */
int cnl_talk(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
	     struct cni_error **err);

/*
 * A dump request (msg must have NLM_F_DUMP): as cnl_talk, but redone when
 * the kernel marks it interrupted (cnl_dump_retry in nlsock.h).
 */
int cnl_dump(struct cnl_sock *s, struct nl_msg *msg, cnl_parse_fn parse, void (*reset)(void *arg),
	     void *arg, struct cni_error **err);

/*
 * A request message: nlmsghdr of type/flags (NLM_F_REQUEST is added) and a
 * copy of the family header hdr.  Aborts on out-of-memory, as xmalloc.
 */
struct nl_msg *cnl_msg_new(int type, int flags, const void *hdr, size_t hdrlen);
void cnl_msg_freep(struct nl_msg **m);
#define cleanup_nlmsg __attribute__((cleanup(cnl_msg_freep)))

/*
 * cnl_talk() on ns's socket; on failure the error is prefixed with the
 * printf-formatted description of what was being done to which object.
 */
int cnl_request(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		struct cni_error **err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/*
 * As cnl_request(), for a GET of one object (not a dump): the kernel
 * answers with the object or with an error, so no ACK is asked for and
 * the first reply ends the exchange (one read less).  parse sees that
 * reply only.
 */
int cnl_request_get(struct netns *ns, struct nl_msg *msg, cnl_parse_fn parse, void *arg,
		    struct cni_error **err, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/*
 * The same on a message built without libnl (pkg/rtnl_core.c, which a
 * plugin can link without libnl-3): NLM_F_REQUEST, and NLM_F_ACK when ack,
 * are added to h.  cnl_vrequest_hdr is cnl_request / cnl_request_get (ack
 * false) with a va_list.
 */
int cnl_talk_hdr(struct cnl_sock *s, struct nlmsghdr *h, bool ack, cnl_parse_fn parse, void *arg,
		 struct cni_error **err);
int cnl_vrequest_hdr(struct netns *ns, struct nlmsghdr *h, bool ack, cnl_parse_fn parse, void *arg,
		     struct cni_error **err, const char *fmt, va_list ap)
	__attribute__((format(printf, 7, 0)));
int cnl_dump_hdr(struct cnl_sock *s, struct nlmsghdr *h, cnl_parse_fn parse,
		 void (*reset)(void *arg), void *arg, struct cni_error **err);

/* Did the kernel say the object does not exist (ENODEV, ENOENT, ESRCH, ENXIO)? */
bool cnl_not_found(const struct cni_error *e);

/* A failed nlmsg/nla put (message too large): internal error naming what. */
int cnl_put_failed(struct cni_error **err, const char *what);

#endif
