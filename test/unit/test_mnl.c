/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libmnl contract that libnftnl and pkg/conntrack.c rely on, asserted
 * the same way over two builds of this file: build/unit/test_mnl links the
 * real libmnl (libmnl.so from libmnl-dev), build/unit/test_mnl_static links
 * pkg/static/mnl.c, the stand-in the static plugins carry.  An expectation
 * that only one of them meets fails one of the two binaries, so the
 * stand-in cannot drift from the library it replaces.
 *
 * Deliberately not asserted: inputs only a broken caller produces, where
 * the stand-in is stricter (an nlmsg_len that is not a multiple of 4 before
 * an attribute is put, a nested attribute shorter than its header handed to
 * mnl_attr_parse_nested, mnl_attr_put_check's last 1-3 padding bytes),
 * and the padding after an attribute's payload, which the stand-in zeroes
 * and libmnl 1.0.4 leaves as it was (the kernel ignores it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define DATA_TYPE (NLMSG_MIN_TYPE + 3)

/* A buffer of netlink messages built one by one. */
struct stream {
	char buf[4096] __attribute__((aligned(4)));
	size_t len;
};

static struct nlmsghdr *add(struct stream *s, uint16_t type, uint16_t flags, uint32_t seq,
			    uint32_t pid)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf + s->len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	return nlh;
}

static void done(struct stream *s, struct nlmsghdr *nlh)
{
	s->len += MNL_ALIGN(nlh->nlmsg_len);
}

static void add_data(struct stream *s, uint32_t seq, uint32_t pid, uint32_t val)
{
	struct nlmsghdr *nlh = add(s, DATA_TYPE, 0, seq, pid);

	mnl_attr_put_u32(nlh, 1, val);
	done(s, nlh);
}

static void add_error(struct stream *s, uint32_t seq, int error)
{
	struct nlmsghdr *nlh = add(s, NLMSG_ERROR, 0, seq, 0);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = error;
	done(s, nlh);
}

static void add_ctl(struct stream *s, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = add(s, type, 0, seq, 0);

	/* NLMSG_DONE carries an int (the dump's status), as the kernel sends it. */
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = 0;
	done(s, nlh);
}

/* What the callbacks saw, in order. */
struct trace {
	uint32_t vals[16];
	int n;
	int ctl[16];
	int nctl;
	int ret; /* what the data callback returns */
};

static int attr_u32_cb(const struct nlattr *a, void *data)
{
	struct trace *t = data;

	if (mnl_attr_get_type(a) == 1 && t->n < 16)
		t->vals[t->n++] = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct trace *t = data;

	mnl_attr_parse(nlh, 0, attr_u32_cb, t);
	return t->ret;
}

static int ctl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct trace *t = data;

	if (t->nctl < 16)
		t->ctl[t->nctl++] = nlh->nlmsg_type;
	return MNL_CB_OK;
}

static void test_cb_run_data_and_done(void **state)
{
	struct stream s = { .len = 0 };
	struct trace t = { .ret = MNL_CB_OK };

	(void)state;
	add_data(&s, 7, 99, 10);
	add_data(&s, 7, 99, 11);
	add_ctl(&s, NLMSG_DONE, 7);
	add_data(&s, 7, 99, 12); /* after DONE: never reached */
	assert_int_equal(mnl_cb_run(s.buf, s.len, 7, 99, data_cb, &t), MNL_CB_STOP);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.vals[0], 10);
	assert_int_equal(t.vals[1], 11);

	/* Zero on either side skips the check. */
	t.n = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 0, 0, data_cb, &t), MNL_CB_STOP);
	assert_int_equal(t.n, 2);

	/* No data callback: data messages are skipped, DONE still stops. */
	assert_int_equal(mnl_cb_run(s.buf, s.len, 7, 99, NULL, NULL), MNL_CB_STOP);

	/* An empty buffer, and one holding only a partial header, run nothing. */
	t.n = 0;
	assert_int_equal(mnl_cb_run(s.buf, 0, 7, 99, data_cb, &t), MNL_CB_OK);
	assert_int_equal(mnl_cb_run(s.buf, sizeof(struct nlmsghdr) - 1, 7, 99, data_cb, &t),
			 MNL_CB_OK);
	assert_int_equal(t.n, 0);
}

static void test_cb_run_return_values(void **state)
{
	struct stream s = { .len = 0 };
	struct trace t = { .ret = MNL_CB_STOP };

	(void)state;
	add_data(&s, 1, 0, 1);
	add_data(&s, 1, 0, 2);
	assert_int_equal(mnl_cb_run(s.buf, s.len, 1, 0, data_cb, &t), MNL_CB_STOP);
	assert_int_equal(t.n, 1);

	t.n = 0;
	t.ret = MNL_CB_ERROR;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 1, 0, data_cb, &t), MNL_CB_ERROR);
	assert_int_equal(t.n, 1);

	/* A positive value other than MNL_CB_OK goes on and is what the run returns. */
	t.n = 0;
	t.ret = 5;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 1, 0, data_cb, &t), 5);
	assert_int_equal(t.n, 2);

	/* ... a message no callback sees leaves it as it was; NOOP's default
	 * handler answers MNL_CB_OK. */
	t.n = 0;
	add_ctl(&s, NLMSG_MIN_TYPE - 1, 1);
	assert_int_equal(mnl_cb_run(s.buf, s.len, 1, 0, data_cb, &t), 5);
	assert_int_equal(t.n, 2);
	add_ctl(&s, NLMSG_NOOP, 1);
	assert_int_equal(mnl_cb_run(s.buf, s.len, 1, 0, data_cb, &t), MNL_CB_OK);
	s.len -= 2 * (MNL_NLMSG_HDRLEN + 4);

	/* A message whose length runs past the buffer ends the walk, not an error. */
	t.n = 0;
	t.ret = MNL_CB_OK;
	assert_int_equal(mnl_cb_run(s.buf, s.len - 4, 1, 0, data_cb, &t), MNL_CB_OK);
	assert_int_equal(t.n, 1);
}

static void test_cb_run_checks(void **state)
{
	struct stream s = { .len = 0 };
	struct trace t = { .ret = MNL_CB_OK };
	struct nlmsghdr *nlh;

	(void)state;
	add_data(&s, 5, 42, 1);
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 5, 43, data_cb, &t), MNL_CB_ERROR);
	assert_int_equal(errno, ESRCH);
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 6, 42, data_cb, &t), MNL_CB_ERROR);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(t.n, 0);

	/* The port id is checked before the sequence number. */
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 6, 43, data_cb, &t), MNL_CB_ERROR);
	assert_int_equal(errno, ESRCH);

	/* A dump the kernel interrupted fails with EINTR, before the callback. */
	s.len = 0;
	nlh = add(&s, DATA_TYPE, NLM_F_MULTI | NLM_F_DUMP_INTR, 5, 42);
	mnl_attr_put_u32(nlh, 1, 1);
	done(&s, nlh);
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 5, 42, data_cb, &t), MNL_CB_ERROR);
	assert_int_equal(errno, EINTR);
	assert_int_equal(t.n, 0);
}

static void test_cb_run_error_messages(void **state)
{
	struct stream s = { .len = 0 };
	struct trace t = { .ret = MNL_CB_OK };
	struct nlmsghdr *nlh;

	(void)state;
	/* An acknowledgment stops the run and clears errno. */
	add_data(&s, 3, 0, 1);
	add_error(&s, 3, 0);
	add_data(&s, 3, 0, 2);
	errno = EAGAIN;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 3, 0, data_cb, &t), MNL_CB_STOP);
	assert_int_equal(errno, 0);
	assert_int_equal(t.n, 1);

	/* An error: negative as the kernel sends it, positive as some subsystems do. */
	s.len = 0;
	add_error(&s, 3, -ENOENT);
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 3, 0, NULL, NULL), MNL_CB_ERROR);
	assert_int_equal(errno, ENOENT);
	s.len = 0;
	add_error(&s, 3, EEXIST);
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 3, 0, NULL, NULL), MNL_CB_ERROR);
	assert_int_equal(errno, EEXIST);

	/* An NLMSG_ERROR too short for its struct nlmsgerr. */
	s.len = 0;
	nlh = add(&s, NLMSG_ERROR, 0, 3, 0);
	mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	done(&s, nlh);
	errno = 0;
	assert_int_equal(mnl_cb_run(s.buf, s.len, 3, 0, NULL, NULL), MNL_CB_ERROR);
	assert_int_equal(errno, EBADMSG);

	/* NOOP, OVERRUN and unknown control types are passed over. */
	s.len = 0;
	t.n = 0;
	add_ctl(&s, NLMSG_NOOP, 3);
	add_ctl(&s, NLMSG_OVERRUN, 3);
	add_ctl(&s, NLMSG_MIN_TYPE - 1, 3);
	add_data(&s, 3, 0, 9);
	assert_int_equal(mnl_cb_run(s.buf, s.len, 3, 0, data_cb, &t), MNL_CB_OK);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.vals[0], 9);
}

static void test_cb_run2_control_array(void **state)
{
	struct stream s = { .len = 0 };
	struct trace t = { .ret = MNL_CB_OK };
	mnl_cb_t all[NLMSG_MIN_TYPE] = { [NLMSG_NOOP] = ctl_cb, [NLMSG_ERROR] = ctl_cb, [NLMSG_DONE] = ctl_cb };
	mnl_cb_t holes[NLMSG_MIN_TYPE] = { [NLMSG_NOOP] = ctl_cb };
	mnl_cb_t two[2] = { NULL, ctl_cb };

	(void)state;
	add_ctl(&s, NLMSG_NOOP, 1);
	add_error(&s, 1, -EPERM);
	add_ctl(&s, NLMSG_DONE, 1);
	add_data(&s, 1, 0, 4);

	/* The caller's handlers replace the defaults: nothing stops the run. */
	assert_int_equal(mnl_cb_run2(s.buf, s.len, 1, 0, data_cb, &t, all, NLMSG_MIN_TYPE),
			 MNL_CB_OK);
	assert_int_equal(t.nctl, 3);
	assert_int_equal(t.ctl[0], NLMSG_NOOP);
	assert_int_equal(t.ctl[1], NLMSG_ERROR);
	assert_int_equal(t.ctl[2], NLMSG_DONE);
	assert_int_equal(t.n, 1);

	/* A NULL slot inside the caller's array is ignored, not handed to the
	 * default handler: the error and the DONE pass without a word. */
	t.n = t.nctl = 0;
	errno = 0;
	assert_int_equal(mnl_cb_run2(s.buf, s.len, 1, 0, data_cb, &t, holes, NLMSG_MIN_TYPE),
			 MNL_CB_OK);
	assert_int_equal(t.nctl, 1);
	assert_int_equal(t.n, 1);
	assert_int_equal(errno, 0);

	/* So is every type below the array's length when the array is NULL. */
	t.n = t.nctl = 0;
	assert_int_equal(mnl_cb_run2(s.buf, s.len, 1, 0, data_cb, &t, NULL, NLMSG_MIN_TYPE),
			 MNL_CB_OK);
	assert_int_equal(t.n, 1);

	/* Types past the array's end get the default handling: the error fails. */
	t.n = t.nctl = 0;
	errno = 0;
	assert_int_equal(mnl_cb_run2(s.buf, s.len, 1, 0, data_cb, &t, two, 2), MNL_CB_ERROR);
	assert_int_equal(errno, EPERM);
	assert_int_equal(t.nctl, 1); /* NOOP (type 1) went to the caller */
	assert_int_equal(t.n, 0);

	/* An empty array: the defaults, as mnl_cb_run. */
	errno = 0;
	assert_int_equal(mnl_cb_run2(s.buf, s.len, 1, 0, data_cb, &t, NULL, 0), MNL_CB_ERROR);
	assert_int_equal(errno, EPERM);
}

static void test_nlmsg(void **state)
{
	char buf[256] __attribute__((aligned(4)));
	struct nlmsghdr *nlh, *next;
	char *extra;
	int len;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN);
	assert_int_equal(nlh->nlmsg_type, 0);
	assert_int_equal(nlh->nlmsg_flags, 0);
	assert_int_equal(nlh->nlmsg_seq, 0);
	assert_int_equal(nlh->nlmsg_pid, 0);
	assert_int_equal(mnl_nlmsg_size(5), MNL_NLMSG_HDRLEN + 5);

	/* The extra header is zeroed and rounded up to 4 bytes. */
	extra = mnl_nlmsg_put_extra_header(nlh, 5);
	assert_ptr_equal(extra, buf + MNL_NLMSG_HDRLEN);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(extra[i], 0);
	assert_int_equal(mnl_nlmsg_get_payload_len(nlh), 8);
	assert_ptr_equal(mnl_nlmsg_get_payload(nlh), extra);
	assert_ptr_equal(mnl_nlmsg_get_payload_offset(nlh, 5), extra + 8);
	assert_ptr_equal(mnl_nlmsg_get_payload_tail(nlh), buf + MNL_NLMSG_HDRLEN + 8);

	/* ok/next over two messages, the second with an unaligned length. */
	next = (struct nlmsghdr *)(buf + nlh->nlmsg_len);
	mnl_nlmsg_put_header(next)->nlmsg_len = MNL_NLMSG_HDRLEN + 3;
	len = (int)(nlh->nlmsg_len + MNL_ALIGN(next->nlmsg_len));
	assert_true(mnl_nlmsg_ok(nlh, len));
	assert_ptr_equal(mnl_nlmsg_next(nlh, &len), next);
	assert_int_equal(len, MNL_NLMSG_HDRLEN + 4);
	assert_true(mnl_nlmsg_ok(next, len));
	assert_false(mnl_nlmsg_ok(next, (int)next->nlmsg_len - 1));
	assert_false(mnl_nlmsg_ok(next, (int)sizeof(*next) - 1));
	assert_false(mnl_nlmsg_ok(next, -1));
	next->nlmsg_len = sizeof(*next) - 1;
	assert_false(mnl_nlmsg_ok(next, 64));

	nlh->nlmsg_seq = 9;
	nlh->nlmsg_pid = 4;
	assert_true(mnl_nlmsg_seq_ok(nlh, 9));
	assert_true(mnl_nlmsg_seq_ok(nlh, 0));
	assert_false(mnl_nlmsg_seq_ok(nlh, 8));
	assert_true(mnl_nlmsg_portid_ok(nlh, 4));
	assert_true(mnl_nlmsg_portid_ok(nlh, 0));
	assert_false(mnl_nlmsg_portid_ok(nlh, 5));
	nlh->nlmsg_seq = 0;
	nlh->nlmsg_pid = 0;
	assert_true(mnl_nlmsg_seq_ok(nlh, 8));
	assert_true(mnl_nlmsg_portid_ok(nlh, 5));
}

/* Every attribute of a message, in order. */
struct attrs {
	uint16_t type[16];
	uint16_t len[16];
	int n;
	int stop_at;
};

static int attrs_cb(const struct nlattr *a, void *data)
{
	struct attrs *as = data;

	if (as->n < 16) {
		as->type[as->n] = mnl_attr_get_type(a);
		as->len[as->n] = mnl_attr_get_payload_len(a);
	}
	as->n++;
	return as->n == as->stop_at ? MNL_CB_STOP : MNL_CB_OK;
}

static int ret5_cb(const struct nlattr *a, void *data)
{
	return 5;
}

static void test_attr_put_parse(void **state)
{
	char buf[512] __attribute__((aligned(4)));
	struct attrs as = { .n = 0 };
	struct nlmsghdr *nlh;
	struct nlattr *nest, *a;
	const char raw[4] = { 1, 2, 3, 4 };
	uint32_t len;

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(nlh, 4);
	mnl_attr_put_u8(nlh, 1, 0x12);
	mnl_attr_put_u16(nlh, 2, 0x1234);
	mnl_attr_put_u32(nlh, 3, 0x12345678);
	mnl_attr_put_u64(nlh, 4, 0x123456789abcdef0ULL);
	mnl_attr_put_str(nlh, 5, "abc");
	mnl_attr_put_strz(nlh, 6, "abc");
	mnl_attr_put(nlh, 7, 3, raw);
	nest = mnl_attr_nest_start(nlh, 8);
	mnl_attr_put_u32(nlh, 1, 7);
	mnl_attr_put_strz(nlh, 2, "x");
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nlh->nlmsg_len % 4, 0);
	assert_int_equal(nlh->nlmsg_len,
			 MNL_NLMSG_HDRLEN + 4 + 8 + 8 + 8 + 12 + 8 + 8 + 8 + (4 + 8 + 8));
	assert_int_equal(nest->nla_type, NLA_F_NESTED | 8);
	assert_int_equal(nest->nla_len, 4 + 8 + 8);

	a = (struct nlattr *)((char *)nlh + MNL_NLMSG_HDRLEN + 4);
	assert_int_equal(mnl_attr_get_len(a), MNL_ATTR_HDRLEN + 1);

	/* The offset skips the extra header; the walk yields every attribute once. */
	assert_int_equal(mnl_attr_parse(nlh, 4, attrs_cb, &as), MNL_CB_OK);
	assert_int_equal(as.n, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(as.type[i], i + 1);
	assert_int_equal(as.len[0], 1);
	assert_int_equal(as.len[4], 3);
	assert_int_equal(as.len[5], 4);
	assert_int_equal(as.len[6], 3);
	assert_int_equal(as.len[7], 16);

	/* The getters read what was put, the type without its flags. */
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_u16(a), 0x1234);
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_u32(a), 0x12345678);
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_u64(a), 0x123456789abcdef0ULL);
	a = mnl_attr_next(mnl_attr_next(a));
	assert_string_equal(mnl_attr_get_str(a), "abc");
	assert_int_equal(mnl_attr_get_type(nest), 8);
	assert_int_equal(mnl_attr_get_u8((struct nlattr *)((char *)nlh + MNL_NLMSG_HDRLEN + 4)),
			 0x12);

	memset(&as, 0, sizeof(as));
	assert_int_equal(mnl_attr_parse_nested(nest, attrs_cb, &as), MNL_CB_OK);
	assert_int_equal(as.n, 2);
	assert_int_equal(as.type[0], 1);
	assert_int_equal(as.type[1], 2);
	memset(&as, 0, sizeof(as));
	assert_int_equal(mnl_attr_parse_payload(mnl_attr_get_payload(nest),
						mnl_attr_get_payload_len(nest), attrs_cb, &as),
			 MNL_CB_OK);
	assert_int_equal(as.n, 2);

	/* A callback's STOP ends the walk and is returned. */
	memset(&as, 0, sizeof(as));
	as.stop_at = 3;
	assert_int_equal(mnl_attr_parse(nlh, 4, attrs_cb, &as), MNL_CB_STOP);
	assert_int_equal(as.n, 3);

	/* A positive value other than MNL_CB_OK goes on and is what the walk returns. */
	assert_int_equal(mnl_attr_parse(nlh, 4, ret5_cb, NULL), 5);
	assert_int_equal(mnl_attr_parse_nested(nest, ret5_cb, NULL), 5);
	assert_int_equal(mnl_attr_parse_payload(mnl_attr_get_payload(nest),
						mnl_attr_get_payload_len(nest), ret5_cb, NULL),
			 5);
	/* Nothing to walk: MNL_CB_OK. */
	assert_int_equal(mnl_attr_parse_payload(mnl_attr_get_payload(nest), 0, ret5_cb, NULL),
			 MNL_CB_OK);

	/* A truncated last attribute is not handed out. */
	memset(&as, 0, sizeof(as));
	nlh->nlmsg_len -= 4;
	assert_int_equal(mnl_attr_parse(nlh, 4, attrs_cb, &as), MNL_CB_OK);
	assert_int_equal(as.n, 7);
	nlh->nlmsg_len += 4;

	/* A cancelled nest leaves the message as it was. */
	len = nlh->nlmsg_len;
	nest = mnl_attr_nest_start(nlh, 9);
	mnl_attr_put_u32(nlh, 1, 1);
	mnl_attr_nest_cancel(nlh, nest);
	assert_int_equal(nlh->nlmsg_len, len);

	/* The checked variants refuse what does not fit, change nothing then. */
	assert_true(mnl_attr_put_check(nlh, len + 8, 10, 4, raw));
	assert_int_equal(nlh->nlmsg_len, len + 8);
	assert_false(mnl_attr_put_check(nlh, len + 8 + 7, 11, 4, raw));
	assert_int_equal(nlh->nlmsg_len, len + 8);
	assert_null(mnl_attr_nest_start_check(nlh, len + 8 + 3, 12));
	assert_non_null(mnl_attr_nest_start_check(nlh, len + 8 + 4, 12));
	assert_int_equal(nlh->nlmsg_len, len + 12);
}

static void test_attr_ok(void **state)
{
	struct nlattr a[4] = { { .nla_len = 8, .nla_type = 1 } };

	(void)state;
	assert_true(mnl_attr_ok(a, 8));
	assert_true(mnl_attr_ok(a, 9));
	assert_false(mnl_attr_ok(a, 7));
	assert_false(mnl_attr_ok(a, 3));
	assert_false(mnl_attr_ok(a, -4));
	a[0].nla_len = 3;
	assert_false(mnl_attr_ok(a, 16));
	a[0].nla_len = 5;
	assert_ptr_equal(mnl_attr_next(a), (char *)a + 8);
}

/* One attribute with a payload of n bytes, all set to c. */
static struct nlattr *mk(char *buf, uint16_t type, size_t n, char c)
{
	struct nlattr *a = (struct nlattr *)buf;

	a->nla_type = type;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + n);
	memset(buf + MNL_ATTR_HDRLEN, c, n);
	return a;
}

static int valid(const struct nlattr *a, enum mnl_attr_data_type type)
{
	errno = 0;
	return mnl_attr_validate(a, type) < 0 ? -errno : 0;
}

static void test_attr_validate(void **state)
{
	char buf[64] __attribute__((aligned(4)));

	(void)state;
	/* Integers: exactly their size. */
	assert_int_equal(valid(mk(buf, 1, 1, 0), MNL_TYPE_U8), 0);
	assert_int_equal(valid(mk(buf, 1, 0, 0), MNL_TYPE_U8), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 2, 0), MNL_TYPE_U16), 0);
	assert_int_equal(valid(mk(buf, 1, 1, 0), MNL_TYPE_U16), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 4, 0), MNL_TYPE_U32), 0);
	assert_int_equal(valid(mk(buf, 1, 3, 0), MNL_TYPE_U32), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 8, 0), MNL_TYPE_U64), 0);
	assert_int_equal(valid(mk(buf, 1, 4, 0), MNL_TYPE_U64), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 8, 0), MNL_TYPE_MSECS), 0);
	assert_int_equal(valid(mk(buf, 1, 7, 0), MNL_TYPE_MSECS), -ERANGE);
	/* ... and no longer. */
	assert_int_equal(valid(mk(buf, 1, 2, 0), MNL_TYPE_U8), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 8, 0), MNL_TYPE_U32), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 12, 0), MNL_TYPE_U64), -ERANGE);

	assert_int_equal(valid(mk(buf, 1, 0, 0), MNL_TYPE_FLAG), 0);
	assert_int_equal(valid(mk(buf, 1, 1, 0), MNL_TYPE_FLAG), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 3, 'a'), MNL_TYPE_STRING), 0);
	assert_int_equal(valid(mk(buf, 1, 0, 0), MNL_TYPE_STRING), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 3, 0), MNL_TYPE_NUL_STRING), 0);
	assert_int_equal(valid(mk(buf, 1, 3, 'a'), MNL_TYPE_NUL_STRING), -EINVAL);
	assert_int_equal(valid(mk(buf, 1, 0, 0), MNL_TYPE_NUL_STRING), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 0, 0), MNL_TYPE_NESTED), 0);
	assert_int_equal(valid(mk(buf, 1, 4, 0), MNL_TYPE_NESTED), 0);
	assert_int_equal(valid(mk(buf, 1, 2, 0), MNL_TYPE_NESTED), -ERANGE);
	assert_int_equal(valid(mk(buf, 1, 0, 0), MNL_TYPE_UNSPEC), 0);
	assert_int_equal(valid(mk(buf, 1, 5, 0), MNL_TYPE_BINARY), 0);
	assert_int_equal(valid(mk(buf, 1, 5, 0), MNL_TYPE_NESTED_COMPAT), 0);
	assert_int_equal(valid(mk(buf, 1, 4, 0), MNL_TYPE_MAX), -EINVAL);

	/* validate2: the caller's length, both ways. */
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 6, 0), MNL_TYPE_BINARY, 6), 0);
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 5, 0), MNL_TYPE_BINARY, 6), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 7, 0), MNL_TYPE_BINARY, 6), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 7, 0), MNL_TYPE_BINARY, 0), 0);
	/* The length is checked for every type: too short first, then the
	 * type's own rule, then too long. */
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 3, 'a'), MNL_TYPE_STRING, 4), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 5, 'a'), MNL_TYPE_NUL_STRING, 4), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 5, 0), MNL_TYPE_NUL_STRING, 4), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 4, 0), MNL_TYPE_NUL_STRING, 4), 0);
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 8, 0), MNL_TYPE_NESTED, 4), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(mnl_attr_validate2(mk(buf, 1, 4, 0), MNL_TYPE_MAX, 4), -1);
	assert_int_equal(errno, EINVAL);

	/* type_valid: the type without NLA_F_NESTED / NLA_F_NET_BYTEORDER. */
	assert_int_equal(mnl_attr_type_valid(mk(buf, 5, 0, 0), 5), 1);
	assert_int_equal(mnl_attr_type_valid(mk(buf, NLA_F_NESTED | 5, 0, 0), 5), 1);
	errno = 0;
	assert_int_equal(mnl_attr_type_valid(mk(buf, 6, 0, 0), 5), -1);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_int_equal(mnl_attr_get_type(mk(buf, NLA_F_NET_BYTEORDER | 6, 0, 0)), 6);
}

static void test_batch(void **state)
{
	char buf[256] __attribute__((aligned(4)));
	static const char zero[100];
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *nlh;

	(void)state;
	memset(buf, 0, sizeof(buf));
	/* A limit of 100 with room past it: the message that does not fit is
	 * written whole before next() says so, as libnftnl does. */
	b = mnl_nlmsg_batch_start(buf, 100);
	assert_non_null(b);
	assert_true(mnl_nlmsg_batch_is_empty(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 0);
	assert_ptr_equal(mnl_nlmsg_batch_head(b), buf);
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf);

	for (int i = 0; i < 2; i++) {
		nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
		nlh->nlmsg_seq = (uint32_t)i + 1;
		mnl_attr_put(nlh, 1, 24, zero); /* 16 + 28 = 44 bytes */
		assert_true(mnl_nlmsg_batch_next(b));
	}
	assert_false(mnl_nlmsg_batch_is_empty(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 88);
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf + 88);

	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	nlh->nlmsg_seq = 3;
	mnl_attr_put(nlh, 1, 24, zero);
	assert_false(mnl_nlmsg_batch_next(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 88);

	/* reset: the message that overflowed opens the next batch. */
	mnl_nlmsg_batch_reset(b);
	assert_int_equal(mnl_nlmsg_batch_size(b), 44);
	assert_false(mnl_nlmsg_batch_is_empty(b));
	assert_int_equal(((struct nlmsghdr *)buf)->nlmsg_seq, 3);
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf + 44);

	/* ... and a reset without overflow empties it. */
	mnl_nlmsg_batch_reset(b);
	assert_true(mnl_nlmsg_batch_is_empty(b));
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf);

	/* A message exactly at the limit fits. */
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	mnl_attr_put(nlh, 1, 100 - 16 - 4, zero);
	assert_true(mnl_nlmsg_batch_next(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 100);
	mnl_nlmsg_batch_stop(b);
}

/* Sockets: a real exchange with the kernel's rtnetlink in this netns. */
static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	int *links = data;

	if (nlh->nlmsg_type == RTM_NEWLINK)
		(*links)++;
	return MNL_CB_OK;
}

static struct nlmsghdr *getlink(char *buf, uint16_t flags, uint32_t seq, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nlh;
}

static void test_socket(void **state)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	unsigned int portid;
	int one = 1, v = 0, links = 0, r;
	socklen_t vlen = sizeof(v);
	ssize_t n;

	(void)state;
	assert_non_null(buf);
	nl = mnl_socket_open(NETLINK_ROUTE);
	assert_non_null(nl);
	assert_true(mnl_socket_get_fd(nl) >= 0);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	portid = mnl_socket_get_portid(nl);
	assert_int_not_equal(portid, 0);
	assert_int_equal(mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one)), 0);
	assert_int_equal(mnl_socket_getsockopt(nl, NETLINK_EXT_ACK, &v, &vlen), 0);
	assert_int_equal(v, 1);

	/* A request for a link that cannot exist: an NLMSG_ERROR with ENODEV. */
	nlh = getlink(buf, NLM_F_ACK, 77, 0x7ffffff0);
	assert_int_equal(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), (ssize_t)nlh->nlmsg_len);
	n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
	assert_true(n > 0);
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, (size_t)n, 77, portid, link_cb, &links), MNL_CB_ERROR);
	assert_int_equal(errno, ENODEV);
	/* ... the same reply under another sequence number is refused. */
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, (size_t)n, 78, portid, link_cb, &links), MNL_CB_ERROR);
	assert_int_equal(errno, EPROTO);

	/* A dump (lo at least) that ends in NLMSG_DONE. */
	nlh = getlink(buf, NLM_F_DUMP, 78, 0);
	assert_int_equal(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), (ssize_t)nlh->nlmsg_len);
	r = MNL_CB_OK;
	for (int i = 0; i < 100 && r > MNL_CB_STOP; i++) {
		n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
		assert_true(n > 0);
		r = mnl_cb_run(buf, (size_t)n, 78, portid, link_cb, &links);
	}
	assert_int_equal(r, MNL_CB_STOP);
	assert_true(links >= 1);

	/* A datagram larger than the buffer: ENOSPC, not a silent truncation. */
	nlh = getlink(buf, 0, 79, 1);
	assert_int_equal(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len), (ssize_t)nlh->nlmsg_len);
	errno = 0;
	assert_int_equal(mnl_socket_recvfrom(nl, buf, 32), -1);
	assert_int_equal(errno, ENOSPC);

	assert_int_equal(mnl_socket_close(nl), 0);
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	assert_non_null(nl);
	assert_int_equal(mnl_socket_close(nl), 0);
	errno = 0;
	assert_null(mnl_socket_open(MAX_LINKS));
	assert_int_not_equal(errno, 0);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cb_run_data_and_done),
		cmocka_unit_test(test_cb_run_return_values),
		cmocka_unit_test(test_cb_run_checks),
		cmocka_unit_test(test_cb_run_error_messages),
		cmocka_unit_test(test_cb_run2_control_array),
		cmocka_unit_test(test_nlmsg),
		cmocka_unit_test(test_attr_put_parse),
		cmocka_unit_test(test_attr_ok),
		cmocka_unit_test(test_attr_validate),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
