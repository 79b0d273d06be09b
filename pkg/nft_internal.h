/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What nft.c (socket, commit, reading) and nft_batch.c (building batches
 * and rules) share; not for users of nft.h.
 */
#ifndef CNIC_NFT_INTERNAL_H
#define CNIC_NFT_INTERNAL_H

#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <linux/netlink.h>

#include "nft.h"
#include "nlsock.h"

/* Room reserved for a request naming one object (table, chain, set, rule by handle). */
#define CNIC_NFT_OBJ_ROOM 4096u

struct nft {
	struct cnl_sock *nl;
	int sndbuf;  /* what SO_SNDBUF was raised to, 0: untouched */
	int rcvbuf;  /* what SO_RCVBUF was raised to, 0: untouched */
	char **keep; /* "add set" requests to leave out: the set exists, defined otherwise */
	size_t n_keep;
	bool committed;		/* a batch was committed (see nft_close) */
	struct cnl_sock *probe; /* nft_set_has_other's, released with nl */
};

struct nft_req {
	size_t off; /* of its nlmsghdr in the batch buffer */
	char *what; /* "add element to set inet t s", for errors */
};

struct nft_batch {
	char *buf;
	size_t len, cap;
	struct nft_req *reqs;
	size_t n_reqs;
	uint32_t set_ids; /* NFTA_SET_ID of the last set added (the kernel requires one) */
	bool deletes;	  /* has requests that delete something */
	bool guarded;	  /* commit only if the ruleset is still at generation genid */
	uint32_t genid;
};

struct nft_rule {
	struct nftnl_rule *r;
	size_t n_expr;
};

/*
 * Room for one request of at most room bytes in b; returns where it goes.
 * libnftnl writes attributes unchecked, so room must be an upper bound.
 */
char *nft_buf_reserve(struct nft_batch *b, size_t room);
/* Queue the request just written at nlh (within room) as b's next; b takes what. */
void nft_buf_push(struct nft_batch *b, struct nlmsghdr *nlh, size_t room, char *what);

/* "inet", "ip", ... as nft names families. */
const char *nft_family_str(uint8_t family);
/* libnftnl objects naming a chain, and an element (with its data and comment, or just the key). */
struct nftnl_chain *nft_chain_obj(const char *table, const char *chain);
struct nftnl_set_elem *nft_elem_obj(const struct nft_elem *e, bool with_data);

#endif
