//! Who may do what: every action needs `Authorization: Bearer <token>`, the token being the content of the file
//! venue.toml's `[admin] token_file` names (compared in constant time); reads are open when the server listens on
//! a loopback address and need the token otherwise. Every refusal is logged with the peer's address.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AdminState;

/// Bytes of a token file, at most.
pub const TOKEN_BYTES_MAX: u64 = 4096;
/// Bytes of a token, at least (a short token is guessable).
pub const TOKEN_BYTES_MIN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    #[error("larger than {TOKEN_BYTES_MAX} bytes")]
    TooLarge,
    #[error("the token is shorter than {TOKEN_BYTES_MIN} characters")]
    TooShort,
    #[error("the token must be printable ASCII without spaces")]
    NotPrintable,
}

/// The access rules.
#[derive(Debug)]
pub struct Auth {
    token: Option<Vec<u8>>,
    /// Reads need no token (the server listens on loopback).
    open_reads: bool,
}

impl Auth {
    pub fn new(token: Option<Vec<u8>>, open_reads: bool) -> Auth {
        Auth { token, open_reads }
    }

    /// Reads the token file: its content with surrounding whitespace trimmed, printable ASCII, long enough.
    pub fn read_token(path: &Path) -> Result<Vec<u8>, TokenError> {
        let meta = std::fs::metadata(path).map_err(TokenError::Read)?;
        if meta.len() > TOKEN_BYTES_MAX {
            return Err(TokenError::TooLarge);
        }
        let text = std::fs::read(path).map_err(TokenError::Read)?;
        let token = text.trim_ascii();
        if token.len() < TOKEN_BYTES_MIN {
            return Err(TokenError::TooShort);
        }
        if !token.iter().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable);
        }
        Ok(token.to_vec())
    }

    /// Why the request's credentials are not enough for an action, if they are not.
    fn refusal(&self, headers: &HeaderMap) -> Option<&'static str> {
        let Some(token) = &self.token else {
            return Some("no token_file is configured: actions are off");
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Some("missing Authorization header");
        };
        let Some(given) = value.as_bytes().strip_prefix(b"Bearer ") else {
            return Some("Authorization is not a Bearer token");
        };
        if given.ct_eq(token).into() {
            None
        } else {
            Some("wrong token")
        }
    }
}

fn refuse(peer: SocketAddr, req: &Request, reason: &'static str) -> Response {
    tracing::warn!(%peer, method = %req.method(), path = %req.uri().path(), "admin request refused: {reason}");
    let status = if reason.starts_with("no token_file") {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNAUTHORIZED
    };
    let mut response = (status, format!("{reason}\n")).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"fixvenue\""),
        );
    }
    response
}

/// Middleware of the actions: the token is required.
pub async fn require_token(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    match state.auth.refusal(req.headers()) {
        None => next.run(req).await,
        Some(reason) => refuse(peer, &req, reason),
    }
}

/// Middleware of the reads: open on loopback, else the token is required.
pub async fn require_read(
    State(state): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if state.auth.open_reads {
        return next.run(req).await;
    }
    match state.auth.refusal(req.headers()) {
        None => next.run(req).await,
        Some(reason) => refuse(peer, &req, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn only_the_right_bearer_token_passes() {
        let auth = Auth::new(Some(b"0123456789abcdef".to_vec()), true);
        assert_eq!(auth.refusal(&headers("Bearer 0123456789abcdef")), None);
        assert_eq!(
            auth.refusal(&headers("Bearer 0123456789abcdeg")),
            Some("wrong token")
        );
        assert_eq!(
            auth.refusal(&headers("Bearer 0123456789abcde")),
            Some("wrong token")
        );
        assert!(auth.refusal(&headers("Basic abc")).is_some());
        assert_eq!(
            auth.refusal(&HeaderMap::new()),
            Some("missing Authorization header")
        );
        let off = Auth::new(None, true);
        assert!(off.refusal(&headers("Bearer 0123456789abcdef")).is_some());
    }

    #[test]
    fn token_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "  0123456789abcdef\n").unwrap();
        assert_eq!(Auth::read_token(&path).unwrap(), b"0123456789abcdef");
        std::fs::write(&path, "short\n").unwrap();
        assert!(matches!(Auth::read_token(&path), Err(TokenError::TooShort)));
        std::fs::write(&path, "0123456789 abcdef\n").unwrap();
        assert!(matches!(
            Auth::read_token(&path),
            Err(TokenError::NotPrintable)
        ));
        assert!(matches!(
            Auth::read_token(&dir.path().join("none")),
            Err(TokenError::Read(_))
        ));
    }
}
