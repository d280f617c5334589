#!/bin/bash
# bench.sh - `make bench`: how fast hopmilter and hoprelay are, measured
# side by side with their floors in one run, and written to BENCHMARKS.md.
#
#   make bench                 # about 10 minutes; writes $(srcdir)/BENCHMARKS.md
#   make bench BENCH_QUICK=1   # about 2 minutes, shorter rounds, a 10 MB
#                              # message instead of 50 MB, no rspamd; writes
#                              # $(builddir)/BENCHMARKS-quick.md
#
# Nothing here asserts an absolute time: the machine is shared and noisy.
# Each comparison alternates its variants (A B A B ...), five rounds each,
# and quotes the medians and the median of the per-round ratios.
#
# Everything runs as root in private network and mount namespaces: a
# loopback of its own carrying 192.0.2.1 (TEST-NET-1), so that Postfix sees
# mail from an "internet" address on which SPF has work to do (libspf2
# passes 127.0.0.0/8 without a lookup), and a private /etc/resolv.conf
# naming the benchmark's own dnsmasq.  The host's network and files are
# never touched; every process is stopped by PID (tests/lib/harness.sh).
#
# Environment: BENCH_QUICK=1, BENCH_OUT (the report file), BENCH_ROUNDS
# (default 5), BENCH_ONLY (sections: "floor postfix relay memory relayd observe"),
# BENCH_PF_VARIANTS (the Postfix section's variants, "none noop hm rspamd
# hmdns rsdns"; the quick run leaves out rspamd's two), BENCH_PF_MSGS
# (messages per Postfix run; the extra variant hmnospf is hopmilter with
# SPF off, for a diagnosis), BENCH_DNS_DELAY_MS (20),
# BENCH_RELAYD_MSGS (section 6's messages per round, default 1000),
# BENCH_RELAYD_VARIANTS ("lmtp smtp pipe"),
# BENCH_CONNS (the floor's connection counts, "1 8 64"), BENCH_POOL
# (hopmilter's Redis pool size), HM_KEEP=1 (keep the scratch directory).
set -u

if [ "${HM_BENCH_INNER:-0}" != 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "make bench: run as root (private Postfix instances and namespaces)" >&2
		exit 1
	fi
	HM_BENCH_CMD="make bench${BENCH_QUICK:+ BENCH_QUICK=$BENCH_QUICK}"
	export HM_BENCH_CMD HM_BENCH_INNER=1
	exec unshare --net --mount --propagation private "${BASH:-bash}" "$0" "$@"
fi

HM_TEST=bench
HM_NO_SKIP=1       # a missing tool is an error here, not a reason to skip
. "$(dirname "$0")/../lib/harness.sh"

MDRIVER=$HM_BUILDDIR/tests/bench/mdriver
STATSCOST=$HM_BUILDDIR/tests/bench/statscost
NOOP=$HM_BUILDDIR/tests/bench/noop
RSSPEAK=$HM_BUILDDIR/tests/bench/rsspeak.so
SRCDIR=${abs_top_srcdir:-$HM_SRCDIR}
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
ROUNDS=${BENCH_ROUNDS:-5}
CLIENT_IP=192.0.2.1
if [ -n "$QUICK" ]; then
	OUT=${BENCH_OUT:-$HM_BUILDDIR/BENCHMARKS-quick.md}
	FLOOR_SECS=1; FLOOR_WARM=0.3; PF_MSGS=300; RELAY_BIG_MB=10; MEM_SECS=2
else
	OUT=${BENCH_OUT:-$SRCDIR/BENCHMARKS.md}
	FLOOR_SECS=4; FLOOR_WARM=0.5; PF_MSGS=2000; RELAY_BIG_MB=50; MEM_SECS=4
fi
PF_MSGS=${BENCH_PF_MSGS:-$PF_MSGS}
PF_SESSIONS=20
PF_SIZE=4300
BENCH_T0=$(date +%s)
# Results by section, keyed "variant,connections,step" and the like.
declare -A FLOOR PF RELAY MEM RELAYD OBS
HOPRELAYD=${HOPRELAYD:-$HM_BUILDDIR/relay-transport/hoprelayd}
RELAYD_MSGS=${BENCH_RELAYD_MSGS:-${QUICK:+200}}
RELAYD_MSGS=${RELAYD_MSGS:-1000}
RELAYD_ROUNDS=${BENCH_RELAYD_ROUNDS:-3}
RELAYD_VARIANTS=${BENCH_RELAYD_VARIANTS:-lmtp smtp pipe}
FLOOR_CONNS=${BENCH_CONNS:-1 8 64}
REDIS_FLOOR= REDIS_FLOOR_CMDS= REDIS_PF= REDIS_PF_CMDS= REDIS_MON= REDIS_RS= REDIS_RS_CMDS=

bench_log() { printf 'bench: %s\n' "$*" >&2; }
bench_die() { hm_fail "$*"; hm_done; }

hm_need postfix smtp-source smtp-sink sendmail redis-server redis-cli dnsmasq openssl \
	/usr/bin/time ip ss postsuper pgrep python3 "$HOPMILTER" "$HOPRELAY" "$HOPRELAYD" "$MDRIVER" "$NOOP" \
	"$RSSPEAK" "$STATSCOST"

# --- small numeric helpers ------------------------------------------------
# median N...: the middle value (the mean of the two middle ones for an even count).
median() {
	printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# calc EXPR: floating-point arithmetic (awk).
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# kv KEY LINE: the value of KEY=value in a line of mdriver output.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }
# Busy jiffies of the whole machine (everything but idle and iowait).
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# "busy total" jiffies of the whole machine, steal left out of both (a
# hypervisor's other guests are neither our work nor our idle time).
cpu_share() { awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8; print b, b + $5 + $6 }' /proc/stat; }
# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": busy share in % between two cpu_share readings.
busy_pct() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
	t = y[2] - x[2]; printf "%.1f", (t > 0 ? (y[1] - x[1]) * 100 / t : 0) }'; }
# CPU jiffies of one process, all its threads.
cpu_proc() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
# vm KEY PID: a /proc/PID/status value in kB (VmRSS, VmHWM, Threads).
vm() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status" 2>/dev/null; }

# --- the private world ------------------------------------------------------
bench_net() {
	ip link set lo up && ip addr add "$CLIENT_IP/32" dev lo ||
		bench_die "cannot set up the private loopback"
}

# dnsmasq on a free 127.53.x.y:53 with the SPF records of the senders
# s0 .. s49.bench.example; every other name under example is NXDOMAIN.
# Answers carry a 300 s TTL, as real zones do, so hopmilter's SPF cache
# serves repeat senders: the steady state of a busy MX, "excluding DNS".
#
# A second dnsmasq serves the same records with a TTL of 0 (so no cache
# keeps an answer past the second it came in), behind
# tests/bench/dnsdelay.py, which holds every query 20 ms: a resolver on
# the internet, for the DNS-latency variants.  The dnsmasq logs its
# queries, which tells how many lookups paid the delay.
bench_dns_server() {
	local addr=$1 ttl=$2 log=$3 args=() i
	for i in $(seq 0 49); do
		args+=(--txt-record="s$i.bench.example,v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 -all")
	done
	[ "$ttl" = 0 ] && args+=(--log-queries)
	dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
		--listen-address="$addr" --port=53 --pid-file= --log-facility=- \
		--local=/example/ --local-ttl="$ttl" --neg-ttl="$ttl" "${args[@]}" \
		>"$log" 2>&1 &
	hm_track $!
	hm_wait_udp "$addr" 53 || bench_die "dnsmasq on $addr did not start"
}

bench_dns() {
	. "$HM_LIBDIR/spfdns.sh"
	HM_DNS=$(hm_free_dns_addr)
	bench_dns_server "$HM_DNS" 300 "$HM_TMP/dnsmasq.log"
	printf 'nameserver %s\n' "$HM_DNS" >"$HM_TMP/resolv.conf"
	chmod 0644 "$HM_TMP/resolv.conf"
	# This mount namespace is ours alone: the host's file stays as it is.
	mount --bind "$HM_TMP/resolv.conf" /etc/resolv.conf || bench_die "cannot mount resolv.conf"
}

# The slow resolver at HM_DNS_SLOW: dnsdelay.py in front of its own
# dnsmasq (TTL 0).
DNS_DELAY_MS=${BENCH_DNS_DELAY_MS:-20}
bench_dns_slow() {
	local back i
	back=$(hm_free_dns_addr)
	bench_dns_server "$back" 0 "$HM_TMP/dnsmasq-slow.log"
	HM_DNS_SLOW=$(hm_free_dns_addr)
	python3 "$SRCDIR/tests/bench/dnsdelay.py" "$HM_DNS_SLOW" "$back" "$DNS_DELAY_MS" \
		>"$HM_TMP/dnsdelay.log" 2>&1 &
	hm_track $!
	for i in $(seq 1 100); do
		grep -q '^ready' "$HM_TMP/dnsdelay.log" && break
		sleep 0.1
	done
	grep -q '^ready' "$HM_TMP/dnsdelay.log" || bench_die "dnsdelay.py did not start: $(tail -1 "$HM_TMP/dnsdelay.log")"
	printf 'nameserver %s\n' "$HM_DNS_SLOW" >"$HM_TMP/resolv-slow.conf"
	chmod 0644 "$HM_TMP/resolv-slow.conf"
}

# Lookups the slow resolver answered so far.
dns_slow_queries() {
	local n=0
	[ -f "$HM_TMP/dnsmasq-slow.log" ] && n=$(grep -c ': query\[' "$HM_TMP/dnsmasq-slow.log")
	echo "${n:-0}"
}

# hopmilter.conf with every check on: domain lists, SPF, both rate-limit
# tiers through Redis with limits nobody reaches.  A third argument is
# appended (one more option); SPF (the fourth) = false turns SPF off (the
# hmnospf diagnosis variant).
bench_hm_conf() {
	local sock=$1 conf=$2 extra=${3:-} spf=${4:-true}
	cat >"$conf" <<CONF
socket = "$sock"
user = "nobody"
pid_file = ""
log_level = info
authserv_id = "mx.bench.invalid"
trusted_networks = {"127.0.0.0/8", "::1/128", "10.200.0.0/24"}
internal_networks = {"192.168.0.0/16"}
allowed_domains = {"example.com", ".example.org", "example.net", "customer1.example",
	"customer2.example", "customer3.example", ".lists.example"}
banned_domains = {"spam.example", "evil.example", "bulk.example", "phish.example"}
spf { enabled = $spf  dns_timeout = 2s  timeout = 5s }
ratelimit {
	enabled = true
	rate = 100000  period = 1s  burst = 100000
	subnet { enabled = true  rate = 100000  period = 1s  burst = 100000 }
	redis { host = "127.0.0.1"  port = $REDIS_PORT  timeout = 200ms  pool_size = ${BENCH_POOL:-4} }
}
$extra
CONF
	chmod 0644 "$conf"
}

# bench_start_hm NAME [RESOLV [OPTION [SPF]]]: a hopmilter on
# unix:$HM_TMP/NAME.sock; its PID in HM_PID_<NAME>, its log in
# $HM_TMP/NAME.log.  With RESOLV, it runs in a mount namespace of its own
# where that file is /etc/resolv.conf (the libc resolver reads no other), so
# it asks the slow resolver.  OPTION is one more line for its hopmilter.conf;
# SPF as bench_hm_conf's.
bench_start_hm() {
	local name=$1 resolv=${2:-}
	bench_hm_conf "unix:$HM_TMP/$name.sock" "$HM_TMP/$name.conf" "${3:-}" "${4:-true}"
	if [ -n "$resolv" ]; then
		unshare --mount --propagation private "${BASH:-bash}" -c \
			'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' \
			bench "$resolv" "$HOPMILTER" -f -c "$HM_TMP/$name.conf" >>"$HM_TMP/$name.log" 2>&1 </dev/null &
	else
		"$HOPMILTER" -f -c "$HM_TMP/$name.conf" >>"$HM_TMP/$name.log" 2>&1 </dev/null &
	fi
	hm_track $!
	printf -v "HM_PID_$name" '%s' $!
	hm_wait_file "$HM_TMP/$name.sock" || bench_die "hopmilter $name did not start"
	chmod 0666 "$HM_TMP/$name.sock"
}

# bench_start_rspamd NAME DNS: rspamd as a peer, SPF and a Redis rate
# limit only (per client address, out of reach like hopmilter's, in the
# redis-server at RS_REDIS_PORT), through its milter proxy on
# unix:$HM_TMP/NAME/milter.sock, asking DNS at DNS:53.  Its configuration,
# database, log and socket live in $HM_TMP/NAME; no configuration is read
# from /etc (-c names the one file).  The URL suffix list is cut to three
# names: compiling Debian's 9600 takes 30 s and nothing here looks at
# URLs.  Modules: spf and ratelimit only (the four C modules off); the SPF
# symbols get scores so that they are logged (no action is ever reached).
# Its main PID in RS_PID_<NAME>.
bench_start_rspamd() {
	local name=$1 dns=$2 dir=$HM_TMP/$1 i
	mkdir -p "$dir/db" "$dir/plugins"
	printf 'com\nexample\ninvalid\n' >"$dir/tld.dat"
	# modules.path takes directories (a list of files loads nothing).
	ln -sf /usr/share/rspamd/plugins/spf.lua /usr/share/rspamd/plugins/ratelimit.lua "$dir/plugins/"
	cat >"$dir/rspamd.conf" <<CONF
options {
	pidfile = "$dir/rspamd.pid";
	dbdir = "$dir/db";
	tempdir = "$dir";
	url_tld = "$dir/tld.dat";
	local_addrs = [];
	dns { nameserver = ["$dns:53"]; timeout = 2s; retransmits = 2; }
}
logging { type = "file"; filename = "$dir/rspamd.log"; level = "info"; }
modules { path = "$dir/plugins"; }
group "policies" {
	symbols {
		"R_SPF_ALLOW" { weight = -0.2; }
		"R_SPF_FAIL" { weight = 1.0; }
		"R_SPF_SOFTFAIL" { weight = 0.5; }
		"R_SPF_NEUTRAL" { weight = 0.1; }
		"R_SPF_DNSFAIL" { weight = 0.1; }
		"R_SPF_PERMFAIL" { weight = 0.1; }
		"R_SPF_NA" { weight = 0.1; }
	}
}
dkim { enabled = false; }
regexp { enabled = false; }
chartable { enabled = false; }
fuzzy_check { enabled = false; }
spf { min_cache_ttl = 0s; }
redis { servers = "127.0.0.1:$RS_REDIS_PORT"; }
ratelimit {
	rates {
		client_ip { selector = "ip"; bucket = { burst = 100000; rate = "100000 / 1s"; } }
	}
}
actions { reject = 15; add_header = 6; greylist = 4; }
worker "rspamd_proxy" {
	bind_socket = "$dir/milter.sock mode=0666";
	milter = yes;
	timeout = 120s;
	upstream "local" { default = yes; self_scan = yes; }
	count = 1;
}
CONF
	chown -R _rspamd:_rspamd "$dir"
	chmod 0755 "$dir"
	rspamd -f -c "$dir/rspamd.conf" -u _rspamd -g _rspamd >"$dir/stdout.log" 2>&1 </dev/null &
	hm_track $!
	printf -v "RS_PID_$name" '%s' $!
	for i in $(seq 1 600); do
		[ -S "$dir/milter.sock" ] && return 0
		sleep 0.1
	done
	bench_die "rspamd $name did not start: $(tail -2 "$dir/rspamd.log" 2>/dev/null)"
}

bench_start_servers() {
	REDIS_PORT=$(hm_free_port)
	hm_start_redis rl "$REDIS_PORT" || bench_die "redis-server did not start"
	bench_start_hm hm
	"$NOOP" "unix:$HM_TMP/noop.sock" >"$HM_TMP/noop.log" 2>&1 </dev/null &
	hm_track $!
	NOOP_PID=$!
	hm_wait_file "$HM_TMP/noop.sock" || bench_die "the no-op filter did not start"
	# Postfix's smtpd runs as postfix: it must reach every socket.
	chmod 0666 "$HM_TMP/noop.sock"
}

# CPU jiffies of a process and its children (rspamd's workers).
cpu_tree() {
	local p sum=0
	for p in $1 $(pgrep -P "$1"); do sum=$((sum + $(cpu_proc "$p"))); done
	echo "$sum"
}

# Redis command calls by name (INFO's own calls excluded): "name count" lines.
# redis_calls [PORT]: of hopmilter's Redis by default.
redis_calls() {
	hm_redis "${1:-$REDIS_PORT}" INFO commandstats | tr -d '\r' |
		sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\).*/\1 \2/p' | grep -v '^info '
}
# redis_delta "BEFORE" "AFTER": calls per command between two redis_calls outputs.
redis_delta() {
	awk 'NR == FNR { b[$1] = $2; next } { print $1, $2 - b[$1] }' <(echo "$1") <(echo "$2")
}

# Round trips per message, from MONITOR: sets REDIS_MON="messages client lua".
redis_monitor() {
	local mon acc0 acc1 client lua
	hm_redis "$REDIS_PORT" MONITOR >"$HM_TMP/monitor.log" 2>&1 &
	mon=$!
	hm_track "$mon"
	sleep 0.3
	acc0=$(grep -c ': ACCEPTED ' "$HM_TMP/hm.log")
	"$MDRIVER" -s "unix:$HM_TMP/hm.sock" -c 8 -t "$FLOOR_SECS" -w 0 >/dev/null 2>>"$HM_TMP/mdriver.err" ||
		bench_die "mdriver under MONITOR failed"
	sleep 0.3
	acc1=$(grep -c ': ACCEPTED ' "$HM_TMP/hm.log")
	kill "$mon"
	wait "$mon" 2>/dev/null
	client=$(grep -c '^[0-9.]* \[[0-9]* [0-9.:]*\] ' "$HM_TMP/monitor.log")
	lua=$(grep -c '^[0-9.]* \[[0-9]* lua\] ' "$HM_TMP/monitor.log")
	REDIS_MON="$((acc1 - acc0)) $client $lua"
}

# --- 1. the milter floor ----------------------------------------------------
# floor_run VARIANT CONNS: one round of mdriver against noop or hm; sets
# RUN_LINE (mdriver's output) and RUN_CPU (filter CPU microseconds per message).
floor_run() {
	local v=$1 c=$2 pid c0 tx
	if [ "$v" = noop ]; then pid=$NOOP_PID; else pid=$HM_PID_hm; fi
	c0=$(cpu_proc "$pid")
	RUN_LINE=$("$MDRIVER" -s "unix:$HM_TMP/$v.sock" -c "$c" -t "$FLOOR_SECS" -w "$FLOOR_WARM" \
		2>>"$HM_TMP/mdriver.err") || bench_die "mdriver against $v failed: $(tail -1 "$HM_TMP/mdriver.err")"
	tx=$(kv tx "$RUN_LINE")
	[ "$(kv refused "$RUN_LINE")" = 0 ] || bench_die "$v refused messages: $RUN_LINE"
	[ "${tx:-0}" -gt 0 ] || bench_die "no message went through $v: $RUN_LINE"
	# Over warm-up and window alike: per message of the whole run.
	RUN_CPU=$(calc "($(cpu_proc "$pid") - $c0) * 1000000 / $HZ / $(kv sessions "$RUN_LINE")" 0)
}

# The steps whose replies are waited for, in protocol order.
FLOOR_STEPS="optneg connect helo mail rcpt header eom msg"

floor_section() {
	local c r v ratios tps_noop tps_hm s
	local calls0 calls1 acc0 acc1
	calls0=$(redis_calls)
	acc0=$(grep -c ': ACCEPTED ' "$HM_TMP/hm.log")
	for c in $FLOOR_CONNS; do
		ratios=() tps_noop=() tps_hm=()
		for s in $FLOOR_STEPS; do FLOOR[noop,$c,$s]="" FLOOR[hm,$c,$s]=""; done
		for r in $(seq 1 "$ROUNDS"); do
			for v in noop hm; do
				floor_run "$v" "$c"
				bench_log "floor c=$c round $r $v: $(kv tps "$RUN_LINE") tx/s, filter cpu ${RUN_CPU}us/msg"
				if [ "$v" = noop ]; then tps_noop+=("$(kv tps "$RUN_LINE")"); else tps_hm+=("$(kv tps "$RUN_LINE")"); fi
				FLOOR[$v,$c,cpu]+=" $RUN_CPU"
				FLOOR[$v,$c,steps]=$(kv steps "$RUN_LINE")
				for s in $FLOOR_STEPS; do
					FLOOR[$v,$c,$s]+=" $(kv "${s}_p50" "$RUN_LINE"):$(kv "${s}_p99" "$RUN_LINE"):$(kv "$s" "$RUN_LINE")"
				done
			done
			ratios+=("$(calc "${tps_hm[-1]} / ${tps_noop[-1]}")")
		done
		FLOOR[noop,$c,tps]=$(median "${tps_noop[@]}")
		FLOOR[hm,$c,tps]=$(median "${tps_hm[@]}")
		FLOOR[ratio,$c]=$(median "${ratios[@]}")
		FLOOR[ratios,$c]="${ratios[*]}"
	done
	calls1=$(redis_calls)
	acc1=$(grep -c ': ACCEPTED ' "$HM_TMP/hm.log")
	REDIS_FLOOR_CMDS=$(redis_delta "$calls0" "$calls1")
	REDIS_FLOOR="x $((acc1 - acc0))"
}

# step_cell VARIANT CONNS STEP: "p50 / p99" in ms (medians over rounds), or nr/skip.
step_cell() {
	local rounds=${FLOOR[$1,$2,$3]} p50=() p99=() word= x
	for x in $rounds; do
		IFS=: read -r a b w <<<"$x"
		[ -n "$a" ] && p50+=("$a") && p99+=("$b")
		[ -n "$w" ] && word=$w
	done
	if [ "${#p50[@]}" -eq 0 ]; then
		echo "${word:-?}"
	else
		echo "$(calc "$(median "${p50[@]}") / 1000" 2) / $(calc "$(median "${p99[@]}") / 1000" 2)"
	fi
}
# step_p99 VARIANT CONNS STEP: the median p99 in microseconds (0 when not waited for).
step_p99() {
	local x p99=()
	for x in ${FLOOR[$1,$2,$3]}; do
		IFS=: read -r a b w <<<"$x"
		[ -n "$b" ] && p99+=("$b")
	done
	[ "${#p99[@]}" -gt 0 ] && median "${p99[@]}" || echo 0
}

# --- 2. Postfix end to end --------------------------------------------------
# One Postfix instance with one SMTP listener per variant on the private
# loopback's 192.0.2.1, identical but for the milter: none, the no-op
# floor, hopmilter, rspamd (SPF and a Redis rate limit, through its milter
# proxy), and hopmilter and rspamd again asking a DNS server that answers
# after 20 ms with a TTL of 0.  All relay example.com to one smtp-sink.
# Sharing one instance (queue, cleanup, qmgr, smtp) keeps everything else
# equal between the variants.
#
# BENCH_PF_VARIANTS picks some of them ("none noop hm rspamd hmdns rsdns");
# hm is always run (the ratios are against it).  One more is there for a
# diagnosis and in no default list: hmnospf, hopmilter with SPF off (it
# then inserts no header either), to tell on a quiet machine what SPF
# itself costs in throughput and busy share.
# The quick run (CI) leaves rspamd out: its rounds alone would add half a minute.
if [ -n "$QUICK" ]; then
	PF_VARIANTS=${BENCH_PF_VARIANTS:-none noop hm hmdns}
else
	PF_VARIANTS=${BENCH_PF_VARIANTS:-none noop hm rspamd hmdns rsdns}
fi
[[ " $PF_VARIANTS " == *" hm "* ]] || PF_VARIANTS="hm $PF_VARIANTS"
pf_has() { [[ " $PF_VARIANTS " == *" $1 "* ]]; }

pf_milter() {
	case $1 in
	none) echo "" ;;
	noop) echo "unix:$HM_TMP/noop.sock" ;;
	hm | hmdns | hmnospf) echo "unix:$HM_TMP/$1.sock" ;;
	rspamd | rsdns) echo "unix:$HM_TMP/$1/milter.sock" ;;
	esac
}

# pf_filter_cpu VARIANT: the filter's CPU jiffies so far (all its processes).
pf_filter_cpu() {
	case $1 in
	none) echo 0 ;;
	noop) cpu_proc "$NOOP_PID" ;;
	hm) cpu_proc "$HM_PID_hm" ;;
	hmdns) cpu_proc "$HM_PID_hmdns" ;;
	hmnospf) cpu_proc "$HM_PID_hmnospf" ;;
	rspamd) cpu_tree "$RS_PID_rspamd" ;;
	rsdns) cpu_tree "$RS_PID_rsdns" ;;
	esac
}

pf_setup() {
	local sink_port master="" v
	sink_port=$(hm_free_port)
	smtp-sink -u postfix "127.0.0.1:$sink_port" 256 >"$HM_TMP/sink.log" 2>&1 &
	hm_track $!
	hm_wait_port 127.0.0.1 "$sink_port" || bench_die "smtp-sink did not start"
	if pf_has rspamd || pf_has rsdns; then
		command -v rspamd >/dev/null || bench_die "rspamd not installed (tools/deps installs it)"
	fi
	if pf_has hmdns || pf_has rsdns; then
		bench_dns_slow
	fi
	pf_has hmdns && bench_start_hm hmdns "$HM_TMP/resolv-slow.conf"
	pf_has hmnospf && bench_start_hm hmnospf "" "" false
	# rspamd's own Redis, so that each filter's commands can be counted.
	if pf_has rspamd || pf_has rsdns; then
		RS_REDIS_PORT=$(hm_free_port)
		hm_start_redis rs "$RS_REDIS_PORT" || bench_die "rspamd's redis-server did not start"
	fi
	pf_has rspamd && bench_start_rspamd rspamd "$HM_DNS"
	pf_has rsdns && bench_start_rspamd rsdns "$HM_DNS_SLOW"
	for v in $PF_VARIANTS; do
		PF[port,$v]=$(hm_free_port)
		master+="$CLIENT_IP:${PF[port,$v]} inet n - n - - smtpd -o smtpd_milters=$(pf_milter "$v")
"
	done
	hm_postfix mx "$(hm_free_port)" "
inet_interfaces = all
relay_domains = example.com
relay_transport = smtp:[127.0.0.1]:$sink_port
milter_default_action = tempfail
smtpd_client_connection_count_limit = 0
smtp_destination_concurrency_limit = 20
" "$master" || bench_die "Postfix did not start"
	PF_QUEUE=$HM_TMP/mx/queue
	for v in $PF_VARIANTS; do
		hm_wait_port "$CLIENT_IP" "${PF[port,$v]}" || bench_die "Postfix does not listen for $v"
	done
}

# Messages still queued (incoming, active, deferred: deferred would be a failure).
pf_queued() { find "$PF_QUEUE/incoming" "$PF_QUEUE/active" "$PF_QUEUE/deferred" -type f 2>/dev/null | wc -l; }

pf_drain() {
	local i
	for i in $(seq 1 1200); do
		[ "$(pf_queued)" = 0 ] && return 0
		sleep 0.05
	done
	bench_die "Postfix queue did not drain: $(pf_queued) messages left"
}

# idle_busy SECONDS: the machine's busy share (%) over SECONDS while the
# benchmark itself is idle (queue drained, no load running): anything
# above a few percent is someone else's work, and makes the run's
# throughput and CPU-busy figures worthless.
idle_busy() {
	local s0
	s0=$(cpu_share)
	sleep "$1"
	busy_pct "$s0" "$(cpu_share)"
}

# pf_run VARIANT N: smtp-source sends N messages; sets RUN_TPS (accepted
# per second, as smtp-source saw it), RUN_CPU (whole machine, ms per message
# including delivery to the sink), RUN_MCPU (the filter's, us per message),
# RUN_BUSY (the machine's busy share while smtp-source ran, %) and RUN_DNS
# (lookups the slow resolver answered per message).
pf_run() {
	local v=$1 n=$2 t0 t1 b0 b1 s0 st m0 m1 q0 q1
	pf_drain
	b0=$(cpu_busy); s0=$(cpu_share); m0=$(pf_filter_cpu "$v"); q0=$(dns_slow_queries)
	t0=$(date +%s%N)
	smtp-source -s "$PF_SESSIONS" -m "$n" -l "$PF_SIZE" -f "bench@s7.bench.example" \
		-t "user@example.com" -M mta.s7.bench.example "$CLIENT_IP:${PF[port,$v]}" \
		>>"$HM_TMP/smtp-source.log" 2>&1 || bench_die "smtp-source against $v failed"
	t1=$(date +%s%N)
	st=$(cpu_share)
	pf_drain
	b1=$(cpu_busy); m1=$(pf_filter_cpu "$v"); q1=$(dns_slow_queries)
	RUN_TPS=$(calc "$n * 1000000000 / ($t1 - $t0)" 1)
	RUN_CPU=$(calc "($b1 - $b0) * 1000 / $HZ / $n" 2)
	RUN_MCPU=$(calc "($m1 - $m0) * 1000000 / $HZ / $n" 0)
	RUN_BUSY=$(busy_pct "$s0" "$st")
	RUN_DNS=$(calc "($q1 - $q0) / $n" 2)
}

# pf_accepted VARIANT: messages the filter let through so far, from its log.
pf_accepted() {
	case $1 in
	hm | hmdns | hmnospf) grep -c ': ACCEPTED ' "$HM_TMP/$1.log" ;;
	rspamd | rsdns) grep -c 'rspamd_task_write_log' "$HM_TMP/$1/rspamd.log" ;;
	*) echo 0 ;;
	esac
}
# pf_spf_pass VARIANT: messages the filter logged an SPF pass for.
pf_spf_pass() {
	case $1 in
	hm | hmdns | hmnospf) grep -c ': ACCEPTED .* spf=pass' "$HM_TMP/$1.log" ;;
	rspamd | rsdns) grep -c 'rspamd_task_write_log.*R_SPF_ALLOW' "$HM_TMP/$1/rspamd.log" ;;
	*) echo 0 ;;
	esac
}

pf_section() {
	local r v warm=$((PF_MSGS / 10)) calls0 calls1 rs0= refused
	local -A tps cpu mcpu busy dns acc0 spf0 ratios
	pf_setup
	# Warm-up: processes forked, caches filled, Redis script loaded.
	for v in $PF_VARIANTS; do pf_run "$v" "$warm"; done
	pf_drain
	PF[idle0]=$(idle_busy 2)
	calls0=$(redis_calls)
	[ -n "${RS_REDIS_PORT:-}" ] && rs0=$(redis_calls "$RS_REDIS_PORT")
	for v in $PF_VARIANTS; do acc0[$v]=$(pf_accepted "$v") spf0[$v]=$(pf_spf_pass "$v"); done
	for r in $(seq 1 "$ROUNDS"); do
		for v in $PF_VARIANTS; do
			pf_run "$v" "$PF_MSGS"
			bench_log "postfix round $r $v: $RUN_TPS msg/s, busy $RUN_BUSY%, machine ${RUN_CPU}ms/msg, filter ${RUN_MCPU}us/msg${RUN_DNS:+, slow-DNS lookups ${RUN_DNS}/msg}"
			tps[$v]+=" $RUN_TPS" cpu[$v]+=" $RUN_CPU" mcpu[$v]+=" $RUN_MCPU" busy[$v]+=" $RUN_BUSY" dns[$v]+=" $RUN_DNS"
		done
		# Ratios within the round: hopmilter against each variant, and each
		# DNS-delay variant against hopmilter without delay and rspamd under it.
		for v in $PF_VARIANTS; do
			ratios[hm/$v]+=" $(calc "$(last ${tps[hm]}) / $(last ${tps[$v]})")"
		done
		pf_has hmdns && ratios[hmdns/hm]+=" $(calc "$(last ${tps[hmdns]}) / $(last ${tps[hm]})")"
		pf_has hmdns && pf_has rsdns &&
			ratios[hmdns/rsdns]+=" $(calc "$(last ${tps[hmdns]}) / $(last ${tps[rsdns]})")"
	done
	PF[idle1]=$(idle_busy 2)
	calls1=$(redis_calls)
	REDIS_PF_CMDS=$(redis_delta "$calls0" "$calls1")
	[ -n "${RS_REDIS_PORT:-}" ] && REDIS_RS_CMDS=$(redis_delta "$rs0" "$(redis_calls "$RS_REDIS_PORT")")
	refused=$(grep -cE 'milter-reject|reject:' "$HM_TMP/mx/maillog")
	[ "$refused" = 0 ] || bench_die "Postfix refused $refused commands: $(grep -m1 -E 'milter-reject|reject:' "$HM_TMP/mx/maillog")"
	for v in $PF_VARIANTS; do
		case $v in none | noop) continue ;; esac
		PF[acc,$v]=$(( $(pf_accepted "$v") - acc0[$v] ))
		[ "${PF[acc,$v]}" = $((ROUNDS * PF_MSGS)) ] ||
			bench_die "$v let through ${PF[acc,$v]} of $((ROUNDS * PF_MSGS)) messages"
		PF[spf,$v]=$(( $(pf_spf_pass "$v") - spf0[$v] ))
	done
	# The hopmilter instances share one Redis; the rspamd instances theirs.
	REDIS_PF="x $(( ${PF[acc,hm]} + ${PF[acc,hmdns]:-0} + ${PF[acc,hmnospf]:-0} ))"
	[ -n "${RS_REDIS_PORT:-}" ] && REDIS_RS="x $(( ${PF[acc,rspamd]:-0} + ${PF[acc,rsdns]:-0} ))"
	for v in $PF_VARIANTS; do
		PF[tps,$v]=$(median ${tps[$v]})
		PF[cpu,$v]=$(median ${cpu[$v]})
		PF[mcpu,$v]=$(median ${mcpu[$v]})
		PF[busy,$v]=$(median ${busy[$v]})
		PF[dns,$v]=$(median ${dns[$v]})
	done
	for v in "${!ratios[@]}"; do
		PF[ratio,$v]=$(median ${ratios[$v]})
		PF[ratios,$v]=$(echo ${ratios[$v]})
	done
}
last() { echo "${@: -1}"; }

# --- 4. hoprelay against Postfix's smtp(8) -----------------------------------
# A receiving Postfix with STARTTLS on 127.0.0.1 (messages go to discard),
# and a sending Postfix whose smtp(8) client delivers there over verified
# TLS, one service per message size (so each keeps its own peak RSS), with
# no connection or session caching: every delivery a full TLS session, as
# every hoprelay run is.  Times: hoprelay's wall time from start to exit;
# smtp(8)'s own connection setup plus transmission ("delays=a/b/c/d": c+d,
# logged to the microsecond).
relay_setup() {
	local pki=$HM_TMP/pki master=""
	hm_ca ca && hm_cert ca rx rx.bench.invalid || bench_die "making certificates"
	RELAY_RX=$(hm_free_port)
	hm_postfix rx "$RELAY_RX" "
relay_domains = example.com
relay_transport = discard:
default_transport = discard:
smtpd_tls_security_level = may
smtpd_tls_chain_files = $pki/rx.key, $pki/rx.crt
message_size_limit = 209715200
" || bench_die "the receiving Postfix did not start"
	for s in small medium big; do
		master+="ref$s unix - - n - 1 smtp
"
	done
	hm_postfix tx "$(hm_free_port)" "
relay_domains = example.com
transport_maps = inline:{ small.example.com=refsmall:[127.0.0.1]:$RELAY_RX, medium.example.com=refmedium:[127.0.0.1]:$RELAY_RX, big.example.com=refbig:[127.0.0.1]:$RELAY_RX }
smtp_tls_CAfile = $pki/ca.crt
smtp_tls_policy_maps = inline:{ { [127.0.0.1]:$RELAY_RX = secure match=rx.bench.invalid } }
smtp_tls_session_cache_database =
smtp_connection_cache_on_demand = no
delay_logging_resolution_limit = 6
message_size_limit = 209715200
" "$master" || bench_die "the sending Postfix did not start"
	cat >"$HM_TMP/hoprelay.conf" <<CONF
syslog_facility = mail
log_level = info
route rx {
	hops = {"127.0.0.1:$RELAY_RX"}
	tls = required
	ca_file = "$pki/ca.crt"
	server_name = "rx.bench.invalid"
	helo_name = "tx.bench.invalid"
}
CONF
}

# relay_message FILE KBYTES: a plain-text message of about that size.
relay_message() {
	{
		printf 'From: <sender@example.org>\nTo: <user@example.com>\nSubject: relay benchmark\n'
		printf 'Message-ID: <%s@bench.invalid>\nMIME-Version: 1.0\nContent-Type: text/plain\n\n' "$2"
		awk -v n="$2" 'BEGIN { l = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-+=/0123456"
			for (i = 0; i < n * 1024 / 76; i++) print l }'
	} >"$1"
}

# relay_hop FILE: hoprelay delivers FILE; sets RUN_MS and RUN_RSS (kB).
relay_hop() {
	local t0 t1 rc
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$HM_TMP/time.out" "$HOPRELAY" -c "$HM_TMP/hoprelay.conf" -e \
		-f sender@example.org -- rx user@example.com <"$1" >"$HM_TMP/hoprelay.out" 2>&1
	rc=$?
	t1=$(date +%s%N)
	[ "$rc" = 0 ] || bench_die "hoprelay failed ($rc): $(head -2 "$HM_TMP/hoprelay.out")"
	RUN_MS=$(calc "($t1 - $t0) / 1000000" 2)
	RUN_RSS=$(tail -1 "$HM_TMP/time.out")
}

# relay_startup: hoprelay -n (configuration, OpenSSL initialised, the
# route's CA file loaded; no connection); sets RUN_MS.  What every run of
# a per-message program pays before its first byte on the wire.
relay_startup() {
	local t0 t1
	t0=$(date +%s%N)
	"$HOPRELAY" -c "$HM_TMP/hoprelay.conf" -n >"$HM_TMP/hoprelay-n.out" 2>&1 ||
		bench_die "hoprelay -n failed: $(head -2 "$HM_TMP/hoprelay-n.out")"
	t1=$(date +%s%N)
	RUN_MS=$(calc "($t1 - $t0) / 1000000" 2)
}

# relay_ref FILE SIZE: Postfix's smtp(8) delivers FILE; sets RUN_MS (c+d).
relay_ref() {
	local log=$HM_TMP/tx/maillog n i line
	n=$(grep -c "relay=127.0.0.1.*status=sent" "$log")
	sendmail -C "$HM_TMP/tx/etc" -f sender@example.org "user@$2.example.com" <"$1" ||
		bench_die "sendmail into the sending Postfix failed"
	for i in $(seq 1 1200); do
		[ "$(grep -c "relay=127.0.0.1.*status=sent" "$log")" -gt "$n" ] && break
		sleep 0.05
	done
	line=$(grep "relay=127.0.0.1.*status=sent" "$log" | tail -1)
	[ -n "$line" ] && [ "$(grep -c "relay=127.0.0.1.*status=sent" "$log")" -gt "$n" ] ||
		bench_die "smtp(8) did not deliver the $2 message: $(grep -E 'status=(deferred|bounced)' "$log" | tail -1)"
	RUN_MS=$(sed -n 's/.*delays=[^/]*\/[^/]*\/\([^/]*\)\/\([^,]*\),.*/\1 \2/p' <<<"$line" |
		awk '{ printf "%.2f", ($1 + $2) * 1000 }')
}

# The peak RSS (kB) of the smtp(8) process of service refSIZE.
relay_ref_rss() {
	local p
	for p in $(pgrep -u postfix -x smtp); do
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "-n ref$1 " && { vm VmHWM "$p"; return; }
	done
	echo 0
}

relay_section() {
	local sk s kb f r hop ref ratios rss
	relay_setup
	RELAY_SIZES="small:1 medium:1024 big:$((RELAY_BIG_MB * 1024))"
	for sk in $RELAY_SIZES; do
		s=${sk%%:*} kb=${sk#*:} f=$HM_TMP/msg-$s
		relay_message "$f" "$kb"
		RELAY[bytes,$s]=$(stat -c %s "$f")
		relay_ref "$f" "$s"         # warm-up: the service's process starts
		hop=() ref=() ratios=() rss=() up=()
		for r in $(seq 1 "$ROUNDS"); do
			relay_startup; up+=("$RUN_MS")
			relay_hop "$f"; hop+=("$RUN_MS"); rss+=("$RUN_RSS")
			relay_ref "$f" "$s"; ref+=("$RUN_MS")
			ratios+=("$(calc "${hop[-1]} / ${ref[-1]}")")
			bench_log "relay $s round $r: hoprelay ${hop[-1]}ms ${RUN_RSS}kB, smtp(8) ${ref[-1]}ms"
		done
		RELAY[hop,$s]=$(median "${hop[@]}")
		RELAY[up,$s]=$(median "${up[@]}")
		RELAY[ref,$s]=$(median "${ref[@]}")
		RELAY[ratio,$s]=$(median "${ratios[@]}")
		RELAY[rss,$s]=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
		RELAY[refrss,$s]=$(relay_ref_rss "$s")
		# Where hoprelay's memory is: one more run with the exit-time breakdown.
		HM_RSS_OUT=$HM_TMP/rss-$s LD_PRELOAD=$RSSPEAK "$HOPRELAY" -c "$HM_TMP/hoprelay.conf" -e \
			-f sender@example.org -- rx user@example.com <"$f" >/dev/null 2>&1
		RELAY[detail,$s]=$(cat "$HM_TMP/rss-$s" 2>/dev/null)
	done
}

# --- 5. hopmilter's memory with 200 connections ------------------------------
# A fresh hopmilter (so its peak is this test's), 200 concurrent sessions
# for MEM_SECS seconds; RSS sampled every 0.1 s, peak (VmHWM) at the end.
# The no-op filter, also fresh, under the same load for reference.
mem_one() {
	local name=$1 pid=$2 drv max=0 thr=0 x
	"$MDRIVER" -s "unix:$HM_TMP/$name.sock" -c 200 -t "$MEM_SECS" -w 0.5 \
		>"$HM_TMP/mem-$name.out" 2>>"$HM_TMP/mdriver.err" &
	drv=$!
	hm_track "$drv"
	while kill -0 "$drv" 2>/dev/null; do
		x=$(vm VmRSS "$pid"); [ "${x:-0}" -gt "$max" ] && max=$x
		x=$(vm Threads "$pid"); [ "${x:-0}" -gt "$thr" ] && thr=$x
		sleep 0.1
	done
	wait "$drv" || bench_die "mdriver with 200 connections to $name failed: $(tail -1 "$HM_TMP/mdriver.err")"
	MEM[$name,rss]=$max
	MEM[$name,hwm]=$(vm VmHWM "$pid")
	MEM[$name,threads]=$thr
	MEM[$name,tps]=$(kv tps "$(cat "$HM_TMP/mem-$name.out")")
	MEM[$name,anon]=$(awk '/^Anonymous:/ { print $2 }' "/proc/$pid/smaps_rollup")
}

mem_section() {
	local noop2
	bench_start_hm mem
	"$NOOP" "unix:$HM_TMP/noop2.sock" >"$HM_TMP/noop2.log" 2>&1 </dev/null &
	noop2=$!
	hm_track "$noop2"
	hm_wait_file "$HM_TMP/noop2.sock" || bench_die "the second no-op filter did not start"
	MEM[mem,base]=$(vm VmRSS "$HM_PID_mem")
	mem_one mem "$HM_PID_mem"
	mem_one noop2 "$noop2"
}

# --- 6. hoprelayd against smtp(8) with its connection cache ------------------
# One sending Postfix ("lq") with three transports to the same receiving
# Postfix with STARTTLS (section 4's rx; TLS required and verified against
# the CA and the name everywhere):
#   lmtp   Postfix's lmtp(8) -> hoprelayd (one TLS context, idle connections
#          kept 5 s and reused with RSET, TLS sessions resumed)
#   smtp   Postfix's smtp(8) with its connection cache and TLS session cache
#   pipe   pipe(8) -> hoprelay, once per message (recipient limit 1)
# each at a concurrency of 20.  RELAYD_MSGS messages are put on hold in
# lq's queue first (smtp-source into lq, check_client_access static:HOLD),
# released at once, and timed until the queue is empty.  CPU: the whole
# machine's (both Postfix instances, the daemon) and the relaying
# processes' own (hoprelayd plus lq's lmtp processes; lq's smtp processes;
# pipe and hoprelay runs are not tracked: machine CPU only).  Peak RSS:
# hoprelayd's VmHWM, against the sum of the 20 smtp(8) processes' VmHWM.
relayd_setup() {
	local pki=$HM_TMP/pki sock=$HM_TMP/lq/queue/hoprelay
	[ -n "${RELAY_RX:-}" ] || relay_setup
	mkdir -p "$sock"
	chgrp postfix "$sock"
	chmod 2750 "$sock"
	"$HOPRELAYD" -e -c "$HM_TMP/hoprelay.conf" -s "$sock" -m 100 -H 20 -k 5 \
		>"$HM_TMP/hoprelayd.log" 2>&1 </dev/null &
	RELAYD_PID=$!
	hm_track "$RELAYD_PID"
	hm_wait_file "$sock/rx" || bench_die "hoprelayd did not start: $(tail -2 "$HM_TMP/hoprelayd.log")"
	RELAYD_PORT=$(hm_free_port)
	hm_postfix lq "$RELAYD_PORT" "
relay_domains = lmtp.example.com, smtp.example.com, pipe.example.com
transport_maps = inline:{ lmtp.example.com=lmtp:unix:hoprelay/rx, smtp.example.com=refcache:[127.0.0.1]:$RELAY_RX, pipe.example.com=hoprelay:rx }
smtpd_client_restrictions = check_client_access static:HOLD
smtp_tls_CAfile = $pki/ca.crt
smtp_tls_policy_maps = inline:{ { [127.0.0.1]:$RELAY_RX = secure match=rx.bench.invalid } }
smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache
smtp_connection_cache_on_demand = yes
lmtp_tls_security_level = none
default_destination_concurrency_limit = 20
hoprelay_destination_recipient_limit = 1
message_size_limit = 209715200
" "lmtp unix - - n - - lmtp
refcache unix - - n - - smtp
hoprelay unix - n n - - pipe
  flags=q user=nobody null_sender=
  argv=$HOPRELAY -c $HM_TMP/hoprelay.conf -s \${size} -f \${sender} -- \${nexthop} \${recipient}" ||
		bench_die "the sending Postfix (lq) did not start"
	chmod 0644 "$HM_TMP/hoprelay.conf"
}

lq_queued() { find "$HM_TMP/lq/queue/incoming" "$HM_TMP/lq/queue/active" "$HM_TMP/lq/queue/deferred" "$HM_TMP/lq/queue/hold" -type f 2>/dev/null | wc -l; }

# CPU ticks of lq's processes named $1 (lmtp or smtp), and the sum of
# their VmHWM (kB); "ticks hwm".
lq_procs() {
	local p t=0 h=0 x
	for p in $(pgrep -u postfix -x "$1"); do
		# Postfix's master hands its children the instance in MAIL_CONFIG.
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "MAIL_CONFIG=$HM_TMP/lq/etc" || continue
		t=$((t + $(cpu_proc "$p")))
		x=$(vm VmHWM "$p"); h=$((h + ${x:-0}))
	done
	echo "$t $h"
}

# relayd_run VARIANT KBYTES N: hold N messages, release, time the drain.
# Sets RUN_MS, RUN_CPU (machine ms/msg), RUN_PCPU (relaying processes'
# ms/msg, "-" for pipe), RUN_RSS (kB: hoprelayd's or the smtp processes').
relayd_run() {
	local v=$1 kb=$2 n=$3 t0 t1 b0 b1 p0 p1 i
	[ "$(lq_queued)" = 0 ] || bench_die "lq's queue is not empty"
	smtp-source -s 20 -m "$n" -l $((kb * 1024)) -f sender@example.org -t "user@$v.example.com" \
		-M lq.bench.invalid "127.0.0.1:$RELAYD_PORT" >>"$HM_TMP/smtp-source.log" 2>&1 ||
		bench_die "smtp-source into lq failed"
	for i in $(seq 1 600); do
		[ "$(find "$HM_TMP/lq/queue/hold" -type f | wc -l)" -ge "$n" ] && break
		sleep 0.05
	done
	b0=$(cpu_busy)
	case $v in lmtp) p0=$(( $(cpu_proc "$RELAYD_PID") + $(lq_procs lmtp | cut -d' ' -f1) )) ;;
		smtp) p0=$(lq_procs smtp | cut -d' ' -f1) ;; esac
	t0=$(date +%s%N)
	postsuper -c "$HM_TMP/lq/etc" -H ALL >/dev/null 2>&1
	postqueue -c "$HM_TMP/lq/etc" -f
	for i in $(seq 1 12000); do
		[ "$(lq_queued)" = 0 ] && break
		sleep 0.05
	done
	t1=$(date +%s%N)
	[ "$(lq_queued)" = 0 ] || bench_die "$v: lq's queue did not drain ($(lq_queued) left): $(grep -E 'status=(deferred|bounced)' "$HM_TMP/lq/maillog" | tail -1)"
	b1=$(cpu_busy)
	RUN_MS=$(calc "($t1 - $t0) / 1000000" 0)
	RUN_CPU=$(calc "($b1 - $b0) * 1000 / $HZ / $n" 2)
	case $v in
	lmtp) p1=$(( $(cpu_proc "$RELAYD_PID") + $(lq_procs lmtp | cut -d' ' -f1) ))
		RUN_PCPU=$(calc "($p1 - $p0) * 1000 / $HZ / $n" 2); RUN_RSS=$(vm VmHWM "$RELAYD_PID") ;;
	smtp) p1=$(lq_procs smtp | cut -d' ' -f1)
		RUN_PCPU=$(calc "($p1 - $p0) * 1000 / $HZ / $n" 2); RUN_RSS=$(lq_procs smtp | cut -d' ' -f2) ;;
	*) RUN_PCPU=- RUN_RSS=- ;;
	esac
}

relayd_section() {
	local kb v r
	local -A ms cpu pcpu
	relayd_setup
	for v in lmtp smtp pipe; do relayd_run "$v" 1 20; done   # warm-up
	for kb in 1 100; do
		ms=() cpu=() pcpu=()
		for r in $(seq 1 "$RELAYD_ROUNDS"); do
			for v in $RELAYD_VARIANTS; do
				relayd_run "$v" "$kb" "$RELAYD_MSGS"
				bench_log "relayd $kb KiB round $r $v: ${RUN_MS} ms, machine ${RUN_CPU} ms/msg, relaying ${RUN_PCPU} ms/msg, rss ${RUN_RSS} kB"
				ms[$v]+=" $RUN_MS" cpu[$v]+=" $RUN_CPU" pcpu[$v]+=" $RUN_PCPU"
				RELAYD[rss,$kb,$v]=$RUN_RSS
			done
		done
		for v in $RELAYD_VARIANTS; do
			RELAYD[ms,$kb,$v]=$(median ${ms[$v]})
			RELAYD[cpu,$kb,$v]=$(median ${cpu[$v]})
			RELAYD[pcpu,$kb,$v]=$( [ "$v" = pipe ] && echo - || median ${pcpu[$v]})
		done
	done
	RELAYD[reused]=$(grep -c "conn=reused" "$HM_TMP/hoprelayd.log")
	RELAYD[resumed]=$(grep -c "conn=resumed" "$HM_TMP/hoprelayd.log")
	RELAYD[new]=$(grep -c "conn=new" "$HM_TMP/hoprelayd.log")
}

report_relayd() {
	local kb v name
	cat <<MD
## 6. hoprelayd (LMTP) against smtp(8) with its connection cache

$RELAYD_MSGS messages of each size held in one sending Postfix's queue,
released at once, and timed until the queue is empty; 20 deliveries in
parallel; the same receiving Postfix with STARTTLS (TLS required,
certificate verified).  Medians of $RELAYD_ROUNDS rounds.  Machine CPU
covers both Postfix instances and the relay; relaying CPU is hoprelayd
plus the sending Postfix's lmtp(8) processes, or its smtp(8) processes.
Peak RSS: hoprelayd's VmHWM against the sum over the 20 smtp(8) processes.
hoprelayd's connections: ${RELAYD[new]} new, ${RELAYD[reused]} reused,
${RELAYD[resumed]} with a resumed TLS session (per-recipient log lines).

| message | variant | wall s | msg/s | machine CPU ms/msg | relaying CPU ms/msg | peak RSS | wall / smtp(8) (target ≤ 1.0) | relaying CPU / smtp(8) (target ≤ 1.0) |
|---|---|---|---|---|---|---|---|---|
MD
	for kb in 1 100; do
		for v in $RELAYD_VARIANTS; do
			case $v in lmtp) name="hoprelayd via lmtp(8)" ;; smtp) name="smtp(8), cached" ;; pipe) name="hoprelay via pipe(8)" ;; esac
			printf '| %s KiB | %s | %s | %s | %s | %s | %s |' "$kb" "$name" "$(calc "${RELAYD[ms,$kb,$v]} / 1000" 2)" \
				"$(calc "$RELAYD_MSGS * 1000 / ${RELAYD[ms,$kb,$v]}" 0)" "${RELAYD[cpu,$kb,$v]}" "${RELAYD[pcpu,$kb,$v]}" \
				"$( [ "${RELAYD[rss,$kb,$v]}" = - ] && echo - || echo "$(mib "${RELAYD[rss,$kb,$v]}") MiB")"
			if [ "$v" = smtp ] || [ -z "${RELAYD[ms,$kb,smtp]:-}" ]; then
				echo " 1 | 1 |"
			else
				r=$(calc "${RELAYD[ms,$kb,$v]} / ${RELAYD[ms,$kb,smtp]}")
				c=$( [ "$v" = pipe ] && echo - || calc "${RELAYD[pcpu,$kb,$v]} / ${RELAYD[pcpu,$kb,smtp]}")
				echo " **$r**$( [ "$v" = lmtp ] && echo ": $(verdict "$(ge 1.0 "$r")")") | **$c**$( [ "$v" = lmtp ] && echo ": $(verdict "$(ge 1.0 "$c")")") |"
			fi
		done
	done
	echo
}

# --- 7. counters and the control socket --------------------------------------
# obs_run NAME: one mdriver round at 8 connections; sets RUN_LINE.
obs_run() {
	RUN_LINE=$("$MDRIVER" -s "unix:$HM_TMP/$1.sock" -c 8 -t "$FLOOR_SECS" -w "$FLOOR_WARM" \
		2>>"$HM_TMP/mdriver.err") || bench_die "mdriver against $1 failed: $(tail -1 "$HM_TMP/mdriver.err")"
	[ "$(kv refused "$RUN_LINE")" = 0 ] || bench_die "$1 refused messages: $RUN_LINE"
}

# Counters on against `counters = false`, alternating; then one hopmilter
# with a control socket, with and without tests/lib/ctlload.py keeping 1000
# control connections coming (the daemon serves 32, answers the rest busy).
obs_section() {
	local r v on=() off=() ratios=() quiet=() loaded=() qp=() lp=() qm=() lm=() pid ctl c0 cpu=()
	OBS[cost]=$("$STATSCOST" 8 "${QUICK:+100000}${QUICK:-1000000}") || bench_die "statscost failed"
	bench_start_hm obson
	bench_start_hm obsoff "" "counters = false"
	for r in $(seq 1 "$ROUNDS"); do
		for v in obson obsoff; do
			c0=$(cpu_proc "$(eval echo "\$HM_PID_$v")")
			obs_run "$v"
			cpu+=("$(calc "($(cpu_proc "$(eval echo "\$HM_PID_$v")") - $c0) * 1000000 / $HZ / $(kv sessions "$RUN_LINE")" 0)")
			bench_log "counters round $r $v: $(kv tps "$RUN_LINE") tx/s, filter cpu ${cpu[-1]}us/msg"
			[ "$v" = obson ] && OBS[cpu]+=" ${cpu[-1]}"
			if [ "$v" = obson ]; then on+=("$(kv tps "$RUN_LINE")"); else off+=("$(kv tps "$RUN_LINE")"); fi
		done
		ratios+=("$(calc "${on[-1]} / ${off[-1]}")")
	done
	OBS[on]=$(median "${on[@]}") OBS[off]=$(median "${off[@]}")
	OBS[ratio]=$(median "${ratios[@]}") OBS[ratios]="${ratios[*]}"
	OBS[cpu]=$(median ${OBS[cpu]})
	kill "$HM_PID_obson" "$HM_PID_obsoff"

	ctl=$HM_TMP/obsctl.ctl
	bench_start_hm obsctl "" "control_socket = \"$ctl\""
	hm_wait_file "$ctl" || bench_die "no control socket"
	OBS[ctl]=0
	for r in $(seq 1 "$ROUNDS"); do
		for v in quiet load; do
			if [ "$v" = load ]; then
				python3 "$HM_LIBDIR/ctlload.py" "$ctl" 1000 0 0 >"$HM_TMP/ctlload.out" 2>&1 &
				pid=$!
				hm_track "$pid"
				sleep 0.3
			fi
			obs_run obsctl
			if [ "$v" = load ]; then
				kill "$pid"
				wait "$pid" 2>/dev/null
				OBS[ctl]=$((OBS[ctl] + $(kv ctl_connects "$(cat "$HM_TMP/ctlload.out")")))
				loaded+=("$(kv tps "$RUN_LINE")") lp+=("$(kv mail_p99 "$RUN_LINE")") lm+=("$(kv mail_p50 "$RUN_LINE")")
			else
				quiet+=("$(kv tps "$RUN_LINE")") qp+=("$(kv mail_p99 "$RUN_LINE")") qm+=("$(kv mail_p50 "$RUN_LINE")")
			fi
			bench_log "control socket round $r $v: $(kv tps "$RUN_LINE") tx/s, MAIL p99 $(kv mail_p99 "$RUN_LINE") us"
		done
	done
	OBS[quiet]=$(median "${quiet[@]}") OBS[load]=$(median "${loaded[@]}")
	OBS[qmail]="$(calc "$(median "${qm[@]}") / 1000" 2) / $(calc "$(median "${qp[@]}") / 1000" 2)"
	OBS[lmail]="$(calc "$(median "${lm[@]}") / 1000" 2) / $(calc "$(median "${lp[@]}") / 1000" 2)"
}

# --- the report ---------------------------------------------------------------
# verdict OK: "met" or "**missed**".
verdict() { if [ "$1" = 1 ]; then echo met; else echo "**missed**"; fi; }
# ge A B: 1 when A >= B (floating point).
ge() { awk "BEGIN { print ($1 >= $2) ? 1 : 0 }"; }
mib() { calc "$1 / 1024" 1; }

# Protocol steps as names: the SMFIP_* bits a filter negotiated.
steps_names() {
	local v=$(($1)) out="" bit name
	for bit in 0x1:NOCONNECT 0x2:NOHELO 0x4:NOMAIL 0x8:NORCPT 0x10:NOBODY 0x20:NOHDRS \
		0x40:NOEOH 0x80:NR_HDR 0x100:NOUNKNOWN 0x200:NODATA 0x1000:NR_CONN 0x2000:NR_HELO \
		0x4000:NR_MAIL 0x8000:NR_RCPT 0x10000:NR_DATA 0x40000:NR_EOH 0x80000:NR_BODY; do
		name=${bit#*:}
		(( v & ${bit%%:*} )) && out+="${out:+ }$name"
	done
	echo "${out:-none}"
}

report_machine() {
	local model
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	cat <<MD
# Benchmarks

Generated by \`$HM_BENCH_CMD\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $(( $(date +%s) - BENCH_T0 )) s.
Do not edit: this file is rewritten by every run (the text of the last
section comes from \`tests/bench/analysis.md\`; the method is in
\`tests/bench/bench.sh\`).

| machine | |
|---|---|
| CPU | ${model:-unknown} |
| cores | $(nproc) (shared by the load generator, the MTA, Redis, DNS and the filter) |
| memory | $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |
| kernel | $(uname -sr) |
| system | $(. /etc/os-release && echo "$PRETTY_NAME") |
| software | Postfix $(postconf -h mail_version), $(redis-server --version | awk '{ print $1, $3 }' | tr -d v=), $(openssl version | awk '{ print $1, $2 }'), libmilter $(dpkg-query -W -f='${Version}' libmilter-dev 2>/dev/null), libspf2 $(dpkg-query -W -f='${Version}' libspf2-dev 2>/dev/null) |

Method: each comparison alternates its variants (A B A B ...) for $ROUNDS
rounds in one run and quotes medians; a ratio is the median of the
per-round ratios.  Nothing asserts an absolute time.  hopmilter runs with
every check on: domain lists, SPF (answers from the benchmark's own
dnsmasq, 300 s TTL), the rate limit with both tiers in Redis (limits set
out of reach), log level info.

MD
}

report_floor() {
	local c s v added
	cat <<MD
## 1. Milter floor: the filter alone, driven as Postfix drives it

\`tests/bench/mdriver\` speaks the milter protocol as Postfix 3.7 does
(macros before every event, buffered writes, the filter's NO*/NR_* flags
and macro lists honoured), one message per SMTP session, clients in
192.0.2.0/24, senders in 50 domains, 8 headers, ${FLOOR_SECS} s per round
after ${FLOOR_WARM} s of warm-up.  The no-op floor (\`tests/bench/noop\`)
registers connect, helo, mail, rcpt and eom, and no negotiate callback.

| connections | no-op tx/s | hopmilter tx/s | hopmilter / no-op (rounds) | target ≥ 0.9 |
|---|---|---|---|---|
MD
	for c in $FLOOR_CONNS; do
		if [ "$c" = 1 ]; then v="(not a target)"; else v=$(verdict "$(ge "${FLOOR[ratio,$c]}" 0.9)"); fi
		echo "| $c | ${FLOOR[noop,$c,tps]} | ${FLOOR[hm,$c,tps]} | **${FLOOR[ratio,$c]}** (${FLOOR[ratios,$c]}) | $v |"
	done
	cat <<MD

Negotiated: no-op \`$(steps_names "${FLOOR[noop,1,steps]}")\`;
hopmilter \`$(steps_names "${FLOOR[hm,1,steps]}")\`.
"nr": sent without waiting for a reply; "skip": not sent at all.

Wait for each reply, p50 / p99 in ms (medians over the rounds); "msg" is
everything the MTA waits for one message, connection included:

| step | no-op c=1 | hopmilter c=1 | no-op c=8 | hopmilter c=8 | no-op c=64 | hopmilter c=64 |
|---|---|---|---|---|---|---|
MD
	for s in $FLOOR_STEPS; do
		printf '| %s |' "$s"
		for c in $FLOOR_CONNS; do
			printf ' %s | %s |' "$(step_cell noop "$c" "$s")" "$(step_cell hm "$c" "$s")"
		done
		echo
	done
	printf '| filter CPU per message (µs) |'
	for c in $FLOOR_CONNS; do
		printf ' %s | %s |' "$(median ${FLOOR[noop,$c,cpu]})" "$(median ${FLOOR[hm,$c,cpu]})"
	done
	echo
	echo
	echo "Added p99 per message (hopmilter's msg p99 minus the no-op's; target ≤ 1 ms, DNS answered from cache):"
	echo
	for c in $FLOOR_CONNS; do
		added=$(calc "($(step_p99 hm "$c" msg) - $(step_p99 noop "$c" msg)) / 1000" 2)
		FLOOR[added,$c]=$added
		echo "- $c connection(s): **$added ms**, $(verdict "$(ge 1 "$added")")"
	done
	echo
}

report_postfix() {
	local v name target t
	cat <<MD
## 2. Postfix end to end

\`smtp-source -s $PF_SESSIONS -m $PF_MSGS -l $PF_SIZE\` (one message per
session, sender bench@s7.bench.example, HELO mta.s7.bench.example) from
192.0.2.1 into one Postfix instance with one listener per variant,
identical but for the milter, relaying to \`smtp-sink\`; the variants
alternate within each round and the queue drains between runs.  msg/s is
the rate smtp-source got its messages accepted; busy is the machine's CPU
busy share while smtp-source ran (both cores; the load saturates them
unless something waits); machine CPU covers acceptance and delivery,
divided by the messages; filter CPU is the filter's own (all of rspamd's
processes).  rspamd $(rspamd --version 2>/dev/null | awk '/version/ { print $NF }') runs as a peer: SPF and a Redis
rate limit per client address only (its \`spf\` and \`ratelimit\` modules,
limits out of reach, a redis-server of its own so that each filter's commands
can be counted), through its milter proxy
(\`rspamd_proxy\`, \`milter = yes\`, \`self_scan = yes\`).  "20 ms DNS": the
filter asks a second dnsmasq whose answers have a TTL of 0, through
\`tests/bench/dnsdelay.py\`, which holds every query ${DNS_DELAY_MS} ms (rspamd's SPF
cache told \`min_cache_ttl = 0s\`).  libspf2's cache, under hopmilter,
still keeps a TTL-0 answer until the end of the second it arrived in;
the lookups column says how many lookups per message really went out and
waited.

MD
	echo "SPF passes logged over the rounds (of $((ROUNDS * PF_MSGS)) messages each): $(for v in $PF_VARIANTS; do [ -n "${PF[spf,$v]:-}" ] && printf '%s %s; ' "$v" "${PF[spf,$v]}"; done)"
	echo
	if [ "$(ge "${PF[idle0]}" 10)" = 1 ] || [ "$(ge "${PF[idle1]}" 10)" = 1 ]; then
		PF[valid]=0
		echo "**NOT VALID: the machine was not otherwise idle.**  With the benchmark's"
		echo "own load stopped it was ${PF[idle0]}% busy before the rounds and ${PF[idle1]}%"
		echo "after (limit 10%): other processes shared the two cores, so throughput and"
		echo "busy figures below say nothing about the filters.  Run \`make bench\` on a"
		echo "quiet machine."
	else
		PF[valid]=1
		echo "Machine otherwise idle: ${PF[idle0]}% busy before the rounds, ${PF[idle1]}% after (limit 10%)."
	fi
	echo
	echo "| variant | msg/s | busy % | machine CPU ms/msg | filter CPU µs/msg | slow-DNS lookups/msg | hopmilter / this (rounds) | target |"
	echo "|---|---|---|---|---|---|---|---|"
	for v in $PF_VARIANTS; do
		target=""
		case $v in
		none) name="no milter"; target="≥ 0.85: $(verdict "$(ge "${PF[ratio,hm/none]}" 0.85)")" ;;
		noop) name="no-op milter"; target="≥ 1.1: $(verdict "$(ge "${PF[ratio,hm/noop]}" 1.1)")" ;;
		hm) name="hopmilter, every check on"
			target="busy ≥ 97%: $(verdict "$(ge "${PF[busy,hm]}" 97)")" ;;
		rspamd) name="rspamd, SPF + Redis rate limit"; target="≥ 1.1: $(verdict "$(ge "${PF[ratio,hm/rspamd]}" 1.1)")" ;;
		hmdns) name="hopmilter, 20 ms DNS"
			target="≥ 0.8× hopmilter: **${PF[ratio,hmdns/hm]}** (${PF[ratios,hmdns/hm]}) $(verdict "$(ge "${PF[ratio,hmdns/hm]}" 0.8)")"
			pf_has rsdns && target+="; ≥ 1× rspamd at 20 ms: **${PF[ratio,hmdns/rsdns]}** (${PF[ratios,hmdns/rsdns]}) $(verdict "$(ge "${PF[ratio,hmdns/rsdns]}" 1)")" ;;
		rsdns) name="rspamd, 20 ms DNS" ;;
		hmnospf) name="hopmilter, SPF off (diagnosis)" ;;
		esac
		[ "${PF[valid]}" = 1 ] || target="not judged (run not valid)"
		t="**${PF[ratio,hm/$v]}** (${PF[ratios,hm/$v]})"
		[ "$v" = hm ] && t=1
		echo "| $name | ${PF[tps,$v]} | ${PF[busy,$v]} | ${PF[cpu,$v]} | $( [ "$v" = none ] && echo - || echo "${PF[mcpu,$v]}") | ${PF[dns,$v]} | $t | $target |"
	done
	echo
}

report_redis() {
	local f=($REDIS_FLOOR) p=($REDIS_PF) rs=($REDIS_RS) m=($REDIS_MON) rows=""
	[ -n "${f[0]:-}" ] && rows+="| milter floor, all rounds | $(redis_per_msg "$REDIS_FLOOR_CMDS" "${f[1]}") |
"
	[ -n "${p[0]:-}" ] && rows+="| Postfix end to end | $(redis_per_msg "$REDIS_PF_CMDS" "${p[1]}") |
"
	[ -n "${rs[0]:-}" ] && rows+="| Postfix end to end, rspamd's rate limit (its own Redis) | $(redis_per_msg "$REDIS_RS_CMDS" "${rs[1]}") |
"
	cat <<MD
## 3. Redis round trips per accepted message

One rate-limit decision per message, both tiers in one script.  Target:
exactly 1 round trip per decision.

Round trips, counted with \`MONITOR\` over a ${FLOOR_SECS} s run of the
driver (8 connections): a command from hopmilter's connection is a round
trip; a command the script runs inside Redis is logged as "lua" and costs
none.

| accepted messages | round trips | per message | inside the script, per message | target = 1 |
|---|---|---|---|---|
| ${m[0]} | ${m[1]} | **$(calc "${m[1]} / ${m[0]}" 3)** | $(calc "${m[2]} / ${m[0]}" 3) | $(verdict "$(ge 0.0005 "$(calc "(${m[1]} - ${m[0]}) / ${m[0]}" 6 | tr -d -)")") |

Commands executed per accepted message, from \`INFO commandstats\`
before and after (its own INFO calls left out; script-internal commands
are counted there too):

| run | per accepted message |
|---|---|
${rows}
MD
}

# redis_per_msg "CMD N ..." MESSAGES: "cmd=x.xxx, ..." per message.
redis_per_msg() {
	echo "$1" | awk -v n="$2" 'NF == 2 && $2 > 0 { printf "%s%s=%.3f", sep, $1, $2 / n; sep = ", " }'
}

report_relay() {
	local sk s d
	cat <<MD
## 4. hoprelay against Postfix's smtp(8)

The same message to the same loopback Postfix with STARTTLS (TLS 1.3,
certificate verified against a CA and a name), a new TLS session each time.
hoprelay: wall time from start to exit (process start, configuration,
TLS set-up included: it runs once per message); smtp(8): its logged
connection set-up plus transmission (c+d of delays=, to the µs) in a
process that is already running.  Peak RSS: hoprelay's maximum over the
rounds (GNU time), smtp(8)'s VmHWM (one process per size).

| message | hoprelay ms | smtp(8) ms | hoprelay / smtp(8) (target ≤ 1.1) | hoprelay peak RSS (target ≤ 4 MiB) | smtp(8) peak RSS |
|---|---|---|---|---|---|
MD
	for sk in $RELAY_SIZES; do
		s=${sk%%:*}
		echo "| $(calc "${RELAY[bytes,$s]} / 1024" 0) KiB | ${RELAY[hop,$s]} | ${RELAY[ref,$s]} | **${RELAY[ratio,$s]}**: $(verdict "$(ge 1.1 "${RELAY[ratio,$s]}")") | **$(mib "${RELAY[rss,$s]}") MiB**: $(verdict "$(ge 4096 "${RELAY[rss,$s]}")") | $(mib "${RELAY[refrss,$s]}") MiB |"
	done
	echo
	echo 'Of hoprelay'"'"'s time, start-up alone (`hoprelay -n`: process, configuration,'
	echo "OpenSSL initialised, CA file loaded; median over the same rounds), and the rest"
	echo "(connection, TLS handshake, SMTP, transfer) against smtp(8)'s c+d:"
	echo
	echo "| message | start-up ms | hoprelay minus start-up, ms | that / smtp(8) |"
	echo "|---|---|---|---|"
	for sk in $RELAY_SIZES; do
		s=${sk%%:*}
		d=$(calc "${RELAY[hop,$s]} - ${RELAY[up,$s]}" 2)
		echo "| $(calc "${RELAY[bytes,$s]} / 1024" 0) KiB | ${RELAY[up,$s]} | $d | $(calc "$d / ${RELAY[ref,$s]}") |"
	done
	echo
	echo "hoprelay's resident memory at exit, by kind (kB; \`tests/bench/rsspeak.so\` preloaded):"
	echo
	echo "| message | peak | at exit | private anonymous | file pages | of which libcrypto | libssl | libc |"
	echo "|---|---|---|---|---|---|---|---|"
	for sk in $RELAY_SIZES; do
		s=${sk%%:*} d=${RELAY[detail,$s]}
		echo "| $(calc "${RELAY[bytes,$s]} / 1024" 0) KiB | $(kv hwm_kb "$d") | $(kv rss_kb "$d") | $(kv anon_kb "$d") | $(kv file_kb "$d") | $(kv libcrypto_kb "$d") | $(kv libssl_kb "$d") | $(kv libc_kb "$d") |"
	done
	echo
}

report_memory() {
	cat <<MD
## 5. hopmilter's memory with 200 concurrent connections

A fresh hopmilter (every check on) and a fresh no-op filter, each driven
by 200 concurrent sessions for ${MEM_SECS} s; RSS sampled every 0.1 s.

| filter | RSS idle | max RSS under load (target ≤ 32 MiB) | VmHWM | threads (max) | anonymous at end | tx/s |
|---|---|---|---|---|---|---|
| hopmilter | $(mib "${MEM[mem,base]}") MiB | **$(mib "${MEM[mem,rss]}") MiB**: $(verdict "$(ge 32768 "${MEM[mem,rss]}")") | $(mib "${MEM[mem,hwm]}") MiB | ${MEM[mem,threads]} | $(mib "${MEM[mem,anon]}") MiB | ${MEM[mem,tps]} |
| no-op | - | $(mib "${MEM[noop2,rss]}") MiB | $(mib "${MEM[noop2,hwm]}") MiB | ${MEM[noop2,threads]} | $(mib "${MEM[noop2,anon]}") MiB | ${MEM[noop2,tps]} |

MD
}

report_observe() {
	cat <<MD
## 7. Counters and the control socket

The milter floor's driver at 8 connections against two hopmilters with
every check on, alternating: counters on (the default) and
\`counters = false\` (each recording call is then one relaxed load).

| counters | tx/s | on / off (rounds) | target ≥ 0.98 |
|---|---|---|---|
| on | ${OBS[on]} | **${OBS[ratio]}** (${OBS[ratios]}) | $(verdict "$(ge "${OBS[ratio]}" 0.98)") |
| off | ${OBS[off]} | | |

Those rounds are as noisy as the machine; the counters' own cost is
measured directly by \`tests/bench/statscost\`: the recording calls of one
accepted message (7 counters, 2 histograms, 12 clock reads for the six
timed steps), by 1 thread and by 8 threads at once (shared cache lines),
in CPU nanoseconds per message, against hopmilter's own CPU per message in
the rounds above (${OBS[cpu]} µs):

| | 1 thread | 8 threads | share of hopmilter's CPU per message (8 threads) |
|---|---|---|---|
| counters on | $(kv on_1 "${OBS[cost]}") ns | $(kv on_8 "${OBS[cost]}") ns | **$(calc "$(kv on_8 "${OBS[cost]}") / 10 / ${OBS[cpu]}" 2) %** (target < 2 %) |
| counters off | $(kv off_1 "${OBS[cost]}") ns | $(kv off_8 "${OBS[cost]}") ns | |

One hopmilter with a control socket, alone and while
\`tests/lib/ctlload.py\` keeps 1000 control connections coming (the daemon
serves 32 at a time and answers the rest "ERR busy"; ${OBS[ctl]} control
connections were accepted over the loaded rounds).  MAIL is the step Postfix
waits for at MAIL FROM (p50 / p99, ms):

| control socket | tx/s | MAIL p50 / p99 ms |
|---|---|---|
| idle | ${OBS[quiet]} | ${OBS[qmail]} |
| 1000 connections coming | ${OBS[load]} | ${OBS[lmail]} |

MD
}

# --- main ---------------------------------------------------------------------
# BENCH_ONLY: run some sections only ("floor postfix relay memory relayd observe"), for
# working on one of them; the report then has those sections only.
BENCH_ONLY=${BENCH_ONLY:-floor postfix relay memory relayd observe}
only() { [[ " $BENCH_ONLY " == *" $1 "* ]]; }

report() {
	report_machine
	only floor && report_floor
	only postfix && report_postfix
	{ only floor || only postfix; } && report_redis
	only relay && report_relay
	only memory && report_memory
	only relayd && report_relayd
	only observe && report_observe
	cat "$HM_SRCDIR/tests/bench/analysis.md"
}

bench_net
bench_dns
bench_start_servers
if only floor; then
	bench_log "floor: noop and hopmilter at 1, 8 and 64 connections, $ROUNDS rounds of ${FLOOR_SECS}s"
	floor_section
fi
if only postfix; then
	bench_log "Postfix end to end: $PF_VARIANTS; $ROUNDS rounds of $PF_MSGS messages"
	pf_section
fi
if only floor || only postfix; then
	bench_log "Redis round trips per message (MONITOR)"
	redis_monitor
fi
if only relay; then
	bench_log "hoprelay and smtp(8): 1 KiB, 1 MiB, $RELAY_BIG_MB MiB"
	relay_section
fi
if only memory; then
	bench_log "memory at 200 connections"
	mem_section
fi
if only relayd; then
	bench_log "hoprelayd, smtp(8) cached and the pipe mode: $RELAYD_ROUNDS rounds of $RELAYD_MSGS messages, 1 and 100 KiB"
	relayd_section
fi
if only observe; then
	bench_log "counters on and off; MAIL with 1000 control connections coming"
	obs_section
fi
report >"$HM_TMP/report.md" || bench_die "writing the report failed"
cp "$HM_TMP/report.md" "$OUT"
cat "$HM_TMP/report.md"
bench_log "written to $OUT in $(( $(date +%s) - BENCH_T0 )) s"
hm_done
