/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one netlink request path (nlsock.h): extended-ACK parsing on
 * hand-built messages, and exchanges, dumps, stale replies and bounded
 * waits against the kernel in a throwaway network namespace (unshare(2);
 * those tests are skipped without CAP_SYS_ADMIN).  Also the MAC helpers and
 * the random source of mac.h.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "../../pkg/mac.h"
#include "../../pkg/nlsock.h"

/* ---- extended ACKs ------------------------------------------------------- */

struct errmsg {
	char buf[512];
	struct nlmsghdr *h;
};

/* An NLMSG_ERROR for a request of req_payload bytes, echoed unless capped. */
static void errmsg_init(struct errmsg *m, int error, bool capped, size_t req_payload)
{
	struct nlmsgerr *e;

	memset(m->buf, 0, sizeof(m->buf));
	m->h = (struct nlmsghdr *)m->buf;
	m->h->nlmsg_type = NLMSG_ERROR;
	m->h->nlmsg_flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0);
	e = NLMSG_DATA(m->h);
	e->error = error;
	e->msg.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + req_payload);
	m->h->nlmsg_len = NLMSG_LENGTH(sizeof(*e)) + (capped ? 0 : NLMSG_ALIGN(req_payload));
}

static void errmsg_attr(struct errmsg *m, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->h->nlmsg_len));

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->h->nlmsg_len = NLMSG_ALIGN(m->h->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void test_extack_msg(void **state)
{
	struct errmsg m;
	char *x;

	/* Capped: the attributes follow the nlmsgerr. */
	errmsg_init(&m, -EINVAL, true, 0);
	errmsg_attr(&m, NLMSGERR_ATTR_MSG, "bad thing", 10);
	x = cnl_extack(m.h);
	assert_non_null(x);
	assert_string_equal(x, "bad thing");
	free(x);

	/* Not capped: our 13-byte request is echoed first (padded to 16). */
	errmsg_init(&m, -EINVAL, false, 13);
	errmsg_attr(&m, NLMSGERR_ATTR_OFFS, &(uint32_t){ 20 }, 4);
	errmsg_attr(&m, NLMSGERR_ATTR_MSG, "after echo", 11);
	x = cnl_extack(m.h);
	assert_non_null(x);
	assert_string_equal(x, "after echo");
	free(x);
}

static void test_extack_fallbacks(void **state)
{
	struct errmsg m;
	char *x;

	errmsg_init(&m, -EINVAL, true, 0);
	errmsg_attr(&m, NLMSGERR_ATTR_MISS_TYPE, &(uint32_t){ 3 }, 4);
	x = cnl_extack(m.h);
	assert_non_null(x);
	assert_string_equal(x, "missing attribute type 3");
	free(x);

	errmsg_init(&m, -EINVAL, true, 0);
	errmsg_attr(&m, NLMSGERR_ATTR_OFFS, &(uint32_t){ 24 }, 4);
	x = cnl_extack(m.h);
	assert_non_null(x);
	assert_string_equal(x, "invalid attribute at offset 24 of the request");
	free(x);

	/* No TLVs flag: nothing, whatever follows. */
	errmsg_init(&m, -EINVAL, true, 0);
	errmsg_attr(&m, NLMSGERR_ATTR_MSG, "ignored", 8);
	m.h->nlmsg_flags &= (uint16_t)~NLM_F_ACK_TLVS;
	assert_null(cnl_extack(m.h));

	/* An attribute running past the message is not read. */
	errmsg_init(&m, -EINVAL, true, 0);
	errmsg_attr(&m, NLMSGERR_ATTR_MSG, "cut", 4);
	m.h->nlmsg_len -= 4;
	assert_null(cnl_extack(m.h));

	/* A message without its NUL is still bounded by the attribute. */
	errmsg_init(&m, -EINVAL, true, 0);
	errmsg_attr(&m, NLMSGERR_ATTR_MSG, "abcd", 4);
	x = cnl_extack(m.h);
	assert_non_null(x);
	assert_string_equal(x, "abcd");
	free(x);
}

/* ---- exchanges against the kernel --------------------------------------- */

static bool in_private_netns;

static int setup_netns(void **state)
{
	in_private_netns = unshare(CLONE_NEWNET) == 0;
	return 0;
}

static struct cnl_sock *open_route(unsigned int timeout_ms)
{
	struct cni_error *err = NULL;
	struct cnl_sock *s = NULL;

	if (!in_private_netns)
		skip();
	if (cnl_sock_open(NETLINK_ROUTE, timeout_ms, &s, &err) < 0)
		fail_msg("open: %s", err->msg);
	assert_int_not_equal(s->portid, 0);
	return s;
}

struct getlink {
	struct nlmsghdr h;
	struct ifinfomsg ifi;
	char attrs[64];
};

static struct nlmsghdr *getlink_msg(struct getlink *m, const char *name, uint16_t flags)
{
	struct nlattr *a;

	memset(m, 0, sizeof(*m));
	m->h.nlmsg_type = RTM_GETLINK;
	m->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->ifi.ifi_family = AF_UNSPEC;
	m->h.nlmsg_len = NLMSG_LENGTH(sizeof(m->ifi));
	if (name) {
		a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->h.nlmsg_len));
		a->nla_type = IFLA_IFNAME;
		a->nla_len = (uint16_t)(NLA_HDRLEN + strlen(name) + 1);
		memcpy((char *)a + NLA_HDRLEN, name, strlen(name) + 1);
		m->h.nlmsg_len = NLMSG_ALIGN(m->h.nlmsg_len) + NLA_ALIGN(a->nla_len);
	}
	return &m->h;
}

struct seen {
	int links;
	int resets;
	int stop_after; /* 0: never stop */
};

static int count_link(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct seen *s = arg;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return cni_error_set(err, 0, EPROTO, "unexpected message %u", nlh->nlmsg_type);
	s->links++;
	return s->stop_after && s->links >= s->stop_after ? 1 : 0;
}

static void reset_seen(void *arg)
{
	((struct seen *)arg)->links = 0;
	((struct seen *)arg)->resets++;
}

static void test_exchange_get(void **state)
{
	struct cnl_sock *s = open_route(1000);
	struct cni_error *err = NULL;
	struct seen seen = { 0 };
	struct cnl_reply r;
	struct getlink m;
	uint32_t seq = s->seq;

	assert_int_equal(cnl_exchange(s, getlink_msg(&m, "lo", 0), count_link, &seen, &r, &err), 0);
	assert_int_equal(r.errnum, 0);
	assert_int_equal(seen.links, 1);
	assert_int_equal(m.h.nlmsg_seq, seq + 1);
	assert_int_equal(s->waits, 0); /* the kernel answered inside send */
	cnl_reply_done(&r);

	/* A refusal is the kernel's errno and its text, not a local failure. */
	assert_int_equal(cnl_exchange(s, getlink_msg(&m, "nosuchlink0", 0), count_link, &seen, &r,
				      &err),
			 0);
	assert_int_equal(r.errnum, ENODEV);
	assert_int_equal(cnl_reply_error(&err, &r, "get %s", "nosuchlink0"), -1);
	assert_int_equal(err->errnum, ENODEV);
	assert_non_null(strstr(err->msg, "get nosuchlink0: "));
	cni_error_free(err);
	err = NULL;
	cnl_reply_done(&r);
	cnl_sock_free(s);
}

static void test_stale_replies_skipped(void **state)
{
	struct cnl_sock *s = open_route(1000);
	struct cni_error *err = NULL;
	struct seen seen = { 0 };
	struct cnl_reply r;
	struct getlink m;

	/* A dump left unread, as an aborted exchange leaves it. */
	getlink_msg(&m, NULL, NLM_F_DUMP);
	m.h.nlmsg_seq = ++s->seq;
	assert_int_equal(send(s->fd, &m, m.h.nlmsg_len, 0), (ssize_t)m.h.nlmsg_len);
	/* The next request reads past it to its own answer. */
	assert_int_equal(cnl_exchange(s, getlink_msg(&m, "lo", 0), count_link, &seen, &r, &err), 0);
	assert_int_equal(r.errnum, 0);
	assert_int_equal(seen.links, 1);
	cnl_reply_done(&r);
	cnl_sock_free(s);
}

static void test_dump_and_stop(void **state)
{
	struct cnl_sock *s = open_route(1000);
	struct cni_error *err = NULL;
	struct seen seen = { 0 };
	struct cnl_reply r;
	struct getlink m;

	assert_int_equal(cnl_dump_retry(s, getlink_msg(&m, NULL, NLM_F_DUMP), count_link,
					reset_seen, &seen, &r, &err),
			 0);
	assert_int_equal(r.errnum, 0);
	assert_false(r.interrupted);
	assert_int_equal(seen.links, 1); /* a fresh netns has lo only */
	assert_int_equal(seen.resets, 0);
	cnl_reply_done(&r);

	/* Stopping at the first message ends the exchange there. */
	seen = (struct seen){ .stop_after = 1 };
	assert_int_equal(cnl_exchange(s, getlink_msg(&m, NULL, NLM_F_DUMP), count_link, &seen, &r,
				      &err),
			 0);
	assert_true(r.stopped);
	assert_int_equal(seen.links, 1);
	cnl_reply_done(&r);

	/* ... and the socket still serves the next request. */
	seen = (struct seen){ 0 };
	assert_int_equal(cnl_exchange(s, getlink_msg(&m, "lo", 0), count_link, &seen, &r, &err), 0);
	assert_int_equal(seen.links, 1);
	cnl_reply_done(&r);
	cnl_sock_free(s);
}

static int fail_parse(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	(*(int *)arg)++;
	return -1; /* without an error object: the path makes one */
}

static void test_parse_error_drains(void **state)
{
	struct cnl_sock *s = open_route(1000);
	struct cni_error *err = NULL;
	struct seen seen = { 0 };
	struct cnl_reply r;
	struct getlink m;
	int calls = 0;

	assert_int_equal(cnl_exchange(s, getlink_msg(&m, "lo", 0), fail_parse, &calls, &r, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->errnum, EPROTO);
	assert_int_equal(calls, 1);
	cni_error_free(err);
	err = NULL;
	/* The ACK was drained: the next exchange gets its own answer at once. */
	assert_int_equal(cnl_exchange(s, getlink_msg(&m, "lo", 0), count_link, &seen, &r, &err), 0);
	assert_int_equal(seen.links, 1);
	cnl_reply_done(&r);
	cnl_sock_free(s);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_recv_bounded(void **state)
{
	struct cnl_sock *s = open_route(100);
	uint64_t t0;

	/* Nothing queued and no wait: at once. */
	errno = 0;
	assert_int_equal(cnl_recv(s, false), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(s->waits, 0);

	/* One wait, bounded by the socket's timeout. */
	t0 = now_ms();
	errno = 0;
	assert_int_equal(cnl_recv(s, true), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(s->waits, 1);
	assert_true(now_ms() - t0 >= 90);
	assert_true(now_ms() - t0 < 5000);
	cnl_sock_free(s);
}

/* ---- MACs and random bytes ------------------------------------------------ */

static void test_mac_parse(void **state)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: refused */
	} cases[] = {
		{ "aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff" },
		{ "AA-BB-CC-0D-EE-F0", "aa:bb:cc:0d:ee:f0" },
		{ "aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff" },
		{ "aa:bb-cc:dd:ee:ff", NULL }, /* one separator throughout, as Go */
		{ "aa:bb:cc:dd:ee", NULL },
		{ "aa:bb:cc:dd:ee:fg", NULL },
		{ "aa:bb:cc:dd:ee:ff:", NULL },
		{ "aabb.ccdd.eefg", NULL },
		{ "", NULL },
	};
	uint8_t b[6];
	char s[CNL_MAC_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = cnl_mac_parse(cases[i].in, b);

		if (!cases[i].out) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, 0);
		cnl_mac_format(b, s);
		assert_string_equal(s, cases[i].out);
	}
	assert_int_equal(cnl_mac_parse(NULL, b), -1);
}

static void test_mac_random(void **state)
{
	char a[CNL_MAC_STRLEN], b[CNL_MAC_STRLEN];
	uint8_t m[6];

	cnl_mac_random(a);
	cnl_mac_random(b);
	assert_int_equal(cnl_mac_parse(a, m), 0);
	assert_int_equal(m[0] & 0x01, 0);    /* unicast */
	assert_int_equal(m[0] & 0x02, 0x02); /* locally administered */
	assert_string_not_equal(a, b);
}

static void test_random_bytes(void **state)
{
	uint8_t a[32], b[32], z[32] = { 0 };

	cnic_random(a, sizeof(a));
	cnic_random(b, sizeof(b));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, z, sizeof(a));
	cnic_random(a, 0); /* nothing asked, nothing written */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extack_msg),    cmocka_unit_test(test_extack_fallbacks),
		cmocka_unit_test(test_exchange_get),  cmocka_unit_test(test_stale_replies_skipped),
		cmocka_unit_test(test_dump_and_stop), cmocka_unit_test(test_parse_error_drains),
		cmocka_unit_test(test_recv_bounded),  cmocka_unit_test(test_mac_parse),
		cmocka_unit_test(test_mac_random),    cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
