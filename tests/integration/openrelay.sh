#!/bin/bash
# No open relay, through a real Postfix: from an internet address, RCPT to
# every kind of foreign destination is refused at the edge and nothing of
# it reaches the sink, while ordinary recipients (also quoted local parts,
# trailing dots, mixed case) are delivered.
#
# Two edges share one hopmilter:
# - "open": a Postfix that would relay anywhere (relay_domains =
#   static:ALL, allow_untrusted_routing = yes), so each refusal there is
#   hopmilter's own;
# - "shipped": the relay settings of postfix-conf/main.cf.edge, where
#   Postfix refuses some forms itself before the milter is asked
#   (reject_unauth_destination, allow_untrusted_routing = no); the log
#   says which layer refused what.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink swaks "$HOPMILTER"

sink_port=$(hm_free_port)
open_port=$(hm_free_port)
shipped_port=$(hm_free_port)
milter_port=$(hm_free_port)

hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
	'trusted_networks = {"10.200.0.0/24"}' \
	'allowed_domains = {"example.com", ".example.org"}'
hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
milter="smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port"
hm_postfix open "$open_port" "
relay_domains = static:ALL
allow_untrusted_routing = yes
smtpd_relay_restrictions = reject_unauth_destination
$milter" || exit 1
hm_postfix shipped "$shipped_port" "
relay_domains = example.com, example.org, .example.org
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
$milter" || exit 1
hm_check "the shipped edge keeps Postfix's default allow_untrusted_routing = no" \
	test "$(postconf -c "$HM_TMP/shipped/etc" -h allow_untrusted_routing)" = no

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
for edge in open shipped; do
	port=${edge}_port
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
			# On the open edge, hopmilter is the only guard.
			if [ "$edge" = open ]; then
				hm_check "open: $rcpt refused by hopmilter (unknown-rcpt-domain)" \
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
