#!/bin/bash
# No open relay, through a real Postfix: from an internet address, RCPT to
# every kind of foreign destination is refused at the edge and nothing of
# it reaches the sink, while ordinary recipients (also quoted local parts,
# trailing dots, mixed case) are delivered.
#
# Relay protection has no mode: the matrix runs against three hopmilters,
# one enforcing, one with dry_run = true, one with every check in shadow
# mode, and every foreign recipient gets 550 5.7.1 from all three.
#
# The edges:
# - "edge-MODE": the relay settings of postfix-conf/main.cf.edge as shipped
#   (relay_domains = static:ALL: Postfix would relay anywhere) plus
#   allow_untrusted_routing = yes, so each refusal there is hopmilter's own;
# - "listed": relay_domains listing the domains (the alternative main.cf.edge
#   describes), where Postfix refuses some forms itself before the milter is
#   asked (reject_unauth_destination, allow_untrusted_routing = no); the log
#   says which layer refused what.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink swaks "$HOPMILTER"

sink_port=$(hm_free_port)
listed_port=$(hm_free_port)
modes=(enforce dryrun shadow)
# mode_conf MODE: the config lines of that mode, in the array `extra`.
mode_conf() {
	case $1 in
	enforce) extra=() ;;
	dryrun) extra=('dry_run = true') ;;
	shadow) extra=('banned_domains_mode = shadow' 'spf { enabled = false  mode = shadow }'
		'ratelimit { mode = shadow  redis { host = "" } }') ;;
	esac
}
# The relay lines of the shipped main.cf.edge, as they are.
edge_relay=$(grep -E '^(relay_domains|smtpd_relay_restrictions) *=' "$HM_SRCDIR/postfix-conf/main.cf.edge")
hm_check "main.cf.edge sets relay_domains and smtpd_relay_restrictions" \
	test "$(printf '%s\n' "$edge_relay" | wc -l)" = 2

hm_start_sink sink "$sink_port"
for mode in "${modes[@]}"; do
	mport=$(hm_free_port)
	eval "${mode}_port=\$(hm_free_port)"
	mode_conf "$mode"
	hm_write_milter_conf "$HM_TMP/hopmilter-$mode.conf" "inet:$mport@127.0.0.1" \
		'trusted_networks = {"10.200.0.0/24"}' \
		'allowed_domains = {"example.com", ".example.org"}' \
		'banned_domains = {"evil.example"}' \
		"${extra[@]}"
	hm_start_milter "$HM_TMP/hopmilter-$mode.conf" "$HM_TMP/milter.log"
	eval "${mode}_pid=\$HM_MILTER_PID"
	milter="smtpd_milters = { inet:127.0.0.1:$mport, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port"
	[ "$mode" = enforce ] && enforce_milter=$milter
	port=${mode}_port
	hm_postfix "edge-$mode" "${!port}" "
$edge_relay
allow_untrusted_routing = yes
$milter" || exit 1
done
hm_postfix listed "$listed_port" "
relay_domains = example.com, example.org, .example.org
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
$enforce_milter" || exit 1
# main.cf.edge's "belt and braces" alternative says the listed relay_domains
# keep the edge closed even with the milter line removed: the same edge
# without any milter, delivering to a sink of its own.
nomilter_port=$(hm_free_port)
sink2_port=$(hm_free_port)
hm_start_sink sink2 "$sink2_port"
hm_postfix listed-nomilter "$nomilter_port" "
relay_domains = example.com, example.org, .example.org
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = smtp:[127.0.0.1]:$sink2_port
relay_transport = smtp:[127.0.0.1]:$sink2_port" || exit 1
hm_check "the listed edge keeps Postfix's default allow_untrusted_routing = no" \
	test "$(postconf -c "$HM_TMP/listed/etc" -h allow_untrusted_routing)" = no
hm_check "the shipped edge opens relay_domains (hopmilter is its relay check)" \
	test "$(postconf -c "$HM_TMP/edge-enforce/etc" -h relay_domains)" = static:ALL

# Each recipient form: "refused" or "delivered", then the address.
forms=(
	"refused|x@elsewhere.example"
	"refused|x@evilexample.com"
	"refused|x@example.com.elsewhere.example"
	"refused|x%elsewhere.example@example.com"
	"refused|x%elsewhere.example@sub.example.org"
	"refused|elsewhere.example!x@example.com"
	"refused|x@elsewhere.example@example.com"
	"refused|@example.com:x@elsewhere.example"
	"refused|@example.com,@example.org:x@elsewhere.example"
	"refused|x@[192.0.2.99]"
	"refused|x@xn--bcher-kva.example"
	"refused|x@bücher.example"
	"refused|x@EXAMPLE.COM.ELSEWHERE.EXAMPLE."
	"delivered|x@Example.COM."
	"refused|\"x%elsewhere.example\"@example.com"
	"refused|\"x@elsewhere.example\"@example.com"
	"delivered|\"x y\"@example.com"
	"delivered|x@Sub.Example.Org"
)
n=0
for edge in edge-enforce edge-dryrun edge-shadow listed; do
	port=${edge#edge-}_port
	for f in "${forms[@]}"; do
		want=${f%%|*} rcpt=${f#*|}
		n=$((n + 1))
		id="relay-$n-$edge@test"
		hm_swaks --server "127.0.0.1:${!port}" --xclient-addr 192.0.2.44 --from a@sender.example \
			--to "$rcpt" --header "Message-Id: <$id>"
		reply=$(grep -E '^ *<\*\* +5[0-9][0-9] ' "$HM_TMP/swaks.out" | head -1 | sed -E 's/^ *<\*\* +//')
		if [ "$want" = delivered ]; then
			hm_check "$edge: $rcpt accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
			good+=("$id")
		else
			hm_check "$edge: $rcpt refused with 5xx ($reply)" test -n "$reply"
			hm_check "$edge: $rcpt not queued" eval '! hm_reply_has "250 2\.0\.0 Ok: queued"'
			bad+=("$id")
			# On the open edges, hopmilter is the only guard, in every mode.
			if [ "$edge" != listed ]; then
				hm_check "$edge: $rcpt refused by hopmilter (unknown-rcpt-domain)" \
					eval '[[ $reply == "550 5.7.1 Recipient domain is not served here" ]] ||
						{ [[ $rcpt == *ü* ]] && [[ $reply == 5* ]]; }'
			fi
			case $reply in
			*"Recipient domain is not served here"*) layer=hopmilter ;;
			*) layer=Postfix ;;
			esac
			hm_log "$edge: $rcpt -> $layer: $reply"
		fi
	done
done

# The other half of relay protection: a trusted client (the VPN side)
# while outbound.enabled = false; and the ban, which does follow the mode.
for mode in "${modes[@]}"; do
	port=${mode}_port
	n=$((n + 1))
	hm_swaks --server "127.0.0.1:${!port}" --xclient-addr 10.200.0.5 --from core@example.com \
		--to x@elsewhere.example --header "Message-Id: <outbound-$n@test>"
	hm_check "edge-$mode: outbound while disabled refused 550 5.7.1" \
		hm_reply_has '550 5\.7\.1 Outbound mail is disabled on this relay'
	bad+=("outbound-$n@test")
	n=$((n + 1))
	hm_swaks --server "127.0.0.1:${!port}" --xclient-addr 192.0.2.45 --from a@evil.example \
		--to x@example.com --header "Message-Id: <banned-$n-$mode@test>"
	if [ "$mode" = enforce ]; then
		hm_check "edge-$mode: banned sender refused" hm_reply_has '550 5\.7\.1 Sender domain is banned here'
		bad+=("banned-$n-$mode@test")
	else
		hm_check "edge-$mode: banned sender passes (shadow)" hm_reply_has '250 2\.0\.0 Ok: queued'
		good+=("banned-$n-$mode@test")
	fi
done
# While a reload is in progress: SIGUSR1 to the dry-run milter every 50ms
# (at most 400 signals) while ten relay attempts go through its edge; each
# one meets either the old or the new policy, and both refuse.
reloads_before=$(grep -c 'reloaded ' "$HM_TMP/milter.log")
( for _ in $(seq 1 400); do kill -USR1 "$dryrun_pid" 2>/dev/null || exit 0; sleep 0.05; done ) &
usr1_loop=$!
hm_track "$usr1_loop"
refused=0
for i in $(seq 1 10); do
	hm_swaks --server "127.0.0.1:$dryrun_port" --xclient-addr 192.0.2.46 --from a@sender.example \
		--to "x$i@elsewhere.example" --header "Message-Id: <reload-$i@test>"
	hm_reply_has '550 5\.7\.1 Recipient domain is not served here' && refused=$((refused + 1))
	bad+=("reload-$i@test")
done
kill "$usr1_loop" 2>/dev/null
wait "$usr1_loop" 2>/dev/null
reloads=$(($(grep -c 'reloaded ' "$HM_TMP/milter.log") - reloads_before))
hm_log "$reloads reloads during the ten relay attempts"
hm_check "during reloads ($reloads): all ten relay attempts refused 550 5.7.1 ($refused)" \
	eval "[ $refused = 10 ] && [ $reloads -gt 0 ]"
hm_check "the first reload logged the dry run's totals (the banned sender it let through)" \
	grep -q 'shadow mode, until this reload: 1 decision(s) would have refused mail: banned-domain=1$' "$HM_TMP/milter.log"

hm_check "a shadow ban is logged WOULD-BLOCK" \
	grep -q 'WOULD-BLOCK reason=banned-domain action=reject ip=192\.0\.2\.45 ' "$HM_TMP/milter.log"
hm_check "no relay refusal is ever logged WOULD-BLOCK" \
	eval "! grep -E 'WOULD-BLOCK reason=(unknown-rcpt-domain|outbound-disabled)' '$HM_TMP/milter.log'"

# Postfix alone, with the listed domains: whatever it accepts is for one of
# them (swaks splits the two-hop source route at its comma; its first half,
# <@example.com>, is ""@example.com to Postfix).
for f in "${forms[@]}"; do
	rcpt=${f#*|}
	hm_swaks --server "127.0.0.1:$nomilter_port" --xclient-addr 192.0.2.44 --from a@sender.example \
		--to "$rcpt" --header "Message-Id: <nomilter@test>"
done
sleep 2
hm_check "no milter, listed relay_domains: mail reached the sink (the check can see it)" \
	eval "ls '$HM_TMP/sink-sink2'/m.* >/dev/null 2>&1"
hm_check "no milter, listed relay_domains: every recipient it let through is in a listed domain" \
	eval "! grep -h '^X-Rcpt-Args:' '$HM_TMP/sink-sink2'/m.* | grep -viE '^X-Rcpt-Args: <[^@%!]*@(example\.com|example\.org|[a-z0-9.-]+\.example\.org)>'"
grep -h '^X-Rcpt-Args:' "$HM_TMP/sink-sink2"/m.* 2>/dev/null | sed 's/^/    nomilter sink| /' >&2

for id in "${good[@]}"; do
	hm_check "$id delivered" hm_sink_wait sink "$id"
done
sleep 1
for id in "${bad[@]}"; do
	hm_check "$id never reached the sink" eval "! hm_sink_has sink $id"
done
hm_check "hopmilter logged its refusals with the address as sent" \
	grep -q 'BLOCKED reason=unknown-rcpt-domain action=reject ip=192\.0\.2\.44 .*to=<x%elsewhere\.example@example\.com>' \
	"$HM_TMP/milter.log"
hm_export_log "$HM_TMP/milter.log"
hm_done
