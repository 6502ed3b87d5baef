//! The NTS-KE client exchange (RFC 8915 §4): the request a client sends
//! and what it takes from the server's response (chrony's
//! `nts_ke_client.c`).

use krony_wire::nts_ke::{NEXT_PROTOCOL_NTPV4, RecordBody, RecordRepr, emit_message};

use super::aead::Aead;

/// Most cookies kept from one response (RFC 8915 recommends 8).
pub const MAX_COOKIES: usize = 8;
/// Longest cookie accepted.
pub const MAX_COOKIE_LEN: usize = 256;

/// The client's request: NTPv4 and the AEAD algorithms it supports, in
/// order of preference, both critical, then End of Message.
///
/// # Errors
/// Never for valid algorithm lists (kept typed for the caller).
pub fn request(aeads: &[Aead]) -> Result<Vec<u8>, krony_wire::Error> {
    emit_message(&[
        RecordRepr::critical(RecordBody::NextProtocols(vec![NEXT_PROTOCOL_NTPV4])),
        RecordRepr::critical(RecordBody::AeadAlgorithms(
            aeads.iter().map(|a| a.id()).collect(),
        )),
        RecordRepr::critical(RecordBody::EndOfMessage),
    ])
}

/// What a successful NTS-KE response gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeResponse {
    /// The negotiated AEAD algorithm.
    pub aead: Aead,
    /// Cookies (at most [`MAX_COOKIES`]).
    pub cookies: Vec<Vec<u8>>,
    /// NTPv4 Server Negotiation, if sent.
    pub server: Option<String>,
    /// NTPv4 Port Negotiation, if sent.
    pub port: Option<u16>,
}

/// Why a response is unusable (logged by the caller as chrony's "Received
/// invalid NTS-KE response from NAME", with this as the debug reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeResponseError {
    /// The server reported an error record.
    #[error("NTS-KE error {0}")]
    ServerError(u16),
    /// A record broke the protocol.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Checks the server's records against what we offered.
///
/// # Errors
/// [`KeResponseError`] when the server reported an error, chose something
/// we did not offer, sent an unknown critical record, or no cookie.
pub fn process_response(
    records: &[RecordRepr],
    offered: &[Aead],
) -> Result<KeResponse, KeResponseError> {
    let invalid = |w| Err(KeResponseError::Invalid(w));
    let mut next_protocol = None;
    let mut aead = None;
    let mut cookies = Vec::new();
    let mut server = None;
    let mut port = None;
    for r in records {
        match &r.body {
            RecordBody::EndOfMessage => break,
            RecordBody::NextProtocols(p) => {
                if next_protocol.is_some() || p.as_slice() != [NEXT_PROTOCOL_NTPV4] {
                    return invalid("Unexpected NTS-KE next protocol");
                }
                next_protocol = Some(p[0]);
            }
            RecordBody::AeadAlgorithms(a) => {
                let chosen = match a.as_slice() {
                    [id] => Aead::from_id(*id).filter(|x| offered.contains(x)),
                    _ => None,
                };
                if aead.is_some() || chosen.is_none() {
                    return invalid("Unexpected AEAD algorithm");
                }
                aead = chosen;
            }
            RecordBody::Error(code) => return Err(KeResponseError::ServerError(*code)),
            RecordBody::Warning(_) => {}
            RecordBody::NewCookie(c) => {
                if c.is_empty() || c.len() > MAX_COOKIE_LEN {
                    return invalid("Unexpected length/cookie");
                }
                if cookies.len() < MAX_COOKIES {
                    cookies.push(c.clone());
                }
            }
            RecordBody::Server(name) => {
                let printable = !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic());
                if !printable {
                    return invalid("Invalid server name");
                }
                server = Some(String::from_utf8_lossy(name).into_owned());
            }
            RecordBody::Port(p) => port = Some(*p),
            RecordBody::Unknown { .. } if r.critical => {
                return invalid("Unknown critical record");
            }
            RecordBody::Unknown { .. } => {}
        }
    }
    let (Some(_), Some(aead)) = (next_protocol, aead) else {
        return invalid("Missing next protocol or AEAD algorithm");
    };
    if cookies.is_empty() {
        return invalid("No cookies");
    }
    Ok(KeResponse {
        aead,
        cookies,
        server,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(extra: Vec<RecordRepr>) -> Vec<RecordRepr> {
        let mut r = vec![
            RecordRepr::critical(RecordBody::NextProtocols(vec![0])),
            RecordRepr::critical(RecordBody::AeadAlgorithms(vec![15])),
            RecordRepr::non_critical(RecordBody::NewCookie(vec![1; 100])),
        ];
        r.extend(extra);
        r.push(RecordRepr::critical(RecordBody::EndOfMessage));
        r
    }

    #[test]
    fn request_is_what_chrony_sends() {
        let bytes = request(&[Aead::AesSivCmac256]).expect("emit");
        assert_eq!(
            bytes,
            [0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 2, 0, 15, 0x80, 0, 0, 0]
        );
    }

    #[test]
    fn accepts_a_valid_response() {
        let extra = vec![
            RecordRepr::non_critical(RecordBody::Server(b"192.0.2.1".to_vec())),
            RecordRepr::non_critical(RecordBody::Port(1123)),
            RecordRepr::non_critical(RecordBody::Unknown {
                record_type: 99,
                body: vec![],
            }),
        ];
        let r = process_response(&response(extra), &[Aead::AesSivCmac256]).expect("valid");
        assert_eq!(r.aead, Aead::AesSivCmac256);
        assert_eq!(r.cookies.len(), 1);
        assert_eq!(r.server.as_deref(), Some("192.0.2.1"));
        assert_eq!(r.port, Some(1123));
    }

    #[test]
    fn rejects_bad_responses() {
        let offered = [Aead::AesSivCmac256];
        let crit = RecordRepr::critical(RecordBody::Unknown {
            record_type: 99,
            body: vec![],
        });
        assert!(process_response(&response(vec![crit]), &offered).is_err());
        let err = RecordRepr::critical(RecordBody::Error(1));
        assert_eq!(
            process_response(&response(vec![err]), &offered),
            Err(KeResponseError::ServerError(1))
        );
        assert!(process_response(&response(vec![]), &[Aead::Aes128GcmSiv]).is_err());
        let no_cookie = vec![
            RecordRepr::critical(RecordBody::NextProtocols(vec![0])),
            RecordRepr::critical(RecordBody::AeadAlgorithms(vec![15])),
            RecordRepr::critical(RecordBody::EndOfMessage),
        ];
        assert!(process_response(&no_cookie, &offered).is_err());
        let bad_name = RecordRepr::non_critical(RecordBody::Server(b"a b".to_vec()));
        assert!(process_response(&response(vec![bad_name]), &offered).is_err());
    }
}
