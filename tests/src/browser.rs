//! A real browser for the console's tests: Debian's headless Chromium driven
//! through chromedriver, over the W3C WebDriver protocol (JSON over HTTP:
//! the few commands the tests use, with the HTTP client the suite has).
//! `scripts/install_chromium.sh` installs both; without them the browser
//! tests say so and do not run.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Longest wait for chromedriver to start and for one command.
const WAIT: Duration = Duration::from_secs(30);

/// A headless Chromium session; closed (and chromedriver stopped) on drop.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: tokio::process::Child,
}

/// Whether chromedriver and chromium are installed.
pub fn installed() -> bool {
    ["chromedriver", "chromium"].iter().all(|tool| {
        std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
    })
}

impl Browser {
    /// Starts chromedriver on a port of its own choosing and opens a headless session.
    ///
    /// # Panics
    /// When chromedriver or Chromium do not start.
    pub async fn start() -> Browser {
        let mut driver = tokio::process::Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        // It says where it listens on its first lines: wait for that, not a clock.
        let stdout = driver.stdout.take().expect("its stdout");
        let port = tokio::time::timeout(WAIT, async {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await.expect("chromedriver's output") {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    return rest.trim_end_matches('.').trim().parse::<u16>().expect("a port");
                }
            }
            panic!("chromedriver stopped before it listened");
        })
        .await
        .expect("chromedriver listens in time");
        let http = reqwest::Client::builder().timeout(WAIT).build().expect("a client");
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1500", "--lang=ko-KR"],
            },
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("JSON");
        let session = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("a session: {answer}")).to_owned();
        Browser { http, session: format!("{base}/session/{session}"), driver }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("chromedriver answers").json().await.expect("JSON");
        if answer["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    /// Opens `url` and waits for it to load.
    pub async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// Where the browser is.
    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The page's HTML as the browser has it.
    pub async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The elements `css` selects.
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .command(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css})))
            .await;
        found.as_array().into_iter().flatten().filter_map(|e| e[ELEMENT].as_str().map(str::to_owned)).collect()
    }

    async fn one(&self, css: &str) -> String {
        let found = self.find_all(css).await.into_iter().next();
        match found {
            Some(element) => element,
            None => panic!("no element {css} on {}: {}", self.url().await, self.source().await),
        }
    }

    /// Types `text` into the element `css` selects (as a person would, key by key).
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.one(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await;
    }

    /// Clicks the element `css` selects (a submit button waits for the next page).
    pub async fn click(&self, css: &str) {
        let element = self.one(css).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// Clicks the submit button `css` selects and waits until the browser
    /// has left the page (a form's answer is another URL: a redirect, or the
    /// same path with the form's query). WebDriver's click may return before
    /// the navigation it starts; the classic protocol has no event for it, so
    /// the URL is polled (bounded by [`WAIT`]).
    pub async fn submit(&self, css: &str) {
        let before = self.url().await;
        self.click(css).await;
        let left = tokio::time::timeout(WAIT, async {
            while self.url().await == before {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(left.is_ok(), "the form {css} did not lead anywhere from {before}");
        // The new page has loaded once its document says so.
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": "return document.readyState", "args": []})),
        )
        .await;
    }

    /// The value of the browser's cookie `name`.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.command(reqwest::Method::GET, "/cookie", None).await;
        cookies.as_array()?.iter().find(|c| c["name"] == name).and_then(|c| c["value"].as_str()).map(str::to_owned)
    }

    /// The page as a PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let encoded = self.command(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).expect("a PNG")
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill().await;
    }
}
