# harness.sh - shared shell functions for hopmilter's integration tests.
#
# Source it from a test script (bash).  It gives each test a private
# scratch directory, free loopback ports, real servers (Postfix instances,
# smtp-sink, hopmilter, redis-server) started in the background, and a
# cleanup trap that stops exactly the processes the test started, by PID.
#
# Environment:
#   HM_BUILDDIR   top build directory (default: derived from this file)
#   HM_NO_SKIP=1  a missing prerequisite fails the test instead of skipping
#                 it (CI sets this: a skipped test proves nothing)
#   HM_KEEP=1     keep the scratch directory for inspection
#   HM_WRAP       a command prefix for the project's own programs, e.g.
#                 "valgrind --error-exitcode=1" (make check-valgrind)

set -u

HM_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HM_SRCDIR=$(cd "$HM_LIBDIR/../.." && pwd)
HM_BUILDDIR=${HM_BUILDDIR:-${abs_top_builddir:-$HM_SRCDIR}}
HOPMILTER=${HOPMILTER:-$HM_BUILDDIR/milter/hopmilter}
HOPRELAY=${HOPRELAY:-$HM_BUILDDIR/relay-transport/hoprelay}
HM_TEST=${HM_TEST:-$(basename "$0" .sh)}
HM_PIDS=()          # processes to stop at exit
HM_POSTFIX_DIRS=()  # Postfix instances to stop at exit
HM_FAILS=0

# A ThreadSanitizer build reads these; other builds ignore them.
export TSAN_OPTIONS="suppressions=$HM_SRCDIR/tests/tsan.supp ${TSAN_OPTIONS:-}"

hm_log() { printf '%s: %s\n' "$HM_TEST" "$*" >&2; }

# Exit 77 (automake: skipped), or fail when HM_NO_SKIP=1.
hm_skip() {
	if [ "${HM_NO_SKIP:-0}" = 1 ]; then
		hm_log "FAIL (prerequisite missing, HM_NO_SKIP=1): $*"
		exit 1
	fi
	hm_log "SKIP: $*"
	exit 77
}

hm_need_root() { [ "$(id -u)" = 0 ] || hm_skip "needs root (Postfix instances, privilege drop)"; }

hm_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || hm_skip "$c not installed (tools/deps installs it)"
	done
}

hm_fail() { hm_log "FAIL: $*"; HM_FAILS=$((HM_FAILS + 1)); }
hm_ok() { hm_log "ok: $*"; }
# hm_check DESCRIPTION COMMAND...: run the command, record pass or fail.
hm_check() {
	local what=$1; shift
	if "$@"; then hm_ok "$what"; else hm_fail "$what"; fi
}
# hm_scan_sanitizers: a sanitizer build (configure --enable-sanitizers) or a
# valgrind run (HM_WRAP) makes every program report memory errors, undefined
# behaviour and leaks on stderr, which the tests send to log files in
# $HM_TMP.  Any report fails the test.
hm_scan_sanitizers() {
	local hits
	local pat='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer|ERROR SUMMARY: [1-9]|definitely lost: [1-9]'
	hits=$(grep -rlE "$pat" "$HM_TMP" 2>/dev/null)
	[ -z "$hits" ] && return 0
	for f in $hits; do
		hm_fail "sanitizer report in $f:"
		grep -B2 -A12 -E "$pat" "$f" | head -40 >&2
	done
	return 1
}

# Finish: stop what the test started (so leak reports get written), scan
# the logs for sanitizer reports; exit status reflects every hm_fail.
hm_done() {
	hm_stop_all
	hm_scan_sanitizers
	if [ "$HM_FAILS" -gt 0 ]; then
		hm_log "$HM_FAILS check(s) failed; scratch dir $HM_TMP kept"
		HM_KEEP=1
		exit 1
	fi
	hm_log "all checks passed"
	exit 0
}

# hm_export_log FILE: keep a log for tests/integration/fail2ban.sh, which
# checks the shipped filter against what real runs wrote.
hm_export_log() {
	[ -n "${HM_LOG_EXPORT_DIR:-}" ] || return 0
	mkdir -p "$HM_LOG_EXPORT_DIR" && cp "$1" "$HM_LOG_EXPORT_DIR/$HM_TEST${2:+-$2}.log"
}

# HM_PERSIST=1 (the demo): leave everything running and write $HM_TMP/stop,
# a script that stops exactly what was started.
hm_write_stop_script() {
	local d p
	{
		echo "#!/bin/sh"
		echo "# Stops what $HM_TEST started (by PID and by Postfix instance)."
		for d in "${HM_POSTFIX_DIRS[@]}"; do echo "postfix -c '$d/etc' stop 2>/dev/null"; done
		for p in "${HM_PIDS[@]}"; do echo "kill $p 2>/dev/null"; done
		echo "echo stopped"
	} >"$HM_TMP/stop"
	chmod +x "$HM_TMP/stop"
}

hm_cleanup() {
	if [ "${HM_PERSIST:-0}" = 1 ]; then
		hm_write_stop_script
		return
	fi
	hm_stop_all
	if [ "${HM_KEEP:-0}" = 1 ]; then
		hm_log "scratch directory kept: $HM_TMP"
	else
		rm -rf "$HM_TMP"
	fi
}

# Stop every Postfix instance and tracked process (TERM, then KILL after a
# second).  Safe to call twice.
hm_stop_all() {
	local d p mpids=()
	for d in "${HM_POSTFIX_DIRS[@]}"; do
		p=$(tr -dc 0-9 <"$d/queue/pid/master.pid" 2>/dev/null)
		[ -n "$p" ] && mpids+=("$p")
		postfix -c "$d/etc" stop >/dev/null 2>&1 || true
	done
	for p in "${HM_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	# libmilter notices a stop request only at its next poll timeout (about
	# five seconds): wait for that, so leak reports get written.
	for p in "${HM_PIDS[@]}"; do
		hm_wait_exit "$p" 100 || kill -KILL "$p" 2>/dev/null || true
	done
	# Postfix's master exits a moment after "stop"; wait so its files can go.
	for p in "${mpids[@]}"; do
		hm_wait_exit "$p" 50 || true
	done
	HM_POSTFIX_DIRS=()
	HM_PIDS=()
}

# HM_STATE_DIR (the demo): a fixed directory instead of a fresh scratch one.
if [ -n "${HM_STATE_DIR:-}" ]; then
	HM_TMP=$HM_STATE_DIR
	mkdir -p "$HM_TMP"
else
	HM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hopmilter-$HM_TEST.XXXXXX")
fi
chmod 0755 "$HM_TMP"
trap hm_cleanup EXIT
trap 'exit 130' INT TERM

# Remember a background process for cleanup.
hm_track() { HM_PIDS+=("$1"); }

# hm_wait_exit PID TENTHS: wait up to TENTHS tenths of a second for PID to
# be gone; false if it is still there.
hm_wait_exit() {
	local _
	for _ in $(seq 1 "$2"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# hm_free_port: a TCP port nothing uses, on any loopback address, not yet
# handed out in this test.  The ports handed out are kept in a file: every
# caller runs it in a subshell, $(hm_free_port), where an array would be
# lost (two servers of one test could get the same port).  The port lies
# below the kernel's ephemeral range: a test that stops a server and starts
# it again on its port (a Redis failover) must not find the port taken by
# some connection's source port in between.
hm_free_port() {
	local p used top
	top=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${top:-0}" -gt 25000 ] 2>/dev/null || top=60000
	while :; do
		p=$((20000 + RANDOM % (top - 20000)))
		grep -qx "$p" "$HM_TMP/.ports" 2>/dev/null && continue
		used=$(ss -Htan "( sport = :$p )" 2>/dev/null | head -1)
		[ -z "$used" ] || continue
		echo "$p" >>"$HM_TMP/.ports"
		echo "$p"
		return 0
	done
}

# hm_wait_port HOST PORT [SECONDS]: wait until something accepts connections.
hm_wait_port() {
	local host=$1 port=$2 secs=${3:-20} i
	for i in $(seq 1 $((secs * 10))); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	hm_log "nothing listens on $host:$port after ${secs}s"
	return 1
}

# hm_wait_file PATH [SECONDS]: wait for a file or socket to appear.
hm_wait_file() {
	local f=$1 secs=${2:-20} i
	for i in $(seq 1 $((secs * 10))); do
		[ -e "$f" ] && return 0
		sleep 0.1
	done
	hm_log "$f did not appear after ${secs}s"
	return 1
}

# hm_wait_grep PATTERN FILE [SECONDS]: wait until FILE has a line matching PATTERN.
hm_wait_grep() {
	local pat=$1 f=$2 secs=${3:-20} i
	for i in $(seq 1 $((secs * 10))); do
		grep -qE -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# hm_start_sink NAME PORT [HOST]: smtp-sink on HOST:PORT (default 127.0.0.1)
# writing every message it accepts into its own file under $HM_TMP/sink-NAME/.
# smtp-sink must drop root (-u), so the directory belongs to postfix.
hm_start_sink() {
	local name=$1 port=$2 host=${3:-127.0.0.1} dir=$HM_TMP/sink-$1
	mkdir -p "$dir"
	chown postfix "$dir"
	smtp-sink -u postfix -d "$dir/m." "$host:$port" 64 >"$HM_TMP/sink-$name.log" 2>&1 &
	hm_track $!
	hm_wait_port "$host" "$port"
}

# hm_sink_files NAME MSGID: the files of sink NAME holding that Message-ID.
hm_sink_files() { grep -liF "Message-Id: <$2>" "$HM_TMP/sink-$1"/m.* 2>/dev/null; }
# hm_sink_count NAME MSGID: how many times the message arrived.
hm_sink_count() { hm_sink_files "$1" "$2" | wc -l; }
# hm_sink_has NAME MSGID: it arrived (at least once).
hm_sink_has() { [ "$(hm_sink_count "$1" "$2")" -ge 1 ]; }
# hm_sink_wait NAME MSGID [SECONDS]: wait for it to arrive.
hm_sink_wait() {
	local i
	for i in $(seq 1 $((${3:-30} * 10))); do
		hm_sink_has "$1" "$2" && return 0
		sleep 0.1
	done
	return 1
}
# hm_sink_message NAME MSGID: print the message (headers and body) as
# delivered; smtp-sink's dump puts its envelope records before it.
hm_sink_message() {
	local f
	f=$(hm_sink_files "$1" "$2" | head -1)
	[ -n "$f" ] && cat "$f"
}

# hm_write_milter_conf FILE SOCKET [LINE...]: a hopmilter.conf for a test.
# It says socket = "SOCKET" and, unless a LINE sets the same option or
# section, user = "nobody" (as root: the milter drops to it), allowed_domains
# = {"example.com"}, and SPF and the rate limit off; then each LINE (one
# argument may hold a whole multi-line section).  Mode 0644: the milter reads
# it again on reload, after dropping privileges.
hm_write_milter_conf() {
	local file=$1 socket=$2 key line set
	shift 2
	{
		printf 'socket = "%s"\n' "$socket"
		for key in user allowed_domains spf ratelimit; do
			set=
			for line in "$@"; do
				case $line in "$key "* | "$key="* | "$key{"*) set=1 ;; esac
			done
			[ -n "$set" ] && continue
			case $key in
			user) if [ "$(id -u)" = 0 ]; then echo 'user = "nobody"'; fi ;;
			allowed_domains) echo 'allowed_domains = {"example.com"}' ;;
			spf) echo 'spf { enabled = false }' ;;
			ratelimit) echo 'ratelimit { enabled = false }' ;;
			esac
		done
		if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi
	} >"$file" && chmod 0644 "$file"
}

# hm_start_milter CONF: hopmilter in the foreground, stderr to $HM_TMP/milter.log
# (or the file named by a second argument).  Waits for its socket.
hm_start_milter() {
	local conf=$1 log=${2:-$HM_TMP/milter.log} sock
	# shellcheck disable=SC2086
	${HM_WRAP:-} "$HOPMILTER" -f -c "$conf" >>"$log" 2>&1 </dev/null &
	HM_MILTER_PID=$!
	hm_track "$HM_MILTER_PID"
	sock=$(sed -n 's/^[[:space:]]*socket[[:space:]]*=[[:space:]]*"\(.*\)".*/\1/p' "$conf")
	case $sock in
	unix:* | local:*) hm_wait_file "${sock#*:}" ;;
	inet:*) hm_wait_port "${sock##*@}" "$(echo "${sock#inet:}" | cut -d@ -f1)" ;;
	esac
}

# hm_postfix NAME PORT [MAIN_CF_EXTRA [MASTER_CF_EXTRA]]: a private Postfix
# instance in $HM_TMP/NAME listening on 127.0.0.1:PORT; returns when it
# greets.  The extras are appended to main.cf / master.cf verbatim.
hm_postfix() {
	local name=$1 port=$2 extra=${3:-} mextra=${4:-} d=$HM_TMP/$1
	mkdir -p "$d/etc" "$d/queue" "$d/data"
	chown postfix "$d/data"
	cat >"$d/etc/main.cf" <<MAINCF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
syslog_name = hm-$name
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = $name.test.invalid
mydomain = test.invalid
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = all
mynetworks = 127.0.0.0/8 [::1]/128
smtpd_authorized_xclient_hosts = 127.0.0.0/8 [::1]/128
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
biff = no
append_dot_mydomain = no
delay_warning_time = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
alias_maps =
alias_database =
$extra
MAINCF
	cat >"$d/etc/master.cf" <<MASTERCF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
$mextra
MASTERCF
	hm_cf_dedupe "$d/etc/main.cf"
	if ! script -qc "postfix -c $d/etc start" /dev/null >"$d/start.log" 2>&1; then
		hm_log "postfix $name did not start:"; cat "$d/start.log" >&2
		return 1
	fi
	HM_POSTFIX_DIRS+=("$d")
	hm_wait_port 127.0.0.1 "$port" || return 1
	hm_smtp_banner 127.0.0.1 "$port" || {
		hm_log "postfix $name does not greet; its log says:"
		grep -E 'fatal|error|warning' "$d/maillog" | tail -5 >&2
		return 1
	}
}

# hm_postfix_milter NAME PORT SINK MILTER [MAIN_CF_EXTRA [MASTER_CF_EXTRA]]:
# hm_postfix NAME PORT with hopmilter on 127.0.0.1:MILTER as its smtpd
# milter (tempfail when the milter fails, 10 s per command), relaying
# every domain (relay_domains = static:ALL, so every refusal is
# hopmilter's) to the smtp-sink on port SINK.  The extras go on as in
# hm_postfix.
hm_postfix_milter() {
	hm_postfix "$1" "$2" "
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
default_transport = smtp:[127.0.0.1]:$3
relay_transport = smtp:[127.0.0.1]:$3
smtpd_milters = { inet:127.0.0.1:$4, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
${5:-}" "${6:-}"
}

# hm_cf_dedupe MAIN_CF: keep only the last setting of each parameter, the
# one Postfix uses anyway, so that a test may append a shipped file and its
# own values after the defaults without Postfix warning about every
# "overriding earlier entry".  Comments and continuation lines are kept.
hm_cf_dedupe() {
	awk '
		function flush() { if (n) { blk[++nb] = cur; key[nb] = name; last[name] = nb }; n = 0; cur = "" }
		/^[A-Za-z0-9_]+[ \t]*=/ { flush(); name = $0; sub(/[ \t]*=.*/, "", name); n = 1; cur = $0; next }
		/^[ \t]+[^ \t#]/ && n { cur = cur "\n" $0; next }
		{ flush(); blk[++nb] = $0; key[nb] = "" }
		END { flush(); for (i = 1; i <= nb; i++) if (key[i] == "" || last[key[i]] == i) print blk[i] }
	' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# hm_smtp_banner HOST PORT: the server greets with 220 within 10 seconds.
hm_smtp_banner() {
	local line
	exec 7<>"/dev/tcp/$1/$2" || return 1
	IFS= read -r -t 10 line <&7
	printf 'QUIT\r\n' >&7
	exec 7<&- 7>&-
	case $line in 220*) return 0 ;; *) return 1 ;; esac
}

# hm_swaks ARGS...: swaks with the test defaults; output in $HM_TMP/swaks.out,
# also echoed to the test log.  Returns swaks's exit code.
hm_swaks() {
	local rc
	swaks --timeout 15 --hide-informational "$@" >"$HM_TMP/swaks.out" 2>&1
	rc=$?
	sed 's/^/    swaks| /' "$HM_TMP/swaks.out" >&2
	return $rc
}

# hm_xclient_addr IP: the form XCLIENT wants (IPv6 needs an "IPV6:" prefix).
hm_xclient_addr() { case $1 in *:*) echo "IPV6:$1" ;; *) echo "$1" ;; esac; }

# hm_reply_has PATTERN: the last swaks dialogue contains a server line
# matching PATTERN (an ERE, matched after the "<~~ " or "<** " marker).
hm_reply_has() { grep -qE "^ *<[-~*]+ +$1" "$HM_TMP/swaks.out"; }

# --- certificates (made at test time; nothing is shipped) -------------------
# hm_ca NAME: a CA key and self-signed certificate, $HM_TMP/pki/NAME.{key,crt}.
hm_ca() {
	local d=$HM_TMP/pki
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-keyout "$d/$1.key" -out "$d/$1.crt" -subj "/CN=$1" \
		-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign \
		>/dev/null 2>&1
}
# hm_cert CA NAME DNSNAME [DAYS]: a key and a certificate signed by CA for
# DNSNAME and 127.0.0.1, $HM_TMP/pki/NAME.{key,crt}; NAME.pem holds both
# (key first, the order of Postfix's smtpd_tls_chain_files).
hm_cert() {
	local d=$HM_TMP/pki ca=$1 name=$2 dns=$3 days=${4:-30}
	printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$dns" >"$d/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$dns" >/dev/null 2>&1 &&
	openssl x509 -req -in "$d/$name.csr" -CA "$d/$ca.crt" -CAkey "$d/$ca.key" \
		-CAcreateserial -days "$days" -extfile "$d/$name.ext" -out "$d/$name.crt" >/dev/null 2>&1 &&
	cat "$d/$name.key" "$d/$name.crt" >"$d/$name.pem" &&
	chmod 0644 "$d/$name.key" "$d/$name.pem"
}
# hm_pin CERT: the SPKI SHA-256 pin of a certificate, as hoprelay.conf takes it.
hm_pin() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64
}

# hm_tls_hop_maincf CERT SINK BUSY: main.cf lines for a next-hop Postfix
# (relay-tls.sh, relayd.sh) that offers STARTTLS with the key and
# certificate $HM_TMP/pki/CERT.{key,crt}, asks for a client certificate
# (trusting the CA "ca"), relays to the smtp-sink on port SINK, and at RCPT
# rejects bad@example.com with 550 5.1.1 and busy@example.com with the
# reply BUSY ("4xx x.y.z text").
hm_tls_hop_maincf() {
	local pki=$HM_TMP/pki
	cat <<EOF
smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/$1.key, $pki/$1.crt
smtpd_tls_CAfile = $pki/ca.crt
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
default_transport = smtp:[127.0.0.1]:$2
relay_transport = smtp:[127.0.0.1]:$2
smtpd_recipient_restrictions = check_recipient_access inline:{ {bad@example.com = 550 5.1.1 No such user here}, {busy@example.com = $3} }, permit_mynetworks, reject
EOF
}

# hm_tls_two_hops SINK HOP1 HOP2 BUSY: the two-hop TLS set-up of
# relay-tls.sh and relayd.sh.  Certificates from the CA "ca": hop1 and hop2
# (hop1.test.invalid, hop2.test.invalid) and edge (edge.test.invalid, the
# client's for mutual TLS); their pins in pin1 and pin2; the smtp-sink
# "sink" on port SINK; Postfix next hops hop1 on HOP1 and hop2 on HOP2
# (hm_tls_hop_maincf, BUSY their reply to busy@example.com).  Non-zero,
# having said why, when any of it fails.
hm_tls_two_hops() {
	local sink=$1 busy=$4 pki=$HM_TMP/pki
	hm_ca ca && hm_cert ca hop1 hop1.test.invalid && hm_cert ca hop2 hop2.test.invalid &&
		hm_cert ca edge edge.test.invalid || { hm_log "making certificates failed"; return 1; }
	pin1=$(hm_pin "$pki/hop1.crt")
	pin2=$(hm_pin "$pki/hop2.crt")
	hm_start_sink sink "$sink" &&
		hm_postfix hop1 "$2" "$(hm_tls_hop_maincf hop1 "$sink" "$busy")" &&
		hm_postfix hop2 "$3" "$(hm_tls_hop_maincf hop2 "$sink" "$busy")"
}

# hm_hoprelay ARGS...: run hoprelay, under HM_WRAP when it is set.  The
# wrapper's own messages go to a file in $HM_TMP (valgrind's --log-file;
# hm_done scans it), so hoprelay's stderr -- its status line first --
# stays its own.
hm_hoprelay() {
	if [ -n "${HM_WRAP:-}" ]; then
		# shellcheck disable=SC2086
		$HM_WRAP --log-file="$HM_TMP/wrap.%p.log" "$HOPRELAY" "$@"
	else
		"$HOPRELAY" "$@"
	fi
}

# --- a hop killed in the middle of DATA (faults-hop.sh, faults-relayd.sh) ---
# hm_slow_tls_hop SINK HOP PROXY: an smtp-sink "sink" on port SINK; the hop
# Postfix on HOP relaying example.com to it (TLS offered with a key for
# hop.test.invalid signed by the CA "ca", both made in $HM_TMP/pki;
# messages up to 100 MB); tests/lib/slowproxy.py on PROXY passing bytes to
# HOP at 2 MB/s, so an 8 MB message takes four seconds.  The test ends
# without certificates; returns 1 if the hop does not start.
hm_slow_tls_hop() {
	local pki=$HM_TMP/pki
	hm_ca ca && hm_cert ca hop hop.test.invalid || { hm_fail "no certificates"; hm_done; }
	hm_start_sink sink "$1"
	hm_postfix hop "$2" "
relay_domains = example.com
smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/hop.key, $pki/hop.crt
smtpd_tls_loglevel = 1
relay_transport = smtp:[127.0.0.1]:$1
message_size_limit = 104857600
" || return 1
	python3 "$HM_LIBDIR/slowproxy.py" "$3" "$2" 2000000 >"$HM_TMP/proxy.log" 2>&1 &
	hm_track $!
	hm_wait_grep ready "$HM_TMP/proxy.log" 10 || hm_fail "slowproxy did not start"
}

# hm_send_big_midway ID: an 8 MB message, $HM_TMP/big.eml with Message-Id
# <ID>, from a@sender.example to user@example.com through the edge
# Postfix's sendmail; checks that the edge took it, then waits (30 s at
# most) until the hop's cleanup has more than 1 MB of it in its incoming
# queue, and checks that it got there.
hm_send_big_midway() {
	local mid=0
	{
		printf 'From: <a@sender.example>\nTo: <user@example.com>\nSubject: big\nMessage-Id: <%s>\n\n' "$1"
		awk 'BEGIN { l = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-+=/0123456"
			for (i = 0; i < 8 * 1024 * 1024 / 76; i++) print l }'
	} >"$HM_TMP/big.eml"
	sendmail -C "$HM_TMP/edge/etc" -f a@sender.example user@example.com <"$HM_TMP/big.eml"
	hm_check "the edge took the message" test $? = 0
	for _ in $(seq 1 300); do
		if [ -n "$(find "$HM_TMP/hop/queue/incoming" -type f -size +1024k 2>/dev/null)" ]; then
			mid=1
			break
		fi
		sleep 0.1
	done
	hm_check "the transfer to the hop is under way" test "$mid" = 1
}

# hm_start_redis NAME PORT [REDIS_ARGS...]: a private redis-server on
# 127.0.0.1:PORT (no persistence), working directory and log in
# $HM_TMP/redis-NAME/, its PID in $HM_TMP/redis-NAME/pid (hm_redis_pid).
# Starting NAME again (after a kill) reuses the directory.
hm_start_redis() {
	local name=$1 port=$2 d=$HM_TMP/redis-$1
	shift 2
	mkdir -p "$d"
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
		--dir "$d" --logfile "$d/redis.log" "$@" &
	hm_track $!
	echo $! >"$d/pid"
	hm_wait_port 127.0.0.1 "$port"
}

# hm_start_sentinel NAME PORT CONFIG_LINES: redis-server in Sentinel mode;
# the configuration file must be writable (Sentinel rewrites it).
hm_start_sentinel() {
	local name=$1 port=$2 d=$HM_TMP/redis-$1
	mkdir -p "$d"
	printf 'port %s\nbind 127.0.0.1\ndir %s\nlogfile %s/redis.log\n%s\n' "$port" "$d" "$d" "$3" \
		>"$d/sentinel.conf"
	redis-server "$d/sentinel.conf" --sentinel &
	hm_track $!
	echo $! >"$d/pid"
	hm_wait_port 127.0.0.1 "$port"
}

hm_redis_pid() { cat "$HM_TMP/redis-$1/pid"; }

# hm_redis PORT ARGS...: redis-cli against a test server (raw output).
hm_redis() {
	local port=$1
	shift
	redis-cli --no-auth-warning -h 127.0.0.1 -p "$port" "$@"
}

# hm_redis_stat PORT NAME: a number from INFO commandstats / errorstats,
# e.g. "evalsha" (calls of that command) or "NOSCRIPT" (error count); 0 if absent.
hm_redis_stat() {
	local port=$1 name=$2 v
	shift 2
	v=$(hm_redis "$port" "$@" INFO all | tr -d '\r' |
		sed -n -e "s/^cmdstat_$name:calls=\([0-9]*\).*/\1/p" -e "s/^errorstat_$name:count=\([0-9]*\).*/\1/p")
	echo "${v:-0}"
}
