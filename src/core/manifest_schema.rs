//! The manifest's JSON Schema (`schemas/manifest.schema.json`, compiled in) applied to a parsed value.
//!
//! It checks the wire shape only; the semantic rules live in `core::manifest`. Pure: the schema is
//! embedded at build time, nothing is read at run time.

use std::sync::OnceLock;

use crate::core::manifest::{Issue, display_excerpt};

/// The schema text, as checked in.
pub const MANIFEST_SCHEMA: &str = include_str!("../../schemas/manifest.schema.json");

fn validator() -> Option<&'static jsonschema::Validator> {
    static VALIDATOR: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: serde_json::Value = serde_json::from_str(MANIFEST_SCHEMA).ok()?;
            jsonschema::draft202012::new(&schema).ok()
        })
        .as_ref()
}

/// The first `limit` schema violations in `instance`, as issues with `/`-joined paths (the rest are
/// never computed).
pub fn validate(instance: &serde_json::Value, limit: usize) -> Vec<Issue> {
    let Some(validator) = validator() else {
        return vec![Issue {
            path: String::new(),
            message: "the built-in manifest schema does not compile; this is a bug in cronix"
                .into(),
        }];
    };
    validator
        .iter_errors(instance)
        .take(limit)
        .map(|error| {
            let pointer = error.instance_path().to_string();
            let path = pointer
                .trim_start_matches('/')
                .replace("~1", "/")
                .replace("~0", "~");
            Issue {
                path,
                message: format!(
                    "does not match the manifest schema: {}",
                    display_excerpt(&error, 120)
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_schema_compiles() {
        assert!(validator().is_some());
    }

    #[test]
    fn schema_reports_paths_of_wrong_shapes() {
        let bad =
            serde_json::json!({"version": 1, "app": "x", "jobs": [{"name": "a", "request": {}}]});
        let paths: Vec<String> = validate(&bad, 100).into_iter().map(|i| i.path).collect();
        assert!(paths.contains(&"jobs/0".to_string()), "{paths:?}");
        assert!(paths.contains(&"jobs/0/request".to_string()), "{paths:?}");
    }
}
