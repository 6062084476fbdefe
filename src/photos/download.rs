//! Photo downloads: conditional requests with the stored validators, a
//! size limit, a content-type check, timeouts, and retries with backoff on
//! transient failures. The address guard ([`super::address`]) applies to
//! the first URL and to every redirect.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Url, header};
use thiserror::Error;

use super::address::{self, PublicOnlyResolver, Refusal};

/// Redirects followed at most for one photo.
const MAX_REDIRECTS: usize = 5;

/// Limits of photo downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadSettings {
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, body included.
    pub timeout: Duration,
    /// Largest photo accepted, in bytes.
    pub max_bytes: u64,
    /// Attempts per photo, the first included.
    pub max_attempts: u32,
    /// Wait before the second attempt; it doubles at each further attempt.
    pub first_backoff: Duration,
    /// Fetch from loopback and private addresses too.
    pub allow_private_networks: bool,
}

impl Default for DownloadSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_bytes: 40 * 1024 * 1024,
            max_attempts: 3,
            first_backoff: Duration::from_millis(500),
            allow_private_networks: false,
        }
    }
}

/// HTTP validators of a stored photo, sent back in conditional requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }

    fn of(response: &reqwest::Response) -> Self {
        let text = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &header::HeaderValue| value.to_str().ok())
                .map(str::to_string)
        };
        Self {
            etag: text(header::ETAG),
            last_modified: text(header::LAST_MODIFIED),
        }
    }
}

/// Result of a download.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the stored photo is current. The server may send new validators.
    NotModified(Validators),
    Body {
        bytes: Vec<u8>,
        validators: Validators,
    },
}

#[derive(Debug, Error)]
pub enum DownloadError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("{reason} (after {attempts} attempts)")]
    Retried { reason: String, attempts: u32 },
    #[error("larger than the {} MB limit (photos.max_megabytes)", limit / (1024 * 1024))]
    TooLarge { limit: u64 },
    #[error("served as `{content_type}`, not as an image")]
    NotAnImage { content_type: String },
    #[error("{0}")]
    Transport(String),
}

impl DownloadError {
    /// Returns whether another attempt may succeed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Status { status } => *status == 429 || (500..600).contains(status),
            Self::Transport(_) => true,
            _ => false,
        }
    }
}

/// The HTTP client of one run's photo downloads.
pub struct Downloader {
    client: reqwest::Client,
    settings: DownloadSettings,
}

impl Downloader {
    /// # Errors
    /// The TLS backend cannot be set up.
    pub fn new(settings: DownloadSettings) -> anyhow::Result<Self> {
        crate::transport::install_crypto_provider();
        let allow_private = settings.allow_private_networks;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match address::check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(format!("redirect refused: {refusal}")),
            }
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(redirects)
            // A proxy would connect on our behalf, out of the guard's reach.
            .no_proxy()
            .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Self {
            client: builder.build()?,
            settings,
        })
    }

    /// Downloads a photo; with `validators`, as a conditional request.
    ///
    /// # Errors
    /// The URL is refused, the server answers with an error, the body is
    /// too large or not an image, or every attempt failed in transit.
    pub async fn fetch(&self, url: &str, validators: Option<&Validators>) -> Result<Fetched, DownloadError> {
        let parsed = Url::parse(url).map_err(|error| DownloadError::InvalidUrl(error.to_string()))?;
        address::check_url(&parsed, self.settings.allow_private_networks)?;
        let mut attempt = 1;
        let mut backoff = self.settings.first_backoff;
        loop {
            match self.fetch_once(&parsed, validators).await {
                Err(error) if error.is_transient() && attempt < self.settings.max_attempts => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(error) if attempt > 1 && error.is_transient() => {
                    return Err(DownloadError::Retried {
                        reason: error.to_string(),
                        attempts: attempt,
                    });
                }
                result => return result,
            }
        }
    }

    async fn fetch_once(&self, url: &Url, validators: Option<&Validators>) -> Result<Fetched, DownloadError> {
        let mut request = self.client.get(url.clone());
        if let Some(validators) = validators {
            if let Some(etag) = &validators.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = &validators.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, last_modified);
            }
        }
        let mut response = request
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;

        let status = response.status();
        tracing::trace!(%url, status = status.as_u16(), "photo response");
        if status == StatusCode::NOT_MODIFIED && validators.is_some() {
            return Ok(Fetched::NotModified(Validators::of(&response)));
        }
        if !status.is_success() {
            return Err(DownloadError::Status {
                status: status.as_u16(),
            });
        }
        check_content_type(&response)?;
        let limit = self.settings.max_bytes;
        if response.content_length().is_some_and(|length| length > limit) {
            return Err(DownloadError::TooLarge { limit });
        }

        let received = Validators::of(&response);
        let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.transport_error(error))?
        {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(DownloadError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            validators: received,
        })
    }
}

/// Accepts image types and the generic binary types some servers send for
/// every file; the bytes' signature is checked once they are in.
fn check_content_type(response: &reqwest::Response) -> Result<(), DownloadError> {
    let Some(value) = response.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let content_type = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let accepted = essence.starts_with("image/")
        || matches!(essence, "application/octet-stream" | "binary/octet-stream" | "");
    if accepted {
        Ok(())
    } else {
        Err(DownloadError::NotAnImage { content_type })
    }
}

impl Downloader {
    /// Describes a transport failure with its innermost cause ("connection
    /// refused"), which is what an operator acts on; a timeout names the
    /// limit instead.
    fn transport_error(&self, error: reqwest::Error) -> DownloadError {
        // The address guard refuses inside the resolver; that is no network error.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = cause {
            if let Some(refusal) = current.downcast_ref::<Refusal>() {
                return DownloadError::Refused(refusal.clone());
            }
            cause = current.source();
        }
        if error.is_timeout() {
            let limit = if error.is_connect() {
                format!(
                    "no connection within {} s (photos.connect_timeout_seconds)",
                    self.settings.connect_timeout.as_secs()
                )
            } else {
                format!(
                    "not received within {} s (photos.timeout_seconds)",
                    self.settings.timeout.as_secs()
                )
            };
            return DownloadError::Transport(format!("timed out: {limit}"));
        }
        let kind = if error.is_connect() {
            "cannot connect"
        } else if error.is_redirect() {
            "redirect failed"
        } else {
            "transfer failed"
        };
        let mut innermost: &dyn std::error::Error = &error;
        while let Some(source) = innermost.source() {
            innermost = source;
        }
        let cause = innermost.to_string();
        if cause == error.to_string() {
            DownloadError::Transport(kind.to_string())
        } else {
            DownloadError::Transport(format!("{kind}: {cause}"))
        }
    }
}
