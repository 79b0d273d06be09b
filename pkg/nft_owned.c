/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owner-tagged nftables state (see nft_owned.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "mac.h"
#include "nft_owned.h"

/* ---- the attachments a GC keeps ---------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void nft_live_init_list(struct nft_live *l, const char *network, const struct cni_attachment *v,
			size_t n, bool known)
{
	memset(l, 0, sizeof(*l));
	l->network = xstrdup(network ? network : "");
	l->known = known;
	if (!known)
		return;
	l->tags = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		l->tags[i] = nft_owner_tag(l->network, v[i].container_id ? v[i].container_id : "",
					   v[i].ifname ? v[i].ifname : "");
	l->n = n;
	qsort(l->tags, l->n, sizeof(char *), cmp_str);
}

void nft_live_init(struct nft_live *l, const struct cni_netconf *nc)
{
	nft_live_init_list(l, nc->name, nc->valid_attachments, nc->n_valid_attachments,
			   nc->has_valid_attachments);
}

void nft_live_free(struct nft_live *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->tags[i]);
	free(l->tags);
	free(l->network);
	memset(l, 0, sizeof(*l));
}

bool nft_live_stale(const struct nft_live *l, const char *comment, size_t tag_len)
{
	cleanup_free char *tag = NULL;

	if (!l->known || !comment || !nft_tag_in_network(comment, l->network))
		return false;
	tag = strndup(comment, tag_len);
	if (!tag)
		abort();
	return !bsearch(&tag, l->tags, l->n, sizeof(char *), cmp_str);
}

/* ---- reading ------------------------------------------------------------- */

void nft_lists_free(struct nft_elem_list *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		nft_elem_list_free(&l[i]);
}

int nft_sets_read(struct nft *n, const struct nft_sets *s, unsigned long mask,
		  struct nft_elem_list *ret, struct cni_error **err)
{
	for (size_t i = 0; i < s->n; i++)
		ret[i] = (struct nft_elem_list){ 0 };
	for (size_t i = 0; i < s->n; i++) {
		if (!(mask & (1ul << i)))
			continue;
		if (nft_list_elems(n, s->family, s->table, s->names[i], &ret[i], err) < 0) {
			nft_lists_free(ret, s->n);
			return -1;
		}
	}
	return 0;
}

size_t nft_sets_queue_del(struct nft_batch *b, const struct nft_sets *s,
			  const struct nft_elem_list *l, nft_pick_fn pick, void *arg)
{
	size_t total = 0;

	for (size_t i = 0; i < s->n; i++) {
		cleanup_free struct nft_elem *v = NULL;
		size_t n = 0;

		for (size_t j = 0; j < l[i].n; j++)
			if (pick(i, &l[i].v[j], arg))
				nft_elem_from_info(xappend(&v, &n, sizeof(*v)), &l[i].v[j]);
		if (n)
			nft_batch_del_elems(b, s->family, s->table, s->names[i], v, n);
		total += n;
	}
	return total;
}

/* ---- the owner element --------------------------------------------------- */

void nft_owner_for(struct nft_owner *o, const char *tag, const char *comment)
{
	nft_owner_key(tag, o->key);
	o->elem = (struct nft_elem){ .key = o->key,
				     .key_len = CNIC_NFT_OWNER_KEY_LEN,
				     .comment = comment };
}

int nft_owner_get(struct nft *n, uint8_t family, const char *table, const char *set,
		  const struct nft_owner *o, char **comment, struct cni_error **err)
{
	struct nft_elem_info info = { 0 };
	int r;

	r = nft_get_elem(n, family, table, set, &o->elem, &info, err);
	if (r == 1 && comment) {
		*comment = info.comment;
		info.comment = NULL;
	}
	nft_elem_info_free(&info);
	return r;
}

/* ---- shared subnet elements ---------------------------------------------- */

/* s is a shared subnet element and no element of addrs (but those gone) lies in it. */
static bool shared_subnet_unused(const struct nft_elem_info *s, const struct nft_elem_list *addrs,
				 uint32_t alen,
				 bool (*gone)(const struct nft_elem_info *e, void *arg), void *arg)
{
	if (s->comment || s->key_len != 2 * alen || s->key_end_len != 2 * alen)
		return false;
	for (size_t j = 0; j < addrs->n; j++) {
		const struct nft_elem_info *a = &addrs->v[j];

		if (a->key_len == alen && !gone(a, arg) && memcmp(s->key, a->key, alen) <= 0 &&
		    memcmp(a->key, s->key_end, alen) <= 0)
			return false;
	}
	return true;
}

size_t nft_queue_unused_subnets(struct nft_batch *b, uint8_t family, const char *table,
				const char *set, const struct nft_elem_list *subnets,
				const struct nft_elem_list *addrs, uint32_t alen,
				bool (*gone)(const struct nft_elem_info *e, void *arg), void *arg)
{
	size_t total = 0;

	for (size_t i = 0; i < subnets->n; i++) {
		const struct nft_elem_info *s = &subnets->v[i];
		struct nft_elem e;

		if (!shared_subnet_unused(s, addrs, alen, gone, arg))
			continue;
		nft_elem_from_info(&e, s);
		nft_batch_del_elems(b, family, table, set, &e, 1);
		total++;
	}
	return total;
}

/* ---- read, decide, commit ------------------------------------------------ */

bool nft_concurrent_change(const struct cni_error *e)
{
	return e && (e->errnum == ENOENT || e->errnum == EEXIST || e->errnum == ERESTART);
}

/* Sets an older cnic defined otherwise, converted within one nft_apply(). */
#define MAX_UPGRADES 32
/* Guarded batches redone after another commit came between. */
#define MAX_RESTARTS 32

/* 1 to max_ms milliseconds, at random: processes racing each other must not pause in step. */
static void pause_a_little(int max_ms)
{
	uint32_t r;
	struct timespec ts;

	cnic_random(&r, sizeof(r));
	ts = (struct timespec){ 0, (long)(1 + r % (uint32_t)max_ms) * 1000000L };
	(void)nanosleep(&ts, NULL);
}

int nft_apply(struct nft *n, nft_plan_fn plan, void *arg, struct cni_error **err)
{
	struct cni_error *local = NULL;
	int upgrades = 0, restarts = 0;

	for (int attempt = 0;;) {
		cleanup_nft_batch struct nft_batch *b = nft_batch_new();
		ssize_t found = plan(n, b, attempt, arg, &local);

		if (found < 0)
			break;
		if (found == 0 || nft_batch_commit(n, b, &local) == 0)
			return 0;
		if (upgrades < MAX_UPGRADES) {
			/* A set an older cnic defined otherwise: convert it, then the same again. */
			int u = nft_batch_upgrade_set(n, b, local, &local);

			if (u < 0)
				break;
			if (u == 1) {
				upgrades++;
				cni_error_freep(&local);
				continue;
			}
		}
		if (local->errnum == ERESTART && restarts < MAX_RESTARTS) {
			/*
			 * A guarded batch (firewall's rule write) lost to another
			 * commit: cheap to redo, and on a busy node frequent.
			 */
			restarts++;
			cni_error_freep(&local);
			pause_a_little(4);
			continue;
		}
		if (++attempt >= CNIC_NFT_OWNED_TRIES || !nft_concurrent_change(local))
			break;
		cni_error_freep(&local);
	}
	if (!local)
		cni_error_set(&local, CNI_ERR_INTERNAL, 0, "nftables: failed without an error");
	return cni_error_move(err, &local);
}

/* ---- teardown ------------------------------------------------------------ */

struct drop_args {
	uint8_t family;
	const char *table;
	const char *const *probe_sets;
	const char *rule_prefix;
};

int nft_sets_empty(uint8_t family, const char *table, const char *const *names, struct cni_error **err)
{
	return nft_sets_are_empty(family, table, names, err);
}

static int drop_once(struct nft *n, const void *arg, struct cni_error **err)
{
	const struct drop_args *d = arg;
	cleanup_nft_batch struct nft_batch *b = NULL;
	struct cni_error *local = NULL;
	struct nft_rule_info *rules = NULL;
	size_t n_rules = 0;
	bool foreign = false;
	uint32_t gen;
	int r;

	if (nft_genid(n, &gen, &local) < 0)
		return cni_error_move(err, &local);
	r = nft_sets_empty(d->family, d->table, d->probe_sets, &local);
	if (r <= 0)
		return r < 0 ? cni_error_move(err, &local) : 0;
	r = nft_exists(n, d->family, d->table, NULL, &local);
	if (r <= 0)
		return r < 0 ? cni_error_move(err, &local) : 0;
	if (nft_list_rules(n, d->family, d->table, NULL, &rules, &n_rules, &local) < 0)
		return cni_error_move(err, &local);
	for (size_t i = 0; i < n_rules; i++)
		foreign |= !rules[i].comment ||
			   strncmp(rules[i].comment, d->rule_prefix, strlen(d->rule_prefix)) != 0;
	nft_rule_infos_free(rules, n_rules);
	if (foreign)
		return 0;
	b = nft_batch_new();
	nft_batch_guard(b, gen);
	nft_batch_del_table(b, d->family, d->table);
	if (nft_batch_commit(n, b, &local) == 0)
		return 0;
	r = local->errnum;
	cni_error_freep(&local);
	/* Another commit came between: read again.  Gone already (another teardown): done. */
	if (r == ERESTART)
		return 1;
	if (r == ENOENT)
		return 0;
	return cni_error_errno(err, r, "remove table %s", d->table);
}

int nft_drop_table_if_unused(struct nft *n, uint8_t family, const char *table,
			     const char *const *probe_sets, const char *rule_prefix,
			     struct cni_error **err)
{
	struct drop_args d = { family, table, probe_sets, rule_prefix };

	return nft_retry_teardown(drop_once, n, &d, err);
}

int nft_retry_teardown(int (*once)(struct nft *n, const void *arg, struct cni_error **err),
		       struct nft *n, const void *arg, struct cni_error **err)
{
	for (int i = 0; i < CNIC_NFT_TEARDOWN_TRIES; i++) {
		int r = once(n, arg, err);

		if (r != 1)
			return r;
		pause_a_little(8);
	}
	return 0;
}

void nft_teardown_log(const char *what, struct cni_error **e)
{
	if (!*e)
		return;
	cni_log("%s: removing unused nftables objects: %s%s%s", what, (*e)->msg,
		(*e)->details ? ": " : "", (*e)->details ? (*e)->details : "");
	cni_error_freep(e);
}

/* ---- owner tags --------------------------------------------------------- */

/* FNV-1a, 128 bits: short, stable across builds and machines; not a secret. */
static unsigned __int128 hash128(const char *a, const char *b)
{
	unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142ULL << 64) |
			      0x62b821756295c58dULL;
	const unsigned __int128 prime = ((unsigned __int128)1 << 88) | 0x13b;
	const char *parts[2] = { a, b };

	for (size_t p = 0; p < 2; p++) {
		if (!parts[p])
			continue;
		if (p == 1) {
			h ^= (unsigned char)':';
			h *= prime;
		}
		for (const unsigned char *s = (const unsigned char *)parts[p]; *s; s++) {
			h ^= *s;
			h *= prime;
		}
	}
	return h;
}

static void hash128_hex(const char *a, const char *b, char out[34])
{
	unsigned __int128 h = hash128(a, b);

	snprintf(out, 34, "#%016llx%016llx", (unsigned long long)(h >> 64),
		 (unsigned long long)(uint64_t)h);
}

void nft_owner_key(const char *tag, uint8_t key[CNIC_NFT_OWNER_KEY_LEN])
{
	unsigned __int128 h = hash128(tag, NULL);

	for (int i = CNIC_NFT_OWNER_KEY_LEN - 1; i >= 0; i--, h >>= 8)
		key[i] = (uint8_t)h;
}

/* Network names beyond this are hashed, leaving room for the attachment part. */
#define TAG_NET_MAX 48

static void net_part(const char *network, char buf[TAG_NET_MAX + 1])
{
	if (strlen(network) <= TAG_NET_MAX)
		snprintf(buf, TAG_NET_MAX + 1, "%s", network);
	else
		hash128_hex(network, NULL, buf);
}

char *nft_owner_tag(const char *network, const char *container_id, const char *ifname)
{
	char net[TAG_NET_MAX + 1], att[34];

	net_part(network, net);
	if (strlen(net) + 1 + strlen(container_id) + 1 + strlen(ifname) <= CNIC_NFT_TAG_MAX)
		return xasprintf("%s:%s:%s", net, container_id, ifname);
	hash128_hex(container_id, ifname, att);
	return xasprintf("%s:%s", net, att);
}

bool nft_tag_in_network(const char *tag, const char *network)
{
	char net[TAG_NET_MAX + 1];
	size_t len;

	net_part(network, net);
	len = strlen(net);
	return strncmp(tag, net, len) == 0 && tag[len] == ':';
}
