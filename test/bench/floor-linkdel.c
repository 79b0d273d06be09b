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
 *    reference (test/bench/l2.sh, devices.sh).
 *
 *    "ptp" and "macvlan" make, per verb, the kernel requests and the file
 *    work our bin/ptp and bin/macvlan make with l2.sh's configs (v4
 *    host-local on 198.18.0.0/16, gateway 198.18.0.1, one route
 *    0.0.0.0/0; macvlan in bridge mode on the node's "bm0"), nothing
 *    else, so "cnic / floor" is what our process adds to work it cannot
 *    avoid.  The config is not parsed: that range is built in.  Sockets
 *    get ours' NETLINK_GET_STRICT_CHK (the kernel filters the dumps) and
 *    NETLINK_CAP_ACK.
 *
 *    IPAM: when a directory "store" sits next to the binary, host-local's
 *    file work (floor-host-local.c, included, as in floor-bridge.c) is done
 *    on it in-process, as ours runs host-local in-process, first in every
 *    verb as ours; ADD configures the address it reserved and prints its
 *    {"floorip": ...} (CHECK reads it back from prevResult).  Without a
 *    store the address is the one floor_hl would have tried first.
 *
 *    ptp ADD:   ip_forward read, written only if not 1 (ours: the same;
 *               ptp routes for the container through the node);
 *               one RTM_NEWLINK for the veth, host end as the request's
 *               link, container end (CNI_IFNAME) born in CNI_NETNS,
 *               NLM_F_ECHO: the echo carries the host end's index and, in
 *               IFLA_LINK, the container end's (ours learns them so too);
 *               accept_ra=0 on the host end (CVE-2020-10749, ours and the
 *               reference); the host end up.  In the container: the
 *               address /16 without the kernel's prefix route
 *               (IFA_F_NOPREFIXROUTE), the link up, ptp's own routing: a
 *               link route to the gateway and the /16 via the gateway
 *               (src: the address), then the default route via the
 *               gateway.  In the node: the gateway as /32 (IFA_F_NODAD) on
 *               the host end and a host route to the container's address:
 *               9 requests, as ours.  With "ipMasq": true in the config,
 *               then ipMasq's nftables work (floormasq.h; on DEL before
 *               the link goes).
 *    macvlan ADD: the master looked up (RTM_GETLINK "bm0": its index),
 *               the macvlan created in CNI_NETNS under a temporary name
 *               (a node link named CNI_IFNAME would clash otherwise, see
 *               macvlan_add); inside (one setns, the socket made in the
 *               same visit) ndisc_notify=1 (IPv6 has no netlink setter for
 *               it); its index asked (born in another netns, the echo
 *               would not come back); renamed to CNI_IFNAME; arp_notify=1
 *               over netlink (IFLA_AF_SPEC), the address, the link up
 *               (notifications need both set before), the default route.
 *               8 requests, one visit to the netns, as ours.
 *    CHECK:     ours' questions: the container link (by name, stats
 *               skipped), its addresses (by index) and routes, one
 *               AF_UNSPEC dump each; ptp:
 *               the host end by the peer index, its addresses and routes;
 *               macvlan: the master.  FLOOR_BARE set: no kernel requests.
 *    DEL:       host-local's release scan, then one RTM_DELLINK of the
 *               container end (ENODEV is success); the kernel takes the
 *               veth peer, addresses and routes with it.  (Ours asks for
 *               the link before deleting it, macvlan also for the
 *               temporary name after.)
 *
 *    "macvtap" makes a macvtap on "bm0", born in the node and moved in, as
 *    the plugin must; ADD creates it and prints "{}", DEL deletes it;
 *    "host-device" moves the node's "bd0" into CNI_NETNS as CNI_IFNAME
 *    and brings it up (ADD), moves it back as "bd0" (DEL: one request, the
 *    move takes it down); for these two (test/bench/devices.sh) CHECK asks
 *    for the link, its addresses and routes (FLOOR_BARE=1: nothing).
 *    Under any other name it makes a bare veth (ADD) and deletes it (DEL).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/ip.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floormasq.h"

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

/*
 * The socket options our plugins set that change the kernel's work:
 * strict checking (dumps filtered by the kernel, by interface index for
 * addresses) and capped ACKs (the request not copied back).
 */
static int nl_socket(bool strict)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), one = 1;

	if (fd < 0)
		die("socket: %m");
	if (strict && (setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one)) < 0 ||
		       setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) < 0))
		die("setsockopt: %m");
	return fd;
}

static int write_file(const char *path, const char *val);

/*
 * A NETLINK_ROUTE socket created inside the namespace at path (or nsfd,
 * when not negative), then used from here (strict: with nl_socket's
 * options); while in there, if sysctl is given, val written to that
 * /proc/sys file (which resolves against the netns of whoever opens it).
 */
static int sock_in_ns(const char *path, int nsfd, bool strict, const char *sysctl, const char *val)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int ns = nsfd >= 0 ? nsfd : open(path, O_RDONLY | O_CLOEXEC);
	int fd;

	if (self < 0 || ns < 0)
		die("open netns %s: %m", path);
	if (setns(ns, CLONE_NEWNET) < 0)
		die("setns %s: %m", path);
	fd = nl_socket(strict);
	if (sysctl && write_file(sysctl, val) < 0)
		die("%s: %m", sysctl);
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back: %m");
	if (nsfd < 0)
		close(ns);
	close(self);
	return fd;
}

static int sock_in(const char *path)
{
	return sock_in_ns(path, -1, false, NULL, NULL);
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
	if ((e = dump(ctr, RTM_GETADDR, AF_UNSPEC)) || (e = dump(ctr, RTM_GETROUTE, AF_UNSPEC)))
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
	if ((e = dump(node, RTM_GETADDR, AF_UNSPEC)) || (e = dump(node, RTM_GETROUTE, AF_UNSPEC)))
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

/* ---- ptp and macvlan as our plugins configure them (l2.sh's configs) ---- */

/* l2.sh's range: 198.18.0.0/16, gateway its first address, one route 0.0.0.0/0. */
#define L2_NET 0xc6120000u /* 198.18.0.0 */
#define L2_PLEN 16
#define L2_GW (L2_NET | 1u)

/* val into the file at path (a /proc/sys file); 0, or -1 with errno. */
static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -1 : 0;
}

/* ip_forward on in the node, written only when it is not (a write is not free; ours reads first too). */
static void forwarding_on(void)
{
	const char *path = "/proc/sys/net/ipv4/ip_forward";
	char c = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &c, 1) != 1)
		die("%s: %m", path);
	close(fd);
	if (c != '1' && write_file(path, "1") < 0)
		die("%s: %m", path);
}

/* An ifaddrmsg / rtmsg request: start() with the header size changed. */
static void start_hdr(struct req *r, int type, int flags, size_t hdr)
{
	start(r, type, flags);
	r->nlh->nlmsg_len = (unsigned)NLMSG_LENGTH(hdr);
}

/* An IPv4 address ip/plen on ifindex idx (with its broadcast below /31); flags: IFA_F_*. */
static int addr_add(int fd, int idx, uint32_t ip, unsigned plen, uint32_t flags)
{
	struct req r;
	struct ifaddrmsg *ifa;
	uint32_t a = htonl(ip), brd = htonl(ip | (plen ? 0xffffffffu >> plen : 0xffffffffu));

	start_hdr(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifa));
	ifa = NLMSG_DATA(r.nlh);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)plen;
	ifa->ifa_flags = (unsigned char)flags;
	ifa->ifa_index = (unsigned)idx;
	if (flags > 0xff)
		put(r.nlh, IFA_FLAGS, &flags, sizeof(flags));
	put(r.nlh, IFA_LOCAL, &a, 4);
	put(r.nlh, IFA_ADDRESS, &a, 4);
	if (plen < 31)
		put(r.nlh, IFA_BROADCAST, &brd, 4);
	return ask(fd, &r, NULL, NULL);
}

/*
 * An IPv4 route in the main table (RTM_NEWROUTE: created, proto boot;
 * RTM_DELROUTE: any scope and protocol): dst/dlen, via gw if non-zero,
 * out of oif, preferred source src if non-zero.
 */
static int route(int fd, int type, uint32_t dst, unsigned dlen, uint32_t gw, int oif, uint32_t src,
		 unsigned char scope)
{
	struct req r;
	struct rtmsg *rt;
	uint32_t d = htonl(dst), g = htonl(gw), s = htonl(src), table = RT_TABLE_MAIN;
	bool add = type == RTM_NEWROUTE;

	start_hdr(&r, type, add ? NLM_F_CREATE : 0, sizeof(*rt));
	rt = NLMSG_DATA(r.nlh);
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = (unsigned char)dlen;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = add ? RTPROT_BOOT : RTPROT_UNSPEC;
	rt->rtm_scope = add ? scope : RT_SCOPE_NOWHERE;
	rt->rtm_type = add ? RTN_UNICAST : RTN_UNSPEC;
	if (dlen)
		put(r.nlh, RTA_DST, &d, 4);
	if (gw)
		put(r.nlh, RTA_GATEWAY, &g, 4);
	put(r.nlh, RTA_OIF, &oif, sizeof(oif));
	if (src)
		put(r.nlh, RTA_PREFSRC, &s, 4);
	put(r.nlh, RTA_TABLE, &table, sizeof(table));
	return ask(fd, &r, NULL, NULL);
}

/* A link (by index) up. */
static int set_up(int fd, int idx)
{
	struct req r;
	struct ifinfomsg *ifi;

	start(&r, RTM_SETLINK, 0);
	ifi = NLMSG_DATA(r.nlh);
	ifi->ifi_index = idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return ask(fd, &r, NULL, NULL);
}

/* GETLINK by name (idx 0) or index, stats skipped as ours asks: its index and IFLA_LINK. */
static int get_link(int fd, const char *name, int idx, int *ifindex, int *link)
{
	struct req r;
	unsigned mask = RTEXT_FILTER_SKIP_STATS;

	start(&r, RTM_GETLINK, 0);
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_index = idx;
	if (name)
		put(r.nlh, IFLA_IFNAME, name, strlen(name) + 1);
	put(r.nlh, IFLA_EXT_MASK, &mask, sizeof(mask));
	return ask(fd, &r, ifindex, link);
}

/* Dump addresses (of ifindex idx: filtered by the kernel under strict checking) or routes. */
static int dump_idx(int fd, int type, int family, int idx)
{
	struct req r;

	if (type != RTM_GETADDR)
		return dump(fd, type, family);
	start_hdr(&r, RTM_GETADDR, NLM_F_DUMP, sizeof(struct ifaddrmsg));
	((struct ifaddrmsg *)NLMSG_DATA(r.nlh))->ifa_family = (unsigned char)family;
	((struct ifaddrmsg *)NLMSG_DATA(r.nlh))->ifa_index = (unsigned)idx;
	return ask(fd, &r, NULL, NULL);
}

/*
 * ptp ADD.  The veth is created from the node with its host end as the
 * request's own link, so NLM_F_ECHO returns the host end's ifindex and,
 * in IFLA_LINK, the container end's: no GETLINK for either.
 */
static int ptp_add(const char *netns, int ctrfd, const char *ifname, const char *host, uint32_t ip)
{
	struct req r;
	struct rtattr *li, *data, *peer;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };
	char path[128];
	int node, ctr, hidx = 0, cidx = 0, e;

	forwarding_on();
	node = nl_socket(true);
	start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO);
	put(r.nlh, IFLA_IFNAME, host, strlen(host) + 1);
	li = put(r.nlh, IFLA_LINKINFO, NULL, 0);
	put(r.nlh, IFLA_INFO_KIND, "veth", 5);
	data = put(r.nlh, IFLA_INFO_DATA, NULL, 0);
	peer = put(r.nlh, VETH_INFO_PEER, NULL, 0);
	memcpy((char *)r.nlh + r.nlh->nlmsg_len, &pi, sizeof(pi));
	r.nlh->nlmsg_len += NLMSG_ALIGN(sizeof(pi));
	put(r.nlh, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	put(r.nlh, IFLA_NET_NS_FD, &ctrfd, sizeof(ctrfd));
	end(r.nlh, peer);
	end(r.nlh, data);
	end(r.nlh, li);
	if ((e = ask(node, &r, &hidx, &cidx)) != 0)
		return e;
	if (!hidx || !cidx)
		die("no ifindex in the echo");
	/* CVE-2020-10749: no router advertisements on the host end (ours and the reference). */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", host);
	if (write_file(path, "0") < 0)
		die("%s: %m", path);
	if ((e = set_up(node, hidx)) != 0)
		return e;
	/*
	 * The container: the address without the kernel's prefix route, link
	 * up, ptp's own routing (a host route to the gateway, the subnet via
	 * the gateway), then the configured default route, which reaches the
	 * gateway through them.
	 */
	ctr = sock_in_ns(netns, ctrfd, true, NULL, NULL);
	if ((e = addr_add(ctr, cidx, ip, L2_PLEN, IFA_F_NOPREFIXROUTE)) || (e = set_up(ctr, cidx)) ||
	    (e = route(ctr, RTM_NEWROUTE, L2_GW, 32, 0, cidx, ip, RT_SCOPE_LINK)) ||
	    (e = route(ctr, RTM_NEWROUTE, L2_NET, L2_PLEN, L2_GW, cidx, ip, RT_SCOPE_UNIVERSE)) ||
	    (e = route(ctr, RTM_NEWROUTE, 0, 0, L2_GW, cidx, 0, RT_SCOPE_UNIVERSE)))
		return e;
	/* The node: the gateway address on the host end, a host route to the container. */
	if ((e = addr_add(node, hidx, L2_GW, 32, IFA_F_NODAD)) ||
	    (e = route(node, RTM_NEWROUTE, ip, 32, 0, hidx, 0, RT_SCOPE_LINK)))
		return e;
	return 0;
}

/* macvlan's name until it is renamed in the container (see macvlan_add). */
#define L2_TMPNAME "cnicfltmp"

/* macvlan ADD (bridge mode on "bm0"). */
static int macvlan_add(const char *netns, int ctrfd, const char *ifname, uint32_t ip)
{
	struct req r;
	struct rtattr *af, *in4, *conf;
	char path[128];
	int node = nl_socket(true), ctr, midx = 0, cidx = 0, e;
	unsigned one = 1;

	if ((e = get_link(node, "bm0", 0, &midx, NULL)) != 0)
		return e;
	/*
	 * Under a temporary name, renamed inside: the kernel looks IFLA_IFNAME
	 * up in the requesting socket's netns before it creates the link in
	 * the target's, so CNI_IFNAME would clash with a node link of that
	 * name (eth0 on most nodes).  Ours and the reference do the same.
	 */
	if ((e = create_macvlan(node, ctrfd, midx, L2_TMPNAME, "macvlan")) != 0)
		return e;
	/*
	 * ndisc_notify has no netlink setter: written from inside, with the
	 * socket made (the setting follows the device through the rename).
	 */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/ndisc_notify", L2_TMPNAME);
	ctr = sock_in_ns(netns, ctrfd, true, path, "1");
	/* Born in another netns: the echo would not come back here, so its index is asked. */
	if ((e = get_link(ctr, L2_TMPNAME, 0, &cidx, NULL)) != 0)
		return e;
	start(&r, RTM_NEWLINK, 0);
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_index = cidx;
	put(r.nlh, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	if ((e = ask(ctr, &r, NULL, NULL)) != 0)
		return e;
	/* arp_notify=1 over netlink (IFLA_AF_SPEC), before the address and the link up. */
	start(&r, RTM_SETLINK, 0);
	((struct ifinfomsg *)NLMSG_DATA(r.nlh))->ifi_index = cidx;
	af = put(r.nlh, IFLA_AF_SPEC, NULL, 0);
	in4 = put(r.nlh, AF_INET, NULL, 0);
	conf = put(r.nlh, IFLA_INET_CONF, NULL, 0);
	put(r.nlh, IPV4_DEVCONF_ARP_NOTIFY, &one, sizeof(one));
	end(r.nlh, conf);
	end(r.nlh, in4);
	end(r.nlh, af);
	if ((e = ask(ctr, &r, NULL, NULL)) != 0)
		return e;
	if ((e = addr_add(ctr, cidx, ip, L2_PLEN, 0)) || (e = set_up(ctr, cidx)) ||
	    (e = route(ctr, RTM_NEWROUTE, 0, 0, L2_GW, cidx, 0, RT_SCOPE_UNIVERSE)))
		return e;
	return 0;
}

/*
 * ptp / macvlan CHECK: what ours asks.  The container link, its addresses
 * (filtered by index) and routes, one AF_UNSPEC dump each; ptp: the host
 * end by the peer index, its addresses and routes; macvlan: the master.
 */
static int l2_check(const char *netns, const char *ifname, bool veth)
{
	int ctr, node, e, idx = 0, peer = 0;

	if (!veth) {
		node = nl_socket(true);
		if ((e = get_link(node, "bm0", 0, NULL, NULL)) != 0)
			return e;
	}
	ctr = sock_in_ns(netns, -1, true, NULL, NULL);
	if ((e = get_link(ctr, ifname, 0, &idx, &peer)) != 0)
		return e;
	if ((e = dump_idx(ctr, RTM_GETADDR, AF_UNSPEC, idx)) ||
	    (e = dump_idx(ctr, RTM_GETROUTE, AF_UNSPEC, idx)))
		return e;
	if (!veth)
		return 0;
	node = nl_socket(true);
	if ((e = get_link(node, NULL, peer, NULL, NULL)) != 0)
		return e;
	if ((e = dump_idx(node, RTM_GETADDR, AF_UNSPEC, peer)) ||
	    (e = dump_idx(node, RTM_GETROUTE, AF_UNSPEC, peer)))
		return e;
	return 0;
}

#define FLOOR_HL_NO_MAIN
#include "floor-host-local.c"

static unsigned fnv(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * ptp and macvlan as plugins: host-local's file work on store/ next to
 * the binary when there is one (first on ADD and CHECK, first on DEL too,
 * as ours), its address configured; without a store the address
 * floor_hl would have picked first, no file work.
 */
static int l2_plugin(const char *self, const char *cmd, bool veth)
{
	const char *netns = getenv("CNI_NETNS"), *ifname = getenv("CNI_IFNAME");
	const char *cid = getenv("CNI_CONTAINERID") ? getenv("CNI_CONTAINERID") : "";
	const char *slash = strrchr(self, '/'), *p;
	int dlen = slash ? (int)(slash - self + 1) : 0, e = 0, ctrfd;
	char hl[4096], in[8192], res[512] = "{}", a[64], host[IFNAMSIZ], tag[512];
	size_t inlen = 0;
	ssize_t n;
	bool has_ipam, masq;
	struct in_addr ip;

	snprintf(hl, sizeof(hl), "%.*sstore", dlen, self);
	has_ipam = access(hl, F_OK) == 0;
	while (inlen < sizeof(in) - 1 && (n = read(0, in + inlen, sizeof(in) - 1 - inlen)) > 0)
		inlen += (size_t)n;
	in[inlen] = '\0';
	masq = veth && fm_wanted(in);
	if (masq)
		fm_tag(in, cid, ifname, tag, sizeof(tag));
	if (!strcmp(cmd, "CHECK")) {
		if (has_ipam && floor_hl(hl, cmd, cid, ifname, in, res, sizeof(res)) < 0)
			die("CHECK: ipam");
		if (getenv("FLOOR_BARE"))
			return 0;
		if ((e = l2_check(netns, ifname, veth)) != 0)
			die("CHECK: %s", strerror(e));
		return 0;
	}
	if (!strcmp(cmd, "DEL")) {
		if (has_ipam && floor_hl(hl, cmd, cid, ifname, in, res, sizeof(res)) < 0)
			die("DEL: ipam");
		if (masq)
			fm_del(tag);
		e = del_link(sock_in(netns), ifname);
		if (e && e != ENODEV)
			die("DEL: %s", strerror(e));
		return 0;
	}
	if (strcmp(cmd, "ADD"))
		return 0;
	if (has_ipam) {
		if (floor_hl(hl, cmd, cid, ifname, in, res, sizeof(res)) < 0)
			die("ADD: ipam");
		p = strstr(res, "\"floorip\":\"");
		if (!p || sscanf(p + 11, "%63[0-9.]", a) != 1)
			die("ADD: no floorip in %s", res);
	} else
		addr_name(0, fnv(cid), a, sizeof(a));
	if (inet_pton(AF_INET, a, &ip) != 1)
		die("ADD: bad address %s", a);
	ctrfd = open(netns, O_RDONLY | O_CLOEXEC);
	if (ctrfd < 0)
		die("open %s: %m", netns);
	snprintf(host, sizeof(host), "veth%08x", fnv(cid));
	e = veth ? ptp_add(netns, ctrfd, ifname, host, ntohl(ip.s_addr))
		 : macvlan_add(netns, ctrfd, ifname, ntohl(ip.s_addr));
	if (e)
		die("ADD: %s", strerror(e));
	if (masq)
		fm_add((const uint8_t *)&ip.s_addr, L2_PLEN, tag);
	fputs(res, stdout);
	return 0;
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
	if (!strcmp(base, "ptp") || !strcmp(base, "macvlan"))
		return !strcmp(cmd, "VERSION") ? 0 : l2_plugin(self, cmd, !strcmp(base, "ptp"));
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
