-- The rate limit with the in-process table only (no Redis: redis.host is
-- empty), through the real hopmilter: charged once per message at MAIL
-- FROM, 450 at the limit, refused attempts and banned senders not charged,
-- client networks (IPv4 /32, IPv6 /64, v4-mapped unwrapped, a /24 subnet
-- tier), trusted and authenticated clients never limited.
--
-- The period is an hour, so no bucket refills while the script runs: every
-- count below is exact whatever the machine's speed.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
trusted_networks = {"10.200.0.0/24"}
allowed_domains = {"example.com"}
banned_domains = {"evil.example"}
spf { enabled = false }
ratelimit {
	rate = 1
	period = 1h
	burst = 3
	subnet { enabled = true  rate = 1  period = 1h  burst = 5  ipv4_prefix = 24  ipv6_prefix = 48 }
	redis { host = "" }
}
]])

local function mails(conn, n, want, what)
	for i = 1, n do
		hm.mail(conn, "<a@sender.example>", want, what .. " #" .. i)
	end
end

-- Burst of 3 for one address, then 450s; each refusal costs nothing, so
-- the count stays at exactly 3 however often the client retries.
local c = hm.client("192.0.2.10", "a.example")
mails(c, 3, SMFIR_CONTINUE, "within the burst")
mails(c, 4, SMFIR_REPLYCODE, "over the limit")
hm.log_has("NOQUEUE: BLOCKED reason=ratelimited action=tempfail ip=192%.0%.2%.10 from=<a@sender%.example> helo=a%.example",
	"ratelimited log line")
hm.log_has("ratelimit ip=192%.0%.2%.10 net=192%.0%.2%.10/32 result=limited source=local retry_after=%d+ms",
	"debug line names the network and the local source")
hm.check(hm.log_count("reason=ratelimited action=tempfail ip=192%.0%.2%.10 ") == 4, "one log line per refusal")
mt.disconnect(c)

-- A banned sender is refused before the limit and not charged.
local b = hm.client("192.0.2.11", "b.example")
hm.mail(b, "<x@evil.example>", SMFIR_REPLYCODE, "banned sender refused")
hm.mail(b, "<x@evil.example>", SMFIR_REPLYCODE, "banned sender refused again")
mails(b, 2, SMFIR_CONTINUE, "banned attempts did not use the budget")
mt.disconnect(b)

-- Tier 2: the /24 has 5 in all; 192.0.2.10 used 3 and .11 used 2.
local d = hm.client("192.0.2.12", "d.example")
hm.mail(d, "<a@sender.example>", SMFIR_REPLYCODE, "subnet 192.0.2.0/24 exhausted")
hm.log_has("ratelimit ip=192%.0%.2%.12 net=192%.0%.2%.0/24 result=limited", "subnet tier named")
mt.disconnect(d)
local e = hm.client("192.0.3.12", "e.example")
mails(e, 3, SMFIR_CONTINUE, "another /24 is separate")
mt.disconnect(e)

-- IPv6: one /64 is one client; another /64 in the same /48 shares the subnet.
local v1 = hm.client("2001:db8:1:1::1", "v6.example")
mails(v1, 3, SMFIR_CONTINUE, "IPv6 burst")
mt.disconnect(v1)
local v2 = hm.client("2001:db8:1:1:ffff::2", "v6.example")
hm.mail(v2, "<a@sender.example>", SMFIR_REPLYCODE, "same /64, other address: same bucket")
mt.disconnect(v2)
local v3 = hm.client("2001:db8:1:2::1", "v6.example")
mails(v3, 2, SMFIR_CONTINUE, "other /64 in the /48")
hm.mail(v3, "<a@sender.example>", SMFIR_REPLYCODE, "the /48 has had its 5")
mt.disconnect(v3)

-- A v4-mapped address is the IPv4 client.
local m = hm.client("::ffff:192.0.3.12", "e.example")
hm.mail(m, "<a@sender.example>", SMFIR_REPLYCODE, "v4-mapped 192.0.3.12 shares its bucket")
hm.log_has("BLOCKED reason=ratelimited action=tempfail ip=192%.0%.3%.12 ", "v4-mapped logged as IPv4")
mt.disconnect(m)

-- Trusted and authenticated clients are never limited.
local t = hm.client("10.200.0.7", "core.inner")
mails(t, 8, SMFIR_CONTINUE, "trusted client")
mt.disconnect(t)
local a = hm.client("192.0.2.10", "roaming.laptop")
mt.macro(a, SMFIC_MAIL, "{auth_authen}", "alice")
mails(a, 5, SMFIR_CONTINUE, "authenticated client from a limited address")
mt.disconnect(a)
hm.check(hm.log_count("redis=") == 0, "no Redis configured: no redis state lines")
