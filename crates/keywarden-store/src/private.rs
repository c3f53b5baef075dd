//! Owner-only files. The store holds raw mail audit records: the data directory is created
//! `0700` and the database with its `-wal` and `-shm` files are kept `0600`, whatever the
//! process umask (modes are set explicitly after creation, not left to the umask). A directory
//! that already existed keeps its mode (it may be shared on purpose); [`exposure`] describes it
//! so the caller can warn, as it does for the API key file.

use std::path::Path;

use crate::error::StoreError;

/// The data directory's mode: owner only.
pub const DIR_MODE: u32 = 0o700;

/// The database files' mode: owner read and write only.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) if it does not exist; a directory this call created is
/// set to [`DIR_MODE`]. Returns whether it was created.
pub fn create_private_dir(dir: &Path) -> Result<bool, StoreError> {
    let wrap = |source| StoreError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    if dir.is_dir() {
        return Ok(false);
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir).map_err(wrap)?;
    set_mode(dir, DIR_MODE)?;
    Ok(true)
}

/// Creates a new, empty file with [`FILE_MODE`] (fails if it exists).
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Sets `path` to [`FILE_MODE`] if it exists (the database's `-wal` and `-shm` come and go).
pub fn tighten_file(path: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => set_mode(path, FILE_MODE),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Permissions {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What group and other users may do with `path` (`None` when nothing, or when the platform
/// has no such modes): e.g. `"readable by group and others (mode 0644)"`.
pub fn exposure(path: &Path) -> std::io::Result<Option<String>> {
    let meta = std::fs::metadata(path)?;
    Ok(mode_exposure(&meta))
}

#[cfg(unix)]
fn mode_exposure(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    let who = match (mode & 0o070 != 0, mode & 0o007 != 0) {
        (true, true) => "group and others",
        (true, false) => "group",
        (false, true) => "others",
        (false, false) => return None,
    };
    let what = if meta.is_dir() {
        "open to"
    } else if mode & 0o044 != 0 {
        "readable by"
    } else {
        "accessible to"
    };
    Some(format!("{what} {who} (mode {mode:04o})"))
}

#[cfg(not(unix))]
fn mode_exposure(_meta: &std::fs::Metadata) -> Option<String> {
    None
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        StoreError::Permissions {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_owner_only_and_describes_exposure() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        assert!(create_private_dir(&dir).unwrap());
        assert_eq!(mode(&dir), DIR_MODE);
        assert!(!create_private_dir(&dir).unwrap());
        let f = dir.join("f");
        create_private_file(&f).unwrap();
        assert_eq!(mode(&f), FILE_MODE);
        assert!(create_private_file(&f).is_err(), "never reuses a file");
        assert_eq!(exposure(&f).unwrap(), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            exposure(&f).unwrap().as_deref(),
            Some("readable by group and others (mode 0644)")
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(
            exposure(&f).unwrap().as_deref(),
            Some("readable by group (mode 0640)")
        );
        tighten_file(&f).unwrap();
        assert_eq!(mode(&f), FILE_MODE);
        tighten_file(&dir.join("absent")).unwrap();
    }
}
