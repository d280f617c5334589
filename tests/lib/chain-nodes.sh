# chain-nodes.sh - the whole deployment on one machine, for the chain tests and
# tools/demo (source after harness.sh and spfdns.sh).
#
#   swaks --XCLIENT--> edge: Postfix + hopmilter (SPF, Redis rate limit,
#                      domains, ban list) --hoprelay--> hop1 --> ... --> core
#   core --hoprelay--> ... --> hop1 --> edge's VPN listener --> internet (smtp-sink)
#
# Every node runs the shipped configuration: postfix-conf/main.cf.ROLE and
# master.cf.ROLE, transport.edge and vpn_received_checks are appended as
# they are, and only the values an admin marks ADJUST are set here (paths,
# certificates, ports).  The shipped examples put the VPN on 10.200.0.0/24;
# the chain maps it onto 127.0.2.0/24 with the same last octet (edge .1,
# hop1 .2, hop2 .3, ..., core .10), so the shipped address patterns are the
# ones under test.  Every VPN leg is hoprelay with TLS required, the next
# node's key pinned and a client certificate (the hops and the core demand
# one signed by the VPN CA).
#
# The nodes:
#   edge      internet listener 127.0.0.1:$HM_CHAIN_MX_PORT (swaks presents
#             internet clients with XCLIENT), VPN listener 127.0.2.1
#   hopN      VPN listener 127.0.2.(N+1); added with hm_chain_add_hop
#   core      VPN listener 127.0.2.10; local users submit on
#             127.0.0.1:$HM_CHAIN_SUBMIT_PORT (XCLIENT presents the LAN
#             client 192.168.7.20), with SASL (Cyrus sasldb in etc/sasl: alice /
#             $HM_CHAIN_SASL_PASS) on 127.0.0.1:$HM_CHAIN_SASL_PORT, or
#             through the core's sendmail(1) (hm_chain_sendmail); mail for
#             the site's domains goes to the maildir $HM_TMP/core/mail/inbox/
#   internet  smtp-sink on 127.0.1.1 (sink "internet")
# Names: the edge is mx.example.com and the core's Postfix core.example.com
# (public, as main.cf.core advises); the VPN names of the inner nodes,
# NODE.vpn.example.com (certificates, HELO, the hops' myhostname), must
# never leave the network, nor may the LAN's names (NAME.lan.example.com):
# the edge's internal_names lists both.
#
# HM_CHAIN_RELAY=lmtp runs every VPN leg through hoprelayd instead (one
# per node, sockets in the node's queue directory as in production,
# postfix-conf/main.cf.hoprelayd and transport.hoprelayd appended, Postfix's
# lmtp(8) in front); the default, pipe, is hoprelay run by pipe(8).
#
# SPF comes from the dnsmasq world of spfdns.sh (pass.example: 192.0.2.0/24
# and 2001:db8:25::/48), which also serves the DKIM key of example.com
# (selector "hm").  The rate limit is 3 messages a minute per client
# network (burst 3), counted in Redis.

HM_CHAIN_VPN=127.0.2
HM_CHAIN_NODES=(edge core)      # every node, for logs and queues
HM_CHAIN_HOPS=()                # from the edge inwards
HM_CHAIN_ALT=0                  # 1: every route also lists the node after next
HM_CHAIN_OUTBOUND=false
HM_CHAIN_RELAY=${HM_CHAIN_RELAY:-pipe}
HOPRELAYD=${HOPRELAYD:-$HM_BUILDDIR/relay-transport/hoprelayd}
declare -A HM_CHAIN_ADDR HM_CHAIN_PORT HM_CHAIN_DPID

hm_chain_need() {
	hm_need_root
	hm_need postfix postqueue smtp-sink swaks openssl redis-server redis-cli dkimsign dkimverify \
		saslpasswd2 sendmail "$HOPMILTER" "$HOPRELAY"
	[ "$HM_CHAIN_RELAY" = pipe ] || hm_need "$HOPRELAYD"
}

# --- configuration ----------------------------------------------------------

# hm_chain_map FILE: a shipped file with the VPN moved to 127.0.2.0/24 and
# /etc/postfix/ to the node's own etc directory ($2).
hm_chain_map() {
	sed -e 's/10\.200\.0\./127.0.2./g' -e 's/10\\\.200\\\.0\\\./127\\.0\\.2\\./g' \
		-e "s|hash:/etc/postfix/|texthash:$2/|g" -e "s|/etc/postfix/|$2/|g" "$1"
}

# hm_chain_master NODE FILE: a shipped master.cf fragment for NODE: its
# VPN listener on the node's address and port, no chroot (a private
# instance has none), hoprelay built here with the node's hoprelay.conf.
hm_chain_master() {
	local d=$HM_TMP/$1
	hm_chain_map "$2" "$d/etc" |
		sed -E -e "s/^127\.0\.2\.[0-9]+:25([[:space:]])/${HM_CHAIN_ADDR[$1]}:${HM_CHAIN_PORT[$1]}\1/" \
			-e "s|/usr/local/sbin/hoprelay|$HOPRELAY -c $d/hoprelay.conf|" -e 's/user=hoprelay/user=nobody/' |
		awk '/^[^#[:space:]]/ && NF >= 8 && $5 == "y" { $5 = "n" } { print }'
}

# hm_chain_main NODE ROLE: the node's main.cf additions: the shipped
# main.cf.ROLE, then this machine's values for what it marks ADJUST.
hm_chain_main() {
	local node=$1 role=$2 d=$HM_TMP/$1 pki=$HM_TMP/pki
	hm_chain_map "$HM_SRCDIR/postfix-conf/main.cf.$role" "$d/etc"
	cat <<EOF

# --- this machine's values (tests/lib/chain-nodes.sh) ---
$( [ "$role" = core ] || echo "myhostname = $node.vpn.example.com" )
smtpd_tls_chain_files = $pki/$node.key, $pki/$node.crt
smtpd_tls_CAfile = $pki/vpnca.crt
EOF
}

# The core delivers the site's domains into one maildir, $HM_TMP/core/mail/inbox/
# (virtual(8) adds Delivered-To: with the recipient).
hm_chain_core_delivery() {
	cat <<EOF
virtual_mailbox_domains = example.com, example.org, lists.example.org
virtual_mailbox_base = $HM_TMP/core/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
EOF
}

# The core's submission listener with SASL (tests/lib/sasl.sh: Cyrus,
# PLAIN/LOGIN against a private sasldb; only an authenticated client may
# send there), user alice with a fresh password in HM_CHAIN_SASL_PASS.
# Debian's Postfix reads $config_directory/sasl/smtpd.conf and does not
# honour cyrus_sasl_config_path (set anyway, for other builds).
. "$HM_LIBDIR/sasl.sh"
hm_chain_core_sasl_setup() {
	HM_CHAIN_SASL_PASS=secret-$RANDOM
	hm_sasl_users "$HM_TMP/core" "$HM_CHAIN_SASL_PASS" alice
}
hm_chain_core_sasl_main() {
	hm_sasl_main_cf "$HM_TMP/core"
	printf '%s\n' "smtpd_sasl_authenticated_header = yes"
}

# hm_chain_milter_conf: the edge's hopmilter.conf; outbound per
# $HM_CHAIN_OUTBOUND.  Values from the README's example, VPN mapped.
hm_chain_milter_conf() {
	cat >"$HM_TMP/hopmilter.conf.new" <<EOF
# The chain's hopmilter.conf (tests/lib/chain-nodes.sh); see milter/hopmilter.conf.
socket = "inet:$HM_CHAIN_MILTER_PORT@127.0.0.1"
user = "nobody"
pid_file = ""
authserv_id = "mx.example.com"
trusted_networks = {"127.0.0.0/8", "::1/128", "$HM_CHAIN_VPN.0/24"}
internal_networks = {"192.168.0.0/16"}
internal_names = {".vpn.example.com", ".lan.example.com"}
allowed_domains = {"example.com", ".example.org"}
banned_domains = {"evil.example"}
outbound { enabled = $HM_CHAIN_OUTBOUND  scrub_received = true }
spf { enabled = true  dns_timeout = 2s  timeout = 5s }
ratelimit {
	rate = 3  period = 1m  burst = 3
	redis { host = "127.0.0.1"  port = $HM_CHAIN_REDIS_PORT }
}
EOF
	chmod 0644 "$HM_TMP/hopmilter.conf.new"
	mv "$HM_TMP/hopmilter.conf.new" "$HM_TMP/hopmilter.conf"
}

# hm_chain_route NAME NODE...: a hoprelay.conf route through NODEs in order.
hm_chain_route() {
	local name=$1 n hops="" pins=""
	shift
	for n in "$@"; do
		hops="$hops${hops:+, }\"${HM_CHAIN_ADDR[$n]}:${HM_CHAIN_PORT[$n]}\""
		pins="$pins${pins:+, }\"$(hm_pin "$HM_TMP/pki/$n.crt")\""
	done
	cat <<EOF
route $name {
	hops = {$hops}
	tls = required
	pins = {$pins}
	client_cert = "$HM_TMP/pki/$HM_CHAIN_SELF.crt"
	client_key = "$HM_TMP/pki/$HM_CHAIN_SELF.key"
	helo_name = "$HM_CHAIN_SELF.vpn.example.com"
	source_address = "${HM_CHAIN_ADDR[$HM_CHAIN_SELF]}"
	connect_timeout = 5s
}
EOF
}

# hm_chain_routes: every node's hoprelay.conf for the current line of hops
# (and alternates when HM_CHAIN_ALT=1).  hoprelay reads its file for every
# message: a changed route applies to the next message, nothing restarts.
hm_chain_routes() {
	local line=(edge "${HM_CHAIN_HOPS[@]}" core) i n in out
	for i in "${!line[@]}"; do
		HM_CHAIN_SELF=${line[$i]}
		in=() out=()
		if [ "$i" -lt $((${#line[@]} - 1)) ]; then
			in=("${line[$((i + 1))]}")
			[ "$HM_CHAIN_ALT" = 1 ] && [ "$i" -lt $((${#line[@]} - 2)) ] && in+=("${line[$((i + 2))]}")
		fi
		if [ "$i" -gt 0 ]; then
			out=("${line[$((i - 1))]}")
			[ "$HM_CHAIN_ALT" = 1 ] && [ "$i" -gt 1 ] && out+=("${line[$((i - 2))]}")
		fi
		n=$HM_TMP/$HM_CHAIN_SELF/hoprelay.conf
		{
			echo "# hoprelay.conf of $HM_CHAIN_SELF (tests/lib/chain-nodes.sh)"
			[ ${#in[@]} -gt 0 ] && hm_chain_route core "${in[@]}"
			[ ${#out[@]} -gt 0 ] && hm_chain_route edge "${out[@]}"
		} >"$n.new"
		chmod 0644 "$n.new"
		mv "$n.new" "$n"
	done
	hm_chain_reload_relays
}

# --- hoprelayd (HM_CHAIN_RELAY=lmtp) -----------------------------------------

# hm_chain_daemon NODE: start NODE's hoprelayd; its sockets go where
# Postfix's lmtp(8) finds them, hoprelay/ROUTE in the queue directory.
hm_chain_daemon() {
	local d=$HM_TMP/$1 s=$HM_TMP/$1/queue/hoprelay
	mkdir -p "$s"
	chgrp postfix "$s"
	chmod 2750 "$s"
	# shellcheck disable=SC2086
	${HM_WRAP:-} "$HOPRELAYD" -e -c "$d/hoprelay.conf" -s "$s" -k 5 >>"$d/hoprelayd.log" 2>&1 </dev/null &
	HM_CHAIN_DPID[$1]=$!
	hm_track $!
	hm_wait_grep "started:" "$d/hoprelayd.log" 20 || { hm_log "hoprelayd of $1 did not start"; return 1; }
}

# hm_chain_reload_relays: every running hoprelayd reads its file again
# (SIGHUP); returns once each logged it.
hm_chain_reload_relays() {
	local n c
	for n in "${!HM_CHAIN_DPID[@]}"; do
		c=$(grep -c "reloaded " "$HM_TMP/$n/hoprelayd.log")
		kill -HUP "${HM_CHAIN_DPID[$n]}"
		for _ in $(seq 1 100); do
			[ "$(grep -c "reloaded " "$HM_TMP/$n/hoprelayd.log")" -gt "$c" ] && break
			sleep 0.1
		done
	done
}

# hm_chain_relay_main NODE ROLE: main.cf lines for the VPN legs in lmtp mode.
hm_chain_relay_main() {
	hm_chain_map "$HM_SRCDIR/postfix-conf/main.cf.hoprelayd" "$HM_TMP/$1/etc"
	case $2 in
	edge) ;;
	# The core's own domains are local: no transport map there.
	core) printf '%s\n' "default_transport = lmtp:unix:hoprelay/edge" "transport_maps =" ;;
	*) echo "default_transport = lmtp:unix:hoprelay/edge" ;;
	esac
}

# --- nodes ------------------------------------------------------------------

# hm_chain_node NAME LAST_OCTET: address, port and certificate of a node.
hm_chain_node() {
	HM_CHAIN_ADDR[$1]=$HM_CHAIN_VPN.$2
	HM_CHAIN_PORT[$1]=$(hm_free_port)
	mkdir -p "$HM_TMP/$1/etc"
	hm_cert vpnca "$1" "$1.vpn.example.com"
}

# hm_chain_postfix NODE ROLE LOCAL_PORT [MAIN_EXTRA [MASTER_EXTRA]]
hm_chain_postfix() {
	local node=$1 role=$2 d=$HM_TMP/$1 master=master.cf.hop transport=transport.edge relay_main="" relay_master=""
	[ "$role" = edge ] && master=master.cf.edge
	if [ "$HM_CHAIN_RELAY" = lmtp ]; then
		transport=transport.hoprelayd
		relay_main=$(hm_chain_relay_main "$node" "$role")
		relay_master="lmtp      unix  -       -       n       -       -       lmtp"
		hm_chain_daemon "$node" || return 1
	fi
	hm_chain_map "$HM_SRCDIR/postfix-conf/$transport" "$d/etc" >"$d/etc/transport"
	hm_chain_map "$HM_SRCDIR/postfix-conf/vpn_received_checks" "$d/etc" >"$d/etc/vpn_received_checks"
	hm_postfix "$node" "$3" "$(hm_chain_main "$node" "$role")
$relay_main
${4:-}" "$(hm_chain_master "$node" "$HM_SRCDIR/postfix-conf/$master")
$relay_master
${5:-}" || return 1
	hm_wait_port "${HM_CHAIN_ADDR[$node]}" "${HM_CHAIN_PORT[$node]}"
}

# hm_chain_add_hop NAME: a new hop between the last hop and the core.  The
# new node is started; the others only get new routes.
hm_chain_add_hop() {
	local n=${#HM_CHAIN_HOPS[@]}
	hm_chain_node "$1" $((n + 2)) || return 1
	HM_CHAIN_HOPS+=("$1")
	HM_CHAIN_NODES+=("$1")
	hm_chain_routes
	hm_chain_postfix "$1" hop "$(hm_free_port)"
}

# hm_chain_stop NODE / hm_chain_resume NODE: stop a node's Postfix (its
# queue stays on disk) and start it again.
hm_chain_stop() {
	local i
	postfix -c "$HM_TMP/$1/etc" stop >/dev/null 2>&1
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/${HM_CHAIN_ADDR[$1]}/${HM_CHAIN_PORT[$1]}") 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
hm_chain_resume() {
	script -qc "postfix -c $HM_TMP/$1/etc start" /dev/null >/dev/null 2>&1
	hm_wait_port "${HM_CHAIN_ADDR[$1]}" "${HM_CHAIN_PORT[$1]}"
}
# hm_chain_flush NODE: deliver what waits in NODE's queue now.
hm_chain_flush() { postqueue -c "$HM_TMP/$1/etc" -f; }

# hm_chain_dkim_key: the key example.com signs with and its DNS record.
hm_chain_dkim_key() {
	openssl genrsa -out "$HM_TMP/pki/dkim.key" 1024 >/dev/null 2>&1 || return 1
	HM_CHAIN_DKIM_TXT="v=DKIM1; k=rsa; p=$(openssl rsa -in "$HM_TMP/pki/dkim.key" -pubout -outform der 2>/dev/null |
		base64 -w0)"
}

# hm_chain_start [HOP...]: the whole chain (default: one hop, hop1).
hm_chain_start() {
	local hops=("${@:-hop1}") h
	mkdir -p "$HM_TMP/pki"
	chmod 0755 "$HM_TMP/pki"
	hm_ca vpnca && hm_chain_dkim_key || { hm_log "making keys failed"; return 1; }
	hm_start_spf_dns --txt-record="hm._domainkey.example.com,$HM_CHAIN_DKIM_TXT" || return 1

	HM_CHAIN_REDIS_PORT=$(hm_free_port)
	HM_CHAIN_MILTER_PORT=$(hm_free_port)
	HM_CHAIN_MX_PORT=$(hm_free_port)
	HM_CHAIN_SUBMIT_PORT=$(hm_free_port)
	HM_CHAIN_SASL_PORT=$(hm_free_port)
	HM_CHAIN_INTERNET_PORT=$(hm_free_port)
	hm_start_redis chain "$HM_CHAIN_REDIS_PORT" || return 1
	hm_chain_milter_conf
	# hopmilter resolves through the private DNS world (SPF).
	unshare --mount sh -c "$HM_RESOLV_SH" "$HM_TMP/resolv.conf" \
		"$HOPMILTER" -f -c "$HM_TMP/hopmilter.conf" >>"$HM_TMP/milter.log" 2>&1 </dev/null &
	HM_MILTER_PID=$!
	hm_track "$HM_MILTER_PID"
	hm_wait_port 127.0.0.1 "$HM_CHAIN_MILTER_PORT" || { cat "$HM_TMP/milter.log" >&2; return 1; }
	hm_start_sink internet "$HM_CHAIN_INTERNET_PORT" 127.0.1.1 || return 1

	hm_chain_node edge 1 && hm_chain_node core 10 || return 1
	for h in "${hops[@]}"; do
		hm_chain_node "$h" $((${#HM_CHAIN_HOPS[@]} + 2)) || return 1
		HM_CHAIN_HOPS+=("$h")
		HM_CHAIN_NODES+=("$h")
	done
	hm_chain_routes
	mkdir -p "$HM_TMP/core/mail"
	chown 65534:65534 "$HM_TMP/core/mail"
	hm_chain_core_sasl_setup || { hm_log "making the sasldb failed"; return 1; }
	hm_chain_postfix core core "$HM_CHAIN_SUBMIT_PORT" "$(hm_chain_core_delivery)
$(hm_chain_core_sasl_main)" \
		"virtual   unix  -       n       n       -       -       virtual
$(hm_sasl_submission "$HM_CHAIN_SASL_PORT")" || return 1
	hm_wait_port 127.0.0.1 "$HM_CHAIN_SASL_PORT" || return 1
	for h in "${hops[@]}"; do
		hm_chain_postfix "$h" hop "$(hm_free_port)" || return 1
	done
	hm_chain_postfix edge edge "$HM_CHAIN_MX_PORT" "
myhostname = mx.example.com
hopmilter_milter = { inet:127.0.0.1:$HM_CHAIN_MILTER_PORT, default_action=tempfail, command_timeout=15s }
default_transport = smtp:[127.0.1.1]:$HM_CHAIN_INTERNET_PORT
relay_transport = smtp:[127.0.1.1]:$HM_CHAIN_INTERNET_PORT
" || return 1
}

# hm_chain_outbound true|false: change hopmilter's outbound.enabled and
# reload it (SIGUSR1); returns once the reload is logged.
hm_chain_outbound() {
	local n i
	n=$(grep -c 'reloaded ' "$HM_TMP/milter.log")
	HM_CHAIN_OUTBOUND=$1
	hm_chain_milter_conf
	kill -USR1 "$HM_MILTER_PID"
	for i in $(seq 1 50); do
		if [ "$(grep -c 'reloaded ' "$HM_TMP/milter.log")" -gt "$n" ]; then
			# hopmilter applies a reload to new SMTP sessions; a hoprelayd
			# connection kept open from before still has the old policy.
			# The documented step (hoprelayd(8)): reload the daemons.
			hm_chain_reload_relays
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# --- mail -------------------------------------------------------------------

# hm_chain_send_in MSGID CLIENT_IP FROM TO [SWAKS_ARGS...]: an internet
# client sends to the edge.
hm_chain_send_in() {
	local id=$1 ip=$2 from=$3 to=$4
	shift 4
	hm_swaks --server "127.0.0.1:$HM_CHAIN_MX_PORT" --xclient-addr "$(hm_xclient_addr "$ip")" \
		--helo mta.client.example --from "$from" --to "$to" --header "Message-Id: <$id>" "$@"
}

# hm_chain_send_out FROM TO [SWAKS_ARGS...]: a user's mail program on the
# core's LAN (192.168.7.20) submits to the core.
hm_chain_send_out() {
	local from=$1 to=$2
	shift 2
	hm_swaks --server "127.0.0.1:$HM_CHAIN_SUBMIT_PORT" --xclient-addr 192.168.7.20 \
		--xclient-name laptop.lan.example.com --helo laptop.lan.example.com --from "$from" --to "$to" "$@"
}

# hm_chain_send_sasl FROM TO [SWAKS_ARGS...]: a user's tablet on the LAN
# (192.168.7.21) submits to the core with SASL (alice).
hm_chain_send_sasl() {
	local from=$1 to=$2
	shift 2
	hm_swaks --server "127.0.0.1:$HM_CHAIN_SASL_PORT" --xclient-addr 192.168.7.21 \
		--xclient-name tablet.lan.example.com --helo tablet.lan.example.com \
		--auth PLAIN --auth-user alice --auth-password "$HM_CHAIN_SASL_PASS" --from "$from" --to "$to" "$@"
}

# hm_chain_sendmail FROM TO FILE: a program on the core hands FILE to the
# core's sendmail(1) (postdrop, pickup): no SMTP at all.
hm_chain_sendmail() {
	sendmail -C "$HM_TMP/core/etc" -i -f "$1" "$2" <"$3"
}

# hm_chain_reply: the first 4xx/5xx reply of the last dialogue, else the 250
# that queued the message.
hm_chain_reply() {
	local r
	r=$(grep -E '^ *<\*\* +[45][0-9][0-9] ' "$HM_TMP/swaks.out" | head -1 | sed -E 's/^ *<\*\* +//')
	[ -n "$r" ] || r=$(grep -E '^ *<- +250 .*queued' "$HM_TMP/swaks.out" | tail -1 | sed -E 's/^ *<- +//')
	printf '%s\n' "$r"
}

# hm_chain_mailbox_files MSGID: the core's maildir files holding it.
hm_chain_mailbox_files() {
	grep -rliF "Message-Id: <$1>" "$HM_TMP/core/mail" 2>/dev/null
}
# hm_chain_in_mailbox MSGID [SECONDS]: it was delivered at the core.
hm_chain_in_mailbox() {
	local i
	for i in $(seq 1 $((${2:-0} * 10 + 1))); do
		[ -n "$(hm_chain_mailbox_files "$1")" ] && return 0
		[ "${2:-0}" = 0 ] || sleep 0.1
	done
	return 1
}
# hm_chain_mailbox_message MSGID: the message as the core stored it.
hm_chain_mailbox_message() {
	local f
	f=$(hm_chain_mailbox_files "$1" | head -1)
	[ -n "$f" ] && cat "$f"
}

# hm_chain_seen NODE MSGID: NODE's Postfix took the message into its queue
# (its cleanup logged the Message-ID).
hm_chain_seen() { grep -qF "message-id=<$2>" "$HM_TMP/$1/maillog" 2>/dev/null; }
# hm_chain_queued NODE MSGID: the message waits in NODE's queue.
hm_chain_queued() {
	local q qids
	qids=$(grep -F "message-id=<$2>" "$HM_TMP/$1/maillog" 2>/dev/null |
		sed -nE 's/.*: ([0-9A-F]+): message-id=.*/\1/p')
	[ -n "$qids" ] || return 1
	q=$(postqueue -c "$HM_TMP/$1/etc" -p 2>/dev/null)
	for qid in $qids; do
		grep -qE "^$qid[*! ]" <<<"$q" && return 0
	done
	return 1
}

# hm_chain_wait_deferred NODE MSGID [SECONDS]: NODE tried to pass the
# message on, failed, and keeps it queued.
hm_chain_wait_deferred() {
	local i qid
	for i in $(seq 1 $((${3:-30} * 10))); do
		for qid in $(grep -F "message-id=<$2>" "$HM_TMP/$1/maillog" 2>/dev/null |
			sed -nE 's/.*: ([0-9A-F]+): message-id=.*/\1/p'); do
			grep -q " $qid: to=.*status=deferred" "$HM_TMP/$1/maillog" && hm_chain_queued "$1" "$2" && return 0
		done
		sleep 0.1
	done
	return 1
}

# hm_chain_where MSGID: where the message is now, one word per place:
# mailbox (the core delivered it), internet (the sink), queue:NODE; "-"
# when nowhere (refused before any queue took it).
hm_chain_where() {
	local w="" n
	hm_chain_in_mailbox "$1" && w="mailbox"
	hm_sink_has internet "$1" && w="$w${w:+ }internet"
	for n in "${HM_CHAIN_NODES[@]}"; do
		hm_chain_queued "$n" "$1" && w="$w${w:+ }queue:$n"
	done
	echo "${w:--}"
}
# hm_chain_path MSGID: the nodes whose Postfix took the message, in chain order.
hm_chain_path() {
	local p="" n
	for n in edge "${HM_CHAIN_HOPS[@]}" core; do
		hm_chain_seen "$n" "$1" && p="$p${p:+ }$n"
	done
	echo "${p:--}"
}
