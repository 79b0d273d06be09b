// SPDX-License-Identifier: Apache-2.0
/*
 * Adopting the reference plugins' netfilter state (see xtref.h).  Reads go
 * over nft's socket with requests built here (nft.h has no table dump and
 * does not look into expressions); every change goes through nft.h's
 * batches, one guarded transaction per table, re-read and retried when the
 * ruleset moved under us (the reference's iptables runs concurrently on a
 * mixed node).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netlink.h>

#include "cleanup.h"
#include "nft.h"
#include "nlsock.h"
#include "sha512.h"
#include "xtref.h"

#define CHAIN_NAME_LEN 28  /* the reference's maxChainLength */
#define HASH16 16	   /* its short hashes in nftables comments */
#define TRIES 5		   /* re-reads after the ruleset changed under a decision */
#define XT_COMMENT_MAX 256 /* struct xt_comment_info */

/* The tables the reference may have written, as found by one dump. */
enum {
	T_IP_NAT = 1 << 0,
	T_IP6_NAT = 1 << 1,
	T_IP_HOSTPORT = 1 << 2,
	T_IP6_HOSTPORT = 1 << 3,
	T_INET_MASQ = 1 << 4,
};

#define REF_HOSTPORT "cni_hostport"
#define REF_MASQ "cni_plugins_masquerade"
#define REF_MASQ_CHAIN "masq_checks"

void xtref_dnat_chain(const char *network, const char *container_id, char out[29])
{
	cleanup_free char *s = xasprintf("%s%s", network, container_id);

	sha512_name("CNI-DN-", s, strlen(s), CHAIN_NAME_LEN, out);
}

void xtref_masq_chain(const char *network, const char *container_id, char out[29])
{
	cleanup_free char *s = xasprintf("%s%s", network, container_id);

	sha512_name("CNI-", s, strlen(s), CHAIN_NAME_LEN, out);
}

/* "<h16(net)>-<h16(ifname:cid)>": how the reference's nftables ipMasq comments begin. */
static void masq_hash(const char *network, const char *ifname, const char *container_id,
		      char out[2 * HASH16 + 2])
{
	cleanup_free char *s = xasprintf("%s:%s", ifname, container_id);

	sha512_name("", network, strlen(network), HASH16, out);
	out[HASH16] = '-';
	sha512_name("", s, strlen(s), HASH16, out + HASH16 + 1);
}

/* ---- reading ------------------------------------------------------------ */

typedef int (*msg_fn)(const struct nlmsghdr *nlh, void *arg);

struct reply {
	int errnum;	  /* the kernel's error, 0 */
	bool interrupted; /* NLM_F_DUMP_INTR: read again */
};

/* The nlsock.h parse function that runs fn. */
struct fn_call {
	msg_fn fn;
	void *arg;
};

static int call_fn(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	const struct fn_call *c = arg;

	return c->fn(nlh, c->arg) < 0 ? -1 : 0;
}

/* Send req on n's socket and read every reply to it (nlsock.h's exchange). */
static int request(struct nft *n, struct nlmsghdr *req, msg_fn fn, void *arg, struct reply *rp,
		   struct cni_error **err)
{
	struct fn_call c = { .fn = fn, .arg = arg };
	struct cnl_reply r;

	if (cnl_exchange(nft_netlink(n), req, call_fn, &c, &r, err) < 0)
		return -1;
	*rp = (struct reply){ .errnum = r.errnum, .interrupted = r.interrupted };
	cnl_reply_done(&r);
	return 0;
}

static int collect_table(const struct nlmsghdr *nlh, void *arg)
{
	static const struct {
		uint32_t family;
		const char *name;
		unsigned int bit;
	} known[] = {
		{ NFPROTO_IPV4, "nat", T_IP_NAT },
		{ NFPROTO_IPV6, "nat", T_IP6_NAT },
		{ NFPROTO_IPV4, REF_HOSTPORT, T_IP_HOSTPORT },
		{ NFPROTO_IPV6, REF_HOSTPORT, T_IP6_HOSTPORT },
		{ NFPROTO_INET, REF_MASQ, T_INET_MASQ },
	};
	struct nftnl_table *t = nftnl_table_alloc();
	unsigned int *mask = arg;

	if (!t)
		abort();
	if (nftnl_table_nlmsg_parse(nlh, t) < 0) {
		nftnl_table_free(t);
		return -1;
	}
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == known[i].family &&
		    strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), known[i].name) == 0)
			*mask |= known[i].bit;
	nftnl_table_free(t);
	return 0;
}

/*
 * Which of the reference's tables exist: the one check every call pays.
 * One dump of every table of every family (a node has a handful).
 */
static int tables_present(struct nft *n, unsigned int *ret, struct cni_error **err)
{
	for (int i = 0; i < TRIES; i++) {
		char buf[NFT_DUMP_REQ_ROOM];
		struct nlmsghdr *nlh;
		struct reply rp;
		unsigned int mask = 0;

		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, 0);
		if (request(n, nlh, collect_table, &mask, &rp, err) < 0)
			return -1;
		if (rp.errnum)
			return cni_error_errno(err, rp.errnum, "list netfilter tables");
		if (!rp.interrupted) {
			*ret = mask;
			return 0;
		}
	}
	return cni_error_errno(err, EAGAIN, "list netfilter tables: they kept changing");
}

/* A rule as far as adoption cares: where it is, its comment, where it jumps. */
struct xrule {
	uint64_t handle;
	char *chain;
	char *comment; /* userdata comment (nft, knftables) or xt comment match (iptables-nft) */
	char *target;  /* jump/goto verdict's chain */
};

struct xrules {
	struct xrule *v;
	size_t n;
};

static void xrules_free(struct xrules *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].chain);
		free(l->v[i].comment);
		free(l->v[i].target);
	}
	free(l->v);
	*l = (struct xrules){ 0 };
}

static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct xrule *x = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!name)
		return 0;
	if (strcmp(name, "immediate") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) {
		int v = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);

		if ((v == NFT_JUMP || v == NFT_GOTO) && !x->target)
			x->target = xstrdup(nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
	} else if (strcmp(name, "match") == 0 && !x->comment) {
		const char *mt = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME);
		uint32_t len = 0;
		const char *info = nftnl_expr_get(e, NFTNL_EXPR_MT_INFO, &len);

		if (mt && strcmp(mt, "comment") == 0 && info && len > 0)
			x->comment = xstrndup(info, len < XT_COMMENT_MAX ? len : XT_COMMENT_MAX);
	}
	return 0;
}

static int udata_cb(const struct nftnl_udata *attr, void *data)
{
	char **ret = data;
	uint8_t len = nftnl_udata_len(attr);
	const char *s = nftnl_udata_get(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && s[len - 1] == '\0' &&
	    !*ret)
		*ret = xstrdup(s);
	return 0;
}

static int collect_rule(const struct nlmsghdr *nlh, void *arg)
{
	struct xrules *l = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct xrule *x;

	if (!r)
		abort();
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return -1;
	}
	x = xappend(&l->v, &l->n, sizeof(*x));
	x->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	x->chain = xstrdup(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		uint32_t len = 0;
		const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);

		if (ud && len)
			(void)nftnl_udata_parse(ud, len, udata_cb, &x->comment);
	}
	(void)nftnl_expr_foreach(r, expr_cb, x);
	nftnl_rule_free(r);
	return 0;
}

static const char *fam_name(uint8_t family)
{
	return family == NFPROTO_IPV6 ? "ip6" : family == NFPROTO_INET ? "inet" : "ip";
}

/* Every rule of table (of chain, unless NULL); none when either is missing. */
static int dump_rules(struct nft *n, uint8_t family, const char *table, const char *chain,
		      struct xrules *ret, struct cni_error **err)
{
	for (int i = 0; i < TRIES; i++) {
		char buf[NFT_DUMP_REQ_ROOM];
		struct nlmsghdr *nlh = nft_rules_dump_req(buf, family, table, chain);
		struct reply rp;

		xrules_free(ret);
		if (request(n, nlh, collect_rule, ret, &rp, err) < 0) {
			xrules_free(ret);
			return -1;
		}
		if (rp.errnum == ENOENT) {
			xrules_free(ret);
			return 0;
		}
		if (rp.errnum) {
			xrules_free(ret);
			return cni_error_errno(err, rp.errnum, "list rules of table %s %s",
					       fam_name(family), table);
		}
		if (!rp.interrupted)
			return 0;
	}
	xrules_free(ret);
	return cni_error_errno(err, EAGAIN, "list rules of table %s: they kept changing", table);
}

/* ---- deciding and deleting ---------------------------------------------- */

/*
 * What goes from one table: the rules pick() chooses and the chains
 * (flushed, then deleted) that exist.  Chains given, none existing: nothing
 * can jump to them, so the table is not even read.
 */
struct plan {
	const char *table;
	const char *chain;	   /* read only this chain's rules; NULL: the table's */
	const char *const *chains; /* per-attachment chains to remove */
	size_t n_chains;
	bool (*pick)(const struct xrule *r, const struct plan *p);
	const void *arg;
};

static bool pick_jump(const struct xrule *r, const struct plan *p)
{
	for (size_t i = 0; r->target && i < p->n_chains; i++)
		if (strcmp(r->target, p->chains[i]) == 0)
			return true;
	return false;
}

static bool retry_worthy(const struct cni_error *e)
{
	/* Moved under us (guard), a rule gone meanwhile, a new jump to the chain. */
	return e && (e->errnum == ERESTART || e->errnum == ENOENT || e->errnum == EBUSY);
}

/* 1 when one of p's chains exists, 0 when none does. */
static int any_chain(struct nft *n, uint8_t family, const struct plan *p, struct cni_error **err)
{
	for (size_t i = 0; i < p->n_chains; i++) {
		int r = nft_exists(n, family, p->table, p->chains[i], err);

		if (r != 0)
			return r;
	}
	return 0;
}

static int apply(struct nft *n, uint8_t family, const struct plan *p, struct cni_error **err)
{
	/*
	 * The cheap test first: on a node the reference never ran on, or for
	 * a container it did not create, that is all.  The guarded read below
	 * repeats it under a generation id.
	 */
	if (p->n_chains) {
		int r = any_chain(n, family, p, err);

		if (r <= 0)
			return r;
	}
	for (int attempt = 0;; attempt++) {
		cleanup_nft_batch struct nft_batch *b = NULL;
		cleanup_error struct cni_error *e = NULL;
		struct xrules rl = { 0 };
		bool have[4] = { false };
		size_t n_have = 0;
		uint32_t gen;
		int r;

		if (nft_genid(n, &gen, err) < 0)
			return -1;
		for (size_t i = 0; i < p->n_chains && i < 4; i++) {
			r = nft_exists(n, family, p->table, p->chains[i], err);
			if (r < 0)
				return -1;
			have[i] = r == 1;
			n_have += have[i];
		}
		if (p->n_chains && !n_have)
			return 0;
		if (dump_rules(n, family, p->table, p->chain, &rl, err) < 0)
			return -1;
		b = nft_batch_new();
		for (size_t i = 0; i < rl.n; i++)
			if (p->pick(&rl.v[i], p))
				nft_batch_del_rule(b, family, p->table, rl.v[i].chain,
						   rl.v[i].handle);
		xrules_free(&rl);
		for (size_t i = 0; i < p->n_chains && i < 4; i++) {
			if (!have[i])
				continue;
			nft_batch_flush_chain(b, family, p->table, p->chains[i]);
			nft_batch_del_chain(b, family, p->table, p->chains[i]);
		}
		if (nft_batch_len(b) == 0)
			return 0;
		nft_batch_guard(b, gen);
		if (nft_batch_commit(n, b, &e) == 0)
			return 0;
		if (!retry_worthy(e) || attempt + 1 >= TRIES)
			return cni_error_move(err, &e);
	}
}

/* *own is what the caller closes: the socket opened here when n was NULL. */
static int open_and_list(struct nft **n, struct nft **own, unsigned int *mask, struct cni_error **err)
{
	if (!*n) {
		if (nft_open(own, err) < 0)
			return -1;
		*n = *own;
	}
	return tables_present(*n, mask, err);
}

/* ---- portmap ------------------------------------------------------------ */

static bool pick_hostport(const struct xrule *r, const struct plan *p)
{
	const char *cid = p->arg;

	return r->comment && strcmp(r->comment, cid) == 0 &&
	       (strcmp(r->chain, "hostports") == 0 || strcmp(r->chain, "hostip_hostports") == 0 ||
		strcmp(r->chain, "masquerading") == 0);
}

static int portmap_del(struct nft *n, unsigned int mask, const char *network,
		       const char *container_id, struct cni_error **err)
{
	char dn[CHAIN_NAME_LEN + 1];
	const char *chains[] = { dn };
	struct plan xt = { .table = "nat", .chains = chains, .n_chains = 1, .pick = pick_jump };
	struct plan hp = { .table = REF_HOSTPORT, .pick = pick_hostport, .arg = container_id };
	int r = 0;

	xtref_dnat_chain(network, container_id, dn);
	/* Best effort: each table on its own, the first failure reported with the others. */
	if ((mask & T_IP_NAT) && apply(n, NFPROTO_IPV4, &xt, err) < 0)
		r = -1;
	if ((mask & T_IP6_NAT) && apply(n, NFPROTO_IPV6, &xt, err) < 0)
		r = -1;
	if ((mask & T_IP_HOSTPORT) && apply(n, NFPROTO_IPV4, &hp, err) < 0)
		r = -1;
	if ((mask & T_IP6_HOSTPORT) && apply(n, NFPROTO_IPV6, &hp, err) < 0)
		r = -1;
	return r;
}

/* In the order of the T_* bits: present[i] is bit i. */
_Static_assert(T_IP_NAT == 1 && T_IP6_NAT == 2 && T_IP_HOSTPORT == 4 && T_IP6_HOSTPORT == 8,
	       "xtref_portmap_tables follows the T_* bits");
const struct xtref_table xtref_portmap_tables[XTREF_PORTMAP_TABLES] = {
	{ NFPROTO_IPV4, "nat", true },
	{ NFPROTO_IPV6, "nat", true },
	{ NFPROTO_IPV4, REF_HOSTPORT, false },
	{ NFPROTO_IPV6, REF_HOSTPORT, false },
};

int xtref_portmap_del_present(struct nft *n, const bool present[XTREF_PORTMAP_TABLES],
			      const char *network, const char *container_id, struct cni_error **err)
{
	unsigned int mask = 0;

	for (int i = 0; i < XTREF_PORTMAP_TABLES; i++)
		if (present[i])
			mask |= 1u << i;
	if (mask && portmap_del(n, mask, network, container_id, err) < 0)
		return cni_error_wrap(err, "remove the reference portmap's rules");
	return 0;
}

int xtref_portmap_del(struct nft *n, const char *network, const char *container_id,
		      struct cni_error **err)
{
	cleanup_nft struct nft *own = NULL;
	unsigned int mask = 0;

	if (open_and_list(&n, &own, &mask, err) < 0 ||
	    portmap_del(n, mask, network, container_id, err) < 0)
		return cni_error_wrap(err, "remove the reference portmap's rules");
	return 0;
}

/* ---- ipMasq ------------------------------------------------------------- */

static bool pick_masq(const struct xrule *r, const struct plan *p)
{
	const char *hash = p->arg;

	return r->comment && strncmp(r->comment, hash, strlen(hash)) == 0;
}

static int ipmasq_del(struct nft *n, unsigned int mask, const char *network,
		      const char *container_id, const char *ifname, struct cni_error **err)
{
	char ch[CHAIN_NAME_LEN + 1], hash[2 * HASH16 + 2];
	const char *chains[] = { ch };
	struct plan xt = { .table = "nat", .chains = chains, .n_chains = 1, .pick = pick_jump };
	struct plan nf = { .table = REF_MASQ, .chain = REF_MASQ_CHAIN, .pick = pick_masq, .arg = hash };
	int r = 0;

	xtref_masq_chain(network, container_id, ch);
	masq_hash(network, ifname, container_id, hash);
	if ((mask & T_IP_NAT) && apply(n, NFPROTO_IPV4, &xt, err) < 0)
		r = -1;
	if ((mask & T_IP6_NAT) && apply(n, NFPROTO_IPV6, &xt, err) < 0)
		r = -1;
	if ((mask & T_INET_MASQ) && apply(n, NFPROTO_INET, &nf, err) < 0)
		r = -1;
	return r;
}

int xtref_ipmasq_del(struct nft *n, const char *network, const char *container_id,
		     const char *ifname, struct cni_error **err)
{
	cleanup_nft struct nft *own = NULL;
	unsigned int mask = 0;

	if (open_and_list(&n, &own, &mask, err) < 0 ||
	    ipmasq_del(n, mask, network, container_id, ifname, err) < 0)
		return cni_error_wrap(err, "remove the reference ipMasq rules");
	return 0;
}

/* ---- GC ----------------------------------------------------------------- */

static bool cid_valid(const struct cni_netconf *nc, const char *cid)
{
	for (size_t i = 0; i < nc->n_valid_attachments; i++)
		if (nc->valid_attachments[i].container_id &&
		    strcmp(nc->valid_attachments[i].container_id, cid) == 0)
			return true;
	return false;
}

/*
 * The container ids of the network's reference rules in chain of both nat
 * tables, from their comments (`<prefix>name: "<net>" id: "<cid>"`, Go's %q:
 * names needing escapes are never matched, so never wrongly removed), whose
 * rule jumps where chain_of(net, cid) says: cids not in nc's list go in *ret.
 */
static int stale_xt_cids(struct nft *n, unsigned int mask, const struct cni_netconf *nc,
			 const char *chain, const char *prefix,
			 void (*chain_of)(const char *, const char *, char *), struct strv *ret,
			 struct cni_error **err)
{
	cleanup_free char *head = xasprintf("%sname: \"%s\" id: \"", prefix, nc->name);
	size_t hl = strlen(head);

	for (int f = 0; f < 2; f++) {
		uint8_t family = f ? NFPROTO_IPV6 : NFPROTO_IPV4;
		struct xrules rl = { 0 };

		if (!(mask & (f ? T_IP6_NAT : T_IP_NAT)))
			continue;
		if (dump_rules(n, family, "nat", chain, &rl, err) < 0)
			return -1;
		for (size_t i = 0; i < rl.n; i++) {
			const struct xrule *x = &rl.v[i];
			char want[CHAIN_NAME_LEN + 1];
			size_t cl;

			if (!x->comment || !x->target || strncmp(x->comment, head, hl) != 0)
				continue;
			cl = strlen(x->comment + hl);
			if (cl < 2 || x->comment[hl + cl - 1] != '"')
				continue;
			cleanup_free char *cid = xstrndup(x->comment + hl, cl - 1);
			chain_of(nc->name, cid, want);
			if (strcmp(want, x->target) != 0 || cid_valid(nc, cid))
				continue;
			if (!strv_contains(ret, cid))
				strv_push(ret, cid);
		}
		xrules_free(&rl);
	}
	return 0;
}

/*
 * The reference's nftables portmap tags rules with the container id alone,
 * not the network: GC cannot tell this network's from another's, so those
 * are left to DEL.
 */
int xtref_portmap_gc(struct nft *n, const struct cni_netconf *nc, struct cni_error **err)
{
	cleanup_nft struct nft *own = NULL;
	struct strv stale = { 0 };
	unsigned int mask = 0;
	int r = 0;

	if (!nc->has_valid_attachments)
		return 0;
	if (open_and_list(&n, &own, &mask, err) < 0)
		return cni_error_wrap(err, "portmap GC of the reference's rules");
	if (!(mask & (T_IP_NAT | T_IP6_NAT)))
		return 0;
	if (stale_xt_cids(n, mask, nc, "CNI-HOSTPORT-DNAT", "dnat ", xtref_dnat_chain, &stale, err) <
	    0)
		r = -1;
	for (size_t i = 0; i < stale.n; i++)
		if (portmap_del(n, mask & (T_IP_NAT | T_IP6_NAT), nc->name, stale.v[i], err) < 0)
			r = -1;
	strv_free(&stale);
	return r < 0 ? cni_error_wrap(err, "portmap GC of the reference's rules") : 0;
}

static bool pick_masq_stale(const struct xrule *r, const struct plan *p)
{
	const struct cni_netconf *nc = p->arg;
	char net[HASH16 + 1], hash[2 * HASH16 + 2];

	sha512_name("", nc->name, strlen(nc->name), HASH16, net);
	if (!r->comment || strncmp(r->comment, net, HASH16) != 0 || r->comment[HASH16] != '-')
		return false;
	for (size_t i = 0; i < nc->n_valid_attachments; i++) {
		const struct cni_attachment *a = &nc->valid_attachments[i];

		if (!a->container_id || !a->ifname)
			continue;
		masq_hash(nc->name, a->ifname, a->container_id, hash);
		if (strncmp(r->comment, hash, strlen(hash)) == 0)
			return false;
	}
	return true;
}

int xtref_ipmasq_gc(struct nft *n, const struct cni_netconf *nc, struct cni_error **err)
{
	cleanup_nft struct nft *own = NULL;
	struct strv stale = { 0 };
	struct plan nf = { .table = REF_MASQ,
			   .chain = REF_MASQ_CHAIN,
			   .pick = pick_masq_stale,
			   .arg = nc };
	unsigned int mask = 0;
	int r = 0;

	if (!nc->has_valid_attachments)
		return 0;
	if (open_and_list(&n, &own, &mask, err) < 0)
		return cni_error_wrap(err, "ipMasq GC of the reference's rules");
	if ((mask & (T_IP_NAT | T_IP6_NAT)) &&
	    stale_xt_cids(n, mask, nc, "POSTROUTING", "", xtref_masq_chain, &stale, err) < 0)
		r = -1;
	for (size_t i = 0; i < stale.n; i++) {
		char ch[CHAIN_NAME_LEN + 1];
		const char *chains[] = { ch };
		struct plan xt = { .table = "nat", .chains = chains, .n_chains = 1, .pick = pick_jump };

		xtref_masq_chain(nc->name, stale.v[i], ch);
		if ((mask & T_IP_NAT) && apply(n, NFPROTO_IPV4, &xt, err) < 0)
			r = -1;
		if ((mask & T_IP6_NAT) && apply(n, NFPROTO_IPV6, &xt, err) < 0)
			r = -1;
	}
	strv_free(&stale);
	if ((mask & T_INET_MASQ) && apply(n, NFPROTO_INET, &nf, err) < 0)
		r = -1;
	return r < 0 ? cni_error_wrap(err, "ipMasq GC of the reference's rules") : 0;
}
