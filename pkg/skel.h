/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin skeleton: reads and validates the environment and stdin,
 * dispatches the verb, prints the result or error.  The only code that
 * writes stdout or decides the exit status.
 *
 * Before any callback runs:
 *  - CNI_COMMAND is known; the env vars the verb needs are present
 *    (ADD/CHECK: CONTAINERID, NETNS, IFNAME, PATH; DEL: CONTAINERID,
 *    IFNAME, PATH; GC: PATH; STATUS: none), else code 4 naming them;
 *  - CNI_CONTAINERID matches ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$, CNI_IFNAME is
 *    1-15 chars without '/', ':' or whitespace and not "." or "..";
 *  - stdin is at most CNI_MAX_STDIN bytes and parses (cni_netconf_parse);
 *  - cniVersion is supported by the plugin and allows the verb
 *    (CHECK >= 0.4.0, GC/STATUS >= 1.1.0), else code 1;
 *  - CNI_ARGS parses;
 *  - for ADD and CHECK, except in IPAM plugins, CNI_NETNS is opened (O_CLOEXEC) and must be a
 *    network namespace (nsfs or procfs, type CLONE_NEWNET); for ADD it must
 *    not be the plugin's own unless CNI_NETNS_OVERRIDE is 1/true.  For DEL
 *    a missing path, or one that is not a network namespace, leaves
 *    netns_fd at -1 (the netns is gone: DEL cleans up the rest).
 * VERSION needs only CNI_COMMAND and ignores stdin; no CNI_COMMAND prints
 * the "about" text to stderr and exits 0.  A verb the plugin has no
 * callback for (GC, STATUS) succeeds with no output, as the spec says.
 */
#ifndef CNIC_SKEL_H
#define CNIC_SKEL_H

#include <stdio.h>

#include "error.h"
#include "netns.h"
#include "types.h"

enum cni_verb {
	CNI_VERB_ADD,
	CNI_VERB_DEL,
	CNI_VERB_CHECK,
	CNI_VERB_VERSION,
	CNI_VERB_GC,
	CNI_VERB_STATUS,
};

const char *cni_verb_str(enum cni_verb v);

struct cni_cmd {
	enum cni_verb verb;
	const char *container_id; /* NULL when the verb has none */
	const char *netns;	  /* CNI_NETNS as given, may be NULL or "" */
	int netns_fd;		  /* validated netns, or -1 (see above) */
	struct netns_id netns_id; /* of netns_fd: netns_from_checked_fd() */
	const char *ifname;
	const char *path; /* CNI_PATH */
	const char *args_raw;
	struct cni_env_args args;
	struct cni_netconf *conf; /* NULL for VERSION */
	char *const *envp;	  /* whole environment, for delegation */
};

struct cni_plugin {
	const char *name; /* "bridge", ... for the about text */
	int (*add)(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err);
	int (*del)(const struct cni_cmd *cmd, struct cni_error **err);
	int (*check)(const struct cni_cmd *cmd, struct cni_error **err);
	int (*gc)(const struct cni_cmd *cmd, struct cni_error **err);
	int (*status)(const struct cni_cmd *cmd, struct cni_error **err);
	enum cni_version min_version; /* lowest supported, default 0.1.0 */
	/* IPAM plugins: never open CNI_NETNS (the caller owns it), only check it is set. */
	bool ipam;
};

struct cni_io {
	char *const *envp;
	FILE *in;
	FILE *out;
	FILE *err;
};

/* Run one invocation with injected I/O; returns the exit status. */
int cni_plugin_run(const struct cni_plugin *p, const struct cni_io *io);
/* The real process: environ, stdin, stdout, stderr. */
int cni_plugin_main(const struct cni_plugin *p);

/* Print err as the spec's error JSON (cniVersion, code, msg, details). */
void cni_error_print(FILE *out, const struct cni_error *e, const char *cni_version);

/* Parse a plugin's error JSON ({code, msg, details}); 0, or -1 if it is not one. */
int cni_error_parse(const char *json, size_t len, struct cni_error **ret);

/* The value of name in envp, or NULL. */
const char *cni_getenv(char *const *envp, const char *name);

#endif
