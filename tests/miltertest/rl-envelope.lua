-- rl-envelope.lua: one SMTP client of tests/integration/ratelimit-budget.sh,
-- as a miltertest script (not a test by itself).
--
-- Connects to a running hopmilter (HM_SOCK, "unix:/path") as client HM_IP
-- with HELO HM_HELO (default client.example), the connect macro
-- {client_name} = HM_NAME and, when set, {client_resolve} = HM_RESOLVE
-- (Sendmail's), and the host name argument HM_HOST (default HM_NAME).
-- Then HM_COUNT messages from HM_FROM (default <load@sender.example>),
-- with {auth_authen} = HM_AUTH when set, each to HM_RCPTS recipients in
-- example.com and HM_BAD recipients in a domain not served (refused), then
-- DATA, then an abort.  One line per message to HM_OUT:
--   "<seq> mail=<reply> data=<reply|none>"
-- where a reply is continue, tempfail or other; data=none when MAIL or
-- every RCPT was refused (an MTA would not send DATA then), data=skipped
-- when the filter did not ask for DATA.
local sock = assert(os.getenv("HM_SOCK"))
local ip = assert(os.getenv("HM_IP"))
local count = tonumber(os.getenv("HM_COUNT") or "1")
local nrcpt = tonumber(os.getenv("HM_RCPTS") or "1")
local nbad = tonumber(os.getenv("HM_BAD") or "0")
local from = os.getenv("HM_FROM") or "<load@sender.example>"
local auth = os.getenv("HM_AUTH")
local name = os.getenv("HM_NAME")
local resolve = os.getenv("HM_RESOLVE")
local out = assert(io.open(assert(os.getenv("HM_OUT")), "a"))

local function what(r)
	if r == SMFIR_CONTINUE then return "continue" end
	if r == SMFIR_REPLYCODE or r == SMFIR_TEMPFAIL then return "tempfail" end
	return "other"
end

local conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("cannot connect to " .. sock) end
-- One call: each mt.macro() replaces the macros of its step.
if name ~= nil and resolve ~= nil then
	mt.macro(conn, SMFIC_CONNECT, "{client_name}", name, "{client_resolve}", resolve)
elseif name ~= nil then
	mt.macro(conn, SMFIC_CONNECT, "{client_name}", name)
end
if mt.conninfo(conn, os.getenv("HM_HOST") or name or "client.example", ip) ~= nil then
	error("conninfo")
end
if mt.helo(conn, os.getenv("HM_HELO") or "client.example") ~= nil then error("helo") end
for i = 1, count do
	if auth ~= nil then mt.macro(conn, SMFIC_MAIL, "{auth_authen}", auth) end
	if mt.mailfrom(conn, from) ~= nil then error("mailfrom") end
	local m = what(mt.getreply(conn))
	local d = "none"
	if m == "continue" then
		local ok = 0
		for j = 1, nrcpt do
			if mt.rcptto(conn, string.format("<r%d-%d@example.com>", i, j)) ~= nil then error("rcptto") end
			if mt.getreply(conn) == SMFIR_CONTINUE then ok = ok + 1 end
		end
		for j = 1, nbad do
			if mt.rcptto(conn, string.format("<x%d-%d@elsewhere.example>", i, j)) ~= nil then error("rcptto") end
			mt.getreply(conn)
		end
		if ok > 0 then
			-- An error here means the filter negotiated DATA away (no recipient budget).
			local ok_call, err = pcall(mt.data, conn)
			if ok_call and err == nil then d = what(mt.getreply(conn)) else d = "skipped" end
		end
	end
	mt.abort(conn)
	out:write(string.format("%d mail=%s data=%s\n", i, m, d))
	out:flush()
end
mt.disconnect(conn)
out:close()
