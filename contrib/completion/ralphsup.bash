# bash completion for ralphsup(1) — installed by `meson install` into
# share/bash-completion/completions/ralphsup (docs/operations.md).
# Commands come from the binary's own command table (`ralphsup __list
# commands`) and each command's options from the usage synopsis of its
# `--help` (up to the first blank line), so the completion
# follows the binary it completes; CONFIG completes to .toml files, replay's
# TRANSCRIPT to .jsonl files, `hook` to `guard`. Tested by tests/docs/completion.sh.

_ralphsup()
{
    local cur prev words cword
    _init_completion || return
    local self=${words[0]} cmd=${words[1]-}

    if ((cword == 1)); then
        COMPREPLY=($(compgen -W "$("$self" __list commands 2>/dev/null) help --version --help" -- "$cur"))
        return
    fi
    case $prev in
        --max-iterations | --max-runtime | --max-cost-usd | --jobs | --max-schools | --reason | --date | \
            --exit-code | --school)
            return ;; # a value the user types
        --out)
            _filedir -d
            return ;;
        --config)
            _filedir toml
            return ;;
    esac
    if [[ $cmd == help ]]; then
        ((cword == 2)) && COMPREPLY=($(compgen -W "$("$self" __list commands 2>/dev/null)" -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$("$self" "$cmd" --help 2>/dev/null | sed '/^$/q' | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u)" -- "$cur"))
        return
    fi
    case $cmd in
        hook) ((cword == 2)) && COMPREPLY=($(compgen -W guard -- "$cur")) ;;
        replay) _filedir jsonl ;;
        *) _filedir toml ;;
    esac
} && complete -F _ralphsup ralphsup
