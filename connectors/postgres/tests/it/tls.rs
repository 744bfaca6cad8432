use sheetbridge_core::{ErrorKind, Source, TableName, Value};
use sheetbridge_postgres::testing::ssl_cluster;
use sheetbridge_postgres::{connect, PgConfig, Secret, SslMode};

#[tokio::test]
async fn sslmode_require_encrypts_against_a_self_signed_certificate() {
    let cluster = ssl_cluster();
    let config = PgConfig::parse(&format!("{}?sslmode=require", cluster.url("postgres"))).unwrap();
    let mut conn = connect(&config).await.unwrap();
    let ssl: bool = conn
        .client()
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the connection is encrypted");
    let mut n = 0;
    conn.query("SELECT 1 AS one")
        .scan(&mut |_: &[Value]| {
            n += 1;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(n, 1);
    let _ = TableName::new(None, "x");
}

#[tokio::test]
async fn verify_full_checks_the_certificate() {
    let cluster = ssl_cluster();
    // Trusting the server's own certificate: the chain and the name (127.0.0.1) check out.
    let mut config = cluster.config("postgres").with_sslmode(SslMode::VerifyFull);
    config.sslrootcert = cluster.certificate();
    connect(&config).await.unwrap();
    // Against the public web roots the self-signed certificate is refused.
    let config = cluster.config("postgres").with_sslmode(SslMode::VerifyCa);
    let e = connect(&config).await.unwrap_err();
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
}

#[tokio::test]
async fn the_password_never_shows() {
    let cluster = ssl_cluster();
    let config = PgConfig::new("127.0.0.1", cluster.port(), "nobody", "postgres")
        .with_password(Secret::new("hunter2-secret"))
        .with_sslmode(SslMode::Require);
    assert!(!format!("{config} {config:?}").contains("hunter2"));
    let e = connect(&config).await.unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    // trust authentication, but the role does not exist
    assert!(matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Other), "{e:?}");
    let url = format!("postgres://nobody:hunter2-secret@127.0.0.1:{}/postgres", cluster.port());
    let config = PgConfig::parse(&url).unwrap();
    assert!(!format!("{config} {config:?}").contains("hunter2"));
}

/// Regression: `PGHOST=/path/to/socket/dir` with the default sslmode (prefer) failed with
/// "error performing TLS handshake: invalid dns name", because the socket directory was
/// offered to TLS as a server name. libpq never uses TLS on a Unix socket; neither do we.
#[tokio::test]
async fn a_unix_socket_connects_without_tls_even_when_tls_is_preferred() {
    let cluster = ssl_cluster();
    let socket_dir = cluster.dir().join("sock");
    let config = PgConfig::new(socket_dir.to_str().unwrap(), cluster.port(), "postgres", "postgres")
        .with_sslmode(SslMode::Prefer);
    assert_eq!(
        config.to_string(),
        format!("postgres://postgres@:{}/postgres?host={}", cluster.port(), socket_dir.display())
    );
    let conn = connect(&config).await.unwrap();
    let ssl: Option<bool> = conn
        .client()
        .query_opt("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap()
        .map(|r| r.get(0));
    assert_eq!(ssl, Some(false), "a socket connection is not encrypted");
}
