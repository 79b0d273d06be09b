/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routes (RTM_NEWROUTE / RTM_DELROUTE / dump) through ns's rtnetlink
 * socket; error conventions in rtnl.h.
 */
#ifndef CNIC_ROUTE_H
#define CNIC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ipaddr.h"
#include "link.h"
#include "netns.h"
#include "types.h"

struct cnl_route {
	struct ipnet dst;  /* 0.0.0.0/0 or ::/0 for a default route */
	struct ipaddr gw;  /* family 0: none (a device route) */
	struct ipaddr src; /* preferred source (RTA_PREFSRC), family 0: none */
	int ifindex;	   /* output device; 0: none (see cnl_route_add) */
	uint32_t table;	   /* 0: main */
	uint32_t priority; /* metric, 0: kernel default */
	bool has_scope;	   /* else RT_SCOPE_UNIVERSE, as the reference */
	unsigned char scope;
	uint32_t mtu;		/* RTAX_MTU, 0: none */
	uint32_t advmss;	/* RTAX_ADVMSS, 0: none */
	unsigned char protocol; /* 0: RTPROT_BOOT, as the reference */
	unsigned char type;	/* 0: RTN_UNICAST */
};

struct cnl_route_list {
	struct cnl_route *v;
	size_t n;
};

void cnl_route_list_free(struct cnl_route_list *l);

/* A CNI result route as a kernel route out of ifindex (0: none). */
void cnl_route_from_cni(struct cnl_route *ret, const struct cni_route *r, int ifindex);

#define CNL_ROUTE_EXCL 0x1u    /* EEXIST if the same route exists (NLM_F_EXCL) */
#define CNL_ROUTE_REPLACE 0x2u /* replace a route with the same key (NLM_F_REPLACE) */

/*
 * Add r with NLM_F_CREATE and, unless flags say otherwise, neither EXCL nor
 * REPLACE, as the reference (RouteAddEcmp): a second IPv6 route to the same
 * prefix becomes another ECMP path.  dev, if given, is the output device and
 * names it in errors; else r->ifindex is used.
 */
int cnl_route_add(struct netns *ns, const struct cnl_link *dev, const struct cnl_route *r,
		  unsigned int flags, struct cni_error **err);

/*
 * Delete the route matching r (dst, table, and gw / device / priority when
 * set; any scope, protocol and type).  Returns 1 when deleted, 0 when there
 * was none.
 */
int cnl_route_del(struct netns *ns, const struct cnl_link *dev, const struct cnl_route *r,
		  struct cni_error **err);

/*
 * The routes of family (AF_INET, AF_INET6, AF_UNSPEC: both) in table (0:
 * all tables) going out of ifindex (0: any device).  A multipath route is
 * listed once per path.  Cached clones are not listed.  *ret must be zeroed
 * or freed.
 */
int cnl_route_list(struct netns *ns, int family, uint32_t table, int ifindex,
		   struct cnl_route_list *ret, struct cni_error **err);
/*
 * The routes of from in table (0: any) through ifindex (0: any), in from's
 * order: what cnl_route_list with those filters returns, from a dump
 * already made.
 */
void cnl_route_list_select(const struct cnl_route_list *from, uint32_t table, int ifindex,
			   struct cnl_route_list *ret);

#endif
