/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pkg/devmove's sysfs resolvers (host-device's kernelpath, pciBusID and
 * runtimeConfig.deviceID selectors, the DPDK driver test) against a fake
 * sysfs tree in a temp dir: PCI functions with and without a netdev, a
 * virtio function whose netdev is one level down, an auxiliary (SF)
 * device, drivers bound by symlink as the kernel shows them.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../pkg/devmove.h"

static char root[PATH_MAX];

static void mk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mk(const char *fmt, ...)
{
	char rel[PATH_MAX], p[PATH_MAX * 2], *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		(void)mkdir(p, 0755);
		*s = '/';
	}
	assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
}

static void ln(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "%s/cnic-devmove-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	assert_non_null(mkdtemp(root));
	/* A NIC function with its netdev, bound to a kernel driver. */
	mk("devices/pci0000:00/0000:00:03.0/net/ens3");
	mk("bus/pci/drivers/ixgbe");
	mk("bus/pci/devices");
	ln("../../../devices/pci0000:00/0000:00:03.0", "bus/pci/devices/0000:00:03.0");
	ln("../../../../bus/pci/drivers/ixgbe", "devices/pci0000:00/0000:00:03.0/driver");
	/* Two netdevs under one function: the first in name order wins. */
	mk("devices/pci0000:00/0000:00:05.0/net/zeta1");
	mk("devices/pci0000:00/0000:00:05.0/net/alpha0");
	ln("../../../devices/pci0000:00/0000:00:05.0", "bus/pci/devices/0000:00:05.0");
	/* A VF bound to vfio-pci (DPDK): no netdev. */
	mk("devices/pci0000:00/0000:00:04.1");
	mk("bus/pci/drivers/vfio-pci");
	ln("../../../devices/pci0000:00/0000:00:04.1", "bus/pci/devices/0000:00:04.1");
	ln("../../../../bus/pci/drivers/vfio-pci", "devices/pci0000:00/0000:00:04.1/driver");
	/* virtio-net: the netdev hangs off virtio<N>. */
	mk("devices/pci0000:00/0000:00:06.0/virtio2/net/eth7");
	ln("../../../devices/pci0000:00/0000:00:06.0", "bus/pci/devices/0000:00:06.0");
	/* An auxiliary device (an mlx5 SF) with a netdev. */
	mk("devices/pci0000:00/0000:00:07.0/mlx5_core.sf.4/net/enp7s0f0s4");
	mk("bus/auxiliary/devices");
	ln("../../../devices/pci0000:00/0000:00:07.0/mlx5_core.sf.4",
	   "bus/auxiliary/devices/mlx5_core.sf.4");
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_pci(void **state)
{
	struct cni_error *err = NULL;
	char name[IFNAMSIZ];

	(void)state;
	assert_int_equal(dm_sysfs_netdev(root, NULL, "0000:00:03.0", NULL, name, &err), 0);
	assert_string_equal(name, "ens3");
	assert_int_equal(dm_sysfs_netdev(root, NULL, "0000:00:05.0", NULL, name, &err), 0);
	assert_string_equal(name, "alpha0");
	assert_int_equal(dm_sysfs_netdev(root, NULL, "0000:00:06.0", NULL, name, &err), 0);
	assert_string_equal(name, "eth7");
	/* No netdev (a DPDK-bound VF). */
	assert_int_equal(dm_sysfs_netdev(root, NULL, "0000:00:04.1", NULL, name, &err), -1);
	assert_int_equal(err->code, 7);
	assert_non_null(strstr(err->msg, "no net directory under pci device 0000:00:04.1"));
	cni_error_freep(&err);
	/* No such device; an id that would leave the directory. */
	assert_int_equal(dm_sysfs_netdev(root, NULL, "0000:00:09.0", NULL, name, &err), -1);
	cni_error_freep(&err);
	assert_int_equal(dm_sysfs_netdev(root, NULL, "../../../etc", NULL, name, &err), -1);
	assert_int_equal(err->code, 7);
	cni_error_freep(&err);
	assert_int_equal(dm_sysfs_netdev(root, NULL, "..", NULL, name, &err), -1);
	cni_error_freep(&err);
}

static void test_kernelpath(void **state)
{
	struct cni_error *err = NULL;
	char name[IFNAMSIZ];

	(void)state;
	assert_int_equal(dm_sysfs_netdev(root, "/sys/devices/pci0000:00/0000:00:03.0", NULL, NULL,
					 name, &err),
			 0);
	assert_string_equal(name, "ens3");
	static const char *const bad[] = {
		"sys/devices/pci0000:00/0000:00:03.0",	  /* not absolute */
		"/sys/class/net/ens3",			  /* not under /sys/devices */
		"/sys/devices/../../etc",		  /* escapes */
		"/sys/devices/pci0000:00/./0000:00:03.0", /* "." part */
		"/sys/devices/pci0000:00/..",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dm_sysfs_netdev(root, bad[i], NULL, NULL, name, &err), -1);
		assert_int_equal(err->code, 7);
		assert_non_null(strstr(err->msg, "must be absolute and begin with /sys/devices/"));
		cni_error_freep(&err);
	}
	/* A device without a net dir. */
	assert_int_equal(dm_sysfs_netdev(root, "/sys/devices/pci0000:00/0000:00:04.1", NULL, NULL,
					 name, &err),
			 -1);
	assert_non_null(strstr(err->msg, "failed to read directory"));
	cni_error_freep(&err);
}

static void test_aux(void **state)
{
	struct cni_error *err = NULL;
	char name[IFNAMSIZ];

	(void)state;
	assert_int_equal(dm_sysfs_netdev(root, NULL, NULL, "mlx5_core.sf.4", name, &err), 0);
	assert_string_equal(name, "enp7s0f0s4");
	assert_int_equal(dm_sysfs_netdev(root, NULL, NULL, "mlx5_core.sf.9", name, &err), -1);
	cni_error_freep(&err);
}

static void test_device_id(void **state)
{
	struct cni_error *err = NULL;
	bool aux = true;

	(void)state;
	assert_int_equal(dm_sysfs_device_id(root, "0000:00:03.0", &aux, &err), 0);
	assert_false(aux);
	assert_int_equal(dm_sysfs_device_id(root, "mlx5_core.sf.4", &aux, &err), 0);
	assert_true(aux);
	assert_int_equal(dm_sysfs_device_id(root, "0000:00:1f.7", &aux, &err), -1);
	assert_int_equal(err->code, 7);
	assert_string_equal(err->msg,
			    "runtime config DeviceID 0000:00:1f.7 not found or unsupported");
	cni_error_freep(&err);
	assert_int_equal(dm_sysfs_device_id(root, "a/b", &aux, &err), -1);
	cni_error_freep(&err);
	assert_int_equal(dm_sysfs_device_id(root, "", &aux, &err), -1);
	cni_error_freep(&err);
}

static void test_dpdk(void **state)
{
	struct cni_error *err = NULL;
	bool dpdk = true;

	(void)state;
	assert_int_equal(dm_sysfs_pci_dpdk(root, "0000:00:03.0", &dpdk, &err), 0);
	assert_false(dpdk);
	assert_int_equal(dm_sysfs_pci_dpdk(root, "0000:00:04.1", &dpdk, &err), 0);
	assert_true(dpdk);
	/* No driver bound at all: not DPDK. */
	assert_int_equal(dm_sysfs_pci_dpdk(root, "0000:00:06.0", &dpdk, &err), 0);
	assert_false(dpdk);
	assert_int_equal(dm_sysfs_pci_dpdk(root, "0000:00:1f.7", &dpdk, &err), -1);
	assert_int_equal(err->code, 7);
	cni_error_freep(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pci),  cmocka_unit_test(test_kernelpath),
		cmocka_unit_test(test_aux),  cmocka_unit_test(test_device_id),
		cmocka_unit_test(test_dpdk),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
