/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap internals, one job per file (user docs in docs/portmap.md):
 *	conf.c        the plugin's keys and their checks (before any side effect)
 *	conds.c       conditionsV4/V6, in nftables or iptables syntax, parsed
 *	attachment.c  what an attachment maps: its element keys, and the index
 *	              its owner element carries so that DEL can rebuild them
 *	nftables.c    the table layout: sets, chains, rules, teardown
 *	portmap.c     the CNI verbs (ADD, CHECK, DEL, GC), host-port conflicts,
 *	              conntrack and route_localnet
 */
#ifndef CNIC_PORTMAP_H
#define CNIC_PORTMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "../../pkg/nft.h"
#include "../../pkg/types.h"

struct cni_cmd;

#define PM_TABLE "cnic_portmap"
#define PM_FAMILY NFPROTO_INET

/*
 * One match of conditionsV4/V6 (all of them must hold): ip[6] saddr/daddr
 * [!=] net, iifname/oifname [!=] name (or a name prefix: iptables' "eth+"),
 * meta l4proto [!=] proto, th sport/dport [!=] port or port range.
 */
enum pm_cond_kind {
	PM_COND_SADDR,
	PM_COND_DADDR,
	PM_COND_IIFNAME,
	PM_COND_OIFNAME,
	PM_COND_L4PROTO,
	PM_COND_SPORT,
	PM_COND_DPORT,
};

struct pm_cond {
	enum pm_cond_kind kind;
	bool neq;
	struct ipnet net;
	char ifname[16];
	/* Bytes of ifname compared: the whole padded name, or a prefix's length. */
	uint32_t ifname_len;
	uint8_t proto;
	uint16_t port_lo, port_hi; /* one port: lo == hi; a range never with neq */
};

struct pm_conds {
	struct pm_cond *v;
	size_t n;
};

/* The syntax conditions are written in; the reference picks its backend by it. */
enum pm_style {
	PM_STYLE_NONE,
	PM_STYLE_NFT,
	PM_STYLE_IPT
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

/* conf.c: decode and check every key; code 7 before anything is changed. */
int pm_conf_parse(const struct cni_cmd *cmd, struct pm_conf *ret, struct cni_error **err);
void pm_conf_free(struct pm_conf *c);

/* Names of one network's chains and sets in PM_TABLE. */
struct pm_names {
	char pre[96], out[96], dnat[96], post[96];
	char hip4[96], any4[96], hip6[96], any6[96], owners[96];
	char hc4[96], hc6[96], hs4[96], hs6[96], ma4[96], ma6[96], lo4[96];
};

/* The maps (up to PM_ANY6), then the masquerade sets. */
enum pm_set {
	PM_HIP4,
	PM_ANY4,
	PM_HIP6,
	PM_ANY6,
	PM_HC4,
	PM_HC6,
	PM_HS4,
	PM_HS6,
	PM_MA4,
	PM_MA6,
	PM_LO4,
	PM_OWNERS,
	PM_SET_COUNT
};

void pm_names_for(const char *network, struct pm_names *ret);
const char *pm_set_name(const struct pm_names *nm, enum pm_set s);

/*
 * conds.c.  The style of conditions as the reference tells it: iptables when
 * the first string starts with '-' or '!', none when there are none.
 */
enum pm_style pm_conds_style(const struct strv *tokens);
/*
 * Parse conditions for family (words split on spaces, over the strings as
 * one sequence) in either syntax, iptables' translated to the same
 * matches; code 7 naming what is not understood.
 */
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

#define PM_NET_OBJECTS (4 + PM_SET_COUNT) /* a network's chains and sets */

/*
 * DEL's teardown when its read showed it is the network's last attachment
 * (the batch guarded by that read's generation, so nothing came between):
 * the network's chains and sets, or with_table (nothing else in the
 * table) the table.  Not only-if-empty: the guard already says so.
 */
void pm_queue_del_last(struct nft_batch *b, const char *network, bool with_table);

/* A pm_elem as an nft_elem carrying comment. */
void pm_elem_view(const struct pm_elem *e, const char *comment, struct nft_elem *ret);

/* ---- attachment.c ------------------------------------------------------- */

struct pm_attachment {
	char *tag;
	struct ipnet v4, v6; /* container addresses from prevResult, family 0: none */
	struct pm_elems elems;
	struct pm_elem hs[2]; /* shared subnet elements, untagged, never deleted by DEL */
	size_t n_hs;
	bool localnet; /* 127.0.0.1 must reach a v4 mapping: route_localnet is needed */
	char *index;   /* the owner element's comment: tag and index (NULL: just the tag) */
};

void pm_attachment_free(struct pm_attachment *a);
/*
 * Every element an ADD of cmd adds, the owner element first, then by set
 * and key, no key twice (a host port mapped to two container ports is code
 * 7); and the owner element's index.
 */
int pm_attachment_for_add(const struct cni_cmd *cmd, const struct pm_conf *conf,
			  struct pm_attachment *ret, struct cni_error **err);
/*
 * The keys (no data) the attachment behind an owner element's comment
 * added, or -1 when the comment holds no index we understand.
 */
int pm_attachment_from_index(const char *tag, const char *comment, struct pm_attachment *ret);
/* Order of elements: by set (the owner first), then key (bsearch/qsort comparator). */
int pm_elem_cmp(const void *a, const void *b);
/* The tag an element comment starts with (the owner element's adds the index). */
size_t pm_comment_tag_len(const char *comment);
bool pm_comment_is_tag(const char *comment, const char *tag);
uint8_t pm_proto_num(const char *name);
const char *pm_proto_name(uint8_t proto);

#endif
