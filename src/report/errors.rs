//! Rendering of an error that stopped a command: its message, one line per
//! cause, and a hint on what to do next when the remedy is known.

use serde::Serialize;

use crate::config::ConfigError;
use crate::crm::poliris::PackageError;
use crate::crm::registry::{self, UnknownCrm};
use crate::store::lock::LockedError;
use crate::transport::archive::ArchiveError;
use crate::transport::ftp::FtpError;

/// An error broken into the parts that are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl ErrorReport {
    pub fn new(error: &anyhow::Error) -> Self {
        let message = error.to_string();
        let mut causes = Vec::new();
        let mut previous = message.clone();
        for cause in error.chain().skip(1) {
            // Some libraries repeat their own message as their cause's.
            let text = cause.to_string();
            if text != previous {
                causes.push(text.clone());
            }
            previous = text;
        }
        Self {
            message,
            causes,
            hint: hint(error),
        }
    }
}

/// Returns what to do about an error, for the errors whose remedy is known.
pub fn hint(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(locked) = cause.downcast_ref::<LockedError>() {
            return Some(locked_hint(locked));
        }
        if let Some(unknown) = cause.downcast_ref::<UnknownCrm>() {
            return Some(format!(
                "known CRMs: {}; `passerelle crms` describes them{}",
                registry::codes().join(", "),
                unknown
                    .closest()
                    .map_or_else(String::new, |code| format!(" (did you mean `{code}`?)"))
            ));
        }
        if let Some(FtpError::Login { user, variable, .. }) = cause.downcast_ref::<FtpError>() {
            return Some(format!(
                "the password is read from the environment variable {variable}; check that it holds the \
                 password of {user}"
            ));
        }
        let archive = cause
            .downcast_ref::<ArchiveError>()
            .or_else(|| match cause.downcast_ref() {
                Some(PackageError::Archive(archive)) => Some(archive),
                _ => None,
            });
        if let Some(ArchiveError::Invalid { .. } | ArchiveError::Member { .. }) = archive {
            return Some(
                "a zip that cannot be read was most often cut short in transfer; fetch or copy it again, and \
                 check that the CRM finished writing it"
                    .to_string(),
            );
        }
        if let Some(ConfigError::Invalid { path, .. } | ConfigError::DuplicateName { path, .. }) =
            cause.downcast_ref::<ConfigError>()
        {
            return Some(format!(
                "`passerelle config check {}` lists every problem of the file",
                path.display()
            ));
        }
        None
    })
}

fn locked_hint(locked: &LockedError) -> String {
    match &locked.expires_at {
        Some(expires_at) => format!(
            "pass --wait to wait for it to finish; if that process is gone, retry after {expires_at}, when \
             its lock expires"
        ),
        None => "pass --wait to wait for it to finish; the lock ends as soon as that process or its \
                 database connection does"
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn report_lists_causes_and_finds_hint() {
        let error = Err::<(), _>(anyhow::Error::new(UnknownCrm {
            code: "polris".to_string(),
        }))
        .context("cannot import feed.zip")
        .unwrap_err();
        let report = ErrorReport::new(&error);
        assert_eq!(report.message, "cannot import feed.zip");
        assert_eq!(report.causes, vec!["unknown CRM `polris`".to_string()]);
        let hint = report.hint.unwrap();
        assert!(hint.starts_with("known CRMs: apimo, poliris"), "{hint}");
        assert!(hint.ends_with("(did you mean `poliris`?)"), "{hint}");
    }

    #[test]
    fn unknown_remedy_gives_no_hint() {
        let error = anyhow::anyhow!("disk full").context("cannot write x");
        assert_eq!(ErrorReport::new(&error).hint, None);
    }
}
