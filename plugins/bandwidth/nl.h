/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rtnetlink requests of the bandwidth plugin, built in a buffer on the
 * stack and sent through pkg/rtnl_core.c (the namespace's socket, the
 * kernel's extended ACK in errors) without libnl-3: libnl's attribute code drags
 * its address parsing into a static binary, and with it sscanf, NSS,
 * dlopen and iconv - a third of the binary's text, page faults at every
 * start, and constructors that run on every call.  Every message here is
 * a few hundred bytes.
 */
#ifndef CNIC_BANDWIDTH_NL_H
#define CNIC_BANDWIDTH_NL_H

#include <linux/netlink.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../pkg/error.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/nlsock.h"
#include "../../pkg/rtnl.h"

/* Room for the largest request: an ifalias of 255 bytes with its headers. */
#define BW_MSG_MAX 512

struct bw_msg {
	union {
		struct nlmsghdr h;
		unsigned char b[BW_MSG_MAX];
	};
	bool overflow; /* an attribute did not fit: the request is not sent */
};

/* A request of type with flags (NLM_F_REQUEST is added) and its family header. */
void bw_msg_init(struct bw_msg *m, int type, int flags, const void *hdr, size_t len);
void bw_put(struct bw_msg *m, int type, const void *data, size_t len);
void bw_put_str(struct bw_msg *m, int type, const char *s);
void bw_put_u32(struct bw_msg *m, int type, uint32_t v);
void bw_put_u64(struct bw_msg *m, int type, uint64_t v);
/* A nested attribute: its offset, for bw_nest_end once its members are in. */
size_t bw_nest_start(struct bw_msg *m, int type);
void bw_nest_end(struct bw_msg *m, size_t nest);

/*
 * tb[0..max] (zeroed first) gets the last attribute of each type among
 * the len bytes at data; malformed attributes end the walk.  -1 if the
 * buffer does not hold whole attributes.
 */
int bw_attrs(const void *data, size_t len, const struct nlattr **tb, int max);
/* The attributes of a message after its family header of hdrlen bytes. */
int bw_msg_attrs(const struct nlmsghdr *h, size_t hdrlen, const struct nlattr **tb, int max);
/* The attributes nested in a. */
int bw_nested(const struct nlattr *a, const struct nlattr **tb, int max);
static inline const void *bw_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}
static inline size_t bw_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}
/* A string attribute into out (size n), cut and terminated. */
void bw_str(char *out, size_t n, const struct nlattr *a);
/* A 32-bit attribute: true and *v, or false when missing or short. */
bool bw_u32(const struct nlattr *a, uint32_t *v);

/*
 * Send m on ns's socket and read its answer, calling parse for each reply
 * message; ack: ask for an ACK (a GET without it ends with its reply).  On
 * failure *err is the kernel's errno text (extended ACK as details)
 * prefixed with the printf-formatted what.
 */
int bw_request(struct netns *ns, struct bw_msg *m, bool ack, cnl_parse_fn parse, void *arg,
	       struct cni_error **err, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* A dump, redone when interrupted (cnl_dump_retry); errors unprefixed. */
int bw_dump(struct netns *ns, struct bw_msg *m, cnl_parse_fn parse, void (*reset)(void *arg),
	    void *arg, struct cni_error **err);

/*
 * The link named ifname, or with ifindex when ifname is NULL: its index,
 * name, kind, flags, MTU, MAC and IFLA_LINK (the fields bandwidth reads).
 */
int bw_link_get(struct netns *ns, const char *ifname, int ifindex, struct cnl_link *ret,
		struct cni_error **err);
/* Delete the link named ifname: 1 deleted, 0 not there, -1 with *err. */
int bw_link_del(struct netns *ns, const char *ifname, struct cni_error **err);
/* A link's fields from an RTM_NEWLINK (the echo of a creation, a GET's reply). */
int bw_parse_link(const struct nlmsghdr *nlh, void *arg, struct cni_error **err);

#endif
