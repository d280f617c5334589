#!/bin/bash
# redis/gcra.lua straight against a real redis-server: the SHA1 hopmilter
# computes, burst, retry-after, steady refill, key TTL and expiry, refused
# attempts not charged, the second tier, NOSCRIPT after SCRIPT FLUSH, and
# the memory one client network costs (MEMORY USAGE).
#
# Timing: buckets that must not refill during a check use 10 s intervals,
# so a stalled machine cannot change a count; the refill check sleeps long
# enough for exactly one token and well short of a second one.
. "$(dirname "$0")/../lib/harness.sh"

hm_need redis-server redis-cli sha1sum
script=$HM_SRCDIR/redis/gcra.lua
port=$(hm_free_port)
hm_start_redis main "$port" || { hm_fail "redis-server did not start"; hm_done; }

sha=$(hm_redis "$port" -x SCRIPT LOAD <"$script")
hm_check "SCRIPT LOAD's SHA1 is sha1sum of the file's exact bytes" \
	test "$sha" = "$(sha1sum "$script" | cut -d' ' -f1)"

# gcra KEYCOUNT KEYS... ARGS...: one call, the reply on one line.
gcra() { hm_redis "$port" EVALSHA "$sha" "$@" | tr '\n' ' ' | sed 's/ $//'; }

# Burst: T = 10 s, burst 3 (tau = 20 s): three allowed, then refused with
# the wait until the oldest of the three has drained (just under 10 s).
k=hopmilter:rl:v1:{198.51.100.7/32}
r1=$(gcra 1 "$k" 10000000 20000000); r2=$(gcra 1 "$k" 10000000 20000000)
r3=$(gcra 1 "$k" 10000000 20000000); r4=$(gcra 1 "$k" 10000000 20000000)
hm_check "burst: three allowed ($r1 / $r2 / $r3)" test "$r1|$r2|$r3" = "1 0 0|1 0 0|1 0 0"
set -- $r4
hm_check "fourth refused by tier 1 ($r4)" test "$1 $3" = "0 1"
hm_check "retry-after just under 10 s ($2 ms)" test "$2" -gt 9000 -a "$2" -le 10000
ttl=$(hm_redis "$port" PTTL "$k")
hm_check "TTL is when the bucket is full again: ~30 s ($ttl ms)" test "$ttl" -gt 28000 -a "$ttl" -le 30000
tat=$(hm_redis "$port" GET "$k")
for _ in 1 2 3 4 5; do gcra 1 "$k" 10000000 20000000 >/dev/null; done
hm_check "refused attempts do not move the TAT" test "$(hm_redis "$port" GET "$k")" = "$tat"
ttl2=$(hm_redis "$port" PTTL "$k")
hm_check "refused attempts do not extend the TTL ($ttl2 <= $ttl)" test "$ttl2" -le "$ttl"

# Steady rate: T = 1 s, burst 2.  After using both, 1.3 s later exactly
# one more is allowed (a second token needs 2 s).
k=hopmilter:rl:v1:{198.51.100.8/32}
out=$(printf 'EVALSHA %s 1 %s 1000000 1000000\n' "$sha" "$k" "$sha" "$k" "$sha" "$k" | hm_redis "$port" | tr '\n' ' ')
hm_check "steady: two allowed, the third refused ($out)" eval 'case "$out" in "1 0 0 1 0 0 0 "*" 1 ") true ;; *) false ;; esac'
sleep 1.3
out=$(printf 'EVALSHA %s 1 %s 1000000 1000000\n' "$sha" "$k" "$sha" "$k" | hm_redis "$port" | tr '\n' ' ')
hm_check "steady: after 1.3 s exactly one more ($out)" eval 'case "$out" in "1 0 0 0 "*" 1 ") true ;; *) false ;; esac'

# The key expires by itself when its bucket is full again.
k=hopmilter:rl:v1:{198.51.100.9/32}
gcra 1 "$k" 300000 0 >/dev/null
ttl=$(hm_redis "$port" PTTL "$k")
hm_check "short interval: TTL <= 300 ms ($ttl)" test "$ttl" -gt 0 -a "$ttl" -le 300
sleep 0.6
hm_check "the key is gone after its TTL" test "$(hm_redis "$port" EXISTS "$k")" = 0

# Two tiers in one call, one hash tag: the subnet (burst 2) refuses the
# third host; nothing is charged by a refused call, not even tier 1.
s='hopmilter:rl:v1:{203.0.113.0/24}'
a=$(gcra 2 "${s}203.0.113.1/32" "$s" 10000000 0 10000000 10000000)
b=$(gcra 2 "${s}203.0.113.2/32" "$s" 10000000 0 10000000 10000000)
c=$(gcra 2 "${s}203.0.113.3/32" "$s" 10000000 0 10000000 10000000)
hm_check "two tiers: two hosts allowed ($a / $b)" test "$a|$b" = "1 0 0|1 0 0"
set -- $c
hm_check "two tiers: the third refused by tier 2 ($c)" test "$1 $3" = "0 2"
hm_check "two tiers: the refused host's tier-1 key was not written" \
	test "$(hm_redis "$port" EXISTS "${s}203.0.113.3/32")" = 0
d=$(gcra 2 "${s}203.0.113.1/32" "$s" 10000000 0 10000000 10000000)
set -- $d
hm_check "two tiers: the longest wait wins (tier 1 of .1 vs tier 2) ($d)" test "$1" = 0
hm_check "both keys of a call share one cluster slot" test \
	"$(hm_redis "$port" CLUSTER KEYSLOT "${s}203.0.113.1/32" 2>/dev/null || echo x)" = \
	"$(hm_redis "$port" CLUSTER KEYSLOT "$s" 2>/dev/null || echo y)"

# NOSCRIPT after SCRIPT FLUSH: what makes hopmilter fall back to EVAL.
hm_redis "$port" SCRIPT FLUSH >/dev/null
out=$(hm_redis "$port" EVALSHA "$sha" 1 k 1000 0 2>&1)
hm_check "after SCRIPT FLUSH, EVALSHA answers NOSCRIPT ($out)" eval 'case "$out" in NOSCRIPT*) true ;; *) false ;; esac'
out=$(hm_redis "$port" EVAL "$(cat "$script")" 1 hopmilter:rl:v1:{198.51.100.10/32} 1000000 0 2>&1 | head -1)
hm_check "EVAL of the script text works ($out)" test "$out" = 1

# Memory per client network (the sizing figure in redis/README.md).
for key in 'hopmilter:rl:v1:{198.51.100.7/32}' 'hopmilter:rl:v1:{2001:db8:1:2::/64}' \
	"${s}203.0.113.1/32" "$s"; do
	hm_redis "$port" SET "$key" 1795337797986941 PX 600000 >/dev/null
	bytes=$(hm_redis "$port" MEMORY USAGE "$key")
	hm_log "MEMORY USAGE $key = $bytes bytes"
	hm_check "one key stays small ($bytes bytes)" test "$bytes" -gt 0 -a "$bytes" -lt 160
done
hm_done
