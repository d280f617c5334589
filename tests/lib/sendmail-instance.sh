# sendmail-instance.sh - run a real Sendmail for the tests, from its unpacked Debian
# packages (tools/deps puts them in /var/cache/hopmilter-tests/sendmail:
# sendmail-bin conflicts with postfix, so it cannot be installed).
#
# Source after harness.sh.  hm_sendmail starts a daemon on a loopback port
# whose sendmail.cf is built from the shipped sendmail-conf/hopmilter.mc
# (only the socket is changed), so the tests exercise what admins paste.

HM_SENDMAIL_CACHE=${HM_CACHE:-/var/cache/hopmilter-tests}/sendmail

hm_need_sendmail() {
	hm_need_root
	hm_need m4 unshare
	[ -x "$HM_SENDMAIL_CACHE/sendmail" ] || hm_skip "no unpacked sendmail in $HM_SENDMAIL_CACHE (run tools/deps)"
}

# hm_sendmail NAME PORT MILTER_SOCKET RELAY_PORT [LISTEN_ADDR [MC_EXTRA]]:
# Sendmail listening on LISTEN_ADDR:PORT (default 127.0.0.1), filtering with
# hopmilter at MILTER_SOCKET (an S= value such as inet:PORT@127.0.0.1), and
# relaying everything it accepts to 127.0.0.1:RELAY_PORT.
#
# Sendmail insists on a fully qualified host name it can resolve from files
# (otherwise it waits a minute at start): it runs in private mount and UTS
# namespaces with its own /etc/hosts and host name, which changes nothing on
# the machine.
hm_sendmail() {
	local name=$1 port=$2 milter=$3 relay=$4 addr=${5:-127.0.0.1} extra=${6:-} d=$HM_TMP/$1
	local cf=$HM_SENDMAIL_CACHE/root/usr/share/sendmail/cf family=inet
	case $addr in *:*) family=inet6 ;; esac
	mkdir -p "$d/queue"
	chmod 0700 "$d/queue"
	printf '127.0.0.1 localhost %s.test.invalid %s\n::1 localhost ip6-localhost\n' "$name" "$name" >"$d/hosts"
	printf 'hosts files\n' >"$d/service.switch"
	{
		echo "divert(-1)"
		echo "divert(0)dnl"
		echo "include(\`$cf/m4/cf.m4')dnl"
		echo "VERSIONID(\`hopmilter test $name')dnl"
		echo "OSTYPE(\`linux')dnl"
		echo "define(\`confDOMAIN_NAME', \`$name.test.invalid')dnl"
		echo "define(\`QUEUE_DIR', \`$d/queue')dnl"
		echo "define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl"
		echo "define(\`confPID_FILE', \`$d/sendmail.pid')dnl"
		echo "define(\`STATUS_FILE', \`$d/statistics')dnl"
		echo "define(\`ALIAS_FILE', \`')dnl"
		echo "define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl"
		echo "define(\`ESMTP_MAILER_ARGS', \`TCP \$h $relay')dnl"
		echo "define(\`confTO_QUEUEWARN', \`')dnl"
		# The milter guards relaying here, as Postfix's static:ALL does in
		# the Postfix tests: every refusal below is hopmilter's.
		echo "FEATURE(\`accept_unresolvable_domains')dnl"
		echo "FEATURE(\`promiscuous_relay')dnl"
		sed "s|S=unix:/run/hopmilter/hopmilter.sock|S=$milter|" "$HM_SRCDIR/sendmail-conf/hopmilter.mc"
		printf '%s\n' "$extra"
		echo "MAILER(\`smtp')dnl"
	} >"$d/sendmail.mc"
	if ! m4 "$d/sendmail.mc" >"$d/sendmail.cf" 2>"$d/m4.log"; then
		hm_log "m4 failed for $name:"; cat "$d/m4.log" >&2
		return 1
	fi
	unshare --mount --uts sh -c "mount --bind '$d/hosts' /etc/hosts && hostname '$name.test.invalid' &&
		exec env LD_LIBRARY_PATH='$HM_SENDMAIL_CACHE/root/usr/lib/x86_64-linux-gnu' \
		'$HM_SENDMAIL_CACHE/sendmail' -C '$d/sendmail.cf' -bD -odb -q5s \
		-O 'DaemonPortOptions=Name=MTA,Port=$port,Addr=$addr,Family=$family'" \
		>"$d/sendmail.log" 2>&1 </dev/null &
	hm_track $!
	hm_wait_port "$addr" "$port" || { cat "$d/sendmail.log" >&2; return 1; }
}
