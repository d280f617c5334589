#!/bin/bash
# hopmilter's command line, start-up checks, daemon mode and signals:
# -n/-V, configuration errors (FILE:LINE: reason, exit 78), refusing root
# without a user, the pid file, the socket's owner and mode, SIGTERM.
. "$(dirname "$0")/../lib/harness.sh"

hm_need "$HOPMILTER"

# -V prints the version.
hm_check "-V prints the version" eval '"$HOPMILTER" -V | grep -q "^hopmilter [0-9]"'

# -n: a good file exits 0 and prints nothing.
good=$HM_TMP/good.conf
printf 'socket = "unix:%s/m.sock"\nallowed_domains = {"example.com"}\n' "$HM_TMP" >"$good"
out=$("$HOPMILTER" -n -c "$good" 2>&1); rc=$?
hm_check "-n on a good file exits 0" test "$rc" = 0
hm_check "-n on a good file is silent" test -z "$out"

# The shipped sample must pass -n as it is.
hm_check "the sample hopmilter.conf is valid" "$HOPMILTER" -n -c "$HM_SRCDIR/milter/hopmilter.conf"

# -n: errors name the file and line, exit 78 (EX_CONFIG).
bad=$HM_TMP/bad.conf
printf 'allowed_domains = {"example.com"}\n\nbanned_domains = {"ok.example",\n  "bad domain"}\n' >"$bad"
out=$("$HOPMILTER" -n -c "$bad" 2>&1); rc=$?
hm_check "-n on a bad file exits 78" test "$rc" = 78
hm_check "error names file and line" test "$out" = "hopmilter: $bad:4: option 'banned_domains': 'bad domain': character not allowed in a domain"
printf 'nonsense_option = 1\n' >"$bad"
out=$("$HOPMILTER" -n -c "$bad" 2>&1); rc=$?
hm_check "unknown option is an error (78)" test "$rc" = 78
hm_check "unknown option message" test "$out" = "hopmilter: $bad:1: no such option 'nonsense_option'"
out=$("$HOPMILTER" -n -c "$HM_TMP/missing.conf" 2>&1); rc=$?
hm_check "missing file exits 78" test "$rc" = 78
hm_check "missing file message" test "$out" = "hopmilter: $HM_TMP/missing.conf: cannot read: No such file or directory"
# trusted_networks that trust the internet: refused, unless the admin says so.
printf 'allowed_domains = {"example.com"}\ntrusted_networks = {"10.200.0.0/24", "0.0.0.0/1", "128.0.0.0/1"}\n' >"$bad"
out=$("$HOPMILTER" -n -c "$bad" 2>&1); rc=$?
hm_check "trusted_networks 0.0.0.0/1 + 128.0.0.0/1: exit 78" test "$rc" = 78
hm_check "trusted_networks too wide: says why and what to set" test "$out" = "hopmilter: $bad: option 'trusted_networks': trusts more public IPv4 addresses than a /8 (widest: 0.0.0.0/1); clients there skip SPF and may relay outbound. Set allow_wide_trusted_networks = true if that is meant"
printf 'allowed_domains = {"example.com"}\ntrusted_networks = {"::/0"}\nallow_wide_trusted_networks = true\n' >"$bad"
hm_check "trusted_networks ::/0 with allow_wide_trusted_networks: 0" "$HOPMILTER" -n -c "$bad"
"$HOPMILTER" -x >/dev/null 2>&1; rc=$?
hm_check "bad flag exits 64 (EX_USAGE)" test "$rc" = 64

# A file holding a Redis password: refused when every user may write it,
# a warning when every user may read it, silent at 0640.
secret=$HM_TMP/secret.conf
printf 'allowed_domains = {"example.com"}\nratelimit {\n  redis { password = "s3cret" }\n}\n' >"$secret"
chmod 0666 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "world-writable file with a Redis password: 78" test "$rc" = 78
hm_check "world-writable: says why and how to fix it" test "$out" = \
	"hopmilter: $secret: holds a Redis password and every user may write it (mode 0666); chmod o-w $secret"
chmod 0644 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "world-readable file with a Redis password: accepted (0)" test "$rc" = 0
hm_check "world-readable: a warning" eval 'grep -q "holds a Redis password and every user may read it (mode 0644)" <<<"$out"'
chmod 0640 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "0640 file with a Redis password: accepted silently" eval '[ "$rc" = 0 ] && [ -z "$out" ]'
printf 'allowed_domains = {"example.com"}\nratelimit {\n  redis { sentinel { master = "m"  addresses = {"127.0.0.1:26379"}  password = "s" } }\n}\n' >"$secret"
chmod 0666 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "world-writable file with a Sentinel password: 78" eval '[ "$rc" = 78 ] && grep -q "holds a Redis password" <<<"$out"'
printf 'allowed_domains = {"example.com"}\n' >"$secret"
chmod 0666 "$secret"
"$HOPMILTER" -n -c "$secret" >/dev/null 2>&1; rc=$?
hm_check "world-writable file without a password: accepted" test "$rc" = 0

if [ "$(id -u)" != 0 ]; then
	hm_log "not root: skipping the privilege checks"
	hm_done
fi

# Root without a user: refused, exit 78, nothing created.
sock=$HM_TMP/run/m.sock
mkdir -p "$HM_TMP/run"
# As systemd's RuntimeDirectory would: the service user owns the directory,
# so it can remove its pid file at exit.
chown nobody "$HM_TMP/run"
printf 'socket = "unix:%s"\nallowed_domains = {"example.com"}\n' "$sock" >"$bad"
out=$("$HOPMILTER" -f -c "$bad" 2>&1); rc=$?
hm_check "root without user refused (78)" test "$rc" = 78
hm_check "root refusal says why" eval 'echo "$out" | grep -q "refusing to run as root"'
hm_check "no socket left behind" test ! -e "$sock"
printf 'socket = "unix:%s"\nuser = "no-such-user-hm"\n' "$sock" >"$bad"
out=$("$HOPMILTER" -f -c "$bad" 2>&1); rc=$?
hm_check "unknown user refused (78)" test "$rc" = 78
hm_check "unknown user message" eval 'echo "$out" | grep -q "option .user.: no such user .no-such-user-hm."'

# Daemon mode: detaches, writes the pid file, the socket belongs to the user
# with mode 0660, the process runs as that user, SIGTERM stops it cleanly.
conf=$HM_TMP/daemon.conf
printf 'socket = "unix:%s"\nuser = "nobody"\npid_file = "%s/run/hm.pid"\nallowed_domains = {"example.com"}\nsyslog_facility = local5\n' \
	"$sock" "$HM_TMP" >"$conf"
chmod 0644 "$conf"
"$HOPMILTER" -c "$conf"; rc=$?
hm_check "daemon start returns 0 once running" test "$rc" = 0
hm_check "pid file written" test -s "$HM_TMP/run/hm.pid"
pid=$(cat "$HM_TMP/run/hm.pid" 2>/dev/null)
[ -n "$pid" ] && hm_track "$pid"
hm_check "daemon is alive" kill -0 "$pid"
hm_check "socket exists" test -S "$sock"
hm_check "socket mode is 0660" test "$(stat -c %a "$sock")" = 660
hm_check "socket owned by the service user" test "$(stat -c %U "$sock")" = nobody
hm_check "process runs as the service user" test "$(ps -o user= -p "$pid" | tr -d ' ')" = nobody
hm_check "no root capability left (real and effective uid)" \
	eval 'grep -E "^Uid:" /proc/$pid/status | awk "{exit !(\$2!=0 && \$3!=0 && \$4!=0 && \$5!=0)}"'
kill -TERM "$pid"
hm_wait_exit "$pid" 150
hm_check "SIGTERM stops the daemon" eval '! kill -0 $pid 2>/dev/null'
hm_check "a clean stop removes the pid file" test ! -e "$HM_TMP/run/hm.pid"

# Foreground: SIGTERM goes through libmilter's orderly shutdown.
printf 'socket = "unix:%s"\nuser = "nobody"\nallowed_domains = {"example.com"}\n' "$sock" >"$conf"
"$HOPMILTER" -f -c "$conf" >"$HM_TMP/fg.log" 2>&1 &
fpid=$!
hm_track "$fpid"
hm_wait_file "$sock"
kill -TERM "$fpid"
hm_wait_exit "$fpid" 150
wait "$fpid"; rc=$?
hm_check "foreground SIGTERM: exit status 0 (got $rc)" test "$rc" = 0
hm_check "foreground SIGTERM: 'stopping' logged" grep -q 'hopmilter\[[0-9]*\]: stopping$' "$HM_TMP/fg.log"

# A start-up failure in daemon mode reaches the caller as an exit status.
printf 'socket = "unix:%s/nodir/m.sock"\nuser = "nobody"\n' "$HM_TMP" >"$bad"
"$HOPMILTER" -c "$bad" >/dev/null 2>&1; rc=$?
hm_check "daemon start failure is reported (rc=$rc)" test "$rc" != 0

hm_done
