//! Who a request comes from, for the login limits: the connection's peer, or, when
//! the peer is one of `[daemon] trusted_proxies`, the right-most `X-Forwarded-For`
//! address that is not itself a trusted proxy (what the nearest untrusted hop told
//! the proxies; anything left of it the client could have written).
//!
//! The peer is the `ConnectInfo<SocketAddr>` extension the listener puts on every
//! request; without one (a router driven in a test), the client is the loopback
//! address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::HeaderMap;

use crate::util::cidr::Cidr;

/// The longest `X-Forwarded-For` looked at, in bytes, and the most entries.
const MAX_XFF: usize = 4096;
const MAX_HOPS: usize = 32;

fn trusted(ip: IpAddr, proxies: &[Cidr]) -> bool {
    proxies.iter().any(|c| c.contains(ip))
}

/// One `X-Forwarded-For` entry: an address, `[v6]:port` or `v4:port`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(crate::util::cidr::canonical)
}

/// The client address of a request from `peer` with `headers`.
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, proxies: &[Cidr]) -> IpAddr {
    let Some(peer) = peer.map(|p| crate::util::cidr::canonical(p.ip())) else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    if !trusted(peer, proxies) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    let mut len = 0usize;
    for v in headers.get_all("x-forwarded-for") {
        let Ok(v) = v.to_str() else {
            // not text: nothing in it can be believed, nor anything before it
            hops.clear();
            continue;
        };
        len = len.saturating_add(v.len());
        if len > MAX_XFF {
            break;
        }
        hops.extend(v.split(','));
    }
    // right to left: the first hop that is not a trusted proxy is the client
    let mut client = peer;
    for hop in hops.iter().rev().take(MAX_HOPS) {
        match parse_hop(hop) {
            Some(ip) if trusted(ip, proxies) => client = ip,
            Some(ip) => return ip,
            // garbage, written by whoever is left of the last proxy we believe
            None => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn peer(s: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(s.parse().unwrap(), 40000))
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // no proxy: the peer, whatever the header says
        assert_eq!(
            client_ip(peer("192.0.2.5"), &h(&["203.0.113.1"]), &proxies),
            ip("192.0.2.5")
        );
        assert_eq!(client_ip(peer("192.0.2.5"), &h(&[]), &[]), ip("192.0.2.5"));
        // through a proxy: the right-most untrusted entry; a forged left part is ignored
        let forged = h(&["1.1.1.1, 203.0.113.1", "10.0.0.2"]);
        assert_eq!(
            client_ip(peer("10.0.0.1"), &forged, &proxies),
            ip("203.0.113.1")
        );
        assert_eq!(
            client_ip(peer("::1"), &h(&["203.0.113.1:5555"]), &proxies),
            ip("203.0.113.1")
        );
        assert_eq!(
            client_ip(peer("::ffff:10.0.0.1"), &h(&["[2001:db8::1]:80"]), &proxies),
            ip("2001:db8::1")
        );
        // only proxies, or none: the left-most proxy, or the peer
        assert_eq!(
            client_ip(peer("10.0.0.1"), &h(&["10.0.0.3, 10.0.0.2"]), &proxies),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_ip(peer("10.0.0.1"), &h(&[]), &proxies),
            ip("10.0.0.1")
        );
        // garbage stops the walk at the last believed hop
        assert_eq!(
            client_ip(peer("10.0.0.1"), &h(&["1.1.1.1, evil, 10.0.0.2"]), &proxies),
            ip("10.0.0.2")
        );
        // no peer known (a router in a test): loopback
        assert_eq!(client_ip(None, &h(&["1.1.1.1"]), &proxies), ip("127.0.0.1"));
    }
}
