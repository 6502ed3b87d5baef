//! Kiss-o'-Death codes (RFC 5905 §7.4): a packet with stratum 0 carries a
//! four-letter ASCII code in its reference ID instead of a clock name.

use core::fmt;

use super::RefId;

/// A kiss code. The named ones are those of RFC 5905 §7.4 (Figure 13) plus
/// NTSN from RFC 8915 §5.7; anything else is kept as [`KissCode::Other`] so
/// that it survives a round trip.
///
/// ```
/// use krony_wire::ntp::{KissCode, RefId};
/// assert_eq!(KissCode::from(RefId::from_ascii(b"RATE")), KissCode::Rate);
/// assert_eq!(RefId::from(KissCode::Deny), RefId::from_ascii(b"DENY"));
/// assert_eq!(KissCode::Rstr.to_string(), "RSTR");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KissCode {
    /// The association belongs to an anycast server.
    Acst,
    /// Server authentication failed.
    Auth,
    /// Autokey sequence failed.
    Auto,
    /// The association belongs to a broadcast server.
    Bcst,
    /// Cryptographic authentication or identification failed.
    Cryp,
    /// Access denied by remote server: stop sending to it.
    Deny,
    /// Lost peer in symmetric mode.
    Drop,
    /// Access denied due to local policy: stop sending to it.
    Rstr,
    /// The association has not yet synchronised for the first time.
    Init,
    /// The association belongs to a dynamically discovered server.
    Mcst,
    /// No key found.
    Nkey,
    /// NTS negative acknowledgment: the server could not use the cookie
    /// (RFC 8915 §5.7).
    Ntsn,
    /// Rate exceeded: reduce the polling rate.
    Rate,
    /// Alteration of association from a remote host running ntpdc.
    Rmot,
    /// A step change in system time has occurred.
    Step,
    /// Any other code, as the 32-bit reference ID value.
    Other(u32),
}

/// Every named code with its four ASCII letters (RFC 5905 §7.4, RFC 8915 §5.7).
const NAMED: [(KissCode, &[u8; 4]); 15] = [
    (KissCode::Acst, b"ACST"),
    (KissCode::Auth, b"AUTH"),
    (KissCode::Auto, b"AUTO"),
    (KissCode::Bcst, b"BCST"),
    (KissCode::Cryp, b"CRYP"),
    (KissCode::Deny, b"DENY"),
    (KissCode::Drop, b"DROP"),
    (KissCode::Rstr, b"RSTR"),
    (KissCode::Init, b"INIT"),
    (KissCode::Mcst, b"MCST"),
    (KissCode::Nkey, b"NKEY"),
    (KissCode::Ntsn, b"NTSN"),
    (KissCode::Rate, b"RATE"),
    (KissCode::Rmot, b"RMOT"),
    (KissCode::Step, b"STEP"),
];

impl KissCode {
    /// Whether RFC 5905 §7.4 tells a client to stop sending to the server
    /// (DENY, RSTR) or, for NTS, to get new cookies (NTSN is handled by the
    /// NTS layer, so it is not included here).
    pub fn is_deny(self) -> bool {
        matches!(self, KissCode::Deny | KissCode::Rstr)
    }

    /// The reference ID carrying this code.
    pub fn to_refid(self) -> RefId {
        if let KissCode::Other(v) = self {
            return RefId(v);
        }
        NAMED
            .iter()
            .find(|(code, _)| *code == self)
            .map_or(RefId::UNSYNC, |(_, text)| RefId(u32::from_be_bytes(**text)))
    }
}

impl From<RefId> for KissCode {
    fn from(refid: RefId) -> Self {
        let bytes = refid.to_bytes();
        NAMED
            .iter()
            .find(|(_, text)| **text == bytes)
            .map_or(KissCode::Other(refid.0), |(code, _)| *code)
    }
}

impl From<KissCode> for RefId {
    fn from(code: KissCode) -> Self {
        code.to_refid()
    }
}

impl fmt::Display for KissCode {
    /// The ASCII code (printable characters only, as for any reference ID).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_refid().ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_codes_round_trip() {
        for (code, text) in NAMED {
            let refid = RefId::from_ascii(text);
            assert_eq!(KissCode::from(refid), code);
            assert_eq!(code.to_refid(), refid);
            assert_eq!(code.to_string().as_bytes(), text);
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        let refid = RefId::from_ascii(b"XYZW");
        assert_eq!(KissCode::from(refid), KissCode::Other(refid.0));
        assert_eq!(KissCode::Other(refid.0).to_refid(), refid);
        // Lower case is not a named code.
        assert!(matches!(
            KissCode::from(RefId::from_ascii(b"rate")),
            KissCode::Other(_)
        ));
    }

    #[test]
    fn deny_codes() {
        assert!(KissCode::Deny.is_deny());
        assert!(KissCode::Rstr.is_deny());
        assert!(!KissCode::Rate.is_deny());
    }
}
