#!/bin/bash
# tools/deps on a machine that is not a test box: with another MTA package
# installed it refuses and changes nothing; with --replace-mta it installs
# waiting for apt's lock, with a policy-rc.d that denies every service
# start in place during the install (and gone afterwards), and disables
# the units of the packages it added.  dpkg-query, apt-get, dpkg,
# debconf-set-selections and deb-systemd-helper are stand-ins (first in
# PATH) that describe such a machine and record what tools/deps asks of
# them; nothing is installed.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
# Where tools/deps puts its policy-rc.d (/usr/sbin/policy-rc.d otherwise,
# which this machine may have already).
policy=$HM_TMP/policy-rc.d
export HM_POLICY_RC_D=$policy

bin=$HM_TMP/bin calls=$HM_TMP/calls
mkdir -p "$bin" "$HM_TMP/cache/sendmail"
# The Sendmail unpacking is another test's business: present already.
printf '#!/bin/sh\n' >"$HM_TMP/cache/sendmail/sendmail"
chmod +x "$HM_TMP/cache/sendmail/sendmail"
# The machine: everything installed but postfix; exim4 is its MTA.  After
# "apt-get install" the new packages postfix and redis-server appear.
cat >"$bin/dpkg-query" <<EOF
#!/bin/bash
echo "dpkg-query \$*" >>"$calls"
case "\$*" in
*'\${Status}'*postfix) echo "unknown ok not-installed" ;;
*'\${Status}'*) echo "install ok installed" ;;
*Provides*) echo "exim4-daemon-light ii  exim4-localscanapi-6.0, mail-transport-agent"; echo "libc6 ii  " ;;
*'\${Package}'*) echo libc6; [ -e "$HM_TMP/installed" ] && printf 'postfix\nredis-server\n' ;;
esac
exit 0
EOF
cat >"$bin/apt-get" <<EOF
#!/bin/bash
echo "apt-get \$*" >>"$calls"
if [ -x "$policy" ]; then "$policy" postfix start; echo "policy-rc.d says \$?" >>"$calls"; else echo "no policy-rc.d" >>"$calls"; fi
case " \$* " in *" install "*) touch "$HM_TMP/installed" ;; esac
exit 0
EOF
cat >"$bin/dpkg" <<EOF
#!/bin/bash
echo "dpkg \$*" >>"$calls"
[ "\$1" = -L ] && [ "\$2" = postfix ] && printf '/lib/systemd/system/postfix.service\n/lib/systemd/system/postfix@.service\n'
[ "\$1" = -L ] && [ "\$2" = redis-server ] && printf '/lib/systemd/system/redis-server.service\n/usr/bin/redis-server\n'
exit 0
EOF
cat >"$bin/deb-systemd-helper" <<EOF
#!/bin/bash
echo "deb-systemd-helper \$*" >>"$calls"
exit 0
EOF
printf '#!/bin/sh\necho "debconf-set-selections" >>"%s"\ncat >/dev/null\n' "$calls" >"$bin/debconf-set-selections"
chmod +x "$bin"/*

run_deps() { PATH="$bin:$PATH" HM_CACHE="$HM_TMP/cache" "$HM_SRCDIR/tools/deps" "$@" >"$HM_TMP/out" 2>&1; }

: >"$calls"
run_deps; rc=$?
sed 's/^/    deps| /' "$HM_TMP/out" >&2
hm_check "another MTA installed: tools/deps refuses (exit $rc)" test "$rc" = 1
hm_check "the message names the MTA package and the flag" eval \
	'grep -q "exim4-daemon-light" "$HM_TMP/out" && grep -q -- "--replace-mta" "$HM_TMP/out"'
hm_check "nothing was changed: no apt-get, no debconf, no policy-rc.d" eval \
	'! grep -qE "^(apt-get|debconf-set-selections)" "$calls" && [ ! -e "$policy" ]'

: >"$calls"
run_deps --replace-mta; rc=$?
sed 's/^/    deps| /' "$HM_TMP/out" >&2
sed 's/^/    calls| /' "$calls" >&2
hm_check "--replace-mta: tools/deps installs (exit $rc)" test "$rc" = 0
hm_check "apt-get waits for the lock (DPkg::Lock::Timeout) on update and install" eval \
	'[ "$(grep -c "^apt-get .*-o DPkg::Lock::Timeout=[1-9]" "$calls")" = 2 ]'
hm_check "apt-get install gets exactly the missing package" grep -qE '^apt-get .* install postfix$' "$calls"
hm_check "during the install a policy-rc.d denies service starts (exit 101)" eval \
	'[ "$(grep -c "^policy-rc.d says 101" "$calls")" = 2 ]'
hm_check "the policy-rc.d is gone afterwards" test ! -e "$policy"
hm_check "the added packages' units are disabled (postfix.service, redis-server.service; not the template)" eval \
	'grep -qx "deb-systemd-helper disable postfix.service" "$calls" &&
	grep -qx "deb-systemd-helper disable redis-server.service" "$calls" && ! grep -q "postfix@" "$calls"'
hm_check "units of packages that were already there are left alone" eval '! grep -q "dpkg -L libc6" "$calls"'

: >"$calls"
out=$(PATH="$bin:$PATH" "$HM_SRCDIR/tools/deps" --bogus 2>&1); rc=$?
hm_check "an unknown option: usage, exit 64, nothing done" eval '[ "$rc" = 64 ] && [ ! -s "$calls" ]'
hm_check "no sudo in tools/ or the README (they run as root)" eval \
	'! grep -n "sudo " "$HM_SRCDIR"/tools/* "$HM_SRCDIR/README.md"'
hm_done
