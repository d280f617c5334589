#!/bin/bash
# tests/fuzz/run.sh - build the libFuzzer harnesses with clang (ASan+UBSan)
# and run each for a bounded time.  `make fuzz` calls it.
#
#   FUZZ_TIME=30 tests/fuzz/run.sh [harness ...]
#
# Each harness starts from its seed corpus (tests/fuzz/corpus/NAME) and
# keeps what it learns in the build tree (fuzz/NAME.corpus).  A crash
# leaves a reproducer in fuzz/ and fails the run: turn it into a unit test.
set -u
srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${builddir:-$PWD}
time_each=${FUZZ_TIME:-30}
CLANG=${FUZZ_CC:-clang}
out=$builddir/fuzz
mkdir -p "$out"

command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG not found (apt-get install clang)" >&2; exit 1; }

FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
 -I$builddir -I$srcdir -I$srcdir/lib -I$srcdir/milter/policy -D_GNU_SOURCE
 -DSYSCONFDIR=\"/etc\" -DRUNSTATEDIR=\"/run\" $(pkg-config --cflags libconfuse)"
LIBS="$(pkg-config --libs libconfuse hiredis libcrypto libidn2) -pthread"
# Every source of a library, by glob: a module added or split needs no edit here.
LIB_SRC=$(cd "$srcdir" && echo lib/*.c)
# milter/policy/rlscript.c is generated into the build tree (make builds it first).
POLICY_SRC="$(cd "$srcdir" && echo milter/policy/*.c) $builddir/milter/policy/rlscript.c"
SPF_LIBS="-lspf2 -lresolv"

# Every harness links the common and policy sources; it is small enough.
declare -A SOURCES=(
	[fuzz_addr]="$LIB_SRC"
	[fuzz_netaddr]="$LIB_SRC"
	[fuzz_esc]="$LIB_SRC"
	[fuzz_scrub]="$LIB_SRC $POLICY_SRC"
	[fuzz_conf]="$LIB_SRC $POLICY_SRC"
	[fuzz_policy]="$LIB_SRC $POLICY_SRC"
	[fuzz_authres]="$LIB_SRC $POLICY_SRC"
	[fuzz_spf]="$LIB_SRC $POLICY_SRC"
	[fuzz_spfrec]="$LIB_SRC $POLICY_SRC"
	[fuzz_rlreply]="$LIB_SRC $POLICY_SRC"
	[fuzz_ctl]="$LIB_SRC $POLICY_SRC milter/ctlcmd.c"
)
# Extra harnesses register themselves in tests/fuzz/*.list: "name: sources...".
for l in "$srcdir"/tests/fuzz/*.list; do
	[ -e "$l" ] || continue
	while IFS=: read -r name srcs; do
		[ -n "$name" ] && [ "${name#\#}" = "$name" ] && SOURCES[$name]=$srcs
	done <"$l"
done

names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(printf '%s\n' "${!SOURCES[@]}" | sort))

status=0
printf '%-16s %12s %10s %8s %s\n' HARNESS EXECUTIONS EXEC/S SECONDS RESULT
for n in "${names[@]}"; do
	srcs=""
	for f in ${SOURCES[$n]}; do
		case $f in /*) srcs="$srcs $f" ;; *) srcs="$srcs $srcdir/$f" ;; esac
	done
	# shellcheck disable=SC2086
	if ! $CLANG $FLAGS -o "$out/$n" "$srcdir/tests/fuzz/$n.c" $srcs $LIBS $SPF_LIBS 2>"$out/$n.build.log"; then
		echo "fuzz: cannot build $n:" >&2
		cat "$out/$n.build.log" >&2
		status=1
		continue
	fi
	mkdir -p "$out/$n.corpus"
	seeds=$srcdir/tests/fuzz/corpus/$n
	[ -d "$seeds" ] || seeds=
	dict=$srcdir/tests/fuzz/$n.dict
	[ -f "$dict" ] && dict="-dict=$dict" || dict=
	(cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./$n" -max_total_time="$time_each" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 $dict "$n.corpus" $seeds >"$n.log" 2>&1)
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$n.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$n.log")
	if [ $rc -eq 0 ]; then result=ok; else result="FAILED (see $out/$n.log)"; status=1; fi
	printf '%-16s %12s %10s %8s %s\n' "$n" "${execs:-?}" "${rate:-?}" "$time_each" "$result"
	if [ $rc -ne 0 ]; then grep -m5 -E 'ERROR|SUMMARY|Test unit written' "$out/$n.log" >&2; fi
done
exit $status
