/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftables through libnftnl: the only module that talks NETLINK_NETFILTER
 * for nf_tables (nft.c: socket, commits, reads; nft_batch.c: batches and
 * rules; owner tags in nft_owned.c).  Never execs nft or iptables.
 *
 * A struct nft is one netfilter socket (SOCK_CLOEXEC), bound in the network
 * namespace that is current when nft_open() runs and usable from anywhere
 * afterwards.  Changes are collected in a struct nft_batch (no socket
 * needed) and sent by nft_batch_commit() as one atomic nf_tables
 * transaction: every message is acknowledged, every acknowledgment is read,
 * and all of the batch or none of it takes effect.
 *
 * Idempotence: tables, chains and sets are added with NLM_F_CREATE and no
 * NLM_F_EXCL, so adding what exists is a no-op (a chain's hook/priority or
 * a set's types must then match, else the kernel refuses the batch).  Rules
 * are not idempotent (the same rule added twice is there twice): flush the
 * chain and rewrite it in the same batch, or look rules up by comment.
 * Elements: with excl an existing key fails the batch with EEXIST; without
 * it an identical element is a no-op and an element of a map with other data
 * fails with EBUSY (kernel rules).
 *
 * Errors: the message names the first failing request ("add element to set
 * inet cnic_masq masq4: File exists"), errnum is its positive errno (callers
 * may test EEXIST, ENOENT), the code follows cni_error_errno(); details carry
 * the kernel's extended ACK text and every further failing request.
 *
 * Registers are the kernel's (NFT_REG_1..4 for 16-byte values,
 * NFT_REG32_00..15 for 4-byte slots); concatenated keys put each field in
 * its own 4-byte-aligned slot (nft_concat_len()).  Families are NFPROTO_*.
 */
#ifndef CNIC_NFT_H
#define CNIC_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Before linux/netfilter.h, which otherwise clashes with glibc's definitions. */
#include <netinet/in.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>

#include "error.h"

struct cnl_sock;

/* ---- the socket --------------------------------------------------------- */

struct nft;

/* A netfilter socket in the calling thread's current netns. */
int nft_open(struct nft **ret, struct cni_error **err);
/*
 * Closing the last reference to a netfilter socket waits until the kernel
 * has destroyed what recent transactions replaced or deleted: it queues
 * that behind an RCU grace period after every commit, and flushes the queue
 * on release (10-15 ms here).  A plugin's exit would pay it while the
 * runtime waits.  So after a commit, nft_close() hands the socket to a small
 * child process that releases it once this process has exited (a few per
 * process at most; beyond that, or if fork fails, it closes in place).
 */
void nft_close(struct nft *n);
void nft_closep(struct nft **n);

/* The underlying socket, to borrow for other netfilter requests (conntrack). */
struct cnl_sock *nft_netlink(struct nft *n);
#define cleanup_nft __attribute__((cleanup(nft_closep)))

/* ---- batches ------------------------------------------------------------ */

struct nft_batch;

struct nft_batch *nft_batch_new(void);
void nft_batch_free(struct nft_batch *b);
void nft_batch_freep(struct nft_batch **b);
#define cleanup_nft_batch __attribute__((cleanup(nft_batch_freep)))

/*
 * After nft_batch_commit(b) failed with EEXIST on one of its "add set"
 * requests (failed is that error): the set exists with another definition,
 * made by an older cnic (e.g. the owner sets' former key type, or flags nft
 * would not set).  Replace it by b's definition in one transaction, keeping
 * its elements; when rules refer to it (EBUSY), keep it instead and leave
 * that "add set" out of n's later commits.  1 when handled (commit again),
 * 0 when failed is not such an error, -1 with *err on errors.
 */
int nft_batch_upgrade_set(struct nft *n, const struct nft_batch *b, const struct cni_error *failed,
			  struct cni_error **err);

/* Number of requests queued (begin/end markers not counted). */
size_t nft_batch_len(const struct nft_batch *b);

/*
 * Send b as one transaction and digest its acknowledgments (of any size:
 * only the last request asks for one; failures are always reported).  An
 * empty batch succeeds without talking to the kernel.  The batch may be committed
 * again (e.g. after fixing a conflict it is usually rebuilt instead).
 */
int nft_batch_commit(struct nft *n, struct nft_batch *b, struct cni_error **err);

/*
 * Optimistic concurrency for decisions taken on what was read: the batch
 * commits only if the ruleset is still at generation genid (nft_genid(),
 * read before reading what the decision rests on); otherwise the whole
 * batch fails with errnum ERESTART and the caller reads again.  Used by
 * teardowns (nothing may have been added since the sets were seen empty)
 * and firewall's rule write (its jumps depend on what was read); never on
 * the common path, which only adds elements.
 */
void nft_batch_guard(struct nft_batch *b, uint32_t genid);
int nft_genid(struct nft *n, uint32_t *ret, struct cni_error **err);

void nft_batch_add_table(struct nft_batch *b, uint8_t family, const char *table);
void nft_batch_del_table(struct nft_batch *b, uint8_t family, const char *table);
/*
 * Delete the table only if it holds nothing once what the batch deleted
 * before is gone (the kernel counts its chains and sets as the batch goes):
 * else the whole batch fails with EBUSY.
 */
void nft_batch_del_table_if_empty(struct nft_batch *b, uint8_t family, const char *table);

/* nft's named priorities (<linux/netfilter_ipv4.h> clashes with <netinet/in.h>). */
#define CNIC_NFT_PRIO_RAW (-300)
#define CNIC_NFT_PRIO_MANGLE (-150)
#define CNIC_NFT_PRIO_DSTNAT (-100)
#define CNIC_NFT_PRIO_FILTER 0
#define CNIC_NFT_PRIO_SRCNAT 100

struct nft_base_chain {
	const char *type; /* "filter", "nat", "route" */
	uint32_t hook;	  /* NF_INET_PRE_ROUTING, ... */
	int32_t priority; /* CNIC_NFT_PRIO_* */
	bool has_policy;  /* default: accept */
	uint32_t policy;  /* NF_ACCEPT / NF_DROP */
};

/* A regular chain when base is NULL. */
void nft_batch_add_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain,
			 const struct nft_base_chain *base);
void nft_batch_flush_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain);
void nft_batch_del_chain(struct nft_batch *b, uint8_t family, const char *table, const char *chain);

/* nft's datatype ids, so that `nft list` prints keys and data readably. */
enum nft_dtype {
	CNIC_NFT_DT_VERDICT = 1,
	CNIC_NFT_DT_INTEGER = 4,
	CNIC_NFT_DT_IPV4 = 7,
	CNIC_NFT_DT_IPV6 = 8,
	CNIC_NFT_DT_ETHER = 9,
	CNIC_NFT_DT_INET_PROTO = 12,
	CNIC_NFT_DT_INET_SERVICE = 13,
	CNIC_NFT_DT_MARK = 19,
	CNIC_NFT_DT_IFNAME = 41,
};

/*
 * The key type of the owner sets (16-byte hashes, nft_owner_key()).  Not
 * "integer": `nft list ruleset` prints an integer key of that size as
 * "type 0", which `nft -f` refuses, so a saved ruleset would not load.  An
 * IPv6 address is 16 bytes and lists and loads back unchanged.
 */
#define CNIC_NFT_DT_OWNER CNIC_NFT_DT_IPV6

/* Most fields of a concatenation; each takes a 4-byte-aligned slot. */
#define CNIC_NFT_CONCAT_MAX 8

struct nft_set_def {
	const char *name;
	uint32_t flags; /* NFT_SET_MAP, NFT_SET_INTERVAL, NFT_SET_CONCAT, ... */
	/* Key: one field, or a concatenation (n_fields > 1, NFT_SET_CONCAT is added). */
	uint8_t n_fields;
	enum nft_dtype key_types[CNIC_NFT_CONCAT_MAX];
	uint8_t key_lens[CNIC_NFT_CONCAT_MAX]; /* unpadded bytes of each field */
	/* Maps: the data, also possibly concatenated; n_data 0 for a plain set. */
	uint8_t n_data;
	enum nft_dtype data_types[CNIC_NFT_CONCAT_MAX];
	uint8_t data_lens[CNIC_NFT_CONCAT_MAX];
	const char *comment; /* NULL: none */
};

void nft_batch_add_set(struct nft_batch *b, uint8_t family, const char *table,
		       const struct nft_set_def *s);
void nft_batch_del_set(struct nft_batch *b, uint8_t family, const char *table, const char *set);
/*
 * Delete the set only if it holds no element: else the whole batch fails
 * with EBUSY.  An atomic emptiness check, but of the set as committed: the
 * kernel counts elements the same batch deletes until it commits, so such
 * a set is never empty here.
 */
void nft_batch_del_set_if_empty(struct nft_batch *b, uint8_t family, const char *table,
				const char *set);

/* Bytes a concatenation of these field lengths occupies (each padded to 4). */
uint32_t nft_concat_len(const uint8_t *lens, size_t n);

#define CNIC_NFT_DATA_MAX 64 /* NFT_DATA_VALUE_MAXLEN */

struct nft_elem {
	const void *key;
	uint32_t key_len;
	const void *key_end; /* intervals: the last key of the range; NULL: just key */
	uint32_t key_end_len;
	const void *data; /* maps: the value; NULL for sets */
	uint32_t data_len;
	const char *comment; /* element comment (userdata, as nft's); NULL: none */
};

/*
 * Add or delete n elements (deletion matches by key; data and comment are
 * ignored).  Long lists are split over several requests of the same batch.
 */
void nft_batch_add_elems(struct nft_batch *b, uint8_t family, const char *table, const char *set,
			 const struct nft_elem *v, size_t n, bool excl);
void nft_batch_del_elems(struct nft_batch *b, uint8_t family, const char *table, const char *set,
			 const struct nft_elem *v, size_t n);

/* ---- rules -------------------------------------------------------------- */

struct nft_rule;

/* A rule being built for table/chain; expressions run in the order added. */
struct nft_rule *nft_rule_new(uint8_t family, const char *table, const char *chain);
void nft_rule_free(struct nft_rule *r);

/* Load meta key (NFT_META_*) into dreg. */
void nft_rule_meta(struct nft_rule *r, uint32_t key, uint32_t dreg);
/* Load len bytes at offset of header base (NFT_PAYLOAD_*_HEADER) into dreg. */
void nft_rule_payload(struct nft_rule *r, uint32_t base, uint32_t offset, uint32_t len,
		      uint32_t dreg);
/* Compare len bytes of sreg with data (op: NFT_CMP_EQ, NFT_CMP_NEQ, ...). */
void nft_rule_cmp(struct nft_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
/* dreg = (sreg & mask) ^ xor over len bytes. */
void nft_rule_bitwise(struct nft_rule *r, uint32_t sreg, uint32_t dreg, uint32_t len,
		      const void *mask, const void * xor);
/* Look sreg up in set; dreg < 0: match on presence (absence if invert), else map into dreg. */
void nft_rule_lookup(struct nft_rule *r, uint32_t sreg, const char *set, int dreg, bool invert);
/* Load conntrack key (NFT_CT_*) into dreg; dir < 0 for keys without direction. */
void nft_rule_ct(struct nft_rule *r, uint32_t key, int dir, uint32_t dreg);
/* fib lookup: flags NFTA_FIB_F_*, result NFT_FIB_RESULT_* into dreg. */
void nft_rule_fib(struct nft_rule *r, uint32_t flags, uint32_t result, uint32_t dreg);
/*
 * NAT (NFT_NAT_DNAT / NFT_NAT_SNAT) to the address in reg_addr and, when
 * reg_proto is not 0, the port in reg_proto; flags NF_NAT_RANGE_*
 * (NF_NAT_RANGE_MAP_IPS and, with reg_proto, NF_NAT_RANGE_PROTO_SPECIFIED
 * are added).
 */
void nft_rule_nat(struct nft_rule *r, uint32_t type, uint8_t family, uint32_t reg_addr,
		  uint32_t reg_proto, uint32_t flags);
void nft_rule_masq(struct nft_rule *r, uint32_t flags);
void nft_rule_counter(struct nft_rule *r);
/* A verdict: NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_CONTINUE, or NFT_JUMP/NFT_GOTO to chain. */
void nft_rule_verdict(struct nft_rule *r, int verdict, const char *chain);
void nft_rule_set_comment(struct nft_rule *r, const char *comment);

/* Append r to its chain; the batch takes r. */
void nft_batch_add_rule(struct nft_batch *b, struct nft_rule *r);
/* Insert r at the head of its chain (iptables -I); the batch takes r. */
void nft_batch_insert_rule(struct nft_batch *b, struct nft_rule *r);
/*
 * An xtables match (iptables-nft's "match" expression) of this name and
 * revision; info is its matchinfo, len XT_ALIGN()ed as xtables sizes it,
 * malloc()ed: the rule takes it.
 */
void nft_rule_xt_match(struct nft_rule *r, const char *name, uint32_t rev, void *info, uint32_t len);
void nft_batch_del_rule(struct nft_batch *b, uint8_t family, const char *table, const char *chain,
			uint64_t handle);

/* ---- reading ------------------------------------------------------------ */

struct nft_elem_info {
	uint8_t key[CNIC_NFT_DATA_MAX];
	uint32_t key_len;
	uint8_t key_end[CNIC_NFT_DATA_MAX];
	uint32_t key_end_len; /* 0: not an interval */
	uint8_t data[CNIC_NFT_DATA_MAX];
	uint32_t data_len;
	char *comment; /* NULL: none */
};

struct nft_elem_list {
	struct nft_elem_info *v;
	size_t n;
};

void nft_elem_list_free(struct nft_elem_list *l);
void nft_elem_info_free(struct nft_elem_info *e);

/* View e as a struct nft_elem (for deleting or re-adding it). */
void nft_elem_from_info(struct nft_elem *ret, const struct nft_elem_info *e);

/*
 * Every element of a set with its comment.  A missing table or set gives
 * an empty list.  The dump is retried when interrupted.
 */
int nft_list_elems(struct nft *n, uint8_t family, const char *table, const char *set,
		   struct nft_elem_list *ret, struct cni_error **err);

/*
 * One element by key (and key_end for intervals): 1 and *ret filled when
 * present, 0 when absent (also when the table or set is missing).
 */
int nft_get_elem(struct nft *n, uint8_t family, const char *table, const char *set,
		 const struct nft_elem *key, struct nft_elem_info *ret, struct cni_error **err);

/*
 * Elements by key, all asked in one round trip: found[i] 1 and ret[i]
 * filled when keys[i] is in sets[i], 0 when not (also when the table or
 * set is missing).  Free ret[i] with nft_elem_info_free when found.
 */
int nft_get_elems(struct nft *n, uint8_t family, const char *table, const char *const *sets,
		  const struct nft_elem *keys, size_t k, struct nft_elem_info *ret, int *found,
		  struct cni_error **err);

/* A table asked about by nft_get_elem_also(): in, family and name; out, the rest. */
struct nft_table_ref {
	uint8_t family;
	const char *name;
	bool present;
	uint32_t use; /* its chains, sets and other objects, as the kernel counts them */
};

/* A chain asked about by nft_get_elem_also(): in, where and its name; out, present. */
struct nft_chain_ref {
	uint8_t family;
	const char *table, *name;
	bool present;
};

/* What else nft_get_elem_also() asks in its round trip. */
struct nft_also {
	struct nft_table_ref *tables;
	size_t nt;
	struct nft_chain_ref *chains;
	size_t nc;
	uint32_t *genid; /* non-NULL: the generation, asked first (for nft_batch_guard) */
};

/*
 * nft_get_elem() and, in the same round trip, whether set exists
 * (*set_present) and also's questions (which tables and chains exist, the
 * generation).  No dump: the cost does not grow with the set.  1 with *ret
 * (free with nft_elem_info_free) when key is in set, 0 when not (or set or
 * table are missing).
 */
int nft_get_elem_also(struct nft *n, uint8_t family, const char *table, const char *set,
		      const struct nft_elem *key, struct nft_elem_info *ret, bool *set_present,
		      const struct nft_also *also, struct cni_error **err);

/* 1 when table (and chain, unless NULL) exist, 0 when not. */
int nft_exists(struct nft *n, uint8_t family, const char *table, const char *chain,
	       struct cni_error **err);

struct nft_rule_info {
	uint64_t handle;
	char *chain;
	char *comment; /* NULL: none */
};

/*
 * Every rule of chain, or of every chain of table when chain is NULL (none
 * when the table or chain is missing), in order.
 */
int nft_list_rules(struct nft *n, uint8_t family, const char *table, const char *chain,
		   struct nft_rule_info **ret, size_t *ret_n, struct cni_error **err);
void nft_rule_infos_free(struct nft_rule_info *v, size_t n);

/*
 * The request nft_list_rules() sends, for readers that parse the rules
 * themselves (xtref.c): built in buf, which it zeroes; table and chain
 * are nf_tables names, short enough for the room.
 */
#define NFT_DUMP_REQ_ROOM 4096
struct nlmsghdr *nft_rules_dump_req(char buf[NFT_DUMP_REQ_ROOM], uint8_t family, const char *table,
				    const char *chain);

/* ---- teardown ------------------------------------------------------------ */

/*
 * 1 when set holds an element whose key is not *key (key NULL: any
 * element), 0 when not (or it or its table is missing).  Costs the same
 * whatever the number of elements: read on a second socket of n's, up to
 * the first such element, released with n's own (see nft_close).  Reads
 * after n's last request: with nft_get_elem_also()'s generation, a guarded
 * commit fails if the answer went stale.
 */
int nft_set_has_other(struct nft *n, uint8_t family, const char *table, const char *set,
		      const struct nft_elem *key, struct cni_error **err);
/* The same for every set of sets (NULL-ended): 1 when all are empty or missing. */
int nft_sets_are_empty(uint8_t family, const char *table, const char *const *sets,
		       struct cni_error **err);

/* 1 and the chain's handle in *ret when it exists, 0 when not. */
int nft_chain_handle(struct nft *n, uint8_t family, const char *table, const char *chain,
		     uint64_t *ret, struct cni_error **err);

/*
 * Fail the batch (ENOENT) unless the chain with this handle (nft_chain_handle())
 * still exists: an ADD that found its rules in place and writes only
 * elements must not land in a table a concurrent last DEL removed and
 * another ADD recreated without them.  An update that changes nothing.
 */
void nft_batch_require_chain(struct nft_batch *b, uint8_t family, const char *table, uint64_t handle);

/* ---- owner tags --------------------------------------------------------- */

/*
 * The comment that tags an element with the attachment owning it:
 * "<network>:<container id>:<ifname>" (':' can be in none of them), or,
 * beyond CNIC_NFT_TAG_MAX bytes, with the network and/or the "<id>:<ifname>" part
 * replaced by "#" and a 128-bit hash in hex.  Caller frees.
 */
#define CNIC_NFT_TAG_MAX 127
char *nft_owner_tag(const char *network, const char *container_id, const char *ifname);
/* Does tag belong to network (its network part is that of nft_owner_tag)? */
bool nft_tag_in_network(const char *tag, const char *network);

/*
 * A 16-byte key derived from a tag (128-bit hash), for a set that holds one
 * element per owner: adding it exclusively tells in the same batch, at no
 * extra cost, whether the owner already had elements (a re-ADD), and DEL can
 * ask for it before reading whole sets.
 */
#define CNIC_NFT_OWNER_KEY_LEN 16
void nft_owner_key(const char *tag, uint8_t key[CNIC_NFT_OWNER_KEY_LEN]);

#endif
