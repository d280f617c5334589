#!/bin/bash
# hoprelayd's LMTP server against a hostile peer (anything that can
# connect to its socket): over-long and endless command lines, NUL, bare
# CR and LF, control and 8-bit bytes, a client trickling a byte at a time
# (in a command and in DATA), more connections than -m, pipelining abuse,
# too many recipients, a message over -z, dot-stuffing edges, and clients
# that leave before or right after the final dot.  Each gets a defined
# reply, a bounded cost and a log line; no mail is lost or acknowledged
# without the hop, and the per-recipient replies match the accepted
# recipients.  Bounds are generous (stated at each check) for a shared,
# slow CI machine.
. "$(dirname "$0")/../lib/harness.sh"

HOPRELAYD=${HOPRELAYD:-$HM_BUILDDIR/relay-transport/hoprelayd}
hm_need_root
hm_need smtp-sink /usr/bin/python3 "$HOPRELAYD"

sink_port=$(hm_free_port)
fake_port=$(hm_free_port)
sockdir=$HM_TMP/sock
mkdir -p "$sockdir"
hm_start_sink sink "$sink_port"
flog=$HM_TMP/fake.log
touch "$flog"
/usr/bin/python3 "$HM_SRCDIR/tests/lib/fakesmtp.py" --port "$fake_port" --log "$flog" \
	--keywords "PIPELINING,8BITMIME,SIZE 0" --refuse-rcpt 2>>"$HM_TMP/fake.stderr" &
hm_track $!
hm_wait_port 127.0.0.1 "$fake_port"

conf=$HM_TMP/hoprelay.conf
cat >"$conf" <<EOC
log_level = debug
route clean { hops = {"127.0.0.1:$sink_port"}  tls = none }
route fake { hops = {"127.0.0.1:$fake_port"}  tls = none }
EOC
dlog=$HM_TMP/hoprelayd.log
# -t 3: a command line (and the wait for it) or a piece of data within 3 s;
# -d 8: a whole message within 8 s; at most 8 sessions, 5 recipients,
# 20000 bytes of message.
# shellcheck disable=SC2086
${HM_WRAP:-} "$HOPRELAYD" -e -c "$conf" -s "$sockdir" -m 8 -H 4 -k 0 -t 3 -d 8 -R 5 -z 20000 \
	>>"$dlog" 2>&1 </dev/null &
dpid=$!
hm_track "$dpid"
hm_wait_grep "started:" "$dlog" 60 || { hm_fail "hoprelayd did not start"; cat "$dlog" >&2; hm_done; }

# raw ROUTE ARGS...: one raw session (tests/lib/lmtpraw.py); output in $out.
raw() {
	local route=$1
	shift
	out=$(/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpraw.py" --socket "$sockdir/$route" "$@")
	sed "s/^/    raw| /" <<<"$out" | cut -c1-200 >&2
}
has() { grep -qE -- "$1" <<<"$out"; }
count() { grep -cE -- "$1" <<<"$out"; }
eof_within() { local t; t=$(sed -n 's/^EOF //p' <<<"$out"); [ -n "$t" ] && awk -v t="$t" -v m="$1" 'BEGIN { exit !(t <= m) }'; }
eof_after() { local t; t=$(sed -n 's/^EOF //p' <<<"$out"); [ -n "$t" ] && awk -v t="$t" -v m="$1" 'BEGIN { exit !(t >= m) }'; }
dlog_has() { grep -qE -- "$1" "$dlog"; }
fake_ends() { grep -c '^DATA-END' "$flog"; }
fake_aborts() { grep -c '^DATA-ABORTED' "$flog"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$dpid/status"; }
LHLO="LHLO t.test\r\n"
MAIL="MAIL FROM:<a@example.org>\r\n"

# 1. Commands before the greeting: taken in order, replies after the 220.
raw clean --data "b'${LHLO}NOOP\r\nQUIT\r\n'" --wait 10
hm_check "early talker: greeting first, then LHLO, NOOP, QUIT in order" \
	eval '[[ $(grep "^R: [0-9][0-9][0-9] " <<<"$out" | cut -c4-6 | tr "\n" " ") == "220 250 250 221 " ]]'
hm_check "LHLO offers SIZE 20000 (-z)" has '^R: 250 SIZE 20000$'

# 2. Over-long (2000 bytes, over RFC 5321's 512 and our 1024) but ended:
#    500, and the session goes on.
long=$(printf 'X%.0s' $(seq 1 2000))
raw clean --data "b'${LHLO}NOOP $long\r\nNOOP\r\nQUIT\r\n'" --wait 10
hm_check "2000-byte command: 500 5.5.2, then NOOP works" \
	eval 'has "^R: 500 5\.5\.2 line too long" && [[ $(grep "^R: [0-9]" <<<"$out" | tail -2 | cut -c4-6 | tr "\n" " ") == "250 221 " ]]'

# 3. 64 KiB with no line end: 421 4.7.0, closed at once (bound: 10 s).
raw clean --data "b'$LHLO'" --fill 65536 --wait 20
hm_check "64 KiB without a line end: 421 4.7.0 and closed" \
	eval 'has "^R: 421 4\.7\.0 .*command line too long" && eof_within 10'
hm_check "64 KiB without a line end: logged" dlog_has 'session closed with 421 4\.7\.0: command line too long'

# 4. 10 MiB with no line end: closed after 32 KiB; RSS grows by less than
#    4 MiB (the line is never kept), refused within 10 s.
rss0=$(rss_kb)
t0=$(date +%s%N)
raw clean --data "b'$LHLO'" --fill $((10 * 1024 * 1024)) --wait 30
t1=$(date +%s%N)
rss1=$(rss_kb)
hm_log "10 MiB line: refused after $(( (t1 - t0) / 1000000 )) ms (client side, python start included), RSS ${rss0} kB -> ${rss1} kB, $(sed -n 's/^SENT //p' <<<"$out") bytes written before the close"
hm_check "10 MiB without a line end: 421 4.7.0 and closed within 10 s" \
	eval 'has "^R: 421 4\.7\.0" && eof_within 10'
hm_check "10 MiB without a line end: not all of it was taken" \
	eval '[[ $(sed -n "s/^SENT //p" <<<"$out") -lt $((10 * 1024 * 1024)) ]]'
hm_check "10 MiB without a line end: RSS grew by less than 4 MiB" test $((rss1 - rss0)) -lt 4096

# 5. NUL, bare CR, CR CR LF, a tab, 8-bit junk: refused one by one (500 or
#    502), the session goes on; a bare LF ends a line (as Postfix takes it).
raw clean --data "b'${LHLO}NOOP\x00x\r\nMAIL FROM:<a@example.org>\rRCPT TO:<b@example.com>\r\nNOOP\r\r\nNOOP\tx\r\n\xff\xfe\x80\r\nNOOP\nQUIT\r\n'" --wait 10
hm_check "NUL, bare CR, CRCRLF, tab: 500 each; 8-bit junk: 502; bare LF: a line end" \
	eval '[[ $(grep "^R: [0-9][0-9][0-9] " <<<"$out" | cut -c4-6 | tr "\n" " ") == "220 250 500 500 500 500 502 250 221 " ]]'
hm_check "bare CR inside MAIL: no transaction began" eval '! has "^R: 250 2\.1\.0"'

# 5b. 8-bit junk in an address is not UTF-8: refused, never relayed with
#     SMTPUTF8 (a Latin-1 byte, an overlong '@', a surrogate).
raw fake --data "b'${LHLO}MAIL FROM:<j\xf6rg@example.org>\r\nMAIL FROM:<a\xc0\x80@example.org> SMTPUTF8\r\nMAIL FROM:<\xed\xa0\x80@example.org>\r\nQUIT\r\n'" --wait 10
hm_check "malformed UTF-8 in the sender: 553 5.1.7 each, nothing relayed" \
	eval '[[ $(count "^R: 553 5\.1\.7 bad sender") == 3 ]] && ! grep -q "^C: MAIL" "$flog"'

# 6. Ten bad commands: 421 4.7.0 too many errors, closed, logged.
raw clean --data "b'${LHLO}$(printf 'BDAT 10 LAST\\r\\n%.0s' $(seq 1 12))'" --wait 10
hm_check "ten bad commands (BDAT, not offered): 502 each, then 421 and closed" \
	eval '[[ $(count "^R: 502 ") == 10 ]] && has "^R: 421 4\.7\.0 too many errors" && eof_within 10'
hm_check "too many errors: logged" dlog_has 'session closed with 421 4\.7\.0: too many errors'
# NOOP forever is not a way to hold a session: 100, then each is an error.
raw clean --data "b'${LHLO}$(printf 'NOOP\\r\\n%.0s' $(seq 1 150))'" --wait 10
hm_check "150 NOOPs: the session is closed with 421 after 100 + 10" \
	eval '[[ $(count "^R: 250 2\.0\.0 ok") == 109 ]] && has "^R: 421 4\.7\.0 too many errors"'

# 7. Sequence abuse: RCPT and DATA before MAIL (503), a second MAIL (503),
#    DATA without an accepted RCPT (503); recipients over -R 5 get
#    452 4.5.3; DATA lines that look like commands are data; dot-stuffing
#    is relayed as it came; the replies after the dot are exactly one per
#    accepted recipient.
ends0=$(fake_ends)
body="From: a@example.org\r\nMessage-Id: <seq-1@test>\r\n\r\nRSET\r\nQUIT\r\n..leading dot\r\n...\r\na . inside\r\nend.\r\n .\r\n.\r\n"
rcpts=""
for i in 1 2 3 4 5 6 7; do rcpts="${rcpts}RCPT TO:<r$i@example.com>\r\n"; done
raw fake --data "b'${LHLO}RCPT TO:<b@example.com>\r\nDATA\r\n${MAIL}${MAIL}${rcpts}DATA\r\n${body}QUIT\r\n'" --wait 20
hm_check "RCPT before MAIL, DATA before MAIL: 503" eval '[[ $(count "^R: 503 5\.5\.1 need MAIL") == 2 ]]'
hm_check "second MAIL: 503 nested" has '^R: 503 5\.5\.1 nested MAIL'
hm_check "recipients over -R 5: five 250, two 452 4.5.3" \
	eval '[[ $(count "^R: 250 2\.1\.0 ok") == 6 && $(count "^R: 452 4\.5\.3 too many recipients") == 2 ]]'
hm_check "after the dot: exactly five replies (the accepted recipients)" \
	eval '[[ $(count "^R: 250 2\.0\.0 queued as FAKE") == 5 ]] && has "^R: 221 "'
hm_check "the hop got the message once" test "$(fake_ends)" = $((ends0 + 1))
data=$HM_TMP/fake.log.data.$(fake_ends)
hm_check "RSET and QUIT lines inside DATA went to the hop as data" \
	eval 'grep -q "^RSET.\$" "$data" && grep -q "^QUIT.\$" "$data"'
hm_check "dot-stuffing relayed as it came (..leading, ...), a lone dot inside a line kept" \
	eval 'grep -q "^\.\.leading dot.\$" "$data" && grep -q "^\.\.\..\$" "$data" && grep -q "^a \. inside.\$" "$data" && grep -q "^ \..\$" "$data"'
hm_check "the hop's copy ends at the one final dot" eval '[[ $(grep -c "^\..\$" "$data") == 1 ]] && tail -1 "$data" | grep -q "^\..\$"'
hm_check "the hop got only five RCPT TO" eval '[[ $(grep -c "^C: RCPT" "$flog") == 5 ]]'
raw fake --data "b'${LHLO}${MAIL}RCPT TO:<refuse@example.com>\r\nDATA\r\nQUIT\r\n'" --wait 20
hm_check "DATA with no accepted recipient: 503" has '^R: 503 5\.5\.1 no valid recipients'

# 7b. A CRLF split between two 16 KiB reads (a line of 16383 bytes and its
#     CR fill the buffer, its LF comes next) is one CRLF at the hop, not
#     CR CR LF.
ends0=$(fake_ends)
line16=$(printf 'y%.0s' $(seq 1 16383))
raw fake --data "b'${LHLO}${MAIL}RCPT TO:<b@example.com>\r\nDATA\r\nSubject: split\r\n\r\n${line16}\r\nafter\r\n.\r\nQUIT\r\n'" --wait 20
data=$HM_TMP/fake.log.data.$(fake_ends)
hm_check "CRLF split between reads: relayed once, as CRLF (no CR CR LF)" \
	eval 'test "$(fake_ends)" = $((ends0 + 1)) && ! grep -q $'"'"'\r\r'"'"' "$data" && grep -q "^after.\$" "$data" && [[ $(grep -c "^y\{16383\}.\$" "$data") == 1 ]]'

# 8. The hop refuses one recipient and defers another: the replies after
#    the dot are for the two it accepted, no more, no less.
ends0=$(fake_ends)
raw fake --data "b'${LHLO}${MAIL}RCPT TO:<ok1@example.com>\r\nRCPT TO:<refuse@example.com>\r\nRCPT TO:<defer@example.com>\r\nRCPT TO:<ok2@example.com>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n'" --wait 20
hm_check "hop refuses and defers: 550 and 452 mirrored" \
	eval 'has "^R: 550 5\.1\.1 no such user" && has "^R: 452 4\.2\.2 mailbox full"'
hm_check "hop refuses and defers: exactly two replies after the dot" \
	eval '[[ $(count "^R: 250 2\.0\.0 queued as FAKE") == 2 ]] && test "$(fake_ends)" = $((ends0 + 1))'

# 9. Size: SIZE= over -z is refused at MAIL; a message that grows over it
#    without saying so gets 552 5.3.4 per recipient and the hop gets no
#    final dot (it discards its part).
raw fake --data "b'${LHLO}MAIL FROM:<a@example.org> SIZE=30000\r\nQUIT\r\n'" --wait 10
hm_check "SIZE=30000 over -z 20000: 552 5.3.4 at MAIL" has '^R: 552 5\.3\.4 message size 30000 exceeds'
ends0=$(fake_ends)
aborts0=$(fake_aborts)
big=$(printf 'x%.0s' $(seq 1 998))
bigbody=$(for i in $(seq 1 40); do printf '%s\\r\\n' "$big"; done)
raw fake --data "b'${LHLO}${MAIL}RCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\nSubject: big\r\n\r\n${bigbody}.\r\nQUIT\r\n'" --wait 20
hm_check "40 KB over -z 20000: 552 5.3.4 for each of the two recipients" \
	eval '[[ $(count "^R: 552 5\.3\.4 .*over the limit of 20000") == 2 ]]'
sleep 1
hm_check "40 KB over -z 20000: nothing delivered, the hop saw the transfer cut" \
	eval 'test "$(fake_ends)" = "$ends0" && test "$(fake_aborts)" = $((aborts0 + 1))'
hm_check "40 KB over -z 20000: logged as bounced 5.3.4" dlog_has 'result=bounced status=5\.3\.4'

# 10. The client leaves before its final dot: nothing relayed, nothing acked.
ends0=$(fake_ends)
aborts0=$(fake_aborts)
raw fake --data "b'${LHLO}${MAIL}RCPT TO:<b@example.com>\r\nDATA\r\n'" --quit-now --after 354 \
	--then "b'Subject: cut\r\n\r\nhalf a message\r\n'"
sleep 2
hm_check "gone before the dot: the hop discarded its part" \
	eval 'test "$(fake_ends)" = "$ends0" && test "$(fake_aborts)" = $((aborts0 + 1))'
hm_check "gone before the dot: logged" dlog_has 'the MTA went away before the final dot .*nothing relayed'

# 11. The client leaves right after its final dot (without reading): the
#     hop has the message (relayed, never lost); the unread replies are
#     logged as a possible duplicate.
ends0=$(fake_ends)
raw fake --data "b'${LHLO}${MAIL}RCPT TO:<b@example.com>\r\nDATA\r\n'" --quit-now --after 354 \
	--then "b'Subject: gone\r\n\r\nwhole message\r\n.\r\n'"
sleep 2
hm_check "gone right after the dot: relayed once" test "$(fake_ends)" = $((ends0 + 1))
hm_check "gone right after the dot: logged sent, and the unread replies" \
	eval 'dlog_has "to=<b@example.com> route=fake .*result=sent" && dlog_has "the MTA left before reading the 1 replies"'

# 12. Slow loris, a byte a second (here every 0.5 s) in a command and in
#     DATA: each is cut with 421 4.4.2 (the command after -t 3 s, the
#     message after -d 8 s; bound: 15 s), while a clean delivery on the
#     other route goes through in the meantime.
aborts0=$(fake_aborts)
/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpraw.py" --socket "$sockdir/clean" --data "b'$LHLO'" \
	--trickle "b'NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP NOOP'" --delay 0.5 --wait 30 \
	>"$HM_TMP/loris-cmd.out" 2>&1 &
lc=$!
/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpraw.py" --socket "$sockdir/fake" \
	--data "b'${LHLO}${MAIL}RCPT TO:<b@example.com>\r\nDATA\r\n'" \
	--trickle "b'$(printf 'a\\n%.0s' $(seq 1 30))'" --delay 0.5 --wait 30 >"$HM_TMP/loris-data.out" 2>&1 &
ld=$!
sleep 1
t0=$(date +%s%N)
printf 'From: a@example.org\nMessage-Id: <clean-1@test>\n\nclean\n' | /usr/bin/python3 \
	"$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/clean" --timeout 20 --rcpt b@example.com \
	>"$HM_TMP/clean.out" 2>&1
t1=$(date +%s%N)
hm_log "clean delivery during the slow-loris sessions: $(( (t1 - t0) / 1000000 )) ms"
hm_check "during the attack: a clean delivery goes through (within 5 s)" \
	eval 'grep -q "^DOT <b@example.com> 250 " "$HM_TMP/clean.out" && hm_sink_wait sink clean-1@test 5 && [[ $(( (t1 - t0) / 1000000 )) -lt 5000 ]]'
wait "$lc" "$ld"
out=$(cat "$HM_TMP/loris-cmd.out")
sed "s/^/    loris-cmd| /" <<<"$out" >&2
hm_check "slow command: 421 4.4.2 and closed after -t 3 s (within 2.5-15 s)" \
	eval 'has "^R: 421 4\.4\.2 .*timeout waiting for a command" && eof_after 2.5 && eof_within 15'
out=$(cat "$HM_TMP/loris-data.out")
sed "s/^/    loris-data| /" <<<"$out" >&2
hm_check "slow DATA: 421 4.4.2 and closed after -d 8 s (within 7.5-20 s)" \
	eval 'has "^R: 421 4\.4\.2 .*timeout waiting for message data" && eof_after 7.5 && eof_within 20'
sleep 1
hm_check "slow DATA: nothing relayed, the hop saw the transfer cut" test "$(fake_aborts)" = $((aborts0 + 1))
hm_check "slow loris: logged" \
	eval 'dlog_has "session closed with 421 4\.4\.2: timeout waiting for a command" && dlog_has "the MTA timed out before the final dot"'

# 13. More connections than -m 8: the ninth gets 421 4.3.2 at once and is
#     logged; once they are gone, a new session works.
holders=()
for i in 1 2 3 4 5 6 7 8; do
	/usr/bin/python3 "$HM_SRCDIR/tests/lib/lmtpc.py" --socket "$sockdir/clean" --hold 2.5 >/dev/null 2>&1 &
	holders+=($!)
done
sleep 1
rss_crowd=$(rss_kb)
raw clean --wait 10
hm_log "RSS with 8 sessions held: ${rss_crowd} kB (before: ${rss1} kB)"
# Under valgrind (HM_WRAP) each thread costs the tool's own stack too.
crowd_bound=$([ -n "${HM_WRAP:-}" ] && echo 65536 || echo 8192)
hm_check "8 sessions held: RSS grew by less than $((crowd_bound / 1024)) MiB" test $((rss_crowd - rss1)) -lt "$crowd_bound"
hm_check "ninth connection over -m 8: 421 4.3.2 busy, closed at once (within 5 s)" \
	eval 'has "^R: 421 4\.3\.2 hoprelayd is busy" && eof_within 5'
hm_check "over -m: logged" dlog_has 'session limit \(8\) reached'
wait "${holders[@]}"
# A burst of 60 connections at once: at most 8 sessions, the rest 421
# 4.3.2 at once; each first line read within 10 s.
burst=$(/usr/bin/python3 -c 'import socket, sys
ss = []
for i in range(60):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); ss.append(s)
first = []
for s in ss:
    try:
        first.append(s.recv(200).split(b" ")[0].decode())
    except OSError:
        first.append("none")
print(first.count("220"), first.count("421"), len(first) - first.count("220") - first.count("421"))' "$sockdir/clean")
hm_log "burst of 60 connections: 220 / 421 / other = $burst"
hm_check "burst of 60: at most 8 greeted, the rest 421, none left unanswered" \
	eval 'read -r g r o <<<"$burst"; [[ $g -ge 1 && $g -le 8 && $((g + r)) == 60 && $o == 0 ]]'
# The refusals are logged, but not one line each: at most one a second,
# with the count of the others (bound: 10 lines for a burst over in ms).
hm_check "burst of 60: refusals logged at most once a second" \
	eval '[[ $(grep -c "session limit (8) reached" "$dlog") -le 10 ]]'

sleep 1
raw clean --data "b'${LHLO}QUIT\r\n'" --wait 10
hm_check "after the crowd: a new session works" has '^R: 221 '

hm_check "hoprelayd is still running" kill -0 "$dpid"
kill -TERM "$dpid"
hm_wait_grep "stopped" "$dlog" 30
wait "$dpid"
rc=$?
hm_check "SIGTERM: exit 0 (under HM_WRAP=valgrind: no memory error, no definite leak)" test "$rc" = 0
hm_check "no error lines from the daemon's sanitizers" eval '! grep -qE "runtime error|AddressSanitizer|LeakSanitizer" "$dlog"'
hm_done
