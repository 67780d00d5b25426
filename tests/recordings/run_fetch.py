"""One recording retry job for the multi-process tests:
`python -m tests.recordings.run_fetch URL NAME NOW ROOT MEDIA`.

The job the dialer runs (`fetch_recordings`) over the shared database and recordings store, its clock frozen
at NOW. The process downloads as Twilio account NAME, so the test's media server can tell processes apart;
MEDIA is that server's origin (http on loopback), configured as `twilio.api_base_url` as for a harness.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

from kit.clock import FrozenClock
from kit.settings import RecordingSettings, TwilioSettings
from recordings.downloader import Downloader
from recordings.media import MediaClient
from recordings.store import FileStore
from storage.db import make_engine, make_session_factory


def main() -> None:
    url, name, now, root, media = sys.argv[1:6]
    settings = dataclasses.replace(RecordingSettings(), root=root, fetch_batch_size=5)
    engine = make_engine(url)
    downloader = Downloader(sessions=make_session_factory(engine), media=MediaClient.from_settings(
                                TwilioSettings(account_sid=name, auth_token="token", api_base_url=media), settings),
                            files=FileStore(Path(root)), clock=FrozenClock(datetime.fromisoformat(now)),
                            settings=settings, holder=name)
    counts = downloader.fetch_due()
    engine.dispose()
    sys.stdout.write(json.dumps(counts) + "\n")


if __name__ == "__main__":
    main()
