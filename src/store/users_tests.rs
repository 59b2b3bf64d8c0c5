use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path()).unwrap();
    (d, s)
}

#[test]
fn users_log_in_by_name_or_email_and_passwords_are_argon2id() {
    let (_d, s) = store();
    let now = Utc::now();
    s.add_user(
        "dana",
        Some("Dana@Acme.example"),
        "correct horse battery",
        now,
    )
    .unwrap();
    assert!(s
        .check_login("dana", "correct horse battery")
        .unwrap()
        .is_some());
    assert!(s
        .check_login("dana@acme.example", "correct horse battery")
        .unwrap()
        .is_some());
    assert!(s.check_login("DANA", "wrong password!").unwrap().is_none());
    assert!(s
        .check_login("nobody", "correct horse battery")
        .unwrap()
        .is_none());
    let stored = s.users().unwrap();
    assert!(
        stored[0].password.starts_with("$argon2id$"),
        "{}",
        stored[0].password
    );
    assert!(matches!(
        s.add_user("Dana", None, "another long one", now),
        Err(UserError::Exists(_))
    ));
    assert!(matches!(
        s.add_user("eve", Some("dana@acme.example"), "another long one", now),
        Err(UserError::EmailTaken(_))
    ));
    assert!(matches!(
        s.add_user("eve", None, "short", now),
        Err(UserError::WeakPassword)
    ));
    assert!(matches!(
        s.add_user("e ve", None, "long enough pw", now),
        Err(UserError::BadName(_))
    ));
}

#[test]
fn sessions_end_with_a_new_password_removal_or_idleness() {
    let (_d, s) = store();
    let now = Utc::now();
    s.add_user("dana", None, "correct horse battery", now)
        .unwrap();
    let (token, session) = s.start_session("dana", now).unwrap();
    assert_eq!(s.session(&token, now).unwrap().unwrap().csrf, session.csrf);
    assert!(s.session("not-a-token", now).unwrap().is_none());
    assert!(s
        .session(&token, now + SESSION_IDLE + Duration::minutes(1))
        .unwrap()
        .is_none());
    let (token, _) = s.start_session("dana", now).unwrap();
    s.set_password("dana", "a new long password").unwrap();
    assert!(s.session(&token, now).unwrap().is_none());
    let (token, _) = s.start_session("dana", now).unwrap();
    s.remove_user("dana").unwrap();
    assert!(s.session(&token, now).unwrap().is_none());
    assert!(s.users().unwrap().is_empty());
}

#[test]
fn sessions_end_thirty_days_after_they_started_however_used() {
    let (_d, s) = store();
    let start = Utc::now();
    s.add_user("dana", None, "correct horse battery", start)
        .unwrap();
    let (token, _) = s.start_session("dana", start).unwrap();
    // used every day: never idle, still ends at 30 days
    let mut now = start;
    while now + Duration::days(1) <= start + SESSION_MAX {
        now += Duration::days(1);
        assert!(
            s.session(&token, now).unwrap().is_some(),
            "day {}",
            (now - start).num_days()
        );
    }
    assert!(s
        .session(&token, start + SESSION_MAX + Duration::minutes(1))
        .unwrap()
        .is_none());
}

#[test]
fn ended_sessions_are_pruned_and_live_ones_kept() {
    let (_d, s) = store();
    let t = Utc::now();
    s.add_user("dana", None, "correct horse battery", t)
        .unwrap();
    s.add_user("eli", None, "another long password", t).unwrap();
    let (old, _) = s
        .start_session("dana", t - SESSION_MAX - Duration::hours(1))
        .unwrap();
    let (idle, _) = s
        .start_session("dana", t - SESSION_IDLE - Duration::hours(1))
        .unwrap();
    let (live, _) = s.start_session("dana", t - Duration::hours(1)).unwrap();
    let (orphan, _) = s.start_session("eli", t).unwrap();
    // eli goes without the session being looked at
    s.user_tree().unwrap().remove("eli").unwrap();
    assert_eq!(s.tree(SESSIONS).unwrap().len(), 4);
    assert_eq!(s.prune_sessions(t).unwrap(), 3);
    assert_eq!(s.tree(SESSIONS).unwrap().len(), 1);
    for gone in [&old, &idle, &orphan] {
        assert!(s
            .tree(SESSIONS)
            .unwrap()
            .get(token_key(gone))
            .unwrap()
            .is_none());
    }
    assert!(s.session(&live, t).unwrap().is_some());
    assert_eq!(s.prune_sessions(t).unwrap(), 0);
}

#[test]
fn logging_in_again_ends_the_old_session_and_issues_a_new_token() {
    let (_d, s) = store();
    let t = Utc::now();
    s.add_user("dana", None, "correct horse battery", t)
        .unwrap();
    let (first, one) = s.start_session("dana", t).unwrap();
    let (second, two) = s.replace_session(Some(&first), "dana", t).unwrap();
    assert_ne!(first, second);
    assert_ne!(one.csrf, two.csrf);
    assert!(
        s.session(&first, t).unwrap().is_none(),
        "the old token is dead"
    );
    assert!(s.session(&second, t).unwrap().is_some());
    // a token that is no session (a planted cookie) changes nothing
    let (third, _) = s.replace_session(Some("planted"), "dana", t).unwrap();
    assert!(s.session(&second, t).unwrap().is_some());
    assert!(s.session(&third, t).unwrap().is_some());
}
