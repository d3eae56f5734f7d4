# bash completion for pulsectl(1); installed as
# $(datadir)/bash-completion/completions/pulsectl.
#
# Completes options, commands, pool names (from `pulsectl -H status`), job
# keys (from `pulsectl -H jobs POOL`) and worker ids (from `pulsectl -H
# workers POOL`), asking the pulsed that the
# command line names with -s, if any. The commands and each command's
# options come from pulsectl's own table (`pulsectl -H help`: NAME,
# synopsis, options, summary), so a new command completes without a
# change here. Needs nothing from the bash-completion package.

# The pools this pulsed serves: the "pools" lines of `status -H`, whose
# second field is the pool name.
_pulsectl_pools()
{
	pulsectl "$@" -H status 2>/dev/null | awk -F '\t' '$1 == "pools" { print $2 }'
}

_pulsectl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands
	commands=$(pulsectl -H help 2>/dev/null | cut -f1)
	local -a sock=() args=()
	local cmd= i w opts_done=

	# What is typed so far: the socket option, the command, its arguments.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-s | --socket)
			sock=(-s "${COMP_WORDS[i + 1]}")
			((i++))
			;;
		--socket=*) sock=(-s "${w#--socket=}") ;;
		--worker | --timeout | --match | --limit) [[ -z $opts_done ]] && ((i++)) ;;
		--) [[ -n $cmd ]] && opts_done=1 ;;
		-*) [[ -n $opts_done ]] && args+=("$w") ;;
		*)
			if [[ -z $cmd ]]; then cmd=$w; else args+=("$w"); fi
			;;
		esac
	done

	if [[ $prev == -s || $prev == --socket ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [[ $prev == --worker && -n ${args[0]} ]]; then
		COMPREPLY=($(compgen -W "$(pulsectl "${sock[@]}" -H workers -- "${args[0]}" 2>/dev/null | cut -f1)" -- "$cur"))
		return
	fi
	[[ $prev == --timeout || $prev == --match || $prev == --limit ]] && return
	if [[ $cur == -* && -z $opts_done ]]; then
		if [[ -z $cmd ]]; then
			COMPREPLY=($(compgen -W "-s --socket --json -H -h --help" -- "$cur"))
		else
			local opts
			opts=$(pulsectl -H help "$cmd" 2>/dev/null | cut -f3)
			COMPREPLY=($(compgen -W "$opts --json -H --help --" -- "$cur"))
		fi
		return
	fi
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		return
	fi

	local IFS=$'\n'
	case $cmd:${#args[@]} in
	workers:0 | nodes:0 | jobs:0 | job:0 | where:0 | dispatch:0 | stop:0 | notify:0 | send:0 | shutdown:0 | reopen:0 | leave:0 | tickers:0 | schedules:0)
		COMPREPLY=($(compgen -W "$(_pulsectl_pools "${sock[@]}")" -- "$cur"))
		;;
	job:1 | where:1 | stop:1 | notify:1 | send:1)
		COMPREPLY=($(compgen -W "$(pulsectl "${sock[@]}" -H jobs -- "${args[0]}" 2>/dev/null)" -- "$cur"))
		;;
	dispatch:2 | notify:2 | send:2)
		COMPREPLY=($(compgen -W "-" -- "$cur"))
		;;
	help:0)
		COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		;;
	esac
}

complete -F _pulsectl pulsectl
