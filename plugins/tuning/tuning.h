/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tuning's pieces shared between tuning.c (the verbs) and backup.c (the
 * backup file of the original values, in the reference's format).
 */
#ifndef CNIC_TUNING_H
#define CNIC_TUNING_H

#include <stdbool.h>
#include <stddef.h>

#include "../../pkg/error.h"
#include "../../pkg/types.h"

enum attr {
	A_MAC,
	A_PROMISC,
	A_MTU,
	A_ALLMULTI,
	A_TXQLEN,
	A_COUNT
};

/* The backup file's key of each attribute (the reference's names). */
extern const char *const attr_key[A_COUNT];

/* Link attributes; has[] says which are meaningful. */
struct attrs {
	bool has[A_COUNT];
	char mac[CNI_MAC_STRLEN];
	bool promisc, allmulti;
	long long mtu, txqlen;
};

struct backup_sysctl {
	char *name;
	char *old;
	char *set;
};

struct backup {
	struct attrs orig; /* the reference's keys */
	bool has_set;	   /* written by cnic: "cnic.set" says what ADD set */
	struct attrs set;
	struct backup_sysctl *sysctls;
	size_t n_sysctls;
	/* Whose backup (cnic only): lets GC pick this network's files. */
	char *network, *container_id, *ifname;
};

void backup_free(struct backup *b);
/* "<dir>/<container id>_<ifname>.json" (caller frees). */
char *backup_path(const char *dir, const char *cid, const char *ifname);
/* Write b to path atomically (temporary file, fsync, rename); dir is created 0700. */
int backup_write(const char *dir, const char *path, const struct backup *b, struct cni_error **err);
/* 1 and *ret when path exists, 0 when it does not, -1 on a read or parse error. */
int backup_read(const char *path, struct backup *ret, struct cni_error **err);
/*
 * Remove the "<backup>.tmp.<pid>" files an ADD killed while writing left
 * behind in dir: those of `path` (any writer: DEL of that attachment), or,
 * with path NULL, those of every attachment whose writer is gone (GC).
 * Best effort: failures leave the file for the next DEL or GC.
 */
void backup_remove_tmp(const char *dir, const char *path, bool only_dead);

#endif
