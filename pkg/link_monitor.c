/* SPDX-License-Identifier: Apache-2.0 */
/* Event-driven waits on rtnetlink groups (see link_monitor.h). */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cleanup.h"
#include "link.h"
#include "nlsock.h"


uint64_t cnl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct monitor_args {
	const unsigned int *groups;
	size_t n;
	int fd;
};

/* Runs inside the namespace: the socket belongs to the netns it is created in. */
static int open_monitor(void *arg, struct cni_error **err)
{
	struct monitor_args *a = arg;

	return cnl_monitor_socket(NETLINK_ROUTE, a->groups, a->n, &a->fd, err);
}

int cnl_monitor_open(struct netns *ns, const unsigned int *groups, size_t n, int *ret_fd,
		     struct cni_error **err)
{
	struct monitor_args a = { .groups = groups, .n = n, .fd = -1 };

	if (netns_run(ns, open_monitor, &a, err) < 0)
		return cni_error_wrap(err, "netns \"%s\"", ns->path);
	*ret_fd = a.fd;
	return 0;
}

int cnl_monitor_wait(int fd, uint64_t deadline_ms, struct cni_error **err)
{
	char buf[8192];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = cnl_now_ms();
		int r;

		if (now >= deadline_ms)
			return 0;
		r = poll(&p, 1, (int)(deadline_ms - now > 60000 ? 60000 : deadline_ms - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cni_error_errno(err, errno, "wait for rtnetlink events");
		if (r > 0)
			break;
	}
	/* Drain: the events only say "look again"; ENOBUFS (overrun) says the same. */
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 || (n < 0 && (errno == EINTR || errno == ENOBUFS)))
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return cni_error_errno(err, errno, "read rtnetlink events");
		return 1;
	}
}

const char *cnl_operstate_str(unsigned char operstate)
{
	static const char *const names[] = {
		[CNL_OPER_UNKNOWN] = "unknown", [CNL_OPER_NOTPRESENT] = "notpresent",
		[CNL_OPER_DOWN] = "down",	[CNL_OPER_LOWERLAYERDOWN] = "lowerlayerdown",
		[CNL_OPER_TESTING] = "testing", [CNL_OPER_DORMANT] = "dormant",
		[CNL_OPER_UP] = "up",
	};

	if (operstate < ARRAY_SIZE(names) && names[operstate])
		return names[operstate];
	return "invalid";
}

int cnl_link_wait_oper_up(struct netns *ns, const char *ifname, unsigned int timeout_ms,
			  struct cnl_link *ret, struct cni_error **err)
{
	static const unsigned int groups[] = { RTNLGRP_LINK };
	uint64_t deadline = cnl_now_ms() + timeout_ms;
	cleanup_close int fd = -1;
	struct cnl_link l;
	int r;

	/* Usually it is up already: no monitor socket then. */
	if (cnl_link_get(ns, ifname, &l, err) < 0)
		return -1;
	if (l.operstate != CNL_OPER_UP) {
		if (cnl_monitor_open(ns, groups, ARRAY_SIZE(groups), &fd, err) < 0)
			return -1;
		for (;;) {
			if (cnl_link_get(ns, ifname, &l, err) < 0)
				return -1;
			if (l.operstate == CNL_OPER_UP)
				break;
			r = cnl_monitor_wait(fd, deadline, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				if (cnl_link_get(ns, ifname, &l, err) < 0)
					return -1;
				if (l.operstate == CNL_OPER_UP)
					break;
				return cni_error_set(err, cni_code_for_errno(ETIMEDOUT), ETIMEDOUT,
						     "link \"%s\" in netns \"%s\" not up after %u ms: "
						     "operstate %s",
						     ifname, ns->path, timeout_ms,
						     cnl_operstate_str(l.operstate));
			}
		}
	}
	if (ret)
		*ret = l;
	return 0;
}
