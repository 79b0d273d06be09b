/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "../pkg/cleanup.h"
#include "range.h"

/*
 * Go's Range.Contains ignores a start or end that is not known yet, which is
 * how the reference checks rangeStart against a configured rangeEnd (and
 * vice versa) while it fills the defaults in.
 */
static bool contains_partial(const struct ipam_range *r, const struct ipaddr *a)
{
	if (!ipnet_contains(&r->subnet, a))
		return false;
	if (ipaddr_is_set(&r->start) && ipaddr_cmp(a, &r->start) < 0)
		return false;
	if (ipaddr_is_set(&r->end) && ipaddr_cmp(a, &r->end) > 0)
		return false;
	return true;
}

bool ipam_range_contains(const struct ipam_range *r, const struct ipaddr *a)
{
	return contains_partial(r, a);
}

int ipam_range_canonicalize(struct ipam_range *r, struct cni_error **err)
{
	unsigned int bits = ipaddr_family_bits(r->subnet.addr.family);
	char sbuf[IPNET_STRLEN], abuf[IPADDR_STRLEN];
	struct ipaddr net;

	if (!ipaddr_is_set(&r->subnet.addr))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "missing subnet");
	if (r->subnet.prefix + 2u > bits)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "Network %s too small to allocate from",
				     ipnet_fmt(&r->subnet, sbuf));
	if (ipnet_has_host_bits(&r->subnet)) {
		ipnet_network(&r->subnet, &net);
		return cni_error_set(
			err, CNI_ERR_INVALID_CONFIG, 0,
			"Network has host bits set. For a subnet mask of length %u the network address is %s",
			r->subnet.prefix, ipaddr_fmt(&net, abuf));
	}
	ipnet_fmt(&r->subnet, sbuf);

	if (!ipaddr_is_set(&r->gateway)) {
		r->gateway = r->subnet.addr;
		(void)ipaddr_next(&r->gateway);
	} else if (r->gateway.family != r->subnet.addr.family) {
		/*
		 * The reference accepts this and returns a result whose gateway is
		 * of the other family; no caller can use that.  A gateway of the
		 * right family outside the subnet is accepted, as the reference.
		 */
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "gateway %s is not in the address family of network %s",
				     ipaddr_fmt(&r->gateway, abuf), sbuf);
	}

	if (ipaddr_is_set(&r->start)) {
		if (!contains_partial(r, &r->start))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "RangeStart %s not in network %s",
					     ipaddr_fmt(&r->start, abuf), sbuf);
	} else {
		r->start = r->subnet.addr;
		(void)ipaddr_next(&r->start);
	}

	if (ipaddr_is_set(&r->end)) {
		if (!contains_partial(r, &r->end))
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "RangeEnd %s not in network %s",
					     ipaddr_fmt(&r->end, abuf), sbuf);
	} else {
		ipnet_last(&r->subnet, &r->end);
		if (r->end.family == AF_INET)
			(void)ipaddr_prev(&r->end); /* not the broadcast address */
	}
	return 0;
}

bool ipam_range_overlaps(const struct ipam_range *a, const struct ipam_range *b)
{
	if (a->start.family != b->start.family)
		return false;
	return ipam_range_contains(a, &b->start) || ipam_range_contains(a, &b->end) ||
	       ipam_range_contains(b, &a->start) || ipam_range_contains(b, &a->end);
}

static void range_str(const struct ipam_range *r, char buf[2 * IPADDR_STRLEN])
{
	char s[IPADDR_STRLEN], e[IPADDR_STRLEN];

	snprintf(buf, 2 * IPADDR_STRLEN, "%s-%s", ipaddr_fmt(&r->start, s), ipaddr_fmt(&r->end, e));
}

int ipam_range_set_canonicalize(struct ipam_range_set *s, struct cni_error **err)
{
	char b1[2 * IPADDR_STRLEN], b2[2 * IPADDR_STRLEN];

	if (s->n == 0)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "empty range set");
	for (size_t i = 0; i < s->n; i++) {
		if (ipam_range_canonicalize(&s->v[i], err) < 0)
			return -1;
		if (s->v[i].start.family != s->v[0].start.family)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "mixed address families");
	}
	for (size_t i = 0; i + 1 < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++)
			if (ipam_range_overlaps(&s->v[i], &s->v[j])) {
				range_str(&s->v[i], b1);
				range_str(&s->v[j], b2);
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "subnets %s and %s overlap", b1, b2);
			}
	return 0;
}

const struct ipam_range *ipam_range_set_find(const struct ipam_range_set *s, const struct ipaddr *a)
{
	for (size_t i = 0; i < s->n; i++)
		if (ipam_range_contains(&s->v[i], a))
			return &s->v[i];
	return NULL;
}

bool ipam_range_set_contains(const struct ipam_range_set *s, const struct ipaddr *a)
{
	return ipam_range_set_find(s, a) != NULL;
}

bool ipam_range_set_overlaps(const struct ipam_range_set *a, const struct ipam_range_set *b)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (ipam_range_overlaps(&a->v[i], &b->v[j]))
				return true;
	return false;
}

char *ipam_range_set_str(const struct ipam_range_set *s)
{
	char buf[2 * IPADDR_STRLEN];
	size_t cap = s->n * (sizeof(buf) + 1) + 1, len = 0;
	char *out = xmalloc(cap);

	out[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		range_str(&s->v[i], buf);
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", buf);
	}
	return out;
}

void ipam_range_set_free(struct ipam_range_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
