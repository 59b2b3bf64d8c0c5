//! Where a redirect may lead: at most [`MAX_REDIRECTS`] hops, and from a feed whose
//! own URL is public never into loopback, link-local, private or otherwise
//! non-public addresses (a public server must not make overhear fetch from the
//! intranet), unless the `[[source]]` sets `allow_private = true`. A source whose own
//! URL is already such an address may redirect there. Hosts are judged by what the
//! URL says (an IP literal, `localhost`); a public name that resolves to a private
//! address is not caught here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::redirect::Policy;
use url::{Host, Url};

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;

/// Why a redirect was not followed.
#[derive(Debug, thiserror::Error)]
pub enum RedirectRefused {
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    #[error("a redirect from a public address into a private one ({0}); set allow_private = true on the [[source]] for an intranet feed")]
    IntoPrivate(String),
}

/// The redirect policy of the shared client.
pub(crate) fn policy(allow_private: bool) -> Policy {
    Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(RedirectRefused::TooMany);
        }
        let from_public = attempt.previous().first().is_some_and(|u| !is_private(u));
        if !allow_private && from_public && is_private(attempt.url()) {
            let to = super::fetch::shown(attempt.url());
            return attempt.error(RedirectRefused::IntoPrivate(to));
        }
        attempt.follow()
    })
}

/// Whether `url`'s host is loopback, link-local, private, unspecified or shared
/// address space, by what the URL says.
pub fn is_private(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(a)) => private_v4(a),
        Some(Host::Ipv6(a)) => private_v6(a),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if let Ok(ip) = d.parse::<IpAddr>() {
                return match ip {
                    IpAddr::V4(a) => private_v4(a),
                    IpAddr::V6(a) => private_v6(a),
                };
            }
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

fn private_v4(a: Ipv4Addr) -> bool {
    let [o1, o2, ..] = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        // 100.64.0.0/10, shared address space (carrier-grade NAT)
        || (o1 == 100 && (64..128).contains(&o2))
}

fn private_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = a.to_ipv4_mapped() {
        return private_v4(v4);
    }
    let first = a.segments()[0];
    a.is_loopback()
        || a.is_unspecified()
        // fc00::/7 unique local, fe80::/10 link-local
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges() {
        for u in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8080/",
            "http://api.localhost/",
        ] {
            assert!(is_private(&Url::parse(u).unwrap()), "{u}");
        }
        for u in [
            "https://example.com/",
            "http://8.8.8.8/",
            "http://[2001:db8::1]/",
            "http://100.128.0.1/",
        ] {
            assert!(!is_private(&Url::parse(u).unwrap()), "{u}");
        }
    }
}
