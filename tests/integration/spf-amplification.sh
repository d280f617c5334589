#!/bin/bash
# DNS amplification through SPF, counted at the DNS server: the real
# hopmilter under miltertest asks a DNS server of this test's own
# (tests/lib/dnsstub.py in zone mode, on a loopback address, made visible
# to hopmilter alone through a private /etc/resolv.conf) about sender
# domains whose records are deep or wide include, redirect, void and MX
# trees.  For each MAIL FROM the queries the server received are counted
# from its own log, not from hopmilter's code: at most the RFC 7208
# section 4.6.4 budget (10 DNS-querying terms, their MX names) plus the
# initial TXT lookup; the verdict is permerror (configured to reject, so
# it is the SMTP reply that shows it); the reply comes within the SPF
# timeout.  The HELO is an address literal, so only MAIL FROM is checked.
. "$(dirname "$0")/../lib/harness.sh"
. "$HM_LIBDIR/spfdns.sh"

hm_need_root
hm_need miltertest unshare "$HOPMILTER"
py=$(command -v /usr/bin/python3 || command -v python3) || hm_skip "python3 not installed"

zone=$HM_TMP/zone
qlog=$HM_TMP/queries.log
: >"$zone"
: >"$qlog"
z() { printf '%s %s %s\n' "$1" "$2" "$3" >>"$zone"; }

# 1. includes 30 deep (libspf2 alone follows 20).
z deepinc.example TXT "v=spf1 include:i1.deepinc.example -all"
for i in $(seq 1 29); do z "i$i.deepinc.example" TXT "v=spf1 include:i$((i + 1)).deepinc.example -all"; done
z i30.deepinc.example TXT "v=spf1 +all"
# 2. a three-level tree: 10 includes, each of 10 includes, each of 10 a: terms
#    whose names exist (no void lookups), all at a third party.  libspf2 alone
#    makes 1111 queries for it here (1000 to victim.example) and says "fail".
root="v=spf1"
for i in $(seq 1 10); do
	root="$root include:w$i.wide.example"
	rec="v=spf1"
	for j in $(seq 1 10); do
		rec="$rec include:x$j.w$i.wide.example"
		leaf="v=spf1"
		for k in $(seq 1 10); do
			leaf="$leaf a:h$k.x$j.w$i.victim.example"
			z "h$k.x$j.w$i.victim.example" A 203.0.113.99
		done
		z "x$j.w$i.wide.example" TXT "$leaf -all"
	done
	z "w$i.wide.example" TXT "$rec -all"
done
z wide.example TXT "$root -all"
# 3. redirects 30 deep.
z redir.example TXT "v=spf1 redirect=r1.redir.example"
for i in $(seq 1 29); do z "r$i.redir.example" TXT "v=spf1 redirect=r$((i + 1)).redir.example"; done
z r30.redir.example TXT "v=spf1 +all"
# 4. twenty void lookups (names that do not exist), then +all.
rec="v=spf1"
for i in $(seq 1 20); do rec="$rec a:n$i.void.example"; done
z void.example TXT "$rec +all"
# 5. twelve mx terms of 10 names each: 10 x (1 + 10) lookups are allowed, the 11th mx is not.
rec="v=spf1"
for i in $(seq 1 12); do
	rec="$rec mx:m$i.mxtree.example"
	for j in $(seq 1 10); do
		z "m$i.mxtree.example" MX "$j h$j.m$i.mxtree.example"
		z "h$j.m$i.mxtree.example" A 203.0.113.98
	done
done
z mxtree.example TXT "$rec +all"
# 6. a mix: an include whose record redirects into a void-and-include tree.
z mix.example TXT "v=spf1 include:a.mix.example include:b.mix.example ?all"
z a.mix.example TXT "v=spf1 redirect=c.mix.example"
z c.mix.example TXT "v=spf1 a:nx1.mix.example include:d.mix.example -all"
z d.mix.example TXT "v=spf1 a:nx2.mix.example include:deepinc.example -all"
z b.mix.example TXT "v=spf1 +all"

dns=$(hm_free_dns_addr)
"$py" "$HM_DNSSTUB" "$dns" 53 zone "$zone" "$qlog" &
hm_track $!
hm_wait_udp "$dns" 53 || { hm_fail "zone server did not start"; hm_done; }
printf 'nameserver %s\noptions attempts:1\n' "$dns" >"$HM_TMP/resolv.conf"
chmod 0644 "$HM_TMP/resolv.conf" "$zone"

timeout_s=5
export HOPMILTER HM_LUA_LIB="$HM_LIBDIR/../miltertest/common.lua" HM_USER=nobody
# domain : the most queries RFC 7208 allows for it (initial TXT + 10 terms + MX names)
for t in deepinc.example:11 wide.example:11 redir.example:11 void.example:4 mxtree.example:111 \
	mix.example:11; do
	dom=${t%%:*}
	max=${t##*:}
	dir=$HM_TMP/${dom%%.*}
	mkdir -p "$dir"
	cat >"$dir/t.lua" <<LUA
dofile(os.getenv("HM_LUA_LIB"))
hm.start([[
authserv_id = "mx.test.invalid"
allowed_domains = {"example.com"}
spf { dns_timeout = 2s  timeout = ${timeout_s}s  permerror = reject }
ratelimit { enabled = false }
]])
local c = hm.client("192.0.2.7", "[192.0.2.7]")
local t0 = os.time()
hm.mail(c, "<alice@$dom>", SMFIR_REPLYCODE, "$dom: MAIL refused")
local dt = os.time() - t0
print("$dom: MAIL answered after " .. dt .. "s (whole seconds)")
hm.check(dt <= ${timeout_s}, "$dom: MAIL answered within the SPF timeout of ${timeout_s}s")
hm.log_has("BLOCKED reason=spf%-permerror ", "$dom: spf-permerror")
mt.disconnect(c)
LUA
	before=$(wc -l <"$qlog")
	t0=$(date +%s%N)
	(cd "$dir" && HM_TMP=$dir hm_in_resolv "$HM_TMP/resolv.conf" miltertest -s "$dir/t.lua") \
		>"$dir/mt.out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	sed 's/^/    mt| /' "$dir/mt.out" >&2
	[ "$rc" = 0 ] || sed 's/^/    milter| /' "$dir/milter.log" >&2
	n=$(tail -n +"$((before + 1))" "$qlog" | wc -l)
	tail -n +"$((before + 1))" "$qlog" | awk '{print $1}' | sort | uniq -c | tr '\n' ' ' |
		sed "s/^/    $dom: queries by type: /" >&2
	echo >&2
	hm_log "$dom: $n queries at the server (RFC budget $max); $(grep -o 'MAIL answered after [0-9]*s' "$dir/mt.out"); whole miltertest run ${ms}ms"
	hm_check "$dom: permerror, MAIL refused within ${timeout_s}s (exit $rc)" test "$rc" = 0
	hm_check "$dom: $n queries at the server <= $max" test "$n" -le "$max"
	hm_check "$dom: the SPF deadline did not decide" eval '! grep -q "deadline=yes" "$dir/milter.log"'
done
# The counts must come from the server: it saw the first lookup of every tree.
hm_check "the server logged the trees' TXT lookups" grep -q '^TXT deepinc.example$' "$qlog"
hm_done
