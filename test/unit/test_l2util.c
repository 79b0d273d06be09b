/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugins/lib/l2util: the pure helpers (the common keys, the mode check,
 * CNI_ARGS policing with in-process IPAM, prevResult lookups) and, against the real kernel in two
 * throwaway network namespaces made with unshare(2), creating a child link
 * in a container under a temporary name, the default-route master, and the
 * kind-checked delete.  The kernel tests need root and are skipped without.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
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

#include "../../pkg/link.h"
#include "../../pkg/route.h"
#include "../../pkg/skel.h"
#include "../../plugins/lib/l2util.h"

/* ---- pure ------------------------------------------------------------------- */

/* A cmd with conf parsed from json and CNI_ARGS args. */
struct fake {
	struct cni_cmd cmd;
	struct cni_netconf *conf;
};

static void fake_init(struct fake *f, const char *json, const char *args)
{
	struct cni_error *err = NULL;

	memset(f, 0, sizeof(*f));
	assert_int_equal(cni_netconf_parse(json, strlen(json), &f->conf, &err), 0);
	assert_int_equal(cni_env_args_parse(args, &f->cmd.args, &err), 0);
	f->cmd.conf = f->conf;
	f->cmd.ifname = "eth0";
	f->cmd.netns = "/run/netns/x";
}

static void fake_free(struct fake *f)
{
	cni_netconf_free(f->conf);
	cni_env_args_free(&f->cmd.args);
}

static int env_check(const char *json, const char *args, const char *const *own)
{
	struct cni_error *err = NULL;
	struct fake f;
	int r;

	fake_init(&f, json, args);
	r = l2_env_args_check(&f.cmd, own, &err);
	if (r < 0) {
		assert_non_null(err);
		assert_int_equal(err->code, CNI_ERR_INVALID_ENV);
	} else {
		assert_null(err);
	}
	cni_error_free(err);
	fake_free(&f);
	return r;
}

#define HL                                                                                         \
	"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\"}}"
#define ST                                                                                         \
	"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"macvlan\",\"ipam\":{\"type\":\"static\"}}"
#define EXT                                                                                        \
	"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"macvlan\",\"ipam\":{\"type\":\"dhcp\"}}"
#define L2 "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"macvlan\",\"ipam\":{}}"

static void test_env_args(void **state)
{
	static const char *const mac[] = { "MAC", NULL };

	(void)state;
	assert_int_equal(env_check(HL, "IP=198.18.0.5", NULL), 0);
	assert_int_equal(env_check(HL, "GATEWAY=198.18.0.1", NULL), -1);
	assert_int_equal(env_check(ST, "IP=198.18.0.5/24;GATEWAY=198.18.0.1", NULL), 0);
	assert_int_equal(env_check(HL, "MAC=02:00:00:00:00:01;IP=198.18.0.5", mac), 0);
	assert_int_equal(env_check(HL, "MAC=02:00:00:00:00:01", NULL), -1);
	assert_int_equal(env_check(L2, "MAC=02:00:00:00:00:01", mac), 0);
	assert_int_equal(env_check(L2, "IP=198.18.0.5", mac), -1);
	assert_int_equal(env_check(L2, "IgnoreUnknown=1;FOO=x", mac), 0);
	/* An exec'd IPAM plugin polices its own keys. */
	assert_int_equal(env_check(EXT, "FOO=x", mac), 0);
}

static const struct l2_ops mv_ops = {
	.plugin = "macvlan",
	.kind = "macvlan",
	.keys = L2_KEY_MASTER | L2_KEY_MODE | L2_KEY_MTU | L2_KEY_MAC,
	.modes = l2_macvlan_modes,
	.n_modes = ARRAY_SIZE(l2_macvlan_modes),
};

/* l2_conf_load of json + CNI_ARGS args with ops; the error's code, 0 on success. */
static unsigned int conf_load(const struct l2_ops *ops, const char *json, const char *args,
			      struct l2_conf *c, char msg[256])
{
	struct cni_error *err = NULL;
	unsigned int code = 0;
	struct fake f;

	fake_init(&f, json, args);
	memset(c, 0, sizeof(*c));
	if (l2_conf_load(&f.cmd, ops, c, &err) < 0) {
		assert_non_null(err);
		code = err->code;
		snprintf(msg, 256, "%s", err->msg);
	} else {
		assert_null(err);
	}
	cni_error_free(err);
	fake_free(&f);
	return code;
}

#define MV(keys) "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"macvlan\"" keys "}"

static void test_conf_load(void **state)
{
	static const struct l2_ops iv_ops = { .plugin = "ipvlan", .keys = L2_KEY_MASTER };
	struct l2_conf c;
	char msg[256];

	(void)state;
	assert_int_equal(conf_load(&mv_ops,
				   MV(",\"master\":\"m0\",\"mode\":\"vepa\",\"mtu\":1400,"
				      "\"mac\":\"02:00:00:00:00:AA\""),
				   "", &c, msg),
			 0);
	assert_string_equal(c.master, "m0");
	assert_int_equal(c.mode_val, MACVLAN_MODE_VEPA);
	assert_int_equal(c.mtu, 1400);
	assert_string_equal(c.mac, "02:00:00:00:00:aa");
	l2_conf_free(&mv_ops, &c);
	/* No mode: the first is the default.  CNI_ARGS MAC beats "mac"... */
	assert_int_equal(conf_load(&mv_ops, MV(",\"mac\":\"02:00:00:00:00:aa\""),
				   "MAC=02:00:00:00:00:01", &c, msg),
			 0);
	assert_int_equal(c.mode_val, MACVLAN_MODE_BRIDGE);
	assert_string_equal(c.mac, "02:00:00:00:00:01");
	l2_conf_free(&mv_ops, &c);
	/* ...and runtimeConfig.mac beats both. */
	assert_int_equal(conf_load(&mv_ops,
				   MV(",\"mac\":\"02:00:00:00:00:aa\","
				      "\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:02\"}"),
				   "MAC=02:00:00:00:00:01", &c, msg),
			 0);
	assert_string_equal(c.mac, "02:00:00:00:00:02");
	l2_conf_free(&mv_ops, &c);
	assert_int_equal(conf_load(&mv_ops, MV(",\"mode\":\"l3\""), "", &c, msg),
			 CNI_ERR_INVALID_CONFIG);
	assert_string_equal(msg, "unknown macvlan mode: \"l3\"");
	l2_conf_free(&mv_ops, &c);
	assert_int_equal(conf_load(&mv_ops, MV(",\"mtu\":-1"), "", &c, msg), CNI_ERR_INVALID_CONFIG);
	l2_conf_free(&mv_ops, &c);
	assert_int_equal(conf_load(&mv_ops, MV(""), "MAC=nope", &c, msg), CNI_ERR_INVALID_ENV);
	l2_conf_free(&mv_ops, &c);
	/* A key the plugin does not have is not read, whatever it holds. */
	assert_int_equal(conf_load(&iv_ops, MV(",\"master\":\"m1\",\"mac\":\"nope\",\"mtu\":-1"),
				   "", &c, msg),
			 0);
	assert_string_equal(c.master, "m1");
	assert_null(c.mac);
	assert_int_equal(c.mtu, 0);
	l2_conf_free(&iv_ops, &c);
}

/* A plugin's own keys land in its struct, behind the common ones. */
static void test_conf_own_fields(void **state)
{
	struct own {
		struct l2_conf l2;
		char *extra;
		uint32_t q;
	} o = { .q = 7 };
	static const struct cni_field own_fields[] = {
		{ .key = "extra", .kind = CNI_FIELD_STRING, .offset = offsetof(struct own, extra) },
		{ .key = "bcqueuelen", .kind = CNI_FIELD_UINT32, .offset = offsetof(struct own, q) },
		{ 0 },
	};
	static const struct l2_ops ops = { .plugin = "x", .keys = L2_KEY_MTU, .fields = own_fields };
	struct cni_error *err = NULL;
	struct fake f;

	(void)state;
	fake_init(&f, MV(",\"mtu\":1280,\"extra\":\"e\",\"bcqueuelen\":9"), "");
	assert_int_equal(l2_conf_load(&f.cmd, &ops, &o.l2, &err), 0);
	assert_int_equal(o.l2.mtu, 1280);
	assert_string_equal(o.extra, "e");
	assert_int_equal(o.q, 9);
	/* Released with the common ones (ASan would see a leak). */
	l2_conf_free(&ops, &o.l2);
	assert_null(o.extra);
	fake_free(&f);
	fake_init(&f, MV(",\"bcqueuelen\":-1"), "");
	assert_int_equal(l2_conf_load(&f.cmd, &ops, &o.l2, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	cni_error_free(err);
	l2_conf_free(&ops, &o.l2);
	fake_free(&f);
}

static void test_check_mode(void **state)
{
	struct l2_conf c = { .mode_val = MACVLAN_MODE_BRIDGE };
	struct cni_error *err = NULL;

	(void)state;
	assert_int_equal(l2_check_mode(&mv_ops, &c, MACVLAN_MODE_BRIDGE, &err), 0);
	assert_null(err);
	assert_int_equal(l2_check_mode(&mv_ops, &c, MACVLAN_MODE_VEPA, &err), -1);
	assert_non_null(err);
	assert_string_equal(err->msg,
			    "container macvlan mode vepa does not match expected value: bridge");
	cni_error_free(err);
	err = NULL;
	assert_int_equal(l2_check_mode(&mv_ops, &c, 99, &err), -1);
	assert_string_equal(err->msg,
			    "container macvlan mode unknown does not match expected value: bridge");
	cni_error_free(err);
}

#define PREV(ifaces)                                                                               \
	"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"ptp\",\"prevResult\":{"               \
	"\"cniVersion\":\"1.0.0\",\"interfaces\":[" ifaces "]}}"

static int prev_idx(const char *json, unsigned int *code)
{
	const struct cni_result *prev = NULL;
	struct cni_error *err = NULL;
	struct fake f;
	int idx = -7;

	fake_init(&f, json, "");
	if (l2_prev_iface(&f.cmd, "ptp", &prev, &idx, &err) < 0) {
		assert_non_null(err);
		*code = err->code;
		idx = -1;
	} else {
		assert_ptr_equal(prev, f.conf->prev_result);
	}
	cni_error_free(err);
	fake_free(&f);
	return idx;
}

static void test_prev_iface(void **state)
{
	unsigned int code = 0;

	(void)state;
	assert_int_equal(
		prev_idx(PREV("{\"name\":\"veth1\"},{\"name\":\"eth0\",\"sandbox\":\"/run/netns/x\"}"),
			 &code),
		1);
	/* Same name in another sandbox (or none) is not ours. */
	assert_int_equal(
		prev_idx(PREV("{\"name\":\"eth0\"},{\"name\":\"eth0\",\"sandbox\":\"/run/netns/y\"}"),
			 &code),
		-1);
	assert_int_equal(code, CNI_ERR_INTERNAL);
	assert_int_equal(prev_idx(HL, &code), -1);
	assert_int_equal(code, CNI_ERR_INVALID_CONFIG);
}

/* ---- against the kernel --------------------------------------------------------- */

struct world {
	int orig;
	struct netns *host;
	struct netns *cont;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct cni_error *err = NULL;
	int hfd, cfd;

	w->orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	/* Switching without netns_run(): netns_here() must look again. */
	netns_here_forget();
	if (w->orig < 0 || unshare(CLONE_NEWNET) < 0) {
		if (w->orig >= 0)
			close(w->orig);
		free(w);
		*state = NULL;
		return 0;
	}
	cfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(cfd >= 0);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	hfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(hfd >= 0);
	assert_int_equal(netns_from_fd(hfd, true, "host", &w->host, &err), 0);
	assert_int_equal(netns_from_fd(cfd, true, "container", &w->cont, &err), 0);
	/* A master: one end of a veth pair, up. */
	assert_int_equal(cnl_link_add(w->host,
				      &(struct cnl_newlink){ .kind = "veth",
							     .name = "m0",
							     .peer = { .name = "m0p" } },
				      &err),
			 0);
	assert_int_equal(cnl_link_set_up(w->host, "m0", true, &err), 0);
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
	assert_int_equal(setns(w->orig, CLONE_NEWNET), 0);
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

static struct cnl_newlink macvlan_on(int parent)
{
	return (struct cnl_newlink){ .kind = "macvlan",
				     .parent = parent,
				     .macvlan_mode = MACVLAN_MODE_PRIVATE };
}

static void test_child_create(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct cnl_link m, l, hl;
	struct cnl_newlink nl;

	NEED_ROOT(w);
	assert_int_equal(l2_master_get(w->host, "m0", &m, &err), 0);
	/* The node has an eth0 of its own: no clash, the name only exists inside. */
	assert_int_equal(cnl_link_add(w->host,
				      &(struct cnl_newlink){ .kind = "veth",
							     .name = "eth0",
							     .peer = { .name = "eth0p" } },
				      &err),
			 0);
	nl = macvlan_on(m.ifindex);
	assert_int_equal(l2_child_create(w->host, w->cont, &nl, "eth0", &l, &err), 0);
	assert_null(err);
	assert_string_equal(l.name, "eth0");
	assert_string_equal(l.kind, "macvlan");
	assert_int_equal(l.macvlan_mode, MACVLAN_MODE_PRIVATE);
	assert_int_equal(l.link, m.ifindex);
	assert_true(l.link_in_other_netns);
	assert_int_equal(cnl_link_get(w->host, "eth0", &hl, &err), 0);
	assert_string_equal(hl.kind, "veth");

	/* Taken in the container: an error, and the temporary link is gone again. */
	assert_int_equal(l2_child_create(w->host, w->cont, &nl, "eth0", &l, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->errnum, EEXIST);
	assert_non_null(strstr(err->msg, "already exists"));
	cni_error_free(err);
	err = NULL;

	/* The kind-checked delete: not a veth, so not deleted; a macvlan, so deleted. */
	assert_int_equal(l2_link_del_kind(w->cont, "eth0", "veth", false, &err), 0);
	assert_int_equal(cnl_link_get(w->cont, "eth0", &l, &err), 0);
	assert_int_equal(l2_link_del_kind(w->cont, "eth0", "macvlan", false, &err), 1);
	assert_int_equal(l2_link_del_kind(w->cont, "eth0", "macvlan", false, &err), 0);
	assert_null(err);
}

static void test_child_inside(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct cnl_link m, l;
	struct cnl_newlink nl;

	NEED_ROOT(w);
	/* A master inside the container (linkInContainer): created there under its final name. */
	assert_int_equal(cnl_link_add(w->cont,
				      &(struct cnl_newlink){ .kind = "veth",
							     .name = "cm0",
							     .peer = { .name = "cm0p" } },
				      &err),
			 0);
	assert_int_equal(l2_master_get(w->cont, "cm0", &m, &err), 0);
	nl = macvlan_on(m.ifindex);
	assert_int_equal(l2_child_create(w->cont, w->cont, &nl, "net1", &l, &err), 0);
	assert_int_equal(l.link, m.ifindex);
	assert_false(l.link_in_other_netns);
	assert_int_equal(l2_child_create(w->cont, w->cont, &nl, "net1", &l, &err), -1);
	assert_int_equal(err->errnum, EEXIST);
	cni_error_free(err);
}

static void test_peer_elsewhere(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;

	NEED_ROOT(w);
	/* A veth whose peer is in the same netns is not one of ptp's. */
	assert_int_equal(cnl_link_add(w->cont,
				      &(struct cnl_newlink){ .kind = "veth",
							     .name = "eth0",
							     .peer = { .name = "other0" } },
				      &err),
			 0);
	assert_int_equal(l2_link_del_kind(w->cont, "eth0", "veth", true, &err), 0);
	assert_int_equal(l2_link_del_kind(w->cont, "eth0", "veth", false, &err), 1);
	assert_null(err);
}

static void test_master_default(void **state)
{
	struct world *w = *state;
	struct cni_error *err = NULL;
	struct cnl_link m;
	struct cnl_route def = { .ifindex = 0 };

	NEED_ROOT(w);
	assert_int_equal(l2_master_get(w->host, NULL, &m, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err->msg, "no default route"));
	cni_error_free(err);
	err = NULL;
	assert_int_equal(l2_master_get(w->host, "nope", &m, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	cni_error_free(err);
	err = NULL;

	assert_int_equal(cnl_link_get(w->host, "m0", &m, &err), 0);
	def.dst.addr.family = AF_INET;
	def.ifindex = m.ifindex;
	def.has_scope = true;
	def.scope = 253; /* link */
	assert_int_equal(cnl_route_add(w->host, &m, &def, 0, &err), 0);
	memset(&m, 0, sizeof(m));
	assert_int_equal(l2_master_get(w->host, "", &m, &err), 0);
	assert_string_equal(m.name, "m0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_args),
		cmocka_unit_test(test_conf_load),
		cmocka_unit_test(test_conf_own_fields),
		cmocka_unit_test(test_check_mode),
		cmocka_unit_test(test_prev_iface),
		cmocka_unit_test_setup_teardown(test_child_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_master_default, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
