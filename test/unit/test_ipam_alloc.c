/* SPDX-License-Identifier: Apache-2.0 */
/* The host-local allocator against an in-memory fake store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ipam/alloc.h"
#include "../../pkg/cleanup.h"

/* ---- fake store ------------------------------------------------------- */

#define FAKE_MAX 1024

struct fake_entry {
	struct ipaddr ip;
	char content[128];
	bool unreadable;
};

struct fake {
	struct fake_entry e[FAKE_MAX];
	size_t n;
	struct ipaddr last[8];
	unsigned int reserves, scans, releases;
	int fail_reserve_at; /* reserve number that fails with an error, 0: never */
	bool lie_taken;	     /* reserve reports "taken" for addresses it does not hold */
};

static struct fake_entry *fake_find(struct fake *f, const struct ipaddr *ip)
{
	for (size_t i = 0; i < f->n; i++)
		if (ipaddr_eq(&f->e[i].ip, ip))
			return &f->e[i];
	return NULL;
}

static int fake_scan(void *p, bool read_content, ipam_scan_fn fn, void *arg, struct cni_error **err)
{
	struct fake *f = p;
	int r = 0;

	f->scans++;
	for (size_t i = 0; i < f->n;) {
		struct ipam_resv resv = { .ip = f->e[i].ip };
		int q;

		if (read_content && !f->e[i].unreadable) {
			resv.content = f->e[i].content;
			resv.len = strlen(f->e[i].content);
		}
		q = fn(arg, &resv, err);
		if (q < 0)
			return -1;
		if (q == IPAM_SCAN_RELEASE) {
			f->e[i] = f->e[--f->n];
			f->releases++;
			continue;
		}
		i++;
	}
	return r;
}

static int fake_reserve(void *p, const struct ipaddr *ip, const char *id, const char *ifname,
			bool *ret, struct cni_error **err)
{
	struct fake *f = p;

	f->reserves++;
	if (f->fail_reserve_at && (int)f->reserves == f->fail_reserve_at)
		return cni_error_set(err, CNI_ERR_IO, 5, "injected failure");
	if (f->lie_taken || fake_find(f, ip)) {
		*ret = false;
		return 0;
	}
	assert_true(f->n < FAKE_MAX);
	f->e[f->n].ip = *ip;
	snprintf(f->e[f->n].content, sizeof(f->e[f->n].content), "%s\r\n%s", id, ifname);
	f->e[f->n].unreadable = false;
	f->n++;
	*ret = true;
	return 0;
}

static int fake_release(void *p, const struct ipaddr *ip, struct cni_error **err)
{
	struct fake *f = p;
	struct fake_entry *e = fake_find(f, ip);

	if (e) {
		*e = f->e[--f->n];
		f->releases++;
	}
	return 0;
}

static bool fake_last(void *p, unsigned int idx, struct ipaddr *ret)
{
	struct fake *f = p;

	if (idx >= ARRAY_SIZE(f->last) || !f->last[idx].family)
		return false;
	*ret = f->last[idx];
	return true;
}

static int fake_set_last(void *p, unsigned int idx, const struct ipaddr *ip, struct cni_error **err)
{
	struct fake *f = p;

	if (idx < ARRAY_SIZE(f->last))
		f->last[idx] = *ip;
	return 0;
}

static const struct ipam_store_ops fake_ops = {
	.scan = fake_scan,
	.reserve = fake_reserve,
	.release = fake_release,
	.last_reserved = fake_last,
	.set_last_reserved = fake_set_last,
};

static struct fake *fake_new(void)
{
	return xcalloc(1, sizeof(struct fake));
}

static void fake_put(struct fake *f, const char *ip, const char *content)
{
	assert_int_equal(ipaddr_parse(ip, &f->e[f->n].ip), 0);
	snprintf(f->e[f->n].content, sizeof(f->e[f->n].content), "%s", content);
	f->n++;
}

static bool fake_has(struct fake *f, const char *ip)
{
	struct ipaddr a;

	assert_int_equal(ipaddr_parse(ip, &a), 0);
	return fake_find(f, &a) != NULL;
}

static void set_last(struct fake *f, unsigned int idx, const char *ip)
{
	assert_int_equal(ipaddr_parse(ip, &f->last[idx]), 0);
}

/* ---- range helpers ------------------------------------------------------ */

/* "subnet[,start,end,gw]" with "-" for a default */
static void mkrange(struct ipam_range *r, const char *subnet, const char *start, const char *end,
		    const char *gw)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(ipnet_parse(subnet, &r->subnet), 0);
	if (start)
		assert_int_equal(ipaddr_parse(start, &r->start), 0);
	if (end)
		assert_int_equal(ipaddr_parse(end, &r->end), 0);
	if (gw)
		assert_int_equal(ipaddr_parse(gw, &r->gateway), 0);
}

static struct ipam_range_set *mkset1(const char *subnet, const char *start, const char *end,
				     const char *gw)
{
	struct ipam_range_set *s = xcalloc(1, sizeof(*s));
	struct cni_error *err = NULL;

	s->v = xcalloc(1, sizeof(*s->v));
	s->n = 1;
	mkrange(&s->v[0], subnet, start, end, gw);
	assert_int_equal(ipam_range_set_canonicalize(s, &err), 0);
	assert_null(err);
	return s;
}

static void free_sets(struct ipam_range_set *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ipam_range_set_free(&s[i]);
	free(s);
}

static const char *fmt(const struct ipaddr *a)
{
	static char buf[4][IPADDR_STRLEN];
	static int k;

	k = (k + 1) % 4;
	return ipaddr_fmt(a, buf[k]);
}

/* Allocate once from one set; returns the address text or the error code as "E<code>". */
static const char *alloc1(struct fake *f, const struct ipam_range_set *s, const char *id)
{
	static char out[64];
	struct ipam_lease lease;
	struct cni_error *err = NULL;

	if (ipam_alloc_add(&fake_ops, f, s, 1, id, "eth0", NULL, 0, &lease, &err) < 0) {
		snprintf(out, sizeof(out), "E%u", err->code);
		cni_error_free(err);
		return out;
	}
	assert_null(err);
	snprintf(out, sizeof(out), "%s", fmt(&lease.ip));
	return out;
}

/* ---- tests -------------------------------------------------------------- */

static void test_round_robin_v4(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/29", NULL, NULL, NULL);

	/* .1 is the gateway, .7 the broadcast: .2 .. .6 in order */
	assert_string_equal(alloc1(f, s, "a"), "198.18.0.2");
	assert_string_equal(alloc1(f, s, "b"), "198.18.0.3");
	assert_string_equal(alloc1(f, s, "c"), "198.18.0.4");
	assert_string_equal(fmt(&f->last[0]), "198.18.0.4");
	/* releasing .2 does not make it the next one: round robin goes on */
	assert_int_equal(ipam_alloc_release(&fake_ops, f, "a", "eth0", NULL), 0);
	assert_false(fake_has(f, "198.18.0.2"));
	assert_string_equal(alloc1(f, s, "d"), "198.18.0.5");
	assert_string_equal(alloc1(f, s, "e"), "198.18.0.6");
	/* wraps back to the start and takes the freed .2 */
	assert_string_equal(alloc1(f, s, "g"), "198.18.0.2");
	/* everything taken now */
	assert_string_equal(alloc1(f, s, "h"), "E100");
	assert_int_equal(f->n, 5);
	free_sets(s, 1);
	free(f);
}

static void test_exhausted_message(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/30", NULL, NULL, NULL);
	struct ipam_lease lease;
	struct cni_error *err = NULL;

	/* /30: .1 gateway, .3 broadcast: exactly one address */
	assert_string_equal(alloc1(f, s, "a"), "198.18.0.2");
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "b", "eth0", NULL, 0, &lease, &err), -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_EXHAUSTED);
	assert_string_equal(
		err->msg,
		"failed to allocate for range 0: no IP addresses available in range set: 198.18.0.1-198.18.0.2");
	cni_error_free(err);
	free_sets(s, 1);
	free(f);
}

static void test_start_after_last_reserved(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/24", NULL, NULL, NULL);

	set_last(f, 0, "198.18.0.100");
	assert_string_equal(alloc1(f, s, "a"), "198.18.0.101");
	/* the last address of the range, then wrap to the start (skipping the gateway .1) */
	set_last(f, 0, "198.18.0.253");
	assert_string_equal(alloc1(f, s, "b"), "198.18.0.254");
	assert_string_equal(alloc1(f, s, "c"), "198.18.0.2");
	/* a hint outside the set is ignored: start at rangeStart */
	set_last(f, 0, "10.0.0.7");
	assert_string_equal(alloc1(f, s, "d"), "198.18.0.3");
	free_sets(s, 1);
	free(f);
}

static void test_last_reserved_is_tried_last(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/29", NULL, NULL, NULL);

	/* all free but the hint points at .4: .5 .6 .2 .3 then .4 itself */
	set_last(f, 0, "198.18.0.4");
	assert_string_equal(alloc1(f, s, "a"), "198.18.0.5");
	assert_string_equal(alloc1(f, s, "b"), "198.18.0.6");
	assert_string_equal(alloc1(f, s, "c"), "198.18.0.2");
	assert_string_equal(alloc1(f, s, "d"), "198.18.0.3");
	assert_string_equal(alloc1(f, s, "e"), "198.18.0.4");
	assert_string_equal(alloc1(f, s, "f"), "E100");
	free_sets(s, 1);
	free(f);
}

static void test_gateway_elsewhere(void **state)
{
	struct fake *f = fake_new();
	/* gateway .6: then .1 is allocatable (code default start is .1) */
	struct ipam_range_set *s = mkset1("198.18.0.0/29", NULL, NULL, "198.18.0.6");

	assert_string_equal(alloc1(f, s, "a"), "198.18.0.1");
	set_last(f, 0, "198.18.0.5");
	/* .6 is the gateway: skipped, wraps to .2 */
	assert_string_equal(alloc1(f, s, "b"), "198.18.0.2");
	free_sets(s, 1);
	free(f);
}

static void test_multi_range_set(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set s = { .v = xcalloc(2, sizeof(struct ipam_range)), .n = 2 };
	struct cni_error *err = NULL;

	mkrange(&s.v[0], "198.18.0.0/24", "198.18.0.10", "198.18.0.11", NULL);
	mkrange(&s.v[1], "198.18.1.0/24", "198.18.1.1", "198.18.1.2", "198.18.1.1");
	assert_int_equal(ipam_range_set_canonicalize(&s, &err), 0);
	assert_string_equal(alloc1(f, &s, "a"), "198.18.0.10");
	assert_string_equal(alloc1(f, &s, "b"), "198.18.0.11");
	/* end of range 0: jump to range 1's start, which is its gateway: skipped */
	assert_string_equal(alloc1(f, &s, "c"), "198.18.1.2");
	assert_string_equal(alloc1(f, &s, "d"), "E100");
	/* a lease carries its own range's prefix and gateway */
	{
		struct ipam_lease lease;

		assert_int_equal(ipam_alloc_release(&fake_ops, f, "c", "eth0", NULL), 0);
		assert_int_equal(ipam_alloc_add(&fake_ops, f, &s, 1, "e", "eth0", NULL, 0, &lease,
						NULL),
				 0);
		assert_string_equal(fmt(&lease.ip), "198.18.1.2");
		assert_ptr_equal(lease.range, &s.v[1]);
		assert_string_equal(fmt(&lease.range->gateway), "198.18.1.1");
	}
	ipam_range_set_free(&s);
	free(f);
}

static void test_requested(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/24", NULL, NULL, NULL);
	struct ipam_lease lease;
	struct cni_error *err = NULL;
	struct ipaddr req[2];

	assert_int_equal(ipaddr_parse("198.18.0.77", &req[0]), 0);
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "a", "eth0", req, 1, &lease, &err), 0);
	assert_string_equal(fmt(&lease.ip), "198.18.0.77");
	assert_string_equal(fmt(&f->last[0]), "198.18.0.77"); /* requested ones move the hint too */

	/* taken: 101 */
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "b", "eth0", req, 1, &lease, &err), -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_UNAVAILABLE);
	assert_string_equal(
		err->msg,
		"failed to allocate for range 0: requested IP address 198.18.0.77 is not available in range set 198.18.0.1-198.18.0.254");
	cni_error_freep(&err);

	/* the gateway: 7 */
	assert_int_equal(ipaddr_parse("198.18.0.1", &req[0]), 0);
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "b", "eth0", req, 1, &lease, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(
		err->msg,
		"failed to allocate for range 0: requested ip 198.18.0.1 is subnet's gateway");
	cni_error_freep(&err);

	/* outside every set (the broadcast is outside rangeEnd): nothing reserved */
	assert_int_equal(ipaddr_parse("198.18.0.255", &req[0]), 0);
	assert_int_equal(ipaddr_parse("10.1.1.1", &req[1]), 0);
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "b", "eth0", req, 2, &lease, &err), -1);
	assert_int_equal(err->code, CNI_ERR_INVALID_CONFIG);
	assert_string_equal(err->msg, "failed to allocate all requested IPs: 198.18.0.255 10.1.1.1");
	cni_error_freep(&err);
	assert_int_equal(f->n, 1);

	/* the same address twice is one request */
	assert_int_equal(ipaddr_parse("198.18.0.9", &req[0]), 0);
	req[1] = req[0];
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "c", "eth0", req, 2, &lease, &err), 0);
	assert_string_equal(fmt(&lease.ip), "198.18.0.9");

	/* a requested address skips the duplicate check, as the reference */
	assert_int_equal(ipaddr_parse("198.18.0.10", &req[0]), 0);
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "c", "eth0", req, 1, &lease, &err), 0);
	free_sets(s, 1);
	free(f);
}

static void test_duplicate(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/24", NULL, NULL, NULL);
	struct ipam_lease lease;
	struct cni_error *err = NULL;

	assert_string_equal(alloc1(f, s, "a"), "198.18.0.2");
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "a", "eth0", NULL, 0, &lease, &err), -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_DUPLICATE);
	assert_string_equal(
		err->msg,
		"failed to allocate for range 0: 198.18.0.2 has been allocated to a, duplicate allocation is not allowed");
	cni_error_freep(&err);
	/* another ifname of the same container is another attachment */
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "a", "eth1", NULL, 0, &lease, &err), 0);
	assert_string_equal(fmt(&lease.ip), "198.18.0.3");
	/* a legacy id-only reservation counts as a duplicate too */
	fake_put(f, "198.18.0.50", "legacy");
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "legacy", "eth0", NULL, 0, &lease, &err),
			 -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_DUPLICATE);
	cni_error_freep(&err);
	/* one outside the set does not */
	fake_put(f, "10.9.9.9", "other\r\neth0");
	assert_int_equal(ipam_alloc_add(&fake_ops, f, s, 1, "other", "eth0", NULL, 0, &lease, &err),
			 0);
	free_sets(s, 1);
	free(f);
}

static void test_dual_stack_and_rollback(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *sets = xcalloc(2, sizeof(*sets));
	struct ipam_range_set *a = mkset1("198.18.0.0/24", NULL, NULL, NULL);
	struct ipam_range_set *b = mkset1("2001:db8::/126", NULL, NULL, NULL);
	struct ipam_lease leases[2];
	struct cni_error *err = NULL;

	sets[0] = *a;
	sets[1] = *b;
	free(a);
	free(b);
	assert_int_equal(ipam_alloc_add(&fake_ops, f, sets, 2, "x", "eth0", NULL, 0, leases, &err),
			 0);
	assert_string_equal(fmt(&leases[0].ip), "198.18.0.2");
	assert_string_equal(fmt(&leases[1].ip), "2001:db8::2");
	assert_int_equal(leases[1].range->subnet.prefix, 126);
	assert_string_equal(fmt(&f->last[1]), "2001:db8::2");
	/* v6 /126: ::1 gateway, ::2 ::3 usable (no broadcast in IPv6) */
	assert_int_equal(ipam_alloc_add(&fake_ops, f, sets, 2, "y", "eth0", NULL, 0, leases, &err),
			 0);
	assert_string_equal(fmt(&leases[1].ip), "2001:db8::3");
	/* the v6 set is full: the v4 address reserved first is released again */
	assert_int_equal(ipam_alloc_add(&fake_ops, f, sets, 2, "z", "eth0", NULL, 0, leases, &err),
			 -1);
	assert_int_equal(err->code, CNI_ERR_IPAM_EXHAUSTED);
	assert_non_null(strstr(err->msg, "failed to allocate for range 1: "));
	cni_error_freep(&err);
	assert_false(fake_has(f, "198.18.0.4"));
	assert_int_equal(f->n, 4);
	/* a store error mid-way rolls back too, and is reported as is */
	f->fail_reserve_at = f->reserves + 2;
	assert_string_equal(fmt(&f->last[0]), "198.18.0.4"); /* only a hint: not rolled back */
	assert_int_equal(ipam_alloc_release(&fake_ops, f, "y", "eth0", NULL), 0);
	assert_int_equal(ipam_alloc_add(&fake_ops, f, sets, 2, "w", "eth0", NULL, 0, leases, &err),
			 -1);
	assert_int_equal(err->code, CNI_ERR_IO);
	cni_error_freep(&err);
	assert_int_equal(f->n, 2);
	free_sets(sets, 2);
	free(f);
}

static void test_big_ranges_are_cheap(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s16 = mkset1("198.18.0.0/22", NULL, NULL, NULL);
	struct ipam_range_set *s64 = mkset1("2001:db8::/64", NULL, NULL, NULL);
	char ip[64];

	/* fill all but one address of a /22: the last one is found without trying the others */
	for (unsigned int i = 2; i < 1023 && f->n < FAKE_MAX - 2; i++) {
		if (i == 600)
			continue;
		snprintf(ip, sizeof(ip), "198.18.%u.%u", i / 256, i % 256);
		fake_put(f, ip, "other\r\neth0");
	}
	f->reserves = 0;
	assert_string_equal(alloc1(f, s16, "a"), "198.18.2.88");
	assert_int_equal(f->reserves, 1);
	assert_string_equal(alloc1(f, s16, "b"), "E100");
	assert_int_equal(f->reserves, 1); /* exhaustion found in memory */
	assert_int_equal(f->scans, 2);

	/* a /64 with its hint at the very end wraps around in one step */
	f->n = 0;
	set_last(f, 0, "2001:db8::ffff:ffff:ffff:ffff");
	f->reserves = 0;
	assert_string_equal(alloc1(f, s64, "c"), "2001:db8::2");
	assert_int_equal(f->reserves, 1);

	/* someone creating files behind our back (no lock): bounded, code 11 */
	f->lie_taken = true;
	assert_string_equal(alloc1(f, s64, "d"), "E11");
	free_sets(s16, 1);
	free_sets(s64, 1);
	free(f);
}

static void test_release(void **state)
{
	struct fake *f = fake_new();

	fake_put(f, "198.18.0.2", "a\r\neth0");
	fake_put(f, "198.18.0.3", "a\r\neth1");
	fake_put(f, "2001:db8::2", "a\r\neth0");
	fake_put(f, "198.18.0.4", "a");
	fake_put(f, "198.18.0.5", "ab\r\neth0");
	/* exact matches go, the legacy one stays because there was an exact match */
	assert_int_equal(ipam_alloc_release(&fake_ops, f, "a", "eth0", NULL), 0);
	assert_false(fake_has(f, "198.18.0.2"));
	assert_false(fake_has(f, "2001:db8::2"));
	assert_true(fake_has(f, "198.18.0.3"));
	assert_true(fake_has(f, "198.18.0.4"));
	assert_true(fake_has(f, "198.18.0.5"));
	assert_int_equal(f->scans, 1);
	/* nothing exact left for eth0: the legacy file is released */
	assert_int_equal(ipam_alloc_release(&fake_ops, f, "a", "eth0", NULL), 0);
	assert_false(fake_has(f, "198.18.0.4"));
	assert_true(fake_has(f, "198.18.0.3"));
	/* nothing at all: still success */
	assert_int_equal(ipam_alloc_release(&fake_ops, f, "nobody", "eth0", NULL), 0);
	assert_int_equal(f->n, 2);
	free(f);
}

static void test_owner_match(void **state)
{
	assert_int_equal(ipam_owner_match("abc\r\neth0", 9, "abc", "eth0"), IPAM_OWNER_EXACT);
	assert_int_equal(ipam_owner_match("abc", 3, "abc", "eth0"), IPAM_OWNER_LEGACY);
	assert_int_equal(ipam_owner_match("abc\r\neth1", 9, "abc", "eth0"), IPAM_OWNER_NONE);
	assert_int_equal(ipam_owner_match("abcd", 4, "abc", "eth0"), IPAM_OWNER_NONE);
	assert_int_equal(ipam_owner_match("abc\neth0", 8, "abc", "eth0"), IPAM_OWNER_NONE);
	assert_int_equal(ipam_owner_match(NULL, 0, "abc", "eth0"), IPAM_OWNER_NONE);
	/* the id is trimmed as the reference's strings.TrimSpace(id) */
	assert_int_equal(ipam_owner_match("abc\r\neth0", 9, " abc\n", "eth0"), IPAM_OWNER_EXACT);
}

static void test_gc(void **state)
{
	struct fake *f = fake_new();
	struct cni_attachment valid[] = {
		{ .container_id = "keep", .ifname = "eth0" },
		{ .container_id = "old", .ifname = "net1" },
	};
	struct cni_error *err = NULL;

	fake_put(f, "198.18.0.2", "keep\r\neth0");
	fake_put(f, "198.18.0.3", "keep\r\neth1"); /* other ifname: stale */
	fake_put(f, "198.18.0.4", "gone\r\neth0"); /* stale */
	fake_put(f, "198.18.0.5", "old");	   /* legacy, container still valid: kept */
	fake_put(f, "198.18.0.6", "older");	   /* legacy, container gone */
	fake_put(f, "198.18.0.7", "");		   /* empty (torn write by someone): stale */
	fake_put(f, "198.18.0.8", "x\r\neth0");
	f->e[f->n - 1].unreadable = true; /* owner unknown: kept */
	assert_int_equal(ipam_alloc_gc(&fake_ops, f, valid, 2, &err), 0);
	assert_null(err);
	assert_true(fake_has(f, "198.18.0.2"));
	assert_false(fake_has(f, "198.18.0.3"));
	assert_false(fake_has(f, "198.18.0.4"));
	assert_true(fake_has(f, "198.18.0.5"));
	assert_false(fake_has(f, "198.18.0.6"));
	assert_false(fake_has(f, "198.18.0.7"));
	assert_true(fake_has(f, "198.18.0.8"));
	assert_int_equal(f->scans, 1);
	/* an empty valid list is meaningful: everything readable goes */
	assert_int_equal(ipam_alloc_gc(&fake_ops, f, NULL, 0, &err), 0);
	assert_int_equal(f->n, 1);
	free(f);
}

static void test_gc_many(void **state)
{
	struct fake *f = fake_new();
	struct cni_attachment *valid = xcalloc(500, sizeof(*valid));
	char ip[32];

	for (unsigned int i = 0; i < 1000; i++) {
		char c[64];

		snprintf(ip, sizeof(ip), "198.18.%u.%u", i / 250, i % 250 + 1);
		snprintf(c, sizeof(c), "c%u\r\neth0", i);
		fake_put(f, ip, c);
	}
	for (unsigned int i = 0; i < 500; i++) {
		valid[i].container_id = xasprintf("c%u", i * 2);
		valid[i].ifname = "eth0";
	}
	assert_int_equal(ipam_alloc_gc(&fake_ops, f, valid, 500, NULL), 0);
	assert_int_equal(f->n, 500);
	for (size_t i = 0; i < f->n; i++) {
		unsigned int k;

		assert_int_equal(sscanf(f->e[i].content, "c%u", &k), 1);
		assert_int_equal(k % 2, 0);
	}
	for (unsigned int i = 0; i < 500; i++)
		free(valid[i].container_id);
	free(valid);
	free(f);
}

static void test_check(void **state)
{
	struct fake *f = fake_new();
	struct ipam_range_set *s = mkset1("198.18.0.0/24", NULL, NULL, NULL);
	struct cni_result *prev = cni_result_new();
	struct cni_ip *ip;
	struct cni_error *err = NULL;

	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "a", "eth0", NULL, &err), -1);
	assert_string_equal(err->msg, "host-local: Failed to find address added by container a");
	cni_error_freep(&err);

	fake_put(f, "198.18.0.2", "a\r\neth0");
	fake_put(f, "198.18.0.3", "b\r\neth0");
	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "a", "eth0", NULL, &err), 0);
	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "a", "eth1", NULL, &err), -1);
	cni_error_freep(&err);

	ip = cni_result_add_ip(prev);
	assert_int_equal(ipnet_parse("198.18.0.2/24", &ip->address), 0);
	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "a", "eth0", prev, &err), 0);
	/* an address of prevResult outside our sets is somebody else's business */
	ip = cni_result_add_ip(prev);
	assert_int_equal(ipnet_parse("10.0.0.5/8", &ip->address), 0);
	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "a", "eth0", prev, &err), 0);
	/* one in our set that another container holds: fails */
	ip = cni_result_add_ip(prev);
	assert_int_equal(ipnet_parse("198.18.0.3/24", &ip->address), 0);
	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "a", "eth0", prev, &err), -1);
	assert_non_null(strstr(err->msg, "198.18.0.3"));
	cni_error_freep(&err);

	/* legacy id-only reservations count when there is no exact one */
	fake_put(f, "198.18.0.9", "leg");
	assert_int_equal(ipam_alloc_check(&fake_ops, f, s, 1, "leg", "eth0", NULL, &err), 0);
	cni_result_free(prev);
	free_sets(s, 1);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_robin_v4),
		cmocka_unit_test(test_exhausted_message),
		cmocka_unit_test(test_start_after_last_reserved),
		cmocka_unit_test(test_last_reserved_is_tried_last),
		cmocka_unit_test(test_gateway_elsewhere),
		cmocka_unit_test(test_multi_range_set),
		cmocka_unit_test(test_requested),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_dual_stack_and_rollback),
		cmocka_unit_test(test_big_ranges_are_cheap),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_owner_match),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_gc_many),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests_name("ipam_alloc", tests, NULL, NULL);
}
