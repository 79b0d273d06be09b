/* SPDX-License-Identifier: Apache-2.0 */
#include "../ipam.h"

int main(void)
{
	return cni_plugin_main(&ipam_host_local_plugin);
}
