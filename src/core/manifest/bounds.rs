//! The size pass: one walk over a manifest's raw bytes, before any JSON value is built, that refuses
//! a document whose shape no valid manifest has (an array of more than 256 items, an object of more
//! than 64 keys, nesting deeper than 16, a string longer than its field allows, more values than 256
//! full jobs hold). It builds nothing but a short path, so a 10 MiB input of five million `0`s, `{}`s
//! or keys costs a few kilobytes here and is refused with one error, instead of a value tree, a
//! schema pass and an error list that grow with the input (DESIGN §11: any manifest ≤ 10 MiB costs
//! ≤ 64 MB and ≤ 2 s).
//!
//! The limits are structural and generous: every manifest within the rules of §2 passes, and the
//! precise rules (1..64 schedules, 1..8 secret refs, a URL of 2048 bytes) stay with the checker, which
//! reports every problem of a manifest that passes this walk. Pure: bytes in, at most one issue out.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Issue, MAX_BODY_BYTES, MAX_HEADER_VALUE_BYTES, MAX_HEADERS, MAX_JOBS, excerpt_at};

/// Most items in any array (the jobs array is the longest a manifest has).
pub const MAX_ARRAY_ITEMS: usize = MAX_JOBS;
/// Most keys in any object, repeated keys included (`request.headers` is the largest).
pub const MAX_OBJECT_KEYS: usize = MAX_HEADERS;
/// Deepest nesting of objects and arrays (a manifest needs 5: root, jobs, job, policy, retries).
pub const MAX_DEPTH: usize = 16;
/// Longest key, in bytes (a header name is at most 256).
pub const MAX_KEY_BYTES: usize = 256;
/// Longest string outside `request.body`, in bytes (a header value is the longest, 8 KiB).
pub const MAX_STRING_BYTES: usize = MAX_HEADER_VALUE_BYTES;
/// Most values and keys in all: 256 jobs of 64 schedules, 64 headers and 8 refs hold about 62,000.
pub const MAX_NODES: usize = 100_000;

/// Walk `bytes` and return the first limit it breaks, at its path; `None` when the document is within
/// every limit. A JSON syntax error is not this walk's concern: it stops quietly there, and the parser
/// that runs next reports the error with its line and column.
pub fn check(bytes: &[u8]) -> Option<Issue> {
    let walk = RefCell::new(Walk::default());
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    // The walk has its own depth limit, far below serde_json's; keep serde_json's as well.
    let _ = Node { walk: &walk }.deserialize(&mut deserializer);
    walk.into_inner().found
}

#[derive(Default)]
struct Walk {
    /// Path segments of the value being read (keys cut to `MAX_KEY_BYTES`).
    path: Vec<String>,
    nodes: usize,
    found: Option<Issue>,
}

impl Walk {
    fn path(&self) -> String {
        self.path.join("/")
    }

    /// Where the value being read sits: `jobs/N/request/body` gets the body's limit.
    fn is_body(&self) -> bool {
        matches!(self.path.as_slice(), [jobs, _, request, body]
            if jobs == "jobs" && request == "request" && body == "body")
    }

    fn is_jobs(&self) -> bool {
        matches!(self.path.as_slice(), [jobs] if jobs == "jobs")
    }

    fn is_headers(&self) -> bool {
        matches!(self.path.as_slice(), [jobs, _, request, headers]
            if jobs == "jobs" && request == "request" && headers == "headers")
    }

    /// Count one value or key; refuse when the document holds more than `MAX_NODES`.
    fn count(&mut self) -> Result<(), ()> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return self.refuse(format!(
                "the manifest holds more than {MAX_NODES} values and keys (256 full jobs hold about \
                 62,000); refused before reading further: split the app's jobs or remove what is \
                 not part of a manifest"
            ));
        }
        Ok(())
    }

    fn refuse(&mut self, message: String) -> Result<(), ()> {
        self.found = Some(Issue {
            path: self.path(),
            message,
        });
        Err(())
    }

    fn string(&mut self, len: usize) -> Result<(), ()> {
        self.count()?;
        let (limit, what) = if self.is_body() {
            (MAX_BODY_BYTES, "request.body (1 MiB)")
        } else {
            (
                MAX_STRING_BYTES,
                "any string but request.body (a header value, 8 KiB)",
            )
        };
        if len > limit {
            return self.refuse(format!(
                "a string of {len} bytes; the limit for {what} is {limit} bytes: shorten it"
            ));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ()> {
        self.count()?;
        if self.path.len() >= MAX_DEPTH {
            return self.refuse(format!(
                "objects and arrays nested more than {MAX_DEPTH} deep; a manifest nests 5 deep at \
                 most (jobs/N/policy/retries): remove the nesting"
            ));
        }
        Ok(())
    }

    fn too_many_items(&mut self) -> Result<(), ()> {
        let message = if self.is_jobs() {
            format!("more than {MAX_JOBS} jobs; a manifest has 1 to {MAX_JOBS} jobs: split the app")
        } else {
            format!(
                "an array of more than {MAX_ARRAY_ITEMS} items; no array in a manifest holds more \
                 (jobs: {MAX_JOBS}, schedules: 64, secret_refs: 8): shorten it"
            )
        };
        self.refuse(message)
    }

    fn too_many_keys(&mut self) -> Result<(), ()> {
        let message = if self.is_headers() {
            format!("more than {MAX_HEADERS} headers; a request has at most {MAX_HEADERS}")
        } else {
            format!(
                "an object with more than {MAX_OBJECT_KEYS} keys (repeats counted); no object in a \
                 manifest has more (request.headers: {MAX_HEADERS}): remove the extra keys"
            )
        };
        self.refuse(message)
    }
}

/// The error that stops the walk once `Walk::found` is set.
fn stop<E: de::Error, T>(_: T) -> E {
    E::custom("manifest size limit")
}

/// One value at the walk's current path.
struct Node<'w> {
    walk: &'w RefCell<Walk>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.walk.borrow_mut().count().map_err(stop)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.walk.borrow_mut().count().map_err(stop)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.walk.borrow_mut().count().map_err(stop)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.walk.borrow_mut().count().map_err(stop)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.walk.borrow_mut().count().map_err(stop)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.walk.borrow_mut().string(v.len()).map_err(stop)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.walk.borrow_mut().enter().map_err(stop)?;
        let mut index = 0usize;
        loop {
            if index == MAX_ARRAY_ITEMS {
                // One more item would break the limit; an end here is fine.
                self.walk.borrow_mut().path.push(index.to_string());
                let more = seq.next_element_seed(Node { walk: self.walk });
                let mut walk = self.walk.borrow_mut();
                walk.path.pop();
                if walk.found.is_some() {
                    return Err(stop(()));
                }
                return match more? {
                    None => Ok(()),
                    Some(()) => walk.too_many_items().map_err(stop),
                };
            }
            self.walk.borrow_mut().path.push(index.to_string());
            let item = seq.next_element_seed(Node { walk: self.walk })?;
            self.walk.borrow_mut().path.pop();
            if item.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.walk.borrow_mut().enter().map_err(stop)?;
        let mut keys = 0usize;
        while let Some(key) = map.next_key_seed(Key { walk: self.walk })? {
            keys += 1;
            if keys > MAX_OBJECT_KEYS {
                return Err(stop(self.walk.borrow_mut().too_many_keys()));
            }
            self.walk.borrow_mut().path.push(key);
            map.next_value_seed(Node { walk: self.walk })?;
            self.walk.borrow_mut().path.pop();
        }
        Ok(())
    }
}

/// A key: counted, length-checked, and kept (cut short) as the next path segment.
struct Key<'w> {
    walk: &'w RefCell<Walk>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        let mut walk = self.walk.borrow_mut();
        walk.count().map_err(stop)?;
        if v.len() > MAX_KEY_BYTES {
            let message = format!(
                "a key of {} bytes ({}); no key in a manifest is longer than {MAX_KEY_BYTES} bytes",
                v.len(),
                excerpt_at(v, 24)
            );
            return Err(stop(walk.refuse(message)));
        }
        Ok(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> Issue {
        check(text.as_bytes()).unwrap_or_else(|| panic!("not refused: {:.80}", text))
    }

    fn many(item: &str, n: usize) -> String {
        vec![item; n].join(",")
    }

    #[test]
    fn a_full_manifest_passes() {
        let job = |i: usize| {
            let schedules = many("\"* * * * *\"", 64);
            let headers: Vec<String> = (0..64).map(|h| format!("\"X-H{h}\":\"v\"")).collect();
            format!(
                r#"{{"name":"j{i}","schedules":[{schedules}],"request":{{"url":"https://a.example/x",
                "headers":{{{}}},"body":"{}"}},"policy":{{"retries":{{"max_attempts":1}}}},
                "auth":{{"secret_refs":[{}]}}}}"#,
                headers.join(","),
                "b".repeat(1000),
                many("\"env:A\"", 8)
            )
        };
        let jobs: Vec<String> = (0..256).map(job).collect();
        let doc = format!(r#"{{"version":1,"app":"a","jobs":[{}]}}"#, jobs.join(","));
        assert!(check(doc.as_bytes()).is_none());
        let body = format!(
            r#"{{"jobs":[{{"request":{{"body":"{}"}}}}]}}"#,
            "b".repeat(MAX_BODY_BYTES)
        );
        assert!(check(body.as_bytes()).is_none());
    }

    #[test]
    fn long_arrays_are_refused_at_their_path() {
        let issue = refusal(&format!(r#"{{"jobs":[{}]}}"#, many("0", 257)));
        assert_eq!(issue.path, "jobs");
        assert!(issue.message.contains("more than 256 jobs"), "{issue:?}");
        assert!(check(format!(r#"{{"jobs":[{}]}}"#, many("0", 256)).as_bytes()).is_none());
        let refs = format!(
            r#"{{"jobs":[{{"auth":{{"secret_refs":[{}]}}}}]}}"#,
            many("\"a\"", 300)
        );
        let issue = refusal(&refs);
        assert_eq!(issue.path, "jobs/0/auth/secret_refs");
        assert!(issue.message.contains("more than 256 items"), "{issue:?}");
    }

    #[test]
    fn many_keys_deep_nesting_and_long_strings_are_refused() {
        let keys: Vec<String> = (0..65).map(|k| format!("\"k{k}\":0")).collect();
        let issue = refusal(&format!(r#"{{"jobs":[{{{}}}]}}"#, keys.join(",")));
        assert_eq!(issue.path, "jobs/0");
        assert!(issue.message.contains("more than 64 keys"), "{issue:?}");
        let repeats = refusal(&format!("{{{}}}", many("\"app\":0", 65)));
        assert!(repeats.message.contains("repeats counted"), "{repeats:?}");
        let issue = refusal(&format!("{}{}", "[".repeat(17), "]".repeat(17)));
        assert!(issue.message.contains("nested more than 16"), "{issue:?}");
        assert!(check(format!("{}{}", "[".repeat(16), "]".repeat(16)).as_bytes()).is_none());
        let issue = refusal(&format!(
            r#"{{"jobs":[{{"name":"{}"}}]}}"#,
            "n".repeat(8193)
        ));
        assert_eq!(issue.path, "jobs/0/name");
        let issue = refusal(&format!(
            r#"{{"jobs":[{{"request":{{"body":"{}"}}}}]}}"#,
            "b".repeat(MAX_BODY_BYTES + 1)
        ));
        assert_eq!(issue.path, "jobs/0/request/body");
        let issue = refusal(&format!(r#"{{"{}":0}}"#, "\\u001b".repeat(300)));
        assert!(!issue.message.contains('\u{1b}'), "{issue:?}");
    }

    #[test]
    fn many_small_values_hit_the_total() {
        let inner = format!("[{}]", many("0", 200));
        let doc = format!(
            r#"{{"x":[{}]}}"#,
            many(&format!("[{}]", many(&inner, 200)), 3)
        );
        let issue = refusal(&doc);
        assert!(
            issue.message.contains("more than 100000 values"),
            "{issue:?}"
        );
    }

    #[test]
    fn syntax_errors_are_left_to_the_parser() {
        assert!(check(b"{").is_none());
        assert!(check(b"{} x").is_none());
        assert!(check(b"[1,]").is_none());
    }
}
