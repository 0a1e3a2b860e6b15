//! A columnar envelope (schemas/envelope.py) parsed straight into columns.
//!
//! `{"schema_version": 1, "model_id": ..., "model_version": ..., "columns": {"event_id": [...],
//! "timestamp": [...], "prediction": [...], "latency_ms": [...], "features": {name: [...]}}}`.
//! The feature names are read once per message instead of once per event, which is most of why
//! it decodes faster than `{"events": [...]}`. As in parse.rs, whatever this parser is unsure
//! about is an error and the Python path decides: so it refuses more than pydantic, never less.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::columns::{Columns, FeatureColumn};
use crate::parse::{non_empty, once, Latency, Prediction, Scalar, SchemaVersion, Skip, Text, Timestamp, MAX_DEPTH};

/// A non-empty string (an event id).
struct EventId<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for EventId<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        non_empty(Text::deserialize(d)?, "event_id").map(EventId)
    }
}

/// One feature's array, read straight into its column (no vector of values in between).
struct ColumnSeed<'a>(Cow<'a, str>);

impl<'de> DeserializeSeed<'de> for ColumnSeed<'de> {
    type Value = FeatureColumn<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ColumnSeed<'de> {
    type Value = FeatureColumn<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of feature values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut column = FeatureColumn::growing(self.0, seq.size_hint().unwrap_or(512));
        while let Some(value) = seq.next_element::<Scalar<'de>>()? {
            column.push(&value);
        }
        Ok(column)
    }
}

/// The features object: name -> its column, in message order, names not repeated.
struct FeatureColumns<'a>(Vec<FeatureColumn<'a>>);

impl<'de> Deserialize<'de> for FeatureColumns<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FeatureColumns<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of feature columns")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(32));
                let mut seen: HashSet<Cow<'de, str>> = HashSet::new();
                while let Some(name) = map.next_key::<Text<'de>>()? {
                    if !seen.insert(name.0.clone()) {
                        return Err(de::Error::custom("repeated feature")); // pydantic would keep the last one
                    }
                    out.push(map.next_value_seed(ColumnSeed(name.0))?);
                }
                Ok(FeatureColumns(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The `columns` object.
struct EnvelopeColumns<'a> {
    event_ids: Vec<Cow<'a, str>>,
    timestamps: Vec<i64>,
    predictions: Vec<Prediction<'a>>,
    latency_ms: Option<Vec<f64>>,
    features: Vec<FeatureColumn<'a>>,
}

impl<'de> Deserialize<'de> for EnvelopeColumns<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvelopeColumns<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the columns of an envelope")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut ids, mut times, mut predictions, mut latency, mut features) = (None, None, None, None, None);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "event_id" => {
                            let v: Vec<EventId<'de>> = map.next_value()?;
                            once(&mut ids, v.into_iter().map(|e| e.0).collect(), "event_id")?
                        }
                        "timestamp" => {
                            let v: Vec<Timestamp> = map.next_value()?;
                            once(&mut times, v.into_iter().map(|t| t.0).collect(), "timestamp")?
                        }
                        "prediction" => once(&mut predictions, map.next_value::<Vec<Prediction<'de>>>()?, "prediction")?,
                        "latency_ms" => {
                            // null for the whole column is what pydantic takes as "no latencies".
                            let v: Option<Vec<Latency>> = map.next_value()?;
                            once(&mut latency, v.map(|l| l.into_iter().map(|x| x.0).collect()), "latency_ms")?
                        }
                        "features" => once(&mut features, map.next_value::<FeatureColumns<'de>>()?.0, "features")?,
                        _ => map.next_value_seed(Skip(MAX_DEPTH - 2))?,
                    }
                }
                let missing = |k: &str| de::Error::custom(format!("missing {k}"));
                Ok(EnvelopeColumns {
                    event_ids: ids.ok_or_else(|| missing("event_id"))?,
                    timestamps: times.ok_or_else(|| missing("timestamp"))?,
                    predictions: predictions.ok_or_else(|| missing("prediction"))?,
                    latency_ms: latency.unwrap_or(None),
                    features: features.ok_or_else(|| missing("features"))?,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The whole message; a top-level `event_id` or `events` makes it another wire form.
pub struct Envelope<'a> {
    model_id: Cow<'a, str>,
    model_version: Cow<'a, str>,
    columns: EnvelopeColumns<'a>,
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a columnar envelope")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut model_id, mut version, mut columns, mut schema) = (None, None, None, None);
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.0.as_ref() {
                        "model_id" => once(&mut model_id, non_empty(map.next_value()?, "model_id")?, "model_id")?,
                        "model_version" => once(&mut version, map.next_value::<Text<'de>>()?.0, "model_version")?,
                        "columns" => once(&mut columns, map.next_value::<EnvelopeColumns<'de>>()?, "columns")?,
                        "schema_version" => once(&mut schema, map.next_value::<SchemaVersion>()?, "schema_version")?,
                        "event_id" | "events" => return Err(de::Error::custom("not an envelope")),
                        _ => map.next_value_seed(Skip(MAX_DEPTH - 1))?,
                    }
                }
                let missing = |k: &str| de::Error::custom(format!("missing {k}"));
                Ok(Envelope {
                    model_id: model_id.ok_or_else(|| missing("model_id"))?,
                    model_version: version.unwrap_or(Cow::Borrowed("")),
                    columns: columns.ok_or_else(|| missing("columns"))?,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The envelope's rows as columns; columns of unequal length refuse the whole message.
pub fn build(envelope: Envelope<'_>) -> Result<Columns<'_>, String> {
    let c = envelope.columns;
    let rows = c.event_ids.len();
    let lengths = [("timestamp", c.timestamps.len()), ("prediction", c.predictions.len()),
                   ("latency_ms", c.latency_ms.as_ref().map_or(rows, Vec::len))];
    for (name, n) in lengths.into_iter().chain(c.features.iter().map(|f| (f.name.as_ref(), f.values.len()))) {
        if n != rows {
            return Err(format!("column {name} has {n} values, event_id {rows}"));
        }
    }
    let mut out = Columns::with_rows(rows);
    out.timestamps = c.timestamps;
    out.event_ids = c.event_ids;
    out.groups.push((envelope.model_id, envelope.model_version));
    out.group_codes = vec![0; rows];
    out.latency_ms = c.latency_ms.unwrap_or_else(|| vec![f64::NAN; rows]);
    for (row, prediction) in c.predictions.iter().enumerate() {
        out.push_prediction(row, prediction);
    }
    out.features = c.features;
    Ok(out)
}
