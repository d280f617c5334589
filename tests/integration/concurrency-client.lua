-- concurrency-client.lua: one of many parallel load clients for
-- concurrency.sh.  Runs HM_SESSIONS milter sessions against the running
-- hopmilter at HM_SOCK, each with two messages (one refused recipient, one
-- banned sender, headers to scrub for trusted clients), and checks every
-- reply.  Client number HM_CLIENT picks distinct addresses.
local sock = os.getenv("HM_SOCK")
local n = tonumber(os.getenv("HM_SESSIONS"))
local id = tonumber(os.getenv("HM_CLIENT"))

local function expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		error(string.format("client %d: %s: reply %s, want %s", id, what, tostring(got), tostring(want)))
	end
end

for i = 1, n do
	local trusted = (i % 4 == 0)
	local ip = trusted and string.format("10.200.0.%d", 1 + id % 250) or
		string.format("198.51.100.%d", 1 + (id * 7 + i) % 250)
	local conn = mt.connect("unix:" .. sock, 50, 0.1)
	if conn == nil then error("client " .. id .. ": cannot connect") end
	assert(mt.conninfo(conn, "c" .. id .. ".example", ip) == nil)
	assert(mt.helo(conn, "c" .. id .. ".example") == nil)
	-- Message 1: a good sender, one good and one foreign recipient.
	assert(mt.mailfrom(conn, "<s" .. id .. "@sender.example>") == nil)
	expect(conn, SMFIR_CONTINUE, "good sender")
	assert(mt.rcptto(conn, "<r" .. i .. "@example.com>") == nil)
	expect(conn, SMFIR_CONTINUE, "local recipient")
	assert(mt.rcptto(conn, "<x" .. i .. "@foreign.example>") == nil)
	expect(conn, trusted and SMFIR_REPLYCODE or SMFIR_REPLYCODE, "foreign recipient")
	assert(mt.header(conn, "Received", "from inner ([192.168.1." .. (i % 250) .. "]) by core") == nil)
	assert(mt.header(conn, "Received", "from mx.outside.example ([203.0.113.9]) by edge") == nil)
	assert(mt.header(conn, "Subject", "load " .. id .. "/" .. i) == nil)
	assert(mt.eom(conn) == nil)
	expect(conn, SMFIR_CONTINUE, "end of message")
	-- Message 2 on the same connection: a banned sender (internet clients).
	assert(mt.mailfrom(conn, "<bad@evil.example>") == nil)
	expect(conn, trusted and SMFIR_CONTINUE or SMFIR_REPLYCODE, "banned sender")
	mt.disconnect(conn)
end
