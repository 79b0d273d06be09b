/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one netlink request path under rtnl.c (rtnetlink), nft.c (nftables),
 * conntrack.c (ctnetlink) and the link monitor: a socket with its port id,
 * sequence numbers and receive buffer; a request/ACK exchange that skips
 * what does not answer it, reads the kernel's extended ACK and notices
 * interrupted dumps; a dump that is redone when interrupted; bounded waits.
 *
 * Reads are non-blocking first: the kernel answers rtnetlink and
 * nfnetlink requests inside the send call, and queues the next part of a
 * dump while we read the previous one, so a reply costs one recv.  Only
 * when nothing is queued does a read wait, once, with poll bounded by the
 * socket's timeout; a socket that then still has nothing (nothing came, or
 * it polls readable but answers EAGAIN) ends the exchange with ETIMEDOUT.
 *
 * Messages are built elsewhere (libnl-3 for rtnetlink, libnftnl and libmnl
 * for netfilter): this file only moves bytes and reads the replies.
 */
#ifndef CNIC_NLSOCK_H
#define CNIC_NLSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

struct nlmsghdr;

/* Receive buffer: the kernel never builds a reply part larger than 32 KiB. */
#define CNL_RECV_BUF (64u << 10)

struct cnl_sock {
	int fd;
	uint32_t portid;	 /* ours: the kernel's replies carry it */
	uint32_t seq;		 /* the last sequence number used */
	unsigned int timeout_ms; /* bound of one wait for a reply */
	unsigned int waits;	 /* reads that had to wait (poll), ever */
	const char *name;	 /* "rtnetlink", "netfilter": for messages */
	char *buf;		 /* CNL_RECV_BUF bytes, from the first read on (NULL before);
				    a reply is valid until the next read */
};

/*
 * A request socket of protocol proto (NETLINK_ROUTE, NETLINK_NETFILTER) in
 * the calling thread's current netns: SOCK_CLOEXEC, bound, extended ACKs
 * on, error ACKs without our request echoed back (and strict dump
 * checks for rtnetlink), each wait for a reply bounded by timeout_ms.
 * 0, or -1 with *err.
 */
int cnl_sock_open(int proto, unsigned int timeout_ms, struct cnl_sock **ret, struct cni_error **err);
void cnl_sock_free(struct cnl_sock *s);

/*
 * A socket subscribed to the multicast groups (RTNLGRP_*, ...), for event
 * waits: only the fd, non-blocking reads are the caller's (MSG_DONTWAIT).
 */
int cnl_monitor_socket(int proto, const unsigned int *groups, size_t n, int *ret_fd,
		       struct cni_error **err);

/*
 * Called for each reply message of a request (never for ACK, ERROR or
 * DONE).  Return 0 to go on, 1 to stop reading here (the rest of a dump is
 * left on the socket and skipped by later exchanges), or -1 with *err set:
 * the rest of the reply is then drained and the request fails with it.
 */
typedef int (*cnl_parse_fn)(const struct nlmsghdr *nlh, void *arg, struct cni_error **err);

/* How the kernel answered one exchange. */
struct cnl_reply {
	int errnum;	  /* the kernel's errno (positive), 0: ACK or end of dump */
	char *extack;	  /* the kernel's extended ACK text, or NULL */
	bool interrupted; /* some dump part carried NLM_F_DUMP_INTR */
	bool stopped;	  /* parse returned 1 */
};
void cnl_reply_done(struct cnl_reply *r);

/*
 * Stamp a fresh sequence number and our port id on req, send it, and read
 * replies, calling parse (may be NULL) for each data message, until the
 * ACK, the error, the end of a dump, or parse's stop; a request asking for
 * neither an ACK nor a dump ends with its first answer.  0 when the exchange
 * completed (r->errnum says whether the kernel refused; r must be freed with
 * cnl_reply_done), -1 with *err on a local failure or a parse error.
 */
int cnl_exchange(struct cnl_sock *s, struct nlmsghdr *req, cnl_parse_fn parse, void *arg,
		 struct cnl_reply *r, struct cni_error **err);

/*
 * Several requests in one sendmsg (one round trip instead of n): each
 * gets its own sequence number and reply, read as cnl_exchange() reads
 * one (so one with neither NLM_F_ACK nor NLM_F_DUMP ends with its first
 * answer, a reply or an error: half the reads of an acknowledged one).
 * At most one dump, and last: the kernel refuses a second dump
 * while one is still running on the socket.  0 when every exchange completed (each
 * q[i].r says how; free them with cnl_reply_done), -1 with *err.
 */
struct cnl_query {
	struct nlmsghdr *req;
	cnl_parse_fn parse; /* may be NULL */
	void *arg;
	struct cnl_reply r;
	bool done;
};
int cnl_exchange_many(struct cnl_sock *s, struct cnl_query *q, size_t n, struct cni_error **err);

/*
 * A dump (req has NLM_F_DUMP) through cnl_exchange, redone with a fresh
 * sequence number while the kernel marks it interrupted (the table changed
 * under it), after reset(arg) discards what parse collected, up to
 * CNL_DUMP_TRIES times in all; then EAGAIN (code 11, try again).
 */
#define CNL_DUMP_TRIES 5
int cnl_dump_retry(struct cnl_sock *s, struct nlmsghdr *req, cnl_parse_fn parse,
		   void (*reset)(void *arg), void *arg, struct cnl_reply *r, struct cni_error **err);

/*
 * The kernel's refusal in r as *err: its errno as the message (prefixed
 * with the printf-formatted what, if any) and the extended ACK as details.
 */
int cnl_reply_error(struct cni_error **err, const struct cnl_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- primitives, for exchanges of their own shape (nftables batches) ---- */

/* Send iov[0..n) as one datagram to the kernel. 0, or -1 with errno. */
int cnl_sendv(struct cnl_sock *s, const struct iovec *iov, size_t n);

/*
 * Read one datagram into s->buf: its length, or -1 with errno (EAGAIN:
 * nothing now when !wait, else nothing after one wait of at most the
 * socket's timeout; EMSGSIZE: larger than the buffer).
 */
ssize_t cnl_recv(struct cnl_sock *s, bool wait);

/* Is nlh from the kernel for this socket, with a seq in [lo, hi]? */
bool cnl_ours(const struct cnl_sock *s, const struct nlmsghdr *nlh, uint32_t lo, uint32_t hi);

/*
 * The extended ACK text of an NLMSG_ERROR message (with or without our
 * request echoed back), or NULL: the kernel's message, else which attribute
 * was missing or bad.  Caller frees.
 */
char *cnl_extack(const struct nlmsghdr *nlh);

#endif
