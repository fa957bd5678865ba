//! The broker serves TLS itself: a test CA and a certificate made by openssl, the broker on `wss://`, and two
//! real CLI homes that trust it through `SSL_CERT_FILE` create, invite, join and exchange a message.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{Home, bin, free_port};

/// A test CA and a leaf certificate for 127.0.0.1 signed by it. Returns (ca, leaf chain, leaf key).
fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let p = |n: &str| dir.join(n);
    std::fs::write(
        p("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed for the TLS test (apt-get install openssl)");
        assert!(status.success(), "openssl {args:?} failed");
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "2", "-subj", "/CN=claudemesh test CA", "-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(&[&["req"][..], &ec, &["-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "leaf.csr"]].concat());
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "cert.pem",
    ]);
    (p("ca.pem"), p("cert.pem"), p("key.pem"))
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn broker_serves_wss_and_the_cli_talks_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, cert, key) = certificates(dir.path());
    let port = free_port();
    let mut broker = Child(
        Command::new(bin())
            .args(["broker", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn broker"),
    );
    let mut line = String::new();
    BufReader::new(broker.0.stdout.take().expect("stdout")).read_line(&mut line).expect("ready line");
    let url = format!("wss://127.0.0.1:{port}/ws");
    assert_eq!(line.trim(), format!("claudemesh broker listening on {url}"));

    let (alice, bob) = (Home::new(), Home::new());
    let trusted = |h: &Home, args: &[&str]| {
        let out = h.cmd().env("SSL_CERT_FILE", &ca).arg("--json").args(args).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    trusted(&alice, &["new", "secure", "--broker", &url, "--name", "alice"]);
    let invite = trusted(&alice, &["invite"]);
    let link = invite["url"].as_str().expect("url");
    assert!(link.starts_with(&format!("https://127.0.0.1:{port}/join/")), "{link}");
    trusted(&bob, &["join", link, "--name", "bob"]);
    trusted(&bob, &["send", "alice", "over tls"]);
    assert!(
        support::wait_until(std::time::Duration::from_secs(10), || {
            trusted(&alice, &["inbox"])["messages"][0]["body"] == "over tls"
        }),
        "alice never got the message over wss"
    );

    // Without trusting the certificate the client refuses the connection (exit 4, network error). The daemon
    // trusts what the process that started it trusted, so this goes direct.
    let out = alice
        .cmd()
        .env("SSL_CERT_FILE", dir.path().join("nothing.pem"))
        .env("CLAUDEMESH_NO_DAEMON", "1")
        .args(["peers"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn plaintext_on_a_public_address_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(bin())
        .args(["broker", "--listen", "0.0.0.0:0"])
        .arg("--data")
        .arg(dir.path())
        .output()
        .expect("run broker");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without TLS") && err.contains("--tls-cert"), "{err}");
}
