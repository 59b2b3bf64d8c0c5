use std::os::unix::fs::PermissionsExt;

use chrono::TimeZone;

use super::*;

fn key(b: u8) -> Key {
    Key([b; KEY_LEN])
}

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
}

fn claims() -> Claims {
    Claims::new(
        "0123456789abcdef",
        AlertAction::Resolve,
        "dana@acme.example",
        at(9) + VALID_FOR,
    )
}

/// The token of `token`'s MAC over a changed payload: what an attacker can make.
fn tampered(token: &str, change: impl FnOnce(&mut Claims)) -> String {
    let (payload, tag) = token.split_once('.').unwrap();
    let mut c: Claims = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    change(&mut c);
    format!("{}.{tag}", B64.encode(serde_json::to_vec(&c).unwrap()))
}

#[test]
fn a_signed_link_verifies_and_says_what_it_was_signed_with() {
    let t = sign(&key(1), &claims());
    assert!(t.len() < 300, "{t}");
    assert!(t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
    let c = verify(&key(1), &t, at(10)).unwrap();
    assert_eq!(c, claims());
    assert_eq!(c.action(), Some(AlertAction::Resolve));
}

/// One change to a link's claims.
type Change = Box<dyn FnOnce(&mut Claims)>;

#[test]
fn every_changed_field_is_refused() {
    let t = sign(&key(1), &claims());
    let changes: Vec<Change> = vec![
        Box::new(|c| c.mention = "fedcba9876543210".into()),
        Box::new(|c| c.action = "ack".into()),
        Box::new(|c| c.recipient = "mallory@evil.example".into()),
        Box::new(|c| c.expires += 86_400 * 365),
    ];
    for change in changes {
        let bad = tampered(&t, change);
        assert_ne!(bad, t);
        assert!(matches!(
            verify(&key(1), &bad, at(10)),
            Err(LinkError::Invalid)
        ));
    }
}

#[test]
fn another_key_a_changed_or_cut_mac_and_garbage_are_refused() {
    let t = sign(&key(1), &claims());
    assert!(matches!(
        verify(&key(2), &t, at(10)),
        Err(LinkError::Invalid)
    ));
    let (payload, tag) = t.split_once('.').unwrap();
    let mut mac = B64.decode(tag).unwrap();
    // verify_slice: the whole tag, compared in constant time
    mac[31] ^= 1;
    let flipped = format!("{payload}.{}", B64.encode(&mac));
    assert!(matches!(
        verify(&key(1), &flipped, at(10)),
        Err(LinkError::Invalid)
    ));
    let cut = format!("{payload}.{}", B64.encode(&mac[..16]));
    assert!(matches!(
        verify(&key(1), &cut, at(10)),
        Err(LinkError::Invalid)
    ));
    for junk in ["", ".", "abc", &format!("{payload}."), &"A".repeat(5000)] {
        assert!(
            matches!(verify(&key(1), junk, at(10)), Err(LinkError::Invalid)),
            "{junk}"
        );
    }
    // signed, but with an action this build does not know
    let mut odd = claims();
    odd.action = "delete".into();
    assert!(matches!(
        verify(&key(1), &sign(&key(1), &odd), at(10)),
        Err(LinkError::Invalid)
    ));
}

#[test]
fn an_expired_link_says_when_it_expired() {
    let t = sign(&key(1), &claims());
    let expiry = at(9) + VALID_FOR;
    assert!(verify(&key(1), &t, expiry - chrono::Duration::seconds(1)).is_ok());
    match verify(&key(1), &t, expiry) {
        Err(LinkError::Expired(when)) => assert_eq!(when, expiry),
        other => panic!("{other:?}"),
    }
    let e = verify(&key(1), &t, expiry + chrono::Duration::days(3)).unwrap_err();
    assert_eq!(e.to_string(), "this link expired on 2026-12-15 09:00 UTC");
}

#[test]
fn the_key_is_made_once_private_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let k = Key::load_or_create(dir.path()).unwrap();
    let path = key_path(dir.path());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let again = Key::load_or_create(dir.path()).unwrap();
    assert_eq!(k.0, again.0);
    assert_ne!(k.0, [0u8; KEY_LEN]);
    // nothing left behind
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1);
    assert_eq!(format!("{k:?}"), "Key(..)");
}

#[test]
fn a_key_others_can_read_or_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Key::load_or_create(dir.path()).unwrap();
    let path = key_path(dir.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Key::load_or_create(dir.path()).unwrap_err().to_string();
    assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, b"short").unwrap();
    let e = Key::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("5 bytes") && e.contains("delete it"), "{e}");
}

#[test]
fn the_signer_makes_links_under_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = Signer::for_store(&store, "https://overhear.example.com/").unwrap();
    let url = s
        .url("hackernews:1", AlertAction::Take, "dana@acme.example")
        .unwrap();
    let token = url.strip_prefix("https://overhear.example.com/a/").unwrap();
    let key = Key::load(dir.path()).unwrap();
    let c = verify(&key, token, Utc::now()).unwrap();
    assert_eq!(c.mention, crate::store::mention_id("hackernews:1"));
    assert_eq!(c.action(), Some(AlertAction::Take));
    assert_eq!(c.recipient, "dana@acme.example");
    let left = c.expires_at() - Utc::now();
    assert!(left > VALID_FOR - chrono::Duration::minutes(1) && left <= VALID_FOR);
}

#[test]
fn a_link_to_a_users_email_names_that_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let u = store
        .add_user(
            "dana",
            Some("Dana@Acme.example"),
            "correct horse battery",
            Utc::now(),
        )
        .unwrap();
    let s = Signer::for_store(&store, "https://o.example/").unwrap();
    let key = Key::load(dir.path()).unwrap();
    let claims_of = |to: &str| {
        let url = s.url("hackernews:1", AlertAction::Take, to).unwrap();
        verify(
            &key,
            url.strip_prefix("https://o.example/a/").unwrap(),
            Utc::now(),
        )
        .unwrap()
    };
    let c = claims_of("dana@acme.example");
    assert!(c.user.as_ref().is_some_and(|b| b.is(&u)), "{c:?}");
    assert_eq!(claims_of("lead@acme.example").user, None);
    assert_eq!(claims_of("webhook:team").user, None);
    // the same name made again is another user
    store.remove_user("dana").unwrap();
    let again = store
        .add_user(
            "dana",
            None,
            "correct horse battery",
            Utc::now() + chrono::Duration::seconds(1),
        )
        .unwrap();
    assert!(!c.user.unwrap().is(&again));
    // a used link is remembered by a hash, not by its MAC
    let t = sign(&key, &claims());
    let id = link_id(&t).unwrap();
    assert_eq!(id.len(), 32);
    assert!(!t.contains(&B64.encode(&id)));
    assert_eq!(link_id("no-mac"), None);
}
