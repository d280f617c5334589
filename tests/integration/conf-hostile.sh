#!/bin/bash
# Hostile configuration files: every refusal is "FILE:LINE: reason" on
# stderr with exit 78, the line being the one of the hostile value, for
# `hopmilter -n`, `hoprelay -n`, hopmilter's start-up, and a reload
# (SIGUSR1: refused, logged with the line, the running configuration kept).
# The values: control characters (escaped and raw), NUL escapes that
# libconfuse would silently cut the value at, megabytes, a too-wide
# trusted_networks, and authserv_id's hostile spellings.
. "$(dirname "$0")/../lib/harness.sh"

hm_need "$HOPMILTER" "$HOPRELAY"

# As root, -n wants a user and a socket whose directory exists.
U=
[ "$(id -u)" = 0 ] && U='user = "nobody"'
HEAD="socket = \"unix:$HM_TMP/m.sock\"
$U
# hostile value below"
# The line the hostile value lands on: after HEAD.
L=$(($(printf '%s\n' "$HEAD" | wc -l) + 1))

# refused PROG LABEL BODY WANT [ALSO]: BODY (printf %b: write "\\n" for a
# backslash-n in the file) after HEAD for hopmilter, alone for hoprelay,
# must give "FILE:WANT..." (WANT starts with the line), exit 78, one line
# of output, holding ALSO when given.
refused() {
	local prog=$1 label=$2 body=$3 want=$4 also=${5:-} f=$HM_TMP/h.conf out rc
	if [ "$prog" = "$HOPMILTER" ]; then
		printf '%s\n%b' "$HEAD" "$body" >"$f"
	else
		printf '%b' "$body" >"$f"
	fi
	out=$("$prog" -n -c "$f" 2>&1); rc=$?
	hm_check "$label: 78 and '$want' (got rc $rc: ${out:0:300})" \
		eval '[ $rc = 78 ] && [[ $out == *": $f:"$want* ]] && [[ $out == *"$also"* ]] &&
			[ "$(printf "%s\n" "$out" | wc -l)" = 1 ]'
}

# --- hopmilter: trusted_networks too wide, at the line of the widest entry.
refused "$HOPMILTER" "wide trusted_networks" \
	'trusted_networks = {"10.0.0.0/8",\n  "::1",\n  "0.0.0.0/0"}\n' \
	"$((L + 2)): option 'trusted_networks': trusts more public IPv4 addresses than a /8 (widest: 0.0.0.0/0)"
refused "$HOPMILTER" "wide trusted_networks added with +=" \
	'trusted_networks = {"10.0.0.0/8"}\n\ntrusted_networks += {"2000::/3"}\n' \
	"$((L + 2)): option 'trusted_networks': trusts more public IPv6"
f=$HM_TMP/ok.conf
printf '%s\ntrusted_networks = {"0.0.0.0/0"}\nallow_wide_trusted_networks = true\n' "$HEAD" >"$f"
hm_check "wide trusted_networks with allow_wide_trusted_networks = true: accepted" "$HOPMILTER" -n -c "$f"

# --- authserv_id: what goes into our Authentication-Results headers.
big=$(head -c 3145728 /dev/zero | tr '\0' a)
refused "$HOPMILTER" "3 MB authserv_id" "\n\nauthserv_id = \"$big\"\n" \
	"$((L + 2)): option 'authserv_id': the value is longer than 255 bytes"
printf '%s\nauthserv_id = "%s"\n' "$HEAD" "${big:0:255}" >"$f"
hm_check "255-byte authserv_id: accepted" "$HOPMILTER" -n -c "$f"
refused "$HOPMILTER" "authserv_id with a NUL escape" 'authserv_id = "mx.example\\0.evil"\n' \
	"$L: a string escape makes a NUL byte"
refused "$HOPMILTER" "authserv_id with \\x00" 'authserv_id = "mx.example\\x00"\n' \
	"$L: a string escape makes a NUL byte"
refused "$HOPMILTER" "authserv_id with an escaped newline" 'authserv_id = "mx\\nexample"\n' \
	"$L: option 'authserv_id': the value holds a control character (0x0a) at byte 3"
refused "$HOPMILTER" "authserv_id over two lines" 'authserv_id = "mx\nexample"\n' \
	"$L: a quoted string runs past the end of its line"
refused "$HOPMILTER" "authserv_id with ';'" 'authserv_id = "mx.example;spf=pass"\n' \
	"$L: option 'authserv_id': 'mx.example;spf=pass': use a host name"
refused "$HOPMILTER" "authserv_id with a space" 'authserv_id = "mx example"\n' \
	"$L: option 'authserv_id': 'mx example': use a host name"
refused "$HOPMILTER" "authserv_id: a U-label IDNA2008 forbids" 'authserv_id = "\xe2\x98\xba.example"\n' \
	"$L: option 'authserv_id':"
for ok in 'MX.Example.COM' 'mx.example.com.' 'xn--mnchen-3ya.example' 'm\xc3\xbcnchen.example'; do
	printf '%s\nauthserv_id = "%b"\n' "$HEAD" "$ok" >"$f"
	hm_check "authserv_id '$ok': accepted" "$HOPMILTER" -n -c "$f"
done

# --- every other kind of string option: a control character at its line
# (OFFSET: the value's line within the body).
while IFS='|' read -r off body; do
	refused "$HOPMILTER" "control character: $body" "$body\n" "$((L + off)): option '" \
		"the value holds a control character"
done <<'EOF2'
0|user = "hop\\tmilter"
0|pid_file = "/run/a\\e.pid"
0|control_socket = "/run/c\\r.sock"
0|metrics_listen = "127.0.0.1:9717\\n"
0|socket = "unix:/run/m\\x1b.sock"
1|banned_domains = {"ok.example",\n "file:/etc/a\\x7f"}
1|internal_names = {"ok.example",\n "a\\001.example"}
1|outbound {\n scrub_headers = {"X-\\001*"}\n}
2|ratelimit {\n redis {\n password = "se\\nret"\n }\n}
0|ratelimit { redis { sentinel { master = "my\\tmaster" } } }
1|spf {\n exempt_client_names = {"a\\t.example"}\n}
EOF2

# A control character never reaches the message: an enum's hostile value.
refused "$HOPMILTER" "log_level with a newline" 'log_level = "info\\nforged line"\n' \
	"$L: option 'log_level': the value holds a control character (0x0a) at byte 5"
refused "$HOPMILTER" "3 MB user" "user = \"$big\"\n" "$L: option 'user': the value is longer than 4096 bytes"
refused "$HOPMILTER" "relative pid_file" '\n\npid_file = "hm.pid"\n' \
	"$((L + 2)): option 'pid_file': 'hm.pid': must be an absolute path"
refused "$HOPMILTER" "spf time limits" 'spf {\n timeout = 30s\n}\n' \
	"$((L + 2)): section 'spf': need 1s <= dns_timeout <= timeout <= 25s"
refused "$HOPMILTER" "a Redis host with a space" 'ratelimit { redis { host = "red is" } }\n' \
	"$L: option 'host': 'red is': use an IP address or a host name"

# --- hoprelay -n.
R='route core {\n hops = {"10.0.0.2:25"}\n tls = none\n'
refused "$HOPRELAY" "hoprelay: helo_name with a control character" "$R helo_name = \"a\\\\rb\"\n}\n" \
	"4: option 'helo_name': the value holds a control character (0x0d) at byte 2"
refused "$HOPRELAY" "hoprelay: a NUL escape in hops" 'route core {\n hops = {"10.0.0.2:25",\n  "10.0.0.3:25\\0"}\n}\n' \
	"3: a string escape makes a NUL byte"
refused "$HOPRELAY" "hoprelay: 3 MB server_name" "route core {\n hops = {\"10.0.0.2:25\"}\n\n server_name = \"$big\"\n}\n" \
	"4: option 'server_name': the value is longer than 4096 bytes"
refused "$HOPRELAY" "hoprelay: empty route name" 'route "" {\n hops = {"10.0.0.2:25"}\n tls = none\n}\n' \
	"4: a route's name must not be empty"
refused "$HOPRELAY" "hoprelay: default_route names no route" "$R}\n\ndefault_route = \"edge\"\n" \
	"6: option 'default_route': no route named 'edge'"
refused "$HOPRELAY" "hoprelay: log_level with an escape" "log_level = \"in\\\\efo\"\n$R}\n" \
	"1: option 'log_level': the value holds a control character (0x1b) at byte 3"

if [ "$(id -u)" != 0 ]; then
	hm_log "not root: skipping start-up and reload"
	hm_done
fi

# --- start-up: the same message, exit 78, nothing left running.
mkdir -p "$HM_TMP/run"
chown nobody "$HM_TMP/run"
sock=$HM_TMP/run/m.sock
conf=$HM_TMP/reload.conf
good=$(printf 'socket = "unix:%s"\nuser = "nobody"\nallowed_domains = {"example.com"}\n' "$sock")
printf '%s\n\nauthserv_id = "mx\\0.evil"\n' "$good" >"$conf"
out=$("$HOPMILTER" -f -c "$conf" 2>&1); rc=$?
hm_check "start-up with a NUL escape: 78 at line 5 ($out)" \
	eval '[ $rc = 78 ] && [[ $out == *"$conf:5: a string escape makes a NUL byte"* ]]'
hm_check "start-up refused: no socket left" test ! -e "$sock"
printf '%s\ntrusted_networks = {"127.0.0.0/8",\n "::/0"}\n' "$good" >"$conf"
out=$("$HOPMILTER" -f -c "$conf" 2>&1); rc=$?
hm_check "start-up with ::/0 trusted: 78 at line 5 ($out)" \
	eval '[ $rc = 78 ] && [[ $out == *"$conf:5: option '"'"'trusted_networks'"'"': trusts more public IPv6"* ]]'

# --- reload: refused with the line, the running configuration kept.
printf '%s\nauthserv_id = "mx.example"\n' "$good" >"$conf"
chown nobody "$conf"
chmod 0600 "$conf"
hm_start_milter "$conf" "$HM_TMP/reload.log"
rpid=$HM_MILTER_PID
printf '%s\n\nauthserv_id = "mx.example\\r\\nX-Injected: yes"\n' "$good" >"$conf"
kill -USR1 "$rpid"
hm_check "reload with a control character: refused at line 5, running configuration kept" \
	hm_wait_grep "reload failed, keeping the running configuration: $conf:5: option 'authserv_id': the value holds a control character \(0x0d\) at byte 11" \
	"$HM_TMP/reload.log" 10
hm_check "the refused value never reaches the log" eval '! grep -q "X-Injected" "$HM_TMP/reload.log"'
printf '%s\ntrusted_networks = {\n "0.0.0.0/0"}\n' "$good" >"$conf"
kill -USR1 "$rpid"
hm_check "reload with 0.0.0.0/0 trusted: refused at line 5" \
	hm_wait_grep "reload failed, keeping the running configuration: $conf:5: option 'trusted_networks': trusts more public IPv4" \
	"$HM_TMP/reload.log" 10
hm_check "still running after two refused reloads" kill -0 "$rpid"
printf '%s\nauthserv_id = "M\xc3\x9cNCHEN.example"\n' "$good" >"$conf"
kill -USR1 "$rpid"
hm_check "a U-label authserv_id reloads" hm_wait_grep "reloaded $conf" "$HM_TMP/reload.log" 10
kill -TERM "$rpid"
hm_wait_exit "$rpid" 150
hm_done
