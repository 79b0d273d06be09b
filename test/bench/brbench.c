/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brbench: timing driver for interface plugins that need a network
 * namespace per attachment (bridge), next to measure.c, which runs both
 * implementations against one container netns and so cannot have two
 * eth0s at once, nor 500 containers attached.
 *
 * Each implementation gets its own node netns (the driver enters it before
 * starting that implementation's process, which inherits it), its own
 * container netns for the measured iterations, and optionally its own
 * filler netns (<prefix><j>) for the containers attached beforehand.  Calls
 * alternate between implementations call by call (who goes first rotates); wall
 * time is CLOCK_MONOTONIC around posix_spawn -> wait4, peak RSS is wait4's
 * ru_maxrss (the driver is static and tiny: its own image is the floor).
 *
 *	brbench -c CASE -v ADD,DEL -n N [-w W] [-p P] [-e VAR=VAL]... [-u]
 *		-I name:bin:conf:node_netns:ctr_netns[:filler_prefix] ...
 *
 * -u: container ids "bench-<name>-<i>" instead of "bench-<i>", for sides
 * sharing one IPAM store (test/bench/phases.sh).  -C: two more columns,
 * cpu_median_us cpu_p90_us, the child's user + system time from wait4: the
 * time it ran, without the time it waited (for a CPU, a lock, an event),
 * which on a busy machine is the steadier figure.
 *
 * Prints TSV rows: case verb impl n median_us p90_us rss_median_kb
 * rss_max_kb errors.  CHECK and DEL get the ADD result as prevResult.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_IMPL 6
#define MAX_VERBS 4
#define MAX_ENV 8
#define OUT_MAX (256 * 1024)

extern char **environ;

struct impl {
	char *name, *bin, *conf, *node, *ctr, *fill;
	char *conf_text;
	char *cni_path;
	int node_fd;
	char *last_add;
};

static struct impl impls[MAX_IMPL];
static unsigned n_impl;
static const char *verbs[MAX_VERBS];
static unsigned n_verbs;
static const char *extra_env[MAX_ENV];
static unsigned n_env;
static int fd_in, fd_out, fd_err;
static char out_buf[OUT_MAX], err_buf[OUT_MAX];
static unsigned shown;
static int cid_per_impl; /* -u */
static int show_cpu;	 /* -C */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("brbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, OUT_MAX);
	size_t n;

	if (!f || !buf)
		die("read %s: %s", path, strerror(errno));
	n = fread(buf, 1, OUT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void memfd_put(int fd, const char *s, size_t n)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, s, n, 0) != (ssize_t)n || lseek(fd, 0, SEEK_SET) < 0)
		die("memfd: %s", strerror(errno));
}

static void memfd_read(int fd, char *buf)
{
	ssize_t n = pread(fd, buf, OUT_MAX - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		die("memfd: %s", strerror(errno));
}

/* The config with "prevResult": result spliced in after its opening brace. */
static char *with_prev(const char *conf, const char *result)
{
	const char *brace = strchr(conf, '{');
	size_t n = strlen(conf) + strlen(result) + 32;
	char *s = malloc(n);

	if (!brace || !s)
		die("bad config");
	snprintf(s, n, "%.*s{\"prevResult\":%s,%s", (int)(brace - conf), conf, result, brace + 1);
	return s;
}

struct run {
	double us;
	double cpu_us; /* the child's user + system time (wait4): on-CPU, not waiting */
	long rss;
	int status;
};

static struct run spawn_one(struct impl *im, const char *verb, const char *cid, const char *netns,
			    const char *in)
{
	char e_cmd[32], e_cid[128], e_ns[512], e_path[1024];
	const char *envp[8 + MAX_ENV];
	char *argv[] = { im->bin, NULL };
	posix_spawn_file_actions_t fa;
	struct timespec t0, t1;
	struct rusage ru;
	struct run r = { 0 };
	unsigned ne = 0;
	pid_t pid;
	int rc;

	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", verb);
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", cid);
	snprintf(e_ns, sizeof(e_ns), "CNI_NETNS=%s", netns);
	snprintf(e_path, sizeof(e_path), "CNI_PATH=%s", im->cni_path);
	envp[ne++] = e_cmd;
	envp[ne++] = e_cid;
	envp[ne++] = e_ns;
	envp[ne++] = "CNI_IFNAME=eth0";
	envp[ne++] = e_path;
	envp[ne++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (unsigned i = 0; i < n_env; i++)
		envp[ne++] = extra_env[i];
	envp[ne] = NULL;

	if (setns(im->node_fd, CLONE_NEWNET) < 0)
		die("enter %s: %s", im->node, strerror(errno));
	memfd_put(fd_in, in, strlen(in));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd_in, 0);
	posix_spawn_file_actions_adddup2(&fa, fd_out, 1);
	posix_spawn_file_actions_adddup2(&fa, fd_err, 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = posix_spawn(&pid, im->bin, &fa, NULL, argv, (char *const *)envp);
	if (rc)
		die("spawn %s: %s", im->bin, strerror(rc));
	while (wait4(pid, &r.status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	posix_spawn_file_actions_destroy(&fa);
	r.us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	r.rss = ru.ru_maxrss;
	r.cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
		   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	memfd_read(fd_out, out_buf);
	memfd_read(fd_err, err_buf);
	if (r.status != 0 && shown++ < 5)
		fprintf(stderr, "brbench: %s %s %s: status %d: %.300s %.300s\n", im->name, verb,
			cid, r.status, out_buf, err_buf);
	return r;
}

static struct run call(struct impl *im, const char *verb, const char *cid, const char *netns)
{
	char *req = NULL;
	struct run r;

	if (strcmp(verb, "ADD") != 0 && im->last_add)
		req = with_prev(im->conf_text, im->last_add);
	r = spawn_one(im, verb, cid, netns, req ? req : im->conf_text);
	free(req);
	if (!strcmp(verb, "ADD")) {
		free(im->last_add);
		im->last_add = r.status == 0 && out_buf[0] == '{' ? strdup(out_buf) : NULL;
	}
	return r;
}

static void fill(const char *verb, unsigned p)
{
	for (unsigned w = 0; w < n_impl; w++) {
		struct impl *im = &impls[w];

		if (!im->fill)
			continue;
		for (unsigned j = 0; j < p; j++) {
			char cid[64], ns[600];

			snprintf(cid, sizeof(cid), "bench-filler-%u", j);
			snprintf(ns, sizeof(ns), "%s%u", im->fill, j);
			free(im->last_add);
			im->last_add = NULL;
			(void)spawn_one(im, verb, cid, ns, im->conf_text);
		}
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_l(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static void split_impl(char *s)
{
	struct impl *im;
	char *f[6] = { NULL };
	unsigned n = 0;

	if (n_impl == MAX_IMPL)
		die("too many -I");
	im = &impls[n_impl++];
	for (char *save = NULL, *t = strtok_r(s, ":", &save); t && n < 6;
	     t = strtok_r(NULL, ":", &save))
		f[n++] = t;
	if (n < 5)
		die("-I name:bin:conf:node:ctr[:filler_prefix]");
	im->name = f[0];
	im->bin = f[1];
	im->conf = f[2];
	im->node = f[3];
	im->ctr = f[4];
	im->fill = f[5];
}

int main(int argc, char **argv)
{
	const char *name = NULL;
	char *vlist = NULL;
	unsigned n = 100, warm = 3, p = 0;
	int c;

	while ((c = getopt(argc, argv, "c:v:n:w:p:e:I:uC")) != -1) {
		switch (c) {
		case 'c':
			name = optarg;
			break;
		case 'v':
			vlist = optarg;
			break;
		case 'n':
			n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			warm = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			p = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'u':
			cid_per_impl = 1;
			break;
		case 'C':
			show_cpu = 1;
			break;
		case 'e':
			if (n_env == MAX_ENV)
				die("too many -e");
			extra_env[n_env++] = optarg;
			break;
		case 'I':
			split_impl(optarg);
			break;
		default:
			die("usage: see the top of brbench.c");
		}
	}
	if (!name || !vlist || !n || !n_impl)
		die("usage: see the top of brbench.c");
	for (char *save = NULL, *t = strtok_r(vlist, ",", &save); t && n_verbs < MAX_VERBS;
	     t = strtok_r(NULL, ",", &save))
		verbs[n_verbs++] = t;
	for (unsigned w = 0; w < n_impl; w++) {
		struct impl *im = &impls[w];
		char *slash;

		im->conf_text = slurp(im->conf);
		im->cni_path = strdup(im->bin);
		slash = strrchr(im->cni_path, '/');
		if (!slash)
			die("%s: give a path", im->bin);
		*slash = '\0';
		im->node_fd = open(im->node, O_RDONLY | O_CLOEXEC);
		if (im->node_fd < 0)
			die("open %s: %s", im->node, strerror(errno));
	}
	fd_in = memfd_create("in", MFD_CLOEXEC);
	fd_out = memfd_create("out", MFD_CLOEXEC);
	fd_err = memfd_create("err", MFD_CLOEXEC);
	if (fd_in < 0 || fd_out < 0 || fd_err < 0)
		die("memfd_create: %s", strerror(errno));

	double *us[MAX_VERBS][MAX_IMPL], *cpu[MAX_VERBS][MAX_IMPL];
	long *rss[MAX_VERBS][MAX_IMPL];
	unsigned errs[MAX_VERBS][MAX_IMPL] = { { 0 } };

	for (unsigned v = 0; v < n_verbs; v++)
		for (unsigned w = 0; w < n_impl; w++) {
			us[v][w] = calloc(n, sizeof(double));
			cpu[v][w] = calloc(n, sizeof(double));
			rss[v][w] = calloc(n, sizeof(long));
		}
	if (p)
		fill("ADD", p);
	for (unsigned i = 0; i < warm + n; i++) {
		char cid[64];

		snprintf(cid, sizeof(cid), "bench-%u", i);
		/*
		 * Rotate who goes first: a link deletion leaves RCU work behind
		 * that the next deletion may wait for, so a fixed order would
		 * bill one side for the other's teardown.
		 */
		for (unsigned v = 0; v < n_verbs; v++)
			for (unsigned k = 0; k < n_impl; k++) {
				unsigned w = (k + i) % n_impl;
				char icid[128];
				struct run r;

				/* Sides sharing one IPAM store need container ids of their own. */
				if (cid_per_impl)
					snprintf(icid, sizeof(icid), "bench-%s-%u", impls[w].name, i);
				else
					snprintf(icid, sizeof(icid), "%s", cid);
				r = call(&impls[w], verbs[v], icid, impls[w].ctr);

				if (i < warm)
					continue;
				us[v][w][i - warm] = r.us;
				cpu[v][w][i - warm] = r.cpu_us;
				rss[v][w][i - warm] = r.rss;
				if (r.status)
					errs[v][w]++;
			}
	}
	if (p)
		fill("DEL", p);
	for (unsigned v = 0; v < n_verbs; v++)
		for (unsigned w = 0; w < n_impl; w++) {
			qsort(us[v][w], n, sizeof(double), cmp_d);
			qsort(rss[v][w], n, sizeof(long), cmp_l);
			printf("%s\t%s\t%s\t%u\t%.0f\t%.0f\t%ld\t%ld\t%u", name, verbs[v],
			       impls[w].name, n, us[v][w][n / 2], us[v][w][(n * 9) / 10],
			       rss[v][w][n / 2], rss[v][w][n - 1], errs[v][w]);
			if (show_cpu) {
				qsort(cpu[v][w], n, sizeof(double), cmp_d);
				printf("\t%.0f\t%.0f", cpu[v][w][n / 2], cpu[v][w][(n * 9) / 10]);
			}
			putchar('\n');
		}
	return 0;
}
