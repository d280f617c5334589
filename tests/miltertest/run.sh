#!/bin/bash
# run.sh SCRIPT.lua: run one miltertest script against the built hopmilter.
# The script gets a private scratch directory (HM_TMP) and the helper
# library common.lua (HM_LUA_LIB).
HM_TEST=$(basename "$1" .lua)
script=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
. "$(dirname "$0")/../lib/harness.sh"

hm_need miltertest "$HOPMILTER"
export HOPMILTER HM_TMP HM_LUA_LIB="$HM_LIBDIR/../miltertest/common.lua"
export HM_USER=nobody
[ "$(id -u)" = 0 ] || HM_USER=
cd "$HM_TMP" || exit 1
miltertest -s "$script"
rc=$?
hm_scan_sanitizers || rc=1
if [ $rc -ne 0 ]; then
	hm_log "miltertest failed ($rc); hopmilter's log:"
	sed 's/^/    milter| /' "$HM_TMP/milter.log" >&2 2>/dev/null
	HM_KEEP=1
fi
[ -f "$HM_TMP/milter.log" ] && hm_export_log "$HM_TMP/milter.log"
exit $rc
