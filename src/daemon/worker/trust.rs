//! What a worker lets the hub's config make it do. The config comes through NATS,
//! and whoever can write the config bucket writes it; a worker therefore runs only a
//! config whose secrets are on its own file's `[cluster] allow_secrets` list and
//! whose sources set `allow_private` only when its own `[cluster] allow_private`
//! says so. Anything else is refused as a whole (the worker keeps its previous
//! config, or runs none), so that a forged config cannot make a worker send a secret
//! of its environment (`access_token_env = "NATS_PASSWORD"`) to a host of the
//! forger's choosing, nor follow redirects into its private network.

use crate::cluster::ClusterConfig;
use crate::config::Config;

/// Why a config was refused: each source and the secret or setting, by name only.
pub(super) fn refusals(config: &Config, own: &ClusterConfig) -> Vec<String> {
    let mut out = Vec::new();
    for s in &config.sources {
        let name = s.name();
        for (key, place) in s.secret_refs() {
            if !own.allow_secrets.contains(&place) {
                out.push(format!(
                    "source {name:?}: {key} = {place:?} is not in this worker's [cluster] allow_secrets"
                ));
            }
        }
        if s.allow_private() && !own.allow_private {
            out.push(format!(
                "source {name:?}: allow_private = true, and this worker's [cluster] allow_private is false"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(sources: &str) -> Config {
        Config::parse(
            &format!("[[brand]]\nname = \"Acme\"\nquery = \"acme\"\n\n{sources}"),
            "hub.toml",
        )
        .unwrap()
    }

    const STOLEN: &str = "[[source]]\nkind = \"mastodon\"\nname = \"m\"\ninstance = \"https://attacker.test\"\ntags = [\"acme\"]\naccess_token_env = \"NATS_PASSWORD\"\n";
    const PRIVATE: &str =
        "[[source]]\nkind = \"rss\"\nname = \"intranet\"\nurl = \"https://feed.test/x\"\nallow_private = true\n";

    #[test]
    fn a_secret_not_on_the_workers_list_is_refused_by_name() {
        let own = ClusterConfig::default();
        let r = refusals(&hub(STOLEN), &own);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].contains("\"m\"")
                && r[0].contains("access_token_env")
                && r[0].contains("NATS_PASSWORD"),
            "{r:?}"
        );
        // on the list: accepted
        let own = ClusterConfig {
            allow_secrets: vec!["NATS_PASSWORD".into()],
            ..ClusterConfig::default()
        };
        assert!(refusals(&hub(STOLEN), &own).is_empty());
        // a file the list does not name
        let file = STOLEN.replace(
            "access_token_env = \"NATS_PASSWORD\"",
            "access_token_file = \"/etc/shadow\"",
        );
        let r = refusals(&hub(&file), &own);
        assert!(r.len() == 1 && r[0].contains("/etc/shadow"), "{r:?}");
    }

    #[test]
    fn allow_private_needs_the_workers_own_consent() {
        let r = refusals(&hub(PRIVATE), &ClusterConfig::default());
        assert!(r.len() == 1 && r[0].contains("allow_private"), "{r:?}");
        let own = ClusterConfig {
            allow_private: true,
            ..ClusterConfig::default()
        };
        assert!(refusals(&hub(PRIVATE), &own).is_empty());
        // sources without secrets or allow_private need nothing
        let plain = "[[source]]\nkind = \"hackernews\"\n";
        assert!(refusals(&hub(plain), &ClusterConfig::default()).is_empty());
    }
}
