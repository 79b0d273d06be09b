/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IPAM entry points interface plugins call.  For ipam.type "host-local"
 * and "static" they run in-process (no exec: that is most of the
 * reference's latency); any other type is exec'd from CNI_PATH through
 * cni_invoke().  All take the whole request (IPAM plugins receive the full
 * network config, not only the "ipam" object).
 */
#ifndef CNIC_IPAM_H
#define CNIC_IPAM_H

#include "../pkg/skel.h"

/*
 * Everything ipam_add will need, checked without side effects: the config
 * decodes and is valid (built-in types), or the delegate exists in CNI_PATH
 * (others).  Interface plugins call it before their first side effect, so a
 * bad ipam section never leaves a bridge or a veth behind.
 */
int ipam_validate(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err);
int ipam_del(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_check(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_gc(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_status(const struct cni_cmd *cmd, struct cni_error **err);

/*
 * GC and STATUS of an interface plugin whose only network-wide state is its
 * optional IPAM (macvlan, ipvlan, vlan, dummy, tap, macvtap, host-device):
 * usable directly as the plugin's .gc and .status.  Without an ipam section
 * there is nothing to collect and nothing that can be unready.
 */
int ipam_plugin_gc(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_plugin_status(const struct cni_cmd *cmd, struct cni_error **err);

/* The plugins behind the host-local and static executables (thin mains). */
extern const struct cni_plugin ipam_host_local_plugin;
extern const struct cni_plugin ipam_static_plugin;

/*
 * The CNI_ARGS keys each built-in type reads (NULL-terminated), for an
 * interface plugin's own cni_env_args_check(): in-process calls do not
 * check CNI_ARGS keys themselves.  host-local: IP; static: IP, GATEWAY.
 */
extern const char *const ipam_host_local_env_args[];
extern const char *const ipam_static_env_args[];

#endif
