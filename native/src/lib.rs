//! `schemas._columnar`: a batch message `{"events": [...]}`, or a columnar envelope (the producer
//! SDK's form, schemas/envelope.py), decoded straight into columns.
//!
//! Python builds no object per event or per feature value: numbers land in f64 columns, strings in
//! per-column dictionaries, and the GIL is released while parsing, so the Kafka fetch thread runs
//! meanwhile. `decode_batch` returns None for anything it is not sure is valid; the caller then
//! takes the Python path (see schemas/columnar.py), which accepts exactly what pydantic accepts.

mod columns;
mod envelope;
mod parse;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyDict, PyList, PyTuple};

use crate::columns::{Columns, Dictionary};
use crate::envelope::Envelope;
use crate::parse::Batch;

fn bytes_of<T: Copy>(values: &[T]) -> &[u8] {
    // Plain numbers in native byte order, read back with numpy.frombuffer.
    unsafe { std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values)) }
}

fn array<'py, T: Copy>(py: Python<'py>, values: &[T]) -> Bound<'py, PyByteArray> {
    PyByteArray::new(py, bytes_of(values))
}

fn dictionary<'py>(py: Python<'py>, d: &Dictionary<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let codes = if d.codes.is_empty() { py.None().into_bound(py) } else { array(py, &d.codes).into_any() };
    let uniques = PyList::new(py, d.uniques.iter().map(|s| s.as_ref()))?;
    PyTuple::new(py, [codes, uniques.into_any()])
}

fn to_python<'py>(py: Python<'py>, c: &Columns<'_>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("rows", c.rows)?;
    out.set_item("timestamps", array(py, &c.timestamps))?;
    out.set_item("event_ids", PyList::new(py, c.event_ids.iter().map(|s| s.as_ref()))?)?;
    let groups: Vec<(&str, &str)> = c.groups.iter().map(|(m, v)| (m.as_ref(), v.as_ref())).collect();
    out.set_item("groups", PyList::new(py, groups)?)?;
    out.set_item("group_codes", array(py, &c.group_codes))?;
    out.set_item("latency_ms", array(py, &c.latency_ms))?;
    out.set_item("scores", array(py, &c.scores))?;
    out.set_item("labels", dictionary(py, &c.labels)?)?;
    out.set_item("label_count", c.label_count)?;
    let features = PyDict::new(py);
    for f in &c.features {
        let column = (array(py, &f.values), f.numbers, f.string_count, dictionary(py, &f.strings)?);
        features.set_item(f.name.as_ref(), column)?;
    }
    out.set_item("features", features)?;
    Ok(out)
}

/// A batch message's columns, or why it is refused.
fn parse_columns(raw: &[u8]) -> Result<Columns<'_>, String> {
    let batch: Batch<'_> = sonic_rs::from_slice(raw).map_err(|e| e.to_string())?;
    columns::build(batch.0)
}

/// The columns `parse` finds in a message (parsed without the GIL), or None.
fn columns_or_none<'py>(py: Python<'py>, raw: &[u8], parse: for<'a> fn(&'a [u8]) -> Result<Columns<'a>, String>)
                        -> PyResult<Option<Bound<'py, PyDict>>> {
    match py.detach(|| parse(raw)) {
        Ok(columns) => to_python(py, &columns).map(Some),
        Err(_) => Ok(None),
    }
}

/// Columns of a plainly valid batch message, or None (then the Python path decides).
#[pyfunction]
fn decode_batch<'py>(py: Python<'py>, raw: &[u8]) -> PyResult<Option<Bound<'py, PyDict>>> {
    columns_or_none(py, raw, parse_columns)
}

/// Why `decode_batch` refused a message (for tests and diagnostics), or None if it would not.
#[pyfunction]
fn refusal(raw: &[u8]) -> Option<String> {
    parse_columns(raw).err()
}

/// A columnar envelope's columns, or why it is refused.
fn parse_envelope(raw: &[u8]) -> Result<Columns<'_>, String> {
    let parsed: Envelope<'_> = sonic_rs::from_slice(raw).map_err(|e| e.to_string())?;
    envelope::build(parsed)
}

/// Columns of a plainly valid columnar envelope, or None (then the Python path decides).
#[pyfunction]
fn decode_envelope<'py>(py: Python<'py>, raw: &[u8]) -> PyResult<Option<Bound<'py, PyDict>>> {
    columns_or_none(py, raw, parse_envelope)
}

/// Why `decode_envelope` refused a message, or None if it would not.
#[pyfunction]
fn envelope_refusal(raw: &[u8]) -> Option<String> {
    parse_envelope(raw).err()
}

#[pymodule]
fn _columnar(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_batch, m)?)?;
    m.add_function(wrap_pyfunction!(refusal, m)?)?;
    m.add_function(wrap_pyfunction!(decode_envelope, m)?)?;
    m.add_function(wrap_pyfunction!(envelope_refusal, m)?)?;
    Ok(())
}
