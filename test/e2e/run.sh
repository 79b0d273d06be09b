#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The e2e suite (real runtimes): every test/e2e/t-*.sh, or the files given,
# through the integration runner, so the output is one TAP stream ending in
# "N passed, N failed".  Needs root and the runtimes scripts/install-deps.sh
# installs (podman, containerd, runc; go-cni, python3-grpcio for the clients).  Env: BIN (plugins under test), E2E_CNI_DIR (run
# against another plugin dir, e.g. /usr/lib/cni), ITEST_TIMEOUT (per file).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
	set -- "$here"/t-*.sh
fi
exec "$here/../integration/run.sh" "$@"
