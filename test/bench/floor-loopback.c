/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-loopback: the kernel work of a loopback ADD, CHECK and DEL and
 * nothing else, as a process started like a plugin (run.sh alternates it
 * with our bin/loopback call by call), raw rtnetlink, no JSON parsing:
 *
 *   all:   CNI_NETNS opened, one rtnetlink socket created inside it
 *          (setns in, socket, setns back: the plugin's two switches), with
 *          the plugin's socket options (extended ACK, capped ACK, strict
 *          dump checking: the last makes the kernel filter the address
 *          dumps by interface).
 *   ADD:   "lo" set up (RTM_SETLINK); "lo" looked up by name (RTM_GETLINK,
 *          its ifindex); its IPv4 and IPv6 addresses dumped (RTM_GETADDR,
 *          one AF_UNSPEC dump, filtered by ifindex), each checked to be a
 *          loopback address (the plugin fails on any other and reports
 *          them in its result).  Prints {"cniVersion":"1.0.0"}.
 *   CHECK: "lo" looked up (RTM_GETLINK), IFF_UP required.
 *   DEL:   "lo" set down (RTM_SETLINK); no netns: nothing to do.
 *
 * Those are the plugin's requests one for one: each answers something the
 * plugin must know (the link up, its index, its addresses for the result).
 * Every ACK is checked.  Exit status 0 / 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floornl.h"

static int fail(const char *what, int e)
{
	fprintf(stderr, "floor-loopback: %s: %s\n", what, strerror(e));
	return 1;
}

/* What the answers tell: lo's index and flags, whether all its addresses are loopback. */
struct seen {
	int ifindex;
	unsigned flags;
	bool foreign_addr;
};

static void parse(const struct nlmsghdr *h, void *arg)
{
	struct seen *s = arg;

	if (h->nlmsg_type == RTM_NEWLINK) {
		const struct ifinfomsg *ifi = NLMSG_DATA(h);

		s->ifindex = ifi->ifi_index;
		s->flags = ifi->ifi_flags;
	} else if (h->nlmsg_type == RTM_NEWADDR) {
		const struct ifaddrmsg *ifa = NLMSG_DATA(h);
		int len = (int)IFA_PAYLOAD(h);

		for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
			const unsigned char *b = RTA_DATA(a);
			static const unsigned char v6lo[16] = { [15] = 1 };

			if (a->rta_type != IFA_ADDRESS)
				continue;
			if (ifa->ifa_family == AF_INET ? b[0] != 127 : memcmp(b, v6lo, 16) != 0)
				s->foreign_addr = true;
		}
	}
}

static int talk(int fd, struct req *q, struct seen *s)
{
	return nl_talk(fd, q, parse, s);
}

/* The rtnetlink socket, created inside the netns at path, used from here. */
static int sock_in(const char *path, int *ret)
{
	int ns = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), e;

	if (ns < 0)
		return errno;
	e = nl_sock_in(ns, ret);
	close(ns);
	return e;
}

static int set_lo(int fd, bool up, struct seen *s)
{
	struct req q;
	struct ifinfomsg *ifi = nl_init(&q, RTM_SETLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
	put(&q.h, IFLA_IFNAME, "lo", 3);
	return talk(fd, &q, s);
}

static int get_lo(int fd, struct seen *s)
{
	struct req q;
	struct ifinfomsg *ifi = nl_init(&q, RTM_GETLINK, 0, sizeof(*ifi));
	unsigned mask = RTEXT_FILTER_SKIP_STATS;

	ifi->ifi_family = AF_UNSPEC;
	put(&q.h, IFLA_IFNAME, "lo", 3);
	put(&q.h, IFLA_EXT_MASK, &mask, sizeof(mask));
	return talk(fd, &q, s);
}

static int dump_addrs(int fd, struct seen *s)
{
	struct req q;
	struct ifaddrmsg *ifa = nl_init(&q, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));

	ifa->ifa_family = AF_UNSPEC;
	ifa->ifa_index = (unsigned)s->ifindex;
	return talk(fd, &q, s);
}

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND"), *netns = getenv("CNI_NETNS");
	struct seen s = { 0 };
	int fd = -1, e;

	if (!cmd)
		return fail("CNI_COMMAND", EINVAL);
	if (!strcmp(cmd, "VERSION"))
		return 0;
	if (!netns || !*netns) {
		if (!strcmp(cmd, "DEL"))
			return 0;
		return fail("CNI_NETNS", EINVAL);
	}
	if ((e = sock_in(netns, &fd)) != 0) {
		if (!strcmp(cmd, "DEL") && e == ENOENT)
			return 0;
		return fail(netns, e);
	}
	if (!strcmp(cmd, "ADD")) {
		if ((e = set_lo(fd, true, &s)) != 0)
			return fail("set lo up", e);
		if ((e = get_lo(fd, &s)) != 0)
			return fail("get lo", e);
		if ((e = dump_addrs(fd, &s)) != 0)
			return fail("list lo's addresses", e);
		if (s.foreign_addr)
			return fail("lo has a non-loopback address", EEXIST);
		fputs("{\"cniVersion\":\"1.0.0\"}\n", stdout);
		return 0;
	}
	if (!strcmp(cmd, "CHECK")) {
		if ((e = get_lo(fd, &s)) != 0)
			return fail("get lo", e);
		if (!(s.flags & IFF_UP))
			return fail("lo is down", ENETDOWN);
		return 0;
	}
	if (!strcmp(cmd, "DEL")) {
		if ((e = set_lo(fd, false, &s)) != 0)
			return fail("set lo down", e);
		return 0;
	}
	return fail(cmd, EINVAL);
}
