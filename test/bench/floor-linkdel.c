/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-linkdel: what deleting a link costs the kernel alone, the floor
 * under every DEL of an interface plugin.  Unregistering a netdevice waits
 * for RCU grace periods (synchronize_net, rcu_barrier in netdev_run_todo),
 * 15-20 ms on the machines this project is benchmarked on, whoever asks.
 *
 * Two modes, raw rtnetlink both (no library: only the kernel's part and,
 * as a plugin, the bare cost of a process are measured):
 *
 *  - standalone, run inside the node netns:
 *	floor-linkdel -s /run/netns/CTR [-n N] [-m MASTER]
 *    for each kind creates the link the plugins create (a veth whose
 *    container end lives in CTR and whose peer is in the node; a macvlan
 *    in CTR on MASTER of the node), then times one RTM_DELLINK of the
 *    container end, ACK included, over a socket opened inside CTR; prints
 *    TSV "floor-linkdel <kind> n median_us p90_us";
 *
 *  - as a plugin (CNI_COMMAND set), installed under the name of the plugin
 *    it stands for, so a driver can alternate it with ours and the
 *    reference: "ptp" makes a veth (CNI_IFNAME in CNI_NETNS, peer in the
 *    current netns), "macvlan" a macvlan on "bm0" ("macvtap" a macvtap,
 *    born in the node and moved in, as the plugin must; for
 *    test/bench/devices.sh); ADD creates it and prints "{}", DEL deletes
 *    it; "host-device" moves the node's "bd0" into CNI_NETNS as CNI_IFNAME
 *    and brings it up (ADD), moves it back as "bd0" (DEL: one request, the
 *    move takes it down); CHECK asks what the plugins' CHECK asks the
 *    kernel (the link, its addresses and routes; for a veth also the host
 *    end's), so "cnic / floor" for CHECK is not against an empty
 *    process (FLOOR_BARE=1: CHECK does nothing, as before).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 8192

struct req {
	struct nlmsghdr *nlh;
	char buf[BUFSZ];
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("floor-linkdel: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static struct rtattr *put(struct nlmsghdr *n, int type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	if (NLMSG_ALIGN(n->nlmsg_len) + RTA_SPACE(len) > BUFSZ)
		die("message too long");
	a->rta_type = (unsigned short)type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

static void end(struct nlmsghdr *n, struct rtattr *a)
{
	a->rta_len = (unsigned short)((char *)n + n->nlmsg_len - (char *)a);
}

static void start(struct req *r, int type, int flags)
{
	struct ifinfomsg *ifi;

	memset(r->buf, 0, sizeof(r->buf));
	r->nlh = (struct nlmsghdr *)r->buf;
	r->nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r->nlh->nlmsg_type = (unsigned short)type;
	r->nlh->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
	ifi = NLMSG_DATA(r->nlh);
	ifi->ifi_family = AF_UNSPEC;
}

/*
 * A request over fd: every answer read until NLMSG_DONE or the ACK (whose
 * errno it returns, 0: success); of a GET or a dump, the last link's
 * ifindex and IFLA_LINK into *ifindex / *link if given.
 */
static int ask(int fd, struct req *r, int *ifindex, int *link)
{
	static unsigned seq = 1u << 30;
	char buf[32768] __attribute__((aligned(4)));

	r->nlh->nlmsg_seq = ++seq;
	if (send(fd, r->nlh, r->nlh->nlmsg_len, 0) < 0)
		die("send: %m");
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv: %m");
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (h->nlmsg_type == RTM_NEWLINK) {
				struct ifinfomsg *ifi = NLMSG_DATA(h);
				int len = (int)IFLA_PAYLOAD(h);

				if (ifindex)
					*ifindex = ifi->ifi_index;
				for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len);
				     a = RTA_NEXT(a, len))
					if (a->rta_type == IFLA_LINK && link)
						*link = *(int *)RTA_DATA(a);
			}
		}
	}
}

/* A NETLINK_ROUTE socket created inside the namespace at path, then used from here. */
static int sock_in(const char *path)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	int fd;

	if (self < 0 || ns < 0)
		die("open netns %s: %m", path);
	if (setns(ns, CLONE_NEWNET) < 0)
		die("setns %s: %m", path);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		die("socket: %m");
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back: %m");
	close(ns);
	close(self);
	return fd;
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* veth: container end `name` in CTR, its peer born in the node (the socket's own netns). */
static int create_veth(int node, int ctrfd, const char *name, const char *peer_name)
{
	struct req r;
	struct rtattr *li, *data, *peer;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };

	start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	put(r.nlh, IFLA_IFNAME, name, strlen(name) + 1);
	put(r.nlh, IFLA_NET_NS_FD, &ctrfd, sizeof(ctrfd));
	li = put(r.nlh, IFLA_LINKINFO, NULL, 0);
	put(r.nlh, IFLA_INFO_KIND, "veth", 5);
	data = put(r.nlh, IFLA_INFO_DATA, NULL, 0);
	peer = put(r.nlh, VETH_INFO_PEER, NULL, 0);
	memcpy((char *)r.nlh + r.nlh->nlmsg_len, &pi, sizeof(pi));
	r.nlh->nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	put(r.nlh, IFLA_IFNAME, peer_name, strlen(peer_name) + 1);
	end(r.nlh, peer);
	end(r.nlh, data);
	end(r.nlh, li);
	return ask(node, &r, NULL, NULL);
}

static int create_macvlan(int node, int ctrfd, int master, const char *name, const char *kind)
{
	struct req r;
	struct rtattr *li, *data;
	unsigned mode = MACVLAN_MODE_BRIDGE;

	start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	put(r.nlh, IFLA_IFNAME, name, strlen(name) + 1);
	put(r.nlh, IFLA_LINK, &master, sizeof(master));
	if (ctrfd >= 0) /* else born in the node */
		put(r.nlh, IFLA_NET_NS_FD, &ctrfd, sizeof(ctrfd));
	li = put(r.nlh, IFLA_LINKINFO, NULL, 0);
	put(r.nlh, IFLA_INFO_KIND, kind, strlen(kind) + 1);
	data = put(r.nlh, IFLA_INFO_DATA, NULL, 0);
	put(r.nlh, IFLA_MACVLAN_MODE, &mode, sizeof(mode));
	end(r.nlh, data);
	end(r.nlh, li);
	return ask(node, &r, NULL, NULL);
}

static int del_link(int fd, const char *name)
{
	struct req r;

	start(&r, RTM_DELLINK, 0);
	put(r.nlh, IFLA_IFNAME, name, strlen(name) + 1);
	return ask(fd, &r, NULL, NULL);
}

static void measure(const char *kind, int node, int ctr, int ctrfd, int master, unsigned n)
{
	double *t = calloc(n, sizeof(*t));
	int e;

	if (!t)
		die("out of memory");
	(void)del_link(ctr, "fl0"); /* a leftover of an interrupted run */
	for (unsigned i = 0; i < n; i++) {
		double t0;

		e = master ? create_macvlan(node, ctrfd, master, "fl0", "macvlan")
			   : create_veth(node, ctrfd, "fl0", "flp0");
		if (e)
			die("create %s: %s", kind, strerror(e));
		t0 = now_us();
		e = del_link(ctr, "fl0");
		t[i] = now_us() - t0;
		if (e)
			die("delete %s: %s", kind, strerror(e));
	}
	qsort(t, n, sizeof(*t), cmp);
	printf("floor-linkdel\t%s\t%u\t%.0f\t%.0f\n", kind, n, t[n / 2], t[(n * 9) / 10]);
	free(t);
}


/* Dump addresses or routes of one family: the questions a CHECK asks about an interface. */
static int dump(int fd, int type, int family)
{
	struct req r;

	start(&r, type, NLM_F_DUMP);
	r.nlh->nlmsg_len =
		NLMSG_LENGTH(type == RTM_GETADDR ? sizeof(struct ifaddrmsg) : sizeof(struct rtmsg));
	((unsigned char *)NLMSG_DATA(r.nlh))[0] = (unsigned char)family;
	return ask(fd, &r, NULL, NULL);
}

/*
 * CHECK: what the plugins' CHECK asks the kernel, nothing else: the
 * container link, its addresses and routes; for a veth (ptp) also the host
 * end found by the peer index, with its addresses and routes.
 */
static int check(const char *netns, const char *ifname, bool veth)
{
	int ctr = sock_in(netns), node, e, idx = 0, peer = 0;
	struct req r;

	start(&r, RTM_GETLINK, 0);
	put(r.nlh, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	if ((e = ask(ctr, &r, &idx, &peer)) != 0)
		return e;
	if ((e = dump(ctr, RTM_GETADDR, AF_INET)) || (e = dump(ctr, RTM_GETADDR, AF_INET6)) ||
	    (e = dump(ctr, RTM_GETROUTE, AF_INET)) || (e = dump(ctr, RTM_GETROUTE, AF_INET6)))
		return e;
	if (!veth)
		return 0;
	node = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (node < 0)
		die("socket: %m");
	start(&r, RTM_GETLINK, 0);
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_index = peer;
	if ((e = ask(node, &r, NULL, NULL)) != 0)
		return e;
	if ((e = dump(node, RTM_GETADDR, AF_INET)) || (e = dump(node, RTM_GETADDR, AF_INET6)) ||
	    (e = dump(node, RTM_GETROUTE, AF_INET)) || (e = dump(node, RTM_GETROUTE, AF_INET6)))
		return e;
	return 0;
}

/*
 * Move link name (over fd) to the netns nsfd under newname: its index
 * looked up (the plugin looks the device up too), then one request, the
 * index naming the link so IFLA_IFNAME can carry the new name.
 */
static int move_link(int fd, const char *name, int nsfd, const char *newname)
{
	struct req r;
	int idx = 0, e;

	start(&r, RTM_GETLINK, 0);
	put(r.nlh, IFLA_IFNAME, name, strlen(name) + 1);
	if ((e = ask(fd, &r, &idx, NULL)) != 0)
		return e;
	start(&r, RTM_NEWLINK, 0);
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_index = idx;
	put(r.nlh, IFLA_IFNAME, newname, strlen(newname) + 1);
	put(r.nlh, IFLA_NET_NS_FD, &nsfd, sizeof(nsfd));
	return ask(fd, &r, NULL, NULL);
}

static int link_up(int fd, const char *name)
{
	struct req r;
	struct ifinfomsg *ifi;

	start(&r, RTM_NEWLINK, 0);
	ifi = NLMSG_DATA(r.nlh);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	put(r.nlh, IFLA_IFNAME, name, strlen(name) + 1);
	return ask(fd, &r, NULL, NULL);
}

/* The plugin mode (see the top of this file); the peer name is made from the pid. */
static int as_plugin(const char *self, const char *cmd)
{
	const char *netns = getenv("CNI_NETNS"), *ifname = getenv("CNI_IFNAME");
	const char *base = strrchr(self, '/') ? strrchr(self, '/') + 1 : self;
	char peer[IFNAMSIZ];
	int node, ctr, ctrfd, e = 0;

	if (!netns || !ifname)
		die("CNI_NETNS and CNI_IFNAME are required");
	if (!strcmp(cmd, "VERSION") || (!strcmp(cmd, "CHECK") && getenv("FLOOR_BARE")))
		return 0;
	if (!strcmp(cmd, "CHECK")) {
		e = check(netns, ifname,
			  strcmp(base, "macvlan") && strcmp(base, "macvtap") &&
				  strcmp(base, "host-device"));
		if (e)
			die("CHECK: %s", strerror(e));
		return 0;
	}
	ctrfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (ctrfd < 0)
		die("open %s: %m", netns);
	if (!strcmp(cmd, "ADD")) {
		node = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
		if (node < 0)
			die("socket: %m");
		snprintf(peer, sizeof(peer), "fl%x", (unsigned)getpid());
		if (!strcmp(base, "host-device")) {
			e = move_link(node, "bd0", ctrfd, ifname);
			if (!e)
				e = link_up(sock_in(netns), ifname);
		} else if (!strcmp(base, "macvlan") || !strcmp(base, "macvtap")) {
			/*
			 * A macvtap is born in the node and moved, as the plugin must: its
			 * character device is named by its ifindex in the /dev all
			 * namespaces share, so the index has to be the node's.
			 */
			bool tap = !strcmp(base, "macvtap");

			e = create_macvlan(node, tap ? -1 : ctrfd, (int)if_nametoindex("bm0"),
					   tap ? peer : ifname, base);
			if (!e && tap)
				e = move_link(node, peer, ctrfd, ifname);
		} else
			e = create_veth(node, ctrfd, ifname, peer);
		if (!e)
			fputs("{}", stdout);
	} else if (!strcmp(cmd, "DEL") && !strcmp(base, "host-device")) {
		int nodefd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

		ctr = sock_in(netns);
		e = nodefd < 0 ? errno : move_link(ctr, ifname, nodefd, "bd0");
	} else if (!strcmp(cmd, "DEL")) {
		ctr = sock_in(netns);
		e = del_link(ctr, ifname);
		if (e == ENODEV)
			e = 0;
	}
	if (e)
		die("%s: %s", cmd, strerror(e));
	return 0;
}

int main(int argc, char **argv)
{
	const char *ctr = NULL, *master = NULL;
	unsigned n = 50;
	int c, node, ctrsock, ctrfd;

	if (getenv("CNI_COMMAND"))
		return as_plugin(argv[0], getenv("CNI_COMMAND"));
	while ((c = getopt(argc, argv, "s:n:m:")) != -1) {
		switch (c) {
		case 's':
			ctr = optarg;
			break;
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			master = optarg;
			break;
		default:
			die("usage: floor-linkdel -s CTR_NETNS [-n N] [-m MASTER]");
		}
	}
	if (!ctr || !n)
		die("usage: floor-linkdel -s CTR_NETNS [-n N] [-m MASTER]");
	node = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ctrsock = sock_in(ctr);
	ctrfd = open(ctr, O_RDONLY | O_CLOEXEC);
	if (node < 0 || ctrfd < 0)
		die("setup: %m");
	measure("veth", node, ctrsock, ctrfd, 0, n);
	if (master) {
		int idx = (int)if_nametoindex(master);

		if (!idx)
			die("master %s: %m", master);
		measure("macvlan", node, ctrsock, ctrfd, idx, n);
	}
	return 0;
}
