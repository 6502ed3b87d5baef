//! bash, zsh and fish completions for kronyc and kronyd, from the same tables as the man
//! pages (options and commands from doc/*.md, sub-words from kronyc's own completion table,
//! directive names from krony-config).

use krony_config::DIRECTIVES;

use crate::pages::Entry;

/// What a program's completion needs.
pub struct Program {
    /// `kronyc` or `kronyd`.
    pub name: &'static str,
    /// Its options.
    pub options: Vec<Entry>,
    /// Words completed where no option is expected: kronyc's commands (first word only)
    /// or kronyd's directives (every word).
    pub words: Vec<(String, String)>,
    /// Whether `words` are commands followed by their arguments (kronyc) rather than a list
    /// of directive names (kronyd).
    pub commands: bool,
}

impl Program {
    /// kronyc: options and commands from doc/kronyc.md.
    pub fn kronyc(options: Vec<Entry>, commands: &[Entry]) -> Program {
        let mut words: Vec<(String, String)> = Vec::new();
        // Commands kept only for old scripts are not offered.
        for c in commands
            .iter()
            .filter(|c| c.status != "accepted and ignored")
        {
            if !words.iter().any(|(n, _)| *n == c.name) {
                words.push((c.name.clone(), c.description.clone()));
            }
        }
        Program {
            name: "kronyc",
            options,
            words,
            commands: true,
        }
    }

    /// kronyd: options from doc/kronyd.md, directives from krony-config.
    pub fn kronyd(options: Vec<Entry>) -> Program {
        let words = DIRECTIVES
            .iter()
            .map(|(n, _)| (n.to_string(), "directive".to_string()))
            .collect();
        Program {
            name: "kronyd",
            options,
            words,
            commands: false,
        }
    }

    fn option_names(&self) -> Vec<&str> {
        self.options.iter().map(|o| o.name.as_str()).collect()
    }

    fn options_with_argument(&self) -> Vec<&str> {
        self.options
            .iter()
            .filter(|o| o.arg.is_some())
            .map(|o| o.name.as_str())
            .collect()
    }
}

/// How an option's argument is completed, from its argument name.
fn argument_kind(arg: &str) -> &'static str {
    match arg {
        "FILE" => "file",
        "USER" => "user",
        "HOST" => "host",
        _ => "none",
    }
}

/// The sub-words of a kronyc command, from kronyc's interactive completion.
fn subwords(cmd: &str) -> &'static [&'static str] {
    kronyc::help::subcommands(cmd)
}

/// Single-quotes a string for sh, bash, zsh and fish.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The bash completion script.
pub fn bash(p: &Program) -> String {
    let f = format!("_{}", p.name);
    let mut arg_cases = String::new();
    for o in &p.options {
        if let Some(arg) = &o.arg {
            let action = match argument_kind(arg) {
                "file" => "COMPREPLY=($(compgen -f -- \"$cur\"))",
                "user" => "COMPREPLY=($(compgen -u -- \"$cur\"))",
                "host" => "COMPREPLY=($(compgen -A hostname -- \"$cur\"))",
                _ => "COMPREPLY=()",
            };
            arg_cases.push_str(&format!("        {}) {action}; return ;;\n", o.name));
        }
    }
    let words: Vec<&str> = p.words.iter().map(|(n, _)| n.as_str()).collect();
    let mut sub_cases = String::new();
    if p.commands {
        for (w, _) in &p.words {
            let subs = subwords(w);
            if !subs.is_empty() {
                sub_cases.push_str(&format!(
                    "            {w}) subs={} ;;\n",
                    sq(&subs.join(" "))
                ));
            }
        }
    }
    let body = if p.commands {
        format!(
            "    # The first word that is neither an option nor an option's argument is the command.\n\
             \x20   local i=1 cmd=\n\
             \x20   while [ $i -lt $COMP_CWORD ]; do\n\
             \x20       case \"${{COMP_WORDS[i]}}\" in\n\
             \x20           {with_arg}) i=$((i + 1)) ;;\n\
             \x20           -*) ;;\n\
             \x20           *) cmd=${{COMP_WORDS[i]}}; break ;;\n\
             \x20       esac\n\
             \x20       i=$((i + 1))\n\
             \x20   done\n\
             \x20   if [ -z \"$cmd\" ]; then\n\
             \x20       case \"$cur\" in\n\
             \x20           -*) COMPREPLY=($(compgen -W {opts} -- \"$cur\")) ;;\n\
             \x20           *) COMPREPLY=($(compgen -W {words} -- \"$cur\")) ;;\n\
             \x20       esac\n\
             \x20   elif [ $i -eq $((COMP_CWORD - 1)) ]; then\n\
             \x20       local subs=\n\
             \x20       case \"$cmd\" in\n{sub_cases}\
             \x20       esac\n\
             \x20       COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n\
             \x20   fi\n",
            with_arg = p.options_with_argument().join("|"),
            opts = sq(&p.option_names().join(" ")),
            words = sq(&words.join(" ")),
        )
    } else {
        format!(
            "    case \"$cur\" in\n\
             \x20       -*) COMPREPLY=($(compgen -W {opts} -- \"$cur\")) ;;\n\
             \x20       *) COMPREPLY=($(compgen -W {words} -- \"$cur\")) ;;\n\
             \x20   esac\n",
            opts = sq(&p.option_names().join(" ")),
            words = sq(&words.join(" ")),
        )
    };
    format!(
        "# bash completion for {name}. Generated by xtask from doc/{name}.md; do not edit.\n\
         {f}() {{\n\
         \x20   local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}\n\
         \x20   COMPREPLY=()\n\
         \x20   case \"$prev\" in\n{arg_cases}\
         \x20   esac\n\
         {body}\
         }}\n\
         complete -F {f} {name}\n",
        name = p.name,
    )
}

/// Text for a zsh `_arguments` description: no brackets or colons.
fn zsh_desc(s: &str) -> String {
    s.replace(['[', ']'], "").replace(':', ";")
}

/// The zsh completion function (`_kronyc`, `_kronyd`).
pub fn zsh(p: &Program) -> String {
    let mut specs = Vec::new();
    for o in &p.options {
        let desc = zsh_desc(&o.description);
        let action = match o.arg.as_deref().map(argument_kind) {
            None => String::new(),
            Some("file") => format!(":{}:_files", o.arg.as_deref().unwrap_or_default()),
            Some("user") => ":user:_users".to_string(),
            Some("host") => ":host:_hosts".to_string(),
            Some(_) => format!(":{}: ", o.arg.as_deref().unwrap_or_default().to_lowercase()),
        };
        specs.push(format!(
            "    {} \\\n",
            sq(&format!("{}[{desc}]{action}", o.name))
        ));
    }
    let described: Vec<String> = p
        .words
        .iter()
        .map(|(n, d)| format!("    {}\n", sq(&format!("{n}:{}", d.replace(':', "\\:")))))
        .collect();
    let mut sub_cases = String::new();
    for (w, _) in p.words.iter().filter(|_| p.commands) {
        let subs = subwords(w);
        if !subs.is_empty() {
            sub_cases.push_str(&format!("        ({w}) compadd -- {} ;;\n", subs.join(" ")));
        }
    }
    let tail = if p.commands {
        format!(
            "    '1:command:->command' \\\n    '*::argument:->argument'\n\
             case $state in\n\
             \x20   (command) _describe -t commands 'kronyc command' items ;;\n\
             \x20   (argument)\n\
             \x20       [[ $CURRENT -eq 2 ]] || return\n\
             \x20       case $words[1] in\n{sub_cases}\
             \x20       esac ;;\n\
             esac\n"
        )
    } else {
        "    '*:directive:->directive'\n\
         [[ $state == directive ]] && _describe -t directives 'directive' items\n"
            .to_string()
    };
    format!(
        "#compdef {name}\n\
         # zsh completion for {name}. Generated by xtask from doc/{name}.md; do not edit.\n\
         local -a items\n\
         items=(\n{words})\n\
         local state\n\
         _arguments -s -S \\\n{specs}{tail}",
        name = p.name,
        words = described.concat(),
        specs = specs.concat(),
    )
}

/// The fish completion script.
pub fn fish(p: &Program) -> String {
    let n = p.name;
    let mut out = format!(
        "# fish completion for {n}. Generated by xtask from doc/{n}.md; do not edit.\n\
         complete -c {n} -f\n"
    );
    for o in &p.options {
        let flag = match o.name.strip_prefix("--") {
            Some(long) => format!("-l {long}"),
            None => format!("-s {}", o.name.trim_start_matches('-')),
        };
        let arg = match o.arg.as_deref().map(argument_kind) {
            None => String::new(),
            Some("file") => " -r -F".to_string(),
            Some("user") => " -x -a '(__fish_complete_users)'".to_string(),
            Some("host") => " -x -a '(__fish_print_hostnames)'".to_string(),
            Some(_) => " -x".to_string(),
        };
        out.push_str(&format!(
            "complete -c {n} {flag}{arg} -d {}\n",
            sq(&o.description)
        ));
    }
    let cond = if p.commands {
        " -n __fish_use_subcommand"
    } else {
        ""
    };
    for (w, d) in &p.words {
        out.push_str(&format!("complete -c {n}{cond} -a {w} -d {}\n", sq(d)));
    }
    for (w, _) in p.words.iter().filter(|_| p.commands) {
        let subs = subwords(w);
        if !subs.is_empty() {
            out.push_str(&format!(
                "complete -c {n} -n '__fish_seen_subcommand_from {w}' -a {}\n",
                sq(&subs.join(" "))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::{entries, kronyc_doc, kronyd_doc};

    fn programs() -> (Program, Program) {
        let c = kronyc_doc().expect("kronyc.md");
        let d = kronyd_doc().expect("kronyd.md");
        (
            Program::kronyc(entries(&c, "Option"), &entries(&c, "Command")),
            Program::kronyd(entries(&d, "Option")),
        )
    }

    #[test]
    fn kronyc_scripts_name_commands_options_and_subwords() {
        let (c, _) = programs();
        let b = bash(&c);
        assert!(b.contains("complete -F _kronyc kronyc"));
        assert!(b.contains("-h) COMPREPLY=($(compgen -A hostname"), "{b}");
        assert!(b.contains("'tracking makestep "), "{b}");
        assert!(!b.contains("authhash"), "{b}");
        assert!(b.contains("add) subs='peer pool server'"), "{b}");
        let z = zsh(&c);
        assert!(z.starts_with("#compdef kronyc\n"));
        assert!(z.contains("'-h[") && z.contains(":host:_hosts'"), "{z}");
        assert!(z.contains("(add) compadd -- peer pool server"), "{z}");
        let f = fish(&c);
        assert!(f.contains("complete -c kronyc -l json -d "), "{f}");
        assert!(f.contains("complete -c kronyc -n __fish_use_subcommand -a sources -d "));
        // Every command of kronyc is offered.
        for cmd in kronyc::help::COMMANDS {
            assert!(f.contains(&format!(" -a {cmd} ")), "{cmd}");
        }
    }

    #[test]
    fn kronyd_scripts_complete_files_users_and_directives() {
        let (_, d) = programs();
        let b = bash(&d);
        assert!(b.contains("-f) COMPREPLY=($(compgen -f"), "{b}");
        assert!(b.contains("-u) COMPREPLY=($(compgen -u"), "{b}");
        assert!(b.contains("makestep"), "{b}");
        let f = fish(&d);
        assert!(f.contains("complete -c kronyd -s f -r -F -d "), "{f}");
        assert!(zsh(&d).contains("'-f[Read the configuration"));
    }

    #[test]
    fn quoting() {
        assert_eq!(sq("it's"), "'it'\\''s'");
        assert_eq!(zsh_desc("a [b]: c"), "a b; c");
    }
}
