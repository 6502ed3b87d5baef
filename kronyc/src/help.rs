//! `help`: the command summary, laid out as chronyc's (command in a
//! 28-column field, or on its own line when longer).

/// (command, description) pairs; `("", "")` is a blank line.
const HELP: &[(&str, &str)] = &[
    ("System clock:", ""),
    ("tracking", "Display system time information"),
    ("makestep", "Correct clock by stepping immediately"),
    (
        "makestep <threshold> <updates>",
        "Configure automatic clock stepping",
    ),
    (
        "maxupdateskew <skew>",
        "Modify maximum valid skew to update frequency",
    ),
    (
        "waitsync [<max-tries> [<max-correction> [<max-skew> [<interval>]]]]",
        "Wait until synchronised in specified limits",
    ),
    ("", ""),
    ("Time sources:", ""),
    (
        "sources [-a] [-v]",
        "Display information about current sources",
    ),
    (
        "sourcestats [-a] [-v]",
        "Display statistics about collected measurements",
    ),
    (
        "selectdata [-a] [-v]",
        "Display information about source selection",
    ),
    (
        "selectopts <address|refid> <+|-options>",
        "Modify selection options",
    ),
    ("reselect", "Force reselecting synchronisation source"),
    ("reselectdist <dist>", "Modify reselection distance"),
    (
        "offset <address|refid> <offset>",
        "Modify offset correction",
    ),
    ("", ""),
    ("NTP sources:", ""),
    ("activity", "Check how many NTP sources are online/offline"),
    (
        "authdata [-a] [-v]",
        "Display information about authentication",
    ),
    (
        "ntpdata [<address>]",
        "Display information about last valid measurement",
    ),
    ("add server <name> [options]", "Add new NTP server"),
    ("add pool <name> [options]", "Add new pool of NTP servers"),
    ("add peer <name> [options]", "Add new NTP peer"),
    ("delete <address>", "Remove server or peer"),
    (
        "burst <n-good>/<n-max> [[<mask>/]<address>]",
        "Start rapid set of measurements",
    ),
    (
        "maxdelay <address> <delay>",
        "Modify maximum valid sample delay",
    ),
    (
        "maxdelayratio <address> <ratio>",
        "Modify maximum valid delay/minimum ratio",
    ),
    (
        "maxdelaydevratio <address> <ratio>",
        "Modify maximum valid delay/deviation ratio",
    ),
    (
        "minpoll <address> <poll>",
        "Modify minimum polling interval",
    ),
    (
        "maxpoll <address> <poll>",
        "Modify maximum polling interval",
    ),
    ("minstratum <address> <stratum>", "Modify minimum stratum"),
    (
        "offline [[<mask>/]<address>]",
        "Set sources in subnet to offline status",
    ),
    (
        "online [[<mask>/]<address>]",
        "Set sources in subnet to online status",
    ),
    ("onoffline", "Set all sources to online or offline status"),
    ("", "according to network configuration"),
    ("polltarget <address> <target>", "Modify poll target"),
    ("refresh", "Refresh IP addresses"),
    ("reload sources", "Re-read *.sources files"),
    ("sourcename <address>", "Display original name"),
    ("", ""),
    ("Manual time input:", ""),
    (
        "manual off|on|reset",
        "Disable/enable/reset settime command",
    ),
    ("manual list", "Show previous settime entries"),
    ("manual delete <index>", "Delete previous settime entry"),
    ("settime <time>", "Set daemon time"),
    ("", "(e.g. Sep 25, 2015 16:30:05 or 16:30:05)"),
    ("", ""),
    ("NTP access:", ""),
    ("accheck <address>", "Check whether address is allowed"),
    (
        "clients [-p <packets>] [-k] [-r]",
        "Report on clients that accessed the server",
    ),
    ("serverstats", "Display statistics of the server"),
    ("allow [<subnet>]", "Allow access to subnet as a default"),
    (
        "allow all [<subnet>]",
        "Allow access to subnet and all children",
    ),
    ("deny [<subnet>]", "Deny access to subnet as a default"),
    (
        "deny all [<subnet>]",
        "Deny access to subnet and all children",
    ),
    ("local [options]", "Serve time even when not synchronised"),
    ("local off", "Don't serve time when not synchronised"),
    ("smoothtime reset|activate", "Reset/activate time smoothing"),
    ("smoothing", "Display current time smoothing state"),
    ("", ""),
    ("Monitoring access:", ""),
    ("cmdaccheck <address>", "Check whether address is allowed"),
    ("cmdallow [<subnet>]", "Allow access to subnet as a default"),
    (
        "cmdallow all [<subnet>]",
        "Allow access to subnet and all children",
    ),
    ("cmddeny [<subnet>]", "Deny access to subnet as a default"),
    (
        "cmddeny all [<subnet>]",
        "Deny access to subnet and all children",
    ),
    ("", ""),
    ("Real-time clock:", ""),
    ("rtcdata", "Print current RTC performance parameters"),
    ("trimrtc", "Correct RTC relative to system clock"),
    ("writertc", "Save RTC performance parameters to file"),
    ("", ""),
    ("Other daemon commands:", ""),
    ("cyclelogs", "Close and re-open log files"),
    ("dump", "Dump measurements and NTS keys/cookies"),
    ("rekey", "Re-read keys"),
    ("reset sources", "Drop all measurements"),
    ("shutdown", "Stop daemon"),
    ("", ""),
    ("Client commands:", ""),
    (
        "dns -n|+n",
        "Disable/enable resolving IP addresses to hostnames",
    ),
    (
        "dns -4|-6|-46",
        "Resolve hostnames only to IPv4/IPv6/both addresses",
    ),
    ("timeout <milliseconds>", "Set initial response timeout"),
    ("retries <retries>", "Set maximum number of retries"),
    (
        "keygen [<id> [<type> [<bits>]]]",
        "Generate key for key file",
    ),
    ("exit|quit", "Leave the program"),
    ("help", "Generate this help"),
    ("", ""),
];

/// The help text.
pub fn help_text() -> String {
    let mut out = String::new();
    for (cmd, desc) in HELP {
        if cmd.len() >= 28 {
            out.push_str(cmd);
            out.push('\n');
            out.push_str(&" ".repeat(28));
        } else {
            out.push_str(&format!("{cmd:<28}"));
        }
        out.push_str(desc);
        out.push('\n');
    }
    out
}

/// The command names, for tab completion.
pub const COMMANDS: &[&str] = &[
    "accheck",
    "activity",
    "add",
    "allow",
    "authdata",
    "burst",
    "clients",
    "cmdaccheck",
    "cmdallow",
    "cmddeny",
    "cyclelogs",
    "delete",
    "deny",
    "dns",
    "dump",
    "exit",
    "help",
    "keygen",
    "local",
    "makestep",
    "manual",
    "maxdelay",
    "maxdelaydevratio",
    "maxdelayratio",
    "maxpoll",
    "maxupdateskew",
    "minpoll",
    "minstratum",
    "ntpdata",
    "offline",
    "offset",
    "online",
    "onoffline",
    "polltarget",
    "quit",
    "refresh",
    "rekey",
    "reload",
    "reselect",
    "reselectdist",
    "reset",
    "retries",
    "rtcdata",
    "selectdata",
    "selectopts",
    "serverstats",
    "settime",
    "shutdown",
    "smoothing",
    "smoothtime",
    "sourcename",
    "sources",
    "sourcestats",
    "timeout",
    "tracking",
    "trimrtc",
    "waitsync",
    "writertc",
];

/// Completions of a command's first argument, for tab completion.
pub fn subcommands(cmd: &str) -> &'static [&'static str] {
    match cmd {
        "add" => &["peer", "pool", "server"],
        "manual" => &["on", "off", "delete", "list", "reset"],
        "reload" | "reset" => &["sources"],
        "authdata" | "selectdata" | "sources" | "sourcestats" => &["-a", "-v"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let h = help_text();
        let lines: Vec<&str> = h.lines().collect();
        assert_eq!(lines[0], format!("{:<28}", "System clock:"));
        assert_eq!(
            lines[1],
            "tracking                    Display system time information"
        );
        assert_eq!(lines[3], "makestep <threshold> <updates>");
        assert_eq!(
            lines[4],
            format!("{}Configure automatic clock stepping", " ".repeat(28))
        );
        assert_eq!(lines.last(), Some(&" ".repeat(28).as_str()));
    }
}
