/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request configuration (stdin) and the name validators shared with
 * the skeleton.  Everything a plugin reads from the common keys is checked
 * here, before any plugin code runs.
 */
#include <limits.h>
#include <string.h>

#include "log.h"
#include "types_internal.h"

/* ---- validators ------------------------------------------------------- */

/* ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$, the reference's rule for container IDs and network names. */
static bool valid_cni_name(const char *s, size_t max)
{
	size_t n;

	if (!s || !*s)
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (n == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return n <= max;
}

/*
 * The reference sets no length limit; ours keep names usable in paths and
 * nft comments.  Runtimes use 64-character IDs.
 */
#define MAX_CONTAINER_ID 1024
/* The network name becomes a directory name (host-local's store): NAME_MAX. */
#define MAX_NETWORK_NAME 255

bool cni_valid_container_id(const char *s)
{
	return valid_cni_name(s, MAX_CONTAINER_ID);
}

/* The first-character rule already excludes ".", ".." and any '/'. */
bool cni_valid_network_name(const char *s)
{
	return valid_cni_name(s, MAX_NETWORK_NAME);
}

/* Length of a Unicode whitespace character (Go's unicode.IsSpace) at s, or 0. */
static size_t unicode_space_len(const unsigned char *s)
{
	if (s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) /* U+1680 */
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
		return 3;
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) /* U+205F */
		return 3;
	if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
		return 3;
	return 0;
}

/*
 * As the reference (1-15 bytes, not "." or "..", no '/', ':' or Unicode
 * whitespace) plus no control characters: the name is written into
 * host-local's store files as "<id>\r\n<ifname>".
 */
bool cni_valid_ifname(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '/' || *p == ':' || *p == ' ' || *p < 0x20 || *p == 0x7f)
			return false;
		if (unicode_space_len(p))
			return false;
	}
	return true;
}

bool cni_valid_plugin_type(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > MAX_NETWORK_NAME || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

/* ---- netconf ---------------------------------------------------------- */

void cni_netconf_free(struct cni_netconf *c)
{
	if (!c)
		return;
	free(c->cni_version);
	free(c->name);
	free(c->type);
	free(c->ipam_type);
	cni_dns_free(&c->dns);
	strv_free(&c->rc.ips);
	free(c->rc.mac);
	for (size_t i = 0; i < c->rc.n_port_mappings; i++)
		free(c->rc.port_mappings[i].protocol);
	free(c->rc.port_mappings);
	free(c->rc.device_id);
	free(c->rc.infiniband_guid);
	strv_free(&c->rc.aliases);
	free(c->rc.cgroup_path);
	strv_free(&c->args_ips);
	free(c->args_mac);
	cni_result_free(c->prev_result);
	for (size_t i = 0; i < c->n_valid_attachments; i++) {
		free(c->valid_attachments[i].container_id);
		free(c->valid_attachments[i].ifname);
	}
	free(c->valid_attachments);
	free(c->raw);
	json_object_put(cnij_unwrap(c->root));
	free(c);
}

void cni_netconf_freep(struct cni_netconf **c)
{
	cni_netconf_free(*c);
	*c = NULL;
}

/* "ips" from runtimeConfig or args: addresses with an optional prefix, kept as written. */
static int check_ip_list(const struct strv *v, const char *path, struct cni_error **err)
{
	for (size_t i = 0; i < v->n; i++) {
		struct ipnet n;

		if (ipnet_parse_maybe_prefix(v->v[i], &n, NULL) < 0)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "%s[%zu]: invalid IP address \"%s\"", path, i, v->v[i]);
	}
	return 0;
}

struct port_mapping_json {
	int host_port, container_port;
	char *protocol;
	char *host_ip;
};

static const struct cni_field port_mapping_fields[] = {
	/* Any int here; the range is checked below, in the reference's words. */
	{ .key = "hostPort",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct port_mapping_json, host_port),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "containerPort",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct port_mapping_json, container_port),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "protocol",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct port_mapping_json, protocol),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "hostIP",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct port_mapping_json, host_ip),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

/* A JSON object decoded by fields into dst; anything else is refused as such. */
static int decode_object(const struct cni_json *v, const struct cni_field *fields, void *dst,
			 const char *path, struct cni_error **err)
{
	if (!cni_json_is_object(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected an object", path);
	return cni_json_decode(v, fields, dst, path, err);
}

static int decode_port_mapping(const struct cni_json *v, struct cni_port_mapping *pm,
			       const char *path, struct cni_error **err)
{
	struct port_mapping_json j = { 0 };
	int r = -1;

	if (decode_object(v, port_mapping_fields, &j, path, err) < 0)
		return -1;
	/* The reference's checks and messages, container port first; details name the key. */
	if (j.container_port <= 0 || j.container_port > 65535) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "Invalid container port number: %d",
			      j.container_port);
		cni_error_add_details(err, "%s.containerPort: a port is 1-65535", path);
		goto out;
	}
	if (j.host_port <= 0 || j.host_port > 65535) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "Invalid host port number: %d",
			      j.host_port);
		cni_error_add_details(err, "%s.hostPort: a port is 1-65535", path);
		goto out;
	}
	/*
	 * The reference passes protocol verbatim to iptables/nft; we only
	 * know how to map these three, and say so before touching anything.
	 */
	if (!j.protocol || !*j.protocol) {
		free(j.protocol);
		j.protocol = xstrdup("tcp");
	}
	for (char *p = j.protocol; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
	if (strcmp(j.protocol, "tcp") != 0 && strcmp(j.protocol, "udp") != 0 &&
	    strcmp(j.protocol, "sctp") != 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			      "%s.protocol: unsupported protocol \"%s\" (tcp, udp or sctp)", path,
			      j.protocol);
		goto out;
	}
	memset(pm, 0, sizeof(*pm));
	if (j.host_ip && *j.host_ip && ipaddr_parse(j.host_ip, &pm->host_ip) < 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			      "%s.hostIP: invalid IP address \"%s\"", path, j.host_ip);
		goto out;
	}
	pm->host_port = j.host_port;
	pm->container_port = j.container_port;
	pm->protocol = TAKE_PTR(j.protocol);
	r = 0;
out:
	cni_fields_free(port_mapping_fields, &j);
	return r;
}

static int decode_port_mappings(const struct cni_json *v, void *dst, const char *path,
				struct cni_error **err)
{
	struct cni_runtime_config *rc = dst;
	size_t n = cni_json_array_len(v);

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected an array", path);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = cni_json_path_index(path, i);
		struct cni_port_mapping *pm =
			xappend(&rc->port_mappings, &rc->n_port_mappings, sizeof(*pm));

		if (decode_port_mapping(cni_json_array_get(v, i), pm, p, err) < 0)
			return -1;
	}
	return 0;
}

static void free_port_mappings(void *dst)
{
	struct cni_runtime_config *rc = dst;

	for (size_t i = 0; i < rc->n_port_mappings; i++)
		free(rc->port_mappings[i].protocol);
	free(rc->port_mappings);
	rc->port_mappings = NULL;
	rc->n_port_mappings = 0;
}

static const struct cni_field bandwidth_fields[] = {
	{ .key = "ingressRate",
	  .kind = CNI_FIELD_UINT64,
	  .offset = offsetof(struct cni_bandwidth, ingress_rate),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "ingressBurst",
	  .kind = CNI_FIELD_UINT64,
	  .offset = offsetof(struct cni_bandwidth, ingress_burst),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "egressRate",
	  .kind = CNI_FIELD_UINT64,
	  .offset = offsetof(struct cni_bandwidth, egress_rate),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "egressBurst",
	  .kind = CNI_FIELD_UINT64,
	  .offset = offsetof(struct cni_bandwidth, egress_burst),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static int decode_bandwidth(const struct cni_json *v, void *dst, const char *path,
			    struct cni_error **err)
{
	return decode_object(v, bandwidth_fields, dst, path, err);
}

/*
 * port_mappings sits at offset 0 of the custom field so the decoder gets the
 * whole runtime config (it fills two members).
 */
static const struct cni_field runtime_config_fields[] = {
	{ .key = "ips",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct cni_runtime_config, ips),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mac",
	  .kind = CNI_FIELD_MAC,
	  .offset = offsetof(struct cni_runtime_config, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "portMappings",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = 0,
	  .present = offsetof(struct cni_runtime_config, has_port_mappings),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .decode = decode_port_mappings,
	  .free = free_port_mappings },
	{ .key = "bandwidth",
	  .kind = CNI_FIELD_CUSTOM,
	  .offset = offsetof(struct cni_runtime_config, bandwidth),
	  .present = offsetof(struct cni_runtime_config, has_bandwidth),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .decode = decode_bandwidth },
	{ .key = "deviceID",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_runtime_config, device_id),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "infinibandGUID",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_runtime_config, infiniband_guid),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "aliases",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct cni_runtime_config, aliases),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "cgroupPath",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_runtime_config, cgroup_path),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

struct args_cni {
	struct strv ips;
	char *mac;
};

static const struct cni_field args_cni_fields[] = {
	{ .key = "ips",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct args_cni, ips),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "mac",
	  .kind = CNI_FIELD_MAC,
	  .offset = offsetof(struct args_cni, mac),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static int decode_args_cni(const struct cni_json *v, void *dst, const char *path,
			   struct cni_error **err)
{
	return decode_object(v, args_cni_fields, dst, path, err);
}

static void free_args_cni(void *dst)
{
	cni_fields_free(args_cni_fields, dst);
}

static const struct cni_field args_fields[] = {
	{ .key = "cni",
	  .kind = CNI_FIELD_CUSTOM,
	  .flags = CNI_FIELD_NULL_OK,
	  .decode = decode_args_cni,
	  .free = free_args_cni },
	{ 0 },
};

struct ipam_json {
	char *type;
};

static const struct cni_field ipam_fields[] = {
	{ .key = "type",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct ipam_json, type),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static const struct cni_field attachment_fields[] = {
	{ .key = "containerID",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_attachment, container_id),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ .key = "ifname",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_attachment, ifname),
	  .flags = CNI_FIELD_REQUIRED | CNI_FIELD_NULL_OK },
	{ 0 },
};

static int decode_attachments(struct cni_netconf *c, const struct cni_json *v, const char *path,
			      struct cni_error **err)
{
	size_t n = cni_json_array_len(v);

	if (!cni_json_is_array(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected an array", path);
	c->has_valid_attachments = true;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = cni_json_path_index(path, i);
		const struct cni_json *e = cni_json_array_get(v, i);
		struct cni_attachment *a =
			xappend(&c->valid_attachments, &c->n_valid_attachments, sizeof(*a));

		if (decode_object(e, attachment_fields, a, p, err) < 0)
			return -1;
	}
	return 0;
}

static const struct cni_field common_fields[] = {
	{ .key = "type",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct cni_netconf, type),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "ipMasq",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct cni_netconf, ip_masq),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "dns",
	  .kind = CNI_FIELD_DNS,
	  .offset = offsetof(struct cni_netconf, dns),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

static int supported_versions_details(struct cni_error **err, const char *given)
{
	char list[128] = "";

	for (int v = 0; v < CNI_V_COUNT; v++) {
		strcat(list, v ? " \"" : "\"");
		strcat(list, cni_version_str((enum cni_version)v));
		strcat(list, "\"");
	}
	return cni_error_add_details(err, "config is \"%s\", plugin supports [%s]", given, list);
}

static int parse_version(struct cni_netconf *c, struct json_object *root, struct cni_error **err)
{
	struct json_object *v;
	const char *s = "";

	if (cnij_get_scalar(root, "cniVersion", &v) && v) {
		if (!json_object_is_type(v, json_type_string))
			return cni_error_set(err, CNI_ERR_DECODE, 0,
					     "cniVersion: expected a string, got %s",
					     json_type_to_name(json_object_get_type(v)));
		s = json_object_get_string(v);
	}
	c->cni_version = xstrdup(s);
	if (cni_version_parse(s, &c->version) < 0) {
		cni_error_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0, "incompatible CNI versions");
		return supported_versions_details(err, s);
	}
	return 0;
}

static int parse_name(struct cni_netconf *c, struct json_object *root, struct cni_error **err)
{
	struct json_object *v;

	if (!cnij_get_scalar(root, "name", &v) || !v)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "missing network name");
	if (!json_object_is_type(v, json_type_string))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "name: expected a string, got %s",
				     json_type_to_name(json_object_get_type(v)));
	if (!*json_object_get_string(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "missing network name");
	if (!cni_valid_network_name(json_object_get_string(v)) ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			      "invalid characters found in network name");
		return cni_error_add_details(err, "%s", json_object_get_string(v));
	}
	c->name = xstrdup(json_object_get_string(v));
	return 0;
}

/*
 * An optional object member: absent and null both mean "not given" (0, *out
 * NULL), anything but an object is refused before any decoding (-1), else 1.
 */
static int get_opt_object(const struct cni_json *root, const char *key, const struct cni_json **out,
			  struct cni_error **err)
{
	const struct cni_json *v = cni_json_get(root, key);

	*out = NULL;
	if (!v || cni_json_is_null(v))
		return 0;
	if (!cni_json_is_object(v))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0, "%s: expected an object", key);
	*out = v;
	return 1;
}

/* The same, decoded by `fields` into dst when given. */
static int decode_opt_object(const struct cni_json *root, const char *key,
			     const struct cni_field *fields, void *dst, struct cni_error **err)
{
	const struct cni_json *v;
	int r = get_opt_object(root, key, &v, err);

	if (r <= 0)
		return r;
	return cni_json_decode(v, fields, dst, key, err) < 0 ? -1 : 1;
}

static int parse_ipam(struct cni_netconf *c, const struct cni_json *root, struct cni_error **err)
{
	struct ipam_json j = { 0 };
	int r = decode_opt_object(root, "ipam", ipam_fields, &j, err);

	if (r <= 0)
		return r;
	c->has_ipam = true;
	if (j.type && *j.type) {
		/* It names a binary looked up in CNI_PATH: CVE-2021-20206. */
		if (!cni_valid_plugin_type(j.type)) {
			cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				      "ipam.type: invalid plugin type \"%s\"", j.type);
			free(j.type);
			return -1;
		}
		c->ipam_type = TAKE_PTR(j.type);
	}
	free(j.type);
	return 0;
}

static int parse_args(struct cni_netconf *c, const struct cni_json *root, struct cni_error **err)
{
	struct args_cni a = { 0 };
	/* args_fields' single custom field sits at offset 0 of struct args_cni. */
	int r = decode_opt_object(root, "args", args_fields, &a, err);

	if (r <= 0)
		return r;
	if (check_ip_list(&a.ips, "args.cni.ips", err) < 0) {
		cni_fields_free(args_cni_fields, &a);
		return -1;
	}
	c->args_ips = a.ips;
	c->args_mac = a.mac;
	return 0;
}

static int parse_runtime_config(struct cni_netconf *c, const struct cni_json *root,
				struct cni_error **err)
{
	int r = decode_opt_object(root, "runtimeConfig", runtime_config_fields, &c->rc, err);

	if (r <= 0)
		return r;
	return check_ip_list(&c->rc.ips, "runtimeConfig.ips", err);
}

static int parse_prev_result(struct cni_netconf *c, const struct cni_json *root,
			     struct cni_error **err)
{
	const struct cni_json *v;
	int r = get_opt_object(root, "prevResult", &v, err);

	if (r <= 0)
		return r;
	if (cnij_result_from_object(cnij_unwrap(v), c->version, &c->prev_result, err) < 0) {
		/* A broken prevResult is a broken request config, whatever the inner cause. */
		if (err && *err)
			(*err)->code = CNI_ERR_INVALID_CONFIG;
		return cni_error_wrap(err, "prevResult");
	}
	return 0;
}

static int parse_type(struct cni_netconf *c, const struct cni_json *root, struct cni_error **err)
{
	if (cni_json_decode(root, common_fields, c, "", err) < 0)
		return -1;
	if (c->type && *c->type && !cni_valid_plugin_type(c->type))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "type: invalid plugin type \"%s\"", c->type);
	return 0;
}

/* Remove every member of root that feeds the field named key. */
static void drop_key(struct json_object *root, const char *key)
{
	for (;;) {
		cleanup_free char *k = NULL;

		json_object_object_foreach(root, name, val) {
			(void)val;
			if (cni_json_key_fold_equal(name, key)) {
				k = xstrdup(name);
				break;
			}
		}
		if (!k)
			return;
		/* Deleting ends the walk; each pass removes one distinct key. */
		json_object_object_del(root, k);
		/* The lookup index (types_json.c) no longer matches. */
		json_object_set_userdata(root, NULL, NULL);
	}
}

static void clear_runtime_config(struct cni_netconf *c)
{
	strv_free(&c->rc.ips);
	free(c->rc.mac);
	for (size_t i = 0; i < c->rc.n_port_mappings; i++)
		free(c->rc.port_mappings[i].protocol);
	free(c->rc.port_mappings);
	free(c->rc.device_id);
	free(c->rc.infiniband_guid);
	strv_free(&c->rc.aliases);
	free(c->rc.cgroup_path);
	memset(&c->rc, 0, sizeof(c->rc));
}

static void clear_args(struct cni_netconf *c)
{
	strv_free(&c->args_ips);
	free(c->args_mac);
	c->args_mac = NULL;
}

static void clear_prev_result(struct cni_netconf *c)
{
	cni_result_free(c->prev_result);
	c->prev_result = NULL;
}

/*
 * The keys DEL and GC can do without: in lenient mode one that does not
 * decode is logged and removed (from the struct and from root, so plugin
 * code reading root never sees it) instead of failing the request.
 */
static const struct {
	const char *key;
	int (*parse)(struct cni_netconf *c, const struct cni_json *root, struct cni_error **err);
	void (*clear)(struct cni_netconf *c);
} optional_keys[] = {
	{ "runtimeConfig", parse_runtime_config, clear_runtime_config },
	{ "args", parse_args, clear_args },
	{ "prevResult", parse_prev_result, clear_prev_result },
};

int cni_netconf_parse_ex(const char *json, size_t len, unsigned int flags, struct cni_netconf **ret,
			 struct cni_error **err)
{
	cleanup_netconf struct cni_netconf *c = NULL;
	struct json_object *o;
	const struct cni_json *root, *att;

	if (!json)
		return cni_error_set(err, CNI_ERR_DECODE, 0, "network config: no input");
	if (cnij_parse(json, len, "network config", &o, err) < 0)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->root = (struct cni_json *)cnij_wrap(o);
	if (!o || !json_object_is_type(o, json_type_object))
		return cni_error_set(err, CNI_ERR_DECODE, 0,
				     "network config: expected a JSON object");
	root = c->root;
	c->raw = xmalloc(len + 1);
	memcpy(c->raw, json, len);
	c->raw[len] = '\0';
	c->raw_len = len;

	/* In the reference's order: decode (6), version (1), name (7), then the rest. */
	if (parse_version(c, o, err) < 0 || parse_name(c, o, err) < 0 ||
	    parse_type(c, root, err) < 0 || parse_ipam(c, root, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(optional_keys); i++) {
		cleanup_error struct cni_error *local = NULL;

		if (optional_keys[i].parse(c, root, &local) == 0)
			continue;
		if (!(flags & CNI_NETCONF_LENIENT))
			return cni_error_move(err, &local);
		cni_log("ignoring %s: %s%s%s", optional_keys[i].key, local->msg,
			local->details ? ": " : "", local->details ? local->details : "");
		optional_keys[i].clear(c);
		drop_key(o, optional_keys[i].key);
	}

	/* libcni sends both spellings since cni#1103; the correct one wins. */
	att = cni_json_get(root, "cni.dev/valid-attachments");
	if (att && !cni_json_is_null(att)) {
		if (decode_attachments(c, att, "cni.dev/valid-attachments", err) < 0)
			return -1;
	} else {
		att = cni_json_get(root, "cni.dev/attachments");
		if (att && !cni_json_is_null(att) &&
		    decode_attachments(c, att, "cni.dev/attachments", err) < 0)
			return -1;
	}

	*ret = TAKE_PTR(c);
	return 0;
}

int cni_netconf_parse(const char *json, size_t len, struct cni_netconf **ret, struct cni_error **err)
{
	return cni_netconf_parse_ex(json, len, 0, ret, err);
}
