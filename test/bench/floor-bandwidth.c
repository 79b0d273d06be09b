/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-bandwidth: the kernel work of a bandwidth ADD, CHECK and DEL and
 * nothing else, as a process started like a plugin (test/bench/bandwidth.sh
 * alternates it with ours and the reference), raw rtnetlink, no parsing:
 *
 *   ADD:   a TBF qdisc at the root of the host veth "bwb0" (ingress
 *          shaping), an ifb device brought up, an ingress qdisc on bwb0, a
 *          u32 filter redirecting all its traffic to the ifb (mirred), and
 *          a TBF at the ifb's root (egress shaping): the plugin's objects,
 *          at bandwidth.sh's rates (100 Mbit/s, 1 Mbit bursts).
 *   CHECK: the questions the plugin's CHECK asks: bwb0's and the ifb's
 *          qdiscs, bwb0's ingress filters, the ifb link.
 *   DEL:   the ifb deleted (its qdisc goes with it; bwb0's go with the
 *          veth, as the reference leaves them).
 *
 * The ifb is "fb" + a hash of CNI_CONTAINERID.  Exit status 0 / 1.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floornl.h"

#define RATE_BYTES (100000000u / 8)
#define BURST_BYTES (1000000u / 8)

static int fail(const char *what, int e)
{
	fprintf(stderr, "floor-bandwidth: %s: %s\n", what, strerror(e));
	return 1;
}

static int talk(int fd, struct req *q)
{
	return nl_talk(fd, q, NULL, NULL);
}

static int tbf(int fd, int ifindex)
{
	struct req q;
	struct tcmsg *t = nl_init(&q, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, sizeof(*t));
	struct tc_tbf_qopt o = { 0 };
	struct rtattr *opts;
	unsigned burst = BURST_BYTES;

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = TC_H_ROOT;
	t->tcm_handle = TC_H_MAKE(1u << 16, 0);
	put(&q.h, TCA_KIND, "tbf", 4);
	o.rate.rate = RATE_BYTES;
	o.rate.linklayer = TC_LINKLAYER_ETHERNET; /* no rate table needed */
	o.limit = BURST_BYTES;
	opts = put(&q.h, TCA_OPTIONS, NULL, 0);
	put(&q.h, TCA_TBF_PARMS, &o, sizeof(o));
	put(&q.h, TCA_TBF_BURST, &burst, sizeof(burst));
	end(&q.h, opts);
	return talk(fd, &q);
}

static int ingress(int fd, int ifindex)
{
	struct req q;
	struct tcmsg *t = nl_init(&q, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = TC_H_INGRESS;
	t->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
	put(&q.h, TCA_KIND, "ingress", 8);
	return talk(fd, &q);
}

static int redirect(int fd, int ifindex, int target)
{
	struct req q;
	struct tcmsg *t = nl_init(&q, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, sizeof(*t));
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} s = { .sel = { .flags = TC_U32_TERMINAL, .nkeys = 1 } };
	struct tc_mirred m = { .action = TC_ACT_STOLEN, .eaction = TCA_EGRESS_REDIR };
	struct rtattr *opts, *acts, *a1, *aopts;

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0);
	t->tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL));
	m.ifindex = (unsigned)target;
	put(&q.h, TCA_KIND, "u32", 4);
	opts = put(&q.h, TCA_OPTIONS, NULL, 0);
	put(&q.h, TCA_U32_SEL, &s, sizeof(s));
	acts = put(&q.h, TCA_U32_ACT, NULL, 0);
	a1 = put(&q.h, 1, NULL, 0);
	put(&q.h, TCA_ACT_KIND, "mirred", 7);
	aopts = put(&q.h, TCA_ACT_OPTIONS, NULL, 0);
	put(&q.h, TCA_MIRRED_PARMS, &m, sizeof(m));
	end(&q.h, aopts);
	end(&q.h, a1);
	end(&q.h, acts);
	end(&q.h, opts);
	return talk(fd, &q);
}

static int ifb_add(int fd, const char *name)
{
	struct req q;
	struct ifinfomsg *ifi = nl_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	struct rtattr *li;

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	put(&q.h, IFLA_IFNAME, name, strlen(name) + 1);
	li = put(&q.h, IFLA_LINKINFO, NULL, 0);
	put(&q.h, IFLA_INFO_KIND, "ifb", 4);
	end(&q.h, li);
	return talk(fd, &q);
}

static int dump_tc(int fd, int type, int ifindex, unsigned parent)
{
	struct req q;
	struct tcmsg *t = nl_init(&q, type, NLM_F_DUMP, sizeof(*t));

	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	t->tcm_parent = parent;
	return talk(fd, &q);
}

static int get_link(int fd, const char *name)
{
	struct req q;
	struct ifinfomsg *ifi = nl_init(&q, RTM_GETLINK, 0, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	put(&q.h, IFLA_IFNAME, name, strlen(name) + 1);
	return talk(fd, &q);
}

int main(void)
{
	const char *cmd = getenv("CNI_COMMAND"), *cid = getenv("CNI_CONTAINERID");
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), host, ifb, e;
	unsigned h = 2166136261u;
	char name[IFNAMSIZ];

	if (!cmd || !cid || fd < 0)
		return fail("setup", EINVAL);
	for (const char *c = cid; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	snprintf(name, sizeof(name), "fb%08x", h);
	host = (int)if_nametoindex("bwb0");
	if (!host)
		return fail("bwb0", errno);
	if (!strcmp(cmd, "ADD")) {
		if ((e = tbf(fd, host)) || (e = ifb_add(fd, name)))
			return fail("ADD", e);
		ifb = (int)if_nametoindex(name);
		if (!ifb || (e = ingress(fd, host)) || (e = redirect(fd, host, ifb)) ||
		    (e = tbf(fd, ifb)))
			return fail("ADD", ifb ? e : errno);
		fputs("{}", stdout);
	} else if (!strcmp(cmd, "CHECK")) {
		ifb = (int)if_nametoindex(name);
		if (!ifb || (e = get_link(fd, name)) || (e = dump_tc(fd, RTM_GETQDISC, host, 0)) ||
		    (e = dump_tc(fd, RTM_GETQDISC, ifb, 0)) ||
		    (e = dump_tc(fd, RTM_GETTFILTER, host, TC_H_MAKE(TC_H_INGRESS, 0))))
			return fail("CHECK", ifb ? e : errno);
	} else if (!strcmp(cmd, "DEL")) {
		struct req q;
		struct ifinfomsg *ifi = nl_init(&q, RTM_DELLINK, 0, sizeof(*ifi));

		ifi->ifi_family = AF_UNSPEC;
		put(&q.h, IFLA_IFNAME, name, strlen(name) + 1);
		if ((e = talk(fd, &q)) && e != ENODEV)
			return fail("DEL", e);
	}
	return 0;
}
