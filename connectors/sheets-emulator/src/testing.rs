//! Helpers for tests that sign in to the emulator (the `testing` feature):
//! an emulator with an OAuth client, and service-account keys.
//!
//! The keys are real RSA keys, made by the `openssl` command (Debian:
//! `apt-get install -y openssl`); without it the helpers panic: tests fail,
//! never skip.
//!
//! ```no_run
//! use sheetbridge_sheets_emulator::{testing, Emulator, Options};
//!
//! let emulator = Emulator::start(Options::default()).expect("start");
//! let key = testing::service_account_key("sync@ledger-prod.iam.gserviceaccount.com", "ledger-prod");
//! emulator.with_oauth(|o| o.register_service_account(&key)).expect("register");
//! ```

use std::process::Command;
use std::sync::OnceLock;

use crate::oauth::Client;
use crate::{Emulator, Options};

/// The `private_key_id` of the keys [`service_account_key`] writes (the
/// `kid` a JWT signed with them names).
pub const KEY_ID: &str = "0123abcd";

/// A 2048-bit RSA key in PKCS#8 PEM, made once per process (making one
/// takes a good part of a second).
pub fn rsa_key_pem() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(new_rsa_key_pem)
}

/// Another 2048-bit RSA key in PKCS#8 PEM, made on every call: for a test
/// that needs a key other than [`rsa_key_pem`]'s (a deleted or forged one).
pub fn new_rsa_key_pem() -> String {
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .expect("running openssl (install the openssl package)");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("PEM is ASCII")
}

/// The JSON key file Google's console gives a service account `email` of
/// `project`, holding [`rsa_key_pem`] as key [`KEY_ID`].
pub fn service_account_key(email: &str, project: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": KEY_ID,
        "private_key": rsa_key_pem(),
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    })
    .to_string()
}

/// An emulator whose OAuth server knows `client` and signs in `login_email`;
/// `auto_approve` skips the consent page.
pub fn oauth_emulator(auto_approve: bool, client: Client, login_email: &str) -> Emulator {
    let emulator =
        Emulator::start(Options { auto_approve, ..Options::default() }).expect("the emulator starts");
    emulator.with_oauth(|o| {
        o.register_client(client);
        o.set_login_email(login_email);
    });
    emulator
}
