#!/bin/bash
# hopmilter under a real Sendmail built from the shipped
# sendmail-conf/hopmilter.mc: the same refusals and replies as under
# Postfix (the rate limit counted in Redis), Sendmail's queue ids in the
# log, and F=T turning an unreachable filter into a temporary failure.
# A second filter in the same Sendmail (tests/bench/noop -m, standing for
# OpenDKIM or OpenDMARC) still gets Sendmail's default macros: the shipped
# snippet adds to the macro lists instead of replacing them.
# Accepted mail leaves through the shipped hoprelay mailer
# (sendmail-conf/hoprelay.mc, mailertable.hoprelay): hoprelay carries it
# with TLS and a pinned key to a next-hop Postfix, which hands it to a sink.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/sendmail-instance.sh"

hm_need_sendmail
NOOP=$HM_BUILDDIR/tests/bench/noop
hm_need swaks smtp-sink postfix openssl redis-server "$HOPMILTER" "$HOPRELAY" "$NOOP"
[ -x "$HM_SENDMAIL_CACHE/root/usr/sbin/makemap" ] || hm_skip "no makemap in $HM_SENDMAIL_CACHE (run tools/deps)"

sink_port=$(hm_free_port)
mta_port=$(hm_free_port)
milter_port=$(hm_free_port)
redis_port=$(hm_free_port)
hop_port=$(hm_free_port)
noop_port=$(hm_free_port)

# Sendmail cannot present chosen client addresses the way XCLIENT does, so
# the clients connect from distinct loopback addresses: 127.0.0.2 plays the
# VPN side (trusted), 127.0.0.7, 127.0.0.9 and ::1 the internet.
hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
	'trusted_networks = {"127.0.0.2/32"}' \
	'allowed_domains = {"example.com", ".example.org"}' \
	'banned_domains = {"evil.example"}' "ratelimit {
	rate = 3  period = 1m  burst = 3
	redis { host = \"127.0.0.1\"  port = $redis_port }
}"

# The next hop: a Postfix that demands TLS, as master.cf.hop does.
pki=$HM_TMP/pki
hm_ca ca && hm_cert ca hop hop.test.invalid || { hm_fail "making certificates"; hm_done; }
cat >"$HM_TMP/hoprelay.conf" <<EOF
route core {
	hops = {"127.0.0.1:$hop_port"}
	pins = {"$(hm_pin "$pki/hop.crt")"}
	server_name = "hop.test.invalid"
}
EOF
chmod 0644 "$HM_TMP/hoprelay.conf"
hm_start_sink sink "$sink_port"
hm_postfix hop "$hop_port" "
smtpd_tls_security_level = encrypt
smtpd_tls_loglevel = 1
smtpd_tls_chain_files = $pki/hop.key, $pki/hop.crt
relay_domains = example.com, example.org
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
" || exit 1

# The shipped mailer and mailertable, pointed at the built hoprelay, this
# test's hoprelay.conf and a map in the instance's directory.
d=$HM_TMP/mx
mkdir -p "$d"
sed -e "s|hash -o /etc/mail/mailertable|hash -o $d/mailertable|" \
	-e "s|P=/usr/local/sbin/hoprelay|P=$HOPRELAY|" -e "s|A=hoprelay -q|A=hoprelay -c $HM_TMP/hoprelay.conf -q|" \
	"$HM_SRCDIR/sendmail-conf/hoprelay.mc" >"$HM_TMP/hoprelay.mc"
hm_log "hoprelay.mc under test:"; grep -v '^dnl' "$HM_TMP/hoprelay.mc" >&2
hm_check "the shipped mailer was adapted" grep -q "P=$HOPRELAY, .*" "$HM_TMP/hoprelay.mc"
grep -v '^#' "$HM_SRCDIR/sendmail-conf/mailertable.hoprelay" >"$d/mailertable"
# makemap reads a sendmail.cf only for TrustedUser; an empty one will do.
: >"$d/makemap.cf"
hm_check "makemap builds the shipped mailertable" \
	"$HM_SENDMAIL_CACHE/root/usr/sbin/makemap" -C "$d/makemap.cf" hash "$d/mailertable" <"$d/mailertable"

# The snippet appends: a list an earlier line (another milter's snippet)
# set is kept, and Sendmail's defaults survive where nothing set them.
cf=$HM_SENDMAIL_CACHE/root/usr/share/sendmail/cf
{
	echo "include(\`$cf/m4/cf.m4')dnl"
	echo "OSTYPE(\`linux')dnl"
	echo "define(\`confMILTER_MACROS_EOM', defn(\`confMILTER_MACROS_EOM')\`, {other_milter}')dnl"
	cat "$HM_SRCDIR/sendmail-conf/hopmilter.mc"
	echo "MAILER(\`smtp')dnl"
} >"$HM_TMP/macros.mc"
m4 "$HM_TMP/macros.mc" 2>&1 | grep '^O Milter\.macros' >"$HM_TMP/macros.cf"
sed 's/^/    macros| /' "$HM_TMP/macros.cf" >&2
hm_check "macros: an earlier line's addition is kept, i appended (eom)" \
	grep -qx 'O Milter.macros.eom={msg_id}, {other_milter}, i' "$HM_TMP/macros.cf"
hm_check "macros: Sendmail's default lists kept, i appended (envrcpt)" \
	grep -qx 'O Milter.macros.envrcpt={rcpt_mailer}, {rcpt_host}, {rcpt_addr}, i' "$HM_TMP/macros.cf"
hm_check "macros: the defaults carry what hopmilter reads at MAIL (i, {auth_authen}); CONNECT keeps them and gets {client_name} {client_resolve}" eval \
	'grep -q "^O Milter.macros.envfrom=i, .*{auth_authen}.*{mail_addr}" "$HM_TMP/macros.cf" &&
	grep -q "^O Milter.macros.connect=j, _, {daemon_name}, {if_name}, {if_addr}, {client_name}, {client_resolve}$" "$HM_TMP/macros.cf"'

hm_start_redis rl "$redis_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
"$NOOP" -m '{mail_addr}' -m '{msg_id}' -m i "inet:$noop_port@127.0.0.1" \
	>"$HM_TMP/noop.log" 2>&1 </dev/null &
hm_track $!
hm_wait_port 127.0.0.1 "$noop_port" || hm_fail "the second filter did not start"
# The scratch directory is under /tmp, which Sendmail calls unsafe for maps.
hm_sendmail mx "$mta_port" "inet:$milter_port@127.0.0.1" "$sink_port" 127.0.0.1 \
	"define(\`confDONT_BLAME_SENDMAIL', \`MapInUnsafeDirPath')dnl
INPUT_MAIL_FILTER(\`second', \`S=inet:$noop_port@127.0.0.1, F=T')dnl
$(cat "$HM_TMP/hoprelay.mc")" ||
	{ hm_fail "sendmail did not start"; hm_done; }
mx6_port=$(hm_free_port)
hm_sendmail mx6 "$mx6_port" "inet:$milter_port@127.0.0.1" "$sink_port" ::1 || hm_fail "sendmail on ::1 did not start"

S="--server 127.0.0.1:$mta_port"
hm_swaks $S --local-interface 127.0.0.7 --from spam@mail.evil.example --to bob@example.com \
	--header "Message-Id: <sm-banned@test>"
hm_check "banned sender: 550 5.7.1" hm_reply_has '550 5\.7\.1 .*Sender domain is banned here'

hm_swaks $S --local-interface 127.0.0.7 --from alice@sender.example \
	--to bob@example.com,carol@other.example --header "Message-Id: <sm-good@test>"
hm_check "foreign recipient: 550 5.7.1 for that one" hm_reply_has '550 5\.7\.1 .*Recipient domain is not served here'
hm_check "the message is accepted for the rest" hm_reply_has '250 2\.0\.0 .*Message accepted for delivery'

hm_swaks $S --local-interface 127.0.0.2 --from core@example.com --to friend@outside.example \
	--header "Message-Id: <sm-outbound@test>"
hm_check "trusted side, outbound disabled: 550 5.7.1" hm_reply_has '550 5\.7\.1 .*Outbound mail is disabled'

# Rate limit: 3 a minute; the fourth message gets Postfix's reply (Sendmail
# puts the address in front of the text).
for i in 1 2 3 4; do
	hm_swaks $S --local-interface 127.0.0.9 --from alice@sender.example --to bob@example.com \
		--header "Message-Id: <sm-rl$i@test>"
	if [ "$i" -le 3 ]; then
		hm_check "rate limit: message $i accepted" hm_reply_has '250 2\.0\.0 .*Message accepted for delivery'
	else
		hm_check "rate limit: message 4 refused with 450 4.7.1 (as under Postfix)" \
			hm_reply_has '450 4\.7\.1 .*Too many messages from your network, try again in [0-9]+ seconds'
	fi
done
hm_check "rate limit: counted in Redis" eval 'hm_redis "$redis_port" --scan --pattern "hopmilter:*" | grep -q "127\.0\.0\.9"'

hm_check "good mail: carried by hoprelay to the next hop and on to the sink" hm_sink_wait sink sm-good@test 40
hm_check "good mail: the hop took it over TLS from hoprelay" eval \
	'hm_sink_message sink sm-good@test | grep -qE "by hop\.test\.invalid \(Postfix\) with ESMTPS"'
hm_check "good mail: the hop logged the TLS session from hoprelay" grep -qE \
	'TLS connection established from [^ ]*\[127\.0\.0\.1\]' "$HM_TMP/hop/maillog"
hm_check "rate-limited messages: the three accepted ones arrived" eval \
	'hm_sink_wait sink sm-rl1@test 40 && hm_sink_wait sink sm-rl2@test 40 && hm_sink_wait sink sm-rl3@test 40'
hm_check "refused mail never relayed" eval '! hm_sink_has sink sm-banned@test && ! hm_sink_has sink sm-outbound@test &&
	! hm_sink_has sink sm-rl4@test'

# Both filters got their macros for the good message.
nl=$HM_TMP/noop.log
# ({if_addr}, the CONNECT default the old snippet dropped, is never set for
# loopback connections, so MAIL and end of message tell here.)
hm_check "second filter: {mail_addr} at MAIL (a Sendmail default)" grep -qx 'noop: envfrom {mail_addr}=alice@sender.example' "$nl"
hm_check "second filter: {msg_id} at end of message (a Sendmail default)" grep -qE '^noop: eom \{msg_id\}=<?sm-good@test>?$' "$nl"
hm_check "second filter: the queue id hopmilter added at RCPT and end of message" eval \
	'grep -qE "^noop: envrcpt i=[0-9A-Za-z]{14}$" "$nl" && grep -qE "^noop: eom i=[0-9A-Za-z]{14}$" "$nl"'
hm_check "hopmilter: Sendmail's queue id at end of message (ACCEPTED)" grep -qE \
	'[0-9A-Za-z]{14}: ACCEPTED ip=127\.0\.0\.7 ' "$HM_TMP/milter.log"

log=$HM_TMP/milter.log
# Sendmail gives the queue id already at MAIL FROM.
hm_check "log: banned-domain with Sendmail's queue id" grep -qE \
	'[0-9A-Za-z]{14}: BLOCKED reason=banned-domain action=reject ip=127\.0\.0\.7 from=<spam@mail\.evil\.example>' "$log"
hm_check "log: unknown-rcpt-domain" grep -qE \
	'BLOCKED reason=unknown-rcpt-domain action=reject ip=127\.0\.0\.7 from=<alice@sender\.example> to=<carol@other\.example>' "$log"
hm_check "log: outbound-disabled for the trusted peer" grep -qE \
	'BLOCKED reason=outbound-disabled action=reject ip=127\.0\.0\.2 ' "$log"
hm_check "log: ACCEPTED" grep -qE \
	'ACCEPTED ip=127\.0\.0\.7 class=internet from=<alice@sender\.example> to=<bob@example\.com> nrcpt=1 refused=1' "$log"
hm_check "log: ratelimited with the client's address" grep -qE \
	'BLOCKED reason=ratelimited action=tempfail ip=127\.0\.0\.9 from=<alice@sender\.example>' "$log"

# An IPv6 client (::1 is not trusted here).
hm_swaks --server "[::1]:$mx6_port" --from x@evil.example --to bob@example.com \
	--header "Message-Id: <sm-banned6@test>"
hm_check "IPv6 client, banned sender: 550 5.7.1" hm_reply_has '550 5\.7\.1 .*Sender domain is banned here'
hm_check "log: IPv6 client address unwrapped and compressed" grep -qE \
	'BLOCKED reason=banned-domain action=reject ip=::1 from=<x@evil\.example>' "$log"

# F=T: with hopmilter gone, Sendmail answers with a temporary failure and
# accepts nothing unchecked.
hm_export_log "$log"
kill -TERM "$HM_MILTER_PID"
hm_wait_exit "$HM_MILTER_PID" 100
hm_swaks $S --local-interface 127.0.0.7 --from alice@sender.example --to bob@example.com \
	--header "Message-Id: <sm-milterdown@test>"
hm_check "filter down: 4xx temporary failure (F=T)" hm_reply_has '4[0-9][0-9] 4\.[0-9]\.[0-9]'
sleep 2
hm_check "filter down: nothing accepted unchecked" eval '! hm_sink_has sink sm-milterdown@test'
hm_done
