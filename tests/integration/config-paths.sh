#!/bin/bash
# Configuration paths that are not a text file: a directory, a FIFO,
# /dev/zero, a huge (sparse) file, a symlink loop, a file with a NUL byte.
# hopmilter -n and hoprelay -n exit 78 at once with "FILE: reason";
# hoprelay delivering exits 75 with 4.3.5 (never 2, never a hang); a
# running hopmilter asked to reload such a path keeps its configuration,
# and the next good reload works.  Every command runs under timeout(1):
# a hang shows as exit 124.
. "$(dirname "$0")/../lib/harness.sh"

hm_need "$HOPMILTER" "$HOPRELAY" timeout

d=$HM_TMP/paths
mkdir -p "$d"
good=$d/good.conf
hm_write_milter_conf "$good" "unix:$HM_TMP/m.sock"
printf 'route a { hops = {"127.0.0.1:%s"}  tls = none }\n' "$(hm_free_port)" >"$d/relay.conf"

# make_bad KIND PATH: put a bad thing of that kind at PATH (replacing what is there).
make_bad() {
	rm -rf "$2"
	case $1 in
	directory) mkdir "$2" ;;
	fifo) mkfifo "$2" ;;
	devzero) ln -s /dev/zero "$2" ;;
	huge) truncate -s 1G "$2" ;;
	loop) ln -s "$2" "$2" ;;
	nul) printf 'allowed_domains = {"example.com"}\n\0\nuser = "root"\n' >"$2" ;;
	esac
}
# wait_fixed TEXT FILE: FILE has a line containing TEXT (literally) within 20 s.
wait_fixed() {
	local i
	for i in $(seq 1 200); do
		grep -qF -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# The reason each kind must give, after "PATH: ".
declare -A why=(
	[directory]="not a regular file (a directory)"
	[fifo]="not a regular file (a FIFO)"
	[devzero]="not a regular file (a device)"
	[huge]="larger than 4194304 bytes"
	[loop]="cannot read: Too many levels of symbolic links"
	[nul]="holds a NUL byte (at offset 34): not a text file"
)
kinds="directory fifo devzero huge loop nul"

# 1. -n of both programs.
for k in $kinds; do
	p=$d/$k.conf
	make_bad "$k" "$p"
	t0=$(date +%s%N)
	out=$(timeout 20 "$HOPMILTER" -n -c "$p" 2>&1); rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	hm_check "hopmilter -n, $k: exit 78 in ${ms} ms (under 10 s)" eval '[ "$rc" = 78 ] && [ "$ms" -lt 10000 ]'
	hm_check "hopmilter -n, $k: says why" test "$out" = "hopmilter: $p: ${why[$k]}"
	out=$(timeout 20 "$HOPRELAY" -n -c "$p" 2>&1); rc=$?
	hm_check "hoprelay -n, $k: exit 78" test "$rc" = 78
	hm_check "hoprelay -n, $k: says why" test "$out" = "hoprelay: $p: ${why[$k]}"
	# Delivery mode: local trouble defers the message.
	out=$(printf 'Subject: x\n\nx\n' | timeout 20 "$HOPRELAY" -c "$p" -f a@example.org -- a b@example.com 2>&1); rc=$?
	hm_check "hoprelay delivering, $k: exit 75 with 4.3.5 and the reason" eval \
		'[ "$rc" = 75 ] && [ "$(head -1 <<<"$out")" = "4.3.5 hoprelay: $p: ${why[$k]}" ]'
done
# A symlink to a good file is fine; so is an empty file (all defaults).
ln -s "$good" "$d/link.conf"
hm_check "hopmilter -n through a symlink to a good file: 0" timeout 20 "$HOPMILTER" -n -c "$d/link.conf"
# (-n then goes on to check the defaults' user and socket directory, which
# may fail here: only a read or parse complaint would be wrong.)
: >"$d/empty.conf"
out=$(timeout 20 "$HOPMILTER" -n -c "$d/empty.conf" 2>&1); rc=$?
hm_check "hopmilter -n on an empty file: read and parsed (all defaults)" eval \
	'[[ $rc == 0 || $rc == 78 ]] && [[ $out != *"cannot read"* && $out != *"syntax error"* && $out != *"regular file"* && $out != *"empty.conf:"[0-9]* ]]'
ln -s "$d/relay.conf" "$d/relay-link.conf"
hm_check "hoprelay -n through a symlink to a good file: 0" timeout 20 "$HOPRELAY" -n -c "$d/relay-link.conf"

# 2. Reloads: the live path becomes each bad kind in turn; the filter keeps
# running on its configuration, the reload thread is not stuck, and a good
# file afterwards is taken.
live=$d/live.conf
cp "$good" "$live"
chmod 0755 "$d"
hm_start_milter "$live"
failed=0
for k in $kinds; do
	make_bad "$k" "$live"
	kill -USR1 "$HM_MILTER_PID"
	failed=$((failed + 1))
	hm_check "reload, $k: refused, logged with the reason" \
		wait_fixed "reload failed, keeping the running configuration: $live: ${why[$k]}" "$HM_TMP/milter.log"
	hm_check "reload, $k: still running" kill -0 "$HM_MILTER_PID"
done
hm_check "one failed reload per bad path ($failed)" test "$(grep -c 'reload failed' "$HM_TMP/milter.log")" = "$failed"
rm -rf "$live"
hm_write_milter_conf "$live" "unix:$HM_TMP/m.sock" 'dry_run = true'
kill -USR1 "$HM_MILTER_PID"
hm_check "a good file after them: reloaded" wait_fixed "reloaded $live" "$HM_TMP/milter.log"
kill -TERM "$HM_MILTER_PID"
for _ in $(seq 1 300); do kill -0 "$HM_MILTER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$HM_MILTER_PID"
hm_check "stops cleanly after all that (exit 0)" test "$?" = 0

hm_done
