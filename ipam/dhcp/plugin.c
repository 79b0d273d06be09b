/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dhcp CNI plugin: validates the config, turns request/provide into
 * option codes and values, and asks the daemon (see dhcp.h for the
 * protocol).  ADD prints the lease as the result, DEL releases it, CHECK
 * asks the daemon whether the lease is live and on the interface.
 */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../pkg/cleanup.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "dhcp.h"
#include "internal.h"

/* Longer than the daemon's default bound on an acquisition (-resendtimeout 208s). */
#define PLUGIN_WAIT_MS (300 * 1000)

struct req_raw {
	bool skip_default;
	char *option;
};

static const struct cni_field req_fields[] = {
	{ .key = "skipDefault",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct req_raw, skip_default),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "option",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct req_raw, option),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

struct prov_raw {
	char *option;
	char *value;
	char *from_arg;
};

static const struct cni_field prov_fields[] = {
	{ .key = "option",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct prov_raw, option),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "value",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct prov_raw, value),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "fromArg",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct prov_raw, from_arg),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

struct ipam_raw {
	char *socket;
	int priority;
};

static const struct cni_field ipam_fields[] = {
	{ .key = "daemonSocketPath",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct ipam_raw, socket),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "priority",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct ipam_raw, priority),
	  .flags = CNI_FIELD_NULL_OK,
	  .min = INT_MIN,
	  .max = INT_MAX },
	{ 0 },
};

int dhcp_plugin_conf(const struct cni_cmd *cmd, struct dhcp_plugin_conf *c, struct cni_error **err)
{
	const struct cni_json *ipam = cni_json_get(cni_netconf_root(cmd->conf), "ipam");
	const struct cni_json *arr;
	struct ipam_raw raw = { 0 };
	bool skip_default = false;

	memset(c, 0, sizeof(*c));
	if (cni_json_decode(ipam, ipam_fields, &raw, "ipam", err) < 0)
		return -1;
	c->socket = raw.socket && *raw.socket ? raw.socket
					      : (free(raw.socket), xstrdup(DHCP_DEFAULT_SOCKET));
	c->priority = raw.priority;
	if (strlen(c->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipam.daemonSocketPath: \"%s\" is too long for a unix socket",
				     c->socket);

	arr = ipam ? cni_json_get(ipam, "provide") : NULL;
	if (arr && !cni_json_is_null(arr) && !cni_json_is_array(arr))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipam.provide: expected an array");
	for (size_t i = 0; arr && i < cni_json_array_len(arr); i++) {
		struct prov_raw p = { 0 };
		cleanup_free char *path = cni_json_path_index("ipam.provide", i);
		const char *vals[2];
		int code;

		if (cni_json_decode(cni_json_array_get(arr, i), prov_fields, &p, path, err) < 0)
			return -1;
		code = dhcp_option_code(p.option ? p.option : "");
		vals[0] = p.value && *p.value ? p.value : NULL;
		vals[1] = p.from_arg ? cni_env_args_get(&cmd->args, p.from_arg) : NULL;
		for (int k = 0; k < 2 && code >= 0; k++) {
			struct dhcp_opt *o;

			if (!vals[k])
				continue;
			if (strlen(vals[k]) > 255) {
				cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					      k ? "value too long for option \"%s\" from CNI_ARGS \"%s\""
						: "value too long for option \"%s\"%s",
					      p.option, k ? p.from_arg : "");
				cni_fields_free(prov_fields, &p);
				return -1;
			}
			if (c->opts.n_provide == DHCP_MAX_PROVIDE) {
				cni_fields_free(prov_fields, &p);
				return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
						     "ipam.provide: more than %d options",
						     DHCP_MAX_PROVIDE);
			}
			o = &c->opts.provide[c->opts.n_provide++];
			o->code = (uint8_t)code;
			o->len = (uint8_t)strlen(vals[k]);
			memcpy(o->val, vals[k], o->len);
		}
		if (code < 0) {
			cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				      "%s.option: Can not parse option \"%s\"", path,
				      p.option ? p.option : "");
			cni_fields_free(prov_fields, &p);
			return -1;
		}
		cni_fields_free(prov_fields, &p);
	}

	arr = ipam ? cni_json_get(ipam, "request") : NULL;
	if (arr && !cni_json_is_null(arr) && !cni_json_is_array(arr))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "ipam.request: expected an array");
	for (size_t i = 0; arr && i < cni_json_array_len(arr); i++) {
		struct req_raw r = { 0 };
		cleanup_free char *path = cni_json_path_index("ipam.request", i);
		int code;

		if (cni_json_decode(cni_json_array_get(arr, i), req_fields, &r, path, err) < 0)
			return -1;
		skip_default |= r.skip_default;
		if (!r.option || !*r.option) {
			cni_fields_free(req_fields, &r);
			continue;
		}
		code = dhcp_option_code(r.option);
		if (code < 0) {
			cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				      "%s.option: Can not parse option \"%s\"", path, r.option);
			cni_fields_free(req_fields, &r);
			return -1;
		}
		cni_fields_free(req_fields, &r);
		if (!memchr(c->opts.request, code, c->opts.n_request))
			c->opts.request[c->opts.n_request++] = (uint8_t)code;
	}
	if (!skip_default) {
		static const uint8_t defaults[] = { OPT_ROUTER, OPT_SUBNET_MASK };

		for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
			if (!memchr(c->opts.request, defaults[i], c->opts.n_request))
				c->opts.request[c->opts.n_request++] = defaults[i];
	}
	return 0;
}

void dhcp_plugin_conf_free(struct dhcp_plugin_conf *c)
{
	free(c->socket);
	c->socket = NULL;
}

static char *build_request(const struct cni_cmd *cmd, const struct dhcp_plugin_conf *c,
			   const char *verb)
{
	struct json_object *o = json_object_new_object(), *prov = json_object_new_array(),
			   *req = json_object_new_array();
	char *netns = NULL, *s;

	if (cmd->netns && *cmd->netns && cmd->netns[0] != '/') {
		/* the daemon runs elsewhere: make the path absolute, as the reference */
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)))
			netns = xasprintf("%s/%s", cwd, cmd->netns);
	}
	json_object_object_add(o, "cmd", json_object_new_string(verb));
	json_object_object_add(o, "containerID", json_object_new_string(cmd->container_id));
	json_object_object_add(o, "netName", json_object_new_string(cmd->conf->name));
	json_object_object_add(o, "ifName", json_object_new_string(cmd->ifname));
	json_object_object_add(o, "netns",
			       json_object_new_string(netns	   ? netns
						      : cmd->netns ? cmd->netns
								   : ""));
	for (size_t i = 0; i < c->opts.n_provide; i++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "code", json_object_new_int(c->opts.provide[i].code));
		json_object_object_add(p, "value",
				       json_object_new_string_len((const char *)c->opts.provide[i].val,
								  c->opts.provide[i].len));
		json_object_array_add(prov, p);
	}
	for (size_t i = 0; i < c->opts.n_request; i++)
		json_object_array_add(req, json_object_new_int(c->opts.request[i]));
	json_object_object_add(o, "provide", prov);
	json_object_object_add(o, "request", req);
	s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	free(netns);
	return s;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One round trip with the daemon; *ret is its answer (NUL-terminated). */
static int call_daemon(const char *socket_path, const char *req, char **ret, size_t *ret_len,
		       struct cni_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t len = 0, n = strlen(req), off = 0;
	uint64_t end = now_ms() + PLUGIN_WAIT_MS;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cni_error_errno(err, errno, "error dialing DHCP daemon: socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cni_error_set(err, CNI_ERR_TRY_AGAIN, errno,
				     "error dialing DHCP daemon at \"%s\": %s (is `dhcp daemon` running?)",
				     socket_path, strerror(errno));
	while (off < n) {
		ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return cni_error_errno(err, errno, "error calling DHCP daemon: send");
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	buf = xmalloc(DHCP_MAX_MSG + 1);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t r;
		int pr;

		if (now >= end)
			return cni_error_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
					     "no answer from the DHCP daemon within %d s",
					     PLUGIN_WAIT_MS / 1000);
		pr = poll(&p, 1, (int)(end - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return cni_error_errno(err, errno, "error calling DHCP daemon: poll");
		if (pr == 0)
			continue;
		r = read(fd, buf + len, DHCP_MAX_MSG - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cni_error_errno(err, errno, "error calling DHCP daemon: read");
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == DHCP_MAX_MSG)
			return cni_error_set(err, CNI_ERR_INTERNAL, 0, "DHCP daemon answer too long");
	}
	if (len == 0)
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "the DHCP daemon closed the connection without an answer");
	buf[len] = 0;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* Send verb; on success *ret (may be NULL) gets the result. */
static int dhcp_call(const struct cni_cmd *cmd, const char *verb, struct cni_result **ret,
		     struct cni_error **err)
{
	struct dhcp_plugin_conf c;
	cleanup_free char *req = NULL, *ans = NULL;
	struct cni_json *root = NULL;
	const struct cni_json *v;
	size_t len = 0;
	int r = -1;

	if (dhcp_plugin_conf(cmd, &c, err) < 0) {
		dhcp_plugin_conf_free(&c);
		return -1;
	}
	req = build_request(cmd, &c, verb);
	if (call_daemon(c.socket, req, &ans, &len, err) < 0)
		goto out;
	if (cni_json_parse(ans, len, &root, err) < 0) {
		cni_error_wrap(err, "DHCP daemon answer");
		goto out;
	}
	if ((v = cni_json_get(root, "error")) && cni_json_is_object(v)) {
		cleanup_free char *s = cni_json_serialize(v);
		struct cni_error *e = NULL;

		if (cni_error_parse(s, strlen(s), &e) < 0) {
			cni_error_set(err, CNI_ERR_INTERNAL, 0, "DHCP daemon: unreadable error");
		} else {
			cni_error_move(err, &e);
		}
		goto out;
	}
	if (!(v = cni_json_get(root, "result")) || !cni_json_is_object(v)) {
		cni_error_set(err, CNI_ERR_INTERNAL, 0,
			      "DHCP daemon answer has neither result nor error");
		goto out;
	}
	if (ret) {
		cleanup_free char *s = cni_json_serialize(v);
		struct cni_result *res = NULL;

		if (cni_result_parse(s, strlen(s), CNI_V110, &res, err) < 0) {
			cni_error_wrap(err, "DHCP daemon result");
			goto out;
		}
		if (c.priority)
			for (size_t i = 0; i < res->routes.n; i++)
				res->routes.v[i].priority = c.priority;
		*ret = res;
	}
	r = 0;
out:
	cni_json_free(root);
	dhcp_plugin_conf_free(&c);
	return r;
}

static int plugin_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	return dhcp_call(cmd, "add", ret, err);
}

static int plugin_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	return dhcp_call(cmd, "del", NULL, err);
}

static int plugin_check(const struct cni_cmd *cmd, struct cni_error **err)
{
	return dhcp_call(cmd, "check", NULL, err);
}

const struct cni_plugin dhcp_plugin = {
	.name = "dhcp",
	.add = plugin_add,
	.del = plugin_del,
	.check = plugin_check,
	.ipam = true,
};
