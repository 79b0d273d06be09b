/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-family switches read over rtnetlink (RTM_GETNETCONF), not /proc/sys.
 * Included by link.h.
 */
#ifndef CNIC_NETCONF_H
#define CNIC_NETCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "netns.h"

/*
 * The "all" forwarding switch of family (AF_INET: net.ipv4.ip_forward,
 * AF_INET6: net.ipv6.conf.all.forwarding) read over rtnetlink
 * (RTM_GETNETCONF), not /proc/sys: *ret gets its value.
 */
int cnl_forwarding_get(struct netns *ns, int family, int *ret, struct cni_error **err);

#endif
