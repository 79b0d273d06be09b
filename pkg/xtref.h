/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Adopting the reference plugins' netfilter state, so that a node switched
 * from the reference to cnic needs no drain: cnic's DEL and GC of an
 * attachment also remove what the reference created for it.
 *
 * What the reference leaves per attachment, and how it is found here (all
 * through nf_tables with libnftnl: iptables-nft keeps its rules in tables
 * `ip nat` / `ip6 nat`, so no iptables binary is run):
 *  - portmap (iptables backend): chain CNI-DN-<h> with h = hex
 *    sha512(network + container id), and the rules of CNI-HOSTPORT-DNAT
 *    jumping to it; found by that name and by the jump verdicts, so the
 *    rules' comments are not needed.  GC reads the comments
 *    (`dnat name: "<net>" id: "<cid>"`, an xt comment match).  The
 *    CNI-SN-<h> chains of CNI before 0.8 (2019) are not looked for.
 *  - portmap (nftables backend of newer references): rules of table
 *    ip/ip6 cni_hostport whose comment is the container id.
 *  - bridge/ptp ipMasq (iptables): chain CNI-<h> and the POSTROUTING jump to it.
 *  - ipMasq (nftables backend of newer references): rules of chain masq_checks
 *    of inet cni_plugins_masquerade whose comment starts with the
 *    attachment's hash.
 * The shared top-level chains (CNI-HOSTPORT-DNAT/-SETMARK/-MASQ and their
 * jumps) stay, as the reference's own DEL leaves them.
 *
 * Cost on a node that never ran the reference: one table dump (a few
 * tables, one round trip) per call; nothing else unless a reference table
 * is there.  portmap's DEL asks in the read it makes anyway
 * (xtref_portmap_del_present()) for the reference's cni_hostport tables
 * and, in the nat tables, for the attachment's CNI-DN chain: no round trip
 * of its own, and none more on a node whose nat tables are kube-proxy's or
 * docker's.  iptables-legacy state is not read (cnic never runs iptables;
 * docs/runtimes.md says what to do on such a node).
 *
 * All are best effort and idempotent: nothing found is success.
 */
#ifndef CNIC_XTREF_H
#define CNIC_XTREF_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "types.h"

struct nft;

/*
 * n: the caller's netfilter socket in the host netns, if it has one (saves
 * opening one: most of the cost on a node without the reference's tables);
 * NULL: one is opened in the calling thread's current netns.
 */
int xtref_portmap_del(struct nft *n, const char *network, const char *container_id,
		      struct cni_error **err);
/*
 * The same when the caller already asked which of these tables exist (in
 * a read of its own, see nft_get_elem_also()): present[i] for
 * xtref_portmap_tables[i] (for a by_chain one, whether that table holds
 * the attachment's chain).  On a node without them it costs nothing.
 */
#define XTREF_PORTMAP_TABLES 4
struct xtref_table {
	uint8_t family;
	const char *name;
	/*
	 * iptables-nft's nat tables: worth a look only when the attachment's
	 * own chain is there (xtref_dnat_chain()), which a caller can ask
	 * instead of the table: a node running kube-proxy or docker has
	 * those tables, not that chain.
	 */
	bool by_chain;
};
extern const struct xtref_table xtref_portmap_tables[XTREF_PORTMAP_TABLES];
int xtref_portmap_del_present(struct nft *n, const bool present[XTREF_PORTMAP_TABLES],
			      const char *network, const char *container_id, struct cni_error **err);
int xtref_ipmasq_del(struct nft *n, const char *network, const char *container_id,
		     const char *ifname, struct cni_error **err);

/* GC: what the reference created for attachments of nc's network not in its valid list. */
int xtref_portmap_gc(struct nft *n, const struct cni_netconf *nc, struct cni_error **err);
int xtref_ipmasq_gc(struct nft *n, const struct cni_netconf *nc, struct cni_error **err);

/* The reference's names (exposed for tests): out gets 29 bytes. */
void xtref_dnat_chain(const char *network, const char *container_id, char out[29]);
void xtref_masq_chain(const char *network, const char *container_id, char out[29]);

#endif
