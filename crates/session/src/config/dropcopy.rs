//! The scope of a drop-copy session (`SessionRole=dropcopy`): `DropCopyAccounts` (a comma-separated list of
//! account names, or `*` for every account of the venue) and `DropCopySessions` (a comma-separated list of the
//! client CompIDs, TargetCompID, of trading sessions: a CompID names every trading session with that client
//! CompID). The session receives a copy of every ExecutionReport whose order's account is in the first or whose
//! originating session is in the second.
//!
//! Checked here, per session: the keys belong to drop-copy sessions only, a drop-copy session has at least one,
//! names are well formed and not repeated, `*` stands alone. Checked across every configured session by
//! [`check_drop_copy`] (the files of a venue together): each account is one a trading session may trade
//! (`Accounts`), each CompID a trading session's client CompID.

use super::{ACCOUNT_BYTES_MAX, ConfigError, Reader, Role, SessionConfig, err};

/// Most names one drop-copy key may list.
pub const DROP_COPY_NAMES_MAX: usize = 1_024;

/// What a drop-copy session receives copies of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCopyScope {
    /// `DropCopyAccounts=*`: every account of the venue.
    pub all_accounts: bool,
    /// `DropCopyAccounts`: account names.
    pub accounts: Vec<String>,
    /// `DropCopySessions`: client CompIDs of trading sessions.
    pub sessions: Vec<String>,
}

/// The drop-copy keys of one `[SESSION]`: `None` for a session of another role (which may not have them).
pub(super) fn scope(r: &Reader, role: Role) -> Result<Option<DropCopyScope>, ConfigError> {
    let accounts = r.str("DropCopyAccounts").map(str::trim);
    let sessions = r.str("DropCopySessions").map(str::trim);
    if role != Role::DropCopy {
        for (key, value) in [
            ("DropCopyAccounts", accounts),
            ("DropCopySessions", sessions),
        ] {
            if value.is_some() {
                return Err(r.error(
                    key,
                    "only a drop-copy session (SessionRole=dropcopy) has it",
                ));
            }
        }
        return Ok(None);
    }
    let mut scope = DropCopyScope::default();
    if let Some(list) = accounts {
        if list == "*" {
            scope.all_accounts = true;
        } else {
            scope.accounts = names(r, "DropCopyAccounts", list, ACCOUNT_BYTES_MAX)?;
        }
    }
    if let Some(list) = sessions {
        scope.sessions = names(r, "DropCopySessions", list, super::VALUE_BYTES_MAX)?;
    }
    if !scope.all_accounts && scope.accounts.is_empty() && scope.sessions.is_empty() {
        return Err(r.error(
            "SessionRole",
            "a drop-copy session needs a scope: DropCopyAccounts (account names, or * for the whole venue) \
             and/or DropCopySessions (client CompIDs of trading sessions)",
        ));
    }
    Ok(Some(scope))
}

fn names(r: &Reader, key: &str, list: &str, max_bytes: usize) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim) {
        let valid = !name.is_empty()
            && name.len() <= max_bytes
            && name != "*"
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b'|');
        if !valid {
            return Err(r.error(
                key,
                format!(
                    "{name:?} is not a name (1 to {max_bytes} printable characters, no spaces; * only alone, in \
                     DropCopyAccounts)"
                ),
            ));
        }
        if out.iter().any(|a| a == name) {
            return Err(r.error(key, format!("{name} is listed twice")));
        }
        out.push(name.to_string());
    }
    if out.len() > DROP_COPY_NAMES_MAX {
        return Err(r.error(key, format!("at most {DROP_COPY_NAMES_MAX} names")));
    }
    Ok(out)
}

/// Checks every drop-copy session's scope against the trading sessions configured with it: an account no
/// trading session may trade, or a CompID that is no trading session's client, is an error at the drop-copy
/// session's `[SESSION]` line.
pub fn check_drop_copy(sessions: &[SessionConfig]) -> Result<(), ConfigError> {
    let trading = || sessions.iter().filter(|s| s.role == Role::Trading);
    for s in sessions {
        let Some(scope) = &s.drop_copy else {
            continue;
        };
        let (file, line) = s.origin.rsplit_once(':').unwrap_or((&s.origin, "0"));
        let line = line.parse().unwrap_or(0);
        if let Some(account) = scope
            .accounts
            .iter()
            .find(|a| !trading().any(|t| t.accounts.contains(a)))
        {
            return Err(err(
                file,
                line,
                Some("DropCopyAccounts"),
                format!(
                    "session {}: no trading session trades account {account} (see each trading session's Accounts)",
                    s.id()
                ),
            ));
        }
        if let Some(comp_id) = scope
            .sessions
            .iter()
            .find(|c| !trading().any(|t| &t.target_comp_id == *c))
        {
            return Err(err(
                file,
                line,
                Some("DropCopySessions"),
                format!(
                    "session {}: {comp_id} is not the client CompID (TargetCompID) of a trading session",
                    s.id()
                ),
            ));
        }
    }
    Ok(())
}
