/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap's validation: the runtimeConfig.portMappings capability (decoded
 * by the shared config parser), the plugin's own keys and conditions
 * (pm_conf_parse, pm_conds_parse) and the nftables elements it derives
 * from the mappings and prevResult (pm_attachment_for_add), linked from the
 * plugin's objects (all but portmap.c, the verbs).
 *
 * Input: a flags byte (snat, masqAll, which prevResult), a line used as
 * conditionsV4 (and, reversed, conditionsV6), then the JSON value of
 * "portMappings".  Invariants: a rejection is code 7; accepted mappings
 * have ports 1-65535 and tcp/udp/sctp; accepted conditions are well formed
 * (family, canonical prefix, short ifname); every element fits its
 * buffers, maps to the container's own address from prevResult (DNAT goes
 * nowhere else), carries the host port and protocol of a mapping of that
 * family, and no two elements of a set share a key.
 */
#include "fuzz.h"

#include "../../pkg/skel.h"
#include "../../plugins/portmap/portmap.h"

static const char *const prev_results[] = {
	("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
	 "\"ips\":[{\"address\":\"198.18.0.5/24\",\"interface\":0},"
	 "{\"address\":\"2001:db8::5/64\",\"interface\":0}]}"),
	("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"veth1\"},{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
	 "\"ips\":[{\"address\":\"198.18.9.9/16\",\"interface\":0},{\"address\":\"198.18.0.6/16\",\"interface\":1}]}"),
	"{\"cniVersion\":\"0.2.0\",\"ip6\":{\"ip\":\"2001:db8::7/120\"}}",
	"{\"cniVersion\":\"1.0.0\"}",
};

static void check_conds(const struct pm_conds *c, int family)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct pm_cond *d = &c->v[i];

		if (d->kind == PM_COND_IIFNAME || d->kind == PM_COND_OIFNAME) {
			FUZZ_CHECK(*d->ifname && strnlen(d->ifname, sizeof(d->ifname)) <
							 sizeof(d->ifname),
				   "bad ifname condition");
			FUZZ_CHECK(d->ifname_len == sizeof(d->ifname) ||
					   d->ifname_len == strlen(d->ifname),
				   "ifname compare length");
		} else if (d->kind == PM_COND_SPORT || d->kind == PM_COND_DPORT) {
			FUZZ_CHECK(d->port_lo <= d->port_hi, "port range reversed");
			FUZZ_CHECK(!d->neq || d->port_lo == d->port_hi, "negated port range");
		} else if (d->kind == PM_COND_L4PROTO) {
			FUZZ_CHECK(d->proto != 0, "protocol 0 kept");
		} else {
			FUZZ_CHECK(d->net.addr.family == family, "condition of the wrong family");
			FUZZ_CHECK(!ipnet_has_host_bits(&d->net), "condition prefix not canonical");
		}
	}
}

static void check_elems(const struct cni_cmd *cmd, const struct pm_attachment *a)
{
	const struct cni_runtime_config *rc = &cmd->conf->rc;

	FUZZ_CHECK(a->elems.n >= 1 && a->elems.v[0].set == PM_OWNERS, "owner element missing");
	for (size_t i = 0; i < a->elems.n; i++) {
		const struct pm_elem *e = &a->elems.v[i];

		FUZZ_CHECK(e->key_len <= sizeof(e->key) && e->key_end_len <= sizeof(e->key_end) &&
				   e->data_len <= sizeof(e->data),
			   "element larger than its buffers");
		for (size_t j = i + 1; j < a->elems.n; j++)
			FUZZ_CHECK(pm_elem_cmp(e, &a->elems.v[j]) != 0, "two elements share a key");
		switch (e->set) {
		case PM_HIP4:
		case PM_ANY4:
		case PM_HIP6:
		case PM_ANY6: {
			bool v6 = e->set == PM_HIP6 || e->set == PM_ANY6;
			const struct ipnet *ctr = v6 ? &a->v6 : &a->v4;
			unsigned int alen = v6 ? 16 : 4;
			bool found = false;

			FUZZ_CHECK(ipaddr_is_set(&ctr->addr),
				   "element for a family without an address");
			FUZZ_CHECK(memcmp(e->data, ctr->addr.b, alen) == 0,
				   "DNAT target is not the container's address");
			for (size_t k = 0; k < rc->n_port_mappings; k++) {
				const struct cni_port_mapping *m = &rc->port_mappings[k];

				found |= m->host_port == e->host_port &&
					 pm_proto_num(m->protocol) == e->proto &&
					 ((e->data[alen] << 8) | e->data[alen + 1]) ==
						 m->container_port;
			}
			FUZZ_CHECK(found, "element without a mapping behind it");
			break;
		}
		default:
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cleanup_free char *cond = NULL, *cond_rev = NULL, *conf = NULL, *qc = NULL, *qr = NULL;
	const uint8_t *nl;
	struct cni_netconf *c = NULL;
	struct cni_error *err = NULL;
	unsigned int flags;
	size_t clen;

	if (size < 1)
		return 0;
	flags = data[0];
	data++, size--;
	nl = memchr(data, '\n', size);
	clen = nl ? (size_t)(nl - data) : 0;
	cond = fuzz_cstr(data, clen);
	cond_rev = xstrdup(cond);
	for (size_t i = 0, n = strlen(cond_rev); i < n / 2; i++) {
		char t = cond_rev[i];
		cond_rev[i] = cond_rev[n - 1 - i];
		cond_rev[n - 1 - i] = t;
	}
	if (nl)
		data += clen + 1, size -= clen + 1;
	qc = cni_json_quote(cond);
	qr = cni_json_quote(cond_rev);
	conf = xasprintf("{\"cniVersion\":\"1.0.0\",\"name\":\"pm\",\"type\":\"portmap\",\"snat\":%s,"
			 "\"masqAll\":%s,\"conditionsV4\":[%s],\"conditionsV6\":[%s],\"prevResult\":%s,"
			 "\"runtimeConfig\":{\"portMappings\":%.*s}}",
			 flags & 1 ? "true" : "false", flags & 2 ? "true" : "false", qc, qr,
			 prev_results[(flags >> 2) % ARRAY_SIZE(prev_results)], (int)size,
			 (const char *)data);

	if (cni_netconf_parse(conf, strlen(conf), &c, &err) < 0) {
		FUZZ_CHECK_ERROR(err);
		cni_error_free(err);
		return 0;
	}
	for (size_t i = 0; i < c->rc.n_port_mappings; i++) {
		const struct cni_port_mapping *m = &c->rc.port_mappings[i];

		FUZZ_CHECK(m->host_port >= 1 && m->host_port <= 65535 && m->container_port >= 1 &&
				   m->container_port <= 65535,
			   "port out of range");
		FUZZ_CHECK(!strcmp(m->protocol, "tcp") || !strcmp(m->protocol, "udp") ||
				   !strcmp(m->protocol, "sctp"),
			   "protocol %s", m->protocol);
	}
	{
		char *const envp[] = { NULL };
		struct cni_cmd cmd = { .verb = CNI_VERB_ADD,
				       .container_id = "fuzz",
				       .ifname = "eth0",
				       .netns_fd = -1,
				       .path = "",
				       .conf = c,
				       .envp = envp };
		struct pm_conf pc;
		struct pm_attachment a;

		if (pm_conf_parse(&cmd, &pc, &err) < 0) {
			FUZZ_CHECK_ERROR(err);
			FUZZ_CHECK(err->code == CNI_ERR_INVALID_CONFIG, "conf code %u", err->code);
			cni_error_free(err);
		} else {
			check_conds(&pc.cond4, AF_INET);
			check_conds(&pc.cond6, AF_INET6);
			if (pm_attachment_for_add(&cmd, &pc, &a, &err) < 0) {
				FUZZ_CHECK_ERROR(err);
				FUZZ_CHECK(err->code == CNI_ERR_INVALID_CONFIG, "code %u", err->code);
				cni_error_free(err);
			} else {
				check_elems(&cmd, &a);
				pm_attachment_free(&a);
			}
			pm_conf_free(&pc);
		}
	}
	cni_netconf_free(c);
	return 0;
}
