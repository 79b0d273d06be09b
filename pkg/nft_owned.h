/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owner-tagged nftables state: what portmap, ipMasq, firewall and
 * macspoofchk keep per attachment, in sets of their own tables, each
 * element carrying its owner's tag (nft_owner_tag()) as comment.  The rules
 * that pattern needs, written once here instead of four times:
 *
 *  - reading a table's sets into lists (a missing table or set is empty);
 *  - the owner element (one per attachment, keyed by nft_owner_key()), which
 *    tells DEL in one lookup whether the attachment has anything at all;
 *  - delete by owner, and GC by the runtime's list of valid attachments,
 *    with ONE policy for a missing list (`cni.dev/valid-attachments` absent
 *    or null, as libcni sends for a nil slice): nothing is known stale, so
 *    nothing is removed.  An empty list ([]) means every attachment is gone;
 *  - GC of the shared, untagged per-subnet interval elements;
 *  - the read-decide-commit loop: a batch built on what was read fails when
 *    a concurrent ADD/DEL/GC changed it (ENOENT: an element we delete went;
 *    EEXIST: a key we add appeared; ERESTART: a guarded batch saw another
 *    generation), and is then rebuilt from a fresh read, a bounded number of
 *    times.  Errors are kept in a local and handed up with cni_error_move(),
 *    so callers may pass err = NULL (rollback paths) safely.
 */
#ifndef CNIC_NFT_OWNED_H
#define CNIC_NFT_OWNED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "nft.h"
#include "types.h"

/* How often a batch is rebuilt after a concurrent change before giving up. */
#define CNIC_NFT_OWNED_TRIES 4

/* ---- the attachments a GC keeps ---------------------------------------- */

struct nft_live {
	char *network;
	bool known;  /* false: the runtime sent no list: nothing is known stale */
	char **tags; /* sorted owner tags of the valid attachments */
	size_t n;
};

/* From a GC's config (nc->has_valid_attachments says whether a list came). */
void nft_live_init(struct nft_live *l, const struct cni_netconf *nc);
/* From an explicit list (known: a list was given, possibly empty). */
void nft_live_init_list(struct nft_live *l, const char *network, const struct cni_attachment *v,
			size_t n, bool known);
void nft_live_free(struct nft_live *l);

/*
 * Is an element whose comment starts with a tag of tag_len bytes stale:
 * tagged in l's network and not a live attachment's?  Never when the list
 * is unknown, never for untagged elements or other networks'.
 */
bool nft_live_stale(const struct nft_live *l, const char *comment, size_t tag_len);

/* ---- reading ------------------------------------------------------------- */

/* The sets of one table, by index. */
struct nft_sets {
	uint8_t family;
	const char *table;
	const char *const *names; /* n names */
	size_t n;
};

/* Read the sets whose bit is in mask into ret[0..s->n) (others left empty). */
int nft_sets_read(struct nft *n, const struct nft_sets *s, unsigned long mask,
		  struct nft_elem_list *ret, struct cni_error **err);
void nft_lists_free(struct nft_elem_list *l, size_t n);

/* Pick an element of set index i for deletion. */
typedef bool (*nft_pick_fn)(size_t i, const struct nft_elem_info *e, void *arg);

/* Queue deletion of the picked elements, one request per set; returns how many. */
size_t nft_sets_queue_del(struct nft_batch *b, const struct nft_sets *s,
			  const struct nft_elem_list *l, nft_pick_fn pick, void *arg);

/* ---- the owner element --------------------------------------------------- */

struct nft_owner {
	uint8_t key[CNIC_NFT_OWNER_KEY_LEN];
	struct nft_elem elem; /* points at key; comment as given */
};

void nft_owner_for(struct nft_owner *o, const char *tag, const char *comment);

/*
 * 1 when the owner element exists in set (its comment in *comment when
 * comment is not NULL; caller frees), 0 when not (also no table or set).
 */
int nft_owner_get(struct nft *n, uint8_t family, const char *table, const char *set,
		  const struct nft_owner *o, char **comment, struct cni_error **err);

/* ---- shared subnet elements ---------------------------------------------- */

/*
 * The shared, untagged "subnet . subnet" interval elements that ipMasq and
 * portmap keep per subnet, in set `set` (subnets, read from it): queues the
 * deletion of each one (addresses of alen bytes) that no element of addrs
 * lies in, leaving out those gone() says this GC removes.  Returns how many.
 */
size_t nft_queue_unused_subnets(struct nft_batch *b, uint8_t family, const char *table,
				const char *set, const struct nft_elem_list *subnets,
				const struct nft_elem_list *addrs, uint32_t alen,
				bool (*gone)(const struct nft_elem_info *e, void *arg), void *arg);

/* ---- read, decide, commit ------------------------------------------------ */

/*
 * plan() reads what it needs and queues changes into b (a fresh batch each
 * attempt, numbered from 0); it returns how many changes it queued (0:
 * nothing to do, done) or -1 with *err.  nft_apply() commits them and, when
 * the commit failed on a concurrent change (ENOENT, EEXIST, ERESTART),
 * calls plan() again, at most CNIC_NFT_OWNED_TRIES times.  Returns 0, or -1 with
 * the first error moved into *err (err may be NULL).
 */
typedef ssize_t (*nft_plan_fn)(struct nft *n, struct nft_batch *b, int attempt, void *arg,
			       struct cni_error **err);
int nft_apply(struct nft *n, nft_plan_fn plan, void *arg, struct cni_error **err);

/* Did a commit fail because of a concurrent change (worth a fresh read)? */
bool nft_concurrent_change(const struct cni_error *e);

/* ---- teardown ------------------------------------------------------------ */

/*
 * When the last attachment has gone: drop the whole table, so a node keeps
 * no hooks and sets of cnic's that nothing uses.  probe_sets (NULL-ended):
 * the sets that hold an element while anything is attached (the owner set
 * first: it is the one non-empty in the common case); elements without an
 * owner element (left by hand, or by an older cnic) keep the table too.
 * Every rule of the table must carry a comment starting with rule_prefix
 * (an admin's own rules do not: the table then stays).  Guarded by the
 * generation read first, so a concurrent ADD wins and the table stays.  0
 * when dropped or kept, -1 with *err on errors (callers log them: DEL and
 * GC succeed anyway).
 */
int nft_drop_table_if_unused(struct nft *n, uint8_t family, const char *table,
			     const char *const *probe_sets, const char *rule_prefix,
			     struct cni_error **err);

/* 1 when every set of names (NULL-ended) is empty or missing, 0 when not. */
int nft_sets_empty(uint8_t family, const char *table, const char *const *names,
		   struct cni_error **err);

/*
 * Run once(n, arg) until it does not return 1 ("lost a race: the
 * generation changed"), at most CNIC_NFT_TEARDOWN_TRIES times, pausing 1-8
 * random milliseconds between tries: on a node where other networks' ADDs
 * and DELs commit all the time, a guarded teardown otherwise rarely wins.
 * Giving up leaves the objects for a later DEL or GC.  0 or -1 as once.
 */
#define CNIC_NFT_TEARDOWN_TRIES 40
int nft_retry_teardown(int (*once)(struct nft *n, const void *arg, struct cni_error **err),
		       struct nft *n, const void *arg, struct cni_error **err);

/* Log (not fail) a teardown error: what = "portmap", ... */
void nft_teardown_log(const char *what, struct cni_error **e);

#endif
