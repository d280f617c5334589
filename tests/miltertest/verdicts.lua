-- Inbound verdicts of the real hopmilter under miltertest: banned sender
-- domains, recipient domains (per recipient), negotiation, several messages
-- per connection, IPv4, IPv6 and v4-mapped clients, close without a message.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
trusted_networks = {"10.200.0.0/24"}
allowed_domains = {"example.com", ".example.org"}
banned_domains = {"evil.example", "spam.test"}
spf { enabled = false }
ratelimit { enabled = false }
]])

local c = hm.client("192.0.2.7", "mail.sender.example")

-- Negotiation: only the steps hopmilter uses, no reply where it never refuses.
hm.check(mt.test_option(c, SMFIP_NODATA), "negotiated away DATA")
hm.check(mt.test_option(c, SMFIP_NOBODY), "negotiated away the body")
hm.check(mt.test_option(c, SMFIP_NOEOH), "negotiated away end of headers")
hm.check(mt.test_option(c, SMFIP_NOUNKNOWN), "negotiated away unknown commands")
hm.check(not mt.test_option(c, SMFIP_NOHDRS), "headers are wanted")
hm.check(mt.test_option(c, SMFIP_NR_HDR), "no reply per header")
hm.check(mt.test_option(c, SMFIP_NR_CONN), "no reply at connect")
hm.check(not mt.test_option(c, SMFIP_NR_MAIL), "MAIL is answered")
hm.check(not mt.test_option(c, SMFIP_NR_RCPT), "RCPT is answered")
hm.check(mt.test_action(c, SMFIF_CHGHDRS), "may change headers")
hm.check(mt.test_action(c, SMFIF_ADDHDRS), "may add headers")

-- Message 1: banned sender (a subdomain of a banned domain, odd case, trailing dot).
hm.mail(c, "<bot@Relay.Evil.Example.>", SMFIR_REPLYCODE, "banned subdomain refused at MAIL")
hm.log_has("NOQUEUE: BLOCKED reason=banned%-domain action=reject ip=192%.0%.2%.7 from=<bot@Relay%.Evil%.Example%.> helo=mail%.sender%.example",
	"banned-domain log line")

-- Message 2, same connection: a good sender, three recipients, one foreign.
hm.mail(c, "<alice@sender.example>", SMFIR_CONTINUE, "next message starts clean")
hm.rcpt(c, "<bob@example.com>", SMFIR_CONTINUE, "allowed domain")
hm.rcpt(c, "<carol@foreign.example>", SMFIR_REPLYCODE, "foreign domain refused for that recipient")
hm.rcpt(c, "<dave@Mail.Example.ORG.>", SMFIR_CONTINUE, "dotted entry covers subdomains, any case")
hm.rcpt(c, "<eve@www.example.com>", SMFIR_REPLYCODE, "undotted entry is exact")
hm.rcpt(c, "<@hop.example:frank@example.com>", SMFIR_CONTINUE, "source route ignored")
hm.rcpt(c, "<\"x@foreign.example\"@example.com>", SMFIR_REPLYCODE, "quoted local part with @ routes further in")
hm.rcpt(c, "<x%foreign.example@example.com>", SMFIR_REPLYCODE, "percent hack refused")
hm.rcpt(c, "<\"x y\"@example.com>", SMFIR_CONTINUE, "quoted local part without routing")
hm.rcpt(c, "<user@example.com.foreign.example>", SMFIR_REPLYCODE, "allowed name inside a foreign domain")
hm.header(c, "From", "alice@sender.example")
hm.header(c, "Received", "from x ([10.200.0.9]) by y")
hm.eom(c, SMFIR_CONTINUE, "message accepted")
hm.check(not mt.eom_check(c, MT_HDRDELETE), "inbound mail keeps its Received headers")
hm.log_has("BLOCKED reason=unknown%-rcpt%-domain action=reject ip=192%.0%.2%.7 from=<alice@sender%.example> to=<carol@foreign%.example>",
	"unknown-rcpt-domain log line")
hm.log_has("NOQUEUE: ACCEPTED ip=192%.0%.2%.7 class=internet from=<alice@sender%.example> to=<bob@example%.com>,<dave@Mail%.Example%.ORG%.>,<@hop%.example:frank@example%.com>,<\"x\\x20y\"@example%.com> nrcpt=4 refused=5",
	"ACCEPTED log line")

-- Message 3: the null sender is never banned.
hm.mail(c, "<>", SMFIR_CONTINUE, "null sender")
hm.rcpt(c, "<postmaster@example.com>", SMFIR_CONTINUE, "bounce to a local address")
mt.disconnect(c)

-- An IPv6 client and a v4-mapped one.
local c6 = hm.client("2001:db8::25", "v6.sender.example")
hm.mail(c6, "<x@spam.test>", SMFIR_REPLYCODE, "IPv6 client, banned domain")
hm.log_has("BLOCKED reason=banned%-domain action=reject ip=2001:db8::25 ", "IPv6 address logged")
mt.disconnect(c6)

local cm = hm.client("::ffff:10.200.0.5", "core.inner")
hm.mail(cm, "<x@spam.test>", SMFIR_CONTINUE, "v4-mapped trusted peer is trusted")
mt.disconnect(cm)

-- Queue id from the MTA's "i" macro (Postfix sends it from the first accepted RCPT on).
local cq = hm.client("198.51.100.4", "q.example")
hm.mail(cq, "<a@sender.example>", SMFIR_CONTINUE, "sender for queue-id test")
mt.macro(cq, SMFIC_RCPT, "i", "4Xb9Z1")
hm.rcpt(cq, "<z@foreign.example>", SMFIR_REPLYCODE, "foreign recipient")
hm.log_has("^.*4Xb9Z1: BLOCKED reason=unknown%-rcpt%-domain action=reject ip=198%.51%.100%.4 ", "queue id prefixes the line")
-- An abort (RSET) and a close without any message must not upset anything.
mt.abort(cq)
mt.disconnect(cq)
local cc = mt.connect("unix:" .. hm.sock, 10, 0.1)
mt.disconnect(cc)
local after = hm.client("192.0.2.99", "after.example")
hm.mail(after, "<a@sender.example>", SMFIR_CONTINUE, "filter still serves after abort and bare close")
mt.disconnect(after)
hm.check(hm.log_count("private data not NULL") == 0, "no leaked private data")
