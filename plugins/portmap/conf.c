/* SPDX-License-Identifier: Apache-2.0 */
/*
 * portmap's configuration: every key decoded and checked before the kernel
 * is touched (docs/portmap.md, "Configuration").
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../pkg/skel.h"
#include "portmap.h"

static const struct cni_field conf_fields[] = {
	{ .key = "snat",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct pm_conf, snat),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "masqAll",
	  .kind = CNI_FIELD_BOOL,
	  .offset = offsetof(struct pm_conf, masq_all),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "backend",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct pm_conf, backend),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "markMasqBit",
	  .kind = CNI_FIELD_INT,
	  .offset = offsetof(struct pm_conf, mark_masq_bit),
	  .present = offsetof(struct pm_conf, has_mark_masq_bit),
	  .flags = CNI_FIELD_NULL_OK | CNI_FIELD_HAS_PRESENT,
	  .min = 0,
	  .max = 31 },
	{ .key = "externalSetMarkChain",
	  .kind = CNI_FIELD_STRING,
	  .offset = offsetof(struct pm_conf, external_set_mark_chain),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "conditionsV4",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct pm_conf, conditions_v4),
	  .flags = CNI_FIELD_NULL_OK },
	{ .key = "conditionsV6",
	  .kind = CNI_FIELD_STRV,
	  .offset = offsetof(struct pm_conf, conditions_v6),
	  .flags = CNI_FIELD_NULL_OK },
	{ 0 },
};

void pm_conf_free(struct pm_conf *c)
{
	cni_fields_free(conf_fields, c);
	free(c->cond4.v);
	free(c->cond6.v);
	memset(c, 0, sizeof(*c));
}

/* "[a b]": the reference prints its lists of option names the way Go formats a []string. */
static void list_add(char *buf, size_t size, const char *name)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "%s%s", len ? " " : "", name);
}

/*
 * The reference runs either backend and refuses options of the other one:
 * externalSetMarkChain and iptables-style conditions are iptables-only,
 * nftables-style conditions nftables-only.  cnic translates both syntaxes
 * to its own nftables rules, so it refuses only what the reference would
 * refuse with the backend the config names; without "backend", only a
 * mix, which the reference refuses whichever backend it picks.
 */
static int check_backend(const struct pm_conf *c, struct cni_error **err)
{
	char ipt[96] = "", nft[96] = "";
	enum pm_style s4 = pm_conds_style(&c->conditions_v4);
	enum pm_style s6 = pm_conds_style(&c->conditions_v6);

	if (c->external_set_mark_chain)
		list_add(ipt, sizeof(ipt), "externalSetMarkChain");
	if (s4 != PM_STYLE_NONE)
		list_add(s4 == PM_STYLE_IPT ? ipt : nft, sizeof(ipt), "conditionsV4");
	if (s6 != PM_STYLE_NONE)
		list_add(s6 == PM_STYLE_IPT ? ipt : nft, sizeof(ipt), "conditionsV6");
	if (!c->backend) {
		if (*ipt && *nft)
			return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
					     "configuration mixes iptables-specific options [%s] and "
					     "nftables-specific options [%s]: write the conditions "
					     "in one syntax",
					     ipt, nft);
		return 0;
	}
	if (strcmp(c->backend, "iptables") == 0 && *nft)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "iptables backend was requested but configuration contains "
				     "nftables-specific options [%s]",
				     nft);
	if (strcmp(c->backend, "nftables") == 0 && *ipt)
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "nftables backend was requested but configuration contains "
				     "iptables-specific options [%s]",
				     ipt);
	return 0;
}

/*
 * The iptables-only keys are accepted and validated as the reference does,
 * and do nothing: cnic marks nothing (it masquerades by conntrack state and
 * its own sets), so there is no mark bit to choose and no mark chain to
 * call.  Whatever "backend" says, cnic programs nftables.
 */
int pm_conf_parse(const struct cni_cmd *cmd, struct pm_conf *ret, struct cni_error **err)
{
	struct pm_conf c = { .snat = true };

	if (cni_json_decode(cni_netconf_root(cmd->conf), conf_fields, &c, "", err) < 0)
		return -1;
	if (c.backend && strcmp(c.backend, "nftables") != 0 && strcmp(c.backend, "iptables") != 0) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			      "backend: unrecognized backend \"%s\" (iptables or nftables; cnic "
			      "always programs nftables)",
			      c.backend);
		goto fail;
	}
	/* Present, even empty, as the reference (a Go pointer that is not nil). */
	if (c.has_mark_masq_bit && c.external_set_mark_chain) {
		cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
			      "Cannot specify externalSetMarkChain and markMasqBit");
		goto fail;
	}
	if (check_backend(&c, err) < 0 ||
	    pm_conds_parse(&c.conditions_v4, AF_INET, "conditionsV4", &c.cond4, err) < 0 ||
	    pm_conds_parse(&c.conditions_v6, AF_INET6, "conditionsV6", &c.cond6, err) < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	pm_conf_free(&c);
	return -1;
}
