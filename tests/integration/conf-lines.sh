#!/bin/bash
# FILE:LINE is the line of the error, in the shipped, commented sample
# files (milter/hopmilter.conf, relay-transport/hoprelay.conf), through
# `hopmilter -n` and `hoprelay -n`.  libconfuse 3.3 alone counts every
# comment as three lines (NOTES.md, section 11); cfgtext blanks comments
# before it parses.
#
# For every comment or blank line N of each sample, the line is replaced
# by an unknown option: the error must say ":N:".  The same with the
# comments rewritten as '//' and as '/* */' blocks, and with an invalid
# value on a line that carries a trailing comment.
. "$(dirname "$0")/../lib/harness.sh"

hm_need "$HOPMILTER" "$HOPRELAY"

# check_file PROG SAMPLE LABEL: every comment or blank line, one at a time.
check_file() {
	local prog=$1 sample=$2 label=$3 n=0 total=0 wrong=0 out line f=$HM_TMP/t.conf inside=0 was
	while IFS= read -r line; do
		n=$((n + 1))
		# Inside a C comment over several lines a replaced line would be
		# comment text: only whole comments and blank lines outside one.
		was=$inside
		[[ $line == *'/*'* && $line != *'*/'* ]] && inside=1
		[[ $line == *'*/'* ]] && inside=0
		[ "$was" = 1 ] || [ "$inside" = 1 ] && continue
		[[ $line =~ ^[[:space:]]*(#|//|/\*|$) ]] || continue
		awk -v n="$n" 'NR == n { print "bogus_" n " = 1"; next } { print }' "$sample" >"$f"
		out=$("$prog" -n -c "$f" 2>&1)
		total=$((total + 1))
		if [[ $out != *"$f:$n: no such option 'bogus_$n'"* ]]; then
			wrong=$((wrong + 1))
			[ "$wrong" -le 3 ] && hm_log "$label: line $n: $out"
		fi
	done <"$sample"
	hm_check "$label: $total error lines tried, all reported at their own line ($wrong wrong)" \
		eval "[ $total -gt 10 ] && [ $wrong = 0 ]"
}

for pair in "hopmilter:$HOPMILTER:$HM_SRCDIR/milter/hopmilter.conf" \
	"hoprelay:$HOPRELAY:$HM_SRCDIR/relay-transport/hoprelay.conf"; do
	name=${pair%%:*} rest=${pair#*:}
	prog=${rest%%:*} sample=${rest#*:}
	check_file "$prog" "$sample" "$name #"
	# The same comments written as '//'.
	sed -E 's,^([[:space:]]*)#,\1//,; s,[[:space:]]#[[:space:]],  // ,' "$sample" >"$HM_TMP/$name-slash.conf"
	hm_check "$name: the '//' variant still parses up to its TLS files" \
		eval "! '$prog' -n -c '$HM_TMP/$name-slash.conf' 2>&1 | grep -q 'no such option\|syntax\|premature'"
	check_file "$prog" "$HM_TMP/$name-slash.conf" "$name //"
	# Each run of comment lines as one C comment over several lines.
	awk '{ l[NR] = $0; c[NR] = ($0 ~ /^[[:space:]]*#/) }
	END {
		for (i = 1; i <= NR; i++) {
			s = l[i]
			if (c[i]) {
				sub(/#/, c[i - 1] ? "  " : "/*", s)
				if (!c[i + 1])
					s = s " */"
			}
			print s
		}
	}' "$sample" >"$HM_TMP/$name-c.conf"
	hm_check "$name: the C-comment variant has the sample's line count" \
		test "$(wc -l <"$HM_TMP/$name-c.conf")" = "$(wc -l <"$sample")"
	hm_check "$name: the C-comment variant still parses" \
		eval "! '$prog' -n -c '$HM_TMP/$name-c.conf' 2>&1 | grep -q 'no such option\|syntax\|premature\|never closed'"
	check_file "$prog" "$HM_TMP/$name-c.conf" c-block
done

# An invalid value on a line with a trailing comment.
sample=$HM_SRCDIR/relay-transport/hoprelay.conf
n=$(grep -n '^log_level = info[[:space:]]*#' "$sample" | cut -d: -f1)
hm_check "hoprelay.conf has log_level with a trailing comment" test -n "$n"
sed "${n}s/= info/= chatty/" "$sample" >"$HM_TMP/trail.conf"
out=$("$HOPRELAY" -n -c "$HM_TMP/trail.conf" 2>&1); rc=$?
hm_check "hoprelay: trailing-comment line $n reported as :$n: ($out)" \
	eval "[ $rc = 78 ] && [[ \$out == *'trail.conf:$n: option '\\''log_level'\\'* ]]"
sample=$HM_SRCDIR/milter/hopmilter.conf
n=$(grep -n '^authserv_id = ""[[:space:]]*#' "$sample" | cut -d: -f1)
hm_check "hopmilter.conf has authserv_id with a trailing comment" test -n "$n"
sed "${n}s/= \"\"/= \"mx example\"/" "$sample" >"$HM_TMP/trail.conf"
out=$("$HOPMILTER" -n -c "$HM_TMP/trail.conf" 2>&1); rc=$?
hm_check "hopmilter: trailing-comment line $n reported as :$n: ($out)" \
	eval "[ $rc = 78 ] && [[ \$out == *'trail.conf:$n: option '\\''authserv_id'\\'* ]]"

# A '#' inside a quoted string is no comment; an unclosed C comment is an
# error at the line it starts on.
printf 'socket = "unix:%s/a#b.sock"\n\n/* open\nallowed_domains = {}\n' "$HM_TMP" >"$HM_TMP/open.conf"
out=$("$HOPMILTER" -n -c "$HM_TMP/open.conf" 2>&1); rc=$?
hm_check "unclosed /* reported at its line ($out)" \
	eval "[ $rc = 78 ] && [[ \$out == *'open.conf:3: a comment starting with /* is never closed'* ]]"
printf '# one\n// two\n/* three\n */ banned_domains = {"ok.example", // four\n  "a#b.example"}  # five\n' >"$HM_TMP/hash.conf"
out=$("$HOPMILTER" -n -c "$HM_TMP/hash.conf" 2>&1)
hm_check "a '#' inside quotes is part of the value, on its own line ($out)" \
	eval "[[ \$out == *\"hash.conf:5: option 'banned_domains': 'a#b.example'\"* ]]"
hm_done
