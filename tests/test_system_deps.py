"""scripts/system_deps.sh: the one list of system packages `make up`, `make test` and .ci/run
need (issue 10, item 0: the README's two commands are enough on a fresh machine).

The script runs for real: against this machine's dpkg, as root and as an unprivileged user.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "system_deps.sh"
NO_SUCH_PACKAGE = "gridgov-no-such-package-x"
INSTALL_HINT = ("apt-get update && apt-get install -y --no-install-recommends "
                f"{NO_SUCH_PACKAGE}")


def run_script(*args: str, env: dict | None = None, user: str | None = None,
               script: Path = SCRIPT) -> subprocess.CompletedProcess:
    command = ["bash", str(script), *args]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    full_env = {"PATH": os.environ["PATH"], **(env or {})}
    # timeout: a safety net against a hang (e.g. apt waiting), not a speed assertion
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=full_env,
                          cwd="/")


def declared(group: str) -> list[str]:
    """The package names of one array in the script."""
    text = SCRIPT.read_text(encoding="utf-8")
    body = re.search(rf"^{group}=\((.*?)^\)", text, re.MULTILINE | re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in body.splitlines()
            if line.split("#")[0].strip()]


def test_everything_present_passes_for_both_targets():
    for target in ("up", "test"):
        result = run_script(target)
        assert result.returncode == 0, result.stderr


def test_a_missing_package_when_only_checking_names_it_and_the_command():
    result = run_script("test", env={"GRIDGOV_SYSTEM_DEPS": "check",
                                     "GRIDGOV_SYSTEM_DEPS_EXTRA": NO_SUCH_PACKAGE})
    assert result.returncode == 2
    assert f"missing Debian packages: {NO_SUCH_PACKAGE}" in result.stderr
    assert INSTALL_HINT in result.stderr
    # only what is missing is named: the installed ones are not asked for again
    assert "chromium" not in result.stderr.split("missing Debian packages:")[1]


def test_an_unprivileged_user_is_told_the_command_instead_of_failing_later():
    # as root (CI), run it as nobody; otherwise this user is the unprivileged one
    user = "nobody" if os.geteuid() == 0 else None
    # a copy the unprivileged user can read (a fresh clone may sit in a 0700 directory)
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o755)
        copy = Path(directory) / "system_deps.sh"
        shutil.copy(SCRIPT, copy)
        copy.chmod(0o755)
        result = run_script("test", env={"GRIDGOV_SYSTEM_DEPS_EXTRA": NO_SUCH_PACKAGE},
                            user=user, script=copy)
    assert result.returncode == 2, result.stderr
    assert INSTALL_HINT in result.stderr
    assert "installing" not in result.stderr  # it did not try apt-get without root


def test_unknown_target_is_a_usage_error():
    result = run_script("deploy")
    assert result.returncode == 64 and "usage" in result.stderr


def test_every_tool_the_tests_call_is_in_the_test_list():
    packages = declared("TEST_PACKAGES")
    assert {"chromium", "prometheus", "nginx-light"} <= set(packages)
    assert {"postgresql", "rabbitmq-server", "python3-venv", "make", "curl"} <= set(
        declared("UP_PACKAGES"))
    for name in packages:  # each one is installed here, so the list is not a typo
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                                capture_output=True, text=True)
        assert "install ok installed" in status.stdout, name


def test_make_up_make_test_and_ci_use_the_same_script():
    dry = subprocess.run(["make", "-n", "up", "test"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "scripts/system_deps.sh up" in dry.stdout
    assert "scripts/system_deps.sh test" in dry.stdout
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^scripts/system_deps\.sh test\s*$", ci, re.MULTILINE)
    assert "apt-get install" not in ci  # one list, in one place
