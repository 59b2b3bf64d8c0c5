//! A `[[reply_account]]` is one of the brand's own accounts for "did anyone
//! answer", without being listed twice: [`with_reply_accounts`] adds to each brand's
//! `accounts` those its `reply_as` accounts are known as: a Bluesky handle from the
//! config, and for every kind the account a posted reply named (`posted_by`:
//! `mastodon:acme@acme.social`, `stackexchange:stackoverflow/123`).

use super::config::ReplyAccountConfig;
use crate::matcher::BrandConfig;
use crate::watch::threads::Account;

/// `brands`, each with the accounts its `reply_as` are known as added to its
/// `accounts` (an account it lists already is not added again). `posted` is (reply
/// account name, `posted_by`) of the replies posted so far.
pub fn with_reply_accounts(
    brands: &[BrandConfig],
    accounts: &[ReplyAccountConfig],
    posted: &[(String, String)],
) -> Vec<BrandConfig> {
    brands
        .iter()
        .map(|b| {
            let mut b = b.clone();
            let mut known: Vec<Account> = b
                .accounts
                .iter()
                .filter_map(|a| Account::parse(a).ok())
                .collect();
            for name in &b.reply_as {
                let Some(cfg) = accounts
                    .iter()
                    .find(|a| a.name().eq_ignore_ascii_case(name))
                else {
                    continue;
                };
                let mut found: Vec<String> = posted
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(cfg.name()))
                    .map(|(_, by)| by.clone())
                    .collect();
                if let ReplyAccountConfig::Bluesky(a) = cfg {
                    found.push(format!("bluesky:{}", a.handle));
                }
                for entry in found {
                    if let Ok(acc) = Account::parse(&entry) {
                        if !known.contains(&acc) {
                            b.accounts.push(acc.to_string());
                            known.push(acc);
                        }
                    }
                }
            }
            b
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_accounts_join_the_brands_accounts_once() {
        let cfg: crate::config::Config = toml::from_str(
            "[[reply_account]]\nname = \"acme-bsky\"\nkind = \"bluesky\"\nhandle = \"Acme.com\"\napp_password_env = \"X\"\n\
             [[reply_account]]\nname = \"acme-social\"\nkind = \"mastodon\"\ninstance = \"https://acme.social\"\ntoken_env = \"Y\"\n\
             [[brand]]\nname = \"Acme\"\nquery = \"acme\"\naccounts = [\"bluesky:acme.com\", \"hackernews:acme\"]\nreply_as = [\"acme-bsky\", \"acme-social\"]\n\
             [[brand]]\nname = \"Globex\"\nquery = \"globex\"\n",
        )
        .unwrap();
        let posted = vec![
            (
                "acme-social".to_string(),
                "mastodon:acme@acme.social".to_string(),
            ),
            (
                "acme-social".to_string(),
                "mastodon:acme@acme.social".to_string(),
            ),
            ("other".to_string(), "mastodon:x@y.z".to_string()),
        ];
        let out = with_reply_accounts(&cfg.brands, &cfg.reply_accounts, &posted);
        assert_eq!(
            out[0].accounts,
            [
                "bluesky:acme.com",
                "hackernews:acme",
                "mastodon:acme@acme.social"
            ]
        );
        assert!(out[1].accounts.is_empty());
    }
}
