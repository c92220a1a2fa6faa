//! The operator's actions (token required), each answered with JSON `{ "ok": ..., "text": ..., "seq": ... }`:
//!
//! - `POST /api/instruments/{symbol}/{halt|resume|cancel-only|post-only|mass-cancel}`: an engine command
//!   through the gateway thread and the sequencer (journaled, replayed, reported to the owners of canceled orders).
//! - `POST /api/accounts/{account}/{kill|release}` and `POST /api/sessions/{session}/{kill|release|logout}`: a
//!   kill switch cancels the target's live orders and refuses its new orders until released; a logout sends the
//!   session a Logout. A session is named by its id (`FIX.4.4:FIXVENUE->CLIENT1`) or its client's CompID.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use crossbeam_channel::TrySendError;

use super::AdminState;
use engine::TradingStatus;
use gateway::{AdminCommand, AdminDone, Input, KillTarget};

/// How long an action waits for the gateway thread to take it.
pub const GATEWAY_WAIT: Duration = Duration::from_secs(5);

/// Why the gateway thread did not carry out a command.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("{0}")]
    Refused(String),
    #[error("the gateway's input is full; try again")]
    Busy,
    #[error("the gateway thread has stopped")]
    Stopped,
    #[error("the gateway thread did not answer within {0:?}")]
    Timeout(Duration),
}

/// Hands `command` to the gateway thread, waits (off the async workers) for its answer and, when it submitted a
/// command, until that command is released (durable and applied), so that an answered action has taken effect.
pub async fn act(
    state: &AdminState,
    command: AdminCommand,
    wait: Duration,
) -> Result<AdminDone, AskError> {
    let done = ask_gateway(state, command, wait).await?;
    let Some(seq) = done.seq else {
        return Ok(done);
    };
    let mut changes = state.metrics.changes.subscribe();
    let released = async {
        loop {
            if state.metrics.market.lock().expect("market lock").last_seq >= seq {
                return true;
            }
            if changes.changed().await.is_err() {
                return false;
            }
        }
    };
    match tokio::time::timeout(wait, released).await {
        Ok(true) => Ok(done),
        Ok(false) => Err(AskError::Stopped),
        Err(_) => Err(AskError::Timeout(wait)),
    }
}

/// Hands `command` to the gateway thread and waits (off the async workers) for its answer.
pub async fn ask_gateway(
    state: &AdminState,
    command: AdminCommand,
    wait: Duration,
) -> Result<AdminDone, AskError> {
    let (reply, answer) = crossbeam_channel::bounded(1);
    match state.gateway.try_send(Input::Admin { command, reply }) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => return Err(AskError::Busy),
        Err(TrySendError::Disconnected(_)) => return Err(AskError::Stopped),
    }
    let answered = tokio::task::spawn_blocking(move || answer.recv_timeout(wait))
        .await
        .map_err(|_| AskError::Stopped)?;
    match answered {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(text)) => Err(AskError::Refused(text)),
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(AskError::Timeout(wait)),
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(AskError::Stopped),
    }
}

fn answer(peer: std::net::SocketAddr, what: &str, result: Result<AdminDone, AskError>) -> Response {
    match result {
        Ok(done) => {
            tracing::info!(%peer, "admin action {what}: {}", done.text);
            Json(serde_json::json!({ "ok": true, "text": done.text, "seq": done.seq }))
                .into_response()
        }
        Err(e) => {
            tracing::warn!(%peer, "admin action {what} refused: {e}");
            let status = match e {
                AskError::Refused(_) => StatusCode::NOT_FOUND,
                AskError::Busy | AskError::Stopped | AskError::Timeout(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            };
            (
                status,
                Json(serde_json::json!({ "ok": false, "text": e.to_string() })),
            )
                .into_response()
        }
    }
}

fn unknown_action(action: &str, allowed: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({
            "ok": false,
            "text": format!("unknown action {action:?}: one of {allowed}"),
        })),
    )
        .into_response()
}

fn too_long(what: &str, value: &str) -> Option<Response> {
    (value.len() > fix::limits::SYMBOL_BYTES_MAX.max(fix::limits::ACCOUNT_BYTES_MAX) + 64).then(
        || {
            (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "ok": false, "text": format!("{what} too long") })),
            )
                .into_response()
        },
    )
}

/// `POST /api/instruments/{symbol}/{action}`.
pub async fn instrument(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path((symbol, action)): Path<(String, String)>,
) -> Response {
    if let Some(r) = too_long("symbol", &symbol) {
        return r;
    }
    let status = |status| AdminCommand::SetStatus {
        symbol: symbol.clone(),
        status,
    };
    let command = match action.as_str() {
        "halt" => status(TradingStatus::Halted),
        "resume" => status(TradingStatus::Open),
        "cancel-only" => status(TradingStatus::CancelOnly),
        "post-only" => status(TradingStatus::PostOnly),
        "mass-cancel" => AdminCommand::MassCancelInstrument {
            symbol: symbol.clone(),
        },
        _ => return unknown_action(&action, "halt, resume, cancel-only, post-only, mass-cancel"),
    };
    let what = format!("{action} {symbol}");
    answer(peer, &what, act(&state, command, GATEWAY_WAIT).await)
}

/// `POST /api/accounts/{account}/{kill|release}`.
pub async fn account(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path((account, action)): Path<(String, String)>,
) -> Response {
    if let Some(r) = too_long("account", &account) {
        return r;
    }
    let engaged = match action.as_str() {
        "kill" => true,
        "release" => false,
        _ => return unknown_action(&action, "kill, release"),
    };
    let command = AdminCommand::Kill {
        target: KillTarget::Account(account.clone()),
        engaged,
    };
    let what = format!("{action} account {account}");
    answer(peer, &what, act(&state, command, GATEWAY_WAIT).await)
}

/// `POST /api/sessions/{session}/{kill|release|logout}`.
pub async fn session(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Path((session, action)): Path<(String, String)>,
) -> Response {
    if let Some(r) = too_long("session", &session) {
        return r;
    }
    let matches: Vec<_> = state
        .metrics
        .sessions
        .iter()
        .filter(|s| s.id == session || s.client_comp_id == session)
        .collect();
    let stats = match matches.as_slice() {
        [one] => Arc::clone(one),
        [] => {
            return answer(
                peer,
                &action,
                Err(AskError::Refused(format!("unknown session {session}"))),
            );
        }
        _ => {
            let text = format!("{session} names several sessions: use the session id");
            return answer(peer, &action, Err(AskError::Refused(text)));
        }
    };
    let what = format!("{action} session {}", stats.id);
    let engaged = match action.as_str() {
        "kill" => true,
        "release" => false,
        "logout" => {
            let result = if stats.request_logout("Logged out by the venue operator".into()) {
                Ok(AdminDone {
                    seq: None,
                    text: format!("Logout requested for {}", stats.id),
                })
            } else {
                Err(AskError::Refused(format!(
                    "session {} is not connected",
                    stats.id
                )))
            };
            return answer(peer, &what, result);
        }
        _ => return unknown_action(&action, "kill, release, logout"),
    };
    let command = AdminCommand::Kill {
        target: KillTarget::Session(stats.id.clone()),
        engaged,
    };
    answer(peer, &what, act(&state, command, GATEWAY_WAIT).await)
}
