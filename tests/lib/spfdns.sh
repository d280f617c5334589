# spfdns.sh - a private DNS world for the SPF tests (source after harness.sh).
#
# hm_start_spf_dns starts dnsmasq on a free loopback address (port 53: a
# resolv.conf cannot name another port) serving the SPF records below, and
# two broken servers (tests/lib/dnsstub.py): one that answers SERVFAIL,
# behind servfail.example, and one that never answers, behind
# silent.example.  It writes two resolver configurations:
#   $HM_TMP/resolv.conf         -> the dnsmasq world
#   $HM_TMP/resolv-silent.conf  -> only the silent server
# hm_in_resolv CONF CMD... runs CMD in a private mount namespace where
# /etc/resolv.conf is CONF: the machine's own file is never touched, and
# everything CMD starts (hopmilter, a whole Postfix) sees only that world.
#
# All addresses are documentation ranges (RFC 5737, RFC 3849): libspf2
# passes loopback clients without a look at DNS.

HM_DNSSTUB=$HM_LIBDIR/dnsstub.py

# A loopback address in 127.53.0.0/16 with nothing bound to port 53 (UDP or TCP).
hm_free_dns_addr() {
	local a
	while :; do
		a=127.53.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
		[ -z "$(ss -Hanu "( sport = :53 )" 2>/dev/null | grep -F " $a:53 ")" ] &&
			[ -z "$(ss -Hant "( sport = :53 )" 2>/dev/null | grep -F " $a:53 ")" ] &&
			{ echo "$a"; return 0; }
	done
}

hm_wait_udp() {
	local i
	for i in $(seq 1 50); do
		ss -Hanu "( sport = :$2 )" 2>/dev/null | grep -qF " $1:$2 " && return 0
		sleep 0.1
	done
	hm_log "nothing bound to udp $1:$2"
	return 1
}

# Further dnsmasq arguments (more records) may follow: hm_start_spf_dns ARGS...
hm_start_spf_dns() {
	local py toomany i
	hm_need dnsmasq unshare
	py=$(command -v /usr/bin/python3 || command -v python3) || hm_skip "python3 not installed"
	HM_DNS=$(hm_free_dns_addr)
	HM_DNS_FAIL=$(hm_free_dns_addr)
	HM_DNS_SILENT=$(hm_free_dns_addr)
	"$py" "$HM_DNSSTUB" "$HM_DNS_FAIL" 53 servfail &
	hm_track $!
	"$py" "$HM_DNSSTUB" "$HM_DNS_SILENT" 53 silent &
	hm_track $!
	toomany="v=spf1"
	for i in $(seq 1 11); do toomany="$toomany a:h$i.toomany.example"; done
	toomany="$toomany -all"
	# A 2 kB record as big providers publish it, in strings of 250 bytes
	# (the answer needs TCP: more than 512 bytes); the match is near its end.
	long="v=spf1"
	for i in $(seq 1 120); do long="$long ip4:203.0.$i.0/24"; done
	long="$long ip4:192.0.2.0/24 -all"
	longarg=long.example
	for ((i = 0; i < ${#long}; i += 250)); do longarg="$longarg,${long:i:250}"; done
	dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
		--listen-address="$HM_DNS" --port=53 --pid-file= --log-facility=- \
		--local=/example/ \
		--server="/servfail.example/$HM_DNS_FAIL#53" \
		--server="/silent.example/$HM_DNS_SILENT#53" \
		--txt-record=pass.example,"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:25::/48 -all" \
		--txt-record=pass.example,"an unrelated TXT record" \
		--txt-record=soft.example,"v=spf1 ip4:192.0.2.0/24 ~all" \
		--txt-record=neutral.example,"v=spf1 ?all" \
		--host-record=nospf.example,192.0.2.1 \
		--txt-record=syntax.example,"v=spf1 ipx:192.0.2.1 -all" \
		--txt-record=toomany.example,"$toomany" \
		--txt-record=inc.example,"v=spf1 include:mid.example -all" \
		--txt-record=mid.example,"v=spf1 include:pass.example ~all" \
		--txt-record=redir.example,"v=spf1 redirect=pass.example" \
		--txt-record=mx.example,"v=spf1 mx -all" \
		--mx-host=mx.example,mail.mx.example,10 \
		--host-record=mail.mx.example,198.51.100.20,2001:db8:77::1 \
		--txt-record=expl.example,"v=spf1 -all exp=why.expl.example" \
		--txt-record=why.expl.example,"Mail from %{i} is not accepted for %{d}" \
		--txt-record=helo.example,"v=spf1 ip4:192.0.2.5 -all" \
		--txt-record="$longarg" \
		--txt-record=hbogus.example,"v=spf1 exists:%{h}.ok.hbogus.example -all" \
		--txt-record=withall.example,"v=spf1 redirect=pass.example -all" \
		--txt-record=before.example,"v=spf1 redirect=pass.example -ip4:192.0.2.66" \
		--txt-record=_dmarc.pass.example,"v=DMARC1; p=reject" \
		"$@" >"$HM_TMP/dnsmasq.log" 2>&1 &
	hm_track $!
	hm_wait_udp "$HM_DNS" 53 && hm_wait_udp "$HM_DNS_FAIL" 53 && hm_wait_udp "$HM_DNS_SILENT" 53 ||
		{ cat "$HM_TMP/dnsmasq.log" >&2; return 1; }
	printf 'nameserver %s\n' "$HM_DNS" >"$HM_TMP/resolv.conf"
	printf 'nameserver %s\n' "$HM_DNS_SILENT" >"$HM_TMP/resolv-silent.conf"
	chmod 0644 "$HM_TMP/resolv.conf" "$HM_TMP/resolv-silent.conf"
}

# hm_in_resolv CONF CMD...: CMD with CONF as its /etc/resolv.conf.  To run
# CMD in the background with its own PID in $!, call it without the
# function: unshare --mount sh -c "$HM_RESOLV_SH" CONF CMD... &
HM_RESOLV_SH='mount --bind "$0" /etc/resolv.conf && exec "$@"'
hm_in_resolv() {
	unshare --mount sh -c "$HM_RESOLV_SH" "$@"
}
