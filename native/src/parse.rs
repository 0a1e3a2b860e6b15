//! The plainly valid shape of a batch message, parsed without building any Python object.
//!
//! Strictness: anything this parser is unsure about is an error, and the caller then falls back to
//! the Python path (msgspec, then pydantic), which decides and explains. So this parser may refuse
//! more than `schemas.PredictionEvent` accepts, never less: duplicate keys, floats as timestamps,
//! a top-level `event_id`, booleans as probabilities and the like are all refused here.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON string, borrowed from the message when it has no escapes.
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The visit methods for a JSON number, string or boolean, shared by the enums that take them
/// (`$kind::Num(f64)`, `$kind::Str(Cow<str>)`, `$kind::Bool(bool)`); ints become f64 as Python's
/// float() makes them.
macro_rules! scalar_visits {
    ($kind:ident) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($kind::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok($kind::Num(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok($kind::Num(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok($kind::Num(v))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok($kind::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok($kind::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok($kind::Str(Cow::Owned(v)))
        }
    };
}

/// A feature value: number (ints become f64 as Python's float() does), string, boolean or null.
pub enum Scalar<'a> {
    Num(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, string, boolean or null")
            }
            scalar_visits!(Scalar);
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
        }
        d.deserialize_any(V)
    }
}

/// A number only (no booleans): probabilities, latency.
pub(crate) struct Number(pub f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Scalar::deserialize(d)? {
            Scalar::Num(v) => Ok(Number(v)),
            _ => Err(de::Error::custom("a number expected")),
        }
    }
}

/// `latency_ms`: a number >= 0, or null (NaN).
pub(crate) struct Latency(pub f64);

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Option::<Number>::deserialize(d)?.map_or(f64::NAN, |n| n.0);
        if v < 0.0 {
            return Err(de::Error::custom("negative latency_ms"));
        }
        Ok(Latency(v))
    }
}

/// The prediction: a number, a label, a boolean, or class -> probability (kept as its top probability).
pub enum Prediction<'a> {
    Num(f64),
    Str(Cow<'a, str>),
    Bool(bool),
    /// The largest probability; NaN for an empty map.
    TopProbability(f64),
}

impl<'de> Deserialize<'de> for Prediction<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Prediction<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, string, boolean or object of probabilities")
            }
            scalar_visits!(Prediction);
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // A repeated class would make "last wins" and "max over all" differ: refuse it.
                let mut classes: Vec<Cow<'de, str>> = Vec::new();
                let mut top = f64::NAN;
                while let Some((class, p)) = map.next_entry::<Text<'de>, Number>()? {
                    if classes.iter().any(|c| *c == class.0) {
                        return Err(de::Error::custom("repeated class"));
                    }
                    classes.push(class.0);
                    if top.is_nan() || p.0 > top {
                        top = p.0;
                    }
                }
                Ok(Prediction::TopProbability(top))
            }
        }
        d.deserialize_any(V)
    }
}

/// `schema_version`: only the integer 1.
pub(crate) struct SchemaVersion;

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Timestamp::deserialize(d)?.0 {
            1 => Ok(SchemaVersion),
            _ => Err(de::Error::custom("unknown schema_version")),
        }
    }
}

/// An integer that fits i64 (floats and RFC 3339 strings are left to the Python path).
pub(crate) struct Timestamp(pub i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v).map(Timestamp).map_err(|_| E::custom("integer out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The features object, in message order.
pub struct Features<'a>(pub Vec<(Cow<'a, str>, Scalar<'a>)>);

impl<'de> Deserialize<'de> for Features<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Features<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of features")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some((name, value)) = map.next_entry::<Text<'de>, Scalar<'de>>()? {
                    out.push((name.0, value));
                }
                Ok(Features(out))
            }
        }
        d.deserialize_map(V)
    }
}

pub struct Event<'a> {
    pub event_id: Cow<'a, str>,
    pub model_id: Cow<'a, str>,
    pub model_version: Cow<'a, str>,
    pub timestamp: i64,
    pub features: Vec<(Cow<'a, str>, Scalar<'a>)>,
    pub prediction: Prediction<'a>,
    /// NaN when absent or null.
    pub latency_ms: f64,
}

/// Messages nested deeper than this are refused by every decoder (`schemas.fast_path.MAX_DEPTH`).
pub(crate) const MAX_DEPTH: usize = 64;
/// Nesting of an event's own fields inside a batch: the batch object, its list, the event.
const EVENT_DEPTH: usize = 3;

/// Skips any JSON value (an ignored field) of at most `.0` levels of nesting; deeper is an
/// error, so a hostile message cannot recurse without bound (serde's IgnoredAny would).
pub(crate) struct Skip(pub usize);

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> { Ok(()) }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> { Ok(()) }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> { Ok(()) }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> { Ok(()) }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> { Ok(()) }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> { Ok(()) }
    fn visit_none<E: de::Error>(self) -> Result<(), E> { Ok(()) }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.0.checked_sub(1).ok_or_else(|| de::Error::custom("nested too deep"))?;
        while seq.next_element_seed(Skip(inner))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.0.checked_sub(1).ok_or_else(|| de::Error::custom("nested too deep"))?;
        while map.next_key::<Text<'de>>()?.is_some() {
            map.next_value_seed(Skip(inner))?;
        }
        Ok(())
    }
}

pub(crate) fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format!("repeated key {key}")));
    }
    *slot = Some(value);
    Ok(())
}

pub(crate) fn non_empty<'a, E: de::Error>(text: Text<'a>, key: &str) -> Result<Cow<'a, str>, E> {
    if text.0.is_empty() {
        return Err(E::custom(format!("empty {key}")));
    }
    Ok(text.0)
}

impl<'de> Deserialize<'de> for Event<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Event<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a prediction event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut event_id, mut model_id, mut version, mut timestamp) = (None, None, None, None);
                let (mut features, mut prediction, mut latency, mut schema) = (None, None, None, None);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "event_id" => once(&mut event_id, non_empty(map.next_value()?, "event_id")?, "event_id")?,
                        "model_id" => once(&mut model_id, non_empty(map.next_value()?, "model_id")?, "model_id")?,
                        "model_version" => once(&mut version, map.next_value::<Text<'de>>()?.0, "model_version")?,
                        "timestamp" => once(&mut timestamp, map.next_value::<Timestamp>()?.0, "timestamp")?,
                        "features" => once(&mut features, map.next_value::<Features<'de>>()?.0, "features")?,
                        "prediction" => once(&mut prediction, map.next_value::<Prediction<'de>>()?, "prediction")?,
                        "latency_ms" => once(&mut latency, map.next_value::<Latency>()?.0, "latency_ms")?,
                        "schema_version" => once(&mut schema, map.next_value::<SchemaVersion>()?, "schema_version")?,
                        _ => map.next_value_seed(Skip(MAX_DEPTH - EVENT_DEPTH))?,
                    }
                }
                let missing = |k: &str| de::Error::custom(format!("missing {k}"));
                Ok(Event {
                    event_id: event_id.ok_or_else(|| missing("event_id"))?,
                    model_id: model_id.ok_or_else(|| missing("model_id"))?,
                    model_version: version.unwrap_or(Cow::Borrowed("")),
                    timestamp: timestamp.ok_or_else(|| missing("timestamp"))?,
                    features: features.ok_or_else(|| missing("features"))?,
                    prediction: prediction.ok_or_else(|| missing("prediction"))?,
                    latency_ms: latency.unwrap_or(f64::NAN),
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// `{"events": [...], ...}` with no top-level `event_id` (that would make it a single event).
pub struct Batch<'a>(pub Vec<Event<'a>>);

impl<'de> Deserialize<'de> for Batch<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Batch<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a batch of prediction events")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut events, mut schema) = (None, None);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "events" => once(&mut events, map.next_value::<Vec<Event<'de>>>()?, "events")?,
                        "schema_version" => once(&mut schema, map.next_value::<SchemaVersion>()?, "schema_version")?,
                        "event_id" => return Err(de::Error::custom("a top-level event_id")),
                        _ => map.next_value_seed(Skip(MAX_DEPTH - 1))?,
                    }
                }
                events.map(Batch).ok_or_else(|| de::Error::custom("missing events"))
            }
        }
        d.deserialize_map(V)
    }
}
