//! The `fake-toss` binary starts, serves the API and answers with the test secret.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use payments_toss::{TEST_SECRET_KEY, basic_authorization};

/// Kills the child however the test ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_the_fake_on_the_port_it_is_given() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_fake-toss"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let line = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || {
            // The first line announcing the address (logs go to stderr, but be lenient).
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.starts_with("fake Toss Payments listening on") {
                    return Ok::<_, std::io::Error>(line);
                }
            }
        }),
    )
    .await
    .expect("the binary says where it listens in time")
    .unwrap()
    .unwrap();
    let url = line.trim().rsplit(' ').next().expect("url").to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");

    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let response = http
        .get(format!("{url}/v1/payments/unknown"))
        .header("Authorization", basic_authorization(TEST_SECRET_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "NOT_FOUND_PAYMENT");
    let unauthorized = http.get(format!("{url}/v1/payments/unknown")).send().await.unwrap();
    assert_eq!(unauthorized.status().as_u16(), 401);
}
