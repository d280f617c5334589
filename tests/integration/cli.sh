#!/bin/bash
# hopmilter's command line, start-up checks, daemon mode and signals:
# -n/-V/-h, --help/--version, configuration errors (FILE:LINE: reason, exit
# 78), -n checking what start-up checks (the user, root without a user, the
# socket's directory, a Redis password in a file others or the group may
# write), refusing root without a user, the pid file, the socket's owner
# and mode, SIGTERM, a reload refused for the file's mode.
. "$(dirname "$0")/../lib/harness.sh"

hm_need "$HOPMILTER"

# -V and --version print the version; -h and --help the usage, with the
# default configuration path, which is the one -n reads without -c.
hm_check "-V prints the version" eval '"$HOPMILTER" -V | grep -q "^hopmilter [0-9]"'
hm_check "--version prints the version" eval '"$HOPMILTER" --version | grep -q "^hopmilter [0-9]"'
for h in -h --help; do
	out=$("$HOPMILTER" $h); rc=$?
	hm_check "$h: exit 0, usage on stdout" eval '[ $rc = 0 ] && grep -q "^usage: hopmilter" <<<"$out"'
done
defpath=$("$HOPMILTER" --help | sed -n 's/.*configuration file (default \(.*\))$/\1/p')
hm_check "--help names the default configuration ($defpath)" test -n "$defpath"
if [ ! -e "$defpath" ]; then
	out=$("$HOPMILTER" -n 2>&1)
	hm_check "-n without -c reads that default ($out)" eval '[[ $out == *"$defpath: cannot read"* ]]'
fi
"$HOPMILTER" --bogus >/dev/null 2>&1; rc=$?
hm_check "an unknown long option exits 64" test "$rc" = 64

# As root, -n (like start-up) wants a user: the files below name one then.
U=
[ "$(id -u)" = 0 ] && U='user = "nobody"'
# ... and a socket whose directory exists.
SU="socket = \"unix:$HM_TMP/m.sock\"
$U"

# -n: a good file exits 0 and prints nothing.
good=$HM_TMP/good.conf
printf 'socket = "unix:%s/m.sock"\nallowed_domains = {"example.com"}\n%s\n' "$HM_TMP" "$U" >"$good"
out=$("$HOPMILTER" -n -c "$good" 2>&1); rc=$?
hm_check "-n on a good file exits 0" test "$rc" = 0
hm_check "-n on a good file is silent" test -z "$out"

# The shipped sample must pass -n as it is, given its user and its socket
# directory: here with "nobody" and a directory of the test's.
sed -e 's|^user = "hopmilter"|user = "nobody"   |' -e "s|unix:/run/hopmilter/|unix:$HM_TMP/|" \
	"$HM_SRCDIR/milter/hopmilter.conf" >"$HM_TMP/sample.conf"
hm_check "the sample hopmilter.conf is valid" "$HOPMILTER" -n -c "$HM_TMP/sample.conf"
if ! getent passwd hopmilter >/dev/null; then
	out=$("$HOPMILTER" -n -c "$HM_SRCDIR/milter/hopmilter.conf" 2>&1); rc=$?
	hm_check "the sample as it is: -n names its missing user (78)" \
		eval '[ $rc = 78 ] && [[ $out == *"option '\''user'\'': no such user '\''hopmilter'\''"* ]]'
fi

# -n checks the user and the socket's directory, as start-up does.
printf 'socket = "unix:%s/m.sock"\nuser = "no-such-user-hm"\n' "$HM_TMP" >"$HM_TMP/nouser.conf"
out=$("$HOPMILTER" -n -c "$HM_TMP/nouser.conf" 2>&1); rc=$?
hm_check "-n: unknown user refused (78)" test "$rc" = 78
hm_check "-n: unknown user message, at its line" test "$out" = "hopmilter: $HM_TMP/nouser.conf:2: option 'user': no such user 'no-such-user-hm'"
printf 'socket = "unix:%s/nodir/m.sock"\n%s\n' "$HM_TMP" "$U" >"$HM_TMP/nodir.conf"
out=$("$HOPMILTER" -n -c "$HM_TMP/nodir.conf" 2>&1); rc=$?
hm_check "-n: missing socket directory refused (78)" test "$rc" = 78
hm_check "-n: missing socket directory message" \
	test "$out" = "hopmilter: $HM_TMP/nodir.conf:1: option 'socket': directory $HM_TMP/nodir does not exist"

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
hm_check "trusted_networks too wide: says where, why and what to set" test "$out" = "hopmilter: $bad:2: option 'trusted_networks': trusts more public IPv4 addresses than a /8 (widest: 0.0.0.0/1); clients there skip SPF and may relay outbound. Set allow_wide_trusted_networks = true if that is meant"
hm_write_milter_conf "$bad" "unix:$HM_TMP/m.sock" 'trusted_networks = {"::/0"}' 'allow_wide_trusted_networks = true'
hm_check "trusted_networks ::/0 with allow_wide_trusted_networks: 0" "$HOPMILTER" -n -c "$bad"
"$HOPMILTER" -x >/dev/null 2>&1; rc=$?
hm_check "bad flag exits 64 (EX_USAGE)" test "$rc" = 64

# A file holding a Redis password: refused when every user may write it,
# a warning when every user may read it, silent at 0640.
secret=$HM_TMP/secret.conf
printf 'allowed_domains = {"example.com"}\nratelimit {\n  redis { password = "s3cret" }\n}\n%s\n' "$SU" >"$secret"
chmod 0666 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "world-writable file with a Redis password: 78" test "$rc" = 78
hm_check "world- and group-writable: says why and how to fix it" test "$out" = \
	"hopmilter: $secret: holds a Redis password and its group and every user may write it (mode 0666); chmod go-w $secret"
chmod 0602 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "world-writable only: 78, chmod o-w" eval '[ $rc = 78 ] && [ "$out" = "hopmilter: $secret: holds a Redis password and every user may write it (mode 0602); chmod o-w $secret" ]'
chmod 0660 "$secret"
out=$("$HOPMILTER" -n -c "$secret" 2>&1); rc=$?
hm_check "group-writable file with a Redis password: 78, chmod g-w" \
	eval '[ $rc = 78 ] && [ "$out" = "hopmilter: $secret: holds a Redis password and its group may write it (mode 0660); chmod g-w $secret" ]'
chmod 0666 "$secret"
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
printf 'allowed_domains = {"example.com"}\n%s\n' "$SU" >"$secret"
chmod 0666 "$secret"
"$HOPMILTER" -n -c "$secret" >/dev/null 2>&1; rc=$?
hm_check "world-writable file without a password: accepted" test "$rc" = 0

if [ "$(id -u)" != 0 ]; then
	hm_log "not root: skipping the privilege checks"
	hm_done
fi

# Root without a user: refused, exit 78, nothing created; -n says so too.
sock=$HM_TMP/run/m.sock
mkdir -p "$HM_TMP/run"
# As systemd's RuntimeDirectory would: the service user owns the directory,
# so it can remove its pid file at exit.
chown nobody "$HM_TMP/run"
printf 'socket = "unix:%s"\nallowed_domains = {"example.com"}\n' "$sock" >"$bad"
out=$("$HOPMILTER" -n -c "$bad" 2>&1); rc=$?
hm_check "-n as root without user: 78, says why" eval '[ $rc = 78 ] && grep -q "refusing to run as root" <<<"$out"'
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

# SIGUSR1 with a file that holds a Redis password and became group-writable:
# the reload is refused and the running configuration stays; once fixed,
# the reload goes through.
conf=$HM_TMP/reload.conf
printf 'socket = "unix:%s"\nuser = "nobody"\nallowed_domains = {"example.com"}\nratelimit { redis { host = "" password = "s3cret" } }\n' \
	"$sock" >"$conf"
chown nobody "$conf"
chmod 0600 "$conf"
"$HOPMILTER" -f -c "$conf" >"$HM_TMP/reload.log" 2>&1 &
rpid=$!
hm_track "$rpid"
hm_wait_file "$sock"
chmod 0620 "$conf"
kill -USR1 "$rpid"
hm_check "group-writable on reload: refused, the running configuration kept" \
	hm_wait_grep "reload failed, keeping the running configuration: $conf: holds a Redis password and its group may write it \(mode 0620\); chmod g-w $conf" "$HM_TMP/reload.log" 10
chmod 0600 "$conf"
kill -USR1 "$rpid"
hm_check "fixed: the reload goes through" hm_wait_grep "reloaded $conf" "$HM_TMP/reload.log" 10
kill -TERM "$rpid"
for _ in $(seq 1 150); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done

# A start-up failure in daemon mode reaches the caller as an exit status.
printf 'socket = "unix:%s/nodir/m.sock"\nuser = "nobody"\n' "$HM_TMP" >"$bad"
"$HOPMILTER" -c "$bad" >/dev/null 2>&1; rc=$?
hm_check "daemon start failure is reported (rc=$rc)" test "$rc" != 0

hm_done
