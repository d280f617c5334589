-- rl-client.lua: one SMTP client of the rate-limit tests, as a miltertest
-- script run by tests/integration/ratelimit-*.sh (not a test by itself).
--
-- Connects to a running hopmilter (HM_SOCK, "unix:/path") as client
-- HM_IP, then sends HM_COUNT messages' MAIL FROM on that one connection,
-- HM_PAUSE seconds apart (default 0).  For each it appends one line to
-- HM_OUT:  "<seq> <continue|tempfail|other> <milliseconds the reply took>".
-- The time includes starting date(1) once, a few milliseconds.
local sock = assert(os.getenv("HM_SOCK"))
local ip = assert(os.getenv("HM_IP"))
local count = tonumber(os.getenv("HM_COUNT") or "1")
local pause = tonumber(os.getenv("HM_PAUSE") or "0")
local out = assert(io.open(assert(os.getenv("HM_OUT")), "a"))

local function now_ns()
	local f = io.popen("date +%s%N")
	local t = f:read("l")
	f:close()
	return tonumber(t)
end

local conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("cannot connect to " .. sock) end
if mt.conninfo(conn, "client.example", ip) ~= nil then error("conninfo") end
if mt.helo(conn, "client.example") ~= nil then error("helo") end
for i = 1, count do
	local t0 = now_ns()
	local err = mt.mailfrom(conn, "<load@sender.example>")
	local t1 = now_ns()
	if err ~= nil then error("mailfrom: " .. err) end
	local r = mt.getreply(conn)
	local what = "other"
	if r == SMFIR_CONTINUE then
		what = "continue"
	elseif r == SMFIR_REPLYCODE or r == SMFIR_TEMPFAIL then
		what = "tempfail"
	end
	out:write(string.format("%d %s %d\n", i, what, (t1 - t0) // 1000000))
	out:flush()
	if pause > 0 then mt.sleep(pause) end
end
mt.disconnect(conn)
out:close()
