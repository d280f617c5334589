-- common.lua: helpers shared by hopmilter's miltertest scripts.
--
-- hm.start(conf) writes a configuration (the socket, user and log level are
-- filled in), starts hopmilter in the foreground with its log in
-- $HM_TMP/milter.log, and returns a function that opens a new milter
-- connection.  The check helpers raise an error, which makes miltertest
-- exit non-zero, naming what failed.

hm = {}
hm.tmp = os.getenv("HM_TMP")
hm.bin = os.getenv("HOPMILTER")
hm.sock = hm.tmp .. "/milter.sock"
hm.conf = hm.tmp .. "/hopmilter.conf"
hm.log = hm.tmp .. "/milter.log"

function hm.write_conf(body)
	local f = assert(io.open(hm.conf, "w"))
	f:write('socket = "unix:' .. hm.sock .. '"\n')
	local user = os.getenv("HM_USER")
	if user and user ~= "" then
		f:write('user = "' .. user .. '"\n')
	end
	f:write('log_level = debug\n')
	f:write(body)
	f:close()
end

-- HM_WRAP (e.g. valgrind) prefixes the command, as in harness.sh.
function hm.start(body)
	hm.write_conf(body)
	local wrap = os.getenv("HM_WRAP") or ""
	mt.startfilter("/bin/sh", "-c", "exec " .. wrap .. " '" .. hm.bin .. "' -f -c '" .. hm.conf .. "' 2>>'" .. hm.log .. "'")
end

-- A connection that has sent CONNECT (and HELO) for a client at `ip`.
function hm.client(ip, helo, host)
	local conn = mt.connect("unix:" .. hm.sock, 50, 0.1)
	if conn == nil then
		error("cannot connect to hopmilter at " .. hm.sock)
	end
	local err = mt.conninfo(conn, host or "client.example", ip)
	if err ~= nil then
		error("conninfo: " .. err)
	end
	if helo ~= nil then
		err = mt.helo(conn, helo)
		if err ~= nil then
			error("helo: " .. err)
		end
	end
	return conn
end

local names = {}
names[SMFIR_CONTINUE] = "continue"
names[SMFIR_REPLYCODE] = "replycode"
names[SMFIR_REJECT] = "reject"
names[SMFIR_TEMPFAIL] = "tempfail"
names[SMFIR_ACCEPT] = "accept"
local function rname(r)
	return names[r] or tostring(r)
end

-- hm.expect(conn, SMFIR_x, what): the last reply is that one.
function hm.expect(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		error(what .. ": reply " .. rname(got) .. ", want " .. rname(want))
	end
	mt.echo("ok: " .. what)
end

function hm.mail(conn, from, want, what)
	local err = mt.mailfrom(conn, from)
	if err ~= nil then error("mailfrom: " .. err) end
	hm.expect(conn, want, what)
end

function hm.rcpt(conn, to, want, what)
	local err = mt.rcptto(conn, to)
	if err ~= nil then error("rcptto: " .. err) end
	hm.expect(conn, want, what)
end

function hm.header(conn, name, value)
	local err = mt.header(conn, name, value)
	if err ~= nil then error("header: " .. err) end
end

function hm.eom(conn, want, what)
	local err = mt.eom(conn)
	if err ~= nil then error("eom: " .. err) end
	hm.expect(conn, want, what)
end

-- The whole log as one string (the filter writes it as it goes).
function hm.read_log()
	local f = io.open(hm.log, "r")
	if f == nil then return "" end
	local s = f:read("a")
	f:close()
	return s
end

-- hm.log_has(pattern, what): some log line matches the Lua pattern; waits
-- up to two seconds because the filter writes after it replies.
function hm.log_has(pattern, what)
	for _ = 1, 40 do
		for line in hm.read_log():gmatch("[^\n]+") do
			if line:find(pattern) then
				mt.echo("ok: " .. what)
				return line
			end
		end
		mt.sleep(0.05)
	end
	error(what .. ": no log line matches " .. pattern)
end

function hm.log_count(pattern)
	local n = 0
	for line in hm.read_log():gmatch("[^\n]+") do
		if line:find(pattern) then n = n + 1 end
	end
	return n
end

function hm.check(cond, what)
	if not cond then error(what) end
	mt.echo("ok: " .. what)
end

-- Lua patterns need '.', '-', '+', '[', ']', '(', ')', '%' escaped.
function hm.lit(s)
	return (s:gsub("[%.%-%+%[%]%(%)%%%*%?%^%$]", "%%%0"))
end
