//! Fuzz the cmdmon parsers: any input must parse or be rejected, never
//! panic; what parses must emit and re-parse to the same value. The input
//! is tried as a request and as a reply.
#![no_main]

use krony_wire::cmdmon::{Rejection, Reply, RequestMsg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match RequestMsg::parse(data) {
        Ok(msg) => {
            let bytes = msg.to_bytes();
            assert_eq!(bytes.len(), msg.request.length());
            // A parsed request is at least as long as its padded length.
            assert!(data.len() >= bytes.len());
            let again = RequestMsg::parse(&bytes).expect("an emitted request must parse");
            assert_eq!(again, msg);
        }
        Err(rej @ Rejection::Answer { .. }) => {
            // An error reply is never longer than the request it answers.
            let reply = rej.reply().expect("answered");
            assert!(reply.length() <= data.len());
        }
        Err(Rejection::Drop(_)) => {}
    }
    if let Ok(reply) = Reply::parse(data) {
        let bytes = reply.to_bytes().expect("a parsed reply must emit");
        assert!(bytes.len() <= data.len());
        let again = Reply::parse(&bytes).expect("an emitted reply must parse");
        assert_eq!(again, reply);
    }
});
