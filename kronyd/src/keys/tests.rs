use std::io::Write;

use krony_config::SourceOptions;

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A 48-byte header of `version`, client mode, then the bytes 1 to 47.
fn packet(version: u8) -> Vec<u8> {
    let mut p = vec![(version << 3) | 3];
    p.extend(1..48u8);
    p
}

fn store() -> KeyStore {
    KeyStore::from_keys([
        Key::new(1, KeyType::Md5, b"abcdefghijklmnopq").expect("key"),
        Key::new(
            2,
            KeyType::Sha256,
            &unhex("0102030405060708090a0b0c0d0e0f10"),
        )
        .expect("key"),
        Key::new(
            3,
            KeyType::Aes128,
            &unhex("7EA62AE64D190114D46D5A082F948EC1"),
        )
        .expect("key"),
        Key::new(4, KeyType::Sha1, b"short").expect("key"),
    ])
}

fn parsed(bytes: &[u8]) -> NtpRepr {
    NtpRepr::parse_bytes(bytes).expect("packet")
}

/// Expected MACs from Python: `hashlib.md5(key + packet)`,
/// `hashlib.sha256(...)`, and `cryptography`'s CMAC with AES.
#[test]
fn signed_packets_match_python_vectors() {
    let s = store();
    let cases = [
        (4, 1, "9483921bf068dd52e1eba7d31a528169"),
        // SHA-256 truncated to 160 bits in NTPv4 (RFC 7822 §7.5)...
        (4, 2, "2f93b38dbebe1f932c2d3ed3099bfd315a7f3a50"),
        // ...and whole in NTPv3.
        (
            3,
            2,
            "3b0d79e225726e631eb017f99eee3cb90f1aeebf27fe4e6420b2f30a21792af0",
        ),
        (4, 3, "ef46aa257a715cd20a7fd4ecb7a5c565"),
    ];
    for (version, id, digest) in cases {
        let p = packet(version);
        let signed = s.sign(&p, id).expect("signed");
        let mut want = p.clone();
        want.extend_from_slice(&id.to_be_bytes());
        want.extend(unhex(digest));
        assert_eq!(signed, want, "v{version} key {id}");
        assert!(s.verify(&signed, &parsed(&signed)), "v{version} key {id}");
    }
}

#[test]
fn forged_or_unknown_macs_fail() {
    let s = store();
    let signed = s.sign(&packet(4), 1).expect("signed");
    // One bit of the data, of the digest, or the key ID changed.
    for at in [10, 52, 60] {
        let mut bad = signed.clone();
        bad[at] ^= 1;
        assert!(!s.verify(&bad, &parsed(&bad)), "byte {at}");
    }
    // Another key with the same ID.
    let other = KeyStore::from_keys([Key::new(1, KeyType::Md5, b"other").expect("key")]);
    assert!(!other.verify(&signed, &parsed(&signed)));
    // No MAC, or a key that is not in the store.
    assert!(!s.verify(&packet(4), &parsed(&packet(4))));
    assert!(s.sign(&packet(4), 99).is_none());
    assert!(s.sign(&[0x23; 20], 1).is_none());
    assert!(s.sign(&vec![0x23; MAX_PACKET_LEN - 19], 1).is_none());
}

#[test]
fn truncation_must_be_the_one_the_version_requires() {
    let s = store();
    // NTPv3 with SHA-256 cut to 160 bits: the sender should have sent 256.
    let mut p = packet(3);
    let full = s.sign(&p, 2).expect("signed");
    p.extend_from_slice(&full[48..48 + 24]);
    assert!(!s.verify(&p, &parsed(&p)));
    // NTPv4 with the whole SHA-256 digest is not a MAC at all in NTPv4
    // (36 bytes is no valid trailer): it does not even parse.
    let mut v4 = packet(4);
    v4.extend_from_slice(&full[48..]);
    assert!(NtpRepr::parse_bytes(&v4).is_err());
}

#[test]
fn the_engine_sees_the_same_digests() {
    let s = store();
    let p = packet(4);
    let d = SymmetricKeys::digest(&s, 2, &p, 20).expect("digest");
    assert_eq!(d, s.sign(&p, 2).expect("signed")[52..]);
    assert_eq!(SymmetricKeys::digest(&s, 9, &p, 20), None);
}

#[test]
fn key_info_and_source_warnings() {
    let s = store();
    let info = s.key_info();
    assert_eq!(info.get(&1), Some(&(1, 136)));
    assert_eq!(info.get(&2), Some(&(3, 128)));
    assert_eq!(info.get(&3), Some(&(13, 128)));
    assert_eq!(s.source_key_warning(1), None);
    assert_eq!(s.source_key_warning(4), Some("Key 4 is too short".into()));
    assert_eq!(s.source_key_warning(7), Some("Key 7 is missing".into()));
}

#[test]
fn long_digests_make_sources_send_ntpv3() {
    let s = store();
    let opts = |key: u32| SourceOptions {
        key: Some(key),
        ..SourceOptions::default()
    };
    let mut o = opts(2);
    assert_eq!(s.prepare_source(&mut o), None);
    assert_eq!(o.version, Some(3));
    for key in [1, 3] {
        let mut o = opts(key);
        s.prepare_source(&mut o);
        assert_eq!(o.version, None, "key {key}");
    }
    let mut o = opts(2);
    o.version = Some(4);
    s.prepare_source(&mut o);
    assert_eq!(o.version, Some(4));
    let mut o = opts(2);
    o.xleave = true;
    s.prepare_source(&mut o);
    assert_eq!(o.version, None);
    let mut o = opts(8);
    assert_eq!(s.prepare_source(&mut o), Some("Key 8 is missing".into()));
    let mut o = SourceOptions::default();
    assert_eq!(s.prepare_source(&mut o), None);
}

fn texts(messages: &[KeyMessage]) -> Vec<String> {
    messages.iter().map(|m| m.text.clone()).collect()
}

#[test]
fn load_reports_like_chrony() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("k.keys");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(b"# keys\n1 MD5 HEX:0102030405060708090a\n1 SHA1 other\nbad\n2 AES128 x\n")
        .expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let (s, messages) = KeyStore::load(Some(&path));
    let p = path.display();
    assert_eq!(
        texts(&messages),
        vec![
            format!("Could not parse key at line 4 in file {p}"),
            format!("Invalid length of AES128 key 2 (expected 128 bits) at line 5 in file {p}"),
            "Loaded 1 symmetric keys".to_string(),
            "Detected duplicate key 1".to_string(),
        ]
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s.get(1).map(|k| k.kind), Some(KeyType::Md5));
    // rekey reads the file again.
    std::fs::write(&path, "5 SHA512 HEX:00112233445566778899\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (s, messages) = s.reload();
    assert_eq!(
        texts(&messages),
        vec![
            format!("World-readable permissions on {p}"),
            "Loaded 1 symmetric keys".to_string()
        ]
    );
    assert!(s.get(1).is_none() && s.get(5).is_some());
    std::fs::remove_file(&path).expect("rm");
    let (s, messages) = s.reload();
    assert_eq!(
        texts(&messages),
        vec![format!("Could not open keyfile {p}")]
    );
    assert!(s.is_empty());
    let (s, messages) = KeyStore::load(None);
    assert!(s.is_empty() && messages.is_empty());
}
