//! Private data files: the data directory, the journal, the session store (sled's own files) and the exports
//! are created readable by the venue's user alone (files 0600, directories 0700) unless venue.toml's
//! `data_file_mode` allows the group too (0640: directories 0750).
//!
//! Two mechanisms, because sled creates and replaces its files itself (`conf`, `db`, snapshots, blobs) and takes
//! no mode: `fixvenue serve` sets the process umask before anything is opened ([`restrict_umask`]), so every
//! file the process creates from then on, sled's included, gets at most the configured mode; and at start-up
//! [`secure_data_dir`] creates the data directory with its mode and brings everything already under it (data
//! written by an older version, or by an in-process venue under another umask) to the configured modes.
//! Exports written with `--output` are created with the mode directly ([`create_private`]).
//!
//! Unix only: elsewhere these do nothing.

use std::io;
use std::path::Path;

/// Levels of directories under the data dir brought to the modes at start-up, at most (the venue's own tree is
/// three deep: `data/sessions/blobs`).
pub const TREE_DEPTH_MAX: usize = 8;

/// The mode of a directory holding files of `file_mode`: an execute (search) bit wherever there is a read bit.
pub fn dir_mode(file_mode: u32) -> u32 {
    file_mode | ((file_mode & 0o444) >> 2)
}

/// Sets the process umask so that nothing created from now on is more open than `file_mode` (files) and
/// [`dir_mode`] (directories). Process-wide: call it once, before the first thread opens a file.
#[cfg(unix)]
pub fn restrict_umask(file_mode: u32) {
    use rustix::fs::Mode;
    rustix::process::umask(Mode::from_raw_mode(!dir_mode(file_mode) & 0o777));
}

#[cfg(not(unix))]
pub fn restrict_umask(_file_mode: u32) {}

/// Creates `data_dir` (and its parents) if needed, then sets the mode of it and of every directory and file under
/// it (symbolic links are left alone, and not followed).
#[cfg(unix)]
pub fn secure_data_dir(data_dir: &Path, file_mode: u32) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode(file_mode))
        .create(data_dir)?;
    secure_tree(data_dir, file_mode, 0)
}

#[cfg(not(unix))]
pub fn secure_data_dir(data_dir: &Path, _file_mode: u32) -> io::Result<()> {
    std::fs::create_dir_all(data_dir)
}

#[cfg(unix)]
fn secure_tree(dir: &Path, file_mode: u32, depth: usize) -> io::Result<()> {
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, Permissions::from_mode(dir_mode(file_mode)))?;
    if depth >= TREE_DEPTH_MAX {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            secure_tree(&entry.path(), file_mode, depth + 1)?;
        } else if kind.is_file() {
            std::fs::set_permissions(entry.path(), Permissions::from_mode(file_mode))?;
        }
    }
    Ok(())
}

/// Creates (or truncates) `path` for writing with mode `file_mode`; an existing file is brought to that mode.
pub fn create_private(path: &Path, file_mode: u32) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(file_mode);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(file_mode))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        let _ = file_mode;
        options.open(path)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn directory_modes_follow_the_file_mode() {
        assert_eq!(dir_mode(0o600), 0o700);
        assert_eq!(dir_mode(0o640), 0o750);
        assert_eq!(dir_mode(0o660), 0o770);
    }

    #[test]
    fn an_existing_tree_is_brought_to_the_modes_and_links_are_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let deep = data.join("sessions").join("blobs");
        std::fs::create_dir_all(&deep).unwrap();
        let files = [data.join("journal.seg"), deep.join("1")];
        for f in &files {
            std::fs::write(f, b"x").unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"x").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, data.join("link")).unwrap();

        secure_data_dir(&data, 0o600).unwrap();
        for dir in [&data, &data.join("sessions"), &deep] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        assert_eq!(mode(&outside), 0o644, "a link's target is not touched");

        secure_data_dir(&data, 0o640).unwrap();
        assert_eq!((mode(&deep), mode(&files[1])), (0o750, 0o640));
    }

    #[test]
    fn an_export_file_is_created_private_and_an_existing_one_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("log.txt");
        create_private(&path, 0o600).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&path, 0o600).unwrap();
        assert_eq!(mode(&path), 0o600);
    }
}
