/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap internals shared by portmap.c (the CNI verbs) and nftables.c
 * (the table layout, conditions, elements).  See docs/portmap.md.
 */
#ifndef CNIC_PORTMAP_H
#define CNIC_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../pkg/nft.h"
#include "../../pkg/types.h"

#define PM_TABLE "cnic_portmap"
#define PM_FAMILY NFPROTO_INET

/* One match of conditionsV4/V6: ip[6] saddr/daddr [!=] net, or iifname [!=] name. */
enum pm_cond_kind { PM_COND_SADDR, PM_COND_DADDR, PM_COND_IIFNAME };

struct pm_cond {
	enum pm_cond_kind kind;
	bool neq;
	struct ipnet net;
	char ifname[16];
};

struct pm_conds {
	struct pm_cond *v;
	size_t n;
};

struct pm_conf {
	bool snat;
	bool masq_all;
	char *backend;
	int mark_masq_bit;
	bool has_mark_masq_bit;
	char *external_set_mark_chain;
	struct strv conditions_v4, conditions_v6;
	struct pm_conds cond4, cond6;
};

/* Names of one network's chains and sets in PM_TABLE. */
struct pm_names {
	char pre[96], out[96], dnat[96], post[96];
	char hip4[96], any4[96], hip6[96], any6[96], hp4[96], hp6[96], owners[96];
	char hc4[96], hc6[96], hs4[96], hs6[96], ma4[96], ma6[96], lo4[96];
};

/*
 * The maps (up to PM_ANY6), then the masquerade sets.  PM_HP4/6 are the
 * interval sets of version 1 (per-attachment ranges), kept only so that
 * attachments made by it keep their hairpin until their DEL.
 */
enum pm_set {
	PM_HIP4, PM_ANY4, PM_HIP6, PM_ANY6,
	PM_HP4, PM_HP6,
	PM_HC4, PM_HC6, PM_HS4, PM_HS6, PM_MA4, PM_MA6, PM_LO4,
	PM_OWNERS, PM_SET_COUNT
};

void pm_names_for(const char *network, struct pm_names *ret);
const char *pm_set_name(const struct pm_names *nm, enum pm_set s);

/* Parse conditions (nft expression syntax, joined by spaces) for family; code 7 on errors. */
int pm_conds_parse(const struct strv *tokens, int family, const char *key, struct pm_conds *ret,
		   struct cni_error **err);

/* An element to add: key/data buffers of their own. */
struct pm_elem {
	enum pm_set set;
	uint8_t key[40], key_end[40], data[20];
	uint32_t key_len, key_end_len, data_len;
	/* For messages and conntrack: the mapping behind a map element. */
	int host_port;
	uint8_t proto;
};

struct pm_elems {
	struct pm_elem *v;
	size_t n;
};

/*
 * Queue the network's table, sets and chains (idempotent), and rewrite its
 * rules when they are not exactly what conf asks for (see nftables.c).
 * with_martian: also the chain that drops martian 127/8 traffic.
 */
int pm_queue_skeleton(struct nft *n, struct nft_batch *b, const char *network,
		      const struct pm_conf *conf, bool with_martian, struct cni_error **err);

/*
 * After a DEL or GC: when the network has no attachment left, remove its
 * chains and sets (the whole table when no other network and no martian
 * guard is in it).  Guarded: a concurrent ADD of the network wins.  0 when
 * done or not needed, -1 with *err (callers log it).
 */
int pm_teardown(struct nft *n, const char *network, struct cni_error **err);

/* A pm_elem as an nft_elem carrying comment. */
void pm_elem_view(const struct pm_elem *e, const char *comment, struct nft_elem *ret);

#endif
