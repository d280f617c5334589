#!/bin/bash
# `make install` with Debian's layout into a DESTDIR: every file where a
# Debian admin expects it, the installed programs and configuration work,
# man pages render without warnings, systemd accepts the units, a changed
# configuration survives reinstall and uninstall, and uninstall leaves
# nothing else behind.
. "$(dirname "$0")/../lib/harness.sh"

hm_need make man systemd-analyze "$HOPMILTER"
[ -f "$HM_BUILDDIR/Makefile" ] || hm_skip "no Makefile in $HM_BUILDDIR"

dest=$HM_TMP/dest
layout="prefix=/usr sysconfdir=/etc localstatedir=/var runstatedir=/run"
# shellcheck disable=SC2086
make -s -C "$HM_BUILDDIR" install DESTDIR="$dest" $layout >"$HM_TMP/install.log" 2>&1
hm_check "make install succeeds" test $? = 0

for f in usr/sbin/hopmilter usr/share/man/man8/hopmilter.8 usr/share/man/man5/hopmilter.conf.5 \
	etc/hopmilter/hopmilter.conf usr/lib/systemd/system/hopmilter.service \
	usr/lib/sysusers.d/hopmilter.conf usr/lib/tmpfiles.d/hopmilter.conf \
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
	for f in usr/share/man/man8/hoprelay.8 usr/share/man/man5/hoprelay.conf.5 etc/hopmilter/hoprelay.conf \
		usr/share/doc/hopmilter/examples/postfix-conf/transport.edge \
		usr/share/doc/hopmilter/examples/sendmail-conf/hoprelay.mc \
		usr/share/man/man8/hoprelayd.8 usr/lib/systemd/system/hoprelayd.service usr/lib/tmpfiles.d/hoprelayd.conf \
		usr/share/doc/hopmilter/examples/postfix-conf/main.cf.hoprelayd \
		usr/share/doc/hopmilter/examples/postfix-conf/transport.hoprelayd; do
		hm_check "installed /$f" test -f "$dest/$f"
	done
	hm_check "hoprelay.conf is readable by the pipe(8) user" \
		test "$(stat -c %a "$dest/etc/hopmilter/hoprelay.conf")" = 644
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
	grep -q '/opt/hm/etc/hopmilter/hoprelay.conf' "$dest2/usr/share/man/man8/hoprelay.8"
hm_check "no man page names /etc/hopmilter/ there" \
	eval "! grep -E '(^|[^a-z])/etc/hopmilter/' '$dest2'/usr/share/man/man*/hop*"

# Man pages: no groff/man warnings.
for m in "$dest"/usr/share/man/man*/*; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$m" 2>&1 >/dev/null)
	hm_check "man --warnings $(basename "$m") is clean${w:+: $w}" test -z "$w"
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

# A changed configuration survives a reinstall and an uninstall.
echo '# local change' >>"$dest/etc/hopmilter/hopmilter.conf"
# shellcheck disable=SC2086
make -s -C "$HM_BUILDDIR" install DESTDIR="$dest" $layout >>"$HM_TMP/install.log" 2>&1
hm_check "reinstall keeps the changed configuration" grep -q '^# local change' "$dest/etc/hopmilter/hopmilter.conf"
# shellcheck disable=SC2086
make -s -C "$HM_BUILDDIR" uninstall DESTDIR="$dest" $layout >>"$HM_TMP/install.log" 2>&1
hm_check "make uninstall succeeds" test $? = 0
left=$(find "$dest" -type f ! -path '*/etc/hopmilter/hopmilter.conf' | sed "s|^$dest||")
hm_check "uninstall leaves only the changed configuration${left:+ (left: $left)}" test -z "$left"
hm_check "the changed configuration is kept" test -f "$dest/etc/hopmilter/hopmilter.conf"
hm_done
