-- The trusted side: outbound gate and Received scrubbing, SASL clients.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
trusted_networks = {"10.200.0.0/24", "fd00:200::/64"}
internal_networks = {"192.168.0.0/16"}
allowed_domains = {"example.com"}
banned_domains = {"evil.example"}
outbound { enabled = false }
spf { enabled = false }
ratelimit { enabled = false }
]])

-- Outbound disabled: the core may reach local domains only.
local c = hm.client("10.200.0.3", "core.inner")
hm.mail(c, "<core@example.com>", SMFIR_CONTINUE, "trusted sender")
hm.rcpt(c, "<friend@outside.example>", SMFIR_REPLYCODE, "outbound refused while disabled")
hm.log_has("NOQUEUE: BLOCKED reason=outbound%-disabled action=reject ip=10%.200%.0%.3 from=<core@example%.com> to=<friend@outside%.example>",
	"outbound-disabled log line")
hm.rcpt(c, "<bob@example.com>", SMFIR_CONTINUE, "trusted to a local domain")
-- Headers naming inner hosts are scrubbed, others untouched.
hm.header(c, "Received", "from laptop ([192.168.7.20])\n\tby core.inner with ESMTPSA")
hm.header(c, "Received", "from mx.outside.example (mx.outside.example [203.0.113.5]) by core.inner")
hm.header(c, "Received", "from core.inner ([IPv6:fd00:200::3]) by hop1")
hm.header(c, "X-Note", "10.200.0.3 is mentioned here and stays")
hm.eom(c, SMFIR_CONTINUE, "trusted message accepted")
hm.check(mt.eom_check(c, MT_HDRDELETE, "Received"), "Received headers deleted")
hm.check(not mt.eom_check(c, MT_HDRDELETE, "X-Note"), "other headers untouched")
hm.log_has("scrub Received #1 naming 192%.168%.7%.20", "first inner header found")
hm.log_has("scrub Received #3 naming fd00:200::3", "IPv6 literal found")
hm.check(hm.log_count("scrub Received #2 ") == 0, "foreign Received kept")
hm.log_has("ACCEPTED ip=10%.200%.0%.3 class=trusted from=<core@example%.com> to=<bob@example%.com> nrcpt=1 refused=1 scrubbed=2",
	"ACCEPTED with scrub count")
mt.disconnect(c)

-- A SASL-authenticated client from anywhere is trusted.
local a = hm.client("198.51.100.20", "roaming.laptop")
mt.macro(a, SMFIC_MAIL, "{auth_authen}", "alice")
hm.mail(a, "<alice@evil.example>", SMFIR_CONTINUE, "authenticated sender skips the ban list")
hm.rcpt(a, "<x@outside.example>", SMFIR_REPLYCODE, "authenticated, outbound still gated")
hm.log_has("BLOCKED reason=outbound%-disabled action=reject ip=198%.51%.100%.20 ", "authenticated outbound log")
hm.rcpt(a, "<y@example.com>", SMFIR_CONTINUE, "authenticated to local")
hm.eom(a, SMFIR_CONTINUE, "authenticated message")
hm.log_has("ACCEPTED ip=198%.51%.100%.20 class=authenticated ", "authenticated class logged")
mt.disconnect(a)
