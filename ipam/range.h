/* SPDX-License-Identifier: Apache-2.0 */
/*
 * host-local address ranges and range sets: defaults, validation and
 * containment exactly as the reference's allocator/range.go and
 * range_set.go (same error texts), so a config the reference accepts is
 * accepted here and allocates the same addresses.  Pure: no I/O.
 */
#ifndef CNIC_IPAM_RANGE_H
#define CNIC_IPAM_RANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "../pkg/error.h"
#include "../pkg/ipaddr.h"

struct ipam_range {
	struct ipnet subnet;   /* network address + prefix once canonical */
	struct ipaddr start;   /* inclusive; default subnet + 1 */
	struct ipaddr end;     /* inclusive; default last address (IPv4: broadcast - 1) */
	struct ipaddr gateway; /* default subnet + 1; never handed out when inside start..end */
};

/* One address is allocated per range set; ranges of a set are tried in order. */
struct ipam_range_set {
	struct ipam_range *v;
	size_t n;
};

/*
 * Fill the defaults of r and validate it: subnet of /30 (/126) or larger
 * without host bits, start and end inside the subnet with start <= end, a
 * gateway of the subnet's family.  Code 7 with the reference's texts.
 */
int ipam_range_canonicalize(struct ipam_range *r, struct cni_error **err);

/* Same family, inside the subnet, start <= a <= end. */
bool ipam_range_contains(const struct ipam_range *r, const struct ipaddr *a);
/* One range contains the other's start or end. */
bool ipam_range_overlaps(const struct ipam_range *a, const struct ipam_range *b);

/* Canonicalize every range; non-empty, one family, no overlap inside the set.  Code 7. */
int ipam_range_set_canonicalize(struct ipam_range_set *s, struct cni_error **err);
/* The range of s containing a, or NULL. */
const struct ipam_range *ipam_range_set_find(const struct ipam_range_set *s, const struct ipaddr *a);
bool ipam_range_set_contains(const struct ipam_range_set *s, const struct ipaddr *a);
bool ipam_range_set_overlaps(const struct ipam_range_set *a, const struct ipam_range_set *b);
/* "start-end,start-end" as the reference prints a set in its errors; caller frees. */
char *ipam_range_set_str(const struct ipam_range_set *s);
void ipam_range_set_free(struct ipam_range_set *s);

#endif
