# shellcheck shell=sh
# The body of fetch-plain.sh, fetch-starttls.sh and fetch-tls.sh, sourced
# after lib.sh: every delete strategy over one kind of connection.
#
# fetch_strategies TLS: for keep, each and batch in turn, a fresh server
# mailbox of 50 generated messages (one of them about 5 MiB) is fetched;
# the client's Maildir must then hold exactly those messages, byte for
# byte, and the server must keep them (keep) or be empty (each, batch).
# A second run must find nothing new.  For keep, two messages added on
# the server later must be the only ones fetched by a third run.

# fetch_witness USER SESSION RETR DEL TOTAL: the SESSIONth POP3 session
# of USER ended with QUIT (Dovecot's "Logged out"; a dropped connection
# reads "Connection closed") after RETR messages retrieved and DEL of
# TOTAL deleted, by Dovecot's own count.
fetch_witness()
{
	fw_re="pop3\\($1\\)<.*Disconnected: Logged out"
	log_wait "$fw_re" "$2"
	grep -E -- "$fw_re" "$T/dovecot/dovecot.log" | sed -n "${2}p" \
	    >"$T/witness"
	assert_grep "$1 session $2 (Dovecot's log)" \
	    " retr=$3/[0-9]+, del=$4/$5," "$T/witness"
}

fetch_strategies()
{
	fs_tls=$1
	dovecot_start
	gen_mail "$T/orig/base" -n 50 -s 1 --big 5242880
	gen_mail "$T/orig/more" -n 2 -s 1 -f 51

	for fs_mode in keep each batch; do
		fs_user=u-$fs_mode
		fs_acct=$fs_tls-$fs_mode
		fs_md=$T/client/$fs_acct
		case $fs_mode in
		keep) fs_del=0 fs_left=50 ;;
		*) fs_del=50 fs_left=0 ;;
		esac
		user_add "$fs_user"
		seed "$fs_user" "$T/orig/base"
		pf_config_new
		pf_account "$fs_acct" "$fs_user" "$fs_tls" "$fs_mode"

		say "$fs_acct: first run"
		pf_run
		assert_rc 0 "$fs_acct, first run"
		assert_summary "$fs_acct, first run" "$fs_acct" 50 50 "$fs_del"
		assert_lines "$fs_acct, first run: stdout" "$PF_OUT" 1
		maildir_check "$fs_acct, first run" "$fs_md" "$T/orig/base"
		assert_eq "$fs_acct, first run: messages left on the server" \
		    "$(server_count "$fs_user")" "$fs_left"
		fetch_witness "$fs_user" 1 50 "$fs_del" 50

		say "$fs_acct: second run"
		pf_run
		assert_rc 0 "$fs_acct, second run"
		assert_summary "$fs_acct, second run" "$fs_acct" "$fs_left" 0 0
		assert_grep "$fs_acct, second run" " 0 retrieved \\(0 B\\)," "$PF_OUT"
		assert_lines "$fs_acct, second run: stdout" "$PF_OUT" 1
		maildir_check "$fs_acct, second run" "$fs_md" "$T/orig/base"
		assert_eq "$fs_acct, second run: messages left on the server" \
		    "$(server_count "$fs_user")" "$fs_left"
		fetch_witness "$fs_user" 2 0 0 "$fs_left"

		[ "$fs_mode" = keep ] || continue
		say "$fs_acct: two new messages on the server"
		seed "$fs_user" "$T/orig/more"
		pf_run
		assert_rc 0 "$fs_acct, third run"
		assert_summary "$fs_acct, third run" "$fs_acct" 52 2 0
		assert_lines "$fs_acct, third run: stdout" "$PF_OUT" 1
		maildir_check "$fs_acct, third run" "$fs_md" "$T/orig/base" \
		    "$T/orig/more"
		assert_eq "$fs_acct, third run: messages left on the server" \
		    "$(server_count "$fs_user")" 52
		fetch_witness "$fs_user" 3 2 0 52
	done
	say "PASS: $fs_tls: keep, each and batch"
}
