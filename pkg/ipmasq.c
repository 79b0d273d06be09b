/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipMasq on nftables (see ipmasq.h).  Everything lives in one table of
 * cnic's own, so nothing else's rules are touched and `nft list table inet
 * cnic_ipmasq` shows the whole state:
 *
 *	table inet cnic_ipmasq {
 *		set masq4   { type ipv4_addr; }                       container addresses
 *		set subnet4 { type ipv4_addr . ipv4_addr; flags interval; }
 *		                                    subnet . subnet, one per container subnet
 *		set masq6, subnet6                  the same for IPv6
 *		set owners  { type integer; }       one element per attachment
 *		chain postrouting { type nat hook postrouting priority srcnat;
 *			ip saddr @masq4 ip daddr & 240.0.0.0 != 224.0.0.0
 *				ip saddr . ip daddr != @subnet4 masquerade
 *			ip6 ... the same with masq6, subnet6
 *		}
 *	}
 *
 * One rule per family whatever the number of containers.  Per-attachment
 * elements (masq4/6, owners) live only in hash sets, tagged with their
 * owner (nft_owner_tag()) as comment: removing an element from an interval
 * (pipapo) set costs time proportional to the set's size, so the only
 * interval elements written now are the shared, untagged subnet . subnet
 * ones (source and destination in the container's subnet), one per subnet,
 * added without NLM_F_EXCL (an identical one is a no-op), never removed by
 * DEL and removed by GC once no masq4/6 address lies in them.
 *
 * ADD writes the table, chain, sets and (when not exactly there) the two
 * rules and its elements in one batch; the tagged elements are added
 * exclusively, so the common case costs one round trip, and only when a key
 * exists already (a re-ADD, a leak of an address IPAM has since handed out
 * again, or a subnet element nested with ours) is the table read.  DEL
 * deletes the owner element by key and reads only the sets that can hold
 * other elements of the owner; GC reads all.
 */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "ipmasq.h"
#include "nft.h"
#include "nft_owned.h"

#define FAM NFPROTO_INET
#define TABLE "cnic_ipmasq"
#define CHAIN "postrouting"
/* Marks our rules; a future layout changes the version and so gets rewritten. */
#define RULE_COMMENT "cnic ipmasq v2"
/* What every rule of ours starts with, whatever its version (teardown). */
#define RULE_PREFIX "cnic ipmasq"

enum {
	S_MASQ4,
	S_MASQ6,
	S_SUBNET4,
	S_SUBNET6,
	S_OWNERS,
	S_COUNT
};

static const struct nft_set_def sets[S_COUNT] = {
	[S_MASQ4] = {
		.name = "masq4",
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV4 },
		.key_lens = { 4 },
		.comment = "container addresses to masquerade",
	},
	[S_MASQ6] = {
		.name = "masq6",
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV6 },
		.key_lens = { 16 },
		.comment = "container addresses to masquerade",
	},
	[S_SUBNET4] = {
		.name = "subnet4",
		.flags = NFT_SET_INTERVAL,
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_IPV4 },
		.key_lens = { 4, 4 },
		.comment = "subnet . subnet: not masqueraded (shared, GC removes)",
	},
	[S_SUBNET6] = {
		.name = "subnet6",
		.flags = NFT_SET_INTERVAL,
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_IPV6, CNIC_NFT_DT_IPV6 },
		.key_lens = { 16, 16 },
		.comment = "subnet . subnet: not masqueraded (shared, GC removes)",
	},
	[S_OWNERS] = {
		.name = "owners",
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_OWNER },
		.key_lens = { CNIC_NFT_OWNER_KEY_LEN },
		.comment = "one element per attachment with elements here",
	},
};

/* The keys of one address: its masq key and its subnet's element. */
struct masq_keys {
	int family;
	uint8_t addr[16];
	uint8_t sub_lo[32], sub_hi[32]; /* first . first, last . last of its subnet */
};

static void keys_for(const struct cni_ip *ip, struct masq_keys *ret)
{
	struct ipaddr first, last;
	unsigned int len = ipaddr_len(&ip->address.addr);

	memset(ret, 0, sizeof(*ret));
	ret->family = ip->address.addr.family;
	ipnet_network(&ip->address, &first);
	ipnet_last(&ip->address, &last);
	memcpy(ret->addr, ip->address.addr.b, len);
	memcpy(ret->sub_lo, first.b, len);
	memcpy(ret->sub_lo + len, first.b, len);
	memcpy(ret->sub_hi, last.b, len);
	memcpy(ret->sub_hi + len, last.b, len);
}

static uint32_t addr_len(const struct masq_keys *k)
{
	return k->family == AF_INET ? 4 : 16;
}

static void masq_elem(const struct masq_keys *k, const char *tag, struct nft_elem *ret)
{
	*ret = (struct nft_elem){ .key = k->addr, .key_len = addr_len(k), .comment = tag };
}

static void subnet_elem(const struct masq_keys *k, struct nft_elem *ret)
{
	*ret = (struct nft_elem){ .key = k->sub_lo,
				  .key_len = 2 * addr_len(k),
				  .key_end = k->sub_hi,
				  .key_end_len = 2 * addr_len(k) };
}

/* ip saddr . ip daddr != @set, loading both again so that nft shows the concatenation. */
static void not_in_pair(struct nft_rule *r, bool v6, const char *set)
{
	if (!v6) {
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_01);
		nft_rule_lookup(r, NFT_REG32_00, set, -1, true);
	} else {
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG_1);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_2);
		nft_rule_lookup(r, NFT_REG_1, set, -1, true);
	}
}

/* The masquerade rule of one family (see the top comment). */
static void add_rule(struct nft_batch *b, bool v6)
{
	struct nft_rule *r = nft_rule_new(FAM, TABLE, CHAIN);
	const uint8_t proto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	nft_rule_meta(r, NFT_META_NFPROTO, NFT_REG32_00);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, &proto, 1);
	if (!v6) {
		const uint8_t mask[4] = { 0xf0, 0, 0, 0 }, zero[4] = { 0 };
		const uint8_t mcast[4] = { 224, 0, 0, 0 };

		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
		nft_rule_lookup(r, NFT_REG32_00, sets[S_MASQ4].name, -1, false);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_00);
		nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, mask, zero);
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, mcast, 4);
		not_in_pair(r, false, sets[S_SUBNET4].name);
	} else {
		const uint8_t mcast = 0xff;

		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG_1);
		nft_rule_lookup(r, NFT_REG_1, sets[S_MASQ6].name, -1, false);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 1, NFT_REG32_00);
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &mcast, 1);
		not_in_pair(r, true, sets[S_SUBNET6].name);
	}
	nft_rule_masq(r, 0);
	nft_rule_set_comment(r, RULE_COMMENT);
	nft_batch_add_rule(b, r);
}

/*
 * Table, sets and chain (idempotent adds), and the chain's two rules when
 * they are not exactly there.  Rewriting
 * them on every ADD would be simpler, but deleting rules makes the kernel
 * defer their destruction past an RCU grace period, which whoever closes a
 * netfilter socket next waits for (10-15 ms): the common ADD deletes nothing.
 */
static int add_skeleton(struct nft *n, struct nft_batch *b, struct cni_error **err)
{
	static const struct nft_base_chain post = {
		.type = "nat",
		.hook = NF_INET_POST_ROUTING,
		.priority = CNIC_NFT_PRIO_SRCNAT,
	};
	struct nft_rule_info *rules = NULL;
	size_t n_all = 0, n_mine = 0;
	uint64_t h = 0;
	bool in_place;
	int have;

	/* The chain's handle before its rules: see nft_batch_require_chain() below. */
	have = nft_chain_handle(n, FAM, TABLE, CHAIN, &h, err);
	if (have < 0 || nft_list_rules(n, FAM, TABLE, CHAIN, &rules, &n_all, err) < 0)
		return -1;
	for (size_t i = 0; i < n_all; i++)
		n_mine += rules[i].comment && strcmp(rules[i].comment, RULE_COMMENT) == 0;
	nft_rule_infos_free(rules, n_all);
	in_place = have == 1 && n_mine == 2 && n_all == 2;
	/*
	 * Rules in place (the common ADD): the batch requires the chain they
	 * were read in, so that it fails should a last DEL tear the table down
	 * meanwhile (and the retry writes them again).  First in the batch: a
	 * table this batch re-created numbers its objects from 1 again, so its
	 * new, empty chain could carry the very handle read.
	 */
	if (in_place)
		nft_batch_require_chain(b, FAM, TABLE, h);
	nft_batch_add_table(b, FAM, TABLE);
	for (int i = 0; i < S_COUNT; i++)
		nft_batch_add_set(b, FAM, TABLE, &sets[i]);
	nft_batch_add_chain(b, FAM, TABLE, CHAIN, &post);
	if (in_place)
		return 0;
	/*
	 * Rewritten with a flush in the same transaction, also when none were
	 * seen: two first ADDs at once then leave exactly one copy (the later
	 * transaction replaces the earlier's), where appending gave two.
	 */
	nft_batch_flush_chain(b, FAM, TABLE, CHAIN);
	add_rule(b, false);
	add_rule(b, true);
	return 0;
}

static const char *const set_names[S_COUNT] = {
	[S_MASQ4] = "masq4",	 [S_MASQ6] = "masq6",	[S_SUBNET4] = "subnet4",
	[S_SUBNET6] = "subnet6", [S_OWNERS] = "owners",
};
static const struct nft_sets table_sets = { FAM, TABLE, set_names, S_COUNT };
/* What holds elements while anything is attached (the shared subnet elements aside). */
static const char *const probe_sets[] = { "owners", "masq4", "masq6", NULL };

/* Elements of some of the sets, by set (lists of sets not read are empty). */
struct all_elems {
	struct nft_elem_list l[S_COUNT];
};

static void all_elems_free(struct all_elems *a)
{
	nft_lists_free(a->l, S_COUNT);
}

/* Read the sets whose bit is in mask. */
static int read_sets(struct nft *n, unsigned int mask, struct all_elems *ret, struct cni_error **err)
{
	return nft_sets_read(n, &table_sets, mask, ret->l, err);
}

#define ALL_SETS ((1u << S_COUNT) - 1)
/* Where per-attachment elements other than the owner element can be. */
#define TAGGED_SETS ((1u << S_MASQ4) | (1u << S_MASQ6))

typedef bool (*drop_fn)(size_t set, const struct nft_elem_info *e, void *arg);

/* Queue deletion of the elements drop() picks; returns how many. */
static size_t del_matching(struct nft_batch *b, const struct all_elems *a, drop_fn drop, void *arg)
{
	return nft_sets_queue_del(b, &table_sets, a->l, drop, arg);
}

struct add_ctx {
	const char *tag;
	struct nft_elem *elems; /* tagged elements this ADD adds, its owner element first */
	int *set_of;		/* set index of each */
	size_t n;
	const struct masq_keys *keys;
	size_t n_keys;
};

/* Stale on re-ADD: our own elements and anything on a key we are about to add. */
static bool stale_for_add(size_t set, const struct nft_elem_info *e, void *arg)
{
	const struct add_ctx *c = arg;

	if (set == S_SUBNET4 || set == S_SUBNET6)
		return false;
	if (e->comment && strcmp(e->comment, c->tag) == 0)
		return true;
	for (size_t i = 0; i < c->n; i++)
		if ((int)set == c->set_of[i] && e->key_len == c->elems[i].key_len &&
		    memcmp(e->key, c->elems[i].key, e->key_len) == 0)
			return true;
	return false;
}

static void queue_adds(struct nft_batch *b, const struct add_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		nft_batch_add_elems(b, FAM, TABLE, sets[c->set_of[i]].name, &c->elems[i], 1, true);
}

/* Is [lo2, hi2] within [lo1, hi1], field by field (two fields of alen bytes)? */
static bool range_within(const uint8_t *lo1, const uint8_t *hi1, const uint8_t *lo2,
			 const uint8_t *hi2, uint32_t alen)
{
	for (uint32_t f = 0; f < 2; f++)
		if (memcmp(lo1 + f * alen, lo2 + f * alen, alen) > 0 ||
		    memcmp(hi2 + f * alen, hi1 + f * alen, alen) > 0)
			return false;
	return true;
}

/*
 * The shared subnet elements, added without NLM_F_EXCL: an identical one is
 * a no-op.  The kernel refuses overlaps (EEXIST; subnets overlap only by
 * nesting): with a (the subnet sets read), an element covered by an
 * existing one is skipped and existing ones inside it are replaced.
 */
static void queue_subnets(struct nft_batch *b, const struct add_ctx *c, const struct all_elems *a)
{
	for (size_t i = 0; i < c->n_keys; i++) {
		const struct masq_keys *k = &c->keys[i];
		int set = k->family == AF_INET ? S_SUBNET4 : S_SUBNET6;
		uint32_t alen = addr_len(k);
		bool covered = false, dup = false;
		struct nft_elem e;

		for (size_t j = 0; j < i; j++)
			dup |= c->keys[j].family == k->family &&
			       memcmp(c->keys[j].sub_lo, k->sub_lo, 2 * alen) == 0 &&
			       memcmp(c->keys[j].sub_hi, k->sub_hi, 2 * alen) == 0;
		for (size_t j = 0; a && j < a->l[set].n && !covered; j++) {
			const struct nft_elem_info *o = &a->l[set].v[j];
			covered = o->key_len == 2 * alen && o->key_end_len == 2 * alen &&
				  range_within(o->key, o->key_end, k->sub_lo, k->sub_hi, alen);
		}
		if (dup || covered)
			continue;
		for (size_t j = 0; a && j < a->l[set].n; j++) {
			const struct nft_elem_info *o = &a->l[set].v[j];
			if (o->key_len == 2 * alen && o->key_end_len == 2 * alen &&
			    range_within(k->sub_lo, k->sub_hi, o->key, o->key_end, alen)) {
				nft_elem_from_info(&e, o);
				nft_batch_del_elems(b, FAM, TABLE, sets[set].name, &e, 1);
			}
		}
		subnet_elem(k, &e);
		nft_batch_add_elems(b, FAM, TABLE, sets[set].name, &e, 1, false);
	}
}

/*
 * Attempt 0 adds blindly (the common case: one round trip); a key that
 * exists (EEXIST: a re-ADD, a leak of an address IPAM handed out again, or
 * a subnet element nested with ours) makes the later attempts read the
 * sets and replace our old elements and whatever holds our keys.
 */
static ssize_t plan_add(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			struct cni_error **err)
{
	const struct add_ctx *c = arg;
	struct all_elems a;

	if (attempt == 0) {
		if (add_skeleton(n, b, err) < 0)
			return -1;
		queue_adds(b, c);
		queue_subnets(b, c, NULL);
		return (ssize_t)nft_batch_len(b);
	}
	if (read_sets(n, ALL_SETS, &a, err) < 0)
		return -1;
	if (add_skeleton(n, b, err) < 0) {
		all_elems_free(&a);
		return -1;
	}
	(void)del_matching(b, &a, stale_for_add, (void *)c);
	queue_adds(b, c);
	queue_subnets(b, c, &a);
	all_elems_free(&a);
	return (ssize_t)nft_batch_len(b);
}

int ipmasq_add(const char *network, const char *container_id, const char *ifname,
	       const struct cni_ip *ips, size_t n_ips, struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_free struct masq_keys *keys = NULL;
	cleanup_free struct nft_elem *elems = NULL;
	cleanup_free int *set_of = NULL;
	cleanup_nft struct nft *n = NULL;
	struct cni_error *local = NULL;
	struct add_ctx c = { .tag = tag };
	struct nft_owner owner;
	size_t n_keys = 0;

	keys = xcalloc(n_ips ? n_ips : 1, sizeof(*keys));
	elems = xcalloc(n_ips + 1, sizeof(*elems));
	set_of = xcalloc(n_ips + 1, sizeof(*set_of));
	nft_owner_for(&owner, tag, tag);
	elems[0] = owner.elem;
	set_of[0] = S_OWNERS;
	for (size_t i = 0; i < n_ips; i++) {
		struct masq_keys k;
		bool dup = false;

		if (ips[i].address.addr.family != AF_INET && ips[i].address.addr.family != AF_INET6)
			continue;
		keys_for(&ips[i], &k);
		for (size_t j = 0; j < n_keys; j++)
			dup |= keys[j].family == k.family && memcmp(keys[j].addr, k.addr, 16) == 0;
		if (dup)
			continue;
		keys[n_keys] = k;
		masq_elem(&keys[n_keys], tag, &elems[1 + n_keys]);
		set_of[1 + n_keys] = k.family == AF_INET ? S_MASQ4 : S_MASQ6;
		n_keys++;
	}
	c.elems = elems;
	c.set_of = set_of;
	c.n = 1 + n_keys;
	c.keys = keys;
	c.n_keys = n_keys;

	if (nft_open(&n, &local) < 0 || nft_apply(n, plan_add, &c, &local) < 0) {
		cni_error_wrap(&local, "ipMasq");
		return cni_error_move(err, &local);
	}
	return 0;
}

static bool owned_by(size_t set, const struct nft_elem_info *e, void *arg)
{
	(void)set;
	return e->comment && strcmp(e->comment, arg) == 0;
}

struct del_ctx {
	const char *tag;
	const struct nft_owner *owner;
};

/* The owner's tagged elements and its owner element; the shared subnet elements stay (GC's). */
static ssize_t plan_del(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			struct cni_error **err)
{
	const struct del_ctx *c = arg;
	struct all_elems a;
	size_t found;
	int r;

	(void)attempt;
	if (read_sets(n, TAGGED_SETS, &a, err) < 0)
		return -1;
	found = del_matching(b, &a, owned_by, (void *)c->tag);
	all_elems_free(&a);
	r = nft_owner_get(n, FAM, TABLE, set_names[S_OWNERS], c->owner, NULL, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		nft_batch_del_elems(b, FAM, TABLE, set_names[S_OWNERS], &c->owner->elem, 1);
		found++;
	}
	return (ssize_t)found;
}

int ipmasq_del(const char *network, const char *container_id, const char *ifname,
	       struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_nft struct nft *n = NULL;
	struct cni_error *local = NULL;
	struct nft_owner owner;
	struct del_ctx c = { .tag = tag, .owner = &owner };
	int r;

	/* No owner element: nothing of ours anywhere, no need to read the sets. */
	nft_owner_for(&owner, tag, NULL);
	r = nft_open(&n, &local);
	if (r == 0)
		r = nft_owner_get(n, FAM, TABLE, set_names[S_OWNERS], &owner, NULL, &local);
	if (r > 0)
		r = nft_apply(n, plan_del, &c, &local);
	if (r < 0) {
		cni_error_wrap(&local, "ipMasq");
		return cni_error_move(err, &local);
	}
	if (nft_drop_table_if_unused(n, FAM, TABLE, probe_sets, RULE_PREFIX, &local) < 0)
		nft_teardown_log("ipMasq", &local);
	return 0;
}

/* Does a subnet element of set contain k's subnet (exactly, or nested in a bigger one)? */
static int has_subnet(struct nft *n, const struct masq_keys *k, struct cni_error **err)
{
	int set = k->family == AF_INET ? S_SUBNET4 : S_SUBNET6;
	uint32_t alen = addr_len(k);
	struct nft_elem_info info = { 0 };
	struct nft_elem_list l = { 0 };
	struct nft_elem e;
	bool found = false;
	int r;

	subnet_elem(k, &e);
	r = nft_get_elem(n, FAM, TABLE, sets[set].name, &e, &info, err);
	nft_elem_info_free(&info);
	if (r != 0)
		return r;
	if (nft_list_elems(n, FAM, TABLE, sets[set].name, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n && !found; i++)
		found = l.v[i].key_len == 2 * alen && l.v[i].key_end_len == 2 * alen &&
			range_within(l.v[i].key, l.v[i].key_end, k->sub_lo, k->sub_hi, alen);
	nft_elem_list_free(&l);
	return found;
}

int ipmasq_check(const char *network, const char *container_id, const char *ifname,
		 const struct cni_ip *ips, size_t n_ips, struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_nft struct nft *n = NULL;
	int r;

	if (nft_open(&n, err) < 0)
		return cni_error_wrap(err, "ipMasq");
	r = nft_exists(n, FAM, TABLE, CHAIN, err);
	if (r < 0)
		return cni_error_wrap(err, "ipMasq");
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "ipMasq: chain inet %s %s is missing", TABLE, CHAIN);
	for (size_t i = 0; i < n_ips; i++) {
		struct nft_elem_info info = { 0 };
		int mset;
		struct masq_keys k;
		struct nft_elem e;
		char buf[IPNET_STRLEN];
		bool mine;

		if (ips[i].address.addr.family != AF_INET && ips[i].address.addr.family != AF_INET6)
			continue;
		keys_for(&ips[i], &k);
		mset = k.family == AF_INET ? S_MASQ4 : S_MASQ6;
		masq_elem(&k, tag, &e);
		r = nft_get_elem(n, FAM, TABLE, sets[mset].name, &e, &info, err);
		if (r < 0)
			return cni_error_wrap(err, "ipMasq");
		mine = r == 1 && info.comment && strcmp(info.comment, tag) == 0;
		nft_elem_info_free(&info);
		if (!mine)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "ipMasq: %s has no element of %s in set inet %s %s",
					     ipnet_fmt(&ips[i].address, buf), tag, TABLE,
					     sets[mset].name);
		/* Its subnet's shared element. */
		r = has_subnet(n, &k, err);
		if (r < 0)
			return cni_error_wrap(err, "ipMasq");
		if (r == 0)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "ipMasq: the subnet of %s has no element in set inet %s %s",
					     ipnet_fmt(&ips[i].address, buf), TABLE,
					     sets[k.family == AF_INET ? S_SUBNET4 : S_SUBNET6].name);
	}
	return 0;
}

static bool orphan(size_t set, const struct nft_elem_info *e, void *arg)
{
	(void)set;
	return e->comment && nft_live_stale(arg, e->comment, strlen(e->comment));
}

static bool masq_gone(const struct nft_elem_info *e, void *arg)
{
	return orphan(0, e, arg);
}

/*
 * Subnet elements no longer needed: no address of masq4/6 that outlives
 * this GC lies in them (whatever its network: the elements are shared).  A
 * GC racing with the first ADD in a subnet can remove the element that ADD
 * relies on; that attachment's traffic to its own subnet is then
 * masqueraded until its next ADD.
 */
static size_t gc_subnets(struct nft_batch *b, const struct all_elems *a, void *arg)
{
	size_t total = 0;

	for (int v6 = 0; v6 < 2; v6++)
		total += nft_queue_unused_subnets(b, FAM, TABLE,
						  sets[v6 ? S_SUBNET6 : S_SUBNET4].name,
						  &a->l[v6 ? S_SUBNET6 : S_SUBNET4],
						  &a->l[v6 ? S_MASQ6 : S_MASQ4], v6 ? 16 : 4,
						  masq_gone, arg);
	return total;
}

static ssize_t plan_gc(struct nft *n, struct nft_batch *b, int attempt, void *arg,
		       struct cni_error **err)
{
	struct all_elems a;
	size_t found;

	(void)attempt;
	if (read_sets(n, ALL_SETS, &a, err) < 0)
		return -1;
	found = del_matching(b, &a, orphan, arg);
	found += gc_subnets(b, &a, arg);
	all_elems_free(&a);
	return (ssize_t)found;
}

int ipmasq_gc(const struct cni_netconf *nc, struct cni_error **err)
{
	cleanup_nft struct nft *n = NULL;
	struct cni_error *local = NULL;
	struct nft_live live;
	int r = 0;

	nft_live_init(&live, nc);
	/* No list: nothing is known stale, and the shared elements stay with it. */
	if (live.known && (r = nft_open(&n, &local)) == 0)
		r = nft_apply(n, plan_gc, &live, &local);
	if (live.known && r == 0 &&
	    nft_drop_table_if_unused(n, FAM, TABLE, probe_sets, RULE_PREFIX, &local) < 0)
		nft_teardown_log("ipMasq GC", &local);
	nft_live_free(&live);
	if (r < 0) {
		cni_error_wrap(&local, "ipMasq GC");
		return cni_error_move(err, &local);
	}
	return 0;
}
