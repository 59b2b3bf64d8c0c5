use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn five_failures_per_account_hold_back_the_failing_address_only() {
    let l = LoginLimiter::default();
    let t = Instant::now();
    let (attacker, owner) = (ip("192.0.2.1"), ip("198.51.100.7"));
    for _ in 0..ACCOUNT_FREE {
        assert!(l.check("dana", attacker, t).is_ok());
        l.failed("dana", attacker, t);
    }
    let wait = l.check("dana", attacker, t).unwrap_err();
    assert_eq!(wait, Duration::from_secs(15));
    assert!(
        l.check("dana", owner, t).is_ok(),
        "the owner elsewhere is not held back"
    );
    assert!(
        l.check("eve", attacker, t).is_ok(),
        "other accounts are not either"
    );
    // the backoff doubles with each failure, up to 15 minutes
    let mut now = t;
    for _ in 0..10 {
        now += l.check("dana", attacker, now).unwrap_err();
        assert!(l.check("dana", attacker, now).is_ok());
        l.failed("dana", attacker, now);
    }
    assert_eq!(l.check("dana", attacker, now).unwrap_err(), MAX_WAIT);
    assert!(l.check("dana", owner, now).is_ok());
    // the owner logs in: their address is not remembered, the attacker's is
    l.succeeded("dana", owner);
    assert!(l.check("dana", attacker, now).is_err());
    // an hour without failures forgets everything
    assert!(l.check("dana", attacker, now + FORGET).is_ok());
}

#[test]
fn one_address_failing_for_many_names_waits_for_all_of_them() {
    let l = LoginLimiter::default();
    let t = Instant::now();
    let a = ip("192.0.2.1");
    for i in 0..CLIENT_FREE {
        assert!(l.check(&format!("user{i}"), a, t).is_ok());
        l.failed(&format!("user{i}"), a, t);
    }
    assert_eq!(l.check("dana", a, t).unwrap_err(), Duration::from_secs(15));
    assert!(l.check("dana", ip("192.0.2.2"), t).is_ok());
    // an IPv6 client is its /64
    let v6 = ip("2001:db8:1:2::1");
    for i in 0..CLIENT_FREE {
        l.failed(
            &format!("v6-{i}"),
            ip(&format!("2001:db8:1:2::{:x}", i + 10)),
            t,
        );
    }
    assert!(l.check("dana", v6, t).is_err());
    assert!(l.check("dana", ip("2001:db8:1:3::1"), t).is_ok());
    assert_eq!(client_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
}

#[test]
fn no_number_of_failures_locks_everyone_out_and_memory_stays_bounded() {
    let l = LoginLimiter::default();
    let t = Instant::now();
    let mut now = t;
    for i in 0..(MAX_ENTRIES as u32 + 500) {
        now = t + Duration::from_millis(u64::from(i));
        let a = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
        l.failed(&format!("name{i}"), a, now);
        l.failed("dana", a, now);
    }
    let (accounts, clients) = l.sizes();
    assert!(
        accounts <= MAX_ENTRIES && clients <= MAX_ENTRIES,
        "{accounts} {clients}"
    );
    assert!(l.lock().accounts["dana"].from.len() <= MAX_FROM);
    assert!(l.check("dana", ip("203.0.113.9"), now).is_ok());
    assert!(l.check("eve", ip("203.0.113.9"), now).is_ok());
}

#[test]
fn logins_are_normalised() {
    assert_eq!(normalise("  Dana "), "dana");
    assert_eq!(normalise("DANA@Acme.Test\t"), "dana@acme.test");
}
