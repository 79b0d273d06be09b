/* SPDX-License-Identifier: Apache-2.0 */
/*
 * macspoofchk: frames a container sends into the bridge must carry its own
 * MAC as source.  The reference builds a chain and three rules per
 * container in the shared "bridge nat" table; here one rule serves every
 * container, through two sets whose elements carry the attachment's tag:
 *
 *	table bridge cnic_macspoofchk {
 *		set ports   { type ifname; }                   # host veths checked
 *		set allowed { type ifname . ether_addr; }      # (host veth, its MAC)
 *		chain prerouting {
 *			type filter hook prerouting priority -300; policy accept;
 *			iifname @ports iifname . ether saddr != @allowed drop
 *		}
 *	}
 *
 * Per-packet and per-ADD cost is a set lookup whatever the number of
 * containers; DEL and GC find elements by tag (netns and prevResult not
 * needed).
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h> /* before nft.h's <linux/netfilter.h> */
#include <stdio.h>
#include <string.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/nft.h"
#include "../../pkg/nft_owned.h"
#include "bridge.h"

#define SC_TABLE "cnic_macspoofchk"
#define SC_CHAIN "prerouting"
#define SC_PORTS "ports"
#define SC_ALLOWED "allowed"
#define SC_FAMILY NFPROTO_BRIDGE
/* NF_BR_PRE_ROUTING: <linux/netfilter_bridge.h> clashes with <net/if.h>. */
#define SC_HOOK 0
/* Before anything else in the bridge family (the reference's -300, "dstnat" of ebtables). */
#define SC_PRIORITY (-300)

#define PORT_LEN IFNAMSIZ
#define ALLOWED_LEN (IFNAMSIZ + 8) /* ifname . ether_addr, each 4-byte aligned */

struct sc_keys {
	uint8_t port[PORT_LEN];
	uint8_t allowed[ALLOWED_LEN];
};

static int make_keys(const char *host_veth, const char *mac, struct sc_keys *k, struct cni_error **err)
{
	uint8_t hw[6];
	size_t n = strlen(host_veth);

	if (n >= IFNAMSIZ)
		return cni_error_set(err, CNI_ERR_INTERNAL, EINVAL, "macspoofchk: bad name \"%s\"",
				     host_veth);
	if (!mac || cnl_mac_parse(mac, hw) < 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, EINVAL, "macspoofchk: bad MAC \"%s\"",
				     mac ? mac : "");
	memset(k, 0, sizeof(*k));
	memcpy(k->port, host_veth, n);
	memcpy(k->allowed, host_veth, n);
	memcpy(k->allowed + IFNAMSIZ, hw, sizeof(hw));
	return 0;
}

static void add_skeleton(struct nft_batch *b)
{
	const struct nft_set_def ports = {
		.name = SC_PORTS,
		.n_fields = 1,
		.key_types = { CNIC_NFT_DT_IFNAME },
		.key_lens = { IFNAMSIZ },
	};
	const struct nft_set_def allowed = {
		.name = SC_ALLOWED,
		.n_fields = 2,
		.key_types = { CNIC_NFT_DT_IFNAME, CNIC_NFT_DT_ETHER },
		.key_lens = { IFNAMSIZ, 6 },
	};
	struct nft_rule *r;

	nft_batch_add_table(b, SC_FAMILY, SC_TABLE);
	nft_batch_add_set(b, SC_FAMILY, SC_TABLE, &ports);
	nft_batch_add_set(b, SC_FAMILY, SC_TABLE, &allowed);
	nft_batch_add_chain(b, SC_FAMILY, SC_TABLE, SC_CHAIN,
			    &(struct nft_base_chain){ .type = "filter",
						      .hook = SC_HOOK,
						      .priority = SC_PRIORITY });
	/* Rules are not idempotent: rewrite the one rule in the same transaction. */
	nft_batch_flush_chain(b, SC_FAMILY, SC_TABLE, SC_CHAIN);
	r = nft_rule_new(SC_FAMILY, SC_TABLE, SC_CHAIN);
	nft_rule_meta(r, NFT_META_IIFNAME, NFT_REG32_00);
	nft_rule_lookup(r, NFT_REG32_00, SC_PORTS, -1, false);
	nft_rule_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_04);
	nft_rule_lookup(r, NFT_REG32_00, SC_ALLOWED, -1, true);
	nft_rule_counter(r);
	nft_rule_verdict(r, NF_DROP, NULL);
	nft_rule_set_comment(r, "cnic bridge macspoofchk");
	nft_batch_add_rule(b, r);
}

struct add_ctx {
	const char *tag;
	const struct sc_keys *k;
};

/* The skeleton (rule rewritten in the same transaction) and the two elements. */
static ssize_t plan_add(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			struct cni_error **err)
{
	const struct add_ctx *c = arg;

	(void)n;
	(void)attempt;
	(void)err;
	add_skeleton(b);
	nft_batch_add_elems(b, SC_FAMILY, SC_TABLE, SC_PORTS,
			    &(struct nft_elem){ .key = c->k->port,
						.key_len = PORT_LEN,
						.comment = c->tag },
			    1, false);
	nft_batch_add_elems(b, SC_FAMILY, SC_TABLE, SC_ALLOWED,
			    &(struct nft_elem){ .key = c->k->allowed,
						.key_len = ALLOWED_LEN,
						.comment = c->tag },
			    1, false);
	return (ssize_t)nft_batch_len(b);
}

int spoofchk_add(const char *network, const char *container_id, const char *ifname,
		 const char *host_veth, const char *mac, struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_nft struct nft *n = NULL;
	struct sc_keys k;
	struct add_ctx c = { tag, &k };

	if (make_keys(host_veth, mac, &k, err) < 0)
		return -1;
	/* Through nft_apply(): it converts sets an older cnic declared otherwise. */
	if (nft_open(&n, err) < 0 || nft_apply(n, plan_add, &c, err) < 0)
		return cni_error_wrap(err, "macspoofchk for \"%s\"", host_veth);
	return 0;
}

static const char *const sc_set_names[] = { SC_PORTS, SC_ALLOWED };
static const struct nft_sets sc_sets = { SC_FAMILY, SC_TABLE, sc_set_names, 2 };

struct del_ctx {
	nft_pick_fn pick;
	const void *arg;
};

static ssize_t plan_del(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			struct cni_error **err)
{
	const struct del_ctx *c = arg;
	struct nft_elem_list l[2];
	size_t found;

	(void)attempt;
	if (nft_sets_read(n, &sc_sets, 3, l, err) < 0)
		return -1;
	found = nft_sets_queue_del(b, &sc_sets, l, c->pick, (void *)c->arg);
	nft_lists_free(l, 2);
	return (ssize_t)found;
}

/* Delete the picked elements; err may be NULL (rollback paths). */
static int del_where(nft_pick_fn pick, const void *arg, struct cni_error **err)
{
	cleanup_nft struct nft *n = NULL;
	struct cni_error *local = NULL;
	struct del_ctx c = { pick, arg };

	if (nft_open(&n, &local) < 0 || nft_apply(n, plan_del, &c, &local) < 0)
		return cni_error_move(err, &local);
	/* The table goes with the last attachment. */
	if (nft_drop_table_if_unused(n, SC_FAMILY, SC_TABLE,
				     (const char *const[]){ SC_PORTS, SC_ALLOWED, NULL },
				     "cnic bridge macspoofchk", &local) < 0)
		nft_teardown_log("macspoofchk", &local);
	return 0;
}

static bool is_tag(size_t set, const struct nft_elem_info *e, void *arg)
{
	(void)set;
	return e->comment && strcmp(e->comment, arg) == 0;
}

int spoofchk_del(const char *network, const char *container_id, const char *ifname,
		 struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	struct cni_error *local = NULL;

	if (del_where(is_tag, tag, &local) < 0) {
		cni_error_wrap(&local, "remove macspoofchk of %s", tag);
		return cni_error_move(err, &local);
	}
	return 0;
}

static bool is_orphan(size_t set, const struct nft_elem_info *e, void *arg)
{
	(void)set;
	return e->comment && nft_live_stale(arg, e->comment, strlen(e->comment));
}

int spoofchk_gc(const struct cni_netconf *nc, struct cni_error **err)
{
	struct cni_error *local = NULL;
	struct nft_live live;
	int r = 0;

	nft_live_init(&live, nc);
	/* No list: nothing is known stale (a live container could then spoof MACs). */
	if (live.known)
		r = del_where(is_orphan, &live, &local);
	nft_live_free(&live);
	if (r < 0) {
		cni_error_wrap(&local, "macspoofchk garbage collection");
		return cni_error_move(err, &local);
	}
	return 0;
}

static int check_elem(struct nft *n, const char *set, const void *key, uint32_t len,
		      const char *tag, const char *what, struct cni_error **err)
{
	struct nft_elem_info info = { 0 };
	int r;

	r = nft_get_elem(n, SC_FAMILY, SC_TABLE, set,
			 &(struct nft_elem){ .key = key, .key_len = len }, &info, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENOENT,
				     "macspoofchk: %s missing from set bridge " SC_TABLE " %s",
				     what, set);
	r = info.comment && strcmp(info.comment, tag) == 0;
	nft_elem_info_free(&info);
	if (!r)
		return cni_error_set(err, CNI_ERR_INTERNAL, EEXIST,
				     "macspoofchk: %s in set bridge " SC_TABLE
				     " %s belongs to another attachment",
				     what, set);
	return 0;
}

int spoofchk_check(const char *network, const char *container_id, const char *ifname,
		   const char *host_veth, const char *mac, struct cni_error **err)
{
	cleanup_free char *tag = nft_owner_tag(network, container_id, ifname);
	cleanup_free char *what = NULL;
	cleanup_nft struct nft *n = NULL;
	struct sc_keys k;
	int r;

	if (make_keys(host_veth, mac, &k, err) < 0 || nft_open(&n, err) < 0)
		return -1;
	r = nft_exists(n, SC_FAMILY, SC_TABLE, SC_CHAIN, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, ENOENT,
				     "macspoofchk: chain bridge " SC_TABLE " " SC_CHAIN " missing");
	what = xasprintf("\"%s\" with MAC %s", host_veth, mac);
	if (check_elem(n, SC_PORTS, k.port, PORT_LEN, tag, what, err) < 0 ||
	    check_elem(n, SC_ALLOWED, k.allowed, ALLOWED_LEN, tag, what, err) < 0)
		return -1;
	return 0;
}
