/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Delegation to another plugin binary (IPAM types other than the built-in
 * host-local and static).  As libcni does: the binary named `type` is looked
 * up in the ':'-separated CNI_PATH (regular, executable files only; a type
 * with '/', "..", or control characters is refused, CVE-2021-20206), run
 * with the caller's environment and CNI_COMMAND overridden, the config on
 * its stdin.  It is exec'd from the calling thread's current network
 * namespace (callers stay in the host netns) with no file descriptor but
 * 0-2 open.  Its error JSON becomes our error with its code and message.
 */
#ifndef CNIC_INVOKE_H
#define CNIC_INVOKE_H

#include "skel.h"

/*
 * Run `type` for verb with config (len bytes) on stdin.  For ADD, *ret gets
 * the parsed result (in any version, converted to the struct); other verbs
 * pass ret NULL.
 */
int cni_invoke(const struct cni_cmd *cmd, const char *type, enum cni_verb verb, const char *config,
	       size_t len, struct cni_result **ret, struct cni_error **err);

/* Full path of `type` in CNI_PATH (caller frees), or -1 with code 7 / 999. */
int cni_find_in_path(const char *cni_path, const char *type, char **ret, struct cni_error **err);

#endif
