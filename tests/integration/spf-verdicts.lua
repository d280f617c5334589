-- SPF verdicts of the real hopmilter under miltertest, with the records
-- served by a real DNS server (tests/lib/spfdns.sh; run by
-- spf-miltertest.sh inside a mount namespace whose /etc/resolv.conf points
-- at it): every result, the null sender and HELO identity, IPv6 clients,
-- include and redirect chains, a 2 kB record, the bypasses libspf2 alone
-- allowed (%{h}, redirect), the headers inserted at end of message and
-- the forged Authentication-Results deleted.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
authserv_id = "mx.test.invalid"
allowed_domains = {"example.com"}
spf { dns_timeout = 1s  timeout = 3s }
ratelimit { enabled = false }
]])

local AR = "Authentication-Results"

-- One message from `ip`/`helo`/`from`; `want` is the MAIL FROM reply.
local function msg(ip, helo, from, want, what)
	local c = hm.client(ip, helo)
	hm.mail(c, from, want, what)
	return c
end

-- A message that gets through: returns the connection after EOM.
local function accepted(ip, helo, from, what, headers)
	local c = msg(ip, helo, from, SMFIR_CONTINUE, what .. ": MAIL accepted")
	hm.rcpt(c, "<bob@example.com>", SMFIR_CONTINUE, what .. ": RCPT")
	for _, h in ipairs(headers or {}) do
		hm.header(c, h[1], h[2])
	end
	hm.eom(c, SMFIR_CONTINUE, what .. ": message accepted")
	return c
end

local function expect_ar(c, value, what)
	hm.check(mt.eom_check(c, MT_HDRINSERT, AR, value), what .. ": A-R " .. value)
end

-- pass, with a forged A-R claiming our name (and one of someone else).
local c = accepted("192.0.2.7", "mta.client.example", "<alice@pass.example>", "pass", {
	{AR, "mx.test.invalid; spf=pass smtp.mailfrom=evil.example"},
	{AR, "other.example; dkim=pass"},
})
expect_ar(c, "mx.test.invalid; spf=pass smtp.mailfrom=pass.example", "pass")
hm.check(mt.eom_check(c, MT_HDRINSERT, "Received-SPF"), "pass: Received-SPF inserted")
local rspf = mt.getheader(c, "Received-SPF", 0) or ""
hm.check(rspf:find("^%s?pass %(mx%.test%.invalid: domain of pass%.example designates 192%.0%.2%.7 as permitted sender%)") ~= nil
	and rspf:find('envelope%-from="alice@pass%.example";') ~= nil
	and rspf:find("identity=mailfrom;") ~= nil, "pass: Received-SPF value: " .. rspf)
hm.check(mt.eom_check(c, MT_HDRDELETE, AR), "pass: forged A-R deleted")
hm.log_has("ACCEPTED ip=192%.0%.2%.7 class=internet from=<alice@pass%.example> .* spf=pass$", "pass: ACCEPTED spf=pass")
hm.log_has("deleting 1 forged Authentication%-Results header%(s%) claiming mx%.test%.invalid", "forged header logged")
mt.disconnect(c)

-- fail (IPv4 and IPv6): 550 at MAIL FROM.
mt.disconnect(msg("198.51.100.9", "mta.client.example", "<alice@pass.example>", SMFIR_REPLYCODE, "fail refused"))
hm.log_has("BLOCKED reason=spf%-fail action=reject ip=198%.51%.100%.9 from=<alice@pass%.example> helo=mta%.client%.example", "spf-fail log line")
mt.disconnect(msg("2001:db8:99::7", "mta.client.example", "<alice@pass.example>", SMFIR_REPLYCODE, "IPv6 fail refused"))
hm.log_has("BLOCKED reason=spf%-fail action=reject ip=2001:db8:99::7 ", "IPv6 spf-fail log line")
c = accepted("2001:db8:25::8", "mta.client.example", "<alice@pass.example>", "IPv6 pass")
expect_ar(c, "mx.test.invalid; spf=pass smtp.mailfrom=pass.example", "IPv6 pass")
mt.disconnect(c)

-- softfail, neutral, none, permerror: accepted by default, result recorded.
local recorded = {
	{"bob@soft.example", "softfail", "soft.example"},
	{"bob@neutral.example", "neutral", "neutral.example"},
	{"bob@nospf.example", "none", "nospf.example"},
	{"bob@unknown.example", "none", "unknown.example"},
	{"bob@syntax.example", "permerror", "syntax.example"},
	{"bob@toomany.example", "permerror", "toomany.example"},
}
for _, r in ipairs(recorded) do
	c = accepted("198.51.100.9", "mta.client.example", "<" .. r[1] .. ">", r[2])
	expect_ar(c, "mx.test.invalid; spf=" .. r[2] .. " smtp.mailfrom=" .. r[3], r[2])
	hm.log_has("ACCEPTED ip=198%.51%.100%.9 class=internet from=<" .. hm.lit(r[1]) .. "> .* spf=" .. r[2] .. "$",
		r[1] .. ": ACCEPTED spf=" .. r[2])
	mt.disconnect(c)
end

-- temperror: SERVFAIL, and a server that never answers: 451 at MAIL FROM.
mt.disconnect(msg("198.51.100.9", "mta.client.example", "<bob@servfail.example>", SMFIR_REPLYCODE, "SERVFAIL: tempfail"))
hm.log_has("BLOCKED reason=spf%-temperror action=tempfail ip=198%.51%.100%.9 from=<bob@servfail%.example>", "SERVFAIL: spf-temperror")
mt.disconnect(msg("198.51.100.9", "mta.client.example", "<bob@silent.example>", SMFIR_REPLYCODE, "silent server: tempfail"))
hm.log_has("BLOCKED reason=spf%-temperror action=tempfail ip=198%.51%.100%.9 from=<bob@silent%.example>", "silent server: spf-temperror")

-- include and redirect chains, the mx mechanism over IPv6.
c = accepted("192.0.2.44", "mta.client.example", "<carol@inc.example>", "include chain pass")
expect_ar(c, "mx.test.invalid; spf=pass smtp.mailfrom=inc.example", "include chain")
mt.disconnect(c)
mt.disconnect(msg("203.0.113.5", "mta.client.example", "<carol@inc.example>", SMFIR_REPLYCODE, "include chain fail"))
c = accepted("192.0.2.45", "mta.client.example", "<carol@redir.example>", "redirect pass")
expect_ar(c, "mx.test.invalid; spf=pass smtp.mailfrom=redir.example", "redirect")
mt.disconnect(c)
mt.disconnect(msg("203.0.113.5", "mta.client.example", "<carol@redir.example>", SMFIR_REPLYCODE, "redirect fail"))
c = accepted("2001:db8:77::1", "mta.client.example", "<dave@mx.example>", "mx over IPv6 pass")
mt.disconnect(c)

-- A 2 kB record in eight strings (over TCP): the match near its end, then its -all.
c = accepted("192.0.2.7", "mta.client.example", "<erin@long.example>", "2 kB record pass")
expect_ar(c, "mx.test.invalid; spf=pass smtp.mailfrom=long.example", "2 kB record")
mt.disconnect(c)
mt.disconnect(msg("198.51.100.9", "mta.client.example", "<erin@long.example>", SMFIR_REPLYCODE, "2 kB record fail"))
hm.log_has("BLOCKED reason=spf%-fail action=reject ip=198%.51%.100%.9 from=<erin@long%.example>", "2 kB record: spf-fail")
-- The bypasses libspf2 alone let through.  %{h} is the HELO as sent: a bogus
-- one makes no permerror (accepted by default), the record's -all applies.
mt.disconnect(msg("198.51.100.9", "JUMPIN' JUPITER", "<erin@hbogus.example>", SMFIR_REPLYCODE, "%{h} bogus HELO: fail"))
hm.log_has("BLOCKED reason=spf%-fail action=reject ip=198%.51%.100%.9 from=<erin@hbogus%.example>", "%{h} bogus HELO: spf-fail")
mt.disconnect(msg("192.0.2.7", "[192.0.2.7]", "<erin@withall.example>", SMFIR_REPLYCODE, "redirect with all: ignored, fail"))
mt.disconnect(msg("192.0.2.66", "[192.0.2.66]", "<erin@before.example>", SMFIR_REPLYCODE, "redirect before a mechanism: the mechanism first, fail"))
c = accepted("192.0.2.67", "[192.0.2.67]", "<erin@before.example>", "redirect before a mechanism: no match, redirect passes")
mt.disconnect(c)

-- The null sender: the HELO name decides (pass, then fail).
c = accepted("192.0.2.5", "helo.example", "<>", "null sender HELO pass")
expect_ar(c, "mx.test.invalid; spf=pass smtp.helo=helo.example", "null sender")
hm.check(mt.eom_check(c, MT_HDRINSERT, "Received-SPF"), "null sender: Received-SPF")
hm.check((mt.getheader(c, "Received-SPF", 0) or ""):find("identity=helo;") ~= nil, "null sender: identity=helo")
mt.disconnect(c)
mt.disconnect(msg("198.51.100.9", "helo.example", "<>", SMFIR_REPLYCODE, "null sender HELO fail"))
hm.log_has("BLOCKED reason=spf%-fail action=reject ip=198%.51%.100%.9 from=<> helo=helo%.example", "null sender spf-fail")
-- A HELO that fails decides even for a sender whose domain would pass.
mt.disconnect(msg("192.0.2.9", "helo.example", "<alice@pass.example>", SMFIR_REPLYCODE, "HELO fail decides"))

-- Trusted and loopback clients are not checked.
c = accepted("127.0.0.1", "localhost", "<alice@pass.example>", "loopback (trusted)")
hm.check(not mt.eom_check(c, MT_HDRINSERT, AR), "trusted: no A-R of ours")
mt.disconnect(c)
hm.check(hm.log_count("private data not NULL") == 0, "no leaked private data")
