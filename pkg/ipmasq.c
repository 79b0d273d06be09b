/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipMasq on nftables (see ipmasq.h).  Everything lives in one table of
 * cnic's own, so nothing else's rules are touched and `nft list table inet
 * cnic_ipmasq` shows the whole state:
 *
 *	table inet cnic_ipmasq {
 *		set masq4   { type ipv4_addr; }                       container addresses
 *		set exempt4 { type ipv4_addr . ipv4_addr; flags interval; }
 *		                                    address . its own subnet (not masqueraded)
 *		set masq6, exempt6                  the same for IPv6
 *		chain postrouting { type nat hook postrouting priority srcnat;
 *			ip saddr @masq4 ip daddr & 240.0.0.0 != 224.0.0.0
 *				ip saddr . ip daddr != @exempt4 masquerade
 *			ip6 saddr @masq6 ip6 daddr & ff00:: != ff00::
 *				ip6 saddr . ip6 daddr != @exempt6 masquerade
 *		}
 *	}
 *
 * One rule per family whatever the number of containers: a packet from
 * elsewhere costs one hash lookup, a container's packet a hash and an
 * interval lookup.  Every element carries its owner's tag
 * (nft_owner_tag()) as its comment.  ADD writes the table, chain, sets and
 * the two rules (flushed and rewritten, so they exist exactly once) and its
 * elements in one batch; the elements are added exclusively, so the common
 * case costs one round trip, and only when a key exists already (a re-ADD,
 * or a leak of an address IPAM has since handed out again) is the table
 * read to replace the stale elements.  DEL and GC read the four sets, pick
 * elements by tag and delete them in one batch.
 */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "ipmasq.h"
#include "nft.h"

#define FAM NFPROTO_INET
#define TABLE "cnic_ipmasq"
#define CHAIN "postrouting"
/* Rereading and retrying when a concurrent DEL/GC removed what we meant to delete. */
#define TRIES 3
/* Marks our rules; a future layout changes the version and so gets rewritten. */
#define RULE_COMMENT "cnic ipmasq v1"

enum { S_MASQ4, S_EXEMPT4, S_MASQ6, S_EXEMPT6, S_OWNERS, S_COUNT };

static const struct nft_set_def sets[S_COUNT] = {
	[S_MASQ4] = {
		.name = "masq4",
		.n_fields = 1,
		.key_types = { NFT_DT_IPV4 },
		.key_lens = { 4 },
		.comment = "container addresses to masquerade",
	},
	[S_EXEMPT4] = {
		.name = "exempt4",
		.flags = NFT_SET_INTERVAL,
		.n_fields = 2,
		.key_types = { NFT_DT_IPV4, NFT_DT_IPV4 },
		.key_lens = { 4, 4 },
		.comment = "container address . its subnet: not masqueraded",
	},
	[S_MASQ6] = {
		.name = "masq6",
		.n_fields = 1,
		.key_types = { NFT_DT_IPV6 },
		.key_lens = { 16 },
		.comment = "container addresses to masquerade",
	},
	[S_EXEMPT6] = {
		.name = "exempt6",
		.flags = NFT_SET_INTERVAL,
		.n_fields = 2,
		.key_types = { NFT_DT_IPV6, NFT_DT_IPV6 },
		.key_lens = { 16, 16 },
		.comment = "container address . its subnet: not masqueraded",
	},
	[S_OWNERS] = {
		.name = "owners",
		.n_fields = 1,
		.key_types = { NFT_DT_INTEGER },
		.key_lens = { NFT_OWNER_KEY_LEN },
		.comment = "one element per attachment with elements here",
	},
};

/* The elements of one address: its masq key and its exemption range. */
struct masq_keys {
	int family;
	uint8_t addr[16];
	uint8_t lo[32], hi[32]; /* addr . first, addr . last of its subnet */
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
	memcpy(ret->lo, ip->address.addr.b, len);
	memcpy(ret->lo + len, first.b, len);
	memcpy(ret->hi, ip->address.addr.b, len);
	memcpy(ret->hi + len, last.b, len);
}

static void elems_for(const struct masq_keys *k, const char *tag, struct nft_elem *masq,
		      struct nft_elem *exempt, int *ret_masq_set, int *ret_exempt_set)
{
	uint32_t len = k->family == AF_INET ? 4 : 16;

	*masq = (struct nft_elem){ .key = k->addr, .key_len = len, .comment = tag };
	*exempt = (struct nft_elem){ .key = k->lo, .key_len = 2 * len, .key_end = k->hi,
				     .key_end_len = 2 * len, .comment = tag };
	*ret_masq_set = k->family == AF_INET ? S_MASQ4 : S_MASQ6;
	*ret_exempt_set = k->family == AF_INET ? S_EXEMPT4 : S_EXEMPT6;
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
		/* Two loads (one would do) so that nft shows "ip saddr . ip daddr". */
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_01);
		nft_rule_lookup(r, NFT_REG32_00, sets[S_EXEMPT4].name, -1, true);
	} else {
		const uint8_t mcast = 0xff;

		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG_1);
		nft_rule_lookup(r, NFT_REG_1, sets[S_MASQ6].name, -1, false);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 1, NFT_REG32_00);
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &mcast, 1);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG_1);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG_2);
		nft_rule_lookup(r, NFT_REG_1, sets[S_EXEMPT6].name, -1, true);
	}
	nft_rule_masq(r, 0);
	nft_rule_set_comment(r, RULE_COMMENT);
	nft_batch_add_rule(b, r);
}

/*
 * Table, sets and chain (idempotent adds), and the chain's two rules when
 * they are not exactly there.  Rewriting them on every ADD would be simpler,
 * but deleting rules makes the kernel defer their destruction past an RCU
 * grace period, which whoever closes a netfilter socket next waits for
 * (10-15 ms): the common ADD deletes nothing.
 */
static int add_skeleton(struct nft *n, struct nft_batch *b, struct cni_error **err)
{
	static const struct nft_base_chain post = {
		.type = "nat",
		.hook = NF_INET_POST_ROUTING,
		.priority = NFT_PRIO_SRCNAT,
	};
	struct nft_rule_info *rules = NULL;
	size_t n_all = 0, n_mine = 0;

	if (nft_list_rules(n, FAM, TABLE, CHAIN, &rules, &n_all, err) < 0)
		return -1;
	for (size_t i = 0; i < n_all; i++)
		n_mine += rules[i].comment && strcmp(rules[i].comment, RULE_COMMENT) == 0;
	nft_rule_infos_free(rules, n_all);
	nft_batch_add_table(b, FAM, TABLE);
	for (int i = 0; i < S_COUNT; i++)
		nft_batch_add_set(b, FAM, TABLE, &sets[i]);
	nft_batch_add_chain(b, FAM, TABLE, CHAIN, &post);
	if (n_mine == 2 && n_all == 2)
		return 0;
	if (n_all)
		nft_batch_flush_chain(b, FAM, TABLE, CHAIN);
	add_rule(b, false);
	add_rule(b, true);
	return 0;
}

/* Every element of the four sets, by set. */
struct all_elems {
	struct nft_elem_list l[S_COUNT];
};

static void all_elems_free(struct all_elems *a)
{
	for (int i = 0; i < S_COUNT; i++)
		nft_elem_list_free(&a->l[i]);
}

static int read_all(struct nft *n, struct all_elems *ret, struct cni_error **err)
{
	struct all_elems a = { 0 };

	for (int i = 0; i < S_COUNT; i++) {
		if (nft_list_elems(n, FAM, TABLE, sets[i].name, &a.l[i], err) < 0) {
			all_elems_free(&a);
			return -1;
		}
	}
	*ret = a;
	return 0;
}

/* Queue deletion of the elements drop() picks; returns how many. */
static size_t del_matching(struct nft_batch *b, const struct all_elems *a,
			   bool (*drop)(const struct nft_elem_info *e, void *arg), void *arg)
{
	size_t total = 0;

	for (int i = 0; i < S_COUNT; i++) {
		cleanup_free struct nft_elem *v = NULL;
		size_t n = 0;

		for (size_t j = 0; j < a->l[i].n; j++) {
			if (!drop(&a->l[i].v[j], arg))
				continue;
			nft_elem_from_info(xappend(&v, &n, sizeof(*v)), &a->l[i].v[j]);
		}
		if (n)
			nft_batch_del_elems(b, FAM, TABLE, sets[i].name, v, n);
		total += n;
	}
	return total;
}

static bool same_key(const struct nft_elem_info *e, const struct nft_elem *k)
{
	return e->key_len == k->key_len && memcmp(e->key, k->key, k->key_len) == 0 &&
	       (!k->key_end || (e->key_end_len == k->key_end_len &&
				memcmp(e->key_end, k->key_end, k->key_end_len) == 0));
}

struct add_ctx {
	const char *tag;
	struct nft_elem *elems; /* what this ADD adds, its owner element first */
	int *set_of;            /* set index of each */
	size_t n;
};

/* Stale on re-ADD: our own elements, and anything on a key we are about to add. */
static bool stale_for_add(const struct nft_elem_info *e, void *arg)
{
	const struct add_ctx *c = arg;

	if (e->comment && strcmp(e->comment, c->tag) == 0)
		return true;
	for (size_t i = 0; i < c->n; i++)
		if (same_key(e, &c->elems[i]))
			return true;
	return false;
}

/* Elements whose interval overlaps ours but is not the same key also clash (pipapo). */
static bool overlaps(const struct nft_elem_info *e, const struct add_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct nft_elem *k = &c->elems[i];
		uint32_t half = k->key_len / 2;

		if (!k->key_end || e->key_len != k->key_len)
			continue;
		/* Same container address (first half of the key) with another subnet. */
		if (memcmp(e->key, k->key, half) == 0)
			return true;
	}
	return false;
}

static bool stale_or_overlapping(const struct nft_elem_info *e, void *arg)
{
	return stale_for_add(e, arg) || overlaps(e, arg);
}

static void queue_adds(struct nft_batch *b, const struct add_ctx *c)
{
	for (size_t i = 0; i < c->n; i++)
		nft_batch_add_elems(b, FAM, TABLE, sets[c->set_of[i]].name, &c->elems[i], 1, true);
}

int ipmasq_add(const char *network, const char *container_id, const char *ifname,
	       const struct cni_ip *ips, size_t n_ips, struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_free struct masq_keys *keys = NULL;
	cleanup_free struct nft_elem *elems = NULL;
	cleanup_free int *set_of = NULL;
	cleanup_nft struct nft *n = NULL;
	struct add_ctx c = { .tag = tag };
	uint8_t owner[NFT_OWNER_KEY_LEN];
	size_t n_keys = 0;
	int r;

	keys = xcalloc(n_ips ? n_ips : 1, sizeof(*keys));
	elems = xcalloc(2 * n_ips + 1, sizeof(*elems));
	set_of = xcalloc(2 * n_ips + 1, sizeof(*set_of));
	nft_owner_key(tag, owner);
	elems[0] = (struct nft_elem){ .key = owner, .key_len = sizeof(owner), .comment = tag };
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
		elems_for(&keys[n_keys], tag, &elems[1 + 2 * n_keys], &elems[2 + 2 * n_keys],
			  &set_of[1 + 2 * n_keys], &set_of[2 + 2 * n_keys]);
		n_keys++;
	}
	c.elems = elems;
	c.set_of = set_of;
	c.n = 1 + 2 * n_keys;

	if (nft_open(&n, err) < 0)
		return cni_error_wrap(err, "ipMasq");
	{
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();

		if (add_skeleton(n, b, err) < 0)
			return cni_error_wrap(err, "ipMasq");
		queue_adds(b, &c);
		r = nft_batch_commit(n, b, err);
	}
	if (r == 0)
		return 0;
	if (!err || !*err || (*err)->errnum != EEXIST)
		return cni_error_wrap(err, "ipMasq");
	cni_error_freep(err);

	/*
	 * Some key exists: this attachment was added before (its owner element
	 * is there), or an address IPAM handed out again still has a leaked
	 * element.  Replace our old elements and whatever holds our keys.
	 */
	for (int attempt = 0;; attempt++) {
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();
		struct all_elems a;

		if (read_all(n, &a, err) < 0)
			return cni_error_wrap(err, "ipMasq");
		if (add_skeleton(n, b, err) < 0) {
			all_elems_free(&a);
			return cni_error_wrap(err, "ipMasq");
		}
		(void)del_matching(b, &a, stale_or_overlapping, &c);
		all_elems_free(&a);
		queue_adds(b, &c);
		r = nft_batch_commit(n, b, err);
		if (r == 0)
			return 0;
		/* A concurrent DEL/GC/ADD changed the sets between reading and writing. */
		if (attempt + 1 >= TRIES || ((*err)->errnum != ENOENT && (*err)->errnum != EEXIST))
			return cni_error_wrap(err, "ipMasq");
		cni_error_freep(err);
	}
}

static bool owned_by(const struct nft_elem_info *e, void *arg)
{
	return e->comment && strcmp(e->comment, arg) == 0;
}

/* Read, pick by drop(), delete in one batch; a concurrent deletion makes us reread. */
static int delete_where(struct nft *n, bool (*drop)(const struct nft_elem_info *e, void *arg),
			void *arg, struct cni_error **err)
{
	int r;

	for (int attempt = 0;; attempt++) {
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();
		struct all_elems a;
		size_t found;

		if (read_all(n, &a, err) < 0)
			return -1;
		found = del_matching(b, &a, drop, arg);
		all_elems_free(&a);
		if (found == 0)
			return 0;
		r = nft_batch_commit(n, b, err);
		if (r == 0)
			return 0;
		if (attempt + 1 >= TRIES || (*err)->errnum != ENOENT)
			return -1;
		cni_error_freep(err);
	}
}

int ipmasq_del(const char *network, const char *container_id, const char *ifname,
	       struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_nft struct nft *n = NULL;
	struct nft_elem_info info = { 0 };
	uint8_t owner[NFT_OWNER_KEY_LEN];
	struct nft_elem key = { .key = owner, .key_len = sizeof(owner) };
	int r;

	/* No owner element: nothing of ours anywhere, no need to read the sets. */
	nft_owner_key(tag, owner);
	if (nft_open(&n, err) < 0)
		return cni_error_wrap(err, "ipMasq");
	r = nft_get_elem(n, FAM, TABLE, sets[S_OWNERS].name, &key, &info, err);
	nft_elem_info_free(&info);
	if (r < 0)
		return cni_error_wrap(err, "ipMasq");
	if (r == 0)
		return 0;
	if (delete_where(n, owned_by, tag, err) < 0)
		return cni_error_wrap(err, "ipMasq");
	return 0;
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
		struct nft_elem e[2];
		struct masq_keys k;
		int set[2];
		char buf[IPNET_STRLEN];

		if (ips[i].address.addr.family != AF_INET && ips[i].address.addr.family != AF_INET6)
			continue;
		keys_for(&ips[i], &k);
		elems_for(&k, tag, &e[0], &e[1], &set[0], &set[1]);
		for (int j = 0; j < 2; j++) {
			struct nft_elem_info info = { 0 };
			bool mine;

			r = nft_get_elem(n, FAM, TABLE, sets[set[j]].name, &e[j], &info, err);
			if (r < 0)
				return cni_error_wrap(err, "ipMasq");
			mine = r == 1 && info.comment && strcmp(info.comment, tag) == 0;
			nft_elem_info_free(&info);
			if (!mine)
				return cni_error_set(err, CNI_ERR_INTERNAL, 0,
						     "ipMasq: %s has no element of %s in set inet %s %s",
						     ipnet_fmt(&ips[i].address, buf), tag, TABLE,
						     sets[set[j]].name);
		}
	}
	return 0;
}

struct gc_ctx {
	const char *network;
	char **valid; /* sorted tags */
	size_t n_valid;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool orphan(const struct nft_elem_info *e, void *arg)
{
	const struct gc_ctx *c = arg;
	const char *key = e->comment;

	if (!e->comment || !nft_tag_in_network(e->comment, c->network))
		return false;
	return !bsearch(&key, c->valid, c->n_valid, sizeof(char *), cmp_str);
}

int ipmasq_gc(const char *network, const struct cni_attachment *valid, size_t n_valid,
	      struct cni_error **err)
{
	struct gc_ctx c = { .network = network, .n_valid = n_valid };
	cleanup_nft struct nft *n = NULL;
	int r;

	c.valid = xcalloc(n_valid ? n_valid : 1, sizeof(char *));
	for (size_t i = 0; i < n_valid; i++)
		c.valid[i] = nft_owner_tag(network, valid[i].container_id, valid[i].ifname);
	qsort(c.valid, n_valid, sizeof(char *), cmp_str);
	r = nft_open(&n, err);
	if (r == 0)
		r = delete_where(n, orphan, &c, err);
	for (size_t i = 0; i < n_valid; i++)
		free(c.valid[i]);
	free(c.valid);
	if (r < 0)
		return cni_error_wrap(err, "ipMasq GC");
	return 0;
}
