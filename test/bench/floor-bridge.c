/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-bridge: the kernel work of a bridge ADD, CHECK and DEL and nothing
 * else, as a process started like a plugin (so process start-up is in the
 * floor too): no config parsing, no IPAM, no checks, raw rtnetlink.  The
 * work is the plugin's, waits included, so "cnic / floor" compares like
 * with like:
 *
 *   ADD: one RTM_NEWLINK creating the veth pair (host end "fl<hash of id>"
 *        enslaved to the bridge at birth, container end CNI_IFNAME born in
 *        CNI_NETNS); accept_ra=0 on the host end (CVE-2020-10749, the
 *        reference does it too), the host end up; then, inside the
 *        container, accept_dad=0 and arp_notify=1 (the reference's
 *        defaults), the address, the link up and a default route via the
 *        gateway; last, the wait until the host end is operationally up
 *        (the reference polls for it, "bridge port in error state").
 *   CHECK: the questions the plugin's CHECK asks the kernel: the bridge,
 *        the container link, its addresses and routes, the host end.
 *   DEL: one RTM_DELLINK of the container end.
 *
 * With "ipMasq": true in the config, also ipMasq's nftables work
 * (floormasq.h): after the links on ADD, before the link on DEL.
 *
 * FLOOR_BARE=1 (or a path containing "floor-bare/") gives the older,
 * smaller floor (no sysctls, no wait, CHECK a no-op), to show what those
 * cost.
 *
 * Environment: CNI_COMMAND, CNI_NETNS, CNI_IFNAME, CNI_CONTAINERID (its
 * trailing number picks the address), FLOOR_BRIDGE (default: the first
 * line of a file "bridge-name" next to this binary, else cni-bench).
 * The bridge must exist in the current netns and hold 198.18.0.1/16.
 * IPAM: when a directory "store" sits next to this binary, host-local's
 * file work (floor-host-local.c, included) is done on it in-process, as
 * cnic's bridge runs host-local in-process: first on ADD and CHECK, last
 * on DEL.  ADD prints its result, else "{}".  Exit status 0 / 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floormasq.h"
#include "floornl.h"

/* IF_OPER_UP of <linux/if.h>, which clashes with <net/if.h>. */
#define OPER_UP 6

static int fail(const char *what)
{
	fprintf(stderr, "floor-bridge: %s: %s\n", what, strerror(errno));
	return 1;
}

static bool bare;

static int nl_open(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/* A socket that hears link events: opened before the veth exists, so no event is missed. */
static int nl_monitor(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1u << (RTNLGRP_LINK - 1) };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The sysctl the plugin writes, through /proc of the current netns. */
static int sysctl_write(const char *proto, const char *ifname, const char *leaf, const char *value)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", proto, ifname, leaf);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/* Send q and wait for its ACK (floornl.h's loop): 0, or -1 with errno. */
static int talk(int fd, struct req *q)
{
	int e;

	q->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	e = nl_talk(fd, q, NULL, NULL);
	errno = e;
	return e ? -1 : 0;
}

static void keep_operstate(const struct nlmsghdr *r, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(r);
	int len = (int)IFLA_PAYLOAD(r);

	if (r->nlmsg_type != RTM_NEWLINK)
		return;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_OPERSTATE)
			*(int *)arg = *(const unsigned char *)RTA_DATA(a);
}

/* A GET or a dump: every answer read until the ACK or NLMSG_DONE; the operstate seen, if any. */
static int ask(int fd, struct req *q, int *operstate)
{
	int e;

	q->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	e = nl_talk(fd, q, operstate ? keep_operstate : NULL, operstate);
	errno = e;
	return e ? -1 : 0;
}

static int get_link(int fd, const char *name, int *operstate)
{
	struct req q;
	struct ifinfomsg *ifi = NLMSG_DATA(&q.h);

	memset(&q, 0, sizeof(q));
	q.h.nlmsg_type = RTM_GETLINK;
	q.h.nlmsg_len = (unsigned int)NLMSG_LENGTH(sizeof(*ifi));
	put(&q.h, IFLA_IFNAME, name, strlen(name) + 1);
	return ask(fd, &q, operstate);
}

static int dump(int fd, int type, int family)
{
	struct req q;

	memset(&q, 0, sizeof(q));
	q.h.nlmsg_type = (unsigned short)type;
	q.h.nlmsg_flags = NLM_F_DUMP;
	q.h.nlmsg_len = (unsigned int)NLMSG_LENGTH(type == RTM_GETADDR ? sizeof(struct ifaddrmsg)
								       : sizeof(struct rtmsg));
	((unsigned char *)NLMSG_DATA(&q.h))[0] = (unsigned char)family;
	return ask(fd, &q, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Until the host end is operationally up, as the plugin waits (bounded, 3 s). */
static int wait_oper_up(int fd, int mon, const char *name)
{
	long long deadline = now_ms() + 3000;
	char drain[8192];

	for (;;) {
		int op = -1;
		long long left;

		if (get_link(fd, name, &op) < 0)
			return -1;
		if (op == OPER_UP)
			return 0;
		left = deadline - now_ms();
		if (left <= 0 ||
		    poll(&(struct pollfd){ .fd = mon, .events = POLLIN }, 1, (int)left) < 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		while (recv(mon, drain, sizeof(drain), 0) > 0)
			;
	}
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
	return talk(fd, &q);
}

static int set_arp_notify(int fd, int ifindex)
{
	struct req q;
	struct ifinfomsg *ifi = NLMSG_DATA(&q.h);
	struct rtattr *spec, *inet, *conf;
	uint32_t one = 1;

	init(&q, RTM_NEWLINK, 0, sizeof(*ifi));
	ifi->ifi_index = ifindex;
	spec = put(&q.h, IFLA_AF_SPEC, NULL, 0);
	inet = put(&q.h, AF_INET, NULL, 0);
	conf = put(&q.h, IFLA_INET_CONF, NULL, 0);
	put(&q.h, IPV4_DEVCONF_ARP_NOTIFY, &one, sizeof(one));
	end(&q.h, conf);
	end(&q.h, inet);
	end(&q.h, spec);
	return talk(fd, &q);
}

/* The container's address: picked by the id's trailing number (fillers and measured ids differ). */
static void ctr_addr(const char *cid, uint8_t a[4])
{
	unsigned long id = strtoul(cid + strcspn(cid, "0123456789"), NULL, 10);

	a[0] = 198;
	a[1] = 18;
	a[2] = (uint8_t)(2 + id / 250);
	a[3] = (uint8_t)(2 + id % 250);
}

static int add(const char *netns, const char *ifname, const char *cid, const char *bridge)
{
	char host[IFNAMSIZ];
	struct req q;
	struct ifinfomsg *ifi = NLMSG_DATA(&q.h);
	struct rtattr *info, *data, *peer;
	struct ifinfomsg pifi = { .ifi_family = AF_UNSPEC };
	int fd = nl_open(), mon = bare ? 0 : nl_monitor(), nsfd, self, cfd, master, cidx;
	uint32_t u;

	uint32_t hash = 2166136261u; /* FNV-1a of the whole id: fillers and measured ids differ */

	for (const char *c = cid; *c; c++)
		hash = (hash ^ (uint8_t)*c) * 16777619u;
	snprintf(host, sizeof(host), "fl%08x", hash);
	master = (int)if_nametoindex(bridge);
	nsfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || mon < 0 || !master || nsfd < 0)
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
	if (talk(fd, &q) < 0)
		return fail("create veth");
	if (!bare && sysctl_write("ipv6", host, "accept_ra", "0") < 0)
		return fail("accept_ra");
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
	if (!bare &&
	    (sysctl_write("ipv6", ifname, "accept_dad", "0") < 0 || set_arp_notify(cfd, cidx) < 0))
		return fail("container sysctls");
	{
		struct ifaddrmsg *ifa = NLMSG_DATA(&q.h);
		uint8_t a[4], brd[4] = { 198, 18, 255, 255 };

		ctr_addr(cid, a);
		init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = 16;
		ifa->ifa_index = (unsigned int)cidx;
		put(&q.h, IFA_LOCAL, a, 4);
		put(&q.h, IFA_ADDRESS, a, 4);
		put(&q.h, IFA_BROADCAST, brd, 4);
		if (talk(cfd, &q) < 0)
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
		if (talk(cfd, &q) < 0)
			return fail("add route");
	}
	(void)setns(self, CLONE_NEWNET);
	if (!bare && wait_oper_up(fd, mon, host) < 0)
		return fail("host end not up");
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
	if (talk(fd, &q) < 0 && errno != ENODEV)
		return fail("delete link");
	return 0;
}

static int check(const char *netns, const char *ifname, const char *cid, const char *bridge)
{
	uint32_t hash = 2166136261u;
	char host[IFNAMSIZ];
	int fd = nl_open(), cfd, nsfd = open(netns, O_RDONLY | O_CLOEXEC), self;

	for (const char *c = cid; *c; c++)
		hash = (hash ^ (uint8_t)*c) * 16777619u;
	snprintf(host, sizeof(host), "fl%08x", hash);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || nsfd < 0 || self < 0 || get_link(fd, bridge, NULL) < 0)
		return fail("bridge");
	if (setns(nsfd, CLONE_NEWNET) < 0 || (cfd = nl_open()) < 0 || setns(self, CLONE_NEWNET) < 0)
		return fail("container socket");
	if (get_link(cfd, ifname, NULL) < 0 || dump(cfd, RTM_GETADDR, AF_INET) < 0 ||
	    dump(cfd, RTM_GETADDR, AF_INET6) < 0 || dump(cfd, RTM_GETROUTE, AF_INET) < 0 ||
	    dump(cfd, RTM_GETROUTE, AF_INET6) < 0)
		return fail("container questions");
	if (get_link(fd, host, NULL) < 0)
		return fail("host end");
	return 0;
}

#define FLOOR_HL_NO_MAIN
#include "floor-host-local.c"

/* The first line of file name next to this binary (dlen: the length of its directory) into buf. */
static const char *read_beside(const char *self, int dlen, const char *name, char *buf, int len)
{
	char path[4096];
	FILE *f;
	const char *ret = NULL;

	snprintf(path, sizeof(path), "%.*s%s", dlen, self, name);
	f = fopen(path, "re");
	if (f && fgets(buf, len, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		ret = buf;
	}
	if (f)
		fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd = getenv("CNI_COMMAND"), *netns = getenv("CNI_NETNS");
	const char *ifname = getenv("CNI_IFNAME"), *cid = getenv("CNI_CONTAINERID");
	const char *bridge = getenv("FLOOR_BRIDGE");
	const char *self = argc > 0 ? argv[0] : "", *slash = strrchr(self, '/');
	int dlen = slash ? (int)(slash - self + 1) : 0;
	char hl[4096], in[8192], res[4096] = "{}", brname[IFNAMSIZ], tag[512];
	size_t inlen = 0;
	ssize_t r;
	bool has_ipam, masq;
	int rc = 0;

	if (!cmd || !netns || !ifname || !cid)
		return fail("CNI_* missing");
	snprintf(hl, sizeof(hl), "%.*sstore", dlen, self);
	has_ipam = access(hl, F_OK) == 0;
	while (inlen < sizeof(in) - 1 && (r = read(0, in + inlen, sizeof(in) - 1 - inlen)) > 0)
		inlen += (size_t)r;
	in[inlen] = '\0';
	masq = fm_wanted(in);
	if (masq)
		fm_tag(in, cid, ifname, tag, sizeof(tag));
	/* Or started from a directory named *floor-bare* (phases.sh: one environment for all sides). */
	bare = (getenv("FLOOR_BARE") && !strcmp(getenv("FLOOR_BARE"), "1")) ||
	       strstr(self, "floor-bare/");
	if (!bridge)
		bridge = read_beside(self, dlen, "bridge-name", brname, sizeof(brname));
	if (!bridge)
		bridge = "cni-bench";
	if (!strcmp(cmd, "ADD")) {
		if (has_ipam && floor_hl(hl, cmd, cid, ifname, in, res, sizeof(res)) < 0)
			return fail("ipam");
		rc = add(netns, ifname, cid, bridge);
		if (rc == 0 && masq) {
			uint8_t a[4];

			ctr_addr(cid, a);
			fm_add(a, 16, tag);
		}
		if (rc == 0)
			fputs(res, stdout);
		return rc;
	}
	if (!strcmp(cmd, "DEL")) {
		if (masq)
			fm_del(tag); /* first: del() stays in the container */
		rc = del(netns, ifname);
		if (has_ipam && floor_hl(hl, cmd, cid, ifname, in, res, sizeof(res)) < 0)
			return fail("ipam");
		return rc;
	}
	if (!strcmp(cmd, "CHECK") && has_ipam &&
	    floor_hl(hl, cmd, cid, ifname, in, res, sizeof(res)) < 0)
		return fail("ipam");
	if (!strcmp(cmd, "CHECK") && !bare)
		return check(netns, ifname, cid, bridge);
	return 0;
}
