"""CSV cells read as the user meant them: a column is numeric or text as a whole, one spelling
rule for missing values, and a data set read against a profile takes the profile's kinds."""

from streams.commands.reference_data import read_columns


def test_a_column_of_numbers_and_text_is_text_and_missing_spellings_are_missing(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("c,x\n1,1\n2,nan\nx,NaN\n,N/A\n1,2.5\n")
    columns = read_columns(path)
    assert columns["c"] == ["1", "2", "x", None, "1"]
    assert columns["x"] == [1, None, None, None, 2.5]


def test_against_a_profile_each_feature_takes_its_kind(tmp_path):
    path = tmp_path / "cur.csv"
    path.write_text("c,x\n1,1\n2,oops\n")
    columns = read_columns(path, kinds={"c": "categorical", "x": "numeric"})
    assert columns["c"] == ["1", "2"] and columns["x"] == [1, "oops"]  # "oops": a type error
