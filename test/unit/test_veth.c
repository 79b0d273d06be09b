/* SPDX-License-Identifier: Apache-2.0 */
/*
 * veth_setup/veth_teardown, ifconfig_apply/ifconfig_check and the
 * event-driven waits of link.h/addr.h, against the real kernel in two
 * throwaway network namespaces made with unshare(2) ("host" and
 * "container"), so nothing touches the machine's own netns.  Needs root
 * (CAP_SYS_ADMIN + CAP_NET_ADMIN): every test is skipped without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../pkg/addr.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/link.h"
#include "../../pkg/route.h"
#include "../../pkg/rtnl.h"
#include "../../pkg/sysctl.h"
#include "../../pkg/veth.h"

struct world {
	int orig;
	struct netns *host;
	struct netns *cont;
};

static int open_self(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

/* A fresh "host" netns (the thread stays there) and a fresh "container" netns. */
static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cni_error *err = NULL;
	int hfd, cfd;

	w->orig = open_self();
	/* Switching without netns_run(): netns_here() must look again. */
	netns_here_forget();
	if (w->orig < 0 || unshare(CLONE_NEWNET) < 0) {
		if (w->orig >= 0)
			close(w->orig);
		free(w);
		*state = NULL;
		return 0;
	}
	hfd = open_self();
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	cfd = open_self();
	assert_int_equal(setns(hfd, CLONE_NEWNET), 0);
	assert_int_equal(netns_from_fd(hfd, true, "host", &w->host, &err), 0);
	assert_int_equal(netns_from_fd(cfd, true, "cont", &w->cont, &err), 0);
	assert_int_equal(cnl_link_set_up(w->host, "lo", true, &err), 0);
	assert_int_equal(cnl_link_set_up(w->cont, "lo", true, &err), 0);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	if (!w)
		return 0;
	netns_close(w->host);
	netns_close(w->cont);
	(void)setns(w->orig, CLONE_NEWNET);
	netns_here_forget();
	close(w->orig);
	free(w);
	return 0;
}

#define NEED_ROOT(w)                                                                               \
	do {                                                                                       \
		if (!(w))                                                                          \
			skip();                                                                    \
	} while (0)

static void ok(int r, struct cni_error *err)
{
	if (r < 0)
		fail_msg("%s (%s)", err ? err->msg : "?", err && err->details ? err->details : "");
}

/* Runs in the container: where the thread really is, and what netns_here() says. */
static int check_in_cont(void *arg, struct cni_error **err)
{
	struct world *w = arg;
	struct netns_id id;
	int fd = open_self();

	assert_true(fd >= 0);
	assert_int_equal(netns_fd_id(fd, &id), 0);
	close(fd);
	assert_true(netns_id_eq(&id, &w->cont->id));
	assert_true(netns_id_eq(netns_here(), &w->cont->id));
	assert_true(netns_is_current(w->cont));
	assert_false(netns_is_current(w->host));
	return 0;
}

/* netns_is_current() answers from identities netns_run() keeps up to date. */
static void test_netns_here(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct netns *wrapped, *cur = NULL;

	NEED_ROOT(w);
	assert_true(netns_is_current(w->host));
	assert_false(netns_is_current(w->cont));
	ok(netns_run(w->cont, check_in_cont, w, &err), err);
	assert_true(netns_is_current(w->host));
	assert_false(netns_is_current(w->cont));
	/* Twice: the way back restored what the first run changed. */
	ok(netns_run(w->cont, check_in_cont, w, &err), err);
	ok(netns_open_current(&cur, &err), err);
	assert_true(netns_id_eq(&cur->id, &w->host->id));
	/* A checked fd is wrapped with the identity given, and borrowed. */
	wrapped = netns_from_checked_fd(w->cont->fd, &w->cont->id, "cont");
	assert_false(wrapped->owns_fd);
	assert_false(netns_is_current(wrapped));
	ok(netns_run(wrapped, check_in_cont, w, &err), err);
	netns_close(wrapped);
	assert_true(fcntl(w->cont->fd, F_GETFD) >= 0);
	netns_close(cur);
}

static void test_veth_pair(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct veth_pair p;
	struct cnl_link hl, cl;
	char *v = NULL;

	NEED_ROOT(w);
	ok(veth_setup(w->host, w->cont,
		      &(struct veth_spec){ .ifname = "eth0", .mtu = 1400, .mac = "0a:58:c6:12:00:05" },
		      &p, &err),
	   err);
	assert_memory_equal(p.host_name, "veth", 4);
	assert_int_equal(strlen(p.host_name), 12);
	assert_string_equal(p.cont_mac, "0a:58:c6:12:00:05");
	ok(cnl_link_get(w->host, p.host_name, &hl, &err), err);
	ok(cnl_link_get(w->cont, "eth0", &cl, &err), err);
	assert_int_equal(hl.ifindex, p.host_ifindex);
	assert_int_equal(cl.ifindex, p.cont_ifindex);
	assert_string_equal(hl.mac, p.host_mac);
	assert_int_equal(hl.mtu, 1400);
	assert_int_equal(cl.mtu, 1400);
	assert_true(cnl_link_is_up(&hl));
	assert_false(cnl_link_is_up(&cl));
	assert_string_equal(hl.kind, "veth");
	/* The host end came up with accept_ra=0 (CVE-2020-10749). */
	{
		char name[64];

		snprintf(name, sizeof(name), "net/ipv6/conf/%s/accept_ra", p.host_name);
		ok(sysctl_get_net(w->host, name, &v, &err), err);
		assert_string_equal(v, "0");
		free(v);
	}

	/* A second eth0 in the same container: refused, and nothing new in the host. */
	assert_int_equal(veth_setup(w->host, w->cont, &(struct veth_spec){ .ifname = "eth0" }, &p,
				    &err),
			 -1);
	assert_non_null(err);
	assert_int_equal(err->errnum, EEXIST);
	assert_non_null(strstr(err->msg, "container interface \"eth0\" already exists"));
	cni_error_free(err);
	err = NULL;

	assert_int_equal(veth_teardown(w->cont, "eth0", &err), 1);
	assert_int_equal(cnl_link_get(w->host, hl.name, &hl, &err), -1);
	assert_true(cnl_not_found(err));
	cni_error_free(err);
	err = NULL;
	assert_int_equal(veth_teardown(w->cont, "eth0", &err), 0);
}

static void test_veth_named_master(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct cnl_link br, hl;
	struct veth_pair p;

	NEED_ROOT(w);
	ok(cnl_link_add(w->host, &(struct cnl_newlink){ .kind = "bridge", .name = "br0" }, &err),
	   err);
	ok(cnl_link_get(w->host, "br0", &br, &err), err);
	ok(veth_setup(w->host, w->cont,
		      &(struct veth_spec){ .ifname = "net1",
					   .host_name = "hv0",
					   .host_master = br.ifindex },
		      &p, &err),
	   err);
	assert_string_equal(p.host_name, "hv0");
	/* No MAC asked for: the one veth_setup reports is the container end's. */
	ok(cnl_link_get(w->cont, "net1", &hl, &err), err);
	assert_string_equal(p.cont_mac, hl.mac);
	assert_int_equal(p.cont_ifindex, hl.ifindex);
	ok(cnl_link_get(w->host, "hv0", &hl, &err), err);
	assert_int_equal(hl.master, br.ifindex);
	assert_string_equal(hl.slave_kind, "bridge");
	/* The fixed host name is taken now: no retry with another name. */
	assert_int_equal(veth_setup(w->host, w->cont,
				    &(struct veth_spec){ .ifname = "net2", .host_name = "hv0" }, &p,
				    &err),
			 -1);
	assert_int_equal(err->errnum, EEXIST);
	cni_error_free(err);
	err = NULL;
	assert_int_equal(cnl_link_get(w->cont, "net2", &hl, &err), -1);
	cni_error_free(err);
	err = NULL;
	ok(cnl_brport_set(w->host, p.host_ifindex, "hv0",
			  &(struct cnl_brport){ .has_hairpin = true,
						.hairpin = true,
						.has_isolated = true,
						.isolated = true },
			  &err),
	   err);
	assert_int_equal(veth_teardown(w->cont, "net1", &err), 1);
	assert_int_equal(cnl_link_del(w->host, "br0", &err), 1);
}

static struct cni_result *result_for(const char *ifname, const char *sandbox)
{
	struct cni_result *r = cni_result_new();
	struct cni_ip *ip;
	struct cni_route *rt;

	cni_result_add_iface(r, "host", NULL, NULL);
	cni_result_add_iface(r, ifname, NULL, sandbox);
	ip = cni_result_add_ip(r);
	assert_int_equal(ipnet_parse("198.18.5.7/24", &ip->address), 0);
	assert_int_equal(ipaddr_parse("198.18.5.1", &ip->gateway), 0);
	ip->interface = 1;
	ip = cni_result_add_ip(r);
	assert_int_equal(ipnet_parse("2001:db8:5::7/64", &ip->address), 0);
	assert_int_equal(ipaddr_parse("2001:db8:5::1", &ip->gateway), 0);
	ip->interface = 1;
	rt = cni_result_add_route(r);
	assert_int_equal(ipnet_parse("0.0.0.0/0", &rt->dst), 0);
	rt = cni_result_add_route(r);
	assert_int_equal(ipnet_parse("198.51.100.0/24", &rt->dst), 0);
	assert_int_equal(ipaddr_parse("198.18.5.254", &rt->gw), 0);
	rt = cni_result_add_route(r);
	assert_int_equal(ipnet_parse("::/0", &rt->dst), 0);
	return r;
}

static bool has_route(struct world *w, const char *dst, const char *gw)
{
	struct cnl_route_list l = { 0 };
	struct cni_error *err = NULL;
	struct ipnet d;
	struct ipaddr g = { 0 };
	bool found = false;

	assert_int_equal(ipnet_parse(dst, &d), 0);
	if (gw)
		assert_int_equal(ipaddr_parse(gw, &g), 0);
	ok(cnl_route_list(w->cont, AF_UNSPEC, 254, 0, &l, &err), err);
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].dst.prefix == d.prefix && ipaddr_eq(&l.v[i].dst.addr, &d.addr) &&
		    (!gw || ipaddr_eq(&l.v[i].gw, &g)))
			found = true;
	cnl_route_list_free(&l);
	return found;
}

static void test_ifconfig(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct cni_result *r = result_for("eth0", "cont");
	struct veth_pair p;
	struct cnl_addrs a = { 0 };
	struct cnl_link cl;
	char *v = NULL;

	NEED_ROOT(w);
	ok(veth_setup(w->host, w->cont, &(struct veth_spec){ .ifname = "eth0" }, &p, &err), err);
	ok(ifconfig_apply(w->cont, "eth0", r, 1,
			  &(struct ifconfig_opts){ .arp_notify = true,
						   .set_accept_dad = true,
						   .ifindex = p.cont_ifindex },
			  &err),
	   err);
	ok(cnl_link_get(w->cont, "eth0", &cl, &err), err);
	assert_true(cnl_link_is_up(&cl));
	ok(cnl_addr_list(w->cont, cl.ifindex, AF_UNSPEC, &a, &err), err);
	/*
	 * dad=false: our addresses (IFA_F_NODAD) are never tentative.  The
	 * kernel's link-local one may be for a moment: with accept_dad=0 its DAD
	 * "completes" from a work queue, without waiting for any timer.
	 */
	for (size_t i = 0; i < a.n; i++) {
		char buf[IPNET_STRLEN];

		if (ipaddr_is_link_local_unicast(&a.v[i].addr.addr))
			continue;
		if (a.v[i].flags & IFA_F_TENTATIVE)
			fail_msg("%s is tentative (flags %#x)", ipnet_fmt(&a.v[i].addr, buf),
				 a.v[i].flags);
	}
	assert_true(a.n >= 2);
	cnl_addrs_free(&a);
	assert_true(has_route(w, "0.0.0.0/0", "198.18.5.1"));
	assert_true(has_route(w, "198.51.100.0/24", "198.18.5.254"));
	assert_true(has_route(w, "::/0", "2001:db8:5::1"));
	ok(sysctl_get_net(w->cont, "net/ipv4/conf/eth0/arp_notify", &v, &err), err);
	assert_string_equal(v, "1");
	free(v);
	ok(sysctl_get_net(w->cont, "net/ipv6/conf/eth0/accept_dad", &v, &err), err);
	assert_string_equal(v, "0");
	free(v);

	/* The host end follows the container end up: the wait ends on an event or at once. */
	ok(cnl_link_wait_oper_up(w->host, p.host_name, 2000, NULL, &err), err);

	ok(ifconfig_check(w->cont, "eth0", r, 1, &err), err);
	/* With the caller's link and dump: the dump is what is read, not the kernel again. */
	{
		struct cnl_route_list all = { 0 }, none = { 0 };

		ok(cnl_route_list(w->cont, AF_UNSPEC, 0, 0, &all, &err), err);
		ok(ifconfig_check_link(w->cont, &cl, r, 1, &all, &err), err);
		assert_int_equal(ifconfig_check_link(w->cont, &cl, r, 1, &none, &err), -1);
		assert_non_null(strstr(err->msg, "198.18.5.0/24"));
		assert_non_null(strstr(err->msg, "\"eth0\""));
		cni_error_free(err);
		err = NULL;
		cnl_route_list_free(&all);
	}
	/* Remove a route: CHECK names it. */
	{
		struct cnl_route kr;

		cnl_route_from_cni(&kr, &r->routes.v[1], cl.ifindex);
		assert_int_equal(cnl_route_del(w->cont, &cl, &kr, &err), 1);
		assert_int_equal(ifconfig_check(w->cont, "eth0", r, 1, &err), -1);
		assert_non_null(strstr(err->msg, "198.51.100.0/24"));
		cni_error_free(err);
		err = NULL;
	}
	/* Remove an address: CHECK names it. */
	assert_int_equal(cnl_addr_del(w->cont, &cl, &r->ips[1].address, &err), 1);
	assert_int_equal(ifconfig_check(w->cont, "eth0", r, 1, &err), -1);
	assert_non_null(strstr(err->msg, "2001:db8:5::7/64"));
	cni_error_free(err);
	err = NULL;

	/* Applying again fails (the v4 address exists) and says which. */
	assert_int_equal(ifconfig_apply(w->cont, "eth0", r, 1, NULL, &err), -1);
	assert_int_equal(err->errnum, EEXIST);
	assert_non_null(strstr(err->msg, "198.18.5.7/24"));
	cni_error_free(err);
	err = NULL;
	cni_result_free(r);
	assert_int_equal(veth_teardown(w->cont, "eth0", &err), 1);
}

static void test_ifconfig_dad(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct cni_result *r = result_for("eth1", "cont");
	struct veth_pair p;
	struct cnl_addrs a = { 0 };
	uint64_t t0;

	NEED_ROOT(w);
	ok(veth_setup(w->host, w->cont, &(struct veth_spec){ .ifname = "eth1" }, &p, &err), err);
	t0 = cnl_now_ms();
	ok(ifconfig_apply(w->cont, "eth1", r, 1,
			  &(struct ifconfig_opts){ .dad = true,
						   .set_accept_dad = true,
						   .settle_timeout_ms = 8000 },
			  &err),
	   err);
	/* DAD really ran (about a second) and ended before the bound. */
	assert_true(cnl_now_ms() - t0 < 8000);
	ok(cnl_addr_list(w->cont, p.cont_ifindex, AF_INET6, &a, &err), err);
	for (size_t i = 0; i < a.n; i++)
		assert_false(a.v[i].flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
	cnl_addrs_free(&a);
	cni_result_free(r);
	assert_int_equal(veth_teardown(w->cont, "eth1", &err), 1);
}

static void test_oper_timeout(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct veth_pair p;
	uint64_t t0;

	NEED_ROOT(w);
	ok(veth_setup(w->host, w->cont, &(struct veth_spec){ .ifname = "eth2" }, &p, &err), err);
	/* The container end stays down: the host end never gets carrier. */
	t0 = cnl_now_ms();
	assert_int_equal(cnl_link_wait_oper_up(w->host, p.host_name, 150, NULL, &err), -1);
	assert_true(cnl_now_ms() - t0 >= 150);
	assert_int_equal(err->errnum, ETIMEDOUT);
	assert_int_equal(err->code, CNI_ERR_TRY_AGAIN);
	assert_non_null(strstr(err->msg, "operstate down"));
	cni_error_free(err);
	err = NULL;
	assert_int_equal(veth_teardown(w->cont, "eth2", &err), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_netns_here, setup, teardown),
		cmocka_unit_test_setup_teardown(test_veth_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_veth_named_master, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ifconfig, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ifconfig_dad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oper_timeout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
