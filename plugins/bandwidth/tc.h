/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The traffic-control objects of the bandwidth plugin, as rtnetlink
 * messages built here (nl.h, without libnl) and sent on the namespace's
 * cnic rtnetlink socket, so errors carry the kernel's extended ACK like
 * every other request.  Replies are
 * parsed here too: CHECK compares the raw TBF parameters (the buffer in
 * ticks).
 */
#ifndef CNIC_BANDWIDTH_TC_H
#define CNIC_BANDWIDTH_TC_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../pkg/error.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"

struct bw_msg;

/* A tc handle "maj:min". */
#define BW_HANDLE(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))

/* A token bucket as the kernel holds it. */
struct bw_tbf {
	uint64_t rate;	 /* bytes per second */
	uint32_t limit;	 /* bytes */
	uint32_t buffer; /* psched ticks */
};

struct bw_qdisc {
	char kind[16];
	uint32_t handle;
	bool has_tbf;
	struct bw_tbf tbf;
};

/* The creation requests, into *m (for the unit tests too). */
void bw_tbf_msg(struct bw_msg *m, int ifindex, const struct bw_tbf *t);
void bw_ingress_msg(struct bw_msg *m, int ifindex);
void bw_redirect_msg(struct bw_msg *m, int ifindex, int target);

/* Root TBF 1: on ifindex (NLM_F_EXCL: an existing root qdisc other than the default fails). */
int bw_tbf_add(struct netns *ns, int ifindex, const char *ifname, const struct bw_tbf *t,
	       struct cni_error **err);
/* Ingress qdisc ffff: on ifindex. */
int bw_ingress_add(struct netns *ns, int ifindex, const char *ifname, struct cni_error **err);
/* u32 match-all, prio 1, protocol all, flowid 1:1, mirred egress redirect (stolen) to target. */
int bw_redirect_add(struct netns *ns, int ifindex, const char *ifname, int target,
		    const char *target_name, struct cni_error **err);

/*
 * The qdisc at parent (TC_H_ROOT or TC_H_INGRESS) of ifindex: 1 and *ret,
 * or 0 when there is none (no ingress qdisc; a link without a root qdisc
 * reports the kernel's default, handle 0).
 */
int bw_qdisc_get(struct netns *ns, int ifindex, uint32_t parent, struct bw_qdisc *ret,
		 struct cni_error **err);
/* Delete the qdisc at parent with that handle; 1 deleted, 0 not there. */
int bw_qdisc_del(struct netns *ns, int ifindex, uint32_t parent, uint32_t handle,
		 struct cni_error **err);

/*
 * Does the ingress qdisc ffff: of ifindex have a u32 filter whose action is
 * a mirred egress redirect to target?  1 yes, 0 no.
 */
int bw_redirect_find(struct netns *ns, int ifindex, int target, struct cni_error **err);

/*
 * An ifb named name: MTU mtu, txqueuelen 0 (as the reference), up, its
 * ifalias set to alias (NULL: none); *ret gets its name, ifindex and MAC.
 * NLM_F_EXCL: an existing name fails with EEXIST.  On failure no ifb made
 * here is left (an existing one of that name is never touched).
 */
int bw_ifb_add(struct netns *ns, const char *name, unsigned int mtu, const char *alias,
	       struct cnl_link *ret, struct cni_error **err);

struct bw_ifb {
	char name[IFNAMSIZ];
	char alias[256];
};
/* Every ifb link of ns (alias "" when none); *ret is malloc'ed. */
int bw_ifb_list(struct netns *ns, struct bw_ifb **ret, size_t *n, struct cni_error **err);

#endif
