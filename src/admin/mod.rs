//! The admin HTTP server (axum): health and readiness, `/metrics` in the Prometheus text format, a read-only
//! JSON API, the operator's actions, and the live page at `/` with its WebSocket.
//!
//! - [`auth`]: the bearer token (read from the file venue.toml names) and who may read without it.
//! - [`api`]: `/health`, `/ready`, `/metrics`, sessions, instruments, an account's open orders.
//! - [`actions`]: halt, resume, cancel-only, mass cancel by instrument, kill switches, logout; each goes to the
//!   gateway thread as an [`gateway::Input::Admin`] (engine commands through the sequencer: journaled, replayed)
//!   or to the session's connection.
//! - [`page`]: the live page (HTML and JavaScript built into the binary) and its WebSocket feed.
//!
//! Invariant: nothing here changes the venue except through the gateway thread's input or a session's logout
//! request; a refused request is logged with its address and reason.

pub mod actions;
pub mod api;
pub mod auth;
pub mod page;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use crossbeam_channel::Sender;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;
use gateway::Input;

/// Where the admin server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminListen {
    /// venue.toml's `[admin] address` (the default 127.0.0.1:9880 when it says nothing).
    Configured,
    /// This address (`serve --admin-addr`), with venue.toml's token file.
    At(std::net::SocketAddr),
    Off,
}

/// What the handlers share.
pub struct AdminState {
    pub metrics: Arc<Metrics>,
    pub registry: prometheus_client::registry::Registry,
    pub auth: auth::Auth,
    /// The gateway thread's input, for the operator's commands.
    pub gateway: Sender<Input>,
}

/// Why the admin server did not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin server: cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("admin server: token file {path}")]
    Token {
        path: String,
        source: auth::TokenError,
    },
}

/// The admin server, bound.
pub struct AdminServer {
    pub addr: SocketAddr,
    listener: TcpListener,
    router: Router,
}

impl AdminServer {
    /// Binds `addr` (port 0: a free one).
    pub async fn bind(addr: SocketAddr, state: AdminState) -> Result<AdminServer, AdminError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AdminError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| AdminError::Bind { addr, source })?;
        Ok(AdminServer {
            addr,
            listener,
            router: router(Arc::new(state)),
        })
    }

    /// Serves until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(self.listener, service)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("admin server stopped: {e}");
        }
    }
}

fn router(state: Arc<AdminState>) -> Router {
    let reads = Router::new()
        .route("/metrics", get(api::metrics))
        .route("/api/sessions", get(api::sessions))
        .route("/api/instruments", get(api::instruments))
        .route("/api/accounts/{account}/orders", get(api::open_orders))
        .route("/", get(page::index))
        .route("/ws", get(page::websocket))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_read,
        ));
    let actions = Router::new()
        .route(
            "/api/instruments/{symbol}/{action}",
            post(actions::instrument),
        )
        .route("/api/accounts/{account}/{action}", post(actions::account))
        .route("/api/sessions/{session}/{action}", post(actions::session))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(api::health))
        .route("/ready", get(api::ready))
        .merge(reads)
        .merge(actions)
        .with_state(state)
}
