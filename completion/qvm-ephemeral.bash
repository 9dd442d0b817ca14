# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for qvm-ephemeral (dom0)
_qvm_ephemeral_qubes() {
	# qube names as qvm-ls prints them; nothing when qvm-ls is absent
	command -v qvm-ls >/dev/null 2>&1 && qvm-ls --raw-list 2>/dev/null | grep -vx dom0
}

_qvm_ephemeral() {
	local cur prev cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac
	done
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "kernel enable disable status apply watch verify traces -v -q --help" -- "$cur"))
		return
	fi
	case $prev in
	--format) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
	--retry) return ;;
	--auto-scrub) COMPREPLY=($(compgen -W "on off" -- "$cur")); return ;;
	--root) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	esac
	case $cmd in
	kernel) COMPREPLY=($(compgen -W "add sync list" -- "$cur")) ;;
	enable)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--dom0-crypt --all-disposables --exclude --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_qvm_ephemeral_qubes)" -- "$cur"))
		fi ;;
	disable)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--force --all-disposables --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_qvm_ephemeral_qubes)" -- "$cur"))
		fi ;;
	status)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--format --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_qvm_ephemeral_qubes)" -- "$cur"))
		fi ;;
	verify) COMPREPLY=($(compgen -W "$(command -v qvm-ls >/dev/null 2>&1 && qvm-ls --running --raw-list 2>/dev/null | grep -vx dom0)" -- "$cur")) ;;
	watch) COMPREPLY=($(compgen -W "--retry --help" -- "$cur")) ;;
	apply) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
	# the qubes traces are about no longer exist: nothing to offer but options
	traces) COMPREPLY=($(compgen -W "--all-disposables --scrub --auto-scrub --root --help" -- "$cur")) ;;
	esac
}
complete -F _qvm_ephemeral qvm-ephemeral
