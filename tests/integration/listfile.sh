#!/bin/bash
# Lists kept in files ("file:/path" entries, lib/listfile.h): 100 000
# banned and 100 000 allowed domains, and 100 000 rate-limit exempt
# networks (IPv4 hosts with a gap between each two, IPv6 /64s likewise),
# load and match; a broken list file is
# reported as LISTFILE:LINE at start-up (exit 78) and on reload, where the
# running configuration stays; a good edit takes effect on SIGUSR1.
#
# Timings are printed, never asserted (the machine is shared): the load
# time of the lists (hopmilter -n, median of three, against the same
# configuration with one-line lists) and the per-message cost (one
# session of 300 messages, median of three, against one-line lists).
. "$(dirname "$0")/../lib/harness.sh"

hm_need miltertest "$HOPMILTER"
client=$HM_SRCDIR/tests/miltertest/rl-envelope.lua
N=100000
mkdir -p "$HM_TMP/lists"
chmod 0755 "$HM_TMP/lists"

# Banned: d1..dN.ban.example (every entry covers its subdomains), with the
# comments and blank lines an admin writes.
{
	echo "# banned sender domains, one per line"
	echo
	seq 1 $N | sed 's/.*/d&.ban.example/'
	echo "  Trailing.Example.  # case, a trailing dot, blanks and a comment"
} >"$HM_TMP/lists/banned.txt"
# Allowed: a1..aN.ok.example, and .sub.ok.example for its subdomains.
{ seq 1 $N | sed 's/.*/a&.ok.example/'; echo ".sub.ok.example"; echo "example.com"; } >"$HM_TMP/lists/allowed.txt"
echo "d1.ban.example" >"$HM_TMP/lists/banned1.txt"
echo "example.com" >"$HM_TMP/lists/allowed1.txt"
echo "# exempt" >"$HM_TMP/lists/exempt1.txt"
echo "198.18.0.0/24" >>"$HM_TMP/lists/exempt1.txt"
# Exempt: 75 000 IPv4 hosts 10.0.0.0, 10.0.0.2, ... 10.2.73.238 (every
# other address, so none merge) and 25 000 IPv6 networks 2001:db8:0:0::/64,
# 2001:db8:0:2::/64, ... 2001:db8:0:c34e::/64, in a shuffled order, with a
# duplicate and a v4-mapped spelling.
{
	echo "# exempt networks"
	awk -v n=$((N * 3 / 4)) 'BEGIN { for (i = 0; i < n; i++) { a = 2 * i;
		printf "10.%d.%d.%d\n", int(a / 65536), int(a / 256) % 256, a % 256 } }'
	awk -v n=$((N / 4)) 'BEGIN { for (i = 0; i < n; i++) printf "2001:db8:0:%x::/64\n", 2 * i }'
} | shuf --random-source=<(yes) >"$HM_TMP/lists/exempt.txt"
echo "10.0.0.2" >>"$HM_TMP/lists/exempt.txt"
echo "::ffff:198.18.0.0/120" >>"$HM_TMP/lists/exempt.txt"
chmod 0644 "$HM_TMP"/lists/*

conf() { # conf FILE BANNED ALLOWED EXEMPT
	hm_write_milter_conf "$1" "unix:$HM_TMP/milter.sock" 'log_level = debug' \
		"banned_domains = {\"file:$2\", \"inline.example\"}" \
		"allowed_domains = {\"file:$3\"}" \
		"ratelimit { enabled = true  rate = 1  period = 1h  burst = 1000  redis { host = \"\" }
	exempt_networks = {\"file:$4\"} }"
}
conf "$HM_TMP/big.conf" "$HM_TMP/lists/banned.txt" "$HM_TMP/lists/allowed.txt" "$HM_TMP/lists/exempt.txt"
conf "$HM_TMP/small.conf" "$HM_TMP/lists/banned1.txt" "$HM_TMP/lists/allowed1.txt" "$HM_TMP/lists/exempt1.txt"

median() { sort -n | sed -n 2p; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }

# 1. Load time.
hm_check "hopmilter -n accepts the big lists" "$HOPMILTER" -n -c "$HM_TMP/big.conf"
big=$(for _ in 1 2 3; do ms "$HOPMILTER" -n -c "$HM_TMP/big.conf"; done | median)
small=$(for _ in 1 2 3; do ms "$HOPMILTER" -n -c "$HM_TMP/small.conf"; done | median)
hm_log "TIMING load: $((3 * N)) list entries ($N of them networks) in $big ms, one-line lists in $small ms (hopmilter -n, median of 3)"

# 2. Errors at start-up: the list file and its line, exit 78.
cp "$HM_TMP/lists/banned.txt" "$HM_TMP/lists/broken.txt"
sed -i '70001s/.*/bad domain!/' "$HM_TMP/lists/broken.txt"
conf "$HM_TMP/broken.conf" "$HM_TMP/lists/broken.txt" "$HM_TMP/lists/allowed.txt" "$HM_TMP/lists/exempt1.txt"
"$HOPMILTER" -n -c "$HM_TMP/broken.conf" 2>"$HM_TMP/n.err"
rc=$?
hm_log "broken list: exit $rc: $(cat "$HM_TMP/n.err")"
hm_check "broken list file: exit 78" test "$rc" = 78
hm_check "the error names LISTFILE:LINE (70001) and the entry" \
	grep -qF "$HM_TMP/lists/broken.txt:70001: 'bad domain!':" "$HM_TMP/n.err"
conf "$HM_TMP/missing.conf" "$HM_TMP/lists/nope.txt" "$HM_TMP/lists/allowed.txt" "$HM_TMP/lists/exempt1.txt"
"$HOPMILTER" -n -c "$HM_TMP/missing.conf" 2>"$HM_TMP/n.err"
rc=$?
hm_check "a missing list file: exit 78 naming it" \
	eval '[ $rc = 78 ] && grep -qF "$HM_TMP/lists/nope.txt: cannot open list file" "$HM_TMP/n.err"'
printf 'ok.example\nnul\0byte.example\n' >"$HM_TMP/lists/nul.txt"
chmod 0644 "$HM_TMP/lists/nul.txt"
conf "$HM_TMP/nul.conf" "$HM_TMP/lists/nul.txt" "$HM_TMP/lists/allowed.txt" "$HM_TMP/lists/exempt1.txt"
"$HOPMILTER" -n -c "$HM_TMP/nul.conf" 2>"$HM_TMP/n.err"
rc=$?
hm_check "a NUL byte: line 2" eval '[ $rc = 78 ] && grep -qF "$HM_TMP/lists/nul.txt:2: a NUL byte" "$HM_TMP/n.err"'
hm_write_milter_conf "$HM_TMP/rel.conf" "unix:$HM_TMP/milter.sock" 'banned_domains = {"file:lists/banned.txt"}'
"$HOPMILTER" -n -c "$HM_TMP/rel.conf" 2>"$HM_TMP/n.err"
rc=$?
hm_check "a relative list path: refused with the config's line" \
	eval '[ $rc = 78 ] && grep -qE "rel\.conf:[0-9]+: .*file:/absolute/path" "$HM_TMP/n.err"'

# 3. The lists at work.
one() { # one OUT ENV...: one session, prints its lines
	env HM_SOCK=unix:$HM_TMP/milter.sock HM_OUT="$1" "${@:2}" miltertest -s "$client" >>"$HM_TMP/clients.log" 2>&1
}
verdict() { # verdict FROM [RCPT_DOMAIN]: mail=... data=... of one message
	rm -f "$HM_TMP/v"
	one "$HM_TMP/v" HM_IP=192.0.2.9 HM_FROM="$1" HM_COUNT=1
	cut -d' ' -f2 "$HM_TMP/v"
}
hm_start_milter "$HM_TMP/big.conf" || { hm_fail "hopmilter did not start"; hm_done; }
hm_check "first line of the file banned" test "$(verdict '<x@d1.ban.example>')" = mail=tempfail
hm_check "last entry banned" test "$(verdict "<x@d$N.ban.example>")" = mail=tempfail
hm_check "a subdomain of an entry banned" test "$(verdict '<x@mx.d500.ban.example>')" = mail=tempfail
hm_check "entry with case, trailing dot and comment banned" test "$(verdict '<x@trailing.example>')" = mail=tempfail
hm_check "the inline entry beside the file banned" test "$(verdict '<x@inline.example>')" = mail=tempfail
hm_check "a domain next to the list not banned" test "$(verdict "<x@d$((N + 1)).ban.example>")" = mail=continue
hm_check "the comment text is no entry" test "$(verdict '<x@case.example>')" = mail=continue
hm_check "log names the ban" grep -q 'BLOCKED reason=banned-domain .*from=<x@d100000.ban.example>' "$HM_TMP/milter.log"
# The exempt networks: the ends of the list and the gaps between entries.
exempt() { # exempt IP: the ratelimit_exempt= of one session from IP
	local n
	n=$(grep -cF "connect ip=$1 " "$HM_TMP/milter.log")
	rm -f "$HM_TMP/v"
	one "$HM_TMP/v" HM_IP="$1" HM_FROM='<x@sender.example>' HM_COUNT=1
	hm_wait_grep "connect ip=$1 .*ratelimit_exempt=" "$HM_TMP/milter.log" 5 >/dev/null
	grep -F "connect ip=$1 " "$HM_TMP/milter.log" | sed -n "$((n + 1))p" |
		sed -n 's/.* ratelimit_exempt=\([^ ]*\).*/\1/p'
}
for ip in 10.0.0.0 10.0.0.2 10.1.0.0 10.2.73.238 198.18.0.255 2001:db8::1 2001:db8:0:c34e:ffff:ffff:ffff:ffff; do
	hm_check "exempt network: $ip" test "$(exempt $ip)" = network
done
for ip in 10.0.0.1 10.0.0.3 10.2.73.239 10.2.73.240 9.255.255.255 198.18.1.0 2001:db8:0:1::1 2001:db8:0:c34f::; do
	hm_check "between or beside the exempt networks: $ip" test "$(exempt $ip)" = no
done

# 4. Per-message cost with the big lists against one-line lists.
per_msg() {
	local t
	for _ in 1 2 3; do
		rm -f "$HM_TMP/pm"
		t=$(ms one "$HM_TMP/pm" HM_IP=192.0.2.10 HM_FROM='<x@sender.example>' HM_COUNT=300)
		[ "$(grep -c 'mail=continue' "$HM_TMP/pm")" = 300 ] || hm_fail "per-message run: not 300 messages accepted"
		echo "$t"
	done | median
}
big_msg=$(per_msg)

# 5. Reload with a broken list: the running configuration stays.
n0=$(grep -c 'reload failed' "$HM_TMP/milter.log")
cp "$HM_TMP/lists/banned.txt" "$HM_TMP/lists/banned.good"
{ echo "new.ban.example"; echo "also..bad.example"; } >>"$HM_TMP/lists/banned.txt"
line=$(wc -l <"$HM_TMP/lists/banned.txt")
kill -USR1 "$HM_MILTER_PID"
hm_check "reload with a broken list refused" hm_wait_grep "reload failed, keeping the running configuration: $HM_TMP/lists/banned.txt:$line: 'also..bad.example':" "$HM_TMP/milter.log" 10
hm_check "the old list still in force" test "$(verdict '<x@d7.ban.example>')" = mail=tempfail
hm_check "the good line of the broken edit not taken" test "$(verdict '<x@new.ban.example>')" = mail=continue
hm_check "one failure logged" test "$(grep -c 'reload failed' "$HM_TMP/milter.log")" = $((n0 + 1))
sed -i '$d' "$HM_TMP/lists/banned.txt"
kill -USR1 "$HM_MILTER_PID"
hm_check "reload with the list fixed" hm_wait_grep "reloaded $HM_TMP/big.conf" "$HM_TMP/milter.log" 10
hm_check "the new entry in force after the reload" test "$(verdict '<x@new.ban.example>')" = mail=tempfail
kill "$HM_MILTER_PID"
hm_wait_exit "$HM_MILTER_PID" 50

hm_start_milter "$HM_TMP/small.conf" || { hm_fail "hopmilter did not start (small)"; hm_done; }
small_msg=$(per_msg)
hm_log "TIMING per message: 300 messages in one session: $big_msg ms with $((3 * N)) list entries, $small_msg ms with one-line lists (median of 3)"
hm_export_log "$HM_TMP/milter.log"
hm_done
