/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opt-in debug log, never stdout.  Off unless CNIC_LOG_FILE names a file
 * (in the plugin's environment, which runtimes pass through): then each
 * invocation appends "timestamp pid plugin verb container: message" lines.
 * Logging failures are ignored: a diagnostic must never fail an operation.
 */
#ifndef CNIC_LOG_H
#define CNIC_LOG_H

void cni_log_open(const char *path, const char *plugin, const char *verb, const char *container_id);
void cni_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cni_log_close(void);

#endif
