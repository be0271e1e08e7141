//! The review page of the binary (`s3-alt-text review`), driven through its HTTP forms as a
//! browser would post them: the page read, a card's forms found with their hidden fields.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use regex::Regex;

use super::{API_KEY, Stack};

/// The review page of a stack's bucket, served by the binary until dropped.
pub struct ReviewPage {
    child: Child,
    /// Its standard output, kept open: it prints a second line.
    _stdout: BufReader<std::process::ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub token: String,
    client: reqwest::Client,
}

/// One form of a card: where it posts and what it sends.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The form with field `name` set to `value`.
    pub fn with(mut self, name: &str, value: &str) -> Form {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_string(),
            None => self.fields.push((name.into(), value.into())),
        }
        self
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl ReviewPage {
    /// Starts `s3-alt-text review` on the stack's bucket.
    pub fn start(stack: &Stack, provider_url: &str) -> ReviewPage {
        let mut env: Vec<(String, String)> = stack
            .aws_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        env.push(("ALT_TEXT_API_KEY".into(), API_KEY.into()));
        env.push(("ALT_TEXT_API_URL".into(), provider_url.into()));
        ReviewPage::start_with(stack, &env)
    }

    /// The same, with exactly `env`.
    pub fn start_with(stack: &Stack, env: &[(String, String)]) -> ReviewPage {
        let mut child = Command::new(crate::support::binary())
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["review", "--bucket", &stack.bucket])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("Review page: ")
            .unwrap_or_else(|| panic!("no address printed: {line:?}"));
        let (base, query) = url.split_once("/?").unwrap();
        let token = form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        ReviewPage {
            child,
            _stdout: stdout,
            base: base.to_string(),
            token,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// The first page's HTML.
    pub async fn page(&self) -> String {
        let url = format!("{}/?token={}", self.base, self.token);
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The forms of the card of `key` on the first page: each language's Save, then
    /// Approve where there is one.
    pub async fn forms(&self, key: &str) -> Vec<Form> {
        forms_of(&self.page().await, key)
    }

    /// Posts `form` as the browser would; the note the page shows after.
    pub async fn post(&self, form: &Form) -> String {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form.fields)
            .finish();
        let response = self
            .client
            .post(format!("{}{}", self.base, form.action))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{form:?}");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        let query = location.split_once('?').map_or("", |(_, q)| q);
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "note")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}

impl Drop for ReviewPage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The forms in `html` whose hidden `key` is `key`.
pub fn forms_of(html: &str, key: &str) -> Vec<Form> {
    let form = Regex::new(r#"(?s)<form method="post" action="([^"]+)">(.*?)</form>"#).unwrap();
    let input = Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)">"#).unwrap();
    let textarea = Regex::new(r#"(?s)<textarea name="([^"]+)"[^>]*>(.*?)</textarea>"#).unwrap();
    form.captures_iter(html)
        .map(|f| {
            let inner = &f[2];
            let mut fields: Vec<(String, String)> = input
                .captures_iter(inner)
                .map(|i| (i[1].to_string(), unescape(&i[2])))
                .collect();
            fields.extend(
                textarea
                    .captures_iter(inner)
                    .map(|t| (t[1].to_string(), unescape(&t[2]))),
            );
            Form {
                action: f[1].to_string(),
                fields,
            }
        })
        .filter(|f| f.field("key") == Some(key))
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
