/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IP masquerade for container addresses (ipMasq: true in bridge and ptp), on
 * nftables through libnftnl, in a table of cnic's own, in the calling
 * thread's current netns (the host).  Never exec'd iptables or nft.
 *
 * Semantics as the reference's: traffic whose source is a container address
 * and whose destination is outside that address's subnet, and not multicast
 * (224.0.0.0/4, ff00::/8), leaves masqueraded.  Unlike the reference:
 *  - per packet and per ADD the cost does not grow with the number of
 *    containers (set/map lookups, not a rule or chain per container);
 *  - each ADD/DEL is one atomic batch;
 *  - every per-container element is tagged with (network, container id,
 *    ifname), and lives in a hash set (flat DEL cost), so DEL
 *    needs neither the addresses nor the netns (the reference leaks rules
 *    when the netns is gone), and GC can find orphans;
 *  - the same container on two networks, or with two interfaces on one
 *    network, is never confused.
 */
#ifndef CNIC_IPMASQ_H
#define CNIC_IPMASQ_H

#include "error.h"
#include "types.h"

/* Masquerade ips[0..n) of this attachment (idempotent: replaces its own elements). */
int ipmasq_add(const char *network, const char *container_id, const char *ifname,
	       const struct cni_ip *ips, size_t n_ips, struct cni_error **err);

/* Remove this attachment's elements; succeeds when there are none (or no table). */
int ipmasq_del(const char *network, const char *container_id, const char *ifname,
	       struct cni_error **err);

/* CHECK: every one of ips has its element; the error names the first missing one. */
int ipmasq_check(const char *network, const char *container_id, const char *ifname,
		 const struct cni_ip *ips, size_t n_ips, struct cni_error **err);

/*
 * GC: remove the network's elements whose (container id, ifname) is not in
 * nc's valid attachments; nothing when nc has no list (absent or null).
 */
int ipmasq_gc(const struct cni_netconf *nc, struct cni_error **err);

#endif
