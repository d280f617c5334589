#!/bin/bash
# Domains compared as domains, through a real Postfix with
# smtputf8_enable = yes: senders and recipients written with U-labels
# (MAIL FROM ... SMTPUTF8) or A-labels, in mixed case, with trailing dots,
# meet the ban list and allowed_domains in one form (IDNA2008 A-labels).
# The config lists some domains as U-labels and some as A-labels.  An
# invalid IDN label matches no allowed domain (550 5.7.1, unknown) and
# does not get a sender out from under a ban.
#
#   smtputf8.py --XCLIENT--> edge Postfix (relay_domains = static:ALL) + hopmilter --> smtp-sink
#
# smtp-sink offers no SMTPUTF8, so only the messages with an ASCII
# envelope are followed to it; the others are judged by the edge's reply.
# Postfix itself refuses some malformed UTF-8 names (501) before the
# milter sees them: those count as refused either way.
. "$(dirname "$0")/../lib/harness.sh"

hm_need_root
hm_need postfix smtp-sink python3 "$HOPMILTER"

sink_port=$(hm_free_port)
edge_port=$(hm_free_port)
milter_port=$(hm_free_port)

hm_write_milter_conf "$HM_TMP/hopmilter.conf" "inet:$milter_port@127.0.0.1" \
	'trusted_networks = {"10.200.0.0/24"}' \
	'allowed_domains = {"xn--mnchen-3ya.example", ".bücher.example", "Example.COM."}' \
	'banned_domains = {"exämple.test", "XN--VIL-IMA.example"}'
hm_check "the config with U-labels and A-labels is valid" "$HOPMILTER" -n -c "$HM_TMP/hopmilter.conf"
hm_start_sink sink "$sink_port"
hm_start_milter "$HM_TMP/hopmilter.conf"
hm_postfix edge "$edge_port" "
smtputf8_enable = yes
relay_domains = static:ALL
smtpd_relay_restrictions = reject_unauth_destination
default_transport = smtp:[127.0.0.1]:$sink_port
relay_transport = smtp:[127.0.0.1]:$sink_port
smtpd_milters = { inet:127.0.0.1:$milter_port, default_action=tempfail, command_timeout=10s }
milter_default_action = tempfail
" || exit 1

# One SMTP session per message: prints "MAIL <code>", "RCPT <code>", "DATA <code>".
cat >"$HM_TMP/smtputf8.py" <<'PY'
import smtplib, sys
port, client, sender, rcpt, msgid = sys.argv[1:6]
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.ehlo("client.example")
s.docmd("XCLIENT", "ADDR=" + client)
s.ehlo("client.example")
utf8 = any(ord(c) > 127 for c in sender + rcpt)
code, text = s.mail(sender, ["SMTPUTF8"] if utf8 else [])
print("MAIL", code, text.decode("utf-8", "replace"))
if code == 250:
    code, text = s.rcpt(rcpt)
    print("RCPT", code, text.decode("utf-8", "replace"))
    if code == 250:
        msg = "Message-Id: <%s>\r\nSubject: idn\r\n\r\nbody\r\n" % msgid
        code, text = s.data(msg.encode("utf-8"))
        print("DATA", code, text.decode("utf-8", "replace"))
s.quit()
PY
n=0
# try SENDER RCPT: one message; the replies land in $HM_TMP/last.
try() {
	n=$((n + 1))
	id="idn-$n@test"
	python3 "$HM_TMP/smtputf8.py" "$edge_port" 192.0.2.44 "$1" "$2" "$id" >"$HM_TMP/last" 2>&1
	sed "s/^/    smtp $n| /" "$HM_TMP/last" >&2
}

# Senders against banned_domains = {"exämple.test" (U-label), "xn--vil-ima.example" (A-label)}.
for from in "u@exämple.test" "u@EXÄMPLE.TEST." "u@xn--exmple-cua.test" "u@XN--EXMPLE-CUA.Test." \
	"u@mx.exämple.test" "u@xn--zz.exämple.test" "u@xn--zz.xn--exmple-cua.test" \
	"u@ëvil.example" "u@ËVIL.EXAMPLE." "u@mx.xn--vil-ima.example" "u@☺.xn--vil-ima.example"; do
	try "$from" x@example.com
	hm_check "sender $from banned: 550 5.7.1 (or Postfix's 501)" \
		grep -qE '^MAIL (550 5.7.1 Sender domain is banned here|501 5.1.7 Bad sender address syntax)' "$HM_TMP/last"
done
try "u@sender.example" x@example.com
hm_check "an ordinary sender passes" grep -q '^DATA 250 ' "$HM_TMP/last"
good=("idn-$n@test")
try "u@münchen.test" x@example.com
hm_check "a U-label sender not banned passes (SMTPUTF8)" grep -q '^DATA 250 ' "$HM_TMP/last"

# Recipients against allowed_domains = {"xn--mnchen-3ya.example" (A),
# ".bücher.example" (U, with subdomains), "Example.COM." (case, dot)}.
for rcpt in "x@münchen.example" "x@MÜNCHEN.Example." "x@xn--mnchen-3ya.example" "x@XN--MNCHEN-3YA.EXAMPLE." \
	"x@bücher.example" "x@sub.BÜCHER.example." "x@xn--bcher-kva.example" "x@Sub.XN--BCHER-KVA.Example" \
	"x@example.com" "x@EXAMPLE.com."; do
	try "u@sender.example" "$rcpt"
	hm_check "recipient $rcpt accepted and queued" grep -q '^DATA 250 ' "$HM_TMP/last"
	LC_ALL=C grep -q $'[\x80-\xff]' <<<"$rcpt" || good+=("idn-$n@test")
done
for rcpt in "x@xn--zz.bücher.example" "x@xn--zz.xn--bcher-kva.example" "x@☺.bücher.example" \
	"x@xn--mnchen-3yb.example" "x@münchen.example。elsewhere.example" "x@münchen.examplé" \
	"x@xn--ls8h.example.com" "x@bücher.example.elsewhere.example"; do
	try "u@sender.example" "$rcpt"
	hm_check "recipient $rcpt refused as unknown: 550 5.7.1 (or Postfix's 501)" \
		grep -qE '^RCPT (550 5.7.1 Recipient domain is not served here|501 5.1.3 Bad recipient address syntax)' "$HM_TMP/last"
done

for id in "${good[@]}"; do
	hm_check "$id delivered" hm_sink_wait sink "$id"
done
hm_check "hopmilter is still running (no crash on any of it)" kill -0 "$HM_MILTER_PID"
hm_check "hopmilter itself refused invalid IDN recipients (not only Postfix)" \
	grep -q 'BLOCKED reason=unknown-rcpt-domain .*to=<x@xn--zz\.xn--bcher-kva\.example>' "$HM_TMP/milter.log"
hm_check "hopmilter itself banned an invalid IDN label below a ban" \
	grep -q 'BLOCKED reason=banned-domain .*from=<u@xn--zz\.xn--exmple-cua\.test>' "$HM_TMP/milter.log"
hm_check "the U-label sender is logged escaped, no raw 8-bit in the log" \
	eval "! LC_ALL=C grep -q \$'[\\x80-\\xff]' '$HM_TMP/milter.log'"
hm_export_log "$HM_TMP/milter.log"
hm_done
