//! Reading configuration variables: every value is parsed here, and a bad one
//! is refused naming its variable and the fix. The server's own settings and
//! each PG's are read with the same [`Env`].

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// `PAYMENT_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Development on one machine: built-in keys when none are set, fake PGs
    /// in-process, detailed error messages.
    Local,
    /// A shared development deployment: every key must be set.
    Dev,
    /// Production: every key must be set.
    Real,
}

/// A configuration problem, naming the variable and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// A [`ConfigError`] of `variable`.
pub fn error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

/// The variables as read (environment, then `.env`).
pub type Vars = HashMap<String, String>;

/// The variables of one start-up, read in one mode.
pub struct Env<'a> {
    vars: &'a Vars,
    mode: Mode,
    defaulted: Vec<&'static str>,
}

impl<'a> Env<'a> {
    pub fn new(vars: &'a Vars, mode: Mode) -> Self {
        Self { vars, mode, defaulted: Vec::new() }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The variables that fell back to built-in development values.
    pub fn into_defaulted(self) -> Vec<&'static str> {
        self.defaulted
    }

    /// Records that `name` fell back to a built-in development value.
    pub fn defaulted(&mut self, name: &'static str) {
        self.defaulted.push(name);
    }

    /// The value of `name`; a blank one counts as unset.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// A secret that must be set outside local mode.
    ///
    /// # Errors
    /// When it is unset outside local mode.
    pub fn secret(&mut self, name: &'static str, dev_value: &str) -> Result<String, ConfigError> {
        match (self.get(name), self.mode) {
            (Some(value), _) => Ok(value.to_owned()),
            (None, Mode::Local) => {
                self.defaulted.push(name);
                Ok(dev_value.to_owned())
            }
            (None, _) => Err(error(name, "is required outside local mode (PAYMENT_MODE=dev|real); set it")),
        }
    }

    /// # Errors
    /// When it does not parse.
    pub fn number<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| error(name, format!("{text:?} is not a valid number"))),
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, any case).
    ///
    /// # Errors
    /// For anything else.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(error(name, format!("{other:?} is not true or false"))),
        }
    }

    /// A number within `range`: a value outside it is refused naming the
    /// variable, never clamped or left to overflow later arithmetic.
    ///
    /// # Errors
    /// When it does not parse or is out of range.
    pub fn within<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let value = self.number(name, default)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(error(name, format!("must be between {} and {}, got {value}", range.start(), range.end())))
        }
    }

    /// Seconds within `range`.
    ///
    /// # Errors
    /// As [`within`](Self::within).
    pub fn seconds(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.within(name, default, range).map(Duration::from_secs)
    }

    /// Milliseconds within `range`.
    ///
    /// # Errors
    /// As [`within`](Self::within).
    pub fn millis(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        self.within(name, default, range).map(Duration::from_millis)
    }

    /// A PG's base URL: `name` when set (without a trailing slash), else its
    /// local fake's in local mode, else the real API's. An http(s) URL; https
    /// in real mode, where credentials would otherwise travel in clear.
    ///
    /// # Errors
    /// When it is not such a URL.
    pub fn pg_url(&self, name: &'static str, real: &str, fake_port: Option<u16>) -> Result<PgUrl, ConfigError> {
        let (url, explicit) = match (self.get(name), fake_port) {
            (Some(url), _) => (url.trim().trim_end_matches('/').to_owned(), true),
            (None, Some(port)) => (format!("http://127.0.0.1:{port}"), false),
            (None, None) => (real.to_owned(), false),
        };
        let parsed = url::Url::parse(&url).map_err(|e| error(name, format!("is not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(error(name, "must be an http(s) URL"));
        }
        if self.mode == Mode::Real && parsed.scheme() != "https" {
            return Err(error(name, "must be an https URL in real mode: the PG credentials would travel in clear"));
        }
        Ok(PgUrl { url, explicit })
    }

    /// A JSON object of store id -> credentials (`shape` names it in errors),
    /// each read by `read`; unset: none.
    ///
    /// # Errors
    /// When it is not such an object, or `read` refuses a member.
    pub fn stores<C>(
        &self,
        name: &'static str,
        shape: &str,
        read: impl Fn(&serde_json::Value) -> Option<C>,
    ) -> Result<BTreeMap<String, C>, ConfigError> {
        let Some(json) = self.get(name) else { return Ok(BTreeMap::new()) };
        let shape = format!("must be JSON like {shape}");
        let value: serde_json::Value = serde_json::from_str(json).map_err(|_| error(name, shape.clone()))?;
        let object = value.as_object().ok_or_else(|| error(name, shape.clone()))?;
        object
            .iter()
            .map(|(store, member)| match read(member) {
                Some(credentials) => Ok((store.clone(), credentials)),
                None => Err(error(name, format!("store {store:?}: {shape}"))),
            })
            .collect()
    }
}

/// Where a PG is, and whether the operator said so (a local fake replaces
/// only a URL nobody chose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgUrl {
    pub url: String,
    pub explicit: bool,
}

impl PgUrl {
    /// This URL, or `fake` when one runs and the URL was not chosen.
    pub fn or_fake(&self, fake: Option<&str>) -> String {
        match fake {
            Some(fake) if !self.explicit => fake.to_owned(),
            _ => self.url.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_pg_url_is_the_chosen_one_the_fake_or_the_real_api() {
        let none = vars(&[]);
        let local = Env::new(&none, Mode::Local);
        let fake = local.pg_url("PAYMENT_X_URL", "https://api.x", Some(1234)).unwrap();
        assert_eq!((fake.url.as_str(), fake.explicit), ("http://127.0.0.1:1234", false));
        assert_eq!(fake.or_fake(Some("http://127.0.0.1:5")), "http://127.0.0.1:5");
        let real = Env::new(&none, Mode::Real).pg_url("PAYMENT_X_URL", "https://api.x", None).unwrap();
        assert_eq!(real.url, "https://api.x");
        let chosen = vars(&[("PAYMENT_X_URL", "http://proxy:8/ ")]);
        let chosen = Env::new(&chosen, Mode::Dev).pg_url("PAYMENT_X_URL", "https://api.x", Some(1)).unwrap();
        assert_eq!(
            (chosen.url.as_str(), chosen.or_fake(Some("http://fake"))),
            ("http://proxy:8", "http://proxy:8".into())
        );
        for (mode, url, hint) in [
            (Mode::Real, "http://api.x", "https URL in real mode"),
            (Mode::Dev, "ftp://api.x", "http(s)"),
            (Mode::Dev, "not a url", "not a URL"),
        ] {
            let set = vars(&[("PAYMENT_X_URL", url)]);
            let err = Env::new(&set, mode).pg_url("PAYMENT_X_URL", "https://api.x", None).unwrap_err();
            assert_eq!(err.variable, "PAYMENT_X_URL");
            assert!(err.problem.contains(hint), "{err}");
        }
    }

    #[test]
    fn stores_are_a_json_object_read_member_by_member() {
        let read = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let set = vars(&[("S", r#"{"a": "k1", "b": "k2"}"#)]);
        let stores = Env::new(&set, Mode::Dev).stores("S", r#"{"id": "key"}"#, read).unwrap();
        assert_eq!(stores.into_iter().collect::<Vec<_>>(), vec![("a".into(), "k1".into()), ("b".into(), "k2".into())]);
        for bad in ["[1]", r#"{"a": 1}"#, r#"{"a": ""}"#, "{"] {
            let set = vars(&[("S", bad)]);
            let err = Env::new(&set, Mode::Dev).stores("S", r#"{"id": "key"}"#, read).unwrap_err();
            assert!(err.problem.contains(r#"JSON like {"id": "key"}"#), "{bad}: {err}");
        }
        assert!(Env::new(&vars(&[]), Mode::Dev).stores("S", "", read).unwrap().is_empty());
    }
}
