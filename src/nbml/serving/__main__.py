"""``python -m nbml.serving serve`` (the service) and ``... score INPUT OUTPUT`` (a file).

serve: the model ``dvc.lock`` records on ``HOST``:``PORT`` (default
127.0.0.1:8000), one process per core (``WORKERS``), each with one OpenMP
thread. A missing model, or one whose md5 differs from ``dvc.lock``, stops
it with one ``nbml: error:`` line and exit status 1, before anything listens.
"""

from __future__ import annotations

import argparse
import os
import sys

# One OpenMP thread per process: several per request oversubscribe the cores
# (scikit-learn #16429); set before numpy and scikit-learn start their pools.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_thread_each() -> None:
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nbml.serving", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve the recorded model over HTTP (HOST, PORT, WORKERS)")
    score = sub.add_parser("score", help="predict a CSV or Parquet file into another")
    score.add_argument("input", help="CSV or Parquet file with the raw source columns")
    score.add_argument("output", help="where to write the predictions (.csv or .parquet)")
    score.add_argument("--chunk-rows", type=int, default=50_000, help="rows read at a time")
    return parser.parse_args(argv)


def serve() -> int:
    # lazy: numpy, scikit-learn and the web stack must load after one_thread_each()
    import uvicorn

    from nbml.messages import say
    from nbml.project import find_root
    from nbml.serving.service import Service
    from nbml.serving.settings import Settings
    from nbml.serving.transport import NoDelayH11Protocol

    settings = Settings.from_env(find_root())
    service = Service.prepare(settings)
    predictor = service.load()  # refuse an unrecorded model before anything listens
    how = "numpy rows" if predictor.fast else "the pipeline on DataFrames"
    say(
        f"serving {service.project.path_names['model']} (md5 {service.md5}) on "
        f"http://{settings.host}:{settings.port} with {settings.workers} process(es); "
        f"requests scored as {how}"
    )
    uvicorn.run(
        "nbml.serving.app:create_app", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, access_log=False, log_level="warning",
        http=NoDelayH11Protocol,
    )
    return 0


def score(args: argparse.Namespace) -> int:
    # lazy: numpy, scikit-learn and pandas must load after one_thread_each()
    from nbml.project import find_root
    from nbml.serving.scoring import score_file

    score_file(find_root(), args.input, args.output, chunk_rows=args.chunk_rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    one_thread_each()
    # lazy: the error types come with the package, loaded after one_thread_each()
    from nbml.errors import NbmlError
    from nbml.messages import say

    try:
        return serve() if args.command == "serve" else score(args)
    except NbmlError as exc:
        say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
