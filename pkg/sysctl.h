/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/sys reads and writes.
 *
 * Names follow the reference's rule (pkg/utils/sysctl): the first separator
 * decides; if it is a '.', dots and slashes are swapped
 * ("net.ipv4.conf.eth0/1.rp_filter" is net/ipv4/conf/eth0.1/rp_filter),
 * otherwise the name is a path taken as is ("net/ipv4/conf/eth0.1/...").
 * A name with an empty, "." or ".." component, or not starting with "net"
 * when a network sysctl is asked for, is refused (code 7).
 *
 * /proc/sys/net/ belongs to the network namespace of the thread that opens
 * the file, not to the /proc mount, so the _net variants open it inside
 * ns through netns_run() (ns NULL: the current namespace).
 */
#ifndef CNIC_SYSCTL_H
#define CNIC_SYSCTL_H

#include <stdbool.h>

#include "error.h"
#include "netns.h"

/* "/proc/sys/<path>" for name (caller frees). */
int sysctl_path(const char *name, bool net_only, char **ret, struct cni_error **err);

/* The value without its trailing newline (caller frees). */
int sysctl_get(const char *name, char **ret, struct cni_error **err);
int sysctl_set(const char *name, const char *value, struct cni_error **err);

int sysctl_get_net(struct netns *ns, const char *name, char **ret, struct cni_error **err);
int sysctl_set_net(struct netns *ns, const char *name, const char *value, struct cni_error **err);

/*
 * Write value only if the current value differs (ip_forward, accept_ra:
 * avoids needless writes and works on read-only /proc/sys when already
 * set).  Returns 1 when written, 0 when it already had the value.
 */
int sysctl_ensure_net(struct netns *ns, const char *name, const char *value, struct cni_error **err);

#endif
