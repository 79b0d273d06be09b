/* SPDX-License-Identifier: Apache-2.0 */
/* `dhcp daemon [flags]` keeps leases; anything else is the CNI plugin. */
#include <string.h>

#include "internal.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "daemon") == 0)
		return dhcp_daemon_main(argc - 1, argv + 1);
	return cni_plugin_main(&dhcp_plugin);
}
