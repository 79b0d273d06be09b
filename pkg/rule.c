/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "cleanup.h"
#include "rtnl.h"
#include "rule.h"

void cnl_rules_free(struct cnl_rules *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int put_rule(struct nl_msg *msg, const struct cnl_rule *r)
{
	if (r->src.addr.family &&
	    nla_put(msg, FRA_SRC, (int)ipaddr_len(&r->src.addr), r->src.addr.b) < 0)
		return -1;
	if (nla_put_u32(msg, FRA_TABLE, r->table) < 0)
		return -1;
	if (r->has_priority && nla_put_u32(msg, FRA_PRIORITY, r->priority) < 0)
		return -1;
	return 0;
}

static struct nl_msg *rule_msg(int type, int flags, const struct cnl_rule *r)
{
	struct fib_rule_hdr h = {
		.family = (unsigned char)r->family,
		.src_len = r->src.addr.family ? (unsigned char)r->src.prefix : 0,
		/* Tables above 255 only fit FRA_TABLE; the header's says "see the attribute". */
		.table = r->table < 256 ? (unsigned char)r->table : RT_TABLE_UNSPEC,
		.action = r->action ? r->action : FR_ACT_TO_TBL,
	};

	return cnl_msg_new(type, flags, &h, sizeof(h));
}

int cnl_rule_add(struct netns *ns, const struct cnl_rule *r, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = rule_msg(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, r);
	char src[IPNET_STRLEN] = "all";

	if (r->src.addr.family)
		ipnet_fmt(&r->src, src);
	if (put_rule(msg, r) < 0)
		return cnl_put_failed(err, "add rule");
	return cnl_request(ns, msg, NULL, NULL, err, "add rule from %s table %u in netns \"%s\"",
			   src, r->table, ns->path);
}

int cnl_rule_del(struct netns *ns, const struct cnl_rule *r, struct cni_error **err)
{
	cleanup_nlmsg struct nl_msg *msg = rule_msg(RTM_DELRULE, 0, r);
	struct cni_error *e = NULL;
	char src[IPNET_STRLEN] = "all";

	if (r->src.addr.family)
		ipnet_fmt(&r->src, src);
	if (put_rule(msg, r) < 0)
		return cnl_put_failed(err, "delete rule");
	if (cnl_request(ns, msg, NULL, NULL, &e, "delete rule from %s table %u in netns \"%s\"",
			src, r->table, ns->path) == 0)
		return 1;
	if (cnl_not_found(e)) {
		cni_error_free(e);
		return 0;
	}
	cni_error_move(err, &e);
	return -1;
}

static int parse_rule(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	struct cnl_rules *out = arg;
	struct nlattr *tb[FRA_MAX + 1];
	const struct fib_rule_hdr *h;
	struct cnl_rule r = { 0 };

	if (nlh->nlmsg_type != RTM_NEWRULE)
		return 0;
	if (nlmsg_parse((struct nlmsghdr *)nlh, sizeof(*h), tb, FRA_MAX, NULL) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EPROTO, "malformed RTM_NEWRULE");
	h = nlmsg_data(nlh);
	r.family = h->family;
	r.table = h->table;
	r.action = h->action;
	if (tb[FRA_TABLE] && nla_len(tb[FRA_TABLE]) >= 4)
		r.table = nla_get_u32(tb[FRA_TABLE]);
	if (tb[FRA_PRIORITY] && nla_len(tb[FRA_PRIORITY]) >= 4) {
		r.priority = nla_get_u32(tb[FRA_PRIORITY]);
		r.has_priority = true;
	}
	if (tb[FRA_SRC]) {
		int n = nla_len(tb[FRA_SRC]);

		if ((h->family == AF_INET && n == 4) || (h->family == AF_INET6 && n == 16)) {
			r.src.addr.family = h->family;
			memcpy(r.src.addr.b, nla_data(tb[FRA_SRC]), (size_t)n);
			r.src.prefix = h->src_len;
		}
	}
	r.has_other_selectors = h->dst_len || h->tos || tb[FRA_IIFNAME] || tb[FRA_OIFNAME] ||
				tb[FRA_FWMARK] || tb[FRA_DST] || tb[FRA_UID_RANGE] ||
				tb[FRA_IP_PROTO] || tb[FRA_SPORT_RANGE] || tb[FRA_DPORT_RANGE] ||
				(h->flags & FIB_RULE_INVERT);
	out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
	out->v[out->n++] = r;
	return 0;
}

static void reset_rules(void *arg)
{
	((struct cnl_rules *)arg)->n = 0;
}

static int dump_family(struct netns *ns, int family, struct cnl_rules *out, struct cni_error **err)
{
	struct fib_rule_hdr h = { .family = (unsigned char)family };
	cleanup_nlmsg struct nl_msg *msg = cnl_msg_new(RTM_GETRULE, NLM_F_DUMP, &h, sizeof(h));
	struct cnl_rules part = { 0 };
	struct cnl_sock *s;

	if (cnl_sock_get(ns, &s, err) < 0 ||
	    cnl_dump(s, msg, parse_rule, reset_rules, &part, err) < 0) {
		cnl_rules_free(&part);
		return -1;
	}
	out->v = xrealloc(out->v, (out->n + part.n + 1) * sizeof(*out->v));
	if (part.n)
		memcpy(out->v + out->n, part.v, part.n * sizeof(*part.v));
	out->n += part.n;
	cnl_rules_free(&part);
	return 0;
}

int cnl_rule_list(struct netns *ns, int family, struct cnl_rules *ret, struct cni_error **err)
{
	struct cnl_rules out = { 0 };
	int r = 0;

	if (family == AF_INET || family == AF_UNSPEC)
		r = dump_family(ns, AF_INET, &out, err);
	if (r == 0 && (family == AF_INET6 || family == AF_UNSPEC))
		r = dump_family(ns, AF_INET6, &out, err);
	if (r < 0) {
		cnl_rules_free(&out);
		return cni_error_wrap(err, "list rules in netns \"%s\"", ns->path);
	}
	*ret = out;
	return 0;
}

static volatile sig_atomic_t timer_fired;

static void timer_handler(int sig)
{
	(void)sig;
	timer_fired = 1;
}

int cnl_flock_timed(int fd, const char *what, unsigned int timeout_ms, struct cni_error **err)
{
	struct sigaction sa = { .sa_handler = timer_handler }, old_sa;
	struct itimerval it = { 0 }, old_it;
	int r, saved;

	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return cni_error_errno(err, errno, "lock %s", what);
	/*
	 * Blocking flock hands the lock over the moment it is released; the
	 * interval timer (no SA_RESTART) bounds the wait, and repeats so a
	 * signal landing just before flock() sleeps cannot leave us blocked.
	 */
	timer_fired = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, &old_sa) < 0)
		return cni_error_errno(err, errno, "lock %s", what);
	it.it_value.tv_sec = timeout_ms / 1000;
	it.it_value.tv_usec = (timeout_ms % 1000) * 1000 + 1;
	it.it_interval.tv_usec = 10000;
	if (setitimer(ITIMER_REAL, &it, &old_it) < 0) {
		saved = errno;
		(void)sigaction(SIGALRM, &old_sa, NULL);
		return cni_error_errno(err, saved, "lock %s", what);
	}
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR && !timer_fired)
		;
	saved = r < 0 ? errno : 0;
	(void)setitimer(ITIMER_REAL, &old_it, NULL);
	(void)sigaction(SIGALRM, &old_sa, NULL);
	if (r == 0)
		return 0;
	if (saved == EINTR)
		return cni_error_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
				     "timed out after %u ms waiting for the lock of %s: try again",
				     timeout_ms, what);
	return cni_error_errno(err, saved, "lock %s", what);
}
