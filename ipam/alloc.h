/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-local allocator, over a store seen only through an ops table
 * (the disk store of store.h, or a fake one in unit tests).
 *
 * Each operation reads the store at most once (one directory pass) into
 * memory and decides there: the addresses in use are a sorted array
 * searched in O(log n), so allocating in a nearly full /16 or in a /64
 * costs no syscall per candidate.  With the attachment hint (below), ADD
 * first just tries the next few round-robin candidates and reads the
 * directory only if they are taken; CHECK reads only prevResult's own
 * reservations when those settle it.  The caller holds the store's lock
 * around every operation but STATUS.
 *
 * Allocation order is the reference's round robin (docs/host-local.md):
 * start after last_reserved_ip.<set> when that address is in
 * the set, else at the first range's start; step through the ranges of the
 * set, wrapping; skip each range's gateway; give up after one full cycle.
 */
#ifndef CNIC_IPAM_ALLOC_H
#define CNIC_IPAM_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "../pkg/error.h"
#include "../pkg/ipaddr.h"
#include "../pkg/types.h"
#include "range.h"

/* One reservation as the store reports it during a scan. */
struct ipam_resv {
	struct ipaddr ip;    /* the reserved address (the file's name) */
	const char *content; /* whitespace-trimmed owner text, or NULL: not read / not readable */
	size_t len;
};

/* What a scan callback wants done with the reservation it was shown. */
enum {
	IPAM_SCAN_KEEP = 0,
	IPAM_SCAN_RELEASE = 1,
};

/* Returns IPAM_SCAN_KEEP / IPAM_SCAN_RELEASE, or -1 with *err set to stop the scan. */
typedef int (*ipam_scan_fn)(void *arg, const struct ipam_resv *r, struct cni_error **err);

struct ipam_store_ops {
	/*
	 * Show every reservation once, in no particular order.  With
	 * read_content false, content is always NULL (names only: cheaper).
	 * A release that fails does not stop the scan; the first failure is
	 * returned at the end.
	 */
	int (*scan)(void *store, bool read_content, ipam_scan_fn fn, void *arg,
		    struct cni_error **err);
	/*
	 * Reserve ip for "<id>\r\n<ifname>".  *ret_reserved is false (and 0
	 * returned) when the address is already taken.
	 */
	int (*reserve)(void *store, const struct ipaddr *ip, const char *id, const char *ifname,
		       bool *ret_reserved, struct cni_error **err);
	/* Release one address; an address that is not reserved is not an error. */
	int (*release)(void *store, const struct ipaddr *ip, struct cni_error **err);
	/* The round-robin hint of range set idx; false when there is none (or it is unreadable). */
	bool (*last_reserved)(void *store, unsigned int idx, struct ipaddr *ret);
	int (*set_last_reserved)(void *store, unsigned int idx, const struct ipaddr *ip,
				 struct cni_error **err);
	/*
	 * Optional (all four or none).  The attachment hint: the addresses an
	 * attachment was given by our ADDs, so that ADD's duplicate check
	 * reads a few files instead of every reservation.  It is only a hint:
	 * each address it lists is confirmed by owner() before it counts.
	 * Without these, ADD reads every reservation's owner (scan).
	 *
	 * hint_get: the listed addresses into *ret (malloc'ed, may be NULL
	 * with *n 0): none when there is no hint, it is unreadable, or it
	 * belongs to another attachment.  *ret_other_boot: the hint was
	 * written in an earlier boot (and reclaiming is on), so the
	 * attachment is being re-added after a reboot.
	 */
	void (*hint_get)(void *store, const char *id, const char *ifname, struct ipaddr **ret,
			 size_t *n, bool *ret_other_boot);
	/* Replace the hint (n 0: remove it).  Best effort: failing only loses the hint. */
	void (*hint_set)(void *store, const char *id, const char *ifname, const struct ipaddr *ips,
			 size_t n);
	/* Who holds ip (content of that one reservation) relative to (id, ifname). */
	int (*owner)(void *store, const struct ipaddr *ip, const char *id, const char *ifname);
	/* Remove every hint none of whose addresses is still held by its attachment. */
	void (*hint_gc)(void *store);
	/*
	 * Optional.  Release the reservations of attachments whose hints
	 * name an earlier boot, all but (keep_id, keep_ifname)'s.  Best effort.
	 */
	void (*reclaim)(void *store, const char *keep_id, const char *keep_ifname);
};

/* Who holds a reservation, from its content. */
enum ipam_owner {
	IPAM_OWNER_NONE,
	IPAM_OWNER_EXACT,  /* "<id>\r\n<ifname>" */
	IPAM_OWNER_LEGACY, /* "<id>" alone, written before ifnames were recorded */
};

enum ipam_owner ipam_owner_match(const char *content, size_t len, const char *id, const char *ifname);

/* What ADD got from one range set. */
struct ipam_lease {
	struct ipaddr ip;
	const struct ipam_range *range; /* the range of the set holding ip (prefix, gateway) */
};

/*
 * ADD: one address per range set, in set order, into leases[0..n_sets-1].
 * Requested addresses (req, any order) are matched to the first set that
 * contains them; a set without one gets the next free address in round
 * robin order.  After a reboot (ops->reclaim, ops->hint_get's other_boot)
 * earlier boots' reservations are released first, and an attachment that
 * held addresses in an earlier boot gets them back instead of error 102.
 * Errors, prefixed "failed to allocate for range <i>: ":
 * 7 a requested address is in no set or is a gateway, 101 it is taken,
 * 102 (id, ifname) already holds an address in the set, 100 the set is
 * exhausted.  On failure everything reserved by this call is released.
 */
int ipam_alloc_add(const struct ipam_store_ops *ops, void *store, const struct ipam_range_set *sets,
		   size_t n_sets, const char *id, const char *ifname, const struct ipaddr *req,
		   size_t n_req, struct ipam_lease *leases, struct cni_error **err);

/*
 * DEL: release every reservation of (id, ifname), whatever its range; the
 * legacy id-only ones only when there is no exact match (as the
 * reference).  Nothing to release is success.
 */
int ipam_alloc_release(const struct ipam_store_ops *ops, void *store, const char *id,
		       const char *ifname, struct cni_error **err);

/*
 * CHECK: (id, ifname) must hold at least one reservation (legacy id-only
 * ones count when there is no exact one), and every address of prev (may
 * be NULL) that lies in one of the sets must be one of them.
 */
int ipam_alloc_check(const struct ipam_store_ops *ops, void *store,
		     const struct ipam_range_set *sets, size_t n_sets, const char *id,
		     const char *ifname, const struct cni_result *prev, struct cni_error **err);

/*
 * GC: release every reservation whose (id, ifname) is not in valid; a
 * legacy id-only one when no valid attachment has its id.  Reservations
 * whose owner cannot be read are kept.
 */
int ipam_alloc_gc(const struct ipam_store_ops *ops, void *store, const struct cni_attachment *valid,
		  size_t n_valid, struct cni_error **err);

#endif
