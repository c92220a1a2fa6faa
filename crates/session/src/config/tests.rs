//! Unit tests of the session configuration reader: defaults, checks, errors with file, line and key.

use super::*;

const BASE: &str = "[DEFAULT]\nBeginString=FIX.4.4\nSenderCompID=VENUE\nNonStopSession=Y\n\
                        SocketAcceptPort=9878\n[SESSION]\nTargetCompID=CLIENT1\n";

fn parse_err(text: &str) -> ConfigError {
    parse("t.cfg", text).expect_err("must be refused")
}

#[test]
fn order_entry_keys_have_defaults_and_are_checked() {
    let s = &parse("t.cfg", BASE).unwrap().sessions[0];
    assert_eq!(s.accounts, vec!["CLIENT1".to_string()]);
    assert!(!s.cancel_on_disconnect);
    assert_eq!(s.throttle, None);
    let text = format!(
        "{BASE}Accounts=A1, A2\nCancelOnDisconnect=Y\nThrottleRate=50\nThrottleMaxRejects=7\n"
    );
    let s = &parse("t.cfg", &text).unwrap().sessions[0];
    assert_eq!(s.accounts, vec!["A1".to_string(), "A2".to_string()]);
    assert!(s.cancel_on_disconnect);
    assert_eq!(
        s.throttle,
        Some(Throttle {
            rate_per_s: 50,
            burst: 50,
            max_rejects: 7,
            cooldown_s: THROTTLE_COOLDOWN_S_DEFAULT,
        })
    );
    for bad in [
        "Accounts=A1,A1",
        "Accounts=A|B",
        "Accounts=A,,B",
        "ThrottleRate=-1",
    ] {
        let e = parse_err(&format!("{BASE}{bad}\n"));
        let key = bad.split('=').next().unwrap();
        assert_eq!(e.key.as_deref(), Some(key), "{bad}: {e}");
    }
}

#[test]
fn defaults_apply_to_a_quickfix_only_file() {
    let s = parse("t.cfg", BASE).unwrap();
    let c = &s.sessions[0];
    assert_eq!(c.id(), "FIX.4.4:VENUE->CLIENT1");
    assert_eq!(c.role, Role::Trading);
    assert_eq!(c.schedule, Schedule::NonStop);
    assert_eq!(c.max_latency_s, Some(MAX_LATENCY_S_DEFAULT));
    assert_eq!(c.validation, ValidationOptions::default());
    assert_eq!(c.password_hash, None);
    assert!(c.persist_messages);
    assert_eq!(c.origin, "t.cfg:6");
}

#[test]
fn unknown_key_names_file_line_and_suggests() {
    let e = parse_err(&format!("{BASE}HeartBtIntt=30\n"));
    assert_eq!((e.line, e.key.as_deref()), (8, Some("HeartBtIntt")));
    assert_eq!(
        e.to_string(),
        "t.cfg:8: HeartBtIntt: unknown key (did you mean HeartBtInt?)"
    );
    let e = parse_err(&format!("{BASE}SenderCompId=X\n"));
    assert!(e.to_string().contains("did you mean SenderCompID?"), "{e}");
    let e = parse_err(&format!("{BASE}Colour=blue\n"));
    assert_eq!(e.to_string(), "t.cfg:8: Colour: unknown key");
}

#[test]
fn bad_values_are_refused_with_the_key() {
    let e = parse_err(&format!("{BASE}ResetOnLogon=yes\n"));
    assert_eq!(
        e.to_string(),
        "t.cfg:8: ResetOnLogon: expected Y or N, found \"yes\""
    );
    let e = parse_err(&format!("{BASE}LogonTimeout=0\n"));
    assert!(
        e.to_string()
            .starts_with("t.cfg:8: LogonTimeout: expected a whole number"),
        "{e}"
    );
    let e = parse_err(&format!("{BASE}SessionRole=admin\n"));
    assert_eq!(e.key.as_deref(), Some("SessionRole"));
    let e = parse_err(&format!("{BASE}SocketMinimumTLSVersion=1.1\n"));
    assert_eq!(e.key.as_deref(), Some("SocketMinimumTLSVersion"));
    let e = parse_err(&BASE.replace("FIX.4.4", "FIX.4.2"));
    assert_eq!((e.line, e.key.as_deref()), (2, Some("BeginString")));
}

#[test]
fn a_comp_id_that_names_the_default_account_fits_an_account() {
    let fits = "C".repeat(ACCOUNT_BYTES_MAX);
    let s = &parse("t.cfg", &BASE.replace("CLIENT1", &fits))
        .unwrap()
        .sessions[0];
    assert_eq!(s.accounts, vec![fits.clone()]);
    let long = "C".repeat(ACCOUNT_BYTES_MAX + 1);
    let e = parse_err(&BASE.replace("CLIENT1", &long));
    assert_eq!(e.key.as_deref(), Some("TargetCompID"), "{e}");
    assert!(e.to_string().contains("set Accounts"), "{e}");
    let with_accounts = format!("{}Accounts=ACC1\n", BASE.replace("CLIENT1", &long));
    assert_eq!(
        parse("t.cfg", &with_accounts).unwrap().sessions[0].accounts,
        vec!["ACC1".to_string()]
    );
}

#[test]
fn plain_passwords_and_non_argon2_hashes_are_refused() {
    let e = parse_err(&format!("{BASE}Username=u\nPassword=secret\n"));
    assert!(
        e.message.contains("plain passwords are not accepted"),
        "{e}"
    );
    let e = parse_err(&format!("{BASE}Username=u\nPasswordHash=secret\n"));
    assert_eq!(e.key.as_deref(), Some("PasswordHash"));
    let e = parse_err(&format!(
        "{BASE}PasswordHash=$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo\n"
    ));
    assert_eq!(e.message, "set Username too");
}

#[test]
fn missing_required_keys_and_duplicates() {
    let e =
        parse_err("[DEFAULT]\nBeginString=FIX.4.4\nNonStopSession=Y\n[SESSION]\nTargetCompID=C\n");
    assert_eq!((e.line, e.key.as_deref()), (4, Some("SenderCompID")));
    let e = parse_err(&format!("{BASE}[SESSION]\nTargetCompID=CLIENT1\n"));
    assert!(e.message.contains("already declared at t.cfg:6"), "{e}");
    let e = parse_err(&format!("{BASE}TargetCompID=X\n"));
    assert!(e.message.contains("set twice"), "{e}");
    let e = parse_err("[DEFAULT]\nBeginString=FIX.4.4\n");
    assert_eq!(e.message, "no [SESSION] section");
    let e = parse_err("BeginString=FIX.4.4\n");
    assert!(e.message.contains("outside"), "{e}");
    let e = parse_err(&format!("{BASE}[SESION]\n"));
    assert!(e.message.contains("unknown section"), "{e}");
}

#[test]
fn schedules_parse() {
    let text = BASE.replace(
        "NonStopSession=Y",
        "StartTime=08:00:00\nEndTime=17:30:00\nTimeZone=+01:00\nStartDay=mon\nEndDay=Friday",
    );
    let s = parse("t.cfg", &text).unwrap();
    let Schedule::Window {
        start,
        end,
        zone,
        days,
    } = s.sessions[0].schedule
    else {
        panic!("window expected");
    };
    assert_eq!(
        (start.to_string(), end.to_string()),
        ("08:00:00".into(), "17:30:00".into())
    );
    assert_eq!(zone, Zone::Fixed(FixedOffset::east_opt(3600).unwrap()));
    assert_eq!(days, Some((Weekday::Mon, Weekday::Fri)));
    let e = parse_err(&BASE.replace("NonStopSession=Y", "StartTime=8am\nEndTime=17:00:00"));
    assert_eq!(e.key.as_deref(), Some("StartTime"));
    let e = parse_err(&BASE.replace(
        "NonStopSession=Y",
        "StartTime=08:00:00\nEndTime=17:00:00\nTimeZone=Europe/Londres",
    ));
    assert_eq!(e.key.as_deref(), Some("TimeZone"));
    let ok = parse(
        "t.cfg",
        &BASE.replace(
            "NonStopSession=Y",
            "StartTime=08:00:00\nEndTime=17:00:00\nTimeZone=Europe/London",
        ),
    )
    .unwrap();
    assert!(matches!(
        ok.sessions[0].schedule,
        Schedule::Window {
            zone: Zone::Named(_),
            ..
        }
    ));
    let e = parse_err(&BASE.replace("NonStopSession=Y\n", ""));
    assert_eq!(e.key.as_deref(), Some("StartTime"));
}

#[test]
fn tls_settings_require_their_files() {
    let e = parse_err(&format!("{BASE}SocketUseSSL=Y\n"));
    assert_eq!(e.key.as_deref(), Some("SocketCertificateFile"));
    let text = format!(
        "{BASE}SocketUseSSL=Y\nSocketCertificateFile=c.pem\nSocketPrivateKeyFile=k.pem\nNeedClientAuth=Y\n"
    );
    assert_eq!(parse_err(&text).key.as_deref(), Some("SocketCAFile"));
    let ok = parse(
        "t.cfg",
        &format!("{text}SocketCAFile=ca.pem\nAllowedRemoteAddresses=127.0.0.1, ::1\n"),
    )
    .unwrap();
    let tls = ok.sessions[0].tls.as_ref().unwrap();
    assert!(tls.need_client_auth && !tls.minimum_version_13);
    assert_eq!(ok.sessions[0].allowed_remote_addresses.len(), 2);
}

#[test]
fn client_certificate_names_default_to_the_comp_id_and_need_client_auth() {
    let tls = format!(
        "{BASE}SocketUseSSL=Y\nSocketCertificateFile=c.pem\nSocketPrivateKeyFile=k.pem\nSocketCAFile=ca.pem\n"
    );
    let e = parse_err(&format!("{tls}ClientCertificateNames=desk1\n"));
    assert_eq!(e.key.as_deref(), Some("ClientCertificateNames"));
    let with_auth = format!("{tls}NeedClientAuth=Y\n");
    let default = parse("t.cfg", &with_auth).unwrap();
    let target = default.sessions[0].target_comp_id.clone();
    assert_eq!(default.sessions[0].client_certificate_names, [target]);
    let named = parse(
        "t.cfg",
        &format!("{with_auth}ClientCertificateNames=desk1, desk2.example.com\n"),
    )
    .unwrap();
    assert_eq!(
        named.sessions[0].client_certificate_names,
        ["desk1", "desk2.example.com"]
    );
    let e = parse_err(&format!("{with_auth}ClientCertificateNames= , \n"));
    assert_eq!(e.key.as_deref(), Some("ClientCertificateNames"));
}

#[test]
fn the_bundled_configuration_is_valid() {
    let s = parse("sessions/default.cfg", BUNDLED_SESSIONS_CFG).unwrap();
    assert!(s.sessions.iter().any(|c| c.tls.is_none()));
    assert!(s.sessions.iter().any(|c| c.tls.is_some()));
}

#[test]
fn dialect_keys_default_to_standard_fix44_and_are_checked() {
    let s = &parse("t.cfg", BASE).unwrap().sessions[0];
    assert_eq!(s.time_precision, TimePrecision::Millis);
    assert!(!s.venue_extensions);
    for (value, precision) in [
        ("0", TimePrecision::Seconds),
        ("3", TimePrecision::Millis),
        ("6", TimePrecision::Micros),
        ("9", TimePrecision::Nanos),
    ] {
        let text = format!("{BASE}TimeStampPrecision={value}\nVenueExtensions=Y\n");
        let s = &parse("t.cfg", &text).unwrap().sessions[0];
        assert_eq!(s.time_precision, precision);
        assert!(s.venue_extensions);
    }
    for bad in [
        "TimeStampPrecision=2",
        "TimeStampPrecision=ms",
        "VenueExtensions=maybe",
    ] {
        let e = parse_err(&format!("{BASE}{bad}\n"));
        assert_eq!(e.key.as_deref(), bad.split('=').next(), "{bad}: {e}");
    }
}

#[test]
fn drop_copy_scopes_are_read_and_checked_against_the_trading_sessions() {
    let dc = "[SESSION]\nTargetCompID=DC1\nSessionRole=dropcopy\n";
    let text = format!("{BASE}Accounts=A1,A2\n{dc}DropCopyAccounts=A2\nDropCopySessions=CLIENT1\n");
    let s = parse("t.cfg", &text).unwrap();
    assert_eq!(s.sessions[0].drop_copy, None);
    let scope = s.sessions[1].drop_copy.clone().unwrap();
    assert_eq!(scope.accounts, vec!["A2".to_string()]);
    assert_eq!(scope.sessions, vec!["CLIENT1".to_string()]);
    assert!(!scope.all_accounts);
    check_drop_copy(&s.sessions).unwrap();
    let all = parse("t.cfg", &format!("{BASE}{dc}DropCopyAccounts=*\n")).unwrap();
    assert!(all.sessions[1].drop_copy.as_ref().unwrap().all_accounts);
    check_drop_copy(&all.sessions).unwrap();
    // Per session: no scope, a key on another role, a bad list.
    let e = parse_err(&format!("{BASE}{dc}"));
    assert!(e.message.contains("needs a scope"), "{e}");
    let e = parse_err(&format!("{BASE}DropCopyAccounts=*\n"));
    assert_eq!(e.key.as_deref(), Some("DropCopyAccounts"), "{e}");
    assert!(e.message.contains("only a drop-copy session"), "{e}");
    for bad in [
        "DropCopyAccounts=A1,A1",
        "DropCopyAccounts=*,A1",
        "DropCopySessions=C|D",
        "DropCopySessions=,",
    ] {
        let e = parse_err(&format!("{BASE}{dc}{bad}\n"));
        assert_eq!(e.key.as_deref(), bad.split('=').next(), "{bad}: {e}");
    }
    // Across sessions: an account no trading session trades, a CompID that is no trading session's client.
    for (bad, key) in [
        ("DropCopyAccounts=NOBODY", "DropCopyAccounts"),
        ("DropCopySessions=DC1", "DropCopySessions"),
        ("DropCopySessions=NOBODY", "DropCopySessions"),
    ] {
        let s = parse("t.cfg", &format!("{BASE}{dc}{bad}\n")).unwrap();
        let e = check_drop_copy(&s.sessions).expect_err(bad);
        assert_eq!(e.key.as_deref(), Some(key), "{bad}: {e}");
        assert_eq!(e.line, 8, "the drop-copy session's [SESSION] line: {e}");
    }
}
