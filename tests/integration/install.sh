#!/bin/bash
# `make install` with Debian's layout into a DESTDIR: every file where a
# Debian admin expects it, the installed programs and configuration work,
# man pages render without warnings, systemd accepts the units, the README's
# post-install steps (systemd-sysusers, systemd-tmpfiles) give the accounts,
# owners and modes the unit needs, so its ExecCondition/ExecStartPre run as
# User=hopmilter succeed; a changed configuration survives reinstall and
# uninstall, and uninstall leaves nothing else behind.
. "$(dirname "$0")/../lib/harness.sh"

hm_need make man systemd-analyze setpriv "$HOPMILTER"
[ -f "$HM_BUILDDIR/Makefile" ] || hm_skip "no Makefile in $HM_BUILDDIR"

dest=$HM_TMP/dest
layout="prefix=/usr sysconfdir=/etc localstatedir=/var runstatedir=/run"
# shellcheck disable=SC2086
make -s -C "$HM_BUILDDIR" install DESTDIR="$dest" $layout >"$HM_TMP/install.log" 2>&1
hm_check "make install succeeds" test $? = 0

for f in usr/sbin/hopmilter usr/share/man/man8/hopmilter.8 usr/share/man/man5/hopmilter.conf.5 \
	usr/sbin/hopmilter-ctl usr/share/man/man8/hopmilter-ctl.8 \
	etc/hopmilter/hopmilter.conf usr/lib/systemd/system/hopmilter.service \
	usr/lib/sysusers.d/hopmilter.conf usr/lib/tmpfiles.d/hopmilter.conf usr/lib/sysusers.d/hoprelay.conf \
	etc/fail2ban/filter.d/hopmilter.conf etc/fail2ban/jail.d/hopmilter.conf \
	usr/share/doc/hopmilter/examples/postfix-conf/main.cf.edge \
	usr/share/doc/hopmilter/examples/sendmail-conf/hopmilter.mc \
	usr/share/doc/hopmilter/examples/deploy/nftables-edge.nft usr/share/doc/hopmilter/examples/deploy/wg0-edge.conf; do
	hm_check "installed /$f" test -f "$dest/$f"
done
# Programs the other parts of the project add are checked when they exist.
for f in hoprelay hoprelayd; do
	[ -x "$HM_BUILDDIR/relay-transport/$f" ] && hm_check "installed /usr/sbin/$f" test -x "$dest/usr/sbin/$f"
done
if [ -x "$HM_BUILDDIR/relay-transport/hoprelay" ]; then
	for f in usr/share/man/man8/hoprelay.8 usr/share/man/man5/hoprelay.conf.5 etc/hoprelay/hoprelay.conf \
		usr/share/doc/hopmilter/examples/postfix-conf/transport.edge \
		usr/share/doc/hopmilter/examples/sendmail-conf/hoprelay.mc \
		usr/share/man/man8/hoprelayd.8 usr/lib/systemd/system/hoprelayd.service usr/lib/tmpfiles.d/hoprelay.conf \
		usr/share/doc/hopmilter/examples/postfix-conf/main.cf.hoprelayd \
		usr/share/doc/hopmilter/examples/postfix-conf/transport.hoprelayd; do
		hm_check "installed /$f" test -f "$dest/$f"
	done
	hm_check "hoprelay.conf is readable by the pipe(8) user" \
		test "$(stat -c %a "$dest/etc/hoprelay/hoprelay.conf")" = 644
fi
hm_check "configuration is not world-readable (it may hold a Redis password)" \
	test "$(stat -c %a "$dest/etc/hopmilter/hopmilter.conf")" = 640
# -n checks the user and the socket's directory too: given those (the
# package creates both), the installed sample is valid.
sed -e 's|^user = "hopmilter"|user = "nobody"   |' -e "s|unix:/run/hopmilter/|unix:$HM_TMP/|" \
	"$dest/etc/hopmilter/hopmilter.conf" >"$HM_TMP/installed.conf"
hm_check "the installed configuration is valid" "$dest/usr/sbin/hopmilter" -n -c "$HM_TMP/installed.conf"

# The installed man pages name the installation's paths: another layout.
dest2=$HM_TMP/dest2
make -s -C "$HM_BUILDDIR" install DESTDIR="$dest2" prefix=/usr sysconfdir=/opt/hm/etc \
	localstatedir=/var runstatedir=/opt/hm/run >"$HM_TMP/install2.log" 2>&1
hm_check "hopmilter(8) names the configured default configuration" \
	grep -qE '^\.IR? /opt/hm/etc/hopmilter/hopmilter\.conf' "$dest2/usr/share/man/man8/hopmilter.8"
hm_check "hoprelay(8) names the configured default configuration" \
	grep -q '/opt/hm/etc/hoprelay/hoprelay.conf' "$dest2/usr/share/man/man8/hoprelay.8"
hm_check "no man page names /etc/hopmilter/ or /etc/hoprelay/ there" \
	eval "! grep -E '(^|[^a-z])/etc/hop(milter|relay)/' '$dest2'/usr/share/man/man*/hop*"

# Man pages: no groff/man warnings.
for m in "$dest"/usr/share/man/man*/*; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" 2>&1 >/dev/null)
	hm_check "man --warnings $(basename "$m") is clean${w:+: $w}" test -z "$w"
done

# SEE ALSO: the four pages name each other, so a reader of one finds the rest.
for m in hopmilter.8 hopmilter.conf.5 hoprelay.8 hoprelay.conf.5; do
	f=$(find "$dest/usr/share/man" -name "$m" | head -1)
	[ -n "$f" ] || continue
	see=$(sed -n '/^\.SH SEE ALSO/,/^\.SH /p' "$f")
	for other in "hopmilter (8)" "hopmilter.conf (5)" "hoprelay (8)" "hoprelay.conf (5)"; do
		[ "${other%% *}.${other//[^0-9]/}" = "$m" ] && continue
		hm_check "$m: SEE ALSO names $other" eval 'grep -qF ".BR $other" <<<"$see"'
	done
done

# systemd: the unit verifies without a single complaint (paths pointed at
# the DESTDIR so the ExecStart binaries exist), sysusers entries parse.
for u in "$dest"/usr/lib/systemd/system/*.service; do
	sed "s|/usr/sbin/|$dest/usr/sbin/|g" "$u" >"$HM_TMP/$(basename "$u")"
	out=$(systemd-analyze verify --man=no "$HM_TMP/$(basename "$u")" 2>&1)
	hm_check "systemd-analyze verify $(basename "$u") is clean${out:+: $out}" test -z "$out"
	hm_check "$(basename "$u") is hardened" grep -q '^NoNewPrivileges=yes' "$u"
done
hm_check "unit: ProtectSystem=strict, ProtectHome, PrivateTmp, RuntimeDirectory, Restart=on-failure" \
	eval 'u=$dest/usr/lib/systemd/system/hopmilter.service; grep -q "^ProtectSystem=strict" $u &&
	grep -q "^ProtectHome=yes" $u && grep -q "^PrivateTmp=yes" $u && grep -q "^RuntimeDirectory=hopmilter" $u &&
	grep -q "^Restart=on-failure" $u && grep -q "^User=hopmilter" $u'
if command -v systemd-sysusers >/dev/null; then
	out=$(systemd-sysusers --dry-run --root="$dest" "$dest/usr/lib/sysusers.d/hopmilter.conf" 2>&1)
	hm_check "sysusers entries create the hopmilter user" eval 'echo "$out" | grep -q "Creating user .hopmilter."'
fi

# The README's post-install steps, applied to the DESTDIR as to /: the
# accounts (systemd-sysusers), then owners and modes (systemd-tmpfiles).
# The third step, usermod -a -G hopmilter postfix, needs a postfix account
# the DESTDIR has not; tests/integration/debpkg.sh covers it on the system.
# A postfix group, as an installed Postfix has (hoprelayd's socket
# directory belongs to it).
systemd-sysusers --root="$dest" --inline 'g postfix -' >>"$HM_TMP/install.log" 2>&1
systemd-sysusers --root="$dest" >>"$HM_TMP/install.log" 2>&1
hm_check "systemd-sysusers creates hopmilter and hoprelay" eval \
	'grep -q "^hopmilter:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$" "$dest/etc/passwd" &&
	grep -q "^hoprelay:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$" "$dest/etc/passwd"'
systemd-tmpfiles --root="$dest" --create >>"$HM_TMP/install.log" 2>&1
hm_check "systemd-tmpfiles --create succeeds" test $? = 0
uid=$(awk -F: '$1 == "hopmilter" { print $3 }' "$dest/etc/passwd")
gid=$(awk -F: '$1 == "hopmilter" { print $3 }' "$dest/etc/group")
ids() { stat -c '%u:%g %a' "$dest/$1"; }
hm_check "/etc/hopmilter is root:hopmilter 0750 ($(ids etc/hopmilter))" test "$(ids etc/hopmilter)" = "0:$gid 750"
hm_check "hopmilter.conf is root:hopmilter 0640 ($(ids etc/hopmilter/hopmilter.conf))" \
	test "$(ids etc/hopmilter/hopmilter.conf)" = "0:$gid 640"
hm_check "/run/hopmilter is hopmilter:hopmilter 0750" test "$(ids run/hopmilter)" = "$uid:$gid 750"
hm_check "the socket directory in Postfix's chroot is hopmilter:hopmilter 0750" \
	test "$(ids var/spool/postfix/hopmilter)" = "$uid:$gid 750"
pfgid=$(awk -F: '$1 == "postfix" { print $3 }' "$dest/etc/group")
rid=$(awk -F: '$1 == "hoprelay" { print $3 }' "$dest/etc/passwd")
hm_check "hoprelayd's socket directory is hoprelay:postfix 2750" \
	test "$(ids var/spool/postfix/hoprelay)" = "$rid:$pfgid 2750"
# The unit's checks, as its User=/Group= (the paths pointed at the DESTDIR).
unit=$dest/usr/lib/systemd/system/hopmilter.service
as_unit() {
	local line
	line=$(sed -n "s/^$1=//p" "$unit" | sed "s| /usr/sbin/| $dest/usr/sbin/|; s|^/usr/sbin/|$dest/usr/sbin/|; s| /etc/| $dest/etc/|")
	# The DESTDIR's accounts and /run, as the installed system would have them
	# (-n checks that the user exists and that the socket's directory does).
	# shellcheck disable=SC2016,SC2086
	unshare -m --propagation private /bin/sh -c '
		d=$1; shift
		mount --bind "$d/etc/passwd" /etc/passwd && mount --bind "$d/etc/group" /etc/group &&
			mount --bind "$d/run" /run || exit 99
		exec "$@"' as_unit "$dest" setpriv --reuid="$uid" --regid="$gid" --init-groups $line
}
out=$(as_unit ExecStartPre 2>&1)
hm_check "the unit's ExecStartPre, as hopmilter, reads the configuration${out:+: $out}" test -z "$out"
out=$(as_unit ExecCondition 2>&1); rc=$?
hm_check "the unit's ExecCondition skips the start while allowed_domains is empty (exit $rc)" \
	eval '[ "$rc" = 1 ] && echo "$out" | grep -q "allowed_domains is empty"'
sed -i 's|^allowed_domains = {}|allowed_domains = {"example.com"}|' "$dest/etc/hopmilter/hopmilter.conf"
hm_check "the unit's ExecCondition lets it start once allowed_domains is set" as_unit ExecCondition
hm_check "the edit keeps root:hopmilter 0640" test "$(ids etc/hopmilter/hopmilter.conf)" = "0:$gid 640"

# A changed configuration survives a reinstall and an uninstall.
echo '# local change' >>"$dest/etc/hopmilter/hopmilter.conf"
# shellcheck disable=SC2086
make -s -C "$HM_BUILDDIR" install DESTDIR="$dest" $layout >>"$HM_TMP/install.log" 2>&1
hm_check "reinstall keeps the changed configuration" grep -q '^# local change' "$dest/etc/hopmilter/hopmilter.conf"
# shellcheck disable=SC2086
make -s -C "$HM_BUILDDIR" uninstall DESTDIR="$dest" $layout >>"$HM_TMP/install.log" 2>&1
hm_check "make uninstall succeeds" test $? = 0
# (The account files are the post-install steps' output, not make install's.)
left=$(find "$dest" -type f ! -path '*/etc/hopmilter/hopmilter.conf' ! -path "$dest/etc/passwd" \
	! -path "$dest/etc/group" ! -path "$dest/etc/shadow" ! -path "$dest/etc/gshadow" ! -path "$dest/etc/.pwd.lock" ! -path "$dest/etc/*-" | sed "s|^$dest||")
hm_check "uninstall leaves only the changed configuration${left:+ (left: $left)}" test -z "$left"
hm_check "the changed configuration is kept" test -f "$dest/etc/hopmilter/hopmilter.conf"
hm_done
