//! The address guard for photo URLs.
//!
//! Photo URLs come from third-party files, so a listing could point the
//! importer at the machine itself, the local network or a cloud metadata
//! service. By default only http(s) URLs whose host resolves to public
//! addresses are fetched. The check runs inside the HTTP client's resolver,
//! on the addresses the connection then uses. A name that resolves to a
//! public address once and to a private one later therefore gains nothing.
//! Literal IP hosts skip the resolver, so they are checked before the
//! request and at each redirect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Reason a photo URL is rejected before any request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("scheme `{0}` is not http or https")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error(
        "{0} is not a public address; set photos.allow_private_networks = true to fetch from private networks"
    )]
    NonPublic(IpAddr),
    #[error(
        "{host} resolves to {address}, which is not a public address; set photos.allow_private_networks = \
         true to fetch from private networks"
    )]
    NonPublicName { host: String, address: IpAddr },
}

/// Checks a URL's scheme, and its host when the host is a literal address.
/// Host names are checked when resolved, by [`PublicOnlyResolver`].
///
/// # Errors
/// The scheme is not http(s), or the host is a non-public address.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), Refusal> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(Refusal::Scheme(other.to_string())),
    }
    let host = match url.host() {
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err(Refusal::NoHost),
    };
    if allow_private || is_public(host) {
        Ok(())
    } else {
        Err(Refusal::NonPublic(host))
    }
}

/// Resolves host names with the system resolver and keeps only public
/// addresses; a name with none is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: the client puts the URL's port on the addresses.
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|address| is_public(address.ip()))
                .collect();
            match (public.is_empty(), resolved.first()) {
                (false, _) => Ok(Box::new(public.into_iter()) as Addrs),
                (true, Some(first)) => Err(Box::new(Refusal::NonPublicName {
                    host: host.clone(),
                    address: first.ip(),
                }) as Box<dyn std::error::Error + Send + Sync>),
                (true, None) => Err(format!("{host} resolves to no address").into()),
            }
        })
    }
}

/// Returns whether an address is on the public internet: not loopback,
/// private, shared (carrier-grade NAT), link-local, multicast, broadcast,
/// documentation, benchmarking or reserved space.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(address) => is_public_v4(address),
        IpAddr::V6(address) => is_public_v6(address),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    let reserved = address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_multicast()
        || address.is_broadcast()
        || address.is_documentation()
        || a == 0
        // 100.64.0.0/10, shared address space of carrier-grade NAT
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24, protocol assignments
        || (a == 192 && b == 0 && c == 0)
        // 198.18.0.0/15, benchmarking
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4, reserved
        || a >= 240;
    !reserved
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(mapped) = address.to_ipv4_mapped() {
        return is_public_v4(mapped);
    }
    let segments = address.segments();
    let reserved = address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        // fc00::/7, unique local
        || (segments[0] & 0xfe00) == 0xfc00
        // fe80::/10, link-local
        || (segments[0] & 0xffc0) == 0xfe80
        // 2001:db8::/32, documentation
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        // 64:ff9b:1::/48, local NAT64
        || (segments[0] == 0x0064 && segments[1] == 0xff9b && segments[2] == 0x0001)
        // ::/96, the deprecated IPv4-compatible form
        || segments[..6].iter().all(|segment| *segment == 0);
    !reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.10",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!public(address), "{address} must not count as public");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for address in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(public(address), "{address} is public");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_host() {
        let check = |text: &str, allow| check_url(&Url::parse(text).unwrap(), allow);
        assert_eq!(
            check("ftp://example.com/a.jpg", true),
            Err(Refusal::Scheme("ftp".to_string()))
        );
        assert_eq!(
            check("file:///etc/passwd", true),
            Err(Refusal::Scheme("file".to_string()))
        );
        assert!(matches!(
            check("http://127.0.0.1:9/a.jpg", false),
            Err(Refusal::NonPublic(_))
        ));
        assert!(matches!(
            check("http://[::1]/a.jpg", false),
            Err(Refusal::NonPublic(_))
        ));
        assert_eq!(check("http://127.0.0.1:9/a.jpg", true), Ok(()));
        assert_eq!(check("https://photos.example.com/a.jpg", false), Ok(()));
    }

    #[test]
    fn resolver_refuses_names_of_loopback_addresses() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let name: Name = "localhost".parse().unwrap();
        let error = match runtime.block_on(PublicOnlyResolver.resolve(name)) {
            Ok(addresses) => panic!("localhost resolved to {:?}", addresses.collect::<Vec<_>>()),
            Err(error) => error.to_string(),
        };
        assert!(error.contains("localhost resolves to"), "{error}");
        assert!(error.contains("which is not a public address"), "{error}");
    }
}
