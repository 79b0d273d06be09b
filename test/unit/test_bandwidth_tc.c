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
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include "../../plugins/bandwidth/tc.h"

#ifndef TCA_TBF_RATE64
#define TCA_TBF_RATE64 4
#endif

static void msg_freep(struct nl_msg **m)
{
	nlmsg_free(*m);
}
#define cleanup_msg __attribute__((cleanup(msg_freep)))

/* The tcmsg of a creation request, and its attributes in tb. */
static const struct tcmsg *parse_tc(struct nl_msg *msg, int type, struct nlattr **tb)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);

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
	cleanup_msg struct nl_msg *msg = bw_tbf_msg(7, &t);
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	const struct tc_tbf_qopt *q;
	const struct tcmsg *tc;
	struct tc_tbf_qopt zero = { 0 };

	assert_non_null(msg);
	tc = parse_tc(msg, RTM_NEWQDISC, tb);
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
	assert_int_equal(nlmsg_hdr(msg)->nlmsg_len, 88);
}

/* From 4 GiB/s on the 32-bit field saturates and TCA_TBF_RATE64 carries the rate, as tc. */
static void test_tbf_rate64(void **state)
{
	const struct bw_tbf t = { .rate = 5000000000ULL, .limit = 1000, .buffer = 10 };
	cleanup_msg struct nl_msg *msg = bw_tbf_msg(7, &t);
	struct nlattr *tb[TCA_MAX + 1], *ob[TCA_TBF_MAX + 1];
	const struct tc_tbf_qopt *q;

	assert_non_null(msg);
	parse_tc(msg, RTM_NEWQDISC, tb);
	assert_int_equal(nla_parse_nested(ob, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL), 0);
	q = nla_data(ob[TCA_TBF_PARMS]);
	assert_int_equal(q->rate.rate, UINT32_MAX);
	assert_non_null(ob[TCA_TBF_RATE64]);
	assert_true(nla_get_u64(ob[TCA_TBF_RATE64]) == 5000000000ULL);

	/* Just under 4 GiB/s: 32 bits suffice. */
	const struct bw_tbf t2 = { .rate = (1ULL << 32) - 1, .limit = 1000, .buffer = 10 };
	cleanup_msg struct nl_msg *m2 = bw_tbf_msg(7, &t2);

	parse_tc(m2, RTM_NEWQDISC, tb);
	assert_int_equal(nla_parse_nested(ob, TCA_TBF_MAX, tb[TCA_OPTIONS], NULL), 0);
	assert_int_equal(((const struct tc_tbf_qopt *)nla_data(ob[TCA_TBF_PARMS]))->rate.rate,
			 UINT32_MAX);
	assert_null(ob[TCA_TBF_RATE64]);
}

static void test_ingress(void **state)
{
	cleanup_msg struct nl_msg *msg = bw_ingress_msg(9);
	struct nlattr *tb[TCA_MAX + 1];
	const struct tcmsg *tc;

	assert_non_null(msg);
	tc = parse_tc(msg, RTM_NEWQDISC, tb);
	assert_int_equal(tc->tcm_ifindex, 9);
	assert_int_equal(tc->tcm_parent, TC_H_INGRESS);
	assert_int_equal(tc->tcm_handle, 0xffff0000);
	assert_string_equal(nla_data(tb[TCA_KIND]), "ingress");
	assert_non_null(tb[TCA_OPTIONS]);
	assert_int_equal(nla_len(tb[TCA_OPTIONS]), 0);
	assert_int_equal(nlmsg_hdr(msg)->nlmsg_len, 52);
}

static void test_redirect(void **state)
{
	cleanup_msg struct nl_msg *msg = bw_redirect_msg(9, 12);
	struct nlattr *tb[TCA_MAX + 1], *ub[TCA_U32_MAX + 1], *ab[TCA_ACT_MAX + 1];
	struct nlattr *mb[TCA_MIRRED_MAX + 1], *a;
	const struct tc_u32_sel *sel;
	const struct tc_mirred *m;
	const struct tcmsg *tc;
	struct tc_u32_key zero = { 0 };
	int rem, n = 0;

	assert_non_null(msg);
	tc = parse_tc(msg, RTM_NEWTFILTER, tb);
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
	assert_int_equal(nlmsg_hdr(msg)->nlmsg_len, 148);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tbf),
		cmocka_unit_test(test_tbf_rate64),
		cmocka_unit_test(test_ingress),
		cmocka_unit_test(test_redirect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
