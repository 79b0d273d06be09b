/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The netlink message builders the floor programs share (floor-bridge.c,
 * floor-bandwidth.c): a request buffer, an attribute appended, a nest
 * closed.  Raw on purpose: the floors measure the kernel's work, not a
 * library's.  Each program is built from its one .c file, so these are
 * static inline here (a program may use only some).
 */
#ifndef CNIC_BENCH_FLOORNL_H
#define CNIC_BENCH_FLOORNL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>

#define BUF 4096

struct req {
	struct nlmsghdr h;
	char buf[BUF];
};

/* Append attribute type (len bytes of data, or an empty nest to close with end()). */
static inline struct rtattr *put(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static inline void end(struct nlmsghdr *h, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)nest);
}

#endif
