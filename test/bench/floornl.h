/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The netlink helpers the floor programs share (floor-bridge.c,
 * floor-bandwidth.c, floor-loopback.c, floor-sbr.c): a request buffer, an
 * attribute appended, a nest closed, a request sent and its answers read.  Raw on purpose: the floors measure the kernel's work, not a
 * library's.  Each program is built from its one .c file, so these are
 * static inline here (a program may use only some).
 */
#ifndef CNIC_BENCH_FLOORNL_H
#define CNIC_BENCH_FLOORNL_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

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

/* q as a request of type (ACK asked) with flags, its family header (hdr bytes) zeroed. */
static inline void *nl_init(struct req *q, int type, int flags, size_t hdr)
{
	memset(q, 0, sizeof(q->h) + NLMSG_ALIGN(hdr) + 128);
	q->h.nlmsg_len = (unsigned)NLMSG_LENGTH(hdr);
	q->h.nlmsg_type = (unsigned short)type;
	q->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	return NLMSG_DATA(&q->h);
}

/*
 * Send q and read every answer up to its ACK or NLMSG_DONE, each other
 * message of it to parse (if any): 0, or the errno (EAGAIN: a dump was
 * interrupted by a change).
 */
static inline int nl_talk(int fd, struct req *q, void (*parse)(const struct nlmsghdr *, void *),
			  void *arg)
{
	static unsigned seq;
	static char buf[65536] __attribute__((aligned(4)));

	q->h.nlmsg_seq = ++seq;
	if (send(fd, &q->h, q->h.nlmsg_len, 0) < 0)
		return errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				return EAGAIN;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (parse)
				parse(h, arg);
		}
	}
}

/*
 * An rtnetlink socket created inside the netns nsfd (setns in, socket,
 * setns back), with the plugins' options: extended and capped ACKs, strict
 * dump checking (the kernel then filters dumps by the request's fields).
 * 0 and the socket in *ret, or the errno.
 */
static inline int nl_sock_in(int nsfd, int *ret)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int one = 1, fd, e = 0;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	if (self < 0)
		return errno;
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		e = errno;
		close(self);
		return e;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
	} else {
		(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
		(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
		(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	}
	if (setns(self, CLONE_NEWNET) < 0)
		return errno;
	close(self);
	if (e)
		return e;
	*ret = fd;
	return 0;
}

#endif
