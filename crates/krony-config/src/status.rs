//! Which directives kronyd acts on.
//!
//! One table, so that later work flips entries from `NotImplemented` to `Implemented` as the
//! daemon learns them. Every directive that is parsed but not acted on produces a warning.

/// How kronyd treats a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectiveStatus {
    /// kronyd acts on the directive.
    Implemented,
    /// Parsed and validated, but kronyd does not act on it yet (warning).
    NotImplemented,
    /// chrony no longer supports it and only warns (`commandkey`, ...).
    Obsolete,
    /// Accepted and silently ignored by chrony (`dumponexit`); kronyd warns.
    Ignored,
    /// Handled while reading the configuration (`include`, `confdir`, `sourcedir`).
    Structural,
}

use DirectiveStatus::{Ignored, Implemented, NotImplemented as Todo, Obsolete, Structural};

/// Every directive kronyd knows, with its status. Sorted by name.
pub const DIRECTIVES: &[(&str, DirectiveStatus)] = &[
    ("acquisitionport", Implemented),
    ("allow", Implemented),
    ("authselectmode", Implemented),
    ("bindacqaddress", Implemented),
    ("bindacqdevice", Implemented),
    ("bindaddress", Implemented),
    ("bindcmdaddress", Implemented),
    ("bindcmddevice", Implemented),
    ("binddevice", Implemented),
    ("broadcast", Implemented),
    ("clientloglimit", Implemented),
    ("clockprecision", Implemented),
    ("cmdallow", Implemented),
    ("cmddeny", Implemented),
    ("cmdport", Implemented),
    ("cmdratelimit", Implemented),
    ("combinelimit", Implemented),
    ("commandkey", Obsolete),
    ("confdir", Structural),
    ("corrtimeratio", Implemented),
    ("deny", Implemented),
    ("driftfile", Implemented),
    ("dscp", Implemented),
    ("dumpdir", Implemented),
    ("dumponexit", Ignored),
    ("fallbackdrift", Implemented),
    ("generatecommandkey", Obsolete),
    ("hwclockfile", Implemented),
    ("hwtimestamp", Implemented),
    ("hwtstimeout", Todo),
    ("include", Structural),
    ("initstepslew", Implemented),
    ("keyfile", Implemented),
    ("leapseclist", Implemented),
    ("leapsecmode", Implemented),
    ("leapsectz", Implemented),
    ("linux_freq_scale", Obsolete),
    ("linux_hz", Obsolete),
    ("local", Implemented),
    ("lock_all", Implemented),
    ("log", Implemented),
    ("logbanner", Implemented),
    ("logchange", Implemented),
    ("logdir", Implemented),
    ("mailonchange", Implemented),
    ("makestep", Implemented),
    ("manual", Implemented),
    ("maxchange", Implemented),
    ("maxclockerror", Implemented),
    ("maxdistance", Implemented),
    ("maxdrift", Implemented),
    ("maxjitter", Implemented),
    ("maxntsconnections", Implemented),
    ("maxsamples", Implemented),
    ("maxslewrate", Implemented),
    ("maxstratum", Implemented),
    ("maxtxbuffers", Todo),
    ("maxupdateskew", Implemented),
    ("minsamples", Implemented),
    ("minsources", Implemented),
    ("minstratum", Implemented),
    ("nocerttimecheck", Implemented),
    ("noclientlog", Implemented),
    ("nosystemcert", Implemented),
    ("ntpsigndsocket", Todo),
    ("ntsaeads", Implemented),
    ("ntscachedir", Implemented),
    ("ntsdumpdir", Implemented),
    ("ntsntpserver", Implemented),
    ("ntsport", Implemented),
    ("ntsprocesses", Implemented),
    ("ntsratelimit", Implemented),
    ("ntsrefresh", Implemented),
    ("ntsrotate", Implemented),
    ("ntsservercert", Implemented),
    ("ntsserverkey", Implemented),
    ("ntstrustedcerts", Implemented),
    ("opencommands", Implemented),
    ("peer", Implemented),
    ("pidfile", Implemented),
    ("pool", Implemented),
    ("port", Implemented),
    ("ptpdomain", Todo),
    ("ptpport", Implemented),
    ("ratelimit", Implemented),
    ("refclock", Implemented),
    ("refresh", Implemented),
    ("reselectdist", Implemented),
    ("rtcautotrim", Implemented),
    ("rtcdevice", Implemented),
    ("rtcfile", Implemented),
    ("rtconutc", Implemented),
    ("rtcsync", Implemented),
    ("sched_priority", Implemented),
    ("server", Implemented),
    ("smoothtime", Implemented),
    ("sourcedir", Structural),
    ("stratumweight", Implemented),
    ("tempcomp", Implemented),
    ("user", Implemented),
];

/// The status of a directive (case-insensitive); `None` if it is unknown.
pub fn directive_status(name: &str) -> Option<DirectiveStatus> {
    DIRECTIVES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directive::parse_directive;
    use crate::error::ParseError;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(DIRECTIVES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_listed_directive_is_parsed() {
        for (name, _) in DIRECTIVES {
            let r = parse_directive(name, &[]);
            assert!(
                !matches!(r, Err(ParseError::UnknownDirective(_))),
                "{name} is listed but not parsed"
            );
        }
    }

    #[test]
    fn every_parsed_directive_is_listed() {
        use crate::directive::{OBSOLETE, SPECIAL};
        use crate::settings::{FLAG_SETTINGS, FLOAT_SETTINGS, INT_SETTINGS, STRING_SETTINGS};
        let mut names: Vec<&str> = vec!["server", "pool", "peer", "ntscachedir"];
        names.extend(SPECIAL);
        names.extend(OBSOLETE);
        names.extend(INT_SETTINGS.iter().map(|e| e.1));
        names.extend(FLOAT_SETTINGS.iter().map(|e| e.1));
        names.extend(STRING_SETTINGS.iter().map(|e| e.1));
        names.extend(FLAG_SETTINGS.iter().map(|e| e.1));
        for n in &names {
            assert!(
                directive_status(n).is_some(),
                "{n} is parsed but not listed"
            );
        }
        assert_eq!(names.len(), DIRECTIVES.len());
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(
            directive_status("MakeStep"),
            Some(DirectiveStatus::Implemented)
        );
        assert_eq!(
            directive_status("NtpSignDSocket"),
            Some(DirectiveStatus::NotImplemented)
        );
        assert_eq!(
            directive_status("linux_hz"),
            Some(DirectiveStatus::Obsolete)
        );
        assert_eq!(directive_status("bogus"), None);
    }
}
