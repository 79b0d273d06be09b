/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy routing rules (RTM_NEWRULE / RTM_DELRULE / dump) through ns's
 * rtnetlink socket, error conventions in rtnl.h; and the bounded lock on
 * a network namespace file that sbr shares with the reference.
 */
#ifndef CNIC_RULE_H
#define CNIC_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ipaddr.h"
#include "netns.h"

/* A "from <src> lookup <table>" rule; only what sbr sets and reads. */
struct cnl_rule {
	int family;	      /* AF_INET / AF_INET6 */
	struct ipnet src;     /* prefix 0 (family 0): any source */
	uint32_t table;	      /* FRA_TABLE, or the header's table */
	uint32_t priority;    /* FRA_PRIORITY */
	bool has_priority;    /* else the kernel picks one below the first rule */
	unsigned char action; /* FR_ACT_*, FR_ACT_TO_TBL for a lookup */
	/* Set on rules read back: something beyond src/table/priority matches too. */
	bool has_other_selectors;
};

struct cnl_rules {
	struct cnl_rule *v;
	size_t n;
};

void cnl_rules_free(struct cnl_rules *l);

/* Add "from r->src lookup r->table" (NLM_F_EXCL: the same rule again is EEXIST). */
int cnl_rule_add(struct netns *ns, const struct cnl_rule *r, struct cni_error **err);

/*
 * Delete the first rule matching r's family, src, table and, when
 * has_priority, priority.  Returns 1 when deleted, 0 when there was none.
 */
int cnl_rule_del(struct netns *ns, const struct cnl_rule *r, struct cni_error **err);

/* The rules of family (AF_INET, AF_INET6, AF_UNSPEC: both), in the kernel's order. */
int cnl_rule_list(struct netns *ns, int family, struct cnl_rules *ret, struct cni_error **err);

/*
 * flock(LOCK_EX) on fd (the netns file, as the reference's sbr locks it),
 * waiting at most timeout_ms; then code 11 (try again).  Released by close.
 */
int cnl_flock_timed(int fd, const char *what, unsigned int timeout_ms, struct cni_error **err);

#endif
