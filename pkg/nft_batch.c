/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building nftables batches and rules (see nft.h): libnftnl writes each
 * request straight into the batch's one growing buffer, with no socket;
 * nft.c stamps the sequence numbers and sends it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "cleanup.h"
#include "nft_internal.h"

/* Elements per request stay under this, so no single message gets huge. */
#define ELEMS_MSG_BUDGET (48u << 10)

/* ---- batches ------------------------------------------------------------ */

struct nft_batch *nft_batch_new(void)
{
	return xcalloc(1, sizeof(struct nft_batch));
}

void nft_batch_free(struct nft_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_reqs; i++)
		free(b->reqs[i].what);
	free(b->reqs);
	free(b->buf);
	free(b);
}

void nft_batch_freep(struct nft_batch **b)
{
	nft_batch_free(*b);
	*b = NULL;
}

size_t nft_batch_len(const struct nft_batch *b)
{
	return b->n_reqs;
}

char *nft_buf_reserve(struct nft_batch *b, size_t room)
{
	if (b->cap - b->len < room) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap - b->len < room)
			cap *= 2;
		b->buf = xrealloc(b->buf, cap);
		/* libnftnl does not zero padding; keep the bytes on the wire defined. */
		memset(b->buf + b->cap, 0, cap - b->cap);
		b->cap = cap;
	}
	return b->buf + b->len;
}

static struct nlmsghdr *batch_hdr(struct nft_batch *b, size_t room, uint16_t type, uint8_t family,
				  uint16_t flags)
{
	switch (type) {
	case NFT_MSG_DELTABLE:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_DELRULE:
	case NFT_MSG_DELSET:
	case NFT_MSG_DELSETELEM:
		b->deletes = true;
		break;
	}
	return nftnl_nlmsg_build_hdr(nft_buf_reserve(b, room), type, family, flags | NLM_F_ACK, 0);
}

void nft_buf_push(struct nft_batch *b, struct nlmsghdr *nlh, size_t room, char *what)
{
	struct nft_req *q;

	/* An overrun here would already have corrupted the heap: fail loudly. */
	if (nlh->nlmsg_len > room)
		abort();
	q = xappend(&b->reqs, &b->n_reqs, sizeof(*q));
	q->off = b->len;
	q->what = what;
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

const char *nft_family_str(uint8_t family)
{
	switch (family) {
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_NETDEV:
		return "netdev";
	default:
		return "?";
	}
}

void nft_batch_guard(struct nft_batch *b, uint32_t genid)
{
	b->guarded = true;
	b->genid = genid;
}

/* Adding and deleting a table differ only in message type, flags and text. */
static void batch_table(struct nft_batch *b, uint16_t type, uint16_t flags, uint8_t family,
			const char *table, char *desc)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t)
		abort();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, type, family, flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM, desc);
}

void nft_batch_add_table(struct nft_batch *b, uint8_t family, const char *table)
{
	batch_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, family, table,
		    xasprintf("add table %s %s", nft_family_str(family), table));
}

void nft_batch_del_table(struct nft_batch *b, uint8_t family, const char *table)
{
	batch_table(b, NFT_MSG_DELTABLE, 0, family, table,
		    xasprintf("delete table %s %s", nft_family_str(family), table));
}

void nft_batch_del_table_if_empty(struct nft_batch *b, uint8_t family, const char *table)
{
	batch_table(b, NFT_MSG_DELTABLE, NLM_F_NONREC, family, table,
		    xasprintf("delete empty table %s %s", nft_family_str(family), table));
}

struct nftnl_chain *nft_chain_obj(const char *table, const char *chain)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		abort();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
	return c;
}

void nft_batch_add_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain,
			 const struct nft_base_chain *base)
{
	struct nftnl_chain *c = nft_chain_obj(table, chain);
	struct nlmsghdr *nlh;

	if (base) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, base->type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, base->hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, base->priority);
		if (base->has_policy)
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, base->policy);
	}
	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM,
		     xasprintf("add chain %s %s %s", nft_family_str(family), table, chain));
}

/*
 * One rule deletion: of the rule with *handle, or, with handle NULL, of every
 * rule of the chain (the kernel reads a deletion naming only the chain so).
 */
static void batch_del_rules(struct nft_batch *b, uint8_t family, const char *table,
			    const char *chain, const uint64_t *handle, char *desc)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	if (handle)
		nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, *handle);
	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, NFT_MSG_DELRULE, family, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM, desc);
}

void nft_batch_flush_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain)
{
	batch_del_rules(b, family, table, chain, NULL,
			xasprintf("flush chain %s %s %s", nft_family_str(family), table, chain));
}

void nft_batch_del_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain)
{
	struct nftnl_chain *c = nft_chain_obj(table, chain);
	struct nlmsghdr *nlh;

	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, NFT_MSG_DELCHAIN, family, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM,
		     xasprintf("delete chain %s %s %s", nft_family_str(family), table, chain));
}

uint32_t nft_concat_len(const uint8_t *lens, size_t n)
{
	uint32_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (lens[i] + 3u) & ~3u;
	return len;
}

/* nft's encoding of a concatenated type: 6 bits per field, first field highest. */
static uint32_t concat_type(const enum nft_dtype *types, size_t n)
{
	uint32_t t = 0;

	for (size_t i = 0; i < n; i++)
		t = (t << 6) | (uint32_t)types[i];
	return t;
}

static uint32_t field_len(const uint8_t *lens, size_t n)
{
	return n == 1 ? lens[0] : nft_concat_len(lens, n);
}

/* nft's byte-order codes in set userdata (BYTEORDER_*), so `nft list` decodes keys. */
#define CNIC_NFT_BYTEORDER_HOST 1
#define CNIC_NFT_BYTEORDER_BIG 2

/*
 * Strings (interface names) are host order to nft: a single-field ifname
 * key marked big endian is listed reversed (as "", its padding first), and
 * a saved ruleset then fails to load.  Concatenations are read field by
 * field, each by its own type.
 */
static uint32_t byteorder(const enum nft_dtype *types, size_t n)
{
	return n == 1 && types[0] == CNIC_NFT_DT_IFNAME ? CNIC_NFT_BYTEORDER_HOST
							: CNIC_NFT_BYTEORDER_BIG;
}

void nft_batch_add_set(struct nft_batch *b, uint8_t family, const char *table,
		       const struct nft_set_def *s)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
	uint32_t flags = s->flags;
	struct nlmsghdr *nlh;

	if (!set || !ud)
		abort();
	nftnl_set_set_str(set, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, family);
	nftnl_set_set_u32(set, NFTNL_SET_ID, ++b->set_ids);
	/*
	 * As nft declares them, so that a ruleset saved with `nft list
	 * ruleset` and loaded back gives sets our adds match (the kernel
	 * compares flags and field lengths): the concatenation flag and field
	 * description only for interval sets.
	 */
	if (s->n_fields > 1 && (flags & NFT_SET_INTERVAL)) {
		flags |= NFT_SET_CONCAT;
		nftnl_set_set_data(set, NFTNL_SET_DESC_CONCAT, s->key_lens, s->n_fields);
	}
	if (s->n_data)
		flags |= NFT_SET_MAP;
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, concat_type(s->key_types, s->n_fields));
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, field_len(s->key_lens, s->n_fields));
	if (s->n_data) {
		nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, concat_type(s->data_types, s->n_data));
		nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, field_len(s->data_lens, s->n_data));
	}
	nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, byteorder(s->key_types, s->n_fields));
	if (s->n_data)
		nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_DATABYTEORDER,
				    byteorder(s->data_types, s->n_data));
	if (s->comment)
		nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_COMMENT, s->comment);
	nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
			   nftnl_udata_buf_len(ud));
	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, NFT_MSG_NEWSET, family, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nftnl_udata_buf_free(ud);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM,
		     xasprintf("add set %s %s %s", nft_family_str(family), table, s->name));
}

static void del_set(struct nft_batch *b, uint8_t family, const char *table, const char *name,
		    uint16_t flags)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (!set)
		abort();
	nftnl_set_set_str(set, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, name);
	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, NFT_MSG_DELSET, family, flags);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM,
		     xasprintf("delete %sset %s %s %s", flags & NLM_F_NONREC ? "empty " : "",
			       nft_family_str(family), table, name));
}

void nft_batch_del_set(struct nft_batch *b, uint8_t family, const char *table, const char *name)
{
	del_set(b, family, table, name, 0);
}

void nft_batch_del_set_if_empty(struct nft_batch *b, uint8_t family, const char *table,
				const char *name)
{
	del_set(b, family, table, name, NLM_F_NONREC);
}

/* Upper bound of one element's attributes on the wire. */
static size_t elem_room(const struct nft_elem *e, bool with_data)
{
	size_t room = 64 + e->key_len + e->key_end_len;

	if (with_data)
		room += e->data_len + (e->comment ? strlen(e->comment) + 16 : 0);
	return room;
}

struct nftnl_set_elem *nft_elem_obj(const struct nft_elem *e, bool with_data)
{
	struct nftnl_set_elem *se = nftnl_set_elem_alloc();

	if (!se)
		abort();
	nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, e->key, e->key_len);
	if (e->key_end)
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY_END, e->key_end, e->key_end_len);
	if (!with_data)
		return se;
	if (e->data)
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_DATA, e->data, e->data_len);
	if (e->comment) {
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

		if (!ud)
			abort();
		nftnl_udata_put_strz(ud, NFTNL_UDATA_SET_ELEM_COMMENT, e->comment);
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud),
				   nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return se;
}

static void batch_elems(struct nft_batch *b, uint16_t type, uint16_t flags, uint8_t family,
			const char *table, const char *set, const struct nft_elem *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		struct nftnl_set *s = nftnl_set_alloc();
		size_t room = 512 + strlen(table) + strlen(set), first = i;
		struct nlmsghdr *nlh;

		if (!s)
			abort();
		nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, set);
		do {
			room += elem_room(&v[i], type == NFT_MSG_NEWSETELEM);
			nftnl_set_elem_add(s, nft_elem_obj(&v[i], type == NFT_MSG_NEWSETELEM));
			i++;
		} while (i < n && room < ELEMS_MSG_BUDGET);
		nlh = batch_hdr(b, room, type, family, flags);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		nft_buf_push(b, nlh, room,
			     xasprintf("%s %zu element(s) %s set %s %s %s",
				       type == NFT_MSG_NEWSETELEM ? "add" : "delete", i - first,
				       type == NFT_MSG_NEWSETELEM ? "to" : "from",
				       nft_family_str(family), table, set));
	}
}

void nft_batch_add_elems(struct nft_batch *b, uint8_t family, const char *table, const char *set,
			 const struct nft_elem *v, size_t n, bool excl)
{
	batch_elems(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE | (excl ? NLM_F_EXCL : 0), family, table,
		    set, v, n);
}

void nft_batch_del_elems(struct nft_batch *b, uint8_t family, const char *table, const char *set,
			 const struct nft_elem *v, size_t n)
{
	batch_elems(b, NFT_MSG_DELSETELEM, 0, family, table, set, v, n);
}


/* ---- rules -------------------------------------------------------------- */

struct nft_rule *nft_rule_new(uint8_t family, const char *table, const char *chain)
{
	struct nft_rule *r = xcalloc(1, sizeof(*r));

	r->r = nftnl_rule_alloc();
	if (!r->r)
		abort();
	nftnl_rule_set_u32(r->r, NFTNL_RULE_FAMILY, family);
	nftnl_rule_set_str(r->r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r->r, NFTNL_RULE_CHAIN, chain);
	return r;
}

void nft_rule_free(struct nft_rule *r)
{
	if (!r)
		return;
	nftnl_rule_free(r->r);
	free(r);
}

static struct nftnl_expr *expr_new(struct nft_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (!e)
		abort();
	nftnl_rule_add_expr(r->r, e);
	r->n_expr++;
	return e;
}

void nft_rule_meta(struct nft_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

void nft_rule_payload(struct nft_rule *r, uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

void nft_rule_cmp(struct nft_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void nft_rule_bitwise(struct nft_rule *r, uint32_t sreg, uint32_t dreg, uint32_t len,
		      const void *mask, const void * xor)
{
	struct nftnl_expr *e = expr_new(r, "bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
}

void nft_rule_lookup(struct nft_rule *r, uint32_t sreg, const char *set, int dreg, bool invert)
{
	struct nftnl_expr *e = expr_new(r, "lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	if (invert)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

void nft_rule_ct(struct nft_rule *r, uint32_t key, int dir, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "ct");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	if (dir >= 0)
		nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, (uint8_t)dir);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
}

void nft_rule_fib(struct nft_rule *r, uint32_t flags, uint32_t result, uint32_t dreg)
{
	struct nftnl_expr *e = expr_new(r, "fib");

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
}

void nft_rule_nat(struct nft_rule *r, uint32_t type, uint8_t family, uint32_t reg_addr,
		  uint32_t reg_proto, uint32_t flags)
{
	struct nftnl_expr *e = expr_new(r, "nat");

	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
	flags |= NF_NAT_RANGE_MAP_IPS;
	if (reg_proto) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
		flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
	}
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, flags);
}

void nft_rule_masq(struct nft_rule *r, uint32_t flags)
{
	struct nftnl_expr *e = expr_new(r, "masq");

	if (flags)
		nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, flags);
}

void nft_rule_counter(struct nft_rule *r)
{
	(void)expr_new(r, "counter");
}

void nft_rule_verdict(struct nft_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr_new(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

void nft_rule_set_comment(struct nft_rule *r, const char *comment)
{
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

	if (!ud)
		abort();
	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, comment);
	nftnl_rule_set_data(r->r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
			    nftnl_udata_buf_len(ud));
	nftnl_udata_buf_free(ud);
}

/* Queue r at the end of its chain (NLM_F_APPEND) or at its head; b takes r. */
static void push_rule(struct nft_batch *b, struct nft_rule *r, uint16_t where)
{
	size_t room = 1024 + 512 * r->n_expr;
	const char *table = nftnl_rule_get_str(r->r, NFTNL_RULE_TABLE);
	const char *chain = nftnl_rule_get_str(r->r, NFTNL_RULE_CHAIN);
	uint8_t family = (uint8_t)nftnl_rule_get_u32(r->r, NFTNL_RULE_FAMILY);
	struct nlmsghdr *nlh;

	room += strlen(table) + strlen(chain);
	nlh = batch_hdr(b, room, NFT_MSG_NEWRULE, family, NLM_F_CREATE | where);
	nftnl_rule_nlmsg_build_payload(nlh, r->r);
	nft_buf_push(b, nlh, room,
		     xasprintf("%s rule to chain %s %s %s", where ? "add" : "insert",
			       nft_family_str(family), table, chain));
	nft_rule_free(r);
}

void nft_batch_add_rule(struct nft_batch *b, struct nft_rule *r)
{
	push_rule(b, r, NLM_F_APPEND);
}

void nft_batch_insert_rule(struct nft_batch *b, struct nft_rule *r)
{
	push_rule(b, r, 0);
}

void nft_rule_xt_match(struct nft_rule *r, const char *name, uint32_t rev, void *info, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "match");

	nftnl_expr_set_str(e, NFTNL_EXPR_MT_NAME, name);
	nftnl_expr_set_u32(e, NFTNL_EXPR_MT_REV, rev);
	nftnl_expr_set(e, NFTNL_EXPR_MT_INFO, info, len);
}

void nft_batch_del_rule(struct nft_batch *b, uint8_t family, const char *table, const char *chain,
			uint64_t handle)
{
	batch_del_rules(b, family, table, chain, &handle,
			xasprintf("delete rule %llu from chain %s %s %s",
				  (unsigned long long)handle, nft_family_str(family), table, chain));
}


/* ---- guards -------------------------------------------------------------- */

void nft_batch_require_chain(struct nft_batch *b, uint8_t family, const char *table, uint64_t handle)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		abort();
	/* By handle and without a name: an update that changes nothing, or ENOENT. */
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_u64(c, NFTNL_CHAIN_HANDLE, handle);
	nlh = batch_hdr(b, CNIC_NFT_OBJ_ROOM, NFT_MSG_NEWCHAIN, family, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	nft_buf_push(b, nlh, CNIC_NFT_OBJ_ROOM,
		     xasprintf("require chain %llu of %s %s", (unsigned long long)handle,
			       nft_family_str(family), table));
}
