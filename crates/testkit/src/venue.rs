//! The venue launcher the integration tests share: the real `fixvenue` binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `fixvenue` binary of this build: `FIXVENUE_BIN` when set, else `fixvenue` in the target directory this test
/// runs from. Cargo builds it before the venue package's own integration tests run (it is their
/// `CARGO_BIN_EXE_fixvenue`), and `cargo test --workspace --all-targets` builds it before any test runs.
pub fn venue_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FIXVENUE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> -> target/<profile>/fixvenue
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| {
            dir.join("fixvenue")
                .with_extension(std::env::consts::EXE_EXTENSION)
        })
        .expect("a target directory");
    assert!(
        path.is_file(),
        "{} is missing: build the venue first (`cargo build --bin fixvenue`) or set FIXVENUE_BIN",
        path.display()
    );
    path
}

/// Starts `fixvenue serve` on a session file and data directory (its admin server on a free loopback port, so
/// that venues run side by side) and returns the process, the plain port it reports listening on and the admin
/// server's port. The venue's output keeps being drained so that it never blocks on a full pipe.
fn start_venue(cfg: &Path, data: &Path, extra: &[&std::ffi::OsStr]) -> (Child, u16, u16) {
    let mut child = Command::new(venue_binary())
        .args(["serve", "--admin-addr", "127.0.0.1:0", "--sessions"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fixvenue");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let port_after = |line: &str, marker: &str| {
        let at = line.find(marker)? + marker.len();
        let addr: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect();
        addr.rsplit(':').next()?.parse::<u16>().ok()
    };
    let (mut port, mut admin_port) = (None, None);
    while port.is_none() || admin_port.is_none() {
        let line = lines
            .next()
            .expect("venue output")
            .expect("venue output line");
        port = port.or_else(|| port_after(&line, "listening on "));
        admin_port = admin_port.or_else(|| port_after(&line, "admin server on http://"));
    }
    std::thread::spawn(move || for _ in lines {});
    (
        child,
        port.expect("a port"),
        admin_port.expect("an admin port"),
    )
}

/// A venue process that is killed (SIGKILL) and reaped when dropped, so a failing test leaves nothing behind.
pub struct VenueProcess {
    pub child: Child,
    pub port: u16,
    /// The admin HTTP server's port (on 127.0.0.1).
    pub admin_port: u16,
}

impl VenueProcess {
    /// `fixvenue serve` on this session file and data directory, its plain port read from its output.
    pub fn start(cfg: &Path, data: &Path) -> VenueProcess {
        VenueProcess::start_with(cfg, data, &[])
    }

    /// [`VenueProcess::start`] with more arguments for `serve` (`--venue FILE`, `--log-format json`).
    pub fn start_with(cfg: &Path, data: &Path, extra: &[&std::ffi::OsStr]) -> VenueProcess {
        let (child, port, admin_port) = start_venue(cfg, data, extra);
        VenueProcess {
            child,
            port,
            admin_port,
        }
    }

    /// Sends `signal` (`TERM`, `KILL`) without waiting for the process to end.
    pub fn signal(&mut self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to end; returns its exit status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for the venue")
    }

    /// Sends `signal` (`TERM`, `KILL`) and waits for the process to end; returns its exit status.
    pub fn stop(&mut self, signal: &str) -> std::process::ExitStatus {
        self.signal(signal);
        self.wait()
    }
}

impl Drop for VenueProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
