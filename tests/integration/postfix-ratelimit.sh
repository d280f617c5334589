#!/bin/bash
# The rate limit as an SMTP client sees it: a real Postfix with hopmilter,
# a real Redis, swaks presenting client addresses with XCLIENT.  The
# second message of a client within the limit's period gets
# "450 4.7.1 ... try again in N seconds" at MAIL FROM and never reaches
# the sink; another client and a trusted one are not affected; the log
# line is the fail2ban one.  (1 per hour: no refill during the test.)
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink swaks redis-server redis-cli "$HOPMILTER"

sink_port=$(hm_free_port) smtp_port=$(hm_free_port) milter_port=$(hm_free_port)
rport=$(hm_free_port)
hm_start_redis main "$rport" || { hm_fail "redis-server did not start"; hm_done; }

hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
	'log_level = debug' \
	'trusted_networks = {"10.200.0.0/24"}' "ratelimit {
	rate = 1  period = 1h  burst = 1
	redis { host = \"127.0.0.1\"  port = $rport }
}"
hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
hm_postfix edge "$smtp_port" "
relay_domains = example.com
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
" || exit 1
hm_check "hopmilter connected to Redis" hm_wait_grep "redis=up server=127\.0\.0\.1:$rport" "$HM_TMP/milter.log" 10

S="--server 127.0.0.1:$smtp_port"
hm_swaks $S --xclient-addr 198.51.100.77 --from a@sender.example --to bob@example.com \
	--header "Message-Id: <rl-1@test>"
hm_check "first message accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_swaks $S --xclient-addr 198.51.100.77 --from a@sender.example --to bob@example.com \
	--header "Message-Id: <rl-2@test>"
hm_check "second message: 450 4.7.1 with the retry-after hint" \
	hm_reply_has '450 4\.7\.1 Too many messages from your network, try again in 3[56][0-9][0-9] seconds'
hm_swaks $S --xclient-addr IPV6:2001:db8:7:7::1 --from a@sender.example --to bob@example.com \
	--header "Message-Id: <rl-3@test>"
hm_check "another client (IPv6) accepted" hm_reply_has '250 2\.0\.0 Ok: queued'
hm_swaks $S --xclient-addr IPV6:2001:db8:7:7::2 --from a@sender.example --to bob@example.com \
	--header "Message-Id: <rl-4@test>"
hm_check "same IPv6 /64: limited" hm_reply_has '450 4\.7\.1 Too many messages'
for i in 5 6; do
	hm_swaks $S --xclient-addr 10.200.0.9 --from core@example.com --to bob@example.com \
		--header "Message-Id: <rl-$i@test>"
	hm_check "trusted client never limited ($i)" hm_reply_has '250 2\.0\.0 Ok: queued'
done
hm_check "accepted mail reached the sink" hm_sink_wait sink rl-1@test
hm_check "limited mail never reached the sink" eval '! hm_sink_has sink rl-2@test && ! hm_sink_has sink rl-4@test'
hm_check "log: the fail2ban line" grep -qE \
	'NOQUEUE: BLOCKED reason=ratelimited action=tempfail ip=198\.51\.100\.77 from=<a@sender\.example>' "$HM_TMP/milter.log"
hm_check "log: Postfix shows the reply it sent" grep -q '450 4.7.1 Too many messages from your network' "$HM_TMP/edge/maillog"

hm_export_log "$HM_TMP/milter.log"
hm_done
