/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugins that put one link into a container and hang an IPAM result
 * on it (macvlan, ipvlan, macvtap, vlan, dummy, tap; pieces also in ptp,
 * bridge and host-device) share their ADD, CHECK and DEL here: the keys
 * they have in common, the master of a child link, creating the child
 * without ever naming it in the host, the addresses, rollback, CNI_ARGS key
 * policing with in-process IPAM, and CHECK's link and prevResult lookups.
 *
 * A plugin describes itself once (struct l2_ops: its keys, its config and
 * how to load it, hooks for what is its own, such as how macvtap and tap
 * make their device and what CHECK compares beyond the common) and its
 * main() is l2_plugin_main(&ops).
 *
 * This lives with the plugins, not in pkg/: it runs the IPAM library, and
 * pkg/ must not depend on ipam/.
 */
#ifndef CNIC_L2UTIL_H
#define CNIC_L2UTIL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../pkg/error.h"
#include "../../pkg/ifconfig.h"
#include "../../pkg/link.h"
#include "../../pkg/netns.h"
#include "../../pkg/skel.h"
#include "../../pkg/types.h"

/* ---- the common keys ------------------------------------------------------ */

/* The common keys a plugin has (struct l2_ops.keys); the others are not read. */
#define L2_KEY_MASTER 0x1u	       /* "master" */
#define L2_KEY_MODE 0x2u	       /* "mode", by l2_ops.modes */
#define L2_KEY_MTU 0x4u		       /* "mtu", 0 or more */
#define L2_KEY_MAC 0x8u		       /* "mac", then CNI_ARGS MAC and runtimeConfig.mac */
#define L2_KEY_LINK_IN_CONTAINER 0x10u /* "linkInContainer" */

struct l2_mode {
	const char *name;
	uint32_t val;
};

/* How a plugin's DNS result is made. */
enum l2_dns {
	L2_DNS_CONFIG_IF_ANY, /* the config's "dns" if it has an entry, else IPAM's */
	L2_DNS_CONFIG_IF_SET, /* the same, and an empty list counts (cni_dns_is_set) */
	L2_DNS_IPAM,	      /* IPAM's only */
};

struct l2_conf;

/*
 * The hooks of struct l2_ops, typed once so a plugin declares its own as
 * `static l2_check_fn check_link;`.
 */
typedef int l2_create_fn(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *mns,
			 struct netns *cont, const struct cnl_link *master, struct cnl_link *ret,
			 struct cni_error **err);
typedef int l2_check_fn(const struct cni_cmd *cmd, const struct l2_conf *c, struct netns *cont,
			const struct cnl_link *link, const struct cnl_link *master,
			struct cni_error **err);
typedef int l2_load_fn(const struct cni_cmd *cmd, struct l2_conf *c, bool add,
		       struct cni_error **err);

/* What a plugin is: one static description, shared by its ADD and CHECK. */
struct l2_ops {
	const char *plugin;	     /* in messages: "macvlan" */
	const char *kind;	     /* the link kind: "macvlan" ("tun" for tap) */
	unsigned int keys;	     /* L2_KEY_* */
	const struct l2_mode *modes; /* L2_KEY_MODE: the first is the default */
	size_t n_modes;
	const char *const *env_args; /* its own CNI_ARGS keys, NULL-terminated, or NULL */
	bool ipam_required;	     /* "<plugin> interface requires an IPAM configuration" */
	bool no_master;		     /* dummy, tap: nothing to look up */
	bool check_named_master;     /* CHECK looks the master up only when one is configured */
	enum l2_dns dns;
	struct ifconfig_opts ifconfig; /* for the addresses */
	/*
	 * ADD: make the link as CNI_IFNAME in cont, instead of
	 * l2_child_create(mns, cont, c->link ...).  mns is the master's
	 * namespace (NULL with no_master), master its master.  On failure
	 * nothing may be left behind.  *ret: the link, re-read.
	 */
	l2_create_fn *create;
	/*
	 * CHECK: what is the plugin's own, once the common checks passed.
	 * master: NULL when none was looked up.
	 */
	l2_check_fn *check;
	/*
	 * The plugin's config: conf_size bytes (0: a bare struct l2_conf) whose
	 * first member is its struct l2_conf, which the hooks cast back; fields
	 * (or NULL) its own keys, offsets into that struct.  load (or NULL)
	 * runs once l2_conf_load has decoded the keys, for ADD (add true) or
	 * CHECK: it may refuse the config or work it out further.
	 */
	size_t conf_size;
	const struct cni_field *fields;
	l2_load_fn *load;
	/* DEL instead of l2_cmd_del_child(cmd, kind). */
	int (*del)(const struct cni_cmd *cmd, struct cni_error **err);
};

/* A plugin's common keys, decoded, and what its ADD or CHECK works on. */
struct l2_conf {
	char *master;
	char *mode;
	int mtu;
	char *mac;
	bool link_in_container;
	uint32_t mode_val; /* the mode's value (the default without "mode") */
	/*
	 * The kind's own attributes of the link to create (macvlan_mode,
	 * vlan_id...); l2_add fills in kind, mtu, mac, parent, name, netns.
	 */
	struct cnl_newlink link;
	/* ADD: these addresses (a chained prevResult) instead of IPAM's. */
	const struct cni_result *ips;
};

/*
 * Decode the common keys ops has, then ops->fields, into c (the start of
 * the plugin's config): the mode looked up ("unknown macvlan mode: \"x\""),
 * the MAC by precedence (l2_conf_mac).  l2_conf_free releases it all.
 */
int l2_conf_load(const struct cni_cmd *cmd, const struct l2_ops *ops, struct l2_conf *c,
		 struct cni_error **err);
void l2_conf_free(const struct l2_ops *ops, struct l2_conf *c);

/*
 * The MAC by precedence: *mac (the config's "mac", normalized) < CNI_ARGS
 * MAC < runtimeConfig.mac, as the reference.  *mac is replaced (owned).
 */
int l2_conf_mac(const struct cni_cmd *cmd, char **mac, struct cni_error **err);

/* CHECK: the link's mode got is the configured c->mode_val. */
int l2_check_mode(const struct l2_ops *ops, const struct l2_conf *c, uint32_t got,
		  struct cni_error **err);

/* The modes of a macvlan, and so of a macvtap ("bridge" first, the default). */
extern const struct l2_mode l2_macvlan_modes[4];

/* ---- the verbs ------------------------------------------------------------ */

/*
 * The plugin's process: ADD (l2_add), CHECK (l2_check), DEL (ops->del or
 * l2_cmd_del_child), IPAM's GC and STATUS, over the config ops->load made.
 */
int l2_plugin_main(const struct l2_ops *ops);

/*
 * ADD: CNI_ARGS, the master (c->master, or the default-route device; in
 * the container with linkInContainer), the MTU against the master's, the
 * link as CNI_IFNAME in the container, the addresses (c->ips, else IPAM's;
 * without an IPAM type none and the link just comes up), DNS by ops->dns.
 * On failure everything is undone in reverse order and *err is the error
 * that caused it, the undo's own failures in its details.
 */
int l2_add(const struct cni_cmd *cmd, const struct l2_ops *ops, const struct l2_conf *c,
	   struct cni_result **ret, struct cni_error **err);

/*
 * CHECK: CNI_ARGS, IPAM's CHECK, the prevResult interface, the master, the
 * link (kind, MAC, mode, parent when a master is configured), ops->check,
 * then the addresses and routes of the prevResult.
 */
int l2_check(const struct cni_cmd *cmd, const struct l2_ops *ops, const struct l2_conf *c,
	     struct cni_error **err);

/* The whole DEL of a child link: IPAM, then the link if it is of kind. */
int l2_cmd_del_child(const struct cni_cmd *cmd, const char *kind, struct cni_error **err);

/* ---- the pieces ----------------------------------------------------------- */

/*
 * The master link: name, or when name is NULL/"" the output device of the
 * first default route (0.0.0.0/0, then ::/0) in ns's main table, as the
 * reference picks one.  No default route: code 7 "no default route
 * interface found"; a missing link: code 7 "failed to lookup master ...".
 */
int l2_master_get(struct netns *ns, const char *name, struct cnl_link *ret, struct cni_error **err);

/*
 * Create spec (kind, mtu, mac, parent, mode...; name and netns are ignored)
 * as CNI_IFNAME `ifname` in container.  When via is the host, the link is
 * created through the host's socket (the parent is a host ifindex) but born
 * in container, under a temporary name (l2_temp_name) then renamed inside,
 * so it never carries a name in the host and a host link called like
 * CNI_IFNAME cannot collide with it.  When via is the container itself
 * (linkInContainer, or a link without a parent), it is made there as
 * ifname.  An existing ifname in the container gives "container interface
 * \"eth0\" already exists" (errnum EEXIST).  On failure nothing is left
 * behind.  *ret: the link, re-read.
 */
int l2_child_create(struct netns *via, struct netns *container, const struct cnl_newlink *spec,
		    const char *ifname, struct cnl_link *ret, struct cni_error **err);

/*
 * ADD's addresses from IPAM: ipam_add, its addresses (on interface 0),
 * routes and DNS into r.  *done is set once IPAM has allocated (the caller
 * then undoes it with ipam_del); no address at all is an error.
 */
int l2_ipam_add(const struct cni_cmd *cmd, struct cni_result *r, bool *done, struct cni_error **err);

/*
 * Delete ifname in ns if it is a link of that kind (NULL: any) and, with
 * peer_elsewhere, its peer or parent is in another namespace (a veth of
 * ours has its host end in the host).  Anything else is left alone: after
 * an ADD that failed because the name was taken, a DEL must not remove
 * someone else's interface.  Returns 1 when deleted, 0 when there was
 * nothing of ours to delete.
 */
int l2_link_del_kind(struct netns *ns, const char *ifname, const char *kind, bool peer_elsewhere,
		     struct cni_error **err);

/*
 * CNI_ARGS keys: own (NULL-terminated, may be NULL) plus those of the
 * built-in IPAM type, when the config uses one in-process (an exec'd IPAM
 * plugin polices its own keys, so then nothing is checked).  As the
 * reference, unknown keys are refused unless IgnoreUnknown is set.
 */
int l2_env_args_check(const struct cni_cmd *cmd, const char *const *own, struct cni_error **err);

/*
 * CHECK: the prevResult interface that is CNI_IFNAME in CNI_NETNS (its
 * index), or an error as the reference's: no prevResult (code 7), no such
 * interface ("sandbox in prevResult ... doesn't match configured netns").
 */
int l2_prev_iface(const struct cni_cmd *cmd, const char *plugin, const struct cni_result **ret_prev,
		  int *ret_idx, struct cni_error **err);

/*
 * CHECK of the container link against the prevResult interface: it exists
 * in container, is of kind, and has the MAC the result recorded.
 */
int l2_check_link(struct netns *container, const struct cni_iface *iface, const char *kind,
		  struct cnl_link *ret, struct cni_error **err);

/*
 * The temporary name a link has between its creation (or move) and the
 * rename to ifname: "cnic" + 8 hex digits, fixed for the container netns
 * and ifname, so a link left by an ADD killed in between can be found
 * again.
 */
void l2_temp_name(struct netns *container, const char *ifname, char ret[IFNAMSIZ]);

#endif
