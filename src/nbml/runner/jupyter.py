"""Set up Jupyter inside the project's virtual environment, and nowhere else.

``python -m nbml.runner.jupyter install`` (run by ``make setup``):

- registers the project kernel ``nbml`` in ``<venv>/share/jupyter/kernels``;
- gives that kernel private IPython and matplotlib folders inside the venv,
  so running a notebook writes nothing to the user's home directory, and
  its IPython settings (figures are drawn once, only errors are logged; see
  install_kernel_config);
- installs a Jupyter server hook that saves the pipeline's notebooks without
  outputs, so a save from JupyterLab keeps git diffs clean and does not make
  DVC re-run a stage whose code did not change;
- adds the same folder settings to ``<venv>/bin/activate``.

``python -m nbml.runner.jupyter lab [OPTIONS]`` (run by ``make lab``) starts
JupyterLab on ``notebooks/`` with those folders, passing OPTIONS on; as root
it adds ``--allow-root`` with a warning.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ipykernel.kernelspec import install as install_kernelspec

from nbml.messages import say
from nbml.project import find_root, paths

KERNEL_NAME = "nbml"
DISPLAY_NAME = "Python (nbml)"
SAVE_HOOK = "nbml.runner.notebook.pre_save_hook"
_ACTIVATE_MARK = "# nbml: keep Jupyter, IPython and matplotlib state inside the venv"


KERNEL_DIRS = ("IPYTHONDIR", "MPLCONFIGDIR")


def private_dirs(prefix: Path | None = None) -> dict[str, str]:
    """Environment variables that keep tool state inside the venv.

    The Jupyter server would otherwise write its secrets, notebook trust
    database and settings under ``~/.jupyter`` and ``~/.local/share/jupyter``,
    and its language-server lookup runs ``npm``, which logs under ``~/.npm``.
    """
    var = Path(prefix or sys.prefix) / "var"
    return {
        "IPYTHONDIR": str(var / "ipython"),
        "MPLCONFIGDIR": str(var / "matplotlib"),
        "JUPYTER_RUNTIME_DIR": str(var / "jupyter" / "runtime"),
        "JUPYTER_CONFIG_DIR": str(var / "jupyter" / "config"),
        "JUPYTER_DATA_DIR": str(var / "jupyter" / "data"),
        "npm_config_cache": str(var / "npm"),
    }


def use_private_dirs() -> None:
    """Apply :func:`private_dirs` to this process unless the user set them."""
    for key, value in private_dirs().items():
        os.environ.setdefault(key, value)


def kernel_env(prefix: Path) -> dict[str, str]:
    """Environment of the project kernel: its private folders, and a fixed hash seed."""
    env = {k: v for k, v in private_dirs(prefix).items() if k in KERNEL_DIRS}
    # Same hash seed as `dvc repro` runs (see nbml.runner), so a notebook run by
    # hand iterates sets in the same order and writes the same bytes.
    env["PYTHONHASHSEED"] = "0"
    return env


def install_kernel(prefix: Path) -> Path:
    """Register the project kernel in the venv, with its private folders (ipykernel's options)."""
    path = install_kernelspec(
        kernel_name=KERNEL_NAME,
        display_name=DISPLAY_NAME,
        prefix=str(prefix),
        env=kernel_env(prefix),
    )
    return Path(path)


# What the kernel's IPython reads at start (its IPYTHONDIR is private, see
# kernel_env), so JupyterLab, nbval and `dvc repro` all get the same settings.
KERNEL_CONFIG = """\
# Written by `python -m nbml.runner.jupyter install`; see nbml/runner/jupyter.py.
# Figures use constrained layout: the inline default bbox_inches="tight" only
# draws each figure twice.
c.InlineBackend.print_figure_kwargs = {"bbox_inches": None}
# The kernel only listens on loopback; its "running over TCP without
# encryption" warning on every stage run would read as a fault.
c.IPKernelApp.log_level = "ERROR"
"""


def install_kernel_config(prefix: Path) -> Path:
    """IPython settings of the project kernel (its private IPYTHONDIR).

    Figures use constrained layout, so the inline backend's default
    ``bbox_inches="tight"`` only draws each figure twice: off, a stage with
    several figures runs about 0.1 s faster per figure. The kernel logs
    errors only: ipykernel's install has no option for a log level, and the
    kernel's own config file is where its traits are meant to be set, rather
    than in a kernel.json rewritten after ipykernel wrote it.
    """
    conf = Path(private_dirs(prefix)["IPYTHONDIR"]) / "profile_default" / "ipython_kernel_config.py"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(KERNEL_CONFIG)
    return conf


def build_font_cache(prefix: Path) -> None:
    """Build matplotlib's font cache now, in the kernel's private folder.

    Otherwise the first notebook that imports matplotlib prints "Matplotlib
    is building the font cache" into its output, and that first run's
    executed notebook differs from every later one.
    """
    env = {**os.environ, **private_dirs(prefix)}
    subprocess.run(
        [str(Path(prefix) / "bin" / "python"), "-c", "import matplotlib.font_manager"],
        env=env,
        check=True,
        capture_output=True,
    )


def install_save_hook(prefix: Path) -> Path:
    """Make the Jupyter server strip outputs when it saves a pipeline notebook.

    The setting goes in ``<venv>/etc/jupyter/jupyter_server_config.json``:
    the server reads only extension switches from ``jupyter_server_config.d``.
    """
    conf = prefix / "etc" / "jupyter" / "jupyter_server_config.json"
    conf.parent.mkdir(parents=True, exist_ok=True)
    settings = json.loads(conf.read_text(encoding="utf-8")) if conf.is_file() else {}
    settings.setdefault("FileContentsManager", {})["pre_save_hook"] = SAVE_HOOK
    conf.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    # where earlier versions of this setup wrote it, to no effect
    (conf.parent / "jupyter_server_config.d" / "nbml.json").unlink(missing_ok=True)
    return conf


def patch_activate(prefix: Path) -> None:
    """Export the private folders from ``bin/activate`` (replaces an earlier block)."""
    activate = prefix / "bin" / "activate"
    if not activate.is_file():
        return
    lines = activate.read_text(encoding="utf-8").rstrip("\n").split("\n")
    if _ACTIVATE_MARK in lines:
        first = end = lines.index(_ACTIVATE_MARK)
        while end + 1 < len(lines) and lines[end + 1].startswith("export "):
            end += 1
        del lines[first : end + 1]
    lines += [_ACTIVATE_MARK, *(f'export {k}="{v}"' for k, v in private_dirs(prefix).items())]
    activate.write_text("\n".join(lines) + "\n", encoding="utf-8")


def install(prefix: Path | None = None) -> None:
    prefix = Path(prefix or sys.prefix)
    for value in private_dirs(prefix).values():
        Path(value).mkdir(parents=True, exist_ok=True)
    kernel = install_kernel(prefix)
    install_kernel_config(prefix)
    build_font_cache(prefix)
    hook = install_save_hook(prefix)
    patch_activate(prefix)
    print(f"nbml: kernel '{KERNEL_NAME}' in {kernel}; save hook in {hook}")


def running_as_root() -> bool:
    """True for uid 0: containers, CI images and hosted notebook VMs run as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(notebooks: Path, args: Sequence[str] = (), as_root: bool = False) -> list[str]:
    """The ``jupyter lab`` command line ``make lab`` runs, user options last.

    Jupyter refuses to start as root unless told ``--allow-root``; where root
    is the only user there is, that refusal only stops the user. Port and
    token are left to Jupyter, which reads ``JUPYTER_PORT`` and
    ``JUPYTER_TOKEN`` itself, and to options in ``args``.
    """
    jupyter = Path(sys.prefix) / "bin" / "jupyter"
    command = [str(jupyter), "lab", str(notebooks)]
    if as_root and "--allow-root" not in args:
        command.append("--allow-root")
    return [*command, *args]


def lab(root: Path, args: Sequence[str] = ()) -> None:
    """Start JupyterLab on the notebooks with the venv's private folders."""
    use_private_dirs()
    as_root = running_as_root()
    if as_root:
        say("warning: running as root, so JupyterLab starts with --allow-root")
    # the notebooks folder as dvc.yaml names it (vars.paths.notebooks)
    command = lab_command(paths(root).notebooks, args, as_root)
    os.execv(command[0], command)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["install"]:
        install()
    elif args[:1] == ["lab"]:
        lab(find_root(), args[1:])
    else:
        usage = "usage: python -m nbml.runner.jupyter install | lab [JUPYTERLAB OPTIONS]"
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
