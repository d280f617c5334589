-- The trusted side: outbound gate and Received scrubbing, SASL clients.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
trusted_networks = {"10.200.0.0/24", "fd00:200::/64"}
internal_networks = {"192.168.0.0/16"}
internal_names = {".corp.example", "core.internal"}
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
hm.header(c, "Subject", "10.200.0.3 in the user's own text stays")
hm.header(c, "X-Note", "10.200.0.3 in an X- header goes")
hm.header(c, "Received", "by core.corp.example (Postfix, from userid 1000)\n\tid 4Xb9Z1; Tue, 1 Dec 2026")
hm.header(c, "X-MS-Exchange-Organization-AuthSource", "exch01.corp.example")
hm.header(c, "X-Mailer", "Outlook 16.0")
hm.eom(c, SMFIR_CONTINUE, "trusted message accepted")
hm.check(mt.eom_check(c, MT_HDRDELETE, "Received"), "Received headers deleted")
hm.check(mt.eom_check(c, MT_HDRDELETE, "X-Note"), "X- header naming an inner address deleted")
hm.check(mt.eom_check(c, MT_HDRDELETE, "X-MS-Exchange-Organization-AuthSource"), "listed header deleted (name over 31 bytes)")
hm.check(not mt.eom_check(c, MT_HDRDELETE, "Subject"), "Subject untouched")
hm.check(not mt.eom_check(c, MT_HDRDELETE, "X-Mailer"), "X-Mailer naming nothing inner untouched")
hm.log_has("scrub Received #1 naming 192%.168%.7%.20", "first inner header found")
hm.log_has("scrub Received #3 naming fd00:200::3", "IPv6 literal found")
hm.log_has("scrub Received #4 naming core%.corp%.example", "pickup's Received: the inner name")
hm.log_has("scrub X%-MS%-Exchange%-Organization%-AuthSource #1 listed as X%-MS%-Exchange%-Organization%-%*", "listed header")
hm.check(hm.log_count("scrub Received #2 ") == 0, "foreign Received kept")
hm.log_has("ACCEPTED ip=10%.200%.0%.3 class=trusted from=<core@example%.com> to=<bob@example%.com> nrcpt=1 refused=1 scrubbed=5 scrubbed_names=Received:3,X%-Note:1,X%-MS%-Exchange%-Organization%-AuthSource:1 spf=",
	"ACCEPTED with scrub count and names")
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

-- A DKIM signature made inside: the headers it covers stay (a warning names
-- them), the ones added above it go.  The signature comes after what it covers.
local d = hm.client("10.200.0.3", "core.inner")
hm.mail(d, "<core@example.com>", SMFIR_CONTINUE, "trusted sender")
hm.rcpt(d, "<bob@example.com>", SMFIR_CONTINUE, "local recipient")
hm.header(d, "Received", "from core.inner ([10.200.0.3]) by mx.example.com")
hm.header(d, "Received", "by core.corp.example (Postfix, from userid 1000)")
hm.header(d, "X-Originating-IP", "[192.168.7.20]")
hm.header(d, "DKIM-Signature", "v=1; a=rsa-sha256; d=example.com; s=hm;\n\th=From:To:Received:X-Originating-IP; bh=x; b=y")
hm.eom(d, SMFIR_CONTINUE, "signed message accepted")
hm.check(mt.eom_check(d, MT_HDRDELETE, "Received"), "the unsigned Received deleted")
hm.check(not mt.eom_check(d, MT_HDRDELETE, "X-Originating-IP"), "signed X-Originating-IP kept")
hm.log_has("keeping Received #2 %(naming core%.corp%.example%): a DKIM signature covers it", "warning names the signed Received")
hm.log_has("keeping X%-Originating%-IP #1 %(listed as X%-Originating%-IP%)", "warning names X-Originating-IP")
hm.log_has("ACCEPTED ip=10%.200%.0%.3 class=trusted .* scrubbed=1 scrubbed_names=Received:1 ", "only the deletion counted")
mt.disconnect(d)
