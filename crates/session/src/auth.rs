//! Logon authentication: Username (553) and Password (554) against the session's argon2 PHC hash, constant-time,
//! with a lock-out after repeated failures.
//!
//! Pure apart from the CPU argon2 spends; the caller passes the time. Passwords are never logged or kept.

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use chrono::{DateTime, TimeDelta, Utc};
use subtle::ConstantTimeEq;

use super::config::SessionConfig;

/// Failed Logons in a row before the session is locked out.
pub const LOGON_FAILURES_MAX: u32 = 5;
/// How long a lock-out lasts, in seconds.
pub const LOCKOUT_S: i64 = 300;
/// Longest Username or Password considered (anything longer fails without hashing).
pub const CREDENTIAL_BYTES_MAX: usize = 256;

/// Failures so far; lives as long as the session, across connections, and (through the store) across restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthState {
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
}

/// The outcome of one Logon's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    Accepted,
    Refused,
    LockedOut,
}

impl AuthState {
    /// The state as the store kept it; a count above [`LOGON_FAILURES_MAX`] is read as that.
    pub fn restored(failures: u32, locked_until: Option<DateTime<Utc>>) -> AuthState {
        AuthState {
            failures: failures.min(LOGON_FAILURES_MAX),
            locked_until,
        }
    }

    /// Failed Logons in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the current lock-out ends, if the session is (or was last) locked out.
    pub fn locked_until(&self) -> Option<DateTime<Utc>> {
        self.locked_until
    }

    /// Checks the credentials of a Logon. A session without a PasswordHash accepts any Logon (its CompIDs and,
    /// where configured, its network address and client certificate identify it).
    pub fn check(
        &mut self,
        config: &SessionConfig,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> AuthOutcome {
        let Some(hash) = config.password_hash.as_deref() else {
            return AuthOutcome::Accepted;
        };
        if let Some(until) = self.locked_until {
            if now < until {
                return AuthOutcome::LockedOut;
            }
            self.locked_until = None;
            self.failures = 0;
        }
        let expected_user = config.username.as_deref().unwrap_or("").as_bytes();
        let user_ok = constant_time_eq(username.unwrap_or(b""), expected_user);
        // The hash is verified even when the username is wrong, so the time taken does not tell which was.
        let password_ok = verify(hash, password.unwrap_or(b""));
        if user_ok && password_ok && username.is_some() && password.is_some() {
            self.failures = 0;
            return AuthOutcome::Accepted;
        }
        self.failures = (self.failures + 1).min(LOGON_FAILURES_MAX);
        if self.failures >= LOGON_FAILURES_MAX {
            self.locked_until = Some(now + TimeDelta::seconds(LOCKOUT_S));
        }
        AuthOutcome::Refused
    }
}

fn verify(hash: &str, password: &[u8]) -> bool {
    if password.len() > CREDENTIAL_BYTES_MAX {
        return false;
    }
    match PasswordHash::new(hash) {
        // argon2 compares the computed and stored outputs in constant time.
        Ok(parsed) => Argon2::default().verify_password(password, &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.len() > CREDENTIAL_BYTES_MAX {
        return false;
    }
    a.ct_eq(b).into()
}

/// Hashes a password into an argon2id PHC string (`fixvenue hash-password`) with the caller's salt: the caller
/// draws it from the operating system's random source (this crate draws no randomness).
pub fn hash_password(
    password: &[u8],
    salt: &argon2::password_hash::SaltString,
) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::PasswordHasher;
    Ok(Argon2::default().hash_password(password, salt)?.to_string())
}

/// A hash with the smallest argon2 cost, so that tests run fast in debug builds.
#[cfg(test)]
pub fn cheap_hash(password: &[u8]) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None).expect("valid params");
    let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"fixvenue-test-salt").expect("salt");
    argon
        .hash_password(password, &salt)
        .expect("hash")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn config(hash: &str) -> SessionConfig {
        let text = format!(
            "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=V\nNonStopSession=Y\n[SESSION]\nTargetCompID=C\n\
             Username=alice\nPasswordHash={hash}\n"
        );
        parse("t.cfg", &text).unwrap().sessions.remove(0)
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn accepts_the_right_password_and_locks_out_after_failures() {
        let config = config(&cheap_hash(b"s3cret"));
        let mut auth = AuthState::default();
        assert_eq!(
            auth.check(&config, Some(b"alice"), Some(b"s3cret"), now()),
            AuthOutcome::Accepted
        );
        assert_eq!(
            auth.check(&config, Some(b"bob"), Some(b"s3cret"), now()),
            AuthOutcome::Refused
        );
        assert_eq!(
            auth.check(&config, Some(b"alice"), None, now()),
            AuthOutcome::Refused
        );
        for _ in 2..LOGON_FAILURES_MAX {
            assert_eq!(
                auth.check(&config, Some(b"alice"), Some(b"x"), now()),
                AuthOutcome::Refused
            );
        }
        // Locked: even the right password is refused until the lock-out ends.
        assert_eq!(
            auth.check(&config, Some(b"alice"), Some(b"s3cret"), now()),
            AuthOutcome::LockedOut
        );
        let later = now() + TimeDelta::seconds(LOCKOUT_S);
        assert_eq!(
            auth.check(&config, Some(b"alice"), Some(b"s3cret"), later),
            AuthOutcome::Accepted
        );
    }

    #[test]
    fn a_restored_lock_out_holds_until_it_ends() {
        let config = config(&cheap_hash(b"s3cret"));
        let until = now() + TimeDelta::seconds(100);
        let mut auth = AuthState::restored(LOGON_FAILURES_MAX + 7, Some(until));
        assert_eq!(auth.failures(), LOGON_FAILURES_MAX);
        assert_eq!(
            auth.check(&config, Some(b"alice"), Some(b"s3cret"), now()),
            AuthOutcome::LockedOut
        );
        assert_eq!(
            auth.check(&config, Some(b"alice"), Some(b"s3cret"), until),
            AuthOutcome::Accepted
        );
        assert_eq!(auth, AuthState::default());
    }

    #[test]
    fn a_session_without_a_hash_accepts_any_logon() {
        let mut c = config(&cheap_hash(b"x"));
        c.password_hash = None;
        assert_eq!(
            AuthState::default().check(&c, None, None, now()),
            AuthOutcome::Accepted
        );
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
