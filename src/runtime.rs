//! Wiring for `fixvenue serve` and `fixvenue check-config`: configuration, store, acceptor, signals.
//!
//! `serve` runs on the bundled defaults when given nothing: `sessions/default.cfg` (embedded), plain FIX on
//! 127.0.0.1:9878, TLS on 127.0.0.1:9879 with the development certificates in `certs/`, data in `./data`.
//! SIGINT or SIGTERM: every session gets a Logout, the store is flushed, and `serve` returns.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::VenueConfig;
use crate::fix::Dictionary;
use crate::net::{Bound, ServeError, Server};
use crate::session::config::{self, BUNDLED_SESSIONS_CFG, ConfigError, SessionSettings};
use crate::store::sessions::{SessionStore, StoreError};

/// The data directory when none is given.
pub const DATA_DIR_DEFAULT: &str = "data";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    SessionConfig(#[from] ConfigError),
    #[error(transparent)]
    VenueConfig(#[from] crate::config::ConfigError),
    #[error("data dictionary: {0}")]
    Dictionary(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("cannot create the data directory {path}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("tokio runtime: {0}")]
    Tokio(std::io::Error),
    #[error("session {session}: {message}")]
    Tls { session: String, message: String },
}

/// Options of `fixvenue serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Session configuration files; none: the bundled one.
    pub sessions: Vec<PathBuf>,
    pub venue: Option<PathBuf>,
    pub data_dir: PathBuf,
}

/// The session configuration: the files given (their sessions together; a CompID pair declared twice is an
/// error), or the bundled one.
pub fn load_sessions(paths: &[PathBuf]) -> Result<SessionSettings, ConfigError> {
    if paths.is_empty() {
        return config::parse("sessions/default.cfg (bundled)", BUNDLED_SESSIONS_CFG);
    }
    let mut all = SessionSettings {
        sessions: Vec::new(),
    };
    for path in paths {
        for session in config::load(path)?.sessions {
            if let Some(other) = all.sessions.iter().find(|o| o.id() == session.id()) {
                let (file, line) = session
                    .origin
                    .rsplit_once(':')
                    .unwrap_or((&session.origin, "0"));
                return Err(ConfigError {
                    file: file.to_string(),
                    line: line.parse().unwrap_or(0),
                    key: None,
                    message: format!(
                        "session {} is already declared at {}",
                        session.id(),
                        other.origin
                    ),
                });
            }
            all.sessions.push(session);
        }
    }
    Ok(all)
}

fn load_venue(path: Option<&Path>) -> Result<VenueConfig, crate::config::ConfigError> {
    match path {
        Some(p) => VenueConfig::load(p),
        None => Ok(VenueConfig::bundled()),
    }
}

/// `fixvenue check-config`: validates the session configuration (including that TLS files load) and
/// venue.toml. Returns a summary line per session.
pub fn check_config(
    sessions: &[PathBuf],
    venue: Option<&Path>,
) -> Result<Vec<String>, RuntimeError> {
    let settings = load_sessions(sessions)?;
    load_venue(venue)?;
    let mut lines = Vec::new();
    let shared =
        Arc::new(Dictionary::fix44().map_err(|e| RuntimeError::Dictionary(e.to_string()))?);
    for (i, s) in settings.sessions.iter().enumerate() {
        crate::net::session_dictionary(s, &shared)?;
        if let Some(other) = settings.sessions[..i].iter().find(|o| {
            o.accept_port != 0
                && (o.accept_address, o.accept_port) == (s.accept_address, s.accept_port)
                && o.tls != s.tls
        }) {
            return Err(RuntimeError::Serve(ServeError::MixedTls {
                addr: std::net::SocketAddr::new(s.accept_address, s.accept_port),
                a: other.id(),
                b: s.id(),
            }));
        }
        if let Some(tls) = &s.tls {
            crate::net::tls::server_config(tls).map_err(|e| RuntimeError::Tls {
                session: s.id(),
                message: e.to_string(),
            })?;
        }
        lines.push(format!(
            "{} role={:?} listen={}:{}{} auth={}",
            s.id(),
            s.role,
            s.accept_address,
            s.accept_port,
            if s.tls.is_some() { " tls" } else { "" },
            if s.password_hash.is_some() {
                "password"
            } else {
                "none"
            },
        ));
    }
    Ok(lines)
}

/// Opens the store and binds the listeners (used by `serve` and by tests that run the venue in-process).
pub async fn bind(settings: &SessionSettings, data_dir: &Path) -> Result<Server, RuntimeError> {
    std::fs::create_dir_all(data_dir).map_err(|source| RuntimeError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let dict = Arc::new(Dictionary::fix44().map_err(|e| RuntimeError::Dictionary(e.to_string()))?);
    let store = SessionStore::open(data_dir)?;
    Ok(Server::bind(settings, store, dict).await?)
}

/// `fixvenue serve`: runs until SIGINT or SIGTERM.
pub fn serve(options: &ServeOptions) -> Result<(), RuntimeError> {
    let settings = load_sessions(&options.sessions)?;
    load_venue(options.venue.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError::Tokio)?;
    runtime.block_on(async {
        let server = bind(&settings, &options.data_dir).await?;
        for Bound { addr, tls } in server.local_addrs() {
            tracing::info!("listening on {addr}{}", if tls { " (TLS)" } else { "" });
        }
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: logging every session out");
            let _ = tx.send(true);
        });
        server.run(rx).await?;
        Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("s.cfg");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn check_config_accepts_the_bundled_defaults_and_refuses_mixed_tls_and_bad_dictionaries() {
        assert_eq!(check_config(&[], None).unwrap().len(), 4);
        let dir =
            std::env::temp_dir().join(format!("fixvenue-check-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=V\nNonStopSession=Y\nSocketAcceptPort=9999\n";
        let mixed = format!(
            "{base}[SESSION]\nTargetCompID=A\n[SESSION]\nTargetCompID=B\nSocketUseSSL=Y\n\
             SocketCertificateFile=certs/server.pem\nSocketPrivateKeyFile=certs/server.key\n"
        );
        let e = check_config(&[write(&dir, &mixed)], None).unwrap_err();
        assert!(e.to_string().contains("not the same TLS settings"), "{e}");
        let bad_dict = format!(
            "{base}[SESSION]\nTargetCompID=A\nDataDictionary={}/missing.xml\n",
            dir.display()
        );
        let e = check_config(&[write(&dir, &bad_dict)], None).unwrap_err();
        assert!(e.to_string().contains("missing.xml"), "{e}");
        // Two files declaring the same session.
        let one = dir.join("one.cfg");
        std::fs::write(&one, format!("{base}[SESSION]\nTargetCompID=A\n")).unwrap();
        let e = check_config(&[one.clone(), one], None).unwrap_err();
        assert!(e.to_string().contains("already declared"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
