"""The GitHub Actions workflow that tests, builds and publishes the book is valid."""


import yaml

from sitetools import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


def _workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def test_workflow_parses_with_jobs():
    workflow = _workflow()
    assert set(workflow["jobs"]) == {"build", "deploy"}
    assert "push" in workflow["on"]
    for job in workflow["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"step needs one of uses/run: {step}"


def test_workflow_tests_before_publishing():
    build = _workflow()["jobs"]["build"]
    commands = [step.get("run", "") for step in build["steps"]]
    uses = [step.get("uses", "") for step in build["steps"]]
    assert commands.index("make test") < commands.index("make build")
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert build["env"]["CI"] == "true"


def test_workflow_deploys_to_pages():
    deploy = _workflow()["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    assert deploy["environment"]["name"] == "github-pages"


def test_site_url_comes_from_pages_settings():
    build = _workflow()["jobs"]["build"]
    site_step = next(s for s in build["steps"] if s.get("run") == "make build")
    assert site_step["env"]["SITE_URL"] == "${{ steps.pages.outputs.base_url }}/"
