/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI data types as plain C structs, and their JSON form.
 *
 * Only types.c (and skel.c for output) touch json-c: configs are parsed into
 * these structs with owned strings, and results are built once in a
 * version-neutral struct and printed in the requested version's schema,
 * converted as the reference's libcni converts results between versions.
 *
 * Plugin-specific keys are decoded through declarative field tables
 * (struct cni_field) so plugins never see a json_object.
 */
#ifndef CNIC_TYPES_H
#define CNIC_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"
#include "error.h"
#include "ipaddr.h"

/* ---- spec versions ---------------------------------------------------- */

enum cni_version {
	CNI_V010,
	CNI_V020,
	CNI_V030,
	CNI_V031,
	CNI_V040,
	CNI_V100,
	CNI_V110,
	CNI_V_COUNT,
};
#define CNI_VERSION_LATEST CNI_V110

/* Exact match against the released version strings; "" means 0.1.0.  0 / -1. */
int cni_version_parse(const char *s, enum cni_version *ret);
const char *cni_version_str(enum cni_version v);

/* Limits on untrusted input. */
#define CNI_MAX_STDIN (8u << 20)
#define CNI_MAX_JSON_DEPTH 64

/* ---- result ----------------------------------------------------------- */

struct cni_dns {
	struct strv nameservers;
	char *domain;
	struct strv search;
	struct strv options;
	/* Decoded: a list was given, even empty (a non-nil Go slice). */
	bool lists_given;
};

struct cni_route {
	/*
	 * Canonical (host bits cleared): what is installed and what CHECK
	 * compares with the routing table.
	 */
	struct ipnet dst;
	/*
	 * dst as decoded, host bits kept ("198.18.200.7/16"); results print it,
	 * as the reference echoes what the config said.  Family 0 for routes
	 * cnic builds itself: dst is printed.
	 */
	struct ipnet dst_given;
	struct ipaddr gw; /* family 0: none */
	int mtu;	  /* 0: unset (1.1.0 fields) */
	int advmss;
	int priority;
	int table;
	bool has_table;
	int scope;
	bool has_scope;
};

struct cni_routes {
	struct cni_route *v;
	size_t n;
};

struct cni_iface {
	char *name;
	char *mac;
	int mtu;
	char *sandbox;
	char *socket_path;
	char *pci_id;
};

struct cni_ip {
	struct ipnet address; /* host address + prefix, e.g. 198.18.0.5/24 */
	struct ipaddr gateway;
	int interface; /* index into ifaces, -1: none */
};

struct cni_result {
	enum cni_version version; /* schema it was parsed from */
	struct cni_iface *ifaces;
	size_t n_ifaces;
	struct cni_ip *ips;
	size_t n_ips;
	struct cni_routes routes;
	struct cni_dns dns;
};

struct cni_result *cni_result_new(void);
struct cni_result *cni_result_dup(const struct cni_result *r);
void cni_result_free(struct cni_result *r);
void cni_result_freep(struct cni_result **r);
#define cleanup_result __attribute__((cleanup(cni_result_freep)))

/* Append an interface (strings copied, NULL allowed); returns its index. */
int cni_result_add_iface(struct cni_result *r, const char *name, const char *mac,
			 const char *sandbox);
/* Append a zeroed ip (interface = -1) / route and return it. */
struct cni_ip *cni_result_add_ip(struct cni_result *r);
struct cni_route *cni_result_add_route(struct cni_result *r);

void cni_dns_free(struct cni_dns *d);
/* Deep copy; dst must be zeroed or valid (what it held is released first). */
void cni_dns_copy(struct cni_dns *dst, const struct cni_dns *src);
bool cni_dns_is_empty(const struct cni_dns *d);
/*
 * A config's "dns" replaces IPAM's in the result when it sets anything,
 * an empty list included (the reference's dnsConfSet: non-nil slices).
 */
bool cni_dns_is_set(const struct cni_dns *d);
void cni_routes_free(struct cni_routes *r);
/* Deep copy; dst must be zeroed or valid (what it held is released first). */
void cni_routes_copy(struct cni_routes *dst, const struct cni_routes *src);

/*
 * Print r in version v's schema, as the reference does: 4-space indented
 * JSON, no trailing newline, empty fields omitted, "dns":{} in 0.2-0.4 and
 * omitted when empty in 1.x.  Converting to 0.1.0/0.2.0 a result without an
 * IP fails with "cannot convert: no valid IP addresses" (code 999, as the
 * reference), and so does a second address of one family.  Route
 * mtu/advmss/priority/table/scope are printed for 0.3.0 and later, interface
 * mtu/socketPath/pciID for 1.0.0 and later (the reference's types; see
 * types_result.c).  Key order is the reference's (libcni 1.3): struct order
 * up to 0.4.0, alphabetical in 1.x.
 */
int cni_result_print(const struct cni_result *r, enum cni_version v, char **ret_json,
		     struct cni_error **err);

/*
 * Parse a result in any version's schema.  A missing or "" "cniVersion"
 * means default_version (libcni's rule for prevResult and plugin output).
 * Keys of every version are read whatever the version (0.1/0.2: ip4/ip6;
 * later: interfaces/ips/routes, ips[].version optional but checked against
 * the address, and spec 0.3.0's "ip" spelling).  Route dst is stored
 * canonical.  Code 6: bad JSON, not an object, cniVersion not a string;
 * code 1: unknown cniVersion; code 7: a bad field (addresses must be CIDRs,
 * gateways IPs, ips[].interface an integer index into interfaces, ...).
 */
int cni_result_parse(const char *json, size_t len, enum cni_version default_version,
		     struct cni_result **ret, struct cni_error **err);

/* ---- opaque JSON nodes, for plugin-specific keys ---------------------- */

struct cni_json;

/*
 * The member feeding a Go struct field named key, by Go's encoding/json
 * rules (docs/config-decoding.md): an exact match, else a case-insensitive
 * one ("HostPort" for "hostPort"), the last matching member winning.  Use
 * cni_json_get_exact for the keys of a Go map (kept verbatim).
 */
const struct cni_json *cni_json_get(const struct cni_json *obj, const char *key);
const struct cni_json *cni_json_get_exact(const struct cni_json *obj, const char *key);
/* Go's field-name folding: ASCII case, plus U+212A = k and U+017F = s. */
bool cni_json_key_fold_equal(const char *a, const char *b);
bool cni_json_is_object(const struct cni_json *v);
bool cni_json_is_array(const struct cni_json *v);
bool cni_json_is_null(const struct cni_json *v); /* present, and JSON null */
bool cni_json_is_string(const struct cni_json *v);
/* The string (owned by the tree), or NULL when v is not a string. */
const char *cni_json_string(const struct cni_json *v);
size_t cni_json_array_len(const struct cni_json *v);
const struct cni_json *cni_json_array_get(const struct cni_json *v, size_t i);
/* Compact serialization (no slash escaping); caller frees. */
char *cni_json_serialize(const struct cni_json *v);
/*
 * Call fn for each member of an object, in document order (a no-op for
 * anything else); stops at and returns the first -1.
 */
int cni_json_object_foreach(const struct cni_json *obj,
			    int (*fn)(const char *key, const struct cni_json *v, void *userdata,
				      struct cni_error **err),
			    void *userdata, struct cni_error * *err);
/*
 * Parse a standalone JSON document (same limits as configs: CNI_MAX_STDIN,
 * CNI_MAX_JSON_DEPTH, nothing after it); code 6 on failure.  For tests and
 * custom inputs; free with cni_json_free.
 */
int cni_json_parse(const char *s, size_t len, struct cni_json **ret, struct cni_error **err);
void cni_json_free(struct cni_json *v);
/* Error paths: "ipam" + "ranges" -> "ipam.ranges"; "ipam.ranges" + 0 -> "ipam.ranges[0]". */
char *cni_json_path_key(const char *path, const char *key);
char *cni_json_path_index(const char *path, size_t i);
/*
 * s as a JSON string literal exactly as Go's encoding/json writes it
 * (quotes included; <, >, & as \u003c..., invalid UTF-8 as \ufffd).
 */
char *cni_json_quote(const char *s);

/* A 48-bit MAC in any of Go's ParseMAC notations, normalized to "aa:bb:cc:dd:ee:ff". 0 / -1. */
#define CNI_MAC_STRLEN 18
int cni_mac_parse(const char *s, char ret[CNI_MAC_STRLEN]);

enum cni_field_kind {
	CNI_FIELD_BOOL,	  /* bool */
	CNI_FIELD_INT,	  /* int from a JSON integer (not 1.5, not "1"), [min, max] unless both 0 */
	CNI_FIELD_UINT32, /* uint32_t, [0, UINT32_MAX] unless min/max given */
	CNI_FIELD_STRING, /* char * (owned) */
	CNI_FIELD_STRV,	  /* struct strv, from an array of strings */
	CNI_FIELD_IP,	  /* struct ipaddr */
	CNI_FIELD_IPNET,  /* struct ipnet, host bits kept ("198.18.0.5/24") */
	CNI_FIELD_CIDR,	  /* struct ipnet, host bits cleared as Go's ParseCIDR */
	CNI_FIELD_MAC,	  /* char *, a 48-bit MAC normalized to aa:bb:cc:dd:ee:ff (cni_mac_parse) */
	CNI_FIELD_ROUTES, /* struct cni_routes: [{dst (required), gw, mtu, advmss, priority, table, scope}] */
	CNI_FIELD_DNS,	  /* struct cni_dns: {nameservers, domain, search, options} */
	CNI_FIELD_CUSTOM, /* .decode() */
	CNI_FIELD_UINT64, /* uint64_t, [0, INT64_MAX] unless min/max given */
};

#define CNI_FIELD_REQUIRED 0x1u	   /* missing key: code 7 */
#define CNI_FIELD_HAS_PRESENT 0x2u /* set the bool at .present when the key is there */
#define CNI_FIELD_NULL_OK 0x4u	   /* JSON null counts as absent (Go's behaviour for most keys) */

struct cni_field {
	const char *key;
	enum cni_field_kind kind;
	size_t offset;	/* destination inside the decoded struct */
	size_t present; /* bool inside the struct, with CNI_FIELD_HAS_PRESENT */
	unsigned int flags;
	long long min, max;
	/* CNI_FIELD_CUSTOM: decode v into the destination; path names the key in errors. */
	int (*decode)(const struct cni_json *v, void *dst, const char *path, struct cni_error **err);
	/* CNI_FIELD_CUSTOM: release what decode stored (may be NULL). */
	void (*free)(void *dst);
};

/*
 * Decode obj's keys listed in fields (terminated by an entry with key NULL)
 * into dst.  Unknown keys are ignored, as the reference does.  A key of the
 * wrong JSON type, out of range, or unparsable gives code 7 naming the full
 * path ("ipam.ranges[0][1].subnet: invalid CIDR \"x\"").  Absent keys leave
 * dst untouched, so defaults may be stored before the call (STRING, STRV,
 * MAC, ROUTES and DNS defaults must be heap-owned: a decoded value replaces
 * and frees them).  On failure every field of the table is released (as
 * cni_fields_free) - defaults included.  obj NULL (absent) or JSON null:
 * success unless a field is REQUIRED (code 7 "<path>.<key>: required key
 * missing"); any other non-object: code 7.  CUSTOM decoders get the node
 * (JSON null only without NULL_OK) and the key's full path.
 */
int cni_json_decode(const struct cni_json *obj, const struct cni_field *fields, void *dst,
		    const char *path, struct cni_error **err);
/* Release what cni_json_decode stored in dst (NULL-safe per field, idempotent). */
void cni_fields_free(const struct cni_field *fields, void *dst);
/*
 * Decode one value as a field of that kind would be (not CUSTOM), for custom
 * decoders walking arrays; min/max as in struct cni_field.
 */
int cni_json_decode_value(const struct cni_json *v, enum cni_field_kind kind, long long min,
			  long long max, void *dst, const char *path, struct cni_error **err);
void cni_field_value_free(enum cni_field_kind kind, void *dst);

/* ---- network configuration (stdin) ------------------------------------ */

struct cni_attachment {
	char *container_id;
	char *ifname;
};

struct cni_port_mapping {
	int host_port;
	int container_port;
	char *protocol; /* lowercase, default "tcp" */
	struct ipaddr host_ip;
};

struct cni_bandwidth {
	uint64_t ingress_rate, ingress_burst, egress_rate, egress_burst;
};

struct cni_runtime_config {
	struct strv ips; /* "ips" capability, as given (prefix optional) */
	char *mac;
	struct cni_port_mapping *port_mappings;
	size_t n_port_mappings;
	bool has_port_mappings;
	struct cni_bandwidth bandwidth;
	bool has_bandwidth;
	char *device_id;
	char *infiniband_guid;
	struct strv aliases;
	char *cgroup_path;
	/* "ipRanges" has host-local's shape: decoded by ipam from cni_netconf_root(). */
};

struct cni_netconf {
	enum cni_version version;
	char *cni_version; /* as given */
	char *name;
	char *type;
	bool ip_masq;
	bool has_ipam;	 /* an "ipam" object is present */
	char *ipam_type; /* NULL when absent or "" (L2-only) */
	struct cni_dns dns;
	struct cni_runtime_config rc;
	struct strv args_ips; /* args.cni.ips */
	char *args_mac;	      /* args.cni.mac */
	struct cni_result *prev_result;
	struct cni_attachment *valid_attachments; /* GC: cni.dev/valid-attachments or cni.dev/attachments */
	size_t n_valid_attachments;
	bool has_valid_attachments;
	char *raw; /* stdin as received, NUL-terminated: what delegates get */
	size_t raw_len;
	struct cni_json *root; /* the whole config, for cni_json_decode */
};

/*
 * Parse a request config.  Code 6: not JSON (bigger than CNI_MAX_STDIN,
 * deeper than CNI_MAX_JSON_DEPTH, trailing data, NaN), not an object,
 * cniVersion not a string.  Code 1: unknown cniVersion ("incompatible CNI
 * versions", details as the reference's).  Code 7: missing or invalid
 * "name" (cni_valid_network_name), wrong types of the common keys (JSON null
 * counts as absent), type/ipam.type not cni_valid_plugin_type, ports
 * outside 1-65535, protocol not tcp/udp/sctp (lowercased, default tcp),
 * hostIP/ips/mac unparsable, bad prevResult ("prevResult: ..."), attachments
 * without containerID/ifname.  Checks run in the reference's order: JSON,
 * version, name, then the rest.  A prevResult without cniVersion is parsed
 * as the config's version.  Unknown keys are ignored (reachable via root).
 */
int cni_netconf_parse(const char *json, size_t len, struct cni_netconf **ret, struct cni_error **err);
/*
 * CNI_NETCONF_LENIENT (DEL and GC): a runtimeConfig, args or prevResult
 * that does not decode is logged (CNIC_LOG_FILE) and ignored - left out of
 * the struct and removed from root - rather than failing the request.
 */
#define CNI_NETCONF_LENIENT 0x1u
int cni_netconf_parse_ex(const char *json, size_t len, unsigned int flags, struct cni_netconf **ret,
			 struct cni_error **err);
void cni_netconf_free(struct cni_netconf *c);
void cni_netconf_freep(struct cni_netconf **c);
#define cleanup_netconf __attribute__((cleanup(cni_netconf_freep)))

static inline const struct cni_json *cni_netconf_root(const struct cni_netconf *c)
{
	return c->root;
}

/*
 * The same validation the skeleton applies, for reuse.  Container IDs and
 * network names: ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$, at most 1024 / 255 bytes (a
 * network name is a directory name).  Interface names: 1-15 bytes, not "."
 * or "..", no '/', ':', Unicode whitespace or control characters.
 */
bool cni_valid_container_id(const char *s);
bool cni_valid_network_name(const char *s);
bool cni_valid_ifname(const char *s);
/* A plugin type: non-empty, no '/', not "." or "..", no control characters. */
bool cni_valid_plugin_type(const char *s);

/* ---- CNI_ARGS ("K=V;K=V") --------------------------------------------- */

struct cni_kv {
	char *key;
	char *value;
};

struct cni_env_args {
	struct cni_kv *v;
	size_t n;
	bool ignore_unknown; /* IgnoreUnknown=1|true (case-insensitive) */
	char *invalid;	     /* cni_env_args_parse_lazy: why the string did not parse */
};

/*
 * "" and NULL give no pairs.  A pair without exactly one '=' (also the
 * empty pair of "A=1;" or "A=1;;B=2") gives code 4 "ARGS: invalid pair
 * \"...\"", as the reference; so does an IgnoreUnknown value other than
 * 1/true/0/false (any case).  Every pair is kept, IgnoreUnknown included.
 * *ret is written only on success.
 */
int cni_env_args_parse(const char *s, struct cni_env_args *ret, struct cni_error **err);
/*
 * As the reference, which parses CNI_ARGS only in the plugins that read
 * it: a string that does not parse leaves no pairs and its error in
 * ->invalid, returned by cni_env_args_check (cni_env_args_get finds
 * nothing), so plugins that never look at CNI_ARGS are not failed by it.
 */
void cni_env_args_parse_lazy(const char *s, struct cni_env_args *ret);
void cni_env_args_free(struct cni_env_args *a);
/* Last value for key (case-sensitive, as Go's field names), or NULL. */
const char *cni_env_args_get(const struct cni_env_args *a, const char *key);
/*
 * Keys not in known (NULL-terminated; "IgnoreUnknown" is always known) give
 * code 4 "ARGS: unknown args [...]" unless IgnoreUnknown is set; a string
 * that did not parse (->invalid) gives its parse error.
 */
int cni_env_args_check(const struct cni_env_args *a, const char *const *known,
		       struct cni_error **err);

#endif
