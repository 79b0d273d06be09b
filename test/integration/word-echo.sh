# SPDX-License-Identifier: Apache-2.0
#
# Sourced after lib.sh by tests that only ask "does this TCP port lead to
# that container": a server that answers every connection with one word,
# and a client that prints the word it got (exit 1 when none came in time).
# shellcheck shell=bash

cat >"$T/srv.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(8); s.settimeout(1)
open(sys.argv[2], "w").close()
end = time.time() + 300  # bounded, should the test's cleanup miss it
while time.time() < end:
    try:
        c, a = s.accept(); c.sendall((sys.argv[1] + "\n").encode()); c.close()
    except socket.timeout:
        pass
EOF
# cli.py HOST PORT [SECONDS]: print the server's word, or exit 1 within
# SECONDS (3 unless given).
cat >"$T/cli.py" <<'EOF'
import socket, sys, time
end = time.time() + (float(sys.argv[3]) if len(sys.argv) > 3 else 3)
while time.time() < end:
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
        print(s.recv(64).decode().strip()); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF

# word_serve NS WORD SECONDS: the server on port 80 of NS answering WORD,
# ready within SECONDS.
word_serve()
{
	# nsenter execs python: $! is the server itself, which the cleanup kills.
	nsenter --net="/run/netns/$1" -- python3 "$T/srv.py" "$2" "$T/ready-$2" </dev/null >/dev/null 2>&1 &
	register_pid $!
	wait_for "server $2" "$3" test -e "$T/ready-$2"
}
