/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tc requests bandwidth sends (plugins/bandwidth/tc.o), checked field
 * by field against what the reference plugin 1.1.1 sends for the same
 * config (its sendto() captured with strace: 100 Mbit/s, 1 Mbit bursts),
 * so the kernel is handed the same objects: TBF parameters without a rate
 * table, TCA_TBF_RATE64 only from 4 GiB/s on, the ingress qdisc, the u32
 * match-all with its mirred redirect.  What the kernel makes of them:
 * test/integration/t-bandwidth.sh (its differential part).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "../../plugins/bandwidth/nl.h"
#include "../../plugins/bandwidth/tc.h"

#ifndef TCA_TBF_RATE64
#define TCA_TBF_RATE64 4
#endif

/* The tcmsg of a creation request, and its attributes in tb. */
static const struct tcmsg *parse_tc(struct bw_msg *msg, int type, struct nlattr **tb)
{
	struct nlmsghdr *h = &msg->h;

	assert_int_equal(h->nlmsg_type, type);
	assert_int_equal(h->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL), NLM_F_CREATE | NLM_F_EXCL);
	assert_int_equal(nlmsg_parse(h, sizeof(struct tcmsg), tb, TCA_MAX, NULL), 0);
	assert_non_null(tb[TCA_KIND]);
	return nlmsg_data(h);
}

/* 100 Mbit/s, burst 1 Mbit, 25 ms: limit 437500 B, buffer 10000 us at 15.625 ticks/us. */
static void test_tbf(void **state)
{
	const struct bw_tbf t = { .rate = 12500000, .limit = 0x6acfc, .buffer = 0x2625a };
	struct bw_msg msg;
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	const struct tc_tbf_qopt *q;
	const struct tcmsg *tc;
	struct tc_tbf_qopt zero = { 0 };

	bw_tbf_msg(&msg, 7, &t);
	assert_false(msg.overflow);
	tc = parse_tc(&msg, RTM_NEWQDISC, tb);
	assert_int_equal(tc->tcm_ifindex, 7);
	assert_int_equal(tc->tcm_parent, TC_H_ROOT);
	assert_int_equal(tc->tcm_handle, 0x10000);
	assert_string_equal(nla_data(tb[TCA_KIND]), "tbf");
	assert_non_null(tb[TCA_OPTIONS]);
	assert_int_equal(nla_parse_nested(ob, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL), 0);
	assert_non_null(ob[TCA_TBF_PARMS]);
	assert_int_equal(nla_len(ob[TCA_TBF_PARMS]), sizeof(*q));
	q = nla_data(ob[TCA_TBF_PARMS]);
	assert_int_equal(q->rate.rate, 12500000);
	assert_int_equal(q->limit, 0x6acfc);
	assert_int_equal(q->buffer, 0x2625a);
	/* Everything else zero: no cell log, link layer or peak rate of libnl's making. */
	zero.rate.rate = q->rate.rate;
	zero.limit = q->limit;
	zero.buffer = q->buffer;
	assert_memory_equal(q, &zero, sizeof(zero));
	assert_null(ob[TCA_TBF_RTAB]);
	assert_null(ob[TCA_TBF_RATE64]);
	/* The reference's request is 88 bytes: nothing more goes with ours. */
	assert_int_equal(msg.h.nlmsg_len, 88);
}

/* From 4 GiB/s on the 32-bit field saturates and TCA_TBF_RATE64 carries the rate, as tc. */
static void test_tbf_rate64(void **state)
{
	const struct bw_tbf t = { .rate = 5000000000ULL, .limit = 1000, .buffer = 10 };
	struct bw_msg msg;
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	const struct tc_tbf_qopt *q;

	bw_tbf_msg(&msg, 7, &t);
	assert_false(msg.overflow);
	parse_tc(&msg, RTM_NEWQDISC, tb);
	assert_int_equal(nla_parse_nested(ob, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL), 0);
	q = nla_data(ob[TCA_TBF_PARMS]);
	assert_int_equal(q->rate.rate, UINT32_MAX);
	assert_non_null(ob[TCA_TBF_RATE64]);
	assert_true(nla_get_u64(ob[TCA_TBF_RATE64]) == 5000000000ULL);

	/* Just under 4 GiB/s: 32 bits suffice. */
	const struct bw_tbf t2 = { .rate = (1ULL << 32) - 1, .limit = 1000, .buffer = 10 };
	struct bw_msg m2;

	bw_tbf_msg(&m2, 7, &t2);

	parse_tc(&m2, RTM_NEWQDISC, tb);
	assert_int_equal(nla_parse_nested(ob, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL), 0);
	assert_int_equal(((const struct tc_tbf_qopt *)nla_data(ob[TCA_TBF_PARMS]))->rate.rate,
			 UINT32_MAX);
	assert_null(ob[TCA_TBF_RATE64]);
}

static void test_ingress(void **state)
{
	struct bw_msg msg;
	struct nlattr *tb[TCA_MAX + 1];
	const struct tcmsg *tc;

	bw_ingress_msg(&msg, 9);
	assert_false(msg.overflow);
	tc = parse_tc(&msg, RTM_NEWQDISC, tb);
	assert_int_equal(tc->tcm_ifindex, 9);
	assert_int_equal(tc->tcm_parent, TC_H_INGRESS);
	assert_int_equal(tc->tcm_handle, 0xffff0000);
	assert_string_equal(nla_data(tb[TCA_KIND]), "ingress");
	assert_non_null(tb[TCA_OPTIONS]);
	assert_int_equal(nla_len(tb[TCA_OPTIONS]), 0);
	assert_int_equal(msg.h.nlmsg_len, 52);
}

static void test_redirect(void **state)
{
	struct bw_msg msg;
	struct nlattr *tb[TCA_MAX + 1], *ub[TCA_U32_MAX + 1], *ab[TCA_ACT_MAX + 1];
	struct nlattr *mb[TCA_MIRRED_MAX + 1], *a;
	const struct tc_u32_sel *sel;
	const struct tc_mirred *m;
	const struct tcmsg *tc;
	struct tc_u32_key zero = { 0 };
	int rem, n = 0;

	bw_redirect_msg(&msg, 9, 12);
	assert_false(msg.overflow);
	tc = parse_tc(&msg, RTM_NEWTFILTER, tb);
	assert_int_equal(tc->tcm_ifindex, 9);
	assert_int_equal(tc->tcm_parent, 0xffff0000);
	assert_int_equal(tc->tcm_handle, 0);
	/* prio 1, protocol all (network order): the reference's tcm_info, 66304. */
	assert_int_equal(tc->tcm_info, (1U << 16) | htons(ETH_P_ALL));
	assert_int_equal(tc->tcm_info, 66304);
	assert_string_equal(nla_data(tb[TCA_KIND]), "u32");
	assert_int_equal(nla_parse_nested(ub, TCA_U32_MAX, tb[TCA_OPTIONS], NULL), 0);
	assert_int_equal(nla_get_u32(ub[TCA_U32_CLASSID]), 0x10001);
	assert_int_equal(nla_len(ub[TCA_U32_SEL]), sizeof(*sel) + sizeof(struct tc_u32_key));
	sel = nla_data(ub[TCA_U32_SEL]);
	assert_int_equal(sel->flags, TC_U32_TERMINAL);
	assert_int_equal(sel->nkeys, 1);
	assert_memory_equal(&sel->keys[0], &zero, sizeof(zero));
	assert_non_null(ub[TCA_U32_ACT]);
	nla_for_each_nested(a, ub[TCA_U32_ACT], rem) {
		n++;
		assert_int_equal(nla_type(a), n);
		assert_int_equal(nla_parse_nested(ab, TCA_ACT_MAX, a, NULL), 0);
		assert_string_equal(nla_data(ab[TCA_ACT_KIND]), "mirred");
		assert_int_equal(nla_parse_nested(mb, TCA_MIRRED_MAX, ab[TCA_ACT_OPTIONS], NULL), 0);
		assert_int_equal(nla_len(mb[TCA_MIRRED_PARMS]), sizeof(*m));
		m = nla_data(mb[TCA_MIRRED_PARMS]);
		assert_int_equal(m->action, TC_ACT_STOLEN);
		assert_int_equal(m->eaction, TCA_EGRESS_REDIR);
		assert_int_equal(m->ifindex, 12);
		assert_int_equal(m->index, 0);
	}
	assert_int_equal(n, 1);
	assert_int_equal(msg.h.nlmsg_len, 148);
}

/* The attribute walker the plugin reads replies with, and a request too large to send. */
static void test_attrs_overflow(void **state)
{
	const struct bw_tbf t = { .rate = 5000000000ULL, .limit = 1000, .buffer = 10 };
	const struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	struct ifinfomsg ifi = { 0 };
	char big[BW_MSG_MAX];
	struct bw_msg msg;
	uint64_t rate;

	bw_tbf_msg(&msg, 7, &t);
	assert_int_equal(bw_msg_attrs(&msg.h, sizeof(struct tcmsg), tb, TCA_MAX), 0);
	assert_string_equal(bw_data(tb[TCA_KIND]), "tbf");
	assert_int_equal(bw_nested(tb[TCA_OPTIONS], ob, TCA_TBF_MAX), 0);
	assert_int_equal(bw_len(ob[TCA_TBF_PARMS]), sizeof(struct tc_tbf_qopt));
	memcpy(&rate, bw_data(ob[TCA_TBF_RATE64]), sizeof(rate));
	assert_true(rate == 5000000000ULL);
	/* A length past the message's end is refused, not read. */
	((struct nlattr *)tb[TCA_OPTIONS])->nla_len += 64;
	assert_int_equal(bw_msg_attrs(&msg.h, sizeof(struct tcmsg), tb, TCA_MAX), -1);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bw_msg_init(&msg, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	bw_put_str(&msg, IFLA_IFALIAS, big);
	assert_true(msg.overflow);
	assert_true(msg.h.nlmsg_len <= BW_MSG_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tbf),
		cmocka_unit_test(test_tbf_rate64),
		cmocka_unit_test(test_ingress),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_attrs_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
