#!/bin/bash
# The shipped fail2ban filter against the log lines real test runs wrote
# (tests/logs/, filled by the miltertest and Postfix tests that run first):
# every BLOCKED line of a ban-worthy reason matches with exactly the client
# address of that line, and nothing else matches -- no ACCEPTED, no
# WOULD-BLOCK, no outbound-disabled, no injected text.
. "$(dirname "$0")/../lib/harness.sh"

hm_need fail2ban-regex
[ -f /etc/fail2ban/filter.d/common.conf ] || hm_skip "fail2ban's common.conf missing"

logdir=${HM_LOG_EXPORT_DIR:-$HM_BUILDDIR/tests/logs}
ls "$logdir"/*.log >/dev/null 2>&1 || { hm_fail "no logs in $logdir: run the whole suite (make check)"; hm_done; }

# The filter includes common.conf from its own directory, as in /etc/fail2ban.
mkdir -p "$HM_TMP/filter.d"
cp "$HM_SRCDIR/fail2ban/filter.d/hopmilter.conf" "$HM_TMP/filter.d/"
ln -s /etc/fail2ban/filter.d/common.conf "$HM_TMP/filter.d/common.conf"
filter=$HM_TMP/filter.d/hopmilter.conf

# Hostile additions: text a client controls, shaped to look like a
# refusal for somebody else's address, must not move the match.
cat "$logdir"/*.log >"$HM_TMP/all.log"
cat >>"$HM_TMP/all.log" <<'LINES'
2026-11-22T09:00:00.000001+00:00 vm hopmilter[1]: NOQUEUE: ACCEPTED ip=192.0.2.200 class=internet from=<x\x20BLOCKED\x20reason=spf-fail\x20action=reject\x20ip=203.0.113.66@a.example> to=<b@example.com> nrcpt=1 refused=0 scrubbed=0
2026-11-22T09:00:00.000002+00:00 vm hopmilter[1]: NOQUEUE: BLOCKED reason=banned-domain action=reject ip=192.0.2.201 from=<ip=203.0.113.67@evil.example> helo=ip=203.0.113.68
2026-11-22T09:00:00.000003+00:00 vm hopmilter[1]: NOQUEUE: WOULD-BLOCK reason=banned-domain action=reject ip=192.0.2.202 from=<a@evil.example> helo=x
Nov 22 09:00:01 vm hopmilter[1]: 4Xb9Z1: BLOCKED reason=ratelimited action=tempfail ip=2001:db8::77 from=<a@b.example> helo=x
Nov 22 09:00:02 vm hopmilter[1]: 4Xb9Z2: BLOCKED reason=outbound-disabled action=reject ip=10.200.0.3 from=<a@b.example> to=<c@d.example> helo=x
Nov 22 09:00:03 vm hopmilter[1]: 4Xb9Z3: BLOCKED reason=rcpt-ratelimited action=tempfail ip=192.0.2.203 from=<a@b.example> helo=x
Nov 22 09:00:04 vm hopmilter[1]: 4Xb9Z4: BLOCKED reason=outbound-ratelimited action=tempfail ip=10.200.0.4 from=<a@b.example> helo=x
Nov 22 09:00:05 vm hopmilter[1]: 4Xb9Z5: outbound limit reached by sasl=ip=203.0.113.69
LINES

# What must match: every BLOCKED line with a counted reason, its ip= field.
grep -E ': BLOCKED reason=(banned-domain|unknown-rcpt-domain|spf-fail) action=' "$HM_TMP/all.log" |
	sed -E 's/.* ip=([^ ]+).*/\1/' | sort >"$HM_TMP/want"
fail2ban-regex -o ip "$HM_TMP/all.log" "$filter" 2>"$HM_TMP/f2b.err" | sort >"$HM_TMP/got"

hm_log "$(wc -l <"$HM_TMP/all.log") log lines, $(wc -l <"$HM_TMP/want") refusals to match, $(wc -l <"$HM_TMP/got") matched"
hm_check "filter loads without error" test ! -s "$HM_TMP/f2b.err"
hm_check "there are refusals to match" test -s "$HM_TMP/want"
hm_check "both IPv4 and IPv6 refusals present" eval 'grep -q : "$HM_TMP/want" && grep -q "^[0-9.]*$" "$HM_TMP/want"'
if hm_check "every refusal matched with its own address, nothing else matched" cmp -s "$HM_TMP/want" "$HM_TMP/got"; then :; else
	diff "$HM_TMP/want" "$HM_TMP/got" | head -20 >&2
fi
hm_check "injected address never matched" eval '! grep -qE "203\.0\.113\.6[678]|192\.0\.2\.20[02]|10\.200\.0\.3" "$HM_TMP/got"'
hm_check "the hostile BLOCKED line matched its real client" grep -qx 192.0.2.201 "$HM_TMP/got"
hm_check "no rate-limit deferral matched by the default filter" eval '! grep -qE "^(2001:db8::77|192\.0\.2\.203)$" "$HM_TMP/got"'

# The separate rate-limit jail: exactly the deferrals of internet clients.
cp "$HM_SRCDIR/fail2ban/filter.d/hopmilter-ratelimit.conf" "$HM_TMP/filter.d/"
grep -E ': BLOCKED reason=(ratelimited|rcpt-ratelimited) action=tempfail ' "$HM_TMP/all.log" |
	sed -E 's/.* ip=([^ ]+).*/\1/' | sort >"$HM_TMP/want-rl"
fail2ban-regex -o ip "$HM_TMP/all.log" "$HM_TMP/filter.d/hopmilter-ratelimit.conf" 2>>"$HM_TMP/f2b.err" |
	sort >"$HM_TMP/got-rl"
hm_log "rate-limit filter: $(wc -l <"$HM_TMP/want-rl") deferrals to match, $(wc -l <"$HM_TMP/got-rl") matched"
hm_check "rate-limit filter loads without error" test ! -s "$HM_TMP/f2b.err"
hm_check "rate-limit filter: every deferral with its address, nothing else" cmp -s "$HM_TMP/want-rl" "$HM_TMP/got-rl"
hm_check "rate-limit filter: both kinds present" eval 'grep -qx 2001:db8::77 "$HM_TMP/got-rl" && grep -qx 192.0.2.203 "$HM_TMP/got-rl"'
hm_check "neither filter matches the core's outbound deferral" \
	eval '! grep -qE "^10\.200\.0\.4$|203\.0\.113\.69" "$HM_TMP/got" "$HM_TMP/got-rl"'
hm_done
