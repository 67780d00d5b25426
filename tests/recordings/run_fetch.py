"""One recording retry job for the multi-process tests: `python -m tests.recordings.run_fetch URL NAME NOW ROOT`.

The job the dialer runs (`fetch_recordings`) over the shared database and recordings store, its clock frozen
at NOW. The process downloads as Twilio account NAME, so the test's media server can tell processes apart.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

from kit.clock import FrozenClock
from kit.settings import RecordingSettings
from recordings.downloader import Downloader
from recordings.media import MediaClient
from recordings.store import FileStore
from storage.db import make_engine, make_session_factory


def main() -> None:
    url, name, now, root = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    settings = dataclasses.replace(RecordingSettings(), root=root, fetch_batch_size=5)
    engine = make_engine(url)
    downloader = Downloader(sessions=make_session_factory(engine), media=MediaClient(name, "token"),
                            files=FileStore(Path(root)), clock=FrozenClock(datetime.fromisoformat(now)),
                            settings=settings, holder=name)
    counts = downloader.fetch_due()
    engine.dispose()
    sys.stdout.write(json.dumps(counts) + "\n")


if __name__ == "__main__":
    main()
