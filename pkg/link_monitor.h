/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event-driven waits: rtnetlink group subscriptions instead of polling
 * or sleeping.  Included by link.h, after struct cnl_link.
 */
#ifndef CNIC_LINK_MONITOR_H
#define CNIC_LINK_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "netns.h"

struct cnl_link;

/*
 * A non-blocking rtnetlink socket created inside ns and subscribed to the
 * RTNLGRP_* groups (n of them): subscribe first, then read the state, then
 * wait for events and read it again, so no change can slip in between.
 * *ret_fd is O_CLOEXEC; close it.
 */
int cnl_monitor_open(struct netns *ns, const unsigned int *groups, size_t n, int *ret_fd,
		     struct cni_error **err);

/*
 * Wait until the monitor has something to read or deadline_ms
 * (CLOCK_MONOTONIC, see cnl_now_ms) passes, then drain it: the caller
 * re-reads the state it waits for.  1: events (or an overrun, which also
 * means "look again"), 0: deadline passed.
 */
int cnl_monitor_wait(int fd, uint64_t deadline_ms, struct cni_error **err);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t cnl_now_ms(void);

/*
 * Wait, bounded by timeout_ms and driven by RTNLGRP_LINK events (no
 * polling, no sleeps), until ifname in ns is operationally up
 * (CNL_OPER_UP).  *ret (may be NULL) gets the link as last read.  On
 * timeout: errnum ETIMEDOUT (code 11), message naming the last operstate.
 */
int cnl_link_wait_oper_up(struct netns *ns, const char *ifname, unsigned int timeout_ms,
			  struct cnl_link *ret, struct cni_error **err);

/* "up", "down", "lowerlayerdown", ... (RFC 2863 names, as iproute2 prints them). */
const char *cnl_operstate_str(unsigned char operstate);

#endif
