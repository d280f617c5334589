#!/bin/bash
# tests/layout.sh - the layering of the tree, checked by the build.
#
#   milter/policy/   the policy core: no libmilter in it (no mfapi.h, no smfi_)
#   milter/*.[ch]    the libmilter face: adapts the core, never calls libspf2
#                    (SPF_*) or hiredis (redis*) itself, never includes them
#   relay-transport/ hoprelay: includes nothing from milter/
#
# `layout.sh [TOP]` checks the tree at TOP (default: the source tree) and
# prints one line per violation.  Run by `make check`, it first proves it can
# fail: it copies the tree, puts one violation of each rule into the copy, and
# expects each to be reported.
set -u
top=${1:-${srcdir:-$(dirname "$0")/..}}

# check_tree TOP: print the violations, return 1 when there are any.
check_tree() {
	local t=$1 bad=0 f
	for f in "$t"/milter/policy/*.[ch]; do
		if grep -nE '#[[:space:]]*include[[:space:]]*[<"](libmilter/)?mfapi\.h[">]|\bsmfi_[a-z]+[[:space:]]*\(' "$f"; then
			echo "layout: ${f#"$t"/}: the policy core uses libmilter"
			bad=1
		fi
	done
	for f in "$t"/milter/*.[ch]; do
		if grep -nE '\bSPF_[a-z][a-z_]*[[:space:]]*\(|\bredis[A-Z][A-Za-z]*[[:space:]]*\(|#[[:space:]]*include[[:space:]]*[<"](spf2/|hiredis/)' "$f"; then
			echo "layout: ${f#"$t"/}: the libmilter face calls libspf2 or hiredis"
			bad=1
		fi
	done
	for f in "$t"/relay-transport/*.[ch]; do
		if grep -nE '#[[:space:]]*include[[:space:]]*"[^"]*milter/' "$f"; then
			echo "layout: ${f#"$t"/}: hoprelay includes from milter/"
			bad=1
		fi
	done
	return $bad
}

if [ $# -gt 0 ]; then
	check_tree "$top"
	exit
fi

fails=0
if ! check_tree "$top"; then
	echo "FAIL: the tree breaks the layering"
	fails=1
else
	echo "ok: the tree keeps the layering"
fi

# Each rule must be able to fail: a copy of the tree, one violation at a time.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inject() { # NAME FILE LINE
	rm -rf "$tmp/t" && mkdir -p "$tmp/t" &&
		cp -r "$top/milter" "$top/relay-transport" "$tmp/t/" &&
		printf '%s\n' "$3" >>"$tmp/t/$2"
	if check_tree "$tmp/t" >/dev/null; then
		echo "FAIL: $1 was not reported"
		fails=1
	else
		echo "ok: $1 is reported"
	fi
}
inject "mfapi.h in the core" milter/policy/policy.c '#include <libmilter/mfapi.h>'
inject "smfi_ call in the core" milter/policy/scrub.c 'static void x(void) { smfi_setreply(0, 0, 0, 0); }'
inject "SPF_ call in the face" milter/mlfi.c 'static void x(void) { SPF_request_free(0); }'
inject "hiredis in the face" milter/hopmilter.c '#include <hiredis/hiredis.h>'
inject "milter/ header in hoprelay" relay-transport/xfer.c '#include "milter/policy/conf.h"'
exit $fails
