#compdef pulsectl
# zsh completion for pulsectl(1); installed as
# $(datadir)/zsh/site-functions/_pulsectl.
#
# Completes options, commands, pool names (from `pulsectl -H status`), job
# keys (from `pulsectl -H jobs POOL`) and worker ids (from `pulsectl -H
# workers POOL`), asking the pulsed that the
# command line names with -s, if any.

# Pool names and job keys come from the pulsed that the command line
# names: _pulsectl sets sockopt (-s SOCKET, or nothing) before _arguments
# shifts the words, and these helpers see it by dynamic scope.
_pulsectl_pools() {
	local -a lines pools
	lines=(${(f)"$(_call_program pools pulsectl ${(q)sockopt} -H status 2>/dev/null)"})
	# "pools<TAB>NAME<TAB>..." lines: keep NAME.
	pools=(${${(M)lines:#pools$'\t'*}#pools$'\t'})
	pools=(${pools%%$'\t'*})
	_describe -t pools 'pool' pools
}

_pulsectl_keys() {
	local -a keys
	keys=(${(f)"$(_call_program keys pulsectl ${(q)sockopt} -H jobs -- ${(q)1} 2>/dev/null)"})
	_describe -t keys 'job key' keys
}

_pulsectl_workers() {
	local -a workers
	workers=(${${(f)"$(_call_program workers pulsectl ${(q)sockopt} -H workers -- ${(q)1} 2>/dev/null)"}%%$'\t'*})
	_describe -t workers 'worker id' workers
}

_pulsectl() {
	local curcontext=$curcontext state line ret=1 i
	local -a commands sockopt timeout
	timeout=('--timeout[give up after this long (500ms, 5s, 2m; digits alone: seconds)]:duration:')
	for ((i = 2; i < CURRENT; i++)); do
		case $words[i] in
		-s | --socket) sockopt=(-s "$words[i+1]") ;;
		--socket=*) sockopt=(-s "${words[i]#--socket=}") ;;
		esac
	done
	# NAME:summary from pulsectl's own table (`pulsectl -H help`)
	commands=(${(f)"$(_call_program commands pulsectl -H help 2>/dev/null | awk -F '\t' '{ print $1 ":" $4 }')"})
	_arguments -C \
		'(-s --socket)'{-s+,--socket=}'[socket of pulsed]:socket:_files' \
		'--json[print the result as JSON]' \
		'-H[no headers, tab-separated fields]' \
		'(- *)'{-h,--help}'[print the usage]' \
		'1:command:->command' \
		'*::argument:->args' && ret=0

	case $state in
	command)
		_describe -t commands 'pulsectl command' commands && ret=0
		;;
	args)
		curcontext=${curcontext%:*:*}:pulsectl-$words[1]:
		case $words[1] in
		workers)
			_arguments '--local[only workers attached to this pulsed]' \
				'--json' '-H' '1:pool:_pulsectl_pools' && ret=0
			;;
		nodes)
			_arguments '--json' '-H' '1:pool:_pulsectl_pools' && ret=0
			;;
		jobs)
			_arguments '--worker[only the keys this worker owns]:worker:{_pulsectl_workers $words[2]}' \
				'--match[only the keys matching a glob]:glob:' \
				'--limit[at most this many keys a pool]:number of keys:' \
				'--count[how many keys, not the keys]' \
				'--json' '-H' '1:pool:_pulsectl_pools' && ret=0
			;;
		job | where)
			_arguments '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:{_pulsectl_keys $words[2]}' && ret=0
			;;
		stop)
			_arguments $timeout '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:{_pulsectl_keys $words[2]}' && ret=0
			;;
		dispatch)
			_arguments $timeout '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:' '3:payload (- for stdin):(-)' && ret=0
			;;
		notify | send)
			_arguments $timeout '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:{_pulsectl_keys $words[2]}' \
				'3:payload (- for stdin):(-)' && ret=0
			;;
		drain)
			_arguments $timeout '--json' '-H' && ret=0
			;;
		help)
			_describe -t commands 'pulsectl command' commands && ret=0
			;;
		undrain)
			_arguments '--json' '-H' && ret=0
			;;
		shutdown|reopen|leave|tickers|schedules)
			_arguments '--json' '-H' '1:pool:_pulsectl_pools' && ret=0
			;;
		esac
		;;
	esac
	return ret
}

_pulsectl "$@"
