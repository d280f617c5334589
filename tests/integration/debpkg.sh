#!/bin/bash
# The Debian packages as an admin gets them: built with dpkg-buildpackage
# from a clean copy of the tree, checked by lintian, installed on this
# machine with apt-get (dependencies from Debian), then used the way the
# unit and Postfix use them:
#   - the unit's own command lines (ExecCondition, ExecStartPre, ExecStart)
#     run as its User=/Group= with its UMask=; the shipped configuration is
#     skipped by ExecCondition (empty allowed_domains), an edited one starts
#     and listens inside Postfix's chroot; a private Postfix sends one message
#     through it and the BLOCKED line reaches syslog;
#   - the installed hoprelay, as user hoprelay with the installed
#     /etc/hoprelay/hoprelay.conf, delivers one message over pinned TLS;
#   - systemd-analyze verify and security on the installed unit, and its
#     SystemCallFilter= against every system call the packaged hopmilter
#     makes (strace) while it starts, checks SPF in DNS, counts in Redis,
#     accepts and refuses mail, reloads and stops;
#   - a reinstall keeps an edited conffile; remove keeps the configuration
#     and accounts; purge leaves no file, user, group or statoverride.
# The machine is left as it was: the packages are purged on every exit.
# The test refuses to run (fails) where hopmilter or hoprelay is already
# installed or their accounts exist: purging would destroy an admin's setup.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

hm_need_root
hm_need dpkg-buildpackage dh lintian fakeroot apt-get git setpriv unshare systemd-analyze \
	postfix swaks smtp-sink openssl python3 strace redis-server dnsmasq
git -C "$HM_SRCDIR" rev-parse --git-dir >/dev/null 2>&1 || hm_skip "$HM_SRCDIR is not a git checkout"

for p in hopmilter hoprelay; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
		hm_fail "package $p is already on this machine; not touching it"; hm_done
	fi
	if getent passwd "$p" >/dev/null || getent group "$p" >/dev/null; then
		hm_fail "account $p exists on this machine; not touching it"; hm_done
	fi
done
[ -e /etc/hopmilter ] || [ -e /etc/hoprelay ] && { hm_fail "/etc/hopmilter or /etc/hoprelay exists; not touching it"; hm_done; }

apt_get() { apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"; }
# Names of everything on the system that mentions the packages, to compare
# before and after (this test's scratch directory and others' excluded).
hop_paths() {
	find /etc /usr /lib /var /run -xdev \( -name '*hopmilter*' -o -name '*hoprelay*' \) \
		! -path '/var/cache/hopmilter-tests*' ! -path '/tmp/*' ! -path '/var/tmp/*' 2>/dev/null | sort
}
hop_paths >"$HM_TMP/paths.before"
id -nG postfix | tr ' ' '\n' | sort >"$HM_TMP/postfix-groups.before"

installed=no
deb_cleanup() {
	local p
	if [ -s "$HM_TMP/milter.pid" ]; then
		p=$(cat "$HM_TMP/milter.pid")
		kill -TERM "$p" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	fi
	if [ "$installed" = yes ]; then
		apt_get purge hopmilter hoprelay >>"$HM_TMP/apt.log" 2>&1
	fi
}
trap 'deb_cleanup; hm_cleanup' EXIT

# --- build from a clean copy (tracked and new files; no build trees) --------
src=$HM_TMP/pkg/hopmilter
mkdir -p "$src"
(cd "$HM_SRCDIR" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) | tar -C "$src" -xf -
hm_check "the copy has no configured or built files" \
	eval '[ ! -e "$src/config.status" ] && [ ! -e "$src/_build" ] && [ ! -e "$src/configure" ]'
# Run from `make check`, this test inherits make's MAKEFLAGS, which carry
# automake's own command-line variables (TEST_LOGS= every log of the suite):
# the package build's make would take them and run the whole suite inside
# the build.  An admin's build starts with none of them.
(cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u TESTS -u TEST_LOGS \
	dpkg-buildpackage -us -uc -b) >"$HM_TMP/build.log" 2>&1
hm_check "dpkg-buildpackage -us -uc -b succeeds" test $? = 0
debs=("$HM_TMP"/pkg/hopmilter_*.deb "$HM_TMP"/pkg/hoprelay_*.deb)
hm_check "both binary packages are built" eval 'test -f "${debs[0]}" && test -f "${debs[1]}"'
hm_check "the package build ran the unit tests" grep -q '^# FAIL: *0' "$HM_TMP/build.log"
# The copy's own test files would match hm_done's sanitizer scan.
rm -rf "$src"
[ -f "${debs[0]}" ] && [ -f "${debs[1]}" ] || { tail -30 "$HM_TMP/build.log" >&2; hm_done; }

lintian --tag-display-limit 0 "$HM_TMP"/pkg/hopmilter_*.changes >"$HM_TMP/lintian.log" 2>&1
sed 's/^/    lintian| /' "$HM_TMP/lintian.log" >&2
hm_check "lintian: no errors" eval '! grep -q "^E:" "$HM_TMP/lintian.log"'
hm_check "lintian: no warnings" eval '! grep -q "^W:" "$HM_TMP/lintian.log"'

contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|'; }
for f in /usr/sbin/hopmilter /usr/sbin/hopmilter-ctl /usr/share/man/man8/hopmilter-ctl.8.gz /usr/share/man/man8/hopmilter.8.gz /usr/share/man/man5/hopmilter.conf.5.gz \
	/etc/hopmilter/hopmilter.conf /lib/systemd/system/hopmilter.service /usr/lib/tmpfiles.d/hopmilter.conf \
	/etc/fail2ban/filter.d/hopmilter.conf /etc/fail2ban/jail.d/hopmilter.conf \
	/usr/share/doc/hopmilter/examples/postfix-conf/main.cf.edge \
	/usr/share/doc/hopmilter/examples/sendmail-conf/hopmilter.mc /usr/share/doc/hopmilter/README.Debian; do
	hm_check "hopmilter ships $f" eval 'contents "${debs[0]}" | grep -qx "$f"'
done
for f in /usr/sbin/hoprelay /usr/share/man/man8/hoprelay.8.gz /usr/share/man/man5/hoprelay.conf.5.gz \
	/etc/hoprelay/hoprelay.conf /usr/sbin/hoprelayd /usr/share/man/man8/hoprelayd.8.gz \
	/lib/systemd/system/hoprelayd.service /usr/lib/tmpfiles.d/hoprelay.conf; do
	hm_check "hoprelay ships $f" eval 'contents "${debs[1]}" | grep -qx "$f"'
done
dpkg-deb --ctrl-tarfile "${debs[0]}" | tar -xOf - ./conffiles >"$HM_TMP/conffiles" 2>/dev/null
hm_check "the configuration, the fail2ban filter and jail are conffiles" eval \
	'grep -qx /etc/hopmilter/hopmilter.conf "$HM_TMP/conffiles" &&
	grep -qx /etc/fail2ban/jail.d/hopmilter.conf "$HM_TMP/conffiles" &&
	grep -qx /etc/fail2ban/filter.d/hopmilter.conf "$HM_TMP/conffiles"'

# --- install -------------------------------------------------------------------
installed=yes
apt_get install "${debs[@]}" >"$HM_TMP/apt.log" 2>&1
hm_check "apt-get install ./hopmilter_*.deb ./hoprelay_*.deb succeeds" test $? = 0
hm_check "both packages are installed" eval \
	'dpkg-query -W -f="\${Status}\n" hopmilter hoprelay | grep -c "install ok installed" | grep -qx 2'
hm_check "system users and groups hopmilter and hoprelay" eval \
	'getent passwd hopmilter hoprelay | grep -c ":/usr/sbin/nologin$" | grep -qx 2 &&
	getent group hopmilter >/dev/null && getent group hoprelay >/dev/null'
hm_check "postfix is in the group hopmilter (the socket's group)" eval 'id -nG postfix | tr " " "\n" | grep -qx hopmilter'
hm_check "hoprelay is not in the group hopmilter (no access to its configuration)" \
	eval '! id -nG hoprelay | tr " " "\n" | grep -qx hopmilter'
owner() { stat -c '%U:%G %a' "$1"; }
hm_check "/etc/hopmilter is root:hopmilter 0750 ($(owner /etc/hopmilter))" test "$(owner /etc/hopmilter)" = "root:hopmilter 750"
hm_check "hopmilter.conf is root:hopmilter 0640 ($(owner /etc/hopmilter/hopmilter.conf))" \
	test "$(owner /etc/hopmilter/hopmilter.conf)" = "root:hopmilter 640"
hm_check "the socket directory in Postfix's chroot is hopmilter:hopmilter 0750" \
	test "$(owner /var/spool/postfix/hopmilter)" = "hopmilter:hopmilter 750"
hm_check "/etc/hoprelay/hoprelay.conf is root:root 0644" test "$(owner /etc/hoprelay/hoprelay.conf)" = "root:root 644"
hm_check "the unit is enabled (deb-systemd-helper)" \
	test -L /etc/systemd/system/multi-user.target.wants/hopmilter.service
hm_check "hoprelayd.service is installed but not enabled (pipe mode needs no daemon)" \
	eval '[ -f /lib/systemd/system/hoprelayd.service ] && [ ! -e /etc/systemd/system/multi-user.target.wants/hoprelayd.service ]'
hm_check "hoprelayd's socket directory in Postfix's chroot is hoprelay:postfix 2750" \
	test "$(owner /var/spool/postfix/hoprelay)" = "hoprelay:postfix 2750"
out=$(systemd-analyze verify --man=no /lib/systemd/system/hoprelayd.service 2>&1)
hm_check "systemd-analyze verify hoprelayd.service is clean${out:+: $out}" test -z "$out"
unit=/lib/systemd/system/hopmilter.service
out=$(systemd-analyze verify --man=no "$unit" 2>&1)
hm_check "systemd-analyze verify on the installed unit is clean${out:+: $out}" test -z "$out"
hm_check "the packaged unit is Type=notify (built with libsystemd)" grep -qx 'Type=notify' "$unit"
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -nE 's/.*Overall exposure level for .*: ([0-9.]+) .*/\1/p')
hm_log "systemd-analyze security: exposure $score"
# 3.2 before the sandbox was tightened (SystemCallFilter, ProtectProc,
# ProcSubset, RemoveIPC, PrivateMounts, UMask 0027); 1.2 since.
hm_check "systemd-analyze security: exposure ${score:-?} is at most 1.2" \
	eval '[ -n "$score" ] && awk -v s="$score" "BEGIN { exit !(s <= 1.2) }"'

# --- the unit's command lines, as the unit runs them ----------------------------
# ExecX=... from the installed unit, with its User=/Group= (supplementary
# groups from /etc/group, as systemd sets them) and its UMask=.
exec_line() { sed -n "s/^$1=//p" "$unit"; }
umask_of_unit=$(sed -n 's/^UMask=//p' "$unit")
# syslog: hopmilter detaches and logs to /dev/log, which this machine may not
# have; a private /dev in a mount namespace carries it to a listener here.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
' "$HM_TMP/log.sock" "$HM_TMP/syslog" >"$HM_TMP/syslogd.out" 2>&1 &
hm_track $!
hm_wait_file "$HM_TMP/log.sock"
chmod 0666 "$HM_TMP/log.sock"   # as /dev/log: every user may log
# as_unit CMD...: CMD in that namespace, as the unit's user, with its umask.
# AS_UNIT_EXEC=exec in a background subshell keeps $! the service's pid.
as_unit() {
	# shellcheck disable=SC2016
	${AS_UNIT_EXEC:-} unshare -m --propagation private /bin/sh -c '
		d=$1; shift
		mkdir -p "$d/dev" && mount -t tmpfs -o mode=0755 hmdev "$d/dev" || exit 99
		for n in null zero full random urandom; do
			touch "$d/dev/$n" && mount --bind "/dev/$n" "$d/dev/$n" || exit 99
		done
		touch "$d/dev/log" && mount --bind "$d/log.sock" "$d/dev/log" && mount --rbind "$d/dev" /dev || exit 99
		if [ -n "${AS_UNIT_RESOLV:-}" ]; then mount --bind "$AS_UNIT_RESOLV" /etc/resolv.conf || exit 99; fi
		umask "$1"; shift
		exec setpriv --reuid=hopmilter --regid=hopmilter --init-groups --inh-caps=-all "$@"' \
		as_unit "$HM_TMP" "$umask_of_unit" "$@"
}
cond=$(exec_line ExecCondition) pre=$(exec_line ExecStartPre) start=$(exec_line ExecStart)
hm_check "the unit has ExecCondition, ExecStartPre and ExecStart" eval '[ -n "$cond" ] && [ -n "$pre" ] && [ -n "$start" ]'
# shellcheck disable=SC2086
out=$(as_unit $cond 2>&1); rc=$?
hm_check "shipped configuration: ExecCondition skips the start (exit $rc, 1 expected): $out" \
	eval '[ "$rc" = 1 ] && echo "$out" | grep -q "allowed_domains is empty"'
# shellcheck disable=SC2086
hm_check "shipped configuration: ExecStartPre passes (the file is valid and readable by the unit)" as_unit $pre

# The admin's edits: the domains, and the socket inside Postfix's chroot.
conf=/etc/hopmilter/hopmilter.conf
sed -i -e 's|^allowed_domains = {}.*|allowed_domains = {"example.com"}   # edited by debpkg.sh|' \
	-e 's|^socket = .*|socket = "unix:/var/spool/postfix/hopmilter/hopmilter.sock"|' "$conf"
hm_check "the configuration is edited" grep -q 'edited by debpkg.sh' "$conf"
# shellcheck disable=SC2086
hm_check "edited configuration: ExecCondition lets the unit start" as_unit $cond
# shellcheck disable=SC2086
hm_check "edited configuration: ExecStartPre passes" as_unit $pre
pidfile=$(sed -n 's/^PIDFile=//p' "$unit")
if grep -qx 'Type=notify' "$unit"; then
	# systemd's side: NOTIFY_SOCKET, the process it started is the service.
	python3 "$HM_LIBDIR/notify-listener.py" "$HM_TMP/notify.sock" "$HM_TMP/notify.log" \
		/var/spool/postfix/hopmilter/hopmilter.sock >/dev/null 2>&1 &
	hm_track $!
	hm_wait_file "$HM_TMP/notify.sock"
	# shellcheck disable=SC2086
	NOTIFY_SOCKET=$HM_TMP/notify.sock AS_UNIT_EXEC=exec as_unit $start >"$HM_TMP/start.out" 2>&1 &
	echo $! >"$HM_TMP/milter.pid"
	hm_check "Type=notify: READY=1 once the socket listens" \
		eval 'hm_wait_grep "^READY=1 watch=yes" "$HM_TMP/notify.log" 20'
	hm_wait_file "$pidfile" 10
	hm_check "Type=notify: the process started is the service (PIDFile agrees)" \
		test "$(cat "$pidfile" 2>/dev/null)" = "$(cat "$HM_TMP/milter.pid")"
else
	# shellcheck disable=SC2086
	as_unit $start >"$HM_TMP/start.out" 2>&1
	hm_check "ExecStart returns 0 once the filter is ready (Type=forking)" test $? = 0
	hm_wait_file "$pidfile" 10 && cp "$pidfile" "$HM_TMP/milter.pid"
fi
mpid=$(cat "$HM_TMP/milter.pid" 2>/dev/null)
hm_check "the daemon runs as hopmilter (PIDFile $pidfile)" eval '[ -n "$mpid" ] && [ "$(ps -o user= -p "$mpid")" = hopmilter ]'
sock=/var/spool/postfix/hopmilter/hopmilter.sock
hm_check "it listens in Postfix's chroot: $sock" test -S "$sock"
hm_check "the socket is group hopmilter, not world-accessible ($(owner "$sock"))" \
	eval '[ "$(stat -c %G "$sock")" = hopmilter ] && [ "$(( 0$(stat -c %a "$sock") & 7 ))" = 0 ]'

port=$(hm_free_port)
hm_postfix edge "$port" "smtpd_milters = unix:$sock
milter_default_action = accept
milter_protocol = 6" || { hm_fail "the private Postfix did not start"; hm_done; }
hm_swaks --server 127.0.0.1 --port "$port" --from core@example.com --to friend@outside.example \
	--header "Message-Id: <debpkg-blocked@example.com>"
hm_check "Postfix (user postfix, group hopmilter) reached the filter: 550 5.7.1 to the client" hm_reply_has '550 5\.7\.1'
hm_check "the BLOCKED line reaches syslog" hm_wait_grep 'hopmilter\[[0-9]+\]: .*BLOCKED reason=outbound-disabled' "$HM_TMP/syslog" 10
hm_check "Postfix logged the milter's reject, not a milter error" eval \
	'grep -q "milter-reject" "$HM_TMP/edge/maillog" && ! grep -qE "warning: milter .*(Permission denied|No such file)" "$HM_TMP/edge/maillog"'

# --- hoprelay: the installed binary and configuration, as user hoprelay ----------
pki=$HM_TMP/pki
hm_ca ca && hm_cert ca hop hop.test.invalid || { hm_fail "making certificates"; hm_done; }
sink_port=$(hm_free_port) hop_port=$(hm_free_port)
hm_start_sink sink "$sink_port"
hm_postfix hop "$hop_port" "smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/hop.key, $pki/hop.crt
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port" || { hm_fail "the hop's Postfix did not start"; hm_done; }
cat >>/etc/hoprelay/hoprelay.conf <<EOF
# debpkg.sh
route testhop { hops = {"127.0.0.1:$hop_port"}  pins = {"$(hm_pin "$pki/hop.crt")"} }
EOF
printf 'From: a@example.org\r\nTo: b@example.com\r\nMessage-Id: <debpkg-relay@example.org>\r\nSubject: debpkg\r\n\r\nhello\r\n' >"$HM_TMP/msg"
chmod 0644 "$HM_TMP/msg"
out=$(setpriv --reuid=hoprelay --regid=hoprelay --clear-groups /usr/sbin/hoprelay -e -q DEBPKG1 \
	-f a@example.org -- testhop b@example.com <"$HM_TMP/msg" 2>&1); rc=$?
echo "$out" | sed 's/^/    hoprelay| /' >&2
hm_check "the installed hoprelay, with /etc/hoprelay/hoprelay.conf, delivers (exit $rc)" test "$rc" = 0
hm_check "the message arrived at the sink behind the hop" hm_sink_wait sink debpkg-relay@example.org

# --- the unit's SystemCallFilter= against what hopmilter really calls -----------
kill -TERM "$mpid" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
hm_check "hopmilter stops on SIGTERM" eval '! kill -0 "$mpid" 2>/dev/null'
# expand_filter @GROUP|NAME: system call names, nested groups expanded.
expand_filter() {
	local n
	case $1 in
	@*) systemd-analyze syscall-filter "$1" 2>/dev/null | awk 'NR > 1 && $1 !~ /^#/ { print $1 }' |
		while read -r n; do expand_filter "$n"; done ;;
	*) echo "$1" ;;
	esac
}
: >"$HM_TMP/allow" && : >"$HM_TMP/deny"
while read -r v; do
	case $v in
	~*) for g in ${v#\~}; do expand_filter "$g"; done >>"$HM_TMP/deny" ;;
	*) for g in $v; do expand_filter "$g"; done >>"$HM_TMP/allow" ;;
	esac
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
sort -u "$HM_TMP/allow" -o "$HM_TMP/allow"; sort -u "$HM_TMP/deny" -o "$HM_TMP/deny"
comm -23 "$HM_TMP/allow" "$HM_TMP/deny" >"$HM_TMP/allowed"
hm_check "the unit's SystemCallFilter= allows $(wc -l <"$HM_TMP/allowed") calls and denies $(wc -l <"$HM_TMP/deny")" \
	eval '[ "$(wc -l <"$HM_TMP/allowed")" -gt 100 ] && [ "$(wc -l <"$HM_TMP/deny")" -gt 10 ]'

# The packaged binary as the unit starts it, under strace, with SPF answered
# by a private DNS server and the rate limit in a private Redis.
hm_start_spf_dns || { hm_fail "the private DNS did not start"; hm_done; }
rport=$(hm_free_port) eport=$(hm_free_port)
hm_start_redis rl "$rport"
sed -i "s/^\t\tport = 6379/\t\tport = $rport/" "$conf"
hm_check "the configuration points at this test's Redis" grep -q "port = $rport" "$conf"
hm_postfix edge2 "$eport" "smtpd_milters = unix:$sock
milter_default_action = tempfail
relay_domains = example.com
relay_transport = smtp:[127.0.0.1]:$sink_port" || { hm_fail "the second Postfix did not start"; hm_done; }
rm -f "$HM_TMP/notify.log"
python3 "$HM_LIBDIR/notify-listener.py" "$HM_TMP/notify2.sock" "$HM_TMP/notify.log" "$sock" >/dev/null 2>&1 &
hm_track $!
hm_wait_file "$HM_TMP/notify2.sock"
mkdir "$HM_TMP/strace" && chown hopmilter "$HM_TMP/strace"   # strace runs as the unit's user
# shellcheck disable=SC2086
NOTIFY_SOCKET=$HM_TMP/notify2.sock AS_UNIT_RESOLV=$HM_TMP/resolv.conf AS_UNIT_EXEC=exec \
	as_unit strace -f -qq -o "$HM_TMP/strace/trace" $start >"$HM_TMP/start2.out" 2>&1 &
tracer=$!
hm_track "$tracer"
hm_check "traced: READY=1" eval 'hm_wait_grep "^READY=1 watch=yes" "$HM_TMP/notify.log" 30'
tpid=$(cat "$pidfile" 2>/dev/null)
echo "$tpid" >"$HM_TMP/milter.pid"
hm_swaks --server 127.0.0.1 --port "$eport" --xclient-addr 192.0.2.10 --from alice@pass.example \
	--to bob@example.com --header "Message-Id: <debpkg-in@example.com>"
hm_check "traced: inbound mail with SPF pass accepted (by the filter: Postfix would defer without it)" \
	eval 'hm_reply_has "250 2\\.0\\.0" && hm_wait_grep "ACCEPTED ip=192\\.0\\.2\\.10 .*spf=pass" "$HM_TMP/syslog" 10'
hm_check "traced: it reached the sink" hm_sink_wait sink debpkg-in@example.com 20
hm_check "traced: counted in Redis" eval 'redis-cli -p "$rport" --scan --pattern "hopmilter:*" | grep -q .'
kill -USR1 "$tpid"
hm_check "traced: reloaded (RELOADING=1, READY=1)" eval \
	'for _ in $(seq 1 100); do [ "$(grep -c "^READY=1" "$HM_TMP/notify.log")" = 2 ] && break; sleep 0.1; done
	grep -q "^RELOADING=1" "$HM_TMP/notify.log" && [ "$(grep -c "^READY=1" "$HM_TMP/notify.log")" = 2 ]'
hm_swaks --server 127.0.0.1 --port "$eport" --from core@example.com --to friend@outside.example
hm_check "traced: outbound refused after the reload" hm_reply_has '550 5\.7\.1'
kill -TERM "$tpid"
for _ in $(seq 1 150); do kill -0 "$tracer" 2>/dev/null || break; sleep 0.1; done
hm_check "traced: stopped" eval '! kill -0 "$tracer" 2>/dev/null'
sed -nE 's/^[0-9]+ +([a-z_0-9]+)\(.*/\1/p' "$HM_TMP/strace/trace" | sort -u >"$HM_TMP/used"
hm_log "system calls hopmilter made: $(tr '\n' ' ' <"$HM_TMP/used")"
hm_check "the trace has the whole run ($(wc -l <"$HM_TMP/used") distinct calls: sockets, DNS, notify, reload)" eval \
	'[ "$(wc -l <"$HM_TMP/used")" -gt 30 ] && grep -qx accept "$HM_TMP/used" && grep -qxE "sendto|sendmsg" "$HM_TMP/used" && grep -qx connect "$HM_TMP/used"'
outside=$(comm -23 "$HM_TMP/used" "$HM_TMP/allowed" | tr '\n' ' ')
hm_check "every one of them is allowed by the unit's SystemCallFilter=${outside:+ (not allowed: $outside)}" test -z "$outside"
# The comparison can fail: the same filter without @network-io would not do.
expand_filter @network-io | sort -u >"$HM_TMP/netio"
hm_check "control: without @network-io, socket and connect would be refused" eval \
	'comm -23 "$HM_TMP/allowed" "$HM_TMP/netio" | comm -23 "$HM_TMP/used" - | grep -qx connect'

# --- reinstall, remove, purge ---------------------------------------------------
apt_get install --reinstall "${debs[@]}" >>"$HM_TMP/apt.log" 2>&1
hm_check "apt-get install --reinstall succeeds" test $? = 0
hm_check "reinstall keeps the edited hopmilter.conf" grep -q 'edited by debpkg.sh' "$conf"
hm_check "reinstall keeps the edited hoprelay.conf" grep -q '^# debpkg.sh' /etc/hoprelay/hoprelay.conf
hm_check "reinstall keeps root:hopmilter 0640" test "$(owner "$conf")" = "root:hopmilter 640"

apt_get remove hopmilter hoprelay >>"$HM_TMP/apt.log" 2>&1
hm_check "apt-get remove succeeds" test $? = 0
hm_check "remove keeps the configuration and the accounts" eval \
	'[ -f "$conf" ] && [ -f /etc/hoprelay/hoprelay.conf ] && getent passwd hopmilter >/dev/null && getent passwd hoprelay >/dev/null'
hm_check "remove takes the programs" eval '[ ! -e /usr/sbin/hopmilter ] && [ ! -e /usr/sbin/hoprelay ]'

apt_get purge hopmilter hoprelay >>"$HM_TMP/apt.log" 2>&1
hm_check "apt-get purge succeeds" test $? = 0
installed=no
hop_paths >"$HM_TMP/paths.after"
left=$(comm -13 "$HM_TMP/paths.before" "$HM_TMP/paths.after" | tr '\n' ' ')
hm_check "purge leaves no file or directory${left:+ (left: $left)}" test -z "$left"
left=$(getent passwd hopmilter hoprelay; getent group hopmilter hoprelay)
hm_check "purge leaves no user or group${left:+ (left: $left)}" test -z "$left"
left=$(dpkg-statoverride --list | grep -E 'hop(milter|relay)')
hm_check "purge leaves no statoverride${left:+ (left: $left)}" test -z "$left"
id -nG postfix | tr ' ' '\n' | sort >"$HM_TMP/postfix-groups.after"
hm_check "postfix's groups are as before" cmp -s "$HM_TMP/postfix-groups.before" "$HM_TMP/postfix-groups.after"
hm_check "dpkg no longer knows the packages" eval \
	'! dpkg-query -W -f="\${Status}\n" hopmilter hoprelay 2>/dev/null | grep -q installed'
hm_done
