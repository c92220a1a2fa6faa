//! A first run from a fresh clone: the bundled defaults and configuration files work from any directory, and
//! `check-config` reports every error once, naming the file given.

use std::path::Path;
use std::process::{Command, Output};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `fixvenue ARGS` run in `cwd`.
fn fixvenue_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fixvenue"))
        .current_dir(cwd)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run fixvenue")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_bundled_defaults_load_from_another_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let output = fixvenue_in(elsewhere.path(), &["check-config"]);
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("TLSCLIENT1") && stdout.contains("configuration OK: 4 sessions"),
        "{stdout}"
    );
}

#[test]
fn relative_names_in_a_configuration_file_are_found_beside_it() {
    let config_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(config_dir.path().join("tls")).unwrap();
    for file in ["server.pem", "server.key", "ca.pem"] {
        std::fs::copy(
            Path::new(REPO).join("certs").join(file),
            config_dir.path().join("tls").join(file),
        )
        .unwrap();
    }
    let cfg = config_dir.path().join("venue.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=V\nNonStopSession=Y\n[SESSION]\nTargetCompID=T\n\
         SocketAcceptPort=0\nSocketUseSSL=Y\nSocketCertificateFile=tls/server.pem\n\
         SocketPrivateKeyFile=tls/server.key\nSocketCAFile=tls/ca.pem\nNeedClientAuth=Y\n",
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let output = fixvenue_in(
        elsewhere.path(),
        &["check-config", "--sessions", cfg.to_str().unwrap()],
    );
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn check_config_reports_every_error_once_with_the_path_given() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.cfg"),
        "[SESSION]\nTargetCompID=T\nHeartBtIntt=30\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.toml"), "instruments = 3\n").unwrap();
    let output = fixvenue_in(
        dir.path(),
        &[
            "check-config",
            "--sessions",
            "missing.cfg",
            "--sessions",
            "bad.cfg",
            "--venue",
            "other.toml",
        ],
    );
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("missing.cfg"), "{stderr}");
    assert!(stderr.contains("bad.cfg"), "{stderr}");
    assert!(stderr.contains("other.toml"), "{stderr}");
    assert!(!stderr.contains("venue.toml"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("3 configuration error(s)"), "{stderr}");

    // Two sessions in error in one file: both reported, each at its line.
    std::fs::write(
        dir.path().join("two.cfg"),
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=V\nNonStopSession=Y\n\
         [SESSION]\nTargetCompID=A\nHeartBtIntMin=abc\n[SESSION]\nTargetCompID=B\nSessionRole=nobody\n\
         [SESSION]\nTargetCompID=C\n",
    )
    .unwrap();
    let output = fixvenue_in(dir.path(), &["check-config", "--sessions", "two.cfg"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("two.cfg:7: HeartBtIntMin"), "{stderr}");
    assert!(stderr.contains("two.cfg:10: SessionRole"), "{stderr}");
    assert!(stderr.contains("2 configuration error(s)"), "{stderr}");

    let output = fixvenue_in(dir.path(), &["check-config", "--venue", "bad.toml"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("bad.toml: "), "{stderr}");
    assert!(!stderr.contains("venue.toml"), "{stderr}");
}

/// Written to a pipe, the log has no colour codes, and at info level it names each order the venue refuses.
#[test]
fn the_log_is_plain_text_in_a_pipe_and_names_refused_orders() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("s.cfg");
    std::fs::write(
        &cfg,
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nSocketAcceptAddress=127.0.0.1\n\
         SocketAcceptPort=0\nNonStopSession=Y\n[SESSION]\nTargetCompID=CLIENT1\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixvenue"))
        .args(["serve", "--admin-addr", "127.0.0.1:0", "--sessions"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start fixvenue");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let timeout = std::time::Duration::from_secs(20);
    let mut lines = Vec::new();
    let port = loop {
        let line = rx.recv_timeout(timeout).expect("a listening line");
        lines.push(line.clone());
        if let Some((_, addr)) = line.split_once("listening on 127.0.0.1:") {
            let digits: String = addr.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse::<u16>().unwrap();
        }
    };
    let mut client = testkit::blocking::Fix::new("CLIENT1");
    client.logon_reset(port);
    client.send("35=D|11=OFFTICK-1|55=ZVZZT|54=1|60=20261122-10:00:00|38=10|40=2|44=5.015|59=1|");
    let found = loop {
        match rx.recv_timeout(timeout) {
            Ok(line) => {
                let done = line.contains("order rejected") && line.contains("OFFTICK-1");
                lines.push(line);
                if done {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "no log line for the refused order: {lines:#?}");
    assert!(
        lines.iter().all(|l| !l.contains('\x1b')),
        "colour codes in a pipe: {lines:#?}"
    );
}
