/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request config parser (stdin of every plugin), including prevResult,
 * runtimeConfig, args and GC attachments, and the IPAM config loaders of
 * host-local and static on top of it.
 *
 * Input: the config JSON.  A top-level string "x-fuzz-cni-args" (a harness
 * convention, ignored by the parser) is used as CNI_ARGS for the IPAM
 * loaders, so static's IP/GATEWAY and host-local's IP are fuzzed too.
 *
 * Invariants: failures carry a code and message and return nothing; an
 * accepted config satisfies what the parser promises (valid name and type,
 * ports 1-65535, lowercase tcp/udp/sctp, raw copy intact); its prevResult
 * prints and re-parses to the same text; every range set host-local
 * accepts is canonical (start <= end inside the subnet, one family), and
 * every requested address and static address is a real address.
 */
#include "../../ipam/config.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"
#include "fuzz.h"

static void check_prev_result(const struct cni_netconf *c)
{
	cleanup_free char *a = NULL, *b = NULL;
	cleanup_result struct cni_result *r2 = NULL;
	struct cni_error *err = NULL;

	if (!c->prev_result)
		return;
	if (cni_result_print(c->prev_result, c->version, &a, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		cni_error_free(err);
		return;
	}
	FUZZ_CHECK(cni_result_parse(a, strlen(a), c->version, &r2, &err) == 0,
		   "printed prevResult does not parse: %s", err ? err->msg : "");
	FUZZ_CHECK(cni_result_print(r2, c->version, &b, &err) == 0 && strcmp(a, b) == 0,
		   "prevResult print-parse-print differs");
}

static void check_conf(const struct cni_netconf *c, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(c->name && cni_valid_network_name(c->name), "accepted invalid name");
	FUZZ_CHECK(!c->type || !*c->type || cni_valid_plugin_type(c->type), "accepted invalid type");
	FUZZ_CHECK(!c->ipam_type || cni_valid_plugin_type(c->ipam_type),
		   "accepted invalid ipam.type");
	FUZZ_CHECK(c->cni_version && (unsigned int)c->version < CNI_V_COUNT, "bad version");
	FUZZ_CHECK(c->raw && c->raw_len == size && memcmp(c->raw, data, size) == 0 &&
			   c->raw[size] == '\0',
		   "raw copy differs from the input");
	for (size_t i = 0; i < c->rc.n_port_mappings; i++) {
		const struct cni_port_mapping *m = &c->rc.port_mappings[i];

		FUZZ_CHECK(m->host_port >= 1 && m->host_port <= 65535 && m->container_port >= 1 &&
				   m->container_port <= 65535,
			   "port out of range: %d -> %d", m->host_port, m->container_port);
		FUZZ_CHECK(m->protocol && (strcmp(m->protocol, "tcp") == 0 ||
					   strcmp(m->protocol, "udp") == 0 ||
					   strcmp(m->protocol, "sctp") == 0),
			   "bad protocol accepted");
		FUZZ_CHECK(!ipaddr_is_set(&m->host_ip) || m->host_ip.family == AF_INET ||
				   m->host_ip.family == AF_INET6,
			   "bad hostIP family");
	}
	if (c->rc.mac) {
		char mac[CNI_MAC_STRLEN];

		FUZZ_CHECK(cni_mac_parse(c->rc.mac, mac) == 0 && strcmp(mac, c->rc.mac) == 0,
			   "runtimeConfig.mac not normalized: %s", c->rc.mac);
	}
	for (size_t i = 0; i < c->n_valid_attachments; i++)
		FUZZ_CHECK(c->valid_attachments[i].container_id && c->valid_attachments[i].ifname,
			   "attachment without containerID/ifname");
	check_prev_result(c);
}

static void check_hl(const struct cni_cmd *cmd, bool validate)
{
	struct ipam_hl_conf *hl = NULL;
	struct cni_error *err = NULL;

	if (ipam_hl_conf_load(cmd, validate, &hl, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(hl == NULL, "failed load returned a config");
		cni_error_free(err);
		return;
	}
	FUZZ_CHECK(hl->data_dir && *hl->data_dir, "no data dir");
	if (validate) {
		FUZZ_CHECK(hl->n_sets > 0, "accepted no ranges");
		for (size_t i = 0; i < hl->n_sets; i++) {
			const struct ipam_range_set *s = &hl->sets[i];

			FUZZ_CHECK(s->n > 0, "empty range set accepted");
			for (size_t j = 0; j < s->n; j++) {
				const struct ipam_range *r = &s->v[j];

				FUZZ_CHECK(!ipnet_has_host_bits(&r->subnet), "subnet has host bits");
				FUZZ_CHECK(r->start.family == s->v[0].start.family, "mixed families");
				FUZZ_CHECK(ipnet_contains(&r->subnet, &r->start) &&
						   ipnet_contains(&r->subnet, &r->end) &&
						   ipaddr_cmp(&r->start, &r->end) <= 0,
					   "range not inside its subnet or reversed");
				FUZZ_CHECK(ipam_range_contains(r, &r->start) &&
						   ipam_range_contains(r, &r->end),
					   "range does not contain its ends");
				FUZZ_CHECK(r->gateway.family == r->start.family, "gateway family");
			}
			for (size_t k = i + 1; k < hl->n_sets; k++)
				FUZZ_CHECK(!ipam_range_set_overlaps(s, &hl->sets[k]),
					   "overlapping sets accepted");
		}
		for (size_t i = 0; i < hl->n_req; i++)
			FUZZ_CHECK(hl->req[i].family == AF_INET || hl->req[i].family == AF_INET6,
				   "requested address without a family");
	}
	ipam_hl_conf_free(hl);
}

static void check_static(const struct cni_cmd *cmd)
{
	struct ipam_static_conf *sc = NULL;
	struct cni_error *err = NULL;

	if (ipam_static_conf_load(cmd, &sc, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(sc == NULL, "failed load returned a config");
		cni_error_free(err);
		return;
	}
	for (size_t i = 0; i < sc->n_addrs; i++) {
		const struct ipam_static_addr *a = &sc->addrs[i];

		FUZZ_CHECK(a->address.addr.family == AF_INET || a->address.addr.family == AF_INET6,
			   "static address without a family");
		FUZZ_CHECK(a->address.prefix <= ipaddr_family_bits(a->address.addr.family),
			   "prefix too long");
	}
	ipam_static_conf_free(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cni_netconf *c = NULL;
	struct cni_error *err = NULL;
	int fd0 = fuzz_lowest_fd();

	if (cni_netconf_parse((const char *)data, size, &c, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		FUZZ_CHECK(c == NULL, "failed parse returned a config");
		cni_error_free(err);
		return 0;
	}
	FUZZ_CHECK(c && !err, "parse succeeded with an error set");
	check_conf(c, data, size);

	{
		const char *args_raw =
			cni_json_string(cni_json_get(cni_netconf_root(c), "x-fuzz-cni-args"));
		char *const envp[] = { NULL };
		struct cni_cmd cmd = {
			.verb = CNI_VERB_ADD,
			.container_id = "fuzz",
			.ifname = "eth0",
			.netns_fd = -1,
			.path = "",
			.args_raw = args_raw,
			.conf = c,
			.envp = envp,
		};

		if (cni_env_args_parse(args_raw, &cmd.args, &err) < 0) {
			FUZZ_CHECK_ERROR(err);
			cni_error_free(err);
		} else {
			check_hl(&cmd, true);
			check_hl(&cmd, false);
			check_static(&cmd);
			cni_env_args_free(&cmd.args);
		}
	}
	cni_netconf_free(c);
	FUZZ_CHECK(fuzz_lowest_fd() == fd0, "fd leaked");
	return 0;
}
