/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor-host-local: the file work host-local's on-disk format forces, and
 * nothing else, as a process started like a plugin: no config parsing, no
 * range arithmetic, no result.  It is the floor of the host-local rows, so
 * "cnic / floor" shows what cnic adds over the store itself:
 *
 *   ADD:   the store's lock (open + flock), and for each range set the
 *          reservation written whole (O_TMPFILE, write, linkat under the
 *          address's name: a reader never sees half a file) and
 *          last_reserved_ip.<set> rewritten in place.
 *   CHECK: the lock, the attachment's reservations read back.
 *   DEL:   the lock, then every reservation's owner read (open, read,
 *          close per file) and the attachment's unlinked.  The format
 *          (file name: address; content: "ID\r\nIFNAME") gives no other way
 *          to find every reservation of an owner, including those another
 *          host-local sharing the directory wrote, so this scan is the
 *          floor of any DEL that honours it (the reference's included).
 *
 * The store is "store/" next to the binary.  There are as many range sets
 * as "subnet" keys in the config on stdin (1 to FLOOR_HL_MAX_SETS; the
 * bench configs have one range per set), so a dual-stack config costs the
 * floor two reservations, as it costs the plugin.  ADD takes, per set, the
 * first free address from a hash of the container ID on (198.18.128.0/17,
 * then 2001:db8:<set>::/64) and prints them as {"floorip": "a,b"}, which
 * CHECK finds in its prevResult.
 * Environment: CNI_COMMAND, CNI_CONTAINERID, CNI_IFNAME.  Exit status 0 / 1.
 *
 * floor-bridge.c includes this file (FLOOR_HL_NO_MAIN) and calls
 * floor_hl() in-process, as cnic's bridge runs host-local in-process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int lock_store(int dirfd)
{
	int fd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return -1;
	return fd;
}

#define FLOOR_HL_MAX_SETS 4

static void addr_name(unsigned set, unsigned k, char *buf, size_t len)
{
	k %= 127 * 250;
	if (set == 0)
		snprintf(buf, len, "198.18.%u.%u", 128 + k / 250, k % 250 + 1);
	else
		snprintf(buf, len, "2001:db8:%x::%x", set, k + 2);
}

static unsigned count_sets(const char *in)
{
	unsigned n = 0;

	for (const char *p = in; n < FLOOR_HL_MAX_SETS && (p = strstr(p, "\"subnet\"")); p++)
		n++;
	return n ? n : 1;
}

/* One set's reservation and its last_reserved_ip.<set>; the address's name into name. */
static int reserve_one(int dirfd, unsigned set, unsigned h, const char *owner, ssize_t olen,
		       char *name, size_t namesz)
{
	char proc[64], last[32];
	unsigned i;
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, owner, (size_t)olen) != olen)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (i = 0;; i++) {
		addr_name(set, h + i, name, namesz);
		/* By the fd itself (needs CAP_DAC_READ_SEARCH), else by /proc. */
		if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0 ||
		    (errno == ENOENT && linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0))
			break;
		if (errno != EEXIST || i == 127 * 250)
			return -1;
	}
	close(fd);
	/* Rewritten in place: truncating to zero (O_TRUNC) would make ext4 flush
	 * the data at close (auto_da_alloc), a cost the plugin avoids too. */
	snprintf(last, sizeof(last), "last_reserved_ip.%u", set);
	fd = openat(dirfd, last, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || pwrite(fd, name, strlen(name), 0) < 0 || ftruncate(fd, (off_t)strlen(name)) < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * One verb on the store dir, in holding the request (CHECK reads prevResult's
 * "floorip"); ADD writes {"floorip": ...} into out.  0, or -1 with errno.
 */
static int floor_hl(const char *dir, const char *cmd, const char *id, const char *ifname,
		    const char *in, char *out, size_t outsz)
{
	char owner[256], name[64], buf[256];
	int dirfd, lockfd, fd;
	ssize_t olen;
	unsigned h = 2166136261u, nsets = count_sets(in);

	(void)mkdir(dir, 0755);
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || (lockfd = lock_store(dirfd)) < 0)
		return -1;
	olen = snprintf(owner, sizeof(owner), "%s\r\n%s", id, ifname);

	if (strcmp(cmd, "ADD") == 0) {
		size_t used;

		for (const char *c = id; *c; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
		used = (size_t)snprintf(out, outsz, "{\"cniVersion\":\"1.0.0\",\"floorip\":\"");
		for (unsigned set = 0; set < nsets; set++) {
			if (reserve_one(dirfd, set, h, owner, olen, name, sizeof(name)) < 0)
				return -1;
			used += (size_t)snprintf(out + used, outsz - used, "%s%s", set ? "," : "",
						 name);
		}
		snprintf(out + used, outsz - used, "\"}");
	} else if (strcmp(cmd, "CHECK") == 0) {
		const char *p = strstr(in, "\"floorip\":\"");
		int consumed;

		if (!p)
			return -1;
		for (p += 11; sscanf(p, "%63[0-9a-f.:]%n", name, &consumed) == 1; p += consumed) {
			fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || read(fd, buf, sizeof(buf)) != olen ||
			    memcmp(buf, owner, (size_t)olen) != 0)
				return -1;
			close(fd);
			if (p[consumed] == ',')
				consumed++;
		}
	} else if (strcmp(cmd, "DEL") == 0) {
		DIR *d = fdopendir(dup(dirfd));
		struct dirent *e;

		if (!d)
			return -1;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.' || strcmp(e->d_name, "lock") == 0 ||
			    strncmp(e->d_name, "last_reserved_ip", 16) == 0)
				continue;
			fd = openat(dirfd, e->d_name, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (read(fd, buf, sizeof(buf)) == olen &&
			    memcmp(buf, owner, (size_t)olen) == 0)
				(void)unlinkat(dirfd, e->d_name, 0);
			close(fd);
		}
		closedir(d);
	}
	close(lockfd);
	close(dirfd);
	return 0;
}

#ifndef FLOOR_HL_NO_MAIN
int main(int argc, char **argv)
{
	const char *cmd = getenv("CNI_COMMAND"), *id = getenv("CNI_CONTAINERID");
	const char *ifname = getenv("CNI_IFNAME");
	char dir[PATH_MAX], in[8192], out[512] = "";
	size_t inlen = 0;
	ssize_t r;
	char *slash;

	(void)argc;
	if (!cmd || !id || !ifname)
		return 1;
	while (inlen < sizeof(in) - 1 && (r = read(0, in + inlen, sizeof(in) - 1 - inlen)) > 0)
		inlen += (size_t)r;
	in[inlen] = '\0';
	snprintf(dir, sizeof(dir), "%s", argv[0]);
	slash = strrchr(dir, '/');
	snprintf(slash ? slash + 1 : dir, sizeof(dir) - (size_t)(slash ? slash + 1 - dir : 0),
		 "store");
	if (floor_hl(dir, cmd, id, ifname, in, out, sizeof(out)) < 0)
		return 1;
	fputs(out, stdout);
	return 0;
}
#endif
