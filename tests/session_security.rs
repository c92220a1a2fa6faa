//! The security promises over loopback: a refused Logon leaves the session's sequence numbers untouched (and is
//! kept in the compliance log), a lockout survives a restart of the real binary, client certificates are bound
//! to their sessions, AllowedRemoteAddresses holds, and the data files and exports are private.

use std::path::Path;

use fixvenue::query::{Direction, Logged};
use session::auth::LOGON_FAILURES_MAX;
use store::db::Db;
use store::sessions::SessionStore;
use testkit::blocking::Fix;
use testkit::venue::VenueProcess;
use testkit::{Client, Endpoint};

mod support;
use support::{ANSWER_WAIT, Venue, connect, recv};

fn sessions_cfg() -> String {
    support::client1_with_password_cfg()
}

async fn start(data: &Path) -> Venue {
    Venue::start("security.cfg", &sessions_cfg(), data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logons_leave_the_sequence_numbers_untouched() {
    let data = tempfile::tempdir().unwrap();
    let venue = start(data.path()).await;
    // The real client logs on (venue's 1) and out (venue's 2): both sides expect 3 next.
    let mut c = connect(venue.port, 1).await;
    c.send("35=A|98=0|108=30|553=alice|554=s3cret|")
        .await
        .unwrap();
    assert_eq!(recv(&mut c).await.unwrap().get(34), Some("1"));
    c.send("35=5|").await.unwrap();
    assert_eq!(recv(&mut c).await.unwrap().get(35), Some("5"));
    assert_eq!(recv(&mut c).await, None);

    // Someone who knows the CompIDs tries two wrong passwords: each is a plain disconnect, no Logout.
    for attempt in 0..2 {
        let mut intruder = connect(venue.port, 3).await;
        intruder
            .send("35=A|98=0|108=30|553=alice|554=guess|")
            .await
            .unwrap();
        assert_eq!(recv(&mut intruder).await, None, "attempt {attempt}");
    }

    // The real client's next Logon continues at 3 on both sides, with no gap to fill.
    let mut c = connect(venue.port, 3).await;
    c.send("35=A|98=0|108=30|553=alice|554=s3cret|")
        .await
        .unwrap();
    let logon = recv(&mut c).await.unwrap();
    assert_eq!(
        (logon.get(35), logon.get(34)),
        (Some("A"), Some("3")),
        "{logon}"
    );
    c.send("35=1|112=PING|").await.unwrap();
    let heartbeat = recv(&mut c).await.unwrap();
    assert_eq!(
        (heartbeat.get(35), heartbeat.get(34), heartbeat.get(112)),
        (Some("0"), Some("4"), Some("PING")),
        "{heartbeat}"
    );
    c.send("35=5|").await.unwrap();
    assert_eq!(recv(&mut c).await.unwrap().get(35), Some("5"));
    venue.stop().await;

    // The compliance log keeps both refused Logons (password redacted), and nothing went out for them.
    let log = logged(data.path());
    let text = |r: &Logged| String::from_utf8_lossy(&r.bytes).into_owned();
    let refused: Vec<_> = log
        .iter()
        .filter(|r| r.direction == Direction::In && text(r).contains("554=***"))
        .collect();
    assert_eq!(refused.len(), 4, "two good Logons and two refused");
    assert!(log.iter().all(|r| !text(r).contains("guess")));
    let out_numbers: Vec<String> = log
        .iter()
        .filter(|r| r.direction == Direction::Out)
        .map(|r| {
            let t = text(r);
            let at = t.find("\u{1}34=").unwrap() + 4;
            t[at..].split('\u{1}').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(out_numbers, ["1", "2", "3", "4", "5"]);
}

/// A Logon with `password` on a fresh connection; returns whether the venue closed it without a word.
fn refused_silently(c: &mut Fix, port: u16, password: &str) -> bool {
    c.connect(port);
    c.send(&format!("35=A|98=0|108=30|553=alice|554={password}|"));
    let (closed, answers) = c.closed_within(ANSWER_WAIT);
    closed && answers.is_empty()
}

#[test]
fn a_restart_inside_the_lockout_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, sessions_cfg()).unwrap();
    let data = dir.path().join("data");
    let mut venue = VenueProcess::start(&cfg, &data);
    let mut c = Fix::new("CLIENT1");
    let logon = c.logon_with(venue.port, "553=alice|554=s3cret|");
    assert_eq!(logon.get(34), Some("1"), "{logon}");
    c.set_next_in(2);
    c.logout();
    for attempt in 0..LOGON_FAILURES_MAX {
        assert!(
            refused_silently(&mut c, venue.port, "guess"),
            "attempt {attempt}"
        );
    }
    // Locked out: the right password is refused too.
    assert!(refused_silently(&mut c, venue.port, "s3cret"));
    assert!(venue.stop("TERM").success());

    // A restart well inside the 300 s lock-out keeps it.
    let venue = VenueProcess::start(&cfg, &data);
    assert!(refused_silently(&mut c, venue.port, "s3cret"));
}

/// Every directory and file under `dir` with its permission bits.
#[cfg(unix)]
fn modes(dir: &Path, out: &mut Vec<(std::path::PathBuf, bool, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        out.push((
            entry.path(),
            meta.is_dir(),
            meta.permissions().mode() & 0o7777,
        ));
        if meta.is_dir() {
            modes(&entry.path(), out);
        }
    }
}

#[cfg(unix)]
#[test]
fn data_files_and_exports_are_private_after_a_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sessions.cfg");
    std::fs::write(&cfg, sessions_cfg()).unwrap();
    let data = dir.path().join("data");
    let mut venue = VenueProcess::start(&cfg, &data);
    let mut c = Fix::new("CLIENT1");
    c.logon_with(venue.port, "553=alice|554=s3cret|");
    c.set_next_in(2);
    c.send("35=D|11=A|1=CLIENT1|55=ZVZZT|54=1|60=20270101-00:00:00|40=2|38=1|44=1|");
    c.expect("35=8|11=A|");
    c.logout();
    assert!(venue.stop("TERM").success());

    let mut found = Vec::new();
    let data_meta = std::fs::metadata(&data).unwrap();
    found.push((data.clone(), true, data_meta.permissions().mode() & 0o7777));
    modes(&data, &mut found);
    assert!(
        found.iter().filter(|(_, is_dir, _)| !is_dir).count() >= 3,
        "journal and sled files: {found:?}"
    );
    for (path, is_dir, mode) in &found {
        let expected = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, expected, "{}", path.display());
    }

    for (command, file) in [("log", "log.txt"), ("trades", "trades.json")] {
        let path = dir.path().join(file);
        let status = std::process::Command::new(testkit::venue::venue_binary())
            .arg(command)
            .arg("--data-dir")
            .arg(&data)
            .arg("--output")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "{command}");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "{file}");
        if command == "log" {
            assert!(meta.len() > 0, "{file} holds the export");
        }
    }
}

/// A CA, a server certificate for localhost, and client certificates with the given common names, all from the
/// same CA, written into a temporary directory as `ca.pem`, `server.pem`/`.key` and `<CN>.pem`/`.key`.
fn certificates(client_names: &[&str]) -> tempfile::TempDir {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "security test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    write("ca.pem", ca.pem());
    let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (pem, key) = leaf(
        vec!["localhost".into()],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    write("server.pem", pem);
    write("server.key", key);
    for name in client_names {
        let (pem, key) = leaf(Vec::new(), name, ExtendedKeyUsagePurpose::ClientAuth);
        write(&format!("{name}.pem"), pem);
        write(&format!("{name}.key"), key);
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_logs_on_only_to_the_session_it_is_bound_to() {
    let certs = certificates(&["TLSC1", "SOMEONEELSE", "DESK7"]);
    let text = format!(
        "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=FIXVENUE\nNonStopSession=Y\nSocketAcceptPort=0\n\
         LogoutTimeout=1\nSocketUseSSL=Y\nSocketCertificateFile={0}/server.pem\n\
         SocketPrivateKeyFile={0}/server.key\nSocketCAFile={0}/ca.pem\nNeedClientAuth=Y\n\
         [SESSION]\nTargetCompID=TLSC1\n[SESSION]\nTargetCompID=TLSC2\nClientCertificateNames=DESK7\n",
        certs.path().display()
    );
    let data = tempfile::tempdir().unwrap();
    let venue = Venue::start("tls.cfg", &text, data.path()).await;
    let port = venue.port;
    let endpoint = |cn: &str| Endpoint {
        host: "localhost".into(),
        port,
        tls: Some(testkit::tls::ClientTls {
            ca_file: certs.path().join("ca.pem"),
            cert_file: Some(certs.path().join(format!("{cn}.pem"))),
            key_file: Some(certs.path().join(format!("{cn}.key"))),
        }),
    };
    // (client CompID, certificate CN, logs on?)
    let cases = [
        ("TLSC1", "SOMEONEELSE", false),
        ("TLSC1", "DESK7", false),
        ("TLSC1", "TLSC1", true),
        ("TLSC2", "TLSC1", false),
        ("TLSC2", "DESK7", true),
    ];
    for (comp_id, cn, logs_on) in cases {
        let mut c = Client::new(comp_id, "FIXVENUE");
        c.connect(&endpoint(cn)).await.unwrap();
        c.send("35=A|98=0|108=30|").await.unwrap();
        let answer = recv(&mut c).await;
        if logs_on {
            let logon = answer.expect("a Logon answer");
            assert_eq!(logon.get(35), Some("A"), "{comp_id} with {cn}: {logon}");
            c.send("35=5|").await.unwrap();
            assert_eq!(recv(&mut c).await.unwrap().get(35), Some("5"));
        } else {
            assert_eq!(
                answer, None,
                "{comp_id} with CN={cn} is refused without a reply"
            );
        }
    }
    venue.stop().await;

    // The refused Logons are in the compliance log; the sessions' numbers moved only for the accepted ones.
    let logons_in = logged(data.path())
        .iter()
        .filter(|r| {
            r.direction == Direction::In && String::from_utf8_lossy(&r.bytes).contains("35=A")
        })
        .count();
    let store = SessionStore::open(&Db::open(data.path()).unwrap()).unwrap();
    assert_eq!(logons_in, cases.len());
    for comp_id in ["TLSC1", "TLSC2"] {
        let seq = store
            .seqnums(&format!("FIX.4.4:FIXVENUE->{comp_id}"))
            .unwrap()
            .unwrap();
        assert_eq!((seq.next_in, seq.next_out), (3, 3), "{comp_id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logon_from_an_address_not_allowed_is_disconnected_without_a_reply() {
    let data = tempfile::tempdir().unwrap();
    let text = sessions_cfg().replace(
        "TargetCompID=CLIENT1\n",
        "TargetCompID=CLIENT1\nAllowedRemoteAddresses=10.0.0.1\n",
    );
    let venue = Venue::start("security.cfg", &text, data.path()).await;
    let mut c = connect(venue.port, 1).await;
    c.send("35=A|98=0|108=30|553=alice|554=s3cret|")
        .await
        .unwrap();
    assert_eq!(recv(&mut c).await, None);
    venue.stop().await;
    let store = SessionStore::open(&Db::open(data.path()).unwrap()).unwrap();
    assert_eq!(store.seqnums("FIX.4.4:FIXVENUE->CLIENT1").unwrap(), None);
}

/// The compliance log: every message of the session log under `data_dir`, in the order logged.
fn logged(data_dir: &std::path::Path) -> Vec<Logged> {
    fixvenue::query::messages(data_dir)
        .expect("the session log opens")
        .collect::<Result<_, _>>()
        .expect("the session log reads")
}
