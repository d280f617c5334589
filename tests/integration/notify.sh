#!/bin/bash
# systemd's Type=notify, with this test as systemd: a listener on the
# NOTIFY_SOCKET it passes.  Started with NOTIFY_SOCKET (and no -f),
# hopmilter stays in the process systemd started (no fork), says READY=1
# only once its socket listens, RELOADING=1 and READY=1 around a SIGUSR1
# reload, STOPPING=1 on SIGTERM, and exits 0; with a bad configuration it
# exits 78 and never says READY=1.  Without NOTIFY_SOCKET it still detaches
# (cli.sh covers that daemon mode).
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need python3 "$HOPMILTER"
grep -q '^#define HAVE_LIBSYSTEMD 1' "$HM_BUILDDIR/config.h" ||
	hm_skip "built without libsystemd (configure: apt-get install libsystemd-dev)"

mkdir -p "$HM_TMP/run"
chown nobody "$HM_TMP/run"   # as RuntimeDirectory= would
sock=$HM_TMP/run/m.sock nlog=$HM_TMP/notify.log
python3 "$HM_LIBDIR/notify-listener.py" "$HM_TMP/notify.sock" "$nlog" "$sock" >"$HM_TMP/listener.out" 2>&1 &
hm_track $!
hm_wait_file "$HM_TMP/notify.sock"

conf=$HM_TMP/hm.conf
printf 'socket = "unix:%s"\nuser = "nobody"\npid_file = "%s/run/hm.pid"\nallowed_domains = {"example.com"}\nspf { enabled = false }\nratelimit { enabled = false }\n' \
	"$sock" "$HM_TMP" >"$conf"
chmod 0644 "$conf"

NOTIFY_SOCKET=$HM_TMP/notify.sock "$HOPMILTER" -c "$conf" >"$HM_TMP/out" 2>&1 </dev/null &
pid=$!
hm_track "$pid"
hm_check "READY=1 arrives" hm_wait_grep '^READY=1' "$nlog" 20
hm_check "READY=1 came once the milter socket existed" grep -qx 'READY=1 watch=yes' "$nlog"
hm_check "nothing before READY=1 (no RELOADING or STOPPING)" eval '[ "$(head -1 "$nlog")" = "READY=1 watch=yes" ]'
hm_check "no fork: the process started is the one serving (pid file $(cat "$HM_TMP/run/hm.pid" 2>/dev/null), started $pid)" \
	eval 'kill -0 "$pid" && [ "$(cat "$HM_TMP/run/hm.pid")" = "$pid" ]'
hm_check "it runs as the configured user" test "$(ps -o user= -p "$pid" | tr -d ' ')" = nobody
hm_check "logs go to syslog, not to standard error" eval '! grep -q "starting hopmilter" "$HM_TMP/out"'

kill -USR1 "$pid"
hm_check "a reload says RELOADING=1, then READY=1 again" eval \
	'hm_wait_grep "^RELOADING=1" "$nlog" 10 && for _ in $(seq 1 100); do
		[ "$(grep -c "^READY=1" "$nlog")" = 2 ] && break; sleep 0.1; done
	[ "$(sed -n 2p "$nlog")" = "RELOADING=1 watch=yes" ] && [ "$(sed -n 3p "$nlog" | cut -d" " -f1)" = READY=1 ]'

kill -TERM "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid"; rc=$?
hm_check "SIGTERM: STOPPING=1" grep -q '^STOPPING=1' "$nlog"
hm_check "SIGTERM: exit status 0 (got $rc)" test "$rc" = 0
sed 's/^/    notify| /' "$nlog" >&2

# A configuration error: exit 78 at once, READY=1 never sent.
: >"$nlog"
printf 'socket = "unix:%s"\nuser = "nobody"\nbogus = 1\n' "$sock" >"$HM_TMP/bad.conf"
NOTIFY_SOCKET=$HM_TMP/notify.sock timeout 20 "$HOPMILTER" -c "$HM_TMP/bad.conf" >"$HM_TMP/bad.out" 2>&1 </dev/null
rc=$?
hm_check "bad configuration under Type=notify: exit 78 (got $rc) with FILE:LINE" eval \
	'[ "$rc" = 78 ] && grep -q "bad.conf:3:" "$HM_TMP/bad.out"'
sleep 0.5
hm_check "bad configuration: no READY=1" eval '! grep -q READY "$nlog"'
hm_done
