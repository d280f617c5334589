# SASL submission for a private Postfix instance (Cyrus SASL, sasldb),
# sourced after harness.sh by the tests that submit as a SASL user
# (postfix-limits.sh, ctl.sh, and the chain's core in chain-nodes.sh).
#
#   hm_sasl_users DIR PASSWORD USER...   a sasldb in DIR/etc/sasl (realm
#                                        example.com) holding USER...
#   hm_sasl_main_cf DIR                  the main.cf lines that point
#                                        Postfix's smtpd at it
#   hm_sasl_submission PORT              the master.cf entry of a submission
#                                        service on 127.0.0.1:PORT: SASL
#                                        PLAIN/LOGIN, only authenticated
#                                        clients relay
# Submit with: hm_swaks --server 127.0.0.1:PORT --auth PLAIN
#   --auth-user USER --auth-password PASSWORD ...
# Postfix hands hopmilter {auth_authen} as the client typed the login
# (without the realm).

hm_sasl_users() {
	local d=$1 pass=$2 u
	shift 2
	mkdir -p "$d/etc/sasl" || return 1
	chmod 0755 "$d" "$d/etc" "$d/etc/sasl"
	for u in "$@"; do
		printf '%s\n' "$pass" | saslpasswd2 -p -c -f "$d/etc/sasl/sasldb2" -u example.com "$u" ||
			return 1
	done
	chown postfix "$d/etc/sasl/sasldb2"
	chmod 0600 "$d/etc/sasl/sasldb2"
	printf '%s\n' "pwcheck_method: auxprop" "auxprop_plugin: sasldb" \
		"sasldb_path: $d/etc/sasl/sasldb2" "mech_list: PLAIN LOGIN" >"$d/etc/sasl/smtpd.conf"
}

hm_sasl_main_cf() {
	printf '%s\n' "cyrus_sasl_config_path = $1/etc/sasl" "smtpd_sasl_local_domain = example.com"
}

hm_sasl_submission() {
	printf '%s\n' "127.0.0.1:$1 inet n - n - - smtpd" \
		"  -o syslog_name=postfix/submission" \
		"  -o smtpd_sasl_auth_enable=yes" \
		"  -o smtpd_sasl_type=cyrus" \
		"  -o smtpd_sasl_path=smtpd" \
		"  -o smtpd_client_restrictions=permit_sasl_authenticated,reject" \
		"  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
}
