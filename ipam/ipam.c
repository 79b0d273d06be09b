/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "../pkg/cleanup.h"
#include "../pkg/invoke.h"
#include "config.h"
#include "internal.h"
#include "ipam.h"

enum builtin {
	NO_TYPE,
	EXTERNAL,
	HOST_LOCAL,
	STATIC,
};

static enum builtin builtin_of(const struct cni_cmd *cmd)
{
	const char *t = cmd->conf ? cmd->conf->ipam_type : NULL;

	if (!t || !*t)
		return NO_TYPE;
	if (strcmp(t, "host-local") == 0)
		return HOST_LOCAL;
	if (strcmp(t, "static") == 0)
		return STATIC;
	return EXTERNAL;
}

static int no_type(struct cni_error **err)
{
	return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "no IPAM type");
}

static int invoke(const struct cni_cmd *cmd, enum cni_verb verb, struct cni_result **ret,
		  struct cni_error **err)
{
	return cni_invoke(cmd, cmd->conf->ipam_type, verb, cmd->conf->raw, cmd->conf->raw_len, ret,
			  err);
}

int ipam_validate(const struct cni_cmd *cmd, struct cni_error **err)
{
	switch (builtin_of(cmd)) {
	case NO_TYPE:
		return no_type(err);
	case HOST_LOCAL: {
		cleanup_hl_conf struct ipam_hl_conf *c = NULL;

		return ipam_hl_conf_load(cmd, true, &c, err);
	}
	case STATIC: {
		cleanup_static_conf struct ipam_static_conf *c = NULL;

		return ipam_static_conf_load(cmd, &c, err);
	}
	default: {
		cleanup_free char *path = NULL;

		/* Its config is the delegate's business; that it can be run is ours. */
		return cni_find_in_path(cmd->path, cmd->conf->ipam_type, &path, err);
	}
	}
}

int ipam_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	switch (builtin_of(cmd)) {
	case NO_TYPE:
		return no_type(err);
	case HOST_LOCAL:
		return ipam_hl_add(cmd, ret, err);
	case STATIC:
		return ipam_static_add(cmd, ret, err);
	default:
		return invoke(cmd, CNI_VERB_ADD, ret, err);
	}
}

int ipam_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	switch (builtin_of(cmd)) {
	case NO_TYPE:
		return no_type(err);
	case HOST_LOCAL:
		return ipam_hl_del(cmd, err);
	case STATIC:
		return ipam_static_del(cmd, err);
	default:
		return invoke(cmd, CNI_VERB_DEL, NULL, err);
	}
}

int ipam_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	switch (builtin_of(cmd)) {
	case NO_TYPE:
		return no_type(err);
	case HOST_LOCAL:
		return ipam_hl_check(cmd, err);
	case STATIC:
		return ipam_static_check(cmd, err);
	default:
		return invoke(cmd, CNI_VERB_CHECK, NULL, err);
	}
}

int ipam_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	switch (builtin_of(cmd)) {
	case NO_TYPE:
		return no_type(err);
	case HOST_LOCAL:
		return ipam_hl_gc(cmd, err);
	case STATIC:
		return 0; /* no state */
	default:
		return invoke(cmd, CNI_VERB_GC, NULL, err);
	}
}

int ipam_status(const struct cni_cmd *cmd, struct cni_error **err)
{
	switch (builtin_of(cmd)) {
	case NO_TYPE:
		return no_type(err);
	case HOST_LOCAL:
		return ipam_hl_status(cmd, err);
	case STATIC:
		return 0; /* always ready */
	default:
		return invoke(cmd, CNI_VERB_STATUS, NULL, err);
	}
}

int ipam_plugin_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	return cmd->conf->ipam_type ? ipam_gc(cmd, err) : 0;
}

int ipam_plugin_status(const struct cni_cmd *cmd, struct cni_error **err)
{
	return cmd->conf->ipam_type ? ipam_status(cmd, err) : 0;
}
