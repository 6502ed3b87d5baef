//! The NTS-KE server exchange (RFC 8915 §4; chrony's `nts_ke_server.c`):
//! the response to a client's request, with eight cookies made with the
//! server keys from the keys exported from the TLS session.

use krony_wire::nts_ke::{NEXT_PROTOCOL_NTPV4, RecordBody, RecordRepr, emit_message, error_code};
use rand::RngCore;

use super::aead::Aead;
use super::cookies::Context;
use super::ke_client::MAX_COOKIES;
use super::keys::ServerKeys;

/// What the server negotiates beyond the algorithm.
#[derive(Debug, Clone, Default)]
pub struct Negotiation {
    /// `ntsntpserver`: the NTP server to announce.
    pub ntp_server: Option<String>,
    /// The NTP port to announce when not 123.
    pub ntp_port: Option<u16>,
    /// `ntsaeads`, in order of preference, filtered to those supported.
    pub aeads: Vec<Aead>,
}

/// The decision on a client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead with this algorithm.
    Accept(Aead),
    /// Answer with an Error record.
    Error(u16),
}

/// Reads the client's records (chrony's `process_request`): NTPv4 must be
/// offered, and one of our algorithms; unknown critical records are an
/// error.
pub fn decide(records: &[RecordRepr], n: &Negotiation) -> Decision {
    let mut next = false;
    let mut aead = None;
    let mut seen_next = false;
    let mut seen_aead = false;
    for r in records {
        match &r.body {
            RecordBody::NextProtocols(p) => {
                if seen_next {
                    return Decision::Error(error_code::BAD_REQUEST);
                }
                seen_next = true;
                next = p.contains(&NEXT_PROTOCOL_NTPV4);
            }
            RecordBody::AeadAlgorithms(a) => {
                if seen_aead {
                    return Decision::Error(error_code::BAD_REQUEST);
                }
                seen_aead = true;
                // Our preference among the client's offers.
                aead = n.aeads.iter().copied().find(|ours| a.contains(&ours.id()));
            }
            RecordBody::EndOfMessage
            | RecordBody::Warning(_)
            | RecordBody::NewCookie(_)
            | RecordBody::Server(_)
            | RecordBody::Port(_) => {}
            RecordBody::Error(_) => return Decision::Error(error_code::BAD_REQUEST),
            RecordBody::Unknown { .. } if r.critical => {
                return Decision::Error(error_code::UNRECOGNIZED_CRITICAL_RECORD);
            }
            RecordBody::Unknown { .. } => {}
        }
    }
    if !seen_next || !seen_aead {
        return Decision::Error(error_code::BAD_REQUEST);
    }
    match (next, aead) {
        (true, Some(a)) => Decision::Accept(a),
        // RFC 8915 §4.1.2/4.1.5: nothing acceptable is answered with empty
        // lists, which the client treats as a refusal.
        _ => Decision::Error(error_code::BAD_REQUEST),
    }
}

/// The server's response message.
///
/// # Errors
/// When a record cannot be emitted (a name too long).
pub fn response(
    decision: &Decision,
    ctx: Option<&Context>,
    keys: &ServerKeys,
    n: &Negotiation,
    rng: &mut dyn RngCore,
) -> Result<Vec<u8>, krony_wire::Error> {
    let mut records = Vec::new();
    match (decision, ctx) {
        (Decision::Accept(aead), Some(ctx)) => {
            records.push(RecordRepr::critical(RecordBody::NextProtocols(vec![
                NEXT_PROTOCOL_NTPV4,
            ])));
            records.push(RecordRepr::critical(RecordBody::AeadAlgorithms(vec![
                aead.id(),
            ])));
            if let Some(s) = &n.ntp_server {
                records.push(RecordRepr::critical(RecordBody::Server(
                    s.as_bytes().to_vec(),
                )));
            }
            if let Some(p) = n.ntp_port {
                records.push(RecordRepr::critical(RecordBody::Port(p)));
            }
            for _ in 0..MAX_COOKIES {
                if let Some(c) = keys.make_cookie(ctx, rng) {
                    records.push(RecordRepr::non_critical(RecordBody::NewCookie(c)));
                }
            }
        }
        (Decision::Error(code), _) => {
            records.push(RecordRepr::critical(RecordBody::Error(*code)));
        }
        (Decision::Accept(_), None) => {
            records.push(RecordRepr::critical(RecordBody::Error(
                error_code::INTERNAL_SERVER_ERROR,
            )));
        }
    }
    records.push(RecordRepr::critical(RecordBody::EndOfMessage));
    emit_message(&records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nts::ke_client::process_response;
    use krony_wire::nts_ke::parse_message;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn neg() -> Negotiation {
        Negotiation {
            ntp_server: None,
            ntp_port: Some(11123),
            aeads: vec![Aead::Aes128GcmSiv, Aead::AesSivCmac256],
        }
    }

    #[test]
    fn negotiates_and_answers_with_eight_cookies() {
        let req = crate::nts::ke_client::request(&[Aead::AesSivCmac256]).expect("req");
        let (records, _) = parse_message(&req).expect("ok").expect("complete");
        let d = decide(&records, &neg());
        assert_eq!(d, Decision::Accept(Aead::AesSivCmac256));
        let mut rng = StdRng::seed_from_u64(6);
        let keys = ServerKeys::generate(&mut rng);
        let ctx = Context {
            aead: Aead::AesSivCmac256,
            c2s: vec![1; 32],
            s2c: vec![2; 32],
        };
        let bytes = response(&d, Some(&ctx), &keys, &neg(), &mut rng).expect("emit");
        let (records, _) = parse_message(&bytes).expect("ok").expect("complete");
        let r = process_response(&records, &[Aead::AesSivCmac256]).expect("valid");
        assert_eq!(r.cookies.len(), 8);
        assert_eq!(r.port, Some(11123));
        assert_eq!(keys.open_cookie(&r.cookies[0]), Some(ctx));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let only = |aeads: Vec<u16>, next: Vec<u16>| {
            vec![
                RecordRepr::critical(RecordBody::NextProtocols(next)),
                RecordRepr::critical(RecordBody::AeadAlgorithms(aeads)),
                RecordRepr::critical(RecordBody::EndOfMessage),
            ]
        };
        assert_eq!(
            decide(&only(vec![1, 2], vec![0]), &neg()),
            Decision::Error(error_code::BAD_REQUEST)
        );
        assert_eq!(
            decide(&only(vec![15], vec![5]), &neg()),
            Decision::Error(error_code::BAD_REQUEST)
        );
        assert_eq!(
            decide(&only(vec![30, 15], vec![0]), &neg()),
            Decision::Accept(Aead::Aes128GcmSiv)
        );
        let mut crit = only(vec![15], vec![0]);
        crit.insert(
            0,
            RecordRepr::critical(RecordBody::Unknown {
                record_type: 77,
                body: vec![],
            }),
        );
        assert_eq!(
            decide(&crit, &neg()),
            Decision::Error(error_code::UNRECOGNIZED_CRITICAL_RECORD)
        );
    }
}
