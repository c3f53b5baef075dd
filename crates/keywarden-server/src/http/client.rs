//! Who the client is: the peer's address, or, when the peer is a trusted proxy, the right-most
//! `X-Forwarded-For` entry that is not itself a trusted proxy. Taking the right-most untrusted
//! entry (not the left-most, which the client writes) means a client cannot choose the address
//! it is rate-limited under by sending its own `X-Forwarded-For`. Used by `serve` (the throttle
//! of failed API keys and logins, `[server] trusted_proxies`) and by the gateway.

use std::net::IpAddr;

/// A trusted proxy network (`127.0.0.0/8`, `::1/128`, `10.1.2.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    addr: IpAddr,
    prefix: u8,
}

impl ProxyNet {
    /// Parses `ADDR` or `ADDR/PREFIX`; `None` when either part is invalid.
    pub fn parse(s: &str) -> Option<ProxyNet> {
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(ProxyNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request from `peer` carrying `forwarded_for` (every
/// `X-Forwarded-For` header value, in order).
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &[ProxyNet]) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    let entries = forwarded_for
        .iter()
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            // A garbled entry ends what can be believed: the last good hop is the client.
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally `[v6]:port` or `v4:port`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = e.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(a, _)| a.parse().ok())
            .map(canonical);
    }
    let (a, port) = e.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The client of an HTTP request from TCP peer `peer`: [`client_address`] over the request's
/// `X-Forwarded-For` headers (believed only when `peer` is one of `trusted`). No peer (a router
/// served without connection info) counts every client under one unspecified address: they
/// are throttled together (fails closed).
pub fn request_client(
    peer: Option<std::net::SocketAddr>,
    headers: &axum::http::HeaderMap,
    trusted: &[ProxyNet],
) -> IpAddr {
    let Some(peer) = peer else {
        return IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    };
    if trusted.is_empty() {
        return canonical(peer.ip());
    }
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    client_address(peer.ip(), &xff, trusted)
}

/// Parses `trusted_proxies` entries (`ADDR` or `ADDR/PREFIX`); the first bad entry is the error.
pub fn parse_networks(entries: &[String]) -> Result<Vec<ProxyNet>, String> {
    entries
        .iter()
        .map(|s| {
            ProxyNet::parse(s)
                .ok_or_else(|| format!("trusted_proxies: {s:?} is not an address or CIDR network"))
        })
        .collect()
}

/// The network a client belongs to for the per-network bucket: IPv4 /24, IPv6 /56.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) & 0xffff_ff00).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & !((1u128 << 72) - 1)).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn loopback() -> Vec<ProxyNet> {
        vec![
            ProxyNet::parse("127.0.0.0/8").unwrap(),
            ProxyNet::parse("::1/128").unwrap(),
        ]
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_forward() {
        assert_eq!(
            client_address(ip("203.0.113.9"), &["1.2.3.4"], &loopback()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_entry_wins() {
        let t = loopback();
        let c = |xff: &[&str]| client_address(ip("127.0.0.1"), xff, &t);
        assert_eq!(c(&["6.6.6.6, 198.51.100.7"]), ip("198.51.100.7"));
        assert_eq!(
            c(&["6.6.6.6", "198.51.100.7, 127.0.0.2"]),
            ip("198.51.100.7")
        );
        assert_eq!(c(&[]), ip("127.0.0.1"));
        assert_eq!(c(&["127.0.0.5"]), ip("127.0.0.5"));
        assert_eq!(c(&["[2001:db8::1]:443"]), ip("2001:db8::1"));
        assert_eq!(c(&["198.51.100.7:5000"]), ip("198.51.100.7"));
        assert_eq!(c(&["::ffff:198.51.100.7"]), ip("198.51.100.7"));
        assert_eq!(c(&["6.6.6.6, garbage"]), ip("127.0.0.1"));
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &["192.0.2.1"], &t),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn request_clients_believe_forwarded_for_only_from_trusted_peers() {
        let mut h = axum::http::HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 198.51.100.7".parse().unwrap());
        let peer = |s: &str| Some(std::net::SocketAddr::new(ip(s), 4000));
        assert_eq!(request_client(peer("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
        assert_eq!(
            request_client(peer("127.0.0.1"), &h, &loopback()),
            ip("198.51.100.7")
        );
        assert_eq!(
            request_client(peer("203.0.113.1"), &h, &loopback()),
            ip("203.0.113.1")
        );
        assert_eq!(
            request_client(None, &h, &loopback()),
            ip("0.0.0.0"),
            "no peer: one shared bucket"
        );
        assert!(parse_networks(&["10.0.0.0/8".into(), "::1".into()]).is_ok());
        let e = parse_networks(&["10.0.0.0/8".into(), "proxy.local".into()]).unwrap_err();
        assert!(e.contains("proxy.local"), "{e}");
    }

    #[test]
    fn networks_parse_and_match() {
        let n = ProxyNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(ip("10.200.1.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(!n.contains(ip("::1")));
        assert!(
            ProxyNet::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        assert!(ProxyNet::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert!(ProxyNet::parse("10.0.0.0/33").is_none());
        assert!(ProxyNet::parse("nope").is_none());
        assert_eq!(network_of(ip("192.0.2.77")), ip("192.0.2.0"));
        assert_eq!(network_of(ip("2001:db8:1:2ff::1")), ip("2001:db8:1:200::"));
    }
}
