"""The project kernel for one stage run, and papermill's engine with fewer saves.

The kernel is started before papermill is even imported and warmed with the
notebook's own import lines, so its start-up overlaps the runner's. jupyter,
nbclient and papermill are imported inside these functions: the runner calls
them after ``stage.fast_imports`` has blocked what they would otherwise pull
in, and they cost about a second the runner spends while the kernel boots.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbml.runner import notebook as nbfile
from nbml.runner.progress import RunState

ENGINE_NAME = "nbml"

# The registered kernel (``python -m nbml.runner.jupyter install``) serves JupyterLab
# and nbval too. The runner starts the same ipykernel with two things a headless
# run never uses left out (docs/performance.md, "Fixed cost per stage"):
# - the debugger: ipykernel imports debugpy at start (~0.06 CPU s, 10 MB), and the
#   kernel spec turns frozen standard-library modules off for it (-Xfrozen_modules=off);
# - IPython's SQLite history: a write per cell and a saving thread, into a database
#   that every stage (and every queued experiment) shares.
# ipykernel_launcher's own code (the working folder leaves sys.path first), with
# debugpy's import made to fail.
_LAUNCH_WITHOUT_DEBUGGER = """\
import os, sys
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]
sys.modules["debugpy"] = None
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""
RUNNER_KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False"]


def runner_argv(argv: list[str]) -> list[str]:
    """The kernel spec's command as the runner starts it: ipykernel without the debugger.

    A command that does not run ``-m ipykernel_launcher`` (another kernel) is kept.
    """
    try:
        at = argv.index("ipykernel_launcher")
    except ValueError:
        return argv
    if at < 1 or argv[at - 1] != "-m":
        return argv
    python = [arg for arg in argv[: at - 1] if arg != "-Xfrozen_modules=off"]
    return [*python, "-c", _LAUNCH_WITHOUT_DEBUGGER, *argv[at + 1 :]]


def kernel_specs(environ: Mapping[str, str]) -> Any:
    """jupyter_client's kernel spec finder, told its folders instead of finding them.

    Its default search imports IPython (0.025 s here, more under load, before the
    kernel can start) only to add ``IPYTHONDIR/kernels`` to Jupyter's kernel folders;
    the runner has set IPYTHONDIR (``jupyter.use_private_dirs``), so the same list is
    made here. None (jupyter_client's own search) when IPYTHONDIR is not set.
    """
    ipython_dir = environ.get("IPYTHONDIR")
    if not ipython_dir:
        return None
    # lazy: see start_kernel
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_core.paths import jupyter_path

    ipython_kernels = os.path.join(os.path.normpath(os.path.expanduser(ipython_dir)), "kernels")
    return KernelSpecManager(kernel_dirs=[*jupyter_path("kernels"), ipython_kernels])


def start_kernel(nb: dict[str, Any], cwd: Path) -> Any:
    """Start the notebook's kernel now and warm it with the notebook's imports.

    The kernel boots and imports pandas, scikit-learn and friends in its own
    process while this one imports papermill, so the two start-up costs
    overlap instead of adding up. The warm-up is silent (no output, no
    execution count) and only runs ``import`` statements the notebook itself
    makes, so the executed notebook is the same as without it.
    """
    # lazy: jupyter_client costs ~0.3 s to import; see the module docstring.
    # nbclient needs the asynchronous manager: with the blocking one, a dead
    # kernel or a timeout is never noticed while it waits for output.
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    name = nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3")
    specs = kernel_specs(os.environ)
    found = {"kernel_spec_manager": specs} if specs is not None else {}
    manager = AsyncKernelManager(kernel_name=name, **found)
    spec = manager.kernel_spec
    lean = runner_argv(spec.argv)
    extra = RUNNER_KERNEL_ARGUMENTS if lean != spec.argv else []  # options of ipykernel's
    spec.argv = lean
    run_sync(manager.start_kernel)(cwd=str(cwd), extra_arguments=extra)
    imports = nbfile.import_statements(nb)
    if imports:
        manager.warm_up_client = _warm_up(manager, imports)
    return manager


def _warm_up(manager: Any, imports: list[str]) -> Any:
    """Send the import lines silently; return the client, to be kept open."""
    # lazy: see start_kernel
    from jupyter_client.blocking import BlockingKernelClient

    client = BlockingKernelClient()
    client.load_connection_info(manager.get_connection_info())
    client.start_channels()
    body = "".join(f"    {line}\n" for line in imports)
    # The cyclic garbage collector finds nothing to free among freshly imported
    # modules; paused meanwhile, the imports take ~5% less CPU.
    code = (
        f"__import__('gc').disable()\ntry:\n{body}except Exception:\n    pass\n"
        "finally:\n    __import__('gc').enable()\n"
    )
    client.execute(code, silent=True, store_history=False)
    # Closing this client now could drop the request before the kernel
    # listens (under load); it stays open until the kernel is stopped.
    return client


def stop_kernel(manager: Any) -> None:
    """Shut the kernel down now; it may already be dead."""
    # lazy: see start_kernel
    from jupyter_core.utils import run_sync

    client = getattr(manager, "warm_up_client", None)
    if client is not None:
        client.stop_channels()
    # jupyter_client polls for the kernel's end every 0.1 s after killing it;
    # killing and reaping the process here makes that first poll find it gone.
    process = getattr(manager.provisioner, "process", None)
    try:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        run_sync(manager.shutdown_kernel)(now=True)
    except Exception:  # already gone (or stuck past SIGKILL): nothing more to do here
        pass


def _manager_class(base: type, state: RunState | None) -> type:
    """papermill's execution manager, saving less often and telling ``state`` the cell."""

    class Manager(base):  # type: ignore[valid-type, misc]
        saved = finished = False

        def save(self, **kwargs: Any) -> None:
            since = (self.now() - self.last_save_time).total_seconds()
            if not self.saved or self.finished or since >= self.autosave_cell_every:
                super().save(**kwargs)
                self.saved = True

        def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            if state is not None and cell_index is not None:
                state.cell_started(cell_index, str(cell.get("id", "")), len(self.nb.cells))
            super().cell_start(cell, cell_index, **kwargs)

        def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            super().cell_complete(cell, cell_index, **kwargs)
            if state is not None:
                state.cell_done(cell.get("cell_type") == "code")

        def notebook_complete(self, **kwargs: Any) -> None:
            self.finished = True
            super().notebook_complete(**kwargs)

    return Manager


def register_engine(state: RunState | None = None) -> str:
    """Register papermill's nbclient engine with fewer saves of the partial notebook.

    papermill writes (and validates) the whole notebook before and after every
    cell, ~4 ms a cell on a figure-heavy notebook. Here it is written at the
    start, then between cells only as often as papermill's own autosave
    during a long cell (every 30 s), and always at the end, failed or not,
    which is when ``logs/failed/`` needs it. ``state`` learns which cell runs,
    for the runner's progress lines.
    """
    # lazy: papermill costs ~1 s to import; see the module docstring.
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    Manager = _manager_class(NotebookExecutionManager, state)

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(  # type: ignore[override]
            cls,
            nb: Any,
            kernel_name: str,
            output_path: str | None = None,
            progress_bar: bool = True,
            log_output: bool = False,
            autosave_cell_every: int = 30,
            **kwargs: Any,
        ) -> Any:
            # papermill's Engine.execute_notebook, with the manager above:
            # papermill builds its manager from a module global, so a
            # subclass has no other hook to swap it in.
            nb_man = Manager(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(ENGINE_NAME, Engine)
    return ENGINE_NAME
