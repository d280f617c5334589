-- SIGUSR1 reload: a good file takes effect for new connections, a running
-- connection keeps its configuration, a bad file keeps the old one.
dofile(os.getenv("HM_LUA_LIB"))

hm.start([[
trusted_networks = {"10.200.0.0/24"}
allowed_domains = {"example.com"}
banned_domains = {"evil.example"}
spf { enabled = false }
ratelimit { enabled = false }
]])

local old = hm.client("192.0.2.60", "old.example")
hm.mail(old, "<a@sender.example>", SMFIR_CONTINUE, "before reload")
hm.rcpt(old, "<b@example.net>", SMFIR_REPLYCODE, "example.net not yet allowed")

hm.write_conf([[
trusted_networks = {"10.200.0.0/24"}
allowed_domains = {"example.com", "example.net"}
banned_domains = {"evil.example", "sender.example"}
ratelimit { enabled = false }
]])
mt.signal(10) -- SIGUSR1
hm.log_has("reloaded .*hopmilter%.conf", "reload logged")

hm.rcpt(old, "<c@example.net>", SMFIR_REPLYCODE, "running connection keeps the old configuration")
mt.disconnect(old)

local new = hm.client("192.0.2.61", "new.example")
hm.mail(new, "<a@sender.example>", SMFIR_REPLYCODE, "new connection: sender.example now banned")
hm.mail(new, "<a@other.example>", SMFIR_CONTINUE, "another sender")
hm.rcpt(new, "<b@example.net>", SMFIR_CONTINUE, "new connection: example.net now allowed")
mt.disconnect(new)

-- A broken file: the error with its line is logged, the old settings stay.
local f = assert(io.open(hm.conf, "a"))
f:write("\nallowed_domains = {\"bad domain\"}\n")
f:close()
mt.signal(10)
hm.log_has("reload failed, keeping the running configuration: .*hopmilter%.conf:%d+: option 'allowed_domains': 'bad domain'",
	"bad reload logged with file and line")
local after = hm.client("192.0.2.62", "after.example")
hm.mail(after, "<a@other.example>", SMFIR_CONTINUE, "sender after failed reload")
hm.rcpt(after, "<b@example.net>", SMFIR_CONTINUE, "last good configuration still in force")
mt.disconnect(after)
