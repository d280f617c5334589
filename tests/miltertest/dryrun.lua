-- dry_run: every refusal is logged as WOULD-BLOCK and nothing is refused.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
dry_run = true
trusted_networks = {"10.200.0.0/24"}
allowed_domains = {"example.com"}
banned_domains = {"evil.example"}
spf { enabled = false }
ratelimit { rate = 1  period = 1h  burst = 1  redis { host = "" } }
]])

local c = hm.client("192.0.2.50", "dry.example")
hm.mail(c, "<a@evil.example>", SMFIR_CONTINUE, "banned sender passes in dry run")
hm.rcpt(c, "<b@foreign.example>", SMFIR_CONTINUE, "foreign recipient passes in dry run")
hm.eom(c, SMFIR_CONTINUE, "message passes in dry run")
hm.log_has("NOQUEUE: WOULD%-BLOCK reason=banned%-domain action=reject ip=192%.0%.2%.50 ", "would-block banned")
hm.log_has("WOULD%-BLOCK reason=unknown%-rcpt%-domain action=reject ip=192%.0%.2%.50 .* to=<b@foreign%.example>", "would-block rcpt")
mt.disconnect(c)

-- Over the rate limit (local table, 1 per hour): logged, not refused.
local r = hm.client("192.0.2.51", "dry2.example")
hm.mail(r, "<a@sender.example>", SMFIR_CONTINUE, "first message within the limit")
hm.mail(r, "<a@sender.example>", SMFIR_CONTINUE, "second message over the limit passes in dry run")
hm.log_has("NOQUEUE: WOULD%-BLOCK reason=ratelimited action=tempfail ip=192%.0%.2%.51 ", "would-block ratelimited")
mt.disconnect(r)
hm.check(hm.log_count(" BLOCKED ") == 0, "no BLOCKED line in dry run")
