/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "cnic-version.h"
#include "log.h"
#include "netns.h"
#include "skel.h"

extern char **environ;

static const char *const verb_names[] = {
	[CNI_VERB_ADD] = "ADD",		[CNI_VERB_DEL] = "DEL", [CNI_VERB_CHECK] = "CHECK",
	[CNI_VERB_VERSION] = "VERSION", [CNI_VERB_GC] = "GC",	[CNI_VERB_STATUS] = "STATUS",
};

const char *cni_verb_str(enum cni_verb v)
{
	return (unsigned int)v < ARRAY_SIZE(verb_names) ? verb_names[v] : "?";
}

static int verb_parse(const char *s, enum cni_verb *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(verb_names); i++) {
		if (strcmp(s, verb_names[i]) == 0) {
			*ret = (enum cni_verb)i;
			return 0;
		}
	}
	return -1;
}

const char *cni_getenv(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static const char *getenv_nonempty(char *const *envp, const char *name)
{
	const char *v = cni_getenv(envp, name);
	return v && *v ? v : NULL;
}

static bool parse_bool(const char *s)
{
	return s && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0);
}

/* ---- output ---------------------------------------------------------- */

/*
 * The reference prints errors with json.MarshalIndent(..., "", "    ") and
 * no trailing newline; libcni parses whatever JSON it gets, but keeping the
 * shape makes side-by-side diffs of the two implementations quiet.
 */
void cni_error_print(FILE *out, const struct cni_error *e, const char *cni_version)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "cniVersion", json_object_new_string(cni_version));
	json_object_object_add(o, "code", json_object_new_int((int)e->code));
	json_object_object_add(o, "msg", json_object_new_string(e->msg ? e->msg : ""));
	if (e->details && *e->details)
		json_object_object_add(o, "details", json_object_new_string(e->details));
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							JSON_C_TO_STRING_NOSLASHESCAPE),
	      out);
	json_object_put(o);
}

struct error_json {
	long long code;
	char *msg;
	char *details;
};

static int decode_code(const struct cni_json *v, void *dst, const char *path, struct cni_error **err)
{
	int code = 0;

	if (cni_json_decode_value(v, CNI_FIELD_INT, 1, INT_MAX, &code, path, err) < 0)
		return -1;
	*(long long *)dst = code;
	return 0;
}

/* types.Error's fields, matched by Go's rules like every other key. */
static const struct cni_field error_fields[] = {
	{ .key = "code",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = offsetof(struct error_json, code),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK,
	  .decode = decode_code },
	{ .key = "msg",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct error_json, msg),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "details",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct error_json, details),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

int cni_error_parse(const char *json, size_t len, struct cni_error **ret)
{
	struct cni_json *root = NULL;
	struct error_json j = { 0 };
	struct cni_error *perr = NULL, *e;
	int r;

	if (cni_json_parse(json, len, &root, &perr) < 0) {
		cni_error_free(perr);
		return -1;
	}
	r = cni_json_is_object(root) ? cni_json_decode(root, error_fields, &j, "", &perr) : -1;
	cni_json_free(root);
	cni_error_free(perr);
	if (r < 0)
		return -1;
	e = xcalloc(1, sizeof(*e));
	e->code = (unsigned int)j.code;
	e->msg = j.msg ? j.msg : xstrdup("");
	e->details = j.details;
	*ret = e;
	return 0;
}

static void print_supported(FILE *out, enum cni_version min, const char *sep, bool quoted)
{
	for (int v = min; v < CNI_V_COUNT; v++)
		fprintf(out, "%s%s%s%s", v == (int)min ? "" : sep, quoted ? "\"" : "",
			cni_version_str((enum cni_version)v), quoted ? "\"" : "");
}

static void print_about(const struct cni_plugin *p, FILE *out)
{
	fprintf(out, "CNI %s plugin (cnic) %s\nCNI protocol versions supported: ", p->name,
		CNIC_VERSION);
	print_supported(out, p->min_version, ", ", false);
	fputc('\n', out);
}

/*
 * VERSION: the reference answers with the newest version it implements
 * rather than echoing stdin (which it does not read); runtimes only look at
 * supportedVersions, and matching the reference keeps mixed fleets uniform.
 */
static void print_version(const struct cni_plugin *p, FILE *out)
{
	fprintf(out, "{\"cniVersion\":\"%s\",\"supportedVersions\":[",
		cni_version_str(CNI_VERSION_LATEST));
	print_supported(out, p->min_version, ",", true);
	fputs("]}\n", out);
}

/* ---- input ----------------------------------------------------------- */

/* A FILE without a descriptor (the unit tests' fmemopen): through stdio. */
static int read_stream(FILE *in, char **ret, size_t *ret_len, struct cni_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 0;

	for (;;) {
		size_t n, want;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap + 1);
		}
		want = cap - len;
		n = fread(buf + len, 1, want, in);
		len += n;
		if (len > CNI_MAX_STDIN)
			return cni_error_set(err, CNI_ERR_DECODE, 0,
					     "network configuration on stdin exceeds %u bytes",
					     CNI_MAX_STDIN);
		/* Short: fread already saw the end (or an error); asking again costs a read. */
		if (n < want) {
			if (ferror(in))
				return cni_error_errno(err, errno,
						       "reading network configuration from stdin");
			break;
		}
	}
	buf[len] = '\0';
	*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

/*
 * stdin straight from its descriptor into one buffer sized by what is
 * already waiting (FIONREAD: a pipe's or a file's unread bytes), grown only
 * if more comes: stdio would add a buffer of its own and an fstat, and an
 * 8 KiB guess touches pages a few hundred bytes of config never need.
 * Only the skeleton reads stdin, so the FILE has nothing buffered.
 */
static int read_stdin(FILE *in, char **ret, size_t *ret_len, struct cni_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0, cap;
	int fd = fileno(in), ready = 0;

	if (fd < 0)
		return read_stream(in, ret, ret_len, err);
	if (ioctl(fd, FIONREAD, &ready) < 0 || ready < 0)
		ready = 0;
	/* Room past what is there, so the read that sees the end needs no growth. */
	cap = (size_t)ready < CNI_MAX_STDIN ? (size_t)ready + 256 : CNI_MAX_STDIN + 1;
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap > CNI_MAX_STDIN)
				return cni_error_set(err, CNI_ERR_DECODE, 0,
						     "network configuration on stdin exceeds %u bytes",
						     CNI_MAX_STDIN);
			cap = cap * 2 < CNI_MAX_STDIN + 1 ? cap * 2 : CNI_MAX_STDIN + 1;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cni_error_errno(err, errno,
					       "reading network configuration from stdin");
		}
		len += (size_t)n;
	}
	if (len > CNI_MAX_STDIN)
		return cni_error_set(err, CNI_ERR_DECODE, 0,
				     "network configuration on stdin exceeds %u bytes",
				     CNI_MAX_STDIN);
	buf[len] = '\0';
	*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

struct env_rule {
	const char *name;
	unsigned int verbs; /* bit per enum cni_verb that requires it */
};

#define V(x) (1u << CNI_VERB_##x)
/* Same order as the reference, so "missing" lists read the same. */
static const struct env_rule env_rules[] = {
	{ "CNI_CONTAINERID", V(ADD) | V(DEL) | V(CHECK) },
	{ "CNI_NETNS", V(ADD) | V(CHECK) },
	{ "CNI_IFNAME", V(ADD) | V(DEL) | V(CHECK) },
	{ "CNI_PATH", V(ADD) | V(DEL) | V(CHECK) | V(GC) },
};

static int check_env(char *const *envp, enum cni_verb verb, struct cni_error **err)
{
	char missing[128] = "";
	size_t off = 0;

	for (size_t i = 0; i < ARRAY_SIZE(env_rules); i++) {
		if (!(env_rules[i].verbs & (1u << verb)) || getenv_nonempty(envp, env_rules[i].name))
			continue;
		off += (size_t)snprintf(missing + off, sizeof(missing) - off, "%s%s",
					off ? " " : "", env_rules[i].name);
	}
	if (off)
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
				     "required env variables [%s] missing", missing);
	return 0;
}

/*
 * Open CNI_NETNS once and check it really is a network namespace, so every
 * later step works on this fd and never on a path that could be swapped.
 * Returns the fd, -1 with *err set, or -2 when it does not exist / is not a
 * netns and the caller tolerates that (DEL: the netns is gone).
 */
static int open_netns(const char *path, bool tolerate_gone, struct netns_id *ret_id,
		      struct cni_error **err)
{
	cleanup_close int fd = -1;
	cleanup_error struct cni_error *check_err = NULL;

	/* O_NONBLOCK: a FIFO planted as CNI_NETNS must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (tolerate_gone)
			return -2;
		return cni_error_set(err, CNI_ERR_INVALID_ENV, errno,
				     "cannot open CNI_NETNS \"%s\": %s", path, strerror(errno));
	}
	if (netns_check_fd(fd, path, &check_err) < 0 ||
	    (netns_fd_id(fd, ret_id) < 0 &&
	     cni_error_errno(&check_err, errno, "netns \"%s\": fstat", path) < 0)) {
		if (tolerate_gone)
			return -2;
		cni_error_set(err, CNI_ERR_INVALID_ENV, check_err->errnum, "%s", check_err->msg);
		if (check_err->details)
			cni_error_add_details(err, "%s", check_err->details);
		return -1;
	}
	return TAKE_FD(fd);
}

/* ---- dispatch -------------------------------------------------------- */

struct invocation {
	struct cni_cmd cmd;
	char *stdin_buf;
	const char *version_str; /* for error JSON */
};

/*
 * A config rejected after its cniVersion was read still gets its error in
 * that version, as every other answer to it.
 */
static void remember_version(struct invocation *inv, const char *json, size_t len)
{
	struct cni_json *root = NULL;
	struct cni_error *e = NULL;
	enum cni_version v;
	const char *s;

	if (cni_json_parse(json, len, &root, &e) < 0) {
		cni_error_free(e);
		return;
	}
	s = cni_json_string(cni_json_get(root, "cniVersion"));
	if (s && cni_version_parse(s, &v) == 0)
		inv->version_str = *s ? cni_version_str(v) : "";
	cni_json_free(root);
}

static void invocation_free(struct invocation *inv)
{
	if (inv->cmd.netns_fd >= 0)
		(void)close(inv->cmd.netns_fd);
	cni_env_args_free(&inv->cmd.args);
	cni_netconf_free(inv->cmd.conf);
	free(inv->stdin_buf);
}

static int prepare(const struct cni_plugin *p, const struct cni_io *io, struct invocation *inv,
		   struct cni_error **err)
{
	struct cni_cmd *cmd = &inv->cmd;
	char *const *envp = io->envp;
	size_t len = 0;
	/* DEL and GC remove by tags: input they cannot use must not stop them. */
	bool lenient = cmd->verb == CNI_VERB_DEL || cmd->verb == CNI_VERB_GC;

	if (check_env(envp, cmd->verb, err) < 0)
		return -1;
	cmd->container_id = getenv_nonempty(envp, "CNI_CONTAINERID");
	cmd->netns = cni_getenv(envp, "CNI_NETNS");
	cmd->ifname = getenv_nonempty(envp, "CNI_IFNAME");
	cmd->path = cni_getenv(envp, "CNI_PATH");
	cmd->args_raw = cni_getenv(envp, "CNI_ARGS");
	cmd->envp = envp;

	if (cmd->container_id && !cni_valid_container_id(cmd->container_id))
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
				     "invalid characters in CNI_CONTAINERID \"%s\"",
				     cmd->container_id);
	if (cmd->ifname && !cni_valid_ifname(cmd->ifname))
		return cni_error_set(err, CNI_ERR_INVALID_ENV, 0,
				     "invalid CNI_IFNAME \"%s\": 1-15 characters without '/', ':' "
				     "or whitespace, not \".\" or \"..\"",
				     cmd->ifname);

	if (read_stdin(io->in, &inv->stdin_buf, &len, err) < 0)
		return -1;
	if (cni_netconf_parse_ex(inv->stdin_buf, len, lenient ? CNI_NETCONF_LENIENT : 0, &cmd->conf,
				 err) < 0) {
		remember_version(inv, inv->stdin_buf, len);
		return -1;
	}
	inv->version_str = cmd->conf->cni_version;

	if (cmd->conf->version < p->min_version) {
		cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0, "incompatible CNI versions");
		return cni_error_add_details(err, "config is \"%s\", plugin supports %s and later",
					     cmd->conf->cni_version, cni_version_str(p->min_version));
	}
	if (cmd->verb == CNI_VERB_CHECK && cmd->conf->version < CNI_V040)
		return cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0,
				     "config version does not allow CHECK");
	if ((cmd->verb == CNI_VERB_GC || cmd->verb == CNI_VERB_STATUS) &&
	    cmd->conf->version < CNI_V110)
		return cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0,
				     "config version does not allow %s", cni_verb_str(cmd->verb));

	/*
	 * Checked by the plugins that read CNI_ARGS (cni_env_args_check); DEL
	 * and GC never use it to find what to remove.
	 */
	cni_env_args_parse_lazy(cmd->args_raw, &cmd->args);
	if (cmd->args.invalid && lenient) {
		cni_log("ignoring CNI_ARGS: %s", cmd->args.invalid);
		free(cmd->args.invalid);
		cmd->args.invalid = NULL;
	}

	/*
	 * An IPAM plugin works on the caller's behalf and never enters the
	 * netns: it does not even open it (upstream's tests pass "/some/where").
	 */
	if (p->ipam)
		return 0;
	if (cmd->verb == CNI_VERB_ADD || cmd->verb == CNI_VERB_CHECK) {
		int fd = open_netns(cmd->netns, false, &cmd->netns_id, err);

		if (fd < 0)
			return -1;
		cmd->netns_fd = fd;
	} else if (cmd->verb == CNI_VERB_DEL && cmd->netns && *cmd->netns) {
		int fd = open_netns(cmd->netns, true, &cmd->netns_id, err);

		if (fd == -1)
			return -1;
		cmd->netns_fd = fd >= 0 ? fd : -1;
	}
	/*
	 * Refuse to act on the plugin's own namespace before doing anything
	 * (the reference checks only after ADD has already run): there, DEL
	 * would take the node's lo down or delete its eth0, and CHECK would
	 * judge the node's interfaces.
	 */
	if (cmd->netns_fd >= 0 && !parse_bool(cni_getenv(envp, "CNI_NETNS_OVERRIDE")) &&
	    netns_id_eq(&cmd->netns_id, netns_here()))
		return cni_error_set(err, CNI_ERR_INVALID_NETNS, 0,
				     "CNI_NETNS \"%s\" is the plugin's own network namespace",
				     cmd->netns);
	return 0;
}

/*
 * The result straight to the descriptor when stdout has one and nothing is
 * buffered in it yet: stdio would allocate a buffer (a fresh page) and
 * fstat the descriptor to size it, for one write.  A failed write leaves
 * the rest to stdio, whose error the caller's final flush reports.
 */
static void put_result(FILE *out, const char *json)
{
	size_t len = strlen(json), done = 0;
	int fd = fileno(out);

	if (fd >= 0 && __fpending(out) == 0) {
		while (done < len) {
			ssize_t n = write(fd, json + done, len - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			done += (size_t)n;
		}
	}
	if (done < len)
		fputs(json + done, out);
}

static int dispatch(const struct cni_plugin *p, const struct cni_io *io, struct invocation *inv,
		    struct cni_error **err)
{
	const struct cni_cmd *cmd = &inv->cmd;
	cleanup_result struct cni_result *result = NULL;
	cleanup_free char *json = NULL;

	switch (cmd->verb) {
	case CNI_VERB_ADD:
		if (p->add(cmd, &result, err) < 0)
			return -1;
		if (cni_result_print(result, cmd->conf->version, &json, err) < 0) {
			/*
			 * The ADD happened but its result cannot be expressed in
			 * the requested version (e.g. 0.2.0 without an address):
			 * undo it so the failure leaves nothing behind.
			 */
			if (p->del) {
				struct cni_error *del_err = NULL;

				(void)p->del(cmd, &del_err);
				cni_error_free(del_err);
			}
			return -1;
		}
		put_result(io->out, json);
		return 0;
	case CNI_VERB_DEL:
		return p->del(cmd, err);
	case CNI_VERB_CHECK:
		return p->check ? p->check(cmd, err) : 0;
	case CNI_VERB_GC:
		return p->gc ? p->gc(cmd, err) : 0;
	case CNI_VERB_STATUS:
		return p->status ? p->status(cmd, err) : 0;
	case CNI_VERB_VERSION:
		break;
	}
	return 0;
}

int cni_plugin_run(const struct cni_plugin *p, const struct cni_io *io)
{
	struct invocation inv = { .cmd = { .netns_fd = -1 } };
	cleanup_error struct cni_error *err = NULL;
	const char *command = getenv_nonempty(io->envp, "CNI_COMMAND");
	const char *log_path = getenv_nonempty(io->envp, "CNIC_LOG_FILE");
	int status = 0;

	if (!command) {
		print_about(p, io->err);
		return 0;
	}
	if (verb_parse(command, &inv.cmd.verb) < 0) {
		cni_error_set(&err, CNI_ERR_INVALID_ENV, 0, "unknown CNI_COMMAND: %s", command);
		goto out;
	}
	if (inv.cmd.verb == CNI_VERB_VERSION) {
		print_version(p, io->out);
		return 0;
	}
	if (log_path)
		cni_log_open(log_path, p->name, command,
			     getenv_nonempty(io->envp, "CNI_CONTAINERID"));

	if (prepare(p, io, &inv, &err) < 0 || dispatch(p, io, &inv, &err) < 0)
		goto out;
	cni_log("ok");
out:
	if (err) {
		const char *v = inv.version_str ? inv.version_str
						: cni_version_str(CNI_VERSION_LATEST);

		cni_log("error %u: %s%s%s", err->code, err->msg, err->details ? ": " : "",
			err->details ? err->details : "");
		cni_error_print(io->out, err, v);
		fprintf(io->err, "%s: %s%s%s\n", p->name, err->msg, err->details ? ": " : "",
			err->details ? err->details : "");
		status = 1;
	}
	fflush(io->out);
	cni_log_close();
	invocation_free(&inv);
	return status;
}

int cni_plugin_main(const struct cni_plugin *p)
{
	const struct cni_io io = { .envp = environ, .in = stdin, .out = stdout, .err = stderr };
	int status;

	/*
	 * A process that lives for one call: free() gives nothing back (a
	 * trim is a brk that unmaps pages the next allocation faults in
	 * again), and the heap is taken in one piece (pages never touched
	 * cost nothing).  As early as we get: only libnl's constructors
	 * allocated before.
	 */
	(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
	(void)mallopt(M_TOP_PAD, 1 << 20);
	status = cni_plugin_run(p, &io);

	/* A write error on stdout means the runtime got a truncated answer. */
	if (fflush(stdout) != 0 || ferror(stdout))
		status = status ? status : 1;
	return status;
}
