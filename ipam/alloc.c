/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../pkg/cleanup.h"
#include "alloc.h"

/*
 * If reserving an address we believed free keeps failing, something writes
 * the directory without taking the lock: stop rather than walk a /64.
 */
#define MAX_UNEXPECTED_TAKEN 64
/*
 * With the hint doing the duplicate check, ADD needs the directory only to
 * skip taken candidates.  Round robin makes the next candidate free almost
 * always, so it is tried first (the reservation's exclusive link is the
 * test); only after this many taken ones is the directory read.  Keeps ADD
 * O(1) in the number of reservations instead of one pass over all of them.
 */
#define PROBES_BEFORE_SCAN 8

/* ---- owners ----------------------------------------------------------- */

static size_t trimmed_len(const char *s, size_t *ret_off)
{
	size_t b = 0, e = strlen(s);

	while (b < e && strchr(" \t\r\n\v\f", s[b]))
		b++;
	while (e > b && strchr(" \t\r\n\v\f", s[e - 1]))
		e--;
	*ret_off = b;
	return e - b;
}

enum ipam_owner ipam_owner_match(const char *content, size_t len, const char *id, const char *ifname)
{
	size_t off, idlen = trimmed_len(id, &off);
	size_t iflen = strlen(ifname);

	if (!content)
		return IPAM_OWNER_NONE;
	id += off;
	if (len == idlen + 2 + iflen && memcmp(content, id, idlen) == 0 &&
	    memcmp(content + idlen, "\r\n", 2) == 0 &&
	    memcmp(content + idlen + 2, ifname, iflen) == 0)
		return IPAM_OWNER_EXACT;
	if (len == idlen && memcmp(content, id, idlen) == 0)
		return IPAM_OWNER_LEGACY;
	return IPAM_OWNER_NONE;
}

/* ---- sorted address arrays -------------------------------------------- */

struct addrs {
	struct ipaddr *v;
	size_t n;
};

static void addrs_free(struct addrs *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static void addrs_push(struct addrs *a, const struct ipaddr *ip)
{
	*(struct ipaddr *)xappend(&a->v, &a->n, sizeof(*ip)) = *ip;
}

static int addr_qcmp(const void *a, const void *b)
{
	return ipaddr_cmp(a, b);
}

static void addrs_sort(struct addrs *a)
{
	if (a->n > 1)
		qsort(a->v, a->n, sizeof(*a->v), addr_qcmp);
}

static bool addrs_has(const struct addrs *a, const struct ipaddr *ip)
{
	return a->n && bsearch(ip, a->v, a->n, sizeof(*a->v), addr_qcmp) != NULL;
}

static bool addrs_has_linear(const struct addrs *a, const struct ipaddr *ip)
{
	for (size_t i = 0; i < a->n; i++)
		if (ipaddr_eq(&a->v[i], ip))
			return true;
	return false;
}

/* ---- the round-robin iterator (reference: allocator.go RangeIter) ----- */

struct range_iter {
	const struct ipam_range_set *set;
	size_t idx;
	struct ipaddr cur, first;
	bool has_cur, has_first;
};

static void iter_init(struct range_iter *it, const struct ipam_range_set *set,
		      const struct ipaddr *last)
{
	memset(it, 0, sizeof(*it));
	it->set = set;
	if (last) {
		for (size_t i = 0; i < set->n; i++)
			if (ipam_range_contains(&set->v[i], last)) {
				/* The first candidate is last + 1; last itself comes at the very end. */
				it->idx = i;
				it->cur = *last;
				it->has_cur = true;
				return;
			}
	}
	it->first = set->v[0].start;
	it->has_first = true;
}

/* The next candidate and its range; false once the cycle is complete. */
static bool iter_next(struct range_iter *it, struct ipaddr *ret, const struct ipam_range **ret_range)
{
	for (;;) {
		const struct ipam_range *r = &it->set->v[it->idx];

		if (!it->has_cur) {
			it->cur = r->start;
			it->has_cur = true;
			it->first = it->cur;
			it->has_first = true;
		} else {
			if (ipaddr_eq(&it->cur, &r->end)) {
				it->idx = (it->idx + 1) % it->set->n;
				r = &it->set->v[it->idx];
				it->cur = r->start;
			} else {
				(void)ipaddr_next(&it->cur);
			}
			if (!it->has_first) {
				it->first = it->cur;
				it->has_first = true;
			} else if (ipaddr_eq(&it->cur, &it->first)) {
				return false;
			}
		}
		if (ipaddr_eq(&it->cur, &r->gateway))
			continue;
		*ret = it->cur;
		*ret_range = r;
		return true;
	}
}

/* ---- ADD ---------------------------------------------------------------- */

struct add_scan {
	const char *id, *ifname;
	bool scanned;	    /* taken holds the directory; false: not read (yet) */
	struct addrs taken; /* every reserved address */
	struct addrs owned; /* reserved to (id, ifname), exact or legacy: the duplicate check */
	struct addrs again; /* reserved to (id, ifname) in an earlier boot: given back */
};

/* An address of `again` in set (not yet given back), or NULL. */
static struct ipaddr *again_in(struct add_scan *s, const struct ipam_range_set *set, bool *used)
{
	for (size_t i = 0; i < s->again.n; i++)
		if (!used[i] && ipam_range_set_contains(set, &s->again.v[i]))
			return &s->again.v[i];
	return NULL;
}

static int add_scan_cb(void *arg, const struct ipam_resv *r, struct cni_error **err)
{
	struct add_scan *s = arg;

	addrs_push(&s->taken, &r->ip);
	if (ipam_owner_match(r->content, r->len, s->id, s->ifname) != IPAM_OWNER_NONE)
		addrs_push(&s->owned, &r->ip);
	return IPAM_SCAN_KEEP;
}

static int add_scan_run(const struct ipam_store_ops *ops, void *store, struct add_scan *s,
			bool need_owners, struct cni_error **err)
{
	if (ops->scan(store, need_owners, add_scan_cb, s, err) < 0)
		return -1;
	addrs_sort(&s->taken);
	s->scanned = true;
	return 0;
}

static int alloc_requested(const struct ipam_store_ops *ops, void *store,
			   const struct ipam_range_set *set, const struct add_scan *s,
			   const struct ipaddr *ip, struct ipam_lease *lease, struct cni_error **err)
{
	const struct ipam_range *r = ipam_range_set_find(set, ip);
	char abuf[IPADDR_STRLEN];
	cleanup_free char *str = NULL;
	bool ok = false;

	ipaddr_fmt(ip, abuf);
	if (ipaddr_eq(ip, &r->gateway))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "requested ip %s is subnet's gateway", abuf);
	if ((!s->scanned || !addrs_has(&s->taken, ip)) &&
	    ops->reserve(store, ip, s->id, s->ifname, &ok, err) < 0)
		return -1;
	if (!ok) {
		str = ipam_range_set_str(set);
		return cni_error_set(err, CNI_ERR_IPAM_UNAVAILABLE, 0,
				     "requested IP address %s is not available in range set %s",
				     abuf, str);
	}
	lease->ip = *ip;
	lease->range = r;
	return 0;
}

static int alloc_next(const struct ipam_store_ops *ops, void *store,
		      const struct ipam_range_set *set, unsigned int idx, struct add_scan *s,
		      struct ipam_lease *lease, struct cni_error **err)
{
	unsigned int probes = 0;
	const struct ipam_range *r;
	struct range_iter it;
	struct ipaddr last, ip;
	char abuf[IPADDR_STRLEN];
	cleanup_free char *str = NULL;
	unsigned int surprises = 0;

	for (size_t i = 0; i < s->owned.n; i++)
		if (ipam_range_set_contains(set, &s->owned.v[i]))
			return cni_error_set(
				err, CNI_ERR_IPAM_DUPLICATE, 0,
				"%s has been allocated to %s, duplicate allocation is not allowed",
				ipaddr_fmt(&s->owned.v[i], abuf), s->id);

	/*
	 * Every candidate that fails is either reserved or a gateway, so this
	 * ends after at most (reservations + ranges + 1) steps unless the set
	 * is full, when it ends with the cycle.
	 */
	iter_init(&it, set, ops->last_reserved(store, idx, &last) ? &last : NULL);
	while (iter_next(&it, &ip, &r)) {
		bool ok = false;

		if (!s->scanned && probes == PROBES_BEFORE_SCAN &&
		    add_scan_run(ops, store, s, false, err) < 0)
			return -1;
		if (s->scanned && addrs_has(&s->taken, &ip))
			continue;
		if (ops->reserve(store, &ip, s->id, s->ifname, &ok, err) < 0)
			return -1;
		if (ok) {
			lease->ip = ip;
			lease->range = r;
			return 0;
		}
		/* Taken: expected while the directory is unread. */
		if (!s->scanned) {
			probes++;
			continue;
		}
		if (++surprises > MAX_UNEXPECTED_TAKEN)
			return cni_error_set(
				err, CNI_ERR_TRY_AGAIN, 0,
				"addresses in range set %u are being reserved without the lock", idx);
	}
	str = ipam_range_set_str(set);
	return cni_error_set(err, CNI_ERR_IPAM_EXHAUSTED, 0,
			     "no IP addresses available in range set: %s", str);
}

int ipam_alloc_add(const struct ipam_store_ops *ops, void *store, const struct ipam_range_set *sets,
		   size_t n_sets, const char *id, const char *ifname, const struct ipaddr *req,
		   size_t n_req, struct ipam_lease *leases, struct cni_error **err)
{
	cleanup_free ssize_t *set_req = xcalloc(n_sets, sizeof(*set_req));
	cleanup_free bool *used = xcalloc(n_req, sizeof(*used));
	cleanup_free bool *again_used = NULL, *fresh = NULL;
	struct add_scan s = { .id = id, .ifname = ifname };
	bool need_owners = false;
	size_t done = 0;
	int r = -1;

	/* The same address requested twice is one request (the reference keeps them in a map). */
	for (size_t j = 0; j < n_req; j++)
		for (size_t k = 0; k < j && !used[j]; k++)
			used[j] = ipaddr_eq(&req[j], &req[k]);
	/* Match requested addresses to sets first: a leftover fails before anything is reserved. */
	for (size_t i = 0; i < n_sets; i++) {
		set_req[i] = -1;
		for (size_t j = 0; j < n_req; j++)
			if (!used[j] && ipam_range_set_contains(&sets[i], &req[j])) {
				set_req[i] = (ssize_t)j;
				used[j] = true;
				break;
			}
		if (set_req[i] < 0)
			need_owners = true;
	}
	for (size_t j = 0; j < n_req; j++)
		if (!used[j]) {
			cleanup_free char *list = NULL;
			char abuf[IPADDR_STRLEN];
			size_t len = 0;

			list = xmalloc(n_req * IPADDR_STRLEN + 1);
			list[0] = '\0';
			for (size_t k = j; k < n_req; k++)
				if (!used[k])
					len += (size_t)snprintf(list + len,
								n_req * IPADDR_STRLEN + 1 - len,
								" %s", ipaddr_fmt(&req[k], abuf));
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "failed to allocate all requested IPs:%s", list);
		}

	if (ops->reclaim)
		ops->reclaim(store, id, ifname);
	if (ops->hint_get) {
		/*
		 * The duplicate check needs only what (id, ifname) already holds:
		 * the addresses its hint lists, each confirmed by its own file.
		 * Reading every reservation's owner would cost a file read per
		 * reservation; the taken set needs only their names.
		 */
		cleanup_free struct ipaddr *hinted = NULL;
		size_t n_hinted = 0;
		bool other_boot = false;

		ops->hint_get(store, id, ifname, &hinted, &n_hinted, &other_boot);
		for (size_t i = 0; i < n_hinted; i++) {
			enum ipam_owner o;

			if (addrs_has_linear(&s.owned, &hinted[i]) ||
			    addrs_has_linear(&s.again, &hinted[i]))
				continue;
			o = ops->owner(store, &hinted[i], id, ifname);
			if (o == IPAM_OWNER_EXACT && other_boot)
				addrs_push(&s.again, &hinted[i]);
			else if (o != IPAM_OWNER_NONE)
				addrs_push(&s.owned, &hinted[i]);
		}
		need_owners = false;
	}
	again_used = xcalloc(s.again.n + 1, sizeof(*again_used));
	fresh = xcalloc(n_sets, sizeof(*fresh));
	/*
	 * Owners are only needed for the duplicate check, which requested
	 * addresses skip.  With the hint doing that check, the names are read
	 * only if alloc_next's probes run into taken addresses; a requested
	 * address is tested by reserving it.
	 */
	if (!ops->hint_get && add_scan_run(ops, store, &s, need_owners, err) < 0)
		goto out;

	for (done = 0; done < n_sets; done++) {
		struct ipaddr *back = again_in(&s, &sets[done], again_used);
		int q;

		/* Re-added after a reboot: its old address, unless it now asks for another. */
		if (back && (set_req[done] < 0 || ipaddr_eq(back, &req[set_req[done]]))) {
			again_used[back - s.again.v] = true;
			leases[done].ip = *back;
			leases[done].range = ipam_range_set_find(&sets[done], back);
			continue;
		}
		fresh[done] = true;
		if (set_req[done] >= 0)
			q = alloc_requested(ops, store, &sets[done], &s, &req[set_req[done]],
					    &leases[done], err);
		else
			q = alloc_next(ops, store, &sets[done], (unsigned int)done, &s,
				       &leases[done], err);
		if (q < 0) {
			cni_error_wrap(err, "failed to allocate for range %zu", done);
			goto out;
		}
		/* Only a round-robin hint: failing to record it must not fail the ADD. */
		(void)ops->set_last_reserved(store, (unsigned int)done, &leases[done].ip, NULL);
	}
	r = 0;
	/* An earlier boot's address this ADD did not take back is nobody's now. */
	for (size_t i = 0; i < s.again.n; i++)
		if (!again_used[i])
			(void)ops->release(store, &s.again.v[i], NULL);
	if (ops->hint_set) {
		/* What the attachment held before (confirmed above) plus what it got now. */
		for (size_t i = 0; i < n_sets; i++)
			if (!addrs_has_linear(&s.owned, &leases[i].ip))
				addrs_push(&s.owned, &leases[i].ip);
		ops->hint_set(store, id, ifname, s.owned.v, s.owned.n);
	}
out:
	/* Only what this call reserved: addresses given back were reserved before it. */
	if (r < 0)
		for (size_t i = 0; i < done; i++)
			if (fresh && fresh[i])
				(void)ops->release(store, &leases[i].ip, NULL);
	addrs_free(&s.taken);
	addrs_free(&s.owned);
	addrs_free(&s.again);
	return r;
}

/* ---- DEL ---------------------------------------------------------------- */

struct del_scan {
	const char *id, *ifname;
	size_t exact;
	struct addrs legacy;
};

static int del_scan_cb(void *arg, const struct ipam_resv *r, struct cni_error **err)
{
	struct del_scan *s = arg;

	switch (ipam_owner_match(r->content, r->len, s->id, s->ifname)) {
	case IPAM_OWNER_EXACT:
		s->exact++;
		return IPAM_SCAN_RELEASE;
	case IPAM_OWNER_LEGACY:
		addrs_push(&s->legacy, &r->ip);
		return IPAM_SCAN_KEEP;
	default:
		return IPAM_SCAN_KEEP;
	}
}

int ipam_alloc_release(const struct ipam_store_ops *ops, void *store, const char *id,
		       const char *ifname, struct cni_error **err)
{
	struct del_scan s = { .id = id, .ifname = ifname };
	int r;

	r = ops->scan(store, true, del_scan_cb, &s, err);
	if (r == 0 && s.exact == 0)
		for (size_t i = 0; i < s.legacy.n; i++)
			if (ops->release(store, &s.legacy.v[i], err) < 0)
				r = -1; /* keep going: release as much as possible */
	/* After a partial failure the hint still describes what is left. */
	if (r == 0 && ops->hint_set)
		ops->hint_set(store, id, ifname, NULL, 0);
	addrs_free(&s.legacy);
	return r;
}

/* ---- CHECK -------------------------------------------------------------- */

struct check_scan {
	const char *id, *ifname;
	struct addrs exact, legacy;
};

static int check_scan_cb(void *arg, const struct ipam_resv *r, struct cni_error **err)
{
	struct check_scan *s = arg;

	switch (ipam_owner_match(r->content, r->len, s->id, s->ifname)) {
	case IPAM_OWNER_EXACT:
		addrs_push(&s->exact, &r->ip);
		break;
	case IPAM_OWNER_LEGACY:
		addrs_push(&s->legacy, &r->ip);
		break;
	default:
		break;
	}
	return IPAM_SCAN_KEEP;
}

int ipam_alloc_check(const struct ipam_store_ops *ops, void *store,
		     const struct ipam_range_set *sets, size_t n_sets, const char *id,
		     const char *ifname, const struct cni_result *prev, struct cni_error **err)
{
	struct check_scan s = { .id = id, .ifname = ifname };
	const struct addrs *owned;
	char abuf[IPADDR_STRLEN];
	size_t n_ours = 0;
	bool all_exact = ops->owner != NULL;
	int r = -1;

	/*
	 * The answer needs only prev's own addresses: when each one of them in
	 * the sets is held exactly by (id, ifname), the attachment holds at
	 * least one (so its legacy reservations cannot count) and every one is
	 * among them.  One file read per address instead of one per
	 * reservation; anything else takes the scan, for the exact verdict.
	 */
	for (size_t i = 0; all_exact && prev && i < prev->n_ips; i++) {
		const struct ipaddr *a = &prev->ips[i].address.addr;
		bool ours = false;

		for (size_t k = 0; k < n_sets && !ours; k++)
			ours = ipam_range_set_contains(&sets[k], a);
		if (!ours)
			continue;
		n_ours++;
		all_exact = ops->owner(store, a, id, ifname) == IPAM_OWNER_EXACT;
	}
	if (all_exact && n_ours > 0)
		return 0;

	if (ops->scan(store, true, check_scan_cb, &s, err) < 0)
		goto out;
	owned = s.exact.n ? &s.exact : &s.legacy;
	if (owned->n == 0) {
		cni_error_set(err, CNI_ERR_INTERNAL, 0,
			      "host-local: Failed to find address added by container %s", id);
		goto out;
	}
	for (size_t i = 0; prev && i < prev->n_ips; i++) {
		const struct ipaddr *a = &prev->ips[i].address.addr;
		bool ours = false;

		for (size_t k = 0; k < n_sets && !ours; k++)
			ours = ipam_range_set_contains(&sets[k], a);
		if (ours && !addrs_has_linear(owned, a)) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0,
				      "host-local: address %s of prevResult is not reserved for container %s, interface %s",
				      ipaddr_fmt(a, abuf), id, ifname);
			goto out;
		}
	}
	r = 0;
out:
	addrs_free(&s.exact);
	addrs_free(&s.legacy);
	return r;
}

/* ---- GC ------------------------------------------------------------------ */

struct gc_key {
	const char *id;
	size_t idlen;
	const char *ifname; /* NULL: match any ifname (legacy lookups) */
	size_t iflen;
};

struct gc_scan {
	struct gc_key *keys; /* valid attachments sorted by (id, ifname) */
	size_t n;
};

static int key_cmp(const struct gc_key *a, const struct gc_key *b)
{
	size_t m = a->idlen < b->idlen ? a->idlen : b->idlen;
	int c = memcmp(a->id, b->id, m);

	if (c || a->idlen != b->idlen)
		return c ? c : (a->idlen < b->idlen ? -1 : 1);
	if (!a->ifname || !b->ifname)
		return 0;
	m = a->iflen < b->iflen ? a->iflen : b->iflen;
	c = memcmp(a->ifname, b->ifname, m);
	if (c || a->iflen != b->iflen)
		return c ? c : (a->iflen < b->iflen ? -1 : 1);
	return 0;
}

static int key_qcmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

static int gc_scan_cb(void *arg, const struct ipam_resv *r, struct cni_error **err)
{
	const struct gc_scan *s = arg;
	const char *sep;
	struct gc_key k;

	if (!r->content)
		return IPAM_SCAN_KEEP; /* owner unknown: never release what we cannot read */
	sep = memmem(r->content, r->len, "\r\n", 2);
	k.id = r->content;
	if (sep) {
		k.idlen = (size_t)(sep - r->content);
		k.ifname = sep + 2;
		k.iflen = r->len - k.idlen - 2;
	} else {
		k.idlen = r->len;
		k.ifname = NULL; /* legacy: valid if any attachment of the container is */
		k.iflen = 0;
	}
	if (s->n && bsearch(&k, s->keys, s->n, sizeof(*s->keys), key_qcmp))
		return IPAM_SCAN_KEEP;
	return IPAM_SCAN_RELEASE;
}

int ipam_alloc_gc(const struct ipam_store_ops *ops, void *store, const struct cni_attachment *valid,
		  size_t n_valid, struct cni_error **err)
{
	cleanup_free struct gc_key *keys = xcalloc(n_valid, sizeof(*keys));
	struct gc_scan s = { .keys = keys, .n = 0 };

	for (size_t i = 0; i < n_valid; i++) {
		size_t off;

		if (!valid[i].container_id || !valid[i].ifname)
			continue;
		keys[s.n].idlen = trimmed_len(valid[i].container_id, &off);
		keys[s.n].id = valid[i].container_id + off;
		keys[s.n].ifname = valid[i].ifname;
		keys[s.n].iflen = strlen(valid[i].ifname);
		s.n++;
	}
	if (s.n > 1)
		qsort(keys, s.n, sizeof(*keys), key_qcmp);
	if (ops->scan(store, true, gc_scan_cb, &s, err) < 0)
		return -1;
	if (ops->hint_gc)
		ops->hint_gc(store);
	return 0;
}
