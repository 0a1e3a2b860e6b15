//! Parsed events turned column-wise: one f64 column per feature, strings dictionary-encoded.
//!
//! Events of one producer almost always list their features in the same order, so each key is
//! first compared with the column at the same position in the previous event; the hash map is
//! only the fallback.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::parse::{Event, Prediction, Scalar};

/// Distinct strings in order of first appearance, and the code of every row (-1: not a string).
pub struct Dictionary<'a> {
    pub codes: Vec<i32>,
    pub uniques: Vec<Cow<'a, str>>,
    lookup: HashMap<Cow<'a, str>, i32>,
    rows: usize,
}

impl<'a> Dictionary<'a> {
    pub(crate) fn new(rows: usize) -> Self {
        Dictionary { codes: Vec::new(), uniques: Vec::new(), lookup: HashMap::new(), rows }
    }

    pub(crate) fn set(&mut self, row: usize, value: &Cow<'a, str>) {
        if self.codes.is_empty() {
            self.codes = vec![-1; self.rows]; // allocated at the first string only
        }
        let code = match self.lookup.get(value.as_ref()) {
            Some(&code) => code,
            None => {
                let code = self.uniques.len() as i32;
                self.uniques.push(value.clone());
                self.lookup.insert(value.clone(), code);
                code
            }
        };
        self.codes[row] = code;
    }
}

/// One feature: numbers and booleans as f64 (NaN for anything else), strings in a dictionary.
pub struct FeatureColumn<'a> {
    pub name: Cow<'a, str>,
    pub values: Vec<f64>,
    pub numbers: usize,
    pub strings: Dictionary<'a>,
    pub string_count: usize,
    last_row: usize,
}

impl<'a> FeatureColumn<'a> {
    pub(crate) fn new(name: Cow<'a, str>, rows: usize) -> Self {
        FeatureColumn {
            name,
            values: vec![f64::NAN; rows],
            numbers: 0,
            strings: Dictionary::new(rows),
            string_count: 0,
            last_row: usize::MAX,
        }
    }

    pub(crate) fn set(&mut self, row: usize, value: &Scalar<'a>) -> Result<(), String> {
        if self.last_row == row {
            return Err(format!("repeated feature {}", self.name)); // pydantic would keep the last one
        }
        self.last_row = row;
        match value {
            Scalar::Num(v) => {
                self.values[row] = *v;
                self.numbers += 1;
            }
            Scalar::Bool(b) => {
                self.values[row] = if *b { 1.0 } else { 0.0 };
                self.numbers += 1;
            }
            Scalar::Str(s) => {
                self.strings.set(row, s);
                self.string_count += 1;
            }
            Scalar::Null => {}
        }
        Ok(())
    }
}

pub struct Columns<'a> {
    pub rows: usize,
    pub timestamps: Vec<i64>,
    pub event_ids: Vec<Cow<'a, str>>,
    /// Distinct (model_id, model_version) pairs, and each row's index into them.
    pub groups: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub group_codes: Vec<u32>,
    pub latency_ms: Vec<f64>,
    /// Numbers as themselves, booleans 0/1, probability maps their top probability, labels NaN.
    pub scores: Vec<f64>,
    pub labels: Dictionary<'a>,
    pub label_count: usize,
    pub features: Vec<FeatureColumn<'a>>,
}

impl<'a> Columns<'a> {
    /// Empty columns for `rows` events (filled row by row, or column by column).
    pub(crate) fn with_rows(rows: usize) -> Self {
        Columns {
            rows,
            timestamps: Vec::with_capacity(rows),
            event_ids: Vec::with_capacity(rows),
            groups: Vec::new(),
            group_codes: Vec::with_capacity(rows),
            latency_ms: Vec::with_capacity(rows),
            scores: Vec::with_capacity(rows),
            labels: Dictionary::new(rows),
            label_count: 0,
            features: Vec::new(),
        }
    }

    /// Appends row `row`'s prediction to `scores` (and `labels` for a class label).
    pub(crate) fn push_prediction(&mut self, row: usize, prediction: &Prediction<'a>) {
        self.scores.push(match prediction {
            Prediction::Num(v) | Prediction::TopProbability(v) => *v,
            Prediction::Bool(b) => f64::from(u8::from(*b)),
            Prediction::Str(label) => {
                self.labels.set(row, label);
                self.label_count += 1;
                f64::NAN
            }
        });
    }
}

pub fn build(events: Vec<Event<'_>>) -> Result<Columns<'_>, String> {
    let rows = events.len();
    let mut out = Columns::with_rows(rows);
    let mut by_name: HashMap<Cow<'_, str>, usize> = HashMap::new();
    let mut previous: Vec<usize> = Vec::new(); // column index of each position in the last event
    let mut current: Vec<usize> = Vec::new();
    for (row, event) in events.into_iter().enumerate() {
        out.timestamps.push(event.timestamp);
        out.latency_ms.push(event.latency_ms);
        out.group_codes.push(group_code(&mut out.groups, event.model_id, event.model_version));
        out.event_ids.push(event.event_id);
        out.push_prediction(row, &event.prediction);
        current.clear();
        for (position, (name, value)) in event.features.into_iter().enumerate() {
            let index = match previous.get(position) {
                Some(&i) if out.features[i].name == name => i,
                _ => *by_name.entry(name.clone()).or_insert_with(|| {
                    out.features.push(FeatureColumn::new(name, rows));
                    out.features.len() - 1
                }),
            };
            out.features[index].set(row, &value)?;
            current.push(index);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    Ok(out)
}

fn group_code<'a>(groups: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>, model: Cow<'a, str>, version: Cow<'a, str>) -> u32 {
    if let Some(last) = groups.last() {
        if last.0 == model && last.1 == version {
            return (groups.len() - 1) as u32;
        }
    }
    if let Some(i) = groups.iter().position(|(m, v)| *m == model && *v == version) {
        return i as u32;
    }
    groups.push((model, version));
    (groups.len() - 1) as u32
}
