/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap's nftables layout.  One table, inet cnic_portmap; per network N
 * (its name, or "h" + a hash when longer than 64 bytes):
 *
 *	map N-hip4 { ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
 *	map N-any4 { inet_proto . inet_service : ipv4_addr . inet_service }
 *	map N-hip6, N-any6                       the same for IPv6
 *	set N-hc4  { ipv4_addr }                         container: hairpin from its subnet
 *	set N-hs4  { ipv4_addr . ipv4_addr; interval }   subnet . subnet, one per subnet
 *	set N-ma4  { ipv4_addr }                         container with masqAll
 *	set N-lo4  { ipv4_addr }                         container reachable on 127.0.0.1
 *	set N-hc6, N-hs6, N-ma6                          the same for IPv6
 *	set N-owners { integer }                          one element per attachment, with its index
 *	chain N-dnat {                                     (regular)
 *		meta nfproto ipv4 <conditionsV4> ip daddr . meta l4proto . th dport
 *			dnat ip to ip daddr . meta l4proto . th dport map @N-hip4
 *		meta nfproto ipv4 <conditionsV4>
 *			dnat ip to meta l4proto . th dport map @N-any4
 *		... the same for ip6
 *	}
 *	chain N-pre  { type nat hook prerouting priority dstnat;
 *		fib daddr type local jump N-dnat }
 *	chain N-out  { type nat hook output priority dstnat;
 *		fib daddr type local jump N-dnat }
 *	chain N-post { type nat hook postrouting priority srcnat;      (snat only)
 *		ct status dnat ip daddr @N-hc4 ip saddr . ip daddr @N-hs4 masquerade
 *		ct status dnat ip daddr @N-ma4 masquerade
 *		... the same three for ip6
 *		ct status dnat ip saddr 127.0.0.1 ip daddr @N-lo4 masquerade }
 *	chain martian { type filter hook input priority filter;        (when route_localnet is set)
 *		ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct status != dnat
 *			ct state != established,related drop }
 *
 * Why: a mapping is a map element, so a new connection costs a fib lookup
 * and two map lookups per family whatever the number of mappings, and an
 * ADD adds elements to existing maps.  DNAT happens only for destinations
 * that are local addresses (fib daddr type local, from prerouting and
 * output: CVE-2025-67499).  Hairpin and localhost traffic (and everything,
 * with masqAll) is masqueraded only when it was DNATed to a container of
 * the network.  Per-network chains carry that network's conditions and
 * snat setting, so networks never overwrite each other's.  The rules
 * depend only on the network's config: they carry a comment with a hash of
 * it and are rewritten only when that changes, so an ADD normally deletes
 * nothing (see nft_close for why that matters).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/rtnetlink.h>

#include "../../pkg/nft_owned.h"
#include "portmap.h"

#define NAME_NET_MAX 64
#define MARTIAN_CHAIN "martian"
#define MARTIAN_COMMENT "cnic portmap martian v1"

void pm_names_for(const char *network, struct pm_names *nm)
{
	char net[NAME_NET_MAX + 1];

	if (strlen(network) <= NAME_NET_MAX) {
		snprintf(net, sizeof(net), "%s", network);
	} else {
		uint8_t k[CNIC_NFT_OWNER_KEY_LEN];
		nft_owner_key(network, k);
		net[0] = 'h';
		for (int i = 0; i < CNIC_NFT_OWNER_KEY_LEN; i++)
			snprintf(net + 1 + 2 * i, 3, "%02x", k[i]);
	}
#define NAME(field, suffix) snprintf(nm->field, sizeof(nm->field), "%s-" suffix, net)
	NAME(pre, "pre");
	NAME(out, "out");
	NAME(dnat, "dnat");
	NAME(post, "post");
	NAME(hip4, "hip4");
	NAME(any4, "any4");
	NAME(hip6, "hip6");
	NAME(any6, "any6");
	NAME(owners, "owners");
	NAME(hc4, "hc4");
	NAME(hc6, "hc6");
	NAME(hs4, "hs4");
	NAME(hs6, "hs6");
	NAME(ma4, "ma4");
	NAME(ma6, "ma6");
	NAME(lo4, "lo4");
#undef NAME
}

const char *pm_set_name(const struct pm_names *nm, enum pm_set s)
{
	switch (s) {
	case PM_HIP4:
		return nm->hip4;
	case PM_ANY4:
		return nm->any4;
	case PM_HIP6:
		return nm->hip6;
	case PM_ANY6:
		return nm->any6;
	case PM_HC4:
		return nm->hc4;
	case PM_HC6:
		return nm->hc6;
	case PM_HS4:
		return nm->hs4;
	case PM_HS6:
		return nm->hs6;
	case PM_MA4:
		return nm->ma4;
	case PM_MA6:
		return nm->ma6;
	case PM_LO4:
		return nm->lo4;
	default:
		return nm->owners;
	}
}

/* ---- conditions (parsed by conds.c) ------------------------------------ */

/* Expressions for the conditions, before anything is loaded into registers. */
static void put_conds(struct nft_rule *r, const struct pm_conds *c, bool v6)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct pm_cond *cd = &c->v[i];
		uint32_t op = cd->neq ? NFT_CMP_NEQ : NFT_CMP_EQ;

		switch (cd->kind) {
		case PM_COND_IIFNAME:
		case PM_COND_OIFNAME: {
			char name[16] = { 0 };

			/* A prefix (iptables' "eth+") compares its own bytes only, as nft's "eth*". */
			memcpy(name, cd->ifname, strnlen(cd->ifname, sizeof(cd->ifname)));
			nft_rule_meta(r,
				      cd->kind == PM_COND_IIFNAME ? NFT_META_IIFNAME
								  : NFT_META_OIFNAME,
				      NFT_REG_1);
			nft_rule_cmp(r, NFT_REG_1, op, name, cd->ifname_len);
			break;
		}
		case PM_COND_L4PROTO:
			nft_rule_meta(r, NFT_META_L4PROTO, NFT_REG_1);
			nft_rule_cmp(r, NFT_REG_1, op, &cd->proto, 1);
			break;
		case PM_COND_SPORT:
		case PM_COND_DPORT: {
			const uint8_t lo[2] = { (uint8_t)(cd->port_lo >> 8), (uint8_t)cd->port_lo };
			const uint8_t hi[2] = { (uint8_t)(cd->port_hi >> 8), (uint8_t)cd->port_hi };

			/* Big-endian bytes compare as numbers (the kernel memcmp()s them). */
			nft_rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER,
					 cd->kind == PM_COND_SPORT ? 0 : 2, 2, NFT_REG_1);
			if (cd->port_lo == cd->port_hi) {
				nft_rule_cmp(r, NFT_REG_1, op, lo, 2);
			} else {
				nft_rule_cmp(r, NFT_REG_1, NFT_CMP_GTE, lo, 2);
				nft_rule_cmp(r, NFT_REG_1, NFT_CMP_LTE, hi, 2);
			}
			break;
		}
		case PM_COND_SADDR:
		case PM_COND_DADDR: {
			uint32_t len = v6 ? 16 : 4;
			uint32_t off = (v6 ? 8 : 12) + (cd->kind == PM_COND_DADDR ? len : 0);
			uint8_t mask[16] = { 0 }, zero[16] = { 0 };

			for (unsigned int b = 0; b < cd->net.prefix; b++)
				mask[b / 8] |= (uint8_t)(0x80 >> (b % 8));
			nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, len, NFT_REG_1);
			if (cd->net.prefix < len * 8)
				nft_rule_bitwise(r, NFT_REG_1, NFT_REG_1, len, mask, zero);
			nft_rule_cmp(r, NFT_REG_1, op, cd->net.addr.b, len);
			break;
		}
		}
	}
}

/* ---- rules -------------------------------------------------------------- */

static void put_nfproto(struct nft_rule *r, bool v6)
{
	const uint8_t p = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	nft_rule_meta(r, NFT_META_NFPROTO, NFT_REG32_00);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, &p, 1);
}

/* One DNAT rule: with_host: key starts with the destination address. */
static void dnat_rule(struct nft_batch *b, const struct pm_names *nm, const struct pm_conf *conf,
		      bool v6, bool with_host, const char *comment)
{
	struct nft_rule *r = nft_rule_new(PM_FAMILY, PM_TABLE, nm->dnat);
	uint32_t alen = v6 ? 16 : 4;
	uint32_t reg = NFT_REG32_00;
	const char *map = v6 ? (with_host ? nm->hip6 : nm->any6) : (with_host ? nm->hip4 : nm->any4);

	put_nfproto(r, v6);
	put_conds(r, v6 ? &conf->cond6 : &conf->cond4, v6);
	if (with_host) {
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, alen, reg);
		reg += alen / 4;
	}
	nft_rule_meta(r, NFT_META_L4PROTO, reg);
	nft_rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg + 1);
	/* The data (address . port) lands in the first slots. */
	nft_rule_lookup(r, NFT_REG32_00, map, NFT_REG32_00, false);
	nft_rule_nat(r, NFT_NAT_DNAT, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4, NFT_REG32_00,
		     NFT_REG32_00 + alen / 4, 0);
	nft_rule_set_comment(r, comment);
	nft_batch_add_rule(b, r);
}

static void jump_rule(struct nft_batch *b, const char *chain, const char *target, const char *comment)
{
	struct nft_rule *r = nft_rule_new(PM_FAMILY, PM_TABLE, chain);
	const uint32_t local = RTN_LOCAL;

	nft_rule_fib(r, NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, NFT_REG32_00);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, &local, sizeof(local));
	nft_rule_verdict(r, NFT_JUMP, target);
	nft_rule_set_comment(r, comment);
	nft_batch_add_rule(b, r);
}

/* ct status & dnat != 0: only what one of the DNAT rules (or another DNAT) translated. */
static void put_ct_dnat(struct nft_rule *r, bool want)
{
	const uint32_t mask = IPS_DST_NAT, zero = 0;

	nft_rule_ct(r, NFT_CT_STATUS, -1, NFT_REG32_00);
	nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, &mask, &zero);
	nft_rule_cmp(r, NFT_REG32_00, want ? NFT_CMP_NEQ : NFT_CMP_EQ, &zero, 4);
}

enum masq_kind {
	MASQ_HAIRPIN,
	MASQ_ALL,
	MASQ_LOCALHOST
};

/*
 * ct status dnat ip daddr @N-hc4 ip saddr . ip daddr @N-hs4 masquerade
 * ct status dnat ip daddr @N-ma4 masquerade
 * ct status dnat ip saddr 127.0.0.1 ip daddr @N-lo4 masquerade
 * Per-attachment elements are in hash sets (flat insertion and removal);
 * the only interval set, N-hs4, has one element per subnet.
 */
static void masq_rule(struct nft_batch *b, const struct pm_names *nm, bool v6, enum masq_kind k,
		      const char *comment)
{
	struct nft_rule *r = nft_rule_new(PM_FAMILY, PM_TABLE, nm->post);
	uint32_t alen = v6 ? 16 : 4;
	uint32_t soff = v6 ? 8 : 12, doff = v6 ? 24 : 16;

	put_nfproto(r, v6);
	put_ct_dnat(r, true);
	if (k == MASQ_LOCALHOST) {
		const uint8_t lo[4] = { 127, 0, 0, 1 };
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, soff, alen, NFT_REG32_00);
		nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, lo, 4);
	}
	nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, doff, alen, NFT_REG32_00);
	nft_rule_lookup(r, NFT_REG32_00,
			k == MASQ_HAIRPIN ? (v6 ? nm->hc6 : nm->hc4)
			: k == MASQ_ALL	  ? (v6 ? nm->ma6 : nm->ma4)
					  : nm->lo4,
			-1, false);
	if (k == MASQ_HAIRPIN) {
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, soff, alen, NFT_REG32_00);
		nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, doff, alen, NFT_REG32_00 + alen / 4);
		nft_rule_lookup(r, NFT_REG32_00, v6 ? nm->hs6 : nm->hs4, -1, false);
	}
	nft_rule_masq(r, 0);
	nft_rule_set_comment(r, comment);
	nft_batch_add_rule(b, r);
}

/*
 * CVE-2020-8558: with route_localnet=1 a neighbour could reach services
 * bound to 127.0.0.1 through that interface.  Drop what arrives for 127/8
 * from elsewhere unless it belongs to a connection we (or someone) DNATed
 * or is a reply (kube-proxy's rule).
 */
static void martian_rule(struct nft_batch *b)
{
	struct nft_rule *r = nft_rule_new(PM_FAMILY, PM_TABLE, MARTIAN_CHAIN);
	const uint8_t mask[4] = { 0xff, 0, 0, 0 }, zero[4] = { 0 }, lo[4] = { 127, 0, 0, 0 };
	const uint32_t est_rel = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
	const uint32_t z = 0;

	put_nfproto(r, false);
	nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG32_00);
	nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, mask, zero);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, lo, 4);
	nft_rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG32_00);
	nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, mask, zero);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, lo, 4);
	put_ct_dnat(r, false);
	nft_rule_ct(r, NFT_CT_STATE, -1, NFT_REG32_00);
	nft_rule_bitwise(r, NFT_REG32_00, NFT_REG32_00, 4, &est_rel, &z);
	nft_rule_cmp(r, NFT_REG32_00, NFT_CMP_EQ, &z, 4);
	nft_rule_counter(r);
	nft_rule_verdict(r, NF_DROP, NULL);
	nft_rule_set_comment(r, MARTIAN_COMMENT);
	nft_batch_add_rule(b, r);
}

/* ---- sets --------------------------------------------------------------- */

static void set_defs(const struct pm_names *nm, struct nft_set_def d[PM_SET_COUNT])
{
	static const struct nft_set_def hip4 = {
		.n_fields = 3,
		.key_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_INET_PROTO, CNIC_NFT_DT_INET_SERVICE },
		.key_lens = { 4, 1, 2 },
		.n_data = 2,
		.data_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_INET_SERVICE },
		.data_lens = { 4, 2 },
		.comment = "host address . protocol . host port : container address . port",
	};
	static const struct nft_set_def any4 = {
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_INET_PROTO, CNIC_NFT_DT_INET_SERVICE },
		.key_lens = { 1, 2 },
		.n_data = 2,
		.data_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_INET_SERVICE },
		.data_lens = { 4, 2 },
		.comment = "protocol . host port (any local address) : container address . port",
	};
	static const struct nft_set_def hip6 = {
		.n_fields = 3,
		.key_types = { CNIC_NFT_DT_IPV6, CNIC_NFT_DT_INET_PROTO, CNIC_NFT_DT_INET_SERVICE },
		.key_lens = { 16, 1, 2 },
		.n_data = 2,
		.data_types = { CNIC_NFT_DT_IPV6, CNIC_NFT_DT_INET_SERVICE },
		.data_lens = { 16, 2 },
		.comment = "host address . protocol . host port : container address . port",
	};
	static const struct nft_set_def any6 = {
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_INET_PROTO, CNIC_NFT_DT_INET_SERVICE },
		.key_lens = { 1, 2 },
		.n_data = 2,
		.data_types = { CNIC_NFT_DT_IPV6, CNIC_NFT_DT_INET_SERVICE },
		.data_lens = { 16, 2 },
		.comment = "protocol . host port (any local address) : container address . port",
	};
	static const struct nft_set_def hc4 = {
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV4 },
		.key_lens = { 4 },
		.comment = "container address: masquerade from its subnet (N-hs4)",
	};
	static const struct nft_set_def hc6 = {
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV6 },
		.key_lens = { 16 },
		.comment = "container address: masquerade from its subnet (N-hs6)",
	};
	static const struct nft_set_def hs4 = {
		.flags = NFT_SET_INTERVAL,
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_IPV4, CNIC_NFT_DT_IPV4 },
		.key_lens = { 4, 4 },
		.comment = "subnet . subnet: hairpin within a container subnet (shared, GC removes)",
	};
	static const struct nft_set_def hs6 = {
		.flags = NFT_SET_INTERVAL,
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_IPV6, CNIC_NFT_DT_IPV6 },
		.key_lens = { 16, 16 },
		.comment = "subnet . subnet: hairpin within a container subnet (shared, GC removes)",
	};
	static const struct nft_set_def ma4 = {
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV4 },
		.key_lens = { 4 },
		.comment = "container address: masquerade everything (masqAll)",
	};
	static const struct nft_set_def ma6 = {
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV6 },
		.key_lens = { 16 },
		.comment = "container address: masquerade everything (masqAll)",
	};
	static const struct nft_set_def lo4 = {
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IPV4 },
		.key_lens = { 4 },
		.comment = "container address: masquerade from 127.0.0.1",
	};
	static const struct nft_set_def owners = {
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_OWNER },
		.key_lens = { CNIC_NFT_OWNER_KEY_LEN },
		.comment = "one element per attachment with elements here",
	};

	d[PM_HIP4] = hip4;
	d[PM_ANY4] = any4;
	d[PM_HIP6] = hip6;
	d[PM_ANY6] = any6;
	d[PM_HC4] = hc4;
	d[PM_HC6] = hc6;
	d[PM_HS4] = hs4;
	d[PM_HS6] = hs6;
	d[PM_MA4] = ma4;
	d[PM_MA6] = ma6;
	d[PM_LO4] = lo4;
	d[PM_OWNERS] = owners;
	for (int i = 0; i < PM_SET_COUNT; i++)
		d[i].name = pm_set_name(nm, (enum pm_set)i);
}

/* "cnic portmap v2 <hash of what the rules depend on>". */
static char *rules_comment(const struct pm_conf *conf)
{
	cleanup_free char *desc = xasprintf("snat=%d", conf->snat);
	uint8_t k[CNIC_NFT_OWNER_KEY_LEN];
	char hex[17];

	for (int f = 0; f < 2; f++) {
		const struct strv *s = f ? &conf->conditions_v6 : &conf->conditions_v4;
		for (size_t i = 0; i < s->n; i++) {
			char *d = xasprintf("%s;%d:%s", desc, f, s->v[i]);
			free(desc);
			desc = d;
		}
	}
	nft_owner_key(desc, k);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", k[i]);
	return xasprintf("cnic portmap v2 %s", hex);
}

static size_t count_rules(const struct nft_rule_info *v, size_t n, const char *chain,
			  const char *comment, size_t *ret_all)
{
	size_t mine = 0, all = 0;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].chain, chain) != 0)
			continue;
		all++;
		mine += v[i].comment && strcmp(v[i].comment, comment) == 0;
	}
	*ret_all = all;
	return mine;
}

int pm_queue_skeleton(struct nft *n, struct nft_batch *b, const char *network,
		      const struct pm_conf *conf, bool with_martian, struct cni_error **err)
{
	static const struct nft_base_chain pre = {
		.type = "nat",
		.hook = NF_INET_PRE_ROUTING,
		.priority = CNIC_NFT_PRIO_DSTNAT,
	};
	static const struct nft_base_chain out = {
		.type = "nat",
		.hook = NF_INET_LOCAL_OUT,
		.priority = CNIC_NFT_PRIO_DSTNAT,
	};
	static const struct nft_base_chain post = {
		.type = "nat",
		.hook = NF_INET_POST_ROUTING,
		.priority = CNIC_NFT_PRIO_SRCNAT,
	};
	static const struct nft_base_chain input = {
		.type = "filter",
		.hook = NF_INET_LOCAL_IN,
		.priority = CNIC_NFT_PRIO_FILTER,
	};
	cleanup_free char *comment = rules_comment(conf);
	struct nft_set_def defs[PM_SET_COUNT];
	struct nft_rule_info *rules = NULL;
	struct pm_names nm;
	size_t n_rules = 0, all;
	bool ok, martian_ok;
	uint64_t h = 0;
	int have_h;

	pm_names_for(network, &nm);
	/* The chain's handle before the rules: see nft_batch_require_chain() below. */
	have_h = nft_chain_handle(n, PM_FAMILY, PM_TABLE, nm.dnat, &h, err);
	if (have_h < 0 || nft_list_rules(n, PM_FAMILY, PM_TABLE, NULL, &rules, &n_rules, err) < 0)
		return -1;
	ok = have_h == 1 && count_rules(rules, n_rules, nm.dnat, comment, &all) == 4 && all == 4;
	ok &= count_rules(rules, n_rules, nm.pre, comment, &all) == 1 && all == 1;
	ok &= count_rules(rules, n_rules, nm.out, comment, &all) == 1 && all == 1;
	ok &= count_rules(rules, n_rules, nm.post, comment, &all) == (conf->snat ? 5u : 0u) &&
	      all == (conf->snat ? 5u : 0u);
	martian_ok =
		!with_martian ||
		(count_rules(rules, n_rules, MARTIAN_CHAIN, MARTIAN_COMMENT, &all) == 1 && all == 1);

	/*
	 * Rules in place: the batch requires the chain they were read in (by
	 * the handle read before them), so that it fails should a last DEL
	 * tear the network down meanwhile (pm_teardown()), and the retry
	 * writes them again.  First in the batch: a table this batch
	 * re-created numbers its objects from 1 again, so its new, empty chain
	 * could carry the very handle read (seen in t-nft-churn's race).
	 */
	if (ok)
		nft_batch_require_chain(b, PM_FAMILY, PM_TABLE, h);
	nft_batch_add_table(b, PM_FAMILY, PM_TABLE);
	set_defs(&nm, defs);
	for (int i = 0; i < PM_SET_COUNT; i++)
		nft_batch_add_set(b, PM_FAMILY, PM_TABLE, &defs[i]);
	nft_batch_add_chain(b, PM_FAMILY, PM_TABLE, nm.dnat, NULL);
	nft_batch_add_chain(b, PM_FAMILY, PM_TABLE, nm.pre, &pre);
	nft_batch_add_chain(b, PM_FAMILY, PM_TABLE, nm.out, &out);
	nft_batch_add_chain(b, PM_FAMILY, PM_TABLE, nm.post, &post);
	/*
	 * Rules written are flushed first in the same transaction, also when
	 * none were seen: two first ADDs at once then leave exactly one copy
	 * (the later replaces the earlier's).
	 */
	if (!ok) {
		const char *chains[] = { nm.pre, nm.out, nm.dnat, nm.post };

		for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
			nft_batch_flush_chain(b, PM_FAMILY, PM_TABLE, chains[i]);
		for (int v6 = 0; v6 < 2; v6++) {
			dnat_rule(b, &nm, conf, v6, true, comment);
			dnat_rule(b, &nm, conf, v6, false, comment);
		}
		jump_rule(b, nm.pre, nm.dnat, comment);
		jump_rule(b, nm.out, nm.dnat, comment);
		if (conf->snat) {
			for (int v6 = 0; v6 < 2; v6++) {
				masq_rule(b, &nm, v6, MASQ_HAIRPIN, comment);
				masq_rule(b, &nm, v6, MASQ_ALL, comment);
			}
			masq_rule(b, &nm, false, MASQ_LOCALHOST, comment);
		}
	}
	if (with_martian) {
		nft_batch_add_chain(b, PM_FAMILY, PM_TABLE, MARTIAN_CHAIN, &input);
		if (!martian_ok) {
			nft_batch_flush_chain(b, PM_FAMILY, PM_TABLE, MARTIAN_CHAIN);
			martian_rule(b);
		}
	}
	nft_rule_infos_free(rules, n_rules);
	return 0;
}

void pm_elem_view(const struct pm_elem *e, const char *comment, struct nft_elem *ret)
{
	*ret = (struct nft_elem){
		.key = e->key,
		.key_len = e->key_len,
		.key_end = e->key_end_len ? e->key_end : NULL,
		.key_end_len = e->key_end_len,
		.data = e->data_len ? e->data : NULL,
		.data_len = e->data_len,
		.comment = comment,
	};
}

/* The network's chains and sets into b (their elements go with them). */
static void queue_del_network(struct nft_batch *b, const struct pm_names *nm)
{
	const char *chains[] = { nm->pre, nm->out, nm->post, nm->dnat };

	/* Hooks and jumps first, then what they refer to. */
	for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
		nft_batch_flush_chain(b, PM_FAMILY, PM_TABLE, chains[i]);
	for (size_t i = 0; i < ARRAY_SIZE(chains); i++)
		nft_batch_del_chain(b, PM_FAMILY, PM_TABLE, chains[i]);
	for (int i = 0; i < PM_SET_COUNT; i++)
		nft_batch_del_set(b, PM_FAMILY, PM_TABLE, pm_set_name(nm, (enum pm_set)i));
}

/* One try of pm_teardown(): 1 when it lost a race to another commit (try again). */
static int teardown_once(struct nft *n, const struct pm_names *nm, struct cni_error **err)
{
	cleanup_nft_batch struct nft_batch *b = NULL;
	struct nft_rule_info *rules = NULL;
	struct cni_error *local = NULL;
	size_t n_rules = 0, others = 0;
	uint32_t gen;
	int r;

	if (nft_genid(n, &gen, &local) < 0)
		return cni_error_move(err, &local);
	{
		/* The owner set first (non-empty in the common case), then the other tagged ones. */
		const char *probe[PM_SET_COUNT + 1] = { nm->owners };
		size_t k = 1;

		for (int i = 0; i < PM_SET_COUNT; i++)
			if (i != PM_OWNERS && i != PM_HS4 && i != PM_HS6)
				probe[k++] = pm_set_name(nm, (enum pm_set)i);
		probe[k] = NULL;
		r = nft_sets_empty(PM_FAMILY, PM_TABLE, probe, &local);
	}
	if (r <= 0)
		return r < 0 ? cni_error_move(err, &local) : 0;
	r = nft_exists(n, PM_FAMILY, PM_TABLE, nm->dnat, &local);
	if (r <= 0)
		return r < 0 ? cni_error_move(err, &local) : 0;
	if (nft_list_rules(n, PM_FAMILY, PM_TABLE, NULL, &rules, &n_rules, &local) < 0)
		return cni_error_move(err, &local);
	for (size_t i = 0; i < n_rules; i++) {
		const char *c = rules[i].chain;

		others += strcmp(c, nm->pre) != 0 && strcmp(c, nm->out) != 0 &&
			  strcmp(c, nm->dnat) != 0 && strcmp(c, nm->post) != 0;
	}
	nft_rule_infos_free(rules, n_rules);
	b = nft_batch_new();
	nft_batch_guard(b, gen);
	if (!others) {
		/* No other network, no martian guard: nothing of ours is needed here. */
		nft_batch_del_table(b, PM_FAMILY, PM_TABLE);
	} else {
		queue_del_network(b, nm);
	}
	if (nft_batch_commit(n, b, &local) == 0)
		return 0;
	r = local->errnum;
	cni_error_freep(&local);
	/* Another commit came between: read again.  Gone already (another teardown): done. */
	if (r == ERESTART)
		return 1;
	if (r == ENOENT)
		return 0;
	return cni_error_errno(err, r, "remove the nftables objects of network %s", nm->dnat);
}

int pm_teardown(struct nft *n, const char *network, struct cni_error **err)
{
	struct pm_names nm;

	pm_names_for(network, &nm);
	return nft_retry_teardown((int (*)(struct nft *, const void *,
					   struct cni_error **))teardown_once,
				  n, &nm, err);
}

void pm_queue_del_last(struct nft_batch *b, const char *network, bool with_table)
{
	struct pm_names nm;

	pm_names_for(network, &nm);
	if (with_table)
		nft_batch_del_table(b, PM_FAMILY, PM_TABLE);
	else
		queue_del_network(b, &nm);
}
