//! JSON parsing that refuses duplicate object keys. `serde_json::Value` keeps the last of two equal
//! keys silently, so `{"app":"reports","app":"billing"}` would read as billing; here every duplicate
//! is reported at its JSON path (`jobs/0/name`).
//!
//! Pure: bytes in, a value and the duplicate keys out. Must not decide anything else about the
//! document (that is `core::manifest`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parse `bytes` as JSON. `Ok((value, duplicates))`: the value (the first of two equal keys kept) and
/// the `/`-joined paths of every key that repeats one before it in the same object.
pub fn parse(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let duplicates = RefCell::new(Vec::new());
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Node {
        path: String::new(),
        duplicates: &duplicates,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok((value, duplicates.into_inner()))
}

/// One value at `path`, collecting duplicate keys below it.
struct Node<'a> {
    path: String,
    duplicates: &'a RefCell<Vec<String>>,
}

impl Node<'_> {
    fn child(&self, segment: &str) -> Node<'_> {
        let path = if self.path.is_empty() {
            segment.to_string()
        } else {
            format!("{}/{segment}", self.path)
        };
        Node {
            path,
            duplicates: self.duplicates,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(&items.len().to_string()))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.child(&key))?;
            if out.contains_key(&key) {
                self.duplicates.borrow_mut().push(self.child(&key).path);
            } else {
                out.insert(key, value);
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_reported_at_their_path_and_the_first_is_kept() {
        let (value, dups) =
            parse(br#"{"app":"reports","jobs":[{"name":"a","name":"b"}],"app":"billing"}"#)
                .unwrap();
        assert_eq!(dups, ["jobs/0/name", "app"]);
        assert_eq!(value["app"], "reports");
        assert_eq!(value["jobs"][0]["name"], "a");
    }

    #[test]
    fn a_clean_document_equals_serde_json() {
        let text = br#"{"a":[1,-2,3.5,true,null,"x\u00e9"],"b":{"c":{}}}"#;
        let (value, dups) = parse(text).unwrap();
        assert!(dups.is_empty());
        assert_eq!(value, serde_json::from_slice::<Value>(text).unwrap());
    }

    #[test]
    fn invalid_json_and_trailing_bytes_are_errors() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"{} x").is_err());
    }
}
