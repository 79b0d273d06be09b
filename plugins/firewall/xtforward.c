/* SPDX-License-Identifier: Apache-2.0 */
/*
 * firewall's rules in iptables-nft's filter tables (see xtforward.h).
 *
 * The layout is the reference's, so that both implementations see the same
 * chains on a node that switches between them:
 *
 *	FORWARD      -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD   (first)
 *	CNI-FORWARD  -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN (first)
 *	CNI-FORWARD  -d X -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "cnic <tag>" -j ACCEPT
 *	CNI-FORWARD  -s X -m comment --comment "cnic <tag>" -j ACCEPT
 *
 * Each rule is written with the expressions iptables-nft 1.8 itself emits
 * for it (payload + cmp for -s/-d, the xt "conntrack" match revision 3 for
 * --ctstate, a counter, the verdict), because iptables refuses to list a
 * chain holding anything it cannot decode ("chain is incompatible"), and
 * Docker or ufw would then break.  Comments are rule userdata, which
 * iptables-nft decodes as `-m comment` and nft prints and reloads.
 *
 * Reads are built here with libnftnl (nft.h does not look into xt
 * matches) and go over nft.h's socket through nlsock.h's exchange; every
 * change is an nft.h batch, guarded by the generation it was decided on
 * where the decision rests on what was read.
 */
#include <errno.h>
#include <netinet/in.h> /* before the linux/netfilter headers */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netlink.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_conntrack.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/log.h"
#include "../../pkg/mac.h"
#include "../../pkg/nft.h"
#include "../../pkg/nlsock.h"
#include "xtforward.h"

#define TABLE "filter"
#define FORWARD "FORWARD"
#define PRIV "CNI-FORWARD"
/* The reference's comments on its two jumps: its CHECK looks for these. */
#define JUMP_COMMENT "CNI firewall plugin rules"
#define ADMIN_COMMENT "CNI firewall plugin admin overrides"
#define OURS_PREFIX "cnic "
/* nft refuses longer comments when loading a saved ruleset. */
#define COMMENT_MAX 128
#define TRIES 8
/* Room for one read request: a table and a chain name. */
#define MSG_ROOM 4096u

/* ---- talking -------------------------------------------------------------- */

struct xt {
	struct nft *n;
};

static void xt_init(struct xt *x, struct nft *n)
{
	x->n = n;
}

static void xt_fini(struct xt *x)
{
	x->n = NULL;
}

typedef int (*msg_fn)(const struct nlmsghdr *nlh, void *arg);

/* The nlsock.h parse function that runs a msg_fn. */
struct fn_call {
	msg_fn fn;
	void *arg;
};

static int call_fn(const struct nlmsghdr *nlh, void *arg, struct cni_error **err)
{
	const struct fn_call *c = arg;

	if (c->fn(nlh, c->arg) < 0)
		return cni_error_errno(err, EBADMSG, "parse netfilter reply");
	return 0;
}

/* One request and its replies; 0 with *errnum the kernel's answer (0: fine). */
static int query(struct xt *x, struct nlmsghdr *req, msg_fn fn, void *arg, int *errnum,
		 struct cni_error **err)
{
	struct fn_call c = { .fn = fn, .arg = arg };
	struct cnl_reply r;

	if (cnl_exchange(nft_netlink(x->n), req, call_fn, &c, &r, err) < 0)
		return -1;
	*errnum = r.errnum;
	cnl_reply_done(&r);
	return 0;
}

static const char *fam_name(uint8_t fam)
{
	return fam == NFPROTO_IPV6 ? "ip6" : "ip";
}

/* ---- reading ---------------------------------------------------------------- */

struct chain_info {
	bool found, base, drops;
};

static int parse_chain(const struct nlmsghdr *nlh, void *arg)
{
	struct chain_info *ci = arg;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		abort();
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		nftnl_chain_free(c);
		return -1;
	}
	ci->found = true;
	ci->base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) &&
		   nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == NF_INET_FORWARD;
	ci->drops = nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
		    nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP;
	nftnl_chain_free(c);
	return 0;
}

static int get_chain(struct xt *x, uint8_t fam, const char *chain, struct chain_info *ret,
		     struct cni_error **err)
{
	char buf[MSG_ROOM];
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int errnum = 0;

	if (!c)
		abort();
	*ret = (struct chain_info){ 0 };
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, fam, NLM_F_ACK, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	if (query(x, nlh, parse_chain, ret, &errnum, err) < 0)
		return -1;
	if (errnum && errnum != ENOENT)
		return cni_error_errno(err, errnum, "get chain %s %s %s", fam_name(fam), TABLE,
				       chain);
	if (errnum)
		*ret = (struct chain_info){ 0 };
	return 0;
}

/* What a rule is, as far as these chains go. */
enum kind {
	K_OTHER,
	K_SRC,	 /* -s X -j ACCEPT */
	K_DSTCT, /* -d X -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT */
	K_JUMP,	 /* -j CHAIN, nothing else but a comment */
	K_DROP,	 /* -j DROP, nothing else but a comment */
};

struct xrule {
	uint64_t handle;
	enum kind kind;
	uint8_t addr[16];
	uint32_t alen;
	char *target;	 /* K_JUMP */
	char *comment;	 /* userdata comment, NULL: none */
	bool xt_comment; /* a comment as an xt match (iptables-nft 1.8.9's own) */
};

struct xrules {
	struct xrule *v;
	size_t n;
};

static void xrules_free(struct xrules *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].target);
		free(l->v[i].comment);
	}
	free(l->v);
	*l = (struct xrules){ 0 };
}

/* The matchinfo iptables-nft stores for `-m conntrack --ctstate RELATED,ESTABLISHED`. */
static void ctstate_info(struct xt_conntrack_mtinfo3 *m)
{
	memset(m, 0, sizeof(*m));
	m->match_flags = XT_CONNTRACK_STATE;
	/* XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) | ...(IP_CT_RELATED) */
	m->state_mask = (1 << 1) | (1 << 2);
}

struct expr_walk {
	uint8_t fam;
	int step; /* 0: nothing yet, 1: payload, 2: cmp, 3: ct match, 4: verdict; 5, 6: in a native ct */
	bool dst, ct, bad;
	struct xrule *r;
};

static int walk_expr(struct nftnl_expr *e, void *arg)
{
	struct expr_walk *w = arg;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const uint32_t alen = w->fam == NFPROTO_IPV6 ? 16 : 4;
	const uint32_t soff = w->fam == NFPROTO_IPV6 ? 8 : 12;
	const uint32_t doff = w->fam == NFPROTO_IPV6 ? 24 : 16;
	uint32_t len = 0;

	if (w->bad || !name)
		return (w->bad = true, 0);
	if (strcmp(name, "counter") == 0)
		return 0;
	if (strcmp(name, "payload") == 0 && w->step == 0) {
		uint32_t off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);

		w->bad = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) !=
				 NFT_PAYLOAD_NETWORK_HEADER ||
			 nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) != alen ||
			 (off != soff && off != doff);
		w->dst = off == doff;
		w->step = 1;
		return 0;
	}
	if (strcmp(name, "cmp") == 0 && w->step == 1) {
		const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);

		w->bad = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ || len != alen;
		if (!w->bad) {
			memcpy(w->r->addr, d, alen);
			w->r->alen = alen;
		}
		w->step = 2;
		return 0;
	}
	/*
	 * `ct state established,related` as nft writes it (ct, bitwise, cmp
	 * != 0): what the xt match becomes after `nft list ruleset` is loaded
	 * back with `nft -f`.
	 */
	if (strcmp(name, "ct") == 0 && w->step == 2 && w->dst &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_CT_KEY) == NFT_CT_STATE) {
		w->step = 5;
		return 0;
	}
	if (strcmp(name, "bitwise") == 0 && w->step == 5) {
		const uint32_t *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);

		w->bad = len != 4 || *m != ((1u << 1) | (1u << 2));
		w->step = 6;
		return 0;
	}
	if (strcmp(name, "cmp") == 0 && w->step == 6) {
		const uint32_t *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);

		w->bad = nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_NEQ || len != 4 || *d;
		w->ct = true;
		w->step = 3;
		return 0;
	}
	if (strcmp(name, "match") == 0) {
		const char *mt = nftnl_expr_get_str(e, NFTNL_EXPR_MT_NAME);

		if (mt && strcmp(mt, "comment") == 0) {
			w->r->xt_comment = true;
			return 0;
		}
		if (mt && strcmp(mt, "conntrack") == 0 && w->step == 2 && w->dst) {
			struct xt_conntrack_mtinfo3 want;
			const void *d = nftnl_expr_get(e, NFTNL_EXPR_MT_INFO, &len);

			ctstate_info(&want);
			w->bad = nftnl_expr_get_u32(e, NFTNL_EXPR_MT_REV) != 3 ||
				 len < sizeof(want) || memcmp(d, &want, sizeof(want)) != 0;
			w->ct = true;
			w->step = 3;
			return 0;
		}
		w->bad = true;
		return 0;
	}
	if (strcmp(name, "immediate") == 0 && w->step != 4 &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT) {
		int v = (int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);

		if (v == NF_DROP && w->step == 0) {
			w->r->kind = K_DROP;
		} else if (v == NFT_JUMP && w->step == 0 &&
			   nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN)) {
			w->r->kind = K_JUMP;
			w->r->target = xstrdup(nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN));
		} else if (v == NF_ACCEPT && w->step >= 2 && w->dst == w->ct) {
			w->r->kind = w->dst ? K_DSTCT : K_SRC;
		} else {
			w->bad = true;
		}
		w->step = 4;
		return 0;
	}
	w->bad = true;
	return 0;
}

static int udata_cb(const struct nftnl_udata *attr, void *data)
{
	const char **ret = data;
	uint8_t len = nftnl_udata_len(attr);
	const char *s = nftnl_udata_get(attr);

	if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT && len > 0 && s[len - 1] == '\0')
		*ret = s;
	return 0;
}

struct collect {
	uint8_t fam;
	struct xrules *l;
};

static int collect_rule(const struct nlmsghdr *nlh, void *arg)
{
	struct collect *c = arg;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct xrule *xr;
	struct expr_walk w = { .fam = c->fam };

	if (!r)
		abort();
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return -1;
	}
	xr = xappend(&c->l->v, &c->l->n, sizeof(*xr));
	memset(xr, 0, sizeof(*xr));
	xr->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
		uint32_t len = 0;
		const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
		const char *s = NULL;

		if (ud && len && nftnl_udata_parse(ud, len, udata_cb, &s) >= 0 && s)
			xr->comment = xstrdup(s);
	}
	w.r = xr;
	(void)nftnl_expr_foreach(r, walk_expr, &w);
	if (w.bad || w.step != 4) {
		xr->kind = K_OTHER;
		free(xr->target);
		xr->target = NULL;
	}
	nftnl_rule_free(r);
	return 0;
}

/* Forget what an interrupted dump collected (cnl_dump_retry() reads again). */
static void collect_reset(void *arg)
{
	const struct fn_call *c = arg;
	const struct collect *col = c->arg;

	xrules_free(col->l);
}

/*
 * The rules of a chain, in order; none when it is missing (a filtered dump
 * does not say: get_chain() does).
 */
static int list_rules(struct xt *x, uint8_t fam, const char *chain, struct xrules *ret,
		      struct cni_error **err)
{
	char buf[MSG_ROOM];
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct collect col = { .fam = fam, .l = ret };
	struct fn_call c = { .fn = collect_rule, .arg = &col };
	struct nlmsghdr *nlh;
	struct cnl_reply rp;
	int errnum;

	*ret = (struct xrules){ 0 };
	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, fam, NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if (cnl_dump_retry(nft_netlink(x->n), nlh, call_fn, collect_reset, &c, &rp, err) < 0) {
		xrules_free(ret);
		return cni_error_wrap(err, "list rules of %s %s %s", fam_name(fam), TABLE, chain);
	}
	errnum = rp.errnum;
	cnl_reply_done(&rp);
	if (errnum)
		xrules_free(ret);
	if (errnum && errnum != ENOENT)
		return cni_error_errno(err, errnum, "list rules of %s %s %s", fam_name(fam), TABLE,
				       chain);
	return 0;
}

/* ---- batches ---------------------------------------------------------------- */

/*
 * A rule as iptables-nft writes it: [-s/-d addr] [conntrack] counter
 * verdict, the comment in userdata.  addr NULL: a bare jump.  head: insert
 * first (iptables -I), else append.
 */
static void xb_rule(struct nft_batch *b, uint8_t fam, const char *chain, const uint8_t *addr,
		    bool dst, const char *jump, const char *comment, bool head)
{
	struct nft_rule *r = nft_rule_new(fam, TABLE, chain);

	if (addr) {
		const uint32_t alen = fam == NFPROTO_IPV6 ? 16 : 4;
		const uint32_t off = fam == NFPROTO_IPV6 ? (dst ? 24 : 8) : (dst ? 16 : 12);

		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen, NFT_REG_1);
		nft_rule_cmp(r, NFT_REG_1, NFT_CMP_EQ, addr, alen);
		if (dst) {
			/* xtables sizes matchinfo to its alignment, and so must we. */
			const size_t ilen = XT_ALIGN(sizeof(struct xt_conntrack_mtinfo3));
			struct xt_conntrack_mtinfo3 *info = xcalloc(1, ilen);

			ctstate_info(info);
			nft_rule_xt_match(r, "conntrack", 3, info, (uint32_t)ilen);
		}
	}
	nft_rule_counter(r);
	nft_rule_verdict(r, jump ? NFT_JUMP : NF_ACCEPT, jump);
	nft_rule_set_comment(r, comment);
	if (head)
		nft_batch_insert_rule(b, r);
	else
		nft_batch_add_rule(b, r);
}

/*
 * Send b as one transaction (nft.h's commit).  0, or -1 with *errnum the
 * kernel's first error (ERESTART: a guarded batch saw another generation)
 * and *err set.
 */
static int xb_commit(struct xt *x, struct nft_batch *b, int *errnum, struct cni_error **err)
{
	struct cni_error *e = NULL;

	*errnum = 0;
	if (nft_batch_commit(x->n, b, &e) == 0)
		return 0;
	*errnum = e ? e->errnum : 0;
	cni_error_wrap(&e, "iptables-nft %s chains",
		       *errnum == ERESTART ? "changed meanwhile:" : "update of");
	return cni_error_move(err, &e);
}

/* Worth a fresh read: another writer changed what the batch rested on. */
static bool raced(int errnum)
{
	return errnum == ERESTART || errnum == ENOENT || errnum == EEXIST || errnum == EBUSY;
}

/* A short random pause before rereading, so that racing writers spread out. */
static void backoff(int attempt)
{
	uint32_t v;
	struct timespec ts;

	cnic_random(&v, sizeof(v));
	ts = (struct timespec){ 0, (long)(1 + v % (2u << (attempt < 4 ? attempt : 4))) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- comments ----------------------------------------------------------------- */

/*
 * "cnic <network>:<container id>:<ifname>" (nft_owner_tag()); should that
 * not fit nft's comment limit, "cnic #<hash of the tag>": DEL still finds
 * it, GC cannot tell its network and leaves it.
 */
static char *our_comment(const char *tag)
{
	uint8_t k[CNIC_NFT_OWNER_KEY_LEN];
	char hex[2 * CNIC_NFT_OWNER_KEY_LEN + 1];

	if (strlen(OURS_PREFIX) + strlen(tag) < COMMENT_MAX)
		return xasprintf(OURS_PREFIX "%s", tag);
	nft_owner_key(tag, k);
	for (size_t i = 0; i < sizeof(k); i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
	return xasprintf(OURS_PREFIX "#%s", hex);
}

static bool is_ours(const struct xrule *r, const char *comment)
{
	return r->comment && strcmp(r->comment, comment) == 0;
}

/* ---- addresses of a result, per family ---------------------------------------- */

#define MAX_ADDRS 64

struct addrs {
	uint8_t v[MAX_ADDRS][16];
	size_t n;
	bool more; /* beyond MAX_ADDRS: ADD refuses, DEL does the first ones */
};

static void result_addrs(const struct cni_result *r, uint8_t fam, struct addrs *ret)
{
	const int af = fam == NFPROTO_IPV6 ? AF_INET6 : AF_INET;
	const size_t alen = fam == NFPROTO_IPV6 ? 16 : 4;

	ret->n = 0;
	ret->more = false;
	for (size_t i = 0; r && i < r->n_ips; i++) {
		const struct ipaddr *a = &r->ips[i].address.addr;
		bool dup = false;

		if (a->family != af)
			continue;
		for (size_t j = 0; j < ret->n && !dup; j++)
			dup = memcmp(ret->v[j], a->b, alen) == 0;
		if (!dup && ret->n < MAX_ADDRS)
			memcpy(ret->v[ret->n++], a->b, alen);
		else if (!dup)
			ret->more = true;
	}
}

/* ---- ADD ---------------------------------------------------------------------- */

static bool has_jump(const struct xrules *l, const char *target)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == K_JUMP && strcmp(l->v[i].target, target) == 0)
			return true;
	return false;
}

/*
 * Does iptables' FORWARD chain of fam drop what nothing accepts: by its
 * policy, or by a plain `-j DROP` as its last rule?
 */
static int forward_drops(struct xt *x, uint8_t fam, struct cni_error **err)
{
	struct chain_info ci;
	struct xrules fwd = { 0 };
	int r;

	if (get_chain(x, fam, FORWARD, &ci, err) < 0)
		return -1;
	if (!ci.found || !ci.base || ci.drops)
		return ci.found && ci.base;
	if (list_rules(x, fam, FORWARD, &fwd, err) < 0)
		return -1;
	r = fwd.n > 0 && fwd.v[fwd.n - 1].kind == K_DROP;
	xrules_free(&fwd);
	return r;
}

static int fam_add(struct xt *x, uint8_t fam, const char *comment, const char *admin,
		   const struct addrs *as, struct cni_error **err)
{
	int r;

	if (as->n == 0)
		return 0;
	r = forward_drops(x, fam, err);
	if (r <= 0)
		return r;
	if (as->more)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "prevResult: more than %d %s addresses for %s %s %s",
				     MAX_ADDRS, fam_name(fam), fam_name(fam), TABLE, PRIV);
	for (int attempt = 0;; attempt++) {
		struct xrules fwd = { 0 }, priv = { 0 };
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();
		struct chain_info adm, pc;
		bool have_priv;
		uint32_t gen = 0;
		int errnum = 0;
		struct cni_error *e = NULL;

		if (nft_genid(x->n, &gen, err) < 0 || get_chain(x, fam, PRIV, &pc, err) < 0 ||
		    get_chain(x, fam, admin, &adm, err) < 0 ||
		    list_rules(x, fam, FORWARD, &fwd, err) < 0)
			return -1;
		if (list_rules(x, fam, PRIV, &priv, err) < 0) {
			xrules_free(&fwd);
			return -1;
		}
		have_priv = pc.found;
		/* The structure is decided on what was read: guarded by its generation. */
		if (!have_priv || !adm.found || !has_jump(&fwd, PRIV) || !has_jump(&priv, admin)) {
			nft_batch_guard(b, gen);
		}
		if (!have_priv)
			nft_batch_add_chain(b, fam, TABLE, PRIV, NULL);
		if (!adm.found)
			nft_batch_add_chain(b, fam, TABLE, admin, NULL);
		if (!has_jump(&fwd, PRIV))
			xb_rule(b, fam, FORWARD, NULL, false, PRIV, JUMP_COMMENT, true);
		if (!has_jump(&priv, admin))
			xb_rule(b, fam, PRIV, NULL, false, admin, ADMIN_COMMENT, true);
		/* A re-ADD replaces what the attachment had. */
		for (size_t i = 0; i < priv.n; i++)
			if (is_ours(&priv.v[i], comment))
				nft_batch_del_rule(b, fam, TABLE, PRIV, priv.v[i].handle);
		for (size_t i = 0; i < as->n; i++) {
			xb_rule(b, fam, PRIV, as->v[i], true, NULL, comment, false);
			xb_rule(b, fam, PRIV, as->v[i], false, NULL, comment, false);
		}
		xrules_free(&fwd);
		xrules_free(&priv);
		r = xb_commit(x, b, &errnum, &e);
		if (r == 0)
			return 0;
		if (!raced(errnum) || attempt + 1 >= TRIES)
			return cni_error_move(err, &e);
		cni_error_free(e);
		backoff(attempt);
	}
}

typedef int fam_fn(struct xt *x, uint8_t fam, const char *comment, const char *admin,
		   const struct addrs *as, struct cni_error **err);

/* fn for IPv4, then IPv6, with the result's addresses of each; stops at the first failure. */
static int each_family(struct nft *n, const char *comment, const char *admin,
		       const struct cni_result *r, fam_fn *fn, struct cni_error **err)
{
	static const uint8_t fams[2] = { NFPROTO_IPV4, NFPROTO_IPV6 };
	struct xt x;
	int rc = 0;

	xt_init(&x, n);
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct addrs as;

		result_addrs(r, fams[i], &as);
		rc = fn(&x, fams[i], comment, admin, &as, err);
	}
	xt_fini(&x);
	return rc;
}

int xtfwd_add(struct nft *n, const char *tag, const char *admin, const struct cni_result *r,
	      struct cni_error **err)
{
	cleanup_free char *comment = our_comment(tag);
	int rc = each_family(n, comment, admin, r, fam_add, err);

	if (rc < 0) {
		/* All or nothing: the other family's rules (and a re-ADD's) go too. */
		cni_error_wrap(err, "iptables-nft FORWARD accepts");
		(void)xtfwd_del(n, tag, NULL, false, NULL);
	}
	return rc;
}

/* ---- teardown ------------------------------------------------------------------- */

/*
 * Once CNI-FORWARD holds nothing but jumps to empty admin chains and every
 * jump to it from FORWARD is cnic's (a userdata comment; iptables-nft 1.8.9
 * writes the reference's as an xt match), remove the jumps and chains:
 * nothing of cnic's stays with the last attachment.  What the reference
 * created stays as it would with the reference.  Guarded by the generation
 * read first, so a concurrent ADD wins.
 */
static int fam_teardown(struct xt *x, uint8_t fam, struct cni_error **err)
{
	for (int attempt = 0;; attempt++) {
		struct xrules fwd = { 0 }, priv = { 0 };
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();
		uint32_t gen = 0;
		struct cni_error *e = NULL;
		struct chain_info pc;
		bool keep = false;
		int errnum = 0, r = 0;

		if (nft_genid(x->n, &gen, err) < 0 || get_chain(x, fam, PRIV, &pc, err) < 0)
			return -1;
		nft_batch_guard(b, gen);
		if (!pc.found)
			return 0;
		if (list_rules(x, fam, PRIV, &priv, err) < 0)
			return -1;
		if (list_rules(x, fam, FORWARD, &fwd, err) < 0) {
			xrules_free(&priv);
			return -1;
		}
		for (size_t i = 0; i < priv.n && !keep; i++) {
			struct xrules adm = { 0 };

			keep = priv.v[i].kind != K_JUMP;
			if (!keep && list_rules(x, fam, priv.v[i].target, &adm, err) < 0)
				r = -1;
			keep |= r < 0 || adm.n > 0;
			xrules_free(&adm);
		}
		for (size_t i = 0; i < fwd.n && !keep; i++)
			if (fwd.v[i].kind == K_JUMP && strcmp(fwd.v[i].target, PRIV) == 0)
				keep = fwd.v[i].xt_comment || !fwd.v[i].comment ||
				       strcmp(fwd.v[i].comment, JUMP_COMMENT) != 0;
		if (!keep) {
			for (size_t i = 0; i < fwd.n; i++)
				if (fwd.v[i].kind == K_JUMP && strcmp(fwd.v[i].target, PRIV) == 0)
					nft_batch_del_rule(b, fam, TABLE, FORWARD, fwd.v[i].handle);
			for (size_t i = 0; i < priv.n; i++)
				nft_batch_del_rule(b, fam, TABLE, PRIV, priv.v[i].handle);
			nft_batch_del_chain(b, fam, TABLE, PRIV);
			for (size_t i = 0; i < priv.n; i++) {
				bool dup = false;

				for (size_t j = 0; j < i && !dup; j++)
					dup = strcmp(priv.v[j].target, priv.v[i].target) == 0;
				if (!dup)
					nft_batch_del_chain(b, fam, TABLE, priv.v[i].target);
			}
		}
		xrules_free(&fwd);
		xrules_free(&priv);
		if (r < 0)
			return -1;
		r = xb_commit(x, b, &errnum, &e);
		if (r == 0)
			return 0;
		/* Other writers commit all the time on a busy node: try longer. */
		if (!raced(errnum) || attempt + 1 >= CNIC_NFT_TEARDOWN_TRIES)
			return cni_error_move(err, &e);
		cni_error_free(e);
		backoff(attempt);
	}
}

/* ---- DEL and GC ------------------------------------------------------------------ */

typedef bool (*pick_fn)(const struct xrule *r, void *arg);

/*
 * Delete the rules of CNI-FORWARD pick() picks; then tear down if nothing
 * but jumps is left (a failure there is logged: DEL and GC succeed, and a
 * later one tries again).
 */
static int fam_delete(struct xt *x, uint8_t fam, pick_fn pick, void *arg, struct cni_error **err)
{
	for (int attempt = 0;; attempt++) {
		struct xrules priv = { 0 };
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();
		struct cni_error *e = NULL;
		bool any;
		int errnum = 0, r = 0;

		if (list_rules(x, fam, PRIV, &priv, err) < 0)
			return -1;
		for (size_t i = 0; i < priv.n; i++)
			if (pick(&priv.v[i], arg))
				nft_batch_del_rule(b, fam, TABLE, PRIV, priv.v[i].handle);
		any = priv.n > 0;
		xrules_free(&priv);
		r = xb_commit(x, b, &errnum, &e);
		/*
		 * Whatever this read saw, a concurrent DEL may have removed
		 * the rest since: the teardown decides on a read of its own.
		 */
		if (r == 0) {
			if (any && fam_teardown(x, fam, &e) < 0)
				nft_teardown_log("firewall (iptables-nft)", &e);
			return 0;
		}
		if (!raced(errnum) || attempt + 1 >= TRIES)
			return cni_error_move(err, &e);
		cni_error_free(e);
		backoff(attempt);
	}
}

struct del_ctx {
	const char *comment;
	const struct addrs *foreign; /* the reference's rules for these, or NULL */
	uint32_t alen;
	bool *taken; /* [2 * n]: one -d and one -s rule per address */
};

/*
 * Ours by comment; the reference's by shape: no comment, one of each kind
 * per address (it appends each once, and deletes one of each).
 */
static bool del_pick(const struct xrule *r, void *arg)
{
	struct del_ctx *c = arg;

	if (is_ours(r, c->comment))
		return true;
	if (!c->foreign || r->comment || r->xt_comment || (r->kind != K_SRC && r->kind != K_DSTCT))
		return false;
	for (size_t i = 0; i < c->foreign->n; i++) {
		bool *t = &c->taken[2 * i + (r->kind == K_SRC)];

		if (!*t && r->alen == c->alen && memcmp(r->addr, c->foreign->v[i], c->alen) == 0)
			return (*t = true);
	}
	return false;
}

int xtfwd_del(struct nft *n, const char *tag, const struct cni_result *prev, bool foreign,
	      struct cni_error **err)
{
	static const uint8_t fams[2] = { NFPROTO_IPV4, NFPROTO_IPV6 };
	cleanup_free char *comment = our_comment(tag);
	struct xt x;
	int rc = 0;

	xt_init(&x, n);
	for (int i = 0; i < 2; i++) {
		struct addrs as;
		bool taken[2 * MAX_ADDRS] = { 0 };
		struct del_ctx c = { .comment = comment,
				     .alen = fams[i] == NFPROTO_IPV6 ? 16 : 4,
				     .taken = taken };
		struct cni_error *e = NULL;

		result_addrs(foreign ? prev : NULL, fams[i], &as);
		if (as.n)
			c.foreign = &as;
		/* Both families, whatever fails: DEL is best effort. */
		if (fam_delete(&x, fams[i], del_pick, &c, &e) < 0) {
			if (rc == 0)
				cni_error_move(err, &e);
			cni_error_free(e);
			rc = -1;
		}
	}
	xt_fini(&x);
	return rc;
}

static bool gc_pick(const struct xrule *r, void *arg)
{
	const size_t p = strlen(OURS_PREFIX);

	return r->comment && strncmp(r->comment, OURS_PREFIX, p) == 0 &&
	       nft_live_stale(arg, r->comment + p, strlen(r->comment + p));
}

int xtfwd_gc(struct nft *n, const struct nft_live *live, struct cni_error **err)
{
	struct xt x;
	int rc = 0;

	xt_init(&x, n);
	if (fam_delete(&x, NFPROTO_IPV4, gc_pick, (void *)live, err) < 0)
		rc = -1;
	if (rc == 0 && fam_delete(&x, NFPROTO_IPV6, gc_pick, (void *)live, err) < 0)
		rc = -1;
	xt_fini(&x);
	return rc;
}

/* ---- CHECK ----------------------------------------------------------------------- */

static int fam_check(struct xt *x, uint8_t fam, const char *comment, const char *admin,
		     const struct addrs *as, struct cni_error **err)
{
	const uint32_t alen = fam == NFPROTO_IPV6 ? 16 : 4;
	struct xrules fwd = { 0 }, priv = { 0 };
	int r;

	if (as->n == 0)
		return 0;
	r = forward_drops(x, fam, err);
	if (r <= 0)
		return r;
	if (list_rules(x, fam, FORWARD, &fwd, err) < 0)
		return -1;
	if (list_rules(x, fam, PRIV, &priv, err) < 0) {
		xrules_free(&fwd);
		return -1;
	}
	if (!has_jump(&fwd, PRIV))
		r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
				  "firewall: %s %s %s has no jump to %s (it drops what nothing "
				  "accepts)",
				  fam_name(fam), TABLE, FORWARD, PRIV);
	else if (!has_jump(&priv, admin))
		r = cni_error_set(err, CNI_ERR_INTERNAL, 0, "firewall: %s %s %s has no jump to %s",
				  fam_name(fam), TABLE, PRIV, admin);
	for (size_t i = 0; i < as->n && r >= 0; i++) {
		bool src = false, dst = false;

		for (size_t j = 0; j < priv.n; j++) {
			const struct xrule *x1 = &priv.v[j];

			if (!is_ours(x1, comment) || x1->alen != alen ||
			    memcmp(x1->addr, as->v[i], alen) != 0)
				continue;
			src |= x1->kind == K_SRC;
			dst |= x1->kind == K_DSTCT;
		}
		if (!src || !dst)
			r = cni_error_set(err, CNI_ERR_INTERNAL, 0,
					  "firewall: %s %s %s lacks the accept rules \"%s\" of an "
					  "address",
					  fam_name(fam), TABLE, PRIV, comment);
	}
	xrules_free(&fwd);
	xrules_free(&priv);
	return r < 0 ? -1 : 0;
}

int xtfwd_check(struct nft *n, const char *tag, const char *admin, const struct cni_result *r,
		struct cni_error **err)
{
	cleanup_free char *comment = our_comment(tag);

	return each_family(n, comment, admin, r, fam_check, err);
}
