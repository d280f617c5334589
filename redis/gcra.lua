-- gcra.lua - hopmilter's shared rate limit: GCRA over one or two tiers.
--
-- hopmilter compiles these exact bytes in and calls them with EVALSHA
-- (falling back to EVAL after NOSCRIPT); the SHA1 it logs at start-up is
-- `sha1sum redis/gcra.lua`.  Change nothing here without bumping the key
-- version ("v1") in milter/policy/ratelimit.c: nodes running different scripts
-- must not share keys.
--
-- KEYS[i]     the bucket of tier i: 1 = the client network, 2 = its subnet
--             (optional).  Both keys carry the same {hash tag}.
-- ARGV[2i-1]  emission interval T of tier i, in microseconds (period / rate)
-- ARGV[2i]    burst tolerance tau of tier i, in microseconds: T * (burst - 1)
-- ARGV[2n+i]  optional (n = #KEYS): the cost c of this request in tier i,
--             a whole number >= 1 (a message's accepted recipients); 1
--             when absent, so a call without costs is the call of before.
--
-- Each key holds one number, the theoretical arrival time (TAT) of the
-- tier in microseconds of Redis's clock.  A request is allowed when
-- TAT + (c - 1) * T - now <= tau for every tier (c requests at once); only
-- then is every TAT advanced by its c * T, so a refused request costs
-- nothing.  The caller keeps c <= burst, or the request could never pass.  A key expires exactly when its
-- bucket is full again (TAT reached), when it carries no information.
--
-- Returns {allowed, retry_after_ms, tier}: {1, 0, 0} when allowed, else
-- {0, milliseconds until a request would be allowed, the tier that waits
-- longest}.
--
-- The clock is Redis's TIME, never the caller's: every node shares one
-- clock, so their clock skew cannot matter.  Redis 3.2-4.x replicate
-- scripts verbatim and refuse a write after TIME unless told to replicate
-- effects; on 5 and later this call is a harmless no-op.
if redis.replicate_commands then pcall(redis.replicate_commands) end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
local wait, wait_tier = 0, 0

for i = 1, #KEYS do
	local T = tonumber(ARGV[2 * i - 1])
	local tau = tonumber(ARGV[2 * i])
	local c = tonumber(ARGV[2 * #KEYS + i]) or 1
	local tat = tonumber(redis.call('GET', KEYS[i])) or now
	if tat < now then tat = now end
	local over = tat + (c - 1) * T - now - tau
	if over > wait then
		wait, wait_tier = over, i
	end
	tats[i] = tat + c * T
end

if wait_tier > 0 then
	return {0, math.ceil(wait / 1000), wait_tier}
end
for i = 1, #KEYS do
	redis.call('SET', KEYS[i], string.format('%d', tats[i]),
	    'PX', math.max(1, math.ceil((tats[i] - now) / 1000)))
end
return {1, 0, 0}
