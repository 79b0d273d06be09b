/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CNIC_DHCP_INTERNAL_H
#define CNIC_DHCP_INTERNAL_H

#include "../../pkg/skel.h"
#include "dhcp.h"

struct dhcp_plugin_conf {
	char *socket;
	int priority;
	struct dhcp_client_opts opts;
};

/* ipam.daemonSocketPath / priority / provide / request, validated. */
int dhcp_plugin_conf(const struct cni_cmd *cmd, struct dhcp_plugin_conf *c, struct cni_error **err);
void dhcp_plugin_conf_free(struct dhcp_plugin_conf *c);

extern const struct cni_plugin dhcp_plugin;

int dhcp_daemon_main(int argc, char **argv);

#endif
