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
