"""``python -m nbml.runner STAGE``: run one dvc.yaml stage's notebook."""

from nbml.runner.threads import cpu_sample
from nbml.runner.timeline import Timeline

# Before anything heavy is imported: from here to the kernel's start the runner
# watches how busy the other processes keep the machine (threads.wait_policy).
STARTED = cpu_sample()
TIMELINE = Timeline()
TIMELINE.mark("interpreter ready")

from nbml.runner.stage import exit_now, main  # noqa: E402

if __name__ == "__main__":
    TIMELINE.mark("runner imported")
    exit_now(main(started=STARTED, timeline=TIMELINE))
