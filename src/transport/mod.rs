//! How CRM payloads reach passerelle: local archives, FTP drops and HTTP APIs.

pub mod archive;
pub mod ftp;
pub mod http;

/// Installs ring as the process's TLS crypto provider, for the HTTP client
/// and FTPS. Installing it twice is harmless.
pub fn install_crypto_provider() {
    #[allow(
        deprecated,
        reason = "rustls 0.23.48 deprecates ring for lacking post-quantum key exchange; ring keeps the build \
                  free of aws-lc-sys's C build"
    )]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}
