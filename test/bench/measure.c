/* SPDX-License-Identifier: Apache-2.0 */
/*
 * measure: the timing driver behind `make bench`.
 *
 * Runs two CNI plugin implementations ("ours" and "ref") with the same
 * request, strictly alternating call by call, and prints one TSV row per verb
 * with the median/p90 wall time and the median/max peak RSS of each side.
 *
 * Wall time is CLOCK_MONOTONIC around spawn -> wait4; peak RSS is wait4's
 * ru_maxrss.  The child is started with posix_spawn (a CLONE_VFORK clone in
 * glibc), so the driver's own page-table copy is not billed to either side,
 * and stdin/stdout/stderr are memfds so no pipe can fill up or block.
 * Because ru_maxrss also covers the pre-exec image (the driver, which the
 * vfork child shares), the driver is linked statically and kept tiny; its
 * own peak RSS is printed as the floor below which no number can go.
 *
 * The driver does no namespace work: run it inside the node netns.
 */
#include <errno.h>
#include <getopt.h>
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

#define MAX_VERBS 4
#define MAX_EXTRA_ENV 8
#define OUT_MAX (256 * 1024)

enum {
	OURS,
	REF,
	NIMPL
};
static const char *const impl_name[NIMPL] = { "ours", "ref" };

struct impl {
	const char *bin;
	char *conf; /* the network config, a JSON object */
	size_t conf_len;
	char *cni_path; /* directory of bin */
};

struct sample {
	double *wall_us;
	long *rss_kb;
	unsigned n;
	unsigned errors;
};

static struct {
	const char *name;
	const char *netns;
	const char *ifname;
	const char *extra_env[MAX_EXTRA_ENV];
	unsigned n_extra_env;
	const char *verbs[MAX_VERBS];
	unsigned n_verbs;
	unsigned n, warmup, prepop;
	bool prev_result;
	bool verbose;
} opt = {
	.ifname = "eth0",
	.n = 200,
	.warmup = 5,
	.prev_result = true,
};

static struct impl impls[NIMPL];
static int fd_in = -1, fd_out = -1, fd_err = -1;
static char *out_buf, *err_buf;
static unsigned errors_shown;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("measure: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		die("out of memory");
	return p;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long sz;

	if (!f)
		die("%s: %m", path);
	if (fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		die("%s: %m", path);
	buf = xcalloc(1, (size_t)sz + 1);
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz)
		die("%s: short read", path);
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write memfd: %m");
		buf += w;
		len -= (size_t)w;
	}
}

/* Reset a memfd to empty (for stdout/stderr) or to the given content (stdin). */
static void memfd_set(int fd, const char *buf, size_t len)
{
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		die("reset memfd: %m");
	if (len) {
		write_all(fd, buf, len);
		if (lseek(fd, 0, SEEK_SET) < 0)
			die("rewind memfd: %m");
	}
}

static char *chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

static size_t memfd_get(int fd, char *buf, size_t max)
{
	ssize_t r = pread(fd, buf, max - 1, 0);

	if (r < 0)
		die("read memfd: %m");
	buf[r] = '\0';
	return (size_t)r;
}

/*
 * The request for CHECK and DEL carries the ADD result as prevResult, as
 * libcni does for cniVersion >= 0.4.0: splice it in before the config's
 * closing brace.  Returns a malloc'ed string.
 */
static char *with_prev_result(const struct impl *im, const char *result, size_t *len)
{
	const char *end = im->conf + im->conf_len;
	size_t head, rlen = strlen(result);
	char *s;

	while (end > im->conf && end[-1] != '}')
		end--;
	if (end == im->conf)
		die("config is not a JSON object");
	head = (size_t)(end - 1 - im->conf);
	while (rlen && (result[rlen - 1] == '\n' || result[rlen - 1] == ' '))
		rlen--;
	s = xcalloc(1, head + rlen + 32);
	*len = (size_t)snprintf(s, head + rlen + 32, "%.*s,\"prevResult\":%.*s}", (int)head,
				im->conf, (int)rlen, result);
	return s;
}

struct run {
	double wall_us;
	long rss_kb;
	int status;
};

static struct run spawn_plugin(const struct impl *im, const char *verb, const char *cid,
			       const char *stdin_buf, size_t stdin_len)
{
	char e_cmd[32], e_cid[128], e_netns[512], e_if[64], e_path[1024];
	const char *envp[8 + MAX_EXTRA_ENV];
	char *argv[] = { (char *)im->bin, NULL };
	posix_spawn_file_actions_t fa;
	struct timespec t0, t1;
	struct rusage ru;
	struct run r = { 0 };
	unsigned ne = 0;
	pid_t pid;
	int rc;

	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", verb);
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", cid);
	snprintf(e_netns, sizeof(e_netns), "CNI_NETNS=%s", opt.netns);
	snprintf(e_if, sizeof(e_if), "CNI_IFNAME=%s", opt.ifname);
	snprintf(e_path, sizeof(e_path), "CNI_PATH=%s", im->cni_path);
	envp[ne++] = e_cmd;
	envp[ne++] = e_cid;
	envp[ne++] = e_netns;
	envp[ne++] = e_if;
	envp[ne++] = e_path;
	envp[ne++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (unsigned i = 0; i < opt.n_extra_env; i++)
		envp[ne++] = opt.extra_env[i];
	envp[ne] = NULL;

	memfd_set(fd_in, stdin_buf, stdin_len);
	memfd_set(fd_out, NULL, 0);
	memfd_set(fd_err, NULL, 0);
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
			die("wait4: %m");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	posix_spawn_file_actions_destroy(&fa);

	r.wall_us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
	r.rss_kb = ru.ru_maxrss;
	memfd_get(fd_out, out_buf, OUT_MAX);
	if (r.status != 0) {
		memfd_get(fd_err, err_buf, OUT_MAX);
		/* Enough to diagnose, not enough to drown the table. */
		if (opt.verbose || errors_shown < 3)
			fprintf(stderr, "measure: %s: %s %s %s: %s %d: %s %s\n", opt.name, verb,
				im->bin, cid, WIFSIGNALED(r.status) ? "signal" : "exit",
				WIFSIGNALED(r.status) ? WTERMSIG(r.status) : WEXITSTATUS(r.status),
				chomp(out_buf), chomp(err_buf));
		errors_shown++;
	}
	return r;
}

/*
 * Iteration i runs every verb for container id <prefix><i>, alternating the
 * implementations call by call (ours, ref, ours, ref ...), so slow drift of
 * the machine (thermal, noisy neighbours, page cache) hits both equally.
 * Who goes first swaps every iteration: a call also pays for what the one
 * before it left the kernel to finish (a netfilter socket's deferred
 * destruction holds the commit mutex; a deleted link's cleanup), and in a
 * fixed order one side would always follow the other's same verb.
 */
static void iterate(const char *prefix, unsigned count, struct sample *samples)
{
	char *add_result[NIMPL] = { NULL };
	char cid[96];

	for (unsigned i = 0; i < count; i++) {
		snprintf(cid, sizeof(cid), "%s%u", prefix, i);
		for (unsigned v = 0; v < opt.n_verbs; v++) {
			for (int k = 0; k < NIMPL; k++) {
				const int w = i % 2 ? NIMPL - 1 - k : k;
				const char *verb = opt.verbs[v];
				const struct impl *im = &impls[w];
				bool is_add = !strcmp(verb, "ADD");
				char *req = NULL;
				size_t req_len;
				struct run r;

				if (!is_add && opt.prev_result && add_result[w] &&
				    *add_result[w] == '{')
					req = with_prev_result(im, add_result[w], &req_len);
				r = spawn_plugin(im, verb, cid, req ? req : im->conf,
						 req ? req_len : im->conf_len);
				free(req);
				if (is_add) {
					free(add_result[w]);
					add_result[w] = r.status == 0 ? strdup(out_buf) : NULL;
				}
				if (samples) {
					struct sample *s = &samples[v * NIMPL + w];

					s->wall_us[s->n] = r.wall_us;
					s->rss_kb[s->n] = r.rss_kb;
					s->n++;
					if (r.status != 0)
						s->errors++;
				}
			}
		}
	}
	for (int w = 0; w < NIMPL; w++)
		free(add_result[w]);
}

/* Fill (ADD) or drain (DEL) the store with other containers, one implementation at a time. */
static void populate(const char *verb, unsigned count)
{
	char cid[96];

	for (int w = 0; w < NIMPL; w++) {
		for (unsigned i = 0; i < count; i++) {
			struct run r;

			snprintf(cid, sizeof(cid), "bench-filler-%u", i);
			r = spawn_plugin(&impls[w], verb, cid, impls[w].conf, impls[w].conf_len);
			/* The spawn already said why; go on, the numbers will show it. */
			if (r.status != 0 && !strcmp(verb, "ADD") && errors_shown < 3)
				fprintf(stderr, "measure: %s: prepopulating %s failed at %s\n",
					opt.name, impl_name[w], cid);
		}
	}
}

/*
 * The driver's own high-water RSS, the floor under every RSS number (see the
 * top of this file).  Not getrusage(RUSAGE_SELF): that also counts the image
 * of whatever exec'ed us (nsenter, the shell).
 */
static long self_hwm_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static size_t rank(unsigned n, unsigned pct)
{
	size_t k = ((size_t)n * pct + 99) / 100;

	return k ? k - 1 : 0;
}

static void usage(void)
{
	fputs("usage: measure -c CASE -a OURS_BIN -A OURS_CONF -b REF_BIN -B REF_CONF\n"
	      "               -s NETNS_PATH [-i IFNAME] [-v ADD,CHECK,DEL] [-n N] [-w WARMUP]\n"
	      "               [-p PREPOPULATE] [-e VAR=VAL]... [-P (no prevResult)] [-V]\n"
	      "prints TSV: case verb n ours_med_us ours_p90_us ref_med_us ref_p90_us\n"
	      "            ours_rss_kb ref_rss_kb ours_rss_max_kb ref_rss_max_kb ours_err ref_err\n"
	      "then a line \"#floor<TAB>kB\": the driver's own peak RSS\n",
	      stderr);
	exit(2);
}

static char *dir_of(const char *path)
{
	char *d = strdup(path), *slash;

	if (!d)
		die("out of memory");
	slash = strrchr(d, '/');
	if (!slash)
		die("%s: give a path, not a bare name", path);
	*slash = '\0';
	return d;
}

int main(int argc, char **argv)
{
	const char *conf_path[NIMPL] = { NULL };
	struct sample samples[MAX_VERBS * NIMPL];
	static char default_verbs[] = "ADD,DEL";
	char *verbs = NULL;
	int c;

	while ((c = getopt(argc, argv, "c:a:A:b:B:s:i:v:n:w:p:e:PV")) != -1) {
		switch (c) {
		case 'c':
			opt.name = optarg;
			break;
		case 'a':
			impls[OURS].bin = optarg;
			break;
		case 'A':
			conf_path[OURS] = optarg;
			break;
		case 'b':
			impls[REF].bin = optarg;
			break;
		case 'B':
			conf_path[REF] = optarg;
			break;
		case 's':
			opt.netns = optarg;
			break;
		case 'i':
			opt.ifname = optarg;
			break;
		case 'v':
			verbs = optarg;
			break;
		case 'n':
			opt.n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			opt.warmup = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			opt.prepop = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			if (opt.n_extra_env == MAX_EXTRA_ENV)
				die("too many -e");
			opt.extra_env[opt.n_extra_env++] = optarg;
			break;
		case 'P':
			opt.prev_result = false;
			break;
		case 'V':
			opt.verbose = true;
			break;
		default:
			usage();
		}
	}
	if (!opt.name || !opt.netns || !opt.n)
		usage();
	for (int w = 0; w < NIMPL; w++) {
		if (!impls[w].bin || !conf_path[w])
			usage();
		impls[w].conf = read_file(conf_path[w], &impls[w].conf_len);
		impls[w].cni_path = dir_of(impls[w].bin);
	}
	if (!verbs)
		verbs = default_verbs;
	for (char *save = NULL, *tok = strtok_r(verbs, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (opt.n_verbs == MAX_VERBS)
			die("too many verbs");
		opt.verbs[opt.n_verbs++] = tok;
	}

	fd_in = memfd_create("bench-stdin", MFD_CLOEXEC);
	fd_out = memfd_create("bench-stdout", MFD_CLOEXEC);
	fd_err = memfd_create("bench-stderr", MFD_CLOEXEC);
	if (fd_in < 0 || fd_out < 0 || fd_err < 0)
		die("memfd_create: %m");
	out_buf = xcalloc(1, OUT_MAX);
	err_buf = xcalloc(1, OUT_MAX);
	for (unsigned k = 0; k < MAX_VERBS * NIMPL; k++) {
		samples[k].wall_us = xcalloc(opt.n, sizeof(double));
		samples[k].rss_kb = xcalloc(opt.n, sizeof(long));
		samples[k].n = 0;
		samples[k].errors = 0;
	}

	if (opt.prepop)
		populate("ADD", opt.prepop);
	iterate("bench-warmup-", opt.warmup, NULL);
	iterate("bench-", opt.n, samples);
	if (opt.prepop)
		populate("DEL", opt.prepop);

	for (unsigned v = 0; v < opt.n_verbs; v++) {
		double med[NIMPL], p90[NIMPL];
		long rss[NIMPL], rss_max[NIMPL];

		for (int w = 0; w < NIMPL; w++) {
			struct sample *s = &samples[v * NIMPL + w];

			qsort(s->wall_us, s->n, sizeof(double), cmp_double);
			qsort(s->rss_kb, s->n, sizeof(long), cmp_long);
			med[w] = s->wall_us[rank(s->n, 50)];
			p90[w] = s->wall_us[rank(s->n, 90)];
			rss[w] = s->rss_kb[rank(s->n, 50)];
			rss_max[w] = s->rss_kb[s->n - 1];
		}
		printf("%s\t%s\t%u\t%.0f\t%.0f\t%.0f\t%.0f\t%ld\t%ld\t%ld\t%ld\t%u\t%u\n", opt.name,
		       opt.verbs[v], opt.n, med[OURS], p90[OURS], med[REF], p90[REF], rss[OURS],
		       rss[REF], rss_max[OURS], rss_max[REF], samples[v * NIMPL + OURS].errors,
		       samples[v * NIMPL + REF].errors);
	}
	printf("#floor\t%ld\n", self_hwm_kb());
	return 0;
}
