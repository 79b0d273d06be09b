/* SPDX-License-Identifier: Apache-2.0 */
/*
 * firewall: a chained plugin that lets the container's addresses through
 * the host's forward path, and optionally isolates bridges from each other
 * (ingressPolicy), as the reference's iptables backend does, on nftables
 * through libnftnl in one table of cnic's own (never exec'd iptables or
 * nft).  Keys: backend, iptablesAdminChainName, firewalldZone (accepted,
 * unused), ingressPolicy.  See docs/firewall.md.
 *
 *	table inet cnic_firewall {
 *		set fwd4 { type ipv4_addr; }            container addresses
 *		set iso4 { type ifname . ipv4_addr; }   bridge . address of containers
 *		                                        with ingressPolicy same-bridge/isolated
 *		set isol4 { type ifname . ipv4_addr; }  the same, isolated only
 *		set fwd6, iso6, isol6                   the same for IPv6
 *		set owners                              one element per attachment
 *		chain forward { type filter hook forward priority filter; policy accept;
 *			iifname . ip saddr @iso4 oifname . ip daddr @iso4
 *				iifname . ip daddr != @iso4 drop      between two policy bridges
 *			oifname . ip daddr @isol4 iifname . ip daddr @isol4 drop
 *			                                        within an isolated bridge
 *			(the same for IPv6)
 *			jump CNI-ADMIN                          iptablesAdminChainName, for the admin
 *			ip daddr @fwd4 ct state established,related accept
 *			ip saddr @fwd4 accept
 *			(the same for IPv6)
 *		}
 *		chain CNI-ADMIN { }                     the admin's own rules, never touched
 *	}
 *
 * The rules are written once and reference the sets, so per packet and per
 * ADD the cost does not grow with the number of containers.  Every element
 * carries its owner's tag (network, container id, ifname) as its comment:
 * DEL needs no prevResult (the reference removes nothing without one), GC
 * finds orphans, and elements never outlive their container (the
 * reference's isolation chains are never torn down).  "iifname . ip daddr
 * != @iso4" is how "the input and output bridges differ" is said with one
 * lookup: a destination is a member only on its own bridge.
 *
 * That table cannot override a drop policy elsewhere: on nodes whose
 * iptables-nft FORWARD drops (Docker, ufw), xtforward.c also puts the
 * accepts where the reference does (CNI-FORWARD), after the table's
 * transaction and rolled back with it.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h> /* before <linux/netfilter.h> (nft.h), which clashes with it otherwise */
#include <stddef.h>
#include <string.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/nft.h"
#include "../../pkg/nft_owned.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "xtforward.h"

#define FAM NFPROTO_INET
#define TABLE "cnic_firewall"
#define CHAIN "forward"
#define DEFAULT_ADMIN "CNI-ADMIN"
#define RULE_COMMENT "cnic firewall v1"
#define ADMIN_PREFIX "cnic firewall v1 admin "
#define N_FIXED_RULES 8
/*
 * ct state bits, NF_CT_STATE_BIT(IP_CT_ESTABLISHED / IP_CT_RELATED):
 * <linux/netfilter/nf_conntrack_common.h> clashes with <netinet/in.h>.
 */
#define CT_STATE_ESTABLISHED (1u << 1)
#define CT_STATE_RELATED (1u << 2)

/* ---- configuration ------------------------------------------------------- */

enum policy {
	POLICY_OPEN,
	POLICY_SAME_BRIDGE,
	POLICY_ISOLATED
};

struct fw_conf {
	char *backend;
	char *admin_chain;
	char *zone;
	char *ingress_policy;
	enum policy policy;
};

static const struct cni_field fw_fields[] = {
	{ .key = "backend",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct fw_conf, backend),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "iptablesAdminChainName",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct fw_conf, admin_chain),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "firewalldZone",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct fw_conf, zone),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "ingressPolicy",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct fw_conf, ingress_policy),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static void fw_conf_free(struct fw_conf *c)
{
	cni_fields_free(fw_fields, c);
}

/* An nftables chain name we create: plain characters, not our base chain's. */
static bool valid_chain_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || strcmp(s, CHAIN) == 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/*
 * backend "" and "iptables" both mean these nftables rules ("nftables" is
 * accepted too); firewalld is a D-Bus service cnic does not talk to, so it
 * is refused on ADD and CHECK (code 2) rather than silently ignored.
 */
static int load_conf(const struct cni_cmd *cmd, struct fw_conf *c, struct cni_error **err)
{
	const char *be, *ip;

	if (cni_json_decode(cni_netconf_root(cmd->conf), fw_fields, c, "", err) < 0)
		return -1;
	be = c->backend ? c->backend : "";
	if (strcmp(be, "firewalld") == 0) {
		if (cmd->verb == CNI_VERB_ADD || cmd->verb == CNI_VERB_CHECK)
			return cni_error_set(
				err, CNI_ERR_UNSUPPORTED_FIELD, 0,
				"unsupported field: backend \"firewalld\": cnic's firewall writes "
				"nftables rules and cannot drive firewalld; use backend \"iptables\" "
				"(or leave it empty) for the nftables equivalent");
	} else if (*be && strcmp(be, "iptables") != 0 && strcmp(be, "nftables") != 0) {
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "unknown firewall backend \"%s\" (iptables, nftables, firewalld)",
				     be);
	}
	if (!c->admin_chain || !*c->admin_chain) {
		free(c->admin_chain);
		c->admin_chain = xstrdup(DEFAULT_ADMIN);
	}
	if (!valid_chain_name(c->admin_chain))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid iptablesAdminChainName \"%s\"", c->admin_chain);
	ip = c->ingress_policy ? c->ingress_policy : "";
	if (!*ip || strcmp(ip, "open") == 0)
		c->policy = POLICY_OPEN;
	else if (strcmp(ip, "same-bridge") == 0)
		c->policy = POLICY_SAME_BRIDGE;
	else if (strcmp(ip, "isolated") == 0)
		c->policy = POLICY_ISOLATED;
	else
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "unknown ingress policy: \"%s\"", ip);
	return 0;
}

/* ---- table layout -------------------------------------------------------- */

enum {
	S_FWD4,
	S_FWD6,
	S_ISO4,
	S_ISO6,
	S_ISOL4,
	S_ISOL6,
	S_OWNERS,
	S_COUNT
};

static const struct nft_set_def sets[S_COUNT] = {
	[S_FWD4] = { .name = "fwd4",
		     .n_fields = 1,
		     .key_types = { CNIC_NFT_DT_IPV4 },
		     .key_lens = { 4 },
		     .comment = "container addresses: forwarding accepted" },
	[S_FWD6] = { .name = "fwd6",
		     .n_fields = 1,
		     .key_types = { CNIC_NFT_DT_IPV6 },
		     .key_lens = { 16 },
		     .comment = "container addresses: forwarding accepted" },
	[S_ISO4] = { .name = "iso4",
		     .n_fields = 2,
		     .key_types = { CNIC_NFT_DT_IFNAME, CNIC_NFT_DT_IPV4 },
		     .key_lens = { IFNAMSIZ, 4 },
		     .comment = "bridge . address with ingressPolicy same-bridge or isolated" },
	[S_ISO6] = { .name = "iso6",
		     .n_fields = 2,
		     .key_types = { CNIC_NFT_DT_IFNAME, CNIC_NFT_DT_IPV6 },
		     .key_lens = { IFNAMSIZ, 16 },
		     .comment = "bridge . address with ingressPolicy same-bridge or isolated" },
	[S_ISOL4] = { .name = "isol4",
		      .n_fields = 2,
		      .key_types = { CNIC_NFT_DT_IFNAME, CNIC_NFT_DT_IPV4 },
		      .key_lens = { IFNAMSIZ, 4 },
		      .comment = "bridge . address with ingressPolicy isolated" },
	[S_ISOL6] = { .name = "isol6",
		      .n_fields = 2,
		      .key_types = { CNIC_NFT_DT_IFNAME, CNIC_NFT_DT_IPV6 },
		      .key_lens = { IFNAMSIZ, 16 },
		      .comment = "bridge . address with ingressPolicy isolated" },
	[S_OWNERS] = { .name = "owners",
		       .n_fields = 1,
		       .key_types = { CNIC_NFT_DT_OWNER },
		       .key_lens = { CNIC_NFT_OWNER_KEY_LEN },
		       .comment = "one element per attachment with elements here" },
};

/* Match the packet's family: inet chains see both. */
static void match_family(struct nft_rule *r, bool v6)
{
	const uint8_t proto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	nft_rule_meta(r, NFT_META_NFPROTO, NFT_REG32_00);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, &proto, 1);
}

/* Address offsets in the network header and the register after a 16-byte ifname. */
struct fam {
	bool v6;
	uint32_t saddr, daddr, alen;
	int fwd, iso, isol;
};

static const struct fam fams[2] = {
	{ .v6 = false, .saddr = 12, .daddr = 16, .alen = 4, .fwd = S_FWD4, .iso = S_ISO4, .isol = S_ISOL4 },
	{ .v6 = true, .saddr = 8, .daddr = 24, .alen = 16, .fwd = S_FWD6, .iso = S_ISO6, .isol = S_ISOL6 },
};

/* Look (meta key) . (address at off) up in set; the ifname fills NFT_REG_1, the address follows. */
static void lookup_if_addr(struct nft_rule *r, uint32_t meta, uint32_t off, uint32_t alen,
			   const char *set, bool invert)
{
	nft_rule_meta(r, meta, NFT_REG_1);
	nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen, NFT_REG_2);
	nft_rule_lookup(r, NFT_REG_1, set, -1, invert);
}

static struct nft_rule *rule_new(void)
{
	return nft_rule_new(FAM, TABLE, CHAIN);
}

static void add_fixed_drops(struct nft_batch *b)
{
	for (int i = 0; i < 2; i++) {
		const struct fam *f = &fams[i];
		struct nft_rule *r = rule_new();

		/* Between two bridges that both hold policy containers. */
		match_family(r, f->v6);
		lookup_if_addr(r, NFT_META_IIFNAME, f->saddr, f->alen, sets[f->iso].name, false);
		lookup_if_addr(r, NFT_META_OIFNAME, f->daddr, f->alen, sets[f->iso].name, false);
		lookup_if_addr(r, NFT_META_IIFNAME, f->daddr, f->alen, sets[f->iso].name, true);
		nft_rule_verdict(r, NF_DROP, NULL);
		nft_rule_set_comment(r, RULE_COMMENT);
		nft_batch_add_rule(b, r);

		/* Within a bridge whose destination container is isolated. */
		r = rule_new();
		match_family(r, f->v6);
		lookup_if_addr(r, NFT_META_OIFNAME, f->daddr, f->alen, sets[f->isol].name, false);
		lookup_if_addr(r, NFT_META_IIFNAME, f->daddr, f->alen, sets[f->isol].name, false);
		nft_rule_verdict(r, NF_DROP, NULL);
		nft_rule_set_comment(r, RULE_COMMENT);
		nft_batch_add_rule(b, r);
	}
}

static void add_fixed_accepts(struct nft_batch *b)
{
	const uint32_t est = CT_STATE_ESTABLISHED | CT_STATE_RELATED;
	const uint32_t zero = 0;

	for (int i = 0; i < 2; i++) {
		const struct fam *f = &fams[i];
		struct nft_rule *r = rule_new();

		match_family(r, f->v6);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, f->daddr, f->alen, NFT_REG_1);
		nft_rule_lookup(r, NFT_REG_1, sets[f->fwd].name, -1, false);
		nft_rule_ct(r, NFT_CT_STATE, -1, NFT_REG32_00);
		nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, &est, &zero);
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &zero, 4);
		nft_rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_set_comment(r, RULE_COMMENT);
		nft_batch_add_rule(b, r);

		r = rule_new();
		match_family(r, f->v6);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, f->saddr, f->alen, NFT_REG_1);
		nft_rule_lookup(r, NFT_REG_1, sets[f->fwd].name, -1, false);
		nft_rule_verdict(r, NF_ACCEPT, NULL);
		nft_rule_set_comment(r, RULE_COMMENT);
		nft_batch_add_rule(b, r);
	}
}

static bool is_admin_comment(const char *c)
{
	return c && strncmp(c, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0 &&
	       valid_chain_name(c + strlen(ADMIN_PREFIX));
}

/*
 * Table, sets and chains (idempotent adds), and the forward chain's rules
 * when they are not all there: the fixed rules plus a jump to every admin
 * chain any network asked for (kept from the current rules) and ours.  The
 * common ADD rewrites nothing (deleting rules costs an RCU grace period).
 * admin NULL: just check (CHECK), returning 1 when everything is in place.
 */
static int skeleton(struct nft *n, struct nft_batch *b, const char *admin, struct cni_error **err)
{
	static const struct nft_base_chain fwd = {
		.type = "filter",
		.hook = NF_INET_FORWARD,
		.priority = CNIC_NFT_PRIO_FILTER,
	};
	size_t n_all = 0, n_fixed = 0;
	struct strv admins = { 0 };
	bool have_ours = false, guard = false;
	uint32_t gen = 0;
	uint64_t h = 0;
	int have_h = 0;

	/*
	 * Writing the rules rests on having read that they are missing or
	 * different: overlapping first ADDs would each append them.  Such a
	 * batch is guarded by the generation read before a second look (see
	 * nft_batch_guard()), so only one of them commits; the others reread.
	 */
	for (;;) {
		struct nft_rule_info *rules = NULL;

		/* Read before the rules: see the use of h below. */
		if (b && !guard && (have_h = nft_chain_handle(n, FAM, TABLE, CHAIN, &h, err)) < 0) {
			strv_free(&admins);
			return -1;
		}
		if (nft_list_rules(n, FAM, TABLE, CHAIN, &rules, &n_all, err) < 0) {
			strv_free(&admins);
			return -1;
		}
		n_fixed = 0;
		have_ours = false;
		strv_free(&admins);
		for (size_t i = 0; i < n_all; i++) {
			const char *c = rules[i].comment;

			if (c && strcmp(c, RULE_COMMENT) == 0) {
				n_fixed++;
			} else if (is_admin_comment(c) &&
				   !strv_contains(&admins, c + strlen(ADMIN_PREFIX))) {
				strv_push(&admins, c + strlen(ADMIN_PREFIX));
				have_ours |= admin && strcmp(c + strlen(ADMIN_PREFIX), admin) == 0;
			}
		}
		nft_rule_infos_free(rules, n_all);
		if (!b || guard ||
		    (have_h == 1 && have_ours && n_fixed == N_FIXED_RULES &&
		     n_all == N_FIXED_RULES + admins.n))
			break;
		if (nft_genid(n, &gen, err) < 0) {
			strv_free(&admins);
			return -1;
		}
		guard = true;
	}
	if (!b) {
		bool complete = n_fixed == N_FIXED_RULES && n_all == N_FIXED_RULES + admins.n;

		strv_free(&admins);
		return complete;
	}
	/*
	 * Rules in place: the batch requires the chain they were read in (by
	 * the handle read before them), so that it fails should a last DEL
	 * tear the table down meanwhile.  First in the batch: a table this
	 * batch re-created numbers its objects from 1 again, so its new, empty
	 * chain could carry the very handle read.
	 */
	if (!guard)
		nft_batch_require_chain(b, FAM, TABLE, h);
	nft_batch_add_table(b, FAM, TABLE);
	for (int i = 0; i < S_COUNT; i++)
		nft_batch_add_set(b, FAM, TABLE, &sets[i]);
	nft_batch_add_chain(b, FAM, TABLE, CHAIN, &fwd);
	nft_batch_add_chain(b, FAM, TABLE, admin, NULL);
	if (!guard) {
		strv_free(&admins);
		return 0;
	}
	nft_batch_guard(b, gen);
	if (!have_ours)
		strv_push(&admins, admin);
	if (n_all)
		nft_batch_flush_chain(b, FAM, TABLE, CHAIN);
	add_fixed_drops(b);
	for (size_t i = 0; i < admins.n; i++) {
		cleanup_free char *comment = xasprintf(ADMIN_PREFIX "%s", admins.v[i]);
		struct nft_rule *r = rule_new();

		/* Another network's admin chain: make sure it exists too. */
		nft_batch_add_chain(b, FAM, TABLE, admins.v[i], NULL);
		nft_rule_verdict(r, NFT_JUMP, admins.v[i]);
		nft_rule_set_comment(r, comment);
		nft_batch_add_rule(b, r);
	}
	add_fixed_accepts(b);
	strv_free(&admins);
	return 0;
}

/* ---- elements of an attachment ------------------------------------------- */

struct key {
	int set;
	uint8_t k[IFNAMSIZ + 16];
	uint32_t len;
};

struct keys {
	struct key *v;
	size_t n;
};

static void keys_push(struct keys *ks, int set, const char *ifname, const struct ipaddr *a)
{
	uint32_t alen = a->family == AF_INET ? 4 : 16;
	struct key k = { .set = set };
	size_t off = 0;

	if (ifname) {
		strncpy((char *)k.k, ifname, IFNAMSIZ);
		off = IFNAMSIZ;
	}
	memcpy(k.k + off, a->b, alen);
	k.len = (uint32_t)(off + alen);
	for (size_t i = 0; i < ks->n; i++)
		if (ks->v[i].set == k.set && ks->v[i].len == k.len && !memcmp(ks->v[i].k, k.k, k.len))
			return;
	*(struct key *)xappend(&ks->v, &ks->n, sizeof(k)) = k;
}

/* The elements ADD adds (the owner element aside) for the result's addresses. */
static int attachment_keys(const struct fw_conf *c, const struct cni_result *r, struct keys *ret,
			   struct cni_error **err)
{
	const char *bridge = NULL;
	struct keys ks = { 0 };

	if (c->policy != POLICY_OPEN) {
		if (r->n_ifaces == 0 || !r->ifaces[0].name || !*r->ifaces[0].name)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "interface needs to be set for ingress policy \"%s\", make sure to "
					     "chain \"firewall\" plugin with \"bridge\"",
					     c->ingress_policy);
		bridge = r->ifaces[0].name;
		if (strlen(bridge) >= IFNAMSIZ)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "prevResult: invalid bridge name \"%s\"", bridge);
	}
	for (size_t i = 0; i < r->n_ips; i++) {
		const struct ipaddr *a = &r->ips[i].address.addr;
		const struct fam *f;

		if (a->family != AF_INET && a->family != AF_INET6)
			continue;
		f = &fams[a->family == AF_INET6];
		keys_push(&ks, f->fwd, NULL, a);
		if (bridge)
			keys_push(&ks, f->iso, bridge, a);
		if (bridge && c->policy == POLICY_ISOLATED)
			keys_push(&ks, f->isol, bridge, a);
	}
	*ret = ks;
	return 0;
}

/* ---- reading and deleting by tag ----------------------------------------- */

static const char *set_names[S_COUNT];

static const struct nft_sets *table_sets(void)
{
	static struct nft_sets ts = { FAM, TABLE, set_names, S_COUNT };

	for (int i = 0; i < S_COUNT; i++)
		set_names[i] = sets[i].name;
	return &ts;
}

struct all_elems {
	struct nft_elem_list l[S_COUNT];
};

static void all_elems_free(struct all_elems *a)
{
	nft_lists_free(a->l, S_COUNT);
}

static int read_all(struct nft *n, struct all_elems *ret, struct cni_error **err)
{
	return nft_sets_read(n, table_sets(), ~0ul, ret->l, err);
}

typedef bool (*pick_fn)(const struct nft_elem_info *e, int set, void *arg);

struct pick_adapter {
	pick_fn pick;
	void *arg;
};

static bool adapt_pick(size_t i, const struct nft_elem_info *e, void *arg)
{
	const struct pick_adapter *p = arg;

	return p->pick(e, (int)i, p->arg);
}

static size_t del_matching(struct nft_batch *b, const struct all_elems *a, pick_fn pick, void *arg)
{
	struct pick_adapter p = { pick, arg };

	return nft_sets_queue_del(b, table_sets(), a->l, adapt_pick, &p);
}

static ssize_t plan_delete(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			   struct cni_error **err)
{
	const struct pick_adapter *p = arg;
	struct all_elems a;
	size_t found;

	(void)attempt;
	if (read_all(n, &a, err) < 0)
		return -1;
	found = del_matching(b, &a, p->pick, p->arg);
	all_elems_free(&a);
	return (ssize_t)found;
}

/* Delete what pick() picks, rereading after a concurrent change; err may be NULL. */
static int delete_where(struct nft *n, pick_fn pick, void *arg, struct cni_error **err)
{
	struct pick_adapter p = { pick, arg };

	return nft_apply(n, plan_delete, &p, err);
}

static bool owned_by(const struct nft_elem_info *e, int set, void *arg)
{
	return e->comment && strcmp(e->comment, arg) == 0;
}

struct stale_ctx {
	const char *tag;
	const struct keys *ks;
};

/* On a re-ADD: our old elements, and whatever (a leak) holds a key we add. */
static bool stale(const struct nft_elem_info *e, int set, void *arg)
{
	const struct stale_ctx *c = arg;

	if (owned_by(e, set, (void *)c->tag))
		return true;
	for (size_t i = 0; i < c->ks->n; i++) {
		const struct key *k = &c->ks->v[i];

		if (k->set == set && e->key_len == k->len && !memcmp(e->key, k->k, k->len))
			return true;
	}
	return false;
}

/* ---- verbs --------------------------------------------------------------- */

static void queue_adds(struct nft_batch *b, const struct keys *ks, const uint8_t *owner,
		       const char *tag)
{
	struct nft_elem o = { .key = owner, .key_len = CNIC_NFT_OWNER_KEY_LEN, .comment = tag };

	nft_batch_add_elems(b, FAM, TABLE, sets[S_OWNERS].name, &o, 1, true);
	for (size_t i = 0; i < ks->n; i++) {
		struct nft_elem e = { .key = ks->v[i].k, .key_len = ks->v[i].len, .comment = tag };

		nft_batch_add_elems(b, FAM, TABLE, sets[ks->v[i].set].name, &e, 1, true);
	}
}

struct add_ctx {
	const struct fw_conf *c;
	const struct keys *ks;
	const char *tag;
	const uint8_t *owner;
};

/*
 * Attempt 0 adds blindly; a key that exists (a re-ADD, or a leaked element
 * holding one of our keys) makes the later attempts read and replace.
 */
static ssize_t plan_add(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			struct cni_error **err)
{
	const struct add_ctx *ac = arg;
	struct stale_ctx sc = { .tag = ac->tag, .ks = ac->ks };
	struct all_elems a;

	if (attempt == 0) {
		if (skeleton(n, b, ac->c->admin_chain, err) < 0)
			return -1;
		queue_adds(b, ac->ks, ac->owner, ac->tag);
		return (ssize_t)nft_batch_len(b);
	}
	if (read_all(n, &a, err) < 0)
		return -1;
	if (skeleton(n, b, ac->c->admin_chain, err) < 0) {
		all_elems_free(&a);
		return -1;
	}
	(void)del_matching(b, &a, stale, &sc);
	all_elems_free(&a);
	queue_adds(b, ac->ks, ac->owner, ac->tag);
	return (ssize_t)nft_batch_len(b);
}

static void teardown(struct nft *n);

/*
 * cnic's table, then (on a node whose iptables FORWARD drops) iptables-nft's
 * FORWARD path; when the second fails, the first is rolled back.
 */
static int fw_add(const struct cni_cmd *cmd, const struct fw_conf *c, const struct keys *ks,
		  struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(cmd->conf->name, cmd->container_id, cmd->ifname);
	cleanup_nft struct nft *n = NULL;
	uint8_t owner[CNIC_NFT_OWNER_KEY_LEN];
	struct add_ctx ac = { .c = c, .ks = ks, .tag = tag, .owner = owner };

	nft_owner_key(tag, owner);
	if (nft_open(&n, err) < 0)
		return -1;
	if (nft_apply(n, plan_add, &ac, err) < 0)
		return -1;
	if (xtfwd_add(n, tag, c->admin_chain, cmd->conf->prev_result, err) < 0) {
		(void)delete_where(n, owned_by, tag, NULL);
		teardown(n);
		return -1;
	}
	return 0;
}

static int cmd_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	__attribute__((cleanup(fw_conf_free))) struct fw_conf c = { 0 };
	cleanup_free struct key *kv = NULL;
	struct keys ks = { 0 };

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "missing prevResult from earlier plugin");
	if (attachment_keys(&c, cmd->conf->prev_result, &ks, err) < 0)
		return -1;
	kv = ks.v;
	if (fw_add(cmd, &c, &ks, err) < 0)
		return cni_error_wrap(err, "firewall");
	*ret = cni_result_dup(cmd->conf->prev_result);
	return 0;
}

/*
 * After a DEL or GC: the table goes with the last attachment, unless an
 * admin chain holds rules of the admin's own (then it stays as it is).
 */
static void teardown(struct nft *n)
{
	struct cni_error *e = NULL;

	const char *probe[S_COUNT + 1] = { sets[S_OWNERS].name };
	size_t k = 1;

	for (int i = 0; i < S_COUNT; i++)
		if (i != S_OWNERS)
			probe[k++] = sets[i].name;
	probe[k] = NULL;
	if (nft_drop_table_if_unused(n, FAM, TABLE, probe, "cnic firewall", &e) < 0)
		nft_teardown_log("firewall", &e);
}

/* By owner tag: no prevResult, netns or addresses needed. */
static int cmd_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(fw_conf_free))) struct fw_conf c = { 0 };
	cleanup_free char *tag = nft_owner_tag(cmd->conf->name, cmd->container_id, cmd->ifname);
	cleanup_nft struct nft *n = NULL;
	struct nft_elem_info info = { 0 };
	uint8_t owner[CNIC_NFT_OWNER_KEY_LEN];
	struct nft_elem key = { .key = owner, .key_len = sizeof(owner) };
	int r;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	nft_owner_key(tag, owner);
	if (nft_open(&n, err) < 0)
		return cni_error_wrap(err, "firewall");
	r = nft_get_elem(n, FAM, TABLE, sets[S_OWNERS].name, &key, &info, err);
	nft_elem_info_free(&info);
	if (r < 0)
		return cni_error_wrap(err, "firewall");
	if (r == 1 && delete_where(n, owned_by, tag, err) < 0)
		return cni_error_wrap(err, "firewall");
	teardown(n);
	/*
	 * iptables-nft's side: ours by comment and, for an attachment cnic
	 * holds nothing of (the reference created it), the reference's
	 * per-address rules for prevResult's addresses.
	 */
	if (xtfwd_del(n, tag, cmd->conf->prev_result, r == 0, err) < 0)
		return cni_error_wrap(err, "firewall");
	return 0;
}

static int cmd_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(fw_conf_free))) struct fw_conf c = { 0 };
	cleanup_free char *tag = nft_owner_tag(cmd->conf->name, cmd->container_id, cmd->ifname);
	cleanup_nft struct nft *n = NULL;
	cleanup_free struct key *kv = NULL;
	struct keys ks = { 0 };
	int r;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	if (!cmd->conf->prev_result)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "missing prevResult from earlier plugin");
	if (attachment_keys(&c, cmd->conf->prev_result, &ks, err) < 0)
		return -1;
	kv = ks.v;
	if (nft_open(&n, err) < 0)
		return cni_error_wrap(err, "firewall");
	r = skeleton(n, NULL, NULL, err);
	if (r < 0)
		return cni_error_wrap(err, "firewall");
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "firewall: the rules of chain inet %s %s are missing or changed",
				     TABLE, CHAIN);
	r = nft_exists(n, FAM, TABLE, c.admin_chain, err);
	if (r < 0)
		return cni_error_wrap(err, "firewall");
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "firewall: admin chain inet %s %s is missing", TABLE,
				     c.admin_chain);
	for (size_t i = 0; i < ks.n; i++) {
		struct nft_elem e = { .key = ks.v[i].k, .key_len = ks.v[i].len };
		struct nft_elem_info info = { 0 };
		bool mine;

		r = nft_get_elem(n, FAM, TABLE, sets[ks.v[i].set].name, &e, &info, err);
		if (r < 0)
			return cni_error_wrap(err, "firewall");
		mine = r == 1 && info.comment && strcmp(info.comment, tag) == 0;
		nft_elem_info_free(&info);
		if (!mine)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "firewall: set inet %s %s has no element of %s", TABLE,
					     sets[ks.v[i].set].name, tag);
	}
	if (xtfwd_check(n, tag, c.admin_chain, cmd->conf->prev_result, err) < 0)
		return -1;
	return 0;
}

static bool orphan(const struct nft_elem_info *e, int set, void *arg)
{
	(void)set;
	return e->comment && nft_live_stale(arg, e->comment, strlen(e->comment));
}

/* Remove this network's elements whose attachment is not among the valid ones. */
static int cmd_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	__attribute__((cleanup(fw_conf_free))) struct fw_conf c = { 0 };
	cleanup_nft struct nft *n = NULL;
	struct nft_live live;
	int r = 0;

	if (load_conf(cmd, &c, err) < 0)
		return -1;
	nft_live_init(&live, cmd->conf);
	/* No list (absent or null): nothing is known stale, so nothing goes. */
	if (live.known && (r = nft_open(&n, err)) == 0)
		r = delete_where(n, orphan, &live, err);
	if (live.known && r == 0)
		teardown(n);
	if (live.known && r == 0)
		r = xtfwd_gc(n, &live, err);
	nft_live_free(&live);
	if (r < 0)
		return cni_error_wrap(err, "firewall GC");
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "firewall",
	.add = cmd_add,
	.del = cmd_del,
	.check = cmd_check,
	.gc = cmd_gc,
	.min_version = CNI_V040,
};

int main(void)
{
	return cni_plugin_main(&plugin);
}
