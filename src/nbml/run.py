"""Run one pipeline stage: execute its notebook with papermill, keep the results.

``python -m nbml.run STAGE`` is the ``cmd`` of every stage in dvc.yaml. It

1. finds the stage's notebook, executed copy and HTML report among the
   stage's deps and outs in dvc.yaml (paths are written only there);
2. injects exactly the params.yaml entries the stage declares, after checking
   that the notebook's ``parameters`` cell declares the same names;
3. executes the notebook in its own folder with the project kernel;
4. fails loudly (non-zero exit, stage, notebook and cell named) on a cell
   error, ``sys.exit()``, a dead kernel or a timeout, keeping the partially
   executed notebook under ``logs/failed/`` and writing no outputs;
5. on success writes the executed notebook and its HTML report with every
   time-dependent field moved to ``logs/runs/STAGE.json``, so the same
   inputs give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

from nbml import WARNING_PREFIX
from nbml import notebook as nbfile
from nbml.checks import check_project
from nbml.jupyter import use_private_dirs
from nbml.project import (
    PARAMS_FILE,
    PIPELINE_FILE,
    ConfigError,
    Project,
    StageNotebook,
    find_root,
)

DEFAULT_TIMEOUT = 1800
LOG_DIR = "logs"


class StageError(RuntimeError):
    """A stage could not run or did not finish; the message says where."""


def _fast_imports() -> None:
    """Skip optional imports that cost seconds and that a stage never uses.

    jsonschema's format checkers import ``rfc3987_syntax``, which builds a
    lark grammar at import (~1.3 s); nbformat validation does not need it.
    papermill's S3 and HDFS handlers import boto3 and pyarrow (~0.4 s), which
    the runner does not use (the kernel, a separate process, still can).
    ``None`` in ``sys.modules`` makes those imports fail fast, and both
    libraries treat them as optional.
    """
    for name in ("rfc3987_syntax", "boto3", "pyarrow"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def execution_timeout(root: Path, override: float | None) -> float:
    """Per-cell timeout: --timeout, else $NBML_TIMEOUT, else pyproject [tool.nbml]."""
    if override is not None:
        return override
    if os.environ.get("NBML_TIMEOUT"):
        return float(os.environ["NBML_TIMEOUT"])
    try:
        with open(root / "pyproject.toml", "rb") as fh:
            conf = tomllib.load(fh).get("tool", {}).get("nbml", {})
    except FileNotFoundError:
        conf = {}
    return float(conf.get("execution_timeout", DEFAULT_TIMEOUT))


def _preload_exporter() -> threading.Thread:
    """Import nbconvert and compile its templates while the kernel works."""

    def load() -> None:
        from nbml import html

        html.warm_up()

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    return thread


def _say(message: str) -> None:
    print(f"nbml: {message}", file=sys.stderr, flush=True)


def run_stage(stage: str, root: Path | None = None, timeout: float | None = None) -> StageNotebook:
    """Execute one stage's notebook; raise StageError with a precise message on failure."""
    use_private_dirs()
    root = root or find_root()
    proj = Project.load(root)
    files = proj.stage_notebook(stage)
    source = root / files.notebook
    nb = nbfile.read_json(source)
    injected = proj.stage_params(stage)
    nbfile.check_parameters(nb, injected, files.notebook, stage)

    debug = root / LOG_DIR / "failed" / f"{stage}.ipynb"
    debug.parent.mkdir(parents=True, exist_ok=True)
    debug.unlink(missing_ok=True)
    limit = execution_timeout(root, timeout)

    # A fixed hash seed keeps set/dict-of-str iteration order, and so the
    # executed notebook's bytes, the same from run to run.
    os.environ["PYTHONHASHSEED"] = "0"
    _prefer_checkout_helpers(proj)
    started = time.time()
    kernel = _start_kernel(nb, source.parent)
    try:
        # Every param of every stage, so even the first stage refuses a bad
        # train param. This imports scikit-learn (~1 s when the params
        # changed); the kernel boots meanwhile.
        _check_project_once(proj)
    except BaseException:
        _stop_kernel(kernel)
        raise
    _say(f"stage '{stage}': running {files.notebook} ({len(nb.get('cells', []))} cells)")

    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    # Only after papermill's imports: importing the same packages from two
    # threads at once can fail on their circular imports.
    exporter = _preload_exporter()
    problem: str | None = None
    executed: Any = None
    try:
        executed = papermill.execute_notebook(
            str(source),
            str(debug),
            parameters=injected,
            cwd=str(source.parent),
            execution_timeout=limit,
            progress_bar=sys.stderr.isatty(),
            log_output=False,
            report_mode=False,
            km=kernel,
            engine_name=_engine(),
            # A line written in two pieces reaches the client as one message
            # or two, depending on timing; merged, the bytes do not depend on
            # it (JupyterLab merges them the same way when it saves).
            coalesce_streams=True,
        )
    except PapermillExecutionError as exc:
        problem = f"{exc.ename}: {exc.evalue}"
    except DeadKernelError:
        problem = "the kernel died (killed, or out of memory)"
    except (CellTimeoutError, TimeoutError):
        problem = f"a cell ran longer than the execution timeout ({limit:g} s)"
    except KeyboardInterrupt:
        problem = "interrupted (Ctrl-C)"
    except RuntimeError as exc:  # e.g. the kernel died before it replied at all
        problem = f"the kernel could not run the notebook: {exc}"
    finally:
        # stopping takes ~0.1 s; let it happen while the report is written
        stopper = threading.Thread(target=_stop_kernel, args=(kernel,), daemon=True)
        stopper.start()
    elapsed = time.time() - started

    if problem is not None:
        stopper.join()  # the partial notebook is complete once the kernel is gone
    partial = executed if executed is not None else _read_partial(debug)
    bad = nbfile.failed_cell(partial) if partial is not None else None
    if problem is None and bad is not None:
        # papermill returns normally after sys.exit() in a cell; later cells never ran
        problem = "execution stopped before the end"
    if problem is not None:
        if executed is not None:
            nbfile.write_atomic(debug, nbfile.dumps(_plain(executed)))
        where = nbfile.describe_cell(*bad) if bad else "before any cell finished"
        detail = "" if problem.split(":")[0] in where else f"\n  {problem}"
        kept = _keep_for_experiment(root, stage, debug)
        also = f" (and in {kept})" if kept else ""
        raise StageError(
            f"stage '{stage}' failed in {files.notebook}, {where}{detail}\n"
            f"  partially executed notebook kept in {debug.relative_to(root)}{also}; "
            "no outputs were recorded"
        )

    result = _plain(executed)
    _echo_warnings(result)
    record = nbfile.split_run_record(result)
    result["metadata"]["papermill"]["input_path"] = files.notebook
    text = nbfile.dumps(result)
    exporter.join()
    from nbml.html import export_html

    html = export_html(result, title=f"{stage} report")
    nbfile.write_atomic(root / files.executed, text)
    nbfile.write_atomic(root / files.report, html)
    debug.unlink(missing_ok=True)
    _write_run_record(root, stage, files, record, elapsed, limit)
    stopper.join()
    _say(f"stage '{stage}': done in {elapsed:.1f} s -> {files.executed}, {files.report}")
    return files


def _engine() -> str:
    """Register papermill's nbclient engine with fewer saves of the partial notebook.

    papermill writes (and validates) the whole notebook before and after every
    cell, ~4 ms a cell on a figure-heavy notebook. Here it is written at the
    start, then between cells only as often as papermill's own autosave
    during a long cell (every 30 s), and always at the end, failed or not,
    which is when ``logs/failed/`` needs it.
    """
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    class Manager(NotebookExecutionManager):
        saved = finished = False

        def save(self, **kwargs: Any) -> None:
            since = (self.now() - self.last_save_time).total_seconds()
            if not self.saved or self.finished or since >= self.autosave_cell_every:
                super().save(**kwargs)
                self.saved = True

        def notebook_complete(self, **kwargs: Any) -> None:
            self.finished = True
            super().notebook_complete(**kwargs)

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
            # papermill's Engine.execute_notebook, with the manager above
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

    papermill_engines.register("nbml", Engine)
    return "nbml"


def _check_project_once(proj: Project) -> None:
    """Run the param checks, skipping them when nothing they read has changed.

    Every stage checks all params (see nbml.checks); within one ``dvc repro``
    the first stage does the work and the others find its marker, which is
    keyed by the bytes of params.yaml, dvc.yaml and the helper package.
    """
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for path in (proj.root / PARAMS_FILE, proj.root / PIPELINE_FILE, *sorted(package.glob("*.py"))):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    marker = proj.root / LOG_DIR / "checked" / digest.hexdigest()[:20]
    if marker.exists():
        return
    check_project(proj)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def _start_kernel(nb: dict[str, Any], cwd: Path) -> Any:
    """Start the notebook's kernel now and warm it with the notebook's imports.

    The kernel boots and imports pandas, scikit-learn and friends in its own
    process while this one imports papermill, so the two start-up costs
    overlap instead of adding up. The warm-up is silent (no output, no
    execution count) and only runs ``import`` statements the notebook itself
    makes, so the executed notebook is the same as without it.
    """
    # nbclient needs the asynchronous manager: with the blocking one, a dead
    # kernel or a timeout is never noticed while it waits for output.
    from jupyter_client.blocking import BlockingKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    name = nb.get("metadata", {}).get("kernelspec", {}).get("name", "python3")
    manager = AsyncKernelManager(kernel_name=name)
    run_sync(manager.start_kernel)(cwd=str(cwd))
    imports = nbfile.import_statements(nb)
    if imports:
        client = BlockingKernelClient()
        client.load_connection_info(manager.get_connection_info())
        client.start_channels()
        body = "".join(f"    {line}\n" for line in imports)
        code = f"try:\n{body}except Exception:\n    pass\n"
        client.execute(code, silent=True, store_history=False)
        # Closing this client now could drop the request before the kernel
        # listens (under load); keep it open until the kernel is stopped.
        manager.warm_up_client = client
    return manager


def _stop_kernel(manager: Any) -> None:
    """Shut the kernel down now; it may already be dead."""
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


def _echo_warnings(nb: dict[str, Any]) -> None:
    """Repeat on the terminal the warnings helpers wrote into the notebook's stderr."""
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = "".join(out.get("text", ""))
                for line in text.splitlines():
                    if line.startswith(WARNING_PREFIX):
                        print(line, file=sys.stderr, flush=True)


def _prefer_checkout_helpers(proj: Project) -> None:
    """Make the kernel import the helper package of the checkout being run.

    The venv installs the package in editable mode, pointing at the clone it
    was built in. A queued or ``--temp`` experiment runs in a copy under
    ``.dvc/tmp/exps``; without this its notebooks would import the main
    workspace's helpers, not the (possibly changed) ones of the experiment.
    The kernel inherits this environment.
    """
    helpers = proj.root / proj.path_names.get("helpers", "src/nbml")
    if not (helpers / "__init__.py").is_file():
        return
    source_root = str(helpers.parent)
    current = os.environ.get("PYTHONPATH", "")
    if source_root not in current.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, current) if p)


def _keep_for_experiment(root: Path, stage: str, debug: Path) -> Path | None:
    """Copy a failed notebook out of a queued experiment's temporary workspace.

    Queued experiments run in a copy that DVC deletes after a failure. DVC
    passes the main repository as ``DVC_ROOT`` and the experiment's name as
    ``DVC_EXP_NAME``; the notebook is kept as
    ``logs/failed/<experiment>/<stage>.ipynb`` in the main workspace.
    """
    main_root = os.environ.get("DVC_ROOT")
    name = os.environ.get("DVC_EXP_NAME")
    if not main_root or not name or not debug.is_file():
        return None
    main = Path(main_root).resolve()
    if main == root.resolve():
        return None
    target = main / LOG_DIR / "failed" / name / f"{stage}.ipynb"
    try:
        nbfile.write_atomic(target, debug.read_text(encoding="utf-8"))
    except OSError:
        return None
    return target


def _plain(nb: Any) -> dict[str, Any]:
    return json.loads(json.dumps(nb))


def _read_partial(path: Path) -> dict[str, Any] | None:
    try:
        return nbfile.read_json(path)
    except nbfile.NotebookError:
        return None


def _write_run_record(
    root: Path,
    stage: str,
    files: StageNotebook,
    record: dict[str, Any],
    elapsed: float,
    limit: float,
) -> None:
    record.update(
        stage=stage,
        notebook=files.notebook,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        seconds=round(elapsed, 3),
        execution_timeout=limit,
        python=sys.version.split()[0],
    )
    path = root / LOG_DIR / "runs" / f"{stage}.json"
    nbfile.write_atomic(path, json.dumps(record, indent=1, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nbml.run", description="Run one dvc.yaml stage's notebook."
    )
    parser.add_argument("stage", help="stage name in dvc.yaml")
    parser.add_argument("--timeout", type=float, help="per-cell execution timeout in seconds")
    args = parser.parse_args(argv)
    _fast_imports()  # this process only runs the stage: see the docstring
    try:
        run_stage(args.stage, timeout=args.timeout)
    except (StageError, ConfigError, nbfile.NotebookError) as exc:
        _say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        _say(f"stage '{args.stage}': interrupted")
        return 130
    return 0


def _exit(code: int) -> None:
    """Exit without the interpreter's teardown (~0.1 s per stage).

    Everything the stage writes is already on disk (atomically) and the
    kernel is stopped; only module cleanup is skipped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
