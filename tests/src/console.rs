//! The operators' console of a [`TestApp`]: operators added as `payments
//! operators add` adds them, and a browser-like HTTP client (its session
//! cookie, no redirects followed) to sign in and read pages.

use payments_crypto::totp;

use crate::TestApp;

/// An operator as `operators add` issued them.
pub struct TestOperator {
    pub name: String,
    pub password: String,
    /// Their TOTP secret (support and admin).
    pub secret: Option<Vec<u8>>,
}

impl TestOperator {
    /// Their authenticator app's current code (`steps` later or earlier).
    pub fn code(&self, steps: i64) -> String {
        let secret = self.secret.as_deref().expect("a TOTP secret");
        let at = chrono::Utc::now().timestamp() + steps * totp::STEP_SECONDS;
        format!("{:06}", totp::code_at(secret, totp::step_of(at), totp::DIGITS))
    }
}

/// A page as a browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// Where a redirect points.
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[start..].split('"').next().unwrap_or_default().to_owned()
    }
}

/// One browser: its session cookie, if signed in.
pub struct ConsoleBrowser {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

impl ConsoleBrowser {
    async fn page(&self, request: reqwest::RequestBuilder) -> Page {
        let request = match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.expect("the console answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Page { status, headers, body: response.text().await.expect("a body") }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.page(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        self.page(self.http.post(format!("{}{path}", self.base)).form(form)).await
    }

    /// Signs in; keeps the session cookie when it worked.
    /// Fetches the sign-in form first, as a browser does: its CSRF token
    /// and the cookie it must match.
    pub async fn sign_in(&mut self, name: &str, password: &str, code: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        let login_cookie = form
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with(payments_console::LOGIN_COOKIE))
            .and_then(|value| value.split(';').next())
            .map(str::to_owned)
            .expect("the sign-in form sets its cookie");
        let fields = [("name", name), ("password", password), ("code", code), ("csrf", csrf.as_str())];
        let request = self.http.post(format!("{}/login", self.base)).header("cookie", login_cookie).form(&fields);
        let page = self.page(request).await;
        let session = format!("{}=", payments_console::COOKIE);
        let set =
            page.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&session));
        if let Some(set) = set {
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        page
    }
}

impl TestApp {
    /// The console's base URL (its own port).
    pub fn console_url(&self) -> String {
        let addr = self.app.as_ref().and_then(payments_server::RunningApp::admin_addr).expect("the console listens");
        format!("http://{addr}")
    }

    /// A browser on the console, signed out.
    pub fn browser(&self) -> ConsoleBrowser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("a client");
        ConsoleBrowser { base: self.console_url(), http, cookie: None }
    }

    /// Moves every console session's last use an hour back: idle past any
    /// idle time (the server's clock cannot be moved from a test).
    pub async fn idle_console_sessions(&self) {
        let updated = match self.backend {
            crate::Backend::Sqlite => {
                let sql = "UPDATE payment_operator_sessions SET last_seen_at = last_seen_at - 3600000";
                let pool = sqlx::SqlitePool::connect(&self.database_url).await.expect("the test database");
                sqlx::query(sql).execute(&pool).await.expect("updated").rows_affected()
            }
            crate::Backend::Postgres => {
                let sql = "UPDATE payment_operator_sessions SET last_seen_at = last_seen_at - interval '1 hour'";
                let pool = sqlx::PgPool::connect(&self.database_url).await.expect("the test database");
                sqlx::query(sql).execute(&pool).await.expect("updated").rows_affected()
            }
        };
        assert!(updated > 0, "a session to idle");
    }

    /// Adds an operator as `payments operators add` does.
    ///
    /// # Panics
    /// When it cannot.
    pub async fn add_operator(&self, name: &str, role: payments_domain::Role) -> TestOperator {
        let pool = payments_sqlx::PoolConfig::default();
        let database = payments_sqlx::Database::connect(&self.database_url, &pool).await.expect("the test database");
        let repositories = database.repositories(payments_server::app::at_rest_keys(&self.config));
        let hasher = payments_crypto::Argon2Hasher::new(self.config.argon2, 2).expect("a hasher");
        let operators = payments_server::app::operator_service(&self.config, &repositories, &hasher);
        let context = payments_application::RequestContext::default();
        let issued = operators.add(name, role, None, None, &context).await.expect("the operator is added");
        database.close().await;
        let secret = issued.totp_uri.as_deref().map(|uri| totp::secret_of_uri(uri).expect("a secret"));
        TestOperator { name: issued.operator.name.to_string(), password: issued.password, secret }
    }
}
