//! Failure notifications: a JSON message to a webhook when a run fails or a
//! guard trips, in the shape chat tools accept for incoming webhooks (a
//! `text` line) plus structured fields for other programs.
//!
//! A notification never changes the run's result: a webhook that is down or
//! slow costs at most its timeout and a warning.

use std::time::Duration;

use serde::Serialize;

use crate::config::ConfigFile;
use crate::report::Reporter;

/// Seconds a webhook has to answer, when the settings name no other value.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 5;

/// What a notification says about one run.
#[derive(Debug, Serialize)]
pub struct RunAlert<'a> {
    /// One line for people, e.g. `passerelle: azur (apimo 4242) failed: …`.
    pub text: String,
    pub integration: &'a str,
    pub crm: &'a str,
    pub agency: &'a str,
    /// `failed`, `locked` or `guard_tripped`.
    pub status: &'a str,
    pub run_id: Option<i64>,
    /// The error or the guard's reason.
    pub reason: &'a str,
}

impl<'a> RunAlert<'a> {
    pub fn new(
        integration: &'a str,
        crm: &'a str,
        agency: &'a str,
        status: &'a str,
        reason: &'a str,
    ) -> Self {
        Self {
            text: format!("passerelle: {integration} ({crm} {agency}) {status}: {reason}"),
            integration,
            crm,
            agency,
            status,
            run_id: None,
            reason,
        }
    }
}

/// Posts the alert to the settings' webhook, if one is set. Failures are
/// reported as warnings and otherwise ignored.
pub fn send(config: &ConfigFile, alert: &RunAlert<'_>, reporter: &mut Reporter) {
    let Some(notify) = &config.notify else {
        return;
    };
    let timeout = Duration::from_secs(notify.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS).max(1));
    let result = (|| -> anyhow::Result<()> {
        crate::transport::install_crypto_provider();
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            client
                .post(&notify.webhook_url)
                .json(alert)
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(())
        })
    })();
    if let Err(error) = result {
        reporter.warn(&format!("the failure webhook was not notified: {error:#}"));
    }
}
