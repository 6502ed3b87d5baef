//! Arbitrary input never panics and never gets a reply longer than itself.

use krony_wire::cmdmon::{CommandCode, RequestHeader};
use proptest::prelude::*;

use super::*;

/// Sends `bytes` both ways and checks the padding rule.
fn check(h: &mut Harness, bytes: &[u8]) -> Result<(), TestCaseError> {
    for origin in [Origin::Unix, localhost(), remote(1)] {
        let out = h.raw(bytes, origin);
        if let Some(r) = &out.reply {
            prop_assert!(r.len() <= bytes.len(), "{} > {}", r.len(), bytes.len());
            prop_assert!(Reply::parse(r).is_ok());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..900)) {
        let mut h = Harness::new("cmdallow all\n");
        check(&mut h, &bytes)?;
    }

    /// A valid header with any command and body: every handler sees
    /// arbitrary fields (the write commands too, over the Unix socket).
    #[test]
    fn arbitrary_bodies(
        cmd in 0u16..80,
        len in 20usize..=860,
        body in proptest::collection::vec(any::<u8>(), 840),
    ) {
        let mut h = Harness::new("cmdallow all\n");
        let _ = h.engine.add_source(
            h.now,
            server_addr(),
            krony_config::SourceKind::Server,
            &krony_config::SourceOptions::default(),
            "192.0.2.1",
        );
        let mut bytes = vec![0u8; len];
        RequestHeader::new(CommandCode(cmd), 1).emit(&mut bytes).expect("fits");
        let n = len.saturating_sub(20);
        bytes[20..].copy_from_slice(&body[..n]);
        check(&mut h, &bytes)?;
    }
}
