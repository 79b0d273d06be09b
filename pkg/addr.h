/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interface addresses (RTM_NEWADDR / RTM_DELADDR / dump), through ns's
 * rtnetlink socket; error conventions in rtnl.h.
 */
#ifndef CNIC_ADDR_H
#define CNIC_ADDR_H

#include <linux/if_addr.h>
#include <stddef.h>

#include "error.h"
#include "ipaddr.h"
#include "link.h"
#include "netns.h"

struct cnl_addr {
	struct ipnet addr; /* the local address and its prefix */
	int ifindex;
	unsigned int flags;  /* IFA_F_*: TENTATIVE, DADFAILED, NODAD, PERMANENT, ... */
	unsigned char scope; /* RT_SCOPE_* */
};

struct cnl_addrs {
	struct cnl_addr *v;
	size_t n;
};

void cnl_addrs_free(struct cnl_addrs *a);

/*
 * Add a to link.  flags: IFA_F_NODAD, IFA_F_NOPREFIXROUTE, ... (0: none).
 * IPv4 gets the broadcast address of its subnet for prefixes < 31, as the
 * reference (vishvananda/netlink) does.  An address already there is EEXIST.
 */
int cnl_addr_add(struct netns *ns, const struct cnl_link *link, const struct ipnet *a,
		 unsigned int flags, struct cni_error **err);

/* Returns 1 when deleted, 0 when link had no such address. */
int cnl_addr_del(struct netns *ns, const struct cnl_link *link, const struct ipnet *a,
		 struct cni_error **err);

/*
 * The addresses of ifindex (0: every link) of family (AF_INET, AF_INET6,
 * AF_UNSPEC: both), in the kernel's order.  *ret must be zeroed or freed.
 */
int cnl_addr_list(struct netns *ns, int ifindex, int family, struct cnl_addrs *ret,
		  struct cni_error **err);

/*
 * Wait, bounded by timeout_ms and driven by RTNLGRP_IPV6_IFADDR events,
 * until no IPv6 address of ifindex in ns is tentative (DAD done).  An
 * address whose DAD failed (IFA_F_DADFAILED: a duplicate on the link) is an
 * error naming it (EADDRINUSE).  On timeout, as the reference: an error
 * (ETIMEDOUT, code 11) only if the link is operationally up, since without
 * carrier DAD never starts; success otherwise.  name is for messages.
 */
int cnl_addr_wait_settled(struct netns *ns, int ifindex, const char *name, unsigned int timeout_ms,
			  struct cni_error **err);

#endif
