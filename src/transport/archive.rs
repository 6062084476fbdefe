//! Zip archives delivered by CRMs, read member by member.
//!
//! Member names come from third parties: they are matched by their final
//! path component, case-insensitively, and never used as paths on disk.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zip::ZipArchive;

/// Maximum number of members in an archive; more is rejected as damaged or
/// hostile. A Poliris delivery contains one CSV, two small files and at most
/// 30 photos per listing.
pub const MAX_MEMBERS: usize = 200_000;

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a readable zip archive")]
    Invalid {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{path} lists {count} members, more than the limit of {MAX_MEMBERS}")]
    TooManyMembers { path: PathBuf, count: usize },
    #[error("cannot read member {member} of {path}")]
    Member {
        path: PathBuf,
        member: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("member {member} of {path} is larger than {limit} bytes")]
    MemberTooLarge {
        path: PathBuf,
        member: String,
        limit: u64,
    },
}

/// A member's name, its size once inflated and its CRC-32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDetails {
    pub name: String,
    pub size: u64,
    pub crc32: u32,
}

/// An open zip archive.
pub struct Archive {
    path: PathBuf,
    zip: ZipArchive<BufReader<File>>,
}

impl Archive {
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        let file = File::open(path).map_err(|source| ArchiveError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let zip = ZipArchive::new(BufReader::new(file)).map_err(|source| ArchiveError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
        if zip.len() > MAX_MEMBERS {
            return Err(ArchiveError::TooManyMembers {
                path: path.to_path_buf(),
                count: zip.len(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            zip,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the file members, as stored in the archive. Names that are
    /// not valid text are left out.
    pub fn member_names(&self) -> Vec<String> {
        (0..self.zip.len())
            .filter_map(|index| self.zip.name_for_index(index)?.ok().map(Cow::into_owned))
            .filter(|name| !name.ends_with('/'))
            .collect()
    }

    /// Lists the file members with their sizes and CRC-32, read from the
    /// archive's directory without inflating anything.
    ///
    /// # Errors
    /// A member's entry cannot be read.
    pub fn member_details(&mut self) -> Result<Vec<MemberDetails>, ArchiveError> {
        let mut details = Vec::with_capacity(self.zip.len());
        for index in 0..self.zip.len() {
            let entry = self
                .zip
                .by_index_raw(index)
                .map_err(|source| ArchiveError::Member {
                    path: self.path.clone(),
                    member: format!("#{index}"),
                    source,
                })?;
            if entry.is_dir() {
                continue;
            }
            // Names that are not valid text cannot be named by a listing.
            let Ok(name) = entry.name() else {
                continue;
            };
            details.push(MemberDetails {
                name: name.into_owned(),
                size: entry.size(),
                crc32: entry.crc32(),
            });
        }
        Ok(details)
    }

    /// Finds a member by file name, ignoring its folder and letter case.
    pub fn find_member(&self, file_name: &str) -> Option<String> {
        self.member_names()
            .into_iter()
            .find(|name| base_name(name).eq_ignore_ascii_case(file_name))
    }

    /// Reads a whole member into memory, refusing one larger than `limit` bytes.
    pub fn read_member(&mut self, member: &str, limit: u64) -> Result<Vec<u8>, ArchiveError> {
        let path = self.path.clone();
        let entry = self.zip.by_name(member).map_err(|source| ArchiveError::Member {
            path: path.clone(),
            member: member.to_string(),
            source,
        })?;
        if entry.size() > limit {
            return Err(ArchiveError::MemberTooLarge {
                path,
                member: member.to_string(),
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| ArchiveError::Member {
                path: path.clone(),
                member: member.to_string(),
                source: source.into(),
            })?;
        if bytes.len() as u64 > limit {
            return Err(ArchiveError::MemberTooLarge {
                path,
                member: member.to_string(),
                limit,
            });
        }
        Ok(bytes)
    }

    /// Opens a member for streaming; the data is inflated as it is read.
    pub fn stream_member(&mut self, member: &str) -> Result<impl Read + '_, ArchiveError> {
        self.zip.by_name(member).map_err(|source| ArchiveError::Member {
            path: self.path.clone(),
            member: member.to_string(),
            source,
        })
    }
}

/// Returns the last component of a member name, whichever slash it uses.
pub fn base_name(member: &str) -> &str {
    member.rsplit(['/', '\\']).next().unwrap_or(member)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_name_drops_folders() {
        assert_eq!(base_name("export/Annonces.csv"), "Annonces.csv");
        assert_eq!(base_name("export\\photos\\a.jpg"), "a.jpg");
        assert_eq!(base_name("config.txt"), "config.txt");
    }
}
