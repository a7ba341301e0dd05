"""The public names of ``import vidground`` all resolve, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import vidground


def test_every_public_name_resolves() -> None:
    for name in vidground.__all__:
        assert getattr(vidground, name) is not None, name


def test_import_does_not_load_torch_or_av() -> None:
    code = "import sys, vidground; print('torch' in sys.modules, 'av' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
