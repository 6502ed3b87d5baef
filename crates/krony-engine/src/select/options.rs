//! Effective selection options: what `authselectmode` adds to the configured ones.

use super::{AuthSelectMode, Candidate, SelectOptions, SourceKind};

/// The effective options of every candidate, in order.
///
/// The mode looks at the whole configuration: sources configured `noselect`
/// are not counted and keep their options unchanged; reference clocks count
/// as neither authenticated nor unauthenticated NTP sources.
pub fn effective_options(candidates: &[Candidate], mode: AuthSelectMode) -> Vec<SelectOptions> {
    let counted = candidates
        .iter()
        .filter(|c| !c.options.noselect && c.kind == SourceKind::Ntp);
    let (mut auth, mut unauth) = (0usize, 0usize);
    for c in counted {
        if c.authenticated {
            auth += 1;
        } else {
            unauth += 1;
        }
    }

    let none = SelectOptions::default();
    let require_trust = SelectOptions {
        require: true,
        trust: true,
        ..none
    };
    let noselect = SelectOptions {
        noselect: true,
        ..none
    };
    // (added to authenticated NTP, to unauthenticated NTP, to refclocks)
    let (to_auth, to_unauth, to_refclock) = match mode {
        AuthSelectMode::Ignore => (none, none, none),
        AuthSelectMode::Mix if auth > 0 && unauth > 0 => (require_trust, none, require_trust),
        AuthSelectMode::Mix => (none, none, none),
        AuthSelectMode::Prefer if auth > 0 => (none, noselect, none),
        AuthSelectMode::Prefer => (none, none, none),
        AuthSelectMode::Require => (none, noselect, none),
    };

    candidates
        .iter()
        .map(|c| {
            if c.options.noselect {
                return c.options;
            }
            let added = match (c.kind, c.authenticated) {
                (SourceKind::Ntp, true) => to_auth,
                (SourceKind::Ntp, false) => to_unauth,
                (SourceKind::Refclock, _) => to_refclock,
            };
            union(c.options, added)
        })
        .collect()
}

fn union(a: SelectOptions, b: SelectOptions) -> SelectOptions {
    SelectOptions {
        noselect: a.noselect || b.noselect,
        prefer: a.prefer || b.prefer,
        trust: a.trust || b.trust,
        require: a.require || b.require,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::tests::candidate;

    fn with(kind: SourceKind, authenticated: bool) -> Candidate {
        let mut c = candidate(1, 0.0, 0.01);
        c.kind = kind;
        c.authenticated = authenticated;
        c
    }

    #[test]
    fn mix_marks_authenticated_and_refclocks_only_when_both_kinds_exist() {
        let set = [
            with(SourceKind::Ntp, true),
            with(SourceKind::Ntp, false),
            with(SourceKind::Refclock, false),
        ];
        let eff = effective_options(&set, AuthSelectMode::Mix);
        assert_eq!(eff[0].bits(), 0xc);
        assert_eq!(eff[1].bits(), 0);
        assert_eq!(eff[2].bits(), 0xc);
        let only_auth = [
            with(SourceKind::Ntp, true),
            with(SourceKind::Refclock, false),
        ];
        let eff = effective_options(&only_auth, AuthSelectMode::Mix);
        assert_eq!((eff[0].bits(), eff[1].bits()), (0, 0));
    }

    #[test]
    fn prefer_and_require_disable_unauthenticated() {
        let set = [with(SourceKind::Ntp, true), with(SourceKind::Ntp, false)];
        let eff = effective_options(&set, AuthSelectMode::Prefer);
        assert_eq!((eff[0].noselect, eff[1].noselect), (false, true));
        let unauth_only = [with(SourceKind::Ntp, false)];
        let eff = effective_options(&unauth_only, AuthSelectMode::Prefer);
        assert!(!eff[0].noselect);
        let eff = effective_options(&unauth_only, AuthSelectMode::Require);
        assert!(eff[0].noselect);
        let eff = effective_options(&unauth_only, AuthSelectMode::Ignore);
        assert_eq!(eff[0], SelectOptions::default());
    }

    #[test]
    fn noselect_sources_are_not_counted() {
        let mut auth = with(SourceKind::Ntp, true);
        auth.options.noselect = true;
        let set = [auth, with(SourceKind::Ntp, false)];
        let eff = effective_options(&set, AuthSelectMode::Prefer);
        assert_eq!(eff[0].bits(), SelectOptions::NOSELECT_BIT);
        assert!(!eff[1].noselect);
    }

    #[test]
    fn option_letters_and_bits_round_trip() {
        let o = SelectOptions {
            trust: true,
            require: true,
            ..SelectOptions::default()
        };
        assert_eq!(o.letters(), "--TR-");
        assert_eq!(SelectOptions::from_bits(o.bits()), o);
        assert_eq!(SelectOptions::from_bits(0xf).letters(), "NPTR-");
    }
}
