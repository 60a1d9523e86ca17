# bash completion for popfetch(1): options, and the account names of the
# configuration file (the one given with -c, or the default).
#
# Install: copy to /usr/share/bash-completion/completions/popfetch, or to
# ~/.local/share/bash-completion/completions/popfetch, or source it from
# ~/.bashrc.

# The configuration file the command line being completed would use.
_popfetch_config()
{
	local i w conf=
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-c | --config)
			conf=${COMP_WORDS[i + 1]}
			;;
		--config=*)
			conf=${w#--config=}
			;;
		-c?*)
			conf=${w#-c}
			;;
		esac
	done
	# bash splits --config=FILE at the =.
	for ((i = 1; i + 2 < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == --config && ${COMP_WORDS[i + 1]} == = ]]; then
			conf=${COMP_WORDS[i + 2]}
		fi
	done
	if [[ -n $conf ]]; then
		# A literal ~/ as typed, not yet expanded by the shell.
		# shellcheck disable=SC2088
		[[ $conf == "~/"* ]] && conf=$HOME/${conf#"~/"}
		printf '%s\n' "$conf"
	elif [[ ${XDG_CONFIG_HOME:-} == /* ]]; then
		printf '%s\n' "$XDG_CONFIG_HOME/popfetch/config"
	else
		printf '%s\n' "$HOME/.config/popfetch/config"
	fi
}

# The account names in a configuration file: account "NAME" { ... }.
_popfetch_accounts()
{
	[[ -r $1 ]] || return 0
	awk '{
		sub(/#.*/, "")
		if (!sub(/^[ \t]*account[ \t]+/, ""))
			next
		sub(/[ \t]*\{.*/, "")
		gsub(/["\047]/, "")
		if ($0 ~ /^[A-Za-z0-9][A-Za-z0-9._@+-]*$/)
			print
	}' "$1" 2>/dev/null
}

_popfetch()
{
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	if [[ $prev == -c || $prev == --config ||
	    ($prev == = && ${COMP_WORDS[COMP_CWORD - 2]} == --config) ]]; then
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W '-c --config -v --verbose
		    -q --quiet -s --syslog -j --jobs --json --summary
		    --daemon --shard -n --dry-run --status --serverinfo
		    --rebuild-state
		    -V --version -h --help' -- "$cur")
		return 0
	fi
	mapfile -t COMPREPLY < <(compgen -W \
	    "$(_popfetch_accounts "$(_popfetch_config)")" -- "$cur")
	return 0
}

complete -F _popfetch popfetch
