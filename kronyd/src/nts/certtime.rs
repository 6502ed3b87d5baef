//! `nocerttimecheck`: a certificate verifier that, while time checks are
//! off (the clock not synchronised yet), verifies NTS-KE server certificates
//! as of a time inside the certificate's validity period instead of the
//! clock's time, which may be far off. Everything else (chain, signatures,
//! name) is checked as usual by webpki.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A DER element at the start of `b`: its tag, content and what follows.
fn element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(n)?;
        (
            bytes.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x)),
            rest,
        )
    };
    let (content, rest) = rest.split_at_checked(len)?;
    Some((tag, content, rest))
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An ASN.1 UTCTime (tag 0x17) or GeneralizedTime (0x18), seconds since
/// the Unix epoch.
fn time(tag: u8, s: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(s).ok()?.strip_suffix('Z')?;
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, at) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy = num(0..2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let (mo, d) = (num(at..at + 2)?, num(at + 2..at + 4)?);
    let (h, mi, sec) = (
        num(at + 4..at + 6)?,
        num(at + 6..at + 8)?,
        num(at + 8..at + 10)?,
    );
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// The validity period (not before, not after) of a DER certificate, in
/// seconds since the Unix epoch.
pub fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, mut tbs, _) = element(cert)? else {
        return None;
    };
    // [0] version (optional), serial number, signature algorithm, issuer.
    if tbs.first() == Some(&0xa0) {
        tbs = element(tbs)?.2;
    }
    for _ in 0..3 {
        tbs = element(tbs)?.2;
    }
    let (0x30, v, _) = element(tbs)? else {
        return None;
    };
    let (t1, nb, rest) = element(v)?;
    let (t2, na, _) = element(rest)?;
    Some((time(t1, nb)?, time(t2, na)?))
}

/// webpki's verifier, with certificate times checked or not as the daemon
/// says.
#[derive(Debug)]
pub struct TimeCheckVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check: Arc<AtomicBool>,
}

impl TimeCheckVerifier {
    /// Wraps `inner`; `check` false means the times are not checked.
    pub fn new(inner: Arc<WebPkiServerVerifier>, check: Arc<AtomicBool>) -> Self {
        TimeCheckVerifier { inner, check }
    }
}

impl ServerCertVerifier for TimeCheckVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let now = if self.check.load(Ordering::Relaxed) {
            now
        } else {
            // OK to fall back to `now`: webpki then reports the bad
            // certificate itself.
            let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
            let at = validity(end_entity).map_or(secs, |(nb, na)| secs.clamp(nb, na.max(nb)));
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(at).unwrap_or(0)))
        };
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_validity_of_a_certificate() {
        let mut params = rcgen::CertificateParams::new(vec!["a.test".to_string()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2001, 2, 3);
        params.not_after = rcgen::date_time_ymd(2061, 12, 31);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let (nb, na) = validity(cert.der()).expect("validity");
        assert_eq!(nb, 981_158_400, "2001-02-03 (UTCTime)");
        assert_eq!(na, 2_903_212_800, "2061-12-31 (GeneralizedTime)");
        assert_eq!(validity(&cert.der()[..40]), None);
        assert_eq!(validity(&[0x30, 0x81]), None);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(time(0x17, b"500101000000Z"), Some(-631_152_000));
        assert_eq!(time(0x18, b"2061"), None);
    }
}
