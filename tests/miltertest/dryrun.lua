-- dry_run: the sender ban, SPF and the rate limit are in shadow mode (logged
-- as WOULD-BLOCK, nothing refused); relay protection is not a check with a
-- mode: a foreign recipient is refused and logged BLOCKED, dry run or not.
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
hm.rcpt(c, "<b@foreign.example>", SMFIR_REPLYCODE, "foreign recipient refused in dry run")
hm.rcpt(c, "<b%foreign.example@example.com>", SMFIR_REPLYCODE, "percent hack refused in dry run")
hm.rcpt(c, "<b@example.com>", SMFIR_CONTINUE, "own domain accepted")
hm.eom(c, SMFIR_CONTINUE, "message passes in dry run")
hm.log_has("NOQUEUE: WOULD%-BLOCK reason=banned%-domain action=reject ip=192%.0%.2%.50 ", "would-block banned")
hm.log_has("BLOCKED reason=unknown%-rcpt%-domain action=reject ip=192%.0%.2%.50 .* to=<b@foreign%.example>", "relay refusal BLOCKED")
hm.check(hm.log_count("WOULD%-BLOCK reason=unknown%-rcpt%-domain") == 0, "no WOULD-BLOCK for a relay attempt")
mt.disconnect(c)

-- Outbound while disabled: refused in dry run too.
local t = hm.client("10.200.0.7", "core.example")
hm.mail(t, "<core@example.com>", SMFIR_CONTINUE, "trusted sender")
hm.rcpt(t, "<x@foreign.example>", SMFIR_REPLYCODE, "outbound disabled: refused in dry run")
hm.log_has("BLOCKED reason=outbound%-disabled action=reject ip=10%.200%.0%.7 ", "outbound-disabled BLOCKED")
mt.disconnect(t)

-- Over the rate limit (local table, 1 per hour): logged, not refused.
local r = hm.client("192.0.2.51", "dry2.example")
hm.mail(r, "<a@sender.example>", SMFIR_CONTINUE, "first message within the limit")
hm.mail(r, "<a@sender.example>", SMFIR_CONTINUE, "second message over the limit passes in dry run")
hm.log_has("NOQUEUE: WOULD%-BLOCK reason=ratelimited action=tempfail ip=192%.0%.2%.51 ", "would-block ratelimited")
mt.disconnect(r)
hm.check(hm.log_count(" BLOCKED reason=banned") == 0 and hm.log_count(" BLOCKED reason=ratelimited") == 0,
	"no BLOCKED line for a shadow check")
