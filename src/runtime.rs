//! Wiring for `fixvenue serve` and `fixvenue check-config`: configuration, store, acceptor, signals.
//!
//! `serve` runs on the bundled defaults when given nothing: `sessions/default.cfg` (embedded), plain FIX on
//! 127.0.0.1:9878, TLS on 127.0.0.1:9879 with the development certificates in `certs/`, data in `./data`
//! (`data/journal` for the journal, `data/sessions` for sled).
//!
//! Start-up ([`start`]): configuration, the session store, the journal replayed into a fresh engine and the
//! gateway (which rebuilds its ClOrdID maps from the journaled origins), the trade log checked against the
//! replay (a missing tail is appended; any difference refuses to start), then the sequencer, the gateway thread
//! and the listeners. SIGINT or SIGTERM: every session gets a Logout, cancel-on-disconnect runs, every submitted
//! command is released and reported, the sequencer commits, the store is flushed, and `serve` returns.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

pub use crate::admin::AdminListen;
use crate::indexer::{self, IndexError, SessionLogging};
use crate::net::tls::TlsError;
use crate::net::{Bound, ServeError, Server};
use engine::{Engine, EngineConfigError};
use fix::Dictionary;
use fix::dictionary::DictionaryError;
use gateway::app::GatewayApp;
use gateway::{Gateway, GatewayError, GatewayThread, Market, SessionInfo};
use journal::journal::JournalOptions;
use journal::sequencer::{
    RecoverError, Sequencer, SequencerConfig, SequencerError, recover, system_clock,
};
use session::app::NotAvailable;
use session::config::{self, BUNDLED_SESSIONS_CFG, ConfigError, SessionSettings};
use store::db::{Db, OpenError, WriteError};
use store::sessions::SessionStore;
use store::trades::{TradeCheckError, TradeLog};
use venue_config::VenueConfig;

/// The data directory when none is given.
pub const DATA_DIR_DEFAULT: &str = "data";

/// Why the venue did not start, or stopped with an error. `main` prints it with its chain of sources.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    SessionConfig(#[from] ConfigError),
    #[error("{path}:0: cannot read")]
    SessionsFile {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    VenueConfig(#[from] venue_config::ConfigError),
    #[error("data dictionary")]
    Dictionary(#[source] DictionaryError),
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error(transparent)]
    StoreFlush(#[from] WriteError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    SessionLog(#[from] IndexError),
    #[error("rebuilding reports from the journal")]
    Rebuild(#[source] crate::net::SendError),
    #[error("cannot create or make private the data directory {path}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("tokio runtime: {0}")]
    Tokio(std::io::Error),
    #[error("registering for SIGINT and SIGTERM: {0}")]
    Signals(std::io::Error),
    #[error("session {session}")]
    Tls { session: String, source: TlsError },
    #[error("engine configuration")]
    Engine(#[source] EngineConfigError),
    #[error("trade log")]
    TradeLog(#[source] TradeCheckError),
    // Not sources: these errors' messages repeat their own sources, which a chain would print twice (see
    // `TlsError::Rustls`); the message carries them instead.
    #[error("journal: {0}")]
    Journal(RecoverError),
    #[error("sequencer: {0}")]
    Sequencer(SequencerError),
    #[error("gateway")]
    Gateway(#[source] GatewayError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// A task or thread of the venue panicked or was cancelled.
    #[error("{task}")]
    Task {
        task: &'static str,
        source: tokio::task::JoinError,
    },
}

/// A [`RuntimeError::Task`] naming the part of the venue that ran in the task.
fn task_failed(task: &'static str) -> impl FnOnce(tokio::task::JoinError) -> RuntimeError {
    move |source| RuntimeError::Task { task, source }
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
/// error, and drop-copy scopes are checked against the trading sessions of all of them), or the bundled one.
///
/// A relative file name in a session (SocketCertificateFile, SocketPrivateKeyFile, SocketCAFile, DataDictionary)
/// is found beside the file that names it, so `serve` works from any directory; a name found only relative to the
/// working directory (QuickFIX's rule) is still taken from there. The bundled configuration's names are relative
/// to the repository it was built from, where its development certificates are.
pub fn load_sessions(paths: &[PathBuf]) -> Result<SessionSettings, RuntimeError> {
    if paths.is_empty() {
        let mut settings = config::parse("sessions/default.cfg (bundled)", BUNDLED_SESSIONS_CFG)?;
        resolve_relative(&mut settings, Path::new(crate::BUNDLED_BASE_DIR));
        config::check_drop_copy(&settings.sessions)?;
        return Ok(settings);
    }
    let mut all = SessionSettings {
        sessions: Vec::new(),
    };
    for path in paths {
        for session in read_sessions(path)?.sessions {
            if let Some(other) = all.sessions.iter().find(|o| o.id() == session.id()) {
                return Err(duplicate(&session, other));
            }
            all.sessions.push(session);
        }
    }
    // Drop-copy scopes name accounts and sessions of any of the files.
    config::check_drop_copy(&all.sessions)?;
    Ok(all)
}

/// A session declared a second time, at the place of its second declaration.
fn duplicate(session: &config::SessionConfig, other: &config::SessionConfig) -> RuntimeError {
    let (file, line) = session
        .origin
        .rsplit_once(':')
        .unwrap_or((&session.origin, "0"));
    RuntimeError::SessionConfig(ConfigError {
        file: file.to_string(),
        line: line.parse().unwrap_or(0),
        key: None,
        message: format!(
            "session {} is already declared at {}",
            session.id(),
            other.origin
        ),
    })
}

/// Reads and parses one session configuration file (at most [`config::CONFIG_BYTES_MAX`]).
fn read_sessions(path: &Path) -> Result<SessionSettings, RuntimeError> {
    read_sessions_all(path).map_err(|mut errors| errors.swap_remove(0))
}

/// [`read_sessions`] going on past a session in error: every session's first error.
fn read_sessions_all(path: &Path) -> Result<SessionSettings, Vec<RuntimeError>> {
    let file = path.display().to_string();
    let unreadable = |source| {
        vec![RuntimeError::SessionsFile {
            path: file.clone(),
            source,
        }]
    };
    let len = std::fs::metadata(path).map_err(unreadable)?.len();
    if len > config::CONFIG_BYTES_MAX {
        return Err(vec![RuntimeError::SessionConfig(ConfigError {
            file: file.clone(),
            line: 0,
            key: None,
            message: format!("larger than {} bytes", config::CONFIG_BYTES_MAX),
        })]);
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let mut settings = config::parse_all(&file, &text).map_err(|errors| {
        errors
            .into_iter()
            .map(RuntimeError::SessionConfig)
            .collect::<Vec<_>>()
    })?;
    resolve_relative(&mut settings, path.parent().unwrap_or(Path::new("")));
    Ok(settings)
}

/// Makes each relative file name of the sessions relative to `base` (the configuration file's directory) unless
/// only the working directory has it.
fn resolve_relative(settings: &mut SessionSettings, base: &Path) {
    let resolve = |path: &mut PathBuf| {
        if path.is_relative() && (!path.exists() || base.join(&*path).exists()) {
            *path = base.join(&*path);
        }
    };
    for session in &mut settings.sessions {
        if let Some(dictionary) = &mut session.data_dictionary {
            resolve(dictionary);
        }
        if let Some(tls) = &mut session.tls {
            resolve(&mut tls.certificate_file);
            resolve(&mut tls.private_key_file);
            if let Some(ca) = &mut tls.ca_file {
                resolve(ca);
            }
        }
    }
}

pub fn load_venue(path: Option<&Path>) -> Result<VenueConfig, venue_config::ConfigError> {
    match path {
        Some(p) => VenueConfig::load(p),
        None => Ok(VenueConfig::bundled()),
    }
}

/// What `fixvenue check-config` found: a summary line per session, and every error, each once.
#[derive(Debug, Default)]
pub struct ConfigCheck {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
}

/// `fixvenue check-config`: validates the session configuration (including that TLS files and data dictionaries
/// load) and venue.toml, going on past an error so that one run reports them all.
pub fn check_config(sessions: &[PathBuf], venue: Option<&Path>) -> ConfigCheck {
    let mut check = ConfigCheck::default();
    let mut all: Vec<config::SessionConfig> = Vec::new();
    let files: Vec<Option<&PathBuf>> = if sessions.is_empty() {
        vec![None]
    } else {
        sessions.iter().map(Some).collect()
    };
    for file in files {
        let loaded = match file {
            None => load_sessions(&[]).map_err(|e| vec![e]),
            Some(path) => read_sessions_all(path),
        };
        match loaded {
            Ok(settings) => {
                for session in settings.sessions {
                    match all.iter().find(|o| o.id() == session.id()) {
                        Some(other) => check.errors.push(error_chain(&duplicate(&session, other))),
                        None => all.push(session),
                    }
                }
            }
            Err(errors) => check.errors.extend(errors.iter().map(|e| error_chain(e))),
        }
    }
    if let Err(e) = config::check_drop_copy(&all) {
        check
            .errors
            .push(error_chain(&RuntimeError::SessionConfig(e)));
    }
    if let Err(e) = load_venue(venue) {
        check
            .errors
            .push(error_chain(&RuntimeError::VenueConfig(e)));
    }
    let shared = match Dictionary::fix44() {
        Ok(dict) => Arc::new(dict),
        Err(e) => {
            check.errors.push(error_chain(&RuntimeError::Dictionary(e)));
            return check;
        }
    };
    for (i, s) in all.iter().enumerate() {
        if let Err(e) = check_session(s, &all[..i], &shared) {
            check.errors.push(error_chain(&e));
        }
        check.lines.push(format!(
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
    check
}

/// One session's checks beyond parsing: its dictionary and TLS files load, and no earlier session shares its
/// address with the other kind of transport.
fn check_session(
    s: &config::SessionConfig,
    earlier: &[config::SessionConfig],
    shared: &Arc<Dictionary>,
) -> Result<(), RuntimeError> {
    crate::net::session_dictionary(s, shared)?;
    if let Some(other) = earlier.iter().find(|o| {
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
        crate::net::tls::server_config(tls).map_err(|source| RuntimeError::Tls {
            session: s.id(),
            source,
        })?;
    }
    Ok(())
}

/// An error with its chain of sources, as `main` prints one: `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Opens the store and binds the listeners of the session layer alone: every application message is answered
/// with a BusinessMessageReject 380=4 (tests of the session layer; the venue itself runs [`start`]).
pub async fn bind(settings: &SessionSettings, data_dir: &Path) -> Result<Server, RuntimeError> {
    create_data_dir(data_dir, venue_config::DATA_FILE_MODE_DEFAULT)?;
    let dict = Arc::new(Dictionary::fix44().map_err(RuntimeError::Dictionary)?);
    let store = SessionStore::open(&Db::open(data_dir)?)?;
    let (logging, _) = start_session_log(&store, data_dir).await?;
    let mut apps = |_: usize, _: &config::SessionConfig| {
        Box::new(NotAvailable) as Box<dyn session::app::Application>
    };
    let server = Server::bind(
        settings,
        store,
        logging.handle(),
        logging.indexed(),
        dict,
        &mut apps,
    )
    .await?;
    // The writer and the indexer run as long as the server's handles on them: they stop with it.
    std::thread::spawn(move || {
        if let Err(e) = logging.finish() {
            tracing::error!("session log: {}", error_chain(&e));
        }
    });
    Ok(server)
}

/// Brings sled up to the session log's tail and starts the log's writer and indexer.
async fn start_session_log(
    store: &SessionStore,
    data_dir: &Path,
) -> Result<(SessionLogging, indexer::CatchUp), RuntimeError> {
    let (store, data_dir) = (store.clone(), data_dir.to_path_buf());
    let (logging, catch_up) =
        tokio::task::spawn_blocking(move || indexer::start(&store, &data_dir))
            .await
            .map_err(task_failed("session log"))??;
    tracing::info!(
        records = catch_up.records,
        last_index = catch_up.last_index,
        indexed_at_start = catch_up.indexed,
        "session log opened, sled brought up to its tail"
    );
    Ok((logging, catch_up))
}

/// Creates the data directory private (see [`crate::private`]) and brings what is already in it to `file_mode`.
fn create_data_dir(data_dir: &Path, file_mode: u32) -> Result<(), RuntimeError> {
    crate::private::secure_data_dir(data_dir, file_mode).map_err(|source| RuntimeError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })
}

/// A fresh engine and gateway for the configuration, before the journal is replayed into them (start-up, and the
/// read-only replays of [`crate::replay`] and `fixvenue verify`).
pub fn engine_and_gateway(
    settings: &SessionSettings,
    resolved: &venue_config::Resolved,
) -> Result<(Engine, Gateway), RuntimeError> {
    let engine = Engine::new(resolved.engine.clone()).map_err(RuntimeError::Engine)?;
    let market = Market {
        instruments: engine.instruments().to_vec(),
        currencies: resolved.currencies.clone(),
        accounts: resolved
            .accounts
            .iter()
            .map(|(name, id)| (name.clone(), *id))
            .collect(),
    };
    let sessions = settings
        .sessions
        .iter()
        .map(|s| SessionInfo {
            id: s.id(),
            venue_comp_id: s.sender_comp_id.clone(),
            client_comp_id: s.target_comp_id.clone(),
            accounts: s.accounts.clone(),
            dialect: gateway::Dialect {
                time_precision: s.time_precision,
                venue_extensions: s.venue_extensions,
            },
            drop_copy: s.drop_copy.clone(),
        })
        .collect();
    let boot_us = chrono::Utc::now().timestamp_micros();
    Ok((engine, Gateway::new(market, sessions, boot_us)))
}

/// The journal's directory under the data directory.
pub fn journal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// The venue, started: its listeners and the task that runs it until the shutdown signal.
pub struct Running {
    pub addrs: Vec<Bound>,
    /// The admin server's address, when it runs.
    pub admin: Option<std::net::SocketAddr>,
    /// The venue's metrics and the market view the admin server shows.
    pub metrics: Arc<crate::metrics::Metrics>,
    pub done: tokio::task::JoinHandle<Result<(), RuntimeError>>,
}

/// Starts the whole venue (see the module documentation) without the admin server, and runs it until `shutdown`
/// turns true (in-process venues of tests and benchmarks: many may run at once).
pub async fn start(
    options: &ServeOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<Running, RuntimeError> {
    start_with(options, &AdminListen::Off, shutdown).await
}

/// [`start`], with the admin server as `admin` says.
pub async fn start_with(
    options: &ServeOptions,
    admin: &AdminListen,
    shutdown: watch::Receiver<bool>,
) -> Result<Running, RuntimeError> {
    let settings = load_sessions(&options.sessions)?;
    let resolved = load_venue(options.venue.as_deref())?.resolve()?;
    create_data_dir(&options.data_dir, resolved.data_file_mode)?;
    let dict = Arc::new(Dictionary::fix44().map_err(RuntimeError::Dictionary)?);
    let db = Db::open(&options.data_dir)?;
    let store = SessionStore::open(&db)?;
    let trades = TradeLog::open(&db)?;
    let (engine, mut core) = engine_and_gateway(&settings, &resolved)?;
    // The session log first: it says through which command each session's reports are logged.
    let (logging, catch_up) = start_session_log(&store, &options.data_dir).await?;
    let marks: Vec<u64> = core
        .sessions()
        .map(|s| catch_up.reports_through.get(&s.id).copied().unwrap_or(0))
        .collect();
    // A session the log has never numbered (new in the configuration, or away since before its first message) has
    // no mark: only the commands of its current period are rebuilt for it, not the whole journal (a drop copy
    // added to a venue with history gets that period's executions, as a late joiner does).
    let since_ns: Vec<i64> = settings
        .sessions
        .iter()
        .map(|s| {
            if catch_up.numbered.contains(&s.id()) {
                i64::MIN
            } else {
                rebuild_since_ns(&s.schedule, chrono::Utc::now())
            }
        })
        .collect();
    // Which commands are built again at all: those after the lowest mark of a numbered session, and those of the
    // earliest period of a never-numbered one (the per-session test below picks each session's own).
    let rebuild_after = (0..marks.len())
        .filter(|&s| since_ns[s] == i64::MIN)
        .map(|s| marks[s])
        .min()
        .unwrap_or(u64::MAX);
    let rebuild_since = since_ns
        .iter()
        .copied()
        .filter(|&since| since != i64::MIN)
        .min()
        .unwrap_or(i64::MAX);
    // Replay: engine, gateway and trade log check in one pass over the journal.
    let journal_dir = journal_dir(&options.data_dir);
    let mut market = crate::metrics::Market::new(engine.instruments());
    let (engine, journal, core, trades, rebuilt, market) = tokio::task::spawn_blocking(move || {
        let mut check = trades.checker();
        let mut mismatch = None;
        let mut rebuilt = Vec::new();
        let mut messages = Vec::new();
        let recovered = recover(
            &journal_dir,
            JournalOptions::default(),
            engine,
            |record, origin, events| {
                market.apply(record, origin, events);
                // Reports of commands after a session's mark may never have been logged (a crash between the
                // journal's commit and the session log's): built again, PossResend=Y, same ExecIDs.
                let trades = if record.seq > rebuild_after || record.ts_ns >= rebuild_since {
                    let trades = core.replay_reports(record, origin, events, &mut messages);
                    for (session, mut msg) in messages.drain(..) {
                        if record.seq > marks[session] && record.ts_ns >= since_ns[session] {
                            msg.routing.poss_resend = true;
                            rebuilt.push((session, record.seq, msg));
                        }
                    }
                    trades
                } else {
                    core.replay(record, origin, events)
                };
                for trade in trades {
                    if mismatch.is_none()
                        && let Err(e) = check.next(&trade)
                    {
                        mismatch = Some(e);
                    }
                }
            },
        );
        let (engine, journal, recovery) = recovered.map_err(RuntimeError::Journal)?;
        if let Some(e) = mismatch {
            return Err(RuntimeError::TradeLog(e));
        }
        let report = check.finish().map_err(RuntimeError::TradeLog)?;
        tracing::info!(
            commands = journal.last_seq(),
            torn_tail = ?recovery.torn_tail,
            trades_checked = report.checked,
            trades_appended = report.appended,
            live_orders = core.live_orders(),
            "journal replayed, trade log checked"
        );
        core.resume_after(journal.last_seq());
        Ok((engine, journal, core, trades, rebuilt, market))
    })
    .await
    .map_err(task_failed("journal"))??;
    let (sequencer, released) =
        Sequencer::start(engine, journal, SequencerConfig::default(), system_clock())
            .map_err(RuntimeError::Sequencer)?;
    let (input_tx, input_rx) = gateway::input_channel();
    let mut apps = |index: usize, config: &config::SessionConfig| {
        Box::new(GatewayApp::new(index, config, input_tx.clone()))
            as Box<dyn session::app::Application>
    };
    let server = Server::bind(
        &settings,
        store.clone(),
        logging.handle(),
        logging.indexed(),
        dict,
        &mut apps,
    )
    .await?;
    let handle = server.handle();
    let session_ids: Vec<(String, String)> = core
        .sessions()
        .map(|s| (s.venue_comp_id.clone(), s.client_comp_id.clone()))
        .collect();
    deliver_rebuilt(&handle, session_ids, rebuilt).await?;
    let metrics = crate::metrics::Metrics::new(
        market,
        handle.session_stats(),
        handle.counters(),
        logging.metrics(),
    );
    let released = crate::metrics::tap_released(Arc::clone(&metrics), released);
    let admin_server =
        crate::admin::wire::bind(admin, &resolved.admin, &metrics, &handle, input_tx.clone())
            .await?;
    drop(input_tx);
    let gateway = GatewayThread::start(
        core,
        sequencer,
        released,
        input_rx,
        Box::new(server.handle()),
        trades,
    );
    let addrs = server.local_addrs();
    let stop = fail_closed(shutdown, &handle, gateway.exited(), logging.indexed());
    let admin_addr = admin_server.as_ref().map(|a| a.addr);
    if let Some(admin_server) = admin_server {
        tokio::spawn(admin_server.run(stop.clone()));
    }
    metrics
        .started
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let done = tokio::spawn(async move {
        server.run(stop).await?;
        let sequencer = tokio::task::spawn_blocking(move || gateway.stop())
            .await
            .map_err(task_failed("gateway"))?
            .map_err(RuntimeError::Gateway)?;
        tokio::task::spawn_blocking(move || sequencer.finish())
            .await
            .map_err(task_failed("sequencer"))?
            .map_err(RuntimeError::Sequencer)?;
        drop(handle);
        tokio::task::spawn_blocking(move || {
            logging.finish()?;
            store.flush().map_err(RuntimeError::from)
        })
        .await
        .map_err(task_failed("session log"))??;
        tracing::info!("venue stopped: journal and session log committed, sled flushed");
        Ok(())
    });
    Ok(Running {
        addrs,
        admin: admin_addr,
        metrics,
        done,
    })
}

/// Where the rebuild of a session never numbered starts: its current schedule period's start, or for a non-stop
/// session (or one outside its hours) the start of the current UTC day, in nanoseconds since the Unix epoch.
fn rebuild_since_ns(
    schedule: &session::config::Schedule,
    now: chrono::DateTime<chrono::Utc>,
) -> i64 {
    let day_start = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    let start_s = match session::schedule::period(schedule, now) {
        Some(period) if period.start_s > 0 => period.start_s,
        _ => day_start,
    };
    start_s.saturating_mul(1_000_000_000)
}

/// Hands the reports rebuilt from the journal to their sessions (all disconnected: nothing is accepted yet), then
/// marks them reported: each session gets them by the ordinary gap and resend at its next Logon.
async fn deliver_rebuilt(
    venue: &crate::net::VenueHandle,
    ids: Vec<(String, String)>,
    rebuilt: Vec<(usize, u64, session::app::AppMessage)>,
) -> Result<(), RuntimeError> {
    if rebuilt.is_empty() {
        return Ok(());
    }
    let venue = venue.clone();
    tokio::task::spawn_blocking(move || {
        let count = rebuilt.len();
        let mut through: Vec<u64> = vec![0; ids.len()];
        for (session, seq, msg) in rebuilt {
            let (ours, theirs) = &ids[session];
            venue.send(ours, theirs, msg).map_err(RuntimeError::Rebuild)?;
            through[session] = through[session].max(seq);
        }
        for (session, seq) in through.into_iter().enumerate() {
            if seq > 0 {
                let (ours, theirs) = &ids[session];
                venue
                    .reported_through(ours, theirs, seq)
                    .map_err(RuntimeError::Rebuild)?;
            }
        }
        tracing::warn!(
            reports = count,
            "reports of journaled commands missing from the session log rebuilt from the journal (PossResend=Y)"
        );
        Ok(())
    })
    .await
    .map_err(task_failed("report rebuild"))?
}

/// The shutdown the server runs under: the caller's, or a failure of a part the venue cannot run without (the
/// gateway thread, which stops when the sequencer or the trade log fails; the session log's indexer, which stops
/// when sled refuses a write or the session log's writer fails). A failure is said on stderr and in every
/// session's Logout, and the venue exits non-zero (the part's error comes back from [`Running::done`]).
fn fail_closed(
    mut shutdown: watch::Receiver<bool>,
    venue: &crate::net::VenueHandle,
    gateway_exited: crossbeam_channel::Receiver<()>,
    mut indexed: watch::Receiver<u64>,
) -> watch::Receiver<bool> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let venue = venue.clone();
    tokio::spawn(async move {
        let gateway = tokio::task::spawn_blocking(move || {
            let _ = gateway_exited.recv();
        });
        let failure = tokio::select! {
            _ = shutdown.wait_for(|&stop| stop) => None,
            _ = gateway => Some("the gateway stopped (the sequencer or the trade log failed)"),
            _ = async { while indexed.changed().await.is_ok() {} } => {
                Some("the session log stopped (its writer or its sled indexer failed)")
            }
        };
        if let Some(reason) = failure {
            eprintln!("fixvenue: FATAL: {reason}: logging every session out and stopping");
            tracing::error!("{reason}: logging every session out and stopping");
            venue.halt(reason.to_string());
        }
        let _ = stop_tx.send(true);
    });
    stop_rx
}

/// `fixvenue serve`: runs until SIGINT or SIGTERM, with the admin server as `admin` says.
pub fn serve(options: &ServeOptions, admin: &AdminListen) -> Result<(), RuntimeError> {
    // Before any thread or file: sled creates its files itself, so the umask is what keeps them private.
    let file_mode = load_venue(options.venue.as_deref())?.data_file_mode()?;
    crate::private::restrict_umask(file_mode);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError::Tokio)?;
    runtime.block_on(async {
        // Registered before the listeners open: a client that sees "listening on" and sends SIGTERM at once
        // must get its Logout, not the default action of the signal.
        let signals = Signals::register().map_err(RuntimeError::Signals)?;
        let (tx, rx) = watch::channel(false);
        let running = start_with(options, admin, rx).await?;
        banner(options, &running);
        tokio::spawn(async move {
            signals.wait().await;
            tracing::info!("shutdown requested: logging every session out");
            let _ = tx.send(true);
        });
        running.done.await.map_err(task_failed("gateway"))?
    })
}

/// Sessions named one by one in the start-up banner, at most.
const BANNER_SESSIONS_MAX: usize = 10;

/// The start-up banner: versions, listeners, sessions, data directory, admin server.
fn banner(options: &ServeOptions, running: &Running) {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        fix = "FIX.4.4",
        "fixvenue {} started",
        env!("CARGO_PKG_VERSION")
    );
    for Bound { addr, tls } in &running.addrs {
        tracing::info!("listening on {addr}{}", if *tls { " (TLS)" } else { "" });
    }
    let sessions = &running.metrics.sessions;
    let named: Vec<&str> = sessions
        .iter()
        .take(BANNER_SESSIONS_MAX)
        .map(|s| s.id.as_str())
        .collect();
    let more = sessions.len().saturating_sub(BANNER_SESSIONS_MAX);
    tracing::info!(
        sessions = sessions.len(),
        "sessions: {}{}",
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
    tracing::info!(data_dir = %options.data_dir.display(), "data directory");
    match running.admin {
        Some(addr) => tracing::info!(%addr, "admin server on http://{addr}/ (metrics at /metrics)"),
        None => tracing::info!("admin server off"),
    }
}

/// SIGINT and SIGTERM, registered with the operating system when made.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
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
        let bundled = check_config(&[], None);
        assert_eq!(
            (bundled.lines.len(), bundled.errors.len()),
            (4, 0),
            "{bundled:?}"
        );
        let dir =
            std::env::temp_dir().join(format!("fixvenue-check-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let base = "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=V\nNonStopSession=Y\nSocketAcceptPort=9999\n";
        let mixed = format!(
            "{base}[SESSION]\nTargetCompID=A\n[SESSION]\nTargetCompID=B\nSocketUseSSL=Y\n\
             SocketCertificateFile=certs/server.pem\nSocketPrivateKeyFile=certs/server.key\n"
        );
        let e = check_config(&[write(&dir, &mixed)], None).errors.join("\n");
        assert!(e.contains("not the same TLS settings"), "{e}");
        let bad_dict = format!(
            "{base}[SESSION]\nTargetCompID=A\nDataDictionary={}/missing.xml\n",
            dir.display()
        );
        let e = check_config(&[write(&dir, &bad_dict)], None)
            .errors
            .join("\n");
        assert!(e.contains("missing.xml"), "{e}");
        // Two files declaring the same session.
        let one = dir.join("one.cfg");
        std::fs::write(&one, format!("{base}[SESSION]\nTargetCompID=A\n")).unwrap();
        let e = check_config(&[one.clone(), one.clone()], None)
            .errors
            .join("\n");
        assert!(e.contains("already declared"), "{e}");
        // A drop copy's scope is checked against the trading sessions of every file: found in another file,
        // refused when no file has it (by check-config and by serve's loading alike).
        let dc = dir.join("dc.cfg");
        std::fs::write(
            &dc,
            format!("{base}[SESSION]\nTargetCompID=DC\nSessionRole=dropcopy\nDropCopySessions=A\n"),
        )
        .unwrap();
        let both = [one, dc.clone()];
        assert_eq!(check_config(&both, None).errors, Vec::<String>::new());
        load_sessions(&both).unwrap();
        let e = check_config(std::slice::from_ref(&dc), None)
            .errors
            .join("\n");
        assert!(
            e.contains("DropCopySessions") && e.contains("not the client CompID"),
            "{e}"
        );
        let e = load_sessions(&[dc]).unwrap_err().to_string();
        assert!(e.contains("DropCopySessions"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
