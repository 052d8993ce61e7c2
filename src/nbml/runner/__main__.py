"""``python -m nbml.runner STAGE``: run one dvc.yaml stage's notebook."""

from nbml.runner.stage import exit_now, main

if __name__ == "__main__":
    exit_now(main())
