/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole plugin front end (pkg/skel.c): environment validation, stdin,
 * version checks, CNI_ARGS, dispatch and output, with a fake plugin.
 *
 * Input: one byte picking CNI_COMMAND (a verb, an unknown one, or none),
 * then three lines - CNI_CONTAINERID, CNI_IFNAME, CNI_ARGS (an empty line
 * leaves the variable unset) - then stdin.  ADD/CHECK run against the
 * harness's own netns with CNI_NETNS_OVERRIDE=1; DEL gets a netns path
 * that does not exist.
 *
 * Invariants: the exit status is 0 or 1; on 1, stdout holds exactly one
 * error JSON with a code and a message (what libcni parses); on 0, stdout
 * holds a result for ADD (parsable, in the config's version), the version
 * JSON for VERSION, and nothing for the other verbs; the callbacks only
 * ever see validated input; no fd is leaked.
 */
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "fuzz.h"

static bool called;

static void check_cmd(const struct cni_cmd *cmd)
{
	called = true;
	FUZZ_CHECK(cmd->conf && cmd->conf->name && cni_valid_network_name(cmd->conf->name),
		   "callback got an unvalidated config");
	if (cmd->container_id)
		FUZZ_CHECK(cni_valid_container_id(cmd->container_id),
			   "callback got a bad container id");
	if (cmd->ifname)
		FUZZ_CHECK(cni_valid_ifname(cmd->ifname), "callback got a bad ifname");
	if (cmd->verb == CNI_VERB_ADD || cmd->verb == CNI_VERB_CHECK || cmd->verb == CNI_VERB_DEL)
		FUZZ_CHECK(cmd->container_id && cmd->ifname,
			   "callback without container id / ifname");
	if (cmd->verb == CNI_VERB_ADD || cmd->verb == CNI_VERB_CHECK)
		FUZZ_CHECK(cmd->netns_fd >= 0, "ADD/CHECK without a netns fd");
	if (cmd->verb == CNI_VERB_CHECK)
		FUZZ_CHECK(cmd->conf->version >= CNI_V040, "CHECK below 0.4.0");
	if (cmd->verb == CNI_VERB_GC || cmd->verb == CNI_VERB_STATUS)
		FUZZ_CHECK(cmd->conf->version >= CNI_V110, "GC/STATUS below 1.1.0");
}

static int fake_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	struct cni_result *r;
	struct cni_ip *ip;

	check_cmd(cmd);
	if (cmd->conf->prev_result) {
		*ret = cni_result_dup(cmd->conf->prev_result);
		return 0;
	}
	r = cni_result_new();
	ip = cni_result_add_ip(r);
	ip->interface = cni_result_add_iface(r, cmd->ifname, "02:00:00:00:00:01", cmd->netns);
	FUZZ_CHECK(ipnet_parse("198.18.0.2/24", &ip->address) == 0, "ipnet_parse");
	*ret = r;
	return 0;
}

static int fake_verb(const struct cni_cmd *cmd, struct cni_error **err)
{
	check_cmd(cmd);
	return 0;
}

static const struct cni_plugin plugin = {
	.name = "fuzz",
	.add = fake_add,
	.del = fake_verb,
	.check = fake_verb,
	.gc = fake_verb,
	.status = fake_verb,
};

static const char *const commands[] = { "ADD", "DEL",	 "CHECK", "VERSION",
					"GC",  "STATUS", "BOGUS", NULL };

/* The next line of data (cut at NUL or '\n'), advancing past it. */
static char *next_line(const uint8_t **data, size_t *size)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	char *s = fuzz_cstr(*data, n);

	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *cid = NULL, *ifname = NULL, *args = NULL, *e_cmd = NULL, *e_cid = NULL,
			  *e_if = NULL, *e_args = NULL, *out = NULL, *errs = NULL;
	const char *command, *e_netns;
	char *envp[10];
	size_t n = 0, out_len = 0, err_len = 0;
	FILE *in, *fo, *fe;
	int fd0 = fuzz_lowest_fd(), status;

	if (size < 1)
		return 0;
	command = commands[data[0] % ARRAY_SIZE(commands)];
	data++, size--;
	cid = next_line(&data, &size);
	ifname = next_line(&data, &size);
	args = next_line(&data, &size);

	if (command)
		envp[n++] = e_cmd = xasprintf("CNI_COMMAND=%s", command);
	if (*cid)
		envp[n++] = e_cid = xasprintf("CNI_CONTAINERID=%s", cid);
	if (*ifname)
		envp[n++] = e_if = xasprintf("CNI_IFNAME=%s", ifname);
	if (*args)
		envp[n++] = e_args = xasprintf("CNI_ARGS=%s", args);
	e_netns = command && strcmp(command, "DEL") == 0 ? "CNI_NETNS=/nonexistent/netns"
							 : "CNI_NETNS=/proc/self/ns/net";
	envp[n++] = (char *)e_netns;
	envp[n++] = (char *)"CNI_NETNS_OVERRIDE=1";
	envp[n++] = (char *)"CNI_PATH=/nonexistent";
	envp[n] = NULL;

	in = size ? fmemopen((void *)data, size, "r") : fopen("/dev/null", "re");
	fo = open_memstream(&out, &out_len);
	fe = open_memstream(&errs, &err_len);
	FUZZ_CHECK(in && fo && fe, "stdio setup");
	called = false;
	{
		const struct cni_io io = { .envp = envp, .in = in, .out = fo, .err = fe };

		status = cni_plugin_run(&plugin, &io);
	}
	fclose(in);
	fclose(fo);
	fclose(fe);

	FUZZ_CHECK(status == 0 || status == 1, "exit status %d", status);
	if (status == 1) {
		struct cni_error *e = NULL;

		FUZZ_CHECK(cni_error_parse(out, out_len, &e) == 0 && e->msg && *e->msg,
			   "failure without error JSON on stdout: %s", out);
		FUZZ_CHECK(err_len > 0, "failure without a line on stderr");
		cni_error_free(e);
	} else if (command && strcmp(command, "ADD") == 0) {
		struct cni_result *r = NULL;
		struct cni_error *e = NULL;

		FUZZ_CHECK(called, "ADD succeeded without the callback");
		FUZZ_CHECK(cni_result_parse(out, out_len, CNI_V010, &r, &e) == 0,
			   "ADD printed an unparsable result: %s\n%s", e ? e->msg : "", out);
		cni_result_free(r);
	} else if (command && strcmp(command, "VERSION") == 0) {
		struct cni_json *j = NULL;
		struct cni_error *e = NULL;

		FUZZ_CHECK(cni_json_parse(out, out_len, &j, &e) == 0, "VERSION output: %s", out);
		cni_json_free(j);
	} else {
		FUZZ_CHECK(out_len == 0, "%s printed on success: %s", command ? command : "(none)",
			   out);
	}
	FUZZ_CHECK(fuzz_lowest_fd() == fd0, "fd leaked");
	return 0;
}
