//! Reading a request: the parse checks chrony applies before answering, the
//! authentication it carries, and the mode of our answer.

use krony_wire::ntp::{ExtensionField, HEADER_LEN, Mac, Mode, NtpRepr};

/// The longest NTP packet chrony reads: the header, 1024 bytes of extension
/// fields and the longest MAC (key ID + 512-bit digest). Longer datagrams
/// are ignored.
pub(super) const MAX_PACKET_LEN: usize = HEADER_LEN + 1024 + 4 + 64;

/// The magic number opening chrony's experimental monotonic-root extension
/// field (type 0xF323).
pub(crate) const MONO_ROOT_MAGIC: u32 = 0xF5BE_DD9A;

/// Body length of that field: magic, root delay, root dispersion (32 bits
/// each), monotonic receive timestamp (64 bits) and epoch (32 bits).
pub(crate) const MONO_ROOT_BODY_LEN: usize = 24;

/// Length of an MS-SNTP authenticator (key ID + 16 zero bytes), which
/// Samba's ntp_signd is expected to sign.
const MSSNTP_LEN: usize = 20;

/// Length of the extended MS-SNTP authenticator (key ID, 4 flag bytes and
/// 64 zero bytes).
const MSSNTP_EXT_LEN: usize = 72;

/// The authentication a request asks for (chrony's classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuthMode {
    /// No MAC and no NTS field.
    None,
    /// A symmetric-key MAC (also a crypto-NAK).
    Symmetric,
    /// An MS-SNTP request: answered only through ntp_signd.
    MsSntp,
    /// The extended MS-SNTP form (chrony does not support it).
    MsSntpExt,
    /// Network Time Security (RFC 8915) fields.
    Nts,
}

/// A request that passed the parse checks.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub repr: NtpRepr,
    /// The datagram length (a response must not be longer).
    pub len: usize,
    pub auth: AuthMode,
    /// The request carries a valid experimental monotonic-root field, which
    /// the response echoes with our values.
    pub mono_root: bool,
}

/// Why a datagram is not a request we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// Parses a datagram as chrony does before looking at it: 48 to
/// [`MAX_PACKET_LEN`] bytes, a multiple of 4, version 1 to 4, and a trailer
/// that splits into extension fields and a MAC (krony-wire applies chrony's
/// length rules).
pub(super) fn parse(bytes: &[u8]) -> Result<Request, Malformed> {
    if bytes.len() > MAX_PACKET_LEN {
        return Err(Malformed);
    }
    let repr = NtpRepr::parse_bytes(bytes).map_err(|_| Malformed)?;
    let auth = auth_mode(&repr);
    let mono_root = repr.extensions.iter().any(is_mono_root);
    Ok(Request {
        len: bytes.len(),
        auth,
        mono_root,
        repr,
    })
}

/// A MAC decides the mode even after NTS fields, as in chrony's parser.
fn auth_mode(repr: &NtpRepr) -> AuthMode {
    if let Some(mac) = &repr.mac {
        return mac_mode(repr.version, mac);
    }
    let nts = [
        ExtensionField::NTS_UNIQUE_IDENTIFIER,
        ExtensionField::NTS_COOKIE,
        ExtensionField::NTS_COOKIE_PLACEHOLDER,
        ExtensionField::NTS_AUTH_AND_EEF,
    ];
    if repr.extensions.iter().any(|f| nts.contains(&f.field_type)) {
        AuthMode::Nts
    } else {
        AuthMode::None
    }
}

/// Tells an MS-SNTP authenticator (NTPv3, non-zero key ID, zeros where
/// the digest would be) from a symmetric-key MAC.
fn mac_mode(version: u8, mac: &Mac) -> AuthMode {
    if version == 3 && mac.key_id != 0 {
        let len = mac.wire_len();
        if len == MSSNTP_LEN && mac.digest.iter().all(|&b| b == 0) {
            return AuthMode::MsSntp;
        }
        // The extended form has four bytes of flags before the zeros.
        if len == MSSNTP_EXT_LEN
            && mac
                .digest
                .get(4..)
                .is_some_and(|d| d.iter().all(|&b| b == 0))
        {
            return AuthMode::MsSntpExt;
        }
    }
    AuthMode::Symmetric
}

fn is_mono_root(f: &ExtensionField) -> bool {
    f.field_type == ExtensionField::EXP_MONO_ROOT
        && f.body.len() == MONO_ROOT_BODY_LEN
        && f.body.get(..4) == Some(&MONO_ROOT_MAGIC.to_be_bytes()[..])
}

/// The mode of our answer to a request of `mode`, or `None` to ignore it:
/// a server response to a client, a symmetric passive one to an active
/// peer we do not know, and a server response to an NTPv1 packet (whose
/// mode field is reserved) unless it comes from port 123, since NTPv1
/// told clients from peers by the port.
pub(super) fn response_mode(mode: Mode, version: u8, remote_port: u16) -> Option<Mode> {
    match mode {
        Mode::Client => Some(Mode::Server),
        Mode::SymmetricActive => Some(Mode::SymmetricPassive),
        Mode::Reserved if version == 1 && remote_port != krony_wire::ntp::PORT => {
            Some(Mode::Server)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(lvm: u8) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        b[0] = lvm;
        b
    }

    #[test]
    fn lengths_and_versions() {
        assert!(parse(&header(0x23)).is_ok());
        assert!(parse(&header(0x23)[..47]).is_err());
        let mut b = header(0x23);
        b.extend_from_slice(&[0; 2]);
        assert!(parse(&b).is_err(), "not a multiple of 4");
        assert!(parse(&header(0x03)).is_err(), "version 0");
        assert!(parse(&header(0x2b)).is_err(), "version 5");
        assert!(parse(&header(0x0b)).is_ok(), "version 1");
        let mut long = header(0x1b); // NTPv3: everything after the header is a MAC
        long.resize(MAX_PACKET_LEN + 4, 0);
        assert!(parse(&long).is_err());
    }

    #[test]
    fn auth_modes() {
        let mut v3 = header(0x1b);
        v3.extend_from_slice(&[0, 0, 0, 5]);
        v3.extend_from_slice(&[0; 16]);
        assert_eq!(parse(&v3).map(|r| r.auth), Ok(AuthMode::MsSntp));
        v3[HEADER_LEN + 4] = 1;
        assert_eq!(parse(&v3).map(|r| r.auth), Ok(AuthMode::Symmetric));
        let mut ext = header(0x1b);
        ext.extend_from_slice(&[0, 0, 0, 5, 1, 2, 3, 4]);
        ext.extend_from_slice(&[0; 64]);
        assert_eq!(parse(&ext).map(|r| r.auth), Ok(AuthMode::MsSntpExt));
        let mut nak = header(0x23);
        nak.extend_from_slice(&[0; 4]);
        assert_eq!(parse(&nak).map(|r| r.auth), Ok(AuthMode::Symmetric));
        let mut nts = header(0x23);
        nts.extend_from_slice(&[0x01, 0x04, 0, 36]);
        nts.extend_from_slice(&[7; 32]);
        assert_eq!(parse(&nts).map(|r| r.auth), Ok(AuthMode::Nts));
    }

    #[test]
    fn mono_root_field_needs_magic_and_length() {
        let mut b = header(0x23);
        b.extend_from_slice(&[0xf3, 0x23, 0, 28]);
        b.extend_from_slice(&MONO_ROOT_MAGIC.to_be_bytes());
        b.extend_from_slice(&[0; 20]);
        assert_eq!(parse(&b).map(|r| r.mono_root), Ok(true));
        b[HEADER_LEN + 4] = 0;
        assert_eq!(parse(&b).map(|r| r.mono_root), Ok(false));
    }

    #[test]
    fn modes() {
        assert_eq!(response_mode(Mode::Client, 4, 123), Some(Mode::Server));
        assert_eq!(
            response_mode(Mode::SymmetricActive, 4, 123),
            Some(Mode::SymmetricPassive)
        );
        assert_eq!(response_mode(Mode::Reserved, 1, 1024), Some(Mode::Server));
        assert_eq!(response_mode(Mode::Reserved, 1, 123), None);
        assert_eq!(response_mode(Mode::Reserved, 2, 1024), None);
        for m in [
            Mode::SymmetricPassive,
            Mode::Server,
            Mode::Broadcast,
            Mode::Control,
            Mode::Private,
        ] {
            assert_eq!(response_mode(m, 4, 1024), None);
        }
    }
}
