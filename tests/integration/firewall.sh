#!/bin/bash
# The shipped nftables examples (deploy/*.nft) are valid, and the edge's
# rules do what the README says, with real packets: an "edge" network
# namespace with two interfaces named as in the file (eth0 towards the
# internet, wg0 towards the VPN, both veth pairs to a "world" namespace),
# the rules loaded, listeners on 22, 25 and 6379, and connections tried
# from an internet address and from a VPN address.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need nft ip python3 unshare

for f in "$HM_SRCDIR"/deploy/nftables-*.nft; do
	unshare -n nft -c -f "$f" >"$HM_TMP/nft-check.out" 2>&1
	hm_check "$(basename "$f") passes nft -c" test $? = 0
done

# Namespaces of our own, removed at exit.
ns_edge=hm-fw-edge-$$ ns_world=hm-fw-world-$$
fw_cleanup() { ip netns del "$ns_edge" 2>/dev/null; ip netns del "$ns_world" 2>/dev/null; hm_cleanup; }
trap fw_cleanup EXIT
not() { ! "$@"; }
ip netns add "$ns_edge" && ip netns add "$ns_world" || hm_fail "cannot create network namespaces"
e() { ip netns exec "$ns_edge" "$@"; }
w() { ip netns exec "$ns_world" "$@"; }
# The internet side: the edge's public 203.0.113.25 and a client
# 203.0.113.7 (outside ADMIN_NET) share eth0's link; the VPN side carries
# 10.200.0.1 (the edge) and 10.200.0.2 (hop1), plus a stranger's address
# on the same link to show that wg0 alone is not enough.
ip link add eth0 netns "$ns_edge" type veth peer name pub0 netns "$ns_world" &&
	ip link add wg0 netns "$ns_edge" type veth peer name vpn0 netns "$ns_world" ||
	hm_fail "cannot create the veth pairs"
e ip link set lo up; e ip link set eth0 up; e ip link set wg0 up
w ip link set lo up; w ip link set pub0 up; w ip link set vpn0 up
e ip addr add 203.0.113.25/24 dev eth0
w ip addr add 203.0.113.7/24 dev pub0
e ip addr add 10.200.0.1/24 dev wg0
w ip addr add 10.200.0.2/24 dev vpn0
# A stranger on the VPN link: not from the VPN network.
w ip addr add 172.16.9.9/32 dev vpn0
e ip route add 172.16.9.9/32 dev wg0

# Listeners on every address of the edge: SSH, SMTP, Redis.
cat >"$HM_TMP/listen.py" <<'PY'
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"hello %d\n" % port); c.close()
for p in (22, 25, 6379):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait(120)
PY
e python3 "$HM_TMP/listen.py" >"$HM_TMP/listen.out" 2>&1 &
hm_track $!
hm_wait_grep ready "$HM_TMP/listen.out" 10 || hm_fail "the listeners did not start"

# reach SRC DST PORT: 0 when a connection from SRC gets the listener's greeting.
reach() {
	w timeout 3 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=2, source_address=(sys.argv[1], 0))
sys.exit(0 if s.recv(64).startswith(b"hello") else 1)' "$@" 2>/dev/null
}

# Before the rules: everything is reachable (so a refusal below is the rules' doing).
hm_check "without rules: the VPN's Redis answers the internet" reach 203.0.113.7 203.0.113.25 6379

e nft -f "$HM_SRCDIR/deploy/nftables-edge.nft"
hm_check "the edge's rules load" test $? = 0
hm_check "internet -> edge:25 (public) is open" reach 203.0.113.7 203.0.113.25 25
hm_check "internet -> edge's Redis is closed" not reach 203.0.113.7 203.0.113.25 6379
hm_check "internet -> SSH outside ADMIN_NET is closed" not reach 203.0.113.7 203.0.113.25 22
hm_check "internet -> the VPN listener's address is closed" not reach 203.0.113.7 10.200.0.1 25
hm_check "hop1 (VPN) -> edge:25 on wg0 is open" reach 10.200.0.2 10.200.0.1 25
hm_check "hop1 (VPN) -> Redis on wg0 is open" reach 10.200.0.2 10.200.0.1 6379
hm_check "a non-VPN source on wg0 -> edge:25 is closed" not reach 172.16.9.9 10.200.0.1 25
# Loading the file again replaces the table (no duplicate rules).
e nft -f "$HM_SRCDIR/deploy/nftables-edge.nft"
hm_check "loading twice keeps one table" test "$(e nft list tables | grep -c hopmilter_edge)" = 1
hm_done
