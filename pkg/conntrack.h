/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conntrack entries through ctnetlink (NETLINK_NETFILTER), in the
 * calling thread's current netns.  Only what portmap needs: a UDP flow
 * seen before a port mapping existed (or after it went away) keeps its
 * conntrack entry, and with it the old NAT decision, for as long as
 * packets keep coming; deleting the entries makes the next packet take
 * the current rules.
 */
#ifndef CNIC_CONNTRACK_H
#define CNIC_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct cnl_sock;

/*
 * Delete the entries of family (AF_INET / AF_INET6) whose original
 * direction has protocol proto (IPPROTO_UDP, ...) and destination port one
 * of ports[0..n) (host order).  Entries that vanish meanwhile are fine.
 * It dumps the table: ask conntrack_count() first.
 * Returns the number deleted.  nl: a NETLINK_NETFILTER socket to borrow
 * (e.g. nft_netlink(): releasing a netfilter socket can wait for the
 * kernel, see nft_close), or NULL to use one of its own.
 */
int conntrack_delete_by_dport(struct cnl_sock *nl, int family, uint8_t proto, const uint16_t *ports,
			      size_t n, struct cni_error **err);

/*
 * Entries in the current netns (its nf_conntrack_count), or -1 when
 * conntrack is not there at all.  A dump walks the kernel's whole hash
 * table, every namespace's buckets (10 ms and more on a big table), so
 * callers ask this first, once for all their deletions: with 0 (or -1)
 * there is nothing to delete.
 */
long conntrack_count(void);

#endif
