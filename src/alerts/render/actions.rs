//! The one-click actions of a mention alert ("I'll take it", "Resolved", "Not
//! negative"), and where their links come from.
//!
//! The links are made outside this module (the daemon signs them with its key and
//! `[daemon] public_url`) and handed to the renderer and the chat lanes as an
//! [`ActionLinks`]: alerting never knows how a link is signed or served.

use std::sync::Arc;

/// What a link in an alert does to its mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertAction {
    /// Acknowledge it and assign it to the recipient.
    Take,
    Resolve,
    /// Dismiss it as not negative (the classifier was wrong).
    NotNegative,
}

impl AlertAction {
    /// In the order the alerts show them.
    pub const ALL: [AlertAction; 3] = [
        AlertAction::Take,
        AlertAction::Resolve,
        AlertAction::NotNegative,
    ];

    /// The name a link carries.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Take => "ack",
            AlertAction::Resolve => "resolve",
            AlertAction::NotNegative => "not-negative",
        }
    }

    pub fn parse(s: &str) -> Option<AlertAction> {
        AlertAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The link's text.
    pub fn label(self) -> &'static str {
        match self {
            AlertAction::Take => "I'll take it",
            AlertAction::Resolve => "Resolved",
            AlertAction::NotNegative => "Not negative",
        }
    }
}

/// Makes the link of one action for one recipient.
pub trait ActionLinks: Send + Sync {
    /// The URL that does `action` to the mention of post `post_id` for `recipient`
    /// (an email address, or `webhook:NAME` for a chat destination); `None` when no
    /// link can be made for it.
    fn url(&self, post_id: &str, action: AlertAction, recipient: &str) -> Option<String>;

    /// The inbox's address (`public_url`), for messages that point at many mentions.
    fn inbox_url(&self) -> Option<String> {
        None
    }
}

/// Every action of one mention and its URL, in order; empty without links.
pub fn action_links(
    links: Option<&Arc<dyn ActionLinks>>,
    post_id: &str,
    recipient: &str,
) -> Vec<(AlertAction, String)> {
    let Some(links) = links else {
        return Vec::new();
    };
    AlertAction::ALL
        .into_iter()
        .filter_map(|a| links.url(post_id, a, recipient).map(|u| (a, u)))
        .collect()
}

/// The (label, URL) of every action of one mention, in order; empty without links.
pub fn action_urls(
    links: Option<&Arc<dyn ActionLinks>>,
    post_id: &str,
    recipient: &str,
) -> Vec<(String, String)> {
    action_links(links, post_id, recipient)
        .into_iter()
        .map(|(a, u)| (a.label().to_string(), u))
        .collect()
}

/// The address of an email recipient (`Dana <dana@acme.example>` is
/// `dana@acme.example`); what it is when it is not one.
pub fn recipient_address(to: &str) -> String {
    to.parse::<lettre::message::Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_else(|_| to.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl ActionLinks for Fake {
        fn url(&self, post_id: &str, action: AlertAction, recipient: &str) -> Option<String> {
            Some(format!(
                "https://o.test/{post_id}/{}/{recipient}",
                action.as_str()
            ))
        }
    }

    #[test]
    fn every_action_has_a_name_that_parses_back() {
        for a in AlertAction::ALL {
            assert_eq!(AlertAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AlertAction::parse("reopen"), None);
    }

    #[test]
    fn urls_in_order_or_none() {
        let l: Arc<dyn ActionLinks> = Arc::new(Fake);
        let u = action_urls(Some(&l), "hn:1", "d@x.test");
        let labels: Vec<&str> = u.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["I'll take it", "Resolved", "Not negative"]);
        assert_eq!(u[1].1, "https://o.test/hn:1/resolve/d@x.test");
        assert!(action_urls(None, "hn:1", "d@x.test").is_empty());
        assert_eq!(
            recipient_address("Dana <dana@acme.example>"),
            "dana@acme.example"
        );
        assert_eq!(recipient_address("webhook:ops"), "webhook:ops");
    }
}
