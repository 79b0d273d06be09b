/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-bridge: the kernel work of a bridge ADD and DEL and nothing else,
 * as a process started like a plugin (so process start-up is in the floor
 * too): no config parsing, no IPAM, no sysctls, no checks, raw rtnetlink.
 *
 *   ADD: one RTM_NEWLINK creating the veth pair (host end "fl<hash of id>"
 *        enslaved to the bridge at birth, container end CNI_IFNAME born in
 *        CNI_NETNS), the host end up; then, inside the container, the
 *        address, the link up and a default route via the gateway.
 *   DEL: one RTM_DELLINK of the container end.
 *
 * Environment: CNI_COMMAND, CNI_NETNS, CNI_IFNAME, CNI_CONTAINERID (its
 * trailing number picks the address), FLOOR_BRIDGE (default cni-bench).
 * The bridge must exist in the current netns and hold 198.18.0.1/16.
 * stdin is ignored; ADD prints "{}".  Exit status 0 / 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 4096

struct req {
	struct nlmsghdr h;
	char buf[BUF];
};

static int fail(const char *what)
{
	fprintf(stderr, "floor-bridge: %s: %s\n", what, strerror(errno));
	return 1;
}

static struct rtattr *put(struct nlmsghdr *h, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void end(struct nlmsghdr *h, struct rtattr *nest)
{
	nest->rta_len = (unsigned short)((char *)h + h->nlmsg_len - (char *)nest);
}

static int nl_open(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/* Send and wait for the ACK; -1 with errno on a kernel error. */
static int talk(int fd, struct nlmsghdr *h)
{
	static unsigned int seq;
	char rbuf[BUF];
	ssize_t n;

	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++seq;
	if (send(fd, h, h->nlmsg_len, 0) < 0)
		return -1;
	n = recv(fd, rbuf, sizeof(rbuf), 0);
	if (n < 0)
		return -1;
	for (struct nlmsghdr *r = (struct nlmsghdr *)rbuf; NLMSG_OK(r, (unsigned int)n);
	     r = NLMSG_NEXT(r, n)) {
		if (r->nlmsg_type == NLMSG_ERROR) {
			int e = ((struct nlmsgerr *)NLMSG_DATA(r))->error;

			if (e) {
				errno = -e;
				return -1;
			}
			return 0;
		}
	}
	errno = EPROTO;
	return -1;
}

static void init(struct req *q, int type, int flags, size_t hdrlen)
{
	memset(q, 0, sizeof(*q));
	q->h.nlmsg_type = (unsigned short)type;
	q->h.nlmsg_flags = (unsigned short)flags;
	q->h.nlmsg_len = (unsigned int)NLMSG_LENGTH(hdrlen);
}

static int set_up(int fd, int ifindex)
{
	struct req q;
	struct ifinfomsg *ifi = NLMSG_DATA(&q.h);

	init(&q, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return talk(fd, &q.h);
}

static int add(const char *netns, const char *ifname, const char *cid, const char *bridge)
{
	unsigned long id = strtoul(cid + strcspn(cid, "0123456789"), NULL, 10);
	char host[IFNAMSIZ];
	struct req q;
	struct ifinfomsg *ifi = NLMSG_DATA(&q.h);
	struct rtattr *info, *data, *peer;
	struct ifinfomsg pifi = { .ifi_family = AF_UNSPEC };
	int fd = nl_open(), nsfd, self, cfd, master, cidx;
	uint32_t u;

	uint32_t hash = 2166136261u; /* FNV-1a of the whole id: fillers and measured ids differ */

	for (const char *c = cid; *c; c++)
		hash = (hash ^ (uint8_t)*c) * 16777619u;
	snprintf(host, sizeof(host), "fl%08x", hash);
	master = (int)if_nametoindex(bridge);
	nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !master || nsfd < 0)
		return fail("setup");

	init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	put(&q.h, IFLA_IFNAME, host, strlen(host) + 1);
	u = (uint32_t)master;
	put(&q.h, IFLA_MASTER, &u, sizeof(u));
	info = put(&q.h, IFLA_LINKINFO, NULL, 0);
	put(&q.h, IFLA_INFO_KIND, "veth", 4);
	data = put(&q.h, IFLA_INFO_DATA, NULL, 0);
	peer = put(&q.h, VETH_INFO_PEER, NULL, 0);
	memcpy((char *)&q.h + q.h.nlmsg_len, &pifi, sizeof(pifi));
	q.h.nlmsg_len += NLMSG_ALIGN(sizeof(pifi));
	put(&q.h, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	u = (uint32_t)nsfd;
	put(&q.h, IFLA_NET_NS_FD, &u, sizeof(u));
	end(&q.h, peer);
	end(&q.h, data);
	end(&q.h, info);
	if (talk(fd, &q.h) < 0)
		return fail("create veth");
	if (set_up(fd, (int)if_nametoindex(host)) < 0)
		return fail("host end up");

	/* The rest happens in the container, over a socket of its own. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return fail("enter netns");
	cfd = nl_open();
	cidx = (int)if_nametoindex(ifname);
	if (cfd < 0 || !cidx)
		return fail("container socket");
	{
		struct ifaddrmsg *ifa = NLMSG_DATA(&q.h);
		uint8_t a[4] = { 198, 18, (uint8_t)(2 + id / 250), (uint8_t)(2 + id % 250) };
		uint8_t brd[4] = { 198, 18, 255, 255 };

		init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = 16;
		ifa->ifa_index = (unsigned int)cidx;
		put(&q.h, IFA_LOCAL, a, 4);
		put(&q.h, IFA_ADDRESS, a, 4);
		put(&q.h, IFA_BROADCAST, brd, 4);
		if (talk(cfd, &q.h) < 0)
			return fail("add address");
	}
	if (set_up(cfd, cidx) < 0)
		return fail("container end up");
	{
		struct rtmsg *rt = NLMSG_DATA(&q.h);
		uint8_t gw[4] = { 198, 18, 0, 1 };

		init(&q, RTM_NEWROUTE, NLM_F_CREATE, sizeof(*rt));
		rt->rtm_family = AF_INET;
		rt->rtm_table = RT_TABLE_MAIN;
		rt->rtm_protocol = RTPROT_BOOT;
		rt->rtm_scope = RT_SCOPE_UNIVERSE;
		rt->rtm_type = RTN_UNICAST;
		put(&q.h, RTA_GATEWAY, gw, 4);
		u = (uint32_t)cidx;
		put(&q.h, RTA_OIF, &u, sizeof(u));
		if (talk(cfd, &q.h) < 0)
			return fail("add route");
	}
	(void)setns(self, CLONE_NEWNET);
	fputs("{}", stdout);
	return 0;
}

static int del(const char *netns, const char *ifname)
{
	int nsfd = open(netns, O_RDONLY | O_CLOEXEC), fd;
	struct req q;
	struct ifinfomsg *ifi = NLMSG_DATA(&q.h);

	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return fail("enter netns");
	fd = nl_open();
	if (fd < 0)
		return fail("socket");
	init(&q, RTM_DELLINK, 0, sizeof(*ifi));
	put(&q.h, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	if (talk(fd, &q.h) < 0 && errno != ENODEV)
		return fail("delete link");
	return 0;
}

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND"), *netns = getenv("CNI_NETNS");
	const char *ifname = getenv("CNI_IFNAME"), *cid = getenv("CNI_CONTAINERID");
	const char *bridge = getenv("FLOOR_BRIDGE");

	if (!cmd || !netns || !ifname || !cid)
		return fail("CNI_* missing");
	if (!strcmp(cmd, "ADD"))
		return add(netns, ifname, cid, bridge ? bridge : "cni-bench");
	if (!strcmp(cmd, "DEL"))
		return del(netns, ifname);
	return 0;
}
