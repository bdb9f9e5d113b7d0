//! The kernel's logger: env_logger (`RUST_LOG`), with every credential the kernel knows of
//! replaced by `***` in each record before it is written.
//!
//! Jupyter servers keep a kernel's stderr in their logs, and dependencies log their
//! configuration with `{:?}` at debug level (reqsign prints its `StaticCredentialProvider`,
//! secret key and session token included), so no log level may pass a record through as is.
//! The secrets are the values of [`SECRET_ENV`] at start-up plus those the settings resolve
//! (the config file's), in the forms a log line may carry them: as is, `{:?}`-escaped,
//! percent-encoded, and the secret half of `client_id:secret`. Tokens the kernel only learns
//! at run time (an OAuth access token the REST catalog fetches with its credential) are masked
//! by their shape: what follows `Bearer ` and the value of an `access_token`, `refresh_token` or
//! `id_token` field.

use std::io::Write as _;
use std::sync::{LazyLock, RwLock};

use regex::Regex;

/// The settings whose values are credentials.
pub const SECRET_ENV: [&str; 5] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "NESSIE_AUTHENTICATION_TOKEN",
    "LAKEHOUSE_REST_TOKEN",
    "LAKEHOUSE_REST_CREDENTIAL",
];

/// What a secret is replaced with.
const MASK: &str = "***";

/// Longest first, so a secret containing another is replaced whole.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Installs the logger (`RUST_LOG`, default `warn`) with redaction, after taking the secrets
/// of [`SECRET_ENV`] from the environment.
pub fn init() {
    add_secrets(SECRET_ENV.iter().filter_map(|k| std::env::var(k).ok()));
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format(|buf, record| {
            let message = redact(&record.args().to_string());
            writeln!(
                buf,
                "[{} {:<5} {}] {message}",
                buf.timestamp(),
                record.level(),
                record.target()
            )
        })
        .init();
}

/// Adds credentials to keep out of the log (the resolved settings' secrets).
pub fn add_secrets(values: impl IntoIterator<Item = String>) {
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for value in values {
        for form in forms(&value) {
            if !form.is_empty() && !secrets.contains(&form) {
                secrets.push(form);
            }
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// The ways `secret` may be spelled in a log record.
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    let debug = format!("{secret:?}");
    out.push(debug[1..debug.len() - 1].to_string());
    out.push(percent_encoded(secret));
    // `client_id:secret`: the id alone is no secret, the rest is.
    if let Some((_, half)) = secret.split_once(':') {
        out.extend(forms(half));
    }
    out.dedup();
    out
}

fn percent_encoded(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Tokens by their shape: `Bearer <token>`, and `access_token` / `refresh_token` /
/// `id_token` fields as JSON, `{:?}` and form encoding write them.
static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(bearer\s+|\b(?:access|refresh|id)_token\\?"?\s*[:=]\s*(?:Some\()?\\?"?)[A-Za-z0-9\-._~+/]{6,}=*"#,
    )
    .expect("the token pattern compiles")
});

/// `text` with every known secret, and anything shaped like a bearer or OAuth token, replaced
/// by `***`.
pub fn redact(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    match TOKENS.replace_all(&out, format!("${{1}}{MASK}")) {
        std::borrow::Cow::Borrowed(_) => out,
        std::borrow::Cow::Owned(masked) => masked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_masked() {
        add_secrets([
            "wJalr/K7MDENG+bPx\"RfiCY".to_string(),
            "client-id:cl1ent/s3cret".to_string(),
        ]);
        let line = format!(
            "StaticCredentialProvider {{ secret_access_key: {:?} }} url=?token=wJalr%2FK7MDENG%2BbPx%22RfiCY \
             basic client-id:cl1ent/s3cret, alone cl1ent/s3cret, encoded cl1ent%2Fs3cret",
            "wJalr/K7MDENG+bPx\"RfiCY"
        );
        let out = redact(&line);
        for leak in ["wJalr", "K7MDENG", "cl1ent", "s3cret"] {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
        assert!(out.contains("StaticCredentialProvider"), "{out}");
    }

    #[test]
    fn tokens_fetched_at_run_time_are_masked_by_their_shape() {
        for (line, token) in [
            (
                "Authorization: Bearer eyJhbGciOi.J9abc-_x",
                "eyJhbGciOi.J9abc-_x",
            ),
            (
                r#"{"access_token":"tok3n-from-server","token_type":"bearer"}"#,
                "tok3n-from-server",
            ),
            (
                r#"TokenResponse { access_token: "s3cr3tValue", expires_in: Some(3600) }"#,
                "s3cr3tValue",
            ),
            (r#"body: {\"refresh_token\":\"r3fr3shTok\"}"#, "r3fr3shTok"),
            ("grant_type=x&access_token=abcDEF123456", "abcDEF123456"),
            ("id_token: Some(\"idTok999999\")", "idTok999999"),
        ] {
            let masked = redact(line);
            assert!(!masked.contains(token), "{line} -> {masked}");
            assert!(masked.contains(MASK), "{masked}");
        }
        // Words that only look alike are left alone.
        assert_eq!(redact("token_type bearer"), "token_type bearer");
        assert_eq!(redact("no access_token yet"), "no access_token yet");
    }
}
