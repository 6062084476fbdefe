//! HTTP transport for CRM APIs: one client with a request-rate limit,
//! timeouts, and retries with exponential backoff and jitter on connection
//! errors, timeouts, 429 (honouring `Retry-After`) and 5xx responses.
//! Authentication failures (401, 403) are never retried.
//!
//! Credentials travel in the `Authorization` header only; URLs, errors and
//! logs never contain them.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::{StatusCode, header};
use thiserror::Error;

/// Limits of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Most requests sent per second, to respect the CRM's rate limits.
    pub requests_per_second: f64,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub timeout: Duration,
    /// Wait before the second attempt; it doubles at each further attempt.
    pub first_backoff: Duration,
    /// Maximum wait between attempts, `Retry-After` included.
    pub max_backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            requests_per_second: 10.0,
            max_attempts: 3,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// HTTP Basic credentials. `Debug` never shows the password.
#[derive(Clone)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

#[derive(Debug, Error)]
pub enum HttpError {
    #[error("{url}: the server refused the credentials (HTTP {status})")]
    Authentication { url: String, status: u16 },
    #[error("{url}: HTTP {status}, after {attempts} attempts")]
    Status { url: String, status: u16, attempts: u32 },
    #[error("{url}: request failed after {attempts} attempts")]
    Transport {
        url: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// An HTTP client for one CRM API.
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    next_request_at: Instant,
    jitter: u64,
}

impl HttpClient {
    /// # Errors
    /// The TLS backend cannot be set up.
    pub fn new(settings: HttpSettings) -> Result<Self, HttpError> {
        // reqwest is built without a default TLS provider; ring is the one
        // compiled in.
        super::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(HttpError::Client)?;
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |elapsed| elapsed.as_nanos() as u64);
        Ok(Self {
            client,
            settings,
            next_request_at: Instant::now(),
            jitter: seed | 1,
        })
    }

    /// Sends a GET and returns the body of its 2xx response, retrying as the
    /// module documentation describes.
    ///
    /// # Errors
    /// [`HttpError::Authentication`] at once on 401 or 403; the other
    /// variants once the attempts are used up.
    pub async fn get(&mut self, url: &str, auth: Option<&BasicAuth>) -> Result<Vec<u8>, HttpError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_rate_limit().await;
            let mut request = self.client.get(url).header(header::ACCEPT, "application/json");
            if let Some(auth) = auth {
                request = request.basic_auth(&auth.user, Some(&auth.password));
            }
            tracing::debug!(url, attempt, "GET");
            let retry_after = match request.send().await {
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(body) => return Ok(body.to_vec()),
                    Err(_) if attempt < self.settings.max_attempts => None,
                    Err(source) => {
                        return Err(HttpError::Transport {
                            url: url.to_string(),
                            attempts: attempt,
                            source,
                        });
                    }
                },
                Ok(response) => {
                    let status = response.status();
                    tracing::debug!(url, status = status.as_u16(), "GET returned an error status");
                    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                        return Err(HttpError::Authentication {
                            url: url.to_string(),
                            status: status.as_u16(),
                        });
                    }
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable || attempt >= self.settings.max_attempts {
                        return Err(HttpError::Status {
                            url: url.to_string(),
                            status: status.as_u16(),
                            attempts: attempt,
                        });
                    }
                    retry_after_of(&response)
                }
                Err(source) if attempt < self.settings.max_attempts && is_transient(&source) => None,
                Err(source) => {
                    return Err(HttpError::Transport {
                        url: url.to_string(),
                        attempts: attempt,
                        source,
                    });
                }
            };
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            tokio::time::sleep(wait.min(self.settings.max_backoff)).await;
        }
    }

    async fn wait_for_rate_limit(&mut self) {
        let now = Instant::now();
        if self.next_request_at > now {
            tokio::time::sleep(self.next_request_at - now).await;
        }
        let interval = Duration::from_secs_f64(1.0 / self.settings.requests_per_second.max(0.001));
        self.next_request_at = Instant::now() + interval;
    }

    /// Exponential backoff after `attempt` failed attempts, plus up to half
    /// of it again at random so that clients do not retry in step.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self
            .settings
            .first_backoff
            .saturating_mul(1 << (attempt - 1).min(16));
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let extra = base.mul_f64((self.jitter % 1_000) as f64 / 2_000.0);
        base + extra
    }
}

/// Reads `Retry-After` as seconds or as an HTTP date.
fn retry_after_of(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_request() || error.is_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_hidden_from_debug() {
        let auth = BasicAuth {
            user: "1234".to_string(),
            password: "s3cret-token".to_string(),
        };
        let shown = format!("{auth:?}");
        assert!(shown.contains("1234"));
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let mut client = HttpClient::new(HttpSettings::default()).unwrap();
        for attempt in 1..=4 {
            let base = Duration::from_millis(500) * (1 << (attempt - 1));
            let wait = client.backoff(attempt);
            assert!(
                wait >= base && wait <= base + base / 2,
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}
