/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The firewall plugin's rules in iptables-nft's own tables (`ip filter`,
 * `ip6 filter`), for nodes whose iptables FORWARD chain drops: there an
 * accept in cnic's table cannot override the drop, so the accepts go where
 * the reference puts them (chain CNI-FORWARD, jumped to from FORWARD), in
 * the shapes iptables-nft writes, so `iptables -S` lists them.  Also the
 * reference's per-address rules of an attachment it created, which cnic's
 * DEL removes.  See docs/firewall.md "FORWARD-drop nodes".
 */
#ifndef CNIC_FIREWALL_XTFORWARD_H
#define CNIC_FIREWALL_XTFORWARD_H

#include <stdbool.h>

#include "../../pkg/error.h"
#include "../../pkg/nft.h"
#include "../../pkg/nft_owned.h"
#include "../../pkg/types.h"

/*
 * ADD: for each family of r's addresses whose FORWARD chain drops, this
 * attachment's accept rules (replacing any it had), creating CNI-FORWARD,
 * the admin chain and the jumps when missing.  Elsewhere nothing.
 */
int xtfwd_add(struct nft *n, const char *tag, const char *admin, const struct cni_result *r,
	      struct cni_error **err);

/*
 * DEL: this attachment's rules (by comment); when foreign (cnic holds
 * nothing of it) also the reference's rules for prev's addresses (prev may
 * be NULL).  Then the chains cnic created, once nothing else uses them.
 */
int xtfwd_del(struct nft *n, const char *tag, const struct cni_result *prev, bool foreign,
	      struct cni_error **err);

/* CHECK: where FORWARD drops, the jumps and every address's two rules must be there. */
int xtfwd_check(struct nft *n, const char *tag, const char *admin, const struct cni_result *r,
		struct cni_error **err);

/* GC: the rules of live's network whose attachment is not live. */
int xtfwd_gc(struct nft *n, const struct nft_live *live, struct cni_error **err);

#endif
