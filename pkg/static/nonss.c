/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Linked into the static plugin binaries only (see Makefile).
 *
 * libnl's utils.o and addr.o, which every libnl user pulls in, refer to
 * getprotobyname(), getprotobynumber() and getaddrinfo() for helpers that
 * turn names into protocols and addresses.  glibc can only answer those
 * through NSS, which a static binary cannot load, and the linker warns about
 * each.  cnic never resolves names (configs carry literal addresses), so name
 * services that know nothing are exactly right, and defining them here keeps
 * glibc's NSS code, and the warnings, out of the binaries.
 */
#include <errno.h>
#include <netdb.h>
#include <stddef.h>

struct protoent *getprotobyname(const char *name)
{
	errno = ENOENT;
	return NULL;
}

struct protoent *getprotobynumber(int proto)
{
	errno = ENOENT;
	return NULL;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	*res = NULL;
	return EAI_NONAME;
}

void freeaddrinfo(struct addrinfo *res)
{
}
