//! A small WebDriver client for the browser tests: starts `chromedriver`,
//! opens headless Chromium sessions, and speaks the W3C WebDriver protocol
//! (JSON over HTTP, through `ureq`) with a deadline on every call and wait.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any single wait may take before the test fails.
pub const STEP: Duration = Duration::from_secs(15);

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// WebDriver's Enter key.
pub const ENTER: &str = "\u{E007}";

/// A running `chromedriver`, stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it is ready.
    pub fn start() -> Driver {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("address").port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMEDRIVER} ({e}): scripts/deps.sh test installs it")
            });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent,
        };
        wait_for("chromedriver ready", || {
            let mut response = driver
                .agent
                .get(format!("{}/status", driver.url))
                .call()
                .ok()?;
            let status: Value = response.body_mut().read_json().ok()?;
            status["value"]["ready"].as_bool().filter(|ready| *ready)
        });
        driver
    }

    /// A new headless Chromium window of `width` × `height`.
    pub fn browser(&self, width: u32, height: u32) -> Browser {
        let capabilities = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--no-first-run",
                        format!("--window-size={width},{height}"),
                    ],
                },
            }}
        });
        let answer = self.call("POST", &format!("{}/session", self.url), Some(capabilities));
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Browser {
            url: format!("{}/session/{id}", self.url),
            agent: self.agent.clone(),
        }
    }

    fn call(&self, method: &str, url: &str, body: Option<Value>) -> Value {
        call(&self.agent, method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver call; the answer's `value`, or the error WebDriver gave.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent.post(url).send_json(body.unwrap_or_else(|| json!({}))),
    };
    let mut response = response.map_err(|e| e.to_string())?;
    let ok = response.status().is_success();
    let answer: Value = response.body_mut().read_json().map_err(|e| e.to_string())?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if ok {
        // A new session answers with its id beside `value`.
        Ok(match answer.get("sessionId") {
            Some(id) => json!({"sessionId": id, "value": value}),
            None => value,
        })
    } else {
        Err(format!("{} ({})", value["error"], value["message"]))
    }
}

/// Polls `probe` until it gives something, failing the test after [`STEP`].
pub fn wait_for<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    wait_for_or(STEP, probe).unwrap_or_else(|| panic!("timed out after {STEP:?}: {what}"))
}

/// Polls `probe` until it gives something or `limit` has passed.
pub fn wait_for_or<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One browser session, closed when dropped.
pub struct Browser {
    url: String,
    agent: ureq::Agent,
}

/// An element on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(&self.agent, method, &format!("{}{path}", self.url), body)
    }

    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    /// The first element matching a CSS selector, waiting for it.
    pub fn find(&self, css: &str) -> Element {
        let mut last = String::new();
        let found = wait_for_or(STEP, || {
            let answer = self.call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            );
            match answer {
                Ok(found) => {
                    last = found.to_string();
                    found[ELEMENT].as_str().map(|id| Element(id.to_owned()))
                }
                Err(e) => {
                    last = e;
                    None
                }
            }
        });
        found.unwrap_or_else(|| panic!("timed out after {STEP:?}: an element {css} ({last})"))
    }

    /// Types `text` into an element (WebDriver keys such as [`ENTER`] too).
    pub fn type_into(&self, element: &Element, text: &str) {
        self.must(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    /// Empties a field.
    pub fn clear(&self, element: &Element) {
        self.must(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        );
    }

    /// Clicks an element.
    pub fn click(&self, element: &Element) {
        self.must(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        );
    }

    /// Runs `script` (a function body) in the page; what it returned.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.must(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait_until(&self, what: &str, script: &str, args: Value) -> Value {
        wait_for(what, || {
            let value = self.run(script, args.clone());
            match &value {
                Value::Null | Value::Bool(false) => None,
                Value::String(s) if s.is_empty() => None,
                _ => Some(value),
            }
        })
    }

    /// The text of an open alert, if the page raised one.
    pub fn alert_text(&self) -> Option<String> {
        self.call("GET", "/alert/text", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
    }

    /// What the page wrote to the browser's console (and the browser's own
    /// complaints about it, such as a Content-Security-Policy violation).
    pub fn console(&self) -> Vec<String> {
        let entries = self.must("POST", "/se/log", Some(json!({"type": "browser"})));
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| format!("{} {}", e["level"], e["message"]))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The page's title.
    pub fn title(&self) -> String {
        self.must("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A PNG of the window as it is.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let encoded = self.must("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call("DELETE", "", None);
    }
}
