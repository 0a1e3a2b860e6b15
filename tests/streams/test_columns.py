import numpy as np

from streams.columns import numeric_block


def test_numeric_block_fast_path_equals_per_column_values():
    features = [{"a": 1.5, "b": 2, "c": True}, {"a": None, "b": -1, "c": False}]
    columns, errors = numeric_block(features, ("a", "b", "c"))
    assert errors == {}
    np.testing.assert_array_equal(columns["a"], [1.5, np.nan])
    assert columns["b"].tolist() == [2.0, -1.0] and columns["c"].tolist() == [1.0, 0.0]


def test_absent_keys_are_missing_and_strings_are_type_errors_not_parsed():
    features = [{"a": "1.5", "b": 1.0}, {"b": 2.0}, {"a": 3.0}]
    columns, errors = numeric_block(features, ("a", "b"))
    np.testing.assert_array_equal(columns["a"], [np.nan, np.nan, 3.0])
    np.testing.assert_array_equal(columns["b"], [1.0, 2.0, np.nan])
    assert errors == {"a": 1, "b": 0}


def test_single_numeric_feature():
    columns, _ = numeric_block([{"a": 1.0}, {"a": 2.0}], ("a",))
    assert columns["a"].tolist() == [1.0, 2.0]
