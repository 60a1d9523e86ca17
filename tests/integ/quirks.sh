#!/bin/sh
# shellcheck disable=SC2317,SC2119 # checks run through fake_check
# Real servers' quirks, played by the fake POP3 server: capabilities
# announced only after login, a server that trickles, sizes nothing can
# hold, a TLS port taken for a plain one, and the smaller habits peers
# record.  popfetch.conf(5), QUIRKS, says what popfetch does with each.

LIB_NEED_DOVECOT=no
# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

[ -x "$FAKE_BIN" ] || fail "$FAKE_BIN is missing: run make check"

M1=$FAKE_MAIL/m1.eml
M2=$FAKE_MAIL/m2.eml
M3=$FAKE_MAIL/m3.eml

# quirk_rule NAME CONDITION ACTION: a rule in $PF_CONF.
quirk_rule()
{
	printf 'rule "%s" {\n\t%s\n\t%s\n}\n' "$1" "$2" "$3" >>"$PF_CONF"
}

# LIST sizes of 2^64 - 1 and of 30 digits: refused before any RETR, as
# errors of those messages (76), which stay on the server; the others
# are fetched, and the journal is written.
check_list_huge_size()
{
	fake_start list-huge-size
	fake_account lh off each
	fake_pf
	assert_rc 76 "huge LIST sizes"
	fake_message "huge LIST sizes" \
	    '^popfetch: lh: message 2: LIST gave a size larger than'
	fake_message "huge LIST sizes" \
	    '^popfetch: lh: message 3: LIST gave a size larger than'
	fake_maildir "huge LIST sizes" lh "$M1"
	fake_not_sent "huge LIST sizes" 1 '^(RETR|DELE|TOP) [23]'
	assert_no_grep "huge LIST sizes" 'invalid size' "$PF_ERR"
	fake_finish "huge LIST sizes"
}

# TOP, UIDL and PIPELINING announced only after login: CAPA is asked
# again, the rule decides from TOP, and the RETRs are pipelined (RETR 2
# goes out before RETR 1 is answered).
check_capa_after_login()
{
	fake_start capa-after-login
	quirk_rule never 'exists = {"X-Never-There"}' 'discard = yes'
	fake_account cl off keep
	fake_pf
	assert_rc 0 "capabilities after login"
	fake_maildir "capabilities after login" cl "$M1" "$M2" "$M3"
	fake_sent "capabilities after login" 1 '^TOP 3 0$'
	grep -A 1 ': C: RETR 1$' "$PF_ERR" | grep -q ': C: RETR 2$' ||
	    fail "capabilities after login: RETR not pipelined"
	fake_finish "capabilities after login"
}

# A tarpit in the middle of message 2 (an octet every 100 ms, for ever):
# with a 2 s timeout, and the default low_speed_limit of 100 octets a
# second, a stall after 2 s of it; 75, message 1 kept, no DELE 2.
check_trickle_body()
{
	fake_start trickle-body
	fake_account -t 2 tb off each
	fake_pf
	assert_rc 75 "a trickling message"
	fake_within "a trickling message" 8000
	fake_message "a trickling message" \
	    '^popfetch: tb: .*stalled: [0-9]+ octets in [0-9]+ s'
	fake_maildir "a trickling message" tb "$M1"
	fake_not_sent "a trickling message" 1 '^DELE 2$'
	fake_finish "a trickling message"
}

# A greeting that trickles, with no low-speed limit: time_limit ends the
# account's run (75) all the same.
check_time_limit()
{
	fake_start trickle-greeting
	printf 'defaults {\n\tlow_speed_limit = 0\n\ttime_limit = 3\n}\n' \
	    >>"$PF_CONF"
	fake_account -t 10 tl off each
	fake_pf
	assert_rc 75 "time_limit"
	fake_within "time_limit" 8000
	fake_message "time_limit" \
	    '^popfetch: tl: .*time limit of 3 s for the account reached'
	fake_maildir "time_limit" tl
	fake_finish "time_limit"
}

# tls unset on a POP3S port: a TLS record where the greeting should be
# is a configuration error at once (78), naming the likely fix.
check_tls_record_greeting()
{
	fake_start tls-record-greeting
	fake_account -t 10 tr off each
	fake_pf
	assert_rc 78 "a TLS record for a greeting"
	fake_within "a TLS record for a greeting" 5000
	fake_message "a TLS record for a greeting" \
	    '^popfetch: tr: greeting: a TLS record came .*POP3S port\?  Set tls = on'
	fake_not_sent "a TLS record for a greeting" 1 '.'
	fake_finish "a TLS record for a greeting"
}

# A silent server on a port that is not 110: the hint comes after half
# the timeout (2 s of 4), while the greeting is still awaited, and again
# with the timeout (75).
check_silent_greeting()
{
	fake_start stall-greeting
	fake_account -t 4 sg off each
	fake_pf
	assert_rc 75 "a silent server"
	fake_message "a silent server" \
	    "^popfetch: sg: no greeting 2000 ms after connecting to port $FAKE_PORT: is this a POP3S port\\?  Set tls = on\$"
	fake_message "a silent server" \
	    '^popfetch: sg: greeting: timed out after 4 s .*\(is this a POP3S port\?  Set tls = on\)'
	fake_finish "a silent server"
}

# --serverinfo when STLS is refused: the CAPA seen before it, with
# UTF8, EXPIRE NEVER, IMPLEMENTATION and tags popfetch does not know;
# the error on stderr (76).
check_serverinfo_stls_refused()
{
	fake_start serverinfo-stls-refused
	fake_account si starttls keep
	fake_pf --serverinfo si
	assert_rc 76 "--serverinfo, STLS refused"
	for sr_line in 'capabilities: STLS UIDL TOP' 'capa: UTF8' \
	    'capa: EXPIRE NEVER' 'capa: IMPLEMENTATION Shiny POP3 3.1' \
	    'capa: X-SOMETHING-ELSE' 'tls: none'; do
		assert_grep "--serverinfo, STLS refused" "^$sr_line\$" "$PF_OUT"
	done
	assert_grep "--serverinfo, STLS refused" '^greeting: ' "$PF_OUT"
	fake_message "--serverinfo, STLS refused" '^popfetch: si: .*STLS'
	fake_not_sent "--serverinfo, STLS refused" 1 '^(USER|PASS|AUTH)'
	fake_finish "--serverinfo, STLS refused"
}

# --serverinfo when the certificate is refused: the certificate is shown,
# with the fingerprint in the form tls_fingerprint takes, and the error
# names the same one (76).
check_serverinfo_bad_cert()
{
	fake_start serverinfo-tls
	printf 'defaults {\n\ttls_fingerprint = "SHA256:%s"\n}\n' \
	    "$(printf '0%.0s' $(seq 64))" >>"$PF_CONF"
	fake_account sc on keep
	fake_pf --serverinfo sc
	assert_rc 76 "--serverinfo, certificate refused"
	assert_grep "--serverinfo, certificate refused" \
	    '^tls: handshake failed$' "$PF_OUT"
	assert_grep "--serverinfo, certificate refused" '^subject: .*localhost' \
	    "$PF_OUT"
	sc_fp=$(sed -n 's/^sha256: //p' "$PF_OUT")
	case $sc_fp in
	SHA256:????????????????????????????????????????????????????????????????) ;;
	*) fail "--serverinfo, certificate refused: fingerprint '$sc_fp'" ;;
	esac
	fake_message "--serverinfo, certificate refused" \
	    "^popfetch: sc: .*fingerprint $sc_fp is not the pinned"
	fake_stop
}

# UIDL lines padded with spaces and tabs: the padding is no part of the
# unique-ids, so keep fetches all three, once.
check_uidl_padded()
{
	fake_start uidl-padded uidl-padded-rerun
	fake_account up off keep
	fake_pf
	assert_rc 0 "padded UIDL lines"
	fake_maildir "padded UIDL lines" up "$M1" "$M2" "$M3"
	assert_no_grep "padded UIDL lines" 'unusable unique-id' "$PF_ERR"
	fake_pf
	assert_rc 0 "padded UIDL lines, the next run"
	fake_not_sent "padded UIDL lines, the next run" 2 '^RETR '
	fake_maildir "padded UIDL lines, the next run" up "$M1" "$M2" "$M3"
	fake_finish "padded UIDL lines"
}

# Message numbers with a gap in LIST: the numbers the server gave are
# used.
check_list_gaps()
{
	fake_start list-gaps
	fake_account lg off each
	fake_pf
	assert_rc 0 "gaps in LIST"
	fake_maildir "gaps in LIST" lg "$M1" "$M3"
	fake_not_sent "gaps in LIST" 1 '^(RETR|DELE) 2$'
	fake_finish "gaps in LIST"
}

# TOP cut short inside the header: the rule does not judge from what
# came; the message is fetched and judged from the whole header.
check_top_truncated()
{
	fake_start top-truncated
	quirk_rule no-id 'missing = {"Message-ID"}' 'skip = yes'
	fake_account tt off keep
	fake_pf
	assert_rc 0 "TOP cut short"
	fake_maildir "TOP cut short" tt "$M1" "$FAKE_MAIL/late-header.eml"
	fake_message "TOP cut short" \
	    '^popfetch: tt: message 2: TOP gave part of the header'
	fake_finish "TOP cut short"
}

# A server that closes at QUIT without +OK: the session is over, no
# error (0); with nothing deleted, nothing to warn about.  (A close
# after DELEs is in faults.sh, "dropped after DELE".)
check_quit_close()
{
	fake_start quit-close-keep
	fake_account qc off keep
	fake_pf
	assert_rc 0 "a close at QUIT"
	fake_maildir "a close at QUIT" qc "$M1" "$M2" "$M3"
	assert_no_grep "a close at QUIT" 'unconfirmed|warning' "$PF_ERR"
	fake_finish "a close at QUIT"
}

# A greeting of 6000 octets with the APOP timestamp at its end.
check_long_greeting()
{
	fake_start long-greeting
	printf 'defaults {\n\tauth = apop\n}\n' >>"$PF_CONF"
	fake_account lgr off each
	fake_pf
	assert_rc 0 "a long greeting"
	fake_maildir "a long greeting" lgr "$M1" "$M2" "$M3"
	fake_finish "a long greeting"
}

fake_check "LIST sizes nothing can hold" check_list_huge_size
fake_check "a greeting of 6000 octets" check_long_greeting
fake_check "a close at QUIT without +OK" check_quit_close
fake_check "TOP cut short inside the header" check_top_truncated
fake_check "UIDL lines with extra spaces" check_uidl_padded
fake_check "message numbers with gaps in LIST" check_list_gaps
fake_check "--serverinfo when STLS is refused" check_serverinfo_stls_refused
fake_check "--serverinfo when the certificate is refused" \
    check_serverinfo_bad_cert
fake_check "a TLS record where the greeting should be" \
    check_tls_record_greeting
fake_check "no greeting on a port that is not 110" check_silent_greeting
fake_check "a server that trickles" check_trickle_body
fake_check "time_limit ends a trickling greeting" check_time_limit
fake_check "capabilities announced only after login" check_capa_after_login
fake_summary
