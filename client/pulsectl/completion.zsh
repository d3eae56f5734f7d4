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
	local -a commands sockopt
	for ((i = 2; i < CURRENT; i++)); do
		case $words[i] in
		-s | --socket) sockopt=(-s "$words[i+1]") ;;
		--socket=*) sockopt=(-s "${words[i]#--socket=}") ;;
		esac
	done
	commands=(
		'status:show this pulsed'"'"'s node status'
		'workers:list a pool'"'"'s workers'
		'nodes:list a pool'"'"'s nodes, their lease left and workers'
		'jobs:list a pool'"'"'s job keys'
		'job:print a job'"'"'s payload'
		'where:show which worker owns or would own a key'
		'dispatch:start a job and wait until its worker started it'
		'stop:stop a job and wait until its worker stopped it'
		'notify:send a payload to a job'"'"'s worker'
		'send:send a message to the worker a key is placed on, print its answer'
		'drain:hand this pulsed'"'"'s jobs to other nodes, take no new ones'
		'undrain:take jobs again after a drain'
		'shutdown:stop every job of a pool on every node and remove it'
		'tickers:list a pool'"'"'s tickers'
		'schedules:list a pool'"'"'s schedules'
		'reopen:re-open a shut-down pool'
		'leave:hand this node'"'"'s jobs of a pool to other nodes and leave it'
		'version:print the versions of pulsectl and pulsed'
		'help:print the usage'
	)
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
				'--json' '-H' '1:pool:_pulsectl_pools' && ret=0
			;;
		job | stop | where)
			_arguments '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:{_pulsectl_keys $words[2]}' && ret=0
			;;
		dispatch)
			_arguments '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:' '3:payload (- for stdin):(-)' && ret=0
			;;
		notify | send)
			_arguments '--json' '-H' '1:pool:_pulsectl_pools' \
				'2:key:{_pulsectl_keys $words[2]}' \
				'3:payload (- for stdin):(-)' && ret=0
			;;
		drain)
			_arguments '--timeout[give up after this many seconds]:seconds:' \
				'--json' '-H' && ret=0
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
