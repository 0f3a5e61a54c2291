//! Reading fields out of a JSON object, with dotted paths for error messages.
//!
//! Keys are matched exactly first and then ignoring ASCII case, so the PascalCase keys of
//! the older Power Automate V2 trigger (`Id`, `Subject`, `Start`) read like the camelCase
//! ones. A `null` value is the same as an absent key. A value of the wrong JSON type is
//! an error; a string where a number or a boolean is expected is read when it parses,
//! since flows often stringify what they pass on.

use serde_json::{Map, Value};

use super::PayloadError;

/// A JSON object and the dotted path that leads to it (empty at the top).
#[derive(Clone)]
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// What a JSON value is, in words, for error messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `path.key`, or `key` at the top.
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// An [`PayloadError::Invalid`] for `field`.
pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> PayloadError {
    PayloadError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl<'a> Obj<'a> {
    /// The object at the top of a document.
    pub(super) fn root(map: &'a Map<String, Value>) -> Self {
        Obj {
            map,
            path: String::new(),
        }
    }

    /// `map`, found at the dotted path `path`.
    pub(super) fn at(map: &'a Map<String, Value>, path: String) -> Self {
        Obj { map, path }
    }

    /// The object field `key` as an [`Obj`] of its own.
    pub(super) fn child(&self, key: &str) -> Result<Option<Obj<'a>>, PayloadError> {
        Ok(self.object(key)?.map(|map| Obj::at(map, self.field(key))))
    }

    /// The dotted path of `key` in this object.
    pub(super) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Whether `key` is present and not null.
    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The value of `key` (exact match, else case-insensitive), unless absent or null.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        let value = match self.map.get(key) {
            Some(value) => Some(value),
            None => self
                .map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v),
        };
        value.filter(|v| !v.is_null())
    }

    /// A string field; an empty or blank string reads as absent.
    ///
    /// # Errors
    /// [`PayloadError::Invalid`] when the value is not a string.
    pub(super) fn str(&self, key: &str) -> Result<Option<&'a str>, PayloadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(
                self.field(key),
                format!("expected a string, found {}", kind(other)),
            )),
        }
    }

    /// A string field as an owned value.
    pub(super) fn string(&self, key: &str) -> Result<Option<String>, PayloadError> {
        Ok(self.str(key)?.map(str::to_owned))
    }

    /// A required string field.
    ///
    /// # Errors
    /// [`PayloadError::Missing`] when absent, null or empty.
    pub(super) fn required_str(&self, key: &str) -> Result<&'a str, PayloadError> {
        self.str(key)?
            .ok_or_else(|| PayloadError::Missing(self.field(key)))
    }

    /// A boolean field (`true`/`false`, or those words as a string).
    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, PayloadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(invalid(self.field(key), format!("not a boolean: {s:?}"))),
            },
            Some(other) => Err(invalid(
                self.field(key),
                format!("expected a boolean, found {}", kind(other)),
            )),
        }
    }

    /// A non-negative integer field (a JSON number, or digits in a string).
    pub(super) fn u32(&self, key: &str) -> Result<Option<u32>, PayloadError> {
        let bad = |what: String| invalid(self.field(key), what);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => u32::try_from(v)
                    .map(Some)
                    .map_err(|_| bad(format!("{v} is too large"))),
                None => Err(bad(format!("expected a whole number ≥ 0, found {n}"))),
            },
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| bad(format!("not a whole number ≥ 0: {s:?}"))),
            Some(other) => Err(bad(format!("expected a number, found {}", kind(other)))),
        }
    }

    /// An object field.
    pub(super) fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, PayloadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(invalid(
                self.field(key),
                format!("expected an object, found {}", kind(other)),
            )),
        }
    }

    /// An array field.
    pub(super) fn array(&self, key: &str) -> Result<Option<&'a [Value]>, PayloadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(invalid(
                self.field(key),
                format!("expected an array, found {}", kind(other)),
            )),
        }
    }
}
