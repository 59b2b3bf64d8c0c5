//! The inbox's login defences against the real daemon on loopback (issue 27): the
//! limits count per account and per client address (any 127.x source address
//! reaches the daemon on 127.0.0.1, so each address is a different client), name
//! variants and the email share the account's counter, an empty login CSRF cookie
//! and token are refused, and logging in again ends the old session.

mod api_support;
mod inbox_support;
mod store_support;

use std::net::IpAddr;

use api_support::block;
use inbox_support::*;

fn addr(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn a_hundred_failed_logins_from_one_address_do_not_lock_the_owner_out_from_another() {
    let (d, _) = daemon_with_inbox("");
    block(async {
        let mut attacker = Browser::from_address(&d, addr("127.0.0.2"));
        let names = [USER, " dana", "DANA", EMAIL, "admin", "root"];
        let mut limited = 0;
        for i in 0..100 {
            let name = names[i % names.len()];
            let p = attacker.login(name, &format!("guess number {i}")).await;
            assert!(matches!(p.status, 401 | 429), "{}: {}", p.status, p.body);
            if p.status == 429 {
                limited += 1;
                assert!(p.headers.contains_key("retry-after"));
            }
        }
        assert!(
            limited >= 70,
            "the attacker is slowed down: {limited} of 100 refused"
        );
        // the attacker's address waits, even with the right password
        let p = attacker.login(USER, PASSWORD).await;
        assert_eq!(p.status, 429, "{}", p.body);
        // the owner, from another address, logs in at once
        let mut owner = Browser::from_address(&d, addr("127.0.0.1"));
        let p = owner.login(USER, PASSWORD).await;
        assert_eq!(p.status, 303, "the owner is locked out: {}", p.body);
        assert_eq!(owner.get("/").await.status, 200);
        // and so does anyone else from a third address
        let mut other = Browser::from_address(&d, addr("127.0.0.3"));
        assert_eq!(other.login(EMAIL, PASSWORD).await.status, 303);
    });
}

#[test]
fn name_variants_and_the_email_share_one_counter() {
    let (d, _) = daemon_with_inbox("");
    block(async {
        let mut b = Browser::from_address(&d, addr("127.0.0.4"));
        for name in [
            " dana",
            "dana ",
            "DANA",
            "Dana@Acme.Test",
            " dana@acme.test\t",
        ] {
            let p = b.login(name, "not the password").await;
            assert_eq!(p.status, 401, "{name:?}: {}", p.body);
        }
        for name in [USER, " dana", "DANA", EMAIL] {
            let p = b.login(name, PASSWORD).await;
            assert_eq!(p.status, 429, "{name:?} is limited too: {}", p.body);
            assert!(p.body.contains("Too many failed logins"), "{}", p.body);
        }
        // from an address that did not fail: in
        let mut owner = Browser::from_address(&d, addr("127.0.0.5"));
        assert_eq!(owner.login(" DANA ", PASSWORD).await.status, 303);
    });
}

#[test]
fn an_empty_login_csrf_cookie_and_token_are_refused() {
    let (d, _) = daemon_with_inbox("");
    block(async {
        let mut b = Browser::new(&d);
        b.cookies.push(("overhear_login".into(), String::new()));
        let form = [
            ("login", USER),
            ("password", PASSWORD),
            ("csrf", ""),
            ("next", "/"),
        ];
        let p = b.post("/login", &form).await;
        assert_eq!(
            p.status, 403,
            "logged in with an empty CSRF pair: {}",
            p.body
        );
        assert!(
            !b.cookies.iter().any(|(k, _)| k == SESSION),
            "{:?}",
            b.cookies
        );
        // no cookie at all, an empty token: 403 as before
        let mut b = Browser::new(&d);
        assert_eq!(b.post("/login", &form).await.status, 403);
        // the real form still works
        assert_eq!(b.login(USER, PASSWORD).await.status, 303);
    });
}

const SESSION: &str = "overhear_session";

#[test]
fn logging_in_again_ends_the_old_session() {
    let (d, _) = daemon_with_inbox("");
    block(async {
        let mut b = Browser::new(&d);
        assert_eq!(b.login(USER, PASSWORD).await.status, 303);
        let first = session_of(&b);
        assert_eq!(b.login(USER, PASSWORD).await.status, 303);
        let second = session_of(&b);
        assert_ne!(first, second, "a new token at login");
        assert_eq!(b.get("/").await.status, 200);
        let mut old = Browser::new(&d);
        old.cookies.push((SESSION.into(), first));
        assert_eq!(old.get("/").await.status, 303, "the old session ended");
    });
}

fn session_of(b: &Browser) -> String {
    b.cookies
        .iter()
        .find(|(k, _)| k == SESSION)
        .map(|(_, v)| v.clone())
        .expect("a session cookie")
}
