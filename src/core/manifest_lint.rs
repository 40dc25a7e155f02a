//! Warnings about valid manifests that will not work as meant with apps on the reference SDK.
//!
//! The reference TypeScript SDK (`@awbx/cronix-sdk`) verifies a signature over the request path
//! without its query string and over an empty body for `GET` and `DELETE`; cronix signs the path and
//! query as sent and the body it sends (the protocol's rule). So a job URL with a query, or a
//! `GET`/`DELETE` job with a body, gets 401 at every fire from such an app. And `${…}` or `env:` text
//! in a URL, header or body is sent literally: cronix expands nothing there. Pure; warnings only,
//! never errors (the manifest is valid protocol v1).

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
    if matches!(request.method, Method::Get | Method::Delete) && !request.body.is_empty() {
        out.push(format!(
            "job {name}: a {} job has a body; the reference SDK verifies {} requests over an empty \
             body, so such an app answers every fire with 401; use POST or drop the body",
            request.method.as_str(),
            request.method.as_str()
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
        let quiet = job("POST", "https://a.example/x", "{}", serde_json::json!({}));
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
        let w = job_warnings(&job(
            "GET",
            "https://a.example/x",
            "b",
            serde_json::json!({}),
        ));
        assert!(w[0].contains("GET job has a body"), "{w:?}");
        assert!(
            job_warnings(&job(
                "DELETE",
                "https://a.example/x",
                "",
                serde_json::json!({})
            ))
            .is_empty()
        );
        let w = job_warnings(&job(
            "POST",
            "https://a.example/x",
            "token=${TOKEN}",
            serde_json::json!({"X-Key": "env:KEY"}),
        ));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("request.headers.X-Key") && w[1].contains("request.body"));
    }
}
