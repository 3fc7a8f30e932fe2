from __future__ import annotations

import platformdirs

from traces_git import paths


def test_locations_match_platformdirs(isolated):
    assert str(paths.state_dir()) == platformdirs.user_state_dir("traces-git", appauthor=False)
    assert str(paths.config_dir()) == platformdirs.user_config_dir("traces-git", appauthor=False)
    assert str(paths.data_dir()) == platformdirs.user_data_dir("traces-git", appauthor=False)
    assert str(paths.state_dir()).startswith(str(isolated))


def test_locations_without_xdg_variables(isolated, monkeypatch):
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name)
    assert str(paths.state_dir()) == platformdirs.user_state_dir("traces-git", appauthor=False)
    assert str(paths.data_dir()) == str(isolated / ".local/share/traces-git")


def test_run_records_are_json(isolated):
    import json

    from traces_git import log

    log.record_run(
        "post-commit",
        '/r "q" ü\n',
        "ok",
        "d",
        attached=["a", "b"],
        n=3,
        x=1.5,
        flag=True,
        nothing=None,
        nested={"k": [1, "v"]},
    )
    entry = json.loads(log.runs_file().read_text().splitlines()[-1])
    assert entry["repo"] == '/r "q" ü\n' and entry["attached"] == ["a", "b"]
    assert (entry["n"], entry["x"], entry["flag"], entry["nothing"]) == (3, 1.5, True, None)
    assert entry["nested"] == {"k": [1, "v"]} and entry["detail"] == "d"
