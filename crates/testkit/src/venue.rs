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

/// Starts `fixvenue serve` on a session file and data directory and returns the process and the plain port it
/// reports listening on. The venue's output keeps being drained so that it never blocks on a full pipe.
fn start_venue(cfg: &Path, data: &Path) -> (Child, u16) {
    let mut child = Command::new(venue_binary())
        .args(["serve", "--sessions"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fixvenue");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("venue output")
            .expect("venue output line");
        if let Some(at) = line.find("listening on ") {
            let addr: String = line[at + 13..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            break addr
                .rsplit(':')
                .next()
                .unwrap()
                .parse::<u16>()
                .expect("a port number");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// A venue process that is killed (SIGKILL) and reaped when dropped, so a failing test leaves nothing behind.
pub struct VenueProcess {
    pub child: Child,
    pub port: u16,
}

impl VenueProcess {
    /// `fixvenue serve` on this session file and data directory, its plain port read from its output.
    pub fn start(cfg: &Path, data: &Path) -> VenueProcess {
        let (child, port) = start_venue(cfg, data);
        VenueProcess { child, port }
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
