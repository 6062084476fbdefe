//! Exit statuses, documented in the README and the man page.

use crate::config::ConfigError;
use crate::crm::poliris::PackageError;
use crate::crm::registry::UnknownCrm;
use crate::store::lock::LockedError;
use crate::transport::archive::ArchiveError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything was read and applied.
    Success = 0,
    /// Finished, but some records were rejected or some photos failed.
    RecordsRejected = 1,
    /// Invalid arguments or settings file (clap exits with 2 itself).
    Usage = 2,
    /// The input could not be read, or the database could not be opened
    /// or written.
    Unreadable = 3,
    /// A safety guard kept listings from being withdrawn.
    GuardTripped = 4,
    /// Another process is importing the same agency.
    Locked = 5,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Returns the status for an error that stopped a command.
    pub fn for_error(error: &anyhow::Error) -> Self {
        let about_input = error
            .chain()
            .any(|cause| cause.is::<PackageError>() || cause.is::<ArchiveError>());
        if error.chain().any(|cause| cause.is::<LockedError>()) {
            Self::Locked
        } else if about_input {
            Self::Unreadable
        } else if error
            .chain()
            .any(|cause| cause.is::<UsageError>() || cause.is::<ConfigError>() || cause.is::<UnknownCrm>())
        {
            Self::Usage
        } else {
            Self::Unreadable
        }
    }
}

/// An argument that clap accepted but the command cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
