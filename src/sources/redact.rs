//! URLs fit for a log line or an error message: the secrets a source puts in them
//! (Stack Exchange's `key` in the query, a password in the authority) replaced.

use url::Url;

/// Query parameters whose values are secrets (Stack Exchange's `key`, tokens).
const SECRET_PARAMS: [&str; 6] = [
    "key",
    "access_token",
    "token",
    "client_secret",
    "password",
    "api_key",
];

/// `url` fit for a log line or an error: the values of [`SECRET_PARAMS`] and any
/// password in it replaced by `REDACTED`.
pub fn shown(url: &Url) -> String {
    let secret = |k: &str| SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
    let mut u = url.clone();
    if u.password().is_some() {
        // only URLs that cannot have a password refuse it
        let _ = u.set_password(Some("REDACTED"));
    }
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "REDACTED".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_secrets() {
        let u = Url::parse(
            "https://u:pw@api.stackexchange.com/2.3/questions/1/timeline?site=so&key=s3cret&Access_Token=t0k",
        )
        .unwrap();
        let got = shown(&u);
        assert_eq!(
            got,
            "https://u:REDACTED@api.stackexchange.com/2.3/questions/1/timeline?site=so&key=REDACTED&Access_Token=REDACTED"
        );
        let plain = Url::parse("https://x.test/a?q=key").unwrap();
        assert_eq!(shown(&plain), "https://x.test/a?q=key");
    }
}
