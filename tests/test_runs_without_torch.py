"""Without torch, the tests that do not need it still run (and pass); the others skip.

A module-level ``pytest.importorskip("torch")`` skips every test of its module, those
that need no torch too; the command-line test modules below mark their torch tests
instead (``_helpers.needs_torch``). This runs them in a subprocess where an import hook
refuses torch, as on an install without the ``torch`` extra.
"""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = "tests/sklearn_mdtree/_cli"

#: Run as ``python -c``: torch refused, then pytest on the arguments.
NO_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoTorch())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""

#: Tests that need no torch, in modules that also hold torch tests: each must pass.
TORCH_FREE = {
    f"{CLI}/test_hostile_round3.py": [
        "test_id_column_naming_a_feature",
        "test_hard_link_of_the_features_file_as_html_and_tree_as_html",
        "test_a_5000_digit_threshold_in_a_tree_file",
        "test_complex_hessian_t_names_the_column_without_the_frame",
        "test_fit_on_with_one_class_warns_or_refuses",
    ],
    f"{CLI}/test_featurize_and_report_routes.py": [
        "test_diagnose_fit_on_a_labelled_table", "test_bad_features_csv"],
    f"{CLI}/test_calibrate.py": [
        "test_without_torch_the_command_says_what_to_install",
        "test_errors_are_one_line_with_status_2[extra1-must be a .json file]",
    ],
}
#: Tests that need torch: each must be skipped, not failed.
NEED_TORCH = {
    f"{CLI}/test_hostile_round3.py": ["test_relative_factory"],
    f"{CLI}/test_featurize_and_report_routes.py": ["test_bad_checkpoints_and_data"],
    f"{CLI}/test_calibrate.py": ["test_calibrate_writes_one_file_that_loads",
                                "test_errors_are_one_line_with_status_2[extra4-integer]"],
}
#: Modules of the featurizers package (it imports torch): skipped whole.
SKIPPED_WHOLE = ["tests/featurizers/test_precision.py", "tests/featurizers/lattice"]


@pytest.mark.slow
def test_torch_free_tests_pass_without_torch(tmp_path):
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH, "-q", "-p", "no:cacheprovider", "-m", "not slow",
         f"--junit-xml={report}", *TORCH_FREE, *SKIPPED_WHOLE],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    outcomes, modules_skipped = {}, set()
    for case in ET.parse(report).getroot().iter("testcase"):
        if not case.get("classname"):  # a module skipped whole, at collection
            assert case.find("skipped") is not None, case.get("name")
            modules_skipped.add(case.get("name"))
            continue
        module = case.get("classname").replace(".", "/") + ".py"
        skipped = case.find("skipped")
        outcomes[(module, case.get("name"))] = (
            "skipped" if skipped is not None else
            "failed" if case.find("failure") is not None or case.find("error") is not None
            else "passed")
    for module, names in TORCH_FREE.items():
        for name in names:
            assert outcomes.get((module, name)) == "passed", (module, name, outcomes)
    for module, names in NEED_TORCH.items():
        for name in names:
            assert outcomes.get((module, name)) == "skipped", (module, name)
    assert "failed" not in outcomes.values()
    assert {"tests.featurizers.test_precision", "tests.featurizers.lattice.test_config",
            "tests.featurizers.lattice.test_labels"} <= modules_skipped
