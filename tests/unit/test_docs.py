"""The README's settings tables are the ones the code generates."""

from glmstack.docs import all_tables
from glmstack.paths import REPO_ROOT


def test_readme_settings_tables_match_the_code():
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("<!-- settings:begin -->")[1].split("<!-- settings:end -->")[0]
    assert section.strip() == all_tables().strip(), "run `python -m glmstack.docs` and update README.md"
