/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in IPAM types' verbs, shared by ipam.c (in-process use from an
 * interface plugin) and the host-local / static executables.  These do not
 * police CNI_ARGS keys: an interface plugin calling them in-process has
 * its own keys in CNI_ARGS; the executables check theirs first.
 */
#ifndef CNIC_IPAM_INTERNAL_H
#define CNIC_IPAM_INTERNAL_H

#include "../pkg/skel.h"

int ipam_hl_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err);
int ipam_hl_del(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_hl_check(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_hl_gc(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_hl_status(const struct cni_cmd *cmd, struct cni_error **err);

int ipam_static_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err);
int ipam_static_del(const struct cni_cmd *cmd, struct cni_error **err);
int ipam_static_check(const struct cni_cmd *cmd, struct cni_error **err);

#endif
