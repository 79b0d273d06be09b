/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "invoke.h"
#include "netns.h"

#define MAX_DELEGATE_OUTPUT (8u << 20)

int cni_find_in_path(const char *cni_path, const char *type, char **ret, struct cni_error **err)
{
	const char *p = cni_path ? cni_path : "";

	if (!type || !cni_valid_plugin_type(type))
		return cni_error_set(err, CNI_ERR_INVALID_CONFIG, 0,
				     "invalid plugin type \"%s\": must be a plain file name",
				     type ? type : "");
	while (*p) {
		size_t len = strcspn(p, ":");
		cleanup_free char *full = NULL;
		struct stat st;

		if (len > 0) {
			full = xasprintf("%.*s/%s", (int)len, p, type);
			if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
				*ret = TAKE_PTR(full);
				return 0;
			}
		}
		p += len;
		if (*p == ':')
			p++;
	}
	return cni_error_set(err, CNI_ERR_INTERNAL, 0, "failed to find plugin \"%s\" in path [%s]",
			     type, cni_path ? cni_path : "");
}

/* envp with CNI_COMMAND replaced; the strings stay owned by envp / cmdvar. */
static char **delegate_env(char *const *envp, const char *cmdvar)
{
	size_t n = 0, j = 0;
	char **env;

	while (envp && envp[n])
		n++;
	env = xcalloc(n + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "CNI_COMMAND=", 12) != 0)
			env[j++] = envp[i];
	env[j++] = (char *)cmdvar;
	env[j] = NULL;
	return env;
}

/*
 * Feed `in` to the child's stdin while collecting its stdout, so neither side
 * can block on a full pipe whatever the sizes.
 */
static int pump(int in_fd, const char *in, size_t in_len, int out_fd, char **ret, size_t *ret_len,
		struct cni_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 0, off = 0;

	if (in_len == 0) {
		(void)close(in_fd);
		in_fd = -1;
	}
	while (out_fd >= 0) {
		struct pollfd pfd[2] = { { .fd = out_fd, .events = POLLIN },
					 { .fd = in_fd, .events = POLLOUT } };

		if (poll(pfd, in_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			if (in_fd >= 0)
				(void)close(in_fd);
			return cni_error_errno(err, errno, "poll on delegated plugin");
		}
		if (in_fd >= 0 && pfd[1].revents) {
			ssize_t w = (pfd[1].revents & POLLOUT) ? write(in_fd, in + off, in_len - off)
							       : -1;

			if (w > 0)
				off += (size_t)w;
			/* EPIPE: the child stopped reading; its exit status tells why. */
			if (w < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (w < 0 || off == in_len) {
				(void)close(in_fd);
				in_fd = -1;
			}
		}
		if (pfd[0].revents) {
			ssize_t r;

			if (cap - len < 4096) {
				cap = cap ? cap * 2 : 8192;
				buf = xrealloc(buf, cap + 1);
			}
			r = read(out_fd, buf + len, cap - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			len += (size_t)r;
			if (len > MAX_DELEGATE_OUTPUT) {
				if (in_fd >= 0)
					(void)close(in_fd);
				return cni_error_set(err, CNI_ERR_INTERNAL, 0,
						     "delegated plugin output exceeds %u bytes",
						     MAX_DELEGATE_OUTPUT);
			}
		}
	}
	if (in_fd >= 0)
		(void)close(in_fd);
	if (!buf)
		buf = xcalloc(1, 1);
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int cni_invoke(const struct cni_cmd *cmd, const char *type, enum cni_verb verb, const char *config,
	       size_t len, struct cni_result **ret, struct cni_error **err)
{
	cleanup_free char *path = NULL, *cmdvar = NULL, *out = NULL;
	cleanup_free char **env = NULL;
	cleanup_close int in_r = -1, in_w = -1, out_r = -1, out_w = -1;
	posix_spawn_file_actions_t fa;
	char *argv[2];
	size_t out_len = 0;
	pid_t pid;
	int r, status;

	/* A delegate must start in the host netns; never exec from a stranded thread. */
	if (netns_stranded())
		return cni_error_set(err, CNI_ERR_INTERNAL, 0,
				     "not running delegated plugin \"%s\": stuck in a foreign netns",
				     type);
	if (cni_find_in_path(cmd->path, type, &path, err) < 0)
		return -1;
	{
		int p1[2], p2[2];

		if (pipe2(p1, O_CLOEXEC) < 0)
			return cni_error_errno(err, errno, "pipe for delegated plugin \"%s\"", type);
		in_r = p1[0], in_w = p1[1];
		/* Partial writes: a blocking write of a big config would stall the pump. */
		if (fcntl(in_w, F_SETFL, O_NONBLOCK) < 0)
			return cni_error_errno(err, errno, "pipe for delegated plugin \"%s\"", type);
		if (pipe2(p2, O_CLOEXEC) < 0)
			return cni_error_errno(err, errno, "pipe for delegated plugin \"%s\"", type);
		out_r = p2[0], out_w = p2[1];
	}
	cmdvar = xasprintf("CNI_COMMAND=%s", cni_verb_str(verb));
	env = delegate_env(cmd->envp, cmdvar);
	argv[0] = path;
	argv[1] = NULL;

	/*
	 * posix_spawn (clone(CLONE_VM|CLONE_VFORK) in glibc) is the cheapest way
	 * to start the delegate; only stdin/stdout/stderr survive into it, so
	 * it can never hold our netns fds or sockets.
	 */
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return cni_error_errno(err, r, "spawning \"%s\"", path);
	if ((r = posix_spawn_file_actions_adddup2(&fa, in_r, STDIN_FILENO)) != 0 ||
	    (r = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO)) != 0 ||
	    (r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return cni_error_errno(err, r, "spawning \"%s\"", path);
	}
	r = posix_spawn(&pid, path, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return cni_error_errno(err, r, "executing delegated plugin \"%s\"", path);
	(void)close(TAKE_FD(in_r));
	(void)close(TAKE_FD(out_w));

	/* A delegate that exits early must not kill us with SIGPIPE. */
	{
		struct sigaction ign = { .sa_handler = SIG_IGN }, old;

		sigaction(SIGPIPE, &ign, &old);
		r = pump(TAKE_FD(in_w), config, len, out_r, &out, &out_len, err);
		sigaction(SIGPIPE, &old, NULL);
	}
	/*
	 * We stopped reading (output over the cap, poll failure): a delegate
	 * still writing would block on the full pipe forever, and so would the
	 * waitpid below.  It has failed as far as we are concerned.
	 */
	if (r < 0) {
		(void)close(TAKE_FD(out_r));
		(void)kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return cni_error_errno(err, errno, "waiting for delegated plugin \"%s\"",
					       type);
	}
	if (r < 0)
		return -1;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		struct cni_error *perr = NULL;

		if (out_len > 0 && cni_error_parse(out, out_len, &perr) == 0) {
			/* Keep the delegate's own code and message: that is what the runtime must see. */
			cni_error_set(err, perr->code, 0, "%s", perr->msg);
			if (perr->details)
				cni_error_add_details(err, "%s", perr->details);
			cni_error_free(perr);
			return -1;
		}
		if (WIFSIGNALED(status))
			return cni_error_set(err, CNI_ERR_INTERNAL, 0,
					     "delegated plugin \"%s\" killed by signal %d", type,
					     WTERMSIG(status));
		cni_error_set(err, CNI_ERR_INTERNAL, 0,
			      "delegated plugin \"%s\" failed with exit status %d", type,
			      WEXITSTATUS(status));
		if (out_len > 0)
			cni_error_add_details(err, "unparsable output: %.200s", out);
		return -1;
	}
	if (verb == CNI_VERB_ADD && ret) {
		if (cni_result_parse(out, out_len, cmd->conf->version, ret, err) < 0)
			return cni_error_wrap(err, "result of delegated plugin \"%s\"", type);
	}
	return 0;
}
