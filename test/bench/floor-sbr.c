/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-sbr: the kernel work of an sbr ADD, CHECK and DEL and nothing else,
 * as a process started like a plugin (run.sh alternates it with our
 * bin/sbr call by call), raw rtnetlink.  The one address it works for is
 * the first "address" of the config's prevResult (test/bench/conf/sbr.json,
 * found with strstr/sscanf: no JSON parsing), an IPv4 or IPv6 address of
 * CNI_IFNAME; a "gateway" next to it is honoured as the plugin does.
 *
 *   all:   CNI_NETNS opened once (ADD and DEL flock it, as the plugin and
 *          the reference do, so concurrent calls on one netns serialise);
 *          one rtnetlink socket created inside it (setns in, socket, setns
 *          back) with the plugin's options (extended ACK, capped ACK,
 *          strict dump checking).
 *   ADD:   CNI_IFNAME looked up (RTM_GETLINK, its index); the rules and
 *          the routes of every table dumped, IPv4 and IPv6 (RTM_GETRULE,
 *          RTM_GETROUTE: a table is free when no rule and no route names
 *          it, the first free from 100 is taken; the main table's routes
 *          via CNI_IFNAME come from the same route dumps); one rule "from
 *          <address> lookup <table>" (RTM_NEWRULE); with a gateway a
 *          default route in the table (RTM_NEWROUTE); each main route of
 *          the interface that belongs to the address copied into the
 *          table (RTM_NEWROUTE, replace), then every main route of the
 *          interface deleted (RTM_DELROUTE).  In the bench's steady state
 *          (the first ADD emptied main of eth0's routes) that is: GETLINK,
 *          2 GETRULE, 2 GETROUTE, NEWRULE.  Prints {"cniVersion":"1.0.0"}.
 *   CHECK: CNI_IFNAME looked up; the rules dumped (IPv4, IPv6), a rule
 *          from the address to a table required; with a gateway, the
 *          table's routes of that family dumped and the default route via
 *          the gateway required (without one there is nothing to verify in
 *          the table, so no route dump).
 *   DEL:   CNI_IFNAME looked up, its addresses dumped (IPv4, IPv6,
 *          filtered by index); the rules dumped; every rule whose source
 *          is one of those addresses or the prevResult's deleted
 *          (RTM_DELRULE); the table of each (from 100 on, when no other
 *          rule uses it) flushed of the interface's routes: the routes
 *          dumped once (IPv4, IPv6) for all such tables, each deleted
 *          (RTM_DELROUTE).  No netns: nothing to do.
 *
 * Our plugin asks more: two more route dumps in ADD (it lists the main
 * table's routes of the interface with a second full dump), a route dump in
 * CHECK even without a gateway, a route dump pair per table in DEL.
 * FLOOR_MIRROR=1 makes this floor ask exactly what ours asks (to tell the
 * cost of those requests from the cost of our process).  Every ACK is
 * checked (a route already gone counts as deleted).  Exit status 0 / 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floornl.h"

#define FIRST_TABLE 100u
#define MAX_ROUTES 1024
#define MAX_RULES 512
#define MAX_ADDRS 64

struct ip {
	int family; /* 0: none */
	unsigned char b[16];
};

struct route {
	struct rtmsg rtm;
	uint32_t table, oif, priority;
	struct ip dst, gw, src;
	bool gone;
};

struct rule {
	struct fib_rule_hdr frh;
	uint32_t table, priority;
	struct ip src;
};

/* What the answers told. */
static int ifindex;
static unsigned ifflags;
static struct route routes[MAX_ROUTES];
static size_t n_routes;
static struct rule rules[MAX_RULES];
static size_t n_rules;
static struct ip addrs[MAX_ADDRS];
static size_t n_addrs;
static bool overflow;

static int fail(const char *what, int e)
{
	fprintf(stderr, "floor-sbr: %s: %s\n", what, strerror(e));
	return 1;
}

static size_t ip_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool ip_eq(const struct ip *a, const struct ip *b)
{
	return a->family == b->family && !memcmp(a->b, b->b, ip_len(a->family));
}

/* Is a inside net/prefix? */
static bool ip_in(const struct ip *a, const struct ip *net, unsigned prefix)
{
	if (!a->family || a->family != net->family)
		return false;
	for (unsigned i = 0; i < prefix; i++) {
		unsigned m = 0x80u >> (i % 8);

		if ((a->b[i / 8] & m) != (net->b[i / 8] & m))
			return false;
	}
	return true;
}

static void get_ip(const struct rtattr *a, int family, struct ip *ret)
{
	if (RTA_PAYLOAD(a) != ip_len(family))
		return;
	ret->family = family;
	memcpy(ret->b, RTA_DATA(a), ip_len(family));
}

static uint32_t get_u32(const struct rtattr *a)
{
	uint32_t v = 0;

	if (RTA_PAYLOAD(a) >= 4)
		memcpy(&v, RTA_DATA(a), 4);
	return v;
}

static void parse_route(const struct nlmsghdr *h)
{
	const struct rtmsg *rtm = NLMSG_DATA(h);
	int len = (int)RTM_PAYLOAD(h);
	struct route *r;

	if ((rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return;
	if (n_routes == MAX_ROUTES) {
		overflow = true;
		return;
	}
	r = &routes[n_routes++];
	memset(r, 0, sizeof(*r));
	r->rtm = *rtm;
	r->table = rtm->rtm_table;
	r->dst.family = rtm->rtm_family;
	for (const struct rtattr *a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case RTA_TABLE:
			r->table = get_u32(a);
			break;
		case RTA_DST:
			get_ip(a, rtm->rtm_family, &r->dst);
			break;
		case RTA_GATEWAY:
			get_ip(a, rtm->rtm_family, &r->gw);
			break;
		case RTA_PREFSRC:
			get_ip(a, rtm->rtm_family, &r->src);
			break;
		case RTA_OIF:
			r->oif = get_u32(a);
			break;
		case RTA_PRIORITY:
			r->priority = get_u32(a);
			break;
		}
	}
}

static void parse_rule(const struct nlmsghdr *h)
{
	const struct fib_rule_hdr *frh = NLMSG_DATA(h);
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*frh)));
	struct rule *r;

	if (n_rules == MAX_RULES) {
		overflow = true;
		return;
	}
	r = &rules[n_rules++];
	memset(r, 0, sizeof(*r));
	r->frh = *frh;
	r->table = frh->table;
	for (const struct rtattr *a =
		     (const struct rtattr *)((const char *)frh + NLMSG_ALIGN(sizeof(*frh)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == FRA_TABLE)
			r->table = get_u32(a);
		else if (a->rta_type == FRA_PRIORITY)
			r->priority = get_u32(a);
		else if (a->rta_type == FRA_SRC)
			get_ip(a, frh->family, &r->src);
	}
}

static void parse_addr(const struct nlmsghdr *h)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	int len = (int)IFA_PAYLOAD(h);

	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != IFA_ADDRESS)
			continue;
		if (n_addrs == MAX_ADDRS) {
			overflow = true;
			return;
		}
		memset(&addrs[n_addrs], 0, sizeof(addrs[n_addrs]));
		get_ip(a, ifa->ifa_family, &addrs[n_addrs++]);
	}
}

static void parse(const struct nlmsghdr *h)
{
	if (h->nlmsg_type == RTM_NEWLINK) {
		const struct ifinfomsg *ifi = NLMSG_DATA(h);

		ifindex = ifi->ifi_index;
		ifflags = ifi->ifi_flags;
	} else if (h->nlmsg_type == RTM_NEWROUTE) {
		parse_route(h);
	} else if (h->nlmsg_type == RTM_NEWRULE) {
		parse_rule(h);
	} else if (h->nlmsg_type == RTM_NEWADDR) {
		parse_addr(h);
	}
}

/* The message of q, as a pointer to all of q (the attributes follow the header). */
#define H(q) ((struct nlmsghdr *)(void *)(q))

static void parse_any(const struct nlmsghdr *h, void *arg)
{
	(void)arg;
	parse(h);
}

/* Send, read every answer (parse() keeps them): 0, or the errno; E2BIG: a table overflowed. */
static int talk(int fd, struct req *q)
{
	int e = nl_talk(fd, q, parse_any, NULL);

	return e ? e : overflow ? E2BIG : 0;
}


/* Exclusive flock of the netns file, as the plugin: 10 s at most (SIGALRM ends us). */
static int lock(int nsfd)
{
	if (flock(nsfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return errno;
	alarm(10);
	while (flock(nsfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return errno;
	alarm(0);
	return 0;
}

static int get_link(int fd, const char *name)
{
	struct req q;
	struct ifinfomsg *ifi = nl_init(&q, RTM_GETLINK, 0, sizeof(*ifi));
	unsigned mask = RTEXT_FILTER_SKIP_STATS;

	ifi->ifi_family = AF_UNSPEC;
	put(H(&q), IFLA_IFNAME, name, strlen(name) + 1);
	put(H(&q), IFLA_EXT_MASK, &mask, sizeof(mask));
	return talk(fd, &q);
}

/* A dump of type (GETRULE, GETROUTE: rtmsg header; GETADDR: ifaddrmsg, by ifindex). */
static int dump(int fd, int type, int family)
{
	struct req q;

	if (type == RTM_GETADDR) {
		struct ifaddrmsg *ifa = nl_init(&q, type, NLM_F_DUMP, sizeof(*ifa));

		ifa->ifa_family = (unsigned char)family;
		ifa->ifa_index = (unsigned)ifindex;
	} else {
		struct rtmsg *rtm = nl_init(&q, type, NLM_F_DUMP, sizeof(*rtm));

		rtm->rtm_family = (unsigned char)family;
	}
	return talk(fd, &q);
}

static int dump2(int fd, int type)
{
	int e = dump(fd, type, AF_INET);

	return e ? e : dump(fd, type, AF_INET6);
}

/* RTM_NEWRULE / RTM_DELRULE "from ip lookup table" (priority: the rule's, on DEL). */
static int rule(int fd, int type, const struct ip *ip, uint32_t table, uint32_t priority)
{
	struct req q;
	struct fib_rule_hdr *frh =
		nl_init(&q, type, type == RTM_NEWRULE ? NLM_F_CREATE | NLM_F_EXCL : 0, sizeof(*frh));

	frh->family = (unsigned char)ip->family;
	frh->src_len = (unsigned char)(ip_len(ip->family) * 8);
	frh->table = (unsigned char)(table < 256 ? table : RT_TABLE_UNSPEC);
	frh->action = FR_ACT_TO_TBL;
	put(H(&q), FRA_SRC, ip->b, ip_len(ip->family));
	put(H(&q), FRA_TABLE, &table, sizeof(table));
	if (priority)
		put(H(&q), FRA_PRIORITY, &priority, sizeof(priority));
	return talk(fd, &q);
}

/*
 * RTM_NEWROUTE of r into table (flags: replace or excl), or RTM_DELROUTE of
 * r (a route already gone is no error).
 */
static int route(int fd, int type, int flags, const struct route *r, uint32_t table)
{
	struct req q;
	struct rtmsg *rtm = nl_init(&q, type, flags, sizeof(*rtm));
	size_t alen = ip_len(r->dst.family);
	int e;

	rtm->rtm_family = (unsigned char)r->dst.family;
	rtm->rtm_dst_len = r->rtm.rtm_dst_len;
	rtm->rtm_table = (unsigned char)(table < 256 ? table : RT_TABLE_COMPAT);
	rtm->rtm_scope = r->rtm.rtm_scope;
	rtm->rtm_type = r->rtm.rtm_type;
	if (type == RTM_NEWROUTE)
		rtm->rtm_protocol = r->rtm.rtm_protocol;
	if (r->rtm.rtm_dst_len)
		put(H(&q), RTA_DST, r->dst.b, alen);
	if (r->gw.family)
		put(H(&q), RTA_GATEWAY, r->gw.b, alen);
	if (r->oif)
		put(H(&q), RTA_OIF, &r->oif, 4);
	if (r->priority)
		put(H(&q), RTA_PRIORITY, &r->priority, 4);
	if (r->src.family)
		put(H(&q), RTA_PREFSRC, r->src.b, alen);
	put(H(&q), RTA_TABLE, &table, 4);
	e = talk(fd, &q);
	if (type == RTM_DELROUTE && (e == ESRCH || e == ENOENT || e == ENODEV))
		e = 0;
	return e;
}

static bool table_used(uint32_t t)
{
	for (size_t i = 0; i < n_rules; i++)
		if (rules[i].table == t)
			return true;
	for (size_t i = 0; i < n_routes; i++)
		if (routes[i].table == t)
			return true;
	return false;
}

/* The first "address" (and a "gateway" in the same ips entry) of the prevResult. */
static int parse_conf(struct ip *addr, unsigned *prefix, struct ip *gw)
{
	static char conf[65536];
	size_t n = 0;
	ssize_t r;
	char s[64];
	const char *p, *g, *stop;

	while (n < sizeof(conf) - 1 && (r = read(0, conf + n, sizeof(conf) - 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		n += (size_t)r;
	}
	conf[n] = '\0';
	p = strstr(conf, "\"prevResult\"");
	p = p ? strstr(p, "\"address\"") : NULL;
	if (!p || sscanf(p + 9, " : \"%63[0-9a-fA-F.:]/%u\"", s, prefix) != 2)
		return EINVAL;
	addr->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(addr->family, s, addr->b) != 1 || *prefix > ip_len(addr->family) * 8)
		return EINVAL;
	stop = strchr(p, '}');
	g = strstr(conf, "\"gateway\"");
	if (g && stop && g < stop && sscanf(g + 9, " : \"%63[0-9a-fA-F.:]\"", s) == 1) {
		gw->family = addr->family;
		if (inet_pton(gw->family, s, gw->b) != 1)
			return EINVAL;
	}
	return 0;
}

static int cmd_add(int fd, const char *ifname, const struct ip *addr, unsigned prefix,
		   const struct ip *gw, bool mirror)
{
	uint32_t table = FIRST_TABLE;
	size_t n_all;
	int e;

	if ((e = get_link(fd, ifname)) != 0)
		return fail(ifname, e);
	if ((e = dump2(fd, RTM_GETRULE)) != 0 || (e = dump2(fd, RTM_GETROUTE)) != 0)
		return fail("list rules and routes", e);
	n_all = n_routes;
	/* Ours lists the main routes of the link with a second full dump. */
	if (mirror && (e = dump2(fd, RTM_GETROUTE)) != 0)
		return fail("list routes", e);
	n_routes = n_all;
	while (table_used(table) && table < FIRST_TABLE + MAX_ROUTES + MAX_RULES)
		table++;
	if ((e = rule(fd, RTM_NEWRULE, addr, table, 0)) != 0)
		return fail("add rule", e);
	if (gw->family) {
		struct route d = { .rtm = { .rtm_protocol = RTPROT_BOOT, .rtm_type = RTN_UNICAST },
				   .dst = { .family = gw->family },
				   .gw = *gw,
				   .oif = (uint32_t)ifindex };

		if ((e = route(fd, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &d, table)) != 0)
			return fail("add default route", e);
	}
	for (size_t i = 0; i < n_all; i++) {
		const struct route *r = &routes[i];

		if (r->table != RT_TABLE_MAIN || r->oif != (uint32_t)ifindex)
			continue;
		if (!(ip_in(&r->src, addr, prefix) || ip_in(&r->gw, addr, prefix) ||
		      (!r->src.family && !r->gw.family)) ||
		    (gw->family && r->rtm.rtm_dst_len == 0))
			continue;
		if ((e = route(fd, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, r, table)) != 0)
			return fail("copy route", e);
	}
	for (size_t i = 0; i < n_all; i++)
		if (routes[i].table == RT_TABLE_MAIN && routes[i].oif == (uint32_t)ifindex &&
		    (e = route(fd, RTM_DELROUTE, 0, &routes[i], RT_TABLE_MAIN)) != 0)
			return fail("delete route from main", e);
	fputs("{\"cniVersion\":\"1.0.0\"}\n", stdout);
	return 0;
}

static int cmd_check(int fd, const char *ifname, const struct ip *addr, const struct ip *gw,
		     bool mirror)
{
	const struct rule *found = NULL;
	int e;

	if ((e = get_link(fd, ifname)) != 0)
		return fail(ifname, e);
	if ((e = dump2(fd, RTM_GETRULE)) != 0)
		return fail("list rules", e);
	for (size_t i = 0; i < n_rules && !found; i++)
		if (rules[i].frh.src_len == ip_len(addr->family) * 8 &&
		    ip_eq(&rules[i].src, addr) && rules[i].frh.action == FR_ACT_TO_TBL)
			found = &rules[i];
	if (!found)
		return fail("no rule from the address", ENOENT);
	if (!gw->family && !mirror)
		return 0;
	if ((e = dump(fd, RTM_GETROUTE, addr->family)) != 0)
		return fail("list routes", e);
	if (!gw->family)
		return 0;
	for (size_t i = 0; i < n_routes; i++)
		if (routes[i].table == found->table && routes[i].oif == (uint32_t)ifindex &&
		    routes[i].rtm.rtm_dst_len == 0 && ip_eq(&routes[i].gw, gw))
			return 0;
	return fail("no default route via the gateway", ENOENT);
}

static bool wanted(const struct ip *a)
{
	for (size_t i = 0; i < n_addrs; i++)
		if (ip_eq(a, &addrs[i]))
			return true;
	return false;
}

static int cmd_del(int fd, const char *ifname, const struct ip *addr, bool mirror)
{
	uint32_t flushed[MAX_RULES];
	size_t n_flushed = 0;
	bool have_link, dumped = false;
	int e, r = 0;

	e = get_link(fd, ifname);
	if (e && e != ENODEV)
		return fail(ifname, e);
	have_link = !e;
	if (have_link && (e = dump2(fd, RTM_GETADDR)) != 0)
		return fail("list addresses", e);
	if (n_addrs == MAX_ADDRS)
		return fail("list addresses", E2BIG);
	addrs[n_addrs++] = *addr;
	if ((e = dump2(fd, RTM_GETRULE)) != 0)
		return fail("list rules", e);
	for (size_t i = 0; i < n_rules; i++) {
		const struct rule *ru = &rules[i];
		bool shared = false;

		if (!ru->src.family || !wanted(&ru->src))
			continue;
		if ((e = rule(fd, RTM_DELRULE, &ru->src, ru->table, ru->priority)) != 0) {
			r = fail("delete rule", e);
			continue;
		}
		for (size_t j = 0; j < n_rules; j++)
			if (j != i && rules[j].table == ru->table &&
			    !(rules[j].src.family && wanted(&rules[j].src)))
				shared = true;
		if (!have_link || shared || ru->table < FIRST_TABLE)
			continue;
		/* The table's routes via the link; ours dumps all routes again for each table. */
		if (!dumped || mirror) {
			n_routes = 0;
			if ((e = dump2(fd, RTM_GETROUTE)) != 0) {
				r = fail("list routes", e);
				continue;
			}
			dumped = true;
		}
		for (size_t k = 0; k < n_flushed && !mirror; k++)
			if (flushed[k] == ru->table)
				shared = true; /* flushed already */
		if (shared)
			continue;
		flushed[n_flushed++] = ru->table;
		for (size_t k = 0; k < n_routes; k++)
			if (routes[k].table == ru->table && routes[k].oif == (uint32_t)ifindex &&
			    (e = route(fd, RTM_DELROUTE, 0, &routes[k], ru->table)) != 0)
				r = fail("delete route", e);
	}
	return r;
}

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND"), *netns = getenv("CNI_NETNS");
	const char *ifname = getenv("CNI_IFNAME"), *m = getenv("FLOOR_MIRROR");
	bool mirror = m && *m && strcmp(m, "0") != 0;
	struct ip addr = { 0 }, gw = { 0 };
	unsigned prefix = 0;
	int nsfd, fd = -1, e;

	(void)end; /* floornl.h's nest closer: no nests here */
	if (!cmd)
		return fail("CNI_COMMAND", EINVAL);
	if (!strcmp(cmd, "VERSION"))
		return 0;
	if (!ifname || !*ifname)
		return fail("CNI_IFNAME", EINVAL);
	if ((e = parse_conf(&addr, &prefix, &gw)) != 0)
		return fail("no prevResult address in the config", e);
	if (!netns || !*netns) {
		if (!strcmp(cmd, "DEL"))
			return 0;
		return fail("CNI_NETNS", EINVAL);
	}
	nsfd = open(netns, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (nsfd < 0) {
		if (!strcmp(cmd, "DEL") && errno == ENOENT)
			return 0;
		return fail(netns, errno);
	}
	if (strcmp(cmd, "CHECK") && (e = lock(nsfd)) != 0)
		return fail("lock the netns", e);
	if ((e = nl_sock_in(nsfd, &fd)) != 0)
		return fail(netns, e);
	if (!strcmp(cmd, "ADD"))
		return cmd_add(fd, ifname, &addr, prefix, &gw, mirror);
	if (!strcmp(cmd, "CHECK"))
		return cmd_check(fd, ifname, &addr, &gw, mirror);
	if (!strcmp(cmd, "DEL"))
		return cmd_del(fd, ifname, &addr, mirror);
	return fail(cmd, EINVAL);
}
