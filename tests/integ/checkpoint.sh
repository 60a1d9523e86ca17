#!/bin/sh
# checkpoint = N: popfetch QUITs (making the deletions final) and logs in
# again after every N DELEs, so a broken link can leave at most N
# deletions uncommitted.  Against Dovecot, with each and batch: every
# message ends up in the Maildir once and the server is empty.

# shellcheck source=tests/integ/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integ/lib.sh"

dovecot_start
gen_mail "$T/orig/ten" -n 10 -s 10

for mode in each batch; do
	user=cp-$mode
	user_add "$user"
	seed "$user" "$T/orig/ten"
	pf_config_new
	pf_account -x 'checkpoint = 3' -x 'auth = user' \
	    "$user" "$user" starttls "$mode"
	pf_run -v -v
	assert_rc 0 "$mode"
	assert_summary "$mode" "$user" 10 10 10
	maildir_check "$mode" "$T/client/$user" "$T/orig/ten"
	assert_eq "$mode: left on the server" "$(server_count "$user")" 0

	# Four sessions: 3 + 3 + 3 deletions, each ended by QUIT, then 1.
	assert_eq "$mode: logins" \
	    "$(grep -c ": C: USER $user\$" "$PF_ERR")" 4
	assert_eq "$mode: QUITs" "$(grep -c ': C: QUIT$' "$PF_ERR")" 4
	# No session sends more than three DELEs before its QUIT.
	awk '/: C: DELE / { n++ } /: C: QUIT$/ { if (n > 3) bad = 1; n = 0 }
	    END { exit bad }' "$PF_ERR" ||
	    fail "$mode: more than 3 DELEs in one session"
	# Messages fetched before a checkpoint are not fetched again.
	assert_eq "$mode: RETRs" "$(grep -c ': C: RETR ' "$PF_ERR")" 10
	if [ "$mode" = each ]; then
		# Foxmail's order in every session; the numbers start at 1
		# again, the messages before being gone.
		sed -n 's/^popfetch: [^:]*: C: \(RETR .*\|DELE .*\|QUIT\)$/\1/p' \
		    "$PF_ERR" >"$T/each.cmds"
		for k in 1 2 3; do
			printf 'RETR 1\nDELE 1\nRETR 2\nDELE 2\nRETR 3\n'
			printf 'DELE 3\nQUIT\n'
		done >"$T/each.want"
		printf 'RETR 1\nDELE 1\nQUIT\n' >>"$T/each.want"
		if ! cmp -s "$T/each.want" "$T/each.cmds"; then
			diff "$T/each.want" "$T/each.cmds" >&2 || :
			fail "each: the sessions are not RETR n, DELE n, ..., QUIT"
		fi
	fi
	say "$mode: 4 sessions of at most 3 deletions"
done
say "PASS: checkpoint"
