/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-local disk store, byte for byte the reference's format
 * (docs/host-local.md), so both implementations can share a
 * network directory:
 *
 *   <dataDir>/<network>/            mode 0755 (parents too)
 *       lock                        empty, 0750, flock(LOCK_EX) by every writer
 *       <ip>                        "<containerID>\r\n<ifname>", no newline, 0600
 *       last_reserved_ip.<set>      "<ip>", no newline, 0600
 *
 * Differences from the reference, none visible in the format:
 *  - the lock wait is bounded (then code 11, try again);
 *  - a reservation appears complete or not at all: its content is written
 *    to an unnamed O_TMPFILE inode that is then linked under the address's
 *    name (link fails if the name exists: the same test as the
 *    reference's O_EXCL).  Where O_TMPFILE is unsupported a named
 *    ".cnic-tmp.<ip>" file is written and linked instead: that name never
 *    parses as an address, so the reference ignores it when it looks for
 *    reservations (it could at worst delete it, or count it in a CHECK),
 *    and a crash can leave one behind only while the lock was held: the
 *    next locked scan removes it.  last_reserved_ip.<n> is only a
 *    round-robin hint and is rewritten in place (see store.c);
 *  - nothing is followed: the network directory is opened O_NOFOLLOW and
 *    every name inside it is reached with *at() calls and O_NOFOLLOW;
 *    non-regular entries are never read (and never opened blocking);
 *  - a scan reads the directory once and looks only at its own entries
 *    whose name is an address in canonical form (the reference also walks
 *    subdirectories and reads any file);
 *  - attachment hints (alloc.h hint_*) are dotfiles in the network
 *    directory, .cnic-hint.<16 hex>, which the reference reads but never
 *    matches (see store.c).  Each records the boot it was written in
 *    (/proc/sys/kernel/random/boot_id), and .cnic-boot, present exactly
 *    while hints are, the boot whose first ADD released the earlier boots'
 *    reservations.  Hints an older version kept in
 *    <dataDir>/.cnic/<network>/ are moved in on first use.
 */
#ifndef CNIC_IPAM_STORE_H
#define CNIC_IPAM_STORE_H

#include <stdbool.h>

#include "../pkg/error.h"
#include "alloc.h"

#define IPAM_DEFAULT_DATA_DIR "/var/lib/cni/networks"
#define IPAM_LOCK_TIMEOUT_MS_DEFAULT 60000u
/* Environment variable overriding the lock wait, in milliseconds. */
#define IPAM_LOCK_TIMEOUT_ENV "CNIC_IPAM_LOCK_TIMEOUT_MS"
/* Prefix of the store's temporary files. */
#define IPAM_TMP_PREFIX ".cnic-tmp."

struct ipam_store;

/*
 * Open <data_dir>/<network> (data_dir NULL or "": the default; a relative
 * data_dir is relative to the working directory, as the reference).  With
 * create, missing directories are made (0755, parents too); without it a
 * missing directory gives 0 and *ret NULL.  A network directory that is a
 * symlink or not a directory is refused.
 */
int ipam_store_open(const char *data_dir, const char *network, bool create, struct ipam_store **ret,
		    struct cni_error **err);

/*
 * Take the network's lock (creating the lock file), waiting at most
 * timeout_ms; code 11 when that is not enough.
 */
int ipam_store_lock(struct ipam_store *s, unsigned int timeout_ms, struct cni_error **err);

/* Release the lock and close everything.  NULL is fine. */
void ipam_store_free(struct ipam_store *s);
void ipam_store_freep(struct ipam_store **s);
#define cleanup_store __attribute__((cleanup(ipam_store_freep)))

/* "<data_dir>/<network>", for messages. */
const char *ipam_store_path(const struct ipam_store *s);

/*
 * Whether ADD releases the reservations earlier boots' ADDs made (on by
 * default; host-local's "reclaimAfterReboot": false turns it off): see
 * store_reclaim in store.c and docs/host-local.md.  Hints record the boot
 * either way.
 */
void ipam_store_set_reclaim(struct ipam_store *s, bool on);

/* For tests: behave as on a file system without O_TMPFILE (named temporaries). */
void ipam_store_disable_tmpfile(struct ipam_store *s);

/* The operations of alloc.h on a struct ipam_store *. */
extern const struct ipam_store_ops ipam_disk_store_ops;

#endif
