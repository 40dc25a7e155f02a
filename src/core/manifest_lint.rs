//! Warnings about valid manifests that will not work as meant with apps on the reference SDK.
//!
//! The reference TypeScript SDK (`@awbx/cronix-sdk`) verifies a signature over the request path
//! without its query string, and over an empty body for `GET` (its adapters drop a GET body; they
//! verify `DELETE` bodies like any other); cronix signs the path and query as sent and the body it
//! sends (the protocol's rule). So a job URL with a query, or a `GET` job with a body, gets 401 at
//! every fire from such an app. Its Express adapter reads the raw body only of requests that carry a
//! `Content-Type`, so a job with a body and no such header is refused there too. And `${…}` or
//! `env:` text in a URL, header or body is sent literally: cronix expands nothing there. Pure;
//! warnings only, never errors (the manifest is valid protocol v1).

use crate::core::manifest::{Job, Manifest, Method};

/// Every warning for the manifest's jobs, in job order, each naming the job and the JSON field.
pub fn reference_sdk_warnings(manifest: &Manifest) -> Vec<String> {
    manifest.jobs.iter().flat_map(job_warnings).collect()
}

/// The warnings of one job.
pub fn job_warnings(job: &Job) -> Vec<String> {
    let name = &job.name;
    let request = &job.request;
    let mut out = Vec::new();
    if url::Url::parse(&request.url).is_ok_and(|u| u.query().is_some()) {
        out.push(format!(
            "job {name}: request.url has a query string; cronix signs the path with its query (the \
             protocol's rule), but the reference SDK verifies the path without it, so such an app \
             answers every fire with 401; move the parameters into the path or the body"
        ));
    }
    if request.method == Method::Get && !request.body.is_empty() {
        out.push(format!(
            "job {name}: a GET job has a body; the reference SDK's adapters drop GET bodies and \
             verify over an empty one, so such an app answers every fire with 401; use POST or drop \
             the body"
        ));
    }
    let typed = request
        .headers
        .keys()
        .any(|h| h.eq_ignore_ascii_case("content-type"));
    if !request.body.is_empty() && !typed {
        out.push(format!(
            "job {name}: request.body is set but request.headers has no Content-Type; the \
             reference SDK's Express adapter reads the raw body only of requests that carry one, \
             so it refuses every fire; add \"Content-Type\": \"application/json\" (or the body's \
             type) to request.headers"
        ));
    }
    let mut literal = |field: &str, text: &str| {
        if text.contains("${") || text.contains("env:") {
            out.push(format!(
                "job {name}: {field} contains \"${{…}}\" or \"env:\" text, which is sent literally \
                 (cronix expands nothing in requests; secrets go in auth.secret_refs)"
            ));
        }
    };
    literal("request.url", &request.url);
    for (header, value) in &request.headers {
        literal(&format!("request.headers.{header}"), value);
    }
    literal("request.body", &request.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(method: &str, url: &str, body: &str, headers: serde_json::Value) -> Job {
        serde_json::from_value(serde_json::json!({
            "name": "j", "schedules": ["@daily"], "timezone": "UTC",
            "request": {"method": method, "url": url, "headers": headers, "body": body},
            "policy": {"concurrency": "Forbid", "concurrency_scope": "host", "timeout_seconds": 5,
                       "retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}},
            "auth": {"secret_refs": []}
        }))
        .unwrap()
    }

    #[test]
    fn a_plain_post_gets_no_warning() {
        let headers = serde_json::json!({"Content-Type": "application/json"});
        let quiet = job("POST", "https://a.example/x", "{}", headers);
        assert!(job_warnings(&quiet).is_empty());
    }

    #[test]
    fn query_body_and_literal_placeholders_are_warned_about() {
        let w = job_warnings(&job(
            "POST",
            "https://a.example/x?y=1",
            "",
            serde_json::json!({}),
        ));
        assert!(w[0].contains("query string"), "{w:?}");
        let typed = serde_json::json!({"content-type": "text/plain"});
        let w = job_warnings(&job("GET", "https://a.example/x", "b", typed.clone()));
        assert!(w[0].contains("GET job has a body"), "{w:?}");
        assert!(
            job_warnings(&job("DELETE", "https://a.example/x", "b", typed)).is_empty(),
            "every SDK adapter verifies DELETE bodies"
        );
        let w = job_warnings(&job(
            "POST",
            "https://a.example/x",
            "{}",
            serde_json::json!({}),
        ));
        assert!(
            w.len() == 1 && w[0].contains("\"Content-Type\": \"application/json\""),
            "{w:?}"
        );
        let w = job_warnings(&job(
            "POST",
            "https://a.example/x",
            "token=${TOKEN}",
            serde_json::json!({"X-Key": "env:KEY", "Content-Type": "text/plain"}),
        ));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("request.headers.X-Key") && w[1].contains("request.body"));
    }
}
