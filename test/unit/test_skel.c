/* SPDX-License-Identifier: Apache-2.0 */
/* The skeleton and delegation, driven in-process with injected env/stdin/stdout. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../pkg/invoke.h"
#include "../../pkg/skel.h"

static int add_calls, del_calls, gc_calls, last_netns_fd;
static bool add_no_ip;

static int fake_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	struct cni_result *r = cni_result_new();
	struct cni_ip *ip;

	add_calls++;
	last_netns_fd = cmd->netns_fd;
	cni_result_add_iface(r, cmd->ifname, "02:00:00:00:00:01", cmd->netns);
	if (!add_no_ip) {
		ip = cni_result_add_ip(r);
		assert_int_equal(ipnet_parse("198.18.0.5/24", &ip->address), 0);
		assert_int_equal(ipaddr_parse("198.18.0.1", &ip->gateway), 0);
		ip->interface = 0;
	}
	*ret = r;
	return 0;
}

static int fake_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	del_calls++;
	last_netns_fd = cmd->netns_fd;
	return 0;
}

static int fake_gc(const struct cni_cmd *cmd, struct cni_error **err)
{
	gc_calls++;
	return cmd->conf->n_valid_attachments == 1 ? 0 : cni_error_set(err, 100, 0, "bad gc input");
}

static const struct cni_plugin with_gc = {
	.name = "fake",
	.add = fake_add,
	.del = fake_del,
	.gc = fake_gc,
};
static const struct cni_plugin without_gc = {
	.name = "fake",
	.add = fake_add,
	.del = fake_del,
};
static int args_add(const struct cni_cmd *cmd, struct cni_result **ret, struct cni_error **err)
{
	if (cni_env_args_check(&cmd->args, NULL, err) < 0)
		return -1;
	return fake_add(cmd, ret, err);
}

static bool del_saw_input;

static int inspect_del(const struct cni_cmd *cmd, struct cni_error **err)
{
	del_calls++;
	del_saw_input = cmd->conf->prev_result || cmd->conf->rc.n_port_mappings ||
			cmd->conf->args_ips.n || cmd->args.n ||
			cni_json_get(cni_netconf_root(cmd->conf), "runtimeConfig");
	return 0;
}

static const struct cni_plugin reads_args = {
	.name = "fake",
	.add = args_add,
	.del = inspect_del,
	.gc = fake_gc,
};
static const struct cni_plugin from_040 = {
	.name = "fake",
	.add = fake_add,
	.del = fake_del,
	.min_version = CNI_V040,
};

struct run {
	int status;
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
};

static struct run run_plugin(const struct cni_plugin *p, const char *stdin_json, ...)
{
	char *envp[32];
	size_t n = 0;
	struct run r = { 0 };
	struct cni_io io;
	const char *e;
	va_list ap;

	va_start(ap, stdin_json);
	while ((e = va_arg(ap, const char *)) && n < ARRAY_SIZE(envp) - 1)
		envp[n++] = (char *)e;
	va_end(ap);
	envp[n] = NULL;

	io.envp = envp;
	io.in = fmemopen((void *)stdin_json, strlen(stdin_json) ? strlen(stdin_json) : 1, "r");
	if (!strlen(stdin_json))
		fgetc(io.in); /* fmemopen cannot open an empty buffer: consume the one byte */
	io.out = open_memstream(&r.out, &r.out_len);
	io.err = open_memstream(&r.err, &r.err_len);
	add_calls = del_calls = gc_calls = 0;
	last_netns_fd = -42;
	r.status = cni_plugin_run(p, &io);
	fclose(io.in);
	fclose(io.out);
	fclose(io.err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define CONF(v) "{\"cniVersion\":\"" v "\",\"name\":\"net1\",\"type\":\"fake\"}"
#define ADD_ENV                                                                                    \
	"CNI_COMMAND=ADD", "CNI_CONTAINERID=c1", "CNI_NETNS=/proc/self/ns/net", "CNI_IFNAME=eth0", \
		"CNI_PATH=/nonexistent"

static void assert_error_code(const struct run *r, int code)
{
	char needle[32];

	assert_int_equal(r->status, 1);
	snprintf(needle, sizeof(needle), "\"code\": %d", code);
	if (!strstr(r->out, needle)) {
		snprintf(needle, sizeof(needle), "\"code\":%d", code);
		if (!strstr(r->out, needle))
			fail_msg("expected code %d in: %s", code, r->out);
	}
	assert_non_null(strstr(r->out, "\"msg\""));
}

static void test_about_without_command(void **state)
{
	struct run r = run_plugin(&with_gc, "", NULL);

	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 0);
	assert_non_null(strstr(r.err, "CNI fake plugin"));
	assert_non_null(strstr(r.err, "0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"));
	run_free(&r);
}

static void test_version(void **state)
{
	struct run r =
		run_plugin(&with_gc, "garbage that is never read", "CNI_COMMAND=VERSION", NULL);

	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\","
				   "\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
	run_free(&r);

	r = run_plugin(&from_040, "", "CNI_COMMAND=VERSION", NULL);
	assert_string_equal(
		r.out,
		"{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n");
	run_free(&r);
}

static void test_unknown_command(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=FROB", NULL);

	assert_error_code(&r, 4);
	assert_non_null(strstr(r.out, "FROB"));
	assert_int_equal(add_calls, 0);
	run_free(&r);
}

static void test_missing_env_named(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=ADD", "CNI_CONTAINERID=c1",
				  "CNI_PATH=/x", NULL);

	assert_error_code(&r, 4);
	assert_non_null(strstr(r.out, "[CNI_NETNS CNI_IFNAME]"));
	assert_int_equal(add_calls, 0);
	run_free(&r);

	/* DEL does not need CNI_NETNS; GC needs only CNI_PATH. */
	r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1",
		       "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(del_calls, 1);
	assert_int_equal(last_netns_fd, -1);
	run_free(&r);
}

static void test_hostile_env(void **state)
{
	static const char *const bad_ids[] = { "CNI_CONTAINERID=../../x", "CNI_CONTAINERID=-x",
					       "CNI_CONTAINERID=a b", "CNI_CONTAINERID=a/b" };
	static const char *const bad_ifnames[] = { "CNI_IFNAME=a/b",
						   "CNI_IFNAME=x:y",
						   "CNI_IFNAME=..",
						   "CNI_IFNAME=.",
						   "CNI_IFNAME=0123456789abcdef",
						   "CNI_IFNAME=a b" };

	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		struct run r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=DEL", bad_ids[i],
					  "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL);
		assert_error_code(&r, 4);
		assert_int_equal(del_calls, 0);
		run_free(&r);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_ifnames); i++) {
		struct run r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=DEL",
					  "CNI_CONTAINERID=c1", bad_ifnames[i], "CNI_PATH=/x", NULL);
		assert_error_code(&r, 4);
		assert_int_equal(del_calls, 0);
		run_free(&r);
	}
}

static void test_version_gates(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("0.3.1"), "CNI_COMMAND=CHECK",
				  "CNI_CONTAINERID=c1", "CNI_NETNS=/proc/self/ns/net",
				  "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL);
	assert_error_code(&r, 1);
	run_free(&r);

	r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=GC", "CNI_PATH=/x", NULL);
	assert_error_code(&r, 1);
	assert_int_equal(gc_calls, 0);
	run_free(&r);

	r = run_plugin(&from_040, CONF("0.3.1"), ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
	assert_error_code(&r, 1);
	assert_int_equal(add_calls, 0);
	run_free(&r);

	r = run_plugin(&with_gc, CONF("9.9.9"), ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
	assert_error_code(&r, 1);
	assert_int_equal(add_calls, 0);
	run_free(&r);
}

static void test_gc_and_status_defaults(void **state)
{
	const char *gc_conf =
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\","
		"\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}";
	struct run r = run_plugin(&without_gc, CONF("1.1.0"), "CNI_COMMAND=GC", "CNI_PATH=/x", NULL);

	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 0);
	run_free(&r);

	r = run_plugin(&without_gc, CONF("1.1.0"), "CNI_COMMAND=STATUS", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.out_len, 0);
	run_free(&r);

	r = run_plugin(&with_gc, gc_conf, "CNI_COMMAND=GC", "CNI_PATH=/x", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(gc_calls, 1);
	run_free(&r);
}

static void test_reference_wording(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("0.3.1"), "CNI_COMMAND=CHECK",
				  "CNI_CONTAINERID=c1", "CNI_NETNS=/proc/self/ns/net",
				  "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL);

	assert_error_code(&r, 1);
	assert_non_null(strstr(r.out, "\"msg\": \"config version does not allow CHECK\""));
	run_free(&r);
	r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=GC", "CNI_PATH=/x", NULL);
	assert_non_null(strstr(r.out, "\"msg\": \"config version does not allow GC\""));
	run_free(&r);
}

/* The reference parses CNI_ARGS only in plugins that read it. */
static void test_cni_args_lazy(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("1.0.0"), ADD_ENV, "CNI_NETNS_OVERRIDE=1",
				  "CNI_ARGS=none", NULL);

	assert_int_equal(r.status, 0);
	assert_int_equal(add_calls, 1);
	run_free(&r);
	r = run_plugin(&reads_args, CONF("1.0.0"), ADD_ENV, "CNI_NETNS_OVERRIDE=1", "CNI_ARGS=none",
		       NULL);
	assert_error_code(&r, 4);
	assert_non_null(strstr(r.out, "ARGS: invalid pair \\\"none\\\""));
	run_free(&r);
	r = run_plugin(&reads_args, CONF("1.0.0"), ADD_ENV, "CNI_NETNS_OVERRIDE=1",
		       "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=x", NULL);
	assert_int_equal(r.status, 0);
	run_free(&r);
}

/* DEL and GC: input they cannot use is ignored; a config naming no network is not. */
static void test_del_gc_lenient(void **state)
{
	static const char *const confs[] = {
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\",\"runtimeConfig\":7}",
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\","
		"\"RuntimeConfig\":{\"portMappings\":[{\"hostPort\":\"x\"}]}}",
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\",\"prevResult\":[]}",
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\","
		"\"prevResult\":{\"ips\":[{\"address\":\"nope\"}]}}",
		"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\",\"args\":{\"cni\":3}}",
	};
	struct run r;

	for (size_t i = 0; i < ARRAY_SIZE(confs); i++) {
		del_saw_input = true;
		r = run_plugin(&reads_args, confs[i], "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1",
			       "CNI_IFNAME=eth0", "CNI_PATH=/x", "CNI_ARGS=garbage;;", NULL);
		if (r.status != 0)
			fail_msg("%s: %s", confs[i], r.out);
		assert_int_equal(del_calls, 1);
		assert_false(del_saw_input);
		run_free(&r);
		/* ADD still refuses it. */
		r = run_plugin(&reads_args, confs[i], ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
		assert_error_code(&r, 7);
		assert_int_equal(add_calls, 0);
		assert_non_null(strstr(r.out, "\"cniVersion\": \"1.1.0\""));
		run_free(&r);
	}
	r = run_plugin(&reads_args,
		       "{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"type\":\"fake\",\"args\":1,"
		       "\"cni.dev/valid-attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]}",
		       "CNI_COMMAND=GC", "CNI_PATH=/x", "CNI_ARGS=x", NULL);
	assert_int_equal(r.status, 0);
	assert_int_equal(gc_calls, 1);
	run_free(&r);
	r = run_plugin(&reads_args, "{\"cniVersion\":\"1.0.0\",\"type\":\"fake\",\"args\":1}",
		       "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0", "CNI_PATH=/x",
		       NULL);
	assert_error_code(&r, 7);
	assert_int_equal(del_calls, 0);
	/* The error is in the config's version even though the config was refused. */
	assert_non_null(strstr(r.out, "\"cniVersion\": \"1.0.0\""));
	run_free(&r);
}

static void test_error_parse_go_keys(void **state)
{
	static const char js[] = "{\"Code\":7,\"MSG\":\"bad\",\"Details\":\"d\"}";
	struct cni_error *e = NULL;

	assert_int_equal(cni_error_parse(js, strlen(js), &e), 0);
	assert_int_equal(e->code, 7);
	assert_string_equal(e->msg, "bad");
	assert_string_equal(e->details, "d");
	cni_error_free(e);
	assert_int_equal(cni_error_parse("{\"msg\":\"x\"}", 11, &e), -1);
	assert_int_equal(cni_error_parse("{\"code\":0}", 10, &e), -1);
	assert_int_equal(cni_error_parse("nope", 4, &e), -1);
}

static void test_add_prints_requested_version(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("0.4.0"), ADD_ENV, "CNI_NETNS_OVERRIDE=true", NULL);

	assert_int_equal(r.status, 0);
	assert_int_equal(add_calls, 1);
	assert_true(last_netns_fd >= 0);
	assert_non_null(strstr(r.out, "\"cniVersion\": \"0.4.0\""));
	assert_non_null(strstr(r.out, "\"version\": \"4\""));
	assert_non_null(strstr(r.out, "198.18.0.5/24"));
	run_free(&r);

	r = run_plugin(&with_gc, CONF("0.2.0"), ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "\"ip4\""));
	run_free(&r);
}

static void test_add_own_netns_refused_before_acting(void **state)
{
	struct run r = run_plugin(&with_gc, CONF("1.0.0"), ADD_ENV, NULL);

	assert_error_code(&r, 8);
	assert_int_equal(add_calls, 0);
	run_free(&r);
}

static void test_add_bad_netns(void **state)
{
	char dir[] = "/tmp/cnic-skel-XXXXXX";
	char file[64], fifo[64], env_file[96], env_fifo[96];

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	close(open(file, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(env_file, sizeof(env_file), "CNI_NETNS=%s", file);
	snprintf(env_fifo, sizeof(env_fifo), "CNI_NETNS=%s", fifo);

	const char *cases[] = { env_file, env_fifo, "CNI_NETNS=/nonexistent/netns",
				"CNI_NETNS=/proc/self/ns/uts" };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=ADD",
					  "CNI_CONTAINERID=c1", cases[i], "CNI_IFNAME=eth0",
					  "CNI_PATH=/x", NULL);
		assert_error_code(&r, 4);
		assert_int_equal(add_calls, 0);
		run_free(&r);

		/* DEL treats a netns that is gone or bogus as gone and still cleans up. */
		r = run_plugin(&with_gc, CONF("1.0.0"), "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1",
			       cases[i], "CNI_IFNAME=eth0", "CNI_PATH=/x", NULL);
		assert_int_equal(r.status, 0);
		assert_int_equal(del_calls, 1);
		assert_int_equal(last_netns_fd, -1);
		run_free(&r);
	}
	unlink(file);
	unlink(fifo);
	rmdir(dir);
}

static void test_unprintable_result_is_undone(void **state)
{
	struct run r;

	add_no_ip = true;
	r = run_plugin(&with_gc, CONF("0.2.0"), ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
	add_no_ip = false;
	assert_int_equal(r.status, 1);
	assert_int_equal(add_calls, 1);
	assert_int_equal(del_calls, 1);
	assert_non_null(strstr(r.out, "no valid IP"));
	run_free(&r);
}

static void test_bad_stdin(void **state)
{
	size_t big = CNI_MAX_STDIN + 10;
	char *huge = malloc(big + 1);
	struct run r;

	r = run_plugin(&with_gc, "{not json", ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
	assert_error_code(&r, 6);
	run_free(&r);

	r = run_plugin(&with_gc, "{\"cniVersion\":\"1.0.0\",\"type\":\"fake\"}", ADD_ENV,
		       "CNI_NETNS_OVERRIDE=1", NULL);
	assert_error_code(&r, 7);
	assert_int_equal(add_calls, 0);
	run_free(&r);

	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big] = '\0';
	r = run_plugin(&with_gc, huge, ADD_ENV, "CNI_NETNS_OVERRIDE=1", NULL);
	assert_error_code(&r, 6);
	assert_int_equal(add_calls, 0);
	run_free(&r);
	free(huge);
}

static void test_error_json_roundtrip(void **state)
{
	struct cni_error *e = NULL, *back = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cni_error_set(&e, 11, 0, "busy \"lock\" </>");
	cni_error_add_details(&e, "held by pid %d", 42);
	cni_error_set(&e, 7, 0, "second error is recorded after the first");
	cni_error_print(f, e, "1.0.0");
	fclose(f);
	assert_int_equal(cni_error_parse(buf, len, &back), 0);
	assert_int_equal(back->code, 11);
	assert_string_equal(back->msg, "busy \"lock\" </>");
	assert_string_equal(back->details,
			    "held by pid 42; then: second error is recorded after the first");
	assert_null(strstr(buf, "\\/"));
	cni_error_free(e);
	cni_error_free(back);
	free(buf);
	assert_int_equal(cni_error_parse("{\"msg\":\"x\"}", 11, &back), -1);
}

/* ---- delegation ------------------------------------------------------ */

static char plugin_dir[64];

static void write_script(const char *name, const char *body)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", plugin_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

static int setup_delegates(void **state)
{
	snprintf(plugin_dir, sizeof(plugin_dir), "/tmp/cnic-invoke-XXXXXX");
	if (!mkdtemp(plugin_dir))
		return -1;
	write_script("ok-ipam",
		     "cat >/dev/null; echo '{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":"
		     "\"4\",\"address\":\"198.18.3.4/24\",\"gateway\":\"198.18.3.1\"}]}'");
	write_script("err-ipam",
		     "cat >/dev/null; echo '{\"code\":11,\"msg\":\"busy\",\"details\":\"d\"}';"
		     " exit 1");
	write_script("junk-ipam", "echo 'not json'; exit 3");
	write_script("fds-ipam", "cat >/dev/null; ls /proc/self/fd | wc -l > \"$CNIC_TEST_OUT\"; "
				 "echo \"$CNI_COMMAND\" >> \"$CNIC_TEST_OUT\"; "
				 "echo '{\"cniVersion\":\"1.0.0\"}'");
	/* Reads nothing and writes a lot: the pump must not deadlock. */
	write_script("big-ipam", "head -c 300000 /dev/zero | tr '\\\\0' ' '; echo '{}'");
	return 0;
}

static int teardown_delegates(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", plugin_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct cni_netconf *parse_conf(const char *json)
{
	struct cni_netconf *c = NULL;
	struct cni_error *e = NULL;

	assert_int_equal(cni_netconf_parse(json, strlen(json), &c, &e), 0);
	return c;
}

static void test_invoke(void **state)
{
	char out_file[128], path_env[128], outvar[160];
	char *envp[5];
	struct cni_cmd cmd = { .netns_fd = -1 };
	struct cni_result *res = NULL;
	struct cni_error *e = NULL;
	char *found = NULL;
	char big_conf[200000];
	FILE *f;
	int n = 0;
	char verb[16] = "";

	snprintf(out_file, sizeof(out_file), "%s/out", plugin_dir);
	snprintf(path_env, sizeof(path_env), "/nonexistent::%s", plugin_dir);
	snprintf(outvar, sizeof(outvar), "CNIC_TEST_OUT=%s", out_file);
	envp[0] = "CNI_COMMAND=DEL";
	envp[1] = outvar;
	envp[2] = "PATH=/usr/bin:/bin";
	envp[3] = NULL;
	cmd.envp = envp;
	cmd.path = path_env;
	cmd.conf = parse_conf(CONF("1.0.0"));

	assert_int_equal(cni_find_in_path(path_env, "../ok-ipam", &found, &e), -1);
	assert_int_equal(e->code, CNI_ERR_INVALID_CONFIG);
	cni_error_freep(&e);
	assert_int_equal(cni_find_in_path(path_env, "missing", &found, &e), -1);
	cni_error_freep(&e);

	assert_int_equal(cni_invoke(&cmd, "ok-ipam", CNI_VERB_ADD, "{}", 2, &res, &e), 0);
	assert_int_equal(res->n_ips, 1);
	cni_result_free(res);

	assert_int_equal(cni_invoke(&cmd, "err-ipam", CNI_VERB_ADD, "{}", 2, &res, &e), -1);
	assert_int_equal(e->code, 11);
	assert_string_equal(e->msg, "busy");
	cni_error_freep(&e);

	assert_int_equal(cni_invoke(&cmd, "junk-ipam", CNI_VERB_DEL, "{}", 2, NULL, &e), -1);
	assert_int_equal(e->code, CNI_ERR_INTERNAL);
	cni_error_freep(&e);

	/* Only stdin/stdout/stderr reach the delegate; ls itself opens one more. */
	{
		int leak = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int leak2 = open("/dev/null", O_RDONLY); /* not CLOEXEC: must still be closed */

		assert_int_equal(cni_invoke(&cmd, "fds-ipam", CNI_VERB_CHECK, "{}", 2, NULL, &e), 0);
		close(leak);
		close(leak2);
	}
	f = fopen(out_file, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d %15s", &n, verb), 2);
	fclose(f);
	assert_int_equal(n, 4);
	assert_string_equal(verb, "CHECK");

	memset(big_conf, ' ', sizeof(big_conf) - 1);
	big_conf[sizeof(big_conf) - 1] = '\0';
	assert_int_equal(cni_invoke(&cmd, "big-ipam", CNI_VERB_DEL, big_conf, strlen(big_conf),
				    NULL, &e),
			 0);
	cni_netconf_free(cmd.conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_about_without_command),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_unknown_command),
		cmocka_unit_test(test_missing_env_named),
		cmocka_unit_test(test_hostile_env),
		cmocka_unit_test(test_version_gates),
		cmocka_unit_test(test_reference_wording),
		cmocka_unit_test(test_cni_args_lazy),
		cmocka_unit_test(test_del_gc_lenient),
		cmocka_unit_test(test_error_parse_go_keys),
		cmocka_unit_test(test_gc_and_status_defaults),
		cmocka_unit_test(test_add_prints_requested_version),
		cmocka_unit_test(test_add_own_netns_refused_before_acting),
		cmocka_unit_test(test_add_bad_netns),
		cmocka_unit_test(test_unprintable_result_is_undone),
		cmocka_unit_test(test_bad_stdin),
		cmocka_unit_test(test_error_json_roundtrip),
		cmocka_unit_test_setup_teardown(test_invoke, setup_delegates, teardown_delegates),
	};

	return cmocka_run_group_tests_name("skel", tests, NULL, NULL);
}
