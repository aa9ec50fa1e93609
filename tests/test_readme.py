"""The README's first commands are what a newcomer runs: the second is exactly CI's."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2 and block[0].endswith("profondo train")  # install and train, then test
    assert block[1] == "bash .ci/run"
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1].startswith("python -m pytest") and "-k" not in ci[-1] and "-m " not in ci[-1].replace("-m pytest", "")
