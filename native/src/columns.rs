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
    last: usize, // the code found last: a column often repeats a label
}

/// Up to this many distinct strings a scan beats hashing (SipHash costs more than a few compares).
const SCANNED: usize = 16;

impl<'a> Dictionary<'a> {
    pub(crate) fn new(rows: usize) -> Self {
        Dictionary { codes: Vec::new(), uniques: Vec::new(), lookup: HashMap::new(), rows, last: 0 }
    }

    fn code(&mut self, value: &Cow<'a, str>) -> i32 {
        if self.uniques.get(self.last).is_some_and(|u| u == value) {
            return self.last as i32;
        }
        let found = if self.uniques.len() <= SCANNED {
            self.uniques.iter().position(|u| u == value)
        } else {
            self.lookup.get(value.as_ref()).map(|&c| c as usize)
        };
        let code = found.unwrap_or_else(|| {
            self.uniques.push(value.clone());
            if self.uniques.len() > SCANNED {
                if self.lookup.is_empty() { // from now on looked up by hash: index the scanned ones
                    for (i, u) in self.uniques.iter().enumerate() {
                        self.lookup.insert(u.clone(), i as i32);
                    }
                } else {
                    self.lookup.insert(value.clone(), (self.uniques.len() - 1) as i32);
                }
            }
            self.uniques.len() - 1
        });
        self.last = code;
        code as i32
    }

    pub(crate) fn set(&mut self, row: usize, value: &Cow<'a, str>) {
        if self.codes.is_empty() {
            self.codes = vec![-1; self.rows]; // allocated at the first string only
        }
        self.codes[row] = self.code(value);
    }

    /// Appends a row (`rows` so far): its string's code, or -1 for no string.
    pub(crate) fn push(&mut self, rows: usize, value: Option<&Cow<'a, str>>) {
        match value {
            Some(v) => {
                if self.codes.is_empty() {
                    self.codes = vec![-1; rows];
                }
                let code = self.code(v);
                self.codes.push(code);
            }
            None if !self.codes.is_empty() => self.codes.push(-1),
            None => {}
        }
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

    /// An empty column filled by `push` (a columnar envelope's array, read value by value).
    pub(crate) fn growing(name: Cow<'a, str>, capacity: usize) -> Self {
        let mut column = FeatureColumn::new(name, 0);
        column.values.reserve(capacity);
        column
    }

    /// Appends the next row's value.
    pub(crate) fn push(&mut self, value: &Scalar<'a>) {
        let rows = self.values.len();
        let (number, text) = match value {
            Scalar::Num(v) => (*v, None),
            Scalar::Bool(b) => (if *b { 1.0 } else { 0.0 }, None),
            Scalar::Str(s) => (f64::NAN, Some(s)),
            Scalar::Null => (f64::NAN, None),
        };
        match value {
            Scalar::Num(_) | Scalar::Bool(_) => self.numbers += 1,
            Scalar::Str(_) => self.string_count += 1,
            Scalar::Null => {}
        }
        self.values.push(number);
        self.strings.push(rows, text);
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
