//! The media directory: rendered variants addressed by the content hash of
//! the original photo, `ab/cd/<hash>-<variant>.<ext>`. Identical photos are
//! stored once whichever listings or URLs they come from. Files are written
//! to a temporary name in their final folder and renamed, so a reader or a
//! killed process never reads half a file.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// Prefix of files being written; a crash can leave one behind, which
/// `media gc` removes once old.
const TEMPORARY_PREFIX: &str = ".tmp-";

/// File naming the database a media directory belongs to. Garbage
/// collection keeps only the files one database refers to, so two
/// databases must never share a media directory.
pub const OWNER_FILE: &str = ".passerelle-database";

/// Distinguishes the temporary files of one process's threads.
static TEMPORARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns the path of a variant inside the media directory, with `/`.
pub fn variant_path(content_hash: &str, variant: &str, extension: &str) -> String {
    format!(
        "{}/{}/{content_hash}-{variant}.{extension}",
        &content_hash[..2],
        &content_hash[2..4]
    )
}

#[derive(Debug, Clone)]
pub struct MediaDir {
    root: PathBuf,
}

impl MediaDir {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Makes sure the directory belongs to `database`: a new directory is
    /// claimed for it, one claimed by another database is refused.
    ///
    /// # Errors
    /// The directory belongs to another database, or cannot be written.
    pub fn claim(&self, database: &str) -> anyhow::Result<()> {
        match self.owner()? {
            Some(owner) if owner == database => Ok(()),
            Some(owner) => Err(self.foreign(&owner, database)),
            None => {
                fs::create_dir_all(&self.root)?;
                fs::write(self.root.join(OWNER_FILE), format!("{database}\n"))?;
                Ok(())
            }
        }
    }

    /// Checks that the directory is `database`'s, or nobody's yet.
    ///
    /// # Errors
    /// The directory belongs to another database, or its owner file cannot be read.
    pub fn check_owner(&self, database: &str) -> anyhow::Result<()> {
        match self.owner()? {
            Some(owner) if owner != database => Err(self.foreign(&owner, database)),
            _ => Ok(()),
        }
    }

    fn owner(&self) -> anyhow::Result<Option<String>> {
        match fs::read_to_string(self.root.join(OWNER_FILE)) {
            Ok(text) => Ok(Some(text.trim_end_matches(['\r', '\n']).to_string())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    fn foreign(&self, owner: &str, database: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "media directory {} belongs to database {}, not {}: give each database its own \
             photos.media_dir (if the database was moved, write its new path in {})",
            self.root.display(),
            owner,
            database,
            self.root.join(OWNER_FILE).display()
        )
    }

    pub fn contains(&self, relative: &str) -> bool {
        self.root.join(relative).is_file()
    }

    /// Writes a file by way of a temporary file in the same folder.
    ///
    /// # Errors
    /// The folder cannot be created or the file cannot be written.
    pub fn write(&self, relative: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.root.join(relative);
        let folder = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(folder)?;
        let temporary = folder.join(format!(
            "{TEMPORARY_PREFIX}{}-{}",
            std::process::id(),
            TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_data()?;
            fs::rename(&temporary, &target)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }

    /// Removes the files no stored photo refers to. Files younger than
    /// `min_age` are kept: an import running now may have written them
    /// before committing the rows that refer to them.
    ///
    /// # Errors
    /// The directory cannot be listed, or a file cannot be removed.
    pub fn collect_garbage(
        &self,
        referenced: &HashSet<String>,
        min_age: Duration,
        dry_run: bool,
    ) -> io::Result<GarbageReport> {
        let mut report = GarbageReport::default();
        if !self.root.is_dir() {
            return Ok(report);
        }
        let now = SystemTime::now();
        let mut folders = vec![self.root.clone()];
        let mut visited = Vec::new();
        while let Some(folder) = folders.pop() {
            visited.push(folder.clone());
            for entry in fs::read_dir(&folder)? {
                let entry = entry?;
                let file_type = entry.file_type()?;
                if file_type.is_dir() {
                    folders.push(entry.path());
                    continue;
                }
                if !file_type.is_file() {
                    continue;
                }
                let path = entry.path();
                let relative = path
                    .strip_prefix(&self.root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                if relative == OWNER_FILE {
                    continue;
                }
                if referenced.contains(&relative) {
                    report.kept += 1;
                    continue;
                }
                let metadata = entry.metadata()?;
                let age = metadata
                    .modified()
                    .ok()
                    .and_then(|modified| now.duration_since(modified).ok())
                    .unwrap_or_default();
                if age < min_age {
                    report.recent += 1;
                    continue;
                }
                report.removed += 1;
                report.removed_bytes += metadata.len();
                report.files.push(relative);
                if !dry_run {
                    fs::remove_file(&path)?;
                }
            }
        }
        if !dry_run {
            // Hash folders left empty go too, deepest first; a folder that
            // is not empty stays, which is what remove_dir does.
            visited.sort_by_key(|folder| std::cmp::Reverse(folder.components().count()));
            for folder in visited.iter().filter(|folder| **folder != self.root) {
                let _ = fs::remove_dir(folder);
            }
        }
        report.files.sort();
        Ok(report)
    }
}

/// Counts of one garbage collection of the media directory.
#[derive(Debug, Default, Clone, Serialize)]
pub struct GarbageReport {
    /// Files a stored photo refers to.
    pub kept: u64,
    /// Unreferenced files left because they are younger than the minimum age.
    pub recent: u64,
    /// Unreferenced files removed (or, in a dry run, that would be).
    pub removed: u64,
    pub removed_bytes: u64,
    /// The files removed (or, in a dry run, that would be), relative to
    /// the directory.
    pub files: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_dir_belongs_to_one_database() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaDir::new(dir.path().join("media"));
        let first = dir.path().join("first.db").display().to_string();
        let second = dir.path().join("second.db").display().to_string();
        media.claim(&first).unwrap();
        media.claim(&first).unwrap();
        media.check_owner(&first).unwrap();
        let error = media.claim(&second).unwrap_err().to_string();
        assert!(error.contains("belongs to database"), "{error}");
        assert!(media.check_owner(&second).is_err());
        let swept = media
            .collect_garbage(&HashSet::new(), Duration::ZERO, false)
            .unwrap();
        assert_eq!(swept.removed, 0, "the owner file stays");
    }

    #[test]
    fn variant_paths_fan_out_by_hash() {
        assert_eq!(
            variant_path("abcdef0123", "thumb", "jpg"),
            "ab/cd/abcdef0123-thumb.jpg"
        );
    }

    #[test]
    fn garbage_collection_keeps_referenced_and_recent_files() {
        let dir = tempfile::tempdir().unwrap();
        let media = MediaDir::new(dir.path().to_path_buf());
        media.write("ab/cd/abcd-large.jpg", b"kept").unwrap();
        media.write("ef/01/ef01-large.jpg", b"orphan").unwrap();
        let referenced: HashSet<String> = ["ab/cd/abcd-large.jpg".to_string()].into();

        let recent = media
            .collect_garbage(&referenced, Duration::from_secs(3600), false)
            .unwrap();
        assert_eq!((recent.kept, recent.recent, recent.removed), (1, 1, 0));

        let dry = media.collect_garbage(&referenced, Duration::ZERO, true).unwrap();
        assert_eq!(dry.removed, 1);
        assert!(
            media.contains("ef/01/ef01-large.jpg"),
            "a dry run removes nothing"
        );

        let swept = media.collect_garbage(&referenced, Duration::ZERO, false).unwrap();
        assert_eq!((swept.removed, swept.removed_bytes), (1, 6));
        assert_eq!(swept.files, ["ef/01/ef01-large.jpg"]);
        assert!(!media.contains("ef/01/ef01-large.jpg"));
        assert!(!dir.path().join("ef").exists(), "emptied hash folders go too");
        assert!(media.contains("ab/cd/abcd-large.jpg"));
    }
}
