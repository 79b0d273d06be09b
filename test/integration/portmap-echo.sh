# SPDX-License-Identifier: Apache-2.0
#
# Sourced after lib.sh by the portmap tests: small TCP and UDP servers that
# answer with their name and the peer address they see, and a client that
# asks one of them, so a test reads where a mapped port led and which source
# address (SNAT or not) the packet arrived with.
# shellcheck shell=bash

cat >"$T/server.py" <<'EOF'
import socket, sys, threading
name = sys.argv[1]
ports = [int(p) for p in sys.argv[2:]]
def tcp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port)); s.listen(16)
    while True:
        c, a = s.accept()
        c.sendall(("%s %s\n" % (name, a[0].replace("::ffff:", ""))).encode()); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    while True:
        d, a = s.recvfrom(64)
        s.sendto(("%s %s\n" % (name, a[0].replace("::ffff:", ""))).encode(), a)
for p in ports:
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
    threading.Thread(target=udp, args=(p,), daemon=True).start()
open(sys.argv[0] + "." + name + ".ready", "w").close()
threading.Event().wait(900)  # killed at exit; the bound outlasts a slow, loaded run
EOF

cat >"$T/client.py" <<'EOF'
import socket, sys, time
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
deadline = time.time() + 3
while time.time() < deadline:
    try:
        if proto == "tcp":
            s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(1)
            s.connect((addr, port)); print(s.recv(100).decode().strip()); sys.exit(0)
        s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(0.3)
        s.sendto(b"x", (addr, port)); print(s.recv(100).decode().strip()); sys.exit(0)
    except (socket.timeout, ConnectionRefusedError, OSError):
        time.sleep(0.05)
sys.exit(1)
EOF

# serve NS NAME PORTS...: start the server in NS.
serve()
{
	local ns=$1 name=$2
	shift 2
	# nsenter execs python in place: $! is the server itself, killed at exit.
	nsenter --net="/run/netns/$ns" -- python3 "$T/server.py" "$name" "$@" &
	register_pid $!
	wait_for "server $name" 5 test -e "$T/server.py.$name.ready"
}

# ask NS PROTO ADDR PORT: the server's answer ("name peer"), or "" when none.
ask()
{
	in_ns "$1" python3 "$T/client.py" "$2" "$3" "$4" 2>/dev/null || true
}
